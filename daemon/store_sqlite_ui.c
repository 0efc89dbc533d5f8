/*
 * Issue 22: the dashboard's queries on SQLite. Counts per day come from the ranges of the
 * events' sequence and the outbox's ids (both grow with time): a day's first row is found by
 * a binary search of index lookups, so thirty days cost a few hundred lookups at any size.
 * Statements are prepared per call: these are pages for people, not a hot path.
 */
#include <glib.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "store_sqlite.h"
#include "store_ui.h"
#include "util.h"

#define DAY_MS 86400000LL

void
ui_counts_free(struct ui_count *v, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		free(v[i].a);
		free(v[i].b);
	}
	free(v);
}

void
ui_overview_clear(struct ui_overview *o)
{
	ui_counts_free(o->by_state, o->n_by_state);
	ui_counts_free(o->queues, o->n_queues);
	ui_counts_free(o->inbound, o->n_inbound);
	for (size_t i = 0; i < o->n_errors; i++) {
		free(o->errors[i].customer);
		free(o->errors[i].channel);
		free(o->errors[i].state);
		free(o->errors[i].reply);
	}
	free(o->errors);
	memset(o, 0, sizeof(*o));
}

void
ui_customer_rows_free(struct ui_customer_row *v, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		free(v[i].id);
		free(v[i].email);
		free(v[i].name);
		free(v[i].stage);
	}
	free(v);
}

void
ui_versions_free(struct ui_version *v, size_t n)
{
	for (size_t i = 0; i < n; i++)
		free(v[i].version);
	free(v);
}

static char *
col_text(sqlite3_stmt *q, int col)
{
	const char *v = (const char *)sqlite3_column_text(q, col);
	return v ? xstrdup(v) : NULL;
}

/* The single integer SQL gives with A bound (if >= 0 ... bound always), or DFLT. */
static int64_t
ui_int(struct store_sqlite *s, const char *sql, int64_t a, int64_t dflt, int *err)
{
	sqlite3_stmt *q;
	int64_t v = dflt;
	int rc;

	if (sqlite3_prepare_v2(s->db, sql, -1, &q, NULL) != SQLITE_OK) {
		*err = sqlite3_errcode(s->db);
		return dflt;
	}
	if (sqlite3_bind_parameter_count(q) > 0)
		sqlite3_bind_int64(q, 1, a);
	rc = sqlite3_step(q);
	if (rc == SQLITE_ROW && sqlite3_column_type(q, 0) != SQLITE_NULL)
		v = sqlite3_column_int64(q, 0);
	else if (rc != SQLITE_ROW && rc != SQLITE_DONE)
		*err = rc;
	sqlite3_finalize(q);
	return v;
}

/*
 * The first key in [LO, HI] whose row's time is at least T (HI when none), by binary search:
 * NEXT_TIME gives the time of the first row at a key >= its argument (keys may have gaps).
 */
static int64_t
ui_boundary(struct store_sqlite *s, const char *next_time, int64_t lo, int64_t hi, int64_t t,
	    int *err)
{
	while (lo < hi && !*err) {
		int64_t mid = lo + (hi - lo) / 2;
		int64_t at = ui_int(s, next_time, mid, INT64_MAX, err);
		if (at >= t)
			hi = mid;
		else
			lo = mid + 1;
	}
	return lo;
}

/* Rows per day of a table keyed in time order: the differences of the days' first keys. */
static int64_t
ui_per_day(struct store_sqlite *s, const char *minmax_lo, const char *minmax_hi,
	   const char *next_time, int64_t day0, long *out, int *err)
{
	int64_t lo = ui_int(s, minmax_lo, 0, 0, err);
	int64_t hi = ui_int(s, minmax_hi, 0, -1, err) + 1;
	int64_t b[UI_DAYS + 1];

	if (hi <= lo) {
		memset(out, 0, sizeof(long) * UI_DAYS);
		return hi;
	}
	for (int i = 0; i <= UI_DAYS; i++) {
		b[i] = ui_boundary(s, next_time, i ? b[i - 1] : lo, hi, day0 + i * DAY_MS, err);
	}
	for (int i = 0; i < UI_DAYS; i++)
		out[i] = (long)(b[i + 1] - b[i]);
	return b[0];
}

