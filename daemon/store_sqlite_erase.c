/*
 * Erasure (GDPR Art. 17): every copy of a customer's personal data goes, in one transaction.
 * What stays is the tombstone (external id, events' types and times), the HMAC of the
 * address on the suppression list, and rows that statistics count, stripped of what names
 * anyone. The connection runs with secure_delete on (store_sqlite.c), so freed cells and pages
 * are zeroed; after the commit the checkpointer truncates the WAL, which still held the
 * earlier page images (store_sqlite_checkpoint.c).
 */
#include <glib.h>
#include <sqlite3.h>
#include <string.h>

#include "crypto.h"
#include "store_sqlite.h"
#include "util.h"

/* Run in order with ?1 the customer's id and ?2 the time. */
static const char *const erase_sql[] = {
    /* Event properties. The ids stay: a retried event must stay a duplicate (docs/api.md). */
    "UPDATE events SET properties = '{}', content_hash = 'erased'"
    " WHERE customer_id = ?1 AND content_hash IS NOT 'erased'",
    /* Journeys: the trigger and the awaited event keep their type and time only; a running
       journey ends, its key (often an order number) goes. */
    "UPDATE journeys SET trigger = json_remove(trigger, '$.properties', '$.id'),"
    " event = json_remove(event, '$.properties', '$.id'), jkey = 'erased:' || id,"
    " active = 0, due_ms = NULL, wait_event = NULL,"
    " exited_ms = coalesce(exited_ms, ?2), exit_reason = coalesce(exit_reason, 'erased')"
    " WHERE customer_id = ?1",
    /* Notes keep their code ("render_error"), not the detail after it. */
    "UPDATE journey_notes SET reason = substr(reason, 1, instr(reason, ': ') - 1)"
    " WHERE customer_id = ?1 AND instr(reason, ': ') > 0",
    /* Payloads of every message, sent or not (a message in flight has its copy already). */
    "DELETE FROM outbox_payload WHERE id IN (SELECT id FROM outbox WHERE customer_id = ?1)",
    /* Waiting messages are cancelled: skipped, reason "erased". One in flight keeps its
       state; its outcome is written without the server's reply (O_FINISH). */
    "UPDATE outbox SET recipient = NULL, last_reply = NULL, payload = NULL,"
    " reason = CASE WHEN state IN ('queued', 'deferred', 'sending') THEN 'erased'"
    " WHEN instr(reason, ': ') > 0 THEN substr(reason, 1, instr(reason, ': ') - 1)"
    " ELSE reason END,"
    " final_ms = CASE WHEN state IN ('queued', 'deferred') THEN ?2 ELSE final_ms END,"
    " updated_ms = ?2,"
    " state = CASE WHEN state IN ('queued', 'deferred') THEN 'skipped' ELSE state END"
    " WHERE customer_id = ?1",
    /* Inactivity timers would start journeys for a customer who is gone. */
    "DELETE FROM timers WHERE customer_id = ?1",
    /* Transactional sends' idempotency keys: an app's key is often an order number. */
    "DELETE FROM transactional_keys WHERE customer_id = ?1",
    /* Tracked links' targets (a link may carry the customer's data in its query string);
       their clicks stay counted in measure_counts. */
    "DELETE FROM links WHERE outbox_id IN (SELECT id FROM outbox WHERE customer_id = ?1)",
    /* Inbound mail (bounces, replies) keeps what counts: kind, effect, the keyed hash. */
    "UPDATE inbound SET address = NULL, detail = NULL, raw = NULL, message_id = NULL"
    " WHERE customer_id = ?1",
};

/* Runs one statement of erase_sql with the customer's id and the time. */
static enum store_status
store_sqlite_erase_exec(struct store_sqlite *s, const char *sql, int64_t id, int64_t now_ms)
{
	sqlite3_stmt *q;
	int rc = sqlite3_prepare_v2(s->db, sql, -1, &q, NULL);

	if (rc != SQLITE_OK)
		return store_sqlite_status(s, rc);
	sqlite3_bind_int64(q, 1, id);
	if (sqlite3_bind_parameter_count(q) >= 2)
		sqlite3_bind_int64(q, 2, now_ms);
	rc = sqlite3_step(q);
	sqlite3_finalize(q);
	return store_sqlite_status(s, rc);
}

/* Runs one statement binding ?1 to the text V. */
static enum store_status
store_sqlite_erase_text(struct store_sqlite *s, const char *sql, const char *v)
{
	sqlite3_stmt *q;
	int rc = sqlite3_prepare_v2(s->db, sql, -1, &q, NULL);

	if (rc != SQLITE_OK)
		return store_sqlite_status(s, rc);
	sqlite3_bind_text(q, 1, v, -1, SQLITE_STATIC);
	rc = sqlite3_step(q);
	sqlite3_finalize(q);
	return store_sqlite_status(s, rc);
}

enum store_status
store_sqlite_customer_erase(struct store *st, const char *ext_id, const char *secret,
			    int64_t now_ms)
{
	struct store_sqlite *s = SQ(st);
	sqlite3_stmt *row = s->q[Q_CUST_ROW], *q;
	char hash[65] = "";
	int64_t id;
	enum store_status rc;
	int step;

	sqlite3_bind_text(row, 1, ext_id, -1, SQLITE_STATIC);
	step = sqlite3_step(row);
	if (step != SQLITE_ROW) {
		sqlite3_reset(row);
		return step == SQLITE_DONE ? STORE_NOTFOUND : store_sqlite_status(s, step);
	}
	if (sqlite3_column_type(row, 9) != SQLITE_NULL) {
		sqlite3_reset(row);
		return STORE_GONE;
	}
	id = sqlite3_column_int64(row, 0);
	const char *email = (const char *)sqlite3_column_text(row, 1);
	if (email != NULL) {
		char *lower = g_ascii_strdown(email, -1);
		crypto_hmac_hex(secret, lower, strlen(lower), hash);
		g_free(lower);
	}
	sqlite3_reset(row);

	q = s->q[Q_ERASE_CUSTOMER];
	sqlite3_bind_int64(q, 1, id);
	store_sqlite_bind_text(q, 2, hash[0] ? hash : NULL);
	sqlite3_bind_int64(q, 3, now_ms);
	if ((rc = store_sqlite_exec(s, q)) != STORE_OK)
		return rc;
	q = s->q[Q_ERASE_CONSENT];
	sqlite3_bind_int64(q, 1, id);
	if ((rc = store_sqlite_exec(s, q)) != STORE_OK)
		return rc;
	for (size_t i = 0; i < NT_ARRAY_LEN(erase_sql); i++)
		if ((rc = store_sqlite_erase_exec(s, erase_sql[i], id, now_ms)) != STORE_OK)
			return rc;
	if (hash[0]) {
		/* A bounce or complaint may have listed the address in clear: the hash stays. */
		rc = store_sqlite_erase_text(
		    s, "UPDATE suppressions SET address = NULL WHERE addr_hash = ?1", hash);
		if (rc != STORE_OK)
			return rc;
		q = s->q[Q_SUPPRESS];
		sqlite3_bind_text(q, 1, hash, -1, SQLITE_STATIC);
		sqlite3_bind_null(q, 2);
		sqlite3_bind_text(q, 3, "erased", -1, SQLITE_STATIC);
		sqlite3_bind_int64(q, 4, now_ms);
		if ((rc = store_sqlite_exec(s, q)) != STORE_OK)
			return rc;
	}
	s->erase_pending = 1; /* the WAL goes once this commits */
	return STORE_OK;
}
