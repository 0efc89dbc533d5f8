/*
 * A test tool for the PostgreSQL backend's schema (issue 21): `pg_tool migrate URL` migrates
 * the database at URL as a daemon's start does (under the advisory lock) and prints the
 * version; tests/integration/test_pg_schema.py runs several at once against a private cluster.
 */
#include <stdio.h>
#include <string.h>

#include "store_pg.h"
#include "util.h"

int
main(int argc, char **argv)
{
	char err[512];
	if (argc != 3 || strcmp(argv[1], "migrate") != 0) {
		fprintf(stderr, "usage: pg_tool migrate URL\n");
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
