/* The SQLite backend's consent and suppression side: who may be mailed, and who said no. */
#include <glib.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "crypto.h"
#include "store_sqlite.h"
#include "util.h"

static const char *const store_sqlite_consent_sql[C_COUNT] = {
    [C_SUPPRESSED] = "SELECT 1 FROM suppressions WHERE addr_hash = ?1",
    [C_SUPPRESS_DELETE] = "DELETE FROM suppressions WHERE addr_hash = ?1",
    [C_CUSTOMER_LOOKUP] = "SELECT id, erased_ms FROM customers WHERE ext_id = ?1",
    [C_CONSENT_GET] = "SELECT state, requested_ms FROM consent WHERE customer_id = ?1"
		      " AND topic = ?2",
    [C_CONSENT_UPDATE] =
	"INSERT INTO consent (customer_id, topic, state, updated_ms, source, requested_ms,"
	" confirmed_ms, confirmed_addr) VALUES (?1, ?2, ?3, ?4, ?5,"
	" CASE WHEN ?3 = 'pending' THEN ?4 END, CASE WHEN ?3 = 'subscribed' THEN ?4 END,"
	" CASE WHEN ?3 = 'subscribed' THEN ?6 END)"
	" ON CONFLICT (customer_id, topic) DO UPDATE SET state = excluded.state,"
	" updated_ms = excluded.updated_ms, source = excluded.source,"
	" requested_ms = coalesce(excluded.requested_ms, requested_ms),"
	" confirmed_ms = CASE WHEN excluded.state = 'subscribed' THEN excluded.confirmed_ms"
	" ELSE confirmed_ms END,"
	" confirmed_addr = CASE WHEN excluded.state = 'subscribed' THEN excluded.confirmed_addr"
	" ELSE confirmed_addr END",
    [C_SYSTEM_VISIT] = "SELECT coalesce(max(visit), 0) + 1 FROM outbox WHERE journey_id = 0",
};

int
store_sqlite_consent_prepare(struct store_sqlite *s, char *err, size_t errlen)
{
	return store_sqlite_prepare_all(s, store_sqlite_consent_sql, s->c, C_COUNT, "consent", err,
					errlen);
}

void
store_sqlite_consent_finalize(struct store_sqlite *s)
{
	store_sqlite_finalize_all(s->c, C_COUNT);
}

/*
 * The list's key: a keyed hash of the lowercased address, the same an erased customer leaves,
 * so one lookup finds both kinds.
 */
static void
store_sqlite_addr_hash(const char *secret, const char *address, char hash[65], char **lower)
{
	*lower = g_ascii_strdown(address, -1);
	crypto_hmac_hex(secret, *lower, strlen(*lower), hash);
}

enum store_status
store_sqlite_suppression_add(struct store *st, const char *secret, const char *address,
			     const char *reason, int64_t now_ms)
{
	struct store_sqlite *s = SQ(st);
	sqlite3_stmt *q = s->q[Q_SUPPRESS];
	char hash[65], *lower;

	store_sqlite_addr_hash(secret, address, hash, &lower);
	sqlite3_bind_text(q, 1, hash, -1, SQLITE_TRANSIENT);
	sqlite3_bind_text(q, 2, lower, -1, SQLITE_TRANSIENT);
	sqlite3_bind_text(q, 3, reason, -1, SQLITE_TRANSIENT);
	sqlite3_bind_int64(q, 4, now_ms);
	g_free(lower);
	return store_sqlite_exec(s, q);
}

enum store_status
store_sqlite_suppressed(struct store *st, const char *secret, const char *address, int *yes)
{
	struct store_sqlite *s = SQ(st);
	sqlite3_stmt *q = s->c[C_SUPPRESSED];
	char hash[65], *lower;
	int step;

	store_sqlite_addr_hash(secret, address, hash, &lower);
	g_free(lower);
	sqlite3_bind_text(q, 1, hash, -1, SQLITE_STATIC);
	step = sqlite3_step(q);
	*yes = step == SQLITE_ROW;
	sqlite3_reset(q);
	sqlite3_clear_bindings(q);
	return step == SQLITE_ROW || step == SQLITE_DONE ? STORE_OK : store_sqlite_status(s, step);
}

enum store_status
store_sqlite_suppression_delete(struct store *st, const char *secret, const char *address)
{
	struct store_sqlite *s = SQ(st);
	sqlite3_stmt *q = s->c[C_SUPPRESS_DELETE];
	char hash[65], *lower;
	enum store_status rc;

	store_sqlite_addr_hash(secret, address, hash, &lower);
	g_free(lower);
	sqlite3_bind_text(q, 1, hash, -1, SQLITE_TRANSIENT);
	rc = store_sqlite_exec(s, q);
	if (rc == STORE_OK && sqlite3_changes(s->db) == 0)
		return STORE_NOTFOUND;
	return rc;
}

