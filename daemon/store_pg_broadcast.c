/*
 * The PostgreSQL backend's operations of store_broadcast.h, mirroring
 * store_sqlite_broadcast.c: saved segments, broadcasts with their fan-out cursor, and the
 * counts of a broadcast's messages.
 */
#include <stdlib.h>
#include <string.h>

#include "store_broadcast.h"
#include "store_pg.h"
#include "store_pg_rows.h"
#include "util.h"

#define BC_COLS                                                                                    \
	"id, state, spec, frozen, due_ms, cursor, matched, not_subscribed, created_ms,"            \
	" updated_ms, started_ms, finished_ms"

static const struct pg_stmt bc_seg_add = {"bc_seg_add",
					  "INSERT INTO segments (id, name, condition, created_ms)"
					  " VALUES ($1, $2, $3, $4) ON CONFLICT (id) DO NOTHING"};
static const struct pg_stmt bc_seg_get = {
    "bc_seg_get", "SELECT id, name, condition, created_ms FROM segments WHERE id = $1"};
static const struct pg_stmt bc_seg_list = {
    "bc_seg_list", "SELECT id, name, condition, created_ms FROM segments ORDER BY id"};
static const struct pg_stmt bc_seg_delete = {"bc_seg_delete", "DELETE FROM segments WHERE id = $1"};
static const struct pg_stmt bc_add = {"bc_add", "INSERT INTO broadcasts (" BC_COLS
						") VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9,"
						" $10, $11, $12) ON CONFLICT (id) DO NOTHING"};
static const struct pg_stmt bc_get = {"bc_get", "SELECT " BC_COLS " FROM broadcasts WHERE id = $1"};
static const struct pg_stmt bc_list = {
    "bc_list", "SELECT " BC_COLS " FROM broadcasts ORDER BY created_ms DESC, id LIMIT $1"};
/* The arguments of bc_add but created_ms, which is not rewritten. */
static const struct pg_stmt bc_update = {
    "bc_update", "UPDATE broadcasts SET state = $2, spec = $3, frozen = $4, due_ms = $5,"
		 " cursor = $6, matched = $7, not_subscribed = $8, updated_ms = $9,"
		 " started_ms = $10, finished_ms = $11 WHERE id = $1"};
static const struct pg_stmt bc_delete = {"bc_delete", "DELETE FROM broadcasts WHERE id = $1"};
static const struct pg_stmt bc_due = {
    "bc_due", "SELECT " BC_COLS " FROM broadcasts WHERE state IN ('scheduled', 'sending')"
	      " AND due_ms <= $1 ORDER BY due_ms, id LIMIT $2"};
/*
 * The messages by state and reason, then the complaints about them (few: each one's message is
 * looked up by its key) as the row with state NULL.
 */
static const struct pg_stmt bc_counts = {
    "bc_counts", "SELECT state, reason, count(*) FROM outbox WHERE campaign_id = $1"
		 " GROUP BY state, reason UNION ALL SELECT NULL, NULL, count(*) FROM inbound i"
		 " WHERE i.kind = 'complaint' AND (SELECT o.campaign_id FROM outbox o"
		 " WHERE o.id = i.outbox_id) = $1"};

static void
pg_arg_ms(struct pg_args *a, int64_t v)
{
	if (v < 0)
		pg_arg_null(a);
	else
		pg_arg_int(a, v);
}

static void
segment_read(PGresult *r, int i, struct segment_row *s)
{
	s->id = pg_dup(r, i, 0);
	s->name = pg_dup(r, i, 1);
	s->condition = pg_dup(r, i, 2);
	s->created_ms = pg_int(r, i, 3);
}

static void
broadcast_read(PGresult *r, int i, struct broadcast_row *b)
{
	int st = broadcast_state_parse(pg_str(r, i, 1));
	b->id = pg_dup(r, i, 0);
	b->state = st < 0 ? BROADCAST_CANCELED : (enum broadcast_state)st;
	b->spec = pg_dup(r, i, 2);
	b->frozen = pg_dup(r, i, 3);
	b->due_ms = pgr_opt_int(r, i, 4);
	b->cursor = pg_int(r, i, 5);
	b->matched = (long)pg_int(r, i, 6);
	b->not_subscribed = (long)pg_int(r, i, 7);
	b->created_ms = pg_int(r, i, 8);
	b->updated_ms = pg_int(r, i, 9);
	b->started_ms = pgr_opt_int(r, i, 10);
	b->finished_ms = pgr_opt_int(r, i, 11);
}

