/* The SQLite backend's side of broadcasts and segments (issue 17). */
#include <sqlite3.h>
#include <stdlib.h>
#include <string.h>

#include "store_broadcast.h"
#include "store_sqlite.h"
#include "util.h"

#define B_COLS                                                                                     \
	"id, state, spec, frozen, due_ms, cursor, matched, not_subscribed, created_ms,"            \
	" updated_ms, started_ms, finished_ms"

static const char *const store_sqlite_broadcast_sql[B_COUNT] = {
    [B_SEG_ADD] = "INSERT INTO segments (id, name, condition, created_ms) VALUES (?1, ?2, ?3, ?4)"
		  " ON CONFLICT (id) DO NOTHING",
    [B_SEG_GET] = "SELECT id, name, condition, created_ms FROM segments WHERE id = ?1",
    [B_SEG_LIST] = "SELECT id, name, condition, created_ms FROM segments ORDER BY id",
    [B_SEG_DELETE] = "DELETE FROM segments WHERE id = ?1",
    [B_ADD] = "INSERT INTO broadcasts (id, state, spec, frozen, due_ms, cursor, matched,"
	      " not_subscribed, created_ms, updated_ms, started_ms, finished_ms) VALUES (?1, ?2,"
	      " ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12) ON CONFLICT (id) DO NOTHING",
    [B_GET] = "SELECT " B_COLS " FROM broadcasts WHERE id = ?1",
    [B_LIST] = "SELECT " B_COLS " FROM broadcasts ORDER BY created_ms DESC, id LIMIT ?1",
    [B_UPDATE] = "UPDATE broadcasts SET state = ?2, spec = ?3, frozen = ?4, due_ms = ?5,"
		 " cursor = ?6, matched = ?7, not_subscribed = ?8, updated_ms = ?10,"
		 " started_ms = ?11, finished_ms = ?12 WHERE id = ?1",
    [B_DELETE] = "DELETE FROM broadcasts WHERE id = ?1",
    [B_DUE] = "SELECT " B_COLS " FROM broadcasts WHERE state IN ('scheduled', 'sending')"
	      " AND due_ms <= ?1 ORDER BY due_ms, id LIMIT ?2",
    [B_COUNTS] = "SELECT state, reason, count(*) FROM outbox WHERE campaign_id = ?1"
		 " GROUP BY state, reason",
    /* Complaints are few: each one's message is looked up by its key, not every message. */
    [B_COMPLAINTS] = "SELECT count(*) FROM inbound i WHERE i.kind = 'complaint' AND"
		     " (SELECT o.campaign_id FROM outbox o WHERE o.id = i.outbox_id) = ?1",
};

static const char *const broadcast_state_names[BROADCAST_N_STATES] = {
    [BROADCAST_DRAFT] = "draft",       [BROADCAST_SCHEDULED] = "scheduled",
    [BROADCAST_SENDING] = "sending",   [BROADCAST_SENT] = "sent",
    [BROADCAST_CANCELED] = "canceled",
};

const char *
broadcast_state_name(enum broadcast_state s)
{
	return s < BROADCAST_N_STATES ? broadcast_state_names[s] : "?";
}

int
broadcast_state_parse(const char *name)
{
	for (int i = 0; name != NULL && i < BROADCAST_N_STATES; i++)
		if (strcmp(broadcast_state_names[i], name) == 0)
			return i;
	return -1;
}

int
store_sqlite_broadcast_prepare(struct store_sqlite *s, char *err, size_t errlen)
{
	return store_sqlite_prepare_all(s, store_sqlite_broadcast_sql, s->bc, B_COUNT, "broadcast",
					err, errlen);
}

void
store_sqlite_broadcast_finalize(struct store_sqlite *s)
{
	store_sqlite_finalize_all(s->bc, B_COUNT);
}

void
segment_row_clear(struct segment_row *r)
{
	free(r->id);
	free(r->name);
	free(r->condition);
	memset(r, 0, sizeof(*r));
}

void
segment_rows_free(struct segment_row *v, size_t n)
{
	for (size_t i = 0; v != NULL && i < n; i++)
		segment_row_clear(&v[i]);
	free(v);
}

