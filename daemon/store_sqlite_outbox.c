/* The SQLite backend's delivery side: claiming due messages, their outcomes, the listing. */
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "store_sqlite.h"
#include "util.h"

/* The columns every read takes, in one order; PAYLOAD is "p.payload" only for claims. */
#define OUTBOX_COLUMNS_WITH(payload)                                                               \
	"o.id, o.message_id, o.channel, o.campaign_id, o.step_id, c.ext_id, o.sender,"             \
	" o.recipient, " payload ", o.attempts, o.created_ms, o.template, o.state, o.last_reply,"  \
	" o.reason, o.updated_ms, o.due_ms, o.final_ms"
#define OUTBOX_COLUMNS OUTBOX_COLUMNS_WITH("NULL")

static const char *const store_sqlite_outbox_sql[O_COUNT] = {
    [O_RECOVER] = "UPDATE outbox SET state = 'queued', due_ms = ?1, updated_ms = ?1"
		  " WHERE state = 'sending'",
    /*
     * One statement marks the due messages "sending", counts the attempt and returns what
     * delivery needs: no second pass over the rows.
     */
    [O_CLAIM] = "UPDATE outbox SET state = 'sending', attempts = attempts + 1, updated_ms = ?2"
		" WHERE id IN (SELECT id FROM outbox WHERE channel = ?1"
		" AND state IN ('queued', 'deferred') AND due_ms <= ?2 ORDER BY due_ms LIMIT ?3)"
		" RETURNING id, message_id, channel, campaign_id, step_id,"
		" (SELECT ext_id FROM customers c WHERE c.id = customer_id), sender, recipient,"
		" (SELECT payload FROM outbox_payload p WHERE p.id = outbox.id), attempts,"
		" created_ms",
    [O_NEXT_DUE] = "SELECT min(due_ms) FROM outbox WHERE channel = ?1"
		   " AND state IN ('queued', 'deferred')",
    /* ?6 is the final time or NULL: an IN list here built a temporary table at every run. */
    /* A message whose customer was erased in flight: no reply kept, no retry (skipped). */
    [O_FINISH] = "UPDATE outbox SET state = CASE WHEN reason IS 'erased' AND ?2 IN"
		 " ('queued', 'deferred') THEN 'skipped' ELSE ?2 END,"
		 " last_reply = CASE WHEN reason IS 'erased' THEN NULL"
		 " ELSE coalesce(?3, last_reply) END,"
		 " due_ms = coalesce(?4, due_ms), updated_ms = ?5,"
		 " final_ms = CASE WHEN reason IS 'erased' THEN ?5 ELSE ?6 END,"
		 " attempts = attempts - (?2 = 'queued') WHERE id = ?1 AND state = 'sending'",
    [O_GET] = "SELECT " OUTBOX_COLUMNS " FROM outbox o JOIN customers c"
	      " ON c.id = o.customer_id WHERE o.id = ?1",
    [O_RETRY] = "UPDATE outbox SET state = 'queued', due_ms = ?2, updated_ms = ?2,"
		" final_ms = NULL WHERE id = ?1 AND state IN ('failed', 'expired', 'deferred')"
		" AND reason IS NOT 'erased'",
};

int
store_sqlite_outbox_prepare(struct store_sqlite *s, char *err, size_t errlen)
{
	return store_sqlite_prepare_all(s, store_sqlite_outbox_sql, s->o, O_COUNT, "outbox", err,
					errlen);
}

void
store_sqlite_outbox_finalize(struct store_sqlite *s)
{
	store_sqlite_finalize_all(s->o, O_COUNT);
}

void
outbox_msg_free_all(struct outbox_msg *m, size_t n)
{
	for (size_t i = 0; m != NULL && i < n; i++) {
		free(m[i].message_id);
		free(m[i].channel);
		free(m[i].campaign_id);
		free(m[i].step_id);
		free(m[i].customer);
		free(m[i].sender);
		free(m[i].recipient);
		free(m[i].payload);
	}
	free(m);
}

static char *
store_sqlite_outbox_text(sqlite3_stmt *q, int col)
{
	const char *v = (const char *)sqlite3_column_text(q, col);
	return v ? xstrdup(v) : NULL;
}

enum store_status
store_sqlite_outbox_recover(struct store *st, int64_t now_ms, int *n)
{
	struct store_sqlite *s = SQ(st);
	sqlite3_bind_int64(s->o[O_RECOVER], 1, now_ms);
	enum store_status rc = store_sqlite_exec(s, s->o[O_RECOVER]);
	*n = rc == STORE_OK ? sqlite3_changes(s->db) : 0;
	return rc;
}

/* Claims up to LIMIT due messages in one statement, inside the job's transaction. */
enum store_status
store_sqlite_outbox_claim(struct store *st, const char *channel, int64_t now_ms, int limit,
			  struct outbox_msg **out, size_t *n)
{
	struct store_sqlite *s = SQ(st);
	sqlite3_stmt *q = s->o[O_CLAIM];
	struct outbox_msg *m = xcalloc((size_t)limit + 1, sizeof(*m));
	enum store_status rc = STORE_OK;
	size_t k = 0;
	int step;

