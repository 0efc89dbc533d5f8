/*
 * Retention in the SQLite backend: one small chunk at a time (retention.c calls it as store
 * jobs), so the store thread is never held for long. Campaigns' statistics are counters
 * (stats_counts) that deleting rows leaves alone; the outbox per state (/v1/status) is added
 * to stats_archive before its messages go (store_sqlite_stats.c adds it back); what a running
 * journey, the engine or the re-entry rules need is never touched:
 * - events: only those the engine has consumed (its cursor), and never a customer's first
 *   event of a type (first purchase, "has ever ...");
 * - messages and notes: never those of a running journey;
 * - journeys: only finished ones; those that re-entry rules read ("never", "after" within
 *   its window) stay without their trigger's properties and id and their awaited event.
 */
#include <sqlite3.h>
#include <stdlib.h>
#include <string.h>

#include "store_sqlite.h"
#include "util.h"

#define ARCHIVE_ADD " ON CONFLICT DO UPDATE SET n = n + excluded.n"

/* Statements run once per chunk; prepared at each use (a chunk is a few milliseconds). */
static const char *const retention_events_walk =
    "SELECT seq, received_ms, NOT EXISTS (SELECT 1 FROM events f WHERE f.customer_id ="
    " e.customer_id AND f.type = e.type AND (f.time_ms < e.time_ms OR (f.time_ms = e.time_ms"
    " AND f.seq < e.seq))) FROM events e WHERE seq > ?1 AND seq <= (SELECT CAST(value AS"
    " INTEGER) FROM meta WHERE key = 'engine_cursor') ORDER BY seq LIMIT ?2";
static const char *const retention_payloads_walk =
    "SELECT final_ms, id FROM outbox WHERE final_ms IS NOT NULL AND final_ms < ?1"
    " AND (final_ms > ?2 OR (final_ms = ?2 AND id > ?3)) ORDER BY final_ms, id LIMIT ?4";
static const char *const retention_journeys_walk =
    "SELECT exited_ms, id, campaign_id FROM journeys WHERE active = 0 AND exited_ms < ?1"
    " AND (exited_ms > ?2 OR (exited_ms = ?2 AND id > ?3)) ORDER BY exited_ms, id LIMIT ?4";
static const char *const retention_journey_slim =
    "UPDATE journeys SET trigger = json_object('type', json_extract(trigger, '$.type'), 'time',"
    " json_extract(trigger, '$.time')), event = NULL WHERE id = ?1"
    " AND (json_type(trigger, '$.properties') IS NOT NULL OR json_type(trigger, '$.id')"
    " IS NOT NULL OR event IS NOT NULL)";
/* Campaigns' figures are counters (stats_counts), which deleting rows leaves as they are. */
static const char *const retention_journeys_go[] = {
    "DELETE FROM journeys WHERE id IN (SELECT id FROM temp.prune_ids)",
};
static const char *const retention_notes_walk =
    "SELECT n.id, n.at_ms, EXISTS (SELECT 1 FROM journeys j WHERE j.id = n.journey_id"
    " AND j.active = 1) FROM journey_notes n WHERE n.id > ?1 ORDER BY n.id LIMIT ?2";
static const char *const retention_messages_pick =
    "INSERT INTO temp.prune_ids (id) SELECT o.id FROM outbox o WHERE o.final_ms IS NOT NULL"
    " AND o.final_ms < ?1 AND NOT EXISTS (SELECT 1 FROM journeys j WHERE j.id = o.journey_id"
    " AND j.active = 1) ORDER BY o.final_ms, o.id LIMIT ?2";
