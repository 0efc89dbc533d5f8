/* The SQLite backend of the store: WAL, versioned schema, prepared statements. */
#include <errno.h>
#include <glib.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "crypto.h"
#include "log.h"
#include "store.h"
#include "store_broadcast.h"
#include "store_sqlite.h"
#include "store_cluster.h"
#include "store_ui.h"
#include "util.h"

/*
 * The writer's page cache in KiB. 32 MiB: bench/scheduler's due steps ran as fast as with
 * 64 MiB (docs/benchmarks.md). Commits no longer walk it (store_sqlite_pcache.c).
 */
#define STORE_SQLITE_CACHE_KIB "32768"

static const char *const store_sqlite_sql[Q_COUNT] = {
    [Q_BEGIN] = "BEGIN IMMEDIATE",
    [Q_BEGIN_READ] = "BEGIN DEFERRED",
    [Q_COMMIT] = "COMMIT",
    [Q_ROLLBACK] = "ROLLBACK",
    [Q_SAVEPOINT] = "SAVEPOINT item",
    [Q_RELEASE] = "RELEASE item",
    [Q_ROLLBACK_TO] = "ROLLBACK TO item",
    [Q_HEARTBEAT] = "INSERT INTO meta (key, value) VALUES ('heartbeat', ?1)"
		    " ON CONFLICT (key) DO UPDATE SET value = excluded.value",
    [Q_CUST_ID] = "SELECT id FROM customers WHERE ext_id = ?1",
    [Q_CUST_INSERT] = "INSERT INTO customers (ext_id, created_ms, updated_ms) VALUES (?1, ?2, ?2)",
    [Q_CUST_ROW] = "SELECT id, email, name, locale, timezone, birthday, attributes, created_ms,"
		   " updated_ms, erased_ms, stage FROM customers WHERE ext_id = ?1",
    [Q_CUST_UPDATE] = "UPDATE customers SET email = ?2, name = ?3, locale = ?4, timezone = ?5,"
		      " birthday = ?6, attributes = ?7, updated_ms = ?8, erased_ms = NULL"
		      " WHERE id = ?1",
    [Q_CONSENT_SET] = "INSERT INTO consent (customer_id, topic, state, updated_ms, source)"
		      " VALUES (?1, ?2, ?3, ?4, ?5) ON CONFLICT (customer_id, topic) DO UPDATE"
		      " SET state = excluded.state, updated_ms = excluded.updated_ms,"
		      " source = excluded.source WHERE state <> excluded.state",
    [Q_CONSENT_LIST] = "SELECT topic, state, updated_ms, source, requested_ms, confirmed_ms,"
		       " confirmed_addr FROM consent WHERE customer_id = ?1 ORDER BY topic",
    [Q_EVENT_FIND] = "SELECT content_hash FROM events WHERE customer_id = ?1 AND event_key = ?2",
    [Q_EVENT_INSERT] = "INSERT INTO events (customer_id, event_key, type, time_ms, received_ms,"
		       " properties, content_hash, seq) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
    [Q_EVENTS_LATEST] = "SELECT event_key, type, time_ms, received_ms, properties FROM events"
			" WHERE customer_id = ?1 ORDER BY time_ms DESC, seq DESC LIMIT ?2",
    [Q_ERASE_CUSTOMER] = "UPDATE customers SET email = NULL, name = NULL, locale = NULL,"
			 " timezone = NULL, birthday = NULL, attributes = '{}', email_hash = ?2,"
			 " updated_ms = ?3, erased_ms = ?3 WHERE id = ?1",
    [Q_ERASE_EVENTS] = "UPDATE events SET properties = '{}', content_hash = 'erased'"
		       " WHERE customer_id = ?1",
    [Q_ERASE_CONSENT] = "DELETE FROM consent WHERE customer_id = ?1",
    /* The current step's id from the version the journey runs on, as stored at registration. */
    [Q_CUST_JOURNEYS] = "SELECT j.campaign_id, j.active, j.entered_ms, j.due_ms, j.wait_event,"
			" j.exited_ms, j.exit_reason, CASE WHEN j.active AND j.step >= 0 THEN"
			" json_extract(v.definition, '$.steps[' || j.step || '].id') END"
			" FROM journeys j LEFT JOIN campaign_versions v ON v.campaign_id ="
			" j.campaign_id AND v.version = j.version WHERE j.customer_id = ?1"
			" ORDER BY j.active DESC, j.entered_ms DESC, j.id DESC LIMIT 20",
    [Q_CUST_NOTES] = "SELECT at_ms, campaign_id, step_id, action, reason, channel, template"
		     " FROM journey_notes WHERE customer_id = ?1 ORDER BY id DESC LIMIT 20",
    [Q_SUPPRESS] = "INSERT INTO suppressions (addr_hash, address, reason, created_ms)"
		   " VALUES (?1, ?2, ?3, ?4) ON CONFLICT (addr_hash) DO NOTHING",
};

