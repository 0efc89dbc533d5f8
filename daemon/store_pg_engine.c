/*
 * The PostgreSQL backend's operations of store_engine.h, mirroring store_sqlite_engine.c:
 * campaign versions, journeys and their notes, trigger timers, schedules, the frequency cap
 * and pauses. The engine runs them hot: each is one named statement, one round trip.
 */
#include <stdlib.h>
#include <string.h>

#include "store_pg.h"
#include "store_pg_rows.h"
#include "store_engine.h"
#include "util.h"

static const struct pg_stmt eng_version_save = {
    "eng_version_save",
    "INSERT INTO campaign_versions (campaign_id, version, definition, loaded_ms)"
    " VALUES ($1, $2, $3, $4) ON CONFLICT DO NOTHING"};
static const struct pg_stmt eng_version_load = {
    "eng_version_load",
    "SELECT definition FROM campaign_versions WHERE campaign_id = $1 AND version = $2"};
static const struct pg_stmt eng_journey_insert = {
    "eng_journey_insert",
    "INSERT INTO journeys (campaign_id, version, customer_id, jkey, active, step, visit,"
    " due_ms, wait_event, on_event, trigger, entered_ms, exited_ms, exit_reason, passed, id,"
    " event) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17)"};
static const struct pg_stmt eng_journey_ids = {
    "eng_journey_ids",
    "SELECT nextval(pg_get_serial_sequence('journeys', 'id')) FROM generate_series(1, $1)"};
static const struct pg_stmt eng_journey_update = {
    "eng_journey_update",
    "UPDATE journeys SET active = $2, step = $3, visit = $4, due_ms = $5, wait_event = $6,"
    " on_event = $7, exited_ms = $8, exit_reason = $9, event = $10, passed = $11 WHERE id = $1"};
static const struct pg_stmt eng_journey_find = {
    "eng_journey_find",
    "SELECT " PGR_J_COLS " FROM journeys WHERE campaign_id = $1 AND customer_id = $2"
    " AND jkey = $3 AND (active = 1 OR $4::integer = 0)"
    " ORDER BY entered_ms DESC, id DESC LIMIT 1"};
/*
 * The journeys an event can touch, in one statement: those waiting for its type, and those of
 * the campaigns that exit on it ($3, a text[] literal). "active + 0 = 1" keeps the partial
 * indexes on active = 1 out: a plan made before a new database's first ANALYZE takes their
 * size for one row, and read journeys_one_active whole for its second column, customer_id
 * (test_pg_schema). journeys_customer is probed.
 */
static const struct pg_stmt eng_journeys_event = {
    "eng_journeys_event",
    "SELECT " PGR_J_COLS " FROM journeys WHERE customer_id = $1 AND active + 0 = 1"
    " AND (wait_event = $2 OR campaign_id = ANY ($3::text[])) ORDER BY id"};
static const struct pg_stmt eng_exit_events = {
    "eng_exit_events", "SELECT campaign_id, definition FROM campaign_versions"};
static const struct pg_stmt eng_journeys_due = {
    "eng_journeys_due",
    "SELECT " PGR_J_COLS " FROM journeys WHERE active = 1 AND due_ms IS NOT NULL"
    " AND due_ms <= $1 AND" PG_OWNED("customer_id", "$3", "$4") "ORDER BY due_ms, id LIMIT $2"};
/*
 * The earliest of each as an ordered index read that stops at its first row (journeys_due,
 * timers_due): written as min(), the generic plan made on a new database's small tables read
 * every due journey and took their minimum (1.4 to 3 ms a pass at 1,000 to 6,000 journeys).
 */
/* clang-format off */
static const struct pg_stmt eng_next_due = {
    "eng_next_due",
    "SELECT min(d) FROM ((SELECT due_ms AS d FROM journeys WHERE active = 1"
    " AND due_ms IS NOT NULL AND" PG_OWNED("customer_id", "$1", "$2") "ORDER BY due_ms LIMIT 1)"
    " UNION ALL (SELECT due_ms FROM timers WHERE" PG_OWNED("customer_id", "$1", "$2")
    "ORDER BY due_ms LIMIT 1)"
    " UNION ALL SELECT min(due_ms) FROM schedules WHERE $3::boolean"
    " UNION ALL SELECT min(due_ms) FROM broadcasts WHERE $3::boolean"
    " AND state IN ('scheduled', 'sending')) t"};
/* clang-format on */
/* Held: active, not timed, not waiting for an event (see engine_run_one). */
static const struct pg_stmt eng_release = {
    "eng_release", "UPDATE journeys SET due_ms = $2 WHERE campaign_id = $1 AND active = 1"
		   " AND due_ms IS NULL AND wait_event IS NULL"};
