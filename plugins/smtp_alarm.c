/* The connect() time limit of the SMTP plugin: see smtp_alarm.h. */
#include "smtp_alarm.h"

#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

/* A real-time signal no library of ours uses; glibc keeps its own below SIGRTMIN. */
#define SMTP_ALARM_SIGNAL (SIGRTMIN + 4)

static int smtp_alarm_users; /* loop thread only: workers rely on their channel's use */

/* Only there to be interrupted by: connect() returns EINTR. */
static void
smtp_alarm_tick(int sig)
{
	(void)sig;
}

int
smtp_alarm_use(void)
{
	struct sigaction sa;

	if (smtp_alarm_users++ > 0)
		return 0;
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = smtp_alarm_tick;
	sigemptyset(&sa.sa_mask);
	sa.sa_flags = 0; /* no SA_RESTART */
	if (sigaction(SMTP_ALARM_SIGNAL, &sa, NULL) < 0) {
		smtp_alarm_users--;
		return -1;
	}
	return 0;
}

/*
 * Ignored, not the default (which would end the process), once no channel uses it: by then
 * every worker has been joined and every timer deleted, and the plugin may be unloaded.
 */
void
smtp_alarm_unuse(void)
{
	struct sigaction sa;

	if (smtp_alarm_users <= 0 || --smtp_alarm_users > 0)
		return;
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = SIG_IGN;
	sigemptyset(&sa.sa_mask);
	sigaction(SMTP_ALARM_SIGNAL, &sa, NULL);
}

int
smtp_alarm_start(struct smtp_alarm *a, long limit_ms)
{
	struct sigevent sev;
	struct itimerspec its;
	sigset_t set;

	memset(a, 0, sizeof(*a));
	clock_gettime(CLOCK_MONOTONIC, &a->started);
	if (limit_ms <= 0)
		return -1;
	sigemptyset(&set);
	sigaddset(&set, SMTP_ALARM_SIGNAL);
	pthread_sigmask(SIG_UNBLOCK, &set, NULL);
	memset(&sev, 0, sizeof(sev));
	sev.sigev_notify = SIGEV_THREAD_ID;
	sev.sigev_signo = SMTP_ALARM_SIGNAL;
	sev._sigev_un._tid = (pid_t)syscall(SYS_gettid);
	if (timer_create(CLOCK_MONOTONIC, &sev, &a->timer) < 0)
		return -1;
	/* Every LIMIT: the next address libesmtp tries gets its own LIMIT, about. */
	its.it_value.tv_sec = limit_ms / 1000;
	its.it_value.tv_nsec = (limit_ms % 1000) * 1000000L;
	its.it_interval = its.it_value;
	if (timer_settime(a->timer, 0, &its, NULL) < 0) {
		int e = errno;
		timer_delete(a->timer);
		errno = e;
		return -1;
	}
	a->armed = 1;
	return 0;
}

void
smtp_alarm_stop(struct smtp_alarm *a)
{
	if (!a->armed)
		return;
	timer_delete(a->timer);
	a->armed = 0;
}

long
smtp_alarm_elapsed_ms(const struct smtp_alarm *a)
{
	struct timespec now;
	clock_gettime(CLOCK_MONOTONIC, &now);
	return (long)((now.tv_sec - a->started.tv_sec) * 1000 +
		      (now.tv_nsec - a->started.tv_nsec) / 1000000);
}
