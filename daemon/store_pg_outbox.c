/*
 * The PostgreSQL backend's operations of store_outbox.h, mirroring store_sqlite_outbox.c (and
 * the outbox operations SQLite keeps in store_sqlite_engine.c, store_sqlite_inbound.c and
 * store_sqlite_transactional.c). Several daemons may share the database: a claim skips the rows
 * another node holds locked, so that no message is claimed twice.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "store_outbox.h"
#include "store_pg.h"
#include "store_pg_rows.h"
#include "util.h"

/* The columns a message's listing reads, in the order of SQLite's OUTBOX_COLUMNS. */
#define OUT_COLUMNS                                                                                \
	"o.id, o.message_id, o.channel, o.campaign_id, o.step_id, c.ext_id, o.sender,"             \
	" o.recipient, NULL, o.attempts, o.created_ms, o.template, o.state, o.last_reply,"         \
	" o.reason, o.updated_ms, o.due_ms, o.final_ms"

/*
 * The send ledger: (journey, step, visit) is unique, so a replayed step never sends twice. The
 * payload, when there is one, goes into its table in the same statement. ID_COL and ID_VAL
 * name the id when it was taken ahead.
 */
#define OUT_ADD_SQL(id_col, id_val)                                                                \
	"WITH ins AS (INSERT INTO outbox (" id_col "journey_id, step_id, visit, customer_id,"      \
	" campaign_id, channel, template, state, message_id, created_ms, due_ms, marketing,"       \
	" reason, sender, recipient, payload, updated_ms, final_ms)"                               \
	" VALUES (" id_val "$1, $2, $3, $4, $5, $6, $7, $11::text, $8, $9::bigint,"                \
	" coalesce($15::bigint, $9::bigint), $10, $12, $13, $14, NULL, $9::bigint,"                \
	" CASE WHEN $11::text = 'skipped' THEN $9::bigint END)"                                    \
	" ON CONFLICT (journey_id, step_id, visit) DO NOTHING RETURNING id),"                      \
	" pay AS (INSERT INTO outbox_payload (id, payload) SELECT id, $16::bytea FROM ins"         \
	" WHERE $16::bytea IS NOT NULL)"                                                           \
	" SELECT id FROM ins"

static const struct pg_stmt out_add = {"out_add", OUT_ADD_SQL("", "")};

/*
 * The same with the id taken ahead ($17), sent without waiting (pg_send_row): a step's send
 * then costs no round trip. The ledger still refuses a second send; the sync finds the missing
 * row and the transaction is undone, to run again waiting for answers (PG_LEDGER_WAIT_US).
 */
static const struct pg_stmt out_add_ahead = {"out_add_ahead", OUT_ADD_SQL("id, ", "$17, ")};

static const struct pg_stmt out_ids = {
    "out_ids",
    "SELECT nextval(pg_get_serial_sequence('outbox', 'id')) FROM generate_series(1, $1)"};

static const struct pg_stmt out_payload = {
    "out_payload", "INSERT INTO outbox_payload (id, payload) VALUES ($1, $2::bytea)"};

static const struct pg_stmt out_refuse = {"out_refuse",
					  "UPDATE outbox SET state = 'skipped', reason = $2,"
					  " final_ms = updated_ms WHERE id = $1"};

/*
 * The session that claimed the outbox row is gone (the node crashed, stopped or reconnected).
 * NOT IN: the live sessions are read once per statement, as a hashed set.
 */
#define OUT_CLAIMANT_GONE                                                                          \
	"claimed_by NOT IN (SELECT pid FROM pg_stat_activity WHERE pid IS NOT NULL"                \
	" AND datname = current_database())"

/*
 * At a start, what a node left "sending" is queued again only when that node's session is gone:
 * another node's messages in flight stay its own, or they would be sent twice. Messages claimed
 * before the claimant was recorded count as left behind.
 */
static const struct pg_stmt out_recover = {
    "out_recover", "UPDATE outbox SET state = 'queued', due_ms = $1, updated_ms = $1,"
		   " claimed_by = NULL WHERE state = 'sending' AND (claimed_by IS NULL"
		   " OR " OUT_CLAIMANT_GONE ")"};

