/*
 * The one store interface. Every piece of SQL lives behind it, in a backend (store_sqlite.c
 * now; a PostgreSQL backend later for several daemons sharing one database). A store is used
 * by one thread at a time: the store loop owns it.
 */
#ifndef NURTURED_STORE_H
#define NURTURED_STORE_H

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

#include "store_rows.h"
#include "validate.h"

enum store_status {
	STORE_OK = 0,
	STORE_DUPLICATE, /* same idempotency key, same content */
	STORE_CONFLICT,	 /* same idempotency key, other content */
	STORE_NOTFOUND,
	STORE_GONE,	   /* erased customer */
	STORE_UNAVAILABLE, /* disk full, I/O error, locked: retry later */
	STORE_CORRUPT,	   /* refuse to run */
};

struct store_options {
	const char *backend;  /* "sqlite" */
	const char *data_dir; /* NULL: in memory (simulate, tests) */
	int durability_full;
	/*
	 * A reader beside the writer (statistics off the store thread): read-only, a deferred
	 * BEGIN (no write lock), a smaller page cache, no migrations and no checkpointer. The
	 * writer must have opened the database first.
	 */
	int read_only;
};

struct store;
struct store_ui_ops;
struct store_broadcast_ops;

struct store_ops {
	const char *name;
	struct store *(*open)(const struct store_options *, char *err, size_t errlen);
	void (*close)(struct store *);
	const char *(*errmsg)(struct store *);
	int (*schema_version)(struct store *);

	enum store_status (*begin)(struct store *);
	enum store_status (*commit)(struct store *);
	void (*rollback)(struct store *);
	enum store_status (*savepoint)(struct store *);
	enum store_status (*release)(struct store *);
	void (*rollback_savepoint)(struct store *);

	enum store_status (*heartbeat)(struct store *, int64_t now_ms);
	enum store_status (*customer_upsert)(struct store *, const char *ext_id, json_t *fields,
					     int64_t now_ms, int64_t *id);
	enum store_status (*customer_ensure)(struct store *, const char *ext_id, int64_t now_ms,
					     int64_t *id);
	enum store_status (*customer_get)(struct store *, const char *ext_id, int events_limit,
					  json_t **out);
	enum store_status (*customer_erase)(struct store *, const char *ext_id, const char *secret,
					    int64_t now_ms);
	enum store_status (*event_insert)(struct store *, int64_t customer_id,
					  const struct nt_event *ev, int64_t received_ms,
					  int64_t *seq);