/* Rows of SQL (after binding A) as counts: text a, text b (or NULL), n, oldest. */
static int
ui_counts(struct store_sqlite *s, const char *sql, int64_t a, struct ui_count **out, size_t *n)
{
	sqlite3_stmt *q;
	int rc;
	size_t cap = 0;

	*out = NULL;
	*n = 0;
	if (sqlite3_prepare_v2(s->db, sql, -1, &q, NULL) != SQLITE_OK)
		return sqlite3_errcode(s->db);
	if (sqlite3_bind_parameter_count(q) > 0)
		sqlite3_bind_int64(q, 1, a);
	while ((rc = sqlite3_step(q)) == SQLITE_ROW) {
		if (*n == cap) {
			cap = cap ? cap * 2 : 8;
			*out = xrealloc(*out, cap * sizeof(**out));
		}
		struct ui_count *c = &(*out)[(*n)++];
		memset(c, 0, sizeof(*c));
		c->a = col_text(q, 0);
		c->b = sqlite3_column_count(q) > 3 ? col_text(q, 3) : NULL;
		c->n = (long)sqlite3_column_int64(q, 1);
		c->oldest_ms = sqlite3_column_count(q) > 2 ? sqlite3_column_int64(q, 2) : 0;
	}
	sqlite3_finalize(q);
	return rc == SQLITE_DONE ? 0 : rc;
}

/* The latest messages in STATE (by the (state, id) index), appended to O's errors. */
static int
ui_errors_of(struct store_sqlite *s, const char *state, struct ui_overview *o)
{
	sqlite3_stmt *q;
	int rc;
	const char *sql = "SELECT o.id, c.ext_id, o.channel, o.state, o.last_reply,"
			  " coalesce(o.updated_ms, o.created_ms) FROM outbox o"
			  " JOIN customers c ON c.id = o.customer_id WHERE o.state = ?1"
			  " ORDER BY o.id DESC LIMIT 10";

	if (sqlite3_prepare_v2(s->db, sql, -1, &q, NULL) != SQLITE_OK)
		return sqlite3_errcode(s->db);
	sqlite3_bind_text(q, 1, state, -1, SQLITE_STATIC);
	while ((rc = sqlite3_step(q)) == SQLITE_ROW) {
		o->errors = xrealloc(o->errors, (o->n_errors + 1) * sizeof(*o->errors));
		struct ui_error_row *e = &o->errors[o->n_errors++];
		e->id = sqlite3_column_int64(q, 0);
		e->customer = col_text(q, 1);
		e->channel = col_text(q, 2);
		e->state = col_text(q, 3);
		e->reply = col_text(q, 4);
		e->updated_ms = sqlite3_column_int64(q, 5);
	}
	sqlite3_finalize(q);
	return rc == SQLITE_DONE ? 0 : rc;
}

static int
ui_error_cmp(const void *a, const void *b)
{
	const struct ui_error_row *x = a, *y = b;
	return x->id < y->id ? 1 : x->id > y->id ? -1 : 0;
}