void
broadcast_row_clear(struct broadcast_row *r)
{
	free(r->id);
	free(r->spec);
	free(r->frozen);
	memset(r, 0, sizeof(*r));
}

void
broadcast_rows_free(struct broadcast_row *v, size_t n)
{
	for (size_t i = 0; v != NULL && i < n; i++)
		broadcast_row_clear(&v[i]);
	free(v);
}

static char *
col_text(sqlite3_stmt *q, int i)
{
	const unsigned char *t = sqlite3_column_text(q, i);
	return t ? xstrdup((const char *)t) : NULL;
}

static int64_t
col_ms(sqlite3_stmt *q, int i)
{
	return sqlite3_column_type(q, i) == SQLITE_NULL ? -1 : sqlite3_column_int64(q, i);
}

static void
segment_read(sqlite3_stmt *q, struct segment_row *r)
{
	r->id = col_text(q, 0);
	r->name = col_text(q, 1);
	r->condition = col_text(q, 2);
	r->created_ms = sqlite3_column_int64(q, 3);
}

static void
broadcast_read(sqlite3_stmt *q, struct broadcast_row *r)
{
	int st = broadcast_state_parse((const char *)sqlite3_column_text(q, 1));
	r->id = col_text(q, 0);
	r->state = st < 0 ? BROADCAST_CANCELED : (enum broadcast_state)st;
	r->spec = col_text(q, 2);
	r->frozen = col_text(q, 3);
	r->due_ms = col_ms(q, 4);
	r->cursor = sqlite3_column_int64(q, 5);
	r->matched = (long)sqlite3_column_int64(q, 6);
	r->not_subscribed = (long)sqlite3_column_int64(q, 7);
	r->created_ms = sqlite3_column_int64(q, 8);
	r->updated_ms = sqlite3_column_int64(q, 9);
	r->started_ms = col_ms(q, 10);
	r->finished_ms = col_ms(q, 11);
}

static void
bind_ms(sqlite3_stmt *q, int i, int64_t v)
{
	if (v < 0)
		sqlite3_bind_null(q, i);
	else
		sqlite3_bind_int64(q, i, v);
}

static enum store_status
store_sqlite_segment_get(struct store *st, const char *id, struct segment_row *out)
{
	sqlite3_stmt *q = SQ(st)->bc[B_SEG_GET];
	int rc;

	memset(out, 0, sizeof(*out));
	sqlite3_bind_text(q, 1, id, -1, SQLITE_STATIC);
	rc = sqlite3_step(q);
	if (rc == SQLITE_ROW)
		segment_read(q, out);
	sqlite3_reset(q);
	sqlite3_clear_bindings(q);
	return rc == SQLITE_ROW	   ? STORE_OK
	       : rc == SQLITE_DONE ? STORE_NOTFOUND
				   : store_sqlite_status(SQ(st), rc);
}

static enum store_status
store_sqlite_segment_add(struct store *st, const struct segment_row *r)
{
	sqlite3_stmt *q = SQ(st)->bc[B_SEG_ADD];
	struct segment_row old;
	enum store_status rc;

	sqlite3_bind_text(q, 1, r->id, -1, SQLITE_STATIC);
	sqlite3_bind_text(q, 2, r->name, -1, SQLITE_STATIC);
	sqlite3_bind_text(q, 3, r->condition, -1, SQLITE_STATIC);
	sqlite3_bind_int64(q, 4, r->created_ms);
	if ((rc = store_sqlite_exec(SQ(st), q)) != STORE_OK || sqlite3_changes(SQ(st)->db) > 0)
		return rc;
	if ((rc = store_sqlite_segment_get(st, r->id, &old)) != STORE_OK)
		return rc;
	rc = strcmp(old.name, r->name) == 0 && strcmp(old.condition, r->condition) == 0
		 ? STORE_DUPLICATE
		 : STORE_CONFLICT;
	segment_row_clear(&old);
	return rc;
}

