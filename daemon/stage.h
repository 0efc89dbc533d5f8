/*
 * Lifecycle stages from purchase history, the customer life cycle of relationship marketing:
 * prospect, onboarding, growing, mature, declining, lapsed, reactivated. A pure function of
 * the history and the rules, so it is tested on its own; the engine stores and acts on it.
 */
#ifndef NURTURED_STAGE_H
#define NURTURED_STAGE_H

#include <stdint.h>

struct stage_rules {
	int64_t onboarding_ms;	      /* a first purchase this recent: onboarding */
	int growing_purchases;	      /* repeat buyers from this many purchases */
	int mature_purchases;	      /* loyal, regular buyers from this many */
	double declining_factor;      /* overdue: last + factor x their usual interval */
	int64_t expected_interval_ms; /* the usual interval of a one-time buyer */
	int64_t lapsed_ms;	      /* inactive this long: lapsed */
};

/* The documented defaults: 30 days, 2, 4, 2.0, 60 days, 180 days. */
void stage_rules_default(struct stage_rules *r);

/*
 * The stage NOW for COUNT purchases between FIRST_MS and LAST_MS, given the PREV stage held
 * since PREV_SINCE_MS. *NEXT_MS is when the stage would change next without a new purchase
 * (-1: never).
 */
const char *stage_compute(const struct stage_rules *r, long count, int64_t first_ms,
			  int64_t last_ms, const char *prev, int64_t prev_since_ms, int64_t now_ms,
			  int64_t *next_ms);

#endif
