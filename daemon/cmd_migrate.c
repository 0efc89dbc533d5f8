/*
 * `nurtured migrate --from sqlite:DATA_DIR --to postgresql://...` (issue 21): copies an
 * installation's SQLite store into an empty PostgreSQL database, so that a daemon started on
 * PostgreSQL carries on where the SQLite one stopped.
 *
 * Consistent on both sides: SQLite is read in one read transaction (one snapshot, opened
 * read-only), PostgreSQL written in one transaction with COPY FROM STDIN, the identity columns'
 * sequences and events_seq moved past the copied ids, the row counts checked before COMMIT.
 * Any refusal or failure leaves the target as it was (its schema migrated at most).
 * The daemon must be stopped first: what it writes after the snapshot would not be copied.
 */
#include "cmd_migrate.h"

#include <errno.h>
#include <getopt.h>
#include <stdarg.h>
#include <glib.h>
#include <libpq-fe.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "log.h"
#include "store_pg.h"
#include "store_sqlite.h"
#include "util.h"

/* What the target holds of a table before the copy, and what becomes of it. */
enum migrate_how {
	MIG_DATA,     /* empty (else the target is refused), then the store's rows */
	MIG_REPLACE,  /* the schema's own rows (meta: the cursor at 0) give way to the store's */
	MIG_OPTIONAL, /* counters derived from other tables, login sessions: replaced by the
			 store's when the target has the table, else left to it (it keeps them
			 its own way) */
};

/*
 * Every table of the SQLite store, in the order they are copied (a derived counter after what
 * it counts: a target that keeps it by triggers has its rows replaced after them). A table
 * added to the schema goes here too: migrate refuses a store with a table this list lacks, so
 * nothing is left behind silently.
 */
static const struct {
	const char *name;
	enum migrate_how how;
} migrate_tables[] = {
    {"meta", MIG_REPLACE},
    {"customers", MIG_DATA},
    {"consent", MIG_DATA},
    {"events", MIG_DATA},
    {"suppressions", MIG_DATA},
    {"campaign_versions", MIG_DATA},
    {"journeys", MIG_DATA},
    {"journey_notes", MIG_DATA},
    {"outbox", MIG_DATA},
    {"outbox_payload", MIG_DATA},
    {"timers", MIG_DATA},
    {"schedules", MIG_DATA},
    {"campaign_pauses", MIG_DATA},
    {"inbound", MIG_DATA},
    {"purchases", MIG_DATA},
    {"stats_archive", MIG_DATA},
    {"transactional_keys", MIG_DATA},
    {"links", MIG_DATA},
    {"conversions", MIG_DATA},
    {"assignments", MIG_DATA},
    {"measure_counts", MIG_DATA},
    {"segments", MIG_DATA},
    {"broadcasts", MIG_DATA},
    /* issue 22: the dashboard's counters (kept by triggers in SQLite) and its sessions */
    {"outbox_days", MIG_OPTIONAL},
    {"suppression_days", MIG_OPTIONAL},
    /* issue 19: campaigns' statistics (counters kept by triggers in both stores) */
    {"stats_counts", MIG_OPTIONAL},
    {"ui_sessions", MIG_OPTIONAL},
};

#define MIGRATE_N_TABLES NT_ARRAY_LEN(migrate_tables)
/* COPY data goes to the server in chunks of about this size. */
#define MIGRATE_CHUNK (256 * 1024)

struct migrate {
	sqlite3 *db;
	struct store_pg *pg;
	int64_t rows[MIGRATE_N_TABLES]; /* rows read from SQLite and sent */
	int absent[MIGRATE_N_TABLES];	/* an optional table the target does not have */
	char err[1024];
};

/* The type of a target column: how a SQLite value is written for it. */
enum migrate_type { MT_TEXT, MT_INT, MT_REAL, MT_BYTEA };

