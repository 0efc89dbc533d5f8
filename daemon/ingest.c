#include "ingest.h"

#include <stdlib.h>

#include "util.h"

/*
 * The events first, all at once (one round trip on PostgreSQL), then the new ones' profiles in
 * order: an insert does not read a profile, so the outcome is the one of taking them in turn.
 */
enum store_status
ingest_events_at(struct store *s, const struct nt_event *evs, const int64_t *received_ms, size_t n,
		 unsigned char *duplicate, long *conflict)
{
	int64_t *cids = xcalloc(n ? n : 1, sizeof(*cids)),
		*seqs = xcalloc(n ? n : 1, sizeof(*seqs));
	enum store_status *st = xcalloc(n ? n : 1, sizeof(*st));
	enum store_status rc = store_events_insert(s, evs, n, received_ms, cids, seqs, st);

	for (size_t i = 0; i < n && rc == STORE_OK; i++) {
		const struct nt_event *ev = &evs[i];
		if (st[i] == STORE_DUPLICATE) {
			duplicate[i] = 1;
			continue;
		}
		if (st[i] == STORE_CONFLICT) {
			*conflict = (long)i;
			rc = STORE_CONFLICT;
			break;
		}
		/* A duplicate's profile was applied the first time; only new events apply theirs.
		 */
		if (ev->profile != NULL)
			rc = store_customer_upsert(s, ev->customer, ev->profile, received_ms[i],
						   &cids[i]);
	}
	free(cids);
	free(seqs);
	free(st);
	return rc;
}

enum store_status
ingest_events(struct store *s, const struct nt_event *evs, size_t n, int64_t received_ms,
	      unsigned char *duplicate, long *conflict)
{
	int64_t *at = xcalloc(n ? n : 1, sizeof(*at));
	enum store_status rc;

	for (size_t i = 0; i < n; i++)
		at[i] = received_ms;
	rc = ingest_events_at(s, evs, at, n, duplicate, conflict);
	free(at);
	return rc;
}