/*
 * One statement marks the due messages "sending", counts the attempt, records the claiming
 * session and returns what delivery needs with the payload. SKIP LOCKED: rows another node is
 * claiming right now are left to it, and once it commits they are no longer due, so no message
 * is claimed by two nodes. The same statement queues again, due now, the channel's messages a
 * node whose session is gone left "sending" (a node killed and not restarted): the next claim
 * takes them, so they wait for no start; duplicates stay within what it had in flight.
 * The rows go by their keys (= ANY (ARRAY(...)), correlated subqueries), so no plan scans the
 * outbox or the payloads whole.
 */
static const struct pg_stmt out_claim = {
    "out_claim",
    "WITH gone AS (UPDATE outbox SET state = 'queued', due_ms = $2, updated_ms = $2,"
    " claimed_by = NULL WHERE id = ANY (ARRAY (SELECT id FROM outbox WHERE state = 'sending'"
    " AND channel = $1 AND " OUT_CLAIMANT_GONE " FOR UPDATE SKIP LOCKED))),"
    " c AS (UPDATE outbox SET state = 'sending', attempts = attempts + 1,"
    " updated_ms = $2, claimed_by = pg_backend_pid() WHERE id = ANY (ARRAY (SELECT id"
    " FROM outbox WHERE channel = $1 AND state IN ('queued', 'deferred') AND due_ms <= $2"
    " ORDER BY due_ms LIMIT $3 FOR UPDATE SKIP LOCKED))"
    " RETURNING id, message_id, channel, campaign_id, step_id, customer_id, sender,"
    " recipient, attempts, created_ms, due_ms)"
    " SELECT c.id, c.message_id, c.channel, c.campaign_id, c.step_id,"
    " (SELECT ext_id FROM customers cu WHERE cu.id = c.customer_id), c.sender, c.recipient,"
    " (SELECT payload FROM outbox_payload p WHERE p.id = c.id), c.attempts, c.created_ms"
    " FROM c ORDER BY c.due_ms, c.id"};

static const struct pg_stmt out_next_due = {"out_next_due",
					    "SELECT min(due_ms) FROM outbox WHERE channel = $1"
					    " AND state IN ('queued', 'deferred')"};

/* A message whose customer was erased in flight: no reply kept, no retry (skipped). */
static const struct pg_stmt out_finish = {
    "out_finish",
    "UPDATE outbox SET state = CASE WHEN reason IS NOT DISTINCT FROM 'erased' AND $2::text IN"
    " ('queued', 'deferred') THEN 'skipped' ELSE $2::text END,"
    " last_reply = CASE WHEN reason IS NOT DISTINCT FROM 'erased' THEN NULL"
    " ELSE coalesce($3::text, last_reply) END,"
    " due_ms = coalesce($4::bigint, due_ms), updated_ms = $5::bigint,"
    " final_ms = CASE WHEN reason IS NOT DISTINCT FROM 'erased' THEN $5::bigint"
    " ELSE $6::bigint END,"
    " attempts = attempts - CASE WHEN $2::text = 'queued' THEN 1 ELSE 0 END"
    " WHERE id = $1 AND state = 'sending'"};

/*
 * The listing's filters are optional. Each combination of them is a statement of its own
 * ("out_list_0" .. "out_list_15", built once), with only the conditions given, so that its plan
 * can use their indexes: a generic plan of "($2 IS NULL OR ...)" could not.
 */
#define OUT_LIST_FILTERS 4
static const char *const out_list_cond[OUT_LIST_FILTERS] = {"c.ext_id", "o.campaign_id", "o.state",
							    "o.channel"};
static struct pg_stmt out_list[1 << OUT_LIST_FILTERS];
static char out_list_names[1 << OUT_LIST_FILTERS][16];
static char out_list_sql[1 << OUT_LIST_FILTERS][640];

