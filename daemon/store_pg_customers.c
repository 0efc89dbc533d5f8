/*
 * The PostgreSQL backend's operations of store_customers.h, mirroring store_sqlite.c,
 * store_sqlite_erase.c and store_sqlite_consent.c: a customer's row and erasure, consent and
 * suppression, purchases and stage. Upserts are in store_pg_customers_upsert.c, the listing
 * and the export in store_pg_customers_list.c.
 */
#include <glib.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "crypto.h"
#include "store_customers.h"
#include "store_pg.h"
#include "store_pg_rows.h"
#include "util.h"

/* The list's key: the keyed hash of the lowercased address (store_sqlite_consent.c). */
static void
cust_addr_hash(const char *secret, const char *address, char hash[65], char **lower)
{
	*lower = g_ascii_strdown(address, -1);
	crypto_hmac_hex(secret, *lower, strlen(*lower), hash);
}

static enum store_status
pg_customer_lookup(struct store *st, const char *ext_id, int64_t *id)
{
	static const struct pg_stmt q = {"cust_lookup",
					 "SELECT id, erased_ms FROM customers WHERE ext_id = $1"};
	struct pg_args a = {0};
	PGresult *r;
	enum store_status rc;

	pg_arg_text(&a, ext_id);
	if ((rc = pg_run(PQS(st), &q, &a, &r)) != STORE_OK)
		return rc;
	rc = STORE_NOTFOUND;
	if (PQntuples(r) > 0) {
		*id = pg_int(r, 0, 0);
		rc = pg_isnull(r, 0, 1) ? STORE_OK : STORE_GONE;
	}
	PQclear(r);
	return rc;
}

/*
 * The customer's id, the row made when there is none. The insert runs only when the select
 * finds nothing, so that the id's sequence is not spent on every event.
 */
static enum store_status
pg_customer_ensure(struct store *st, const char *ext_id, int64_t now_ms, int64_t *id)
{
	static const struct pg_stmt q = {
	    "cust_ensure",
	    "WITH ins AS (INSERT INTO customers (ext_id, created_ms, updated_ms)"
	    " SELECT $1::text, $2::bigint, $2::bigint WHERE NOT EXISTS (SELECT 1 FROM customers"
	    " WHERE ext_id = $1::text) ON CONFLICT (ext_id) DO NOTHING RETURNING id)"
	    " SELECT id FROM ins UNION ALL SELECT id FROM customers WHERE ext_id = $1::text"};
	static const struct pg_stmt again = {"cust_ensure_id",
					     "SELECT id FROM customers WHERE ext_id = $1"};
	struct pg_args a = {0};
	PGresult *r;
	enum store_status rc;

	pg_arg_text(&a, ext_id);
	pg_arg_int(&a, now_ms);
	if ((rc = pg_run(PQS(st), &q, &a, &r)) != STORE_OK)
		return rc;
	if (PQntuples(r) == 0) {
		/* Another writer inserted it after this statement's snapshot: read it now. */
		PQclear(r);
		a.n = 1;
		if ((rc = pg_run(PQS(st), &again, &a, &r)) != STORE_OK)
			return rc;
	}
	rc = PQntuples(r) > 0 ? STORE_OK : STORE_UNAVAILABLE;
	if (rc == STORE_OK)
		*id = pg_int(r, 0, 0);
	PQclear(r);
	return rc;
}

