/* Private to the SQLite backend: shared by store_sqlite.c and store_sqlite_engine.c. */
#ifndef NURTURED_STORE_SQLITE_H
#define NURTURED_STORE_SQLITE_H

#include <pthread.h>
#include <sqlite3.h>

#include "store.h"

/* The statements of the API side (store_sqlite.c). */
enum {
	Q_BEGIN,
	Q_BEGIN_READ,
	Q_COMMIT,
	Q_ROLLBACK,
	Q_SAVEPOINT,
	Q_RELEASE,
	Q_ROLLBACK_TO,
	Q_HEARTBEAT,
	Q_CUST_ID,
	Q_CUST_INSERT,
	Q_CUST_ROW,
	Q_CUST_UPDATE,
	Q_CONSENT_SET,
	Q_CONSENT_LIST,
	Q_EVENT_FIND,
	Q_EVENT_INSERT,
	Q_EVENTS_LATEST,
	Q_ERASE_CUSTOMER,
	Q_ERASE_EVENTS,
	Q_ERASE_CONSENT,
	Q_CUST_JOURNEYS,
	Q_CUST_NOTES,
	Q_SUPPRESS,
	Q_COUNT
};

/* The statements of the engine side (store_sqlite_engine.c). */
enum {
	E_CURSOR_GET,
	E_CURSOR_SET,
	E_EVENTS_AFTER,
	E_CUST_BY_ID,
	E_CUST_CONSENT,
	E_EVENTS_COUNT,
	E_EVENTS_OF,
	E_VERSION_SAVE,
	E_VERSION_LOAD,
	E_JOURNEY_INSERT,
	E_JOURNEY_UPDATE,
	E_JOURNEY_ACTIVE,
	E_JOURNEYS_WAITING,
	E_JOURNEYS_CAMPAIGN,
	E_EXIT_EVENTS,
	E_JOURNEYS_DUE,
	E_NEXT_DUE,
	E_RELEASE,
	E_TIMER_PUSH,
	E_TIMERS_DUE,
	E_TIMER_DELETE,
	E_SCHED_GET,
	E_SCHED_SET,
	E_SCHED_DUE,
	E_CUST_AFTER,
	E_GOAL,
	E_MARKETING,
	E_PURCHASES,
	E_PURCHASE_ADD,
	E_STAGE_SET,
	E_LOG,
	E_OUTBOX_INSERT,
	E_PAYLOAD_INSERT,
	E_OUTBOX_REFUSE,
	E_COUNT
};

/* The statements of delivery's side (store_sqlite_outbox.c). */
enum { O_RECOVER, O_CLAIM, O_NEXT_DUE, O_FINISH, O_GET, O_RETRY, O_COUNT };

/* The statements of consent and suppression (store_sqlite_consent.c). */
enum {
	C_SUPPRESSED,
	C_SUPPRESS_DELETE,
	C_CUSTOMER_LOOKUP,
	C_CONSENT_GET,
	C_CONSENT_UPDATE,
	C_SYSTEM_VISIT,
	C_COUNT
};

/* The statements of statistics (store_sqlite_stats.c). */
enum {
	S_OUTBOX_STATES,
	S_CAMPAIGNS,
	S_COUNTS, /* issue 19: the counters of stats_counts (store_sqlite_schema.c) */
	S_COUNT
};

/* The statements of inbound mail (store_sqlite_inbound.c, issue 16). */
enum { I_FIND, I_ADD, I_LIST, I_SOFT, I_REF_ID, I_REF_MID, I_BOUNCED, I_COUNT };

/* The statements of click tracking and attribution (store_sqlite_measure.c, issue 19). */
enum {
	L_ADD,
	L_TARGET,
	L_FIRST,
	L_CLICK,
	L_GET,
	L_COUNT_ADD,
	L_ATTR_CLICK,
	L_ATTR_SENT,
	L_CONV_SEEN,
	L_CONV_ADD,
	L_ASSIGN_ADD,
	L_ASSIGN_GET,
	L_ASSIGN_CONVERT,
	L_ARM_OF_OUTBOX,
	L_LAST_MARKETING,
	L_READ,
	L_INBOUND,
	L_COUNT
};

