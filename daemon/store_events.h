/*
 * The store's operations on events and the engine's cursor over them: a table of its own, reached
 * through store_ops.event, which every backend fills (store_sqlite_ops.event). Each returns rows as
 * C structs (store_rows.h); the api_*.c files format them.
 */
#ifndef NURTURED_STORE_EVENTS_H
#define NURTURED_STORE_EVENTS_H

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

#include "store.h"

struct store_event_ops {
	/*
	 * Stores EV for the customer EXT_ID, created (with RECEIVED_MS) when unknown: its id in
	 * *CUSTOMER_ID, the event's seq in *SEQ. An existing key is STORE_DUPLICATE or, with other
	 * content, STORE_CONFLICT. One operation, so that a backend with round trips makes it one.
	 */
	enum store_status (*event_insert)(struct store *, const char *ext_id,
					  const struct nt_event *ev, int64_t received_ms,
					  int64_t *customer_id, int64_t *seq);
	/*
	 * event_insert for N events (each for its ev->customer, received at RECEIVED_MS[i]) in
	 * order: STATUS[i] is STORE_OK,
	 * STORE_DUPLICATE or STORE_CONFLICT; any other failure is returned. One round trip on a
	 * backend that has them. NULL: store_events_insert inserts one by one.
	 */
	enum store_status (*events_insert)(struct store *, const struct nt_event *evs, size_t n,
					   const int64_t *received_ms, int64_t *customer_ids,
					   int64_t *seqs, enum store_status *status);
	/* The engine's side. */
	enum store_status (*cursor_get)(struct store *, int64_t *seq);
	enum store_status (*cursor_set)(struct store *, int64_t seq);
	enum store_status (*events_after)(struct store *, int64_t after_seq, int limit,
					  struct store_event **out, size_t *n);
	/*
	 * The customer as stored: profile, attributes, erasure, stage, and each topic's consent
	 * state (the consent rows carry topic and state only). STORE_NOTFOUND when none.
	 * store_customer_context (store_json.c) makes the engine's context of it.
	 */
	enum store_status (*customer_by_id)(struct store *, int64_t customer_id,
					    struct customer_row *out);
	/*
	 * customer_by_id for N distinct IDS at once, into OUT[i] (zeroed by the caller; left so,
	 * id 0, when not found): a backend with round trips makes it one statement for the
	 * engine's batch (engine_prefetch.c). NULL: store_customers_by_ids asks one by one.
	 */
	enum store_status (*customers_by_ids)(struct store *, const int64_t *ids, size_t n,
					      struct customer_row *out);
	long (*events_count)(struct store *, int64_t customer_id, const char *type,
			     int64_t since_ms);
	/* A customer's events of TYPE since SINCE_MS, oldest first, at most LIMIT. */
	enum store_status (*events_of)(struct store *, int64_t customer_id, const char *type,
				       int64_t since_ms, int limit, struct store_event **out,
				       size_t *n);
};

extern const struct store_event_ops store_sqlite_event_ops;
extern const struct store_event_ops store_pg_event_ops;

static inline enum store_status
store_event_insert(struct store *s, const char *ext_id, const struct nt_event *ev,
		   int64_t received_ms, int64_t *customer_id, int64_t *seq)
{
	return s->ops->event->event_insert(s, ext_id, ev, received_ms, customer_id, seq);
}
static inline enum store_status
store_events_insert(struct store *s, const struct nt_event *evs, size_t n,
		    const int64_t *received_ms, int64_t *customer_ids, int64_t *seqs,
		    enum store_status *status)
{
	if (s->ops->event->events_insert != NULL)
		return s->ops->event->events_insert(s, evs, n, received_ms, customer_ids, seqs,
						    status);
	for (size_t i = 0; i < n; i++) {
		status[i] = s->ops->event->event_insert(s, evs[i].customer, &evs[i], received_ms[i],
							&customer_ids[i], &seqs[i]);
		if (status[i] == STORE_CONFLICT)
			return STORE_OK; /* the caller stops there: what follows is not inserted */
		if (status[i] != STORE_OK && status[i] != STORE_DUPLICATE)
			return status[i];
	}
	return STORE_OK;
}
static inline enum store_status
store_cursor_get(struct store *s, int64_t *seq)
{
	return s->ops->event->cursor_get(s, seq);
}
static inline enum store_status
store_cursor_set(struct store *s, int64_t seq)
{
	return s->ops->event->cursor_set(s, seq);
}
static inline enum store_status
store_events_after(struct store *s, int64_t after, int limit, struct store_event **out, size_t *n)
{
	return s->ops->event->events_after(s, after, limit, out, n);
}
static inline enum store_status
store_customer_by_id(struct store *s, int64_t customer_id, struct customer_row *out)
{
	return s->ops->event->customer_by_id(s, customer_id, out);
}
static inline enum store_status
store_customers_by_ids(struct store *s, const int64_t *ids, size_t n, struct customer_row *out)
{
	if (s->ops->event->customers_by_ids != NULL)
		return s->ops->event->customers_by_ids(s, ids, n, out);
	for (size_t i = 0; i < n; i++) {
		enum store_status rc = s->ops->event->customer_by_id(s, ids[i], &out[i]);
		if (rc == STORE_NOTFOUND)
			out[i].id = 0;
		else if (rc != STORE_OK)
			return rc;
	}
	return STORE_OK;
}
static inline long
store_events_count(struct store *s, int64_t customer_id, const char *type, int64_t since_ms)
{
	return s->ops->event->events_count(s, customer_id, type, since_ms);
}
static inline enum store_status
store_events_of(struct store *s, int64_t customer_id, const char *type, int64_t since_ms, int limit,
		struct store_event **out, size_t *n)
{
	return s->ops->event->events_of(s, customer_id, type, since_ms, limit, out, n);
}

#endif
