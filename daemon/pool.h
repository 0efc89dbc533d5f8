/*
 * Worker pools for blocking work (SMTP sessions, Maildir fsyncs): jobs run on THREADS worker
 * threads and their completions run back on the event loop, handed over through an mbox.
 * This is the host service nt_host.pool_* of the plugin ABI.
 */
#ifndef NURTURED_POOL_H
#define NURTURED_POOL_H

struct event_base;
struct nt_pool;

/* A pool whose completions run on BASE's thread. */
struct nt_pool *pool_new(struct event_base *base, const char *name, int threads);
/* RUN(ARG) on a worker, then DONE(ARG) on the loop. -1 when the pool is being freed. */
int pool_submit(struct nt_pool *p, void (*run)(void *), void (*done)(void *), void *arg);
/* Waits for running jobs; queued jobs and undelivered completions are dropped uncalled. */
void pool_free(struct nt_pool *p);

#endif