int64_t
store_memory_used(void)
{
	return sqlite3_memory_used();
}

/* Every family of statements is prepared once, at open, and kept for the connection's life. */
int
store_sqlite_prepare_all(struct store_sqlite *s, const char *const *sql, sqlite3_stmt **st, int n,
			 const char *family, char *err, size_t errlen)
{
	for (int i = 0; i < n; i++)
		if (sqlite3_prepare_v3(s->db, sql[i], -1, SQLITE_PREPARE_PERSISTENT, &st[i],
				       NULL) != SQLITE_OK) {
			snprintf(err, errlen, "cannot prepare %s statement %d: %s", family, i,
				 sqlite3_errmsg(s->db));
			return -1;
		}
	return 0;
}

void
store_sqlite_finalize_all(sqlite3_stmt **st, int n)
{
	for (int i = 0; i < n; i++)
		sqlite3_finalize(st[i]);
}

/* Maps SQLite's result to what the daemon can act on: retry later, or a real bug. */
enum store_status
store_sqlite_status(struct store_sqlite *s, int rc)
{
	switch (rc & 0xff) {
	case SQLITE_OK:
	case SQLITE_DONE:
	case SQLITE_ROW:
		return STORE_OK;
	case SQLITE_CORRUPT:
	case SQLITE_NOTADB:
		log_warnx("store: %s", sqlite3_errmsg(s->db));
		return STORE_CORRUPT;
	default:
		log_warnx("store: %s", sqlite3_errmsg(s->db));
		return STORE_UNAVAILABLE;
	}
}

/* Runs a statement that returns no rows, and resets it for the next use. */
enum store_status
store_sqlite_exec(struct store_sqlite *s, sqlite3_stmt *st)
{
	int rc = sqlite3_step(st);
	sqlite3_reset(st);
	sqlite3_clear_bindings(st);
	return store_sqlite_status(s, rc);
}

/* Copies: values may come from a row that the same transaction is rewriting. */
void
store_sqlite_bind_text(sqlite3_stmt *st, int i, const char *v)
{
	if (v == NULL)
		sqlite3_bind_null(st, i);
	else
		sqlite3_bind_text(st, i, v, -1, SQLITE_TRANSIENT);
}

static void store_sqlite_close(struct store *st);

/* The store thread is the only writer, so it can number events itself: max + 1 from here. */
static int
store_sqlite_max_seq(struct store_sqlite *s, int64_t *next)
{
	sqlite3_stmt *q;
	int rc =
	    sqlite3_prepare_v2(s->db, "SELECT coalesce(max(seq), 0) FROM events", -1, &q, NULL);
	if (rc == SQLITE_OK && sqlite3_step(q) == SQLITE_ROW)
		*next = sqlite3_column_int64(q, 0) + 1;
	else
		rc = SQLITE_ERROR;
	sqlite3_finalize(q);
	return rc == SQLITE_OK ? 0 : -1;
}

static int store_sqlite_schema_version(struct store *st);

