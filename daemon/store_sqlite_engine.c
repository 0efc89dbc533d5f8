/* The SQLite backend's engine side: the events cursor, journeys, their notes, the outbox. */
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "store_sqlite.h"
#include "timefmt.h"
#include "util.h"

static const char *const store_sqlite_engine_sql[E_COUNT] = {
    [E_CURSOR_GET] = "SELECT CAST(value AS INTEGER) FROM meta WHERE key = 'engine_cursor'",
    [E_CURSOR_SET] = "UPDATE meta SET value = ?1 WHERE key = 'engine_cursor'",
    [E_EVENTS_AFTER] = "SELECT e.seq, e.customer_id, c.ext_id, e.event_key, e.type, e.time_ms,"
		       " e.properties FROM events e JOIN customers c ON c.id = e.customer_id"
		       " WHERE e.seq > ?1 ORDER BY e.seq LIMIT ?2",
    [E_CUST_BY_ID] = "SELECT ext_id, email, name, locale, timezone, birthday, attributes,"
		     " erased_ms, stage, stage_since_ms FROM customers WHERE id = ?1",
    [E_CUST_CONSENT] = "SELECT topic, state FROM consent WHERE customer_id = ?1",
    [E_EVENTS_COUNT] = "SELECT count(*) FROM events WHERE customer_id = ?1 AND type = ?2"
		       " AND time_ms >= ?3",
    [E_EVENTS_OF] = "SELECT seq, customer_id, '', event_key, type, time_ms, properties"
		    " FROM events WHERE customer_id = ?1 AND type = ?2 AND time_ms >= ?3"
		    " ORDER BY time_ms LIMIT ?4",
    [E_VERSION_SAVE] = "INSERT INTO campaign_versions (campaign_id, version, definition, loaded_ms)"
		       " VALUES (?1, ?2, ?3, ?4) ON CONFLICT DO NOTHING",
    [E_VERSION_LOAD] = "SELECT definition FROM campaign_versions WHERE campaign_id = ?1"
		       " AND version = ?2",
    [E_JOURNEY_INSERT] = "INSERT INTO journeys (campaign_id, version, customer_id, jkey, active,"
			 " step, visit, due_ms, wait_event, on_event, trigger, entered_ms,"
			 " exited_ms, exit_reason)"
			 " VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14)",
    [E_JOURNEY_UPDATE] = "UPDATE journeys SET active = ?2, step = ?3, visit = ?4, due_ms = ?5,"
			 " wait_event = ?6, on_event = ?7, exited_ms = ?8, exit_reason = ?9,"
			 " event = ?10 WHERE id = ?1",
    [E_JOURNEY_ACTIVE] = "SELECT " J_COLS " FROM journeys WHERE campaign_id = ?1"
			 " AND customer_id = ?2 AND jkey = ?3 AND (active = 1 OR ?4 = 0)"
			 " ORDER BY entered_ms DESC, id DESC LIMIT 1",
    /*
     * The journeys an event can touch, not all of the customer's: those waiting for its type
     * (journeys_waiting), and those of each campaign that exits on it (journeys_one_active).
     */
    [E_JOURNEYS_WAITING] = "SELECT " J_COLS " FROM journeys WHERE customer_id = ?1"
			   " AND active = 1 AND wait_event = ?2 ORDER BY id",
    [E_JOURNEYS_CAMPAIGN] = "SELECT " J_COLS " FROM journeys WHERE campaign_id = ?1"
			    " AND customer_id = ?2 AND active = 1 ORDER BY id",
    /* The event types each campaign exits on, over every version kept (journeys finish on
     * the version they began with). */
    [E_EXIT_EVENTS] = "SELECT DISTINCT v.campaign_id, CASE WHEN x.type = 'object' THEN"
		      " json_extract(x.value, '$.event') ELSE x.value END"
		      " FROM campaign_versions v, json_each(CASE WHEN"
		      " json_valid(v.definition) THEN v.definition ELSE '{}' END, '$.exit_on') x",
    [E_JOURNEYS_DUE] = "SELECT " J_COLS " FROM journeys WHERE active = 1 AND due_ms IS NOT NULL"
		       " AND due_ms <= ?1 ORDER BY due_ms, id LIMIT ?2",
    [E_NEXT_DUE] = "SELECT min(d) FROM (SELECT min(due_ms) AS d FROM journeys WHERE active = 1"
		   " AND due_ms IS NOT NULL UNION ALL SELECT min(due_ms) FROM timers"
		   " UNION ALL SELECT min(due_ms) FROM schedules UNION ALL SELECT min(due_ms)"
		   " FROM broadcasts WHERE state IN ('scheduled', 'sending'))",
    /* Held: active, not timed, not waiting for an event (see engine_run_one). */
    [E_RELEASE] = "UPDATE journeys SET due_ms = ?2 WHERE campaign_id = ?1 AND active = 1"
		  " AND due_ms IS NULL AND wait_event IS NULL",
    [E_TIMER_PUSH] = "INSERT INTO timers (campaign_id, customer_id, due_ms) VALUES (?1, ?2, ?3)"
		     " ON CONFLICT (campaign_id, customer_id) DO UPDATE SET due_ms ="
		     " max(due_ms, excluded.due_ms)",
    [E_TIMERS_DUE] = "SELECT campaign_id, customer_id, due_ms FROM timers WHERE due_ms <= ?1"
		     " ORDER BY due_ms LIMIT ?2",
    [E_TIMER_DELETE] = "DELETE FROM timers WHERE campaign_id = ?1 AND customer_id = ?2",
    [E_SCHED_GET] = "SELECT campaign_id, version, due_ms, run_ms, cursor FROM schedules"
		    " WHERE campaign_id = ?1",
    [E_SCHED_SET] = "INSERT INTO schedules (campaign_id, version, due_ms, run_ms, cursor)"
		    " VALUES (?1, ?2, ?3, ?4, ?5) ON CONFLICT (campaign_id) DO UPDATE SET"
		    " version = excluded.version, due_ms = excluded.due_ms,"
		    " run_ms = excluded.run_ms, cursor = excluded.cursor",
    [E_SCHED_DUE] = "SELECT campaign_id, version, due_ms, run_ms, cursor FROM schedules"
		    " WHERE due_ms <= ?1 ORDER BY due_ms",
    [E_CUST_AFTER] = "SELECT id FROM customers WHERE id > ?1 AND erased_ms IS NULL"
		     " ORDER BY id LIMIT ?2",
    [E_GOAL] = "SELECT n.journey_id FROM journey_notes n WHERE n.customer_id = ?1"
	       " AND n.campaign_id = ?2 AND n.action = 'send' AND n.at_ms >= ?3"
	       " AND NOT EXISTS (SELECT 1 FROM journey_notes g WHERE g.journey_id = n.journey_id"
	       " AND g.action = 'goal') ORDER BY n.at_ms DESC, n.id DESC LIMIT 1",
    /* Counted up to the cap (?3): the answer is "capped or not" and the oldest in the window. */
    [E_MARKETING] = "SELECT count(*), min(created_ms) FROM (SELECT created_ms FROM outbox"
		    " WHERE customer_id = ?1 AND marketing = 1 AND created_ms > ?2"
		    " AND state <> 'skipped' ORDER BY created_ms LIMIT ?3)",
    /* Kept with the customer as the engine consumes purchases: no count over the history. */
    [E_PURCHASES] = "SELECT count, first_ms, last_ms FROM purchases WHERE customer_id = ?1",
    [E_PURCHASE_ADD] = "INSERT INTO purchases (customer_id, count, first_ms, last_ms)"
		       " VALUES (?1, 1, ?2, ?2) ON CONFLICT (customer_id) DO UPDATE SET"
		       " count = count + 1, first_ms = min(first_ms, ?2),"
		       " last_ms = max(last_ms, ?2)",
    [E_STAGE_SET] = "UPDATE customers SET stage = ?2, stage_since_ms = ?3 WHERE id = ?1",
    [E_LOG] = "INSERT INTO journey_notes (journey_id, customer_id, campaign_id, step_id, action,"
	      " reason, channel, template, at_ms) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)",
    [E_OUTBOX_INSERT] = "INSERT INTO outbox (journey_id, step_id, visit, customer_id, campaign_id,"
			" channel, template, state, message_id, created_ms, due_ms, marketing,"
			" reason, sender, recipient, payload, updated_ms, final_ms)"
			" VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?11, ?8, ?9, coalesce(?15, ?9), ?10,"
			" ?12, ?13, ?14,"
			" NULL, ?9, CASE WHEN ?11 = 'skipped' THEN ?9 END)"
			" ON CONFLICT (journey_id, step_id, visit) DO NOTHING",
    [E_PAYLOAD_INSERT] = "INSERT INTO outbox_payload (id, payload) VALUES (?1, ?2)",
    [E_OUTBOX_REFUSE] = "UPDATE outbox SET state = 'skipped', reason = ?2,"
			" final_ms = updated_ms WHERE id = ?1",
};