static const char *const retention_messages_go[] = {
    "INSERT INTO stats_archive (campaign_id, kind, step_id, state, reason, day, n)"
    " SELECT campaign_id, 'outbox', step_id, state, coalesce(reason, 'unknown'),"
    " coalesce(final_ms, created_ms) / 86400000, count(*) FROM outbox"
    " WHERE id IN (SELECT id FROM temp.prune_ids) AND state IN ('sent', 'failed', 'expired',"
    " 'skipped') GROUP BY 1, 3, 4, 5, 6" ARCHIVE_ADD,
    "DELETE FROM outbox_payload WHERE id IN (SELECT id FROM temp.prune_ids)",
    /* A transactional send's idempotency key lives as long as its message. */
    "DELETE FROM transactional_keys WHERE outbox_id IN (SELECT id FROM temp.prune_ids)",
    /* Tracked links go with their message; their clicks stay counted in measure_counts. */
    "DELETE FROM links WHERE outbox_id IN (SELECT id FROM temp.prune_ids)",
    "DELETE FROM outbox WHERE id IN (SELECT id FROM temp.prune_ids)",
};
static const char *const retention_notes_go[] = {
    "DELETE FROM journey_notes WHERE id IN (SELECT id FROM temp.prune_ids)",
};

static enum store_status
retention_prepare(struct store_sqlite *s, const char *sql, sqlite3_stmt **q)
{
	int rc = sqlite3_prepare_v2(s->db, sql, -1, q, NULL);
	return rc == SQLITE_OK ? STORE_OK : store_sqlite_status(s, rc);
}

/* Runs SQL binding ?1 to A when A >= 0; for statements without rows. */
static enum store_status
retention_exec(struct store_sqlite *s, const char *sql, int64_t a)
{
	sqlite3_stmt *q;
	enum store_status rc = retention_prepare(s, sql, &q);
	if (rc != STORE_OK)
		return rc;
	if (a >= 0)
		sqlite3_bind_int64(q, 1, a);
	rc = store_sqlite_status(s, sqlite3_step(q));
	sqlite3_finalize(q);
	return rc;
}

/* An empty temp.prune_ids for this chunk. */
static enum store_status
retention_ids_reset(struct store_sqlite *s)
{
	enum store_status rc = retention_exec(
	    s, "CREATE TEMP TABLE IF NOT EXISTS prune_ids (id INTEGER PRIMARY KEY)", -1);
	return rc == STORE_OK ? retention_exec(s, "DELETE FROM temp.prune_ids", -1) : rc;
}

/* Runs the statements GO over temp.prune_ids. */
static enum store_status
retention_ids_apply(struct store_sqlite *s, const char *const *go, size_t n)
{
	enum store_status rc = STORE_OK;
	for (size_t i = 0; i < n && rc == STORE_OK; i++)
		rc = retention_exec(s, go[i], -1);
	return rc;
}

/* Events in seq order from the cursor, up to the first one received after the limit. */
static enum store_status
retention_events(struct store_sqlite *s, int64_t cutoff, int limit, struct retention_cursor *cur,
		 int *n)
{
	sqlite3_stmt *q, *del;
	enum store_status rc;
	int step = SQLITE_DONE;

	if ((rc = retention_prepare(s, retention_events_walk, &q)) != STORE_OK)
		return rc;
	if ((rc = retention_prepare(s, "DELETE FROM events WHERE seq = ?1", &del)) != STORE_OK) {
		sqlite3_finalize(q);
		return rc;
	}
	sqlite3_bind_int64(q, 1, cur->id);
	sqlite3_bind_int(q, 2, limit);
	while (rc == STORE_OK && (step = sqlite3_step(q)) == SQLITE_ROW) {
		if (sqlite3_column_int64(q, 1) >= cutoff) {
			*n = 0; /* the rest is younger: done for now */
			break;
		}
		cur->id = sqlite3_column_int64(q, 0);
		++*n;
		if (sqlite3_column_int(q, 2)) /* the customer's first of its type stays */
			continue;
		sqlite3_bind_int64(del, 1, cur->id);
		rc = store_sqlite_status(s, sqlite3_step(del));
		sqlite3_reset(del);
	}
	if (rc == STORE_OK && step != SQLITE_ROW && step != SQLITE_DONE)
		rc = store_sqlite_status(s, step);
	sqlite3_finalize(q);
	sqlite3_finalize(del);
	return rc;
}

