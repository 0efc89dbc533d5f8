/*
 * Issue 22: the dashboard's queries on SQLite. Counts per day come from the ranges of the
 * events' sequence and the outbox's ids (both grow with time): a day's first row is found by
 * a binary search of index lookups, so thirty days cost a few hundred lookups at any size.
 * Statements are prepared per call: these are pages for people, not a hot path.
 */
#include <sqlite3.h>
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
	int64_t first_msg;
	static const char *const bad[] = {"failed", "deferred", "bounced", "expired"};

	memset(o, 0, sizeof(*o));
	o->day0_ms = (now_ms / DAY_MS - (UI_DAYS - 1)) * DAY_MS;
	ui_per_day(s, "SELECT min(seq) FROM events", "SELECT max(seq) FROM events",
		   "SELECT received_ms FROM events WHERE seq >= ?1 ORDER BY seq LIMIT 1",
		   o->day0_ms, o->events, &err);
	first_msg = ui_per_day(s, "SELECT min(id) FROM outbox", "SELECT max(id) FROM outbox",
			       "SELECT created_ms FROM outbox WHERE id >= ?1 ORDER BY id LIMIT 1",
			       o->day0_ms, o->messages, &err);
	if (!err)
		err = ui_counts(s,
				"SELECT channel, count(*), 0, state FROM outbox WHERE id >= ?1"
				" GROUP BY channel, state ORDER BY channel, state",
				first_msg, &o->by_state, &o->n_by_state);
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
	if (!err) {
		/* One pass over the list (its size, not the customers'): both figures. */
		struct ui_count *c = NULL;
		size_t n = 0;
		err = ui_counts(s,
				"SELECT 'all', count(*), coalesce(sum(created_ms >= ?1), 0)"
				" FROM suppressions",
				o->day0_ms, &c, &n);
		if (!err && n == 1) {
			o->suppressions = c[0].n;
			o->suppressions_added = (long)c[0].oldest_ms;
		}
		ui_counts_free(c, n);
	}
	if (err) {
		ui_overview_clear(o);
		return store_sqlite_status(s, err);
	}
	return STORE_OK;
}

/* Appends the rows of Q (id, email, name, stage) not yet in OUT, up to LIMIT. */
static int
ui_collect(sqlite3_stmt *q, int limit, struct ui_customer_row **out, size_t *n)
{
	int rc = SQLITE_DONE;
	while (*n < (size_t)limit && (rc = sqlite3_step(q)) == SQLITE_ROW) {
		const char *id = (const char *)sqlite3_column_text(q, 0);
		size_t i;
		for (i = 0; i < *n && strcmp((*out)[i].id, id) != 0; i++)
			;
		if (i < *n)
			continue;
		*out = xrealloc(*out, (*n + 1) * sizeof(**out));
		struct ui_customer_row *r = &(*out)[(*n)++];
		r->id = xstrdup(id);
		r->email = col_text(q, 1);
		r->name = col_text(q, 2);
		r->stage = col_text(q, 3);
	}
	if (*n >= (size_t)limit)
		rc = SQLITE_DONE;
	sqlite3_finalize(q);
	return rc;
}

static enum store_status
ui_sqlite_customer_search(struct store *st, const char *text, int limit,
			  struct ui_customer_row **out, size_t *n)
{
	struct store_sqlite *s = SQ(st);
	/* Each through its index: ext_id's, and the NOCASE ones on email and name. */
	static const char *const sql[] = {
	    "SELECT ext_id, email, name, stage FROM customers WHERE ext_id = ?1"
	    " AND erased_ms IS NULL",
	    "SELECT ext_id, email, name, stage FROM customers WHERE email >= ?1 COLLATE NOCASE"
	    " AND email < ?2 COLLATE NOCASE AND erased_ms IS NULL ORDER BY email COLLATE NOCASE"
	    " LIMIT ?3",
	    "SELECT ext_id, email, name, stage FROM customers WHERE name >= ?1 COLLATE NOCASE"
	    " AND name < ?2 COLLATE NOCASE AND erased_ms IS NULL ORDER BY name COLLATE NOCASE"
	    " LIMIT ?3",
	};
	char *upper = xasprintf("%s\xf4\x8f\xbf\xbf", text);
	int rc = SQLITE_DONE;

	*out = NULL;
	*n = 0;
	for (size_t i = 0; i < NT_ARRAY_LEN(sql) && rc == SQLITE_DONE; i++) {
		sqlite3_stmt *q;
		if (sqlite3_prepare_v2(s->db, sql[i], -1, &q, NULL) != SQLITE_OK) {
			rc = sqlite3_errcode(s->db);
			break;
		}
		sqlite3_bind_text(q, 1, text, -1, SQLITE_STATIC);
		if (i > 0) {
			sqlite3_bind_text(q, 2, upper, -1, SQLITE_STATIC);
			sqlite3_bind_int(q, 3, limit);
		}
		rc = ui_collect(q, limit, out, n);
	}
	free(upper);
	if (rc != SQLITE_DONE) {
		ui_customer_rows_free(*out, *n);
		*out = NULL;
		*n = 0;
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
			       /* The counters the journeys' triggers keep (issue 19). */
			       "SELECT CAST(step_id AS INTEGER), n FROM stats_counts"
			       " WHERE campaign_id = ?1 AND metric = 'now' AND n <> 0",
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

const struct store_ui_ops store_sqlite_ui_ops = {
    .overview = ui_sqlite_overview,
    .customer_search = ui_sqlite_customer_search,
    .message_payload = ui_sqlite_message_payload,
    .campaign_versions = ui_sqlite_campaign_versions,
    .campaign_steps_now = ui_sqlite_campaign_steps_now,
};
