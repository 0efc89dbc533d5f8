/*
 * The store's operations on customers and consent: a table of its own, reached through
 * store_ops.customer, which every backend fills (store_sqlite_ops.customer). Each returns rows as C
 * structs (store_rows.h); the api_*.c files format them.
 */
#ifndef NURTURED_STORE_CUSTOMERS_H
#define NURTURED_STORE_CUSTOMERS_H

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

#include "store.h"

/* A customer's purchases (purchase_stats): how many, the first and last (-1 when none). */
struct purchase_totals {
	long count;
	int64_t first_ms, last_ms;
};

struct store_customer_ops {
	enum store_status (*customer_upsert)(struct store *, const char *ext_id, json_t *fields,
					     int64_t now_ms, int64_t *id);
	enum store_status (*customer_ensure)(struct store *, const char *ext_id, int64_t now_ms,
					     int64_t *id);
	/*
	 * The customer EXT_ID with its consent rows, its EVENTS_LIMIT latest events and its 20
	 * latest journeys and notes (STORE_NOTFOUND, STORE_GONE when erased).
	 */
	enum store_status (*customer_get)(struct store *, const char *ext_id, int events_limit,
					  struct customer_view *out);
	enum store_status (*customer_erase)(struct store *, const char *ext_id, const char *secret,
					    int64_t now_ms);
	/*
	 * A customer's purchases as the engine recorded them (purchase_add at each one it
	 * consumes): how many, the first and last. Kept, not counted: no scan of the history.
	 */
	enum store_status (*purchase_stats)(struct store *, int64_t customer_id, long *count,
					    int64_t *first_ms, int64_t *last_ms);
	enum store_status (*purchase_add)(struct store *, int64_t customer_id, int64_t time_ms);
	/*
	 * purchase_stats for N distinct IDS at once, into OUT[i]: one statement for the engine's
	 * batch (engine_prefetch.c). NULL: store_purchases_of asks one by one.
	 */
	enum store_status (*purchases_of)(struct store *, const int64_t *ids, size_t n,
					  struct purchase_totals *out);
	enum store_status (*stage_set)(struct store *, int64_t customer_id, const char *stage,
				       int64_t since_ms);
	/* Consent and suppression (store_sqlite_consent.c). */
	/* Puts ADDRESS on the suppression list; a no-op when it is there already. */
	enum store_status (*suppression_add)(struct store *, const char *secret,
					     const char *address, const char *reason,
					     int64_t now_ms);
	/* Whether ADDRESS (any case) is suppressed, also as an erased customer's hash. */
	enum store_status (*suppressed)(struct store *, const char *secret, const char *address,
					int *yes);
	/*
	 * suppressed for N addresses at once, YES[i] for ADDRS[i]: one statement for the engine's
	 * batch (engine_prefetch.c). NULL: store_suppressed_many asks one by one.
	 */
	enum store_status (*suppressed_many)(struct store *, const char *secret,
					     const char *const *addrs, size_t n, int *yes);
	/* STORE_NOTFOUND when ADDRESS is not on the list. */
	enum store_status (*suppression_delete)(struct store *, const char *secret,
						const char *address);
	/* Up to LIMIT entries after the key AFTER ("" from the start), in key order. */
	enum store_status (*suppressions_list)(struct store *, const char *after, int limit,
					       struct suppression_row **out, size_t *n);
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
};

extern const struct store_customer_ops store_sqlite_customer_ops;
extern const struct store_customer_ops store_pg_customer_ops;