static const struct pg_stmt eng_timers_due = {
    "eng_timers_due", "SELECT campaign_id, customer_id, due_ms FROM timers WHERE due_ms <= $1"
		      " AND" PG_OWNED("customer_id", "$3", "$4") "ORDER BY due_ms LIMIT $2"};
static const struct pg_stmt eng_timer_delete = {
    "eng_timer_delete", "DELETE FROM timers WHERE campaign_id = $1 AND customer_id = $2"};
static const struct pg_stmt eng_sched_get = {
    "eng_sched_get",
    "SELECT campaign_id, version, due_ms, run_ms, cursor FROM schedules WHERE campaign_id = $1"};
static const struct pg_stmt eng_sched_set = {
    "eng_sched_set", "INSERT INTO schedules (campaign_id, version, due_ms, run_ms, cursor)"
		     " VALUES ($1, $2, $3, $4, $5) ON CONFLICT (campaign_id) DO UPDATE SET"
		     " version = excluded.version, due_ms = excluded.due_ms,"
		     " run_ms = excluded.run_ms, cursor = excluded.cursor"};
static const struct pg_stmt eng_sched_due = {
    "eng_sched_due", "SELECT campaign_id, version, due_ms, run_ms, cursor FROM schedules"
		     " WHERE due_ms <= $1 ORDER BY due_ms"};
static const struct pg_stmt eng_cust_after = {
    "eng_cust_after",
    "SELECT id FROM customers WHERE id > $1 AND erased_ms IS NULL ORDER BY id LIMIT $2"};
/* Counted up to the cap ($3): the answer is "capped or not" and the oldest in the window. */
static const struct pg_stmt eng_marketing = {
    "eng_marketing", "SELECT count(*), min(created_ms) FROM (SELECT created_ms FROM outbox"
		     " WHERE customer_id = $1 AND marketing = 1 AND created_ms > $2"
		     " AND state <> 'skipped' ORDER BY created_ms LIMIT $3) t"};
static const struct pg_stmt eng_pause = {
    "eng_pause", "INSERT INTO campaign_pauses (campaign_id, paused_ms) VALUES ($1, $2)"
		 " ON CONFLICT (campaign_id) DO NOTHING"};
static const struct pg_stmt eng_unpause = {"eng_unpause",
					   "DELETE FROM campaign_pauses WHERE campaign_id = $1"};
static const struct pg_stmt eng_paused = {"eng_paused", "SELECT campaign_id FROM campaign_pauses"};

/* A time that may be absent: -1 is NULL. */
static void
pg_arg_opt(struct pg_args *a, int64_t v)
{
	if (v < 0)
		pg_arg_null(a);
	else
		pg_arg_int(a, v);
}

static enum store_status
store_pg_campaign_version_save(struct store *st, const char *id, const char *version,
			       const char *definition, int64_t now_ms)
{
	struct pg_args a = {0};
	pg_arg_text(&a, id);
	pg_arg_text(&a, version);
	pg_arg_text(&a, definition);
	pg_arg_int(&a, now_ms);
	return pg_send(PQS(st), &eng_version_save, &a);
}

static enum store_status
store_pg_campaign_version_load(struct store *st, const char *id, const char *version,
			       char **definition)
{
	struct pg_args a = {0};
	PGresult *r;
	enum store_status rc;

	*definition = NULL;
	pg_arg_text(&a, id);
	pg_arg_text(&a, version);
	if ((rc = pg_run(PQS(st), &eng_version_load, &a, &r)) != STORE_OK)
		return rc;
	rc = PQntuples(r) ? STORE_OK : STORE_NOTFOUND;
	if (rc == STORE_OK)
		*definition = pg_dup(r, 0, 0);
	PQclear(r);
	return rc;
}

/* The steps a journey has passed (a bitmap, bytea), NULL when none. */
static void
pg_arg_passed(struct pg_args *a, const struct journey *j)
{
	if (j->n_passed > 0)
		pg_arg_blob(a, j->passed, j->n_passed);
	else
		pg_arg_null(a);
}

/*
 * A new journey's id, from its sequence: taken a few dozen at a time, so that the insert needs
 * no answer (pg_send) and a burst of new journeys costs one round trip per block. A value once
 * taken is never given out again, whatever becomes of the transaction that took it, unless
 * the server crashes before its WAL holds it: so the block is dropped with the connection
 * (pg_lost); a value a committed row uses is safe, its commit flushed the WAL before it.
 */