static struct store *
store_sqlite_open(const struct store_options *opt, char *err, size_t errlen)
{
	struct store_sqlite *s = xcalloc(1, sizeof(*s));
	char *path;
	const char *pragmas;

	s->base.ops = &store_sqlite_ops;
	if (opt->data_dir != NULL && util_mkdirs(opt->data_dir, 0700) < 0) {
		snprintf(err, errlen, "cannot create data_dir %s: %s", opt->data_dir,
			 strerror(errno));
		free(s);
		return NULL;
	}
	path = opt->data_dir ? xasprintf("%s/nurtured.db", opt->data_dir) : xstrdup(":memory:");
	store_sqlite_pcache_install();
	/* One thread at a time uses a connection (the store thread): no mutex per call. */
	s->read_only = opt->read_only && opt->data_dir != NULL;
	if (sqlite3_open_v2(
		path, &s->db,
		(s->read_only ? SQLITE_OPEN_READONLY : SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE) |
		    SQLITE_OPEN_NOMUTEX,
		NULL) != SQLITE_OK) {
		snprintf(err, errlen, "cannot open %s: %s", path, sqlite3_errmsg(s->db));
		free(path);
		store_sqlite_close(&s->base);
		return NULL;
	}
	free(path);
	sqlite3_busy_timeout(s->db, 5000);
	/*
	 * Statement journals (one per job's savepoint) stay in memory; a larger page cache keeps
	 * the indexes' hot pages. Checkpoints are not done in COMMIT (autocheckpoint off) but by
	 * the checkpointer thread, so a commit pays for its WAL fsync only.
	 */
	pragmas =
	    opt->durability_full
		? "PRAGMA page_size = 1024; PRAGMA journal_mode = WAL; PRAGMA synchronous = FULL;"
		  "PRAGMA temp_store = MEMORY; PRAGMA cache_size = -" STORE_SQLITE_CACHE_KIB ";"
		  "PRAGMA wal_autocheckpoint = 0; PRAGMA secure_delete = ON;"
		: "PRAGMA page_size = 1024; PRAGMA journal_mode = WAL; PRAGMA synchronous = NORMAL;"
		  "PRAGMA temp_store = MEMORY; PRAGMA cache_size = -" STORE_SQLITE_CACHE_KIB ";"
		  "PRAGMA wal_autocheckpoint = 0; PRAGMA secure_delete = ON;";
	if (s->read_only)
		pragmas = "PRAGMA query_only = 1; PRAGMA temp_store = MEMORY;"
			  "PRAGMA cache_size = -8192;";
	if (sqlite3_exec(s->db, pragmas, NULL, NULL, NULL) != SQLITE_OK) {
		snprintf(err, errlen, "cannot set up the database: %s", sqlite3_errmsg(s->db));
		store_sqlite_close(&s->base);
		return NULL;
	}
	if (s->read_only && store_sqlite_schema_version(&s->base) != store_sqlite_schema_latest()) {
		snprintf(err, errlen, "reader: the database is at schema version %d, not %d",
			 store_sqlite_schema_version(&s->base), store_sqlite_schema_latest());
		store_sqlite_close(&s->base);
		return NULL;
	}
	if (!s->read_only && store_sqlite_migrate(s, err, errlen) < 0) {
		store_sqlite_close(&s->base);
		return NULL;
	}
	if (store_sqlite_max_seq(s, &s->next_seq) < 0) {
		snprintf(err, errlen, "cannot read the events: %s", sqlite3_errmsg(s->db));
		store_sqlite_close(&s->base);
		return NULL;
	}
	if (store_sqlite_prepare_all(s, store_sqlite_sql, s->q, Q_COUNT, "API", err, errlen) < 0 ||
	    store_sqlite_engine_prepare(s, err, errlen) < 0 ||
	    store_sqlite_outbox_prepare(s, err, errlen) < 0 ||
	    store_sqlite_consent_prepare(s, err, errlen) < 0 ||
	    store_sqlite_stats_prepare(s, err, errlen) < 0 ||
	    store_sqlite_inbound_prepare(s, err, errlen) < 0 ||
	    store_sqlite_links_prepare(s, err, errlen) < 0 ||
	    store_sqlite_broadcast_prepare(s, err, errlen) < 0) {
		store_sqlite_close(&s->base);
		return NULL;
	}
	if (opt->data_dir != NULL && !s->read_only &&
	    store_sqlite_checkpointer_start(s, opt, err, errlen) < 0) {
		store_sqlite_close(&s->base);
		return NULL;
	}
	return &s->base;
}