/* The journeys (20 latest) and notes (20 latest) of customer V->profile.id. */
static enum store_status
cust_get_journeys(struct store_pg *s, struct customer_view *v)
{
	static const struct pg_stmt jq = {
	    "cust_get_journeys",
	    "SELECT j.campaign_id, j.active, j.entered_ms, j.due_ms, j.wait_event, j.exited_ms,"
	    " j.exit_reason, CASE WHEN j.active = 1 AND j.step >= 0 THEN"
	    " (v.definition::jsonb)->'steps'->(j.step)->>'id' END FROM journeys j"
	    " LEFT JOIN campaign_versions v ON v.campaign_id = j.campaign_id"
	    " AND v.version = j.version WHERE j.customer_id = $1"
	    " ORDER BY j.active DESC, j.entered_ms DESC, j.id DESC LIMIT 20"};
	static const struct pg_stmt nq = {
	    "cust_get_notes", "SELECT at_ms, campaign_id, step_id, action, reason, channel,"
			      " template FROM journey_notes WHERE customer_id = $1"
			      " ORDER BY id DESC LIMIT 20"};
	struct pg_args a = {0};
	PGresult *r;
	enum store_status rc;

	pg_arg_int(&a, v->profile.id);
	if ((rc = pg_run(s, &jq, &a, &r)) != STORE_OK)
		return rc;
	v->n_journeys = (size_t)PQntuples(r);
	v->journeys = v->n_journeys ? xcalloc(v->n_journeys, sizeof(*v->journeys)) : NULL;
	for (int i = 0; i < PQntuples(r); i++)
		v->journeys[i] = (struct journey_summary){
		    .campaign_id = pg_dup(r, i, 0),
		    .active = (int)pg_int(r, i, 1),
		    .entered_ms = pg_int(r, i, 2),
		    .due_ms = pgr_opt_int(r, i, 3),
		    .wait_event = pg_dup(r, i, 4),
		    .exited_ms = pgr_opt_int(r, i, 5),
		    .exit_reason = pg_dup(r, i, 6),
		    .step_id = pg_dup(r, i, 7),
		};
	PQclear(r);
	if ((rc = pg_run(s, &nq, &a, &r)) != STORE_OK)
		return rc;
	v->n_notes = (size_t)PQntuples(r);
	v->notes = v->n_notes ? xcalloc(v->n_notes, sizeof(*v->notes)) : NULL;
	for (int i = 0; i < PQntuples(r); i++)
		v->notes[i] = (struct export_note){
		    .at_ms = pg_int(r, i, 0),
		    .campaign_id = pg_dup(r, i, 1),
		    .step_id = pg_dup(r, i, 2),
		    .action = pg_dup(r, i, 3),
		    .reason = pg_dup(r, i, 4),
		    .channel = pg_dup(r, i, 5),
		    .template = pg_dup(r, i, 6),
		};
	PQclear(r);
	return STORE_OK;
}

/* The customer EXT_ID with its consent rows, latest events, journeys and notes. */
static enum store_status
pg_customer_get(struct store *st, const char *ext_id, int events_limit, struct customer_view *out)
{
	static const struct pg_stmt rq = {
	    "cust_get_row", "SELECT id, email, name, locale, timezone, birthday, attributes,"
			    " created_ms, updated_ms, erased_ms, stage FROM customers"
			    " WHERE ext_id = $1"};
	static const struct pg_stmt eq = {"cust_get_events",
					  "SELECT event_key, type, time_ms, received_ms, properties"
					  " FROM events WHERE customer_id = $1"
					  " ORDER BY time_ms DESC, seq DESC LIMIT $2"};
	struct store_pg *s = PQS(st);
	struct customer_view v = {0};
	struct customer_row *c = &v.profile;
	struct pg_args a = {0};
	PGresult *r;
	enum store_status rc;

	pg_arg_text(&a, ext_id);
	if ((rc = pg_run(s, &rq, &a, &r)) != STORE_OK)
		return rc;
	if (PQntuples(r) == 0 || !pg_isnull(r, 0, 9)) {
		rc = PQntuples(r) == 0 ? STORE_NOTFOUND : STORE_GONE;
		PQclear(r);
		return rc;
	}
	c->id = pg_int(r, 0, 0);
	c->ext_id = xstrdup(ext_id);
	c->email = pg_dup(r, 0, 1);
	c->name = pg_dup(r, 0, 2);
	c->locale = pg_dup(r, 0, 3);
	c->timezone = pg_dup(r, 0, 4);
	c->birthday = pg_dup(r, 0, 5);
	c->attributes = pgr_json(r, 0, 6);
	c->created_ms = pg_int(r, 0, 7);
	c->updated_ms = pg_int(r, 0, 8);
	c->erased_ms = -1;
	c->stage = pg_dup(r, 0, 10);
	c->stage_since_ms = -1;
	PQclear(r);

	if ((rc = pgr_consent_read(s, c)) != STORE_OK)
		goto fail;
	a.n = 0;
	pg_arg_int(&a, c->id);
	pg_arg_int(&a, events_limit);
	if ((rc = pg_run(s, &eq, &a, &r)) != STORE_OK)
		goto fail;
	v.n_events = (size_t)PQntuples(r);
	v.events = v.n_events ? xcalloc(v.n_events, sizeof(*v.events)) : NULL;
	for (int i = 0; i < PQntuples(r); i++)
		v.events[i] = (struct store_event){
		    .customer_id = c->id,
		    .key = pg_dup(r, i, 0),
		    .type = pg_dup(r, i, 1),
		    .time_ms = pg_int(r, i, 2),
		    .received_ms = pg_int(r, i, 3),
		    .properties = pgr_json(r, i, 4),
		};
	PQclear(r);
	if ((rc = cust_get_journeys(s, &v)) != STORE_OK)
		goto fail;
	*out = v;
	return STORE_OK;
fail:
	customer_view_clear(&v);
	return rc;
}

