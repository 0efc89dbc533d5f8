#include "timefmt.h"

#include <glib.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

/*
 * GLib accepts ISO 8601 broadly (week dates, missing offsets taken as local time); RFC 3339 is
 * narrower, so the shape is checked first: date, 'T', time, and a 'Z' or numeric offset.
 */
int
timefmt_parse_rfc3339(const char *s, int64_t *ms)
{
	size_t n = strlen(s);
	GDateTime *dt;

	if (n < 20 || n > 40 || s[4] != '-' || s[7] != '-' || (s[10] != 'T' && s[10] != 't') ||
	    s[13] != ':' || s[16] != ':')
		return -1;
	for (int i = 0; i < 19; i++)
		if (i != 4 && i != 7 && i != 10 && i != 13 && i != 16 && !g_ascii_isdigit(s[i]))
			return -1;
	char last = s[n - 1];
	if (last != 'Z' && last != 'z' && !(n >= 25 && (s[n - 6] == '+' || s[n - 6] == '-')))
		return -1;
	dt = g_date_time_new_from_iso8601(s, NULL);
	if (dt == NULL)
		return -1;
	*ms = g_date_time_to_unix(dt) * 1000 + g_date_time_get_microsecond(dt) / 1000;
	g_date_time_unref(dt);
	return 0;
}

void
timefmt_format_utc(int64_t ms, char *buf, size_t len)
{
	time_t secs = (time_t)(ms >= 0 ? ms / 1000 : (ms - 999) / 1000);
	int frac = (int)(ms - (int64_t)secs * 1000);
	struct tm tm;
	char day[24];

	gmtime_r(&secs, &tm);
	strftime(day, sizeof(day), "%Y-%m-%dT%H:%M:%S", &tm);
	snprintf(buf, len, "%s.%03dZ", day, frac);
}

int
timefmt_valid_date(const char *s)
{
	int y = 2000, m, d;
	char tail;

	if (strlen(s) == 7 && sscanf(s, "--%2d-%2d%c", &m, &d, &tail) == 2)
		return g_date_valid_dmy((GDateDay)d, (GDateMonth)m,
					2000); /* leap year: Feb 29 ok */
	if (strlen(s) == 10 && s[4] == '-' && s[7] == '-' &&
	    sscanf(s, "%4d-%2d-%2d%c", &y, &m, &d, &tail) == 3)
		return y >= 1800 && g_date_valid_dmy((GDateDay)d, (GDateMonth)m, (GDateYear)y);
	return 0;
}

/* g_time_zone_new_identifier refuses names that the system tz database lacks. */
int
timefmt_valid_timezone(const char *name)
{
	GTimeZone *tz;
	if (name[0] == '\0' || name[0] == '/' || strstr(name, "..") != NULL || strlen(name) > 64)
		return 0;
	tz = g_time_zone_new_identifier(name);
	if (tz == NULL)
		return 0;
	g_time_zone_unref(tz);
	return 1;
}
