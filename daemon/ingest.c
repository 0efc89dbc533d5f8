#include "ingest.h"

enum store_status
ingest_events(struct store *s, const struct nt_event *evs, size_t n, int64_t received_ms,
	      unsigned char *duplicate, long *conflict)
{
	enum store_status rc;

	for (size_t i = 0; i < n; i++) {
		const struct nt_event *ev = &evs[i];
		int64_t cid, seq;
		rc = store_event_insert(s, ev->customer, ev, received_ms, &cid, &seq);
		if (rc == STORE_DUPLICATE) {
			duplicate[i] = 1;
			continue;
		}
		if (rc == STORE_CONFLICT) {
			*conflict = (long)i;
			return rc;
		}
		if (rc != STORE_OK)
			return rc;
		/* A duplicate's profile was applied the first time; only new events apply theirs.
		 */
		if (ev->profile != NULL &&
		    (rc = store_customer_upsert(s, ev->customer, ev->profile, received_ms, &cid)) !=
			STORE_OK)
			return rc;
	}
	return STORE_OK;
}
