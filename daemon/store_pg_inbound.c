/*
 * The PostgreSQL backend's operations of store_inbound.h (issue 16), mirroring
 * store_sqlite_inbound.c: the record of inbound mail, its lookups, the listing.
 */
#include <glib.h>
#include <stdlib.h>
#include <string.h>

#include "crypto.h"
#include "store_inbound.h"
#include "store_pg.h"
#include "util.h"

/* The same keyed hash of the lowercased address that the suppression list uses. */
static void
inb_hash(const char *secret, const char *address, char hash[65])
{
	char *lower = g_ascii_strdown(address, -1);
	crypto_hmac_hex(secret, lower, strlen(lower), hash);
	g_free(lower);
}

static enum store_status
pg_inbound_find(struct store *st, const char *dedupe, int64_t *id)
{
	static const struct pg_stmt q = {"inb_find", "SELECT id FROM inbound WHERE dedupe = $1"};
	struct pg_args a = {0};
	PGresult *r;
	enum store_status rc;

	pg_arg_text(&a, dedupe);
	if ((rc = pg_run(PQS(st), &q, &a, &r)) != STORE_OK)
		return rc;
	rc = STORE_NOTFOUND;
	if (PQntuples(r) > 0) {
		*id = pg_int(r, 0, 0);
		rc = STORE_OK;
	}
	PQclear(r);
	return rc;
}

/* STORE_DUPLICATE when the dedupe key is there already (ON CONFLICT: no error to roll back). */
static enum store_status
pg_inbound_add(struct store *st, const char *secret, const struct inbound_row *row, int64_t *id)
{
	static const struct pg_stmt q = {
	    "inb_add",
	    "INSERT INTO inbound (dedupe, message_id, kind, source, outbox_id, customer_id,"
	    " address, addr_hash, hard, status, feedback_type, effect, matched, detail, raw,"
	    " received_ms) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14,"
	    " $15, $16) ON CONFLICT (dedupe) DO NOTHING RETURNING id"};
	struct pg_args a = {0};
	PGresult *r;
	enum store_status rc;
	char hash[65];

	pg_arg_text(&a, row->dedupe);
	pg_arg_text(&a, row->message_id);
	pg_arg_text(&a, row->kind);
	pg_arg_text(&a, row->source);
	if (row->outbox_id > 0)
		pg_arg_int(&a, row->outbox_id);
	else
		pg_arg_null(&a);
	if (row->customer_id > 0)
		pg_arg_int(&a, row->customer_id);
	else
		pg_arg_null(&a);
	pg_arg_text(&a, row->address);
	if (row->address != NULL) {
		inb_hash(secret, row->address, hash);
		pg_arg_text(&a, hash);
	} else
		pg_arg_null(&a);
	pg_arg_int(&a, row->hard);
	pg_arg_text(&a, row->status);
	pg_arg_text(&a, row->feedback_type);
	pg_arg_text(&a, row->effect);
	pg_arg_int(&a, row->matched);
	pg_arg_text(&a, row->detail);
	if (row->raw != NULL)
		pg_arg_blob(&a, row->raw, row->raw_len);
	else
		pg_arg_null(&a);
	pg_arg_int(&a, row->received_ms);
	if ((rc = pg_run(PQS(st), &q, &a, &r)) != STORE_OK)
		return rc;
	rc = PQntuples(r) > 0 ? STORE_OK : STORE_DUPLICATE;
	if (rc == STORE_OK && id != NULL)
		*id = pg_int(r, 0, 0);
	PQclear(r);
	return rc;
}

static enum store_status
pg_inbound_list(struct store *st, const char *kind, int unmatched_only, int64_t before,
		int64_t message, int limit, struct inbound_entry **out, size_t *n)
{
	static const struct pg_stmt q = {
	    "inb_list",
	    "SELECT i.id, i.kind, i.source, i.message_id, i.address, i.status, i.feedback_type,"
	    " i.effect, (SELECT ext_id FROM customers c WHERE c.id = i.customer_id"
	    " AND c.erased_ms IS NULL), i.detail, i.outbox_id, i.hard, i.matched, i.received_ms"
	    " FROM inbound i WHERE ($1::text IS NULL OR i.kind = $1::text)"
	    " AND ($2::int = 0 OR i.matched = 0) AND ($3::bigint = 0 OR i.id < $3::bigint)"
	    " AND ($5::bigint = 0 OR i.outbox_id = $5::bigint) ORDER BY i.id DESC LIMIT $4"};
	struct pg_args a = {0};
	PGresult *r;
	enum store_status rc;

	pg_arg_text(&a, kind);
	pg_arg_int(&a, unmatched_only);
	pg_arg_int(&a, before);
	pg_arg_int(&a, limit);
	pg_arg_int(&a, message);
	if ((rc = pg_run(PQS(st), &q, &a, &r)) != STORE_OK)
		return rc;
	size_t k = (size_t)PQntuples(r);
	struct inbound_entry *v = xcalloc(k + 1, sizeof(*v));
	for (int i = 0; i < (int)k; i++) {
		struct inbound_entry *e = &v[i];
		e->id = pg_int(r, i, 0);
		e->kind = pg_dup(r, i, 1);
		e->source = pg_dup(r, i, 2);
		e->message_id = pg_dup(r, i, 3);
		e->address = pg_dup(r, i, 4);
		e->status = pg_dup(r, i, 5);
		e->feedback_type = pg_dup(r, i, 6);
		e->effect = pg_dup(r, i, 7);
		e->customer = pg_dup(r, i, 8);
		e->detail = pg_dup(r, i, 9);
		e->outbox_id = pg_int(r, i, 10);
		e->hard = (int)pg_int(r, i, 11);
		e->matched = (int)pg_int(r, i, 12);
		e->received_ms = pg_int(r, i, 13);
	}
	PQclear(r);
	*out = v;
	*n = k;
	return STORE_OK;
}

static enum store_status
pg_inbound_soft_count(struct store *st, const char *secret, const char *address, int64_t since_ms,
		      long *n)
{
	static const struct pg_stmt q = {"inb_soft",
					 "SELECT count(*) FROM inbound WHERE addr_hash = $1"
					 " AND kind = 'bounce' AND hard = 0 AND received_ms >= $2"};
	struct pg_args a = {0};
	PGresult *r;
	enum store_status rc;
	char hash[65];

	inb_hash(secret, address, hash);
	pg_arg_text(&a, hash);
	pg_arg_int(&a, since_ms);
	if ((rc = pg_run(PQS(st), &q, &a, &r)) != STORE_OK)
		return rc;
	*n = (long)pg_int(r, 0, 0);
	PQclear(r);
	return STORE_OK;
}

/* The PostgreSQL backend's table of inbound mail (store_inbound.h). */
const struct store_inbound_ops store_pg_inbound_ops = {
    .inbound_find = pg_inbound_find,
    .inbound_add = pg_inbound_add,
    .inbound_list = pg_inbound_list,
    .inbound_soft_count = pg_inbound_soft_count,
};
