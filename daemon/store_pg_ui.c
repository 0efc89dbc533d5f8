/*
 * Issue 22: the dashboard's queries on PostgreSQL, mirroring store_sqlite_ui.c. Counts per day
 * come from the ranges of the events' sequence and the outbox's ids (both grow with time): a
 * day's first row is found by a binary search of index lookups, all the days' searches run
 * in one recursive statement.
 */
#include <stdint.h>
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
	static const struct pg_stmt by_state = {
	    "ui_by_state", "SELECT channel, count(*), 0, state FROM outbox WHERE id >= $1"
			   " GROUP BY channel, state ORDER BY channel, state"};
	static const struct pg_stmt queues = {
	    "ui_queues", "SELECT channel, count(*), min(created_ms) FROM outbox"
			 " WHERE state IN ('queued', 'deferred') AND $1::bigint = 0"
			 " GROUP BY channel ORDER BY channel"};
	static const struct pg_stmt inbound = {
	    "ui_inbound", "SELECT kind || CASE WHEN kind = 'bounce' AND hard = 1 THEN ' (hard)'"
			  " WHEN kind = 'bounce' THEN ' (soft)' ELSE '' END, count(*)"
			  " FROM inbound WHERE received_ms >= $1 GROUP BY 1 ORDER BY 1"};
	/* One pass over the list (its size, not the customers'): both figures. */
	static const struct pg_stmt supp = {
	    "ui_suppressions", "SELECT 'all', count(*), coalesce(sum(CASE WHEN created_ms >= $1"
			       " THEN 1 ELSE 0 END), 0) FROM suppressions"};
	struct store_pg *s = PQS(st);
	enum store_status rc;
	int64_t first_event, first_msg;

	memset(o, 0, sizeof(*o));
	o->day0_ms = (now_ms / DAY_MS - (UI_DAYS - 1)) * DAY_MS;
	rc = ui_per_day(s, &events, o->day0_ms, o->events, &first_event);
	if (rc == STORE_OK)
		rc = ui_per_day(s, &messages, o->day0_ms, o->messages, &first_msg);
	if (rc == STORE_OK)
		rc = ui_counts(s, &by_state, first_msg, &o->by_state, &o->n_by_state);
	if (rc == STORE_OK)
		rc = ui_counts(s, &queues, 0, &o->queues, &o->n_queues);
	if (rc == STORE_OK)
		rc = ui_errors(s, o);
	if (rc == STORE_OK)
		rc = ui_counts(s, &inbound, o->day0_ms, &o->inbound, &o->n_inbound);
	if (rc == STORE_OK) {
		struct ui_count *c = NULL;
		size_t n = 0;
		rc = ui_counts(s, &supp, o->day0_ms, &c, &n);
		if (rc == STORE_OK && n == 1) {
			o->suppressions = c[0].n;
			o->suppressions_added = (long)c[0].oldest_ms;
		}
		ui_counts_free(c, n);
	}
	if (rc != STORE_OK)
		ui_overview_clear(o);
	return rc;
}

/*
 * Customers whose id is Q, then those whose email, then name, starts with Q in any case, each
 * through its index (ext_id's, and lower(email)/lower(name) with text_pattern_ops, whose
 * operators compare bytes: the upper bound is Q followed by the last code point).
 */
static enum store_status
pg_ui_customer_search(struct store *st, const char *text, int limit, struct ui_customer_row **out,
		      size_t *n)
{
	static const struct pg_stmt q = {
	    "ui_customer_search",
	    "(SELECT 0, ext_id, email, name, stage, NULL::text COLLATE \"C\" FROM customers"
	    " WHERE ext_id = $1"
	    " AND erased_ms IS NULL) UNION ALL"
	    " (SELECT 1, ext_id, email, name, stage, lower(email) COLLATE \"C\" FROM customers"
	    " WHERE lower(email) ~>=~"
	    " lower($1) AND lower(email) ~<~ (lower($1) || $2) AND erased_ms IS NULL"
	    " ORDER BY lower(email) USING ~<~ LIMIT $3) UNION ALL"
	    " (SELECT 2, ext_id, email, name, stage, lower(name) COLLATE \"C\" FROM customers"
	    " WHERE lower(name) ~>=~"
	    " lower($1) AND lower(name) ~<~ (lower($1) || $2) AND erased_ms IS NULL"
	    " ORDER BY lower(name) USING ~<~ LIMIT $3)"
	    " ORDER BY 1, 6"};
	struct pg_args a = {0};
	PGresult *r;
	enum store_status rc;

	*out = NULL;
	*n = 0;
	pg_arg_text(&a, text);
	pg_arg_text(&a, "\xf4\x8f\xbf\xbf");
	pg_arg_int(&a, limit);
	if ((rc = pg_run(PQS(st), &q, &a, &r)) != STORE_OK)
		return rc;
	for (int i = 0; i < PQntuples(r) && *n < (size_t)limit; i++) {
		const char *id = pg_str(r, i, 1);
		size_t k;
		for (k = 0; k < *n && strcmp((*out)[k].id, id) != 0; k++)
			;
		if (k < *n)
			continue;
		*out = xrealloc(*out, (*n + 1) * sizeof(**out));
		struct ui_customer_row *c = &(*out)[(*n)++];
		c->id = xstrdup(id);
		c->email = pg_dup(r, i, 2);
		c->name = pg_dup(r, i, 3);
		c->stage = pg_dup(r, i, 4);
	}
	PQclear(r);
	return STORE_OK;
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

const struct store_ui_ops store_pg_ui_ops = {
    .overview = pg_ui_overview,
    .customer_search = pg_ui_customer_search,
    .message_payload = pg_ui_message_payload,
    .campaign_versions = pg_ui_campaign_versions,
    .campaign_steps_now = pg_ui_campaign_steps_now,
};