static void
migrate_usage(FILE *f)
{
	fprintf(f, "usage: nurtured migrate --from sqlite:DATA_DIR --to postgresql://USER@HOST/DB\n"
		   "  copies the SQLite store in DATA_DIR (stop the daemon first) into an empty\n"
		   "  PostgreSQL database, in one transaction\n");
}

static int migrate_fail(struct migrate *m, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/* Records the first error; -1, for `return migrate_fail(...)`. */
static int
migrate_fail(struct migrate *m, const char *fmt, ...)
{
	va_list ap;
	if (m->err[0] != '\0')
		return -1;
	va_start(ap, fmt);
	vsnprintf(m->err, sizeof(m->err), fmt, ap);
	va_end(ap);
	g_strchomp(m->err);
	return -1;
}

/* Runs SQL on the target expecting rows or a command; the result (to clear), or NULL. */
static PGresult *
migrate_pg_query(struct migrate *m, const char *sql, int nparams, const char *const *params)
{
	PGresult *r = PQexecParams(m->pg->conn, sql, nparams, NULL, params, NULL, NULL, 0);
	ExecStatusType t = PQresultStatus(r);
	if (t != PGRES_COMMAND_OK && t != PGRES_TUPLES_OK) {
		migrate_fail(m, "PostgreSQL: %s (%s)", PQresultErrorMessage(r), sql);
		PQclear(r);
		return NULL;
	}
	return r;
}

static int
migrate_pg_exec(struct migrate *m, const char *sql)
{
	PGresult *r = migrate_pg_query(m, sql, 0, NULL);
	PQclear(r);
	return r ? 0 : -1;
}

/*
 * Opens DIR's store read-only and starts the read transaction: everything read afterwards is
 * one snapshot. Refuses a store not at this build's schema version.
 */
static int
migrate_sqlite_open(struct migrate *m, const char *dir)
{
	struct stat sb;
	char *path;
	sqlite3_stmt *st = NULL;
	int version = -1;

	if (stat(dir, &sb) != 0)
		return migrate_fail(m, "--from: no data directory %s: %s", dir, strerror(errno));
	if (!S_ISDIR(sb.st_mode))
		return migrate_fail(m, "--from: %s is not a directory", dir);
	path = g_build_filename(dir, "nurtured.db", NULL);
	if (stat(path, &sb) != 0) {
		migrate_fail(m, "--from: %s has no SQLite store (%s: %s)", dir, path,
			     strerror(errno));
		g_free(path);
		return -1;
	}
	if (sqlite3_open_v2(path, &m->db, SQLITE_OPEN_READONLY, NULL) != SQLITE_OK) {
		migrate_fail(m, "cannot open %s: %s", path, sqlite3_errmsg(m->db));
		g_free(path);
		return -1;
	}
	g_free(path);
	sqlite3_busy_timeout(m->db, 10000);
	/* The first read takes the snapshot; the version is read inside it. */
	if (sqlite3_exec(m->db, "BEGIN; SELECT count(*) FROM sqlite_master", NULL, NULL, NULL) !=
		SQLITE_OK ||
	    sqlite3_prepare_v2(m->db, "PRAGMA user_version", -1, &st, NULL) != SQLITE_OK ||
	    sqlite3_step(st) != SQLITE_ROW) {
		sqlite3_finalize(st);
		return migrate_fail(m, "cannot read the SQLite store: %s", sqlite3_errmsg(m->db));
	}
	version = sqlite3_column_int(st, 0);
	sqlite3_finalize(st);
	if (version < store_sqlite_schema_latest())
		return migrate_fail(
		    m,
		    "the SQLite store is at schema version %d, this nurtured's is %d:"
		    " start this nurtured once on it (it migrates the store), stop it,"
		    " then migrate",
		    version, store_sqlite_schema_latest());
	if (version > store_sqlite_schema_latest())
		return migrate_fail(m,
				    "the SQLite store is at schema version %d, newer than this"
				    " nurtured's (%d): migrate with the nurtured that wrote it",
				    version, store_sqlite_schema_latest());
	return 0;
}

static int
migrate_table_index(const char *name)
{
	for (size_t i = 0; i < MIGRATE_N_TABLES; i++)
		if (strcmp(migrate_tables[i].name, name) == 0)
			return (int)i;
	return -1;
}

/* Every table of the store is one we copy, and every one we copy is there. */
static int
migrate_sqlite_tables(struct migrate *m)
{
	sqlite3_stmt *st;
	int seen[MIGRATE_N_TABLES] = {0}, rc;

	if (sqlite3_prepare_v2(m->db,
			       "SELECT name FROM sqlite_master WHERE type = 'table'"
			       " AND name NOT LIKE 'sqlite\\_%' ESCAPE '\\' ORDER BY name",
			       -1, &st, NULL) != SQLITE_OK)
		return migrate_fail(m, "cannot list the SQLite tables: %s", sqlite3_errmsg(m->db));
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		const char *name = (const char *)sqlite3_column_text(st, 0);
		int i = migrate_table_index(name);
		if (i < 0) {
			migrate_fail(
			    m,
			    "the SQLite store has a table '%s' that migrate does not copy"
			    " (daemon/cmd_migrate.c's migrate_tables lacks it): nothing was"
			    " changed",
			    name);
			break;
		}
		seen[i] = 1;
	}
	if (rc != SQLITE_ROW && rc != SQLITE_DONE)
		migrate_fail(m, "cannot list the SQLite tables: %s", sqlite3_errmsg(m->db));
	sqlite3_finalize(st);
	for (size_t i = 0; i < MIGRATE_N_TABLES && m->err[0] == '\0'; i++)
		if (!seen[i])
			migrate_fail(m, "the SQLite store has no table '%s'",
				     migrate_tables[i].name);
	return m->err[0] ? -1 : 0;
}

