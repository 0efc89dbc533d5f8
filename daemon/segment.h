/*
 * Segments: saved audiences (issue 17). A segment is a condition in the campaign language
 * over the customer ({"field": "customer.attributes.plan", "eq": "pro"}, counts of events),
 * kept in the store under an id and used by broadcasts and by campaigns' cron triggers. Its
 * size and a sample are computed on the reader, never on the store thread.
 */
#ifndef NURTURED_SEGMENT_H
#define NURTURED_SEGMENT_H

#include <jansson.h>
#include <stdint.h>

#include "store.h"

struct cond;

/* Compiles SPEC (a condition) named FIELD in messages; NULL with *ERR (malloc'd). */
struct cond *segment_compile(json_t *spec, const char *field, char **err);
/* Parses and compiles TEXT (a stored condition); NULL when it no longer compiles. */
struct cond *segment_compile_text(const char *text);

/* The condition of segment ID from S: *OUT NULL when there is none (or it no longer compiles). */
enum store_status segment_load(struct store *s, const char *id, struct cond **out);

/* Whether COND holds for CUSTOMER (its context, id CUSTOMER_ID) at NOW; counts read S. */
int segment_eval(struct store *s, const struct cond *cond, json_t *customer, int64_t customer_id,
		 int64_t now_ms);

/* What a scan found: how many match (and of them, subscribed to TOPIC), the first few ids. */
struct segment_scan {
	long matched;
	long subscribed; /* counted when a topic was given */
	json_t *sample;	 /* the external ids of the first SAMPLE matches */
};

/*
 * Scans every customer (on the reader): COND (NULL: all) over each; TOPIC (may be NULL)
 * counts the subscribed; at most SAMPLE ids kept; STOP_AT > 0 ends the scan at that many
 * matches (subscribed ones with a TOPIC): a "reaches anybody?" check.
 */
enum store_status segment_scan(struct store *s, const struct cond *cond, const char *topic,
			       int sample, long stop_at, int64_t now_ms, struct segment_scan *out);
void segment_scan_clear(struct segment_scan *r);

/* Whether CUSTOMER's consent for TOPIC is "subscribed" (and not "*": "unsubscribed"). */
int segment_subscribed(json_t *customer, const char *topic);

#endif
