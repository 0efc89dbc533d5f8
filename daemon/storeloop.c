#include "storeloop.h"

#include <event2/event.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <time.h>

#include "cluster.h"
#include "engine.h"
#include "log.h"
#include "metrics.h"
#include "util.h"

/* Jobs in one transaction at most: bounds the time a group holds results back. */
#define STORELOOP_GROUP_MAX 2048

/* Events consumed inside an ingest group's transaction at most; the rest in engine passes. */
#define STORELOOP_ENGINE_INLINE 4096
/* Events and due journeys handled per chunk of an engine pass. */
#define STORELOOP_ENGINE_BATCH 256
/*
 * A pass runs chunks in one transaction until there is no more, or for this long, or this many
 * chunks, or a job someone waits for (a request, not delivery's work) has arrived: each commit
 * costs a WAL fsync, so a burst of due steps shares commits (with one chunk a pass, a million
 * due steps ran at 17,290 steps/s instead of about 20,800). The price: a request that arrives
 * during a pass's payloads and commit waits for them (bench/scheduler with BENCH_PROBE=1: a
 * POST's p50 32 ms while 200,000 steps fire, 3 ms with one chunk a pass).
 */
#define STORELOOP_ENGINE_PASS_US 30000
#define STORELOOP_ENGINE_CHUNKS 8
/* Longest sleep before looking at the next due time again (wall-clock jumps). */
#define STORELOOP_ENGINE_MAX_SLEEP_MS 60000
/*
 * With several nodes (issue 21), other nodes store events and due steps for this node's
 * partitions without waking it: its engine looks again at least this often.
 */
#define STORELOOP_CLUSTER_POLL_MS 200

struct storeloop {
	struct store *store;
	struct engine *engine;	 /* may be NULL */
	struct event *engine_ev; /* one timer: the next due journey, or "now" after a commit */
	struct event_base *base; /* the store thread's own loop */
	struct mbox *inbox;	 /* network loop -> store loop */
	struct mbox *outbox;	 /* store loop -> network loop */
	pthread_t thread;
	void (*queued)(void *); /* delivery's wake-up, or NULL */
	int reader;		/* read-only: its transactions are not the store's commits */
	atomic_int waiting;	/* jobs someone waits for, posted and not yet taken */
	int engine_after_inbox; /* a pass gave way to them: the next one follows the inbox */
	void *queued_arg;
	struct cluster *cluster; /* issue 21: the lease loop, or NULL (one node on SQLite) */
	struct storeloop *wake;	 /* an ingest loop: the loop whose engine its events wake */
	/* A loop woken by an ingest loop: a wake is on its way (under wake_mu; wake_cv). */
	int wake_posted;
	pthread_mutex_t wake_mu;
	pthread_cond_t wake_cv;
};

/* Longest an ingest loop waits for the engine to take its previous events (then goes on). */
#define STORELOOP_INGEST_WAIT_MS 2000

/* A job that stores nothing: its transaction is where the engine consumes new events. */
struct storeloop_wake_job {
	struct store_job job; /* first */
	struct storeloop *to;
};

/* The engine takes the events now (this group consumes them): the ingest loop may go on. */
static void
storeloop_wake_clear(struct storeloop *l)
{
	pthread_mutex_lock(&l->wake_mu);
	l->wake_posted = 0;
	pthread_cond_broadcast(&l->wake_cv);
	pthread_mutex_unlock(&l->wake_mu);
}

static enum store_status
storeloop_wake_run(struct store *s, struct store_job *job)
{
	(void)s;
	storeloop_wake_clear(((struct storeloop_wake_job *)job)->to);
	return STORE_OK;
}

/* Also when its group failed before it ran: the engine's next pass takes the events. */
static void
storeloop_wake_done(struct store_job *job)
{
	storeloop_wake_clear(((struct storeloop_wake_job *)job)->to);
	free(job);
}

/*
 * On an ingest loop's thread, after a commit that stored events: L's engine consumes them in
 * its next group, in a transaction of its own, while this loop stores the next ones. One wake
 * at a time is on its way; events committed meanwhile are consumed with it.
 */
static void
storeloop_wake(struct storeloop *l)
{
	pthread_mutex_lock(&l->wake_mu);
	int posted = l->wake_posted;
	l->wake_posted = 1;
	pthread_mutex_unlock(&l->wake_mu);
	if (posted)
		return;
	struct storeloop_wake_job *w = xcalloc(1, sizeof(*w));
	w->to = l;
	w->job.run = storeloop_wake_run;
	w->job.done = storeloop_wake_done;
	w->job.wakes_engine = 1;
	storeloop_submit(l, &w->job); /* the ingest loop waits for it */
}