static void
store_sqlite_close(struct store *st)
{
	struct store_sqlite *s = SQ(st);
	store_sqlite_checkpointer_stop(s);
	if (s->db != NULL && s->checkpoint_db != NULL &&
	    sqlite3_wal_checkpoint_v2(s->db, NULL, SQLITE_CHECKPOINT_TRUNCATE, NULL, NULL) !=
		SQLITE_OK)
		log_warnx("store: final checkpoint: %s", sqlite3_errmsg(s->db));
	if (s->checkpoint_db != NULL)
		sqlite3_close(s->checkpoint_db);
	store_sqlite_finalize_all(s->q, Q_COUNT);
	store_sqlite_engine_finalize(s);
	store_sqlite_outbox_finalize(s);
	store_sqlite_consent_finalize(s);
	store_sqlite_stats_finalize(s);
	store_sqlite_inbound_finalize(s);
	store_sqlite_links_finalize(s);
	store_sqlite_broadcast_finalize(s);
	if (s->db != NULL && sqlite3_close(s->db) != SQLITE_OK)
		log_warnx("store: close: %s", sqlite3_errmsg(s->db));
	free(s);
}

static const char *
store_sqlite_errmsg(struct store *st)
{
	return sqlite3_errmsg(SQ(st)->db);
}

static int
store_sqlite_schema_version(struct store *st)
{
	sqlite3_stmt *q;
	int v = -1;
	if (sqlite3_prepare_v2(SQ(st)->db, "PRAGMA user_version", -1, &q, NULL) == SQLITE_OK &&
	    sqlite3_step(q) == SQLITE_ROW)
		v = sqlite3_column_int(q, 0);
	sqlite3_finalize(q);
	return v;
}

static enum store_status
store_sqlite_begin(struct store *st)
{
	return store_sqlite_exec(SQ(st), SQ(st)->q[SQ(st)->read_only ? Q_BEGIN_READ : Q_BEGIN]);
}

static enum store_status
store_sqlite_commit(struct store *st)
{
	enum store_status rc = store_sqlite_exec(SQ(st), SQ(st)->q[Q_COMMIT]);
	if (rc != STORE_OK && !sqlite3_get_autocommit(SQ(st)->db))
		store_sqlite_exec(SQ(st), SQ(st)->q[Q_ROLLBACK]);
	if (rc == STORE_OK && SQ(st)->erase_pending) {
		SQ(st)->erase_pending = 0;
		store_sqlite_checkpointer_truncate(SQ(st));
	}
	return rc;
}

/* After an I/O error SQLite may already have rolled back; only roll back what is open. */
static void
store_sqlite_rollback(struct store *st)
{
	if (!sqlite3_get_autocommit(SQ(st)->db))
		store_sqlite_exec(SQ(st), SQ(st)->q[Q_ROLLBACK]);
}

static enum store_status
store_sqlite_savepoint(struct store *st)
{
	return store_sqlite_exec(SQ(st), SQ(st)->q[Q_SAVEPOINT]);
}

static enum store_status
store_sqlite_release(struct store *st)
{
	return store_sqlite_exec(SQ(st), SQ(st)->q[Q_RELEASE]);
}

static void
store_sqlite_rollback_savepoint(struct store *st)
{
	if (sqlite3_get_autocommit(SQ(st)->db))
		return;
	store_sqlite_exec(SQ(st), SQ(st)->q[Q_ROLLBACK_TO]);
	store_sqlite_exec(SQ(st), SQ(st)->q[Q_RELEASE]);
}