static enum store_status
ui_sqlite_overview(struct store *st, int64_t now_ms, struct ui_overview *o)
{
	struct store_sqlite *s = SQ(st);
	int err = 0;
	static const char *const bad[] = {"failed", "deferred", "bounced", "expired"};

	memset(o, 0, sizeof(*o));
	o->day0_ms = (now_ms / DAY_MS - (UI_DAYS - 1)) * DAY_MS;
	ui_per_day(s, "SELECT min(seq) FROM events", "SELECT max(seq) FROM events",
		   "SELECT received_ms FROM events WHERE seq >= ?1 ORDER BY seq LIMIT 1",
		   o->day0_ms, o->events, &err);
	ui_per_day(s, "SELECT min(id) FROM outbox", "SELECT max(id) FROM outbox",
		   "SELECT created_ms FROM outbox WHERE id >= ?1 ORDER BY id LIMIT 1", o->day0_ms,
		   o->messages, &err);
	/* Messages of the 30 days by channel and state: the daily counters (outbox_days). */
	if (!err)
		err =
		    ui_counts(s,
			      "SELECT channel, sum(n), 0, state FROM outbox_days WHERE day >= ?1"
			      " GROUP BY channel, state HAVING sum(n) <> 0 ORDER BY channel, state",
			      o->day0_ms / DAY_MS, &o->by_state, &o->n_by_state);
	if (!err)
		err = ui_counts(s,
				"SELECT channel, count(*), min(created_ms) FROM outbox"
				" WHERE state IN ('queued', 'deferred') GROUP BY channel",
				0, &o->queues, &o->n_queues);
	for (size_t i = 0; !err && i < NT_ARRAY_LEN(bad); i++)
		err = ui_errors_of(s, bad[i], o);
	if (o->n_errors > 0) {
		qsort(o->errors, o->n_errors, sizeof(*o->errors), ui_error_cmp);
		for (size_t i = 10; i < o->n_errors; i++) {
			free(o->errors[i].customer);
			free(o->errors[i].channel);
			free(o->errors[i].state);
			free(o->errors[i].reply);
		}
		if (o->n_errors > 10)
			o->n_errors = 10;
	}
	if (!err)
		err = ui_counts(s,
				"SELECT kind || CASE WHEN kind = 'bounce' AND hard THEN ' (hard)'"
				" WHEN kind = 'bounce' THEN ' (soft)' ELSE '' END, count(*)"
				" FROM inbound WHERE received_ms >= ?1 GROUP BY 1 ORDER BY 1",
				o->day0_ms, &o->inbound, &o->n_inbound);
	/* The suppression list's total (day -1) and its additions per day: counters. */
	o->suppressions =
	    (long)ui_int(s, "SELECT n FROM suppression_days WHERE day = -1", 0, 0, &err);
	o->suppressions_added =
	    (long)ui_int(s, "SELECT coalesce(sum(n), 0) FROM suppression_days WHERE day >= ?1",
			 o->day0_ms / DAY_MS, 0, &err);
	/*
	 * Issue 19's counters summed over the campaigns' steps (not the experiments' arm
	 * totals, step "*", nor the across-campaigns conversions, campaign "*"): their rows
	 * grow with campaigns, steps and links, not with customers.
	 */
	if (!err) {
		struct ui_count *c = NULL;
		size_t n = 0;
		err = ui_counts(s,
				"SELECT metric, sum(n) FROM measure_counts WHERE metric IN"
				" ('sent', 'clicks', 'clicked') AND campaign_id <> '*'"
				" AND step_id <> '*' GROUP BY metric",
				0, &c, &n);
		for (size_t i = 0; !err && i < n; i++) {
			long *to = strcmp(c[i].a, "sent") == 0	   ? &o->recipients
				   : strcmp(c[i].a, "clicks") == 0 ? &o->clicks
								   : &o->clicked;
			*to = c[i].n;
		}
		ui_counts_free(c, n);
	}
	if (err) {
		ui_overview_clear(o);
		return store_sqlite_status(s, err);
	}
	return STORE_OK;
}

/* Index entries a page of search results reads at most, whatever the matches. */
#define UI_SEARCH_BUDGET 500

/*
 * The customer search, one statement per kind of match, each a range on its index from the
 * cursor (?3 the last key, ?4 the last row id, -1 from the start of the range) to the end of
 * the prefix (?2: Q followed by the highest code point), in index order. Kept in this one
 * array between the markers: tests/integration/test_dashboard.py reads it from here and
 * checks with EXPLAIN QUERY PLAN that each is a SEARCH through its index.
 */
/* search-sql-begin */
static const char *const ui_search_sql[UI_MATCH_N] = {
    [UI_MATCH_ID] = "SELECT id, ext_id, email, name, stage, ext_id FROM customers"
		    " WHERE ext_id >= ?3 AND ext_id < ?2 AND (ext_id > ?3 OR ?4 < 0)"
		    " AND erased_ms IS NULL ORDER BY ext_id LIMIT ?5",
    [UI_MATCH_EMAIL] = "SELECT id, ext_id, email, name, stage, email FROM customers"
		       " WHERE email >= ?3 COLLATE NOCASE AND email < ?2 COLLATE NOCASE"
		       " AND (email > ?3 COLLATE NOCASE OR id > ?4) AND erased_ms IS NULL"
		       " ORDER BY email COLLATE NOCASE, id LIMIT ?5",
    [UI_MATCH_NAME] = "SELECT id, ext_id, email, name, stage, name FROM customers"
		      " WHERE name >= ?3 COLLATE NOCASE AND name < ?2 COLLATE NOCASE"
		      " AND (name > ?3 COLLATE NOCASE OR id > ?4) AND erased_ms IS NULL"
		      " ORDER BY name COLLATE NOCASE, id LIMIT ?5",
};
/* search-sql-end */

