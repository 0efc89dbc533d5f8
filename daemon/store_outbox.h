/*
 * The store's operations on the outbox and delivery: a table of its own, reached through
 * store_ops.outbox, which every backend fills (store_sqlite_ops.outbox). Each returns rows as C
 * structs (store_rows.h); the api_*.c files format them.
 */
#ifndef NURTURED_STORE_OUTBOX_H
#define NURTURED_STORE_OUTBOX_H

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

#include "store.h"

struct store_outbox_ops {
	/* *ID (may be NULL): the new row's id. Without a payload, outbox_payload_add follows. */
	enum store_status (*outbox_add)(struct store *, const struct outbox_entry *o, int64_t *id);
	/* The payload of row ID, built after its row was added, in the same transaction. */
	enum store_status (*outbox_payload_add)(struct store *, int64_t id, const char *payload,
						size_t len);
	/* Row ID, queued in this transaction, turns out not sendable: skipped with REASON. */
	enum store_status (*outbox_refuse)(struct store *, int64_t id, const char *reason);
	/* Delivery's side (store_sqlite_outbox.c). */
	/* At start: messages left "sending" by a crash are queued again, due NOW. */
	enum store_status (*outbox_recover)(struct store *, int64_t now_ms, int *n);
	/* Up to LIMIT due messages of CHANNEL become "sending", their attempt counted. */
	enum store_status (*outbox_claim)(struct store *, const char *channel, int64_t now_ms,
					  int limit, struct outbox_msg **out, size_t *n);
	/* The earliest due time of CHANNEL's waiting messages, or -1. */
	enum store_status (*outbox_next_due)(struct store *, const char *channel, int64_t *due_ms);
	enum store_status (*outbox_finish)(struct store *, const struct outbox_result *r);
	/*
	 * outbox_finish for N results in order, a message named twice taking the first: one
	 * statement on a backend with round trips. NULL: store_outbox_finish_many goes one by one.
	 */
	enum store_status (*outbox_finish_many)(struct store *, const struct outbox_result *r,
						size_t n);
	/* Up to F->limit messages after F->after_id matching F, in id order. */
	enum store_status (*messages_list)(struct store *, const struct outbox_filter *f,
					   struct message_row **out, size_t *n);
	/* Message ID (STORE_NOTFOUND when none). */
	enum store_status (*message_get)(struct store *, int64_t id, struct message_row *out);
	/* A failed, expired or deferred (issue 22) message is queued again now (STORE_CONFLICT for
	 * other states). */
	enum store_status (*message_retry)(struct store *, int64_t id, int64_t now_ms);
	/* The outbox message ID (when > 0) or MESSAGE_ID: STORE_NOTFOUND when none. */
	enum store_status (*outbox_ref)(struct store *, int64_t id, const char *message_id,
					struct outbox_ref *out);
	/* The message bounced: its state becomes "bounced", REPLY its last reply. */
	enum store_status (*outbox_bounced)(struct store *, int64_t id, const char *reply,
					    int64_t now_ms);
	/* Transactional sends (store_sqlite_transactional.c, issue 20). */
	/* The send recorded under idempotency KEY: STORE_OK with it, or STORE_NOTFOUND. */
	enum store_status (*tx_key_find)(struct store *, const char *key, struct tx_key *out);
	/* Records K (its key must be new). */
	enum store_status (*tx_key_add)(struct store *, const struct tx_key *k);
};

extern const struct store_outbox_ops store_sqlite_outbox_ops;
extern const struct store_outbox_ops store_pg_outbox_ops;

static inline enum store_status
store_outbox_add(struct store *s, const struct outbox_entry *o, int64_t *id)
{
	return s->ops->outbox->outbox_add(s, o, id);
}
static inline enum store_status
store_outbox_payload_add(struct store *s, int64_t id, const char *payload, size_t len)
{
	return s->ops->outbox->outbox_payload_add(s, id, payload, len);
}
static inline enum store_status
store_outbox_refuse(struct store *s, int64_t id, const char *reason)
{
	return s->ops->outbox->outbox_refuse(s, id, reason);
}
static inline enum store_status
store_outbox_recover(struct store *s, int64_t now_ms, int *n)
{
	return s->ops->outbox->outbox_recover(s, now_ms, n);
}
static inline enum store_status
store_outbox_claim(struct store *s, const char *channel, int64_t now_ms, int limit,
		   struct outbox_msg **out, size_t *n)
{
	return s->ops->outbox->outbox_claim(s, channel, now_ms, limit, out, n);
}
static inline enum store_status
store_outbox_next_due(struct store *s, const char *channel, int64_t *due_ms)
{
	return s->ops->outbox->outbox_next_due(s, channel, due_ms);
}
static inline enum store_status
store_outbox_finish(struct store *s, const struct outbox_result *r)
{
	return s->ops->outbox->outbox_finish(s, r);
}
static inline enum store_status
store_outbox_finish_many(struct store *s, const struct outbox_result *r, size_t n)
{
	enum store_status rc = STORE_OK;

	if (s->ops->outbox->outbox_finish_many != NULL)
		return s->ops->outbox->outbox_finish_many(s, r, n);
	for (size_t i = 0; rc == STORE_OK && i < n; i++)
		rc = s->ops->outbox->outbox_finish(s, &r[i]);
	return rc;
}
static inline enum store_status
store_messages_list(struct store *s, const struct outbox_filter *f, struct message_row **out,
		    size_t *n)
{
	return s->ops->outbox->messages_list(s, f, out, n);
}
static inline enum store_status
store_message_get(struct store *s, int64_t id, struct message_row *out)
{
	return s->ops->outbox->message_get(s, id, out);
}
static inline enum store_status
store_message_retry(struct store *s, int64_t id, int64_t now_ms)
{
	return s->ops->outbox->message_retry(s, id, now_ms);
}
static inline enum store_status
store_outbox_ref(struct store *s, int64_t id, const char *message_id, struct outbox_ref *out)
{
	return s->ops->outbox->outbox_ref(s, id, message_id, out);
}
static inline enum store_status
store_outbox_bounced(struct store *s, int64_t id, const char *reply, int64_t now_ms)
{
	return s->ops->outbox->outbox_bounced(s, id, reply, now_ms);
}
static inline enum store_status
store_tx_key_find(struct store *s, const char *key, struct tx_key *out)
{
	return s->ops->outbox->tx_key_find(s, key, out);
}
static inline enum store_status
store_tx_key_add(struct store *s, const struct tx_key *k)
{
	return s->ops->outbox->tx_key_add(s, k);
}

#endif
