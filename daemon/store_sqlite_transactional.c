/*
 * The SQLite backend's transactional sends (POST /v1/messages, issue 20): their idempotency
 * keys, and their counts for the statistics. A transactional message is an outbox row of
 * system mail (journey 0, campaign "") at step "transactional"; retention keeps its counts in
 * stats_archive under the same step.
 */
#include <sqlite3.h>
#include <stdlib.h>
#include <string.h>

#include "store_sqlite.h"
#include "util.h"

/* A statement of this file, prepared at its use: transactional sends are few per second. */
static enum store_status
tx_prepare(struct store_sqlite *s, const char *sql, sqlite3_stmt **q)
{
	if (sqlite3_prepare_v2(s->db, sql, -1, q, NULL) != SQLITE_OK)
		return store_sqlite_status(s, sqlite3_errcode(s->db));
	return STORE_OK;
}

static char *
tx_text(sqlite3_stmt *q, int col)
{
	const char *v = (const char *)sqlite3_column_text(q, col);
	return v ? xstrdup(v) : NULL;
}

enum store_status
store_sqlite_tx_key_find(struct store *st, const char *key, struct tx_key *out)
{
	struct store_sqlite *s = SQ(st);
	sqlite3_stmt *q;
	enum store_status rc;
	int step;

	memset(out, 0, sizeof(*out));
	if ((rc = tx_prepare(
		 s,
		 "SELECT content_hash, customer_id, outbox_id, message_id, state, reason,"
		 " created_ms FROM transactional_keys WHERE key = ?1",
		 &q)) != STORE_OK)
		return rc;
	sqlite3_bind_text(q, 1, key, -1, SQLITE_STATIC);
	step = sqlite3_step(q);
	if (step == SQLITE_ROW) {
		out->key = xstrdup(key);
		out->content_hash = tx_text(q, 0);
		out->customer_id = sqlite3_column_int64(q, 1);
		out->outbox_id = sqlite3_column_int64(q, 2);
		out->message_id = tx_text(q, 3);
		out->state = tx_text(q, 4);
		out->reason = tx_text(q, 5);
		out->created_ms = sqlite3_column_int64(q, 6);
		rc = STORE_OK;
	} else
		rc = step == SQLITE_DONE ? STORE_NOTFOUND : store_sqlite_status(s, step);
	sqlite3_finalize(q);
	return rc;
}

enum store_status
store_sqlite_tx_key_add(struct store *st, const struct tx_key *k)
{
	struct store_sqlite *s = SQ(st);
	sqlite3_stmt *q;
	enum store_status rc;

	if ((rc = tx_prepare(s,
			     "INSERT INTO transactional_keys (key, content_hash, customer_id,"
			     " outbox_id, message_id, state, reason, created_ms)"
			     " VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
			     &q)) != STORE_OK)
		return rc;
	sqlite3_bind_text(q, 1, k->key, -1, SQLITE_STATIC);
	sqlite3_bind_text(q, 2, k->content_hash, -1, SQLITE_STATIC);
	sqlite3_bind_int64(q, 3, k->customer_id);
	sqlite3_bind_int64(q, 4, k->outbox_id);
	store_sqlite_bind_text(q, 5, k->message_id);
	sqlite3_bind_text(q, 6, k->state, -1, SQLITE_STATIC);
	store_sqlite_bind_text(q, 7, k->reason);
	sqlite3_bind_int64(q, 8, k->created_ms);
	rc = store_sqlite_exec(s, q);
	sqlite3_finalize(q);
	return rc;
}

enum store_status
store_sqlite_transactional_counts(struct store *st, struct outbox_counts *out)
{
	struct store_sqlite *s = SQ(st);
	sqlite3_stmt *q;
	enum store_status rc;
	int step;

	if ((rc = tx_prepare(s,
			     "SELECT state, count(*) FROM outbox WHERE journey_id = 0"
			     " AND step_id = 'transactional' GROUP BY state UNION ALL"
			     " SELECT state, sum(n) FROM stats_archive WHERE campaign_id = ''"
			     " AND kind = 'outbox' AND step_id = 'transactional' GROUP BY state",
			     &q)) != STORE_OK)
		return rc;
	memset(out, 0, sizeof(*out));
	while ((step = sqlite3_step(q)) == SQLITE_ROW) {
		const char *name = (const char *)sqlite3_column_text(q, 0);
		int state = name ? outbox_state_parse(name) : -1;
		if (state >= 0)
			out->n[state] += sqlite3_column_int64(q, 1);
	}
	sqlite3_finalize(q);
	return step == SQLITE_DONE ? STORE_OK : store_sqlite_status(s, step);
}
