/*
 * The store's operations on statistics: a table of its own, reached through store_ops.stats,
 * which every backend fills (store_sqlite_ops.stats). Each returns rows as C structs
 * (store_rows.h); the api_*.c files format them.
 */
#ifndef NURTURED_STORE_STATS_H
#define NURTURED_STORE_STATS_H

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

#include "store.h"

struct store_stats_ops {
	/* Statistics, read-only (store_sqlite_stats.c); docs/api.md defines the numbers. */
	/* Messages per state, the archived ones included. */
	enum store_status (*outbox_counts)(struct store *, struct outbox_counts *out);
	/* Journeys per campaign (campaigns with any), from counters (issue 19). */
	enum store_status (*campaign_counts)(struct store *, struct campaign_count **out,
					     size_t *n);
	/* One campaign's totals, per step and per UTC day from SINCE_MS on, from counters. */
	enum store_status (*campaign_stats)(struct store *, const char *campaign_id,
					    int64_t since_ms, struct campaign_stats **out);
	/* Transactional messages (POST /v1/messages) per state, the archived ones included. */
	enum store_status (*transactional_counts)(struct store *, struct outbox_counts *out);
	/*
	 * Issue 21, in the caller's transaction: counters kept as deltas (PostgreSQL, several
	 * nodes writing without row locks) are folded into their counter rows, *FOLDED the rows
	 * written. One node runs it (the holder of partition 0, cluster.c). SQLite keeps its
	 * counters directly: nothing to do.
	 */
	enum store_status (*counters_fold)(struct store *, long *folded);
};

/*
 * Adds a counter row of stats_counts (metric, step, state, reason, UTC day or -1, n) to O;
 * campaign_stats_finish orders the days. Both backends' campaign_stats read rows through it
 * (store_counters.c).
 */
void campaign_stats_add(struct campaign_stats *o, const char *metric, const char *step,
			const char *state, const char *reason, int64_t day, int64_t n);
void campaign_stats_finish(struct campaign_stats *o);

extern const struct store_stats_ops store_sqlite_stats_ops;
extern const struct store_stats_ops store_pg_stats_ops;

static inline enum store_status
store_transactional_counts(struct store *s, struct outbox_counts *out)
{
	return s->ops->stats->transactional_counts(s, out);
}
static inline enum store_status
store_outbox_counts(struct store *s, struct outbox_counts *out)
{
	return s->ops->stats->outbox_counts(s, out);
}
static inline enum store_status
store_campaign_counts(struct store *s, struct campaign_count **out, size_t *n)
{
	return s->ops->stats->campaign_counts(s, out, n);
}
static inline enum store_status
store_counters_fold(struct store *s, long *folded)
{
	return s->ops->stats->counters_fold(s, folded);
}
static inline enum store_status
store_campaign_stats(struct store *s, const char *campaign_id, int64_t since_ms,
		     struct campaign_stats **out)
{
	return s->ops->stats->campaign_stats(s, campaign_id, since_ms, out);
}

#endif