/* Walks an index of (time, id) from the cursor; ACT runs on each id. */
static enum store_status
retention_walk(struct store_sqlite *s, const char *walk, const char *act, int64_t cutoff, int limit,
	       struct retention_cursor *cur, int *n)
{
	sqlite3_stmt *q, *a;
	enum store_status rc;
	int step = SQLITE_DONE;

	if ((rc = retention_prepare(s, walk, &q)) != STORE_OK)
		return rc;
	if ((rc = retention_prepare(s, act, &a)) != STORE_OK) {
		sqlite3_finalize(q);
		return rc;
	}
	sqlite3_bind_int64(q, 1, cutoff);
	sqlite3_bind_int64(q, 2, cur->ms);
	sqlite3_bind_int64(q, 3, cur->id);
	sqlite3_bind_int(q, 4, limit);
	while (rc == STORE_OK && (step = sqlite3_step(q)) == SQLITE_ROW) {
		cur->ms = sqlite3_column_int64(q, 0);
		cur->id = sqlite3_column_int64(q, 1);
		++*n;
		sqlite3_bind_int64(a, 1, cur->id);
		rc = store_sqlite_status(s, sqlite3_step(a));
		sqlite3_reset(a);
	}
	if (rc == STORE_OK && step != SQLITE_ROW && step != SQLITE_DONE)
		rc = store_sqlite_status(s, step);
	sqlite3_finalize(q);
	sqlite3_finalize(a);
	return rc;
}

/* Final messages, oldest outcome first, none of a running journey. */
static enum store_status
retention_messages(struct store_sqlite *s, int64_t cutoff, int limit, int *n)
{
	sqlite3_stmt *q;
	enum store_status rc;

	if ((rc = retention_ids_reset(s)) != STORE_OK ||
	    (rc = retention_prepare(s, retention_messages_pick, &q)) != STORE_OK)
		return rc;
	sqlite3_bind_int64(q, 1, cutoff);
	sqlite3_bind_int(q, 2, limit);
	rc = store_sqlite_status(s, sqlite3_step(q));
	sqlite3_finalize(q);
	if (rc != STORE_OK)
		return rc;
	*n = sqlite3_changes(s->db);
	return *n ? retention_ids_apply(s, retention_messages_go,
					NT_ARRAY_LEN(retention_messages_go))
		  : STORE_OK;
}

/*
 * Notes in id order from the cursor, up to the first one written after the limit. Those of a
 * running journey are passed over (the cursor is in memory: they are looked at again after
 * the next start).
 */
static enum store_status
retention_notes(struct store_sqlite *s, int64_t cutoff, int limit, struct retention_cursor *cur,
		int *n)
{
	sqlite3_stmt *q, *add;
	enum store_status rc;
	int step = SQLITE_DONE, picked = 0;

	if ((rc = retention_ids_reset(s)) != STORE_OK ||
	    (rc = retention_prepare(s, retention_notes_walk, &q)) != STORE_OK)
		return rc;
	if ((rc = retention_prepare(s, "INSERT INTO temp.prune_ids (id) VALUES (?1)", &add)) !=
	    STORE_OK) {
		sqlite3_finalize(q);
		return rc;
	}
	sqlite3_bind_int64(q, 1, cur->id);
	sqlite3_bind_int(q, 2, limit);
	while (rc == STORE_OK && (step = sqlite3_step(q)) == SQLITE_ROW) {
		if (sqlite3_column_int64(q, 1) >= cutoff) {
			*n = 0;
			break;
		}
		cur->id = sqlite3_column_int64(q, 0);
		++*n;
		if (sqlite3_column_int(q, 2))
			continue;
		sqlite3_bind_int64(add, 1, cur->id);
		rc = store_sqlite_status(s, sqlite3_step(add));
		sqlite3_reset(add);
		picked++;
	}
	if (rc == STORE_OK && step != SQLITE_ROW && step != SQLITE_DONE)
		rc = store_sqlite_status(s, step);
	sqlite3_finalize(q);
	sqlite3_finalize(add);
	if (rc == STORE_OK && picked)
		rc = retention_ids_apply(s, retention_notes_go, NT_ARRAY_LEN(retention_notes_go));
	return rc;
}

