#include "duration.h"

#include <stdio.h>
#include <string.h>

/* One table for parsing and formatting, largest unit first so that formatting picks it. */
static const struct {
	const char *unit;
	int64_t ms;
} duration_units[] = {
    {"w", 7LL * 24 * 3600 * 1000},
    {"d", 24LL * 3600 * 1000},
    {"h", 3600LL * 1000},
    {"m", 60LL * 1000},
    {"s", 1000},
    {"ms", 1}, /* retry schedules and timeouts want less than a second */
};

/* Strict by design: campaigns are written by people, and "7 d" or "7days" should be refused. */
int
duration_parse(const char *s, int allow_negative, int64_t *ms)
{
	int neg = 0;
	int64_t n = 0;
	const char *p = s;

	if (s == NULL)
		return -1;
	if (*p == '-') {
		if (!allow_negative)
			return -1;
		neg = 1;
		p++;
	}
	if (*p < '0' || *p > '9')
		return -1;
	for (; *p >= '0' && *p <= '9'; p++) {
		n = n * 10 + (*p - '0');
		if (n > DURATION_MAX_MS)
			return -1; /* too large even in milliseconds: stop before overflowing */
	}
	for (size_t i = 0; i < sizeof(duration_units) / sizeof(duration_units[0]); i++)
		if (strcmp(duration_units[i].unit, p) == 0) {
			if (n > DURATION_MAX_MS / duration_units[i].ms)
				return -1;
			*ms = neg ? -n * duration_units[i].ms : n * duration_units[i].ms;
			return 0;
		}
	return -1;
}

/* Used in messages and by tools, so that a duration prints the way it was likely written. */
void
duration_format(int64_t ms, char *buf, size_t len)
{
	for (size_t i = 0; i < sizeof(duration_units) / sizeof(duration_units[0]); i++)
		if (ms != 0 && ms % duration_units[i].ms == 0) {
			snprintf(buf, len, "%lld%s", (long long)(ms / duration_units[i].ms),
				 duration_units[i].unit);
			return;
		}
	snprintf(buf, len, "0s");
}
