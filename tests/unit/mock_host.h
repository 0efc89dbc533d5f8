/*
 * What the plugin tests' hosts share: a log into TAP comments, the wall clock and one-shot
 * timers on the test's event base, as the daemon's host table offers them. Each test adds
 * the services its plugin needs beyond these (a worker pool, the HTTP client) and fills its
 * own struct nt_host; the plugins link against nothing of the daemon, and neither do these.
 */
#ifndef NURTURED_TESTS_MOCK_HOST_H
#define NURTURED_TESTS_MOCK_HOST_H

#include <event2/event.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include "../../plugins/nurtured-plugin.h"

static struct event_base *base;

/* Everything above debug, as a TAP comment on stderr. */
static void __attribute__((format(printf, 2, 3)))
host_log(enum nt_log_level l, const char *fmt, ...)
{
	va_list ap;
	if (l == NT_LOG_DEBUG)
		return;
	fprintf(stderr, "# [plugin %d] ", (int)l);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fprintf(stderr, "\n");
}

static int64_t
host_now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

struct nt_timer {
	struct event *ev;
	void (*cb)(void *);
	void *arg;
};

/* A timer is gone once it fired: the callback may add the next one. */
static void
host_timer_fire(evutil_socket_t fd, short what, void *arg)
{
	struct nt_timer *t = arg;
	void (*cb)(void *) = t->cb;
	void *a = t->arg;
	(void)fd;
	(void)what;
	event_free(t->ev);
	free(t);
	cb(a);
}

static struct nt_timer *
host_timer_add(long after_ms, void (*cb)(void *), void *arg)
{
	struct nt_timer *t = calloc(1, sizeof(*t));
	struct timeval tv = {after_ms / 1000, (after_ms % 1000) * 1000};
	if (t == NULL)
		abort();
	t->cb = cb;
	t->arg = arg;
	t->ev = evtimer_new(base, host_timer_fire, t);
	evtimer_add(t->ev, &tv);
	return t;
}

static void
host_timer_cancel(struct nt_timer *t)
{
	event_free(t->ev);
	free(t);
}

#endif
