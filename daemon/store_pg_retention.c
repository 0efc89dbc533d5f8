/*
 * Retention in the PostgreSQL backend, mirroring store_sqlite_retention.c: one small chunk at
 * a time (retention.c calls it as store jobs), each chunk ONE statement whose CTEs pick the
 * rows, add the outbox per state (/v1/status) to stats_archive (store_pg_stats.c adds it
 * back) and delete or slim them; campaigns' statistics are counters (stats_counts) that
 * deleting rows leaves alone. All of a statement's parts see the same snapshot, so what is
 * counted is what goes. What a running journey, the engine or the re-entry rules need is never
 * touched:
 * - events: only those the engine has consumed (its cursor), and never a customer's first
 *   event of a type (first purchase, "has ever ...");
 * - messages and notes: never those of a running journey;
 * - journeys: only finished ones; those that re-entry rules read ("never", "after" within
 *   its window) stay without their trigger's properties and id and their awaited event.
 * Nodes sharing the database prune one at a time (an advisory lock per transaction): two
 * chunks picking the same rows at once would both add them to the archive.
 */
#include <stdlib.h>
#include <string.h>

#include "store_pg.h"
#include "util.h"

#define ARCHIVE_ADD                                                                                \
	" ON CONFLICT (campaign_id, kind, step_id, state, reason, day)"                            \
	" DO UPDATE SET n = stats_archive.n + excluded.n"
#define PG_MAX_BIGINT "9223372036854775807"
/* The advisory lock retention holds while a chunk runs: "ntretent" in ASCII (pg_locks). */
#define PG_RETENTION_LOCK 0x6e74726574656e74LL

static const struct pg_stmt ret_lock = {"ret_lock", "SELECT pg_try_advisory_xact_lock($1)"};

/*
 * Events in seq order after $1 and before the first one the engine has not consumed (issue 21:
 * the first pending one past the cursor a migration left), $2 of them, up to the first one
 * received at or after $3 (the walk stops there: the rest is younger). Answers how many were
 * looked at, the last one's seq, and whether the walk stopped.
 */
static const struct pg_stmt ret_events = {
    "ret_events",
    "WITH w AS MATERIALIZED (SELECT e.seq, e.received_ms, NOT EXISTS (SELECT 1 FROM events f"
    " WHERE f.customer_id = e.customer_id AND f.type = e.type AND (f.time_ms < e.time_ms OR"
    " (f.time_ms = e.time_ms AND f.seq < e.seq))) AS first FROM events e WHERE e.seq > $1"
    " AND e.seq < coalesce((SELECT min(p.seq) FROM events p WHERE p.pending AND p.seq >"
    " (SELECT value::bigint FROM meta WHERE key = 'engine_cursor')), " PG_MAX_BIGINT ")"
    " ORDER BY e.seq LIMIT $2),"
    " stop AS (SELECT min(seq) AS seq FROM w WHERE received_ms >= $3),"
    " take AS MATERIALIZED (SELECT seq, first FROM w WHERE seq < coalesce((SELECT seq FROM"
    " stop), " PG_MAX_BIGINT ")),"
    " d AS (DELETE FROM events WHERE seq IN (SELECT seq FROM take WHERE NOT first))"
    " SELECT (SELECT count(*) FROM take), (SELECT max(seq) FROM take),"
    " (SELECT seq FROM stop) IS NOT NULL"};
/* Rendered messages of final messages by (final_ms, id) from the cursor ($2, $3). */
static const struct pg_stmt ret_payloads = {
    "ret_payloads",
    "WITH w AS MATERIALIZED (SELECT final_ms, id FROM outbox WHERE final_ms IS NOT NULL"
    " AND final_ms < $1 AND (final_ms, id) > ($2, $3) ORDER BY final_ms, id LIMIT $4),"
    " d AS (DELETE FROM outbox_payload WHERE id IN (SELECT id FROM w))"
    " SELECT count(*) OVER (), final_ms, id FROM w ORDER BY final_ms DESC, id DESC LIMIT 1"};
