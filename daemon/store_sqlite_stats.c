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
 * Skips recorded only as notes: the engine decided not to send and wrote no outbox row (the
 * ledger's replay, a stale step, the frequency cap). Every other skip is an outbox row in
 * state "skipped", whose note is not counted again; deferrals (quiet hours, a deferring cap)
 * are no skips, the step runs later.
 */

/*
 * Retention deletes old messages and notes (store_sqlite_retention.c) after adding their
 * counts to stats_archive: each count below is the rows still there plus the archive's (a
 * second row of the same key is added by stats_add).
 */
static const char *const store_sqlite_stats_sql[S_COUNT] = {
    [S_OUTBOX_STATES] = "SELECT state, count(*) FROM outbox GROUP BY state UNION ALL"
			" SELECT state, sum(n) FROM stats_archive WHERE kind = 'outbox'"
			" GROUP BY state",
    [S_CAMPAIGNS] = "SELECT campaign_id, count(*), total(active) FROM journeys"
		    " GROUP BY campaign_id UNION ALL SELECT campaign_id, sum(n), 0"
		    " FROM stats_archive WHERE kind = 'journey' GROUP BY campaign_id",
    [S_JOURNEYS] = "SELECT (SELECT count(*) FROM journeys WHERE campaign_id = ?1) + (SELECT"
		   " coalesce(sum(n), 0) FROM stats_archive WHERE campaign_id = ?1"
		   " AND kind = 'journey'), (SELECT total(active) FROM journeys"
		   " WHERE campaign_id = ?1)",
    [S_EXITS] = "SELECT coalesce(exit_reason, 'unknown'), count(*) FROM journeys"
		" WHERE campaign_id = ?1 AND active = 0 GROUP BY 1 UNION ALL SELECT state, sum(n)"
		" FROM stats_archive WHERE campaign_id = ?1 AND kind = 'journey' GROUP BY 1",
    [S_OUTBOX_STEPS] = "SELECT step_id, state, coalesce(reason, 'unknown'), count(*) FROM outbox"
		       " WHERE campaign_id = ?1 AND state IN ('sent', 'failed', 'expired',"
		       " 'skipped') GROUP BY 1, 2, 3 UNION ALL SELECT step_id, state, reason,"
		       " sum(n) FROM stats_archive WHERE campaign_id = ?1 AND kind = 'outbox'"
		       " GROUP BY 1, 2, 3",
    [S_NOTE_SKIPS] = "SELECT coalesce(step_id, ''), reason, count(*) FROM journey_notes"
		     " WHERE campaign_id = ?1 AND action = 'skip' AND reason IN " STATS_NOTE_SKIPS
		     " GROUP BY 1, 2 UNION ALL SELECT step_id, reason, sum(n) FROM stats_archive"
		     " WHERE campaign_id = ?1 AND kind = 'note' AND state = 'skip' GROUP BY 1, 2",
    [S_CONVERSIONS] = "SELECT (SELECT count(DISTINCT journey_id) FROM journey_notes"
		      " WHERE campaign_id = ?1 AND action = 'goal') + (SELECT coalesce(sum(n), 0)"
		      " FROM stats_archive WHERE campaign_id = ?1 AND kind = 'note'"
		      " AND state = 'goal')",
    [S_SENT_JOURNEYS] = "SELECT (SELECT count(DISTINCT journey_id) FROM outbox"
			" WHERE campaign_id = ?1 AND state = 'sent') + (SELECT coalesce(sum(n), 0)"
			" FROM stats_archive WHERE campaign_id = ?1 AND kind = 'sent_journey')",
    [S_DAY_ENTERED] =
	"SELECT entered_ms / 86400000, count(*) FROM journeys"
	" WHERE campaign_id = ?1 AND entered_ms >= ?2 GROUP BY 1 UNION ALL SELECT day,"
	" sum(n) FROM stats_archive WHERE campaign_id = ?1 AND kind = 'journey'"
	" AND day >= ?2 / 86400000 GROUP BY 1",
    /* Outcomes count on the day they happened; a skip on the day it was decided. */
    [S_DAY_OUTBOX] =
	"SELECT coalesce(final_ms, created_ms) / 86400000, state, count(*)"
	" FROM outbox WHERE campaign_id = ?1 AND state IN ('sent', 'failed',"
	" 'expired', 'skipped') AND coalesce(final_ms, created_ms) >= ?2 GROUP BY 1, 2"
	" UNION ALL SELECT day, state, sum(n) FROM stats_archive WHERE campaign_id = ?1"
	" AND kind = 'outbox' AND day >= ?2 / 86400000 GROUP BY 1, 2",
    [S_DAY_NOTES] = "SELECT at_ms / 86400000, action, count(*) FROM journey_notes"
		    " WHERE campaign_id = ?1 AND action IN ('goal', 'skip') AND at_ms >= ?2"
		    " AND (action = 'goal' OR reason IN " STATS_NOTE_SKIPS ") GROUP BY 1, 2"
		    " UNION ALL SELECT day, state, sum(n) FROM stats_archive WHERE campaign_id = ?1"
		    " AND kind = 'note' AND day >= ?2 / 86400000 GROUP BY 1, 2",
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

/* Adds N to the integer at KEY of O (0 when absent). */
static void
stats_add(json_t *o, const char *key, json_int_t n)
{
	json_t *v = json_object_get(o, key);
	json_object_set_new(o, key, json_integer((v ? json_integer_value(v) : 0) + n));
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

/* The statistics' three outcomes of a final outbox state: sent, skipped, or failed. */
static const char *
stats_outcome(const char *state)
{
	int s = outbox_state_parse(state);
	return s == OUTBOX_SENT ? "sent" : s == OUTBOX_SKIPPED ? "skipped" : "failed";
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
store_sqlite_campaign_counts(struct store *st, json_t **out)
{
	struct store_sqlite *s = SQ(st);
	sqlite3_stmt *q = s->st[S_CAMPAIGNS];
	json_t *o = json_object();
	enum store_status rc;
	int step;

	while ((step = sqlite3_step(q)) == SQLITE_ROW) {
		json_t *c = json_object_get(o, stats_text(q, 0));
		if (c == NULL) {
			c = json_pack("{s:i,s:i}", "entered", 0, "active", 0);
			json_object_set_new(o, stats_text(q, 0), c);
		}
		stats_add(c, "entered", sqlite3_column_int64(q, 1)); /* rows, then the archive's */
		stats_add(c, "active", (json_int_t)sqlite3_column_double(q, 2));
	}
	if ((rc = stats_end(s, q, step)) != STORE_OK) {
		json_decref(o);
		return rc;
	}
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

/* Journeys: entered, active, exits by reason, conversions and journeys with a sent message. */
static enum store_status
stats_journeys(struct store_sqlite *s, const char *cid, json_t *o)
{
	sqlite3_stmt *q = s->st[S_JOURNEYS];
	json_t *exited = json_object();
	enum store_status rc;
	int step;

	json_object_set_new(o, "exited", exited);
	sqlite3_bind_text(q, 1, cid, -1, SQLITE_STATIC);
	if ((step = sqlite3_step(q)) == SQLITE_ROW) {
		stats_add(o, "entered", sqlite3_column_int64(q, 0));
		stats_add(o, "active", (json_int_t)sqlite3_column_double(q, 1));
		step = SQLITE_DONE;
	}
	if ((rc = stats_end(s, q, step)) != STORE_OK)
		return rc;
	q = s->st[S_EXITS];
	sqlite3_bind_text(q, 1, cid, -1, SQLITE_STATIC);
	while ((step = sqlite3_step(q)) == SQLITE_ROW)
		stats_add(exited, stats_text(q, 0), sqlite3_column_int64(q, 1));
	if ((rc = stats_end(s, q, step)) != STORE_OK)
		return rc;
	const int single[] = {S_CONVERSIONS, S_SENT_JOURNEYS};
	const char *names[] = {"conversions", "sent_journeys"};
	for (size_t i = 0; i < 2; i++) {
		q = s->st[single[i]];
		sqlite3_bind_text(q, 1, cid, -1, SQLITE_STATIC);
		if ((step = sqlite3_step(q)) == SQLITE_ROW) {
			stats_add(o, names[i], sqlite3_column_int64(q, 0));
			step = SQLITE_DONE;
		}
		if ((rc = stats_end(s, q, step)) != STORE_OK)
			return rc;
	}
	return STORE_OK;
}

/* Messages: sent, failed (and expired), skips by reason, all of it per step too. */
static enum store_status
stats_messages(struct store_sqlite *s, const char *cid, json_t *o)
{
	sqlite3_stmt *q = s->st[S_OUTBOX_STEPS];
	json_t *skipped = json_object(), *steps = json_object();
	enum store_status rc;
	int step;

	json_object_set_new(o, "skipped", skipped);
	json_object_set_new(o, "steps", steps);
	sqlite3_bind_text(q, 1, cid, -1, SQLITE_STATIC);
	while ((step = sqlite3_step(q)) == SQLITE_ROW) {
		json_int_t n = sqlite3_column_int64(q, 3);
		const char *what = stats_outcome(stats_text(q, 1));
		stats_add(stats_step(steps, stats_text(q, 0)), what, n);
		if (strcmp(what, "skipped") == 0)
			stats_add(skipped, stats_text(q, 2), n); /* by reason, not a total */
		else
			stats_add(o, what, n);
	}
	if ((rc = stats_end(s, q, step)) != STORE_OK)
		return rc;
	q = s->st[S_NOTE_SKIPS];
	sqlite3_bind_text(q, 1, cid, -1, SQLITE_STATIC);
	while ((step = sqlite3_step(q)) == SQLITE_ROW) {
		json_int_t n = sqlite3_column_int64(q, 2);
		stats_add(skipped, stats_text(q, 1), n);
		if (*stats_text(q, 0) != '\0')
			stats_add(stats_step(steps, stats_text(q, 0)), "skipped", n);
	}
	return stats_end(s, q, step);
}

/* Per UTC day from SINCE_MS: entries, outcomes, skips and conversions. */
static enum store_status
stats_days(struct store_sqlite *s, const char *cid, int64_t since_ms, json_t *days)
{
	sqlite3_stmt *q = s->st[S_DAY_ENTERED];
	enum store_status rc;
	int step;

	sqlite3_bind_text(q, 1, cid, -1, SQLITE_STATIC);
	sqlite3_bind_int64(q, 2, since_ms);
	while ((step = sqlite3_step(q)) == SQLITE_ROW)
		stats_add(stats_day(days, sqlite3_column_int64(q, 0)), "entered",
			  sqlite3_column_int64(q, 1));
	if ((rc = stats_end(s, q, step)) != STORE_OK)
		return rc;
	q = s->st[S_DAY_OUTBOX];
	sqlite3_bind_text(q, 1, cid, -1, SQLITE_STATIC);
	sqlite3_bind_int64(q, 2, since_ms);
	while ((step = sqlite3_step(q)) == SQLITE_ROW) {
		stats_add(stats_day(days, sqlite3_column_int64(q, 0)),
			  stats_outcome(stats_text(q, 1)), sqlite3_column_int64(q, 2));
	}
	if ((rc = stats_end(s, q, step)) != STORE_OK)
		return rc;
	q = s->st[S_DAY_NOTES];
	sqlite3_bind_text(q, 1, cid, -1, SQLITE_STATIC);
	sqlite3_bind_int64(q, 2, since_ms);
	while ((step = sqlite3_step(q)) == SQLITE_ROW)
		stats_add(stats_day(days, sqlite3_column_int64(q, 0)),
			  strcmp(stats_text(q, 1), note_action_name(NOTE_GOAL)) == 0 ? "conversions"
										     : "skipped",
			  sqlite3_column_int64(q, 2));
	return stats_end(s, q, step);
}

/* One campaign's numbers; all read in the job's transaction, so they agree with each other. */
enum store_status
store_sqlite_campaign_stats(struct store *st, const char *campaign_id, int64_t since_ms,
			    json_t **out)
{
	struct store_sqlite *s = SQ(st);
	json_t *o = json_pack("{s:i,s:i,s:i,s:i,s:i,s:i}", "entered", 0, "active", 0, "sent", 0,
			      "failed", 0, "conversions", 0, "sent_journeys", 0);
	json_t *days = json_object();
	enum store_status rc;

	if ((rc = stats_journeys(s, campaign_id, o)) == STORE_OK &&
	    (rc = stats_messages(s, campaign_id, o)) == STORE_OK)
		rc = stats_days(s, campaign_id, since_ms, days);
	if (rc != STORE_OK) {
		json_decref(o);
		json_decref(days);
		return rc;
	}
	json_object_set_new(o, "days", stats_days_sorted(days));
	json_decref(days);
	*out = o;
	return STORE_OK;
}

/* The SQLite backend's table of statistics (store_stats.h). */
const struct store_stats_ops store_sqlite_stats_ops = {
    .outbox_counts = store_sqlite_outbox_counts,
    .campaign_counts = store_sqlite_campaign_counts,
    .campaign_stats = store_sqlite_campaign_stats,
    .transactional_counts = store_sqlite_transactional_counts,
};