	/* The engine's side. */
	enum store_status (*cursor_get)(struct store *, int64_t *seq);
	enum store_status (*cursor_set)(struct store *, int64_t seq);
	enum store_status (*events_after)(struct store *, int64_t after_seq, int limit,
					  struct store_event **out, size_t *n);
	enum store_status (*customer_context)(struct store *, int64_t customer_id, json_t **out);
	long (*events_count)(struct store *, int64_t customer_id, const char *type,
			     int64_t since_ms);
	/* A customer's events of TYPE since SINCE_MS, oldest first, at most LIMIT. */
	enum store_status (*events_of)(struct store *, int64_t customer_id, const char *type,
				       int64_t since_ms, int limit, struct store_event **out,
				       size_t *n);
	enum store_status (*campaign_version_save)(struct store *, const char *campaign_id,
						   const char *version, const char *definition,
						   int64_t now_ms);
	enum store_status (*campaign_version_load)(struct store *, const char *campaign_id,
						   const char *version, char **definition);
	enum store_status (*journey_insert)(struct store *, struct journey *j);
	enum store_status (*journey_update)(struct store *, const struct journey *j);
	enum store_status (*journey_find)(struct store *, const char *campaign_id,
					  int64_t customer_id, const char *key, int active_only,
					  struct journey *out);
	/*
	 * The customer's active journeys an event of TYPE can touch, in id order: those waiting
	 * for TYPE, and those of CAMPAIGNS (the campaigns that exit on TYPE).
	 */
	enum store_status (*journeys_for_event)(struct store *, int64_t customer_id,
						const char *type, char *const *campaigns,
						size_t n_campaigns, struct journey **out,
						size_t *n);
	/* {"CAMPAIGN": {"TYPE": true}}: the types each campaign exits on, in any version kept. */
	enum store_status (*exit_events)(struct store *, json_t **out);
	enum store_status (*journeys_due)(struct store *, int64_t now_ms, int limit,
					  struct journey **out, size_t *n);
	enum store_status (*journey_next_due)(struct store *, int64_t *due_ms);
	/* Makes the journeys a paused campaign held due at NOW; *N tells how many. */
	enum store_status (*journeys_release)(struct store *, const char *campaign_id,
					      int64_t now_ms, int *n);
	enum store_status (*journey_note)(struct store *, const struct journey_note *e);
	/* The customer's journey of CAMPAIGN that sent since SINCE_MS and has no goal noted yet. */
	enum store_status (*goal_candidate)(struct store *, const char *campaign_id,
					    int64_t customer_id, int64_t since_ms,
					    int64_t *journey_id);
	/* Sets a trigger timer to DUE, or later: a timer only moves forward. */
	enum store_status (*timer_push)(struct store *, const char *campaign_id,
					int64_t customer_id, int64_t due_ms);
	enum store_status (*timers_due)(struct store *, int64_t now_ms, int limit,
					struct store_timer **out, size_t *n);
	enum store_status (*timer_delete)(struct store *, const char *campaign_id,
					  int64_t customer_id);
	enum store_status (*schedule_get)(struct store *, const char *campaign_id,
					  struct store_schedule *out);
	enum store_status (*schedule_set)(struct store *, const struct store_schedule *sc);
	enum store_status (*schedules_due)(struct store *, int64_t now_ms,
					   struct store_schedule **out, size_t *n);
	/* Customer ids after AFTER in id order, erased ones left out: a fan-out's next batch. */
	enum store_status (*customers_after)(struct store *, int64_t after, int limit,
					     int64_t **ids, size_t *n);
	/* *ID (may be NULL): the new row's id. Without a payload, outbox_payload_add follows. */
	enum store_status (*outbox_add)(struct store *, const struct outbox_entry *o, int64_t *id);
	/* The payload of row ID, built after its row was added, in the same transaction. */
	enum store_status (*outbox_payload_add)(struct store *, int64_t id, const char *payload,
						size_t len);
	/* Row ID, queued in this transaction, turns out not sendable: skipped with REASON. */
	enum store_status (*outbox_refuse)(struct store *, int64_t id, const char *reason);
	/*
	 * A customer's purchases as the engine recorded them (purchase_add at each one it
	 * consumes): how many, the first and last. Kept, not counted: no scan of the history.
	 */
	enum store_status (*purchase_stats)(struct store *, int64_t customer_id, long *count,
					    int64_t *first_ms, int64_t *last_ms);
	enum store_status (*purchase_add)(struct store *, int64_t customer_id, int64_t time_ms);
	enum store_status (*stage_set)(struct store *, int64_t customer_id, const char *stage,
				       int64_t since_ms);
	/*
	 * Marketing messages queued for a customer since SINCE_MS, counted up to LIMIT, and when
	 * the oldest was.
	 */
	enum store_status (*marketing_sent)(struct store *, int64_t customer_id, int64_t since_ms,
					    long limit, long *count, int64_t *oldest_ms);

	/* Delivery's side (store_sqlite_outbox.c). */
	/* At start: messages left "sending" by a crash are queued again, due NOW. */
	enum store_status (*outbox_recover)(struct store *, int64_t now_ms, int *n);
	/* Up to LIMIT due messages of CHANNEL become "sending", their attempt counted. */
	enum store_status (*outbox_claim)(struct store *, const char *channel, int64_t now_ms,
					  int limit, struct outbox_msg **out, size_t *n);
	/* The earliest due time of CHANNEL's waiting messages, or -1. */
	enum store_status (*outbox_next_due)(struct store *, const char *channel, int64_t *due_ms);
	enum store_status (*outbox_finish)(struct store *, const struct outbox_result *r);
	enum store_status (*messages_list)(struct store *, const struct outbox_filter *f,
					   json_t **out);
	enum store_status (*message_get)(struct store *, int64_t id, json_t **out);
	/* A failed, expired or deferred (issue 22) message is queued again now (STORE_CONFLICT for
	 * other states). */
	enum store_status (*message_retry)(struct store *, int64_t id, int64_t now_ms);

