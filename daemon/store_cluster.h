/*
 * Several nodes on one store (issue 21): the nodes that share a PostgreSQL database, and the
 * leases by which they divide the engine's work. Customers hash into a fixed number of
 * partitions (customer_id % partitions, chosen when the database is created); a node runs
 * events, timers and due steps only for customers of the partitions it holds a lease on, and
 * every transaction that wrote journey or outbox state checks, before its commit, that the node
 * still holds those leases at the epochs it knows (fencing, store_pg.c). A table of its own,
 * reached through store_ops.cluster. SQLite is one node that owns its one partition.
 */
#ifndef NURTURED_STORE_CLUSTER_H
#define NURTURED_STORE_CLUSTER_H

#include <stddef.h>
#include <stdint.h>

#include "store.h"

/* A partition held, at the epoch of its lease (the lease's number of owners so far). */
struct store_lease {
	int part;
	int64_t epoch;
};

/* A round of the lease loop: what it asks, and what it finds. */
struct lease_round {
	const char *node_id;
	int64_t ttl_ms;
	int first;	    /* the first since start: release what an earlier run of the id held */
	int leaving;	    /* a clean stop: release everything, and the node's row goes */
	const int *release; /* partitions to give up, in part order */
	size_t n_release;
	struct store_lease *held; /* out, malloc'd, in part order */
	size_t n_held;
	int partitions; /* out: in the database */
	int share;	/* out: this node's fair share now */
};

/* A node as /v1/status shows it. */
struct store_node_row {
	char *node_id;
	char *listen;
	int64_t started_ms;
	int64_t heartbeat_age_ms; /* since its last heartbeat, by the store's clock */
	int live;		  /* heartbeat within the lease time */
	int partitions;		  /* leases held and not expired */
	int64_t lease_age_ms;	  /* since its oldest renewal among them; -1 without leases */
};

struct store_cluster_ops {
	/* Records NODE alive now (its row, made on its first heartbeat). */
	enum store_status (*node_heartbeat)(struct store *, const char *node_id, const char *listen,
					    int64_t started_ms);
	/*
	 * One round of balancing in the caller's transaction (struct lease_round): renews the
	 * node's leases for the lease time, gives up R->release, takes free or expired partitions
	 * up to its fair share of the live nodes (R->share), and lists what it holds then. It never
	 * gives up more on its own: the lease loop releases the excess once the store thread no
	 * longer uses it (cluster.c), so that a voluntary release never refuses a commit.
	 */
	enum store_status (*leases_balance)(struct store *, struct lease_round *r);
	/*
	 * On the store thread, between transactions: its store works from now on on OWNED (N
	 * partitions of PARTS, in part order), which the lease loop's store holds for NODE_ID
	 * with leases of TTL_MS.
	 */
	void (*leases_adopt)(struct store *, const char *node_id, int parts, int64_t ttl_ms,
			     const struct store_lease *owned, size_t n);
	/* The nodes known, by node id, with what each holds; a node is live within TTL_MS. */
	enum store_status (*nodes_list)(struct store *, int64_t ttl_ms, struct store_node_row **out,
					size_t *n, int *partitions);
};

extern const struct store_cluster_ops store_sqlite_cluster_ops;
extern const struct store_cluster_ops store_pg_cluster_ops;

static inline enum store_status
store_node_heartbeat(struct store *s, const char *node_id, const char *listen, int64_t started_ms)
{
	return s->ops->cluster->node_heartbeat(s, node_id, listen, started_ms);
}
static inline enum store_status
store_leases_balance(struct store *s, struct lease_round *r)
{
	return s->ops->cluster->leases_balance(s, r);
}
static inline void
store_leases_adopt(struct store *s, const char *node_id, int parts, int64_t ttl_ms,
		   const struct store_lease *owned, size_t n)
{
	s->ops->cluster->leases_adopt(s, node_id, parts, ttl_ms, owned, n);
}
static inline enum store_status
store_nodes_list(struct store *s, int64_t ttl_ms, struct store_node_row **out, size_t *n,
		 int *partitions)
{
	return s->ops->cluster->nodes_list(s, ttl_ms, out, n, partitions);
}

void store_node_rows_free(struct store_node_row *v, size_t n);

#endif