/*
 * The transaction on the target: under the schema's advisory lock (a daemon starting on it
 * meanwhile waits for the COMMIT), and only into an empty database.
 */
static int
migrate_pg_begin(struct migrate *m)
{
	char sql[256];

	if (PQsetClientEncoding(m->pg->conn, "UTF8") != 0)
		return migrate_fail(m, "PostgreSQL: cannot use UTF8: %s",
				    PQerrorMessage(m->pg->conn));
	snprintf(sql, sizeof(sql), "SELECT pg_advisory_xact_lock(%lld)", PG_MIGRATE_LOCK);
	if (migrate_pg_exec(m, "BEGIN") < 0 || migrate_pg_exec(m, sql) < 0)
		return -1;
	for (size_t i = 0; i < MIGRATE_N_TABLES; i++) {
		if (migrate_tables[i].how != MIG_DATA)
			continue;
		snprintf(sql, sizeof(sql), "SELECT 1 FROM %s LIMIT 1", migrate_tables[i].name);
		PGresult *r = migrate_pg_query(m, sql, 0, NULL);
		if (r == NULL)
			return -1;
		int rows = PQntuples(r);
		PQclear(r);
		if (rows > 0)
			return migrate_fail(m,
					    "--to: the database is not empty (table %s has rows):"
					    " migrate into a new database (createdb); nothing was "
					    "changed",
					    migrate_tables[i].name);
	}
	return 0;
}

/* The target's columns of TABLE with their types: name -> enum migrate_type + 1. */
static GHashTable *
migrate_pg_columns(struct migrate *m, const char *table, int optional)
{
	const char *params[1] = {table};
	PGresult *r =
	    migrate_pg_query(m,
			     "SELECT column_name, data_type FROM information_schema.columns"
			     " WHERE table_schema = current_schema() AND table_name = $1",
			     1, params);
	if (r == NULL)
		return NULL;
	GHashTable *cols = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, NULL);
	for (int i = 0; i < PQntuples(r); i++) {
		const char *type = PQgetvalue(r, i, 1);
		enum migrate_type t = MT_TEXT;
		if (strcmp(type, "bytea") == 0)
			t = MT_BYTEA;
		else if (strcmp(type, "bigint") == 0 || strcmp(type, "integer") == 0 ||
			 strcmp(type, "smallint") == 0)
			t = MT_INT;
		else if (strcmp(type, "double precision") == 0 || strcmp(type, "real") == 0 ||
			 strcmp(type, "numeric") == 0)
			t = MT_REAL;
		g_hash_table_insert(cols, g_strdup(PQgetvalue(r, i, 0)), GINT_TO_POINTER(t + 1));
	}
	PQclear(r);
	if (g_hash_table_size(cols) == 0) {
		g_hash_table_destroy(cols);
		if (!optional)
			migrate_fail(m, "PostgreSQL: the target has no table '%s'", table);
		return NULL;
	}
	return cols;
}

