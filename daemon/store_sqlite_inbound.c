/* The SQLite backend's side of inbound mail (issue 16): the record, its lookups, the listing. */
#include <glib.h>
#include <sqlite3.h>
#include <stdlib.h>
#include <string.h>

#include "crypto.h"
#include "store_sqlite.h"
#include "util.h"

static const char *const store_sqlite_inbound_sql[I_COUNT] = {
    [I_FIND] = "SELECT id FROM inbound WHERE dedupe = ?1",
    [I_ADD] = "INSERT INTO inbound (dedupe, message_id, kind, source, outbox_id, customer_id,"
	      " address, addr_hash, hard, status, feedback_type, effect, matched, detail, raw,"
	      " received_ms) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14,"
	      " ?15, ?16)",
    [I_LIST] = "SELECT i.id, i.kind, i.source, i.message_id, i.address, i.status,"
	       " i.feedback_type, i.effect, (SELECT ext_id FROM customers c WHERE c.id ="
	       " i.customer_id AND c.erased_ms IS NULL), i.detail, i.outbox_id, i.hard, i.matched,"
	       " i.received_ms FROM inbound i WHERE (?1 IS NULL OR i.kind = ?1)"
	       " AND (?2 = 0 OR i.matched = 0) AND (?3 = 0 OR i.id < ?3) AND (?5 = 0 OR"
	       " i.outbox_id = ?5)"
	       " ORDER BY i.id DESC LIMIT ?4",
    [I_SOFT] = "SELECT count(*) FROM inbound WHERE addr_hash = ?1 AND kind = 'bounce'"
	       " AND hard = 0 AND received_ms >= ?2",
    [I_REF_ID] = "SELECT o.id, o.message_id, o.customer_id, (SELECT ext_id FROM customers c"
		 " WHERE c.id = o.customer_id AND c.erased_ms IS NULL), o.campaign_id, o.step_id,"
		 " o.recipient, o.state, (SELECT json_extract(j.trigger, '$.properties') FROM"
		 " journeys j WHERE j.id = o.journey_id) FROM outbox o WHERE o.id = ?1",
    [I_REF_MID] = "SELECT o.id, o.message_id, o.customer_id, (SELECT ext_id FROM customers c"
		  " WHERE c.id = o.customer_id AND c.erased_ms IS NULL), o.campaign_id,"
		  " o.step_id, o.recipient, o.state, (SELECT json_extract(j.trigger,"
		  " '$.properties') FROM journeys j WHERE j.id = o.journey_id) FROM outbox o"
		  " WHERE o.message_id = ?1",
    [I_BOUNCED] = "UPDATE outbox SET state = 'bounced', last_reply = ?2, updated_ms = ?3"
		  " WHERE id = ?1 AND state <> 'skipped'",
};

int
store_sqlite_inbound_prepare(struct store_sqlite *s, char *err, size_t errlen)
{
	return store_sqlite_prepare_all(s, store_sqlite_inbound_sql, s->in, I_COUNT, "inbound", err,
					errlen);
}

void
store_sqlite_inbound_finalize(struct store_sqlite *s)
{
	store_sqlite_finalize_all(s->in, I_COUNT);
}

void
inbound_entries_free(struct inbound_entry *v, size_t n)
{
	for (size_t i = 0; v != NULL && i < n; i++) {
		free(v[i].kind);
		free(v[i].source);
		free(v[i].message_id);
		free(v[i].address);
		free(v[i].status);
		free(v[i].feedback_type);
		free(v[i].effect);
		free(v[i].customer);
		free(v[i].detail);
	}
	free(v);
}

void
outbox_ref_clear(struct outbox_ref *r)
{
	free(r->message_id);
	free(r->customer);
	free(r->campaign_id);
	free(r->step_id);
	free(r->recipient);
	free(r->state);
	free(r->journey_props);
	memset(r, 0, sizeof(*r));
}

static char *
store_sqlite_inbound_text(sqlite3_stmt *q, int col)
{
	const char *v = (const char *)sqlite3_column_text(q, col);
	return v ? xstrdup(v) : NULL;
}

