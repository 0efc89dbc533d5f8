/*
 * Durations as campaigns write them: "<integer><unit>" with the units s m h d w ("90d", "36h",
 * "15m"), parsed to milliseconds. Shared by campaigns, conditions and the command line.
 */
#ifndef NURTURED_DURATION_H
#define NURTURED_DURATION_H

#include <stddef.h>
#include <stdint.h>

/* The longest duration accepted: 100 years of 365 days, so that now + duration never overflows. */
#define DURATION_MAX_MS (100LL * 365 * 24 * 3600 * 1000)

/*
 * Parses S into *MS. A leading '-' is accepted only with ALLOW_NEGATIVE. Returns 0, or -1 (and
 * leaves *MS alone) for anything else: no digits, no or an unknown unit, blanks, more than
 * DURATION_MAX_MS.
 */
int duration_parse(const char *s, int allow_negative, int64_t *ms);
/* Formats MS back into the largest unit that divides it exactly ("90d", "-1d", "36h"). */
void duration_format(int64_t ms, char *buf, size_t len);

#endif