/* TEXT's N bytes in COPY's text format: backslash, tab, newline and return escaped. */
static int
migrate_put_text(struct migrate *m, GString *line, const char *p, size_t n, const char *table,
		 const char *col)
{
	for (size_t i = 0; i < n; i++) {
		switch (p[i]) {
		case '\0':
			return migrate_fail(m, "%s.%s: a text value holds a NUL byte", table, col);
		case '\\':
			g_string_append(line, "\\\\");
			break;
		case '\t':
			g_string_append(line, "\\t");
			break;
		case '\n':
			g_string_append(line, "\\n");
			break;
		case '\r':
			g_string_append(line, "\\r");
			break;
		default:
			g_string_append_c(line, p[i]);
		}
	}
	return 0;
}

/* One SQLite value as a COPY field for a column of type T. */
static int
migrate_put_value(struct migrate *m, GString *line, sqlite3_stmt *st, int i, enum migrate_type t,
		  const char *table)
{
	static const char hex[] = "0123456789abcdef";
	const char *col = sqlite3_column_name(st, i);
	int type = sqlite3_column_type(st, i);

	if (type == SQLITE_NULL) {
		g_string_append(line, "\\N");
		return 0;
	}
	if (t == MT_BYTEA) {
		const unsigned char *p = sqlite3_column_blob(st, i);
		int n = sqlite3_column_bytes(st, i);
		g_string_append(line,
				"\\\\x"); /* bytea's hex form, its backslash escaped for COPY */
		for (int k = 0; k < n; k++) {
			g_string_append_c(line, hex[p[k] >> 4]);
			g_string_append_c(line, hex[p[k] & 15]);
		}
		return 0;
	}
	if (type == SQLITE_FLOAT && t == MT_INT) {
		double v = sqlite3_column_double(st, i);
		if (!(v < 9.2e18 && v > -9.2e18) || v != (double)(long long)v)
			return migrate_fail(m, "%s.%s: %.17g is not an integer", table, col, v);
		g_string_append_printf(line, "%lld", (long long)v);
		return 0;
	}
	if (type == SQLITE_FLOAT && t == MT_REAL) {
		g_string_append_printf(line, "%.17g", sqlite3_column_double(st, i));
		return 0;
	}
	const char *p = type == SQLITE_BLOB ? sqlite3_column_blob(st, i)
					    : (const char *)sqlite3_column_text(st, i);
	return migrate_put_text(m, line, p ? p : "", (size_t)sqlite3_column_bytes(st, i), table,
				col);
}

/* Sends what LINE holds to the COPY in progress and empties it. */
static int
migrate_flush(struct migrate *m, GString *line)
{
	if (line->len > 0 && PQputCopyData(m->pg->conn, line->str, (int)line->len) != 1)
		return migrate_fail(m, "PostgreSQL: COPY: %s", PQerrorMessage(m->pg->conn));
	g_string_truncate(line, 0);
	return 0;
}

