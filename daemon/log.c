#include "log.h"

#include <errno.h>
#include <event2/event.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <syslog.h>
#include <time.h>

static int log_foreground = 1;
static atomic_int log_level = LOG_LEVEL_INFO;

/* Opens syslog when running in the background; stderr needs no setup. */
void
log_init(int foreground, enum log_level level)
{
	log_foreground = foreground;
	atomic_store(&log_level, level);
	if (!foreground)
		openlog("nurtured", LOG_PID | LOG_NDELAY, LOG_DAEMON);
}

void
log_set_level(enum log_level level)
{
	atomic_store(&log_level, level);
}

enum log_level
log_get_level(void)
{
	return atomic_load(&log_level);
}

int
log_level_parse(const char *s)
{
	static const char *names[] = {"error", "warn", "info", "debug"};
	for (int i = 0; i < 4; i++)
		if (strcmp(s, names[i]) == 0)
			return i;
	return -1;
}

/* One formatter for every level, so stderr and syslog lines look alike. */
static void
log_vwrite(enum log_level lvl, int with_errno, const char *fmt, va_list ap)
{
	static const int prio[] = {LOG_ERR, LOG_WARNING, LOG_INFO, LOG_DEBUG};
	static const char *tag[] = {"error", "warn", "info", "debug"};
	int saved = errno;
	char msg[2048];

	if ((int)lvl > atomic_load(&log_level))
		return;
	vsnprintf(msg, sizeof(msg), fmt, ap);
	if (with_errno) {
		size_t n = strlen(msg);
		snprintf(msg + n, sizeof(msg) - n, ": %s", strerror(saved));
	}
	if (log_foreground) {
		struct timespec ts;
		struct tm tm;
		char when[32];
		clock_gettime(CLOCK_REALTIME, &ts);
		gmtime_r(&ts.tv_sec, &tm);
		strftime(when, sizeof(when), "%Y-%m-%dT%H:%M:%S", &tm);
		fprintf(stderr, "%s.%03ldZ nurtured[%s]: %s\n", when, ts.tv_nsec / 1000000,
			tag[lvl], msg);
	} else
		syslog(prio[lvl], "%s", msg);
	errno = saved;
}

#define LOG_BODY(lvl, e)                                                                           \
	do {                                                                                       \
		va_list ap;                                                                        \
		va_start(ap, fmt);                                                                 \
		log_vwrite(lvl, e, fmt, ap);                                                       \
		va_end(ap);                                                                        \
	} while (0)

void
log_warn(const char *fmt, ...)
{
	LOG_BODY(LOG_LEVEL_WARN, 1);
}

void
log_warnx(const char *fmt, ...)
{
	LOG_BODY(LOG_LEVEL_WARN, 0);
}

void
log_info(const char *fmt, ...)
{
	LOG_BODY(LOG_LEVEL_INFO, 0);
}

void
log_debug(const char *fmt, ...)
{
	LOG_BODY(LOG_LEVEL_DEBUG, 0);
}

void
fatal(const char *fmt, ...)
{
	LOG_BODY(LOG_LEVEL_ERROR, 1);
	exit(1);
}

void
fatalx(const char *fmt, ...)
{
	LOG_BODY(LOG_LEVEL_ERROR, 0);
	exit(1);
}

int
log_ratelimit_allow(struct log_ratelimit *rl, unsigned long *suppressed)
{
	struct timespec ts;
	long long now;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	now = (long long)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
	if (rl->next_us != 0 && now < rl->next_us) {
		rl->suppressed++;
		return 0;
	}
	rl->next_us = now + (long long)rl->interval_ms * 1000;
	*suppressed = rl->suppressed;
	rl->suppressed = 0;
	return 1;
}

/*
 * libevent reports its own trouble through this; keep it in our log, not on a stray stderr.
 * Its warnings are rate-limited: one that repeats in a loop (a failing accept) must not flood
 * the log. libevent logs from the network loop's thread and, rarely, from others: the limiter
 * is then shared, which at worst lets a line more through.
 */
static void
log_libevent_cb(int severity, const char *msg)
{
	static struct log_ratelimit rl = {.interval_ms = 1000};
	unsigned long held;

	switch (severity) {
	case EVENT_LOG_DEBUG:
		log_debug("libevent: %s", msg);
		break;
	case EVENT_LOG_MSG:
		log_info("libevent: %s", msg);
		break;
	default:
		if (!log_ratelimit_allow(&rl, &held))
			break;
		if (held > 0)
			log_warnx("libevent: %s (%lu similar messages held back)", msg, held);
		else
			log_warnx("libevent: %s", msg);
		break;
	}
}

void
log_route_libevent(void)
{
	event_set_log_callback(log_libevent_cb);
}