static gpointer
out_list_build(gpointer unused)
{
	(void)unused;
	for (int m = 0; m < (1 << OUT_LIST_FILTERS); m++) {
		char cond[256] = "";
		int np = 1;
		for (int f = 0; f < OUT_LIST_FILTERS; f++)
			if (m & (1 << f))
				snprintf(cond + strlen(cond), sizeof(cond) - strlen(cond),
					 " AND %s = $%d", out_list_cond[f], ++np);
		snprintf(out_list_names[m], sizeof(out_list_names[m]), "out_list_%d", m);
		snprintf(out_list_sql[m], sizeof(out_list_sql[m]),
			 "SELECT " OUT_COLUMNS " FROM outbox o JOIN customers c"
			 " ON c.id = o.customer_id WHERE o.id > $1%s ORDER BY o.id LIMIT $%d",
			 cond, np + 1);
		out_list[m] = (struct pg_stmt){out_list_names[m], out_list_sql[m]};
	}
	return NULL;
}

static const struct pg_stmt out_get = {"out_get",
				       "SELECT " OUT_COLUMNS " FROM outbox o JOIN customers c"
				       " ON c.id = o.customer_id WHERE o.id = $1"};

/* The retry, and whether the message exists at all (STORE_CONFLICT or STORE_NOTFOUND). */
static const struct pg_stmt out_retry = {
    "out_retry", "WITH u AS (UPDATE outbox SET state = 'queued', due_ms = $2, updated_ms = $2,"
		 " final_ms = NULL WHERE id = $1 AND state IN ('failed', 'expired', 'deferred')"
		 " AND reason IS DISTINCT FROM 'erased' RETURNING id)"
		 " SELECT (SELECT count(*) FROM u), EXISTS (SELECT 1 FROM outbox o JOIN customers c"
		 " ON c.id = o.customer_id WHERE o.id = $1)"};

#define OUT_REF_COLUMNS                                                                            \
	"SELECT o.id, o.message_id, o.customer_id, (SELECT ext_id FROM customers c"                \
	" WHERE c.id = o.customer_id AND c.erased_ms IS NULL), o.campaign_id, o.step_id,"          \
	" o.recipient, o.state, (SELECT ((j.trigger::json) -> 'properties')::text"                 \
	" FROM journeys j WHERE j.id = o.journey_id) FROM outbox o"

static const struct pg_stmt out_ref_id = {"out_ref_id", OUT_REF_COLUMNS " WHERE o.id = $1"};
static const struct pg_stmt out_ref_mid = {"out_ref_mid",
					   OUT_REF_COLUMNS " WHERE o.message_id = $1"};

static const struct pg_stmt out_bounced = {
    "out_bounced", "UPDATE outbox SET state = 'bounced', last_reply = $2, updated_ms = $3"
		   " WHERE id = $1 AND state <> 'skipped'"};

static const struct pg_stmt out_tx_find = {
    "out_tx_find", "SELECT content_hash, customer_id, outbox_id, message_id, state, reason,"
		   " created_ms FROM transactional_keys WHERE key = $1"};

/* A key another node recorded since our look-up is not an error inside the transaction. */
static const struct pg_stmt out_tx_add = {
    "out_tx_add", "INSERT INTO transactional_keys (key, content_hash, customer_id, outbox_id,"
		  " message_id, state, reason, created_ms) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)"
		  " ON CONFLICT (key) DO NOTHING"};

