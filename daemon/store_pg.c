/*
 * The PostgreSQL backend of the store (libpq): the connection on the store thread, its
 * transactions, and the helpers the operations share (store_pg.h). Several daemons may share
 * one database; the schema migrates once under an advisory lock.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "store_cluster.h"
#include "store_customers.h"
#include "store_engine.h"
#include "store_events.h"
#include "store_inbound.h"
#include "store_measure.h"
#include "store_outbox.h"
#include "store_pg.h"
#include "store_stats.h"
#include "util.h"

/* A lost server is tried again after 100 ms, then twice as long each time, up to 5 s. */
#define PG_BACKOFF_MIN_US 100000
#define PG_BACKOFF_MAX_US 5000000

void
pg_arg_int(struct pg_args *a, int64_t v)
{
	snprintf(a->buf[a->n], sizeof(a->buf[0]), "%lld", (long long)v);
	a->v[a->n] = a->buf[a->n];
	a->len[a->n] = 0;
	a->fmt[a->n++] = 0;
}

void
pg_arg_double(struct pg_args *a, double v)
{
	snprintf(a->buf[a->n], sizeof(a->buf[0]), "%.17g", v);
	a->v[a->n] = a->buf[a->n];
	a->len[a->n] = 0;
	a->fmt[a->n++] = 0;
}

void
pg_arg_text(struct pg_args *a, const char *v)
{
	a->v[a->n] = v;
	a->len[a->n] = 0;
	a->fmt[a->n++] = 0;
}

void
pg_arg_null(struct pg_args *a)
{
	pg_arg_text(a, NULL);
}

void
pg_arg_blob(struct pg_args *a, const void *p, size_t len)
{
	a->v[a->n] = p;
	a->len[a->n] = (int)len;
	a->fmt[a->n++] = 1;
}

/* A connection that broke is dropped; the next transaction reconnects, after the backoff. */
static void
pg_lost(struct store_pg *s)
{
	if (s->conn != NULL && PQstatus(s->conn) == CONNECTION_OK)
		return;
	if (s->conn != NULL) {
		log_warnx("store: lost the PostgreSQL connection; reconnecting");
		PQfinish(s->conn);
		s->conn = NULL;
	}
	s->in_tx = 0;
	s->tx_failed = 0;
	s->pending = 0;
	/*
	 * Journey ids taken ahead are dropped: a server that crashed before its WAL held them
	 * gives them out again after recovery.
	 */
	s->njids = s->ijids = 0;
	s->noids = s->ioids = 0;
	g_hash_table_remove_all(s->prepared);
	pg_held_flush(s, 0); /* its transaction is gone */
}

/* Notes a failure: its message (with its SQLSTATE) in s->err and the log. */
static void
pg_note_failure(struct store_pg *s, const char *what, PGresult *r)
{
	const char *state = r ? PQresultErrorField(r, PG_DIAG_SQLSTATE) : NULL;
	snprintf(s->last_state, sizeof(s->last_state), "%s", state ? state : "");
	snprintf(s->err, sizeof(s->err), "%s: %s%s%s", what,
		 r ? PQresultErrorMessage(r) : PQerrorMessage(s->conn), state ? " SQLSTATE " : "",
		 state ? state : "");
	g_strchomp(s->err);
	log_warnx("store: %s", s->err);
}

/* Logs a failed result with its SQLSTATE, and notices a lost connection. */
static enum store_status
pg_failed(struct store_pg *s, const char *what, PGresult *r)
{
	pg_note_failure(s, what, r);
	if (r != NULL)
		PQclear(r);
	s->tx_failed = s->in_tx;
	pg_lost(s);
	return STORE_UNAVAILABLE;
}

/*
 * Pipeline mode (libpq 14+): commands go out without waiting, and one sync reads all their
 * results, so a transaction's writes cost one round trip together instead of one each. The
 * server runs them in order; after a failure it skips the rest up to the sync.
 */
static enum store_status
pg_pipe_enter(struct store_pg *s)
{
	if (s->conn == NULL)
		return STORE_UNAVAILABLE;
	if (PQpipelineStatus(s->conn) != PQ_PIPELINE_OFF)
		return STORE_OK;
	if (PQenterPipelineMode(s->conn) == 1)
		return STORE_OK;
	return pg_failed(s, "pipeline mode", NULL);
}