/* The statements of broadcasts and segments (store_sqlite_broadcast.c, issue 17). */
enum {
	B_SEG_ADD,
	B_SEG_GET,
	B_SEG_LIST,
	B_SEG_DELETE,
	B_ADD,
	B_GET,
	B_LIST,
	B_UPDATE,
	B_DELETE,
	B_DUE,
	B_COUNTS,
	B_COMPLAINTS,
	B_COUNT
};

struct store_sqlite {
	struct store base;
	sqlite3 *db;
	sqlite3_stmt *q[Q_COUNT];
	int64_t next_seq; /* the next event's seq: max(seq) + 1 at open, then counted here */
	int read_only;	  /* a reader: BEGIN takes no write lock */
	sqlite3_stmt *e[E_COUNT];
	sqlite3_stmt *o[O_COUNT];
	sqlite3_stmt *c[C_COUNT];
	sqlite3_stmt *st[S_COUNT];
	sqlite3_stmt *in[I_COUNT];
	sqlite3_stmt *lk[L_COUNT];
	sqlite3_stmt *bc[B_COUNT];
	/* The checkpointer: its own connection and thread (store_sqlite_checkpoint.c). */
	sqlite3 *checkpoint_db;
	pthread_t checkpoint_thread;
	pthread_mutex_t checkpoint_lock;
	pthread_cond_t checkpoint_cond;
	int checkpoint_running;
	int checkpoint_stop;
	int checkpoint_truncate; /* under checkpoint_lock: an erasure wants the WAL emptied */
	int erase_pending;	 /* store thread: an erasure in the open transaction */
};

#define SQ(s) ((struct store_sqlite *)(s))

/* Starts the thread that copies the WAL into the database off the commit path. */
int store_sqlite_checkpointer_start(struct store_sqlite *s, const struct store_options *opt,
				    char *err, size_t errlen);
/*
 * Asks the checkpointer to copy the whole WAL and truncate it (retried until readers let it):
 * an erasure's old page images leave the WAL file.
 */
void store_sqlite_checkpointer_truncate(struct store_sqlite *s);
enum store_status store_sqlite_customer_erase(struct store *, const char *, const char *, int64_t);
/* The upsert with its consent source and time; *CHANGED (may be NULL): anything written. */
enum store_status store_sqlite_customer_upsert_from(struct store *st, const char *ext_id,
						    json_t *fields, int64_t now_ms,
						    const char *source, int64_t consent_ms,
						    int64_t *id, int *changed);
/* Retention (store_sqlite_retention.c). */
enum store_status store_sqlite_prune(struct store *, enum retention_kind, int64_t, int,
				     const json_t *, struct retention_cursor *, int *);
/* Skips recorded only as notes, which statistics count (store_sqlite_stats.c). */
#define STATS_NOTE_SKIPS "('already_sent', 'stale', 'frequency_cap')"
/* The customer listing, export and batch upsert (store_sqlite_customers.c). */
enum store_status store_sqlite_customers_upsert(struct store *, struct customer_item *, size_t,
						const char *, int64_t);
enum store_status store_sqlite_customers_list(struct store *, const struct customer_filter *,
					      struct customer_row **, size_t *);
enum store_status store_sqlite_customer_export(struct store *, const char *,
					       struct customer_export *);
/* Stops it (waits for a checkpoint under way); a no-op when it never started. */
void store_sqlite_checkpointer_stop(struct store_sqlite *s);

/* A journey's columns in the order store_sqlite_journey_rows reads them. */
#define J_COLS                                                                                     \
	"id, campaign_id, version, customer_id, jkey, active, step, visit, due_ms, wait_event,"    \
	" on_event, trigger, entered_ms, exited_ms, exit_reason, event, passed"
