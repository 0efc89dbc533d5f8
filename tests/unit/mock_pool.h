/*
 * A worker pool for the plugin tests' hosts, as the daemon's host table offers one (pool.c):
 * jobs run on pthreads and their `done` comes back on the test's event base (mock_host.h's
 * base). Header-only, like mock_host.h: the tests link against nothing of the daemon.
 */
#ifndef NURTURED_TESTS_MOCK_POOL_H
#define NURTURED_TESTS_MOCK_POOL_H

#include <event2/event.h>
#include <pthread.h>
#include <stdlib.h>
#include <sys/queue.h>

#include "mock_host.h"

struct pjob {
	void (*run)(void *), (*done)(void *);
	void *arg;
	TAILQ_ENTRY(pjob) link;
};
TAILQ_HEAD(pjobs, pjob);

struct nt_pool {
	pthread_t th[64];
	int n, stopping;
	pthread_mutex_t mu;
	pthread_cond_t cv;
	struct pjobs todo, done;
	struct event *ev;
};

static void *
pool_worker(void *arg)
{
	struct nt_pool *p = arg;
	pthread_mutex_lock(&p->mu);
	for (;;) {
		while (!p->stopping && TAILQ_EMPTY(&p->todo))
			pthread_cond_wait(&p->cv, &p->mu);
		if (p->stopping)
			break;
		struct pjob *j = TAILQ_FIRST(&p->todo);
		TAILQ_REMOVE(&p->todo, j, link);
		pthread_mutex_unlock(&p->mu);
		j->run(j->arg);
		pthread_mutex_lock(&p->mu);
		TAILQ_INSERT_TAIL(&p->done, j, link);
		event_active(p->ev, EV_READ, 0);
	}
	pthread_mutex_unlock(&p->mu);
	return NULL;
}

static void
pool_completions(evutil_socket_t fd, short what, void *arg)
{
	struct nt_pool *p = arg;
	struct pjobs list = TAILQ_HEAD_INITIALIZER(list);
	struct pjob *j;
	(void)fd;
	(void)what;
	pthread_mutex_lock(&p->mu);
	TAILQ_CONCAT(&list, &p->done, link);
	pthread_mutex_unlock(&p->mu);
	while ((j = TAILQ_FIRST(&list)) != NULL) {
		TAILQ_REMOVE(&list, j, link);
		j->done(j->arg);
		free(j);
	}
}

static struct nt_pool *
host_pool_new(const char *name, int threads)
{
	struct nt_pool *p = calloc(1, sizeof(*p));
	(void)name;
	p->n = threads > 64 ? 64 : threads;
	pthread_mutex_init(&p->mu, NULL);
	pthread_cond_init(&p->cv, NULL);
	TAILQ_INIT(&p->todo);
	TAILQ_INIT(&p->done);
	p->ev = event_new(base, -1, 0, pool_completions, p);
	for (int i = 0; i < p->n; i++)
		pthread_create(&p->th[i], NULL, pool_worker, p);
	return p;
}

static int
host_pool_submit(struct nt_pool *p, void (*run)(void *), void (*done)(void *), void *arg)
{
	struct pjob *j = calloc(1, sizeof(*j));
	j->run = run;
	j->done = done;
	j->arg = arg;
	pthread_mutex_lock(&p->mu);
	if (p->stopping) {
		pthread_mutex_unlock(&p->mu);
		free(j);
		return -1;
	}
	TAILQ_INSERT_TAIL(&p->todo, j, link);
	pthread_cond_signal(&p->cv);
	pthread_mutex_unlock(&p->mu);
	return 0;
}

static void
host_pool_free(struct nt_pool *p)
{
	struct pjob *j;
	pthread_mutex_lock(&p->mu);
	p->stopping = 1;
	pthread_cond_broadcast(&p->cv);
	pthread_mutex_unlock(&p->mu);
	for (int i = 0; i < p->n; i++)
		pthread_join(p->th[i], NULL);
	while ((j = TAILQ_FIRST(&p->todo)) != NULL) {
		TAILQ_REMOVE(&p->todo, j, link);
		free(j);
	}
	while ((j = TAILQ_FIRST(&p->done)) != NULL) {
		TAILQ_REMOVE(&p->done, j, link);
		free(j);
	}
	event_free(p->ev);
	pthread_mutex_destroy(&p->mu);
	pthread_cond_destroy(&p->cv);
	free(p);
}

#endif
