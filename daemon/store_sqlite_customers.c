/*
 * The SQLite backend's customer data (issue 20): the listing with its filters and cursor,
 * and the export of everything held about one customer. Rows come back as structs; the API's
 * JSON is built in api_customers_list.c.
 */
#include <glib.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "store_sqlite.h"
#include "util.h"

#define CUST_COLS                                                                                  \
	"c.id, c.ext_id, c.email, c.name, c.locale, c.timezone, c.birthday, c.stage,"              \
	" c.attributes, c.created_ms, c.updated_ms, c.stage_since_ms, c.erased_ms"

void
customer_row_clear(struct customer_row *c)
{
	free(c->ext_id);
	free(c->email);
	free(c->name);
	free(c->locale);
	free(c->timezone);
	free(c->birthday);
	free(c->stage);
	json_decref(c->attributes);
	for (size_t i = 0; i < c->n_consent; i++) {
		free(c->consent[i].topic);
		free(c->consent[i].state);
		free(c->consent[i].source);
		free(c->consent[i].confirmed_addr);
	}
	free(c->consent);
	memset(c, 0, sizeof(*c));
}

void
customer_rows_free(struct customer_row *v, size_t n)
{
	for (size_t i = 0; v != NULL && i < n; i++)
		customer_row_clear(&v[i]);
	free(v);
}

void
customer_export_clear(struct customer_export *x)
{
	customer_row_clear(&x->profile);
	store_events_free(x->events, x->n_events);
	journeys_free(x->journeys, x->n_journeys);
	export_notes_free(x->notes, x->n_notes);
	for (size_t i = 0; i < x->n_messages; i++) {
		struct export_message *m = &x->messages[i];
		free(m->message_id);
		free(m->channel);
		free(m->campaign_id);
		free(m->step_id);
		free(m->template);
		free(m->state);
		free(m->sender);
		free(m->recipient);
		free(m->last_reply);
		free(m->reason);
		free(m->payload);
	}
	free(x->messages);
	memset(x, 0, sizeof(*x));
}

/* One row of CUST_COLS. */
static void
customer_row_read(sqlite3_stmt *q, struct customer_row *c)
{
	c->id = sqlite3_column_int64(q, 0);
	c->ext_id = store_sqlite_text_dup(q, 1);
	c->email = store_sqlite_text_dup(q, 2);
	c->name = store_sqlite_text_dup(q, 3);
	c->locale = store_sqlite_text_dup(q, 4);
	c->timezone = store_sqlite_text_dup(q, 5);
	c->birthday = store_sqlite_text_dup(q, 6);
	c->stage = store_sqlite_text_dup(q, 7);
	c->attributes = store_sqlite_json_column(q, 8);
	c->created_ms = store_sqlite_opt_int(q, 9);
	c->updated_ms = store_sqlite_opt_int(q, 10);
	c->stage_since_ms = store_sqlite_opt_int(q, 11);
	c->erased_ms = store_sqlite_opt_int(q, 12);
}

/* Prepares SQL for one use; NULL with the status in *RC. */
static sqlite3_stmt *
customers_prepare(struct store_sqlite *s, const char *sql, enum store_status *rc)
{
	sqlite3_stmt *q = NULL;
	int r = sqlite3_prepare_v2(s->db, sql, -1, &q, NULL);
	*rc = r == SQLITE_OK ? STORE_OK : store_sqlite_status(s, r);
	return q;
}

/* The consent rows of customer C, in topic order. */
enum store_status
store_sqlite_consent_read(struct store_sqlite *s, struct customer_row *c)
{
	sqlite3_stmt *q = s->q[Q_CONSENT_LIST];
	int rc;

	sqlite3_bind_int64(q, 1, c->id);
	while ((rc = sqlite3_step(q)) == SQLITE_ROW) {
		c->consent = xrealloc(c->consent, (c->n_consent + 1) * sizeof(*c->consent));
		struct customer_consent *k = &c->consent[c->n_consent++];
		k->topic = store_sqlite_text_dup(q, 0);
		k->state = store_sqlite_text_dup(q, 1);
		k->updated_ms = store_sqlite_opt_int(q, 2);
		k->source = store_sqlite_text_dup(q, 3);
		k->requested_ms = store_sqlite_opt_int(q, 4);
		k->confirmed_ms = store_sqlite_opt_int(q, 5);
		k->confirmed_addr = store_sqlite_text_dup(q, 6);
	}
	sqlite3_reset(q);
	sqlite3_clear_bindings(q);
	return rc == SQLITE_DONE ? STORE_OK : store_sqlite_status(s, rc);
}