static enum store_status pg_pipe_sync(struct store_pg *s, PGresult **last);

/* Room for two more commands (a statement and its preparation): a full pipeline is read. */
static enum store_status
pg_pipe_room(struct store_pg *s)
{
	if (s->pending + 2 > PG_PIPE_MAX && pg_pipe_sync(s, NULL) != STORE_OK)
		return STORE_UNAVAILABLE;
	return pg_pipe_enter(s);
}

static void
pg_pipe_note(struct store_pg *s, const char *name, int prepare)
{
	s->pipe[s->pending].name = name;
	s->pipe[s->pending].keep = NULL;
	s->pipe[s->pending].want_row = 0;
	s->pipe[s->pending++].prepare = prepare;
}

/* Queues ST with A (preparing it first on this connection); its result is read by the sync. */
static enum store_status
pg_pipe_send(struct store_pg *s, const struct pg_stmt *st, const struct pg_args *a)
{
	if (pg_held_before(s, st->sql) != STORE_OK)
		return STORE_UNAVAILABLE;
	if (pg_pipe_room(s) != STORE_OK)
		return STORE_UNAVAILABLE;
	if (!g_hash_table_contains(s->prepared, st->name)) {
		if (PQsendPrepare(s->conn, st->name, st->sql, 0, NULL) != 1)
			return pg_failed(s, st->name, NULL);
		pg_pipe_note(s, st->name, 1);
		g_hash_table_add(s->prepared, (gpointer)st->name);
	}
	if (PQsendQueryPrepared(s->conn, st->name, a ? a->n : 0, a ? a->v : NULL, a ? a->len : NULL,
				a ? a->fmt : NULL, 0) != 1)
		return pg_failed(s, st->name, NULL);
	pg_pipe_note(s, st->name, 0);
	return STORE_OK;
}

/* Queues SQL without parameters (transaction control). */
static enum store_status
pg_pipe_send_sql(struct store_pg *s, const char *sql)
{
	if (strncmp(sql, "SAVEPOINT", 9) == 0 && pg_held_flush(s, 1) != STORE_OK)
		return STORE_UNAVAILABLE;
	if (strncmp(sql, "ROLLBACK", 8) == 0 || strncmp(sql, "BEGIN", 5) == 0)
		pg_held_flush(s, 0);
	if (pg_pipe_room(s) != STORE_OK)
		return STORE_UNAVAILABLE;
	if (PQsendQueryParams(s->conn, sql, 0, NULL, NULL, NULL, NULL, 0) != 1)
		return pg_failed(s, sql, NULL);
	pg_pipe_note(s, sql, 0);
	return STORE_OK;
}

/*
 * Sends a sync and reads every queued command's result, in order: STORE_OK when all
 * succeeded, with the last command's result in *LAST (when LAST is not NULL); else
 * STORE_UNAVAILABLE, the first failure logged, the transaction marked failed, and a statement
 * whose preparation did not happen forgotten so that it is prepared again.
 */