static enum store_status
store_sqlite_segments_list(struct store *st, struct segment_row **out, size_t *n)
{
	sqlite3_stmt *q = SQ(st)->bc[B_SEG_LIST];
	struct segment_row *v = NULL;
	size_t cnt = 0;
	int rc;

	while ((rc = sqlite3_step(q)) == SQLITE_ROW) {
		v = xrealloc(v, (cnt + 1) * sizeof(*v));
		segment_read(q, &v[cnt++]);
	}
	sqlite3_reset(q);
	if (rc != SQLITE_DONE) {
		segment_rows_free(v, cnt);
		return store_sqlite_status(SQ(st), rc);
	}
	*out = v;
	*n = cnt;
	return STORE_OK;
}

static enum store_status
store_sqlite_delete_by_id(struct store *st, sqlite3_stmt *q, const char *id)
{
	enum store_status rc;
	sqlite3_bind_text(q, 1, id, -1, SQLITE_STATIC);
	if ((rc = store_sqlite_exec(SQ(st), q)) != STORE_OK)
		return rc;
	return sqlite3_changes(SQ(st)->db) > 0 ? STORE_OK : STORE_NOTFOUND;
}

static enum store_status
store_sqlite_segment_delete(struct store *st, const char *id)
{
	return store_sqlite_delete_by_id(st, SQ(st)->bc[B_SEG_DELETE], id);
}

static enum store_status
store_sqlite_broadcast_delete(struct store *st, const char *id)
{
	return store_sqlite_delete_by_id(st, SQ(st)->bc[B_DELETE], id);
}

static enum store_status
store_sqlite_broadcast_get(struct store *st, const char *id, struct broadcast_row *out)
{
	sqlite3_stmt *q = SQ(st)->bc[B_GET];
	int rc;

	memset(out, 0, sizeof(*out));
	sqlite3_bind_text(q, 1, id, -1, SQLITE_STATIC);
	rc = sqlite3_step(q);
	if (rc == SQLITE_ROW)
		broadcast_read(q, out);
	sqlite3_reset(q);
	sqlite3_clear_bindings(q);
	return rc == SQLITE_ROW	   ? STORE_OK
	       : rc == SQLITE_DONE ? STORE_NOTFOUND
				   : store_sqlite_status(SQ(st), rc);
}

/* Binds R's columns in the order of B_ADD (B_UPDATE uses the same numbers). */
static void
broadcast_bind(sqlite3_stmt *q, const struct broadcast_row *r)
{
	sqlite3_bind_text(q, 1, r->id, -1, SQLITE_STATIC);
	sqlite3_bind_text(q, 2, broadcast_state_name(r->state), -1, SQLITE_STATIC);
	sqlite3_bind_text(q, 3, r->spec, -1, SQLITE_STATIC);
	store_sqlite_bind_text(q, 4, r->frozen);
	bind_ms(q, 5, r->due_ms);
	sqlite3_bind_int64(q, 6, r->cursor);
	sqlite3_bind_int64(q, 7, r->matched);
	sqlite3_bind_int64(q, 8, r->not_subscribed);
	sqlite3_bind_int64(q, 9, r->created_ms);
	sqlite3_bind_int64(q, 10, r->updated_ms);
	bind_ms(q, 11, r->started_ms);
	bind_ms(q, 12, r->finished_ms);
}

static enum store_status
store_sqlite_broadcast_add(struct store *st, const struct broadcast_row *r)
{
	sqlite3_stmt *q = SQ(st)->bc[B_ADD];
	struct broadcast_row old;
	enum store_status rc;

	broadcast_bind(q, r);
	if ((rc = store_sqlite_exec(SQ(st), q)) != STORE_OK || sqlite3_changes(SQ(st)->db) > 0)
		return rc;
	if ((rc = store_sqlite_broadcast_get(st, r->id, &old)) != STORE_OK)
		return rc;
	rc = strcmp(old.spec, r->spec) == 0 ? STORE_DUPLICATE : STORE_CONFLICT;
	broadcast_row_clear(&old);
	return rc;
}