/*
 * Erasure (GDPR Art. 17), as store_sqlite_erase.c does it and in one statement: what stays is
 * the tombstone (external id, events' types and times), the keyed hash of the address on the
 * suppression list, and rows that statistics count, stripped of what names anyone. $1 is the
 * customer's id, $2 the time, $3 the address's hash (NULL without an address).
 */
static const struct pg_stmt cust_erase_q = {
    "cust_erase",
    "WITH c AS (UPDATE customers SET email = NULL, name = NULL, locale = NULL,"
    " timezone = NULL, birthday = NULL, attributes = '{}', email_hash = $3::text,"
    " updated_ms = $2::bigint, erased_ms = $2::bigint WHERE id = $1::bigint RETURNING id),"
    " k AS (DELETE FROM consent WHERE customer_id = $1),"
    /* Event properties; the keys stay, so that a retried event stays a duplicate. */
    " e AS (UPDATE events SET properties = '{}', content_hash = 'erased'"
    " WHERE customer_id = $1 AND content_hash IS DISTINCT FROM 'erased'),"
    /* Journeys keep their trigger's and awaited event's type and time; a running one ends. */
    " j AS (UPDATE journeys SET trigger = ((trigger::jsonb) - 'properties' - 'id')::text,"
    " event = ((event::jsonb) - 'properties' - 'id')::text, jkey = 'erased:' || id,"
    " active = 0, due_ms = NULL, wait_event = NULL,"
    " exited_ms = coalesce(exited_ms, $2), exit_reason = coalesce(exit_reason, 'erased')"
    " WHERE customer_id = $1),"
    /* Notes keep their code ("render_error"), not the detail after it. */
    " n AS (UPDATE journey_notes SET reason = split_part(reason, ': ', 1)"
    " WHERE customer_id = $1 AND position(': ' IN reason) > 0),"
    " p AS (DELETE FROM outbox_payload WHERE id IN (SELECT id FROM outbox"
    " WHERE customer_id = $1)),"
    /* Waiting messages are cancelled; one in flight keeps its state. */
    " o AS (UPDATE outbox SET recipient = NULL, last_reply = NULL, payload = NULL,"
    " reason = CASE WHEN state IN ('queued', 'deferred', 'sending') THEN 'erased'"
    " WHEN position(': ' IN reason) > 0 THEN split_part(reason, ': ', 1) ELSE reason END,"
    " final_ms = CASE WHEN state IN ('queued', 'deferred') THEN $2 ELSE final_ms END,"
    " updated_ms = $2,"
    " state = CASE WHEN state IN ('queued', 'deferred') THEN 'skipped' ELSE state END"
    " WHERE customer_id = $1),"
    " t AS (DELETE FROM timers WHERE customer_id = $1),"
    " x AS (DELETE FROM transactional_keys WHERE customer_id = $1),"
    " l AS (DELETE FROM links WHERE outbox_id IN (SELECT id FROM outbox"
    " WHERE customer_id = $1)),"
    " i AS (UPDATE inbound SET address = NULL, detail = NULL, raw = NULL, message_id = NULL"
    " WHERE customer_id = $1),"
    /* A bounce may have listed the address in clear: the hash stays, the address goes. */
    " s AS (INSERT INTO suppressions (addr_hash, address, reason, created_ms)"
    " SELECT $3::text, NULL, 'erased', $2::bigint WHERE $3::text IS NOT NULL"
    " ON CONFLICT (addr_hash) DO UPDATE SET address = NULL)"
    " SELECT count(*) FROM c"};

