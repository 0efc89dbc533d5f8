/*
 * The PostgreSQL backend's customer data (issue 20), mirroring store_sqlite_customers.c: the
 * listing with its filters and cursor, and the export of everything held about one customer.
 */
#include <glib.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "store_customers.h"
#include "store_pg.h"
#include "store_pg_rows.h"
#include "util.h"

#define CUST_COLS                                                                                  \
	"c.id, c.ext_id, c.email, c.name, c.locale, c.timezone, c.birthday, c.stage,"              \
	" c.attributes, c.created_ms, c.updated_ms, c.stage_since_ms, c.erased_ms"

/* One row of CUST_COLS. */
static void
cust_row_read(PGresult *r, int i, struct customer_row *c)
{
	c->id = pg_int(r, i, 0);
	c->ext_id = pg_dup(r, i, 1);
	c->email = pg_dup(r, i, 2);
	c->name = pg_dup(r, i, 3);
	c->locale = pg_dup(r, i, 4);
	c->timezone = pg_dup(r, i, 5);
	c->birthday = pg_dup(r, i, 6);
	c->stage = pg_dup(r, i, 7);
	c->attributes = pgr_json(r, i, 8);
	c->created_ms = pgr_opt_int(r, i, 9);
	c->updated_ms = pgr_opt_int(r, i, 10);
	c->stage_since_ms = pgr_opt_int(r, i, 11);
	c->erased_ms = pgr_opt_int(r, i, 12);
}

/* The consent of every listed customer in one statement, in topic order. */
static enum store_status
cust_list_consent(struct store_pg *s, struct customer_row *v, size_t n)
{
	static const struct pg_stmt q = {
	    "cust_list_consent",
	    "SELECT customer_id, topic, state, updated_ms, source, requested_ms, confirmed_ms,"
	    " confirmed_addr FROM consent WHERE customer_id = ANY ($1::bigint[])"
	    " ORDER BY customer_id, topic"};
	struct pgr_array ids;
	struct pg_args a = {0};
	PGresult *r;
	enum store_status rc;
	GHashTable *by_id = g_hash_table_new(g_int64_hash, g_int64_equal);

	pgr_array_init(&ids);
	for (size_t i = 0; i < n; i++) {
		pgr_array_int(&ids, v[i].id);
		g_hash_table_insert(by_id, &v[i].id, &v[i]);
	}
	pgr_array_end(&ids);
	pg_arg_text(&a, ids.s->str);
	rc = pg_run(s, &q, &a, &r);
	pgr_array_free(&ids);
	if (rc == STORE_OK) {
		for (int i = 0; i < PQntuples(r); i++) {
			int64_t id = pg_int(r, i, 0);
			struct customer_row *c = g_hash_table_lookup(by_id, &id);
			if (c == NULL)
				continue;
			c->consent = xrealloc(c->consent, (c->n_consent + 1) * sizeof(*c->consent));
			struct customer_consent *k = &c->consent[c->n_consent++];
			k->topic = pg_dup(r, i, 1);
			k->state = pg_dup(r, i, 2);
			k->updated_ms = pgr_opt_int(r, i, 3);
			k->source = pg_dup(r, i, 4);
			k->requested_ms = pgr_opt_int(r, i, 5);
			k->confirmed_ms = pgr_opt_int(r, i, 6);
			k->confirmed_addr = pg_dup(r, i, 7);
		}
		PQclear(r);
	}
	g_hash_table_destroy(by_id);
	return rc;
}

/*
 * The statement is built for the filters given, so that the planner picks the index that
 * drives it: email (customers_email), stage (customers_stage), consent (consent_topic), and
 * always the id range of the cursor. Its name says which filters it has: each shape is
 * prepared once per connection. An attribute filter compares the attribute as JSON (a missing
 * one is null), as SQLite's json_extract(...) IS ? does.
 */