static enum store_status
pg_outbox_add(struct store *st, const struct outbox_entry *o, int64_t *id)
{
	struct pg_args a = {0};
	PGresult *r;

	pg_fence_mark(PQS(st)); /* issue 21: committed only under this node's leases */
	pg_arg_int(&a, o->journey_id);
	pg_arg_text(&a, o->step_id);
	pg_arg_int(&a, o->visit);
	pg_arg_int(&a, o->customer_id);
	pg_arg_text(&a, o->campaign_id);
	pg_arg_text(&a, o->channel);
	pg_arg_text(&a, o->template);
	pg_arg_text(&a, o->message_id);
	pg_arg_int(&a, o->created_ms);
	pg_arg_int(&a, o->marketing);
	pg_arg_text(&a, outbox_state_name(o->state));
	pg_arg_text(&a, o->reason);
	pg_arg_text(&a, o->sender);
	pg_arg_text(&a, o->recipient);
	if (o->due_ms > o->created_ms)
		pg_arg_int(&a, o->due_ms);
	else
		pg_arg_null(&a);
	if (o->payload != NULL)
		pg_arg_blob(&a, o->payload, o->payload_len);
	else
		pg_arg_null(&a);
	struct store_pg *s = PQS(st);
	if (pg_row_ahead(s)) {
		int64_t oid;
		if (pg_id_ahead(s, &out_ids, s->oids, (int)NT_ARRAY_LEN(s->oids), &s->noids,
				&s->ioids, &oid) != STORE_OK)
			return STORE_UNAVAILABLE;
		pg_arg_int(&a, oid);
		if (pg_send_row(s, &out_add_ahead, &a) != STORE_OK)
			return STORE_UNAVAILABLE;
		if (id != NULL)
			*id = oid;
		return STORE_OK;
	}
	enum store_status rc = pg_run(s, &out_add, &a, &r);
	if (rc != STORE_OK)
		return rc;
	if (PQntuples(r) == 0) {
		PQclear(r);
		return STORE_DUPLICATE;
	}
	if (id != NULL)
		*id = pg_int(r, 0, 0);
	PQclear(r);
	return STORE_OK;
}

static enum store_status
pg_outbox_payload_add(struct store *st, int64_t id, const char *payload, size_t len)
{
	struct pg_args a = {0};
	pg_arg_int(&a, id);
	pg_arg_blob(&a, payload ? payload : "", len);
	return pg_send(PQS(st), &out_payload, &a);
}

static enum store_status
pg_outbox_refuse(struct store *st, int64_t id, const char *reason)
{
	struct pg_args a = {0};
	pg_arg_int(&a, id);
	pg_arg_text(&a, reason);
	return pg_send(PQS(st), &out_refuse, &a);
}

static enum store_status
pg_outbox_recover(struct store *st, int64_t now_ms, int *n)
{
	struct pg_args a = {0};
	PGresult *r;
	pg_arg_int(&a, now_ms);
	enum store_status rc = pg_run(PQS(st), &out_recover, &a, &r);
	*n = rc == STORE_OK ? (int)pg_affected(r) : 0;
	if (r != NULL)
		PQclear(r);
	return rc;
}

/* Claims up to LIMIT due messages in one statement, inside the job's transaction. */
static enum store_status
pg_outbox_claim(struct store *st, const char *channel, int64_t now_ms, int limit,
		struct outbox_msg **out, size_t *n)
{
	struct pg_args a = {0};
	PGresult *r;

	*out = NULL;
	*n = 0;
	pg_arg_text(&a, channel);
	pg_arg_int(&a, now_ms);
	pg_arg_int(&a, limit);
	enum store_status rc = pg_run(PQS(st), &out_claim, &a, &r);
	if (rc != STORE_OK)
		return rc;
	int rows = PQntuples(r);
	struct outbox_msg *m = xcalloc((size_t)rows + 1, sizeof(*m));
	for (int i = 0; i < rows; i++) {
		struct outbox_msg *x = &m[i];
		x->id = pg_int(r, i, 0);
		x->message_id = pg_dup(r, i, 1);
		x->channel = pg_dup(r, i, 2);
		x->campaign_id = pg_dup(r, i, 3);
		x->step_id = pg_dup(r, i, 4);
		x->customer = pg_dup(r, i, 5);
		x->sender = pg_dup(r, i, 6);
		x->recipient = pg_dup(r, i, 7);
		x->payload = pg_blob(r, i, 8, &x->payload_len);
		x->attempts = (int)pg_int(r, i, 9);
		x->created_ms = pg_int(r, i, 10);
	}
	PQclear(r);
	*out = m;
	*n = (size_t)rows;
	return STORE_OK;
}

static enum store_status
pg_outbox_next_due(struct store *st, const char *channel, int64_t *due_ms)
{
	struct pg_args a = {0};
	PGresult *r;

	*due_ms = -1;
	pg_arg_text(&a, channel);
	enum store_status rc = pg_run(PQS(st), &out_next_due, &a, &r);
	if (rc != STORE_OK)
		return rc;
	if (PQntuples(r) > 0 && !pg_isnull(r, 0, 0))
		*due_ms = pg_int(r, 0, 0);
	PQclear(r);
	return STORE_OK;
}

