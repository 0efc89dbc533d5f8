/*
 * A test tool for the PostgreSQL backend's schema (issue 21): `pg_tool migrate URL` migrates
 * the database at URL as a daemon's start does (under the advisory lock) and prints the
 * version; tests/integration/test_pg_schema.py runs several at once against a private cluster.
 * `pg_tool aborted-commit exec|send|tag URL`: a transaction that met an error must not commit:
 * prints the store status of the commit and whether the row written before the error is
 * there. The error comes from a statement run at once (exec), from one sent in pipeline mode
 * whose failure is read only later, past an item's savepoint rolled back (send), or unseen by
 * the store, so that only COMMIT's command tag (ROLLBACK) tells (tag).
 * `pg_tool events URL CUSTOMER:KEY[:TYPE]...`: stores one event per argument in one transaction
 * through store_events_insert (a batch in one round trip) and prints "CUSTOMER:KEY STATUS SEQ"
 * for each, in order.
 * `pg_tool by-ids URL`: the engine's batch reads by key (customers, purchases, suppressions,
 * journeys of events, latest journeys) of customers 1 to 5, customer 1's journeys for an event
 * and the next due time, once; then, after a line on standard input (the test grows the tables
 * meanwhile), again in the same session, and prints how many customers the second round found.
 * With PGOPTIONS asking for generic plans and auto_explain, the plans show in the log (standard
 * error).
 */
#include <glib.h>
#include <stdio.h>
#include <string.h>

#include "store_pg.h"
#include "util.h"
#include "validate.h"

/* pg_tool events: the batch's outcome, one line per event. */
static int
pg_tool_events(const char *url, char **args, int n)
{
	struct store_options o = {.backend = "postgresql", .url = url};
	struct nt_event *evs = xcalloc((size_t)n, sizeof(*evs));
	int64_t *cids = xcalloc((size_t)n, sizeof(*cids)),
		*seqs = xcalloc((size_t)n, sizeof(*seqs));
	enum store_status *st = xcalloc((size_t)n, sizeof(*st));
	struct verr verr;
	char err[512];
	struct store *s = store_open(&o, err, sizeof(err));

	if (s == NULL) {
		fprintf(stderr, "pg_tool: %s\n", err);
		return 1;
	}
	for (int i = 0; i < n; i++) {
		/* CUSTOMER:KEY[:TYPE] */
		gchar **part = g_strsplit(args[i], ":", 3);
		json_t *v = json_pack(
		    "{s:s,s:s,s:s,s:s}", "customer", part[0], "id", part[1] ? part[1] : "k", "type",
		    part[1] && part[2] ? part[2] : "visit", "time", "2026-01-01T00:00:00Z");
		g_strfreev(part);
		if (validate_event(v, 1767225600000LL, &evs[i], &verr) < 0) {
			fprintf(stderr, "pg_tool: bad event %s\n", args[i]);
			return 1;
		}
		json_decref(v);
	}
	int64_t *at = xcalloc((size_t)n, sizeof(*at));
	for (int i = 0; i < n; i++)
		at[i] = 1767225600000LL;
	enum store_status rc = store_begin(s);
	if (rc == STORE_OK)
		rc = store_events_insert(s, evs, (size_t)n, at, cids, seqs, st);
	free(at);
	if (rc == STORE_OK)
		rc = store_commit(s);
	else
		store_rollback(s);
	for (int i = 0; rc == STORE_OK && i < n; i++)
		printf("%s %d %lld\n", args[i], (int)st[i],
		       st[i] == STORE_OK ? (long long)seqs[i] : 0);
	for (int i = 0; i < n; i++)
		nt_event_clear(&evs[i]);
	store_close(s);
	free(evs);
	free(cids);
	free(seqs);
	free(st);
	return rc == STORE_OK ? 0 : 1;
}