static enum store_status
pg_customer_erase(struct store *st, const char *ext_id, const char *secret, int64_t now_ms)
{
	static const struct pg_stmt rq = {
	    "cust_erase_row", "SELECT id, email, erased_ms FROM customers WHERE ext_id = $1"};
	struct store_pg *s = PQS(st);
	struct pg_args a = {0};
	PGresult *r;
	enum store_status rc;
	char hash[65] = "";
	int64_t id;

	pg_arg_text(&a, ext_id);
	if ((rc = pg_run(s, &rq, &a, &r)) != STORE_OK)
		return rc;
	if (PQntuples(r) == 0 || !pg_isnull(r, 0, 2)) {
		rc = PQntuples(r) == 0 ? STORE_NOTFOUND : STORE_GONE;
		PQclear(r);
		return rc;
	}
	id = pg_int(r, 0, 0);
	if (pg_str(r, 0, 1) != NULL) {
		char *lower;
		cust_addr_hash(secret, pg_str(r, 0, 1), hash, &lower);
		g_free(lower);
	}
	PQclear(r);
	a.n = 0;
	pg_arg_int(&a, id);
	pg_arg_int(&a, now_ms);
	pg_arg_text(&a, hash[0] ? hash : NULL);
	return pg_send(s, &cust_erase_q, &a);
}

static enum store_status
pg_suppression_add(struct store *st, const char *secret, const char *address, const char *reason,
		   int64_t now_ms)
{
	static const struct pg_stmt q = {
	    "cust_suppress", "INSERT INTO suppressions (addr_hash, address, reason, created_ms)"
			     " VALUES ($1, $2, $3, $4) ON CONFLICT (addr_hash) DO NOTHING"};
	struct pg_args a = {0};
	char hash[65], *lower;
	enum store_status rc;

	cust_addr_hash(secret, address, hash, &lower);
	pg_arg_text(&a, hash);
	pg_arg_text(&a, lower);
	pg_arg_text(&a, reason);
	pg_arg_int(&a, now_ms);
	rc = pg_send(PQS(st), &q, &a);
	g_free(lower);
	return rc;
}

static enum store_status
pg_suppressed(struct store *st, const char *secret, const char *address, int *yes)
{
	static const struct pg_stmt q = {"cust_suppressed",
					 "SELECT 1 FROM suppressions WHERE addr_hash = $1"};
	struct pg_args a = {0};
	char hash[65], *lower;
	PGresult *r;
	enum store_status rc;

	cust_addr_hash(secret, address, hash, &lower);
	g_free(lower);
	pg_arg_text(&a, hash);
	*yes = 0;
	if ((rc = pg_run(PQS(st), &q, &a, &r)) != STORE_OK)
		return rc;
	*yes = PQntuples(r) > 0;
	PQclear(r);
	return STORE_OK;
}

/* The addresses' hashes in one statement: the engine's batch of messages (store_customers.h). */
static enum store_status
pg_suppressed_many(struct store *st, const char *secret, const char *const *addrs, size_t n,
		   int *yes)
{
	static const struct pg_stmt q = {
	    "cust_suppressed_many",
	    "SELECT addr_hash FROM suppressions WHERE addr_hash = ANY($1::text[])"};
	struct pg_args a = {0};
	struct pgr_array list;
	char(*hash)[65] = xcalloc(n ? n : 1, sizeof(*hash)), *lower;
	PGresult *r;
	enum store_status rc;

	pgr_array_init(&list);
	for (size_t i = 0; i < n; i++) {
		cust_addr_hash(secret, addrs[i], hash[i], &lower);
		g_free(lower);
		pgr_array_text(&list, hash[i]);
		yes[i] = 0;
	}
	pgr_array_end(&list);
	pg_arg_text(&a, list.s->str);
	rc = pg_run(PQS(st), &q, &a, &r);
	pgr_array_free(&list);
	if (rc == STORE_OK) {
		for (int row = 0; row < PQntuples(r); row++)
			for (size_t i = 0; i < n; i++)
				yes[i] |= strcmp(hash[i], pg_str(r, row, 0)) == 0;
		PQclear(r);
	}
	free(hash);
	return rc;
}

static enum store_status
pg_suppression_delete(struct store *st, const char *secret, const char *address)
{
	static const struct pg_stmt q = {"cust_unsuppress",
					 "DELETE FROM suppressions WHERE addr_hash = $1"};
	struct pg_args a = {0};
	char hash[65], *lower;
	PGresult *r;
	enum store_status rc;

	cust_addr_hash(secret, address, hash, &lower);
	g_free(lower);
	pg_arg_text(&a, hash);
	if ((rc = pg_run(PQS(st), &q, &a, &r)) != STORE_OK)
		return rc;
	rc = pg_affected(r) > 0 ? STORE_OK : STORE_NOTFOUND;
	PQclear(r);
	return rc;
}

