#include "mimepool.h"

#include <pthread.h>
#include <stdlib.h>

#include "log.h"
#include "mime.h"
#include "util.h"

/* Builds queued before an idle worker is woken: one wake-up (a futex call) serves several. */
#define MIMEPOOL_WAKE_AT 8

struct mimepool_job {
	int64_t id;
	struct mime_mail *mail;
	char *payload;
	size_t len;
	char *err;
};

struct mimepool {
	pthread_mutex_t mu;
	pthread_cond_t work; /* a job was queued, or the pool is stopping */
	pthread_cond_t done; /* a job finished */
	/* Pointers, so that growing the array never moves a job a worker is building. */
	struct mimepool_job **jobs;
	size_t n, cap;
	size_t next;	 /* the first job nobody has taken */
	size_t finished; /* jobs built */
	int idle;	 /* workers waiting for work */
	pthread_t *threads;
	int nthreads;
	int stopping;
};

/* Builds one job outside the lock; the job is this thread's until it is counted finished. */
static void
mimepool_build(struct mimepool *p, struct mimepool_job *j)
{
	mime_build(j->mail, &j->payload, &j->len, &j->err);
	pthread_mutex_lock(&p->mu);
	p->finished++;
	if (p->finished == p->n)
		pthread_cond_signal(&p->done);
	pthread_mutex_unlock(&p->mu);
}

static void *
mimepool_worker(void *arg)
{
	struct mimepool *p = arg;

	pthread_mutex_lock(&p->mu);
	for (;;) {
		while (!p->stopping && p->next == p->n) {
			p->idle++;
			pthread_cond_wait(&p->work, &p->mu);
			p->idle--;
		}
		if (p->stopping)
			break;
		struct mimepool_job *j = p->jobs[p->next++];
		pthread_mutex_unlock(&p->mu);
		mimepool_build(p, j);
		pthread_mutex_lock(&p->mu);
	}
	pthread_mutex_unlock(&p->mu);
	return NULL;
}

struct mimepool *
mimepool_new(int threads)
{
	struct mimepool *p = xcalloc(1, sizeof(*p));

	p->nthreads = threads < 1 ? 1 : threads;
	pthread_mutex_init(&p->mu, NULL);
	pthread_cond_init(&p->work, NULL);
	pthread_cond_init(&p->done, NULL);
	mime_init(); /* before any worker can race into g_mime_init */
	p->threads = xcalloc((size_t)p->nthreads, sizeof(*p->threads));
	for (int i = 0; i < p->nthreads; i++)
		if (pthread_create(&p->threads[i], NULL, mimepool_worker, p) != 0)
			fatal("mimepool: pthread_create");
	return p;
}

void
mimepool_submit(struct mimepool *p, int64_t id, struct mime_mail *m)
{
	struct mimepool_job *j = xcalloc(1, sizeof(*j));

	j->id = id;
	j->mail = m;
	pthread_mutex_lock(&p->mu);
	if (p->n == p->cap) {
		p->cap = p->cap ? 2 * p->cap : 256;
		p->jobs = xrealloc(p->jobs, p->cap * sizeof(*p->jobs));
	}
	p->jobs[p->n++] = j;
	if (p->idle > 0 && p->n - p->next >= MIMEPOOL_WAKE_AT)
		pthread_cond_signal(&p->work);
	pthread_mutex_unlock(&p->mu);
}

size_t
mimepool_pending(struct mimepool *p)
{
	pthread_mutex_lock(&p->mu);
	size_t n = p->n;
	pthread_mutex_unlock(&p->mu);
	return n;
}

static void
mimepool_job_free(struct mimepool_job *j)
{
	mime_mail_free(j->mail);
	free(j->payload);
	free(j->err);
	free(j);
}

int
mimepool_drain(struct mimepool *p, mimepool_result_fn fn, void *arg)
{
	int rc = 0;

	pthread_mutex_lock(&p->mu);
	/* The caller builds too, rather than wait idle for jobs no worker has taken. */
	while (p->next < p->n) {
		struct mimepool_job *j = p->jobs[p->next++];
		pthread_mutex_unlock(&p->mu);
		mimepool_build(p, j);
		pthread_mutex_lock(&p->mu);
	}
	while (p->finished < p->n)
		pthread_cond_wait(&p->done, &p->mu);
	size_t n = p->n;
	p->n = p->next = p->finished = 0;
	pthread_mutex_unlock(&p->mu);
	for (size_t i = 0; i < n; i++) {
		struct mimepool_job *j = p->jobs[i];
		if (rc == 0 && fn != NULL)
			rc = fn(j->id, j->payload, j->len, j->err, arg);
		mimepool_job_free(j);
	}
	return rc;
}

void
mimepool_free(struct mimepool *p)
{
	if (p == NULL)
		return;
	pthread_mutex_lock(&p->mu);
	p->stopping = 1;
	pthread_cond_broadcast(&p->work);
	pthread_mutex_unlock(&p->mu);
	for (int i = 0; i < p->nthreads; i++)
		pthread_join(p->threads[i], NULL);
	/* Workers finish the job they hold before they see `stopping`; the rest never ran. */
	for (size_t i = 0; i < p->n; i++)
		mimepool_job_free(p->jobs[i]);
	free(p->jobs);
	free(p->threads);
	pthread_cond_destroy(&p->work);
	pthread_cond_destroy(&p->done);
	pthread_mutex_destroy(&p->mu);
	free(p);
}