	/* Consent and suppression (store_sqlite_consent.c). */
	/* Puts ADDRESS on the suppression list; a no-op when it is there already. */
	enum store_status (*suppression_add)(struct store *, const char *secret,
					     const char *address, const char *reason,
					     int64_t now_ms);
	/* Whether ADDRESS (any case) is suppressed, also as an erased customer's hash. */
	enum store_status (*suppressed)(struct store *, const char *secret, const char *address,
					int *yes);
	/* STORE_NOTFOUND when ADDRESS is not on the list. */
	enum store_status (*suppression_delete)(struct store *, const char *secret,
						const char *address);
	/* Up to LIMIT entries after the key AFTER ("" from the start), in key order. */
	enum store_status (*suppressions_list)(struct store *, const char *after, int limit,
					       json_t **out);
	/* The internal id of a customer (STORE_NOTFOUND, STORE_GONE when erased). */
	enum store_status (*customer_lookup)(struct store *, const char *ext_id, int64_t *id);
	/* A customer's consent for TOPIC: its state (malloc'd, NULL when none) and request. */
	enum store_status (*consent_get)(struct store *, int64_t customer_id, const char *topic,
					 char **state, int64_t *requested_ms);
	/*
	 * Sets the consent for TOPIC to STATE: "pending" records the request time,
	 * "subscribed" the confirmation time and ADDR (the confirming client), any state its
	 * SOURCE ("api", "link", "list-unsubscribe").
	 */
	enum store_status (*consent_update)(struct store *, int64_t customer_id, const char *topic,
					    const char *state, const char *source, const char *addr,
					    int64_t now_ms);
	/* The next ledger visit for system mail (journey 0): each confirmation mail is new. */
	enum store_status (*system_visit)(struct store *, int *visit);

	/* Campaigns paused over the API: set (PAUSED 1) or cleared, and the list (malloc'd). */
	enum store_status (*campaign_pause)(struct store *, const char *campaign_id, int paused,
					    int64_t now_ms);
	enum store_status (*campaigns_paused)(struct store *, char ***ids, size_t *n);

	/* Statistics, read-only (store_sqlite_stats.c); docs/api.md defines the numbers. */
	/* Messages per state: {"queued": N, ...}, every state present. */
	enum store_status (*outbox_counts)(struct store *, json_t **out);
	/* Journeys per campaign (campaigns with any), from counters (issue 19). */
	enum store_status (*campaign_counts)(struct store *, struct campaign_count **out,
					     size_t *n);
	/* One campaign's totals, per step and per UTC day from SINCE_MS on, from counters. */
	enum store_status (*campaign_stats)(struct store *, const char *campaign_id,
					    int64_t since_ms, struct campaign_stats **out);

	/* Inbound mail (store_sqlite_inbound.c, issue 16). */
	/* The row recorded under DEDUPE: STORE_OK with *ID, or STORE_NOTFOUND. */
	enum store_status (*inbound_find)(struct store *, const char *dedupe, int64_t *id);
	/* Records R (STORE_DUPLICATE when its dedupe key is there); SECRET hashes the address. */
	enum store_status (*inbound_add)(struct store *, const char *secret,
					 const struct inbound_row *r, int64_t *id);
	/*
	 * Up to LIMIT rows before BEFORE (0: the newest), of KIND (NULL: all), about outbox
	 * message MESSAGE (0: any), newest first.
	 */
	enum store_status (*inbound_list)(struct store *, const char *kind, int unmatched_only,
					  int64_t before, int64_t message, int limit,
					  struct inbound_entry **out, size_t *n);
	/* Soft bounces recorded for ADDRESS since SINCE_MS. */
	enum store_status (*inbound_soft_count)(struct store *, const char *secret,
						const char *address, int64_t since_ms, long *n);
	/* The outbox message ID (when > 0) or MESSAGE_ID: STORE_NOTFOUND when none. */
	enum store_status (*outbox_ref)(struct store *, int64_t id, const char *message_id,
					struct outbox_ref *out);
	/* The message bounced: its state becomes "bounced", REPLY its last reply. */
	enum store_status (*outbox_bounced)(struct store *, int64_t id, const char *reply,
					    int64_t now_ms);
	/* Customer data (store_sqlite_customers.c, issue 20). */
	/* Up to F->limit customers after F->after in id order, erased ones left out. */
	enum store_status (*customers_list)(struct store *, const struct customer_filter *f,
					    struct customer_row **out, size_t *n);
	/* Everything held about EXT_ID (STORE_NOTFOUND, STORE_GONE when erased). */
	enum store_status (*customer_export)(struct store *, const char *ext_id,
					     struct customer_export *out);
	/* Upserts the items not skipped, consent recorded with SOURCE; sets each one's changed. */
	enum store_status (*customers_upsert)(struct store *, struct customer_item *items, size_t n,
					      const char *source, int64_t now_ms);
	/*
	 * One chunk of retention: at most LIMIT rows of KIND older than CUTOFF_MS looked at from
	 * CUR on; *N tells how many (fewer than LIMIT: nothing more to do for now). KEEP (for
	 * RETAIN_JOURNEYS) is campaign id -> the time before which a finished journey may go
	 * (re-entry "after"), or -1 (re-entry "never": it stays, without its trigger's data);
	 * campaigns not in it lose their finished journeys at CUTOFF_MS.
	 */
	enum store_status (*prune)(struct store *, enum retention_kind kind, int64_t cutoff_ms,
				   int limit, const json_t *keep, struct retention_cursor *cur,
				   int *n);

