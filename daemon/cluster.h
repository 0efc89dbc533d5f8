/*
 * Several nodes on one PostgreSQL store (issue 21): the lease loop. A thread of its own, with
 * its own connection, so that a busy store thread never lets the leases run out: every third of
 * the lease time one transaction records this node alive and balances the leases
 * (store_cluster.h): renew its own, take free or expired partitions up to its fair share,
 * release the excess. The store thread adopts the set held at the start of its transactions
 * (cluster_sync): the engine then works on those partitions (the store filters its queries),
 * and a commit that wrote journey or outbox state is fenced by them (store_pg.c).
 */
#ifndef NURTURED_CLUSTER_H
#define NURTURED_CLUSTER_H

#include <stdint.h>

#include "store.h"

struct cluster;

/* NODE_ID (or "host:PORT" when NULL), LISTEN shown to the others, leases of TTL_MS. */
struct cluster *cluster_new(const char *node_id, const char *listen, const char *port,
			    int64_t ttl_ms);
/*
 * Runs the first round on LEASES (a store of its own, which the cluster then owns) and starts
 * the thread. MAIN, the store thread's store, adopts the first set now: call it before that
 * thread starts.
 */
void cluster_start(struct cluster *c, struct store *leases, struct store *main);
/* Stops the thread and closes its store; then frees. NULL is fine. */
void cluster_free(struct cluster *c);
const char *cluster_node_id(const struct cluster *c);
int64_t cluster_ttl_ms(const struct cluster *c);
/*
 * On the store thread, between transactions: S adopts the set the last round published, if it
 * changed. 1 when S now holds partitions it did not (the engine has work to look at), else 0.
 */
int cluster_sync(struct cluster *c, struct store *s);
/* Any thread (gauges): the partitions held now, and the seconds since the last renewal. */
double cluster_gauge_owned(void *c);
double cluster_gauge_lease_age(void *c);

#endif