/* Binds a JSON scalar as the value json_extract gives for it. */
static void
customers_bind_json(sqlite3_stmt *q, int i, json_t *v)
{
	if (json_is_integer(v))
		sqlite3_bind_int64(q, i, json_integer_value(v));
	else if (json_is_real(v))
		sqlite3_bind_double(q, i, json_real_value(v));
	else if (json_is_boolean(v))
		sqlite3_bind_int(q, i, json_is_true(v));
	else if (json_is_string(v))
		sqlite3_bind_text(q, i, json_string_value(v), -1, SQLITE_TRANSIENT);
	else
		sqlite3_bind_null(q, i);
}

/*
 * The statement is built for the filters given, so that SQLite picks the index that drives
 * it: email (customers_email), stage (customers_stage), consent (consent_topic), and always
 * the id range of the cursor (the primary key). Attribute filters are checked on the rows
 * the rest selects.
 */
enum store_status
store_sqlite_customers_list(struct store *st, const struct customer_filter *f,
			    struct customer_row **out, size_t *n)
{
	struct store_sqlite *s = SQ(st);
	GString *sql = g_string_new("SELECT " CUST_COLS " FROM ");
	struct customer_row *v = NULL;
	enum store_status rc;
	sqlite3_stmt *q;
	const char *key;
	json_t *val;
	size_t cnt = 0;
	int i = 1, r;

	if (f->topic != NULL)
		g_string_append(sql, "consent k JOIN customers c ON c.id = k.customer_id"
				     " WHERE k.topic = ?1 AND (?2 IS NULL OR k.state = ?2)"
				     " AND k.customer_id > ?3");
	else
		g_string_append(sql, "customers c WHERE ?1 IS NULL AND ?2 IS NULL AND c.id > ?3");
	g_string_append(sql, " AND c.erased_ms IS NULL");
	if (f->email != NULL)
		g_string_append(sql, " AND c.email = ?4");
	if (f->stage != NULL)
		g_string_append(sql, " AND c.stage = ?5");
	if (f->created_since_ms >= 0)
		g_string_append(sql, " AND c.created_ms >= ?6");
	if (f->updated_since_ms >= 0)
		g_string_append(sql, " AND c.updated_ms >= ?7");
	i = 10;
	json_object_foreach(f->attributes, key, val)
	{
		(void)val;
		g_string_append_printf(sql, " AND json_extract(c.attributes, ?%d) IS ?%d", i,
				       i + 1);
		i += 2;
	}
	g_string_append(sql, f->topic != NULL ? " ORDER BY k.customer_id LIMIT ?8"
					      : " ORDER BY c.id LIMIT ?8");
	q = customers_prepare(s, sql->str, &rc);
	g_string_free(sql, TRUE);
	if (q == NULL)
		return rc;
	if (f->topic != NULL) {
		sqlite3_bind_text(q, 1, f->topic, -1, SQLITE_STATIC);
		if (f->consent_state != NULL)
			sqlite3_bind_text(q, 2, f->consent_state, -1, SQLITE_STATIC);
	}
	sqlite3_bind_int64(q, 3, f->after);
	if (f->email != NULL)
		sqlite3_bind_text(q, 4, f->email, -1, SQLITE_STATIC);
	if (f->stage != NULL)
		sqlite3_bind_text(q, 5, f->stage, -1, SQLITE_STATIC);
	if (f->created_since_ms >= 0)
		sqlite3_bind_int64(q, 6, f->created_since_ms);
	if (f->updated_since_ms >= 0)
		sqlite3_bind_int64(q, 7, f->updated_since_ms);
	sqlite3_bind_int(q, 8, f->limit);
	i = 10;
	json_object_foreach(f->attributes, key, val)
	{
		char *path = g_strdup_printf("$.\"%s\"", key);
		sqlite3_bind_text(q, i, path, -1, g_free);
		customers_bind_json(q, i + 1, val);
		i += 2;
	}
	while ((r = sqlite3_step(q)) == SQLITE_ROW) {
		v = xrealloc(v, (cnt + 1) * sizeof(*v));
		memset(&v[cnt], 0, sizeof(*v));
		customer_row_read(q, &v[cnt++]);
	}
	sqlite3_finalize(q);
	rc = r == SQLITE_DONE ? STORE_OK : store_sqlite_status(s, r);
	for (size_t k = 0; rc == STORE_OK && k < cnt; k++)
		rc = store_sqlite_consent_read(s, &v[k]);
	if (rc != STORE_OK) {
		customer_rows_free(v, cnt);
		return rc;
	}
	*out = v;
	*n = cnt;
	return STORE_OK;
}

