/*
 * The PostgreSQL backend's operations of store_events.h, mirroring store_sqlite.c's event
 * insert and store_sqlite_engine.c's cursor. An event's number comes from the events_seq
 * sequence, not from memory: several daemons may insert into one database.
 */
#include <stdlib.h>
#include <string.h>

#include "store_customers.h"
#include "store_events.h"
#include "store_pg.h"
#include "store_pg_rows.h"
#include "util.h"

/* Row ROW of R (seq, stored hash, inserted): STORE_OK with *SEQ, or a duplicate or conflict. */
static enum store_status
pg_event_outcome(PGresult *r, int row, const struct nt_event *ev, int64_t *seq)
{
	if (strcmp(pg_str(r, row, 2), "t") == 0) {
		*seq = pg_int(r, row, 0);
		return STORE_OK;
	}
	const char *h = pg_str(r, row, 1);
	return (h == NULL || strcmp(h, ev->hash) == 0 || strcmp(h, "erased") == 0) ? STORE_DUPLICATE
										   : STORE_CONFLICT;
}

/*
 * One row per (customer, key): an existing key is a duplicate or, with other content, a
 * conflict. One statement: the insert runs (and takes a number) only when the key is new,
 * otherwise the stored content hash comes back to compare.
 */
static enum store_status
pg_event_insert_id(struct store *st, int64_t customer_id, const struct nt_event *ev,
		   int64_t received_ms, int64_t *seq)
{
	static const struct pg_stmt q = {
	    "ev_insert",
	    "WITH ins AS (INSERT INTO events (customer_id, event_key, type, time_ms, received_ms,"
	    " properties, content_hash, seq) SELECT $1::bigint, $2::text, $3::text, $4::bigint,"
	    " $5::bigint, $6::text, $7::text, nextval('events_seq') WHERE NOT EXISTS (SELECT 1"
	    " FROM events WHERE customer_id = $1::bigint AND event_key = $2::text)"
	    " ON CONFLICT (customer_id, event_key) DO NOTHING RETURNING seq)"
	    " SELECT seq, NULL::text, true FROM ins UNION ALL SELECT NULL::bigint, content_hash,"
	    " false FROM events WHERE customer_id = $1::bigint AND event_key = $2::text"};
	static const struct pg_stmt again = {
	    "ev_insert_hash",
	    "SELECT NULL::bigint, content_hash, false FROM events WHERE customer_id = $1::bigint"
	    " AND event_key = $2::text"};
	struct pg_args a = {0};
	PGresult *r;
	enum store_status rc;
	char *props = json_dumps(ev->properties, JSON_COMPACT);

	pg_arg_int(&a, customer_id);
	pg_arg_text(&a, ev->key);
	pg_arg_text(&a, ev->type);
	pg_arg_int(&a, ev->time_ms);
	pg_arg_int(&a, received_ms);
	pg_arg_text(&a, props);
	pg_arg_text(&a, ev->hash);
	rc = pg_run(PQS(st), &q, &a, &r);
	free(props);
	if (rc != STORE_OK)
		return rc;
	if (PQntuples(r) == 0) {
		/* Another writer inserted the key after this statement's snapshot. */
		PQclear(r);
		a.n = 2;
		if ((rc = pg_run(PQS(st), &again, &a, &r)) != STORE_OK)
			return rc;
		if (PQntuples(r) == 0) {
			PQclear(r);
			return STORE_UNAVAILABLE;
		}
	}
	rc = pg_event_outcome(r, 0, ev, seq);
	PQclear(r);
	return rc;
}

/*
 * The customer and the event in one statement (a new customer is created first, in a CTE
 * whose id the insert uses): one round trip where ensure-then-insert took two. A row tells
 * what happened: inserted (seq), or the stored key's hash, or, when another writer created
 * the customer or the key after this statement's snapshot, only the customer's id or nothing;
 * then the two-statement way settles it.
 */
static const struct pg_stmt ev_insert_ext = {
    "ev_insert_ext",
    "WITH c AS (INSERT INTO customers (ext_id, created_ms, updated_ms)"
    " SELECT $1::text, $6::bigint, $6::bigint WHERE NOT EXISTS (SELECT 1 FROM customers"
    " WHERE ext_id = $1::text) ON CONFLICT (ext_id) DO NOTHING RETURNING id),"
    " k AS (SELECT id FROM c UNION ALL SELECT id FROM customers WHERE ext_id = $1::text),"
    " ins AS (INSERT INTO events (customer_id, event_key, type, time_ms, received_ms,"
    " properties, content_hash, seq) SELECT (SELECT id FROM k), $2::text, $3::text,"
    " $4::bigint, $6::bigint, $5::text, $7::text, nextval('events_seq')"
    " WHERE (SELECT id FROM k) IS NOT NULL AND NOT EXISTS (SELECT 1 FROM events e"
    " WHERE e.customer_id = (SELECT id FROM k) AND e.event_key = $2::text)"
    " ON CONFLICT (customer_id, event_key) DO NOTHING RETURNING customer_id, seq)"
    " SELECT seq, NULL::text, true, customer_id FROM ins"
    " UNION ALL SELECT NULL::bigint, e.content_hash, false, e.customer_id FROM events e"
    " WHERE e.customer_id = (SELECT id FROM k) AND e.event_key = $2::text"
    " UNION ALL SELECT NULL::bigint, NULL::text, NULL::boolean, id FROM k"};

