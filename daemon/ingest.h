/* Storing validated events: the one way, used by POST /v1/events and by `simulate`. */
#ifndef NURTURED_INGEST_H
#define NURTURED_INGEST_H

#include <stddef.h>
#include <stdint.h>

#include "store.h"
#include "validate.h"

/*
 * Stores N events in the caller's transaction: creates unknown customers, applies profiles,
 * marks DUPLICATE[i] for events already stored. A conflicting id stops it with STORE_CONFLICT
 * and its index in *CONFLICT; the caller undoes the transaction (or savepoint).
 */
enum store_status ingest_events(struct store *s, const struct nt_event *ev, size_t n,
				int64_t received_ms, unsigned char *duplicate, long *conflict);
/* The same, each event received at its own RECEIVED_MS[i] (several requests at once). */
enum store_status ingest_events_at(struct store *s, const struct nt_event *ev,
				   const int64_t *received_ms, size_t n, unsigned char *duplicate,
				   long *conflict);

#endif