/* Ends the COPY (aborted with REASON when not NULL): 0 when the server took every row. */
static int
migrate_copy_end(struct migrate *m, const char *reason, int64_t *copied)
{
	PGresult *r;
	int rc = 0;

	if (PQputCopyEnd(m->pg->conn, reason) != 1)
		return migrate_fail(m, "PostgreSQL: COPY: %s", PQerrorMessage(m->pg->conn));
	while ((r = PQgetResult(m->pg->conn)) != NULL) {
		if (PQresultStatus(r) != PGRES_COMMAND_OK)
			rc = migrate_fail(m, "PostgreSQL: COPY: %s", PQresultErrorMessage(r));
		else
			*copied = strtoll(PQcmdTuples(r), NULL, 10);
		PQclear(r);
	}
	return rc;
}

/* Copies table I: its rows in SQLite's snapshot, by COPY FROM STDIN into the same columns. */
static int
migrate_table(struct migrate *m, size_t ti)
{
	const char *table = migrate_tables[ti].name;
	GHashTable *cols = migrate_pg_columns(m, table, migrate_tables[ti].how == MIG_OPTIONAL);
	GString *copy, *line;
	sqlite3_stmt *st = NULL;
	char *sql;
	enum migrate_type *types;
	int n, rc;
	int64_t copied = -1;

	if (cols == NULL) {
		m->absent[ti] = m->err[0] == '\0';
		return m->absent[ti] ? 0 : -1;
	}
	if (migrate_tables[ti].how != MIG_DATA) {
		/*
		 * Issue 21: on PostgreSQL the triggers counted the copied rows as deltas (schema
		 * 6); the counters copied replace them too. The data tables come first.
		 */
		sql = xasprintf("DELETE FROM %s", table);
		rc = migrate_pg_exec(m, sql);
		free(sql);
		sql = xasprintf("DO $$ BEGIN IF to_regclass('%s_deltas') IS NOT NULL THEN"
				" DELETE FROM %s_deltas; END IF; END $$",
				table, table);
		if (rc == 0)
			rc = migrate_pg_exec(m, sql);
		free(sql);
		if (rc < 0) {
			g_hash_table_destroy(cols);
			return -1;
		}
	}
	sql = xasprintf("SELECT * FROM \"%s\"", table);
	rc = sqlite3_prepare_v2(m->db, sql, -1, &st, NULL);
	free(sql);
	if (rc != SQLITE_OK) {
		g_hash_table_destroy(cols);
		return migrate_fail(m, "%s: %s", table, sqlite3_errmsg(m->db));
	}
	n = sqlite3_column_count(st);
	types = xcalloc((size_t)n, sizeof(*types));
	copy = g_string_new(NULL);
	line = g_string_new(NULL);
	g_string_printf(copy, "COPY %s (", table);
	for (int i = 0; i < n; i++) {
		const char *name = sqlite3_column_name(st, i);
		int t = GPOINTER_TO_INT(g_hash_table_lookup(cols, name));
		if (t == 0) {
			migrate_fail(m, "%s.%s: the PostgreSQL schema has no such column", table,
				     name);
			goto out;
		}
		types[i] = (enum migrate_type)(t - 1);
		g_string_append_printf(copy, "%s%s", i ? ", " : "", name);
	}
	g_string_append(copy, ") FROM STDIN");
	PGresult *r = PQexec(m->pg->conn, copy->str);
	if (PQresultStatus(r) != PGRES_COPY_IN) {
		migrate_fail(m, "PostgreSQL: %s: %s", copy->str, PQresultErrorMessage(r));
		PQclear(r);
		goto out;
	}
	PQclear(r);
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		for (int i = 0; i < n; i++) {
			if (i > 0)
				g_string_append_c(line, '\t');
			if (migrate_put_value(m, line, st, i, types[i], table) < 0)
				break;
		}
		g_string_append_c(line, '\n');
		m->rows[ti]++;
		if (m->err[0] != '\0' || (line->len >= MIGRATE_CHUNK && migrate_flush(m, line) < 0))
			break;
	}
	if (rc != SQLITE_ROW && rc != SQLITE_DONE)
		migrate_fail(m, "%s: reading SQLite: %s", table, sqlite3_errmsg(m->db));
	if (m->err[0] == '\0')
		migrate_flush(m, line);
	migrate_copy_end(m, m->err[0] ? m->err : NULL, &copied);
	if (m->err[0] == '\0' && copied != m->rows[ti])
		migrate_fail(m, "%s: sent %lld rows, PostgreSQL took %lld", table,
			     (long long)m->rows[ti], (long long)copied);
