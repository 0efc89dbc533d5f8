/*
 * The PostgreSQL backend's operations of store_stats.h, mirroring store_sqlite_stats.c (and
 * the transactional counts of store_sqlite_transactional.c): the same numbers, each operation
 * one statement. Campaigns' figures come from stats_counts_all (the counters stats_counts plus
 * the deltas not folded yet, issue 21), counters that triggers keep in the
 * transaction of each change to journeys, outbox and journey_notes (store_pg_schema.c's
 * migration 3 -> 4, as SQLite's 14 -> 15); retention deletes rows without touching them. The
 * outbox per state (/v1/status) is still a count over the outbox plus what retention archived
 * (store_pg_retention.c).
 */
#include <stdlib.h>
#include <string.h>

#include "store_pg.h"
#include "store_stats.h"
#include "util.h"

#define STATS_DAY_MS 86400000LL

static const struct pg_stmt stats_outbox_states = {
    "stats_outbox_states",
    "SELECT state, count(*) FROM outbox GROUP BY state UNION ALL"
    " SELECT state, sum(n)::bigint FROM stats_archive WHERE kind = 'outbox' GROUP BY state"};
static const struct pg_stmt stats_campaigns = {
    "stats_campaigns",
    "SELECT campaign_id, sum(CASE metric WHEN 'entered' THEN n ELSE 0 END)::bigint,"
    " sum(CASE metric WHEN 'now' THEN n ELSE 0 END)::bigint FROM stats_counts_all"
    " WHERE metric IN ('entered', 'now') GROUP BY campaign_id"};
static const struct pg_stmt stats_transactional = {
    "stats_transactional",
    "SELECT state, count(*) FROM outbox WHERE journey_id = 0 AND step_id = 'transactional'"
    " GROUP BY state UNION ALL SELECT state, sum(n)::bigint FROM stats_archive"
    " WHERE campaign_id = '' AND kind = 'outbox' AND step_id = 'transactional'"
    " GROUP BY state"};
/* The counters from day $2 on, and the entries of the days before as one total. */
static const struct pg_stmt stats_counts_q = {
    "stats_counts",
    "SELECT metric, step_id, state, reason, day, n FROM stats_counts_all"
    " WHERE campaign_id = $1::text AND n <> 0 AND (day < 0 OR day >= $2::bigint) UNION ALL"
    " SELECT 'entered', '', '', '', -1, coalesce(sum(n), 0)::bigint FROM stats_counts_all"
    " WHERE campaign_id = $1 AND metric = 'entered' AND day >= 0 AND day < $2"};

/*
 * Issue 21: the fold of the counters' deltas, one statement a table (the deltas taken and
 * added to their counters in the same statement), under a try-lock so that two folds never
 * run at once (a node that lost partition 0 unawares and its successor). The keys in order:
 * a fold's row locks on the counters are taken in one order.
 */
#define PG_FOLD_LOCK 0x6e74666f6c640000LL /* "ntfold" in ASCII */
static const struct pg_stmt fold_lock = {"fold_lock", "SELECT pg_try_advisory_xact_lock($1)"};
static const struct pg_stmt fold_stats = {
    "fold_stats",
    "WITH d AS (DELETE FROM stats_counts_deltas RETURNING *) INSERT INTO stats_counts"
    " (campaign_id, metric, step_id, state, reason, day, n) SELECT campaign_id, metric, step_id,"
    " state, reason, day, sum(n) FROM d GROUP BY 1, 2, 3, 4, 5, 6 HAVING sum(n) <> 0"
    " ORDER BY 1, 2, 3, 4, 5, 6 ON CONFLICT (campaign_id, metric, step_id, state, reason, day)"
    " DO UPDATE SET n = stats_counts.n + excluded.n"};
static const struct pg_stmt fold_outbox_days = {
    "fold_outbox_days",
    "WITH d AS (DELETE FROM outbox_days_deltas RETURNING *) INSERT INTO outbox_days"
    " (day, channel, state, n) SELECT day, channel, state, sum(n) FROM d GROUP BY 1, 2, 3"
    " HAVING sum(n) <> 0 ORDER BY 1, 2, 3 ON CONFLICT (day, channel, state)"
    " DO UPDATE SET n = outbox_days.n + excluded.n"};
static const struct pg_stmt fold_suppression_days = {
    "fold_suppression_days",
    "WITH d AS (DELETE FROM suppression_days_deltas RETURNING *) INSERT INTO suppression_days"
    " (day, n) SELECT day, sum(n) FROM d GROUP BY 1 HAVING sum(n) <> 0 ORDER BY 1"
    " ON CONFLICT (day) DO UPDATE SET n = suppression_days.n + excluded.n"};