static enum store_status
pg_journey_id(struct store_pg *s, int64_t *id)
{
	return pg_id_ahead(s, &eng_journey_ids, s->jids, (int)NT_ARRAY_LEN(s->jids), &s->njids,
			   &s->ijids, id);
}

/* The INSERT of journey J's row as it is now (its id taken). */
static enum store_status
pg_journey_send_insert(struct store_pg *s, const struct journey *j)
{
	struct pg_args a = {0};
	char *trigger = json_dumps(j->trigger, JSON_COMPACT);
	char *event = j->event ? json_dumps(j->event, JSON_COMPACT) : NULL;
	enum store_status rc;

	pg_arg_text(&a, j->campaign_id);
	pg_arg_text(&a, j->version);
	pg_arg_int(&a, j->customer_id);
	pg_arg_text(&a, j->key ? j->key : "");
	pg_arg_int(&a, j->active);
	pg_arg_int(&a, j->step);
	pg_arg_int(&a, j->visit);
	pg_arg_opt(&a, j->due_ms);
	pg_arg_text(&a, j->wait_event);
	pg_arg_int(&a, j->on_event);
	pg_arg_text(&a, trigger ? trigger : "{}");
	pg_arg_int(&a, j->entered_ms);
	pg_arg_opt(&a, j->exited_ms);
	pg_arg_text(&a, j->exit_reason);
	pg_arg_passed(&a, j);
	pg_arg_int(&a, j->id);
	pg_arg_text(&a, event);
	rc = pg_send(s, &eng_journey_insert, &a);
	free(trigger);
	free(event);
	return rc;
}

enum store_status
pg_journey_unhold(struct store_pg *s, int send)
{
	if (!s->holding)
		return STORE_OK;
	s->holding = 0; /* first: the INSERT goes through pg_pipe_send, which looks at it */
	enum store_status rc = send ? pg_journey_send_insert(s, &s->held) : STORE_OK;
	journey_clear(&s->held);
	return rc;
}

/*
 * A new journey's row waits in the transaction (s->held) for its first step, which the engine
 * runs right after: one INSERT of the row as the step left it, instead of an INSERT and an
 * UPDATE that moved its due time (a dead entry of journeys_due each, that the next due
 * time's read stepped over), rewrote 5 of its indexes and ran the counter trigger twice.
 */
static enum store_status
store_pg_journey_insert(struct store *st, struct journey *j)
{
	struct store_pg *s = PQS(st);
	int64_t id;
	enum store_status rc;

	if ((rc = pg_journey_unhold(s, 1)) != STORE_OK || (rc = pg_journey_id(s, &id)) != STORE_OK)
		return rc;
	pg_fence_mark(s); /* issue 21: committed only under this node's leases */
	j->id = id;
	if (s->in_tx && !s->tx_failed) {
		s->held = journey_copy(j);
		s->holding = 1;
		return STORE_OK;
	}
	if ((rc = pg_journey_send_insert(s, j)) != STORE_OK)
		j->id = 0;
	return rc;
}

static enum store_status
store_pg_journey_update(struct store *st, const struct journey *j)
{
	struct store_pg *s = PQS(st);
	struct pg_args a = {0};
	enum store_status rc;

	pg_fence_mark(s);
	if (s->holding && s->held.id == j->id) { /* not sent yet: the INSERT takes the update */
		journey_clear(&s->held);
		s->held = journey_copy(j);
		return STORE_OK;
	}
	char *event = j->event ? json_dumps(j->event, JSON_COMPACT) : NULL;
	pg_arg_int(&a, j->id);
	pg_arg_int(&a, j->active);
	pg_arg_int(&a, j->step);
	pg_arg_int(&a, j->visit);
	pg_arg_opt(&a, j->due_ms);
	pg_arg_text(&a, j->wait_event);
	pg_arg_int(&a, j->on_event);
	pg_arg_opt(&a, j->exited_ms);
	pg_arg_text(&a, j->exit_reason);
	pg_arg_text(&a, event);
	pg_arg_passed(&a, j);
	rc = pg_send(s, &eng_journey_update, &a);
	free(event);
	return rc;
}

/* Runs ST and reads its journey rows (all of them: callers rewrite journeys as they go). */
static enum store_status
pg_journeys(struct store_pg *s, const struct pg_stmt *st, const struct pg_args *a,
	    struct journey **out, size_t *n)
{
	PGresult *r;
	enum store_status rc = pg_run(s, st, a, &r);

	*out = NULL;
	*n = 0;
	if (rc != STORE_OK)
		return rc;
	pgr_journey_rows(r, out, n);
	PQclear(r);
	return STORE_OK;
}

