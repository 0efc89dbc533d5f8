/*
 * Several nodes on one PostgreSQL store (issue 21): the lease loop. On the store thread, every
 * third of the lease time, one transaction records this node alive and balances the leases
 * (store_cluster.h): renew its own, take free or expired partitions up to its fair share,
 * release the excess. The engine then works on the partitions held (the store filters its
 * queries), and a commit that wrote journey or outbox state is fenced by them.
 */
#ifndef NURTURED_CLUSTER_H
#define NURTURED_CLUSTER_H

#include <stdint.h>

#include "store.h"

struct cluster;

/* NODE_ID (or "host:PORT" when NULL), LISTEN shown to the others, leases of TTL_MS. */
struct cluster *cluster_new(const char *node_id, const char *listen, const char *port,
			    int64_t ttl_ms);
void cluster_free(struct cluster *c);
const char *cluster_node_id(const struct cluster *c);
int64_t cluster_ttl_ms(const struct cluster *c);
/* How often the lease loop runs: a third of the lease time. */
int64_t cluster_interval_ms(const struct cluster *c);
/*
 * One round in a transaction of its own, on the thread that owns S. 1 when it holds
 * partitions it did not hold before (the engine has work to look at), 0, or -1 on failure
 * (logged; the leases run out unless a later round renews them).
 */
int cluster_round(struct cluster *c, struct store *s);
/* Any thread (gauges): the partitions held now, and the seconds since the last renewal. */
double cluster_gauge_owned(void *c);
double cluster_gauge_lease_age(void *c);

#endif
