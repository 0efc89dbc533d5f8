/*
 * The lease loop of several nodes sharing a PostgreSQL store (cluster.h). Its rounds run on the
 * store thread, between the store loop's transactions: the store keeps the set of partitions
 * held, so one thread reads and writes it.
 */
#include "cluster.h"

#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "log.h"
#include "store_cluster.h"
#include "util.h"

struct cluster {
	char *node_id;
	char *listen;
	int64_t ttl_ms;
	int64_t started_ms;
	int rounds;		   /* successful rounds; the first releases an earlier run's */
	struct store_lease *owned; /* as of the last round */
	size_t n_owned;
	atomic_int gauge_owned;
	_Atomic int64_t renewed_mono_us; /* the last successful round; 0 before one */
};

struct cluster *
cluster_new(const char *node_id, const char *listen, const char *port, int64_t ttl_ms)
{
	struct cluster *c = xcalloc(1, sizeof(*c));
	char host[256] = "localhost";
	if (node_id == NULL) {
		if (gethostname(host, sizeof(host) - 1) < 0)
			snprintf(host, sizeof(host), "localhost");
		c->node_id = xasprintf("%s:%s", host, port);
	} else
		c->node_id = xstrdup(node_id);
	c->listen = xstrdup(listen);
	c->ttl_ms = ttl_ms;
	c->started_ms = util_now_ms();
	atomic_init(&c->gauge_owned, 0);
	atomic_init(&c->renewed_mono_us, 0);
	return c;
}

void
cluster_free(struct cluster *c)
{
	if (c == NULL)
		return;
	free(c->node_id);
	free(c->listen);
	free(c->owned);
	free(c);
}

const char *
cluster_node_id(const struct cluster *c)
{
	return c->node_id;
}

int64_t
cluster_ttl_ms(const struct cluster *c)
{
	return c->ttl_ms;
}

int64_t
cluster_interval_ms(const struct cluster *c)
{
	return c->ttl_ms / 3 > 0 ? c->ttl_ms / 3 : 1;
}

/* Whether NEW holds a partition OLD did not (both in part order). */
static int
cluster_gained(const struct store_lease *old, size_t n_old, const struct store_lease *new,
	       size_t n_new)
{
	size_t i = 0;
	for (size_t j = 0; j < n_new; j++) {
		while (i < n_old && old[i].part < new[j].part)
			i++;
		if (i == n_old || old[i].part != new[j].part || old[i].epoch != new[j].epoch)
			return 1;
	}
	return 0;
}

int
cluster_round(struct cluster *c, struct store *s)
{
	struct store_lease *got = NULL;
	size_t n = 0;
	int parts = 0;
	enum store_status rc = store_begin(s);

	if (rc == STORE_OK)
		rc = store_node_heartbeat(s, c->node_id, c->listen, c->started_ms);
	if (rc == STORE_OK)
		rc = store_leases_balance(s, c->node_id, c->ttl_ms, c->rounds == 0, &got, &n,
					  &parts);
	if (rc == STORE_OK)
		rc = store_commit(s);
	else
		store_rollback(s);
	if (rc != STORE_OK) {
		log_warnx("cluster: lease round failed: %s", store_errmsg(s));
		free(got);
		return -1;
	}
	int gained = cluster_gained(c->owned, c->n_owned, got, n);
	if (n != c->n_owned || gained)
		log_info("cluster: node %s holds %zu of %d partitions", c->node_id, n, parts);
	free(c->owned);
	c->owned = got;
	c->n_owned = n;
	c->rounds++;
	atomic_store(&c->gauge_owned, (int)n);
	atomic_store(&c->renewed_mono_us, util_mono_us());
	return gained;
}

double
cluster_gauge_owned(void *arg)
{
	struct cluster *c = arg;
	return atomic_load(&c->gauge_owned);
}

double
cluster_gauge_lease_age(void *arg)
{
	struct cluster *c = arg;
	int64_t t = atomic_load(&c->renewed_mono_us);
	return t ? (double)(util_mono_us() - t) / 1e6 : -1;
}
