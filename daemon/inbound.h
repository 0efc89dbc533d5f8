/*
 * What comes back after the send, applied (issue 16): an inbound message is matched to the
 * outbox message it is about (VERP token, else the Message-IDs it names), and its effects are
 * made in the caller's store transaction together with its record: a hard bounce suppresses
 * the address and marks the message bounced, soft bounces count against bounce_policy, a
 * complaint unsubscribes and suppresses, a reply becomes an event. Runs on the store thread.
 */
#ifndef NURTURED_INBOUND_H
#define NURTURED_INBOUND_H

#include <stddef.h>
#include <stdint.h>

#include "config.h"
#include "inbound_classify.h"
#include "store.h"

struct inbound_ctx {
	const char *secret;
	const struct inbound_conf *conf;
};

/* What one inbound message did. */
struct inbound_result {
	const char *error; /* not a mail (static text): nothing was recorded */
	int duplicate;	   /* recorded before: no second effect */
	int64_t id;	   /* its inbound record */
	enum inbound_kind kind;
	int matched;	    /* it names one of our messages */
	const char *effect; /* "suppressed", "counted", "unsubscribed", "event", "recorded",
			       "unmatched", "forged_token" */
	char *message_id;   /* the outbox message it is about (malloc'd), or NULL */
	char *customer;	    /* its customer (malloc'd), or NULL */
};
void inbound_result_clear(struct inbound_result *r);

/*
 * Classifies RAW (LEN bytes) and applies it in S's current transaction. RCPT is the envelope
 * recipient when the caller knows it (the MTA's pipe), else NULL. SOURCE names the way in.
 * STORE_OK with RES filled (RES->error set for what is not a mail), or a store failure (the
 * caller's transaction is then to be undone).
 */
enum store_status inbound_process(struct store *s, const struct inbound_ctx *cx, const char *raw,
				  size_t len, const char *rcpt, const char *source, int64_t now_ms,
				  struct inbound_result *res);

/*
 * Applies an already classified message C (an ESP's webhook) under DEDUPE (the provider's
 * event id), with RAW kept when it matches nothing (may be NULL).
 */
enum store_status inbound_apply(struct store *s, const struct inbound_ctx *cx,
				struct inbound_class *c, const char *dedupe, const char *rcpt,
				const char *source, const char *raw, size_t raw_len, int64_t now_ms,
				struct inbound_result *res);

#endif