/*
 * Before an ingest loop's group: while L's engine has not yet taken the events of the last
 * wake, wait (at most STORELOOP_INGEST_WAIT_MS). So the two run side by side, one group apart,
 * and the events the engine has yet to consume stay within about two groups: the requests wait
 * for it, as they do where it consumes them in their own transaction, and a node under more
 * load than its engine carries answers slower instead of falling further behind.
 */
static void
storeloop_wake_wait(struct storeloop *l)
{
	struct timespec until;
	clock_gettime(CLOCK_REALTIME, &until);
	until.tv_sec += STORELOOP_INGEST_WAIT_MS / 1000;
	until.tv_nsec += (long)(STORELOOP_INGEST_WAIT_MS % 1000) * 1000000L;
	if (until.tv_nsec >= 1000000000L) {
		until.tv_sec++;
		until.tv_nsec -= 1000000000L;
	}
	pthread_mutex_lock(&l->wake_mu);
	while (l->wake_posted && pthread_cond_timedwait(&l->wake_cv, &l->wake_mu, &until) == 0)
		;
	pthread_mutex_unlock(&l->wake_mu);
}

/* After a commit: if the engine queued messages in it, delivery hears of it. */
static void
storeloop_tell_queued(struct storeloop *l)
{
	if (l->engine != NULL && engine_take_queued(l->engine) > 0 && l->queued != NULL)
		l->queued(l->queued_arg);
}

static void
storeloop_fail_all(struct store_job **jobs, size_t n)
{
	for (size_t i = 0; i < n; i++)
		jobs[i]->status = STORE_UNAVAILABLE;
}

/*
 * The jobs from JOBS[0] on that share its run_many, run at once in a savepoint: how many ran,
 * 0 when none could (fewer than two, or one of them refused: they run one by one), or -1 on a
 * store failure.
 */
static long
storeloop_run_many(struct store *s, struct store_job **jobs, size_t n)
{
	size_t k = 1;
	enum store_status rc;

	if (jobs[0]->run_many == NULL)
		return 0;
	while (k < n && jobs[k]->run_many == jobs[0]->run_many)
		k++;
	if (k < 2)
		return 0;
	if (store_savepoint(s) != STORE_OK)
		return -1;
	rc = jobs[0]->run_many(s, jobs, k);
	if (rc == STORE_UNAVAILABLE || rc == STORE_CORRUPT)
		return -1;
	if (rc != STORE_OK) {
		store_rollback_savepoint(s);
		return 0;
	}
	if (store_release(s) != STORE_OK)
		return -1;
	metrics_inc(M_JOBS_TOGETHER, k);
	return (long)k;
}

/* One transaction for N jobs; any store failure fails the whole group, never half of it. */
static void
storeloop_group(struct storeloop *l, struct store_job **jobs, size_t n)
{
	struct store *s = l->store;
	int64_t t0;
	size_t i;

	/* Issue 21: the partitions the lease loop holds now, before this transaction. */
	if (l->cluster != NULL && cluster_sync(l->cluster, s) > 0)
		event_active(l->engine_ev, EV_TIMEOUT, 0);
	if (l->wake != NULL)
		storeloop_wake_wait(l->wake);
	if (store_begin(s) != STORE_OK) {
		storeloop_fail_all(jobs, n);
		goto out;
	}
	for (i = 0; i < n; i++) {
		long many = storeloop_run_many(s, jobs + i, n - i);
		if (many < 0)
			break;
		if (many > 0) {
			i += (size_t)many - 1;
			continue;
		}
		if (store_savepoint(s) != STORE_OK)
			break;
		jobs[i]->status = jobs[i]->run(s, jobs[i]);
		if (jobs[i]->status == STORE_UNAVAILABLE || jobs[i]->status == STORE_CORRUPT)
			break;
		if (jobs[i]->status == STORE_OK) {
			if (store_release(s) != STORE_OK)
				break;
		} else
			store_rollback_savepoint(s);
	}
	if (i < n) {
		if (l->engine != NULL)
			engine_abandon(l->engine);
		store_rollback(s);
		storeloop_fail_all(jobs, n);
		metrics_inc(M_COMMIT_FAILURES, 1);
		goto out;
	}
	/*
	 * The engine consumes the new events in this same transaction: one fsync covers both the
	 * events and their effects, and the cursor moves with them. A long backlog is left to the
	 * engine's own passes.
	 */
	for (i = 0; l->engine != NULL && i < n; i++)
		if (jobs[i]->wakes_engine && jobs[i]->status == STORE_OK) {
			int consumed = 0;
			if (engine_consume(l->engine, STORELOOP_ENGINE_INLINE, &consumed) !=
			    STORE_OK) {
				engine_abandon(l->engine);
				store_rollback(s);
				storeloop_fail_all(jobs, n);
				metrics_inc(M_COMMIT_FAILURES, 1);
				goto out;
			}
			/* A pass re-arms the timer for what these events scheduled (or consumes the
			 * rest); with nothing due it writes nothing, so it costs no fsync. */
			event_active(l->engine_ev, EV_TIMEOUT, 0);
			break;
		}
	/* The payloads built off this thread go into this transaction, before its commit. */
	if (l->engine != NULL && engine_flush(l->engine) != STORE_OK) {
		engine_abandon(l->engine);
		store_rollback(s);
		storeloop_fail_all(jobs, n);
		metrics_inc(M_COMMIT_FAILURES, 1);
		goto out;
	}
	t0 = util_mono_us();
	if (store_commit(s) != STORE_OK) {
		storeloop_fail_all(jobs, n);
		metrics_inc(M_COMMIT_FAILURES, 1);
		goto out;
	}
	if (!l->reader) {
		metrics_observe(M_HIST_COMMIT, (double)(util_mono_us() - t0) / 1e6);
		metrics_inc(M_COMMITS, 1);
	}
	for (i = 0; l->wake != NULL && i < n; i++)
		if (jobs[i]->wakes_engine && jobs[i]->status == STORE_OK) {
			storeloop_wake(l->wake);
			break;
		}
	storeloop_tell_queued(l);
out:
	for (i = 0; i < n; i++)
		mbox_post(l->outbox, &jobs[i]->item);
}

