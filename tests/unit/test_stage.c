/* The lifecycle stage rules, on their own: every stage and the next-check times. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "stage.h"
#include "tap.h"

#define D (24LL * 3600 * 1000)

static struct stage_rules r;

/* Checks the stage and the next time it would change (-1: never). */
static void
expect(const char *name, long count, int64_t first, int64_t last, const char *prev, int64_t since,
       int64_t now, const char *want, int64_t want_next)
{
	int64_t next;
	const char *got = stage_compute(&r, count, first, last, prev, since, now, &next);
	if (!test_ok(strcmp(got, want) == 0 && next == want_next, "%s", name))
		printf("# got %s (next %lld), want %s (next %lld)\n", got, (long long)next, want,
		       (long long)want_next);
}

int
main(void)
{
	stage_rules_default(&r);
	expect("no purchase: prospect", 0, -1, -1, NULL, -1, 100 * D, "prospect", -1);
	expect("one purchase: onboarding, declining after 2 x 60 days", 1, 0, 0, "prospect", 0,
	       10 * D, "onboarding", 120 * D);
	expect("one purchase, overdue: declining, lapsed at 180 days", 1, 0, 0, "onboarding", 0,
	       121 * D, "declining", 180 * D);
	expect("lapsed after 180 days without a purchase", 3, 0, 20 * D, "declining", 0, 200 * D,
	       "lapsed", -1);
	expect("two purchases: growing", 2, 0, 30 * D, "onboarding", 0, 31 * D, "growing", 90 * D);
	expect("four purchases: mature", 4, 0, 90 * D, "growing", 0, 91 * D, "mature", 150 * D);
	expect("their own rhythm: 4 buys 10 days apart, declining 20 days after the last", 4, 0,
	       30 * D, "mature", 0, 51 * D, "declining", 210 * D);
	expect("bought after lapsing: reactivated for 30 days", 5, 0, 400 * D, "lapsed", 300 * D,
	       401 * D, "reactivated", 430 * D);
	expect("after the reactivation period: back to the count's stage", 5, 0, 400 * D,
	       "reactivated", 400 * D, 431 * D, "mature", 580 * D); /* lapses before it declines */
	expect("a lapsed customer stays lapsed without a new purchase", 5, 0, 100 * D, "lapsed",
	       300 * D, 310 * D, "lapsed", -1);
	expect("purchases on one day count as a one-day rhythm, not zero", 3, 0, 0, "onboarding", 0,
	       1 * D, "growing", 2 * D);
	printf("1..%d\n", test_count);
	return test_failures ? 1 : 0;
}
