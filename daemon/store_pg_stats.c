/*
 * The PostgreSQL backend's operations of store_stats.h, mirroring store_sqlite_stats.c (and
 * the transactional counts of store_sqlite_transactional.c): the same numbers, each operation
 * one statement. Retention adds what it deletes to stats_archive (store_pg_retention.c); every
 * count is the rows still there plus the archive's.
 */
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "store_pg.h"
#include "store_stats.h"
#include "util.h"

#define STATS_DAY_MS 86400000LL
/*
 * Skips recorded only as notes (store_sqlite.h's STATS_NOTE_SKIPS): the engine decided not to
 * send and wrote no outbox row. Every other skip is an outbox row in state "skipped".
 */
#define PG_NOTE_SKIPS "('already_sent', 'stale', 'frequency_cap')"

static const struct pg_stmt stats_outbox_states = {
    "stats_outbox_states",
    "SELECT state, count(*) FROM outbox GROUP BY state UNION ALL"
    " SELECT state, sum(n)::bigint FROM stats_archive WHERE kind = 'outbox' GROUP BY state"};
static const struct pg_stmt stats_campaigns = {
    "stats_campaigns", "SELECT campaign_id, count(*), coalesce(sum(active), 0)::bigint"
		       " FROM journeys GROUP BY campaign_id UNION ALL SELECT campaign_id,"
		       " sum(n)::bigint, 0 FROM stats_archive WHERE kind = 'journey'"
		       " GROUP BY campaign_id"};
static const struct pg_stmt stats_transactional = {
    "stats_transactional",
    "SELECT state, count(*) FROM outbox WHERE journey_id = 0 AND step_id = 'transactional'"
    " GROUP BY state UNION ALL SELECT state, sum(n)::bigint FROM stats_archive"
    " WHERE campaign_id = '' AND kind = 'outbox' AND step_id = 'transactional'"
    " GROUP BY state"};
/*
 * One campaign's numbers in one statement (so in one snapshot): rows of (what, a, b, c, n),
 * what naming the count as store_pg_campaign_stats reads it. $1 the campaign, $2 the first
 * day's time.
 */
static const struct pg_stmt stats_campaign = {
    "stats_campaign",
    "SELECT 'entered', '', '', '', count(*) FROM journeys WHERE campaign_id = $1::text"
    " UNION ALL SELECT 'entered', '', '', '', coalesce(sum(n), 0)::bigint FROM stats_archive"
    " WHERE campaign_id = $1 AND kind = 'journey'"
    " UNION ALL SELECT 'active', '', '', '', coalesce(sum(active), 0)::bigint FROM journeys"
    " WHERE campaign_id = $1"
    " UNION ALL (SELECT 'exited', coalesce(exit_reason, 'unknown'), '', '', count(*)"
    " FROM journeys WHERE campaign_id = $1 AND active = 0 GROUP BY 2)"
    " UNION ALL (SELECT 'exited', state, '', '', sum(n)::bigint FROM stats_archive"
    " WHERE campaign_id = $1 AND kind = 'journey' GROUP BY 2)"
    " UNION ALL SELECT 'conversions', '', '', '', count(DISTINCT journey_id)"
    " FROM journey_notes WHERE campaign_id = $1 AND action = 'goal'"
    " UNION ALL SELECT 'conversions', '', '', '', coalesce(sum(n), 0)::bigint"
    " FROM stats_archive WHERE campaign_id = $1 AND kind = 'note' AND state = 'goal'"
    " UNION ALL SELECT 'sent_journeys', '', '', '', count(DISTINCT journey_id) FROM outbox"
    " WHERE campaign_id = $1 AND state = 'sent'"
    " UNION ALL SELECT 'sent_journeys', '', '', '', coalesce(sum(n), 0)::bigint"
    " FROM stats_archive WHERE campaign_id = $1 AND kind = 'sent_journey'"
    " UNION ALL (SELECT 'outbox', step_id, state, coalesce(reason, 'unknown'), count(*)"
    " FROM outbox WHERE campaign_id = $1 AND state IN ('sent', 'failed', 'expired',"
    " 'skipped') GROUP BY 2, 3, 4)"
    " UNION ALL (SELECT 'outbox', step_id, state, reason, sum(n)::bigint FROM stats_archive"
    " WHERE campaign_id = $1 AND kind = 'outbox' GROUP BY 2, 3, 4)"
    " UNION ALL (SELECT 'note_skip', coalesce(step_id, ''), reason, '', count(*)"
    " FROM journey_notes WHERE campaign_id = $1 AND action = 'skip' AND reason IN " PG_NOTE_SKIPS
    " GROUP BY 2, 3)"
    " UNION ALL (SELECT 'note_skip', step_id, reason, '', sum(n)::bigint FROM stats_archive"
    " WHERE campaign_id = $1 AND kind = 'note' AND state = 'skip' GROUP BY 2, 3)"
    " UNION ALL (SELECT 'day_entered', (entered_ms / 86400000)::text, '', '', count(*)"
    " FROM journeys WHERE campaign_id = $1 AND entered_ms >= $2::bigint GROUP BY 2)"
    " UNION ALL (SELECT 'day_entered', day::text, '', '', sum(n)::bigint FROM stats_archive"
    " WHERE campaign_id = $1 AND kind = 'journey' AND day >= $2 / 86400000 GROUP BY 2)"
    /* Outcomes count on the day they happened; a skip on the day it was decided. */
    " UNION ALL (SELECT 'day_outbox', (coalesce(final_ms, created_ms) / 86400000)::text,"
    " state, '', count(*) FROM outbox WHERE campaign_id = $1 AND state IN ('sent', 'failed',"
    " 'expired', 'skipped') AND coalesce(final_ms, created_ms) >= $2 GROUP BY 2, 3)"
    " UNION ALL (SELECT 'day_outbox', day::text, state, '', sum(n)::bigint FROM stats_archive"
    " WHERE campaign_id = $1 AND kind = 'outbox' AND day >= $2 / 86400000 GROUP BY 2, 3)"
    " UNION ALL (SELECT 'day_note', (at_ms / 86400000)::text, action, '', count(*)"
    " FROM journey_notes WHERE campaign_id = $1 AND action IN ('goal', 'skip')"
    " AND at_ms >= $2 AND (action = 'goal' OR reason IN " PG_NOTE_SKIPS ") GROUP BY 2, 3)"
    " UNION ALL (SELECT 'day_note', day::text, state, '', sum(n)::bigint FROM stats_archive"
    " WHERE campaign_id = $1 AND kind = 'note' AND day >= $2 / 86400000 GROUP BY 2, 3)"};

