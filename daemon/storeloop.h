/*
 * The store loop: one thread that owns the store and runs every job in it. Jobs that arrive
 * while a commit is under way are grouped into the next transaction, so one fsync serves many
 * requests (group commit). Each job runs in a savepoint of its own: a job that fails is undone
 * alone, the others commit. Results go back to the network loop through a mailbox.
 */
#ifndef NURTURED_STORELOOP_H
#define NURTURED_STORELOOP_H

#include <stdint.h>

#include "mbox.h"
#include "store.h"

struct event_base;
struct storeloop;

struct store_job {
	struct mbox_item item; /* first: the job travels through mailboxes */
	/* Runs on the store thread inside the group's transaction; anything but STORE_OK undoes it.
	 */
	enum store_status (*run)(struct store *, struct store_job *);
	/*
	 * Optional: runs N consecutive jobs of the same kind at once (a backend with round trips
	 * does in one what N runs do in N), setting each one's status. STORE_OK: done; a store
	 * failure fails the group; anything else undoes them all and they run one by one.
	 */
	enum store_status (*run_many)(struct store *, struct store_job **jobs, size_t n);
	/* Runs on the network loop once the group committed (or failed: status says). */
	void (*done)(struct store_job *);
	enum store_status status;
	int wakes_engine; /* set by jobs that store events: the engine has new work */
	int background;	  /* delivery's own work: nobody waits for it, an engine pass goes on */
};

struct engine;

/*
 * Starts the thread; results are delivered on DONE_BASE's loop. The loop takes the store and
 * drives ENGINE (may be NULL) after every commit and at the next due time.
 */
struct storeloop *storeloop_start(struct store *s, struct engine *engine,
				  struct event_base *done_base);
/*
 * Like storeloop_start; after each commit in which the engine queued messages, QUEUED(ARG)
 * runs on the store thread (it must only hand a wake-up over).
 */
struct storeloop *storeloop_start_hooked(struct store *s, struct engine *engine,
					 struct event_base *done_base, void (*queued)(void *),
					 void *arg);
/*
 * Issue 21: like storeloop_start_hooked; before each transaction the store adopts the
 * partitions CLUSTER's lease loop holds (cluster_sync). CLUSTER stays the caller's.
 */
struct cluster;
struct storeloop *storeloop_start_cluster(struct store *s, struct engine *engine,
					  struct event_base *done_base, void (*queued)(void *),
					  void *arg, struct cluster *cluster);
/* A loop over a read-only store (statistics): no engine, and its commits are not counted. */
struct storeloop *storeloop_start_reader(struct store *s, struct event_base *done_base);
/*
 * Issue 21: a loop over a connection of its own for requests that store events (PostgreSQL).
 * After a commit that stored events, WAKE's engine consumes them in a transaction of its own:
 * the answer (202) says they are stored, and their effects follow, as on another node. The
 * next group waits until WAKE's engine has taken them, so that it keeps up.
 */
struct storeloop *storeloop_start_ingest(struct store *s, struct event_base *done_base,
					 struct storeloop *wake);
/* Any thread: queues JOB, which belongs to the store loop until its done callback. */
void storeloop_submit(struct storeloop *l, struct store_job *job);
/* Runs what is queued, stops the thread, closes the store, and runs the done callbacks left. */
void storeloop_stop(struct storeloop *l);
size_t storeloop_depth(struct storeloop *l);

#endif