	/* Transactional sends (store_sqlite_transactional.c, issue 20). */
	/* The send recorded under idempotency KEY: STORE_OK with it, or STORE_NOTFOUND. */
	enum store_status (*tx_key_find)(struct store *, const char *key, struct tx_key *out);
	/* Records K (its key must be new). */
	enum store_status (*tx_key_add)(struct store *, const struct tx_key *k);
	/* Transactional messages per state: {"queued": N, ...}, every state present. */
	enum store_status (*transactional_counts)(struct store *, json_t **out);

	/* Issue 22: the dashboard's queries (store_ui.h). */
	const struct store_ui_ops *ui;

	/* Click tracking and attribution (store_sqlite_measure.c, issue 19). */
	/* Keeps the targets LINKS ([{"url", "name"}], index = position) of outbox message ID. */
	enum store_status (*links_add)(struct store *, int64_t id, json_t *links);
	/* Link IDX of the message MESSAGE_ID: *URL (malloc'd), or STORE_NOTFOUND. */
	enum store_status (*link_target)(struct store *, const char *message_id, int idx,
					 char **url);
	/* Records a click on it: the link (owned strings), and whether it is its first click. */
	enum store_status (*link_click)(struct store *, const char *message_id, int idx,
					int64_t now_ms, struct link_click *out);
	/*
	 * Credits a conversion of campaign C->campaign_id to one message: the last of the
	 * campaign the customer clicked since C->since_ms, else the last sent since then (fills
	 * outbox_id, step_id, via); records it with its revenue and counts it.
	 */
	enum store_status (*conversion_credit)(struct store *, struct conversion *c);
	/* Adds N to the counter METRIC of (CAMPAIGN, STEP, VARIANT); step "*": the arm's total. */
	enum store_status (*measure_count)(struct store *, const char *campaign, const char *step,
					   const char *variant, const char *metric, double n);
	/* An open pixel fetched: the message's step counts an open (STORE_NOTFOUND: no such). */
	enum store_status (*open_record)(struct store *, const char *message_id);
	/* The customer left by a link: the last marketing mail they got counts it. */
	enum store_status (*unsubscribe_credit)(struct store *, int64_t customer_id);
	/*
	 * The counters of CAMPAIGN ("*": the totals across campaigns), with the inbound mail
	 * (metrics "bounce", "complaint", "reply", ... by step) matched to its messages.
	 */
	enum store_status (*measure_read)(struct store *, const char *campaign,
					  struct measure_row **rows, size_t *n);
	/* A journey's experiment arm, recorded at entry; get: STORE_NOTFOUND when it has none. */
	enum store_status (*assignment_add)(struct store *, const struct assignment *a);
	enum store_status (*assignment_get)(struct store *, int64_t journey_id,
					    struct assignment *out);
	/*
	 * The customer's latest unconverted assignment in CAMPAIGN made since SINCE_MS converts
	 * at NOW_MS: its arm counts the conversion and REVENUE; *ARM (malloc'd) or
	 * STORE_NOTFOUND.
	 */
	enum store_status (*experiment_convert)(struct store *, const char *campaign,
						int64_t customer_id, int64_t since_ms,
						int64_t now_ms, double revenue, char **arm);
	/* Broadcasts and segments (store_broadcast.h, issue 17). */
	const struct store_broadcast_ops *bc;
};