int
store_sqlite_engine_prepare(struct store_sqlite *s, char *err, size_t errlen)
{
	return store_sqlite_prepare_all(s, store_sqlite_engine_sql, s->e, E_COUNT, "engine", err,
					errlen);
}

void
store_sqlite_engine_finalize(struct store_sqlite *s)
{
	store_sqlite_finalize_all(s->e, E_COUNT);
}

/* Reads a single integer (or NULL as NOTFOUND) from a prepared query. */
static enum store_status
store_sqlite_int(struct store_sqlite *s, sqlite3_stmt *q, int64_t *out)
{
	int rc = sqlite3_step(q);
	enum store_status st = STORE_NOTFOUND;
	if (rc == SQLITE_ROW && sqlite3_column_type(q, 0) != SQLITE_NULL) {
		*out = sqlite3_column_int64(q, 0);
		st = STORE_OK;
	} else if (rc != SQLITE_ROW && rc != SQLITE_DONE)
		st = store_sqlite_status(s, rc);
	sqlite3_reset(q);
	sqlite3_clear_bindings(q);
	return st;
}

enum store_status
store_sqlite_cursor_get(struct store *st, int64_t *seq)
{
	enum store_status rc = store_sqlite_int(SQ(st), SQ(st)->e[E_CURSOR_GET], seq);
	return rc == STORE_NOTFOUND ? STORE_CORRUPT : rc;
}

enum store_status
store_sqlite_cursor_set(struct store *st, int64_t seq)
{
	sqlite3_stmt *q = SQ(st)->e[E_CURSOR_SET];
	sqlite3_bind_int64(q, 1, seq);
	return store_sqlite_exec(SQ(st), q);
}

json_t *
store_sqlite_json_column(sqlite3_stmt *q, int col)
{
	const char *t = (const char *)sqlite3_column_text(q, col);
	json_t *v = t ? json_loads(t, 0, NULL) : NULL;
	return v ? v : json_object();
}