static enum store_status
store_pg_journey_find(struct store *st, const char *campaign_id, int64_t customer_id,
		      const char *key, int active_only, struct journey *out)
{
	struct pg_args a = {0};
	struct journey *v;
	size_t n;
	enum store_status rc;

	pg_arg_text(&a, campaign_id);
	pg_arg_int(&a, customer_id);
	pg_arg_text(&a, key ? key : "");
	pg_arg_int(&a, active_only);
	if ((rc = pg_journeys(PQS(st), &eng_journey_find, &a, &v, &n)) != STORE_OK)
		return rc;
	if (n == 0)
		return STORE_NOTFOUND;
	*out = v[0];
	free(v);
	return STORE_OK;
}

/* One statement for both kinds: in id order, each once. */
static enum store_status
store_pg_journeys_for_event(struct store *st, int64_t customer_id, const char *type,
			    char *const *campaigns, size_t n_campaigns, struct journey **out,
			    size_t *n)
{
	struct pg_args a = {0};
	struct pgr_array list;
	enum store_status rc;

	pgr_array_init(&list);
	for (size_t i = 0; i < n_campaigns; i++)
		pgr_array_text(&list, campaigns[i]);
	pgr_array_end(&list);
	pg_arg_int(&a, customer_id);
	pg_arg_text(&a, type);
	pg_arg_text(&a, list.s->str);
	rc = pg_journeys(PQS(st), &eng_journeys_event, &a, out, n);
	pgr_array_free(&list);
	return rc;
}

/*
 * One statement for a batch of events' customers (engine_prefetch.c): a probe of
 * journeys_customer for each customer (LATERAL; OFFSET 0 keeps it a subquery; active + 0 as
 * above), whatever the tables' statistics say. Written as customer_id = ANY, the plan made on a
 * new database's small tables, before autovacuum's first ANALYZE, read every active journey
 * through journeys_one_active and filtered them: 1.4 to 4 ms a batch at 5,000 to 7,000 journeys
 * (auto_explain during bench/ingest with the example campaigns).
 */
static enum store_status
store_pg_journeys_for_events(struct store *st, const int64_t *customer_ids, size_t n,
			     char *const *types, size_t n_types, char *const *campaigns,
			     size_t n_campaigns, struct journey **out, size_t *n_out)
{
	static const struct pg_stmt q = {
	    "eng_journeys_events",
	    "SELECT " PGR_J_COLS " FROM (SELECT DISTINCT unnest($1::bigint[]) AS cid) k"
	    " JOIN LATERAL (SELECT * FROM journeys WHERE customer_id = k.cid AND active + 0 = 1"
	    " AND (wait_event = ANY ($2::text[]) OR campaign_id = ANY ($3::text[])) OFFSET 0) j"
	    " ON true"
	    " ORDER BY customer_id, id"};
	struct pg_args a = {0};
	struct pgr_array ids, ts, cs;
	enum store_status rc;

	pgr_array_init(&ids);
	pgr_array_init(&ts);
	pgr_array_init(&cs);
	for (size_t i = 0; i < n; i++)
		pgr_array_int(&ids, customer_ids[i]);
	for (size_t i = 0; i < n_types; i++)
		pgr_array_text(&ts, types[i]);
	for (size_t i = 0; i < n_campaigns; i++)
		pgr_array_text(&cs, campaigns[i]);
	pgr_array_end(&ids);
	pgr_array_end(&ts);
	pgr_array_end(&cs);
	pg_arg_text(&a, ids.s->str);
	pg_arg_text(&a, ts.s->str);
	pg_arg_text(&a, cs.s->str);
	rc = pg_journeys(PQS(st), &q, &a, out, n_out);
	pgr_array_free(&ids);
	pgr_array_free(&ts);
	pgr_array_free(&cs);
	return rc;
}

/* journey_find's answers for a batch's customers, one statement, probed as above. */
static enum store_status
store_pg_journeys_latest(struct store *st, const int64_t *customer_ids, size_t n,
			 char *const *campaigns, size_t n_campaigns, struct journey **out,
			 size_t *n_out)
{
	static const struct pg_stmt q = {
	    "eng_journeys_latest",
	    "SELECT " PGR_J_COLS " FROM (SELECT DISTINCT unnest($1::bigint[]) AS cid) k"
	    " JOIN LATERAL (SELECT DISTINCT ON (campaign_id, jkey) * FROM journeys"
	    " WHERE customer_id = k.cid AND campaign_id = ANY ($2::text[])"
	    " ORDER BY campaign_id, jkey, entered_ms DESC, id DESC) j ON true"
	    " ORDER BY customer_id, campaign_id, jkey"};
	struct pg_args a = {0};
	struct pgr_array ids, cs;
	enum store_status rc;

	pgr_array_init(&ids);
	pgr_array_init(&cs);
	for (size_t i = 0; i < n; i++)
		pgr_array_int(&ids, customer_ids[i]);
	for (size_t i = 0; i < n_campaigns; i++)
		pgr_array_text(&cs, campaigns[i]);
	pgr_array_end(&ids);
	pgr_array_end(&cs);
	pg_arg_text(&a, ids.s->str);
	pg_arg_text(&a, cs.s->str);
	rc = pg_journeys(PQS(st), &q, &a, out, n_out);
	pgr_array_free(&ids);
	pgr_array_free(&cs);
	return rc;
}

