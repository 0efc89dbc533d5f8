/*
 * Private to the PostgreSQL backend: row readers several of its files share (events, journeys,
 * consent, JSON and optional columns), array literals for the statements that take a whole
 * batch as arrays (unnest($1::bigint[], ...)), and the customer operations that live in a
 * file of their own (store_pg_customers_upsert.c, store_pg_customers_list.c).
 */
#ifndef NURTURED_STORE_PG_ROWS_H
#define NURTURED_STORE_PG_ROWS_H

#include <glib.h>
#include <jansson.h>
#include <libpq-fe.h>

#include "store_pg.h"

/* A JSON column as an object: {} when NULL or not JSON. */
json_t *pgr_json(PGresult *r, int row, int col);
/* An integer column, -1 for NULL. */
int64_t pgr_opt_int(PGresult *r, int row, int col);

/* An array literal built element by element ('{"a",NULL}'), passed as a text argument. */
struct pgr_array {
	GString *s;
	int n;
};
void pgr_array_init(struct pgr_array *a);
/* NULL is an SQL NULL element. */
void pgr_array_text(struct pgr_array *a, const char *v);
void pgr_array_int(struct pgr_array *a, int64_t v);
/* Closes the literal: a->s->str is the argument. */
void pgr_array_end(struct pgr_array *a);
void pgr_array_free(struct pgr_array *a);

/* pg_run of ST with $1 the N IDS as a bigint[] (a batch's customers). */
enum store_status pgr_run_ids(struct store_pg *s, const struct pg_stmt *st, const int64_t *ids,
			      size_t n, PGresult **r);

/* Rows of (seq, customer_id, ext_id, key, type, time_ms, properties) as events. */
void pgr_event_rows(PGresult *r, struct store_event **out, size_t *n);
/* The columns of a journey in the order pgr_journey_rows reads them. */
#define PGR_J_COLS                                                                                 \
	"id, campaign_id, version, customer_id, jkey, active, step, visit, due_ms, wait_event,"    \
	" on_event, trigger, entered_ms, exited_ms, exit_reason, event, passed"
void pgr_journey_rows(PGresult *r, struct journey **out, size_t *n);
/* Appends the consent rows of C->id, in topic order, to C. */
enum store_status pgr_consent_read(struct store_pg *s, struct customer_row *c);

/* store_pg_customers_upsert.c */
enum store_status pg_customer_upsert(struct store *, const char *, json_t *, int64_t, int64_t *);
enum store_status pg_customers_upsert(struct store *, struct customer_item *, size_t, const char *,
				      int64_t);
/* store_pg_customers_list.c */
enum store_status pg_customers_list(struct store *, const struct customer_filter *,
				    struct customer_row **, size_t *);
enum store_status pg_customer_export(struct store *, const char *, struct customer_export *);

#endif
