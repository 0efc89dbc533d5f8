/*
 * The background pruner (config "retention"): on the network loop, a timer that hands the
 * store loop one small chunk at a time (store_prune), never a long hold of the store thread.
 */
#ifndef NURTURED_RETENTION_H
#define NURTURED_RETENTION_H

struct daemon;
struct retention;

/* Starts the first pass RETENTION_FIRST_MS after the start; the config is read at each pass. */
struct retention *retention_start(struct daemon *d);
/* No new chunks; one in the store loop finishes (call before the store loop stops). */
void retention_stop(struct retention *r);
/* After the store loop stopped (its done callbacks ran). */
void retention_free(struct retention *r);

#endif
