/* RFC 3339 instants, parsed and printed through GLib rather than by hand. */
#ifndef NURTURED_TIMEFMT_H
#define NURTURED_TIMEFMT_H

#include <stddef.h>
#include <stdint.h>

/* Parses an RFC 3339 date-time with an explicit offset; returns 0 and ms since the epoch. */
int timefmt_parse_rfc3339(const char *s, int64_t *ms);
/* Formats MS as "YYYY-MM-DDTHH:MM:SS.mmmZ" into BUF (at least 32 bytes). */
void timefmt_format_utc(int64_t ms, char *buf, size_t len);
/* True for an existing calendar date "YYYY-MM-DD" or a yearless "--MM-DD". */
int timefmt_valid_date(const char *s);
/* True when NAME is a time zone in the system tz database. */
int timefmt_valid_timezone(const char *name);

#endif