/* Final messages, oldest outcome first, none of a running journey. */
static const struct pg_stmt ret_messages = {
    "ret_messages",
    "WITH ids AS MATERIALIZED (SELECT o.id FROM outbox o WHERE o.final_ms IS NOT NULL"
    " AND o.final_ms < $1 AND NOT EXISTS (SELECT 1 FROM journeys j WHERE j.id = o.journey_id"
    " AND j.active = 1) ORDER BY o.final_ms, o.id LIMIT $2),"
    " a AS (INSERT INTO stats_archive (campaign_id, kind, step_id, state, reason, day, n)"
    " SELECT campaign_id, 'outbox', step_id, state, coalesce(reason, 'unknown'),"
    " coalesce(final_ms, created_ms) / 86400000, count(*) FROM outbox"
    " WHERE id IN (SELECT id FROM ids) AND state IN ('sent', 'failed', 'expired', 'skipped')"
    " GROUP BY 1, 3, 4, 5, 6" ARCHIVE_ADD "),"
    " dp AS (DELETE FROM outbox_payload WHERE id IN (SELECT id FROM ids)),"
    /* A transactional send's idempotency key lives as long as its message. */
    " dt AS (DELETE FROM transactional_keys WHERE outbox_id IN (SELECT id FROM ids)),"
    /* Tracked links go with their message; their clicks stay counted in measure_counts. */
    " dl AS (DELETE FROM links WHERE outbox_id IN (SELECT id FROM ids)),"
    " dout AS (DELETE FROM outbox WHERE id IN (SELECT id FROM ids))"
    " SELECT count(*) FROM ids"};
/*
 * Notes in id order from the cursor, up to the first one written at or after $3. Those of a
 * running journey are passed over (the cursor is in memory: they are looked at again after
 * the next start).
 */
static const struct pg_stmt ret_notes = {
    "ret_notes",
    "WITH w AS MATERIALIZED (SELECT n.id, n.at_ms, EXISTS (SELECT 1 FROM journeys j"
    " WHERE j.id = n.journey_id AND j.active = 1) AS running FROM journey_notes n"
    " WHERE n.id > $1 ORDER BY n.id LIMIT $2),"
    " stop AS (SELECT min(id) AS id FROM w WHERE at_ms >= $3),"
    " take AS MATERIALIZED (SELECT id, running FROM w WHERE id < coalesce((SELECT id FROM"
    " stop), " PG_MAX_BIGINT ")),"
    " d AS (DELETE FROM journey_notes WHERE id IN (SELECT id FROM take WHERE NOT running))"
    " SELECT (SELECT count(*) FROM take), (SELECT max(id) FROM take),"
    " (SELECT id FROM stop) IS NOT NULL"};
/*
 * Finished journeys by (exited_ms, id) from the cursor ($2, $3): deleted (counted in the
 * archive), or, when re-entry reads them ($5: campaign id -> the time before which one may
 * go, or -1: never), stripped of their trigger's data.
 */
static const struct pg_stmt ret_journeys = {
    "ret_journeys",
    "WITH w AS MATERIALIZED (SELECT j.exited_ms, j.id, k.after IS NOT NULL AND (k.after < 0"
    " OR j.exited_ms >= k.after) AS keep FROM (SELECT exited_ms, id, campaign_id"
    " FROM journeys WHERE active = 0 AND exited_ms < $1 AND (exited_ms, id) > ($2, $3)"
    " ORDER BY exited_ms, id LIMIT $4) j LEFT JOIN LATERAL (SELECT ($5::jsonb ->>"
    " j.campaign_id)::bigint AS after) k ON true),"
    " s AS (UPDATE journeys SET trigger = jsonb_build_object('type', trigger::jsonb -> 'type',"
    " 'time', trigger::jsonb -> 'time')::text, event = NULL WHERE id IN (SELECT id FROM w"
    " WHERE keep) AND (trigger::jsonb ? 'properties' OR trigger::jsonb ? 'id'"
    " OR event IS NOT NULL)),"
    " d AS (DELETE FROM journeys WHERE id IN (SELECT id FROM w WHERE NOT keep))"
    " SELECT count(*) OVER (), exited_ms, id FROM w ORDER BY exited_ms DESC, id DESC LIMIT 1"};

/*
 * The walks in id order (events, notes): (looked at, last id, stopped). A walk that stopped at
 * a row too young says so with *N at 0, as the SQLite backend does.
 */
