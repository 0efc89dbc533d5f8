/*
 * The engine's reads for a batch of events or due journeys, one statement each
 * (engine_prefetch.c says what keeps them true).
 */
#ifndef NURTURED_ENGINE_PREFETCH_H
#define NURTURED_ENGINE_PREFETCH_H

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

#include "message_queue.h"
#include "store.h"
#include "store_rows.h"

struct engine;

/* Reads the customers IDS (repeats allowed) and their addresses' suppressions. */
enum store_status engine_prefetch(struct engine *e, const int64_t *ids, size_t n);
/* Drops what engine_prefetch read and nobody took: at every batch's end. */
void engine_prefetch_clear(struct engine *e);
/*
 * The customer's context (store_customer_context): the batch's read the first time it is
 * asked for, the store's after that. STORE_NOTFOUND when there is no such customer.
 */
enum store_status engine_customer(struct engine *e, int64_t customer_id, json_t **out);
/*
 * Gives CUSTOMER (owned) back to the batch for the next engine_customer of CUSTOMER_ID: only a
 * context that is what the store holds now (nothing wrote to the customer since it was read, or
 * the caller changed it as it changed the store). Outside a batch it is freed.
 */
void engine_customer_keep(struct engine *e, int64_t customer_id, json_t *customer);
/* Whether EMAIL is suppressed, as the batch read it, or MSG_SUPPRESSED_UNREAD. */
enum msg_suppressed engine_suppressed(const struct engine *e, const char *email);

/* Reads the journeys a batch of events can touch, when the store reads them at once. */
enum store_status engine_prefetch_journeys(struct engine *e, const struct store_event *evs,
					   size_t n);
/*
 * store_journeys_for_event for EV: the batch's read at the customer's first event, the
 * store's after that. *OUT is freed with journeys_free.
 */
enum store_status engine_journeys_for_event(struct engine *e, const struct store_event *ev,
					    char *const *exits, size_t n_exits,
					    struct journey **out, size_t *n);
/* Reads the purchase totals of a batch's purchasers (store_purchases_of). */
enum store_status engine_prefetch_purchases(struct engine *e, const struct store_event *evs,
					    size_t n);
/* store_purchase_add, and the batch's totals of the customer kept true. */
enum store_status engine_purchase_add(struct engine *e, int64_t customer_id, int64_t time_ms);
/* store_purchase_stats: the batch's totals when it read them. */
enum store_status engine_purchase_stats(struct engine *e, int64_t customer_id, long *count,
					int64_t *first_ms, int64_t *last_ms);
/* Reads the goal candidates of a batch's goal events (store_goal_candidates). */
enum store_status engine_prefetch_goals(struct engine *e, const struct store_event *evs, size_t n);
struct campaign;
/* store_goal_candidate for C: the batch's read while the customer wrote no note since. */
enum store_status engine_goal_candidate(struct engine *e, const struct campaign *c,
					int64_t customer_id, int64_t since_ms, int64_t *journey_id);
/* A note of CUSTOMER_ID was written: the batch's read of its goal candidates is stale. */
void engine_goals_touched(struct engine *e, int64_t customer_id);
/* A journey of CUSTOMER_ID was started: the batch's read of its journeys is stale. */
void engine_journeys_touched(struct engine *e, int64_t customer_id);
/* store_journey_update, the batch's read of the customer's journeys dropped. */
enum store_status engine_journey_save(struct engine *e, const struct journey *j);
/* Reads the latest journey of each campaign a batch's events trigger, for their customers. */
enum store_status engine_prefetch_latest(struct engine *e, const struct store_event *evs, size_t n);
/* store_journey_find (active or not) for an entry into C: the batch's read when it has one. */
enum store_status engine_journey_latest(struct engine *e, const struct campaign *c,
					int64_t customer_id, const char *key, struct journey *out);

#endif