/* A write that proves the database takes commits; /readyz runs it. */
static enum store_status
store_sqlite_heartbeat(struct store *st, int64_t now_ms)
{
	sqlite3_stmt *q = SQ(st)->q[Q_HEARTBEAT];
	sqlite3_bind_int64(q, 1, now_ms);
	return store_sqlite_exec(SQ(st), q);
}

enum store_status
store_sqlite_customer_ensure(struct store *st, const char *ext_id, int64_t now_ms, int64_t *id)
{
	struct store_sqlite *s = SQ(st);
	sqlite3_stmt *q = s->q[Q_CUST_ID];
	int rc;

	sqlite3_bind_text(q, 1, ext_id, -1, SQLITE_STATIC);
	rc = sqlite3_step(q);
	if (rc == SQLITE_ROW)
		*id = sqlite3_column_int64(q, 0);
	sqlite3_reset(q);
	sqlite3_clear_bindings(q);
	if (rc == SQLITE_ROW)
		return STORE_OK;
	if (rc != SQLITE_DONE)
		return store_sqlite_status(s, rc);
	q = s->q[Q_CUST_INSERT];
	sqlite3_bind_text(q, 1, ext_id, -1, SQLITE_STATIC);
	sqlite3_bind_int64(q, 2, now_ms);
	rc = store_sqlite_exec(s, q);
	*id = sqlite3_last_insert_rowid(s->db);
	return rc;
}

/* A field present in FIELDS replaces the stored one (null clears); absent keeps it. */
static const char *
store_sqlite_pick(json_t *fields, const char *key, sqlite3_stmt *row, int col)
{
	json_t *v = json_object_get(fields, key);
	if (v != NULL)
		return json_string_value(v); /* NULL for null */
	return (const char *)sqlite3_column_text(row, col);
}

/* Whether the text of column COL equals V (both NULL counts). */
static int
store_sqlite_same(sqlite3_stmt *row, int col, const char *v)
{
	const char *t = (const char *)sqlite3_column_text(row, col);
	return t == NULL ? v == NULL : v != NULL && strcmp(t, v) == 0;
}

/*
 * Upsert: profile fields replace, attributes merge key by key (null deletes a key), consent
 * changes per topic are kept with when they happened (CONSENT_MS) and how (SOURCE). An upsert
 * that changes nothing writes nothing, "updated" included: a re-import is a no-op. *CHANGED
 * (may be NULL) tells which it was.
 */
