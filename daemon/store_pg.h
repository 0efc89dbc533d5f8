/*
 * Private to the PostgreSQL backend (store_pg*.c): the connection, and the few helpers every
 * operation uses to run a named statement with its arguments. One file per concern mirrors the
 * SQLite backend's (store_pg_customers.c beside store_sqlite_customers.c, ...).
 *
 * Rules the operations follow:
 * - Statements are `struct pg_stmt` constants with a name unique in the backend ("cust_get")
 *   and SQL with $1, $2 ... placeholders. pg_run prepares each the first time it runs on a
 *   connection (and again after a reconnect), in the same round trip as its first execution.
 * - A write whose result the operation does not read goes with pg_send (pipeline mode): it
 *   costs no round trip of its own; the next pg_run or the COMMIT reads its outcome.
 * - Arguments go as text (pg_arg_int, pg_arg_text, ...), bytea in binary (pg_arg_blob).
 *   PostgreSQL infers each parameter's type from its use; where it cannot ("$1 IS NULL"),
 *   the SQL casts it ($1::bigint).
 * - An error inside a transaction aborts it in PostgreSQL: an operation never relies on one
 *   (ON CONFLICT instead of catching a unique violation). Any error is STORE_UNAVAILABLE, and
 *   the store loop rolls the group back.
 * - Columns come back as text: pg_int, pg_str, pg_dup, pg_double, pg_isnull read them.
 */
#ifndef NURTURED_STORE_PG_H
#define NURTURED_STORE_PG_H

#include <glib.h>
#include <libpq-fe.h>

#include "store.h"
#include "store_broadcast.h"
#include "store_cluster.h"
#include "store_ui.h"

/*
 * The schema's advisory lock (store_pg_schema.c, `nurtured migrate`): "nurtured" in ASCII, so
 * that it is recognisable in pg_locks.
 */
#define PG_MIGRATE_LOCK 0x6e75727475726564LL

/* The most parameters one statement takes (multi-row inserts build their own arrays). */
#define PG_ARGS_MAX 24

/*
 * The most commands sent ahead in libpq's pipeline mode before their results are read: their
 * results (a few dozen bytes each) must fit in the socket's buffer, or the server would wait
 * for this side to read while this side waits for the server to take more.
 */
#define PG_PIPE_MAX 256
/* After the ledger refused a send sent ahead: how long sends wait for their answer again. */
#define PG_LEDGER_WAIT_US 10000000LL
/* A writing connection's idle-in-transaction timeout, and the least the store thread's gets. */
#define PG_IDLE_TX_MIN_MS 10000

struct pg_stmt {
	const char *name; /* unique in the backend: it names the prepared statement */
	const char *sql;
};

/* A statement's arguments, filled in order; text values are not copied (keep them alive). */
struct pg_args {
	int n;
	const char *v[PG_ARGS_MAX];
	int len[PG_ARGS_MAX];
	int fmt[PG_ARGS_MAX]; /* 0 text, 1 binary */
	char buf[PG_ARGS_MAX][32];
};

/* The tables whose rows a transaction gathers and writes together (store_pg_defer.c). */
enum pg_defer_kind {
	PG_DEFER_NOTES,
	PG_DEFER_TIMERS,
	PG_DEFER_PURCHASES,
	PG_DEFER_COUNTS,
	PG_DEFER_KINDS
};
struct pg_defer;