/*
 * A delivery batch's outcomes in one statement, each as out_finish does it: one round trip,
 * and the statement triggers run once. A message named twice keeps its first outcome, as one
 * by one the second would find it no longer "sending".
 */
static enum store_status pg_outbox_finish(struct store *st, const struct outbox_result *res);

static enum store_status
pg_outbox_finish_many(struct store *st, const struct outbox_result *res, size_t n)
{
	static const struct pg_stmt q = {
	    "out_finish_many",
	    "UPDATE outbox o SET state = CASE WHEN o.reason IS NOT DISTINCT FROM 'erased' AND"
	    " r.state IN ('queued', 'deferred') THEN 'skipped' ELSE r.state END,"
	    " last_reply = CASE WHEN o.reason IS NOT DISTINCT FROM 'erased' THEN NULL"
	    " ELSE coalesce(r.reply, o.last_reply) END,"
	    " due_ms = coalesce(r.due, o.due_ms), updated_ms = r.now,"
	    " final_ms = CASE WHEN o.reason IS NOT DISTINCT FROM 'erased' THEN r.now ELSE r.fin "
	    "END,"
	    " attempts = o.attempts - CASE WHEN r.state = 'queued' THEN 1 ELSE 0 END"
	    " FROM unnest($1::bigint[], $2::text[], $3::text[], $4::bigint[], $5::bigint[],"
	    " $6::bigint[]) AS r (id, state, reply, due, now, fin)"
	    " WHERE o.id = r.id AND o.state = 'sending'"};
	struct pgr_array ids, states, replies, dues, nows, fins;
	struct pg_args a = {0};
	GHashTable *seen = g_hash_table_new(g_int64_hash, g_int64_equal);
	char num[24];
	enum store_status rc;

	if (n == 1) {
		g_hash_table_destroy(seen);
		return pg_outbox_finish(st, res);
	}
	pgr_array_init(&ids);
	pgr_array_init(&states);
	pgr_array_init(&replies);
	pgr_array_init(&dues);
	pgr_array_init(&nows);
	pgr_array_init(&fins);
	for (size_t i = 0; i < n; i++) {
		const struct outbox_result *r = &res[i];
		if (!g_hash_table_add(seen, (gpointer)&r->id))
			continue;
		pgr_array_int(&ids, r->id);
		pgr_array_text(&states, outbox_state_name(r->state));
		pgr_array_text(&replies, r->reply);
		snprintf(num, sizeof(num), "%lld", (long long)r->due_ms);
		pgr_array_text(
		    &dues, r->state == OUTBOX_DEFERRED || r->state == OUTBOX_QUEUED ? num : NULL);
		pgr_array_int(&nows, r->now_ms);
		snprintf(num, sizeof(num), "%lld", (long long)r->now_ms);
		pgr_array_text(&fins, r->state == OUTBOX_SENT || r->state == OUTBOX_FAILED ||
					      r->state == OUTBOX_EXPIRED
					  ? num
					  : NULL);
	}
	g_hash_table_destroy(seen);
	struct pgr_array *all[] = {&ids, &states, &replies, &dues, &nows, &fins};
	for (size_t k = 0; k < NT_ARRAY_LEN(all); k++) {
		pgr_array_end(all[k]);
		pg_arg_text(&a, all[k]->s->str);
	}
	rc = pg_send(PQS(st), &q, &a);
	for (size_t k = 0; k < NT_ARRAY_LEN(all); k++)
		pgr_array_free(all[k]);
	return rc;
}

/* Only a message still "sending" changes: a late outcome never overwrites a retry's. */
static enum store_status
pg_outbox_finish(struct store *st, const struct outbox_result *res)
{
	struct pg_args a = {0};

	pg_arg_int(&a, res->id);
	pg_arg_text(&a, outbox_state_name(res->state));
	pg_arg_text(&a, res->reply);
	if (res->state == OUTBOX_DEFERRED || res->state == OUTBOX_QUEUED)
		pg_arg_int(&a, res->due_ms);
	else
		pg_arg_null(&a);
	pg_arg_int(&a, res->now_ms);
	if (res->state == OUTBOX_SENT || res->state == OUTBOX_FAILED ||
	    res->state == OUTBOX_EXPIRED)
		pg_arg_int(&a, res->now_ms);
	else
		pg_arg_null(&a);
	return pg_send(PQS(st), &out_finish, &a);
}

