/*
 * Several nodes on one PostgreSQL database (issue 21): the nodes table, the leases by which
 * they divide the partitions, and the fencing check a commit makes (store_cluster.h).
 *
 * Times here are the database's clock (clock_timestamp()), not the nodes': every node compares
 * expiries and heartbeats on one clock, so a skewed node clock cannot steal a lease.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "metrics.h"
#include "store_cluster.h"
#include "store_pg.h"
#include "util.h"

#define PG_NOW "(extract(epoch FROM clock_timestamp()) * 1000)::bigint"

void
pg_arg_owned(struct store_pg *s, struct pg_args *a)
{
	pg_arg_int(a, s->parts > 0 ? s->parts : 1);
	pg_arg_text(a, s->node_id != NULL ? s->owned_sql : NULL);
}

int
pg_owns_part0(struct store_pg *s)
{
	if (s->node_id == NULL)
		return 1;
	for (size_t i = 0; i < s->n_owned; i++)
		if (s->owned[i].part == 0)
			return 1;
	return 0;
}

void
pg_fence_mark(struct store_pg *s)
{
	s->fence = 1;
}

void
pg_events_seen(struct store_pg *s, PGresult *r, int col)
{
	GString *g = g_string_new("{");
	s->seen_max = 0;
	for (int i = 0; i < PQntuples(r); i++) {
		int64_t seq = pg_int(r, i, col);
		g_string_append_printf(g, "%s%lld", i ? "," : "", (long long)seq);
		if (seq > s->seen_max)
			s->seen_max = seq;
	}
	g_string_append_c(g, '}');
	free(s->seen_seqs);
	s->seen_seqs = xstrdup(g->str);
	g_string_free(g, TRUE);
}

/* Adopts OWNED (N, in part order) as the set held: the queries and the fencing use it. */
static void
pg_owned_adopt(struct store_pg *s, const struct store_lease *owned, size_t n)
{
	GString *g = g_string_new("{");
	free(s->owned);
	s->owned = xcalloc(n ? n : 1, sizeof(*s->owned));
	for (size_t i = 0; i < n; i++) {
		s->owned[i] = owned[i];
		g_string_append_printf(g, "%s%d", i ? "," : "", s->owned[i].part);
	}
	g_string_append_c(g, '}');
	s->n_owned = n;
	free(s->owned_sql);
	s->owned_sql = xstrdup(g->str);
	g_string_free(g, TRUE);
}

/* The same from the rows (part, epoch) of R. */
static void
pg_owned_set(struct store_pg *s, PGresult *r)
{
	size_t n = (size_t)PQntuples(r);
	struct store_lease *v = xcalloc(n ? n : 1, sizeof(*v));
	for (size_t i = 0; i < n; i++) {
		v[i].part = (int)pg_int(r, (int)i, 0);
		v[i].epoch = pg_int(r, (int)i, 1);
	}
	pg_owned_adopt(s, v, n);
	free(v);
}

/*
 * A node stopped inside a transaction (SIGSTOP, a stalled VM) keeps its row locks, and with
 * them its lease rows (locked FOR SHARE by the fencing check) and the journeys it was
 * writing: nobody could take its partitions over nor run those journeys until it woke. So the
 * server ends a transaction idle for longer than a lease (at least PG_IDLE_TX_MIN_MS, so that
 * a short lease never cuts a pass waiting on its renders); the node finds its connection gone
 * when it wakes, and its work rolled back (PG_IDLE_TX_MIN_MS, store_pg.h).
 */
static void
store_pg_leases_adopt(struct store *st, const char *node_id, int parts, int64_t ttl_ms,
		      const struct store_lease *owned, size_t n)
{
	struct store_pg *s = PQS(st);
	s->idle_tx_ms = ttl_ms > PG_IDLE_TX_MIN_MS ? ttl_ms : PG_IDLE_TX_MIN_MS;
	if (s->node_id == NULL) {
		s->node_id = xstrdup(node_id); /* from now on: only what the leases say */
		s->idle_tx_set = -1; /* the session again: its name carries the node's id */
	}
	if (parts > 0)
		s->parts = parts;
	pg_owned_adopt(s, owned, n);
}