/* Runs ST with the one argument ID, expecting one row or none (STORE_NOTFOUND). */
static enum store_status
pg_by_id(struct store *st, const struct pg_stmt *q, const char *id, PGresult **r)
{
	struct pg_args a = {0};
	pg_arg_text(&a, id);
	enum store_status rc = pg_run(PQS(st), q, &a, r);
	if (rc == STORE_OK && PQntuples(*r) == 0) {
		PQclear(*r);
		*r = NULL;
		rc = STORE_NOTFOUND;
	}
	return rc;
}

static enum store_status
pg_segment_get(struct store *st, const char *id, struct segment_row *out)
{
	PGresult *r;
	memset(out, 0, sizeof(*out));
	enum store_status rc = pg_by_id(st, &bc_seg_get, id, &r);
	if (rc == STORE_OK) {
		segment_read(r, 0, out);
		PQclear(r);
	}
	return rc;
}

static enum store_status
pg_segment_add(struct store *st, const struct segment_row *s)
{
	struct pg_args a = {0};
	struct segment_row old;
	PGresult *r;

	pg_arg_text(&a, s->id);
	pg_arg_text(&a, s->name);
	pg_arg_text(&a, s->condition);
	pg_arg_int(&a, s->created_ms);
	enum store_status rc = pg_run(PQS(st), &bc_seg_add, &a, &r);
	if (rc != STORE_OK)
		return rc;
	long added = pg_affected(r);
	PQclear(r);
	if (added > 0)
		return STORE_OK;
	if ((rc = pg_segment_get(st, s->id, &old)) != STORE_OK)
		return rc;
	rc = strcmp(old.name, s->name) == 0 && strcmp(old.condition, s->condition) == 0
		 ? STORE_DUPLICATE
		 : STORE_CONFLICT;
	segment_row_clear(&old);
	return rc;
}

static enum store_status
pg_segments_list(struct store *st, struct segment_row **out, size_t *n)
{
	PGresult *r;
	enum store_status rc = pg_run(PQS(st), &bc_seg_list, NULL, &r);
	if (rc != STORE_OK)
		return rc;
	int cnt = PQntuples(r);
	struct segment_row *v = cnt ? xcalloc((size_t)cnt, sizeof(*v)) : NULL;
	for (int i = 0; i < cnt; i++)
		segment_read(r, i, &v[i]);
	PQclear(r);
	*out = v;
	*n = (size_t)cnt;
	return STORE_OK;
}

static enum store_status
pg_delete_by_id(struct store *st, const struct pg_stmt *q, const char *id)
{
	struct pg_args a = {0};
	PGresult *r;
	pg_arg_text(&a, id);
	enum store_status rc = pg_run(PQS(st), q, &a, &r);
	if (rc != STORE_OK)
		return rc;
	rc = pg_affected(r) > 0 ? STORE_OK : STORE_NOTFOUND;
	PQclear(r);
	return rc;
}

static enum store_status
pg_segment_delete(struct store *st, const char *id)
{
	return pg_delete_by_id(st, &bc_seg_delete, id);
}

static enum store_status
pg_broadcast_delete(struct store *st, const char *id)
{
	return pg_delete_by_id(st, &bc_delete, id);
}

static enum store_status
pg_broadcast_get(struct store *st, const char *id, struct broadcast_row *out)
{
	PGresult *r;
	memset(out, 0, sizeof(*out));
	enum store_status rc = pg_by_id(st, &bc_get, id, &r);
	if (rc == STORE_OK) {
		broadcast_read(r, 0, out);
		PQclear(r);
	}
	return rc;
}

/* R's columns in the order of bc_add; without created_ms for bc_update. */
static void
broadcast_args(struct pg_args *a, const struct broadcast_row *b, int with_created)
{
	pg_arg_text(a, b->id);
	pg_arg_text(a, broadcast_state_name(b->state));
	pg_arg_text(a, b->spec);
	pg_arg_text(a, b->frozen);
	pg_arg_ms(a, b->due_ms);
	pg_arg_int(a, b->cursor);
	pg_arg_int(a, b->matched);
	pg_arg_int(a, b->not_subscribed);
	if (with_created)
		pg_arg_int(a, b->created_ms);
	pg_arg_int(a, b->updated_ms);
	pg_arg_ms(a, b->started_ms);
	pg_arg_ms(a, b->finished_ms);
}