static const char ui_match_code[UI_MATCH_N] = {'i', 'e', 'n'};

/* Whether V starts with Q: exactly (ids), or ASCII letters in any case (NOCASE). */
static int
ui_prefix(const char *v, const char *q, int nocase)
{
	size_t len = strlen(q);
	return v != NULL && (nocase ? g_ascii_strncasecmp(v, q, len) : strncmp(v, q, len)) == 0;
}

/* Whether row R of kind BY was already listed under an earlier kind. */
static int
ui_matched_before(sqlite3_stmt *r, enum ui_match by, const char *q)
{
	if (by >= UI_MATCH_EMAIL && ui_prefix((const char *)sqlite3_column_text(r, 1), q, 0))
		return 1;
	return by == UI_MATCH_NAME && ui_prefix((const char *)sqlite3_column_text(r, 2), q, 1);
}

/* "K:ROWID:KEY": the kind, the row id and the key of the last row a page read. */
static char *
ui_cursor(enum ui_match by, int64_t rowid, const char *key)
{
	return xasprintf("%c:%lld:%s", ui_match_code[by], (long long)rowid, key ? key : "");
}

/* Reads AFTER into its kind, row id and key (a pointer into AFTER); -1 when malformed. */
static int
ui_cursor_parse(const char *after, enum ui_match *by, int64_t *rowid, const char **key)
{
	char *end;
	const char *p = after;
	int k;

	for (k = 0; k < UI_MATCH_N && p[0] != ui_match_code[k]; k++)
		;
	if (k == UI_MATCH_N || p[1] != ':')
		return -1;
	*rowid = strtoll(p + 2, &end, 10);
	if (end == p + 2 || *end != ':')
		return -1;
	*by = (enum ui_match)k;
	*key = end + 1;
	return 0;
}

static enum store_status
ui_sqlite_customer_search(struct store *st, const char *text, const char *after, int limit,
			  struct ui_customer_row **out, size_t *n, char **next)
{
	struct store_sqlite *s = SQ(st);
	char *upper = xasprintf("%s\xf4\x8f\xbf\xbf", text);
	enum ui_match by = UI_MATCH_ID;
	int64_t rowid = -1, budget = UI_SEARCH_BUDGET;
	const char *key = text;
	int rc = SQLITE_DONE;

	*out = NULL;
	*n = 0;
	*next = NULL;
	if (after != NULL && ui_cursor_parse(after, &by, &rowid, &key) < 0) {
		free(upper);
		return STORE_NOTFOUND;
	}
	for (; by < UI_MATCH_N && *next == NULL && rc == SQLITE_DONE; by++) {
		sqlite3_stmt *q;
		int64_t read = 0, last_id = rowid;
		char *last_key = xstrdup(key);
		if (sqlite3_prepare_v2(s->db, ui_search_sql[by], -1, &q, NULL) != SQLITE_OK) {
			rc = sqlite3_errcode(s->db);
			free(last_key);
			break;
		}
		sqlite3_bind_text(q, 2, upper, -1, SQLITE_STATIC);
		sqlite3_bind_text(q, 3, key, -1, SQLITE_TRANSIENT);
		sqlite3_bind_int64(q, 4, rowid);
		sqlite3_bind_int64(q, 5, budget);
		while ((rc = sqlite3_step(q)) == SQLITE_ROW) {
			read++;
			if (!ui_matched_before(q, by, text)) {
				if (*n == (size_t)limit) {
					/* One more: the next page starts after the last read. */
					*next = ui_cursor(by, last_id, last_key);
					rc = SQLITE_DONE;
					break;
				}
				*out = xrealloc(*out, (*n + 1) * sizeof(**out));
				struct ui_customer_row *r = &(*out)[(*n)++];
				r->id = col_text(q, 1);
				r->email = col_text(q, 2);
				r->name = col_text(q, 3);
				r->stage = col_text(q, 4);
				r->by = by;
			}
			last_id = sqlite3_column_int64(q, 0);
			free(last_key);
			last_key = col_text(q, 5);
		}
		sqlite3_finalize(q);
		budget -= read;
		if (rc == SQLITE_DONE && *next == NULL && budget <= 0)
			*next = ui_cursor(by, last_id, last_key); /* read enough: go on from here */
		free(last_key);
		/* The next kind starts at the start of its range. */
		key = text;
		rowid = -1;
	}
	free(upper);
	if (rc != SQLITE_DONE) {
		ui_customer_rows_free(*out, *n);
		free(*next);
		*out = NULL;
		*n = 0;
		*next = NULL;
		return store_sqlite_status(s, rc);
	}
	return STORE_OK;
}