/* Every note of the customer, oldest first. */
static enum store_status
export_notes(struct store_sqlite *s, struct customer_export *x)
{
	enum store_status rc;
	sqlite3_stmt *q =
	    customers_prepare(s,
			      "SELECT journey_id, at_ms, campaign_id, step_id, action, reason,"
			      " channel, template FROM journey_notes WHERE customer_id = ?1"
			      " ORDER BY at_ms, id",
			      &rc);
	int r;

	if (q == NULL)
		return rc;
	sqlite3_bind_int64(q, 1, x->profile.id);
	while ((r = sqlite3_step(q)) == SQLITE_ROW) {
		x->notes = xrealloc(x->notes, (x->n_notes + 1) * sizeof(*x->notes));
		struct export_note *e = &x->notes[x->n_notes++];
		e->journey_id = sqlite3_column_int64(q, 0);
		e->at_ms = sqlite3_column_int64(q, 1);
		e->campaign_id = store_sqlite_text_dup(q, 2);
		e->step_id = store_sqlite_text_dup(q, 3);
		e->action = store_sqlite_text_dup(q, 4);
		e->reason = store_sqlite_text_dup(q, 5);
		e->channel = store_sqlite_text_dup(q, 6);
		e->template = store_sqlite_text_dup(q, 7);
	}
	sqlite3_finalize(q);
	return r == SQLITE_DONE ? STORE_OK : store_sqlite_status(s, r);
}

/* Every message of the customer with its payload, oldest first. */
static enum store_status
export_messages(struct store_sqlite *s, struct customer_export *x)
{
	enum store_status rc;
	sqlite3_stmt *q = customers_prepare(
	    s,
	    "SELECT o.id, o.journey_id, o.attempts, o.created_ms, o.updated_ms, o.due_ms,"
	    " o.final_ms, o.message_id, o.channel, o.campaign_id, o.step_id, o.template, o.state,"
	    " o.sender, o.recipient, o.last_reply, o.reason,"
	    " coalesce(p.payload, o.payload) FROM outbox o LEFT JOIN outbox_payload p"
	    " ON p.id = o.id WHERE o.customer_id = ?1 ORDER BY o.created_ms, o.id",
	    &rc);
	int r;

	if (q == NULL)
		return rc;
	sqlite3_bind_int64(q, 1, x->profile.id);
	while ((r = sqlite3_step(q)) == SQLITE_ROW) {
		x->messages = xrealloc(x->messages, (x->n_messages + 1) * sizeof(*x->messages));
		struct export_message *m = &x->messages[x->n_messages++];
		memset(m, 0, sizeof(*m));
		m->id = sqlite3_column_int64(q, 0);
		m->journey_id = sqlite3_column_int64(q, 1);
		m->attempts = sqlite3_column_int64(q, 2);
		m->created_ms = store_sqlite_opt_int(q, 3);
		m->updated_ms = store_sqlite_opt_int(q, 4);
		m->due_ms = store_sqlite_opt_int(q, 5);
		m->final_ms = store_sqlite_opt_int(q, 6);
		m->message_id = store_sqlite_text_dup(q, 7);
		m->channel = store_sqlite_text_dup(q, 8);
		m->campaign_id = store_sqlite_text_dup(q, 9);
		m->step_id = store_sqlite_text_dup(q, 10);
		m->template = store_sqlite_text_dup(q, 11);
		m->state = store_sqlite_text_dup(q, 12);
		m->sender = store_sqlite_text_dup(q, 13);
		m->recipient = store_sqlite_text_dup(q, 14);
		m->last_reply = store_sqlite_text_dup(q, 15);
		m->reason = store_sqlite_text_dup(q, 16);
		if (sqlite3_column_type(q, 17) != SQLITE_NULL) {
			m->payload_len = (size_t)sqlite3_column_bytes(q, 17);
			m->payload = xmalloc(m->payload_len + 1);
			memcpy(m->payload, sqlite3_column_blob(q, 17), m->payload_len);
			m->payload[m->payload_len] = '\0';
		}
	}
	sqlite3_finalize(q);
	return r == SQLITE_DONE ? STORE_OK : store_sqlite_status(s, r);
}