static inline enum store_status
store_customer_upsert(struct store *s, const char *ext_id, json_t *fields, int64_t now_ms,
		      int64_t *id)
{
	return s->ops->customer->customer_upsert(s, ext_id, fields, now_ms, id);
}
static inline enum store_status
store_customer_ensure(struct store *s, const char *ext_id, int64_t now_ms, int64_t *id)
{
	return s->ops->customer->customer_ensure(s, ext_id, now_ms, id);
}
static inline enum store_status
store_customer_get(struct store *s, const char *ext_id, int events_limit, struct customer_view *out)
{
	return s->ops->customer->customer_get(s, ext_id, events_limit, out);
}
static inline enum store_status
store_customer_erase(struct store *s, const char *ext_id, const char *secret, int64_t now_ms)
{
	return s->ops->customer->customer_erase(s, ext_id, secret, now_ms);
}
static inline enum store_status
store_purchase_stats(struct store *s, int64_t customer_id, long *count, int64_t *first_ms,
		     int64_t *last_ms)
{
	return s->ops->customer->purchase_stats(s, customer_id, count, first_ms, last_ms);
}
static inline enum store_status
store_purchases_of(struct store *s, const int64_t *ids, size_t n, struct purchase_totals *out)
{
	if (s->ops->customer->purchases_of != NULL)
		return s->ops->customer->purchases_of(s, ids, n, out);
	for (size_t i = 0; i < n; i++) {
		enum store_status rc = s->ops->customer->purchase_stats(
		    s, ids[i], &out[i].count, &out[i].first_ms, &out[i].last_ms);
		if (rc != STORE_OK)
			return rc;
	}
	return STORE_OK;
}
static inline enum store_status
store_purchase_add(struct store *s, int64_t customer_id, int64_t time_ms)
{
	return s->ops->customer->purchase_add(s, customer_id, time_ms);
}
static inline enum store_status
store_stage_set(struct store *s, int64_t customer_id, const char *stage, int64_t since_ms)
{
	return s->ops->customer->stage_set(s, customer_id, stage, since_ms);
}
static inline enum store_status
store_suppression_add(struct store *s, const char *secret, const char *address, const char *reason,
		      int64_t now_ms)
{
	return s->ops->customer->suppression_add(s, secret, address, reason, now_ms);
}
static inline enum store_status
store_suppressed(struct store *s, const char *secret, const char *address, int *yes)
{
	return s->ops->customer->suppressed(s, secret, address, yes);
}
static inline enum store_status
store_suppressed_many(struct store *s, const char *secret, const char *const *addrs, size_t n,
		      int *yes)
{
	if (s->ops->customer->suppressed_many != NULL)
		return s->ops->customer->suppressed_many(s, secret, addrs, n, yes);
	for (size_t i = 0; i < n; i++) {
		enum store_status rc = s->ops->customer->suppressed(s, secret, addrs[i], &yes[i]);
		if (rc != STORE_OK)
			return rc;
	}
	return STORE_OK;
}
static inline enum store_status
store_suppression_delete(struct store *s, const char *secret, const char *address)
{
	return s->ops->customer->suppression_delete(s, secret, address);
}
static inline enum store_status
store_suppressions_list(struct store *s, const char *after, int limit, struct suppression_row **out,
			size_t *n)
{
	return s->ops->customer->suppressions_list(s, after, limit, out, n);
}
static inline enum store_status
store_customer_lookup(struct store *s, const char *ext_id, int64_t *id)
{
	return s->ops->customer->customer_lookup(s, ext_id, id);
}
static inline enum store_status
store_consent_get(struct store *s, int64_t customer_id, const char *topic, char **state,
		  int64_t *requested_ms)
{
	return s->ops->customer->consent_get(s, customer_id, topic, state, requested_ms);
}
static inline enum store_status
store_consent_update(struct store *s, int64_t customer_id, const char *topic, const char *state,
		     const char *source, const char *addr, int64_t now_ms)
{
	return s->ops->customer->consent_update(s, customer_id, topic, state, source, addr, now_ms);
}
static inline enum store_status
store_system_visit(struct store *s, int *visit)
{
	return s->ops->customer->system_visit(s, visit);
}
static inline enum store_status
store_customers_list(struct store *s, const struct customer_filter *f, struct customer_row **out,
		     size_t *n)
{
	return s->ops->customer->customers_list(s, f, out, n);
}
static inline enum store_status
store_customers_upsert(struct store *s, struct customer_item *items, size_t n, const char *source,
		       int64_t now_ms)
{
	return s->ops->customer->customers_upsert(s, items, n, source, now_ms);
}
static inline enum store_status
store_customer_export(struct store *s, const char *ext_id, struct customer_export *out)
{
	return s->ops->customer->customer_export(s, ext_id, out);
}

#endif
