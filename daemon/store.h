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

/* An event as the engine reads it back, in commit order. */
struct store_event {
	int64_t seq;
	int64_t customer_id;
	char *customer; /* external id */
	char *key;
	char *type;
	int64_t time_ms;
	json_t *properties;
};
void store_event_clear(struct store_event *ev);
void store_events_free(struct store_event *v, size_t n);

/*
 * A customer's journey through one campaign. `step` is the step to run when the journey is
 * due; a journey waiting for an event also has `wait_event` and the step to go to when it
 * comes (`on_event`), its due time being the timeout.
 */
struct journey {
	int64_t id;
	char *campaign_id;
	char *version;
	int64_t customer_id;
	char *key; /* "" when the campaign has no key */
	int active;
	int step;
	int visit;	  /* steps run so far: keys each send in the ledger */
	int64_t due_ms;	  /* -1: not timed */
	char *wait_event; /* or NULL */
	int on_event;
	json_t *trigger; /* the trigger event: {"type", "time", "properties", "id"} */
	json_t *event;	 /* the awaited event that last resumed it, or NULL: "event" is then the
			    trigger */
	int64_t entered_ms;
	int64_t exited_ms; /* -1 while active */
	char *exit_reason;
};
void journey_clear(struct journey *j);
void journeys_free(struct journey *v, size_t n);

/* A trigger timer that came due (inactivity): who, for which campaign, since when. */
struct store_timer {
	char *campaign_id;
	int64_t customer_id;
	int64_t due_ms;
};
void store_timers_free(struct store_timer *v, size_t n);

/* A scheduled campaign's state: when to act next, and the run being fanned out (or -1). */
struct store_schedule {
	char *campaign_id;
	char *version;
	int64_t due_ms;
	int64_t run_ms;
	int64_t cursor; /* the last customer id entered in this run */
};
void store_schedules_free(struct store_schedule *v, size_t n);

/*
 * What a journey note records. The names (note_action_name) are what the store keeps in
 * journey_notes.action and what simulate and the API print.
 */
enum note_action { NOTE_ENTER, NOTE_SEND, NOTE_SKIP, NOTE_EXIT, NOTE_WAIT, NOTE_GOAL };
const char *note_action_name(enum note_action a);

/*
 * A message's state in the outbox (the send ledger); outbox_state_name gives the name the
 * store keeps and the API shows, outbox_state_parse the reverse (-1: no such state).
 */
enum outbox_state {
	OUTBOX_QUEUED,
	OUTBOX_SENDING,
	OUTBOX_SENT,
	OUTBOX_DEFERRED,
	OUTBOX_FAILED,
	OUTBOX_EXPIRED,
	OUTBOX_SKIPPED,
	OUTBOX_BOUNCED, /* a hard bounce came back for it (inbound.c, issue 16) */
	OUTBOX_N_STATES
};
const char *outbox_state_name(enum outbox_state s);
int outbox_state_parse(const char *name);

/* One line of "why": every enter, send, skip and exit is recorded. */
struct journey_note {
	int64_t journey_id;
	int64_t customer_id;
	const char *campaign_id;
	const char *step_id; /* may be NULL */
	enum note_action action;
	const char *reason;  /* may be NULL */
	const char *channel; /* sends */
	const char *template;
	int64_t at_ms;
};

/* A message the engine decided to send; delivery (issue 5) takes it from here. */
struct outbox_entry {
	int64_t journey_id;
	int64_t customer_id;
	const char *campaign_id;
	const char *step_id;
	int visit;
	const char *channel;
	const char *template;
	const char *message_id;
	int64_t created_ms;
	int marketing; /* counts against the frequency cap (the campaign is not transactional) */
	enum outbox_state state; /* OUTBOX_QUEUED, or OUTBOX_SKIPPED with REASON */
	const char *reason;	 /* why skipped, or NULL */
	const char *sender;	 /* envelope, for mail channels */
	const char *recipient;
	const char *payload; /* the rendered message, PAYLOAD_LEN bytes; NULL when skipped */
	size_t payload_len;
	int64_t due_ms; /* when delivery may send it; 0 or before created_ms: at once */
};