/* Column readers shared by the backend's files (store_sqlite_engine.c). */
json_t *store_sqlite_json_column(sqlite3_stmt *q, int col); /* {} when NULL or not JSON */
char *store_sqlite_text_dup(sqlite3_stmt *q, int col);
int64_t store_sqlite_opt_int(sqlite3_stmt *q, int col); /* -1 for NULL */
/* Appends the consent rows of customer C->id to C, in topic order. */
enum store_status store_sqlite_consent_read(struct store_sqlite *s, struct customer_row *c);
/* Rows of (seq, customer_id, ext_id, key, type, time_ms, properties). */
enum store_status store_sqlite_event_rows(struct store_sqlite *s, sqlite3_stmt *q,
					  struct store_event **out, size_t *n);
/* Rows of J_COLS. */
enum store_status store_sqlite_journey_rows(struct store_sqlite *s, sqlite3_stmt *q,
					    struct journey **out, size_t *n);
/* Prepares N statements of FAMILY ("engine") from SQL into ST; -1 with ERR naming the one. */
int store_sqlite_prepare_all(struct store_sqlite *s, const char *const *sql, sqlite3_stmt **st,
			     int n, const char *family, char *err, size_t errlen);
void store_sqlite_finalize_all(sqlite3_stmt **st, int n);
/* Maps a SQLite result code to a store status (logging real failures). */
enum store_status store_sqlite_status(struct store_sqlite *s, int rc);
/* Steps a statement that returns no rows, then resets it and clears its bindings. */
enum store_status store_sqlite_exec(struct store_sqlite *s, sqlite3_stmt *st);
/* Binds text (copied) or NULL. */
void store_sqlite_bind_text(sqlite3_stmt *st, int i, const char *v);
/* Prepares the engine's statements; 0, or -1 with a message in ERR. */
int store_sqlite_engine_prepare(struct store_sqlite *s, char *err, size_t errlen);
void store_sqlite_engine_finalize(struct store_sqlite *s);
int store_sqlite_outbox_prepare(struct store_sqlite *s, char *err, size_t errlen);
void store_sqlite_outbox_finalize(struct store_sqlite *s);
/* Customers and events over the API (store_sqlite.c), listed in store_sqlite_customer_ops. */
enum store_status store_sqlite_customer_ensure(struct store *, const char *, int64_t, int64_t *);
enum store_status store_sqlite_customer_upsert(struct store *, const char *, json_t *, int64_t,
					       int64_t *);
enum store_status store_sqlite_customer_get(struct store *, const char *, int,
					    struct customer_view *);
enum store_status store_sqlite_event_insert(struct store *, const char *, const struct nt_event *,
					    int64_t, int64_t *, int64_t *);

/* Delivery's operations, listed in store_sqlite_ops. */
enum store_status store_sqlite_outbox_recover(struct store *, int64_t, int *);
enum store_status store_sqlite_outbox_claim(struct store *, const char *, int64_t, int,
					    struct outbox_msg **, size_t *);
enum store_status store_sqlite_outbox_next_due(struct store *, const char *, int64_t *);
enum store_status store_sqlite_outbox_finish(struct store *, const struct outbox_result *);
enum store_status store_sqlite_messages_list(struct store *, const struct outbox_filter *,
					     struct message_row **, size_t *);
enum store_status store_sqlite_message_get(struct store *, int64_t, struct message_row *);
enum store_status store_sqlite_message_retry(struct store *, int64_t, int64_t);
int store_sqlite_consent_prepare(struct store_sqlite *s, char *err, size_t errlen);
void store_sqlite_consent_finalize(struct store_sqlite *s);
/* Consent and suppression's operations (store_sqlite_consent.c). */
enum store_status store_sqlite_suppression_add(struct store *, const char *, const char *,
					       const char *, int64_t);