/* One message as listed (OUT_COLUMNS order); the payload stays out. */
static void
pg_message_row(PGresult *r, int i, struct message_row *m)
{
	*m = (struct message_row){
	    .id = pg_int(r, i, 0),
	    .message_id = pg_dup(r, i, 1),
	    .channel = pg_dup(r, i, 2),
	    .campaign_id = pg_dup(r, i, 3),
	    .step_id = pg_dup(r, i, 4),
	    .customer = pg_dup(r, i, 5),
	    .recipient = pg_dup(r, i, 7),
	    .attempts = (int)pg_int(r, i, 9),
	    .created_ms = pgr_opt_int(r, i, 10),
	    .template = pg_dup(r, i, 11),
	    .state = pg_dup(r, i, 12),
	    .last_reply = pg_dup(r, i, 13),
	    .reason = pg_dup(r, i, 14),
	    .updated_ms = pgr_opt_int(r, i, 15),
	    .due_ms = pgr_opt_int(r, i, 16),
	    .final_ms = pgr_opt_int(r, i, 17),
	};
}

static enum store_status
pg_messages_list(struct store *st, const struct outbox_filter *f, struct message_row **out,
		 size_t *n)
{
	struct pg_args a = {0};
	PGresult *r;

	*out = NULL;
	*n = 0;
	static GOnce once = G_ONCE_INIT;
	g_once(&once, out_list_build, NULL);
	const char *val[OUT_LIST_FILTERS] = {f->customer, f->campaign_id,
					     f->state >= 0 ? outbox_state_name(f->state) : NULL,
					     f->channel};
	int m = 0;
	pg_arg_int(&a, f->after_id);
	for (int i = 0; i < OUT_LIST_FILTERS; i++)
		if (val[i] != NULL) {
			m |= 1 << i;
			pg_arg_text(&a, val[i]);
		}
	pg_arg_int(&a, f->limit > 0 ? f->limit : 100);
	enum store_status rc = pg_run(PQS(st), &out_list[m], &a, &r);
	if (rc != STORE_OK)
		return rc;
	int cnt = PQntuples(r);
	struct message_row *v = cnt ? xcalloc((size_t)cnt, sizeof(*v)) : NULL;
	for (int i = 0; i < cnt; i++)
		pg_message_row(r, i, &v[i]);
	PQclear(r);
	*out = v;
	*n = (size_t)cnt;
	return STORE_OK;
}

static enum store_status
pg_message_get(struct store *st, int64_t id, struct message_row *out)
{
	struct pg_args a = {0};
	PGresult *r;

	pg_arg_int(&a, id);
	enum store_status rc = pg_run(PQS(st), &out_get, &a, &r);
	if (rc != STORE_OK)
		return rc;
	if (PQntuples(r) > 0)
		pg_message_row(r, 0, out);
	else
		rc = STORE_NOTFOUND;
	PQclear(r);
	return rc;
}

static enum store_status
pg_message_retry(struct store *st, int64_t id, int64_t now_ms)
{
	struct pg_args a = {0};
	PGresult *r;

	pg_arg_int(&a, id);
	pg_arg_int(&a, now_ms);
	enum store_status rc = pg_run(PQS(st), &out_retry, &a, &r);
	if (rc != STORE_OK)
		return rc;
	if (pg_int(r, 0, 0) > 0)
		rc = STORE_OK;
	else
		rc = strcmp(pg_str(r, 0, 1), "t") == 0 ? STORE_CONFLICT : STORE_NOTFOUND;
	PQclear(r);
	return rc;
}