/* Adds the event type an exit_on entry names (a string, or an object's "event") to SEEN. */
static void
pg_exit_type(json_t *seen, const char *cid, json_t *x)
{
	if (json_is_object(x))
		x = json_object_get(x, "event");
	if (!json_is_string(x))
		return;
	json_t *types = json_object_get(seen, cid);
	if (types == NULL)
		json_object_set_new(seen, cid, types = json_object());
	json_object_set_new(types, json_string_value(x), json_true());
}

/*
 * The (campaign, type) pairs, each once, over every version kept (journeys finish on the
 * version they began with): the definitions are read here as SQLite's json_each reads them,
 * since a definition need not be valid JSON for the server.
 */
static enum store_status
store_pg_exit_events(struct store *st, struct exit_event **out, size_t *n)
{
	PGresult *r;
	enum store_status rc = pg_run(PQS(st), &eng_exit_events, NULL, &r);

	*out = NULL;
	*n = 0;
	if (rc != STORE_OK)
		return rc;
	json_t *seen = json_object(), *types, *x;
	for (int i = 0; i < PQntuples(r); i++) {
		const char *cid = pg_str(r, i, 0), *def = pg_str(r, i, 1);
		json_t *d = def ? json_loads(def, 0, NULL) : NULL;
		json_t *exit_on = json_object_get(d, "exit_on");
		const char *k;
		size_t idx;
		if (json_is_array(exit_on)) {
			json_array_foreach(exit_on, idx, x) pg_exit_type(seen, cid, x);
		} else if (json_is_object(exit_on)) {
			json_object_foreach(exit_on, k, x) pg_exit_type(seen, cid, x);
		} else if (exit_on != NULL)
			pg_exit_type(seen, cid, exit_on);
		json_decref(d);
	}
	PQclear(r);
	const char *cid, *type;
	json_object_foreach(seen, cid, types)
	{
		json_object_foreach(types, type, x)
		{
			*out = xrealloc(*out, (*n + 1) * sizeof(**out));
			(*out)[*n].campaign_id = xstrdup(cid);
			(*out)[(*n)++].type = xstrdup(type);
		}
	}
	json_decref(seen);
	return STORE_OK;
}

static enum store_status
store_pg_journeys_due(struct store *st, int64_t now_ms, int limit, struct journey **out, size_t *n)
{
	struct pg_args a = {0};
	pg_arg_int(&a, now_ms);
	pg_arg_int(&a, limit);
	pg_arg_owned(PQS(st), &a); /* issue 21: this node's partitions */
	return pg_journeys(PQS(st), &eng_journeys_due, &a, out, n);
}

/* A single integer of a one-row result: NOTFOUND for none or NULL. */
static enum store_status
pg_one_int(struct store_pg *s, const struct pg_stmt *st, const struct pg_args *a, int64_t *out)
{
	PGresult *r;
	enum store_status rc = pg_run(s, st, a, &r);
	if (rc != STORE_OK)
		return rc;
	rc = PQntuples(r) && !pg_isnull(r, 0, 0) ? STORE_OK : STORE_NOTFOUND;
	if (rc == STORE_OK)
		*out = pg_int(r, 0, 0);
	PQclear(r);
	return rc;
}

static enum store_status
store_pg_journey_next_due(struct store *st, int64_t *due_ms)
{
	/* Issue 21: this node's partitions; schedules and broadcasts with partition 0. */
	struct pg_args a = {0};
	pg_arg_owned(PQS(st), &a);
	pg_arg_text(&a, pg_owns_part0(PQS(st)) ? "true" : "false");
	return pg_one_int(PQS(st), &eng_next_due, &a, due_ms);
}

static enum store_status
store_pg_journeys_release(struct store *st, const char *campaign_id, int64_t now_ms, int *n)
{
	struct pg_args a = {0};
	PGresult *r;
	enum store_status rc;

	*n = 0;
	pg_arg_text(&a, campaign_id);
	pg_arg_int(&a, now_ms);
	if ((rc = pg_run(PQS(st), &eng_release, &a, &r)) != STORE_OK)
		return rc;
	*n = (int)pg_affected(r);
	PQclear(r);
	return STORE_OK;
}

