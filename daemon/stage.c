#include "stage.h"

#include <string.h>

#define DAY_MS (24LL * 3600 * 1000)

void
stage_rules_default(struct stage_rules *r)
{
	r->onboarding_ms = 30 * DAY_MS;
	r->growing_purchases = 2;
	r->mature_purchases = 4;
	r->declining_factor = 2.0;
	r->expected_interval_ms = 60 * DAY_MS;
	r->lapsed_ms = 180 * DAY_MS;
}

/* Keeps the earliest future instant: the next moment a threshold is crossed. */
static void
stage_next(int64_t *next, int64_t at, int64_t now)
{
	if (at > now && (*next < 0 || at < *next))
		*next = at;
}

const char *
stage_compute(const struct stage_rules *r, long count, int64_t first_ms, int64_t last_ms,
	      const char *prev, int64_t prev_since_ms, int64_t now_ms, int64_t *next_ms)
{
	*next_ms = -1;
	if (count <= 0)
		return "prospect";
	/* Their own rhythm when they have one; the expected one for a single purchase. */
	int64_t interval =
	    count >= 2 ? (last_ms - first_ms) / (count - 1) : r->expected_interval_ms;
	if (interval < DAY_MS)
		interval = DAY_MS;
	int64_t lapsed_at = last_ms + r->lapsed_ms;
	int64_t declining_at = last_ms + (int64_t)(r->declining_factor * (double)interval);

	stage_next(next_ms, lapsed_at, now_ms);
	if (now_ms >= lapsed_at)
		return "lapsed";
	stage_next(next_ms, declining_at, now_ms);
	if (now_ms >= declining_at)
		return "declining";
	/* Bought again after lapsing: reactivated for an onboarding period from that purchase. */
	int back = prev != NULL && ((strcmp(prev, "lapsed") == 0 && last_ms > prev_since_ms) ||
				    strcmp(prev, "reactivated") == 0);
	int64_t since = prev != NULL && strcmp(prev, "reactivated") == 0 ? prev_since_ms : last_ms;
	if (back && now_ms < since + r->onboarding_ms) {
		stage_next(next_ms, since + r->onboarding_ms, now_ms);
		return "reactivated";
	}
	if (count >= r->mature_purchases)
		return "mature";
	if (count >= r->growing_purchases)
		return "growing";
	return "onboarding";
}