struct store_pg {
	struct store base;
	PGconn *conn;
	char *conninfo;
	int read_only;
	int in_tx;     /* BEGIN sent, no COMMIT or ROLLBACK yet */
	int tx_failed; /* a command of this transaction failed: it cannot commit */
	/*
	 * Pipeline mode: commands sent whose results are not read yet, each with its statement's
	 * name (for the log) and whether it prepares it (forgotten on failure, to prepare again).
	 */
	int pending;
	struct {
		const char *name;
		int prepare;
		PGresult **keep; /* pg_send_keep's: where the sync puts the result */
		int want_row;	 /* pg_send_row's: no row fails the transaction (the ledger) */
	} pipe[PG_PIPE_MAX + 2];
	char last_state[6];   /* the SQLSTATE of the last failure ("" for none or a lost link) */
	GHashTable *prepared; /* statement names prepared on this connection */
	int64_t retry_at_us;  /* after a lost connection: no reconnect before this */
	int64_t backoff_us;   /* the next wait, doubled up to PG_BACKOFF_MAX_US */
	char err[512];
	/*
	 * Several nodes (store_pg_cluster.c). NODE_ID is NULL until a lease loop runs (tools,
	 * tests of one op): then every partition is this store's and nothing is fenced.
	 */
	char *node_id;
	int parts;		   /* partitions in the database (meta 'partitions') */
	struct store_lease *owned; /* the partitions held, at their epochs, by part */
	size_t n_owned;
	char *owned_sql;  /* the same as an int[] literal "{0,3,6}" for the queries */
	int fence;	  /* this transaction wrote journey or outbox state: check the leases */
	char *seen_seqs;  /* the seqs events_after returned, a bigint[] literal, for cursor_set */
	int64_t seen_max; /* the highest of them */
	/* idle_in_transaction_session_timeout wanted (0: none) and set on this connection. */
	int64_t idle_tx_ms, idle_tx_set;
	/* Journey ids taken from their sequence ahead (store_pg_engine.c), used in order. */
	int64_t jids[64];
	int njids, ijids;
	/* The same for messages (store_pg_outbox.c). */
	int64_t oids[64];
	int noids, ioids;
	/* Until then each send waits for the ledger's answer: one was refused (pg_send_row). */
	int64_t ledger_wait_until_us;
	/*
	 * A new journey's row held back in a transaction (store_pg_engine.c), so that its first
	 * step's update goes into its INSERT: sent before the next statement that names journeys,
	 * the next savepoint or the commit; dropped by a rollback.
	 */
	struct journey held;
	int holding;
	struct pg_defer *defer[PG_DEFER_KINDS]; /* rows gathered per table, or NULL */
};

#define PQS(s) ((struct store_pg *)(s))

void pg_arg_int(struct pg_args *a, int64_t v);
void pg_arg_double(struct pg_args *a, double v);
/* NULL is SQL NULL. */
void pg_arg_text(struct pg_args *a, const char *v);
void pg_arg_null(struct pg_args *a);
void pg_arg_blob(struct pg_args *a, const void *p, size_t len);

/*
 * Runs ST with A (may be NULL): STORE_OK with *RES (may be NULL: the result is cleared) holding
 * the rows, to be PQclear'ed by the caller; STORE_UNAVAILABLE on any error, logged, the
 * connection marked for a reconnect when it is gone. Commands pg_send queued go first, in the
 * same round trip; a failure of any of them fails this call.
 */
enum store_status pg_run(struct store_pg *s, const struct pg_stmt *st, const struct pg_args *a,
			 PGresult **res);
/*
 * Sends ST with A without waiting for its result (libpq's pipeline mode): for a write whose
 * result the operation does not read. Inside a transaction its outcome is read with the next
 * pg_run or the COMMIT, one round trip for all that were queued; a failure then fails the
 * transaction (STORE_UNAVAILABLE, rolled back whole), as any store error does. Outside a
 * transaction it is pg_run.
 */
enum store_status pg_send(struct store_pg *s, const struct pg_stmt *st, const struct pg_args *a);
/*
 * pg_send for a statement whose result the operation reads after pg_flush, in *KEEP (NULL
 * first; the caller PQclears it, set or not): several statements that need an answer in one
 * round trip. Outside a transaction it is pg_run.
 */
enum store_status pg_send_keep(struct store_pg *s, const struct pg_stmt *st,
			       const struct pg_args *a, PGresult **keep);
/*
 * pg_send for an INSERT ... ON CONFLICT DO NOTHING RETURNING whose row the operation assumes:
 * if the sync finds it returned none, the transaction fails (STORE_UNAVAILABLE, rolled back
 * whole) and, for PG_LEDGER_WAIT_US, such inserts are not sent this way (pg_row_ahead says 0),
 * so that the retry learns of the conflict from the answer.
 */
enum store_status pg_send_row(struct store_pg *s, const struct pg_stmt *st,
			      const struct pg_args *a);
int pg_row_ahead(struct store_pg *s);
/*
 * The next of the ids Q (a nextval over generate_series(1, $1)) takes ahead into BUF (CAP of
 * them; *N taken, *I used), for inserts that need no answer; dropped with the connection.
 */