/* The same keyed hash of the lowercased address that the suppression list uses. */
static void
store_sqlite_inbound_hash(const char *secret, const char *address, char hash[65])
{
	char *lower = g_ascii_strdown(address, -1);
	crypto_hmac_hex(secret, lower, strlen(lower), hash);
	g_free(lower);
}

enum store_status
store_sqlite_inbound_find(struct store *st, const char *dedupe, int64_t *id)
{
	struct store_sqlite *s = SQ(st);
	sqlite3_stmt *q = s->in[I_FIND];
	enum store_status rc = STORE_NOTFOUND;
	int step;

	sqlite3_bind_text(q, 1, dedupe, -1, SQLITE_STATIC);
	step = sqlite3_step(q);
	if (step == SQLITE_ROW) {
		*id = sqlite3_column_int64(q, 0);
		rc = STORE_OK;
	} else if (step != SQLITE_DONE)
		rc = store_sqlite_status(s, step);
	sqlite3_reset(q);
	sqlite3_clear_bindings(q);
	return rc;
}

enum store_status
store_sqlite_inbound_add(struct store *st, const char *secret, const struct inbound_row *r,
			 int64_t *id)
{
	struct store_sqlite *s = SQ(st);
	sqlite3_stmt *q = s->in[I_ADD];
	char hash[65];
	enum store_status rc;

	sqlite3_bind_text(q, 1, r->dedupe, -1, SQLITE_STATIC);
	store_sqlite_bind_text(q, 2, r->message_id);
	sqlite3_bind_text(q, 3, r->kind, -1, SQLITE_STATIC);
	sqlite3_bind_text(q, 4, r->source, -1, SQLITE_STATIC);
	if (r->outbox_id > 0)
		sqlite3_bind_int64(q, 5, r->outbox_id);
	if (r->customer_id > 0)
		sqlite3_bind_int64(q, 6, r->customer_id);
	store_sqlite_bind_text(q, 7, r->address);
	if (r->address != NULL) {
		store_sqlite_inbound_hash(secret, r->address, hash);
		sqlite3_bind_text(q, 8, hash, -1, SQLITE_TRANSIENT);
	}
	sqlite3_bind_int(q, 9, r->hard);
	store_sqlite_bind_text(q, 10, r->status);
	store_sqlite_bind_text(q, 11, r->feedback_type);
	sqlite3_bind_text(q, 12, r->effect, -1, SQLITE_STATIC);
	sqlite3_bind_int(q, 13, r->matched);
	store_sqlite_bind_text(q, 14, r->detail);
	if (r->raw != NULL)
		sqlite3_bind_blob(q, 15, r->raw, (int)r->raw_len, SQLITE_STATIC);
	sqlite3_bind_int64(q, 16, r->received_ms);
	rc = store_sqlite_exec(s, q);
	if (rc == STORE_OK && id != NULL)
		*id = sqlite3_last_insert_rowid(s->db);
	return rc;
}

enum store_status
store_sqlite_inbound_list(struct store *st, const char *kind, int unmatched_only, int64_t before,
			  int64_t message, int limit, struct inbound_entry **out, size_t *n)
{
	struct store_sqlite *s = SQ(st);
	sqlite3_stmt *q = s->in[I_LIST];
	struct inbound_entry *v = xcalloc((size_t)limit + 1, sizeof(*v));
	size_t k = 0;
	int step;
	enum store_status rc = STORE_OK;

	store_sqlite_bind_text(q, 1, kind);
	sqlite3_bind_int(q, 2, unmatched_only);
	sqlite3_bind_int64(q, 3, before);
	sqlite3_bind_int(q, 4, limit);
	sqlite3_bind_int64(q, 5, message);
	while ((step = sqlite3_step(q)) == SQLITE_ROW && k < (size_t)limit) {
		struct inbound_entry *e = &v[k++];
		e->id = sqlite3_column_int64(q, 0);
		e->kind = store_sqlite_inbound_text(q, 1);
		e->source = store_sqlite_inbound_text(q, 2);
		e->message_id = store_sqlite_inbound_text(q, 3);
		e->address = store_sqlite_inbound_text(q, 4);
		e->status = store_sqlite_inbound_text(q, 5);
		e->feedback_type = store_sqlite_inbound_text(q, 6);
		e->effect = store_sqlite_inbound_text(q, 7);
		e->customer = store_sqlite_inbound_text(q, 8);
		e->detail = store_sqlite_inbound_text(q, 9);
		e->outbox_id = sqlite3_column_int64(q, 10);
		e->hard = sqlite3_column_int(q, 11);
		e->matched = sqlite3_column_int(q, 12);
		e->received_ms = sqlite3_column_int64(q, 13);
	}
	if (step != SQLITE_ROW && step != SQLITE_DONE)
		rc = store_sqlite_status(s, step);
	sqlite3_reset(q);
	sqlite3_clear_bindings(q);
	if (rc != STORE_OK) {
		inbound_entries_free(v, k);
		return rc;
	}
	*out = v;
	*n = k;
	return STORE_OK;
}

