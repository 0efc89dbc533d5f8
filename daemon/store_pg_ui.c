/*
 * Issue 22: the dashboard's queries on PostgreSQL, mirroring store_sqlite_ui.c. Counts per day
 * come from the ranges of the events' sequence and the outbox's ids (both grow with time): a
 * day's first row is found by a binary search of index lookups, all the days' searches run
 * in one recursive statement. Messages by state and the suppression list's figures are
 * counters the schema's triggers keep (store_pg_schema.c, migration 2); the customer search
 * pages through its indexes with a cursor; dashboard sessions live in the store.
 */
#include <glib.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "store_pg.h"
#include "store_ui.h"
#include "util.h"

#define DAY_MS 86400000LL

/*
 * The first key of TABLE whose row's time TCOL is at least day $1 + i (i in 0 .. $2), for
 * each i at once: a binary search between the least key and the greatest + 1 (keys may have
 * gaps; the time of the first row at a key >= mid decides).
 */
#define UI_BOUNDS(TABLE, KEY, TCOL)                                                                \
	"WITH RECURSIVE r AS (SELECT min(" KEY ") AS lo, max(" KEY ") + 1 AS hi FROM " TABLE "),"  \
	" b(i, lo, hi) AS (SELECT g.i, r.lo, r.hi FROM r, generate_series(0, $2::int) AS g(i)"     \
	" WHERE r.lo IS NOT NULL UNION ALL SELECT b.i, CASE WHEN t.at >= $1::bigint + b.i *"       \
	" 86400000::bigint THEN b.lo ELSE t.mid + 1 END, CASE WHEN t.at >= $1::bigint + b.i *"     \
	" 86400000::bigint THEN t.mid ELSE b.hi END FROM b CROSS JOIN LATERAL (SELECT m.mid,"      \
	" coalesce((SELECT " TCOL " FROM " TABLE " WHERE " KEY " >= m.mid ORDER BY " KEY           \
	" LIMIT 1), 9223372036854775807) AS at FROM (SELECT b.lo + (b.hi - b.lo) / 2 AS mid) m) t" \
	" WHERE b.lo < b.hi) SELECT i, lo FROM b WHERE lo >= hi ORDER BY i"

/* Rows per day of a table keyed in time order: the differences of the days' first keys. */
static enum store_status
ui_per_day(struct store_pg *s, const struct pg_stmt *q, int64_t day0, long *out, int64_t *first)
{
	struct pg_args a = {0};
	PGresult *r;
	enum store_status rc;
	int64_t b[UI_DAYS + 1];

	memset(out, 0, sizeof(long) * UI_DAYS);
	*first = 0;
	pg_arg_int(&a, day0);
	pg_arg_int(&a, UI_DAYS);
	if ((rc = pg_run(s, q, &a, &r)) != STORE_OK)
		return rc;
	if (PQntuples(r) == UI_DAYS + 1) {
		for (int i = 0; i <= UI_DAYS; i++)
			b[i] = pg_int(r, i, 1);
		for (int i = 0; i < UI_DAYS; i++)
			out[i] = (long)(b[i + 1] - b[i]);
		*first = b[0];
	}
	PQclear(r);
	return STORE_OK;
}

/* Rows of Q (with $1 = A) as counts: text a, n, oldest, text b (the last two optional). */
static enum store_status
ui_counts(struct store_pg *s, const struct pg_stmt *q, int64_t a1, struct ui_count **out, size_t *n)
{
	struct pg_args a = {0};
	PGresult *r;
	enum store_status rc;

	*out = NULL;
	*n = 0;
	pg_arg_int(&a, a1);
	if ((rc = pg_run(s, q, &a, &r)) != STORE_OK)
		return rc;
	int rows = PQntuples(r), cols = PQnfields(r);
	if (rows > 0)
		*out = xcalloc((size_t)rows, sizeof(**out));
	for (int i = 0; i < rows; i++) {
		struct ui_count *c = &(*out)[i];
		c->a = pg_dup(r, i, 0);
		c->n = (long)pg_int(r, i, 1);
		c->oldest_ms = cols > 2 ? pg_int(r, i, 2) : 0;
		c->b = cols > 3 ? pg_dup(r, i, 3) : NULL;
	}
	*n = (size_t)rows;
	PQclear(r);
	return STORE_OK;
}