/* ev_insert_ext's arguments; *PROPS (the properties as text) is freed after the send. */
static void
pg_event_ext_args(struct pg_args *a, const char *ext_id, const struct nt_event *ev,
		  int64_t received_ms, char **props)
{
	*props = json_dumps(ev->properties, JSON_COMPACT);
	pg_arg_text(a, ext_id);
	pg_arg_text(a, ev->key);
	pg_arg_text(a, ev->type);
	pg_arg_int(a, ev->time_ms);
	pg_arg_text(a, *props);
	pg_arg_int(a, received_ms);
	pg_arg_text(a, ev->hash);
}

/*
 * What ev_insert_ext's rows R say: 1 and *RC when settled (inserted, a duplicate, a conflict),
 * 0 when another writer's race leaves it to the two-statement way (*CUSTOMER_ID set or 0).
 */
static int
pg_event_ext_outcome(PGresult *r, const struct nt_event *ev, int64_t *customer_id, int64_t *seq,
		     enum store_status *rc)
{
	int row = -1;

	*customer_id = 0;
	for (int i = 0; i < PQntuples(r); i++) {
		*customer_id = pg_int(r, i, 3);
		if (!pg_isnull(r, i, 2))
			row = i;
	}
	if (row >= 0)
		*rc = pg_event_outcome(r, row, ev, seq);
	return row >= 0;
}

/*
 * The customer and the event in one statement (a new customer is created first, in a CTE
 * whose id the insert uses): one round trip where ensure-then-insert took two. A row tells
 * what happened: inserted (seq), or the stored key's hash, or, when another writer created
 * the customer or the key after this statement's snapshot, only the customer's id or nothing;
 * then the two-statement way settles it.
 */
static enum store_status
pg_event_insert(struct store *st, const char *ext_id, const struct nt_event *ev,
		int64_t received_ms, int64_t *customer_id, int64_t *seq)
{
	struct pg_args a = {0};
	PGresult *r;
	enum store_status rc;
	char *props;

	pg_event_ext_args(&a, ext_id, ev, received_ms, &props);
	rc = pg_run(PQS(st), &ev_insert_ext, &a, &r);
	free(props);
	if (rc != STORE_OK)
		return rc;
	int settled = pg_event_ext_outcome(r, ev, customer_id, seq, &rc);
	PQclear(r);
	if (settled)
		return rc;
	if (*customer_id == 0 && (rc = store_pg_customer_ops.customer_ensure(
				      st, ext_id, received_ms, customer_id)) != STORE_OK)
		return rc;
	return pg_event_insert_id(st, *customer_id, ev, received_ms, seq);
}

/*
 * A batch's events in one round trip: every insert is queued, inside a savepoint of its own,
 * and read at one sync. When another writer's race leaves any of them unsettled, the savepoint
 * is rolled back and the batch inserted one by one, so that the events keep their order.
 */
static enum store_status
pg_events_insert(struct store *st, const struct nt_event *evs, size_t n, const int64_t *received_ms,
		 int64_t *customer_ids, int64_t *seqs, enum store_status *status)
{
	struct store_pg *s = PQS(st);
	PGresult **res;
	enum store_status rc;
	size_t i;
	int settled = 1;

	if (n == 1) {
		status[0] = pg_event_insert(st, evs[0].customer, &evs[0], received_ms[0],
					    &customer_ids[0], &seqs[0]);
		return status[0] == STORE_DUPLICATE || status[0] == STORE_CONFLICT ? STORE_OK
										   : status[0];
	}
	res = xcalloc(n ? n : 1, sizeof(*res));
	rc = pg_send_sql(s, "SAVEPOINT events");

	for (i = 0; i < n && rc == STORE_OK; i++) {
		struct pg_args a = {0};
		char *props;
		pg_event_ext_args(&a, evs[i].customer, &evs[i], received_ms[i], &props);
		rc = pg_send_keep(s, &ev_insert_ext, &a, &res[i]);
		free(props);
	}
	/* Read even after a failed send: no result may arrive after res is freed. */
	enum store_status flushed = pg_flush(s);
	if (rc == STORE_OK)
		rc = flushed;
	for (i = 0; i < n && rc == STORE_OK && settled; i++)
		settled = res[i] != NULL && pg_event_ext_outcome(res[i], &evs[i], &customer_ids[i],
								 &seqs[i], &status[i]);
	for (i = 0; i < n; i++)
		PQclear(res[i]);
	free(res);
	if (rc != STORE_OK)
		return rc;
	if (settled)
		return pg_send_sql(s, "RELEASE SAVEPOINT events");
	if ((rc = pg_send_sql(s, "ROLLBACK TO SAVEPOINT events")) != STORE_OK ||
	    (rc = pg_send_sql(s, "RELEASE SAVEPOINT events")) != STORE_OK)
		return rc;
	for (i = 0; i < n; i++) {
		status[i] = pg_event_insert(st, evs[i].customer, &evs[i], received_ms[i],
					    &customer_ids[i], &seqs[i]);
		if (status[i] != STORE_OK && status[i] != STORE_DUPLICATE &&
		    status[i] != STORE_CONFLICT)
			return status[i];
	}
	return STORE_OK;
}