char *
store_sqlite_text_dup(sqlite3_stmt *q, int col)
{
	const char *t = (const char *)sqlite3_column_text(q, col);
	return t ? xstrdup(t) : NULL;
}

/* Reads rows of (seq, customer_id, ext_id, key, type, time_ms, properties). */
enum store_status
store_sqlite_event_rows(struct store_sqlite *s, sqlite3_stmt *q, struct store_event **out,
			size_t *n)
{
	struct store_event *v = NULL;
	size_t cnt = 0;
	int rc;

	while ((rc = sqlite3_step(q)) == SQLITE_ROW) {
		v = xrealloc(v, (cnt + 1) * sizeof(*v));
		struct store_event *e = &v[cnt++];
		e->seq = sqlite3_column_int64(q, 0);
		e->customer_id = sqlite3_column_int64(q, 1);
		e->customer = store_sqlite_text_dup(q, 2);
		e->key = store_sqlite_text_dup(q, 3);
		e->type = store_sqlite_text_dup(q, 4);
		e->time_ms = sqlite3_column_int64(q, 5);
		e->properties = store_sqlite_json_column(q, 6);
	}
	sqlite3_reset(q);
	sqlite3_clear_bindings(q);
	if (rc != SQLITE_DONE) {
		store_events_free(v, cnt);
		return store_sqlite_status(s, rc);
	}
	*out = v;
	*n = cnt;
	return STORE_OK;
}

enum store_status
store_sqlite_events_after(struct store *st, int64_t after, int limit, struct store_event **out,
			  size_t *n)
{
	sqlite3_stmt *q = SQ(st)->e[E_EVENTS_AFTER];
	sqlite3_bind_int64(q, 1, after);
	sqlite3_bind_int(q, 2, limit);
	return store_sqlite_event_rows(SQ(st), q, out, n);
}

enum store_status
store_sqlite_events_of(struct store *st, int64_t customer_id, const char *type, int64_t since_ms,
		       int limit, struct store_event **out, size_t *n)
{
	sqlite3_stmt *q = SQ(st)->e[E_EVENTS_OF];
	sqlite3_bind_int64(q, 1, customer_id);
	sqlite3_bind_text(q, 2, type, -1, SQLITE_STATIC);
	sqlite3_bind_int64(q, 3, since_ms);
	sqlite3_bind_int(q, 4, limit);
	return store_sqlite_event_rows(SQ(st), q, out, n);
}

/* The customer as the store keeps it, with each topic's consent state (customer_by_id). */
enum store_status
store_sqlite_customer_by_id(struct store *st, int64_t customer_id, struct customer_row *out)
{
	struct store_sqlite *s = SQ(st);
	sqlite3_stmt *q = s->e[E_CUST_BY_ID];
	struct customer_row c = {.id = customer_id, .created_ms = -1, .updated_ms = -1};
	int rc;

	sqlite3_bind_int64(q, 1, customer_id);
	rc = sqlite3_step(q);
	if (rc != SQLITE_ROW) {
		sqlite3_reset(q);
		sqlite3_clear_bindings(q);
		return rc == SQLITE_DONE ? STORE_NOTFOUND : store_sqlite_status(s, rc);
	}
	c.ext_id = store_sqlite_text_dup(q, 0);
	c.email = store_sqlite_text_dup(q, 1);
	c.name = store_sqlite_text_dup(q, 2);
	c.locale = store_sqlite_text_dup(q, 3);
	c.timezone = store_sqlite_text_dup(q, 4);
	c.birthday = store_sqlite_text_dup(q, 5);
	c.attributes = store_sqlite_json_column(q, 6);
	c.erased_ms = store_sqlite_opt_int(q, 7);
	c.stage = store_sqlite_text_dup(q, 8);
	c.stage_since_ms = store_sqlite_opt_int(q, 9);
	sqlite3_reset(q);
	sqlite3_clear_bindings(q);

	q = s->e[E_CUST_CONSENT];
	sqlite3_bind_int64(q, 1, customer_id);
	while ((rc = sqlite3_step(q)) == SQLITE_ROW) {
		c.consent = xrealloc(c.consent, (c.n_consent + 1) * sizeof(*c.consent));
		c.consent[c.n_consent++] = (struct customer_consent){
		    .topic = store_sqlite_text_dup(q, 0),
		    .state = store_sqlite_text_dup(q, 1),
		    .updated_ms = -1,
		    .requested_ms = -1,
		    .confirmed_ms = -1,
		};
	}
	sqlite3_reset(q);
	sqlite3_clear_bindings(q);
	if (rc != SQLITE_DONE) {
		customer_row_clear(&c);
		return store_sqlite_status(s, rc);
	}
	*out = c;
	return STORE_OK;
}

long
store_sqlite_events_count(struct store *st, int64_t customer_id, const char *type, int64_t since_ms)
{
	sqlite3_stmt *q = SQ(st)->e[E_EVENTS_COUNT];
	int64_t n = 0;
	sqlite3_bind_int64(q, 1, customer_id);
	sqlite3_bind_text(q, 2, type, -1, SQLITE_STATIC);
	sqlite3_bind_int64(q, 3, since_ms);
	return store_sqlite_int(SQ(st), q, &n) == STORE_OK ? (long)n : -1;
}