/* The latest failed, deferred, bounced or expired messages, newest first (by (state, id)). */
static enum store_status
ui_errors(struct store_pg *s, struct ui_overview *o)
{
#define UI_ERR_OF(STATE)                                                                           \
	"(SELECT o.id, c.ext_id, o.channel, o.state, o.last_reply,"                                \
	" coalesce(o.updated_ms, o.created_ms) FROM outbox o JOIN customers c"                     \
	" ON c.id = o.customer_id WHERE o.state = '" STATE "' ORDER BY o.id DESC LIMIT 10)"
	static const struct pg_stmt q = {
	    "ui_errors",
	    UI_ERR_OF("failed") " UNION ALL " UI_ERR_OF("deferred") " UNION ALL " UI_ERR_OF(
		"bounced") " UNION ALL " UI_ERR_OF("expired") " ORDER BY 1 DESC LIMIT 10"};
#undef UI_ERR_OF
	PGresult *r;
	enum store_status rc;

	if ((rc = pg_run(s, &q, NULL, &r)) != STORE_OK)
		return rc;
	int rows = PQntuples(r);
	if (rows > 0)
		o->errors = xcalloc((size_t)rows, sizeof(*o->errors));
	for (int i = 0; i < rows; i++) {
		struct ui_error_row *e = &o->errors[i];
		e->id = pg_int(r, i, 0);
		e->customer = pg_dup(r, i, 1);
		e->channel = pg_dup(r, i, 2);
		e->state = pg_dup(r, i, 3);
		e->reply = pg_dup(r, i, 4);
		e->updated_ms = pg_int(r, i, 5);
	}
	o->n_errors = (size_t)rows;
	PQclear(r);
	return STORE_OK;
}

static enum store_status
pg_ui_overview(struct store *st, int64_t now_ms, struct ui_overview *o)
{
	static const struct pg_stmt events = {"ui_events_days",
					      UI_BOUNDS("events", "seq", "received_ms")};
	static const struct pg_stmt messages = {"ui_messages_days",
						UI_BOUNDS("outbox", "id", "created_ms")};
	/* Messages of the 30 days by channel and state: the daily counters with their deltas
	 * (outbox_days_all, issue 21). */
	static const struct pg_stmt by_state = {
	    "ui_by_state", "SELECT channel, sum(n), 0, state FROM outbox_days_all WHERE day >= $1"
			   " GROUP BY channel, state HAVING sum(n) <> 0 ORDER BY channel, state"};
	static const struct pg_stmt queues = {
	    "ui_queues", "SELECT channel, count(*), min(created_ms) FROM outbox"
			 " WHERE state IN ('queued', 'deferred') AND $1::bigint = 0"
			 " GROUP BY channel ORDER BY channel"};
	static const struct pg_stmt inbound = {
	    "ui_inbound", "SELECT kind || CASE WHEN kind = 'bounce' AND hard = 1 THEN ' (hard)'"
			  " WHEN kind = 'bounce' THEN ' (soft)' ELSE '' END, count(*)"
			  " FROM inbound WHERE received_ms >= $1 GROUP BY 1 ORDER BY 1"};
	/* The suppression list's total (day -1) and its additions per day: counters with their
	 * deltas. */
	static const struct pg_stmt supp = {
	    "ui_suppressions",
	    "SELECT 'all', coalesce(sum(n) FILTER (WHERE day = -1), 0),"
	    " coalesce(sum(n) FILTER (WHERE day >= $1), 0) FROM suppression_days_all"};
	/*
	 * Issue 19's counters summed over the campaigns' steps (not the experiments' arm totals,
	 * step "*", nor the across-campaigns conversions, campaign "*").
	 */
	static const struct pg_stmt measure = {
	    "ui_measure", "SELECT metric, sum(n) FROM measure_counts_all WHERE metric IN"
			  " ('sent', 'clicks', 'clicked') AND campaign_id <> '*' AND step_id <> '*'"
			  " AND $1::bigint = 0 GROUP BY metric"};
	struct store_pg *s = PQS(st);
	enum store_status rc;
	int64_t first_event, first_msg;
	struct ui_count *c = NULL;
	size_t n = 0;

	memset(o, 0, sizeof(*o));
	o->day0_ms = (now_ms / DAY_MS - (UI_DAYS - 1)) * DAY_MS;
	rc = ui_per_day(s, &events, o->day0_ms, o->events, &first_event);
	if (rc == STORE_OK)
		rc = ui_per_day(s, &messages, o->day0_ms, o->messages, &first_msg);
	if (rc == STORE_OK)
		rc = ui_counts(s, &by_state, o->day0_ms / DAY_MS, &o->by_state, &o->n_by_state);
	if (rc == STORE_OK)
		rc = ui_counts(s, &queues, 0, &o->queues, &o->n_queues);
	if (rc == STORE_OK)
		rc = ui_errors(s, o);
	if (rc == STORE_OK)
		rc = ui_counts(s, &inbound, o->day0_ms, &o->inbound, &o->n_inbound);
	if (rc == STORE_OK)
		rc = ui_counts(s, &supp, o->day0_ms / DAY_MS, &c, &n);
	if (rc == STORE_OK && n == 1) {
		o->suppressions = c[0].n;
		o->suppressions_added = (long)c[0].oldest_ms;
	}
	ui_counts_free(c, n);
	c = NULL;
	n = 0;
	if (rc == STORE_OK)
		rc = ui_counts(s, &measure, 0, &c, &n);
	for (size_t i = 0; rc == STORE_OK && i < n; i++) {
		long *to = strcmp(c[i].a, "sent") == 0	   ? &o->recipients
			   : strcmp(c[i].a, "clicks") == 0 ? &o->clicks
							   : &o->clicked;
		*to = c[i].n;
	}
	ui_counts_free(c, n);
	if (rc != STORE_OK)
		ui_overview_clear(o);
	return rc;
}