enum store_status
store_sqlite_customer_upsert_from(struct store *st, const char *ext_id, json_t *fields,
				  int64_t now_ms, const char *source, int64_t consent_ms,
				  int64_t *id, int *changed)
{
	struct store_sqlite *s = SQ(st);
	sqlite3_stmt *row = s->q[Q_CUST_ROW], *up = s->q[Q_CUST_UPDATE];
	enum store_status rc;
	json_t *attrs, *patch, *v;
	const char *key;
	char *attrs_text;
	int same;

	if (changed != NULL)
		*changed = 0;
	if ((rc = store_sqlite_customer_ensure(st, ext_id, now_ms, id)) != STORE_OK)
		return rc;
	sqlite3_bind_text(row, 1, ext_id, -1, SQLITE_STATIC);
	if (sqlite3_step(row) != SQLITE_ROW) {
		rc = store_sqlite_status(s, sqlite3_errcode(s->db));
		sqlite3_reset(row);
		return rc == STORE_OK ? STORE_UNAVAILABLE : rc;
	}
	attrs = json_loads((const char *)sqlite3_column_text(row, 6), 0, NULL);
	if (!json_is_object(attrs)) {
		json_decref(attrs);
		attrs = json_object();
	}
	patch = json_object_get(fields, "attributes");
	json_object_foreach(patch, key, v)
	{
		if (json_is_null(v))
			json_object_del(attrs, key);
		else
			json_object_set(attrs, key, v);
	}
	attrs_text = json_dumps(attrs, JSON_COMPACT | JSON_SORT_KEYS);
	json_decref(attrs);

	same = sqlite3_column_type(row, 9) == SQLITE_NULL && /* not erased */
	       sqlite3_column_int64(row, 7) != now_ms &&     /* not created just now */
	       store_sqlite_same(row, 1, store_sqlite_pick(fields, "email", row, 1)) &&
	       store_sqlite_same(row, 2, store_sqlite_pick(fields, "name", row, 2)) &&
	       store_sqlite_same(row, 3, store_sqlite_pick(fields, "locale", row, 3)) &&
	       store_sqlite_same(row, 4, store_sqlite_pick(fields, "timezone", row, 4)) &&
	       store_sqlite_same(row, 5, store_sqlite_pick(fields, "birthday", row, 5)) &&
	       store_sqlite_same(row, 6, attrs_text);
	if (same) {
		sqlite3_reset(row);
		free(attrs_text);
		goto consent;
	}
	if (changed != NULL)
		*changed = 1;
	sqlite3_bind_int64(up, 1, *id);
	store_sqlite_bind_text(up, 2, store_sqlite_pick(fields, "email", row, 1));
	store_sqlite_bind_text(up, 3, store_sqlite_pick(fields, "name", row, 2));
	store_sqlite_bind_text(up, 4, store_sqlite_pick(fields, "locale", row, 3));
	store_sqlite_bind_text(up, 5, store_sqlite_pick(fields, "timezone", row, 4));
	store_sqlite_bind_text(up, 6, store_sqlite_pick(fields, "birthday", row, 5));
	sqlite3_bind_text(up, 7, attrs_text, -1, SQLITE_STATIC);
	sqlite3_bind_int64(up, 8, now_ms);
	rc = store_sqlite_exec(s, up);
	sqlite3_reset(row);
	free(attrs_text);
	if (rc != STORE_OK)
		return rc;
consent:
	json_object_foreach(json_object_get(fields, "consent"), key, v)
	{
		sqlite3_stmt *c = s->q[Q_CONSENT_SET];
		sqlite3_bind_int64(c, 1, *id);
		sqlite3_bind_text(c, 2, key, -1, SQLITE_STATIC);
		sqlite3_bind_text(c, 3, json_string_value(v), -1, SQLITE_STATIC);
		sqlite3_bind_int64(c, 4, consent_ms);
		sqlite3_bind_text(c, 5, source, -1, SQLITE_STATIC);
		if ((rc = store_sqlite_exec(s, c)) != STORE_OK)
			return rc;
		if (changed != NULL && sqlite3_changes(s->db) > 0)
			*changed = 1;
	}
	return STORE_OK;
}

enum store_status
store_sqlite_customer_upsert(struct store *st, const char *ext_id, json_t *fields, int64_t now_ms,
			     int64_t *id)
{
	return store_sqlite_customer_upsert_from(st, ext_id, fields, now_ms, "api", now_ms, id,
						 NULL);
}

/* The latest events of customer V->profile.id, newest first, at most LIMIT. */
static int
store_sqlite_customer_events(struct store_sqlite *s, struct customer_view *v, int limit)
{
	sqlite3_stmt *q = s->q[Q_EVENTS_LATEST];
	int rc;

	sqlite3_bind_int64(q, 1, v->profile.id);
	sqlite3_bind_int(q, 2, limit);
	while ((rc = sqlite3_step(q)) == SQLITE_ROW) {
		v->events = xrealloc(v->events, (v->n_events + 1) * sizeof(*v->events));
		v->events[v->n_events++] = (struct store_event){
		    .customer_id = v->profile.id,
		    .key = store_sqlite_text_dup(q, 0),
		    .type = store_sqlite_text_dup(q, 1),
		    .time_ms = sqlite3_column_int64(q, 2),
		    .received_ms = sqlite3_column_int64(q, 3),
		    .properties = store_sqlite_json_column(q, 4),
		};
	}
	sqlite3_reset(q);
	return rc;
}