static enum store_status
retention_id_walk(struct store_pg *s, const struct pg_stmt *st, int64_t cutoff, int limit,
		  struct retention_cursor *cur, int *n)
{
	struct pg_args a = {0};
	PGresult *r;
	enum store_status rc;

	pg_arg_int(&a, cur->id);
	pg_arg_int(&a, limit);
	pg_arg_int(&a, cutoff);
	if ((rc = pg_run(s, st, &a, &r)) != STORE_OK)
		return rc;
	if (pg_int(r, 0, 0) > 0)
		cur->id = pg_int(r, 0, 1);
	const char *stopped = pg_str(r, 0, 2);
	*n = stopped && *stopped == 't' ? 0 : (int)pg_int(r, 0, 0);
	PQclear(r);
	return STORE_OK;
}

/* The walks by (time, id) (payloads, journeys): (looked at, the last one's time and id). */
static enum store_status
retention_time_walk(struct store_pg *s, const struct pg_stmt *st, int64_t cutoff, int limit,
		    const char *keep, struct retention_cursor *cur, int *n)
{
	struct pg_args a = {0};
	PGresult *r;
	enum store_status rc;

	pg_arg_int(&a, cutoff);
	pg_arg_int(&a, cur->ms);
	pg_arg_int(&a, cur->id);
	pg_arg_int(&a, limit);
	if (keep != NULL)
		pg_arg_text(&a, keep);
	if ((rc = pg_run(s, st, &a, &r)) != STORE_OK)
		return rc;
	if (PQntuples(r) > 0) {
		*n = (int)pg_int(r, 0, 0);
		cur->ms = pg_int(r, 0, 1);
		cur->id = pg_int(r, 0, 2);
	}
	PQclear(r);
	return STORE_OK;
}

/* Final messages, oldest outcome first: counted in the archive, then deleted with theirs. */
static enum store_status
retention_messages(struct store_pg *s, int64_t cutoff, int limit, int *n)
{
	struct pg_args a = {0};
	PGresult *r;
	enum store_status rc;

	pg_arg_int(&a, cutoff);
	pg_arg_int(&a, limit);
	if ((rc = pg_run(s, &ret_messages, &a, &r)) != STORE_OK)
		return rc;
	*n = (int)pg_int(r, 0, 0);
	PQclear(r);
	return STORE_OK;
}

/*
 * Whether this transaction may prune: no other node's chunk runs now. The lock goes with the
 * transaction, so the next chunk, on any node, sees what this one deleted.
 */
static enum store_status
retention_lock(struct store_pg *s, int *got)
{
	struct pg_args a = {0};
	PGresult *r;
	enum store_status rc;

	*got = 0;
	pg_arg_int(&a, PG_RETENTION_LOCK);
	if ((rc = pg_run(s, &ret_lock, &a, &r)) != STORE_OK)
		return rc;
	const char *v = pg_str(r, 0, 0);
	*got = v != NULL && *v == 't';
	PQclear(r);
	return STORE_OK;
}

/* Another node pruning leaves this one's chunk empty (*N 0): the next pass tries again. */
enum store_status
store_pg_prune(struct store *st, enum retention_kind kind, int64_t cutoff_ms, int limit,
	       const json_t *keep, struct retention_cursor *cur, int *n)
{
	struct store_pg *s = PQS(st);
	enum store_status rc;
	int got;

	*n = 0;
	if ((rc = retention_lock(s, &got)) != STORE_OK || !got)
		return rc;
	switch (kind) {
	case RETAIN_EVENTS:
		return retention_id_walk(s, &ret_events, cutoff_ms, limit, cur, n);
	case RETAIN_PAYLOADS:
		return retention_time_walk(s, &ret_payloads, cutoff_ms, limit, NULL, cur, n);
	case RETAIN_MESSAGES:
		return retention_messages(s, cutoff_ms, limit, n);
	case RETAIN_NOTES:
		return retention_id_walk(s, &ret_notes, cutoff_ms, limit, cur, n);
	case RETAIN_JOURNEYS: {
		char *k = keep ? json_dumps(keep, JSON_COMPACT) : NULL;
		rc = retention_time_walk(s, &ret_journeys, cutoff_ms, limit, k ? k : "{}", cur, n);
		free(k);
		return rc;
	}
	default:
		return STORE_OK;
	}
}
