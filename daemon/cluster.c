/*
 * The lease loop of several nodes sharing a PostgreSQL store (cluster.h): a thread with its own
 * connection runs a round every third of the lease time and publishes the set held; the store
 * thread adopts it between its transactions (cluster_sync).
 */
#include "cluster.h"

#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "log.h"
#include "store_cluster.h"
#include "store_stats.h"
#include "util.h"

struct cluster {
	char *node_id;
	char *listen;
	int64_t ttl_ms;
	int64_t started_ms;
	struct store *store; /* the lease loop's own connection */
	pthread_t thread;
	int running;
	int stop;		   /* under mu: the thread ends */
	pthread_cond_t wake;	   /* signals stop */
	pthread_mutex_t mu;	   /* guards what follows */
	int rounds;		   /* successful rounds; the first releases an earlier run's */
	struct store_lease *owned; /* published by the last round, in part order */
	size_t n_owned;
	int *pending; /* held beyond the fair share: released once the store thread let go */
	size_t n_pending;
	int parts;
	uint64_t gen;		     /* bumped at each change of the set */
	uint64_t synced;	     /* the store thread's: the gen it adopted */
	struct store_lease *adopted; /* the store thread's: what it adopted */
	size_t n_adopted;
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
	c->gen = 1; /* the empty set: the store thread holds nothing until a round says */
	pthread_mutex_init(&c->mu, NULL);
	pthread_cond_init(&c->wake, NULL);
	atomic_init(&c->gauge_owned, 0);
	atomic_init(&c->renewed_mono_us, 0);
	return c;
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

static int
cluster_same(const struct store_lease *a, size_t na, const struct store_lease *b, size_t nb)
{
	return na == nb && (na == 0 || memcmp(a, b, na * sizeof(*a)) == 0);
}

/* Whether NEW holds a partition (or an epoch of it) OLD did not; both in part order. */
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

/*
 * Issue 21: the holder of partition 0 folds the counters' deltas (store_counters_fold) after
 * its round, in a short transaction of its own: the other nodes' transactions only append
 * deltas, so one folder contends with nobody, and a failed fold leaves the deltas to the next.
 */
static void
cluster_fold(struct cluster *c)
{
	long folded = 0;
	enum store_status rc = store_begin(c->store);
	if (rc == STORE_OK)
		rc = store_counters_fold(c->store, &folded);
	if (rc == STORE_OK)
		rc = store_commit(c->store);
	else
		store_rollback(c->store);
	if (rc != STORE_OK)
		log_warnx("cluster: folding the counters failed: %s", store_errmsg(c->store));
}

/*
 * One round in a transaction of its own on the loop's connection. Of what it holds, it
 * publishes its fair share (the lowest partitions) for the store thread; the excess is
 * released in a later round, once the store thread has adopted the smaller set: a transaction
 * it began before could still be working on those partitions.
 */
static void
cluster_round(struct cluster *c)
{
	struct lease_round lr = {.node_id = c->node_id, .ttl_ms = c->ttl_ms, .first = !c->rounds};
	int *release = NULL;
	struct store *s = c->store;

	pthread_mutex_lock(&c->mu);
	if (c->n_pending > 0 && c->synced == c->gen) {
		release = xcalloc(c->n_pending, sizeof(*release));
		memcpy(release, c->pending, c->n_pending * sizeof(*release));
		lr.release = release;
		lr.n_release = c->n_pending;
	}
	pthread_mutex_unlock(&c->mu);
	enum store_status rc = store_begin(s);
	if (rc == STORE_OK)
		rc = store_node_heartbeat(s, c->node_id, c->listen, c->started_ms);
	if (rc == STORE_OK)
		rc = store_leases_balance(s, &lr);
	if (rc == STORE_OK)
		rc = store_commit(s);
	else
		store_rollback(s);
	free(release);
	if (rc != STORE_OK) {
		log_warnx("cluster: lease round failed: %s", store_errmsg(s));
		free(lr.held);
		return;
	}
	size_t keep = lr.n_held > (size_t)lr.share ? (size_t)lr.share : lr.n_held;
	if (lr.n_held > 0 && lr.held[0].part == 0)
		cluster_fold(c);
	pthread_mutex_lock(&c->mu);
	free(c->pending);
	c->n_pending = lr.n_held - keep;
	c->pending = xcalloc(c->n_pending + 1, sizeof(*c->pending));
	for (size_t i = keep; i < lr.n_held; i++)
		c->pending[i - keep] = lr.held[i].part;
	if (!cluster_same(c->owned, c->n_owned, lr.held, keep)) {
		log_info("cluster: node %s holds %zu of %d partitions", c->node_id, keep,
			 lr.partitions);
		free(c->owned);
		c->owned = lr.held;
		c->n_owned = keep;
		c->gen++;
	} else
		free(lr.held);
	c->parts = lr.partitions;
	c->rounds++;
	pthread_mutex_unlock(&c->mu);
	atomic_store(&c->gauge_owned, (int)keep);
	atomic_store(&c->renewed_mono_us, util_mono_us());
}

static void *
cluster_main(void *arg)
{
	struct cluster *c = arg;
	int64_t every_ms = c->ttl_ms / 3 > 0 ? c->ttl_ms / 3 : 1;
	pthread_mutex_lock(&c->mu);
	while (!c->stop) {
		struct timespec until;
		clock_gettime(CLOCK_REALTIME, &until);
		until.tv_sec += every_ms / 1000;
		until.tv_nsec += (every_ms % 1000) * 1000000;
		if (until.tv_nsec >= 1000000000) {
			until.tv_sec++;
			until.tv_nsec -= 1000000000;
		}
		if (pthread_cond_timedwait(&c->wake, &c->mu, &until) != ETIMEDOUT || c->stop)
			continue;
		pthread_mutex_unlock(&c->mu);
		cluster_round(c);
		pthread_mutex_lock(&c->mu);
	}
	pthread_mutex_unlock(&c->mu);
	return NULL;
}

void
cluster_start(struct cluster *c, struct store *leases, struct store *main)
{
	c->store = leases;
	cluster_round(c);
	cluster_sync(c, main);
	if (pthread_create(&c->thread, NULL, cluster_main, c) != 0)
		fatal("cluster: pthread_create");
	c->running = 1;
}

int
cluster_sync(struct cluster *c, struct store *s)
{
	int gained = 0;
	pthread_mutex_lock(&c->mu);
	if (c->gen != c->synced) {
		gained = cluster_gained(c->adopted, c->n_adopted, c->owned, c->n_owned);
		free(c->adopted);
		c->adopted = xcalloc(c->n_owned + 1, sizeof(*c->adopted));
		if (c->n_owned > 0)
			memcpy(c->adopted, c->owned, c->n_owned * sizeof(*c->owned));
		c->n_adopted = c->n_owned;
		c->synced = c->gen;
		store_leases_adopt(s, c->node_id, c->parts, c->ttl_ms, c->adopted, c->n_adopted);
	}
	pthread_mutex_unlock(&c->mu);
	return gained;
}

void
cluster_free(struct cluster *c)
{
	if (c == NULL)
		return;
	if (c->running) {
		pthread_mutex_lock(&c->mu);
		c->stop = 1;
		pthread_cond_signal(&c->wake);
		pthread_mutex_unlock(&c->mu);
		pthread_join(c->thread, NULL);
		/* The store thread has stopped: nothing works on the partitions any more. */
		struct lease_round lr = {.node_id = c->node_id, .ttl_ms = c->ttl_ms, .leaving = 1};
		if (store_begin(c->store) != STORE_OK ||
		    store_leases_balance(c->store, &lr) != STORE_OK ||
		    store_commit(c->store) != STORE_OK) {
			store_rollback(c->store);
			log_warnx(
			    "cluster: could not release the leases: %s; they run out in %lld ms",
			    store_errmsg(c->store), (long long)c->ttl_ms);
		} else
			log_info("cluster: node %s left; its partitions are free", c->node_id);
		free(lr.held);
	}
	store_close(c->store);
	pthread_mutex_destroy(&c->mu);
	pthread_cond_destroy(&c->wake);
	free(c->node_id);
	free(c->listen);
	free(c->owned);
	free(c->pending);
	free(c->adopted);
	free(c);
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