static enum store_status
pg_outbox_ref(struct store *st, int64_t id, const char *message_id, struct outbox_ref *out)
{
	struct pg_args a = {0};
	PGresult *r;

	memset(out, 0, sizeof(*out));
	if (id > 0)
		pg_arg_int(&a, id);
	else
		pg_arg_text(&a, message_id ? message_id : "");
	enum store_status rc = pg_run(PQS(st), id > 0 ? &out_ref_id : &out_ref_mid, &a, &r);
	if (rc != STORE_OK)
		return rc;
	if (PQntuples(r) == 0) {
		PQclear(r);
		return STORE_NOTFOUND;
	}
	out->id = pg_int(r, 0, 0);
	out->message_id = pg_dup(r, 0, 1);
	out->customer_id = pg_int(r, 0, 2);
	out->customer = pg_dup(r, 0, 3);
	out->campaign_id = pg_dup(r, 0, 4);
	out->step_id = pg_dup(r, 0, 5);
	out->recipient = pg_dup(r, 0, 6);
	out->state = pg_dup(r, 0, 7);
	out->journey_props = pg_dup(r, 0, 8);
	PQclear(r);
	return STORE_OK;
}

static enum store_status
pg_outbox_bounced(struct store *st, int64_t id, const char *reply, int64_t now_ms)
{
	struct pg_args a = {0};
	pg_arg_int(&a, id);
	pg_arg_text(&a, reply);
	pg_arg_int(&a, now_ms);
	return pg_send(PQS(st), &out_bounced, &a);
}

static enum store_status
pg_tx_key_find(struct store *st, const char *key, struct tx_key *out)
{
	struct pg_args a = {0};
	PGresult *r;

	memset(out, 0, sizeof(*out));
	pg_arg_text(&a, key);
	enum store_status rc = pg_run(PQS(st), &out_tx_find, &a, &r);
	if (rc != STORE_OK)
		return rc;
	if (PQntuples(r) == 0) {
		PQclear(r);
		return STORE_NOTFOUND;
	}
	out->key = xstrdup(key);
	out->content_hash = pg_dup(r, 0, 0);
	out->customer_id = pg_int(r, 0, 1);
	out->outbox_id = pg_int(r, 0, 2);
	out->message_id = pg_dup(r, 0, 3);
	out->state = pg_dup(r, 0, 4);
	out->reason = pg_dup(r, 0, 5);
	out->created_ms = pg_int(r, 0, 6);
	PQclear(r);
	return STORE_OK;
}

/*
 * Another node that recorded the same key since this transaction looked makes it unavailable:
 * the group rolls back, and the client's retry finds that node's send.
 */
static enum store_status
pg_tx_key_add(struct store *st, const struct tx_key *k)
{
	struct pg_args a = {0};
	PGresult *r;

	pg_arg_text(&a, k->key);
	pg_arg_text(&a, k->content_hash);
	pg_arg_int(&a, k->customer_id);
	pg_arg_int(&a, k->outbox_id);
	pg_arg_text(&a, k->message_id);
	pg_arg_text(&a, k->state);
	pg_arg_text(&a, k->reason);
	pg_arg_int(&a, k->created_ms);
	enum store_status rc = pg_run(PQS(st), &out_tx_add, &a, &r);
	if (rc != STORE_OK)
		return rc;
	if (pg_affected(r) == 0) {
		log_warnx("store: idempotency key %s recorded by another node meanwhile", k->key);
		rc = STORE_UNAVAILABLE;
	}
	PQclear(r);
	return rc;
}

/* The PostgreSQL backend's table of the outbox and delivery (store_outbox.h). */
const struct store_outbox_ops store_pg_outbox_ops = {
    .outbox_add = pg_outbox_add,
    .outbox_payload_add = pg_outbox_payload_add,
    .outbox_refuse = pg_outbox_refuse,
    .outbox_recover = pg_outbox_recover,
    .outbox_claim = pg_outbox_claim,
    .outbox_next_due = pg_outbox_next_due,
    .outbox_finish = pg_outbox_finish,
    .outbox_finish_many = pg_outbox_finish_many,
    .messages_list = pg_messages_list,
    .message_get = pg_message_get,
    .message_retry = pg_message_retry,
    .outbox_ref = pg_outbox_ref,
    .outbox_bounced = pg_outbox_bounced,
    .tx_key_find = pg_tx_key_find,
    .tx_key_add = pg_tx_key_add,
};