/* What the engine did with a customer: journeys, and the notes that say why. */
static int
store_sqlite_customer_journeys(struct store_sqlite *s, struct customer_view *v)
{
	sqlite3_stmt *q = s->q[Q_CUST_JOURNEYS];
	int rc;

	sqlite3_bind_int64(q, 1, v->profile.id);
	while ((rc = sqlite3_step(q)) == SQLITE_ROW) {
		v->journeys = xrealloc(v->journeys, (v->n_journeys + 1) * sizeof(*v->journeys));
		v->journeys[v->n_journeys++] = (struct journey_summary){
		    .campaign_id = store_sqlite_text_dup(q, 0),
		    .active = sqlite3_column_int(q, 1),
		    .entered_ms = sqlite3_column_int64(q, 2),
		    .due_ms = store_sqlite_opt_int(q, 3),
		    .wait_event = store_sqlite_text_dup(q, 4),
		    .exited_ms = store_sqlite_opt_int(q, 5),
		    .exit_reason = store_sqlite_text_dup(q, 6),
		    .step_id = store_sqlite_text_dup(q, 7),
		};
	}
	sqlite3_reset(q);
	if (rc != SQLITE_DONE)
		return rc;
	q = s->q[Q_CUST_NOTES];
	sqlite3_bind_int64(q, 1, v->profile.id);
	while ((rc = sqlite3_step(q)) == SQLITE_ROW) {
		v->notes = xrealloc(v->notes, (v->n_notes + 1) * sizeof(*v->notes));
		v->notes[v->n_notes++] = (struct export_note){
		    .at_ms = sqlite3_column_int64(q, 0),
		    .campaign_id = store_sqlite_text_dup(q, 1),
		    .step_id = store_sqlite_text_dup(q, 2),
		    .action = store_sqlite_text_dup(q, 3),
		    .reason = store_sqlite_text_dup(q, 4),
		    .channel = store_sqlite_text_dup(q, 5),
		    .template = store_sqlite_text_dup(q, 6),
		};
	}
	sqlite3_reset(q);
	return rc;
}

enum store_status
store_sqlite_customer_get(struct store *st, const char *ext_id, int events_limit,
			  struct customer_view *out)
{
	struct store_sqlite *s = SQ(st);
	sqlite3_stmt *row = s->q[Q_CUST_ROW];
	struct customer_view v = {0};
	struct customer_row *c = &v.profile;
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
	c->id = sqlite3_column_int64(row, 0);
	c->ext_id = xstrdup(ext_id);
	c->email = store_sqlite_text_dup(row, 1);
	c->name = store_sqlite_text_dup(row, 2);
	c->locale = store_sqlite_text_dup(row, 3);
	c->timezone = store_sqlite_text_dup(row, 4);
	c->birthday = store_sqlite_text_dup(row, 5);
	c->attributes = store_sqlite_json_column(row, 6);
	c->created_ms = sqlite3_column_int64(row, 7);
	c->updated_ms = sqlite3_column_int64(row, 8);
	c->erased_ms = -1;
	c->stage = store_sqlite_text_dup(row, 10);
	c->stage_since_ms = -1;
	sqlite3_reset(row);

	if ((rc = store_sqlite_consent_read(s, c)) != STORE_OK) {
		customer_view_clear(&v);
		return rc;
	}
	step = store_sqlite_customer_events(s, &v, events_limit);
	if (step == SQLITE_DONE)
		step = store_sqlite_customer_journeys(s, &v);
	if (step != SQLITE_DONE) {
		customer_view_clear(&v);
		return store_sqlite_status(s, step);
	}
	*out = v;
	return STORE_OK;
}

/* One row per (customer, key): an existing key is a duplicate or, with other content, a conflict.
 */
