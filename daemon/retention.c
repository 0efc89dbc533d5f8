/*
 * Retention's pass: for each kind with a limit (config "retention"), chunks of
 * RETENTION_CHUNK rows, each one store job (a few milliseconds on the store thread), the
 * next one handed over only when the previous one is done, so that requests and the engine
 * go between them. When every kind has nothing more, the next pass is `interval` later.
 */
#include <event2/event.h>
#include <stdlib.h>

#include "campaign.h"
#include "config.h"
#include "daemon.h"
#include "log.h"
#include "retention.h"
#include "store.h"
#include "storeloop.h"
#include "util.h"

_Static_assert(RETAIN_KINDS == CONFIG_RETENTION_KINDS, "config.h's retention kinds");

#define RETENTION_CHUNK 200
#define RETENTION_FIRST_MS 1000

struct retention {
	struct daemon *d;
	struct event *timer;
	enum retention_kind kind; /* the kind being pruned in this pass */
	struct retention_cursor cur[RETAIN_KINDS];
	long pruned[RETAIN_KINDS]; /* rows looked at in this pass, for the log */
	int64_t longest_us;	   /* the longest chunk of this pass */
	int inflight;		   /* a chunk is in the store loop */
	int stopping;
};

struct retention_job {
	struct store_job job; /* first */
	struct retention *r;
	enum retention_kind kind;
	int64_t cutoff_ms;
	struct retention_cursor cur;
	json_t *keep; /* RETAIN_JOURNEYS: what re-entry rules read */
	int n;
	int64_t took_us; /* on the store thread */
};

static const char *const retention_names[RETAIN_KINDS] = {"events", "payloads", "messages", "notes",
							  "journeys"};

static void retention_next(struct retention *r);

/* KIND's limit in the running configuration; 0: kept forever. */
static int64_t
retention_limit(struct retention *r, enum retention_kind kind)
{
	return daemon_config(r->d)->retention.keep_ms[kind];
}

static void
retention_arm(struct retention *r, int64_t ms)
{
	struct timeval tv = {(time_t)(ms / 1000), (suseconds_t)(ms % 1000) * 1000};
	if (!r->stopping)
		evtimer_add(r->timer, &tv);
}

static enum store_status
retention_run(struct store *s, struct store_job *job)
{
	struct retention_job *j = (struct retention_job *)job;
	int64_t start = util_mono_us();
	enum store_status rc =
	    store_prune(s, j->kind, j->cutoff_ms, RETENTION_CHUNK, j->keep, &j->cur, &j->n);
	j->took_us = util_mono_us() - start;
	return rc;
}

/* A chunk committed: the same kind again while chunks come back full, else the next kind. */
static void
retention_done(struct store_job *job)
{
	struct retention_job *j = (struct retention_job *)job;
	struct retention *r = j->r;

	r->inflight = 0;
	if (job->status == STORE_OK) {
		r->cur[j->kind] = j->cur;
		r->pruned[j->kind] += j->n;
		if (j->took_us > r->longest_us)
			r->longest_us = j->took_us;
		if (j->n < RETENTION_CHUNK)
			r->kind++;
	} else
		r->kind = RETAIN_KINDS; /* the store is unwell: try again next pass */
	json_decref(j->keep);
	free(j);
	if (r->stopping)
		return;
	retention_next(r);
}

/*
 * Campaign id -> what its re-entry rule reads of finished journeys: "never" all of them (-1),
 * "after" those that ended within the window (the time before which they may go).
 */
static json_t *
retention_keep(struct retention *r)
{
	const struct campaign_set *set = daemon_campaigns(r->d);
	json_t *keep = json_object();
	int64_t now = util_now_ms();

	for (size_t i = 0; set != NULL && i < set->n; i++) {
		const struct campaign *c = set->v[i];
		if (c->reentry == REENTRY_NEVER)
			json_object_set_new(keep, c->id, json_integer(-1));
		else if (c->reentry == REENTRY_AFTER)
			json_object_set_new(keep, c->id, json_integer(now - c->reentry_after_ms));
	}
	return keep;
}

/* Hands over the next chunk of this pass, or ends the pass. */
static void
retention_next(struct retention *r)
{
	while (r->kind < RETAIN_KINDS && retention_limit(r, r->kind) <= 0)
		r->kind++;
	if (r->kind == RETAIN_KINDS) {
		for (int k = 0; k < RETAIN_KINDS; k++)
			if (r->pruned[k] > 0)
				log_debug("retention: %s: %ld rows looked at", retention_names[k],
					  r->pruned[k]);
		if (r->longest_us > 0)
			log_debug("retention: pass done, longest chunk %.1f ms",
				  (double)r->longest_us / 1000.0);
		retention_arm(r, daemon_config(r->d)->retention.interval_ms);
		return;
	}
	struct retention_job *j = xcalloc(1, sizeof(*j));
	j->r = r;
	j->kind = r->kind;
	j->cur = r->cur[r->kind];
	j->cutoff_ms = util_now_ms() - retention_limit(r, r->kind);
	if (r->kind == RETAIN_JOURNEYS)
		j->keep = retention_keep(r);
	j->job.run = retention_run;
	j->job.done = retention_done;
	j->job.background = 1;
	r->inflight = 1;
	storeloop_submit(daemon_storeloop(r->d), &j->job);
}

/* The timer: a new pass. */
static void
retention_tick(evutil_socket_t fd, short what, void *arg)
{
	struct retention *r = arg;
	(void)fd;
	(void)what;
	if (r->inflight || r->stopping)
		return;
	r->kind = 0;
	for (int k = 0; k < RETAIN_KINDS; k++)
		r->pruned[k] = 0;
	r->longest_us = 0;
	retention_next(r);
}

struct retention *
retention_start(struct daemon *d)
{
	struct retention *r = xcalloc(1, sizeof(*r));
	r->d = d;
	r->timer = evtimer_new(daemon_base(d), retention_tick, r);
	retention_arm(r, RETENTION_FIRST_MS);
	return r;
}

void
retention_stop(struct retention *r)
{
	if (r == NULL)
		return;
	r->stopping = 1;
	evtimer_del(r->timer);
}

void
retention_free(struct retention *r)
{
	if (r == NULL)
		return;
	event_free(r->timer);
	free(r);
}
