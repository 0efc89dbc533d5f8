/*
 * MIME builds off the store thread. Building a message with GMime is about a quarter of what a
 * send step costs; the engine queues each build here after inserting its outbox row, worker
 * threads build while the store thread goes on with the next journeys, and before the
 * transaction commits the store thread drains the pool (building what no worker has started)
 * and writes every payload into that same transaction. A crash before the commit loses the
 * row and its payload together, never one of them.
 *
 * One producer: only the store thread submits and drains.
 */
#ifndef NURTURED_MIMEPOOL_H
#define NURTURED_MIMEPOOL_H

#include <stddef.h>
#include <stdint.h>

struct mime_mail;
struct mimepool;

/* THREADS workers (at least 1). */
struct mimepool *mimepool_new(int threads);
/* Waits for the workers; builds still queued are dropped. */
void mimepool_free(struct mimepool *p);
/* Queues the build of M for outbox row ID; takes M (mime_mail_dup'ed, mime_mail_free'd). */
void mimepool_submit(struct mimepool *p, int64_t id, struct mime_mail *m);
/* Builds queued since the last drain. */
size_t mimepool_pending(struct mimepool *p);

/* One build's result: PAYLOAD of LEN bytes, or ERR (mime_build's) when it was refused. */
typedef int (*mimepool_result_fn)(int64_t id, const char *payload, size_t len, const char *err,
				  void *arg);
/*
 * Waits for every queued build, then hands each result to FN in submission order (FN NULL:
 * drops them, after a rollback). Returns 0, or the first non-zero return of FN, after which
 * the remaining results are dropped.
 */
int mimepool_drain(struct mimepool *p, mimepool_result_fn fn, void *arg);

#endif