/* Written with the transaction's other notes (store_pg_defer.c). */
static enum store_status
store_pg_journey_note(struct store *st, const struct journey_note *e)
{
	char jid[24], cid[24], at[24];
	snprintf(jid, sizeof(jid), "%lld", (long long)e->journey_id);
	snprintf(cid, sizeof(cid), "%lld", (long long)e->customer_id);
	snprintf(at, sizeof(at), "%lld", (long long)e->at_ms);
	const char *v[] = {
	    jid,       cid,	   e->campaign_id, e->step_id, note_action_name(e->action),
	    e->reason, e->channel, e->template,	   at};
	pg_fence_mark(PQS(st));
	return pg_defer_add(PQS(st), PG_DEFER_NOTES, v);
}

/*
 * goal_candidate's for a batch, one statement: per customer and campaign, a probe of
 * journey_notes_sends that stops at the latest send (LIMIT 1 keeps it a subquery).
 */
static enum store_status
store_pg_goal_candidates(struct store *st, const int64_t *customer_ids, size_t n,
			 char *const *campaigns, const int64_t *since_ms, size_t n_campaigns,
			 struct goal_row **out, size_t *n_out)
{
	static const struct pg_stmt q = {
	    "eng_goals",
	    "SELECT k.cid, g.i, x.journey_id, x.at_ms FROM (SELECT DISTINCT unnest($1::bigint[])"
	    " AS cid) k CROSS JOIN unnest($2::text[], $3::bigint[]) WITH ORDINALITY AS g (c, since,"
	    " i) JOIN LATERAL (SELECT n.journey_id, n.at_ms FROM journey_notes n"
	    " WHERE n.customer_id = k.cid AND n.campaign_id = g.c AND n.action = 'send'"
	    " AND n.at_ms >= g.since AND NOT EXISTS (SELECT 1 FROM journey_notes o"
	    " WHERE o.journey_id = n.journey_id AND o.action = 'goal')"
	    " ORDER BY n.at_ms DESC, n.id DESC LIMIT 1) x ON true"};
	struct pgr_array ids, cs, ss;
	struct pg_args a = {0};
	PGresult *r;
	enum store_status rc;

	*out = NULL;
	*n_out = 0;
	pgr_array_init(&ids);
	pgr_array_init(&cs);
	pgr_array_init(&ss);
	for (size_t i = 0; i < n; i++)
		pgr_array_int(&ids, customer_ids[i]);
	for (size_t k = 0; k < n_campaigns; k++) {
		pgr_array_text(&cs, campaigns[k]);
		pgr_array_int(&ss, since_ms[k]);
	}
	pgr_array_end(&ids);
	pgr_array_end(&cs);
	pgr_array_end(&ss);
	pg_arg_text(&a, ids.s->str);
	pg_arg_text(&a, cs.s->str);
	pg_arg_text(&a, ss.s->str);
	rc = pg_run(PQS(st), &q, &a, &r);
	pgr_array_free(&ids);
	pgr_array_free(&cs);
	pgr_array_free(&ss);
	if (rc != STORE_OK)
		return rc;
	int rows = PQntuples(r);
	*out = xcalloc((size_t)rows + 1, sizeof(**out));
	for (int i = 0; i < rows; i++)
		(*out)[i] = (struct goal_row){.customer_id = pg_int(r, i, 0),
					      .campaign = (size_t)(pg_int(r, i, 1) - 1),
					      .journey_id = pg_int(r, i, 2),
					      .at_ms = pg_int(r, i, 3)};
	*n_out = (size_t)rows;
	PQclear(r);
	return STORE_OK;
}

/* One customer's and campaign's: the batch's statement with one of each (a single rule). */
static enum store_status
store_pg_goal_candidate(struct store *st, const char *campaign_id, int64_t customer_id,
			int64_t since_ms, int64_t *journey_id)
{
	char *campaigns[1] = {(char *)campaign_id};
	struct goal_row *rows = NULL;
	size_t n = 0;
	enum store_status rc =
	    store_pg_goal_candidates(st, &customer_id, 1, campaigns, &since_ms, 1, &rows, &n);
	if (rc == STORE_OK && n == 0)
		rc = STORE_NOTFOUND;
	if (rc == STORE_OK)
		*journey_id = rows[0].journey_id;
	free(rows);
	return rc;
}