/* Every backend's struct starts with this. */
struct store {
	const struct store_ops *ops;
};

/*
 * The bytes the store's library holds in memory (SQLite: its heap, page caches included).
 * Safe from any thread, for a gauge: RSS less this is what a leak elsewhere would grow.
 */
int64_t store_memory_used(void);

/* Opens the backend named in OPT; NULL with a message in ERR on failure. */
struct store *store_open(const struct store_options *opt, char *err, size_t errlen);

static inline void
store_close(struct store *s)
{
	if (s != NULL)
		s->ops->close(s);
}
static inline const char *
store_errmsg(struct store *s)
{
	return s->ops->errmsg(s);
}
static inline enum store_status
store_begin(struct store *s)
{
	return s->ops->begin(s);
}
static inline enum store_status
store_commit(struct store *s)
{
	return s->ops->commit(s);
}
static inline void
store_rollback(struct store *s)
{
	s->ops->rollback(s);
}
static inline enum store_status
store_savepoint(struct store *s)
{
	return s->ops->savepoint(s);
}
static inline enum store_status
store_release(struct store *s)
{
	return s->ops->release(s);
}
static inline void
store_rollback_savepoint(struct store *s)
{
	s->ops->rollback_savepoint(s);
}

static inline enum store_status
store_heartbeat(struct store *s, int64_t now_ms)
{
	return s->ops->heartbeat(s, now_ms);
}
static inline enum store_status
store_customer_upsert(struct store *s, const char *ext_id, json_t *fields, int64_t now_ms,
		      int64_t *id)
{
	return s->ops->customer_upsert(s, ext_id, fields, now_ms, id);
}
static inline enum store_status
store_customer_ensure(struct store *s, const char *ext_id, int64_t now_ms, int64_t *id)
{
	return s->ops->customer_ensure(s, ext_id, now_ms, id);
}
static inline enum store_status
store_customer_get(struct store *s, const char *ext_id, int events_limit, json_t **out)
{
	return s->ops->customer_get(s, ext_id, events_limit, out);
}
static inline enum store_status
store_customer_erase(struct store *s, const char *ext_id, const char *secret, int64_t now_ms)
{
	return s->ops->customer_erase(s, ext_id, secret, now_ms);
}
static inline enum store_status
store_event_insert(struct store *s, int64_t customer_id, const struct nt_event *ev,
		   int64_t received_ms, int64_t *seq)
{
	return s->ops->event_insert(s, customer_id, ev, received_ms, seq);
}

