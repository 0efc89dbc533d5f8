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
	/* RFC 3339 allows lower-case 't' and 'z'; GLib wants them upper-case. */
	char norm[41];
	memcpy(norm, s, n + 1);
	norm[10] = 'T';
	if (last == 'z')
		norm[n - 1] = 'Z';
	dt = g_date_time_new_from_iso8601(norm, NULL);
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

	gmtime_r(&secs, &tm);
	/* Not strftime's %Y: RFC 3339 wants four digits for every year. */
	snprintf(buf, len, "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", tm.tm_year + 1900, tm.tm_mon + 1,
		 tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, frac);
}

/* Reads exactly N digits at S (sscanf's %d would take spaces and signs). */
static int
timefmt_digits(const char *s, int n)
{
	int v = 0;
	for (int i = 0; i < n; i++) {
		if (!g_ascii_isdigit(s[i]))
			return -1;
		v = v * 10 + (s[i] - '0');
	}
	return v;
}

int
timefmt_valid_date(const char *s)
{
	size_t n = strlen(s);
	int y, m, d;

	if (n == 7 && s[0] == '-' && s[1] == '-' && s[4] == '-') {
		m = timefmt_digits(s + 2, 2);
		d = timefmt_digits(s + 5, 2);
		/* A yearless date is checked against a leap year: Feb 29 is a birthday too. */
		return m > 0 && d > 0 && g_date_valid_dmy((GDateDay)d, (GDateMonth)m, 2000);
	}
	if (n == 10 && s[4] == '-' && s[7] == '-') {
		y = timefmt_digits(s, 4);
		m = timefmt_digits(s + 5, 2);
		d = timefmt_digits(s + 8, 2);
		return y >= 1800 && m > 0 && d > 0 &&
		       g_date_valid_dmy((GDateDay)d, (GDateMonth)m, (GDateYear)y);
	}
	return 0;
}

/* g_time_zone_new_identifier refuses names that the system tz database lacks. */
/*
 * Zones found valid, so that a batch of thousands of customers (an import) does not parse the
 * same tz file thousands of times: GLib builds each GTimeZone anew, a fifth of an import's
 * time. Bounded: past TIMEFMT_TZ_CACHE names, new ones are checked but not remembered.
 */
#define TIMEFMT_TZ_CACHE 1024
static GHashTable *timefmt_tz_valid;
G_LOCK_DEFINE_STATIC(timefmt_tz_valid);

int
timefmt_valid_timezone(const char *name)
{
	GTimeZone *tz;
	int known;

	/* Names only: GLib also takes offsets like "+02:00", which are not zones. */
	if (!g_ascii_isalpha(name[0]) || strstr(name, "..") != NULL || strlen(name) > 64)
		return 0;
	G_LOCK(timefmt_tz_valid);
	known = timefmt_tz_valid != NULL && g_hash_table_contains(timefmt_tz_valid, name);
	G_UNLOCK(timefmt_tz_valid);
	if (known)
		return 1;
	tz = g_time_zone_new_identifier(name);
	if (tz == NULL)
		return 0;
	g_time_zone_unref(tz);
	G_LOCK(timefmt_tz_valid);
	if (timefmt_tz_valid == NULL)
		timefmt_tz_valid = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, NULL);
	if (g_hash_table_size(timefmt_tz_valid) < TIMEFMT_TZ_CACHE)
		g_hash_table_add(timefmt_tz_valid, g_strdup(name));
	G_UNLOCK(timefmt_tz_valid);
	return 1;
}
