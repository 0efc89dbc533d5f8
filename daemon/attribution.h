/*
 * Attribution (issue 19): a campaign's goal reached is credited to one of its messages, the
 * last one the customer clicked within the goal's window, else the last one sent in it, with
 * the revenue the goal's "value" names in the event. Each campaign credits an event once (one
 * goal per journey, one journey per event and campaign); several campaigns may credit the same
 * event, and the total across campaigns counts each event once (the campaign "*" in the
 * counters).
 */
#ifndef NURTURED_ATTRIBUTION_H
#define NURTURED_ATTRIBUTION_H

#include <stdint.h>

#include "store.h"

struct campaign;

/* The revenue of EV for C: the number at C's goal value path, 0 when none or not a number. */
double attribution_revenue(const struct campaign *c, const struct store_event *ev);

/*
 * Credits the goal EV reached in journey JOURNEY_ID (VARIANT: its experiment arm, or NULL) at
 * NOW_MS, in the caller's transaction.
 */
enum store_status attribution_credit(struct store *s, const struct campaign *c,
				     const struct store_event *ev, int64_t journey_id,
				     const char *variant, int64_t now_ms);

#endif