static const struct pg_stmt q_owned = {
    "clu_owned", "SELECT part, epoch FROM leases WHERE owner = $1 ORDER BY part"};

/*
 * The lock: FOR SHARE keeps a takeover (an UPDATE of the row) waiting until this transaction
 * ends. So either the takeover committed first and this sees its epoch, or it comes after this
 * commit and sees what it wrote.
 */
enum store_status
pg_fence_check(struct store_pg *s)
{
	static const struct pg_stmt q = {"clu_fence",
					 "SELECT part, owner, epoch FROM leases"
					 " WHERE part = ANY($1::int[]) ORDER BY part FOR SHARE"};
	struct pg_args a = {0};
	PGresult *r;
	size_t j = 0;

	if (s->node_id == NULL || s->n_owned == 0)
		return STORE_OK;
	pg_arg_text(&a, s->owned_sql);
	if (pg_run(s, &q, &a, &r) != STORE_OK)
		return STORE_UNAVAILABLE;
	for (int i = 0; i < PQntuples(r) && j < s->n_owned; i++, j++) {
		const char *owner = pg_str(r, i, 1);
		int part = (int)pg_int(r, i, 0);
		int64_t epoch = pg_int(r, i, 2);
		if (part == s->owned[j].part && epoch == s->owned[j].epoch && owner != NULL &&
		    strcmp(owner, s->node_id) == 0)
			continue;
		log_warnx("fencing: refused a stale commit (partition %d, epoch %lld, now owner %s "
			  "epoch %lld)",
			  s->owned[j].part, (long long)s->owned[j].epoch, owner ? owner : "none",
			  (long long)epoch);
		metrics_inc(M_FENCING_REFUSALS, 1);
		PQclear(r);
		return STORE_UNAVAILABLE;
	}
	PQclear(r);
	return STORE_OK;
}

/*
 * After a refusal, outside any transaction: the set as the database has it now. Unread (the
 * connection is gone), the set stays: the next commit checks it again.
 */
void
pg_fence_reread(struct store_pg *s)
{
	struct pg_args a = {0};
	PGresult *r;
	pg_arg_text(&a, s->node_id);
	if (s->conn == NULL || pg_run(s, &q_owned, &a, &r) != STORE_OK)
		return;
	pg_owned_set(s, r);
	PQclear(r);
}

void
pg_cluster_free(struct store_pg *s)
{
	free(s->node_id);
	free(s->owned);
	free(s->owned_sql);
	free(s->seen_seqs);
}

static enum store_status
store_pg_node_heartbeat(struct store *st, const char *node_id, const char *listen,
			int64_t started_ms)
{
	static const struct pg_stmt q = {
	    "clu_heartbeat",
	    "INSERT INTO nodes (node_id, listen, started_ms, heartbeat_ms) VALUES ($1, $2, "
	    "$3, " PG_NOW ") ON CONFLICT (node_id) DO UPDATE SET listen = excluded.listen,"
	    " started_ms = excluded.started_ms, heartbeat_ms = excluded.heartbeat_ms"};
	struct pg_args a = {0};
	pg_arg_text(&a, node_id);
	pg_arg_text(&a, listen);
	pg_arg_int(&a, started_ms);
	return pg_run(PQS(st), &q, &a, NULL);
}

/*
 * The partition count, fixed when the database was made: a lease row each (meta 'partitions'
 * says how many were made, but `nurtured migrate` replaces meta with SQLite's).
 */
static int
pg_partitions(struct store_pg *s)
{
	static const struct pg_stmt q = {"clu_parts", "SELECT count(*) FROM leases"};
	PGresult *r;
	if (pg_run(s, &q, NULL, &r) != STORE_OK)
		return -1;
	int p = PQntuples(r) ? (int)pg_int(r, 0, 0) : 0;
	PQclear(r);
	return p;
}

/*
 * This node's fair share: the partitions divided among the live nodes in node id order, the
 * first (P mod live) one more. Every node computes the same split from the same table.
 */
