#include "pool.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "mbox.h"
#include "util.h"

/* A job walks: queued (under the lock) -> running on a worker -> finished (mbox) -> done. */
struct pool_job {
	struct mbox_item item; /* first: the mbox hands jobs back as items */
	struct pool_job *next; /* the queue of jobs not yet running */
	void (*run)(void *);
	void (*done)(void *);
	void *arg;
};

struct nt_pool {
	char *name;
	pthread_mutex_t lock;
	pthread_cond_t cond;
	struct pool_job *head, **tail;
	int stopping;
	int nthreads;
	pthread_t *threads;
	struct mbox *finished; /* worker -> loop */
};

/* Workers sleep on the condition until a job or the stop arrives. */
static void *
pool_worker(void *arg)
{
	struct nt_pool *p = arg;
	struct pool_job *j;

	for (;;) {
		pthread_mutex_lock(&p->lock);
		while (p->head == NULL && !p->stopping)
			pthread_cond_wait(&p->cond, &p->lock);
		if (p->stopping) {
			pthread_mutex_unlock(&p->lock);
			return NULL;
		}
		j = p->head;
		p->head = j->next;
		if (p->head == NULL)
			p->tail = &p->head;
		pthread_mutex_unlock(&p->lock);
		j->run(j->arg);
		mbox_post(p->finished, &j->item);
	}
}

/* Completions run on the loop in the order the workers finished them. */
static void
pool_finished(struct mbox_item *list, void *arg)
{
	(void)arg;
	while (list != NULL) {
		struct pool_job *j = (struct pool_job *)list;
		list = list->next;
		if (j->done != NULL)
			j->done(j->arg);
		free(j);
	}
}

struct nt_pool *
pool_new(struct event_base *base, const char *name, int threads)
{
	struct nt_pool *p = xcalloc(1, sizeof(*p));

	if (threads < 1)
		threads = 1;
	p->name = xstrdup(name ? name : "pool");
	pthread_mutex_init(&p->lock, NULL);
	pthread_cond_init(&p->cond, NULL);
	p->tail = &p->head;
	p->finished = mbox_new(base, pool_finished, p);
	p->threads = xcalloc((size_t)threads, sizeof(*p->threads));
	for (int i = 0; i < threads; i++) {
		if (pthread_create(&p->threads[i], NULL, pool_worker, p) != 0)
			fatal("pool %s: pthread_create", p->name);
		p->nthreads++;
	}
	log_debug("pool %s: %d threads", p->name, threads);
	return p;
}

int
pool_submit(struct nt_pool *p, void (*run)(void *), void (*done)(void *), void *arg)
{
	struct pool_job *j;

	if (p == NULL || run == NULL)
		return -1;
	j = xcalloc(1, sizeof(*j));
	j->run = run;
	j->done = done;
	j->arg = arg;
	pthread_mutex_lock(&p->lock);
	if (p->stopping) {
		pthread_mutex_unlock(&p->lock);
		free(j);
		return -1;
	}
	*p->tail = j;
	p->tail = &j->next;
	pthread_cond_signal(&p->cond);
	pthread_mutex_unlock(&p->lock);
	return 0;
}

/*
 * Workers finish the job they run (a running SMTP session ends only at its timeouts), then
 * exit; queued jobs and completions not yet delivered are dropped without their callbacks,
 * as the plugin ABI promises for fini.
 */
void
pool_free(struct nt_pool *p)
{
	struct pool_job *j, *next;
	struct mbox_item *it;

	if (p == NULL)
		return;
	pthread_mutex_lock(&p->lock);
	p->stopping = 1;
	pthread_cond_broadcast(&p->cond);
	pthread_mutex_unlock(&p->lock);
	for (int i = 0; i < p->nthreads; i++)
		pthread_join(p->threads[i], NULL);
	for (j = p->head; j != NULL; j = next) {
		next = j->next;
		free(j);
	}
	for (it = mbox_take(p->finished); it != NULL;) {
		struct mbox_item *n = it->next;
		free(it);
		it = n;
	}
	mbox_free(p->finished);
	pthread_cond_destroy(&p->cond);
	pthread_mutex_destroy(&p->lock);
	free(p->threads);
	free(p->name);
	free(p);
}