static inline enum store_status
store_cursor_get(struct store *s, int64_t *seq)
{
	return s->ops->cursor_get(s, seq);
}
static inline enum store_status
store_cursor_set(struct store *s, int64_t seq)
{
	return s->ops->cursor_set(s, seq);
}
static inline enum store_status
store_events_after(struct store *s, int64_t after, int limit, struct store_event **out, size_t *n)
{
	return s->ops->events_after(s, after, limit, out, n);
}
static inline enum store_status
store_customer_context(struct store *s, int64_t customer_id, json_t **out)
{
	return s->ops->customer_context(s, customer_id, out);
}
static inline long
store_events_count(struct store *s, int64_t customer_id, const char *type, int64_t since_ms)
{
	return s->ops->events_count(s, customer_id, type, since_ms);
}
static inline enum store_status
store_events_of(struct store *s, int64_t customer_id, const char *type, int64_t since_ms, int limit,
		struct store_event **out, size_t *n)
{
	return s->ops->events_of(s, customer_id, type, since_ms, limit, out, n);
}
static inline enum store_status
store_campaign_version_save(struct store *s, const char *id, const char *version,
			    const char *definition, int64_t now_ms)
{
	return s->ops->campaign_version_save(s, id, version, definition, now_ms);
}
static inline enum store_status
store_campaign_version_load(struct store *s, const char *id, const char *version, char **definition)
{
	return s->ops->campaign_version_load(s, id, version, definition);
}
static inline enum store_status
store_journey_insert(struct store *s, struct journey *j)
{
	return s->ops->journey_insert(s, j);
}
static inline enum store_status
store_journey_update(struct store *s, const struct journey *j)
{
	return s->ops->journey_update(s, j);
}
static inline enum store_status
store_journey_find(struct store *s, const char *campaign_id, int64_t customer_id, const char *key,
		   int active_only, struct journey *out)
{
	return s->ops->journey_find(s, campaign_id, customer_id, key, active_only, out);
}
static inline enum store_status
store_journeys_for_event(struct store *s, int64_t customer_id, const char *type,
			 char *const *campaigns, size_t n_campaigns, struct journey **out,
			 size_t *n)
{
	return s->ops->journeys_for_event(s, customer_id, type, campaigns, n_campaigns, out, n);
}
static inline enum store_status
store_exit_events(struct store *s, json_t **out)
{
	return s->ops->exit_events(s, out);
}
static inline enum store_status
store_journeys_due(struct store *s, int64_t now_ms, int limit, struct journey **out, size_t *n)
{
	return s->ops->journeys_due(s, now_ms, limit, out, n);
}
static inline enum store_status
store_journey_next_due(struct store *s, int64_t *due_ms)
{
	return s->ops->journey_next_due(s, due_ms);
}
static inline enum store_status
store_journeys_release(struct store *s, const char *campaign_id, int64_t now_ms, int *n)
{
	return s->ops->journeys_release(s, campaign_id, now_ms, n);
}
static inline enum store_status
store_journey_note(struct store *s, const struct journey_note *e)
{
	return s->ops->journey_note(s, e);
}
static inline enum store_status
store_timer_push(struct store *s, const char *campaign_id, int64_t customer_id, int64_t due_ms)
{
	return s->ops->timer_push(s, campaign_id, customer_id, due_ms);
}
static inline enum store_status
store_timers_due(struct store *s, int64_t now_ms, int limit, struct store_timer **out, size_t *n)
{
	return s->ops->timers_due(s, now_ms, limit, out, n);
}
static inline enum store_status
store_timer_delete(struct store *s, const char *campaign_id, int64_t customer_id)
{
	return s->ops->timer_delete(s, campaign_id, customer_id);
}
static inline enum store_status
store_schedule_get(struct store *s, const char *campaign_id, struct store_schedule *out)
{
	return s->ops->schedule_get(s, campaign_id, out);
}
static inline enum store_status
store_schedule_set(struct store *s, const struct store_schedule *sc)
{
	return s->ops->schedule_set(s, sc);
}
static inline enum store_status
store_schedules_due(struct store *s, int64_t now_ms, struct store_schedule **out, size_t *n)
{
	return s->ops->schedules_due(s, now_ms, out, n);
}
static inline enum store_status
store_customers_after(struct store *s, int64_t after, int limit, int64_t **ids, size_t *n)
{
	return s->ops->customers_after(s, after, limit, ids, n);
}
static inline enum store_status
store_goal_candidate(struct store *s, const char *campaign_id, int64_t customer_id,
		     int64_t since_ms, int64_t *journey_id)
{
	return s->ops->goal_candidate(s, campaign_id, customer_id, since_ms, journey_id);
}
static inline enum store_status
store_outbox_add(struct store *s, const struct outbox_entry *o, int64_t *id)
{
	return s->ops->outbox_add(s, o, id);
}
static inline enum store_status
store_outbox_payload_add(struct store *s, int64_t id, const char *payload, size_t len)
{
	return s->ops->outbox_payload_add(s, id, payload, len);
}
static inline enum store_status
store_outbox_refuse(struct store *s, int64_t id, const char *reason)
{
	return s->ops->outbox_refuse(s, id, reason);
}

static inline enum store_status
store_marketing_sent(struct store *s, int64_t customer_id, int64_t since_ms, long limit,
		     long *count, int64_t *oldest_ms)
{
	return s->ops->marketing_sent(s, customer_id, since_ms, limit, count, oldest_ms);
}