enum store_status
pg_customers_list(struct store *st, const struct customer_filter *f, struct customer_row **out,
		  size_t *n)
{
	struct store_pg *s = PQS(st);
	GString *sql = g_string_new("SELECT " CUST_COLS " FROM ");
	GString *name = g_string_new("cust_list");
	GPtrArray *keep = g_ptr_array_new_with_free_func(g_free);
	struct pg_args a = {0};
	struct customer_row *v = NULL;
	enum store_status rc;
	PGresult *r;
	const char *key;
	json_t *val;
	size_t cnt;

	if (f->topic != NULL) {
		pg_arg_text(&a, f->topic);
		g_string_append_printf(sql,
				       "consent k JOIN customers c ON c.id = k.customer_id"
				       " WHERE k.topic = $%d",
				       a.n);
		g_string_append(name, "_t");
		if (f->consent_state != NULL) {
			pg_arg_text(&a, f->consent_state);
			g_string_append_printf(sql, " AND k.state = $%d", a.n);
			g_string_append(name, "s");
		}
		pg_arg_int(&a, f->after);
		g_string_append_printf(sql, " AND k.customer_id > $%d::bigint", a.n);
	} else {
		pg_arg_int(&a, f->after);
		g_string_append_printf(sql, "customers c WHERE c.id > $%d::bigint", a.n);
	}
	g_string_append(sql, " AND c.erased_ms IS NULL");
	if (f->email != NULL) {
		pg_arg_text(&a, f->email);
		g_string_append_printf(sql, " AND c.email = $%d", a.n);
		g_string_append(name, "_e");
	}
	if (f->stage != NULL) {
		pg_arg_text(&a, f->stage);
		g_string_append_printf(sql, " AND c.stage = $%d", a.n);
		g_string_append(name, "_g");
	}
	if (f->created_since_ms >= 0) {
		pg_arg_int(&a, f->created_since_ms);
		g_string_append_printf(sql, " AND c.created_ms >= $%d::bigint", a.n);
		g_string_append(name, "_c");
	}
	if (f->updated_since_ms >= 0) {
		pg_arg_int(&a, f->updated_since_ms);
		g_string_append_printf(sql, " AND c.updated_ms >= $%d::bigint", a.n);
		g_string_append(name, "_u");
	}
	json_object_foreach(f->attributes, key, val)
	{
		if (a.n + 3 > PG_ARGS_MAX)
			break;
		char *k = g_strdup(key), *jv = json_dumps(val, JSON_ENCODE_ANY | JSON_COMPACT);
		g_ptr_array_add(keep, k);
		g_ptr_array_add(keep, g_strdup(jv));
		free(jv);
		pg_arg_text(&a, k);
		pg_arg_text(&a, g_ptr_array_index(keep, keep->len - 1));
		g_string_append_printf(sql,
				       " AND coalesce((c.attributes::jsonb) -> $%d::text,"
				       " 'null'::jsonb) = $%d::jsonb",
				       a.n - 1, a.n);
		g_string_append(name, "_a");
	}
	pg_arg_int(&a, f->limit);
	g_string_append_printf(sql,
			       f->topic != NULL ? " ORDER BY k.customer_id LIMIT $%d"
						: " ORDER BY c.id LIMIT $%d",
			       a.n);
	/* The name outlives the call: the backend keeps it among the prepared ones. */
	struct pg_stmt q = {g_intern_string(name->str), sql->str};
	rc = pg_run(s, &q, &a, &r);
	g_string_free(sql, TRUE);
	g_string_free(name, TRUE);
	g_ptr_array_free(keep, TRUE);
	if (rc != STORE_OK)
		return rc;
	cnt = (size_t)PQntuples(r);
	v = cnt ? xcalloc(cnt, sizeof(*v)) : NULL;
	for (size_t i = 0; i < cnt; i++)
		cust_row_read(r, (int)i, &v[i]);
	PQclear(r);
	if (cnt > 0 && (rc = cust_list_consent(s, v, cnt)) != STORE_OK) {
		customer_rows_free(v, cnt);
		return rc;
	}
	*out = v;
	*n = cnt;
	return STORE_OK;
}

/* Every note of the customer, oldest first. */
static enum store_status
export_notes(struct store_pg *s, struct customer_export *x)
{
	static const struct pg_stmt q = {
	    "cust_export_notes", "SELECT journey_id, at_ms, campaign_id, step_id, action, reason,"
				 " channel, template FROM journey_notes WHERE customer_id = $1"
				 " ORDER BY at_ms, id"};
	struct pg_args a = {0};
	PGresult *r;
	enum store_status rc;

	pg_arg_int(&a, x->profile.id);
	if ((rc = pg_run(s, &q, &a, &r)) != STORE_OK)
		return rc;
	x->n_notes = (size_t)PQntuples(r);
	x->notes = x->n_notes ? xcalloc(x->n_notes, sizeof(*x->notes)) : NULL;
	for (int i = 0; i < PQntuples(r); i++) {
		struct export_note *e = &x->notes[i];
		e->journey_id = pg_int(r, i, 0);
		e->at_ms = pg_int(r, i, 1);
		e->campaign_id = pg_dup(r, i, 2);
		e->step_id = pg_dup(r, i, 3);
		e->action = pg_dup(r, i, 4);
		e->reason = pg_dup(r, i, 5);
		e->channel = pg_dup(r, i, 6);
		e->template = pg_dup(r, i, 7);
	}
	PQclear(r);
	return STORE_OK;
}