enum store_status
store_sqlite_campaign_version_save(struct store *st, const char *id, const char *version,
				   const char *definition, int64_t now_ms)
{
	sqlite3_stmt *q = SQ(st)->e[E_VERSION_SAVE];
	sqlite3_bind_text(q, 1, id, -1, SQLITE_STATIC);
	sqlite3_bind_text(q, 2, version, -1, SQLITE_STATIC);
	sqlite3_bind_text(q, 3, definition, -1, SQLITE_STATIC);
	sqlite3_bind_int64(q, 4, now_ms);
	return store_sqlite_exec(SQ(st), q);
}

enum store_status
store_sqlite_campaign_version_load(struct store *st, const char *id, const char *version,
				   char **definition)
{
	struct store_sqlite *s = SQ(st);
	sqlite3_stmt *q = s->e[E_VERSION_LOAD];
	int rc;

	sqlite3_bind_text(q, 1, id, -1, SQLITE_STATIC);
	sqlite3_bind_text(q, 2, version, -1, SQLITE_STATIC);
	rc = sqlite3_step(q);
	*definition = rc == SQLITE_ROW ? store_sqlite_text_dup(q, 0) : NULL;
	sqlite3_reset(q);
	sqlite3_clear_bindings(q);
	if (rc == SQLITE_ROW)
		return STORE_OK;
	return rc == SQLITE_DONE ? STORE_NOTFOUND : store_sqlite_status(s, rc);
}

static void
store_sqlite_bind_due(sqlite3_stmt *q, int i, int64_t v)
{
	if (v < 0)
		sqlite3_bind_null(q, i);
	else
		sqlite3_bind_int64(q, i, v);
}

enum store_status
store_sqlite_journey_insert(struct store *st, struct journey *j)
{
	struct store_sqlite *s = SQ(st);
	sqlite3_stmt *q = s->e[E_JOURNEY_INSERT];
	char *trigger = json_dumps(j->trigger, JSON_COMPACT);
	enum store_status rc;

	sqlite3_bind_text(q, 1, j->campaign_id, -1, SQLITE_STATIC);
	sqlite3_bind_text(q, 2, j->version, -1, SQLITE_STATIC);
	sqlite3_bind_int64(q, 3, j->customer_id);
	sqlite3_bind_text(q, 4, j->key ? j->key : "", -1, SQLITE_STATIC);
	sqlite3_bind_int(q, 5, j->active);
	sqlite3_bind_int(q, 6, j->step);
	sqlite3_bind_int(q, 7, j->visit);
	store_sqlite_bind_due(q, 8, j->due_ms);
	store_sqlite_bind_text(q, 9, j->wait_event);
	sqlite3_bind_int(q, 10, j->on_event);
	sqlite3_bind_text(q, 11, trigger ? trigger : "{}", -1, SQLITE_STATIC);
	sqlite3_bind_int64(q, 12, j->entered_ms);
	store_sqlite_bind_due(q, 13, j->exited_ms);
	store_sqlite_bind_text(q, 14, j->exit_reason);
	rc = store_sqlite_exec(s, q);
	free(trigger);
	j->id = sqlite3_last_insert_rowid(s->db);
	return rc;
}

enum store_status
store_sqlite_journey_update(struct store *st, const struct journey *j)
{
	sqlite3_stmt *q = SQ(st)->e[E_JOURNEY_UPDATE];
	sqlite3_bind_int64(q, 1, j->id);
	sqlite3_bind_int(q, 2, j->active);
	sqlite3_bind_int(q, 3, j->step);
	sqlite3_bind_int(q, 4, j->visit);
	store_sqlite_bind_due(q, 5, j->due_ms);
	store_sqlite_bind_text(q, 6, j->wait_event);
	sqlite3_bind_int(q, 7, j->on_event);
	store_sqlite_bind_due(q, 8, j->exited_ms);
	store_sqlite_bind_text(q, 9, j->exit_reason);
	char *event = j->event ? json_dumps(j->event, JSON_COMPACT) : NULL;
	store_sqlite_bind_text(q, 10, event);
	free(event);
	return store_sqlite_exec(SQ(st), q);
}

int64_t
store_sqlite_opt_int(sqlite3_stmt *q, int col)
{
	return sqlite3_column_type(q, col) == SQLITE_NULL ? -1 : sqlite3_column_int64(q, col);
}

/* Reads one row of J_COLS. */
static void
store_sqlite_journey_row(sqlite3_stmt *q, struct journey *j)
{
	j->id = sqlite3_column_int64(q, 0);
	j->campaign_id = store_sqlite_text_dup(q, 1);
	j->version = store_sqlite_text_dup(q, 2);
	j->customer_id = sqlite3_column_int64(q, 3);
	j->key = store_sqlite_text_dup(q, 4);
	j->active = sqlite3_column_int(q, 5);
	j->step = sqlite3_column_int(q, 6);
	j->visit = sqlite3_column_int(q, 7);
	j->due_ms = store_sqlite_opt_int(q, 8);
	j->wait_event = store_sqlite_text_dup(q, 9);
	j->on_event = sqlite3_column_int(q, 10);
	j->trigger = store_sqlite_json_column(q, 11);
	j->entered_ms = sqlite3_column_int64(q, 12);
	j->exited_ms = store_sqlite_opt_int(q, 13);
	j->exit_reason = store_sqlite_text_dup(q, 14);
	j->event =
	    sqlite3_column_type(q, 15) == SQLITE_NULL ? NULL : store_sqlite_json_column(q, 15);
}