static inline enum store_status
store_purchase_stats(struct store *s, int64_t customer_id, long *count, int64_t *first_ms,
		     int64_t *last_ms)
{
	return s->ops->purchase_stats(s, customer_id, count, first_ms, last_ms);
}
static inline enum store_status
store_purchase_add(struct store *s, int64_t customer_id, int64_t time_ms)
{
	return s->ops->purchase_add(s, customer_id, time_ms);
}
static inline enum store_status
store_stage_set(struct store *s, int64_t customer_id, const char *stage, int64_t since_ms)
{
	return s->ops->stage_set(s, customer_id, stage, since_ms);
}

extern const struct store_ops store_sqlite_ops;

static inline enum store_status
store_outbox_recover(struct store *s, int64_t now_ms, int *n)
{
	return s->ops->outbox_recover(s, now_ms, n);
}
static inline enum store_status
store_outbox_claim(struct store *s, const char *channel, int64_t now_ms, int limit,
		   struct outbox_msg **out, size_t *n)
{
	return s->ops->outbox_claim(s, channel, now_ms, limit, out, n);
}
static inline enum store_status
store_outbox_next_due(struct store *s, const char *channel, int64_t *due_ms)
{
	return s->ops->outbox_next_due(s, channel, due_ms);
}
static inline enum store_status
store_outbox_finish(struct store *s, const struct outbox_result *r)
{
	return s->ops->outbox_finish(s, r);
}
static inline enum store_status
store_messages_list(struct store *s, const struct outbox_filter *f, json_t **out)
{
	return s->ops->messages_list(s, f, out);
}
static inline enum store_status
store_message_get(struct store *s, int64_t id, json_t **out)
{
	return s->ops->message_get(s, id, out);
}
static inline enum store_status
store_message_retry(struct store *s, int64_t id, int64_t now_ms)
{
	return s->ops->message_retry(s, id, now_ms);
}

static inline enum store_status
store_inbound_find(struct store *s, const char *dedupe, int64_t *id)
{
	return s->ops->inbound_find(s, dedupe, id);
}
static inline enum store_status
store_inbound_add(struct store *s, const char *secret, const struct inbound_row *r, int64_t *id)
{
	return s->ops->inbound_add(s, secret, r, id);
}
static inline enum store_status
store_inbound_list(struct store *s, const char *kind, int unmatched_only, int64_t before,
		   int64_t message, int limit, struct inbound_entry **out, size_t *n)
{
	return s->ops->inbound_list(s, kind, unmatched_only, before, message, limit, out, n);
}
static inline enum store_status
store_inbound_soft_count(struct store *s, const char *secret, const char *address, int64_t since_ms,
			 long *n)
{
	return s->ops->inbound_soft_count(s, secret, address, since_ms, n);
}
static inline enum store_status
store_outbox_ref(struct store *s, int64_t id, const char *message_id, struct outbox_ref *out)
{
	return s->ops->outbox_ref(s, id, message_id, out);
}
static inline enum store_status
store_outbox_bounced(struct store *s, int64_t id, const char *reply, int64_t now_ms)
{
	return s->ops->outbox_bounced(s, id, reply, now_ms);
}
static inline enum store_status
store_suppression_add(struct store *s, const char *secret, const char *address, const char *reason,
		      int64_t now_ms)
{
	return s->ops->suppression_add(s, secret, address, reason, now_ms);
}
static inline enum store_status
store_suppressed(struct store *s, const char *secret, const char *address, int *yes)
{
	return s->ops->suppressed(s, secret, address, yes);
}
static inline enum store_status
store_suppression_delete(struct store *s, const char *secret, const char *address)
{
	return s->ops->suppression_delete(s, secret, address);
}
static inline enum store_status
store_suppressions_list(struct store *s, const char *after, int limit, json_t **out)
{
	return s->ops->suppressions_list(s, after, limit, out);
}
static inline enum store_status
store_customer_lookup(struct store *s, const char *ext_id, int64_t *id)
{
	return s->ops->customer_lookup(s, ext_id, id);
}
static inline enum store_status
store_consent_get(struct store *s, int64_t customer_id, const char *topic, char **state,
		  int64_t *requested_ms)
{
	return s->ops->consent_get(s, customer_id, topic, state, requested_ms);
}
static inline enum store_status
store_consent_update(struct store *s, int64_t customer_id, const char *topic, const char *state,
		     const char *source, const char *addr, int64_t now_ms)
{
	return s->ops->consent_update(s, customer_id, topic, state, source, addr, now_ms);
}
static inline enum store_status
store_system_visit(struct store *s, int *visit)
{
	return s->ops->system_visit(s, visit);
}