static enum store_status
store_sqlite_broadcast_update(struct store *st, const struct broadcast_row *r)
{
	sqlite3_stmt *q = SQ(st)->bc[B_UPDATE];
	enum store_status rc;

	broadcast_bind(q, r);
	sqlite3_bind_null(q, 9); /* created_ms is not written: ?9 is unused in the UPDATE */
	if ((rc = store_sqlite_exec(SQ(st), q)) != STORE_OK)
		return rc;
	return sqlite3_changes(SQ(st)->db) > 0 ? STORE_OK : STORE_NOTFOUND;
}

static enum store_status
broadcast_rows(struct store *st, sqlite3_stmt *q, struct broadcast_row **out, size_t *n)
{
	struct broadcast_row *v = NULL;
	size_t cnt = 0;
	int rc;

	while ((rc = sqlite3_step(q)) == SQLITE_ROW) {
		v = xrealloc(v, (cnt + 1) * sizeof(*v));
		broadcast_read(q, &v[cnt++]);
	}
	sqlite3_reset(q);
	sqlite3_clear_bindings(q);
	if (rc != SQLITE_DONE) {
		broadcast_rows_free(v, cnt);
		return store_sqlite_status(SQ(st), rc);
	}
	*out = v;
	*n = cnt;
	return STORE_OK;
}

static enum store_status
store_sqlite_broadcasts_list(struct store *st, int limit, struct broadcast_row **out, size_t *n)
{
	sqlite3_stmt *q = SQ(st)->bc[B_LIST];
	sqlite3_bind_int(q, 1, limit);
	return broadcast_rows(st, q, out, n);
}

static enum store_status
store_sqlite_broadcasts_due(struct store *st, int64_t now_ms, int limit, struct broadcast_row **out,
			    size_t *n)
{
	sqlite3_stmt *q = SQ(st)->bc[B_DUE];
	sqlite3_bind_int64(q, 1, now_ms);
	sqlite3_bind_int(q, 2, limit);
	return broadcast_rows(st, q, out, n);
}

static enum store_status
store_sqlite_broadcast_counts(struct store *st, const char *campaign_id,
			      struct broadcast_counts *out)
{
	sqlite3_stmt *q = SQ(st)->bc[B_COUNTS];
	struct broadcast_counts c = {0};
	int rc;

	sqlite3_bind_text(q, 1, campaign_id, -1, SQLITE_STATIC);
	while ((rc = sqlite3_step(q)) == SQLITE_ROW) {
		const char *name = (const char *)sqlite3_column_text(q, 0);
		int state = name ? outbox_state_parse(name) : -1;
		int64_t n = sqlite3_column_int64(q, 2);
		if (state == OUTBOX_SKIPPED)
			broadcast_counts_skip_add(&c, (const char *)sqlite3_column_text(q, 1), n);
		else if (state >= 0)
			c.n[state] += n;
	}
	sqlite3_reset(q);
	sqlite3_clear_bindings(q);
	if (rc == SQLITE_DONE) {
		q = SQ(st)->bc[B_COMPLAINTS];
		sqlite3_bind_text(q, 1, campaign_id, -1, SQLITE_STATIC);
		if ((rc = sqlite3_step(q)) == SQLITE_ROW) {
			c.complaints = sqlite3_column_int64(q, 0);
			rc = SQLITE_DONE;
		}
		sqlite3_reset(q);
		sqlite3_clear_bindings(q);
	}
	if (rc != SQLITE_DONE) {
		broadcast_counts_clear(&c);
		return store_sqlite_status(SQ(st), rc);
	}
	*out = c;
	return STORE_OK;
}

const struct store_broadcast_ops store_sqlite_broadcast_ops = {
    .segment_add = store_sqlite_segment_add,
    .segment_get = store_sqlite_segment_get,
    .segments_list = store_sqlite_segments_list,
    .segment_delete = store_sqlite_segment_delete,
    .broadcast_add = store_sqlite_broadcast_add,
    .broadcast_get = store_sqlite_broadcast_get,
    .broadcasts_list = store_sqlite_broadcasts_list,
    .broadcast_update = store_sqlite_broadcast_update,
    .broadcast_delete = store_sqlite_broadcast_delete,
    .broadcasts_due = store_sqlite_broadcasts_due,
    .broadcast_counts = store_sqlite_broadcast_counts,
};