/* Collects the rows first: callers rewrite journeys while iterating otherwise. */
enum store_status
store_sqlite_journey_rows(struct store_sqlite *s, sqlite3_stmt *q, struct journey **out, size_t *n)
{
	struct journey *v = NULL;
	size_t cnt = 0;
	int rc;

	while ((rc = sqlite3_step(q)) == SQLITE_ROW) {
		v = xrealloc(v, (cnt + 1) * sizeof(*v));
		memset(&v[cnt], 0, sizeof(*v));
		store_sqlite_journey_row(q, &v[cnt++]);
	}
	sqlite3_reset(q);
	sqlite3_clear_bindings(q);
	if (rc != SQLITE_DONE) {
		journeys_free(v, cnt);
		return store_sqlite_status(s, rc);
	}
	*out = v;
	*n = cnt;
	return STORE_OK;
}

enum store_status
store_sqlite_journey_find(struct store *st, const char *campaign_id, int64_t customer_id,
			  const char *key, int active_only, struct journey *out)
{
	sqlite3_stmt *q = SQ(st)->e[E_JOURNEY_ACTIVE];
	struct journey *v;
	size_t n;
	enum store_status rc;

	sqlite3_bind_text(q, 1, campaign_id, -1, SQLITE_STATIC);
	sqlite3_bind_int64(q, 2, customer_id);
	sqlite3_bind_text(q, 3, key ? key : "", -1, SQLITE_STATIC);
	sqlite3_bind_int(q, 4, active_only);
	if ((rc = store_sqlite_journey_rows(SQ(st), q, &v, &n)) != STORE_OK)
		return rc;
	if (n == 0) {
		free(v);
		return STORE_NOTFOUND;
	}
	*out = v[0];
	free(v);
	return STORE_OK;
}

static int
store_sqlite_journey_cmp(const void *a, const void *b)
{
	const struct journey *x = a, *y = b;
	return (x->id > y->id) - (x->id < y->id);
}

/* Appends the rows of Q to *V (*N of them). */
static enum store_status
store_sqlite_journeys_append(struct store_sqlite *s, sqlite3_stmt *q, struct journey **v, size_t *n)
{
	struct journey *more;
	size_t k;
	enum store_status rc = store_sqlite_journey_rows(s, q, &more, &k);

	if (rc != STORE_OK)
		return rc;
	if (k > 0) {
		*v = xrealloc(*v, (*n + k) * sizeof(**v));
		memcpy(*v + *n, more, k * sizeof(*more));
		*n += k;
	}
	free(more);
	return STORE_OK;
}

enum store_status
store_sqlite_journeys_for_event(struct store *st, int64_t customer_id, const char *type,
				char *const *campaigns, size_t n_campaigns, struct journey **out,
				size_t *n)
{
	struct store_sqlite *s = SQ(st);
	struct journey *v = NULL;
	size_t cnt = 0, k = 0;
	sqlite3_stmt *q = s->e[E_JOURNEYS_WAITING];
	enum store_status rc;

	sqlite3_bind_int64(q, 1, customer_id);
	sqlite3_bind_text(q, 2, type, -1, SQLITE_STATIC);
	rc = store_sqlite_journeys_append(s, q, &v, &cnt);
	for (size_t i = 0; i < n_campaigns && rc == STORE_OK; i++) {
		q = s->e[E_JOURNEYS_CAMPAIGN];
		sqlite3_bind_text(q, 1, campaigns[i], -1, SQLITE_STATIC);
		sqlite3_bind_int64(q, 2, customer_id);
		rc = store_sqlite_journeys_append(s, q, &v, &cnt);
	}
	if (rc != STORE_OK) {
		journeys_free(v, cnt);
		return rc;
	}
	/* In id order, each once (a journey may wait for the type its campaign exits on). */
	if (cnt > 1) /* v is NULL when there are none, which qsort may not take */
		qsort(v, cnt, sizeof(*v), store_sqlite_journey_cmp);
	for (size_t i = 0; i < cnt; i++) {
		if (k > 0 && v[k - 1].id == v[i].id)
			journey_clear(&v[i]);
		else
			v[k++] = v[i];
	}
	*out = v;
	*n = k;
	return STORE_OK;
}

enum store_status
store_sqlite_exit_events(struct store *st, struct exit_event **out, size_t *n)
{
	struct store_sqlite *s = SQ(st);
	sqlite3_stmt *q = s->e[E_EXIT_EVENTS];
	struct exit_event *v = NULL;
	size_t cnt = 0;
	int rc;

	while ((rc = sqlite3_step(q)) == SQLITE_ROW) {
		if (sqlite3_column_type(q, 0) == SQLITE_NULL ||
		    sqlite3_column_type(q, 1) == SQLITE_NULL)
			continue;
		v = xrealloc(v, (cnt + 1) * sizeof(*v));
		v[cnt].campaign_id = store_sqlite_text_dup(q, 0);
		v[cnt++].type = store_sqlite_text_dup(q, 1);
	}
	sqlite3_reset(q);
	if (rc != SQLITE_DONE) {
		exit_events_free(v, cnt);
		return store_sqlite_status(s, rc);
	}
	*out = v;
	*n = cnt;
	return STORE_OK;
}

enum store_status
store_sqlite_journeys_due(struct store *st, int64_t now_ms, int limit, struct journey **out,
			  size_t *n)
{
	sqlite3_stmt *q = SQ(st)->e[E_JOURNEYS_DUE];
	sqlite3_bind_int64(q, 1, now_ms);
	sqlite3_bind_int(q, 2, limit);
	return store_sqlite_journey_rows(SQ(st), q, out, n);
}