/* Every message of the customer with its payload, oldest first. */
static enum store_status
export_messages(struct store_pg *s, struct customer_export *x)
{
	static const struct pg_stmt q = {
	    "cust_export_messages",
	    "SELECT o.id, o.journey_id, o.attempts, o.created_ms, o.updated_ms, o.due_ms,"
	    " o.final_ms, o.message_id, o.channel, o.campaign_id, o.step_id, o.template, o.state,"
	    " o.sender, o.recipient, o.last_reply, o.reason, coalesce(p.payload, o.payload)"
	    " FROM outbox o LEFT JOIN outbox_payload p ON p.id = o.id WHERE o.customer_id = $1"
	    " ORDER BY o.created_ms, o.id"};
	struct pg_args a = {0};
	PGresult *r;
	enum store_status rc;

	pg_arg_int(&a, x->profile.id);
	if ((rc = pg_run(s, &q, &a, &r)) != STORE_OK)
		return rc;
	x->n_messages = (size_t)PQntuples(r);
	x->messages = x->n_messages ? xcalloc(x->n_messages, sizeof(*x->messages)) : NULL;
	for (int i = 0; i < PQntuples(r); i++) {
		struct export_message *m = &x->messages[i];
		m->id = pg_int(r, i, 0);
		m->journey_id = pg_int(r, i, 1);
		m->attempts = pg_int(r, i, 2);
		m->created_ms = pgr_opt_int(r, i, 3);
		m->updated_ms = pgr_opt_int(r, i, 4);
		m->due_ms = pgr_opt_int(r, i, 5);
		m->final_ms = pgr_opt_int(r, i, 6);
		m->message_id = pg_dup(r, i, 7);
		m->channel = pg_dup(r, i, 8);
		m->campaign_id = pg_dup(r, i, 9);
		m->step_id = pg_dup(r, i, 10);
		m->template = pg_dup(r, i, 11);
		m->state = pg_dup(r, i, 12);
		m->sender = pg_dup(r, i, 13);
		m->recipient = pg_dup(r, i, 14);
		m->last_reply = pg_dup(r, i, 15);
		m->reason = pg_dup(r, i, 16);
		m->payload = pg_blob(r, i, 17, &m->payload_len);
	}
	PQclear(r);
	return STORE_OK;
}

/* Everything held about EXT_ID: profile, consent, events, journeys, notes, messages. */
enum store_status
pg_customer_export(struct store *st, const char *ext_id, struct customer_export *x)
{
	static const struct pg_stmt pq = {
	    "cust_export_row", "SELECT " CUST_COLS " FROM customers c WHERE c.ext_id = $1"};
	static const struct pg_stmt eq = {"cust_export_events",
					  "SELECT seq, customer_id, '', event_key, type, time_ms,"
					  " properties FROM events WHERE customer_id = $1"
					  " ORDER BY time_ms, seq"};
	static const struct pg_stmt jq = {"cust_export_journeys",
					  "SELECT " PGR_J_COLS " FROM journeys"
					  " WHERE customer_id = $1 ORDER BY entered_ms, id"};
	struct store_pg *s = PQS(st);
	struct pg_args a = {0};
	PGresult *r;
	enum store_status rc;

	memset(x, 0, sizeof(*x));
	pg_arg_text(&a, ext_id);
	if ((rc = pg_run(s, &pq, &a, &r)) != STORE_OK)
		return rc;
	if (PQntuples(r) == 0) {
		PQclear(r);
		return STORE_NOTFOUND;
	}
	cust_row_read(r, 0, &x->profile);
	PQclear(r);
	if (x->profile.erased_ms >= 0) {
		customer_export_clear(x);
		return STORE_GONE;
	}
	if ((rc = pgr_consent_read(s, &x->profile)) != STORE_OK)
		goto fail;
	a.n = 0;
	pg_arg_int(&a, x->profile.id);
	if ((rc = pg_run(s, &eq, &a, &r)) != STORE_OK)
		goto fail;
	pgr_event_rows(r, &x->events, &x->n_events);
	PQclear(r);
	if ((rc = pg_run(s, &jq, &a, &r)) != STORE_OK)
		goto fail;
	pgr_journey_rows(r, &x->journeys, &x->n_journeys);
	PQclear(r);
	if ((rc = export_notes(s, x)) != STORE_OK || (rc = export_messages(s, x)) != STORE_OK)
		goto fail;
	return STORE_OK;
fail:
	customer_export_clear(x);
	return rc;
}