static inline enum store_status
store_campaign_pause(struct store *s, const char *campaign_id, int paused, int64_t now_ms)
{
	return s->ops->campaign_pause(s, campaign_id, paused, now_ms);
}
static inline enum store_status
store_campaigns_paused(struct store *s, char ***ids, size_t *n)
{
	return s->ops->campaigns_paused(s, ids, n);
}
static inline enum store_status
store_tx_key_find(struct store *s, const char *key, struct tx_key *out)
{
	return s->ops->tx_key_find(s, key, out);
}
static inline enum store_status
store_tx_key_add(struct store *s, const struct tx_key *k)
{
	return s->ops->tx_key_add(s, k);
}
static inline enum store_status
store_transactional_counts(struct store *s, json_t **out)
{
	return s->ops->transactional_counts(s, out);
}
static inline enum store_status
store_outbox_counts(struct store *s, json_t **out)
{
	return s->ops->outbox_counts(s, out);
}
static inline enum store_status
store_campaign_counts(struct store *s, struct campaign_count **out, size_t *n)
{
	return s->ops->campaign_counts(s, out, n);
}
static inline enum store_status
store_campaign_stats(struct store *s, const char *campaign_id, int64_t since_ms,
		     struct campaign_stats **out)
{
	return s->ops->campaign_stats(s, campaign_id, since_ms, out);
}
static inline enum store_status
store_customers_list(struct store *s, const struct customer_filter *f, struct customer_row **out,
		     size_t *n)
{
	return s->ops->customers_list(s, f, out, n);
}
static inline enum store_status
store_customers_upsert(struct store *s, struct customer_item *items, size_t n, const char *source,
		       int64_t now_ms)
{
	return s->ops->customers_upsert(s, items, n, source, now_ms);
}
static inline enum store_status
store_prune(struct store *s, enum retention_kind kind, int64_t cutoff_ms, int limit,
	    const json_t *keep, struct retention_cursor *cur, int *n)
{
	return s->ops->prune(s, kind, cutoff_ms, limit, keep, cur, n);
}
static inline enum store_status
store_customer_export(struct store *s, const char *ext_id, struct customer_export *out)
{
	return s->ops->customer_export(s, ext_id, out);
}

static inline enum store_status
store_measure_count(struct store *s, const char *campaign, const char *step, const char *variant,
		    const char *metric, double n)
{
	return s->ops->measure_count(s, campaign, step, variant, metric, n);
}
static inline enum store_status
store_open_record(struct store *s, const char *message_id)
{
	return s->ops->open_record(s, message_id);
}
static inline enum store_status
store_unsubscribe_credit(struct store *s, int64_t customer_id)
{
	return s->ops->unsubscribe_credit(s, customer_id);
}
static inline enum store_status
store_measure_read(struct store *s, const char *campaign, struct measure_row **rows, size_t *n)
{
	return s->ops->measure_read(s, campaign, rows, n);
}
static inline enum store_status
store_assignment_add(struct store *s, const struct assignment *a)
{
	return s->ops->assignment_add(s, a);
}
static inline enum store_status
store_assignment_get(struct store *s, int64_t journey_id, struct assignment *out)
{
	return s->ops->assignment_get(s, journey_id, out);
}
static inline enum store_status
store_experiment_convert(struct store *s, const char *campaign, int64_t customer_id,
			 int64_t since_ms, int64_t now_ms, double revenue, char **arm)
{
	return s->ops->experiment_convert(s, campaign, customer_id, since_ms, now_ms, revenue, arm);
}
static inline enum store_status
store_conversion_credit(struct store *s, struct conversion *c)
{
	return s->ops->conversion_credit(s, c);
}
static inline enum store_status
store_links_add(struct store *s, int64_t id, json_t *links)
{
	return s->ops->links_add(s, id, links);
}
static inline enum store_status
store_link_target(struct store *s, const char *message_id, int idx, char **url)
{
	return s->ops->link_target(s, message_id, idx, url);
}
static inline enum store_status
store_link_click(struct store *s, const char *message_id, int idx, int64_t now_ms,
		 struct link_click *out)
{
	return s->ops->link_click(s, message_id, idx, now_ms, out);
}

#endif