static enum store_status
store_pg_timer_push(struct store *st, const char *campaign_id, int64_t customer_id, int64_t due_ms)
{
	char cid[24], due[24];
	snprintf(cid, sizeof(cid), "%lld", (long long)customer_id);
	snprintf(due, sizeof(due), "%lld", (long long)due_ms);
	const char *v[] = {campaign_id, cid, due};
	pg_fence_mark(PQS(st));
	return pg_defer_add(PQS(st), PG_DEFER_TIMERS, v);
}

static enum store_status store_pg_timer_delete(struct store *st, const char *campaign_id,
					       int64_t customer_id);

static enum store_status
store_pg_timer_set(struct store *st, const char *campaign_id, int64_t customer_id, int64_t due_ms)
{
	static const struct pg_stmt set = {
	    "eng_timer_set", "INSERT INTO timers (campaign_id, customer_id, due_ms) VALUES ($1, $2,"
			     " $3) ON CONFLICT (campaign_id, customer_id) DO UPDATE SET due_ms ="
			     " excluded.due_ms"};
	struct pg_args a = {0};

	if (due_ms < 0)
		return store_pg_timer_delete(st, campaign_id, customer_id);
	pg_arg_text(&a, campaign_id);
	pg_arg_int(&a, customer_id);
	pg_arg_int(&a, due_ms);
	pg_fence_mark(PQS(st));
	return pg_send(PQS(st), &set, &a);
}

static enum store_status
store_pg_timers_due(struct store *st, int64_t now_ms, int limit, struct store_timer **out,
		    size_t *n)
{
	struct pg_args a = {0};
	PGresult *r;
	enum store_status rc;

	*out = NULL;
	*n = 0;
	pg_arg_int(&a, now_ms);
	pg_arg_int(&a, limit);
	pg_arg_owned(PQS(st), &a); /* issue 21: this node's partitions */
	if ((rc = pg_run(PQS(st), &eng_timers_due, &a, &r)) != STORE_OK)
		return rc;
	int rows = PQntuples(r);
	if (rows > 0)
		*out = xcalloc((size_t)rows, sizeof(**out));
	for (int i = 0; i < rows; i++) {
		(*out)[i].campaign_id = pg_dup(r, i, 0);
		(*out)[i].customer_id = pg_int(r, i, 1);
		(*out)[i].due_ms = pg_int(r, i, 2);
	}
	*n = (size_t)rows;
	PQclear(r);
	return STORE_OK;
}

static enum store_status
store_pg_timer_delete(struct store *st, const char *campaign_id, int64_t customer_id)
{
	struct pg_args a = {0};
	pg_arg_text(&a, campaign_id);
	pg_arg_int(&a, customer_id);
	pg_fence_mark(PQS(st));
	return pg_send(PQS(st), &eng_timer_delete, &a);
}

/* Runs ST and reads its schedule rows. */
static enum store_status
pg_schedules(struct store_pg *s, const struct pg_stmt *st, const struct pg_args *a,
	     struct store_schedule **out, size_t *n)
{
	PGresult *r;
	enum store_status rc = pg_run(s, st, a, &r);

	*out = NULL;
	*n = 0;
	if (rc != STORE_OK)
		return rc;
	int rows = PQntuples(r);
	if (rows > 0)
		*out = xcalloc((size_t)rows, sizeof(**out));
	for (int i = 0; i < rows; i++) {
		struct store_schedule *sc = &(*out)[i];
		sc->campaign_id = pg_dup(r, i, 0);
		sc->version = pg_dup(r, i, 1);
		sc->due_ms = pg_int(r, i, 2);
		sc->run_ms = pgr_opt_int(r, i, 3);
		sc->cursor = pg_int(r, i, 4);
	}
	*n = (size_t)rows;
	PQclear(r);
	return STORE_OK;
}

static enum store_status
store_pg_schedule_get(struct store *st, const char *campaign_id, struct store_schedule *out)
{
	struct pg_args a = {0};
	struct store_schedule *v;
	size_t n;
	enum store_status rc;

	pg_arg_text(&a, campaign_id);
	if ((rc = pg_schedules(PQS(st), &eng_sched_get, &a, &v, &n)) != STORE_OK)
		return rc;
	if (n == 0)
		return STORE_NOTFOUND;
	*out = v[0];
	free(v);
	return STORE_OK;
}

static enum store_status
store_pg_schedule_set(struct store *st, const struct store_schedule *sc)
{
	struct pg_args a = {0};
	pg_arg_text(&a, sc->campaign_id);
	pg_arg_text(&a, sc->version);
	pg_arg_int(&a, sc->due_ms);
	pg_arg_opt(&a, sc->run_ms);
	pg_arg_int(&a, sc->cursor);
	pg_fence_mark(PQS(st));
	return pg_send(PQS(st), &eng_sched_set, &a);
}