/* A message claimed for delivery: everything a plugin needs, owned by the caller. */
struct outbox_msg {
	int64_t id;
	char *message_id;
	char *channel;
	char *campaign_id;
	char *step_id;
	char *customer; /* external id */
	char *sender;
	char *recipient;
	char *payload; /* NULL for rows queued before schema 3 */
	size_t payload_len;
	int attempts; /* including the one just claimed */
	int64_t created_ms;
};

void outbox_msg_free_all(struct outbox_msg *m, size_t n);

/* How a delivery attempt ended, to be written back. */
struct outbox_result {
	int64_t id;
	enum outbox_state state; /* sent, deferred, failed, expired, or queued (unclaimed) */
	const char *reply;	 /* may be NULL */
	int64_t due_ms;		 /* deferred: the next attempt */
	int64_t now_ms;
};

/* Filters of the messages listing; NULL or 0 fields match everything. */
struct outbox_filter {
	const char *customer; /* external id */
	const char *campaign_id;
	int state;	     /* an enum outbox_state, or -1: any */
	const char *channel; /* issue 22 */
	int64_t after_id;
	int limit;
};

/* Issue 16: one inbound message as recorded (strings may be NULL but kind/source/effect). */
struct inbound_row {
	const char *dedupe; /* Message-ID and content hash: the same message twice is one */
	const char *message_id;
	const char *kind;    /* "bounce", "delay", "complaint", "auto_reply", "reply", "other" */
	const char *source;  /* "api", "pipe", "imap", "ses", "postmark", "mailgun", "sendgrid" */
	int64_t outbox_id;   /* the message it is about, or 0 */
	int64_t customer_id; /* or 0 */
	const char *address; /* the address it concerns */
	int hard;
	const char *status;
	const char *feedback_type;
	const char *effect; /* what it did: "suppressed", "counted", "event", "recorded", ... */
	int matched;
	const char *detail; /* the classification as JSON text */
	const char *raw;    /* kept when unmatched, RAW_LEN bytes; or NULL */
	size_t raw_len;
	int64_t received_ms;
};
/* A recorded inbound message as listed (owned strings). */
struct inbound_entry {
	int64_t id;
	char *kind, *source, *message_id, *address, *status, *feedback_type, *effect;
	char *customer; /* external id, or NULL */
	char *detail;	/* JSON text */
	int64_t outbox_id;
	int hard, matched;
	int64_t received_ms;
};
void inbound_entries_free(struct inbound_entry *v, size_t n);
/* An outbox message as inbound mail finds it (owned strings). */
struct outbox_ref {
	int64_t id;
	char *message_id;
	int64_t customer_id;
	char *customer; /* external id, NULL when erased */
	char *campaign_id;
	char *step_id;
	char *recipient;
	char *state;
	char *journey_props; /* the properties of the event that started its journey (JSON) */
};
void outbox_ref_clear(struct outbox_ref *r);
/* Filters of the customer listing (issue 20); NULL, -1 or 0 match everything. */
struct customer_filter {
	const char *email;	   /* exact, as stored */
	const char *stage;	   /* lifecycle stage */
	const char *topic;	   /* with a consent row for TOPIC ... */
	const char *consent_state; /* ... in this state (NULL: any) */
	json_t *attributes;	   /* key -> scalar: attributes.KEY equals it */
	int64_t created_since_ms;  /* -1: any */
	int64_t updated_since_ms;  /* -1: any */
	int64_t after;		   /* cursor: the internal id of the last customer seen */
	int limit;
};

/* One topic's consent as recorded. */
struct customer_consent {
	char *topic, *state, *source, *confirmed_addr;
	int64_t updated_ms, requested_ms, confirmed_ms; /* -1: none */
};

/* A customer's profile row with its consent. */
struct customer_row {
	int64_t id; /* internal: the listing's cursor */
	char *ext_id, *email, *name, *locale, *timezone, *birthday, *stage;
	json_t *attributes;
	int64_t created_ms, updated_ms, stage_since_ms, erased_ms; /* -1: none */
	struct customer_consent *consent;
	size_t n_consent;
};
void customer_row_clear(struct customer_row *c);
void customer_rows_free(struct customer_row *v, size_t n);

/* A journey note as stored (owned strings). */
struct export_note {
	int64_t journey_id, at_ms;
	char *campaign_id, *step_id, *action, *reason, *channel, *template;
};

