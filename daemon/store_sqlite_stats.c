/* The SQLite backend's statistics: counts over journeys, notes and the outbox, for the API. */
#include <glib.h>
#include <sqlite3.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "store_sqlite.h"
#include "util.h"

#define STATS_DAY_MS 86400000LL

/*
 * Campaigns' figures come from stats_counts, counters that triggers keep in the transaction of
 * each change to journeys, outbox and journey_notes (the migration 14 -> 15 defines them and
 * says what each counts): a request reads the campaign's few counter rows, whatever the number
 * of journeys. Retention deletes rows without touching them. The outbox per state (/v1/status)
 * is still a count over the outbox (by its state index) plus what retention archived.
 *
 * Skips recorded only as notes ("note_skip"): the engine decided not to send and wrote no
 * outbox row (the ledger's replay, a stale step, the frequency cap). Every other skip is an
 * outbox row in state "skipped", whose note is not counted again; deferrals (quiet hours, a
 * deferring cap) are no skips, the step runs later.
 */
static const char *const store_sqlite_stats_sql[S_COUNT] = {
    [S_OUTBOX_STATES] = "SELECT state, count(*) FROM outbox GROUP BY state UNION ALL"
			" SELECT state, sum(n) FROM stats_archive WHERE kind = 'outbox'"
			" GROUP BY state",
    [S_CAMPAIGNS] = "SELECT campaign_id, sum(CASE metric WHEN 'entered' THEN n ELSE 0 END),"
		    " sum(CASE metric WHEN 'now' THEN n ELSE 0 END) FROM stats_counts"
		    " WHERE metric IN ('entered', 'now') GROUP BY campaign_id",
    /* The counters from day ?2 on, and the entries of the days before as one total. */
    [S_COUNTS] = "SELECT metric, step_id, state, reason, day, n FROM stats_counts"
		 " WHERE campaign_id = ?1 AND n <> 0 AND (day < 0 OR day >= ?2) UNION ALL"
		 " SELECT 'entered', '', '', '', -1, coalesce(sum(n), 0) FROM stats_counts"
		 " WHERE campaign_id = ?1 AND metric = 'entered' AND day >= 0 AND day < ?2",
};

int
store_sqlite_stats_prepare(struct store_sqlite *s, char *err, size_t errlen)
{
	return store_sqlite_prepare_all(s, store_sqlite_stats_sql, s->st, S_COUNT, "stats", err,
					errlen);
}

void
store_sqlite_stats_finalize(struct store_sqlite *s)
{
	store_sqlite_finalize_all(s->st, S_COUNT);
}

/* Ends a statement's run: reset, bindings cleared, the step's result mapped. */
static enum store_status
stats_end(struct store_sqlite *s, sqlite3_stmt *q, int step)
{
	sqlite3_reset(q);
	sqlite3_clear_bindings(q);
	return step == SQLITE_DONE ? STORE_OK : store_sqlite_status(s, step);
}

static const char *
stats_text(sqlite3_stmt *q, int col)
{
	const char *v = (const char *)sqlite3_column_text(q, col);
	return v ? v : "";
}

enum store_status
store_sqlite_outbox_counts(struct store *st, struct outbox_counts *out)
{
	struct store_sqlite *s = SQ(st);
	sqlite3_stmt *q = s->st[S_OUTBOX_STATES];
	int step;

	memset(out, 0, sizeof(*out));
	while ((step = sqlite3_step(q)) == SQLITE_ROW) {
		int state = outbox_state_parse(stats_text(q, 0));
		if (state >= 0)
			out->n[state] += sqlite3_column_int64(q, 1);
	}
	return stats_end(s, q, step);
}

enum store_status
store_sqlite_campaign_counts(struct store *st, struct campaign_count **out, size_t *n)
{
	struct store_sqlite *s = SQ(st);
	sqlite3_stmt *q = s->st[S_CAMPAIGNS];
	struct campaign_count *v = NULL;
	size_t cnt = 0;
	enum store_status rc;
	int step;

	while ((step = sqlite3_step(q)) == SQLITE_ROW) {
		v = xrealloc(v, (cnt + 1) * sizeof(*v));
		v[cnt].campaign_id = xstrdup(stats_text(q, 0));
		v[cnt].entered = sqlite3_column_int64(q, 1);
		v[cnt++].active = sqlite3_column_int64(q, 2);
	}
	if ((rc = stats_end(s, q, step)) != STORE_OK) {
		campaign_counts_free(v, cnt);
		return rc;
	}
	*out = v;
	*n = cnt;
	return STORE_OK;
}

/* One campaign's numbers: a few counter rows, read in the job's transaction. */
enum store_status
store_sqlite_campaign_stats(struct store *st, const char *campaign_id, int64_t since_ms,
			    struct campaign_stats **out)
{
	struct store_sqlite *s = SQ(st);
	sqlite3_stmt *q = s->st[S_COUNTS];
	struct campaign_stats *o = xcalloc(1, sizeof(*o));
	enum store_status rc;
	int step;

	sqlite3_bind_text(q, 1, campaign_id, -1, SQLITE_STATIC);
	sqlite3_bind_int64(q, 2, since_ms / STATS_DAY_MS);
	while ((step = sqlite3_step(q)) == SQLITE_ROW)
		campaign_stats_add(o, stats_text(q, 0), stats_text(q, 1), stats_text(q, 2),
				   stats_text(q, 3), sqlite3_column_int64(q, 4),
				   sqlite3_column_int64(q, 5));
	if ((rc = stats_end(s, q, step)) != STORE_OK) {
		campaign_stats_free(o);
		return rc;
	}
	campaign_stats_finish(o);
	*out = o;
	return STORE_OK;
}

/* Issue 21: SQLite's triggers keep the counters themselves; there are no deltas to fold. */
static enum store_status
store_sqlite_counters_fold(struct store *st, long *folded)
{
	(void)st;
	*folded = 0;
	return STORE_OK;
}

/* The SQLite backend's table of statistics (store_stats.h). */
const struct store_stats_ops store_sqlite_stats_ops = {
    .outbox_counts = store_sqlite_outbox_counts,
    .campaign_counts = store_sqlite_campaign_counts,
    .campaign_stats = store_sqlite_campaign_stats,
    .transactional_counts = store_sqlite_transactional_counts,
    .counters_fold = store_sqlite_counters_fold,
};
