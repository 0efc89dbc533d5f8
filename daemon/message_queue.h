/*
 * Queueing a message: the one place that decides whether a message goes out, and writes its
 * row in the outbox (the send ledger). Campaign steps (engine_send), system mail (the double
 * opt-in confirmation, a campaign's test send) and the API's own sends all come here, so that
 * consent, the suppression list, the template and the row are decided in one place:
 *
 *   0. a journey in its campaign's holdout group gets nothing (issue 19);
 *   1. an internal channel (the operator's helpdesk, a team inbox) skips 2 and 3;
 *   2. consent for the campaign's topic, unless the message is transactional;
 *   3. the suppression list (the customer's address, as the store keeps it), always;
 *   4. compose: the template, the headers, the MIME message or JSON document;
 *   5. the outbox row, queued or skipped with the reason, keyed by (journey, step, visit).
 *
 * It runs in the caller's transaction on the store thread (or in `simulate`).
 */
#ifndef NURTURED_MESSAGE_QUEUE_H
#define NURTURED_MESSAGE_QUEUE_H

#include <jansson.h>
#include <stdint.h>

#include "store.h"

struct campaign;
struct compose_ctx;
struct journey;
struct mimepool;
struct mustache_tmpl;

/* Whether the address is suppressed, when the engine's batch read it (engine_prefetch.c). */
enum msg_suppressed {
	MSG_SUPPRESSED_UNREAD = 0, /* not read: message_queue asks the store */
	MSG_SUPPRESSED_NO,
	MSG_SUPPRESSED_YES,
};

struct message_req {
	const struct campaign *campaign; /* topic, locale default, name: what templates see */
	int64_t journey_id;		 /* 0: system mail (no journey) */
	int64_t customer_id;
	const char *campaign_id; /* "" for system mail */
	const char *step_id;
	int visit; /* the ledger's visit: a replay of the same visit is a duplicate */
	const char *channel;
	const char *template;
	const struct mustache_tmpl *subject; /* a variant's subject over the template's, or NULL */
	json_t *customer;	       /* the customer context (consent, email, locale), borrowed */
	json_t *event;		       /* the event templates see as "event", or NULL */
	const struct journey *journey; /* or NULL */
	json_t *data; /* templates see it as "data" (a transactional send's), or NULL; borrowed */
	/* Consent does not apply (receipts, confirmations, test sends); suppression does. */
	int transactional;
	/* The journey's experiment arm (issue 19), or NULL; a holdout gets nothing. */
	const char *variant;
	int holdout;
	const char *msgid_domain;
	int64_t now_ms;
	int64_t due_ms; /* when delivery may send it (a broadcast at local time); 0: now */
	/* The customer's address's suppression as the engine's batch read it, or unread. */
	enum msg_suppressed suppressed;
};

struct message_res {
	enum outbox_state state; /* OUTBOX_QUEUED or OUTBOX_SKIPPED */
	char *reason;		 /* why skipped, or NULL (malloc'd) */
	char *message_id;	 /* malloc'd */
	int64_t id;		 /* the outbox row */
	int duplicate;		 /* the ledger had this (journey, step, visit): nothing written */
	int marketing;		 /* counts against the frequency cap */
};

/*
 * Decides and queues one message (steps 1 to 5 above). CX NULL: no consent, suppression or
 * rendering (engine unit tests). MP non-NULL: a MIME message is built by the pool's workers
 * and its payload written at the drain before the commit (mimepool.h); NULL: built here.
 * Returns a store failure only; a message that may not or cannot go is a skip in OUT.
 */
enum store_status message_queue(struct store *s, const struct compose_ctx *cx, struct mimepool *mp,
				const struct message_req *r, struct message_res *out);
void message_res_clear(struct message_res *r);

/* Whether CHANNEL reaches the operator rather than the customer (the channel's "internal"). */
int message_channel_internal(const struct compose_ctx *cx, const char *channel);

#endif