/* A message as stored, with its payload when it still has one. */
struct export_message {
	int64_t id, journey_id, attempts, created_ms, updated_ms, due_ms, final_ms; /* -1: none */
	char *message_id, *channel, *campaign_id, *step_id, *template, *state, *sender, *recipient,
	    *last_reply, *reason, *payload;
	size_t payload_len;
};

/* One customer of a batch upsert (an import). */
struct customer_item {
	const char *ext_id;
	json_t *fields;	    /* validated, as for POST /v1/customers */
	int64_t consent_ms; /* when its consent was given (the import's time by default) */
	int skip;	    /* refused by validation: not stored */
	int changed;	    /* out: 1 when anything was written */
};

/* Everything the store holds about one customer (GDPR Art. 15 and 20). */
struct customer_export {
	struct customer_row profile;
	struct store_event *events; /* every event, oldest first */
	size_t n_events;
	struct journey *journeys; /* every journey, oldest first */
	size_t n_journeys;
	struct export_note *notes; /* every note, oldest first */
	size_t n_notes;
	struct export_message *messages; /* every message, oldest first */
	size_t n_messages;
};
void customer_export_clear(struct customer_export *x);

/* What retention prunes (config "retention"; store_sqlite_retention.c). */
enum retention_kind {
	RETAIN_EVENTS,	 /* events received before the limit, but each customer's first of a type */
	RETAIN_PAYLOADS, /* the rendered messages of final messages */
	RETAIN_MESSAGES, /* final messages (their counts go to the statistics' archive) */
	RETAIN_NOTES,	 /* journey notes (counted ones go to the archive) */
	RETAIN_JOURNEYS, /* finished journeys (those re-entry rules need: their triggers only) */
	RETAIN_KINDS
};

/* Where a pruner's walk has got to, kept by the caller between chunks (0 at start). */
struct retention_cursor {
	int64_t ms, id;
};

/*
 * A transactional send (POST /v1/messages) under its idempotency key: what was asked (a
 * SHA-256 of it) and what it became. Strings malloc'd when filled by tx_key_find
 * (tx_key_clear), borrowed when handed to tx_key_add.
 */
struct tx_key {
	char *key;
	char *content_hash;
	int64_t customer_id;
	int64_t outbox_id;
	char *message_id;
	char *state; /* "queued" or "skipped" when decided */
	char *reason;
	int64_t created_ms;
};
void tx_key_clear(struct tx_key *k);

/* A click on a tracked link as recorded (issue 19); link_click_clear frees it. */
struct link_click {
	int first; /* the first click on this link of this message */
	char *url, *name;
	struct outbox_ref ref; /* the message */
};
void link_click_clear(struct link_click *c);

/* A journey's experiment arm (issue 19, experiment.h); strings owned when read. */
struct assignment {
	int64_t journey_id, customer_id, assigned_ms;
	char *campaign_id, *exp_version, *arm;
	json_t *variants; /* {"step": "variant"} */
};
void assignment_clear(struct assignment *a);

/* One counter of a campaign (issue 19's statistics); measure_rows_free frees a list. */
struct measure_row {
	char *step, *variant, *metric;
	double n;
};
void measure_rows_free(struct measure_row *v, size_t n);

/* A conversion as credited (issue 19). */
struct conversion {
	const char *campaign_id;
	const char *variant; /* the journey's experiment arm, "" for none */
	int64_t journey_id, customer_id, event_seq;
	double revenue;
	int64_t at_ms, since_ms;
	/* Filled by the store: the message credited (0: none found), its step, "click"/"send". */
	int64_t outbox_id;
	char step_id[128];
	const char *via;
};

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
	/* Journeys per campaign: {"ID": {"entered": N, "active": N}}, campaigns with any. */
	enum store_status (*campaign_counts)(struct store *, json_t **out);
	/*
	 * One campaign's totals, per step and per UTC day from SINCE_MS on: {"entered", "active",
	 * "exited": {}, "sent", "failed", "skipped": {}, "conversions", "sent_journeys",
	 * "steps": {"STEP": {"sent", "failed", "skipped"}}, "days": [{"day", ...}]}.
	 */
	enum store_status (*campaign_stats)(struct store *, const char *campaign_id,
					    int64_t since_ms, json_t **out);

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
store_campaign_counts(struct store *s, json_t **out)
{
	return s->ops->campaign_counts(s, out);
}
static inline enum store_status
store_campaign_stats(struct store *s, const char *campaign_id, int64_t since_ms, json_t **out)
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
