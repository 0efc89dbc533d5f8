/*
 * The SQLite backend's table of store_cluster.h: one node on its own file, owning the one
 * partition there is. Nothing to record, nothing to balance, nothing to fence.
 */
#include <stdlib.h>

#include "store_cluster.h"
#include "util.h"

/* Nobody else shares the file: nothing to record. */
static enum store_status
store_sqlite_node_heartbeat(struct store *s, const char *node_id, const char *listen,
			    int64_t started_ms)
{
	(void)s;
	(void)node_id;
	(void)listen;
	(void)started_ms;
	return STORE_OK;
}

/* The one partition, held for good at epoch 1. */
static enum store_status
store_sqlite_leases_balance(struct store *s, struct lease_round *r)
{
	(void)s;
	r->held = xcalloc(1, sizeof(*r->held));
	r->held[0] = (struct store_lease){.part = 0, .epoch = 1};
	r->n_held = 1;
	r->partitions = 1;
	r->share = 1;
	return STORE_OK;
}

/* One node: it holds everything anyway. */
static void
store_sqlite_leases_adopt(struct store *s, const char *node_id, int parts, int64_t ttl_ms,
			  const struct store_lease *owned, size_t n)
{
	(void)s;
	(void)node_id;
	(void)parts;
	(void)ttl_ms;
	(void)owned;
	(void)n;
}

/* This node alone, live, with its partition. */
static enum store_status
store_sqlite_nodes_list(struct store *s, int64_t ttl_ms, struct store_node_row **out, size_t *n,
			int *partitions)
{
	(void)s;
	(void)ttl_ms;
	*out = xcalloc(1, sizeof(**out));
	(*out)[0] = (struct store_node_row){
	    .node_id = xstrdup("local"), .live = 1, .partitions = 1, .lease_age_ms = 0};
	*n = 1;
	*partitions = 1;
	return STORE_OK;
}

const struct store_cluster_ops store_sqlite_cluster_ops = {
    .node_heartbeat = store_sqlite_node_heartbeat,
    .leases_balance = store_sqlite_leases_balance,
    .leases_adopt = store_sqlite_leases_adopt,
    .nodes_list = store_sqlite_nodes_list,
};