static enum store_status
pg_cursor_get(struct store *st, int64_t *seq)
{
	static const struct pg_stmt q = {
	    "ev_cursor_get", "SELECT value::bigint FROM meta WHERE key = 'engine_cursor'"};
	PGresult *r;
	enum store_status rc;

	if ((rc = pg_run(PQS(st), &q, NULL, &r)) != STORE_OK)
		return rc;
	rc = PQntuples(r) > 0 && !pg_isnull(r, 0, 0) ? STORE_OK : STORE_CORRUPT;
	if (rc == STORE_OK)
		*seq = pg_int(r, 0, 0);
	PQclear(r);
	return rc;
}

static enum store_status
pg_cursor_set(struct store *st, int64_t seq)
{
	/*
	 * Issue 21: no global cursor (with several writers a sequence value may commit after a
	 * higher one was consumed): the events events_after returned, up to SEQ, are no longer
	 * pending. The meta row stays where it was (a migration may set it: nothing at or below it
	 * is consumed again), so nodes do not queue on it.
	 */
	static const struct pg_stmt q = {"ev_cursor_set",
					 "UPDATE events SET pending = false WHERE pending"
					 " AND seq = ANY($1::bigint[]) AND seq <= $2"};
	struct pg_args a = {0};
	struct store_pg *s = PQS(st);

	if (s->seen_seqs == NULL)
		return STORE_OK;
	pg_fence_mark(s);
	pg_arg_text(&a, s->seen_seqs);
	pg_arg_int(&a, seq);
	return pg_send(s, &q, &a);
}

static enum store_status
pg_events_after(struct store *st, int64_t after, int limit, struct store_event **out, size_t *n)
{
	/* Issue 21: the pending events of the partitions this node holds, in seq order. */
	static const struct pg_stmt q = {
	    "ev_after", "SELECT e.seq, e.customer_id, c.ext_id, e.event_key, e.type, e.time_ms,"
			" e.properties FROM events e JOIN customers c ON c.id = e.customer_id"
			" WHERE e.pending AND e.seq > $1 AND" PG_OWNED(
			    "e.customer_id", "$3", "$4") "ORDER BY e.seq LIMIT $2"};
	struct pg_args a = {0};
	PGresult *r;
	enum store_status rc;

	pg_arg_int(&a, after);
	pg_arg_int(&a, limit);
	pg_arg_owned(PQS(st), &a);
	if ((rc = pg_run(PQS(st), &q, &a, &r)) != STORE_OK)
		return rc;
	pg_events_seen(PQS(st), r, 0);
	pgr_event_rows(r, out, n);
	PQclear(r);
	return STORE_OK;
}

static enum store_status
pg_events_of(struct store *st, int64_t customer_id, const char *type, int64_t since_ms, int limit,
	     struct store_event **out, size_t *n)
{
	static const struct pg_stmt q = {
	    "ev_of", "SELECT seq, customer_id, '', event_key, type, time_ms, properties FROM events"
		     " WHERE customer_id = $1 AND type = $2 AND time_ms >= $3"
		     " ORDER BY time_ms LIMIT $4"};
	struct pg_args a = {0};
	PGresult *r;
	enum store_status rc;

	pg_arg_int(&a, customer_id);
	pg_arg_text(&a, type);
	pg_arg_int(&a, since_ms);
	pg_arg_int(&a, limit);
	if ((rc = pg_run(PQS(st), &q, &a, &r)) != STORE_OK)
		return rc;
	pgr_event_rows(r, out, n);
	PQclear(r);
	return STORE_OK;
}