enum store_status pg_id_ahead(struct store_pg *s, const struct pg_stmt *q, int64_t *buf, int cap,
			      int *n, int *i, int64_t *id);
/* pg_send for SQL without parameters (a savepoint of the operation's own). */
enum store_status pg_send_sql(struct store_pg *s, const char *sql);
/* Reads every result queued so far (one round trip): STORE_OK when all succeeded. */
enum store_status pg_flush(struct store_pg *s);
/* Runs SQL without parameters or result (transaction control, DDL). */
enum store_status pg_exec(struct store_pg *s, const char *sql);
/* The number of rows a command touched (UPDATE, DELETE, INSERT). */
long pg_affected(PGresult *r);

int pg_isnull(PGresult *r, int row, int col);
/* 0 for NULL. */
int64_t pg_int(PGresult *r, int row, int col);
double pg_double(PGresult *r, int row, int col);
/* NULL for NULL; the result owns the text. */
const char *pg_str(PGresult *r, int row, int col);
/* A malloc'd copy, NULL for NULL. */
char *pg_dup(PGresult *r, int row, int col);
/* A bytea column, unescaped: malloc'd, its length in *LEN. */
char *pg_blob(PGresult *r, int row, int col, size_t *len);

/*
 * A writer's connection to URL with the schema migrated (a daemon's start, `nurtured migrate`),
 * or NULL with ERR; closed with store_pg_ops.close.
 */
struct store_pg *store_pg_connect_migrate(const char *url, char *err, size_t errlen);

/* The schema (store_pg_schema.c): migrates to the latest version under an advisory lock. */
int store_pg_schema_version(struct store *st);
/* The first operation no table of this backend fills yet, or NULL: a partial backend refuses
 * to open. */
const char *store_pg_missing_op(void);
enum store_status store_pg_prune(struct store *, enum retention_kind, int64_t, int, const json_t *,
				 struct retention_cursor *, int *);
int store_pg_migrate(struct store_pg *s, char *err, size_t errlen);

/*
 * Several nodes (store_pg_cluster.c). A query of the engine's own work (events, due journeys,
 * timers) filters on the partitions this node holds: PG_OWNED(column, "$n", "$m") in its SQL,
 * and pg_arg_owned adds its two arguments ($n the partition count, $m the set, NULL for all).
 */
#define PG_OWNED(col, np, nset)                                                                    \
	" (" nset "::int[] IS NULL OR (" col " % " np "::int)::int = ANY(" nset "::int[])) "
void pg_arg_owned(struct store_pg *s, struct pg_args *a);
/* The held journey's INSERT sent (SEND) or dropped; nothing held: STORE_OK. */
enum store_status pg_journey_unhold(struct store_pg *s, int send);
/*
 * store_pg_defer.c: a row for K's table (V, its columns as text, NULL for NULL), written with
 * the others before the next statement that names the table, a savepoint or the commit.
 */
enum store_status pg_defer_add(struct store_pg *s, enum pg_defer_kind k, const char *const *v);
/* Before a statement of SQL: what is held for the tables it names goes first. */
enum store_status pg_held_before(struct store_pg *s, const char *sql);
/* Everything held sent (SEND: a savepoint, the commit) or dropped (a rollback). */
enum store_status pg_held_flush(struct store_pg *s, int send);
void pg_held_free(struct store_pg *s);
/* Whether this node runs scheduled fan-outs and broadcasts: it holds partition 0. */
int pg_owns_part0(struct store_pg *s);
/* A write op of journey or outbox state calls it: the commit checks the leases first. */
void pg_fence_mark(struct store_pg *s);
/* events_after remembers what it returned (the seqs of R's column COL), for cursor_set. */
void pg_events_seen(struct store_pg *s, PGresult *r, int col);
/*
 * Before COMMIT, in the transaction: whether this node still holds its leases at the epochs it
 * knows. STORE_OK, or STORE_UNAVAILABLE (logged, counted) and the set re-read after the
 * caller's rollback (pg_fence_reread).
 */
enum store_status pg_fence_check(struct store_pg *s);
void pg_fence_reread(struct store_pg *s);
void pg_cluster_free(struct store_pg *s);
int store_pg_schema_latest(void);

#endif