enum store_status
store_sqlite_inbound_soft_count(struct store *st, const char *secret, const char *address,
				int64_t since_ms, long *n)
{
	struct store_sqlite *s = SQ(st);
	sqlite3_stmt *q = s->in[I_SOFT];
	char hash[65];
	enum store_status rc = STORE_OK;
	int step;

	store_sqlite_inbound_hash(secret, address, hash);
	sqlite3_bind_text(q, 1, hash, -1, SQLITE_TRANSIENT);
	sqlite3_bind_int64(q, 2, since_ms);
	step = sqlite3_step(q);
	if (step == SQLITE_ROW)
		*n = (long)sqlite3_column_int64(q, 0);
	else
		rc = store_sqlite_status(s, step);
	sqlite3_reset(q);
	sqlite3_clear_bindings(q);
	return rc;
}

enum store_status
store_sqlite_outbox_ref(struct store *st, int64_t id, const char *message_id,
			struct outbox_ref *out)
{
	struct store_sqlite *s = SQ(st);
	sqlite3_stmt *q = id > 0 ? s->in[I_REF_ID] : s->in[I_REF_MID];
	enum store_status rc = STORE_NOTFOUND;
	int step;

	memset(out, 0, sizeof(*out));
	if (id > 0)
		sqlite3_bind_int64(q, 1, id);
	else
		sqlite3_bind_text(q, 1, message_id ? message_id : "", -1, SQLITE_STATIC);
	step = sqlite3_step(q);
	if (step == SQLITE_ROW) {
		out->id = sqlite3_column_int64(q, 0);
		out->message_id = store_sqlite_inbound_text(q, 1);
		out->customer_id = sqlite3_column_int64(q, 2);
		out->customer = store_sqlite_inbound_text(q, 3);
		out->campaign_id = store_sqlite_inbound_text(q, 4);
		out->step_id = store_sqlite_inbound_text(q, 5);
		out->recipient = store_sqlite_inbound_text(q, 6);
		out->state = store_sqlite_inbound_text(q, 7);
		out->journey_props = store_sqlite_inbound_text(q, 8);
		rc = STORE_OK;
	} else if (step != SQLITE_DONE)
		rc = store_sqlite_status(s, step);
	sqlite3_reset(q);
	sqlite3_clear_bindings(q);
	return rc;
}

enum store_status
store_sqlite_outbox_bounced(struct store *st, int64_t id, const char *reply, int64_t now_ms)
{
	struct store_sqlite *s = SQ(st);
	sqlite3_stmt *q = s->in[I_BOUNCED];

	sqlite3_bind_int64(q, 1, id);
	store_sqlite_bind_text(q, 2, reply);
	sqlite3_bind_int64(q, 3, now_ms);
	return store_sqlite_exec(s, q);
}

/* The SQLite backend's table of inbound mail (store_inbound.h). */
const struct store_inbound_ops store_sqlite_inbound_ops = {
    .inbound_find = store_sqlite_inbound_find,
    .inbound_add = store_sqlite_inbound_add,
    .inbound_list = store_sqlite_inbound_list,
    .inbound_soft_count = store_sqlite_inbound_soft_count,
};