static int
pg_fair_share(struct store_pg *s, int64_t ttl_ms, int *share)
{
	static const struct pg_stmt q = {
	    "clu_live", "SELECT count(*), count(*) FILTER (WHERE node_id < $1) FROM nodes"
			" WHERE heartbeat_ms > " PG_NOW " - $2::bigint OR node_id = $1"};
	struct pg_args a = {0};
	PGresult *r;
	pg_arg_text(&a, s->node_id);
	pg_arg_int(&a, ttl_ms);
	if (pg_run(s, &q, &a, &r) != STORE_OK)
		return -1;
	int live = (int)pg_int(r, 0, 0), rank = (int)pg_int(r, 0, 1);
	PQclear(r);
	if (live < 1)
		live = 1;
	*share = s->parts / live + (rank < s->parts % live ? 1 : 0);
	return 0;
}

/* "{1,2,3}": an int[] literal of N partitions. */
static char *
pg_parts_literal(const int *v, size_t n)
{
	GString *g = g_string_new("{");
	for (size_t i = 0; i < n; i++)
		g_string_append_printf(g, "%s%d", i ? "," : "", v[i]);
	g_string_append_c(g, '}');
	return g_string_free(g, FALSE);
}

static enum store_status
store_pg_leases_balance(struct store *st, struct lease_round *lr)
{
	static const struct pg_stmt forget = {
	    "clu_forget", "UPDATE leases SET owner = NULL, expires_ms = 0 WHERE owner = $1"};
	static const struct pg_stmt leave = {"clu_leave", "DELETE FROM nodes WHERE node_id = $1"};
	static const struct pg_stmt release = {"clu_release",
					       "UPDATE leases SET owner = NULL, expires_ms = 0"
					       " WHERE owner = $1 AND part = ANY($2::int[])"};
	static const struct pg_stmt renew = {
	    "clu_renew", "UPDATE leases SET expires_ms = " PG_NOW " + $2::bigint,"
			 " renewed_ms = " PG_NOW " WHERE owner = $1"};
	static const struct pg_stmt take = {
	    "clu_take",
	    "WITH free AS (SELECT part FROM leases WHERE owner IS NULL OR expires_ms < " PG_NOW
	    " ORDER BY part LIMIT $3 FOR UPDATE SKIP LOCKED)"
	    " UPDATE leases l SET owner = $1, epoch = l.epoch + 1,"
	    " expires_ms = " PG_NOW " + $2::bigint, renewed_ms = " PG_NOW
	    " FROM free WHERE l.part = free.part"};
	/* store_pg_outbox.c's recovery at a start, while running: the claim's session is gone. */
	static const struct pg_stmt sweep = {
	    "clu_sweep",
	    "UPDATE outbox SET state = 'queued', due_ms = " PG_NOW ", updated_ms = " PG_NOW ","
	    " claimed_by = NULL WHERE state = 'sending' AND claimed_by IS NOT NULL"
	    " AND NOT EXISTS (SELECT 1 FROM pg_stat_activity a WHERE a.pid = outbox.claimed_by)"};
	struct store_pg *s = PQS(st);
	struct pg_args a = {0};
	PGresult *r;

	lr->held = NULL;
	lr->n_held = 0;
	if (s->node_id == NULL)
		s->node_id = xstrdup(lr->node_id);
	if (s->parts <= 0 && (s->parts = pg_partitions(s)) <= 0)
		return STORE_UNAVAILABLE;
	lr->partitions = s->parts;
	pg_arg_text(&a, lr->node_id);
	if ((lr->first || lr->leaving) && pg_run(s, &forget, &a, NULL) != STORE_OK)
		return STORE_UNAVAILABLE;
	if (lr->leaving) /* a clean stop: the others take over now, not in a lease time */
		return pg_run(s, &leave, &a, NULL);
	if (lr->n_release > 0) {
		char *set = pg_parts_literal(lr->release, lr->n_release);
		struct pg_args b = {0};
		pg_arg_text(&b, lr->node_id);
		pg_arg_text(&b, set);
		enum store_status rc = pg_run(s, &release, &b, NULL);
		free(set);
		if (rc != STORE_OK)
			return rc;
	}
	pg_arg_int(&a, lr->ttl_ms);
	if (pg_run(s, &renew, &a, &r) != STORE_OK)
		return STORE_UNAVAILABLE;
	long held = pg_affected(r);
	PQclear(r);
	if (pg_fair_share(s, lr->ttl_ms, &lr->share) < 0)
		return STORE_UNAVAILABLE;
	if (held < lr->share) {
		pg_arg_int(&a, lr->share - held);
		if (pg_run(s, &take, &a, NULL) != STORE_OK)
			return STORE_UNAVAILABLE;
	}
	struct pg_args c = {0};
	pg_arg_text(&c, lr->node_id);
	if (pg_run(s, &q_owned, &c, &r) != STORE_OK)
		return STORE_UNAVAILABLE;
	pg_owned_set(s, r);
	PQclear(r);
	/*
	 * Messages a dead node claimed (its session is gone) go back to the queue, as a start's
	 * recovery does: at most what it had in flight is sent twice. The holder of partition 0
	 * looks, so that one node does it, without waiting for a restart.
	 */
	if (pg_owns_part0(s)) {
		if (pg_run(s, &sweep, NULL, &r) != STORE_OK)
			return STORE_UNAVAILABLE;
		if (pg_affected(r) > 0)
			log_info("cluster: %ld messages a node gone was sending are queued again",
				 pg_affected(r));
		PQclear(r);
	}
	lr->held = xcalloc(s->n_owned + 1, sizeof(*lr->held));
	if (s->n_owned > 0)
		memcpy(lr->held, s->owned, s->n_owned * sizeof(*lr->held));
	lr->n_held = s->n_owned;
	return STORE_OK;
}

