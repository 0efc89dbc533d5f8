/*
 * The PostgreSQL backend's customer upserts (store_customers.h's customer_upsert and
 * customers_upsert), with the outcome of store_sqlite.c's upserts one after another. They go
 * by batch: the rows of every customer in it are read (and the new ones created) in one
 * statement, the items merged in C in order, and what changed written back in one statement
 * per table, from arrays.
 */
#include <glib.h>
#include <stdlib.h>
#include <string.h>

#include "store_customers.h"
#include "store_pg.h"
#include "store_pg_rows.h"
#include "util.h"

/* The profile columns an upsert compares and rewrites, in this order after id. */
static const char *const cust_fields[] = {"email", "name", "locale", "timezone", "birthday"};
#define CUST_NFIELDS 5

/* A customer of a batch as stored, then as the batch's items leave it. */
struct cust_state {
	int64_t id, created_ms;
	int erased;
	char *v[CUST_NFIELDS]; /* email, name, locale, timezone, birthday */
	json_t *attributes;
	int dirty;	     /* the profile is to be written */
	GHashTable *consent; /* topic -> struct cust_consent (read only when the batch has some) */
};

struct cust_consent {
	char *state;	    /* NULL: no row */
	const char *source; /* the last change's, borrowed */
	int64_t ms;
	int dirty;
};

static void
cust_consent_free(gpointer p)
{
	struct cust_consent *c = p;
	free(c->state);
	free(c);
}

static void
cust_state_free(gpointer p)
{
	struct cust_state *c = p;
	for (int i = 0; i < CUST_NFIELDS; i++)
		free(c->v[i]);
	json_decref(c->attributes);
	if (c->consent != NULL)
		g_hash_table_destroy(c->consent);
	free(c);
}

static int
cust_same(const char *a, const char *b)
{
	return a == NULL ? b == NULL : b != NULL && strcmp(a, b) == 0;
}

/*
 * The batch statements take arrays, so the planner plans them again at each run (their
 * cost depends on the arrays' sizes); a batch of one customer (an event's profile, an API
 * upsert) goes through these, planned once per connection.
 */
static const struct pg_stmt cust_read_one = {
    "cust_read_one",
    "WITH ins AS (INSERT INTO customers (ext_id, created_ms, updated_ms)"
    " SELECT $1::text, $2::bigint, $2::bigint WHERE NOT EXISTS (SELECT 1 FROM customers"
    " WHERE ext_id = $1::text) ON CONFLICT (ext_id) DO NOTHING"
    " RETURNING id, ext_id, email, name, locale, timezone, birthday, attributes, created_ms,"
    " erased_ms)"
    " SELECT * FROM ins UNION ALL SELECT id, ext_id, email, name, locale, timezone, birthday,"
    " attributes, created_ms, erased_ms FROM customers WHERE ext_id = $1::text"};
static const struct pg_stmt cust_write_one = {
    "cust_write_one", "UPDATE customers SET email = $2, name = $3, locale = $4, timezone = $5,"
		      " birthday = $6, attributes = $7, updated_ms = $8, erased_ms = NULL"
		      " WHERE id = $1"};
static const struct pg_stmt cust_consent_one = {
    "cust_consent_one", "SELECT customer_id, topic, state FROM consent WHERE customer_id = $1"};

/* The ext_id of every item not skipped when they are all the same one, else NULL. */
static const char *
cust_batch_one(const struct customer_item *items, size_t n)
{
	const char *one = NULL;
	for (size_t i = 0; i < n; i++) {
		if (items[i].skip)
			continue;
		if (one != NULL && strcmp(one, items[i].ext_id) != 0)
			return NULL;
		one = items[i].ext_id;
	}
	return one;
}

/*
 * Reads every customer of the batch, creating the missing ones (with NOW_MS as created and
 * updated): a hash of ext_id -> struct cust_state.
 */