static enum store_status
pg_pipe_sync(struct store_pg *s, PGresult **last)
{
	enum store_status rc = STORE_OK;
	int cmd = 0, want = last != NULL, refused = 0;

	if (last != NULL)
		*last = NULL;
	if (s->conn == NULL)
		return STORE_UNAVAILABLE;
	if (PQpipelineStatus(s->conn) == PQ_PIPELINE_OFF)
		return STORE_OK;
	if (PQpipelineSync(s->conn) != 1)
		return pg_failed(s, "pipeline sync", NULL);
	for (;;) {
		PGresult *r = PQgetResult(s->conn);
		if (r == NULL) {
			/* The end of one command's results; a dead link ends them all. */
			if (PQstatus(s->conn) != CONNECTION_OK || ++cmd > s->pending) {
				if (rc == STORE_OK)
					pg_note_failure(s, "pipeline", NULL);
				rc = STORE_UNAVAILABLE;
				break;
			}
			continue;
		}
		ExecStatusType t = PQresultStatus(r);
		if (t == PGRES_PIPELINE_SYNC) {
			PQclear(r);
			break;
		}
		int ok = t == PGRES_COMMAND_OK || t == PGRES_TUPLES_OK;
		const char *name = cmd < s->pending ? s->pipe[cmd].name : "pipeline";
		if (!ok && cmd < s->pending && s->pipe[cmd].prepare)
			g_hash_table_remove(s->prepared, name);
		if (!ok && t != PGRES_PIPELINE_ABORTED && rc == STORE_OK)
			pg_note_failure(s, name, r);
		if (!ok)
			rc = STORE_UNAVAILABLE;
		if (ok && cmd < s->pending && s->pipe[cmd].want_row && PQntuples(r) == 0)
			refused = 1;
		if (ok && cmd < s->pending && s->pipe[cmd].keep != NULL)
			*s->pipe[cmd].keep = r;
		else if (ok && want && cmd == s->pending - 1) {
			if (*last != NULL)
				PQclear(*last);
			*last = r;
		} else
			PQclear(r);
	}
	s->pending = 0;
	if (s->conn != NULL && PQstatus(s->conn) == CONNECTION_OK)
		PQexitPipelineMode(s->conn);
	if (rc == STORE_OK && refused) {
		/* Not the link's fault: the transaction is undone, the connection stays. */
		snprintf(s->err, sizeof(s->err),
			 "a send the ledger already holds: undone, and "
			 "sends wait for their answer for a while");
		log_warnx("store: %s", s->err);
		s->ledger_wait_until_us = util_mono_us() + PG_LEDGER_WAIT_US;
		if (last != NULL && *last != NULL) {
			PQclear(*last);
			*last = NULL;
		}
		s->tx_failed = s->in_tx;
		return STORE_UNAVAILABLE;
	}
	if (rc != STORE_OK) {
		if (last != NULL && *last != NULL) {
			PQclear(*last);
			*last = NULL;
		}
		s->tx_failed = s->in_tx;
		pg_lost(s);
	}
	return rc;
}

enum store_status
pg_exec(struct store_pg *s, const char *sql)
{
	if (s->conn == NULL || pg_pipe_sync(s, NULL) != STORE_OK)
		return STORE_UNAVAILABLE;
	PGresult *r = PQexec(s->conn, sql);
	ExecStatusType t = PQresultStatus(r);
	if (t != PGRES_COMMAND_OK && t != PGRES_TUPLES_OK)
		return pg_failed(s, sql, r);
	PQclear(r);
	return STORE_OK;
}

enum store_status
pg_run(struct store_pg *s, const struct pg_stmt *st, const struct pg_args *a, PGresult **res)
{
	PGresult *r;

	if (res != NULL)
		*res = NULL;
	if (s->conn == NULL)
		return STORE_UNAVAILABLE;
	if (pg_pipe_send(s, st, a) != STORE_OK || pg_pipe_sync(s, &r) != STORE_OK)
		return STORE_UNAVAILABLE;
	if (res != NULL)
		*res = r;
	else
		PQclear(r);
	return STORE_OK;
}

enum store_status
pg_send(struct store_pg *s, const struct pg_stmt *st, const struct pg_args *a)
{
	if (!s->in_tx)
		return pg_run(s, st, a, NULL);
	if (s->tx_failed)
		return STORE_UNAVAILABLE;
	return pg_pipe_send(s, st, a);
}

enum store_status
pg_send_row(struct store_pg *s, const struct pg_stmt *st, const struct pg_args *a)
{
	if (!s->in_tx || s->tx_failed || pg_pipe_send(s, st, a) != STORE_OK)
		return STORE_UNAVAILABLE;
	s->pipe[s->pending - 1].want_row = 1;
	return STORE_OK;
}

int
pg_row_ahead(struct store_pg *s)
{
	return s->in_tx && !s->tx_failed && util_mono_us() >= s->ledger_wait_until_us;
}

enum store_status
pg_id_ahead(struct store_pg *s, const struct pg_stmt *q, int64_t *buf, int cap, int *n, int *i,
	    int64_t *id)
{
	if (*i >= *n) {
		struct pg_args a = {0};
		PGresult *r;
		pg_arg_int(&a, cap);
		if (pg_run(s, q, &a, &r) != STORE_OK)
			return STORE_UNAVAILABLE;
		*n = PQntuples(r) < cap ? PQntuples(r) : cap;
		for (int k = 0; k < *n; k++)
			buf[k] = pg_int(r, k, 0);
		*i = 0;
		PQclear(r);
		if (*n == 0)
			return STORE_UNAVAILABLE;
	}
	*id = buf[(*i)++];
	return STORE_OK;
}

