/* The PostgreSQL backend's shared row readers and array literals (store_pg_rows.h). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "store_pg_rows.h"
#include "util.h"

json_t *
pgr_json(PGresult *r, int row, int col)
{
	const char *t = pg_str(r, row, col);
	json_t *v = t ? json_loads(t, 0, NULL) : NULL;
	return v ? v : json_object();
}

int64_t
pgr_opt_int(PGresult *r, int row, int col)
{
	return pg_isnull(r, row, col) ? -1 : pg_int(r, row, col);
}

void
pgr_array_init(struct pgr_array *a)
{
	a->s = g_string_new("{");
	a->n = 0;
}

/* Every element is quoted, with " and \ escaped: any text goes through. */
void
pgr_array_text(struct pgr_array *a, const char *v)
{
	if (a->n++ > 0)
		g_string_append_c(a->s, ',');
	if (v == NULL) {
		g_string_append(a->s, "NULL");
		return;
	}
	g_string_append_c(a->s, '"');
	for (const char *p = v; *p; p++) {
		if (*p == '"' || *p == '\\')
			g_string_append_c(a->s, '\\');
		g_string_append_c(a->s, *p);
	}
	g_string_append_c(a->s, '"');
}

void
pgr_array_int(struct pgr_array *a, int64_t v)
{
	if (a->n++ > 0)
		g_string_append_c(a->s, ',');
	g_string_append_printf(a->s, "%lld", (long long)v);
}

void
pgr_array_end(struct pgr_array *a)
{
	g_string_append_c(a->s, '}');
}

void
pgr_array_free(struct pgr_array *a)
{
	g_string_free(a->s, TRUE);
	a->s = NULL;
}

enum store_status
pgr_run_ids(struct store_pg *s, const struct pg_stmt *st, const int64_t *ids, size_t n,
	    PGresult **r)
{
	struct pg_args a = {0};
	struct pgr_array list;
	enum store_status rc;

	pgr_array_init(&list);
	for (size_t i = 0; i < n; i++)
		pgr_array_int(&list, ids[i]);
	pgr_array_end(&list);
	pg_arg_text(&a, list.s->str);
	rc = pg_run(s, st, &a, r);
	pgr_array_free(&list);
	return rc;
}

void
pgr_event_rows(PGresult *r, struct store_event **out, size_t *n)
{
	size_t cnt = (size_t)PQntuples(r);
	struct store_event *v = cnt ? xcalloc(cnt, sizeof(*v)) : NULL;

	for (size_t i = 0; i < cnt; i++) {
		struct store_event *e = &v[i];
		e->seq = pg_int(r, (int)i, 0);
		e->customer_id = pg_int(r, (int)i, 1);
		e->customer = pg_dup(r, (int)i, 2);
		e->key = pg_dup(r, (int)i, 3);
		e->type = pg_dup(r, (int)i, 4);
		e->time_ms = pg_int(r, (int)i, 5);
		e->properties = pgr_json(r, (int)i, 6);
	}
	*out = v;
	*n = cnt;
}

void
pgr_journey_rows(PGresult *r, struct journey **out, size_t *n)
{
	size_t cnt = (size_t)PQntuples(r);
	struct journey *v = cnt ? xcalloc(cnt, sizeof(*v)) : NULL;

	for (size_t k = 0; k < cnt; k++) {
		struct journey *j = &v[k];
		int i = (int)k;
		j->id = pg_int(r, i, 0);
		j->campaign_id = pg_dup(r, i, 1);
		j->version = pg_dup(r, i, 2);
		j->customer_id = pg_int(r, i, 3);
		j->key = pg_dup(r, i, 4);
		j->active = (int)pg_int(r, i, 5);
		j->step = (int)pg_int(r, i, 6);
		j->visit = (int)pg_int(r, i, 7);
		j->due_ms = pgr_opt_int(r, i, 8);
		j->wait_event = pg_dup(r, i, 9);
		j->on_event = (int)pg_int(r, i, 10);
		j->trigger = pgr_json(r, i, 11);
		j->entered_ms = pg_int(r, i, 12);
		j->exited_ms = pgr_opt_int(r, i, 13);
		j->exit_reason = pg_dup(r, i, 14);
		j->event = pg_isnull(r, i, 15) ? NULL : pgr_json(r, i, 15);
		j->passed = (unsigned char *)pg_blob(r, i, 16, &j->n_passed);
		if (j->n_passed == 0) { /* NULL when none, as SQLite's */
			free(j->passed);
			j->passed = NULL;
		}
	}
	*out = v;
	*n = cnt;
}

enum store_status
pgr_consent_read(struct store_pg *s, struct customer_row *c)
{
	static const struct pg_stmt q = {"cust_consent_list",
					 "SELECT topic, state, updated_ms, source, requested_ms,"
					 " confirmed_ms, confirmed_addr FROM consent"
					 " WHERE customer_id = $1 ORDER BY topic"};
	struct pg_args a = {0};
	PGresult *r;
	enum store_status rc;

	pg_arg_int(&a, c->id);
	if ((rc = pg_run(s, &q, &a, &r)) != STORE_OK)
		return rc;
	int rows = PQntuples(r);
	if (rows > 0)
		c->consent =
		    xrealloc(c->consent, (c->n_consent + (size_t)rows) * sizeof(*c->consent));
	for (int i = 0; i < rows; i++) {
		struct customer_consent *k = &c->consent[c->n_consent++];
		k->topic = pg_dup(r, i, 0);
		k->state = pg_dup(r, i, 1);
		k->updated_ms = pgr_opt_int(r, i, 2);
		k->source = pg_dup(r, i, 3);
		k->requested_ms = pgr_opt_int(r, i, 4);
		k->confirmed_ms = pgr_opt_int(r, i, 5);
		k->confirmed_addr = pg_dup(r, i, 6);
	}
	PQclear(r);
	return STORE_OK;
}