static enum store_status
store_pg_nodes_list(struct store *st, int64_t ttl_ms, struct store_node_row **out, size_t *n,
		    int *partitions)
{
	static const struct pg_stmt q = {
	    "clu_nodes", "SELECT n.node_id, n.listen, n.started_ms, " PG_NOW " - n.heartbeat_ms,"
			 " count(l.part) FILTER (WHERE l.expires_ms > " PG_NOW "),"
			 " " PG_NOW " - min(l.renewed_ms) FILTER (WHERE l.expires_ms > " PG_NOW "),"
			 " (SELECT count(*) FROM leases)"
			 " FROM nodes n LEFT JOIN leases l ON l.owner = n.node_id"
			 " GROUP BY n.node_id ORDER BY n.node_id"};
	struct store_pg *s = PQS(st);
	PGresult *r;

	*out = NULL;
	*n = 0;
	*partitions = 0;
	if (pg_run(s, &q, NULL, &r) != STORE_OK)
		return STORE_UNAVAILABLE;
	size_t cnt = (size_t)PQntuples(r);
	*out = xcalloc(cnt ? cnt : 1, sizeof(**out));
	for (size_t i = 0; i < cnt; i++) {
		struct store_node_row *v = &(*out)[i];
		int row = (int)i;
		v->node_id = pg_dup(r, row, 0);
		v->listen = pg_dup(r, row, 1);
		v->started_ms = pg_int(r, row, 2);
		v->heartbeat_age_ms = pg_int(r, row, 3);
		v->live = v->heartbeat_age_ms < ttl_ms;
		v->partitions = (int)pg_int(r, row, 4);
		v->lease_age_ms = pg_isnull(r, row, 5) ? -1 : pg_int(r, row, 5);
		*partitions = (int)pg_int(r, row, 6);
	}
	*n = cnt;
	PQclear(r);
	if (cnt == 0 && (*partitions = pg_partitions(s)) < 0)
		*partitions = 0;
	return STORE_OK;
}

const struct store_cluster_ops store_pg_cluster_ops = {
    .node_heartbeat = store_pg_node_heartbeat,
    .leases_balance = store_pg_leases_balance,
    .leases_adopt = store_pg_leases_adopt,
    .nodes_list = store_pg_nodes_list,
};
