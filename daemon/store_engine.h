/*
 * The store's operations on journeys and the engine: a table of its own, reached through
 * store_ops.engine, which every backend fills (store_sqlite_ops.engine). Each returns rows as C
 * structs (store_rows.h); the api_*.c files format them.
 */
#ifndef NURTURED_STORE_ENGINE_H
#define NURTURED_STORE_ENGINE_H

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

#include "store.h"

struct store_engine_ops {
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
	/*
	 * journeys_for_event for a batch of events at once: the active journeys of the N
	 * CUSTOMER_IDS waiting for any of TYPES or of CAMPAIGNS, ordered by customer and id (the
	 * engine picks each event's, engine_prefetch.c). NULL: the engine asks per event.
	 */
	enum store_status (*journeys_for_events)(struct store *, const int64_t *customer_ids,
						 size_t n, char *const *types, size_t n_types,
						 char *const *campaigns, size_t n_campaigns,
						 struct journey **out, size_t *n_out);
	/*
	 * journey_find (active or not) for a batch: the latest journey of each (campaign,
	 * customer, key) of the N CUSTOMER_IDS in CAMPAIGNS, ordered by customer. NULL: the
	 * engine asks per entry.
	 */
	enum store_status (*journeys_latest)(struct store *, const int64_t *customer_ids, size_t n,
					     char *const *campaigns, size_t n_campaigns,
					     struct journey **out, size_t *n_out);
	/* The (campaign, type) pairs: the types each campaign exits on, in any version kept. */
	enum store_status (*exit_events)(struct store *, struct exit_event **out, size_t *n);
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
	/*
	 * goal_candidate for a batch: for each of the N CUSTOMER_IDS and of the campaigns
	 * CAMPAIGNS[k] (sends since SINCE_MS[k]), the latest send whose journey has no goal noted
	 * yet, a row of *OUT each (freed with free). NULL: the engine asks per event.
	 */
	enum store_status (*goal_candidates)(struct store *, const int64_t *customer_ids, size_t n,
					     char *const *campaigns, const int64_t *since_ms,
					     size_t n_campaigns, struct goal_row **out,
					     size_t *n_out);
	/* Sets a trigger timer to DUE, or later: a timer only moves forward. */
	enum store_status (*timer_push)(struct store *, const char *campaign_id,
					int64_t customer_id, int64_t due_ms);
	enum store_status (*timers_due)(struct store *, int64_t now_ms, int limit,
					struct store_timer **out, size_t *n);
	/*
	 * The timer of (CAMPAIGN_ID, CUSTOMER_ID) is DUE_MS from now on, whatever it was; none
	 * when DUE_MS < 0. One statement where delete-then-push took two. NULL: the two.
	 */
	enum store_status (*timer_set)(struct store *, const char *campaign_id, int64_t customer_id,
				       int64_t due_ms);
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
	/*
	 * Marketing messages queued for a customer since SINCE_MS, counted up to LIMIT, and when
	 * the oldest was.
	 */
	enum store_status (*marketing_sent)(struct store *, int64_t customer_id, int64_t since_ms,
					    long limit, long *count, int64_t *oldest_ms);
	/* Campaigns paused over the API: set (PAUSED 1) or cleared, and the list (malloc'd). */
	enum store_status (*campaign_pause)(struct store *, const char *campaign_id, int paused,
					    int64_t now_ms);
	enum store_status (*campaigns_paused)(struct store *, char ***ids, size_t *n);
};

extern const struct store_engine_ops store_sqlite_engine_ops;
extern const struct store_engine_ops store_pg_engine_ops;