enum store_status
pg_send_keep(struct store_pg *s, const struct pg_stmt *st, const struct pg_args *a, PGresult **keep)
{
	if (!s->in_tx)
		return pg_run(s, st, a, keep);
	if (s->tx_failed || pg_pipe_send(s, st, a) != STORE_OK)
		return STORE_UNAVAILABLE;
	s->pipe[s->pending - 1].keep = keep;
	return STORE_OK;
}

enum store_status
pg_send_sql(struct store_pg *s, const char *sql)
{
	if (!s->in_tx)
		return pg_exec(s, sql);
	return s->tx_failed ? STORE_UNAVAILABLE : pg_pipe_send_sql(s, sql);
}

enum store_status
pg_flush(struct store_pg *s)
{
	return pg_pipe_sync(s, NULL);
}

long
pg_affected(PGresult *r)
{
	const char *n = PQcmdTuples(r);
	return n && *n ? strtol(n, NULL, 10) : 0;
}

int
pg_isnull(PGresult *r, int row, int col)
{
	return PQgetisnull(r, row, col);
}

int64_t
pg_int(PGresult *r, int row, int col)
{
	return PQgetisnull(r, row, col) ? 0 : strtoll(PQgetvalue(r, row, col), NULL, 10);
}

double
pg_double(PGresult *r, int row, int col)
{
	return PQgetisnull(r, row, col) ? 0 : strtod(PQgetvalue(r, row, col), NULL);
}

const char *
pg_str(PGresult *r, int row, int col)
{
	return PQgetisnull(r, row, col) ? NULL : PQgetvalue(r, row, col);
}

char *
pg_dup(PGresult *r, int row, int col)
{
	return PQgetisnull(r, row, col) ? NULL : xstrdup(PQgetvalue(r, row, col));
}

char *
pg_blob(PGresult *r, int row, int col, size_t *len)
{
	size_t n = 0;
	*len = 0;
	if (PQgetisnull(r, row, col))
		return NULL;
	unsigned char *u = PQunescapeBytea((const unsigned char *)PQgetvalue(r, row, col), &n);
	if (u == NULL)
		return NULL;
	char *out = xmalloc(n + 1);
	memcpy(out, u, n);
	out[n] = '\0';
	PQfreemem(u);
	*len = n;
	return out;
}

/* Notices from the server (NOTICE, WARNING) go to the log, not to stderr. */
static void
pg_notice(void *arg, const char *msg)
{
	(void)arg;
	char *m = g_strchomp(g_strdup(msg));
	log_info("store: postgresql: %s", m);
	g_free(m);
}

/*
 * Connects, or fails with ERR; every session reads and writes UTC milliseconds as bigints.
 * A writer's statements all reach their rows by key, and each keeps the generic plan made at
 * its first runs: on a new database, made while a table was small (ANALYZEd at 200 rows), that
 * plan scanned the whole table, and kept doing so as the table grew until autovacuum's next
 * ANALYZE (a batch of 60 customers read in 1.1 ms of 4,000 in bench/ingest, 6.9 ms for 5 of
 * 30,000 in test_pg_schema). So a writer session never chooses a sequential scan where an index
 * serves; a table without one is still scanned. The reader (statistics) keeps them.
 */
static int
pg_connect(struct store_pg *s, char *err, size_t errlen)
{
	s->conn = PQconnectdb(s->conninfo);
	if (PQstatus(s->conn) != CONNECTION_OK) {
		snprintf(err, errlen, "cannot connect to PostgreSQL: %s", PQerrorMessage(s->conn));
		g_strchomp(err);
		PQfinish(s->conn);
		s->conn = NULL;
		return -1;
	}
	PQsetNoticeProcessor(s->conn, pg_notice, NULL);
	g_hash_table_remove_all(s->prepared);
	s->idle_tx_set = 0;
	if (pg_exec(s, "SET TIME ZONE 'UTC'") != STORE_OK ||
	    (!s->read_only && pg_exec(s, "SET enable_seqscan = off; SET jit = off") != STORE_OK)) {
		snprintf(err, errlen, "%s", s->err);
		return -1;
	}
	return 0;
}