out:
	sqlite3_finalize(st);
	g_hash_table_destroy(cols);
	g_string_free(copy, TRUE);
	g_string_free(line, TRUE);
	free(types);
	return m->err[0] ? -1 : 0;
}

/*
 * The ids go on after the copied ones: every identity column's sequence past its table's
 * largest id, and events_seq (the engine's cursor follows it) past the largest seq.
 */
static int
migrate_sequences(struct migrate *m)
{
	PGresult *r =
	    migrate_pg_query(m,
			     "SELECT table_name, column_name FROM information_schema.columns"
			     " WHERE table_schema = current_schema() AND is_identity = 'YES'"
			     " ORDER BY table_name",
			     0, NULL);
	if (r == NULL)
		return -1;
	for (int i = 0; i < PQntuples(r) && m->err[0] == '\0'; i++) {
		const char *table = PQgetvalue(r, i, 0), *col = PQgetvalue(r, i, 1);
		char *t = PQescapeIdentifier(m->pg->conn, table, strlen(table));
		char *c = PQescapeIdentifier(m->pg->conn, col, strlen(col));
		char *sql = xasprintf("SELECT setval(pg_get_serial_sequence($1, $2),"
				      " coalesce(max(%s), 0) + 1, false) FROM %s",
				      c, t);
		const char *params[2] = {t, col};
		PQclear(migrate_pg_query(m, sql, 2, params));
		free(sql);
		PQfreemem(t);
		PQfreemem(c);
	}
	PQclear(r);
	if (m->err[0] != '\0')
		return -1;
	if (migrate_pg_exec(m, "SELECT setval('events_seq', coalesce((SELECT max(seq) FROM events),"
			       " 0) + 1, false)") < 0)
		return -1;
	/* Issue 21: the system mail's visits (schema 6) go on after the copied ones. */
	return migrate_pg_exec(m, "SELECT setval('system_visit_seq', coalesce((SELECT max(visit)"
				  " FROM outbox WHERE journey_id = 0), 0) + 1, false)");
}

/* Each table holds as many rows on the target as SQLite's snapshot has: checked before COMMIT. */
static int
migrate_verify(struct migrate *m)
{
	for (size_t i = 0; i < MIGRATE_N_TABLES; i++) {
		if (m->absent[i])
			continue;
		char *sql = xasprintf("SELECT count(*) FROM \"%s\"", migrate_tables[i].name);
		sqlite3_stmt *st = NULL;
		int64_t lite = -1, pg = -1;
		if (sqlite3_prepare_v2(m->db, sql, -1, &st, NULL) == SQLITE_OK &&
		    sqlite3_step(st) == SQLITE_ROW)
			lite = sqlite3_column_int64(st, 0);
		sqlite3_finalize(st);
		PGresult *r = migrate_pg_query(m, sql, 0, NULL);
		free(sql);
		if (r == NULL)
			return -1;
		pg = strtoll(PQgetvalue(r, 0, 0), NULL, 10);
		PQclear(r);
		if (lite != m->rows[i] || pg != m->rows[i])
			return migrate_fail(m,
					    "%s: SQLite has %lld rows, %lld were copied, PostgreSQL"
					    " has %lld: nothing was changed",
					    migrate_tables[i].name, (long long)lite,
					    (long long)m->rows[i], (long long)pg);
	}
	return 0;
}