/*
 * Finished journeys by exit time from the cursor: deleted (counted in the archive), or, when
 * KEEP says re-entry reads them, stripped of their trigger's data.
 */
static enum store_status
retention_journeys(struct store_sqlite *s, int64_t cutoff, int limit, const json_t *keep,
		   struct retention_cursor *cur, int *n)
{
	sqlite3_stmt *q, *slim, *add;
	enum store_status rc;
	int step = SQLITE_DONE, picked = 0;

	if ((rc = retention_ids_reset(s)) != STORE_OK ||
	    (rc = retention_prepare(s, retention_journeys_walk, &q)) != STORE_OK)
		return rc;
	if ((rc = retention_prepare(s, retention_journey_slim, &slim)) != STORE_OK) {
		sqlite3_finalize(q);
		return rc;
	}
	if ((rc = retention_prepare(s, "INSERT INTO temp.prune_ids (id) VALUES (?1)", &add)) !=
	    STORE_OK) {
		sqlite3_finalize(q);
		sqlite3_finalize(slim);
		return rc;
	}
	sqlite3_bind_int64(q, 1, cutoff);
	sqlite3_bind_int64(q, 2, cur->ms);
	sqlite3_bind_int64(q, 3, cur->id);
	sqlite3_bind_int(q, 4, limit);
	while (rc == STORE_OK && (step = sqlite3_step(q)) == SQLITE_ROW) {
		const json_t *rule = json_object_get(keep, (const char *)sqlite3_column_text(q, 2));
		sqlite3_stmt *act;
		cur->ms = sqlite3_column_int64(q, 0);
		cur->id = sqlite3_column_int64(q, 1);
		++*n;
		if (rule != NULL &&
		    (json_integer_value(rule) < 0 || cur->ms >= json_integer_value(rule)))
			act = slim; /* re-entry reads it */
		else {
			act = add;
			picked++;
		}
		sqlite3_bind_int64(act, 1, cur->id);
		rc = store_sqlite_status(s, sqlite3_step(act));
		sqlite3_reset(act);
	}
	if (rc == STORE_OK && step != SQLITE_ROW && step != SQLITE_DONE)
		rc = store_sqlite_status(s, step);
	sqlite3_finalize(q);
	sqlite3_finalize(slim);
	sqlite3_finalize(add);
	if (rc == STORE_OK && picked)
		rc = retention_ids_apply(s, retention_journeys_go,
					 NT_ARRAY_LEN(retention_journeys_go));
	return rc;
}

enum store_status
store_sqlite_prune(struct store *st, enum retention_kind kind, int64_t cutoff_ms, int limit,
		   const json_t *keep, struct retention_cursor *cur, int *n)
{
	struct store_sqlite *s = SQ(st);

	*n = 0;
	switch (kind) {
	case RETAIN_EVENTS:
		return retention_events(s, cutoff_ms, limit, cur, n);
	case RETAIN_PAYLOADS:
		return retention_walk(s, retention_payloads_walk,
				      "DELETE FROM outbox_payload WHERE id = ?1", cutoff_ms, limit,
				      cur, n);
	case RETAIN_MESSAGES:
		return retention_messages(s, cutoff_ms, limit, n);
	case RETAIN_NOTES:
		return retention_notes(s, cutoff_ms, limit, cur, n);
	case RETAIN_JOURNEYS:
		return retention_journeys(s, cutoff_ms, limit, keep, cur, n);
	default:
		return STORE_OK;
	}
}