static enum store_status
ui_sqlite_message_payload(struct store *st, int64_t id, char **payload, size_t *len)
{
	struct store_sqlite *s = SQ(st);
	sqlite3_stmt *q;
	int rc;
	const char *sql = "SELECT coalesce(p.payload, o.payload) FROM outbox o"
			  " LEFT JOIN outbox_payload p ON p.id = o.id WHERE o.id = ?1";

	*payload = NULL;
	*len = 0;
	if (sqlite3_prepare_v2(s->db, sql, -1, &q, NULL) != SQLITE_OK)
		return store_sqlite_status(s, sqlite3_errcode(s->db));
	sqlite3_bind_int64(q, 1, id);
	rc = sqlite3_step(q);
	if (rc == SQLITE_ROW && sqlite3_column_type(q, 0) != SQLITE_NULL) {
		*len = (size_t)sqlite3_column_bytes(q, 0);
		*payload = xmalloc(*len + 1);
		memcpy(*payload, sqlite3_column_blob(q, 0), *len);
		(*payload)[*len] = '\0';
	}
	sqlite3_finalize(q);
	if (rc == SQLITE_ROW || rc == SQLITE_DONE)
		return *payload ? STORE_OK : STORE_NOTFOUND;
	return store_sqlite_status(s, rc);
}

static enum store_status
ui_sqlite_campaign_versions(struct store *st, const char *campaign_id, int limit,
			    struct ui_version **out, size_t *n)
{
	struct store_sqlite *s = SQ(st);
	sqlite3_stmt *q;
	int rc;

	*out = NULL;
	*n = 0;
	if (sqlite3_prepare_v2(s->db,
			       "SELECT version, loaded_ms FROM campaign_versions WHERE campaign_id"
			       " = ?1 ORDER BY loaded_ms DESC LIMIT ?2",
			       -1, &q, NULL) != SQLITE_OK)
		return store_sqlite_status(s, sqlite3_errcode(s->db));
	sqlite3_bind_text(q, 1, campaign_id, -1, SQLITE_STATIC);
	sqlite3_bind_int(q, 2, limit);
	while ((rc = sqlite3_step(q)) == SQLITE_ROW) {
		*out = xrealloc(*out, (*n + 1) * sizeof(**out));
		(*out)[*n].version = col_text(q, 0);
		(*out)[*n].loaded_ms = sqlite3_column_int64(q, 1);
		(*n)++;
	}
	sqlite3_finalize(q);
	return rc == SQLITE_DONE ? STORE_OK : store_sqlite_status(s, rc);
}

static enum store_status
ui_sqlite_campaign_steps_now(struct store *st, const char *campaign_id, long **counts, size_t *n)
{
	struct store_sqlite *s = SQ(st);
	sqlite3_stmt *q;
	int rc;

	*counts = NULL;
	*n = 0;
	if (sqlite3_prepare_v2(s->db,
			       "SELECT step, count(*) FROM journeys WHERE campaign_id = ?1"
			       " AND active = 1 GROUP BY step",
			       -1, &q, NULL) != SQLITE_OK)
		return store_sqlite_status(s, sqlite3_errcode(s->db));
	sqlite3_bind_text(q, 1, campaign_id, -1, SQLITE_STATIC);
	while ((rc = sqlite3_step(q)) == SQLITE_ROW) {
		int step = sqlite3_column_int(q, 0);
		if (step < 0 || step > 10000)
			continue;
		if ((size_t)step >= *n) {
			*counts = xrealloc(*counts, (size_t)(step + 1) * sizeof(long));
			memset(*counts + *n, 0, ((size_t)step + 1 - *n) * sizeof(long));
			*n = (size_t)step + 1;
		}
		(*counts)[step] = (long)sqlite3_column_int64(q, 1);
	}
	sqlite3_finalize(q);
	return rc == SQLITE_DONE ? STORE_OK : store_sqlite_status(s, rc);
}

