#include "mbox.h"

#include <event2/event.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>

#include "log.h"
#include "util.h"

struct mbox {
	pthread_mutex_t lock;
	struct mbox_item *head, **tail;
	struct event *ev;
	atomic_size_t depth;
	void (*cb)(struct mbox_item *, void *);
	void *arg;
};

struct mbox_item *
mbox_take(struct mbox *m)
{
	struct mbox_item *list;
	size_t n = 0;

	pthread_mutex_lock(&m->lock);
	list = m->head;
	m->head = NULL;
	m->tail = &m->head;
	pthread_mutex_unlock(&m->lock);
	for (struct mbox_item *i = list; i; i = i->next)
		n++;
	atomic_fetch_sub(&m->depth, n);
	return list;
}

/* Takes the whole list under the lock, then hands it over outside it. */
static void
mbox_wake(evutil_socket_t fd, short what, void *arg)
{
	struct mbox *m = arg;
	struct mbox_item *list = mbox_take(m);

	(void)fd;
	(void)what;
	if (list != NULL)
		m->cb(list, m->arg);
}

struct mbox *
mbox_new(struct event_base *base, void (*cb)(struct mbox_item *, void *), void *arg)
{
	struct mbox *m = xcalloc(1, sizeof(*m));
	pthread_mutex_init(&m->lock, NULL);
	m->tail = &m->head;
	m->cb = cb;
	m->arg = arg;
	m->ev = event_new(base, -1, 0, mbox_wake, m);
	if (m->ev == NULL)
		fatalx("mbox: event_new");
	return m;
}

void
mbox_free(struct mbox *m)
{
	if (m == NULL)
		return;
	event_free(m->ev);
	pthread_mutex_destroy(&m->lock);
	free(m);
}

/* event_active from another thread is safe once evthread_use_pthreads() ran before the base. */
void
mbox_post(struct mbox *m, struct mbox_item *item)
{
	item->next = NULL;
	pthread_mutex_lock(&m->lock);
	*m->tail = item;
	m->tail = &item->next;
	pthread_mutex_unlock(&m->lock);
	atomic_fetch_add(&m->depth, 1);
	event_active(m->ev, EV_READ, 0);
}

size_t
mbox_depth(struct mbox *m)
{
	return atomic_load(&m->depth);
}