/*
 * Before a transaction: a lost connection is made again, not more often than the backoff
 * allows; until then the store is unavailable (503, /readyz not ready) and nothing is lost,
 * because nothing was acknowledged.
 */
static enum store_status
pg_ensure(struct store_pg *s)
{
	char err[512];
	if (s->conn != NULL && PQstatus(s->conn) == CONNECTION_OK)
		return STORE_OK;
	pg_lost(s);
	int64_t now = util_mono_us();
	if (now < s->retry_at_us)
		return STORE_UNAVAILABLE;
	if (pg_connect(s, err, sizeof(err)) < 0) {
		s->backoff_us = s->backoff_us ? s->backoff_us * 2 : PG_BACKOFF_MIN_US;
		if (s->backoff_us > PG_BACKOFF_MAX_US)
			s->backoff_us = PG_BACKOFF_MAX_US;
		s->retry_at_us = now + s->backoff_us;
		log_warnx("store: %s (next try in %lld ms)", err,
			  (long long)(s->backoff_us / 1000));
		return STORE_UNAVAILABLE;
	}
	log_info("store: reconnected to PostgreSQL");
	s->backoff_us = 0;
	s->retry_at_us = 0;
	return STORE_OK;
}

static void store_pg_close(struct store *st);

static struct store_pg *
store_pg_new(const char *url, int read_only)
{
	struct store_pg *s = xcalloc(1, sizeof(*s));
	s->base.ops = &store_pg_ops;
	s->conninfo = xstrdup(url ? url : "");
	s->read_only = read_only;
	/*
	 * A writer stopped inside a transaction (SIGSTOP, a stalled VM) keeps its row locks: the
	 * server ends such a transaction after 10 s, on every writing connection of a node (the
	 * store thread's follows its lease time, store_pg_cluster.c).
	 */
	if (!read_only)
		s->idle_tx_ms = PG_IDLE_TX_MIN_MS;
	s->prepared = g_hash_table_new(g_str_hash, g_str_equal);
	return s;
}

struct store_pg *
store_pg_connect_migrate(const char *url, char *err, size_t errlen)
{
	struct store_pg *s = store_pg_new(url, 0);
	if (pg_connect(s, err, errlen) < 0 || store_pg_migrate(s, err, errlen) < 0) {
		store_pg_close(&s->base);
		return NULL;
	}
	return s;
}

/* Whether the N function pointers at P are all set: the index of the first unset, or -1. */
static int
pg_table_hole(const void *p, size_t size)
{
	void (*const *f)(void) = p;
	for (size_t i = 0; i < size / sizeof(*f); i++)
		if (f[i] == NULL)
			return (int)i;
	return -1;
}

const char *
store_pg_missing_op(void)
{
	static char what[64];
	const struct {
		const char *name;
		const void *table;
		size_t size;
	} t[] = {
	    {"customer", &store_pg_customer_ops, sizeof(store_pg_customer_ops)},
	    {"event", &store_pg_event_ops, sizeof(store_pg_event_ops)},
	    {"engine", &store_pg_engine_ops, sizeof(store_pg_engine_ops)},
	    {"outbox", &store_pg_outbox_ops, sizeof(store_pg_outbox_ops)},
	    {"stats", &store_pg_stats_ops, sizeof(store_pg_stats_ops)},
	    {"inbound", &store_pg_inbound_ops, sizeof(store_pg_inbound_ops)},
	    {"measure", &store_pg_measure_ops, sizeof(store_pg_measure_ops)},
	    {"ui", &store_pg_ui_ops, sizeof(store_pg_ui_ops)},
	    {"bc", &store_pg_broadcast_ops, sizeof(store_pg_broadcast_ops)},
	    {"cluster", &store_pg_cluster_ops, sizeof(store_pg_cluster_ops)},
	};
	if (store_pg_ops.prune == NULL)
		return "prune";
	for (size_t i = 0; i < NT_ARRAY_LEN(t); i++) {
		int hole = pg_table_hole(t[i].table, t[i].size);
		if (hole >= 0) {
			snprintf(what, sizeof(what), "%s operation %d", t[i].name, hole);
			return what;
		}
	}
	return NULL;
}