static enum store_status
cust_batch_read(struct store_pg *s, struct customer_item *items, size_t n, int64_t now_ms,
		GHashTable *out)
{
	static const struct pg_stmt q = {
	    "cust_batch_read",
	    "WITH k AS (SELECT DISTINCT unnest($1::text[]) AS ext_id),"
	    " ins AS (INSERT INTO customers (ext_id, created_ms, updated_ms)"
	    " SELECT k.ext_id, $2::bigint, $2::bigint FROM k WHERE NOT EXISTS (SELECT 1"
	    " FROM customers c WHERE c.ext_id = k.ext_id) ON CONFLICT (ext_id) DO NOTHING"
	    " RETURNING id, ext_id, email, name, locale, timezone, birthday, attributes,"
	    " created_ms, erased_ms)"
	    " SELECT * FROM ins UNION ALL SELECT id, ext_id, email, name, locale, timezone,"
	    " birthday, attributes, created_ms, erased_ms FROM customers"
	    " WHERE ext_id = ANY ($1::text[])"};
	struct pgr_array keys;
	struct pg_args a = {0};
	PGresult *r;
	enum store_status rc;
	const char *one = cust_batch_one(items, n);

	pgr_array_init(&keys);
	for (size_t i = 0; i < n; i++)
		if (!items[i].skip)
			pgr_array_text(&keys, items[i].ext_id);
	pgr_array_end(&keys);
	pg_arg_text(&a, one ? one : keys.s->str);
	pg_arg_int(&a, now_ms);
	rc = pg_run(s, one ? &cust_read_one : &q, &a, &r);
	pgr_array_free(&keys);
	if (rc != STORE_OK)
		return rc;
	for (int i = 0; i < PQntuples(r); i++) {
		struct cust_state *c = xcalloc(1, sizeof(*c));
		c->id = pg_int(r, i, 0);
		for (int f = 0; f < CUST_NFIELDS; f++)
			c->v[f] = pg_dup(r, i, 2 + f);
		c->attributes = pgr_json(r, i, 7);
		c->created_ms = pg_int(r, i, 8);
		c->erased = !pg_isnull(r, i, 9);
		g_hash_table_replace(out, xstrdup(pg_str(r, i, 1)), c);
	}
	PQclear(r);
	/* One another writer created after the snapshot is not there: the caller reads again. */
	for (size_t i = 0; i < n; i++)
		if (!items[i].skip && !g_hash_table_contains(out, items[i].ext_id))
			return STORE_NOTFOUND;
	return STORE_OK;
}

/* The consent rows of the batch's customers, into each one's table. */
static enum store_status
cust_batch_consent_read(struct store_pg *s, GHashTable *cust)
{
	static const struct pg_stmt q = {"cust_batch_consent",
					 "SELECT customer_id, topic, state FROM consent"
					 " WHERE customer_id = ANY ($1::bigint[])"};
	struct pgr_array ids;
	struct pg_args a = {0};
	GHashTable *by_id = g_hash_table_new(g_int64_hash, g_int64_equal);
	GHashTableIter it;
	gpointer k, v;
	PGresult *r;
	enum store_status rc;

	pgr_array_init(&ids);
	g_hash_table_iter_init(&it, cust);
	while (g_hash_table_iter_next(&it, &k, &v)) {
		struct cust_state *c = v;
		c->consent =
		    g_hash_table_new_full(g_str_hash, g_str_equal, free, cust_consent_free);
		g_hash_table_insert(by_id, &c->id, c);
		pgr_array_int(&ids, c->id);
	}
	pgr_array_end(&ids);
	if (g_hash_table_size(cust) == 1) {
		pg_arg_text(&a, ids.s->str + 1); /* "{ID}": the id */
		ids.s->str[ids.s->len - 1] = '\0';
		rc = pg_run(s, &cust_consent_one, &a, &r);
	} else {
		pg_arg_text(&a, ids.s->str);
		rc = pg_run(s, &q, &a, &r);
	}
	pgr_array_free(&ids);
	if (rc == STORE_OK) {
		for (int i = 0; i < PQntuples(r); i++) {
			int64_t id = pg_int(r, i, 0);
			struct cust_state *c = g_hash_table_lookup(by_id, &id);
			if (c == NULL)
				continue;
			struct cust_consent *e = xcalloc(1, sizeof(*e));
			e->state = pg_dup(r, i, 2);
			g_hash_table_replace(c->consent, xstrdup(pg_str(r, i, 1)), e);
		}
		PQclear(r);
	}
	g_hash_table_destroy(by_id);
	return rc;
}

/*
 * One item applied to its customer's state as SQLite's upsert applies it to the row: profile
 * fields replace (null clears), attributes merge key by key (null deletes), consent changes
 * per topic. An item that changes nothing leaves the row alone. Returns whether it changed.
 */
