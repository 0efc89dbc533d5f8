/*
 * A test tool for the PostgreSQL backend's schema (issue 21): `pg_tool migrate URL` migrates
 * the database at URL as a daemon's start does (under the advisory lock) and prints the
 * version; tests/integration/test_pg_schema.py runs several at once against a private cluster.
 * `pg_tool aborted-commit URL`: a transaction that met an error must not commit (PostgreSQL
 * answers its COMMIT with ROLLBACK): prints the store status of the commit and whether the
 * row written before the error is there.
 */
#include <stdio.h>
#include <string.h>

#include "store_pg.h"
#include "util.h"

int
main(int argc, char **argv)
{
	char err[512];
	if (argc == 3 && strcmp(argv[1], "aborted-commit") == 0) {
		struct store_options o = {.backend = "postgresql", .url = argv[2]};
		struct store *st = store_open(&o, err, sizeof(err));
		if (st == NULL) {
			fprintf(stderr, "pg_tool: %s\n", err);
			return 1;
		}
		store_begin(st);
		store_heartbeat(st, 42);
		pg_exec(PQS(st), "SELECT no_such_column FROM meta");
		enum store_status rc = store_commit(st);
		store_begin(st);
		PGresult *r =
		    PQexec(PQS(st)->conn, "SELECT value FROM meta WHERE key = 'heartbeat'");
		printf("commit=%d heartbeat=%s\n", (int)rc,
		       PQntuples(r) ? PQgetvalue(r, 0, 0) : "none");
		PQclear(r);
		store_rollback(st);
		store_close(st);
		return 0;
	}
	if (argc != 3 || strcmp(argv[1], "migrate") != 0) {
		fprintf(stderr, "usage: pg_tool migrate|aborted-commit URL\n");
		return 2;
	}
	struct store_pg *s = store_pg_connect_migrate(argv[2], err, sizeof(err));
	if (s == NULL) {
		fprintf(stderr, "pg_tool: %s\n", err);
		return 1;
	}
	printf("%d\n", store_pg_schema_version(&s->base));
	store_pg_ops.close(&s->base);
	return 0;
}