static struct store *
store_pg_open(const struct store_options *opt, char *err, size_t errlen)
{
	const char *missing = store_pg_missing_op();
	if (missing != NULL) {
		snprintf(err, errlen, "the PostgreSQL backend lacks its %s", missing);
		return NULL;
	}
	if (!opt->read_only) {
		struct store_pg *s = store_pg_connect_migrate(opt->url, err, errlen);
		return s ? &s->base : NULL;
	}
	struct store_pg *s = store_pg_new(opt->url, 1);
	if (pg_connect(s, err, errlen) < 0)
		goto fail;
	/* A reader runs no migration: the writer did, or the versions differ. */
	if (store_pg_schema_version(&s->base) != store_pg_schema_latest()) {
		snprintf(err, errlen, "schema version %d, this build needs %d",
			 store_pg_schema_version(&s->base), store_pg_schema_latest());
		goto fail;
	}
	return &s->base;
fail:
	store_pg_close(&s->base);
	return NULL;
}

static void
store_pg_close(struct store *st)
{
	struct store_pg *s = PQS(st);
	if (s->conn != NULL)
		PQfinish(s->conn);
	pg_held_free(s);
	g_hash_table_destroy(s->prepared);
	pg_cluster_free(s);
	free(s->conninfo);
	free(s);
}

static const char *
store_pg_errmsg(struct store *st)
{
	return PQS(st)->err;
}

int
store_pg_schema_version(struct store *st)
{
	static const struct pg_stmt q = {"schema_version",
					 "SELECT max(version) FROM schema_version"};
	PGresult *r;
	if (pg_run(PQS(st), &q, NULL, &r) != STORE_OK)
		return -1;
	int v = PQntuples(r) ? (int)pg_int(r, 0, 0) : 0;
	PQclear(r);
	return v;
}

/*
 * A node's writer session, once a connection: the idle transaction timeout
 * (store_pg_cluster.c), and its node id in application_name, so that pg_stat_activity tells
 * which node a session is.
 */
static enum store_status
pg_session_set(struct store_pg *s)
{
	char *app = xasprintf("nurtured %s", s->node_id ? s->node_id : "");
	char *name = PQescapeLiteral(s->conn, app, strlen(app));
	free(app);
	if (name == NULL)
		return pg_failed(s, "application_name", NULL);
	char *sql = xasprintf("SET idle_in_transaction_session_timeout = %lld;"
			      " SET application_name = %s",
			      (long long)s->idle_tx_ms, name);
	PQfreemem(name);
	enum store_status rc = pg_exec(s, sql);
	free(sql);
	if (rc == STORE_OK)
		s->idle_tx_set = s->idle_tx_ms;
	return rc;
}

/* BEGIN goes out with the transaction's first statement: no round trip of its own. */
static enum store_status
store_pg_begin(struct store *st)
{
	struct store_pg *s = PQS(st);
	enum store_status rc = pg_ensure(s);
	if (rc != STORE_OK)
		return rc;
	if (s->pending > 0 && pg_pipe_sync(s, NULL) != STORE_OK)
		return STORE_UNAVAILABLE;
	if (s->idle_tx_ms != s->idle_tx_set && pg_session_set(s) != STORE_OK)
		return STORE_UNAVAILABLE;
	s->tx_failed = 0;
	s->fence = 0;
	rc = pg_pipe_send_sql(s, s->read_only ? "BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY"
					      : "BEGIN");
	s->in_tx = rc == STORE_OK;
	return rc;
}

/* Ends a failed transaction: whatever is queued, and the transaction, are thrown away. */
static void
pg_abort(struct store_pg *s)
{
	if (s->conn != NULL && s->in_tx) {
		pg_pipe_send_sql(s, "ROLLBACK");
		pg_pipe_sync(s, NULL);
		/* A ROLLBACK that failed leaves nothing open: a lost link was dropped above. */
	}
	s->in_tx = 0;
	s->tx_failed = 0;
	s->fence = 0;
}

/*
 * Fencing (issue 21): a transaction that wrote journey or outbox state commits only while this
 * node still holds its leases at the epochs it knows, checked in the transaction itself
 * (pg_fence_check locks the lease rows FOR SHARE). A node that paused past its lease and woke up
 * finds another owner there: its work is rolled back, STORE_UNAVAILABLE, and it re-reads what it
 * holds before its next transaction.
 */