/* One round of the batch reads of pg_tool by-ids: how many customers were found, or -1. */
static int
pg_tool_by_ids_round(struct store *s)
{
	int64_t ids[5] = {1, 2, 3, 4, 5};
	struct customer_row c[5] = {0};
	struct purchase_totals p[5];
	const char *addrs[2] = {"a@example.com", "b@example.com"};
	int yes[2], found = 0;
	char *types[1] = {"visit"}, *campaigns[1] = {"flow"};
	struct journey *j = NULL, *k = NULL, *x = NULL;
	size_t nj = 0, nk = 0, nx = 0;
	int64_t due = -1;

	if (store_begin(s) != STORE_OK || store_customers_by_ids(s, ids, 5, c) != STORE_OK ||
	    store_purchases_of(s, ids, 5, p) != STORE_OK ||
	    store_suppressed_many(s, "secret", addrs, 2, yes) != STORE_OK ||
	    s->ops->engine->journeys_for_events(s, ids, 5, types, 1, campaigns, 1, &j, &nj) !=
		STORE_OK ||
	    s->ops->engine->journeys_latest(s, ids, 5, campaigns, 1, &k, &nk) != STORE_OK ||
	    store_journeys_for_event(s, 1, "visit", campaigns, 1, &x, &nx) != STORE_OK ||
	    store_journey_next_due(s, &due) != STORE_OK) {
		store_rollback(s);
		return -1;
	}
	store_rollback(s);
	for (int i = 0; i < 5; i++)
		found += c[i].id != 0;
	for (int i = 0; i < 5; i++)
		customer_row_clear(&c[i]);
	journeys_free(j, nj);
	journeys_free(k, nk);
	journeys_free(x, nx);
	return found;
}

/* pg_tool by-ids: two rounds in one session, the tables grown between them. */
static int
pg_tool_by_ids(const char *url)
{
	struct store_options o = {.backend = "postgresql", .url = url};
	char err[512], line[16];
	struct store *s = store_open(&o, err, sizeof(err));

	if (s == NULL) {
		fprintf(stderr, "pg_tool: %s\n", err);
		return 1;
	}
	if (pg_tool_by_ids_round(s) < 0)
		return 1;
	printf("planned\n");
	fflush(stdout);
	if (fgets(line, sizeof(line), stdin) == NULL)
		return 1;
	int found = pg_tool_by_ids_round(s);
	printf("found %d\n", found);
	store_close(s);
	return found < 0;
}

int
main(int argc, char **argv)
{
	char err[512];
	if (argc == 4 && strcmp(argv[1], "aborted-commit") == 0) {
		static const struct pg_stmt bad = {"tool_bad",
						   "INSERT INTO meta (key) VALUES (NULL)"};
		static const struct pg_stmt get = {
		    "tool_get", "SELECT value FROM meta WHERE key = 'heartbeat'"};
		const char *mode = argv[2];
		struct store_options o = {.backend = "postgresql", .url = argv[3]};
		struct store *st = store_open(&o, err, sizeof(err));
		if (st == NULL) {
			fprintf(stderr, "pg_tool: %s\n", err);
			return 1;
		}
		store_begin(st);
		store_heartbeat(st, 42);
		if (strcmp(mode, "exec") == 0)
			pg_exec(PQS(st), "SELECT no_such_column FROM meta");
		else if (strcmp(mode, "send") == 0) {
			/* An item's write fails unseen; the next item's read finds it out. */
			PGresult *r = NULL;
			store_savepoint(st);
			pg_send(PQS(st), &bad, NULL);
			store_release(st);
			store_savepoint(st);
			pg_run(PQS(st), &get, NULL, &r);
			/* That item refuses, as on a conflict: its savepoint is rolled back. On the
			 * server this would go back to the first item's savepoint, whose RELEASE
			 * never ran, and leave a healthy transaction that commits the heartbeat. */
			store_rollback_savepoint(st);
		} else {
			/* Aborts the transaction behind the store's back, as a server-side error it
			 * did not see would. */
			PQsendQueryParams(PQS(st)->conn, "SELECT 1/0", 0, NULL, NULL, NULL, NULL,
					  0);
			PGresult *x;
			while ((x = PQgetResult(PQS(st)->conn)) != NULL)
				PQclear(x);
		}
		enum store_status rc = store_commit(st);
		PGresult *r = NULL;
		store_begin(st);
		pg_run(PQS(st), &get, NULL, &r);
		printf("commit=%d heartbeat=%s\n", (int)rc,
		       r != NULL && PQntuples(r) ? PQgetvalue(r, 0, 0) : "none");
		if (r != NULL)
			PQclear(r);
		store_rollback(st);
		store_close(st);
		return 0;
	}
	if (argc >= 4 && strcmp(argv[1], "events") == 0)
		return pg_tool_events(argv[2], argv + 3, argc - 3);
	if (argc == 3 && strcmp(argv[1], "by-ids") == 0)
		return pg_tool_by_ids(argv[2]);
	if (argc != 3 || strcmp(argv[1], "migrate") != 0) {
		fprintf(stderr, "usage: pg_tool migrate URL | aborted-commit exec|send|tag URL"
				" | events URL CUSTOMER:KEY... | by-ids URL\n");
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