enum store_status
store_sqlite_journey_next_due(struct store *st, int64_t *due_ms)
{
	return store_sqlite_int(SQ(st), SQ(st)->e[E_NEXT_DUE], due_ms);
}

enum store_status
store_sqlite_journeys_release(struct store *st, const char *campaign_id, int64_t now_ms, int *n)
{
	struct store_sqlite *s = SQ(st);
	sqlite3_stmt *q = s->e[E_RELEASE];
	enum store_status rc;

	sqlite3_bind_text(q, 1, campaign_id, -1, SQLITE_STATIC);
	sqlite3_bind_int64(q, 2, now_ms);
	rc = store_sqlite_exec(s, q);
	*n = rc == STORE_OK ? sqlite3_changes(s->db) : 0;
	return rc;
}

enum store_status
store_sqlite_timer_push(struct store *st, const char *campaign_id, int64_t customer_id,
			int64_t due_ms)
{
	sqlite3_stmt *q = SQ(st)->e[E_TIMER_PUSH];
	sqlite3_bind_text(q, 1, campaign_id, -1, SQLITE_STATIC);
	sqlite3_bind_int64(q, 2, customer_id);
	sqlite3_bind_int64(q, 3, due_ms);
	return store_sqlite_exec(SQ(st), q);
}

enum store_status
store_sqlite_timers_due(struct store *st, int64_t now_ms, int limit, struct store_timer **out,
			size_t *n)
{
	sqlite3_stmt *q = SQ(st)->e[E_TIMERS_DUE];
	struct store_timer *v = NULL;
	size_t cnt = 0;
	int rc;

	sqlite3_bind_int64(q, 1, now_ms);
	sqlite3_bind_int(q, 2, limit);
	while ((rc = sqlite3_step(q)) == SQLITE_ROW) {
		v = xrealloc(v, (cnt + 1) * sizeof(*v));
		v[cnt].campaign_id = store_sqlite_text_dup(q, 0);
		v[cnt].customer_id = sqlite3_column_int64(q, 1);
		v[cnt].due_ms = sqlite3_column_int64(q, 2);
		cnt++;
	}
	sqlite3_reset(q);
	sqlite3_clear_bindings(q);
	if (rc != SQLITE_DONE) {
		store_timers_free(v, cnt);
		return store_sqlite_status(SQ(st), rc);
	}
	*out = v;
	*n = cnt;
	return STORE_OK;
}

enum store_status
store_sqlite_timer_delete(struct store *st, const char *campaign_id, int64_t customer_id)
{
	sqlite3_stmt *q = SQ(st)->e[E_TIMER_DELETE];
	sqlite3_bind_text(q, 1, campaign_id, -1, SQLITE_STATIC);
	sqlite3_bind_int64(q, 2, customer_id);
	return store_sqlite_exec(SQ(st), q);
}

static enum store_status
store_sqlite_schedule_rows(struct store_sqlite *s, sqlite3_stmt *q, struct store_schedule **out,
			   size_t *n)
{
	struct store_schedule *v = NULL;
	size_t cnt = 0;
	int rc;

	while ((rc = sqlite3_step(q)) == SQLITE_ROW) {
		v = xrealloc(v, (cnt + 1) * sizeof(*v));
		v[cnt].campaign_id = store_sqlite_text_dup(q, 0);
		v[cnt].version = store_sqlite_text_dup(q, 1);
		v[cnt].due_ms = sqlite3_column_int64(q, 2);
		v[cnt].run_ms = store_sqlite_opt_int(q, 3);
		v[cnt].cursor = sqlite3_column_int64(q, 4);
		cnt++;
	}
	sqlite3_reset(q);
	sqlite3_clear_bindings(q);
	if (rc != SQLITE_DONE) {
		store_schedules_free(v, cnt);
		return store_sqlite_status(s, rc);
	}
	*out = v;
	*n = cnt;
	return STORE_OK;
}

enum store_status
store_sqlite_schedule_get(struct store *st, const char *campaign_id, struct store_schedule *out)
{
	sqlite3_stmt *q = SQ(st)->e[E_SCHED_GET];
	struct store_schedule *v;
	size_t n;
	enum store_status rc;

	sqlite3_bind_text(q, 1, campaign_id, -1, SQLITE_STATIC);
	if ((rc = store_sqlite_schedule_rows(SQ(st), q, &v, &n)) != STORE_OK)
		return rc;
	if (n == 0) {
		free(v);
		return STORE_NOTFOUND;
	}
	*out = v[0];
	free(v);
	return STORE_OK;
}

enum store_status
store_sqlite_schedule_set(struct store *st, const struct store_schedule *sc)
{
	sqlite3_stmt *q = SQ(st)->e[E_SCHED_SET];
	sqlite3_bind_text(q, 1, sc->campaign_id, -1, SQLITE_STATIC);
	sqlite3_bind_text(q, 2, sc->version, -1, SQLITE_STATIC);
	sqlite3_bind_int64(q, 3, sc->due_ms);
	store_sqlite_bind_due(q, 4, sc->run_ms);
	sqlite3_bind_int64(q, 5, sc->cursor);
	return store_sqlite_exec(SQ(st), q);
}

enum store_status
store_sqlite_schedules_due(struct store *st, int64_t now_ms, struct store_schedule **out, size_t *n)
{
	sqlite3_stmt *q = SQ(st)->e[E_SCHED_DUE];
	sqlite3_bind_int64(q, 1, now_ms);
	return store_sqlite_schedule_rows(SQ(st), q, out, n);
}