static enum store_status
store_pg_commit(struct store *st)
{
	struct store_pg *s = PQS(st);
	if (s->tx_failed) {
		snprintf(s->err, sizeof(s->err),
			 "a statement of the transaction failed: rolled back");
		log_warnx("store: %s", s->err);
		pg_abort(s);
		return STORE_UNAVAILABLE;
	}
	if (pg_held_flush(s, 1) != STORE_OK) {
		pg_abort(s);
		return STORE_UNAVAILABLE;
	}
	if (s->fence && pg_fence_check(s) != STORE_OK) {
		pg_abort(s);
		pg_fence_reread(s);
		return STORE_UNAVAILABLE;
	}
	s->fence = 0;
	if (s->conn == NULL)
		return STORE_UNAVAILABLE;
	/*
	 * A transaction that met an error is aborted, and PostgreSQL answers its COMMIT with a
	 * ROLLBACK, not an error: only the command tag tells that nothing was committed.
	 */
	PGresult *r;
	if (pg_pipe_send_sql(s, "COMMIT") != STORE_OK || pg_pipe_sync(s, &r) != STORE_OK) {
		pg_abort(s);
		return STORE_UNAVAILABLE;
	}
	s->in_tx = 0;
	int committed = strcmp(PQcmdStatus(r), "COMMIT") == 0;
	PQclear(r);
	if (!committed) {
		snprintf(s->err, sizeof(s->err), "COMMIT of an aborted transaction rolled back");
		log_warnx("store: %s", s->err);
		return STORE_UNAVAILABLE;
	}
	return STORE_OK;
}

static void
store_pg_rollback(struct store *st)
{
	pg_abort(PQS(st));
}

/* A savepoint and its release go out with the statements around them. */
static enum store_status
store_pg_savepoint(struct store *st)
{
	struct store_pg *s = PQS(st);
	return s->tx_failed ? STORE_UNAVAILABLE : pg_pipe_send_sql(s, "SAVEPOINT item");
}

static enum store_status
store_pg_release(struct store *st)
{
	struct store_pg *s = PQS(st);
	return s->tx_failed ? STORE_UNAVAILABLE : pg_pipe_send_sql(s, "RELEASE SAVEPOINT item");
}

/*
 * An item that refused (a conflict, not a failure) is undone. A failure earlier in the
 * transaction stays: tx_failed keeps its COMMIT from being tried, even though rolling back to
 * an older savepoint would let the server go on.
 */
static void
store_pg_rollback_savepoint(struct store *st)
{
	struct store_pg *s = PQS(st);
	if (!s->tx_failed && pg_pipe_send_sql(s, "ROLLBACK TO SAVEPOINT item") == STORE_OK)
		pg_pipe_send_sql(s, "RELEASE SAVEPOINT item");
}

static enum store_status
store_pg_heartbeat(struct store *st, int64_t now_ms)
{
	static const struct pg_stmt q = {"heartbeat",
					 "INSERT INTO meta (key, value) VALUES ('heartbeat', $1)"
					 " ON CONFLICT (key) DO UPDATE SET value = excluded.value"};
	struct pg_args a = {0};
	pg_arg_int(&a, now_ms);
	return pg_run(PQS(st), &q, &a, NULL);
}

const struct store_ops store_pg_ops = {
    .name = "postgresql",
    .open = store_pg_open,
    .close = store_pg_close,
    .errmsg = store_pg_errmsg,
    .schema_version = store_pg_schema_version,
    .begin = store_pg_begin,
    .commit = store_pg_commit,
    .rollback = store_pg_rollback,
    .savepoint = store_pg_savepoint,
    .release = store_pg_release,
    .rollback_savepoint = store_pg_rollback_savepoint,
    .heartbeat = store_pg_heartbeat,
    .prune = store_pg_prune,
    .ui = &store_pg_ui_ops,
    .bc = &store_pg_broadcast_ops,
    .customer = &store_pg_customer_ops,
    .event = &store_pg_event_ops,
    .engine = &store_pg_engine_ops,
    .outbox = &store_pg_outbox_ops,
    .stats = &store_pg_stats_ops,
    .inbound = &store_pg_inbound_ops,
    .measure = &store_pg_measure_ops,
    .cluster = &store_pg_cluster_ops,
};