static inline enum store_status
store_campaign_version_save(struct store *s, const char *id, const char *version,
			    const char *definition, int64_t now_ms)
{
	return s->ops->engine->campaign_version_save(s, id, version, definition, now_ms);
}
static inline enum store_status
store_campaign_version_load(struct store *s, const char *id, const char *version, char **definition)
{
	return s->ops->engine->campaign_version_load(s, id, version, definition);
}
static inline enum store_status
store_journey_insert(struct store *s, struct journey *j)
{
	return s->ops->engine->journey_insert(s, j);
}
static inline enum store_status
store_journey_update(struct store *s, const struct journey *j)
{
	return s->ops->engine->journey_update(s, j);
}
static inline enum store_status
store_journey_find(struct store *s, const char *campaign_id, int64_t customer_id, const char *key,
		   int active_only, struct journey *out)
{
	return s->ops->engine->journey_find(s, campaign_id, customer_id, key, active_only, out);
}
static inline enum store_status
store_journeys_for_event(struct store *s, int64_t customer_id, const char *type,
			 char *const *campaigns, size_t n_campaigns, struct journey **out,
			 size_t *n)
{
	return s->ops->engine->journeys_for_event(s, customer_id, type, campaigns, n_campaigns, out,
						  n);
}
static inline enum store_status
store_exit_events(struct store *s, struct exit_event **out, size_t *n)
{
	return s->ops->engine->exit_events(s, out, n);
}
static inline enum store_status
store_journeys_due(struct store *s, int64_t now_ms, int limit, struct journey **out, size_t *n)
{
	return s->ops->engine->journeys_due(s, now_ms, limit, out, n);
}
static inline enum store_status
store_journey_next_due(struct store *s, int64_t *due_ms)
{
	return s->ops->engine->journey_next_due(s, due_ms);
}
static inline enum store_status
store_journeys_release(struct store *s, const char *campaign_id, int64_t now_ms, int *n)
{
	return s->ops->engine->journeys_release(s, campaign_id, now_ms, n);
}
static inline enum store_status
store_journey_note(struct store *s, const struct journey_note *e)
{
	return s->ops->engine->journey_note(s, e);
}
static inline enum store_status
store_timer_push(struct store *s, const char *campaign_id, int64_t customer_id, int64_t due_ms)
{
	return s->ops->engine->timer_push(s, campaign_id, customer_id, due_ms);
}
static inline enum store_status
store_timers_due(struct store *s, int64_t now_ms, int limit, struct store_timer **out, size_t *n)
{
	return s->ops->engine->timers_due(s, now_ms, limit, out, n);
}
static inline enum store_status
store_timer_set(struct store *s, const char *campaign_id, int64_t customer_id, int64_t due_ms)
{
	enum store_status rc;

	if (s->ops->engine->timer_set != NULL)
		return s->ops->engine->timer_set(s, campaign_id, customer_id, due_ms);
	rc = s->ops->engine->timer_delete(s, campaign_id, customer_id);
	if (rc == STORE_OK && due_ms >= 0)
		rc = s->ops->engine->timer_push(s, campaign_id, customer_id, due_ms);
	return rc;
}
static inline enum store_status
store_timer_delete(struct store *s, const char *campaign_id, int64_t customer_id)
{
	return s->ops->engine->timer_delete(s, campaign_id, customer_id);
}
static inline enum store_status
store_schedule_get(struct store *s, const char *campaign_id, struct store_schedule *out)
{
	return s->ops->engine->schedule_get(s, campaign_id, out);
}
static inline enum store_status
store_schedule_set(struct store *s, const struct store_schedule *sc)
{
	return s->ops->engine->schedule_set(s, sc);
}
static inline enum store_status
store_schedules_due(struct store *s, int64_t now_ms, struct store_schedule **out, size_t *n)
{
	return s->ops->engine->schedules_due(s, now_ms, out, n);
}
static inline enum store_status
store_customers_after(struct store *s, int64_t after, int limit, int64_t **ids, size_t *n)
{
	return s->ops->engine->customers_after(s, after, limit, ids, n);
}
static inline enum store_status
store_goal_candidate(struct store *s, const char *campaign_id, int64_t customer_id,
		     int64_t since_ms, int64_t *journey_id)
{
	return s->ops->engine->goal_candidate(s, campaign_id, customer_id, since_ms, journey_id);
}
static inline enum store_status
store_marketing_sent(struct store *s, int64_t customer_id, int64_t since_ms, long limit,
		     long *count, int64_t *oldest_ms)
{
	return s->ops->engine->marketing_sent(s, customer_id, since_ms, limit, count, oldest_ms);
}
static inline enum store_status
store_campaign_pause(struct store *s, const char *campaign_id, int paused, int64_t now_ms)
{
	return s->ops->engine->campaign_pause(s, campaign_id, paused, now_ms);
}
static inline enum store_status
store_campaigns_paused(struct store *s, char ***ids, size_t *n)
{
	return s->ops->engine->campaigns_paused(s, ids, n);
}

#endif
