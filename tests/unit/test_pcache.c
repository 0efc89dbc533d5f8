/*
 * The page cache wrapper (store_sqlite_pcache.c) under the load that makes SQLite's balancer
 * use its temporary page number: random keys into a WITHOUT ROWID table in small commits, with
 * deletes, in a file with 1 KiB pages and the writer's cache size. The wrapper must have been
 * installed, the temporary number must have been used (or the test proves nothing), and the
 * database must come out intact and hold exactly what was written, read back through a second
 * connection and after a reopen.
 *
 * `test_pcache --time [--no-wrap] [ROWS]` also prints how long the commits took, with or
 * without the wrapper (it is process-wide, so each variant is its own run).
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "store_sqlite.h"
#include "tap.h"

static int rows = 60000;
#define PER_COMMIT 20

static uint64_t rng = 88172645463325252ull;

static uint64_t
next_rand(void)
{
	rng ^= rng << 13;
	rng ^= rng >> 7;
	rng ^= rng << 17;
	return rng;
}

static int
exec(sqlite3 *db, const char *sql)
{
	char *err = NULL;
	if (sqlite3_exec(db, sql, NULL, NULL, &err) != SQLITE_OK) {
		fprintf(stderr, "# %s: %s\n", sql, err);
		sqlite3_free(err);
		return -1;
	}
	return 0;
}

static int64_t
query_int(sqlite3 *db, const char *sql)
{
	sqlite3_stmt *q;
	int64_t v = -1;
	if (sqlite3_prepare_v2(db, sql, -1, &q, NULL) == SQLITE_OK && sqlite3_step(q) == SQLITE_ROW)
		v = sqlite3_column_int64(q, 0);
	sqlite3_finalize(q);
	return v;
}

static int
integrity_ok(sqlite3 *db)
{
	sqlite3_stmt *q;
	int ok = 0;
	if (sqlite3_prepare_v2(db, "PRAGMA integrity_check", -1, &q, NULL) == SQLITE_OK &&
	    sqlite3_step(q) == SQLITE_ROW)
		ok = strcmp((const char *)sqlite3_column_text(q, 0), "ok") == 0;
	sqlite3_finalize(q);
	return ok;
}

/* Writes `rows` random keys, deleting every seventh again; returns the rows kept, -1 on error. */
static int64_t
load(sqlite3 *db, int64_t *sum, double *commit_s)
{
	sqlite3_stmt *ins, *del;
	int64_t kept = 0;
	char key[40];

	*sum = 0;
	*commit_s = 0;
	if (sqlite3_prepare_v2(db, "INSERT INTO t (k, v) VALUES (?1, ?2)", -1, &ins, NULL) !=
		SQLITE_OK ||
	    sqlite3_prepare_v2(db, "DELETE FROM t WHERE k = ?1", -1, &del, NULL) != SQLITE_OK)
		return -1;
	for (int i = 0; i < rows; i += PER_COMMIT) {
		struct timespec a, b;
		if (exec(db, "BEGIN") < 0)
			return -1;
		for (int j = i; j < i + PER_COMMIT; j++) {
			snprintf(key, sizeof(key), "%016llx-%d", (unsigned long long)next_rand(),
				 j);
			sqlite3_bind_text(ins, 1, key, -1, SQLITE_TRANSIENT);
			sqlite3_bind_int64(ins, 2, j);
			if (sqlite3_step(ins) != SQLITE_DONE)
				return -1;
			sqlite3_reset(ins);
			if (j % 7 == 0) {
				sqlite3_bind_text(del, 1, key, -1, SQLITE_TRANSIENT);
				if (sqlite3_step(del) != SQLITE_DONE)
					return -1;
				sqlite3_reset(del);
			} else {
				kept++;
				*sum += j;
			}
		}
		clock_gettime(CLOCK_MONOTONIC, &a);
		if (exec(db, "COMMIT") < 0)
			return -1;
		clock_gettime(CLOCK_MONOTONIC, &b);
		*commit_s += (double)(b.tv_sec - a.tv_sec) + (double)(b.tv_nsec - a.tv_nsec) / 1e9;
	}
	sqlite3_finalize(ins);
	sqlite3_finalize(del);
	return kept;
}

static sqlite3 *
open_db(const char *path)
{
	sqlite3 *db = NULL;
	if (sqlite3_open(path, &db) != SQLITE_OK ||
	    exec(db, "PRAGMA page_size = 1024; PRAGMA journal_mode = WAL;"
		     "PRAGMA synchronous = OFF; PRAGMA cache_size = -32768") < 0) {
		sqlite3_close(db);
		return NULL;
	}
	return db;
}

int
main(int argc, char **argv)
{
	int timing = argc > 1 && strcmp(argv[1], "--time") == 0;
	int wrap = !(argc > 2 && strcmp(argv[2], "--no-wrap") == 0);
	int64_t sum = 0, kept;
	double commit_s = 0;
	char dir[] = "/tmp/nt-pcache-XXXXXX", path[64], sql[160];
	sqlite3 *db, *other;

	if (timing && argc > 2 + !wrap)
		rows = atoi(argv[2 + !wrap]);
	if (mkdtemp(dir) == NULL)
		return 2;
	snprintf(path, sizeof(path), "%s/t.db", dir);
	if (wrap)
		test_ok(store_sqlite_pcache_install() == 1,
			"installed before SQLite is initialised");
	test_ok((db = open_db(path)) != NULL &&
		    exec(db, "CREATE TABLE t (k TEXT PRIMARY KEY, v INTEGER) WITHOUT ROWID") == 0,
		"a WAL database with 1 KiB pages");
	kept = db != NULL ? load(db, &sum, &commit_s) : -1;
	test_ok(kept > 0, "%d rows written in commits of %d, every seventh deleted", rows,
		PER_COMMIT);
	if (timing)
		printf(
		    "# %s: %d commits took %.3f s (%.1f us each); temporary page used %lu times\n",
		    wrap ? "wrapped" : "pcache1 alone", rows / PER_COMMIT, commit_s,
		    commit_s * 1e6 / (rows / PER_COMMIT), store_sqlite_pcache_remapped());
	if (wrap)
		test_ok(store_sqlite_pcache_remapped() > 0,
			"the balancer moved pages through its temporary number (%lu times)",
			store_sqlite_pcache_remapped());
	test_ok(db != NULL && integrity_ok(db), "integrity_check: ok");
	snprintf(sql, sizeof(sql), "SELECT count(*) * 1000000000000 + sum(v) FROM t");
	test_ok(db != NULL && query_int(db, sql) == kept * 1000000000000LL + sum,
		"every row kept is there, with its value");
	other = open_db(path);
	test_ok(other != NULL && query_int(other, sql) == kept * 1000000000000LL + sum,
		"a second connection reads the same rows");
	sqlite3_close(other);
	sqlite3_close(db);
	db = open_db(path);
	test_ok(db != NULL && integrity_ok(db) &&
		    query_int(db, sql) == kept * 1000000000000LL + sum,
		"after a reopen: intact, the same rows");
	sqlite3_close(db);
	snprintf(sql, sizeof(sql), "rm -rf %s", dir);
	if (system(sql) != 0)
		fprintf(stderr, "# could not remove %s\n", dir);
	printf("1..%d\n", test_count);
	return test_failures ? 1 : 0;
}