/* An erased customer's entry has no address in clear: its address is NULL. */
static enum store_status
pg_suppressions_list(struct store *st, const char *after, int limit, struct suppression_row **out,
		     size_t *n)
{
	static const struct pg_stmt q = {
	    "cust_suppressions", "SELECT addr_hash, address, reason, created_ms FROM suppressions"
				 " WHERE addr_hash > $1 ORDER BY addr_hash LIMIT $2"};
	struct pg_args a = {0};
	PGresult *r;
	enum store_status rc;

	pg_arg_text(&a, after ? after : "");
	pg_arg_int(&a, limit > 0 ? limit : 100);
	if ((rc = pg_run(PQS(st), &q, &a, &r)) != STORE_OK)
		return rc;
	*n = (size_t)PQntuples(r);
	*out = *n ? xcalloc(*n, sizeof(**out)) : NULL;
	for (int i = 0; i < PQntuples(r); i++)
		(*out)[i] = (struct suppression_row){
		    .key = pg_dup(r, i, 0),
		    .address = pg_dup(r, i, 1),
		    .reason = pg_dup(r, i, 2),
		    .created_ms = pg_int(r, i, 3),
		};
	PQclear(r);
	return STORE_OK;
}

static enum store_status
pg_consent_get(struct store *st, int64_t customer_id, const char *topic, char **state,
	       int64_t *requested_ms)
{
	static const struct pg_stmt q = {"cust_consent_get",
					 "SELECT state, requested_ms FROM consent"
					 " WHERE customer_id = $1 AND topic = $2"};
	struct pg_args a = {0};
	PGresult *r;
	enum store_status rc;

	*state = NULL;
	*requested_ms = -1;
	pg_arg_int(&a, customer_id);
	pg_arg_text(&a, topic);
	if ((rc = pg_run(PQS(st), &q, &a, &r)) != STORE_OK)
		return rc;
	if (PQntuples(r) > 0) {
		*state = pg_dup(r, 0, 0);
		*requested_ms = pgr_opt_int(r, 0, 1);
	}
	PQclear(r);
	return STORE_OK;
}

static enum store_status
pg_consent_update(struct store *st, int64_t customer_id, const char *topic, const char *state,
		  const char *source, const char *addr, int64_t now_ms)
{
	static const struct pg_stmt q = {
	    "cust_consent_update",
	    "INSERT INTO consent (customer_id, topic, state, updated_ms, source, requested_ms,"
	    " confirmed_ms, confirmed_addr) VALUES ($1, $2, $3::text, $4::bigint, $5,"
	    " CASE WHEN $3::text = 'pending' THEN $4::bigint END,"
	    " CASE WHEN $3::text = 'subscribed' THEN $4::bigint END,"
	    " CASE WHEN $3::text = 'subscribed' THEN $6::text END)"
	    " ON CONFLICT (customer_id, topic) DO UPDATE SET state = excluded.state,"
	    " updated_ms = excluded.updated_ms, source = excluded.source,"
	    " requested_ms = coalesce(excluded.requested_ms, consent.requested_ms),"
	    " confirmed_ms = CASE WHEN excluded.state = 'subscribed' THEN excluded.confirmed_ms"
	    " ELSE consent.confirmed_ms END,"
	    " confirmed_addr = CASE WHEN excluded.state = 'subscribed'"
	    " THEN excluded.confirmed_addr ELSE consent.confirmed_addr END"};
	struct pg_args a = {0};

	pg_arg_int(&a, customer_id);
	pg_arg_text(&a, topic);
	pg_arg_text(&a, state);
	pg_arg_int(&a, now_ms);
	pg_arg_text(&a, source);
	pg_arg_text(&a, addr);
	return pg_send(PQS(st), &q, &a);
}

/*
 * The next ledger visit for system mail (journey 0): each confirmation mail is new. From a
 * sequence (issue 21): two nodes taking max + 1 at once drew the same visit.
 */
static enum store_status
pg_system_visit(struct store *st, int *visit)
{
	static const struct pg_stmt q = {"cust_system_visit", "SELECT nextval('system_visit_seq')"};
	PGresult *r;
	enum store_status rc;

	*visit = 0;
	if ((rc = pg_run(PQS(st), &q, NULL, &r)) != STORE_OK)
		return rc;
	*visit = (int)pg_int(r, 0, 0);
	PQclear(r);
	return STORE_OK;
}