static enum store_status
pg_broadcast_add(struct store *st, const struct broadcast_row *b)
{
	struct pg_args a = {0};
	struct broadcast_row old;
	PGresult *r;

	broadcast_args(&a, b, 1);
	enum store_status rc = pg_run(PQS(st), &bc_add, &a, &r);
	if (rc != STORE_OK)
		return rc;
	long added = pg_affected(r);
	PQclear(r);
	if (added > 0)
		return STORE_OK;
	if ((rc = pg_broadcast_get(st, b->id, &old)) != STORE_OK)
		return rc;
	rc = strcmp(old.spec, b->spec) == 0 ? STORE_DUPLICATE : STORE_CONFLICT;
	broadcast_row_clear(&old);
	return rc;
}

static enum store_status
pg_broadcast_update(struct store *st, const struct broadcast_row *b)
{
	struct pg_args a = {0};
	PGresult *r;

	broadcast_args(&a, b, 0);
	pg_fence_mark(PQS(st)); /* issue 21: a fan-out's progress, under partition 0's lease */
	enum store_status rc = pg_run(PQS(st), &bc_update, &a, &r);
	if (rc != STORE_OK)
		return rc;
	rc = pg_affected(r) > 0 ? STORE_OK : STORE_NOTFOUND;
	PQclear(r);
	return rc;
}

static enum store_status
pg_broadcast_rows(struct store *st, const struct pg_stmt *q, const struct pg_args *a,
		  struct broadcast_row **out, size_t *n)
{
	PGresult *r;
	enum store_status rc = pg_run(PQS(st), q, a, &r);
	if (rc != STORE_OK)
		return rc;
	int cnt = PQntuples(r);
	struct broadcast_row *v = cnt ? xcalloc((size_t)cnt, sizeof(*v)) : NULL;
	for (int i = 0; i < cnt; i++)
		broadcast_read(r, i, &v[i]);
	PQclear(r);
	*out = v;
	*n = (size_t)cnt;
	return STORE_OK;
}

static enum store_status
pg_broadcasts_list(struct store *st, int limit, struct broadcast_row **out, size_t *n)
{
	struct pg_args a = {0};
	pg_arg_int(&a, limit);
	return pg_broadcast_rows(st, &bc_list, &a, out, n);
}

static enum store_status
pg_broadcasts_due(struct store *st, int64_t now_ms, int limit, struct broadcast_row **out,
		  size_t *n)
{
	struct pg_args a = {0};
	/* Issue 21: broadcasts fan out on the node that holds partition 0. */
	if (!pg_owns_part0(PQS(st))) {
		*out = NULL;
		*n = 0;
		return STORE_OK;
	}
	pg_arg_int(&a, now_ms);
	pg_arg_int(&a, limit);
	return pg_broadcast_rows(st, &bc_due, &a, out, n);
}

static enum store_status
pg_broadcast_counts(struct store *st, const char *campaign_id, struct broadcast_counts *out)
{
	struct pg_args a = {0};
	struct broadcast_counts c = {0};
	PGresult *r;

	pg_arg_text(&a, campaign_id);
	enum store_status rc = pg_run(PQS(st), &bc_counts, &a, &r);
	if (rc != STORE_OK)
		return rc;
	for (int i = 0; i < PQntuples(r); i++) {
		const char *name = pg_str(r, i, 0);
		int64_t n = pg_int(r, i, 2);
		int state = name ? outbox_state_parse(name) : -1;
		if (name == NULL)
			c.complaints = n;
		else if (state == OUTBOX_SKIPPED)
			broadcast_counts_skip_add(&c, pg_str(r, i, 1), n);
		else if (state >= 0)
			c.n[state] += n;
	}
	PQclear(r);
	*out = c;
	return STORE_OK;
}

/* The PostgreSQL backend's table of broadcasts and segments (store_broadcast.h). */
const struct store_broadcast_ops store_pg_broadcast_ops = {
    .segment_add = pg_segment_add,
    .segment_get = pg_segment_get,
    .segments_list = pg_segments_list,
    .segment_delete = pg_segment_delete,
    .broadcast_add = pg_broadcast_add,
    .broadcast_get = pg_broadcast_get,
    .broadcasts_list = pg_broadcasts_list,
    .broadcast_update = pg_broadcast_update,
    .broadcast_delete = pg_broadcast_delete,
    .broadcasts_due = pg_broadcasts_due,
    .broadcast_counts = pg_broadcast_counts,
};