	sqlite3_bind_text(q, 1, channel, -1, SQLITE_STATIC);
	sqlite3_bind_int64(q, 2, now_ms);
	sqlite3_bind_int(q, 3, limit);
	while ((step = sqlite3_step(q)) == SQLITE_ROW && k < (size_t)limit) {
		struct outbox_msg *x = &m[k++];
		x->id = sqlite3_column_int64(q, 0);
		x->message_id = store_sqlite_outbox_text(q, 1);
		x->channel = store_sqlite_outbox_text(q, 2);
		x->campaign_id = store_sqlite_outbox_text(q, 3);
		x->step_id = store_sqlite_outbox_text(q, 4);
		x->customer = store_sqlite_outbox_text(q, 5);
		x->sender = store_sqlite_outbox_text(q, 6);
		x->recipient = store_sqlite_outbox_text(q, 7);
		if (sqlite3_column_type(q, 8) != SQLITE_NULL) {
			const void *p = sqlite3_column_blob(q, 8);
			x->payload_len = (size_t)sqlite3_column_bytes(q, 8);
			x->payload = xmalloc(x->payload_len + 1);
			memcpy(x->payload, p, x->payload_len);
			x->payload[x->payload_len] = '\0';
		}
		x->attempts = sqlite3_column_int(q, 9);
		x->created_ms = sqlite3_column_int64(q, 10);
	}
	if (step != SQLITE_ROW && step != SQLITE_DONE)
		rc = store_sqlite_status(s, step);
	sqlite3_reset(q);
	sqlite3_clear_bindings(q);
	if (rc != STORE_OK) {
		outbox_msg_free_all(m, k);
		*out = NULL;
		*n = 0;
		return rc;
	}
	*out = m;
	*n = k;
	return STORE_OK;
}

enum store_status
store_sqlite_outbox_next_due(struct store *st, const char *channel, int64_t *due_ms)
{
	struct store_sqlite *s = SQ(st);
	sqlite3_stmt *q = s->o[O_NEXT_DUE];
	int step;

	*due_ms = -1;
	sqlite3_bind_text(q, 1, channel, -1, SQLITE_STATIC);
	step = sqlite3_step(q);
	if (step == SQLITE_ROW && sqlite3_column_type(q, 0) != SQLITE_NULL)
		*due_ms = sqlite3_column_int64(q, 0);
	sqlite3_reset(q);
	sqlite3_clear_bindings(q);
	return step == SQLITE_ROW || step == SQLITE_DONE ? STORE_OK : store_sqlite_status(s, step);
}

/* Only a message still "sending" changes: a late outcome never overwrites a retry's. */
enum store_status
store_sqlite_outbox_finish(struct store *st, const struct outbox_result *r)
{
	struct store_sqlite *s = SQ(st);
	sqlite3_stmt *q = s->o[O_FINISH];

	sqlite3_bind_int64(q, 1, r->id);
	sqlite3_bind_text(q, 2, outbox_state_name(r->state), -1, SQLITE_STATIC);
	store_sqlite_bind_text(q, 3, r->reply);
	if (r->state == OUTBOX_DEFERRED || r->state == OUTBOX_QUEUED)
		sqlite3_bind_int64(q, 4, r->due_ms);
	else
		sqlite3_bind_null(q, 4);
	sqlite3_bind_int64(q, 5, r->now_ms);
	if (r->state == OUTBOX_SENT || r->state == OUTBOX_FAILED || r->state == OUTBOX_EXPIRED)
		sqlite3_bind_int64(q, 6, r->now_ms);
	else
		sqlite3_bind_null(q, 6);
	return store_sqlite_exec(s, q);
}

/* A time column, or -1 for NULL. */
static int64_t
store_sqlite_outbox_ms(sqlite3_stmt *q, int col)
{
	return sqlite3_column_type(q, col) == SQLITE_NULL ? -1 : sqlite3_column_int64(q, col);
}

/* One message as listed (OUTBOX_COLUMNS order); the payload stays out. */
static void
store_sqlite_message_row(sqlite3_stmt *q, struct message_row *m)
{
	*m = (struct message_row){
	    .id = sqlite3_column_int64(q, 0),
	    .message_id = store_sqlite_text_dup(q, 1),
	    .channel = store_sqlite_text_dup(q, 2),
	    .campaign_id = store_sqlite_text_dup(q, 3),
	    .step_id = store_sqlite_text_dup(q, 4),
	    .customer = store_sqlite_text_dup(q, 5),
	    .recipient = store_sqlite_text_dup(q, 7),
	    .attempts = sqlite3_column_int(q, 9),
	    .created_ms = store_sqlite_outbox_ms(q, 10),
	    .template = store_sqlite_text_dup(q, 11),
	    .state = store_sqlite_text_dup(q, 12),
	    .last_reply = store_sqlite_text_dup(q, 13),
	    .reason = store_sqlite_text_dup(q, 14),
	    .updated_ms = store_sqlite_outbox_ms(q, 15),
	    .due_ms = store_sqlite_outbox_ms(q, 16),
	    .final_ms = store_sqlite_outbox_ms(q, 17),
	};
}