static int
cust_apply(struct cust_state *c, const struct customer_item *it, const char *source, int64_t now_ms)
{
	json_t *fields = it->fields, *attrs, *patch, *v;
	const char *key;
	char *next[CUST_NFIELDS];
	int same, changed = 0;

	attrs = json_deep_copy(c->attributes);
	patch = json_object_get(fields, "attributes");
	json_object_foreach(patch, key, v)
	{
		if (json_is_null(v))
			json_object_del(attrs, key);
		else
			json_object_set(attrs, key, v);
	}
	same = !c->erased && c->created_ms != now_ms && json_equal(attrs, c->attributes);
	for (int f = 0; f < CUST_NFIELDS; f++) {
		json_t *fv = json_object_get(fields, cust_fields[f]);
		next[f] = fv != NULL
			      ? (json_string_value(fv) ? xstrdup(json_string_value(fv)) : NULL)
			      : (c->v[f] ? xstrdup(c->v[f]) : NULL);
		same = same && cust_same(next[f], c->v[f]);
	}
	if (!same) {
		for (int f = 0; f < CUST_NFIELDS; f++) {
			free(c->v[f]);
			c->v[f] = next[f];
		}
		json_decref(c->attributes);
		c->attributes = attrs;
		c->erased = 0;
		c->dirty = changed = 1;
	} else {
		for (int f = 0; f < CUST_NFIELDS; f++)
			free(next[f]);
		json_decref(attrs);
	}
	json_object_foreach(json_object_get(fields, "consent"), key, v)
	{
		const char *state = json_string_value(v);
		struct cust_consent *e = g_hash_table_lookup(c->consent, key);
		if (state == NULL)
			continue;
		if (e == NULL) {
			e = xcalloc(1, sizeof(*e));
			g_hash_table_insert(c->consent, xstrdup(key), e);
		}
		if (e->state != NULL && strcmp(e->state, state) == 0)
			continue;
		free(e->state);
		e->state = xstrdup(state);
		e->source = source;
		e->ms = it->consent_ms;
		e->dirty = changed = 1;
	}
	return changed;
}

/* Writes the profiles the batch changed: one UPDATE from arrays. */
static enum store_status
cust_batch_write(struct store_pg *s, GHashTable *cust, int64_t now_ms)
{
	static const struct pg_stmt q = {
	    "cust_batch_write",
	    "UPDATE customers c SET email = u.email, name = u.name, locale = u.locale,"
	    " timezone = u.timezone, birthday = u.birthday, attributes = u.attributes,"
	    " updated_ms = $8::bigint, erased_ms = NULL FROM unnest($1::bigint[], $2::text[],"
	    " $3::text[], $4::text[], $5::text[], $6::text[], $7::text[]) AS u(id, email, name,"
	    " locale, timezone, birthday, attributes) WHERE c.id = u.id"};
	struct pgr_array arr[7];
	struct pg_args a = {0};
	struct cust_state *one = NULL;
	GHashTableIter it;
	gpointer k, v;
	size_t rows = 0;
	enum store_status rc;

	for (int i = 0; i < 7; i++)
		pgr_array_init(&arr[i]);
	g_hash_table_iter_init(&it, cust);
	while (g_hash_table_iter_next(&it, &k, &v)) {
		struct cust_state *c = v;
		if (!c->dirty)
			continue;
		char *attrs = json_dumps(c->attributes, JSON_COMPACT | JSON_SORT_KEYS);
		pgr_array_int(&arr[0], c->id);
		for (int f = 0; f < CUST_NFIELDS; f++)
			pgr_array_text(&arr[1 + f], c->v[f]);
		pgr_array_text(&arr[6], attrs);
		free(attrs);
		one = c;
		rows++;
	}
	for (int i = 0; i < 7; i++) {
		pgr_array_end(&arr[i]);
		pg_arg_text(&a, arr[i].s->str);
	}
	pg_arg_int(&a, now_ms);
	if (rows == 1) {
		char *attrs = json_dumps(one->attributes, JSON_COMPACT | JSON_SORT_KEYS);
		a.n = 0;
		pg_arg_int(&a, one->id);
		for (int f = 0; f < CUST_NFIELDS; f++)
			pg_arg_text(&a, one->v[f]);
		pg_arg_text(&a, attrs);
		pg_arg_int(&a, now_ms);
		rc = pg_send(s, &cust_write_one, &a);
		free(attrs);
	} else
		rc = rows > 0 ? pg_send(s, &q, &a) : STORE_OK;
	for (int i = 0; i < 7; i++)
		pgr_array_free(&arr[i]);
	return rc;
}