/* An erased customer's entry has no address in clear: it shows as its hash. */
enum store_status
store_sqlite_suppressions_list(struct store *st, const char *after, int limit,
			       struct suppression_row **out, size_t *n)
{
	struct store_sqlite *s = SQ(st);
	sqlite3_stmt *q;
	struct suppression_row *v = NULL;
	size_t cnt = 0;
	int step;

	if (sqlite3_prepare_v2(s->db,
			       "SELECT addr_hash, address, reason, created_ms FROM suppressions"
			       " WHERE addr_hash > ?1 ORDER BY addr_hash LIMIT ?2",
			       -1, &q, NULL) != SQLITE_OK)
		return store_sqlite_status(s, sqlite3_errcode(s->db));
	sqlite3_bind_text(q, 1, after ? after : "", -1, SQLITE_STATIC);
	sqlite3_bind_int(q, 2, limit > 0 ? limit : 100);
	while ((step = sqlite3_step(q)) == SQLITE_ROW) {
		v = xrealloc(v, (cnt + 1) * sizeof(*v));
		v[cnt++] = (struct suppression_row){
		    .key = store_sqlite_text_dup(q, 0),
		    .address = store_sqlite_text_dup(q, 1),
		    .reason = store_sqlite_text_dup(q, 2),
		    .created_ms = sqlite3_column_int64(q, 3),
		};
	}
	sqlite3_finalize(q);
	if (step != SQLITE_DONE) {
		suppression_rows_free(v, cnt);
		return store_sqlite_status(s, step);
	}
	*out = v;
	*n = cnt;
	return STORE_OK;
}

enum store_status
store_sqlite_customer_lookup(struct store *st, const char *ext_id, int64_t *id)
{
	struct store_sqlite *s = SQ(st);
	sqlite3_stmt *q = s->c[C_CUSTOMER_LOOKUP];
	enum store_status rc = STORE_OK;
	int step;

	sqlite3_bind_text(q, 1, ext_id, -1, SQLITE_STATIC);
	step = sqlite3_step(q);
	if (step == SQLITE_ROW) {
		*id = sqlite3_column_int64(q, 0);
		if (sqlite3_column_type(q, 1) != SQLITE_NULL)
			rc = STORE_GONE;
	} else
		rc = step == SQLITE_DONE ? STORE_NOTFOUND : store_sqlite_status(s, step);
	sqlite3_reset(q);
	sqlite3_clear_bindings(q);
	return rc;
}

enum store_status
store_sqlite_consent_get(struct store *st, int64_t customer_id, const char *topic, char **state,
			 int64_t *requested_ms)
{
	struct store_sqlite *s = SQ(st);
	sqlite3_stmt *q = s->c[C_CONSENT_GET];
	int step;

	*state = NULL;
	*requested_ms = -1;
	sqlite3_bind_int64(q, 1, customer_id);
	sqlite3_bind_text(q, 2, topic, -1, SQLITE_STATIC);
	step = sqlite3_step(q);
	if (step == SQLITE_ROW) {
		*state = xstrdup((const char *)sqlite3_column_text(q, 0));
		if (sqlite3_column_type(q, 1) != SQLITE_NULL)
			*requested_ms = sqlite3_column_int64(q, 1);
	}
	sqlite3_reset(q);
	sqlite3_clear_bindings(q);
	return step == SQLITE_ROW || step == SQLITE_DONE ? STORE_OK : store_sqlite_status(s, step);
}

enum store_status
store_sqlite_consent_update(struct store *st, int64_t customer_id, const char *topic,
			    const char *state, const char *source, const char *addr, int64_t now_ms)
{
	struct store_sqlite *s = SQ(st);
	sqlite3_stmt *q = s->c[C_CONSENT_UPDATE];

	sqlite3_bind_int64(q, 1, customer_id);
	sqlite3_bind_text(q, 2, topic, -1, SQLITE_STATIC);
	sqlite3_bind_text(q, 3, state, -1, SQLITE_STATIC);
	sqlite3_bind_int64(q, 4, now_ms);
	store_sqlite_bind_text(q, 5, source);
	store_sqlite_bind_text(q, 6, addr);
	return store_sqlite_exec(s, q);
}

enum store_status
store_sqlite_system_visit(struct store *st, int *visit)
{
	struct store_sqlite *s = SQ(st);
	sqlite3_stmt *q = s->c[C_SYSTEM_VISIT];
	int step = sqlite3_step(q);

	*visit = step == SQLITE_ROW ? sqlite3_column_int(q, 0) : 0;
	sqlite3_reset(q);
	return step == SQLITE_ROW ? STORE_OK : store_sqlite_status(s, step);
}