/* Per table, the rows copied; then where they went (without a password). */
static void
migrate_summary(const struct migrate *m, const char *dir)
{
	int64_t total = 0;
	for (size_t i = 0; i < MIGRATE_N_TABLES; i++) {
		if (m->absent[i]) {
			printf(
			    "%-20s %12s (not in the target's schema: it keeps them its own way)\n",
			    migrate_tables[i].name, "-");
			continue;
		}
		printf("%-20s %12lld\n", migrate_tables[i].name, (long long)m->rows[i]);
		total += m->rows[i];
	}
	printf("%-20s %12lld\n", "total", (long long)total);
	printf("migrated %s/nurtured.db (schema %d) to database %s on %s:%s (schema %d)\n", dir,
	       store_sqlite_schema_latest(), PQdb(m->pg->conn),
	       PQhost(m->pg->conn) ? PQhost(m->pg->conn) : "", PQport(m->pg->conn),
	       store_pg_schema_latest());
}

/* Parses --from and --to: the data directory and the URL. 0, or 2 after the usage. */
static int
migrate_args(int argc, char **argv, const char **dir, const char **url)
{
	static const struct option longopts[] = {{"from", required_argument, NULL, 'f'},
						 {"to", required_argument, NULL, 't'},
						 {"help", no_argument, NULL, 'h'},
						 {NULL, 0, NULL, 0}};
	const char *from = NULL;
	int ch;

	optind = 1;
	while ((ch = getopt_long(argc, argv, "h", longopts, NULL)) != -1) {
		switch (ch) {
		case 'f':
			from = optarg;
			break;
		case 't':
			*url = optarg;
			break;
		case 'h':
			migrate_usage(stdout);
			exit(0);
		default:
			migrate_usage(stderr);
			return 2;
		}
	}
	if (optind != argc || from == NULL || *url == NULL) {
		migrate_usage(stderr);
		return 2;
	}
	if (strncmp(from, "sqlite:", 7) != 0 || from[7] == '\0') {
		fprintf(stderr, "nurtured migrate: --from must be sqlite:DATA_DIR, not '%s'\n",
			from);
		return 2;
	}
	if (strncmp(*url, "postgresql://", 13) != 0 && strncmp(*url, "postgres://", 11) != 0) {
		fprintf(
		    stderr,
		    "nurtured migrate: --to must be a URL postgresql://USER@HOST/DB, not '%s'\n",
		    *url);
		return 2;
	}
	*dir = from + 7;
	return 0;
}

int
migrate_main(int argc, char **argv)
{
	struct migrate m = {0};
	const char *dir = NULL, *url = NULL;
	char err[512];
	int rc = migrate_args(argc, argv, &dir, &url);

	if (rc != 0)
		return rc;
	log_init(1, LOG_LEVEL_WARN);
	/* Everything that can refuse without the target is checked before connecting to it. */
	if (migrate_sqlite_open(&m, dir) < 0 || migrate_sqlite_tables(&m) < 0)
		goto out;
	if ((m.pg = store_pg_connect_migrate(url, err, sizeof(err))) == NULL) {
		migrate_fail(&m, "--to: %s", err);
		goto out;
	}
	if (migrate_pg_begin(&m) < 0)
		goto out;
	for (size_t i = 0; i < MIGRATE_N_TABLES; i++)
		if (migrate_table(&m, i) < 0)
			goto out;
	if (migrate_sequences(&m) < 0 || migrate_verify(&m) < 0 ||
	    migrate_pg_exec(&m, "COMMIT") < 0)
		goto out;
	migrate_summary(&m, dir);
out:
	if (m.err[0] != '\0') {
		fprintf(stderr, "nurtured migrate: %s\n", m.err);
		if (m.pg != NULL && PQtransactionStatus(m.pg->conn) != PQTRANS_IDLE)
			PQclear(PQexec(m.pg->conn, "ROLLBACK"));
	}
	if (m.pg != NULL)
		store_pg_ops.close(&m.pg->base);
	if (m.db != NULL) {
		sqlite3_exec(m.db, "ROLLBACK", NULL, NULL, NULL);
		sqlite3_close(m.db);
	}
	return m.err[0] ? 1 : 0;
}