enum store_status store_sqlite_suppressed(struct store *, const char *, const char *, int *);
enum store_status store_sqlite_suppression_delete(struct store *, const char *, const char *);
enum store_status store_sqlite_suppressions_list(struct store *, const char *, int,
						 struct suppression_row **, size_t *);
enum store_status store_sqlite_customer_lookup(struct store *, const char *, int64_t *);
enum store_status store_sqlite_consent_get(struct store *, int64_t, const char *, char **,
					   int64_t *);
enum store_status store_sqlite_consent_update(struct store *, int64_t, const char *, const char *,
					      const char *, const char *, int64_t);
enum store_status store_sqlite_system_visit(struct store *, int *);
enum store_status store_sqlite_campaign_pause(struct store *, const char *, int, int64_t);
enum store_status store_sqlite_campaigns_paused(struct store *, char ***, size_t *);
int store_sqlite_stats_prepare(struct store_sqlite *s, char *err, size_t errlen);
void store_sqlite_stats_finalize(struct store_sqlite *s);
/* Statistics' operations (store_sqlite_stats.c). */
enum store_status store_sqlite_outbox_counts(struct store *, struct outbox_counts *);
/* store_sqlite_transactional.c (issue 20). */
enum store_status store_sqlite_tx_key_find(struct store *, const char *, struct tx_key *);
enum store_status store_sqlite_tx_key_add(struct store *, const struct tx_key *);
enum store_status store_sqlite_transactional_counts(struct store *, struct outbox_counts *);
enum store_status store_sqlite_campaign_counts(struct store *, struct campaign_count **, size_t *);
enum store_status store_sqlite_campaign_stats(struct store *, const char *, int64_t,
					      struct campaign_stats **);

/* The engine side's operations, listed in store_sqlite_ops. */
enum store_status store_sqlite_cursor_get(struct store *, int64_t *);
enum store_status store_sqlite_cursor_set(struct store *, int64_t);
enum store_status store_sqlite_events_after(struct store *, int64_t, int, struct store_event **,
					    size_t *);
enum store_status store_sqlite_customer_by_id(struct store *, int64_t, struct customer_row *);
enum store_status store_sqlite_events_of(struct store *, int64_t, const char *, int64_t, int,
					 struct store_event **, size_t *);
long store_sqlite_events_count(struct store *, int64_t, const char *, int64_t);
enum store_status store_sqlite_campaign_version_save(struct store *, const char *, const char *,
						     const char *, int64_t);
enum store_status store_sqlite_campaign_version_load(struct store *, const char *, const char *,
						     char **);
enum store_status store_sqlite_journey_insert(struct store *, struct journey *);
enum store_status store_sqlite_journey_update(struct store *, const struct journey *);
enum store_status store_sqlite_journey_find(struct store *, const char *, int64_t, const char *,
					    int, struct journey *);
enum store_status store_sqlite_journeys_for_event(struct store *, int64_t, const char *,
						  char *const *, size_t, struct journey **,
						  size_t *);
enum store_status store_sqlite_exit_events(struct store *, struct exit_event **, size_t *);
enum store_status store_sqlite_journeys_due(struct store *, int64_t, int, struct journey **,
					    size_t *);
enum store_status store_sqlite_journey_next_due(struct store *, int64_t *);
enum store_status store_sqlite_journeys_release(struct store *, const char *, int64_t, int *);
enum store_status store_sqlite_timer_push(struct store *, const char *, int64_t, int64_t);
enum store_status store_sqlite_timers_due(struct store *, int64_t, int, struct store_timer **,
					  size_t *);
enum store_status store_sqlite_timer_delete(struct store *, const char *, int64_t);
enum store_status store_sqlite_schedule_get(struct store *, const char *, struct store_schedule *);
enum store_status store_sqlite_schedule_set(struct store *, const struct store_schedule *);
enum store_status store_sqlite_schedules_due(struct store *, int64_t, struct store_schedule **,
					     size_t *);