static enum store_status
store_pg_schedules_due(struct store *st, int64_t now_ms, struct store_schedule **out, size_t *n)
{
	struct pg_args a = {0};
	/* Issue 21: scheduled fan-outs run on the node that holds partition 0. */
	if (!pg_owns_part0(PQS(st))) {
		*out = NULL;
		*n = 0;
		return STORE_OK;
	}
	pg_arg_int(&a, now_ms);
	return pg_schedules(PQS(st), &eng_sched_due, &a, out, n);
}

static enum store_status
store_pg_customers_after(struct store *st, int64_t after, int limit, int64_t **ids, size_t *n)
{
	struct pg_args a = {0};
	PGresult *r;
	enum store_status rc;

	pg_arg_int(&a, after);
	pg_arg_int(&a, limit);
	if ((rc = pg_run(PQS(st), &eng_cust_after, &a, &r)) != STORE_OK)
		return rc;
	int rows = PQntuples(r);
	int64_t *v = xmalloc(((size_t)rows + 1) * sizeof(*v));
	for (int i = 0; i < rows; i++)
		v[i] = pg_int(r, i, 0);
	PQclear(r);
	*ids = v;
	*n = (size_t)rows;
	return STORE_OK;
}

static enum store_status
store_pg_marketing_sent(struct store *st, int64_t customer_id, int64_t since_ms, long limit,
			long *count, int64_t *oldest_ms)
{
	struct pg_args a = {0};
	PGresult *r;
	enum store_status rc;

	pg_arg_int(&a, customer_id);
	pg_arg_int(&a, since_ms);
	pg_arg_int(&a, limit);
	if ((rc = pg_run(PQS(st), &eng_marketing, &a, &r)) != STORE_OK)
		return rc;
	*count = (long)pg_int(r, 0, 0);
	*oldest_ms = pgr_opt_int(r, 0, 1);
	PQclear(r);
	return STORE_OK;
}

static enum store_status
store_pg_campaign_pause(struct store *st, const char *campaign_id, int paused, int64_t now_ms)
{
	struct pg_args a = {0};
	pg_arg_text(&a, campaign_id);
	if (!paused)
		return pg_send(PQS(st), &eng_unpause, &a);
	pg_arg_int(&a, now_ms);
	return pg_send(PQS(st), &eng_pause, &a);
}

static enum store_status
store_pg_campaigns_paused(struct store *st, char ***ids, size_t *n)
{
	PGresult *r;
	enum store_status rc;

	*ids = NULL;
	*n = 0;
	if ((rc = pg_run(PQS(st), &eng_paused, NULL, &r)) != STORE_OK)
		return rc;
	int rows = PQntuples(r);
	if (rows > 0)
		*ids = xcalloc((size_t)rows, sizeof(**ids));
	for (int i = 0; i < rows; i++)
		(*ids)[i] = pg_dup(r, i, 0);
	*n = (size_t)rows;
	PQclear(r);
	return STORE_OK;
}

/* The PostgreSQL backend's table of journeys and the engine (store_engine.h). */
const struct store_engine_ops store_pg_engine_ops = {
    .campaign_version_save = store_pg_campaign_version_save,
    .campaign_version_load = store_pg_campaign_version_load,
    .journey_insert = store_pg_journey_insert,
    .journey_update = store_pg_journey_update,
    .journey_find = store_pg_journey_find,
    .journeys_for_event = store_pg_journeys_for_event,
    .journeys_for_events = store_pg_journeys_for_events,
    .journeys_latest = store_pg_journeys_latest,
    .exit_events = store_pg_exit_events,
    .journeys_due = store_pg_journeys_due,
    .journey_next_due = store_pg_journey_next_due,
    .journeys_release = store_pg_journeys_release,
    .journey_note = store_pg_journey_note,
    .goal_candidate = store_pg_goal_candidate,
    .goal_candidates = store_pg_goal_candidates,
    .timer_push = store_pg_timer_push,
    .timer_set = store_pg_timer_set,
    .timers_due = store_pg_timers_due,
    .timer_delete = store_pg_timer_delete,
    .schedule_get = store_pg_schedule_get,
    .schedule_set = store_pg_schedule_set,
    .schedules_due = store_pg_schedules_due,
    .customers_after = store_pg_customers_after,
    .marketing_sent = store_pg_marketing_sent,
    .campaign_pause = store_pg_campaign_pause,
    .campaigns_paused = store_pg_campaigns_paused,
};