/*
 * One engine pass in its own transaction: consume new events, run due journeys. If there is
 * more, come back right after the loop has served the inbox; otherwise sleep until the next due
 * journey. A failed pass is rolled back whole and retried a second later.
 */
static void
storeloop_engine_pass(evutil_socket_t fd, short what, void *arg)
{
	struct storeloop *l = arg;
	struct timeval tv = {0, 0};
	enum store_status rc;
	(void)fd;
	(void)what;

	int64_t t0 = util_mono_us();
	int more = 0, yield = 0;
	if (l->cluster != NULL)
		cluster_sync(l->cluster, l->store);
	rc = store_begin(l->store);
	/* Issue 21: another node may have paused or resumed a campaign over the API. */
	if (rc == STORE_OK && l->cluster != NULL)
		rc = engine_refresh_pauses(l->engine);
	for (int chunk = 0; rc == STORE_OK && chunk < STORELOOP_ENGINE_CHUNKS; chunk++) {
		int c = 0, r = 0;
		rc = engine_consume(l->engine, STORELOOP_ENGINE_BATCH, &c);
		if (rc == STORE_OK)
			rc = engine_run_due(l->engine, STORELOOP_ENGINE_BATCH, &r);
		more = c >= STORELOOP_ENGINE_BATCH || r >= STORELOOP_ENGINE_BATCH;
		if (!more || util_mono_us() - t0 >= STORELOOP_ENGINE_PASS_US ||
		    (yield = atomic_load(&l->waiting) > 0))
			break;
	}
	if (rc == STORE_OK)
		rc = engine_flush(l->engine);
	if (rc == STORE_OK)
		rc = store_commit(l->store);
	else {
		engine_abandon(l->engine);
		store_rollback(l->store);
	}
	if (rc == STORE_OK)
		storeloop_tell_queued(l);
	if (rc != STORE_OK) {
		log_warnx("engine: pass failed; retrying in 1 s");
		tv.tv_sec = 1;
		evtimer_add(l->engine_ev, &tv);
		return;
	}
	if (more && (yield || atomic_load(&l->waiting) > 0)) {
		/* Their inbox callback is due (its wake-up is posted): it runs first, then this. */
		l->engine_after_inbox = 1;
		return;
	}
	if (more) {
		evtimer_add(l->engine_ev, &tv);
		return;
	}
	int64_t due = engine_next_due(l->engine), wait_ms = STORELOOP_ENGINE_MAX_SLEEP_MS;
	if (l->cluster != NULL)
		wait_ms = STORELOOP_CLUSTER_POLL_MS;
	if (due >= 0 && due - util_now_ms() < wait_ms)
		wait_ms = due - util_now_ms() > 0 ? due - util_now_ms() : 0;
	tv.tv_sec = wait_ms / 1000;
	tv.tv_usec = (wait_ms % 1000) * 1000;
	evtimer_add(l->engine_ev, &tv);
}

/* Inbox callback on the store thread: everything queued so far, cut into groups. */
static void
storeloop_receive(struct mbox_item *list, void *arg)
{
	struct storeloop *l = arg;
	struct store_job *group[STORELOOP_GROUP_MAX];
	size_t n = 0;

	while (list != NULL) {
		struct mbox_item *next = list->next;
		group[n++] = (struct store_job *)list;
		if (!group[n - 1]->background)
			atomic_fetch_sub(&l->waiting, 1);
		list = next;
		if (n == STORELOOP_GROUP_MAX || list == NULL) {
			storeloop_group(l, group, n);
			n = 0;
		}
	}
	if (l->engine_after_inbox) {
		l->engine_after_inbox = 0;
		event_active(l->engine_ev, EV_TIMEOUT, 0);
	}
}