enum store_status store_sqlite_customers_after(struct store *, int64_t, int, int64_t **, size_t *);
enum store_status store_sqlite_goal_candidate(struct store *, const char *, int64_t, int64_t,
					      int64_t *);
enum store_status store_sqlite_marketing_sent(struct store *, int64_t, int64_t, long, long *,
					      int64_t *);
enum store_status store_sqlite_purchase_add(struct store *, int64_t, int64_t);
enum store_status store_sqlite_purchase_stats(struct store *, int64_t, long *, int64_t *,
					      int64_t *);
enum store_status store_sqlite_stage_set(struct store *, int64_t, const char *, int64_t);
enum store_status store_sqlite_journey_note(struct store *, const struct journey_note *);
enum store_status store_sqlite_outbox_add(struct store *, const struct outbox_entry *, int64_t *id);
enum store_status store_sqlite_outbox_payload_add(struct store *, int64_t id, const char *payload,
						  size_t len);
enum store_status store_sqlite_outbox_refuse(struct store *, int64_t id, const char *reason);

/* Inbound mail's operations (store_sqlite_inbound.c). */
int store_sqlite_inbound_prepare(struct store_sqlite *s, char *err, size_t errlen);
void store_sqlite_inbound_finalize(struct store_sqlite *s);
enum store_status store_sqlite_inbound_find(struct store *, const char *, int64_t *);
enum store_status store_sqlite_inbound_add(struct store *, const char *, const struct inbound_row *,
					   int64_t *);
enum store_status store_sqlite_inbound_list(struct store *, const char *, int, int64_t, int64_t,
					    int, struct inbound_entry **, size_t *);
enum store_status store_sqlite_inbound_soft_count(struct store *, const char *, const char *,
						  int64_t, long *);
enum store_status store_sqlite_outbox_ref(struct store *, int64_t, const char *,
					  struct outbox_ref *);
enum store_status store_sqlite_outbox_bounced(struct store *, int64_t, const char *, int64_t);

/* Click tracking and attribution (store_sqlite_measure.c, issue 19). */
int store_sqlite_links_prepare(struct store_sqlite *s, char *err, size_t errlen);
void store_sqlite_links_finalize(struct store_sqlite *s);
enum store_status store_sqlite_links_add(struct store *, int64_t, json_t *);
enum store_status store_sqlite_link_target(struct store *, const char *, int, char **);
enum store_status store_sqlite_link_click(struct store *, const char *, int, int64_t,
					  struct link_click *);
enum store_status store_sqlite_conversion_credit(struct store *, struct conversion *);
enum store_status store_sqlite_measure_count(struct store *, const char *, const char *,
					     const char *, const char *, double);
enum store_status store_sqlite_unsubscribe_credit(struct store *, int64_t);
enum store_status store_sqlite_open_record(struct store *, const char *);
enum store_status store_sqlite_measure_read(struct store *, const char *, struct measure_row **,
					    size_t *);
enum store_status store_sqlite_assignment_add(struct store *, const struct assignment *);
enum store_status store_sqlite_assignment_get(struct store *, int64_t, struct assignment *);
enum store_status store_sqlite_experiment_convert(struct store *, const char *, int64_t, int64_t,
						  int64_t, double, char **);

/* Broadcasts and segments (store_sqlite_broadcast.c, issue 17). */
int store_sqlite_broadcast_prepare(struct store_sqlite *s, char *err, size_t errlen);
void store_sqlite_broadcast_finalize(struct store_sqlite *s);

/* store_sqlite_pcache.c: SQLite's page cache without the commit-time walk of all of it. */
int store_sqlite_pcache_install(void);
unsigned long store_sqlite_pcache_remapped(void);

/* store_sqlite_schema.c: the migrations' number (the schema version), and running them. */
int store_sqlite_schema_latest(void);
int store_sqlite_migrate(struct store_sqlite *s, char *err, size_t errlen);

#endif