enum store_status
store_sqlite_customers_after(struct store *st, int64_t after, int limit, int64_t **ids, size_t *n)
{
	sqlite3_stmt *q = SQ(st)->e[E_CUST_AFTER];
	int64_t *v = xmalloc((size_t)limit * sizeof(*v));
	size_t cnt = 0;
	int rc;

	sqlite3_bind_int64(q, 1, after);
	sqlite3_bind_int(q, 2, limit);
	while ((rc = sqlite3_step(q)) == SQLITE_ROW)
		v[cnt++] = sqlite3_column_int64(q, 0);
	sqlite3_reset(q);
	sqlite3_clear_bindings(q);
	if (rc != SQLITE_DONE) {
		free(v);
		return store_sqlite_status(SQ(st), rc);
	}
	*ids = v;
	*n = cnt;
	return STORE_OK;
}

enum store_status
store_sqlite_goal_candidate(struct store *st, const char *campaign_id, int64_t customer_id,
			    int64_t since_ms, int64_t *journey_id)
{
	sqlite3_stmt *q = SQ(st)->e[E_GOAL];
	sqlite3_bind_int64(q, 1, customer_id);
	sqlite3_bind_text(q, 2, campaign_id, -1, SQLITE_STATIC);
	sqlite3_bind_int64(q, 3, since_ms);
	return store_sqlite_int(SQ(st), q, journey_id);
}

enum store_status
store_sqlite_marketing_sent(struct store *st, int64_t customer_id, int64_t since_ms, long limit,
			    long *count, int64_t *oldest_ms)
{
	sqlite3_stmt *q = SQ(st)->e[E_MARKETING];
	int rc;

	sqlite3_bind_int64(q, 1, customer_id);
	sqlite3_bind_int64(q, 2, since_ms);
	sqlite3_bind_int64(q, 3, limit);
	rc = sqlite3_step(q);
	if (rc == SQLITE_ROW) {
		*count = (long)sqlite3_column_int64(q, 0);
		*oldest_ms = store_sqlite_opt_int(q, 1);
	}
	sqlite3_reset(q);
	sqlite3_clear_bindings(q);
	return rc == SQLITE_ROW ? STORE_OK : store_sqlite_status(SQ(st), rc);
}

enum store_status
store_sqlite_purchase_add(struct store *st, int64_t customer_id, int64_t time_ms)
{
	sqlite3_stmt *q = SQ(st)->e[E_PURCHASE_ADD];
	sqlite3_bind_int64(q, 1, customer_id);
	sqlite3_bind_int64(q, 2, time_ms);
	return store_sqlite_exec(SQ(st), q);
}

enum store_status
store_sqlite_purchase_stats(struct store *st, int64_t customer_id, long *count, int64_t *first_ms,
			    int64_t *last_ms)
{
	sqlite3_stmt *q = SQ(st)->e[E_PURCHASES];
	int rc;

	*count = 0;
	*first_ms = *last_ms = -1;
	sqlite3_bind_int64(q, 1, customer_id);
	rc = sqlite3_step(q);
	if (rc == SQLITE_ROW && sqlite3_column_int64(q, 0) > 0) {
		*count = (long)sqlite3_column_int64(q, 0);
		*first_ms = sqlite3_column_int64(q, 1);
		*last_ms = sqlite3_column_int64(q, 2);
	}
	sqlite3_reset(q);
	sqlite3_clear_bindings(q);
	return rc == SQLITE_ROW || rc == SQLITE_DONE ? STORE_OK : store_sqlite_status(SQ(st), rc);
}

enum store_status
store_sqlite_stage_set(struct store *st, int64_t customer_id, const char *stage, int64_t since_ms)
{
	sqlite3_stmt *q = SQ(st)->e[E_STAGE_SET];
	sqlite3_bind_int64(q, 1, customer_id);
	sqlite3_bind_text(q, 2, stage, -1, SQLITE_STATIC);
	sqlite3_bind_int64(q, 3, since_ms);
	return store_sqlite_exec(SQ(st), q);
}

enum store_status
store_sqlite_journey_note(struct store *st, const struct journey_note *e)
{
	sqlite3_stmt *q = SQ(st)->e[E_LOG];
	sqlite3_bind_int64(q, 1, e->journey_id);
	sqlite3_bind_int64(q, 2, e->customer_id);
	sqlite3_bind_text(q, 3, e->campaign_id, -1, SQLITE_STATIC);
	store_sqlite_bind_text(q, 4, e->step_id);
	sqlite3_bind_text(q, 5, note_action_name(e->action), -1, SQLITE_STATIC);
	store_sqlite_bind_text(q, 6, e->reason);
	store_sqlite_bind_text(q, 7, e->channel);
	store_sqlite_bind_text(q, 8, e->template);
	sqlite3_bind_int64(q, 9, e->at_ms);
	return store_sqlite_exec(SQ(st), q);
}