/* One statement on strings and integers: ?1.. bound from TEXTS (NULL: none), then INTS. */
static int
ui_exec(struct store_sqlite *s, const char *sql, const char *const *texts, size_t nt,
	const int64_t *ints, size_t ni)
{
	sqlite3_stmt *q;
	int rc;
	if (sqlite3_prepare_v2(s->db, sql, -1, &q, NULL) != SQLITE_OK)
		return sqlite3_errcode(s->db);
	for (size_t i = 0; i < nt; i++)
		sqlite3_bind_text(q, (int)i + 1, texts[i], -1, SQLITE_STATIC);
	for (size_t i = 0; i < ni; i++)
		sqlite3_bind_int64(q, (int)(nt + i) + 1, ints[i]);
	rc = sqlite3_step(q);
	sqlite3_finalize(q);
	return rc == SQLITE_ROW ? SQLITE_DONE : rc;
}

static enum store_status
ui_sqlite_session_add(struct store *st, const char *id, const char *fp, int64_t now_ms,
		      int64_t expires_ms)
{
	struct store_sqlite *s = SQ(st);
	const char *texts[] = {id, fp};
	int64_t ints[] = {now_ms, expires_ms};
	/* The expired ones go first: by the expiry index, never more than have expired. */
	int rc = ui_exec(s, "DELETE FROM ui_sessions WHERE expires_ms < ?1", NULL, 0, &now_ms, 1);
	if (rc == SQLITE_DONE)
		rc = ui_exec(s,
			     "INSERT INTO ui_sessions (id, fp, created_ms, expires_ms)"
			     " VALUES (?1, ?2, ?3, ?4)",
			     texts, 2, ints, 2);
	return rc == SQLITE_DONE ? STORE_OK : store_sqlite_status(s, rc);
}

static enum store_status
ui_sqlite_session_get(struct store *st, const char *id, int64_t now_ms, char fp[17])
{
	struct store_sqlite *s = SQ(st);
	sqlite3_stmt *q;
	int rc;

	fp[0] = '\0';
	if (sqlite3_prepare_v2(s->db,
			       "SELECT fp FROM ui_sessions WHERE id = ?1 AND expires_ms >= ?2", -1,
			       &q, NULL) != SQLITE_OK)
		return store_sqlite_status(s, sqlite3_errcode(s->db));
	sqlite3_bind_text(q, 1, id, -1, SQLITE_STATIC);
	sqlite3_bind_int64(q, 2, now_ms);
	rc = sqlite3_step(q);
	if (rc == SQLITE_ROW)
		snprintf(fp, 17, "%s", (const char *)sqlite3_column_text(q, 0));
	sqlite3_finalize(q);
	if (rc == SQLITE_ROW)
		return STORE_OK;
	return rc == SQLITE_DONE ? STORE_NOTFOUND : store_sqlite_status(s, rc);
}

static enum store_status
ui_sqlite_session_end(struct store *st, const char *id)
{
	struct store_sqlite *s = SQ(st);
	int rc = id ? ui_exec(s, "DELETE FROM ui_sessions WHERE id = ?1", &id, 1, NULL, 0)
		    : ui_exec(s, "DELETE FROM ui_sessions", NULL, 0, NULL, 0);
	return rc == SQLITE_DONE ? STORE_OK : store_sqlite_status(s, rc);
}

const struct store_ui_ops store_sqlite_ui_ops = {
    .overview = ui_sqlite_overview,
    .customer_search = ui_sqlite_customer_search,
    .message_payload = ui_sqlite_message_payload,
    .campaign_versions = ui_sqlite_campaign_versions,
    .campaign_steps_now = ui_sqlite_campaign_steps_now,
    .session_add = ui_sqlite_session_add,
    .session_get = ui_sqlite_session_get,
    .session_end = ui_sqlite_session_end,
};