/* Index entries a page of search results reads at most, whatever the matches. */
#define UI_SEARCH_BUDGET 500

/*
 * The customer search, one statement per kind of match, each a range on its index from the
 * cursor ($3 the last key, $4 the last row id, -1 from the start of the range) to the end of
 * the prefix ($1 followed by $2, the highest code point), in index order. The indexes
 * (customers_search_*) compare bytes (text_pattern_ops: ~>=~, ~<~), so that the prefix's
 * range is right in any collation; email and name are compared in lower case. Kept in this
 * one array between the markers: tests/integration/test_dashboard.py reads it from here and
 * checks with EXPLAIN that each is an index scan in index order.
 */
/* search-sql-begin */
static const struct pg_stmt ui_search_sql[UI_MATCH_N] = {
    [UI_MATCH_ID] = {"ui_search_id", "SELECT id, ext_id, email, name, stage, ext_id FROM customers"
				     " WHERE ext_id ~>=~ $3 AND ext_id ~<~ ($1 || $2)"
				     " AND (ext_id ~>~ $3 OR $4::bigint < 0) AND erased_ms IS NULL"
				     " ORDER BY ext_id USING ~<~ LIMIT $5"},
    [UI_MATCH_EMAIL] = {"ui_search_email",
			"SELECT id, ext_id, email, name, stage, email FROM customers"
			" WHERE lower(email) ~>=~ lower($3) AND lower(email) ~<~ (lower($1) || $2)"
			" AND (lower(email) ~>~ lower($3) OR id > $4::bigint)"
			" AND erased_ms IS NULL ORDER BY lower(email) USING ~<~, id LIMIT $5"},
    [UI_MATCH_NAME] = {"ui_search_name",
		       "SELECT id, ext_id, email, name, stage, name FROM customers"
		       " WHERE lower(name) ~>=~ lower($3) AND lower(name) ~<~ (lower($1) || $2)"
		       " AND (lower(name) ~>~ lower($3) OR id > $4::bigint)"
		       " AND erased_ms IS NULL ORDER BY lower(name) USING ~<~, id LIMIT $5"},
};
/* search-sql-end */

static const char ui_match_code[UI_MATCH_N] = {'i', 'e', 'n'};

/* Whether V starts with Q: exactly (ids), or ASCII letters in any case. */
static int
ui_prefix(const char *v, const char *q, int nocase)
{
	size_t len = strlen(q);
	return v != NULL && (nocase ? g_ascii_strncasecmp(v, q, len) : strncmp(v, q, len)) == 0;
}

