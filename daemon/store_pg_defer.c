/*
 * Rows a transaction of the PostgreSQL backend writes but reads back only later, if at all:
 * journey notes, timer pushes, purchase counts and measure counters. They are gathered and
 * written in one statement per table (unnest of array literals) before the first statement
 * that names the table, the next savepoint, or the commit; a rollback drops them. A purchase
 * under the example campaigns wrote eight such rows, each a statement of its own, and a
 * statement costs its backend about 15 µs beyond its work (its message, executor start and
 * end). pg_held_before and pg_held_flush send or drop these rows, and the new journey's row
 * that store_pg_engine.c holds the same way.
 *
 * The order within a transaction does not matter to these rows: none of them is read by a
 * statement that does not name its table (no trigger of another table reads them), and the
 * tables' own triggers count per row as before.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "store_pg.h"
#include "store_pg_rows.h"
#include "util.h"

#define PG_DEFER_COLS 9

struct pg_defer {
	struct pgr_array col[PG_DEFER_COLS];
	int rows;
};

static const struct pg_defer_table {
	const char *table; /* a statement that names it sends the rows first */
	int ncols;
	struct pg_stmt stmt;
} pg_defer_tables[PG_DEFER_KINDS] = {
    [PG_DEFER_NOTES] = {"journey_notes",
			9,
			{"defer_notes",
			 "INSERT INTO journey_notes (journey_id, customer_id, campaign_id, step_id,"
			 " action, reason, channel, template, at_ms) SELECT * FROM"
			 " unnest($1::bigint[], $2::bigint[], $3::text[], $4::text[], $5::text[],"
			 " $6::text[], $7::text[], $8::text[], $9::bigint[])"}},
    /* A timer only moves forward: a customer's pushes in one statement keep the latest. */
    [PG_DEFER_TIMERS] = {"timers",
			 3,
			 {"defer_timers",
			  "INSERT INTO timers (campaign_id, customer_id, due_ms) SELECT DISTINCT ON"
			  " (c, k) c, k, d FROM unnest($1::text[], $2::bigint[], $3::bigint[]) AS t"
			  " (c, k, d) ORDER BY c, k, d DESC ON CONFLICT (campaign_id, customer_id)"
			  " DO UPDATE SET due_ms = greatest(timers.due_ms, excluded.due_ms)"}},
    [PG_DEFER_PURCHASES] =
	{"purchases",
	 2,
	 {"defer_purchases",
	  "INSERT INTO purchases (customer_id, count, first_ms, last_ms) SELECT k,"
	  " count(*), min(t), max(t) FROM unnest($1::bigint[], $2::bigint[]) AS p"
	  " (k, t) GROUP BY k ON CONFLICT (customer_id) DO UPDATE SET count ="
	  " purchases.count + excluded.count,"
	  " first_ms = least(purchases.first_ms, excluded.first_ms),"
	  " last_ms = greatest(purchases.last_ms, excluded.last_ms)"}},
    /* Delta rows (store_pg_measure.c): the same counter's increments summed into one. */
    [PG_DEFER_COUNTS] =
	{"measure_counts",
	 5,
	 {"defer_counts",
	  "INSERT INTO measure_counts_deltas (campaign_id, step_id, variant, metric,"
	  " n) SELECT c, s, v, m, sum(n) FROM unnest($1::text[], $2::text[],"
	  " $3::text[], $4::text[], $5::float8[]) AS x (c, s, v, m, n)"
	  " GROUP BY 1, 2, 3, 4"}},
};

static struct pg_defer *
pg_defer_get(struct store_pg *s, enum pg_defer_kind k)
{
	if (s->defer[k] == NULL) {
		s->defer[k] = xcalloc(1, sizeof(*s->defer[k]));
		for (int i = 0; i < pg_defer_tables[k].ncols; i++)
			pgr_array_init(&s->defer[k]->col[i]);
	}
	return s->defer[k];
}

/* Empties K's rows: after they were sent, or when their transaction is gone. */
static void
pg_defer_reset(struct store_pg *s, enum pg_defer_kind k)
{
	struct pg_defer *d = s->defer[k];
	for (int i = 0; d != NULL && i < pg_defer_tables[k].ncols; i++) {
		pgr_array_free(&d->col[i]);
		pgr_array_init(&d->col[i]);
	}
	if (d != NULL)
		d->rows = 0;
}

/* K's rows in one statement (none: nothing to do). */
static enum store_status
pg_defer_flush(struct store_pg *s, enum pg_defer_kind k)
{
	struct pg_defer *d = s->defer[k];
	struct pg_args a = {0};

	if (d == NULL || d->rows == 0)
		return STORE_OK;
	for (int i = 0; i < pg_defer_tables[k].ncols; i++) {
		pgr_array_end(&d->col[i]);
		pg_arg_text(&a, d->col[i].s->str);
	}
	d->rows = 0; /* first: the statement names its table, and goes through pg_held_before */
	enum store_status rc = pg_send(s, &pg_defer_tables[k].stmt, &a);
	pg_defer_reset(s, k);
	return rc;
}

enum store_status
pg_defer_add(struct store_pg *s, enum pg_defer_kind k, const char *const *v)
{
	struct pg_defer *d = pg_defer_get(s, k);
	for (int i = 0; i < pg_defer_tables[k].ncols; i++)
		pgr_array_text(&d->col[i], v[i]);
	d->rows++;
	if (!s->in_tx || s->tx_failed) /* no transaction to wait for: on its own, now */
		return pg_defer_flush(s, k);
	return STORE_OK;
}

enum store_status
pg_held_before(struct store_pg *s, const char *sql)
{
	if (s->holding && strstr(sql, "journeys") != NULL && pg_journey_unhold(s, 1) != STORE_OK)
		return STORE_UNAVAILABLE;
	for (int k = 0; k < PG_DEFER_KINDS; k++)
		if (s->defer[k] != NULL && s->defer[k]->rows > 0 &&
		    strstr(sql, pg_defer_tables[k].table) != NULL &&
		    pg_defer_flush(s, k) != STORE_OK)
			return STORE_UNAVAILABLE;
	return STORE_OK;
}

enum store_status
pg_held_flush(struct store_pg *s, int send)
{
	enum store_status rc = pg_journey_unhold(s, send);
	for (int k = 0; k < PG_DEFER_KINDS; k++) {
		if (send && rc == STORE_OK)
			rc = pg_defer_flush(s, k);
		else
			pg_defer_reset(s, k);
	}
	return rc;
}

void
pg_held_free(struct store_pg *s)
{
	pg_journey_unhold(s, 0);
	for (int k = 0; k < PG_DEFER_KINDS; k++) {
		for (int i = 0; s->defer[k] != NULL && i < pg_defer_tables[k].ncols; i++)
			pgr_array_free(&s->defer[k]->col[i]);
		free(s->defer[k]);
		s->defer[k] = NULL;
	}
}
