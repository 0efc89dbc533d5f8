/*
 * The mailbox poller (issue 16): for those whose bounces land in a hosted mailbox. A thread of
 * its own (libcurl's IMAP is blocking) lists the messages, fetches each one, hands it to the
 * daemon through POST /v1/inbound (the one path, 202 after the commit), and only then deletes
 * or moves it: a crash at any point leaves it in the mailbox, and the second time it is a
 * duplicate with no second effect.
 */
#ifndef NURTURED_IMAP_POLL_H
#define NURTURED_IMAP_POLL_H

#include "config.h"

struct imap_poll;

/* Starts polling when CFG has inbound.imap; NULL when it has none. */
struct imap_poll *imap_poll_start(const struct config *cfg);
/* Asks the thread to stop (any thread; returns at once). */
void imap_poll_stop(struct imap_poll *p);
/* Stops and joins it; NULL is fine. */
void imap_poll_free(struct imap_poll *p);

#endif