/* Adds N to the integer at KEY of O (0 when absent). */
static void
stats_add(json_t *o, const char *key, json_int_t n)
{
	json_t *v = json_object_get(o, key);
	json_object_set_new(o, key, json_integer((v ? json_integer_value(v) : 0) + n));
}

static const char *
stats_text(PGresult *r, int row, int col)
{
	const char *v = pg_str(r, row, col);
	return v ? v : "";
}

/* The statistics' three outcomes of a final outbox state: sent, skipped, or failed. */
static const char *
stats_outcome(const char *state)
{
	int s = outbox_state_parse(state);
	return s == OUTBOX_SENT ? "sent" : s == OUTBOX_SKIPPED ? "skipped" : "failed";
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

static enum store_status
store_pg_campaign_counts(struct store *st, json_t **out)
{
	PGresult *r;
	enum store_status rc = pg_run(PQS(st), &stats_campaigns, NULL, &r);

	if (rc != STORE_OK)
		return rc;
	json_t *o = json_object();
	for (int i = 0; i < PQntuples(r); i++) {
		const char *id = stats_text(r, i, 0);
		json_t *c = json_object_get(o, id);
		if (c == NULL) {
			c = json_pack("{s:i,s:i}", "entered", 0, "active", 0);
			json_object_set_new(o, id, c);
		}
		stats_add(c, "entered", pg_int(r, i, 1)); /* rows, then the archive's */
		stats_add(c, "active", pg_int(r, i, 2));
	}
	PQclear(r);
	*out = o;
	return STORE_OK;
}

/* The day's entry in DAYS (by "YYYY-MM-DD"), made with every count at 0 when new. */
static json_t *
stats_day(json_t *days, int64_t day)
{
	char buf[16];
	time_t t = (time_t)(day * (STATS_DAY_MS / 1000));
	struct tm tm;
	json_t *d;

	gmtime_r(&t, &tm);
	strftime(buf, sizeof(buf), "%Y-%m-%d", &tm);
	if ((d = json_object_get(days, buf)) == NULL) {
		d = json_pack("{s:s,s:i,s:i,s:i,s:i,s:i}", "day", buf, "entered", 0, "sent", 0,
			      "failed", 0, "skipped", 0, "conversions", 0);
		json_object_set_new(days, buf, d);
	}
	return d;
}

/* The step's entry in STEPS, made with its counts at 0 when new. */
static json_t *
stats_step(json_t *steps, const char *id)
{
	json_t *v = json_object_get(steps, id);
	if (v == NULL) {
		v = json_pack("{s:i,s:i,s:i}", "sent", 0, "failed", 0, "skipped", 0);
		json_object_set_new(steps, id, v);
	}
	return v;
}

static int
stats_day_cmp(const void *a, const void *b)
{
	return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* The days object as an array, oldest first. */
static json_t *
stats_days_sorted(json_t *days)
{
	size_t n = json_object_size(days), i = 0;
	const char **keys = xcalloc(n + 1, sizeof(*keys));
	const char *k;
	json_t *v, *arr = json_array();

	json_object_foreach(days, k, v) keys[i++] = k;
	qsort(keys, n, sizeof(*keys), stats_day_cmp);
	for (i = 0; i < n; i++)
		json_array_append(arr, json_object_get(days, keys[i]));
	free(keys);
	return arr;
}

/* Adds row I of stats_campaign to O (its totals), STEPS, SKIPPED, EXITED and DAYS. */
static void
stats_campaign_row(PGresult *r, int i, json_t *o, json_t *steps, json_t *skipped, json_t *exited,
		   json_t *days)
{
	const char *what = stats_text(r, i, 0), *a = stats_text(r, i, 1), *b = stats_text(r, i, 2);
	json_int_t n = pg_int(r, i, 4);

	if (strcmp(what, "entered") == 0 || strcmp(what, "active") == 0 ||
	    strcmp(what, "conversions") == 0 || strcmp(what, "sent_journeys") == 0)
		stats_add(o, what, n);
	else if (strcmp(what, "exited") == 0)
		stats_add(exited, a, n);
	else if (strcmp(what, "outbox") == 0) {
		const char *outcome = stats_outcome(b);
		stats_add(stats_step(steps, a), outcome, n);
		if (strcmp(outcome, "skipped") == 0)
			stats_add(skipped, stats_text(r, i, 3), n); /* by reason, not a total */
		else
			stats_add(o, outcome, n);
	} else if (strcmp(what, "note_skip") == 0) {
		stats_add(skipped, b, n);
		if (*a != '\0')
			stats_add(stats_step(steps, a), "skipped", n);
	} else if (strcmp(what, "day_entered") == 0)
		stats_add(stats_day(days, strtoll(a, NULL, 10)), "entered", n);
	else if (strcmp(what, "day_outbox") == 0)
		stats_add(stats_day(days, strtoll(a, NULL, 10)), stats_outcome(b), n);
	else if (strcmp(what, "day_note") == 0)
		stats_add(stats_day(days, strtoll(a, NULL, 10)),
			  strcmp(b, note_action_name(NOTE_GOAL)) == 0 ? "conversions" : "skipped",
			  n);
}

/* One campaign's numbers, read in one statement: they agree with each other. */
static enum store_status
store_pg_campaign_stats(struct store *st, const char *campaign_id, int64_t since_ms, json_t **out)
{
	struct pg_args a = {0};
	PGresult *r;
	enum store_status rc;

	pg_arg_text(&a, campaign_id);
	pg_arg_int(&a, since_ms);
	if ((rc = pg_run(PQS(st), &stats_campaign, &a, &r)) != STORE_OK)
		return rc;
	json_t *o = json_pack("{s:i,s:i,s:i,s:i,s:i,s:i}", "entered", 0, "active", 0, "sent", 0,
			      "failed", 0, "conversions", 0, "sent_journeys", 0);
	json_t *exited = json_object(), *skipped = json_object(), *steps = json_object();
	json_t *days = json_object();
	json_object_set_new(o, "exited", exited);
	json_object_set_new(o, "skipped", skipped);
	json_object_set_new(o, "steps", steps);
	for (int i = 0; i < PQntuples(r); i++)
		stats_campaign_row(r, i, o, steps, skipped, exited, days);
	PQclear(r);
	json_object_set_new(o, "days", stats_days_sorted(days));
	json_decref(days);
	*out = o;
	return STORE_OK;
}

/* The PostgreSQL backend's table of statistics (store_stats.h). */
const struct store_stats_ops store_pg_stats_ops = {
    .outbox_counts = store_pg_outbox_counts,
    .campaign_counts = store_pg_campaign_counts,
    .campaign_stats = store_pg_campaign_stats,
    .transactional_counts = store_pg_transactional_counts,
};
