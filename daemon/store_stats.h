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
	/* Journeys per campaign: {"ID": {"entered": N, "active": N}}, campaigns with any. */
	enum store_status (*campaign_counts)(struct store *, json_t **out);
	/*
	 * One campaign's totals, per step and per UTC day from SINCE_MS on: {"entered", "active",
	 * "exited": {}, "sent", "failed", "skipped": {}, "conversions", "sent_journeys",
	 * "steps": {"STEP": {"sent", "failed", "skipped"}}, "days": [{"day", ...}]}.
	 */
	enum store_status (*campaign_stats)(struct store *, const char *campaign_id,
					    int64_t since_ms, json_t **out);
	/* Transactional messages (POST /v1/messages) per state, the archived ones included. */
	enum store_status (*transactional_counts)(struct store *, struct outbox_counts *out);
};

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
store_campaign_counts(struct store *s, json_t **out)
{
	return s->ops->stats->campaign_counts(s, out);
}
static inline enum store_status
store_campaign_stats(struct store *s, const char *campaign_id, int64_t since_ms, json_t **out)
{
	return s->ops->stats->campaign_stats(s, campaign_id, since_ms, out);
}

#endif
