/*
 * The rows the store's operations fill and take: plain C structs, never the API's JSON, so
 * that every backend fills the same ones and the api_*.c files format the answers. store.h
 * includes this; the operations themselves are there.
 */
#ifndef NURTURED_STORE_ROWS_H
#define NURTURED_STORE_ROWS_H

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

/* An event as the engine reads it back, in commit order. */
struct store_event {
	int64_t seq;
	int64_t customer_id;
	char *customer; /* external id */
	char *key;
	char *type;
	int64_t time_ms;
	json_t *properties;
	int64_t received_ms; /* filled by customer_get only */
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
	unsigned char *passed; /* bit i: step i has run (issue 19's "passed"), or NULL */
	size_t n_passed;       /* bytes */
};
void journey_clear(struct journey *j);
/* A deep copy, cleared with journey_clear. */
struct journey journey_copy(const struct journey *j);
void journeys_free(struct journey *v, size_t n);

/* A trigger timer that came due (inactivity): who, for which campaign, since when. */
struct store_timer {
	char *campaign_id;
	int64_t customer_id;
	int64_t due_ms;
};
void store_timers_free(struct store_timer *v, size_t n);

/* A goal's candidate of a batch (goal_candidates): a customer's latest send in a campaign. */
struct goal_row {
	int64_t customer_id;
	size_t campaign; /* its index in the campaigns asked for */
	int64_t journey_id;
	int64_t at_ms;
};

/* An event type a campaign exits on (exit_on), in some version the store keeps. */
struct exit_event {
	char *campaign_id;
	char *type;
};
void exit_events_free(struct exit_event *v, size_t n);

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

/* Messages per outbox state, indexed by enum outbox_state (a value: nothing to free). */
struct outbox_counts {
	int64_t n[OUTBOX_N_STATES];
};

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

/* A message as the API lists it (GET /v1/messages): no payload; NULL strings, -1 times: none. */
struct message_row {
	int64_t id;
	char *message_id, *channel, *campaign_id, *step_id, *customer, *recipient, *template,
	    *last_reply, *reason;
	char *state; /* an outbox_state_name */
	int attempts;
	int64_t created_ms, updated_ms, due_ms, final_ms;
};
void message_row_clear(struct message_row *m);
void message_rows_free(struct message_row *v, size_t n);

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
/* An entry of the suppression list: its key (an HMAC of the address) and the address, NULL
 * when it may not be kept (an erased customer's). */
struct suppression_row {
	char *key, *address, *reason;
	int64_t created_ms;
};
void suppression_rows_free(struct suppression_row *v, size_t n);

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

void export_notes_free(struct export_note *v, size_t n);

/* A journey as GET /v1/customers/{id} lists it; NULL strings and -1 times: none. */
struct journey_summary {
	char *campaign_id;
	char *step_id; /* the step it runs next, while active */
	int active;
	int64_t entered_ms, due_ms, exited_ms;
	char *wait_event, *exit_reason;
};

/*
 * A customer as GET /v1/customers/{id} shows it: the profile with every consent row, the
 * latest events (newest first, received_ms filled), journeys and notes (journey_id 0).
 */
struct customer_view {
	struct customer_row profile;
	struct store_event *events;
	size_t n_events;
	struct journey_summary *journeys;
	size_t n_journeys;
	struct export_note *notes;
	size_t n_notes;
};
void customer_view_clear(struct customer_view *v);

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

/*
 * Issue 19: a campaign's statistics, read from counters (stats_counts) that the transactions
 * of the changes they count keep; api_stats.c makes the JSON (docs/api.md).
 */
struct stats_count {
	char *name; /* an exit or skip reason */
	int64_t n;
};
struct stats_step {
	char *step;
	int64_t sent, failed, skipped; /* failed includes expired */
};
struct stats_day {
	int64_t day; /* UTC days since 1970-01-01 */
	int64_t entered, sent, failed, skipped, conversions;
};
struct campaign_stats {
	int64_t entered, active, sent, failed, conversions, sent_journeys;
	struct stats_count *exited, *skipped; /* by reason */
	size_t n_exited, n_skipped;
	struct stats_step *steps; /* steps with a message or a skip, in no set order */
	size_t n_steps;
	struct stats_day *days; /* days with any count from the asked day on, oldest first */
	size_t n_days;
};
void campaign_stats_free(struct campaign_stats *s);
/* Journeys of a campaign: entered ever, active now. */
struct campaign_count {
	char *campaign_id;
	int64_t entered, active;
};
void campaign_counts_free(struct campaign_count *v, size_t n);

#endif