static enum store_status
pg_purchase_stats(struct store *st, int64_t customer_id, long *count, int64_t *first_ms,
		  int64_t *last_ms)
{
	static const struct pg_stmt q = {"cust_purchases",
					 "SELECT count, first_ms, last_ms FROM purchases"
					 " WHERE customer_id = $1"};
	struct pg_args a = {0};
	PGresult *r;
	enum store_status rc;

	*count = 0;
	*first_ms = *last_ms = -1;
	pg_arg_int(&a, customer_id);
	if ((rc = pg_run(PQS(st), &q, &a, &r)) != STORE_OK)
		return rc;
	if (PQntuples(r) > 0 && pg_int(r, 0, 0) > 0) {
		*count = (long)pg_int(r, 0, 0);
		*first_ms = pg_int(r, 0, 1);
		*last_ms = pg_int(r, 0, 2);
	}
	PQclear(r);
	return STORE_OK;
}

/* Many customers' purchases in one statement: the engine's batch (store_customers.h). */
static enum store_status
pg_purchases_of(struct store *st, const int64_t *ids, size_t n, struct purchase_totals *out)
{
	static const struct pg_stmt q = {
	    "cust_purchases_of", "SELECT customer_id, count, first_ms, last_ms FROM purchases"
				 " WHERE customer_id = ANY ($1::bigint[]) AND count > 0"};
	PGresult *r;
	enum store_status rc;

	for (size_t i = 0; i < n; i++)
		out[i] = (struct purchase_totals){.count = 0, .first_ms = -1, .last_ms = -1};
	if ((rc = pgr_run_ids(PQS(st), &q, ids, n, &r)) != STORE_OK)
		return rc;
	for (int row = 0; row < PQntuples(r); row++)
		for (size_t i = 0; i < n; i++)
			if (ids[i] == pg_int(r, row, 0)) {
				out[i] = (struct purchase_totals){.count = (long)pg_int(r, row, 1),
								  .first_ms = pg_int(r, row, 2),
								  .last_ms = pg_int(r, row, 3)};
				break;
			}
	PQclear(r);
	return STORE_OK;
}

/* Kept with the customer as the engine consumes purchases: no count over the history. */
static enum store_status
pg_purchase_add(struct store *st, int64_t customer_id, int64_t time_ms)
{
	char cid[24], at[24];
	snprintf(cid, sizeof(cid), "%lld", (long long)customer_id);
	snprintf(at, sizeof(at), "%lld", (long long)time_ms);
	const char *v[] = {cid, at};
	return pg_defer_add(PQS(st), PG_DEFER_PURCHASES, v);
}

static enum store_status
pg_stage_set(struct store *st, int64_t customer_id, const char *stage, int64_t since_ms)
{
	static const struct pg_stmt q = {
	    "cust_stage_set", "UPDATE customers SET stage = $2, stage_since_ms = $3 WHERE id = $1"};
	struct pg_args a = {0};

	pg_arg_int(&a, customer_id);
	pg_arg_text(&a, stage);
	pg_arg_int(&a, since_ms);
	return pg_send(PQS(st), &q, &a);
}

/* The PostgreSQL backend's table of customers and consent (store_customers.h). */
const struct store_customer_ops store_pg_customer_ops = {
    .customer_upsert = pg_customer_upsert,
    .customer_ensure = pg_customer_ensure,
    .customer_get = pg_customer_get,
    .customer_erase = pg_customer_erase,
    .customer_lookup = pg_customer_lookup,
    .consent_get = pg_consent_get,
    .consent_update = pg_consent_update,
    .system_visit = pg_system_visit,
    .suppression_add = pg_suppression_add,
    .suppressed = pg_suppressed,
    .suppressed_many = pg_suppressed_many,
    .suppression_delete = pg_suppression_delete,
    .suppressions_list = pg_suppressions_list,
    .customers_list = pg_customers_list,
    .customer_export = pg_customer_export,
    .customers_upsert = pg_customers_upsert,
    .purchase_stats = pg_purchase_stats,
    .purchase_add = pg_purchase_add,
    .purchases_of = pg_purchases_of,
    .stage_set = pg_stage_set,
};