/* The send ledger: (journey, step, visit) is unique, so a replayed step never sends twice. */
enum store_status
store_sqlite_outbox_add(struct store *st, const struct outbox_entry *o, int64_t *id)
{
	struct store_sqlite *s = SQ(st);
	sqlite3_stmt *q = s->e[E_OUTBOX_INSERT];
	enum store_status rc;

	sqlite3_bind_int64(q, 1, o->journey_id);
	sqlite3_bind_text(q, 2, o->step_id, -1, SQLITE_STATIC);
	sqlite3_bind_int(q, 3, o->visit);
	sqlite3_bind_int64(q, 4, o->customer_id);
	sqlite3_bind_text(q, 5, o->campaign_id, -1, SQLITE_STATIC);
	sqlite3_bind_text(q, 6, o->channel, -1, SQLITE_STATIC);
	sqlite3_bind_text(q, 7, o->template, -1, SQLITE_STATIC);
	sqlite3_bind_text(q, 8, o->message_id, -1, SQLITE_STATIC);
	sqlite3_bind_int64(q, 9, o->created_ms);
	sqlite3_bind_int(q, 10, o->marketing);
	sqlite3_bind_text(q, 11, outbox_state_name(o->state), -1, SQLITE_STATIC);
	store_sqlite_bind_text(q, 12, o->reason);
	store_sqlite_bind_text(q, 13, o->sender);
	store_sqlite_bind_text(q, 14, o->recipient);
	if (o->due_ms > o->created_ms)
		sqlite3_bind_int64(q, 15, o->due_ms);
	rc = store_sqlite_exec(s, q);
	if (rc == STORE_OK && sqlite3_changes(s->db) == 0)
		return STORE_DUPLICATE;
	if (rc != STORE_OK)
		return rc;
	int64_t rowid = sqlite3_last_insert_rowid(s->db);
	if (id != NULL)
		*id = rowid;
	return o->payload == NULL
		   ? STORE_OK
		   : store_sqlite_outbox_payload_add(st, rowid, o->payload, o->payload_len);
}

enum store_status
store_sqlite_outbox_payload_add(struct store *st, int64_t id, const char *payload, size_t len)
{
	struct store_sqlite *s = SQ(st);
	sqlite3_stmt *q = s->e[E_PAYLOAD_INSERT];

	sqlite3_bind_int64(q, 1, id);
	sqlite3_bind_blob64(q, 2, payload, len, SQLITE_STATIC);
	return store_sqlite_exec(s, q);
}

enum store_status
store_sqlite_outbox_refuse(struct store *st, int64_t id, const char *reason)
{
	struct store_sqlite *s = SQ(st);
	sqlite3_stmt *q = s->e[E_OUTBOX_REFUSE];

	sqlite3_bind_int64(q, 1, id);
	sqlite3_bind_text(q, 2, reason, -1, SQLITE_STATIC);
	return store_sqlite_exec(s, q);
}

/* Rare operations (an operator's pause): statements prepared per call. */
enum store_status
store_sqlite_campaign_pause(struct store *st, const char *campaign_id, int paused, int64_t now_ms)
{
	struct store_sqlite *s = SQ(st);
	sqlite3_stmt *q;
	const char *sql = paused ? "INSERT INTO campaign_pauses (campaign_id, paused_ms)"
				   " VALUES (?1, ?2) ON CONFLICT (campaign_id) DO NOTHING"
				 : "DELETE FROM campaign_pauses WHERE campaign_id = ?1";

	if (sqlite3_prepare_v2(s->db, sql, -1, &q, NULL) != SQLITE_OK)
		return store_sqlite_status(s, sqlite3_errcode(s->db));
	sqlite3_bind_text(q, 1, campaign_id, -1, SQLITE_STATIC);
	if (paused)
		sqlite3_bind_int64(q, 2, now_ms);
	int rc = sqlite3_step(q);
	sqlite3_finalize(q);
	return store_sqlite_status(s, rc);
}

enum store_status
store_sqlite_campaigns_paused(struct store *st, char ***ids, size_t *n)
{
	struct store_sqlite *s = SQ(st);
	sqlite3_stmt *q;
	int rc;

	*ids = NULL;
	*n = 0;
	if (sqlite3_prepare_v2(s->db, "SELECT campaign_id FROM campaign_pauses", -1, &q, NULL) !=
	    SQLITE_OK)
		return store_sqlite_status(s, sqlite3_errcode(s->db));
	while ((rc = sqlite3_step(q)) == SQLITE_ROW) {
		*ids = xrealloc(*ids, (*n + 1) * sizeof(**ids));
		(*ids)[(*n)++] = xstrdup((const char *)sqlite3_column_text(q, 0));
	}
	sqlite3_finalize(q);
	return store_sqlite_status(s, rc);
}

/* The SQLite backend's table of journeys and the engine (store_engine.h). */
const struct store_engine_ops store_sqlite_engine_ops = {
    .campaign_version_save = store_sqlite_campaign_version_save,
    .campaign_version_load = store_sqlite_campaign_version_load,
    .journey_insert = store_sqlite_journey_insert,
    .journey_update = store_sqlite_journey_update,
    .journey_find = store_sqlite_journey_find,
    .journeys_for_event = store_sqlite_journeys_for_event,
    .exit_events = store_sqlite_exit_events,
    .journeys_due = store_sqlite_journeys_due,
    .journey_next_due = store_sqlite_journey_next_due,
    .journeys_release = store_sqlite_journeys_release,
    .journey_note = store_sqlite_journey_note,
    .goal_candidate = store_sqlite_goal_candidate,
    .timer_push = store_sqlite_timer_push,
    .timers_due = store_sqlite_timers_due,
    .timer_delete = store_sqlite_timer_delete,
    .schedule_get = store_sqlite_schedule_get,
    .schedule_set = store_sqlite_schedule_set,
    .schedules_due = store_sqlite_schedules_due,
    .customers_after = store_sqlite_customers_after,
    .marketing_sent = store_sqlite_marketing_sent,
    .campaign_pause = store_sqlite_campaign_pause,
    .campaigns_paused = store_sqlite_campaigns_paused,
};