/* Filters are optional, so the statement is built per call (an API listing, not a hot path). */
enum store_status
store_sqlite_messages_list(struct store *st, const struct outbox_filter *f,
			   struct message_row **out, size_t *n)
{
	struct store_sqlite *s = SQ(st);
	char sql[1024];
	sqlite3_stmt *q;
	int step, i = 1;
	struct message_row *v = NULL;
	size_t cnt = 0;

	/* Each filter given adds its condition, numbered in the order bound below. */
	int np = 1;
	char cond[256] = "";
	if (f->customer)
		snprintf(cond + strlen(cond), sizeof(cond) - strlen(cond), " AND c.ext_id = ?%d",
			 ++np);
	if (f->campaign_id)
		snprintf(cond + strlen(cond), sizeof(cond) - strlen(cond),
			 " AND o.campaign_id = ?%d", ++np);
	if (f->state >= 0)
		snprintf(cond + strlen(cond), sizeof(cond) - strlen(cond), " AND o.state = ?%d",
			 ++np);
	if (f->channel)
		snprintf(cond + strlen(cond), sizeof(cond) - strlen(cond), " AND o.channel = ?%d",
			 ++np);
	snprintf(sql, sizeof(sql),
		 "SELECT " OUTBOX_COLUMNS " FROM outbox o JOIN customers c ON c.id = o.customer_id"
		 " WHERE o.id > ?1%s ORDER BY o.id LIMIT ?%d",
		 cond, np + 1);
	if (sqlite3_prepare_v2(s->db, sql, -1, &q, NULL) != SQLITE_OK)
		return store_sqlite_status(s, sqlite3_errcode(s->db));
	sqlite3_bind_int64(q, i++, f->after_id);
	if (f->customer)
		sqlite3_bind_text(q, i++, f->customer, -1, SQLITE_STATIC);
	if (f->campaign_id)
		sqlite3_bind_text(q, i++, f->campaign_id, -1, SQLITE_STATIC);
	if (f->state >= 0)
		sqlite3_bind_text(q, i++, outbox_state_name(f->state), -1, SQLITE_STATIC);
	if (f->channel)
		sqlite3_bind_text(q, i++, f->channel, -1, SQLITE_STATIC);
	sqlite3_bind_int(q, i, f->limit > 0 ? f->limit : 100);
	while ((step = sqlite3_step(q)) == SQLITE_ROW) {
		v = xrealloc(v, (cnt + 1) * sizeof(*v));
		store_sqlite_message_row(q, &v[cnt++]);
	}
	sqlite3_finalize(q);
	if (step != SQLITE_DONE) {
		message_rows_free(v, cnt);
		return store_sqlite_status(s, step);
	}
	*out = v;
	*n = cnt;
	return STORE_OK;
}

enum store_status
store_sqlite_message_get(struct store *st, int64_t id, struct message_row *out)
{
	struct store_sqlite *s = SQ(st);
	sqlite3_stmt *q = s->o[O_GET];
	enum store_status rc = STORE_OK;
	int step;

	sqlite3_bind_int64(q, 1, id);
	step = sqlite3_step(q);
	if (step == SQLITE_ROW)
		store_sqlite_message_row(q, out);
	else
		rc = step == SQLITE_DONE ? STORE_NOTFOUND : store_sqlite_status(s, step);
	sqlite3_reset(q);
	return rc;
}

enum store_status
store_sqlite_message_retry(struct store *st, int64_t id, int64_t now_ms)
{
	struct store_sqlite *s = SQ(st);
	struct message_row m = {0};
	enum store_status rc;

	sqlite3_bind_int64(s->o[O_RETRY], 1, id);
	sqlite3_bind_int64(s->o[O_RETRY], 2, now_ms);
	if ((rc = store_sqlite_exec(s, s->o[O_RETRY])) != STORE_OK)
		return rc;
	if (sqlite3_changes(s->db) > 0)
		return STORE_OK;
	rc = store_sqlite_message_get(st, id, &m);
	message_row_clear(&m);
	return rc == STORE_OK ? STORE_CONFLICT : rc;
}

/* The SQLite backend's table of the outbox and delivery (store_outbox.h). */
const struct store_outbox_ops store_sqlite_outbox_ops = {
    .outbox_add = store_sqlite_outbox_add,
    .outbox_payload_add = store_sqlite_outbox_payload_add,
    .outbox_refuse = store_sqlite_outbox_refuse,
    .outbox_recover = store_sqlite_outbox_recover,
    .outbox_claim = store_sqlite_outbox_claim,
    .outbox_next_due = store_sqlite_outbox_next_due,
    .outbox_finish = store_sqlite_outbox_finish,
    .messages_list = store_sqlite_messages_list,
    .message_get = store_sqlite_message_get,
    .message_retry = store_sqlite_message_retry,
    .outbox_ref = store_sqlite_outbox_ref,
    .outbox_bounced = store_sqlite_outbox_bounced,
    .tx_key_find = store_sqlite_tx_key_find,
    .tx_key_add = store_sqlite_tx_key_add,
};
