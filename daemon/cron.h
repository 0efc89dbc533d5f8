/* Cron expressions (five fields, Vixie/cronie dialect) evaluated in an IANA time zone. */
#ifndef NURTURED_CRON_H
#define NURTURED_CRON_H

#include <glib.h>
#include <stddef.h>
#include <stdint.h>

struct cron_expr;

/*
 * Parses EXPR ("minute hour day-of-month month day-of-week", or a macro such as "@daily").
 * On error returns NULL and, when ERR is not NULL, writes a message naming the field and the
 * 1-based column into ERR (ERRLEN bytes), e.g. "minute: 60 out of range 0-59 (column 1)".
 */
struct cron_expr *cron_parse(const char *expr, char *err, size_t errlen);
void cron_free(struct cron_expr *c);

/*
 * The first run strictly after AFTER (Unix seconds), with the fields read as wall-clock time in
 * TZ and daylight-saving changes handled as cronie does (see cron.c and docs/cron.md).
 * Returns Unix seconds, or -1 when there is no run within CRON_HORIZON_YEARS (e.g. "0 0 30 2 *").
 * Instants before 1970 work too (only the value -1 is reserved); AFTER beyond +-10^11 s gives -1.
 */
int64_t cron_next(const struct cron_expr *c, GTimeZone *tz, int64_t after);

/* How far ahead cron_next looks: 8 years, the longest gap between two February 29ths. */
#define CRON_HORIZON_YEARS 8

#endif
