/*
 * A time limit on libesmtp's connect(). libesmtp 1.1 connects with a blocking connect() and
 * no timeout of its own, so a relay whose SYNs go unanswered holds a worker for the kernel's
 * SYN retries (about two minutes). A timer aimed at the worker thread sends it a signal every
 * LIMIT ms until the connection stands; the signal's handler does nothing and is installed
 * without SA_RESTART, so the connect() in progress returns EINTR and libesmtp gives up on that
 * address (its polls retry on EINTR; the timer is stopped at SMTP_EV_CONNECT anyway).
 */
#ifndef NURTURED_SMTP_ALARM_H
#define NURTURED_SMTP_ALARM_H

#include <time.h>

struct smtp_alarm {
	timer_t timer;
	int armed;
	struct timespec started;
};

/* Loop thread, at a channel's init and fini: the handler is there while any channel uses it. */
int smtp_alarm_use(void);
void smtp_alarm_unuse(void);
/*
 * Worker thread of a channel that holds a use: starts the ticks for this thread; 0 on
 * success, -1 (errno) if it cannot.
 */
int smtp_alarm_start(struct smtp_alarm *a, long limit_ms);
/* Stops them (at the connection, and again at the session's end: idempotent). */
void smtp_alarm_stop(struct smtp_alarm *a);
/* Milliseconds since smtp_alarm_start. */
long smtp_alarm_elapsed_ms(const struct smtp_alarm *a);

#endif