static enum store_status
sqlite_event_insert_id(struct store *st, int64_t customer_id, const struct nt_event *ev,
		       int64_t received_ms, int64_t *seq)
{
	struct store_sqlite *s = SQ(st);
	sqlite3_stmt *q = s->q[Q_EVENT_FIND];
	enum store_status rc;
	char *props;
	int step;

	sqlite3_bind_int64(q, 1, customer_id);
	sqlite3_bind_text(q, 2, ev->key, -1, SQLITE_STATIC);
	step = sqlite3_step(q);
	if (step == SQLITE_ROW) {
		const char *h = (const char *)sqlite3_column_text(q, 0);
		rc = (h == NULL || strcmp(h, ev->hash) == 0 || strcmp(h, "erased") == 0)
			 ? STORE_DUPLICATE
			 : STORE_CONFLICT;
		sqlite3_reset(q);
		sqlite3_clear_bindings(q);
		return rc;
	}
	sqlite3_reset(q);
	sqlite3_clear_bindings(q);
	if (step != SQLITE_DONE)
		return store_sqlite_status(s, step);

	q = s->q[Q_EVENT_INSERT];
	props = json_dumps(ev->properties, JSON_COMPACT);
	sqlite3_bind_int64(q, 1, customer_id);
	sqlite3_bind_text(q, 2, ev->key, -1, SQLITE_STATIC);
	sqlite3_bind_text(q, 3, ev->type, -1, SQLITE_STATIC);
	sqlite3_bind_int64(q, 4, ev->time_ms);
	sqlite3_bind_int64(q, 5, received_ms);
	sqlite3_bind_text(q, 6, props, -1, SQLITE_STATIC);
	sqlite3_bind_text(q, 7, ev->hash, -1, SQLITE_STATIC);
	sqlite3_bind_int64(q, 8, s->next_seq);
	rc = store_sqlite_exec(s, q);
	free(props);
	/* Numbers of rolled-back inserts are skipped, never reused: the cursor only moves on. */
	*seq = s->next_seq++;
	return rc;
}

/* The customer first (two calls of a few microseconds here: no need to make them one). */
enum store_status
store_sqlite_event_insert(struct store *st, const char *ext_id, const struct nt_event *ev,
			  int64_t received_ms, int64_t *customer_id, int64_t *seq)
{
	enum store_status rc = store_sqlite_customer_ensure(st, ext_id, received_ms, customer_id);
	return rc != STORE_OK ? rc : sqlite_event_insert_id(st, *customer_id, ev, received_ms, seq);
}

const struct store_ops store_sqlite_ops = {
    .name = "sqlite",
    .open = store_sqlite_open,
    .close = store_sqlite_close,
    .errmsg = store_sqlite_errmsg,
    .schema_version = store_sqlite_schema_version,
    .begin = store_sqlite_begin,
    .commit = store_sqlite_commit,
    .rollback = store_sqlite_rollback,
    .savepoint = store_sqlite_savepoint,
    .release = store_sqlite_release,
    .rollback_savepoint = store_sqlite_rollback_savepoint,
    .heartbeat = store_sqlite_heartbeat,
    .prune = store_sqlite_prune,
    .ui = &store_sqlite_ui_ops,
    .bc = &store_sqlite_broadcast_ops,
    .customer = &store_sqlite_customer_ops,
    .event = &store_sqlite_event_ops,
    .engine = &store_sqlite_engine_ops,
    .outbox = &store_sqlite_outbox_ops,
    .stats = &store_sqlite_stats_ops,
    .inbound = &store_sqlite_inbound_ops,
    .measure = &store_sqlite_measure_ops,
    .cluster = &store_sqlite_cluster_ops,
};

/* The SQLite backend's table of events and the engine's cursor over them (store_event.h). */
const struct store_event_ops store_sqlite_event_ops = {
    .event_insert = store_sqlite_event_insert,
    .cursor_get = store_sqlite_cursor_get,
    .cursor_set = store_sqlite_cursor_set,
    .events_after = store_sqlite_events_after,
    .events_count = store_sqlite_events_count,
    .events_of = store_sqlite_events_of,
    .customer_by_id = store_sqlite_customer_by_id,
};