/* Outbox callback on the network loop. */
static void
storeloop_deliver(struct mbox_item *list, void *arg)
{
	(void)arg;
	while (list != NULL) {
		struct mbox_item *next = list->next;
		struct store_job *job = (struct store_job *)list;
		job->done(job);
		list = next;
	}
}

static void *
storeloop_main(void *arg)
{
	struct storeloop *l = arg;
	event_base_loop(l->base, EVLOOP_NO_EXIT_ON_EMPTY);
	return NULL;
}

struct storeloop *
storeloop_start(struct store *s, struct engine *engine, struct event_base *done_base)
{
	return storeloop_start_hooked(s, engine, done_base, NULL, NULL);
}

/* Everything is set before the thread starts: it reads the fields without a lock. */
static struct storeloop *
storeloop_start_with(struct store *s, struct engine *engine, struct event_base *done_base,
		     void (*queued)(void *), void *arg, int reader, struct cluster *cluster,
		     struct storeloop *wake)
{
	struct storeloop *l = xcalloc(1, sizeof(*l));
	l->reader = reader;
	l->cluster = cluster;
	l->wake = wake;
	atomic_init(&l->waiting, 0);
	pthread_mutex_init(&l->wake_mu, NULL);
	pthread_cond_init(&l->wake_cv, NULL);
	l->store = s;
	l->engine = engine;
	l->queued = queued;
	l->queued_arg = arg;
	l->base = event_base_new();
	if (l->base == NULL)
		fatalx("storeloop: event_base_new");
	l->inbox = mbox_new(l->base, storeloop_receive, l);
	l->outbox = mbox_new(done_base, storeloop_deliver, l);
	if (engine != NULL) {
		l->engine_ev = evtimer_new(l->base, storeloop_engine_pass, l);
		event_active(l->engine_ev, EV_TIMEOUT, 0); /* catch up on start */
	}
	if (pthread_create(&l->thread, NULL, storeloop_main, l) != 0)
		fatal("storeloop: pthread_create");
	return l;
}

struct storeloop *
storeloop_start_hooked(struct store *s, struct engine *engine, struct event_base *done_base,
		       void (*queued)(void *), void *arg)
{
	return storeloop_start_with(s, engine, done_base, queued, arg, 0, NULL, NULL);
}

struct storeloop *
storeloop_start_cluster(struct store *s, struct engine *engine, struct event_base *done_base,
			void (*queued)(void *), void *arg, struct cluster *cluster)
{
	return storeloop_start_with(s, engine, done_base, queued, arg, 0, cluster, NULL);
}

struct storeloop *
storeloop_start_reader(struct store *s, struct event_base *done_base)
{
	return storeloop_start_with(s, NULL, done_base, NULL, NULL, 1, NULL, NULL);
}

struct storeloop *
storeloop_start_ingest(struct store *s, struct event_base *done_base, struct storeloop *wake)
{
	return storeloop_start_with(s, NULL, done_base, NULL, NULL, 0, NULL, wake);
}

void
storeloop_submit(struct storeloop *l, struct store_job *job)
{
	if (!job->background)
		atomic_fetch_add(&l->waiting, 1);
	mbox_post(l->inbox, &job->item);
}

size_t
storeloop_depth(struct storeloop *l)
{
	return mbox_depth(l->inbox);
}

/* Runs on the store thread after the jobs queued before it: the last thing the loop does. */
static void
storeloop_exit_cb(evutil_socket_t fd, short what, void *arg)
{
	struct storeloop *l = arg;
	(void)fd;
	(void)what;
	event_base_loopbreak(l->base);
}

void
storeloop_stop(struct storeloop *l)
{
	if (l == NULL)
		return;
	/* Inbox events are active already if anything is queued; a 0 s timer runs after them. */
	struct timeval zero = {0, 0};
	event_base_once(l->base, -1, EV_TIMEOUT, storeloop_exit_cb, l, &zero);
	pthread_join(l->thread, NULL);
	/* Anything posted between the last drain and the break runs now, on this thread. */
	event_base_loop(l->base, EVLOOP_NONBLOCK);
	/* Finished jobs go back to their owners, who free them (late replies go nowhere). */
	struct mbox_item *done = mbox_take(l->outbox);
	if (done != NULL)
		storeloop_deliver(done, l);
	if (l->engine_ev != NULL)
		event_free(l->engine_ev);
	store_close(l->store);
	pthread_mutex_destroy(&l->wake_mu);
	pthread_cond_destroy(&l->wake_cv);
	mbox_free(l->inbox);
	mbox_free(l->outbox);
	event_base_free(l->base);
	free(l);
}
