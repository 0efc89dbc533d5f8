/*
 * A mailbox: the hand-off between two threads' event loops, memcached-style. Items are queued
 * under a lock and the receiving loop is woken; the receiver drains everything in one callback.
 * Each item has one owner at a time: the sender gives it up when it posts.
 */
#ifndef NURTURED_MBOX_H
#define NURTURED_MBOX_H

#include <stddef.h>

struct event_base;
struct mbox;

struct mbox_item {
	struct mbox_item *next;
};

/* CB runs on BASE's thread with the list of items posted since last time, oldest first. */
struct mbox *mbox_new(struct event_base *base, void (*cb)(struct mbox_item *, void *), void *arg);
void mbox_free(struct mbox *m);
/* Any thread may post; the item belongs to the receiver from here on. */
void mbox_post(struct mbox *m, struct mbox_item *item);
/* Takes what is queued now without waiting for the wake-up (when the receiver stops). */
struct mbox_item *mbox_take(struct mbox *m);
/* Items waiting, for the queue-depth gauge. */
size_t mbox_depth(struct mbox *m);

#endif