/* -1 when the store fails. */
static long
pg_events_count(struct store *st, int64_t customer_id, const char *type, int64_t since_ms)
{
	static const struct pg_stmt q = {"ev_count",
					 "SELECT count(*) FROM events WHERE customer_id = $1"
					 " AND type = $2 AND time_ms >= $3"};
	struct pg_args a = {0};
	PGresult *r;
	long n;

	pg_arg_int(&a, customer_id);
	pg_arg_text(&a, type);
	pg_arg_int(&a, since_ms);
	if (pg_run(PQS(st), &q, &a, &r) != STORE_OK)
		return -1;
	n = (long)pg_int(r, 0, 0);
	PQclear(r);
	return n;
}

/* The columns a customer_row is read from (pg_customer_row), the customer's id ($1) first. */
#define PG_CUSTOMER_COLS                                                                           \
	"c.id, c.ext_id, c.email, c.name, c.locale, c.timezone, c.birthday, c.attributes,"         \
	" c.erased_ms, c.stage, c.stage_since_ms, (SELECT json_agg(json_build_array(topic,"        \
	" state) ORDER BY topic) FROM consent WHERE customer_id = c.id)"

/* Row ROW of PG_CUSTOMER_COLS as a customer_row; the consent carries topic and state only. */
static struct customer_row
pg_customer_row(PGresult *r, int row)
{
	struct customer_row c = {.id = pg_int(r, row, 0), .created_ms = -1, .updated_ms = -1};
	json_t *consent, *pair;
	size_t i;

	c.ext_id = pg_dup(r, row, 1);
	c.email = pg_dup(r, row, 2);
	c.name = pg_dup(r, row, 3);
	c.locale = pg_dup(r, row, 4);
	c.timezone = pg_dup(r, row, 5);
	c.birthday = pg_dup(r, row, 6);
	c.attributes = pgr_json(r, row, 7);
	c.erased_ms = pgr_opt_int(r, row, 8);
	c.stage = pg_dup(r, row, 9);
	c.stage_since_ms = pgr_opt_int(r, row, 10);
	consent = pg_isnull(r, row, 11) ? NULL : json_loads(pg_str(r, row, 11), 0, NULL);
	if (json_array_size(consent) > 0)
		c.consent = xcalloc(json_array_size(consent), sizeof(*c.consent));
	json_array_foreach(consent, i, pair)
	{
		c.consent[c.n_consent++] = (struct customer_consent){
		    .topic = xstrdup(json_string_value(json_array_get(pair, 0))),
		    .state = xstrdup(json_string_value(json_array_get(pair, 1))),
		    .updated_ms = -1,
		    .requested_ms = -1,
		    .confirmed_ms = -1,
		};
	}
	json_decref(consent);
	return c;
}

/*
 * The customer as stored: profile, attributes, erasure, stage, and each topic's consent state
 * (one statement: the consent comes aggregated as two arrays in topic order).
 */
static enum store_status
pg_customer_by_id(struct store *st, int64_t customer_id, struct customer_row *out)
{
	static const struct pg_stmt q = {"ev_customer_by_id", "SELECT " PG_CUSTOMER_COLS
							      " FROM customers c WHERE c.id = $1"};
	struct pg_args a = {0};
	PGresult *r;
	enum store_status rc;

	pg_arg_int(&a, customer_id);
	if ((rc = pg_run(PQS(st), &q, &a, &r)) != STORE_OK)
		return rc;
	if (PQntuples(r) == 0) {
		PQclear(r);
		return STORE_NOTFOUND;
	}
	*out = pg_customer_row(r, 0);
	PQclear(r);
	return STORE_OK;
}

/* Many customers in one statement and one round trip: the engine's batches (store_events.h). */
static enum store_status
pg_customers_by_ids(struct store *st, const int64_t *ids, size_t n, struct customer_row *out)
{
	static const struct pg_stmt q = {"ev_customers_by_ids",
					 "SELECT " PG_CUSTOMER_COLS
					 " FROM customers c WHERE c.id = ANY($1::bigint[])"};
	PGresult *r;
	enum store_status rc;

	if ((rc = pgr_run_ids(PQS(st), &q, ids, n, &r)) != STORE_OK)
		return rc;
	for (int row = 0; row < PQntuples(r); row++) {
		int64_t id = pg_int(r, row, 0);
		for (size_t i = 0; i < n; i++)
			if (ids[i] == id && out[i].id == 0) {
				out[i] = pg_customer_row(r, row);
				break;
			}
	}
	PQclear(r);
	return STORE_OK;
}

/* The PostgreSQL backend's table of events and the engine's cursor over them (store_events.h). */
const struct store_event_ops store_pg_event_ops = {
    .event_insert = pg_event_insert,
    .events_insert = pg_events_insert,
    .cursor_get = pg_cursor_get,
    .cursor_set = pg_cursor_set,
    .events_after = pg_events_after,
    .events_count = pg_events_count,
    .events_of = pg_events_of,
    .customer_by_id = pg_customer_by_id,
    .customers_by_ids = pg_customers_by_ids,
};