/* Writes the consent the batch changed: one upsert from arrays. */
static enum store_status
cust_batch_consent_write(struct store_pg *s, GHashTable *cust)
{
	static const struct pg_stmt q = {
	    "cust_batch_consent_write",
	    "INSERT INTO consent (customer_id, topic, state, updated_ms, source)"
	    " SELECT * FROM unnest($1::bigint[], $2::text[], $3::text[], $4::bigint[], $5::text[])"
	    " ON CONFLICT (customer_id, topic) DO UPDATE SET state = excluded.state,"
	    " updated_ms = excluded.updated_ms, source = excluded.source"
	    " WHERE consent.state <> excluded.state"};
	struct pgr_array arr[5];
	struct pg_args a = {0};
	GHashTableIter it, ct;
	gpointer k, v, tk, tv;
	size_t rows = 0;
	enum store_status rc;

	for (int i = 0; i < 5; i++)
		pgr_array_init(&arr[i]);
	g_hash_table_iter_init(&it, cust);
	while (g_hash_table_iter_next(&it, &k, &v)) {
		struct cust_state *c = v;
		if (c->consent == NULL)
			continue;
		g_hash_table_iter_init(&ct, c->consent);
		while (g_hash_table_iter_next(&ct, &tk, &tv)) {
			struct cust_consent *e = tv;
			if (!e->dirty)
				continue;
			pgr_array_int(&arr[0], c->id);
			pgr_array_text(&arr[1], tk);
			pgr_array_text(&arr[2], e->state);
			pgr_array_int(&arr[3], e->ms);
			pgr_array_text(&arr[4], e->source);
			rows++;
		}
	}
	for (int i = 0; i < 5; i++) {
		pgr_array_end(&arr[i]);
		pg_arg_text(&a, arr[i].s->str);
	}
	rc = rows > 0 ? pg_send(s, &q, &a) : STORE_OK;
	for (int i = 0; i < 5; i++)
		pgr_array_free(&arr[i]);
	return rc;
}

/*
 * The batch upsert: the same outcome as SQLite's upserts one after another in the caller's
 * transaction (an item sees the ones before it), in four statements at most. IDS (may be
 * NULL) gets each item's customer id.
 */
static enum store_status
cust_upsert_batch(struct store *st, struct customer_item *items, size_t n, const char *source,
		  int64_t now_ms, int64_t *ids)
{
	struct store_pg *s = PQS(st);
	GHashTable *cust = g_hash_table_new_full(g_str_hash, g_str_equal, free, cust_state_free);
	enum store_status rc;
	int with_consent = 0;

	for (size_t i = 0; i < n; i++)
		if (!items[i].skip && json_object_size(json_object_get(items[i].fields, "consent")))
			with_consent = 1;
	rc = cust_batch_read(s, items, n, now_ms, cust);
	if (rc == STORE_NOTFOUND) {
		g_hash_table_remove_all(cust);
		rc = cust_batch_read(s, items, n, now_ms, cust);
		if (rc == STORE_NOTFOUND)
			rc = STORE_UNAVAILABLE;
	}
	if (rc == STORE_OK && with_consent)
		rc = cust_batch_consent_read(s, cust);
	for (size_t i = 0; rc == STORE_OK && i < n; i++) {
		if (items[i].skip)
			continue;
		struct cust_state *c = g_hash_table_lookup(cust, items[i].ext_id);
		if (c->consent == NULL)
			c->consent =
			    g_hash_table_new_full(g_str_hash, g_str_equal, free, cust_consent_free);
		items[i].changed = cust_apply(c, &items[i], source, now_ms);
		if (ids != NULL)
			ids[i] = c->id;
	}
	if (rc == STORE_OK)
		rc = cust_batch_write(s, cust, now_ms);
	if (rc == STORE_OK && with_consent)
		rc = cust_batch_consent_write(s, cust);
	g_hash_table_destroy(cust);
	return rc;
}

enum store_status
pg_customers_upsert(struct store *st, struct customer_item *items, size_t n, const char *source,
		    int64_t now_ms)
{
	return cust_upsert_batch(st, items, n, source, now_ms, NULL);
}

/* A single upsert is a batch of one, with the API as its consent's source. */
enum store_status
pg_customer_upsert(struct store *st, const char *ext_id, json_t *fields, int64_t now_ms,
		   int64_t *id)
{
	struct customer_item it = {.ext_id = ext_id, .fields = fields, .consent_ms = now_ms};
	return cust_upsert_batch(st, &it, 1, "api", now_ms, id);
}