enum store_status
store_sqlite_customer_export(struct store *st, const char *ext_id, struct customer_export *x)
{
	struct store_sqlite *s = SQ(st);
	enum store_status rc;
	sqlite3_stmt *q;
	int r;

	memset(x, 0, sizeof(*x));
	q = customers_prepare(s, "SELECT " CUST_COLS " FROM customers c WHERE c.ext_id = ?1", &rc);
	if (q == NULL)
		return rc;
	sqlite3_bind_text(q, 1, ext_id, -1, SQLITE_STATIC);
	r = sqlite3_step(q);
	if (r == SQLITE_ROW)
		customer_row_read(q, &x->profile);
	sqlite3_finalize(q);
	if (r != SQLITE_ROW)
		return r == SQLITE_DONE ? STORE_NOTFOUND : store_sqlite_status(s, r);
	if (x->profile.erased_ms >= 0) {
		customer_export_clear(x);
		return STORE_GONE;
	}
	if ((rc = store_sqlite_consent_read(s, &x->profile)) != STORE_OK)
		goto fail;
	q = customers_prepare(s,
			      "SELECT seq, customer_id, '', event_key, type, time_ms, properties"
			      " FROM events WHERE customer_id = ?1 ORDER BY time_ms, seq",
			      &rc);
	if (q == NULL)
		goto fail;
	sqlite3_bind_int64(q, 1, x->profile.id);
	rc = store_sqlite_event_rows(s, q, &x->events, &x->n_events);
	sqlite3_finalize(q);
	if (rc != STORE_OK)
		goto fail;
	q = customers_prepare(s,
			      "SELECT " J_COLS " FROM journeys WHERE customer_id = ?1"
			      " ORDER BY entered_ms, id",
			      &rc);
	if (q == NULL)
		goto fail;
	sqlite3_bind_int64(q, 1, x->profile.id);
	rc = store_sqlite_journey_rows(s, q, &x->journeys, &x->n_journeys);
	sqlite3_finalize(q);
	if (rc != STORE_OK)
		goto fail;
	if ((rc = export_notes(s, x)) != STORE_OK || (rc = export_messages(s, x)) != STORE_OK)
		goto fail;
	return STORE_OK;
fail:
	customer_export_clear(x);
	return rc;
}

/* One upsert after another in the caller's transaction: a batch of an import is one commit. */
enum store_status
store_sqlite_customers_upsert(struct store *st, struct customer_item *items, size_t n,
			      const char *source, int64_t now_ms)
{
	for (size_t i = 0; i < n; i++) {
		int64_t id;
		enum store_status rc;
		if (items[i].skip)
			continue;
		rc = store_sqlite_customer_upsert_from(st, items[i].ext_id, items[i].fields, now_ms,
						       source, items[i].consent_ms, &id,
						       &items[i].changed);
		if (rc != STORE_OK)
			return rc;
	}
	return STORE_OK;
}

/* The SQLite backend's table of customers and consent (store_customer.h). */
const struct store_customer_ops store_sqlite_customer_ops = {
    .customer_upsert = store_sqlite_customer_upsert,
    .customer_ensure = store_sqlite_customer_ensure,
    .customer_get = store_sqlite_customer_get,
    .customer_erase = store_sqlite_customer_erase,
    .customer_lookup = store_sqlite_customer_lookup,
    .consent_get = store_sqlite_consent_get,
    .consent_update = store_sqlite_consent_update,
    .system_visit = store_sqlite_system_visit,
    .suppression_add = store_sqlite_suppression_add,
    .suppressed = store_sqlite_suppressed,
    .suppression_delete = store_sqlite_suppression_delete,
    .suppressions_list = store_sqlite_suppressions_list,
    .customers_list = store_sqlite_customers_list,
    .customer_export = store_sqlite_customer_export,
    .customers_upsert = store_sqlite_customers_upsert,
    .purchase_stats = store_sqlite_purchase_stats,
    .purchase_add = store_sqlite_purchase_add,
    .stage_set = store_sqlite_stage_set,
};