static const struct pg_stmt fold_measure = {
    "fold_measure",
    "WITH d AS (DELETE FROM measure_counts_deltas RETURNING *) INSERT INTO measure_counts"
    " (campaign_id, step_id, variant, metric, n) SELECT campaign_id, step_id, variant, metric,"
    " sum(n) FROM d GROUP BY 1, 2, 3, 4 ORDER BY 1, 2, 3, 4"
    " ON CONFLICT (campaign_id, step_id, variant, metric)"
    " DO UPDATE SET n = measure_counts.n + excluded.n"};

static const char *
stats_text(PGresult *r, int row, int col)
{
	const char *v = pg_str(r, row, col);
	return v ? v : "";
}

/* Rows of (state, n), added up by state: outbox_counts, transactional_counts. */
static enum store_status
stats_states(struct store *st, const struct pg_stmt *q, struct outbox_counts *out)
{
	PGresult *r;
	enum store_status rc = pg_run(PQS(st), q, NULL, &r);

	memset(out, 0, sizeof(*out));
	if (rc != STORE_OK)
		return rc;
	for (int i = 0; i < PQntuples(r); i++) {
		int state = outbox_state_parse(stats_text(r, i, 0));
		if (state >= 0)
			out->n[state] += pg_int(r, i, 1);
	}
	PQclear(r);
	return STORE_OK;
}

static enum store_status
store_pg_outbox_counts(struct store *st, struct outbox_counts *out)
{
	return stats_states(st, &stats_outbox_states, out);
}

static enum store_status
store_pg_transactional_counts(struct store *st, struct outbox_counts *out)
{
	return stats_states(st, &stats_transactional, out);
}

/* Every campaign's entries and active journeys, from the counters. */
static enum store_status
store_pg_campaign_counts(struct store *st, struct campaign_count **out, size_t *n)
{
	PGresult *r;
	enum store_status rc = pg_run(PQS(st), &stats_campaigns, NULL, &r);

	if (rc != STORE_OK)
		return rc;
	size_t cnt = (size_t)PQntuples(r);
	struct campaign_count *v = cnt ? xcalloc(cnt, sizeof(*v)) : NULL;
	for (size_t i = 0; i < cnt; i++) {
		v[i].campaign_id = xstrdup(stats_text(r, (int)i, 0));
		v[i].entered = pg_int(r, (int)i, 1);
		v[i].active = pg_int(r, (int)i, 2);
	}
	PQclear(r);
	*out = v;
	*n = cnt;
	return STORE_OK;
}

/* One campaign's numbers: a few counter rows, read in one statement. */
static enum store_status
store_pg_campaign_stats(struct store *st, const char *campaign_id, int64_t since_ms,
			struct campaign_stats **out)
{
	struct pg_args a = {0};
	PGresult *r;
	enum store_status rc;

	pg_arg_text(&a, campaign_id);
	pg_arg_int(&a, since_ms / STATS_DAY_MS);
	if ((rc = pg_run(PQS(st), &stats_counts_q, &a, &r)) != STORE_OK)
		return rc;
	struct campaign_stats *o = xcalloc(1, sizeof(*o));
	for (int i = 0; i < PQntuples(r); i++)
		campaign_stats_add(o, stats_text(r, i, 0), stats_text(r, i, 1), stats_text(r, i, 2),
				   stats_text(r, i, 3), pg_int(r, i, 4), pg_int(r, i, 5));
	PQclear(r);
	campaign_stats_finish(o);
	*out = o;
	return STORE_OK;
}

/*
 * In the caller's transaction: the deltas the triggers and the measure ops wrote
 * (store_pg_schema.c's migration 5 -> 6) move into their counters; *FOLDED counter rows written.
 * Nothing when another fold holds the lock.
 */
static enum store_status
store_pg_counters_fold(struct store *st, long *folded)
{
	static const struct pg_stmt *const folds[] = {&fold_stats, &fold_outbox_days,
						      &fold_suppression_days, &fold_measure};
	struct pg_args a = {0};
	PGresult *r;
	enum store_status rc;

	*folded = 0;
	pg_arg_int(&a, PG_FOLD_LOCK);
	if ((rc = pg_run(PQS(st), &fold_lock, &a, &r)) != STORE_OK)
		return rc;
	int locked = strcmp(stats_text(r, 0, 0), "t") == 0;
	PQclear(r);
	for (size_t i = 0; locked && i < NT_ARRAY_LEN(folds); i++) {
		if ((rc = pg_run(PQS(st), folds[i], NULL, &r)) != STORE_OK)
			return rc;
		*folded += pg_affected(r);
		PQclear(r);
	}
	return STORE_OK;
}

/* The PostgreSQL backend's table of statistics (store_stats.h). */
const struct store_stats_ops store_pg_stats_ops = {
    .outbox_counts = store_pg_outbox_counts,
    .campaign_counts = store_pg_campaign_counts,
    .campaign_stats = store_pg_campaign_stats,
    .transactional_counts = store_pg_transactional_counts,
    .counters_fold = store_pg_counters_fold,
};