/* Whether row I of kind BY was already listed under an earlier kind. */
static int
ui_matched_before(PGresult *r, int i, enum ui_match by, const char *q)
{
	if (by >= UI_MATCH_EMAIL && ui_prefix(pg_str(r, i, 1), q, 0))
		return 1;
	return by == UI_MATCH_NAME && ui_prefix(pg_str(r, i, 2), q, 1);
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

/*
 * Customers whose id, then email, then name starts with Q, from the cursor AFTER on, as
 * store_sqlite_ui.c pages them: at most LIMIT rows, at most UI_SEARCH_BUDGET index entries
 * read; *NEXT the next page's cursor.
 */
static enum store_status
pg_ui_customer_search(struct store *st, const char *text, const char *after, int limit,
		      struct ui_customer_row **out, size_t *n, char **next)
{
	enum ui_match by = UI_MATCH_ID;
	int64_t rowid = -1, budget = UI_SEARCH_BUDGET;
	const char *key = text;
	enum store_status rc = STORE_OK;

	*out = NULL;
	*n = 0;
	*next = NULL;
	if (after != NULL && ui_cursor_parse(after, &by, &rowid, &key) < 0)
		return STORE_NOTFOUND;
	for (; by < UI_MATCH_N && *next == NULL && rc == STORE_OK; by++) {
		struct pg_args a = {0};
		PGresult *r;
		int64_t read = 0, last_id = rowid;
		char *last_key = xstrdup(key);
		int stopped = 0;

		pg_arg_text(&a, text);
		pg_arg_text(&a, "\xf4\x8f\xbf\xbf");
		pg_arg_text(&a, key);
		pg_arg_int(&a, rowid);
		pg_arg_int(&a, budget);
		if ((rc = pg_run(PQS(st), &ui_search_sql[by], &a, &r)) != STORE_OK) {
			free(last_key);
			break;
		}
		for (int i = 0; i < PQntuples(r); i++) {
			read++;
			if (!ui_matched_before(r, i, by, text)) {
				if (*n == (size_t)limit) {
					/* One more: the next page starts after the last read. */
					*next = ui_cursor(by, last_id, last_key);
					stopped = 1;
					break;
				}
				*out = xrealloc(*out, (*n + 1) * sizeof(**out));
				struct ui_customer_row *c = &(*out)[(*n)++];
				c->id = pg_dup(r, i, 1);
				c->email = pg_dup(r, i, 2);
				c->name = pg_dup(r, i, 3);
				c->stage = pg_dup(r, i, 4);
				c->by = by;
			}
			last_id = pg_int(r, i, 0);
			free(last_key);
			last_key = pg_dup(r, i, 5);
		}
		PQclear(r);
		budget -= read;
		if (!stopped && budget <= 0)
			*next = ui_cursor(by, last_id, last_key); /* read enough: go on from here */
		free(last_key);
		/* The next kind starts at the start of its range. */
		key = text;
		rowid = -1;
	}
	if (rc != STORE_OK) {
		ui_customer_rows_free(*out, *n);
		free(*next);
		*out = NULL;
		*n = 0;
		*next = NULL;
	}
	return rc;
}

static enum store_status
pg_ui_message_payload(struct store *st, int64_t id, char **payload, size_t *len)
{
	static const struct pg_stmt q = {
	    "ui_message_payload", "SELECT coalesce(p.payload, o.payload) FROM outbox o"
				  " LEFT JOIN outbox_payload p ON p.id = o.id WHERE o.id = $1"};
	struct pg_args a = {0};
	PGresult *r;
	enum store_status rc;

	*payload = NULL;
	*len = 0;
	pg_arg_int(&a, id);
	if ((rc = pg_run(PQS(st), &q, &a, &r)) != STORE_OK)
		return rc;
	if (PQntuples(r) > 0)
		*payload = pg_blob(r, 0, 0, len);
	PQclear(r);
	return *payload ? STORE_OK : STORE_NOTFOUND;
}

static enum store_status
pg_ui_campaign_versions(struct store *st, const char *campaign_id, int limit,
			struct ui_version **out, size_t *n)
{
	static const struct pg_stmt q = {
	    "ui_campaign_versions", "SELECT version, loaded_ms FROM campaign_versions"
				    " WHERE campaign_id = $1 ORDER BY loaded_ms DESC LIMIT $2"};
	struct pg_args a = {0};
	PGresult *r;
	enum store_status rc;

	*out = NULL;
	*n = 0;
	pg_arg_text(&a, campaign_id);
	pg_arg_int(&a, limit);
	if ((rc = pg_run(PQS(st), &q, &a, &r)) != STORE_OK)
		return rc;
	int rows = PQntuples(r);
	if (rows > 0)
		*out = xcalloc((size_t)rows, sizeof(**out));
	for (int i = 0; i < rows; i++) {
		(*out)[i].version = pg_dup(r, i, 0);
		(*out)[i].loaded_ms = pg_int(r, i, 1);
	}
	*n = (size_t)rows;
	PQclear(r);
	return STORE_OK;
}

static enum store_status
pg_ui_campaign_steps_now(struct store *st, const char *campaign_id, long **counts, size_t *n)
{
	static const struct pg_stmt q = {
	    "ui_campaign_steps_now", "SELECT step, count(*) FROM journeys WHERE campaign_id = $1"
				     " AND active = 1 GROUP BY step"};
	struct pg_args a = {0};
	PGresult *r;
	enum store_status rc;

	*counts = NULL;
	*n = 0;
	pg_arg_text(&a, campaign_id);
	if ((rc = pg_run(PQS(st), &q, &a, &r)) != STORE_OK)
		return rc;
	for (int i = 0; i < PQntuples(r); i++) {
		int64_t step = pg_int(r, i, 0);
		if (step < 0 || step > 10000)
			continue;
		if ((size_t)step >= *n) {
			*counts = xrealloc(*counts, (size_t)(step + 1) * sizeof(long));
			memset(*counts + *n, 0, ((size_t)step + 1 - *n) * sizeof(long));
			*n = (size_t)step + 1;
		}
		(*counts)[step] = (long)pg_int(r, i, 1);
	}
	PQclear(r);
	return STORE_OK;
}

/* The expired sessions go first (by the expiry index), then the new one: one statement. */
static enum store_status
pg_ui_session_add(struct store *st, const char *id, const char *fp, int64_t now_ms,
		  int64_t expires_ms)
{
	static const struct pg_stmt q = {
	    "ui_session_add", "WITH gone AS (DELETE FROM ui_sessions WHERE expires_ms < $3)"
			      " INSERT INTO ui_sessions (id, fp, created_ms, expires_ms)"
			      " VALUES ($1, $2, $3, $4)"};
	struct pg_args a = {0};

	pg_arg_text(&a, id);
	pg_arg_text(&a, fp);
	pg_arg_int(&a, now_ms);
	pg_arg_int(&a, expires_ms);
	return pg_send(PQS(st), &q, &a);
}

static enum store_status
pg_ui_session_get(struct store *st, const char *id, int64_t now_ms, char fp[17])
{
	static const struct pg_stmt q = {
	    "ui_session_get", "SELECT fp FROM ui_sessions WHERE id = $1 AND expires_ms >= $2"};
	struct pg_args a = {0};
	PGresult *r;
	enum store_status rc;

	fp[0] = '\0';
	pg_arg_text(&a, id);
	pg_arg_int(&a, now_ms);
	if ((rc = pg_run(PQS(st), &q, &a, &r)) != STORE_OK)
		return rc;
	rc = PQntuples(r) > 0 ? STORE_OK : STORE_NOTFOUND;
	if (rc == STORE_OK)
		snprintf(fp, 17, "%s", pg_str(r, 0, 0));
	PQclear(r);
	return rc;
}

/* ID's session, or every one when ID is NULL. */
static enum store_status
pg_ui_session_end(struct store *st, const char *id)
{
	static const struct pg_stmt q = {
	    "ui_session_end", "DELETE FROM ui_sessions WHERE $1::text IS NULL OR id = $1::text"};
	struct pg_args a = {0};

	pg_arg_text(&a, id);
	return pg_send(PQS(st), &q, &a);
}

const struct store_ui_ops store_pg_ui_ops = {
    .overview = pg_ui_overview,
    .customer_search = pg_ui_customer_search,
    .message_payload = pg_ui_message_payload,
    .campaign_versions = pg_ui_campaign_versions,
    .campaign_steps_now = pg_ui_campaign_steps_now,
    .session_add = pg_ui_session_add,
    .session_get = pg_ui_session_get,
    .session_end = pg_ui_session_end,
};
