/*
 * The store's operations on click tracking, attribution and experiments: a table of its own,
 * reached through store_ops.measure, which every backend fills (store_sqlite_ops.measure). Each
 * returns rows as C structs (store_rows.h); the api_*.c files format them.
 */
#ifndef NURTURED_STORE_MEASURE_H
#define NURTURED_STORE_MEASURE_H

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

#include "store.h"

struct store_measure_ops {
	/* Click tracking and attribution (store_sqlite_measure.c, issue 19). */
	/* Keeps the targets LINKS ([{"url", "name"}], index = position) of outbox message ID. */
	enum store_status (*links_add)(struct store *, int64_t id, json_t *links);
	/* Link IDX of the message MESSAGE_ID: *URL (malloc'd), or STORE_NOTFOUND. */
	enum store_status (*link_target)(struct store *, const char *message_id, int idx,
					 char **url);
	/* Records a click on it: the link (owned strings), and whether it is its first click. */
	enum store_status (*link_click)(struct store *, const char *message_id, int idx,
					int64_t now_ms, struct link_click *out);
	/*
	 * Credits a conversion of campaign C->campaign_id to one message: the last of the
	 * campaign the customer clicked since C->since_ms, else the last sent since then (fills
	 * outbox_id, step_id, via); records it with its revenue and counts it.
	 */
	enum store_status (*conversion_credit)(struct store *, struct conversion *c);
	/* Adds N to the counter METRIC of (CAMPAIGN, STEP, VARIANT); step "*": the arm's total. */
	enum store_status (*measure_count)(struct store *, const char *campaign, const char *step,
					   const char *variant, const char *metric, double n);
	/* An open pixel fetched: the message's step counts an open (STORE_NOTFOUND: no such). */
	enum store_status (*open_record)(struct store *, const char *message_id);
	/* The customer left by a link: the last marketing mail they got counts it. */
	enum store_status (*unsubscribe_credit)(struct store *, int64_t customer_id);
	/*
	 * The counters of CAMPAIGN ("*": the totals across campaigns), with the inbound mail
	 * (metrics "bounce", "complaint", "reply", ... by step) matched to its messages.
	 */
	enum store_status (*measure_read)(struct store *, const char *campaign,
					  struct measure_row **rows, size_t *n);
	/* A journey's experiment arm, recorded at entry; get: STORE_NOTFOUND when it has none. */
	enum store_status (*assignment_add)(struct store *, const struct assignment *a);
	enum store_status (*assignment_get)(struct store *, int64_t journey_id,
					    struct assignment *out);
	/*
	 * The customer's latest unconverted assignment in CAMPAIGN made since SINCE_MS converts
	 * at NOW_MS: its arm counts the conversion and REVENUE; *ARM (malloc'd) or
	 * STORE_NOTFOUND.
	 */
	enum store_status (*experiment_convert)(struct store *, const char *campaign,
						int64_t customer_id, int64_t since_ms,
						int64_t now_ms, double revenue, char **arm);
};

extern const struct store_measure_ops store_sqlite_measure_ops;
extern const struct store_measure_ops store_pg_measure_ops;

static inline enum store_status
store_measure_count(struct store *s, const char *campaign, const char *step, const char *variant,
		    const char *metric, double n)
{
	return s->ops->measure->measure_count(s, campaign, step, variant, metric, n);
}
static inline enum store_status
store_open_record(struct store *s, const char *message_id)
{
	return s->ops->measure->open_record(s, message_id);
}
static inline enum store_status
store_unsubscribe_credit(struct store *s, int64_t customer_id)
{
	return s->ops->measure->unsubscribe_credit(s, customer_id);
}
static inline enum store_status
store_measure_read(struct store *s, const char *campaign, struct measure_row **rows, size_t *n)
{
	return s->ops->measure->measure_read(s, campaign, rows, n);
}
static inline enum store_status
store_assignment_add(struct store *s, const struct assignment *a)
{
	return s->ops->measure->assignment_add(s, a);
}
static inline enum store_status
store_assignment_get(struct store *s, int64_t journey_id, struct assignment *out)
{
	return s->ops->measure->assignment_get(s, journey_id, out);
}
static inline enum store_status
store_experiment_convert(struct store *s, const char *campaign, int64_t customer_id,
			 int64_t since_ms, int64_t now_ms, double revenue, char **arm)
{
	return s->ops->measure->experiment_convert(s, campaign, customer_id, since_ms, now_ms,
						   revenue, arm);
}
static inline enum store_status
store_conversion_credit(struct store *s, struct conversion *c)
{
	return s->ops->measure->conversion_credit(s, c);
}
static inline enum store_status
store_links_add(struct store *s, int64_t id, json_t *links)
{
	return s->ops->measure->links_add(s, id, links);
}
static inline enum store_status
store_link_target(struct store *s, const char *message_id, int idx, char **url)
{
	return s->ops->measure->link_target(s, message_id, idx, url);
}
static inline enum store_status
store_link_click(struct store *s, const char *message_id, int idx, int64_t now_ms,
		 struct link_click *out)
{
	return s->ops->measure->link_click(s, message_id, idx, now_ms, out);
}

#endif
