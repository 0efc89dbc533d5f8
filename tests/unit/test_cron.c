/*
 * Unit tests for daemon/cron.c, printed as TAP.  Expected instants are written as RFC 3339
 * strings with explicit offsets so that each daylight-saving case reads as the wall clock shows.
 */
#include <glib.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cron.h"
#include "tap.h"

/* RFC 3339 to Unix seconds; aborts on a typo in the test itself. */
static int64_t
test_instant(const char *iso)
{
	GDateTime *dt = g_date_time_new_from_iso8601(iso, NULL);
	int64_t t;

	if (dt == NULL) {
		fprintf(stderr, "bad test instant %s\n", iso);
		abort();
	}
	t = g_date_time_to_unix(dt);
	g_date_time_unref(dt);
	return t;
}

/* Unix seconds as wall-clock time in TZ, for diagnostics. */
static void
test_format(GTimeZone *tz, int64_t t, char *buf, size_t len)
{
	GDateTime *utc, *local;
	gchar *s;

	if (t == -1) {
		snprintf(buf, len, "-1");
		return;
	}
	utc = g_date_time_new_from_unix_utc(t);
	local = g_date_time_to_timezone(utc, tz);
	s = g_date_time_format(local, "%Y-%m-%dT%H:%M:%S%:z");
	snprintf(buf, len, "%s", s);
	g_free(s);
	g_date_time_unref(local);
	g_date_time_unref(utc);
}

/*
 * Checks that the runs of EXPR in ZONE after FROM are exactly the NULL-terminated list of
 * RFC 3339 instants that follows ("-1" for "no further run").
 */
static void
test_runs(const char *name, const char *expr, const char *zone, const char *from, ...)
{
	GTimeZone *tz = g_time_zone_new_identifier(zone);
	char err[200] = "";
	struct cron_expr *c = cron_parse(expr, err, sizeof(err));
	int64_t t = test_instant(from);
	const char *want;
	bool pass = tz != NULL && c != NULL;
	char diag[2048] = "";
	size_t used = 0;
	va_list ap;

	va_start(ap, from);
	while (pass && (want = va_arg(ap, const char *)) != NULL) {
		int64_t expect = strcmp(want, "-1") == 0 ? -1 : test_instant(want);
		char got_s[64], want_s[64];

		t = cron_next(c, tz, t);
		test_format(tz, t, got_s, sizeof(got_s));
		test_format(tz, expect, want_s, sizeof(want_s));
		used += (size_t)snprintf(diag + used, sizeof(diag) - used, "#   want %s got %s%s\n",
					 want_s, got_s, t == expect ? "" : "   <--");
		if (used >= sizeof(diag))
			used = sizeof(diag) - 1;
		if (t != expect)
			pass = false;
		if (t == -1)
			break;
	}
	va_end(ap);
	if (!test_ok(pass, "%s: \"%s\" in %s", name, expr, zone)) {
		if (tz == NULL)
			printf("#   unknown zone %s\n", zone);
		if (c == NULL)
			printf("#   parse error: %s\n", err);
		printf("#   from %s\n%s", from, diag);
	}
	if (c != NULL)
		cron_free(c);
	if (tz != NULL)
		g_time_zone_unref(tz);
}

/* Checks that EXPR is rejected with a message containing WANT. */
static void
test_error(const char *expr, const char *want)
{
	char err[200] = "";
	struct cron_expr *c = cron_parse(expr, err, sizeof(err));

	if (!test_ok(c == NULL && strstr(err, want) != NULL, "rejects \"%s\"", expr)) {
		printf("#   want message containing: %s\n", want);
		printf("#   got: %s\n", c == NULL ? err : "(accepted)");
	}
	if (c != NULL)
		cron_free(c);
}

/* Checks that two spellings select the same runs over a stretch of time. */
static void
test_same(const char *a, const char *b, const char *zone, const char *from, int count)
{
	GTimeZone *tz = g_time_zone_new_identifier(zone);
	struct cron_expr *ca = cron_parse(a, NULL, 0), *cb = cron_parse(b, NULL, 0);
	int64_t ta = test_instant(from), tb = ta;
	bool pass = ca != NULL && cb != NULL;

	for (int i = 0; pass && i < count; i++) {
		ta = cron_next(ca, tz, ta);
		tb = cron_next(cb, tz, tb);
		if (ta != tb || ta == -1)
			pass = false;
	}
	if (!test_ok(pass, "\"%s\" == \"%s\"", a, b))
		printf("#   first difference: %" PRId64 " vs %" PRId64 "\n", ta, tb);
	if (ca != NULL)
		cron_free(ca);
	if (cb != NULL)
		cron_free(cb);
	g_time_zone_unref(tz);
}

/* Every parse error names its field and column, so users can fix long crontab-style lines. */
static void
test_parse_errors(void)
{
	test_error("60 * * * *", "minute: 60 out of range 0-59 (column 1)");
	test_error("0 24 * * *", "hour: 24 out of range 0-23 (column 3)");
	test_error("0 0 0 * *", "day-of-month: 0 out of range 1-31 (column 5)");
	test_error("0 0 32 * *", "day-of-month: 32 out of range 1-31 (column 5)");
	test_error("0 0 * 13 *", "month: 13 out of range 1-12 (column 7)");
	test_error("0 0 * * 8", "day-of-week: 8 out of range 0-7 (column 9)");
	test_error("0 0 1,99999999999 * *",
		   "day-of-month: 99999999999 out of range 1-31 (column 7)");
	test_error("0 0 * FOO *", "month: unknown name \"FOO\" (column 7)");
	test_error("0 0 * * MON-FOO", "day-of-week: unknown name \"FOO\" (column 13)");
	test_error("0 0 * * MONDAY", "day-of-week: unknown name \"MONDAY\" (column 9)");
	test_error("0 0 * JAN-DEC SU", "day-of-week: unknown name \"SU\"");
	test_error("JAN 0 * * *", "minute: names such as \"JAN\" are not allowed here (column 1)");
	test_error("0 0 MON * *", "day-of-month: names such as \"MON\" are not allowed here");
	test_error("*/0 * * * *", "minute: step 0 out of range 1-60 (column 3)");
	test_error("*/61 * * * *", "minute: step 61 out of range 1-60 (column 3)");
	test_error("0 0 * * */9", "day-of-week: step 9 out of range 1-8 (column 11)");
	test_error("5/ * * * *", "minute: step missing after '/' (column 3)");
	test_error("30-10 * * * *", "minute: range 30-10 is backwards (column 1)");
	test_error("0 0 * DEC-JAN *", "month: range 12-1 is backwards (column 7)");
	test_error("1,,2 * * * *", "minute: empty list element (column 3)");
	test_error("1, * * * *", "minute: empty list element (column 3)");
	test_error("*5 * * * *", "minute: unexpected character '5' (column 2)");
	test_error("-5 * * * *", "minute: unexpected character '-' (column 1)");
	test_error("1-/2 * * * *", "minute: unexpected character '/' (column 3)");
	test_error("0 1-2-3 * * *", "hour: unexpected character '-' (column 6)");
	test_error("0 0 L * *", "day-of-month: names such as \"L\" are not allowed here");
	test_error("0 0 * * 1#2", "day-of-week: unexpected character '#' (column 10)");
	test_error("* * * *", "day-of-week: field missing (expected 5 fields) (column 8)");
	test_error("*", "hour: field missing");
	test_error("* * * * * *", "expression: unexpected text after the 5 fields (column 11)");
	test_error("", "expression: empty (column 1)");
	test_error("   ", "expression: empty (column 4)");
	test_error("@reboot", "expression: unknown macro \"@reboot\" (column 1)");
	test_error("@every 5m", "expression: unknown macro \"@every\" (column 1)");
	test_error("@daily 0", "expression: unexpected text after @daily (column 8)");

	struct cron_expr *c = cron_parse("60 * * * *", NULL, 0);
	test_ok(c == NULL, "a rejected expression without an error buffer returns NULL");
	char tiny[8] = "xxxxxxx";
	c = cron_parse("60 * * * *", tiny, sizeof(tiny));
	test_ok(c == NULL && strlen(tiny) == sizeof(tiny) - 1, "error message is truncated to fit");
	c = cron_parse(" \t0  0\t* *   * ", NULL, 0);
	test_ok(c != NULL, "blanks and tabs around fields are accepted");
	if (c != NULL)
		cron_free(c);
}

/* Lists, ranges, steps, names, Sunday as 0 or 7 and macros select the expected minutes. */
static void
test_syntax(void)
{
	test_runs("single values", "5 4 * * *", "UTC", "2024-01-01T00:00:00Z",
		  "2024-01-01T04:05:00Z", "2024-01-02T04:05:00Z", NULL);
	test_runs("strictly after", "0 12 * * *", "UTC", "2024-01-01T12:00:00Z",
		  "2024-01-02T12:00:00Z", NULL);
	test_runs("seconds are ignored", "* * * * *", "UTC", "2024-01-01T12:00:59Z",
		  "2024-01-01T12:01:00Z", "2024-01-01T12:02:00Z", NULL);
	test_runs("lists", "0,20,40 9,17 * * *", "UTC", "2024-01-01T10:00:00Z",
		  "2024-01-01T17:00:00Z", "2024-01-01T17:20:00Z", "2024-01-01T17:40:00Z",
		  "2024-01-02T09:00:00Z", NULL);
	test_runs("step over star", "*/15 * * * *", "UTC", "2024-01-01T10:07:00Z",
		  "2024-01-01T10:15:00Z", "2024-01-01T10:30:00Z", "2024-01-01T10:45:00Z",
		  "2024-01-01T11:00:00Z", NULL);
	test_runs("step over range", "1-30/10 * * * *", "UTC", "2024-01-01T10:00:00Z",
		  "2024-01-01T10:01:00Z", "2024-01-01T10:11:00Z", "2024-01-01T10:21:00Z",
		  "2024-01-01T11:01:00Z", NULL);
	test_runs("start/step", "10/20 * * * *", "UTC", "2024-01-01T10:00:00Z",
		  "2024-01-01T10:10:00Z", "2024-01-01T10:30:00Z", "2024-01-01T10:50:00Z",
		  "2024-01-01T11:10:00Z", NULL);
	test_runs("hour step", "0 */6 * * *", "UTC", "2024-01-01T01:00:00Z", "2024-01-01T06:00:00Z",
		  "2024-01-01T12:00:00Z", "2024-01-01T18:00:00Z", "2024-01-02T00:00:00Z", NULL);
	test_runs("month names, any case", "0 0 1 MAR-may,oct *", "UTC", "2024-01-01T00:00:00Z",
		  "2024-03-01T00:00:00Z", "2024-04-01T00:00:00Z", "2024-05-01T00:00:00Z",
		  "2024-10-01T00:00:00Z", "2025-03-01T00:00:00Z", NULL);
	test_runs("weekday names", "0 12 * jan,JUL Mon-fri", "UTC", "2024-06-28T00:00:00Z",
		  "2024-07-01T12:00:00Z", "2024-07-02T12:00:00Z", NULL);
	test_runs("month step", "0 0 1 */4 *", "UTC", "2024-02-01T00:00:00Z",
		  "2024-05-01T00:00:00Z", "2024-09-01T00:00:00Z", "2025-01-01T00:00:00Z", NULL);
	test_same("0 0 * * 0", "0 0 * * 7", "UTC", "2024-01-01T00:00:00Z", 20);
	test_same("0 0 * * SUN", "0 0 * * 7", "UTC", "2024-01-01T00:00:00Z", 20);
	test_same("0 0 * * 5-7", "0 0 * * 0,5,6", "UTC", "2024-01-01T00:00:00Z", 30);
	test_same("0 0 * * FRI-SUN", "0 0 * * 5-7", "UTC", "2024-01-01T00:00:00Z", 30);
	test_same("0 0 * * 6-0", "0 0 * * sat,sun", "UTC", "2024-01-01T00:00:00Z", 30);
	test_same("0 0 * * 0-7", "0 0 * * *", "UTC", "2024-01-01T00:00:00Z", 30);
	test_runs("Sunday as 7", "0 0 * * 7", "UTC", "2024-01-01T00:00:00Z", "2024-01-07T00:00:00Z",
		  "2024-01-14T00:00:00Z", NULL);
	test_runs("Sunday as 0", "0 0 * * 0", "UTC", "2024-01-01T00:00:00Z", "2024-01-07T00:00:00Z",
		  NULL);
	test_same("@yearly", "0 0 1 1 *", "UTC", "2020-06-01T00:00:00Z", 5);
	test_same("@annually", "0 0 1 1 *", "UTC", "2020-06-01T00:00:00Z", 5);
	test_same("@MONTHLY", "0 0 1 * *", "UTC", "2020-06-01T00:00:00Z", 14);
	test_same("@weekly", "0 0 * * 0", "UTC", "2020-06-01T00:00:00Z", 10);
	test_same("@daily", "0 0 * * *", "UTC", "2020-06-01T00:00:00Z", 10);
	test_same(" @midnight ", "0 0 * * *", "UTC", "2020-06-01T00:00:00Z", 10);
	test_same("@Hourly", "0 * * * *", "UTC", "2020-06-01T00:00:00Z", 30);
}

/* The Vixie day rule, month lengths, leap years and expressions that can never run. */
static void
test_days(void)
{
	/* January 2024 starts on a Monday. */
	test_runs("day-of-month OR day-of-week", "0 0 13 * FRI", "UTC", "2024-01-01T00:00:00Z",
		  "2024-01-05T00:00:00Z", "2024-01-12T00:00:00Z", "2024-01-13T00:00:00Z",
		  "2024-01-19T00:00:00Z", "2024-01-26T00:00:00Z", "2024-02-02T00:00:00Z", NULL);
	test_runs("OR with lists", "0 0 1,15 * 3", "UTC", "2024-01-01T00:00:00Z",
		  "2024-01-03T00:00:00Z", "2024-01-10T00:00:00Z", "2024-01-15T00:00:00Z",
		  "2024-01-17T00:00:00Z", NULL);
	test_runs("day-of-week alone", "0 0 * * MON", "UTC", "2024-01-01T00:00:00Z",
		  "2024-01-08T00:00:00Z", "2024-01-15T00:00:00Z", NULL);
	test_runs("day-of-month alone", "0 0 10 * *", "UTC", "2024-01-01T00:00:00Z",
		  "2024-01-10T00:00:00Z", "2024-02-10T00:00:00Z", NULL);
	/* cronie decides on the text: a starred day-of-month with a step still means AND. */
	test_runs("starred step day-of-month ANDs", "0 0 */2 * MON", "UTC", "2024-01-01T00:00:00Z",
		  "2024-01-15T00:00:00Z", "2024-01-29T00:00:00Z", "2024-02-05T00:00:00Z",
		  "2024-02-19T00:00:00Z", NULL);
	/* "*" + "/5" in day-of-week is {0, 5}: the 13th when it is a Friday or a Sunday. */
	test_runs("starred step day-of-week ANDs", "0 0 13 * */5", "UTC", "2024-01-01T00:00:00Z",
		  "2024-09-13T00:00:00Z", "2024-10-13T00:00:00Z", "2024-12-13T00:00:00Z",
		  "2025-04-13T00:00:00Z", NULL);
	test_runs("unstarred full range ORs", "0 0 1-31 * MON", "UTC", "2024-01-01T00:00:00Z",
		  "2024-01-02T00:00:00Z", "2024-01-03T00:00:00Z", NULL);
	test_runs("31st only in long months", "0 0 31 * *", "UTC", "2024-01-31T00:00:00Z",
		  "2024-03-31T00:00:00Z", "2024-05-31T00:00:00Z", "2024-07-31T00:00:00Z", NULL);
	test_runs("Feb 29 in leap years", "0 0 29 2 *", "UTC", "2023-01-01T00:00:00Z",
		  "2024-02-29T00:00:00Z", "2028-02-29T00:00:00Z", "2032-02-29T00:00:00Z", NULL);
	test_runs("Feb 29 across 2100 (not leap)", "0 0 29 2 *", "UTC", "2096-03-01T00:00:00Z",
		  "2104-02-29T00:00:00Z", NULL);
	test_runs("Feb 29 in 2000 (leap)", "0 0 29 2 *", "UTC", "1999-01-01T00:00:00Z",
		  "2000-02-29T00:00:00Z", "2004-02-29T00:00:00Z", NULL);
	test_runs("last days of February", "0 0 28-31 2 *", "UTC", "2023-02-27T00:00:00Z",
		  "2023-02-28T00:00:00Z", "2024-02-28T00:00:00Z", "2024-02-29T00:00:00Z",
		  "2025-02-28T00:00:00Z", NULL);
	test_runs("impossible: Feb 30", "0 0 30 2 *", "UTC", "2024-01-01T00:00:00Z", "-1", NULL);
	test_runs("impossible: 31st of short months", "0 0 31 4,6,9,11 *", "UTC",
		  "2024-01-01T00:00:00Z", "-1", NULL);
	test_runs("Feb 30 OR Monday is possible", "0 0 30 2 MON", "UTC", "2024-01-01T00:00:00Z",
		  "2024-02-05T00:00:00Z", NULL);
	/* Feb 29 on a Sunday: 2004, 2032, 2060; the last is beyond the horizon from 2033. */
	test_runs("Sunday Feb 29", "0 0 29 2 */7", "UTC", "2024-03-01T00:00:00Z",
		  "2032-02-29T00:00:00Z", "-1", NULL);
	test_runs("1970 and earlier", "0 0 1 1 *", "UTC", "1969-06-01T00:00:00Z",
		  "1970-01-01T00:00:00Z", "1971-01-01T00:00:00Z", NULL);
	test_runs("far future", "0 0 1 1 *", "UTC", "2399-06-01T00:00:00Z", "2400-01-01T00:00:00Z",
		  NULL);

	GTimeZone *utc = g_time_zone_new_utc();
	struct cron_expr *every = cron_parse("* * * * *", NULL, 0);
	test_ok(cron_next(every, utc, INT64_MAX) == -1 && cron_next(every, utc, INT64_MIN) == -1,
		"absurd instants give -1 instead of overflowing");
	cron_free(every);
	g_time_zone_unref(utc);
}

/* Fields are read as wall-clock time in the zone, whatever its offset. */
static void
test_zones(void)
{
	test_runs("half-hour offset", "0 9 * * *", "Asia/Kolkata", "2024-01-01T00:00:00Z",
		  "2024-01-01T09:00:00+05:30", "2024-01-02T09:00:00+05:30", NULL);
	test_runs("quarter-hour offset", "0 0 * * *", "Pacific/Chatham", "2024-07-01T00:00:00Z",
		  "2024-07-02T00:00:00+12:45", NULL);
	test_runs("local midnight crosses the UTC date", "@daily", "America/Los_Angeles",
		  "2024-01-01T00:00:00Z", "2024-01-01T00:00:00-08:00", "2024-01-02T00:00:00-08:00",
		  NULL);
	test_runs("month boundary in local time", "0 0 1 * *", "Pacific/Auckland",
		  "2024-01-31T10:00:00Z", "2024-02-01T00:00:00+13:00", "2024-03-01T00:00:00+13:00",
		  "2024-04-01T00:00:00+13:00", "2024-05-01T00:00:00+12:00", NULL);
}

/* Spring forward: 02:00-02:59 does not exist (Europe/Berlin 2024-03-31, New York 2024-03-10). */
static void
test_dst_gap(void)
{
	const char *b = "Europe/Berlin", *ny = "America/New_York";

	test_runs("gap, fixed job runs at the jump", "30 2 * * *", b, "2024-03-30T12:00:00+01:00",
		  "2024-03-31T03:00:00+02:00", "2024-04-01T02:30:00+02:00", NULL);
	test_runs("gap, fixed job with several skipped minutes runs once", "0,15,30,45 2 * * *", b,
		  "2024-03-30T12:00:00+01:00", "2024-03-31T03:00:00+02:00",
		  "2024-04-01T02:00:00+02:00", "2024-04-01T02:15:00+02:00", NULL);
	test_runs("gap, fixed job at the jump minute runs once", "0 3 * * *", b,
		  "2024-03-30T12:00:00+01:00", "2024-03-31T03:00:00+02:00",
		  "2024-04-01T03:00:00+02:00", NULL);
	test_runs("gap, fixed ranges count as fixed", "0-59 2 * * *", b,
		  "2024-03-31T00:00:00+01:00", "2024-03-31T03:00:00+02:00",
		  "2024-04-01T02:00:00+02:00", "2024-04-01T02:01:00+02:00", NULL);
	test_runs("gap, wildcard-minute job is skipped", "*/15 2 * * *", b,
		  "2024-03-30T12:00:00+01:00", "2024-04-01T02:00:00+02:00", NULL);
	test_runs("gap, wildcard-hour job follows the clock", "30 * * * *", b,
		  "2024-03-31T01:00:00+01:00", "2024-03-31T01:30:00+01:00",
		  "2024-03-31T03:30:00+02:00", NULL);
	test_runs("gap, every half hour", "*/30 * * * *", b, "2024-03-31T01:00:00+01:00",
		  "2024-03-31T01:30:00+01:00", "2024-03-31T03:00:00+02:00",
		  "2024-03-31T03:30:00+02:00", NULL);
	test_runs("gap, from just before the jump", "30 2 * * *", b, "2024-03-31T01:59:59+01:00",
		  "2024-03-31T03:00:00+02:00", NULL);
	test_runs("gap, from the jump itself", "30 2 * * *", b, "2024-03-31T03:00:00+02:00",
		  "2024-04-01T02:30:00+02:00", NULL);
	test_runs("gap, daily job on either side", "0 12 * * *", b, "2024-03-30T13:00:00+01:00",
		  "2024-03-31T12:00:00+02:00", "2024-04-01T12:00:00+02:00", NULL);
	test_runs("gap, fixed job runs at the jump", "30 2 * * *", ny, "2024-03-09T12:00:00-05:00",
		  "2024-03-10T03:00:00-04:00", "2024-03-11T02:30:00-04:00", NULL);
	test_runs("gap, wildcard-minute job is skipped", "*/10 2 * * *", ny,
		  "2024-03-09T12:00:00-05:00", "2024-03-11T02:00:00-04:00", NULL);
	test_runs("gap, hourly", "@hourly", ny, "2024-03-10T00:30:00-05:00",
		  "2024-03-10T01:00:00-05:00", "2024-03-10T03:00:00-04:00",
		  "2024-03-10T04:00:00-04:00", NULL);
	/* Lord Howe Island moves its clocks by 30 minutes: 02:00-02:29 does not exist. */
	test_runs("30-minute gap, fixed job", "15 2 * * *", "Australia/Lord_Howe",
		  "2024-10-05T12:00:00+10:30", "2024-10-06T02:30:00+11:00",
		  "2024-10-07T02:15:00+11:00", NULL);
	test_runs("30-minute gap, wildcard job", "*/15 2 * * *", "Australia/Lord_Howe",
		  "2024-10-05T12:00:00+10:30", "2024-10-06T02:30:00+11:00",
		  "2024-10-06T02:45:00+11:00", "2024-10-07T02:00:00+11:00", NULL);
	/* Casey went from +08 to +11 at 02:00 on 2009-10-18: a 3-hour jump is past the limit. */
	test_runs("3-hour jump, fixed job is skipped", "0 3 * * *", "Antarctica/Casey",
		  "2009-10-17T12:00:00+08:00", "2009-10-19T03:00:00+11:00", NULL);
	test_runs("3-hour jump, wildcard job follows the clock", "0 * * * *", "Antarctica/Casey",
		  "2009-10-18T01:30:00+08:00", "2009-10-18T05:00:00+11:00", NULL);
	/* Kwajalein skipped 1993-08-21 entirely (-12 to +12): not DST, nothing catches up. */
	test_runs("24-hour jump, fixed job is skipped", "0 12 * * *", "Pacific/Kwajalein",
		  "1993-08-20T13:00:00-12:00", "1993-08-22T12:00:00+12:00", NULL);
}

/* Fall back: 02:00-02:59 (Berlin 2024-10-27) and 01:00-01:59 (New York 2024-11-03) repeat. */
static void
test_dst_overlap(void)
{
	const char *b = "Europe/Berlin", *ny = "America/New_York";

	test_runs("overlap, fixed job runs once", "30 2 * * *", b, "2024-10-26T12:00:00+02:00",
		  "2024-10-27T02:30:00+02:00", "2024-10-28T02:30:00+01:00", NULL);
	test_runs("overlap, fixed job not rerun from the second pass", "30 2 * * *", b,
		  "2024-10-27T02:10:00+01:00", "2024-10-28T02:30:00+01:00", NULL);
	test_runs("overlap, fixed job with a list", "0-59/20 2 * * *", b,
		  "2024-10-27T00:00:00+02:00", "2024-10-27T02:00:00+02:00",
		  "2024-10-27T02:20:00+02:00", "2024-10-27T02:40:00+02:00",
		  "2024-10-28T02:00:00+01:00", NULL);
	test_runs("overlap, wildcard-minute job runs in both passes", "*/20 2 * * *", b,
		  "2024-10-27T00:00:00+02:00", "2024-10-27T02:00:00+02:00",
		  "2024-10-27T02:20:00+02:00", "2024-10-27T02:40:00+02:00",
		  "2024-10-27T02:00:00+01:00", "2024-10-27T02:20:00+01:00",
		  "2024-10-27T02:40:00+01:00", "2024-10-28T02:00:00+01:00", NULL);
	test_runs("overlap, wildcard-hour job runs in both passes", "30 * * * *", b,
		  "2024-10-27T01:00:00+02:00", "2024-10-27T01:30:00+02:00",
		  "2024-10-27T02:30:00+02:00", "2024-10-27T02:30:00+01:00",
		  "2024-10-27T03:30:00+01:00", NULL);
	test_runs("overlap, wildcard job from inside the second pass", "30 * * * *", b,
		  "2024-10-27T02:10:00+01:00", "2024-10-27T02:30:00+01:00",
		  "2024-10-27T03:30:00+01:00", NULL);
	test_runs("overlap, fixed job just after the repeat", "0 3 * * *", b,
		  "2024-10-27T02:59:00+02:00", "2024-10-27T03:00:00+01:00", NULL);
	test_runs("overlap, daily job on either side", "0 12 * * *", b, "2024-10-26T13:00:00+02:00",
		  "2024-10-27T12:00:00+01:00", "2024-10-28T12:00:00+01:00", NULL);
	test_runs("overlap, fixed job runs once", "30 1 * * *", ny, "2024-11-02T12:00:00-04:00",
		  "2024-11-03T01:30:00-04:00", "2024-11-04T01:30:00-05:00", NULL);
	test_runs("overlap, fixed job not rerun from the second pass", "59 1 * * *", ny,
		  "2024-11-03T01:59:00-04:00", "2024-11-04T01:59:00-05:00", NULL);
	test_runs("overlap, every half hour", "*/30 * * * *", ny, "2024-11-03T00:50:00-04:00",
		  "2024-11-03T01:00:00-04:00", "2024-11-03T01:30:00-04:00",
		  "2024-11-03T01:00:00-05:00", "2024-11-03T01:30:00-05:00",
		  "2024-11-03T02:00:00-05:00", NULL);
	test_runs("overlap, hourly", "@hourly", ny, "2024-11-03T00:30:00-04:00",
		  "2024-11-03T01:00:00-04:00", "2024-11-03T01:00:00-05:00",
		  "2024-11-03T02:00:00-05:00", NULL);
	/* Casey went from +11 back to +08 at 02:00 on 2010-03-05: 23:00-01:59 repeats. */
	test_runs("3-hour step back, fixed job runs once", "30 0 * * *", "Antarctica/Casey",
		  "2010-03-04T12:00:00+11:00", "2010-03-05T00:30:00+11:00",
		  "2010-03-06T00:30:00+08:00", NULL);
	test_runs("3-hour step back, wildcard job runs twice", "30 * * * *", "Antarctica/Casey",
		  "2010-03-05T01:00:00+11:00", "2010-03-05T01:30:00+11:00",
		  "2010-03-04T23:30:00+08:00", "2010-03-05T00:30:00+08:00",
		  "2010-03-05T01:30:00+08:00", "2010-03-05T02:30:00+08:00", NULL);
	/* Kwajalein went back 23 hours on 1969-09-30: too large for the run-once rule. */
	test_runs("23-hour step back, fixed job runs twice", "0 12 * * *", "Pacific/Kwajalein",
		  "1969-09-29T13:00:00+11:00", "1969-09-30T12:00:00+11:00",
		  "1969-09-30T12:00:00-12:00", "1969-10-01T12:00:00-12:00", NULL);
}

/*
 * Compares cron_next with a plain scan over days and minutes, for random value lists in zones
 * without clock changes in the period; the lists are generated here, not parsed back.
 */
static void
test_random_vs_scan(void)
{
	static const char *zones[] = {"UTC", "Asia/Kolkata", "Asia/Tokyo"};
	GRand *rng = g_rand_new_with_seed(12345);
	int cases = 0, bad = 0;
	char first_bad[512] = "";

	for (int n = 0; n < 300; n++) {
		static const int lo[5] = {0, 0, 1, 1, 0}, hi[5] = {59, 23, 31, 12, 6};
		static const int density[5] = {3, 4, 6, 3, 3};
		bool sel[5][60] = {{false}};
		bool star[5];
		GString *expr = g_string_new(NULL);

		for (int f = 0; f < 5; f++) {
			star[f] = g_rand_int_range(rng, 0, 3) == 0;
			if (!star[f]) {
				int k = g_rand_int_range(rng, 1, density[f] + 1);
				for (int i = 0; i < k; i++)
					sel[f][g_rand_int_range(rng, lo[f], hi[f] + 1)] = true;
			}
			bool first = true;
			if (f)
				g_string_append_c(expr, ' ');
			if (star[f])
				g_string_append_c(expr, '*');
			for (int v = lo[f]; !star[f] && v <= hi[f]; v++)
				if (sel[f][v]) {
					g_string_append_printf(expr, "%s%d", first ? "" : ",", v);
					first = false;
				}
			if (star[f])
				for (int v = lo[f]; v <= hi[f]; v++)
					sel[f][v] = true;
		}
		const char *zone = zones[n % 3];
		GTimeZone *tz = g_time_zone_new_identifier(zone);
		struct cron_expr *c = cron_parse(expr->str, NULL, 0);
		int64_t from = 1704067200 + (int64_t)g_rand_int_range(rng, 0, 200000000);
		int64_t got = c != NULL ? cron_next(c, tz, from) : -2, want = -1;
		GDateTime *start = g_date_time_new_from_unix_utc(from);
		GDateTime *local = g_date_time_to_timezone(start, tz);
		GDateTime *day =
		    g_date_time_new(tz, g_date_time_get_year(local), g_date_time_get_month(local),
				    g_date_time_get_day_of_month(local), 0, 0, 0);

		for (int d = 0; d < 366 * 8 && want < 0; d++) {
			GDateTime *dd = g_date_time_add_days(day, d);
			int mday = g_date_time_get_day_of_month(dd);
			int wday = g_date_time_get_day_of_week(dd) % 7;
			bool dom = sel[2][mday], dow = sel[4][wday];
			bool match = sel[3][g_date_time_get_month(dd)] &&
				     (star[2] || star[4] ? dom && dow : dom || dow);

			for (int h = 0; match && h < 24 && want < 0; h++)
				for (int m = 0; sel[1][h] && m < 60 && want < 0; m++) {
					int64_t t = g_date_time_to_unix(dd) + h * 3600 + m * 60;
					if (sel[0][m] && t > from)
						want = t;
				}
			g_date_time_unref(dd);
		}
		cases++;
		if (got != want && bad++ == 0)
			snprintf(first_bad, sizeof(first_bad),
				 "\"%s\" in %s from %" PRId64 ": want %" PRId64 " got %" PRId64,
				 expr->str, zone, from, want, got);
		g_date_time_unref(day);
		g_date_time_unref(local);
		g_date_time_unref(start);
		if (c != NULL)
			cron_free(c);
		g_time_zone_unref(tz);
		g_string_free(expr, TRUE);
	}
	if (!test_ok(bad == 0, "%d random expressions agree with a day/minute scan", cases))
		printf("#   %d differ; first: %s\n", bad, first_bad);
	g_rand_free(rng);
}

/* cron_next must stay cheap: it is called for every campaign on every reschedule. */
static void
test_speed(void)
{
	GTimeZone *tz = g_time_zone_new_identifier("Europe/Berlin");
	struct cron_expr *busy = cron_parse("*/5 * * * *", NULL, 0);
	struct cron_expr *rare = cron_parse("0 0 29 2 MON", NULL, 0);
	struct cron_expr *never = cron_parse("0 0 30 2 *", NULL, 0);
	struct cron_expr *leap = cron_parse("59 23 29 2 *", NULL, 0);
	int64_t t0 = g_get_monotonic_time(), t = 1700000000;
	int calls = 0;

	for (int i = 0; i < 50000; i++, calls++)
		t = cron_next(busy, tz, t);
	for (int i = 0; i < 2000; i++, calls += 3) {
		(void)cron_next(rare, tz, 1700000000 + i * 86400);
		(void)cron_next(never, tz, 1700000000 + i * 86400);
		(void)cron_next(leap, tz, 1700000000 + i * 86400);
	}
	double ms = (double)(g_get_monotonic_time() - t0) / 1000.0;
	if (!test_ok(ms < 5000, "%d cron_next calls in well under 5 s", calls))
		printf("#   took %.0f ms\n", ms);
	else
		printf("#   %d calls took %.0f ms\n", calls, ms);
	cron_free(busy);
	cron_free(rare);
	cron_free(never);
	cron_free(leap);
	g_time_zone_unref(tz);
}

/* Runs every group and prints the TAP plan last; exit status 1 when anything failed. */
int
main(void)
{
	test_parse_errors();
	test_syntax();
	test_days();
	test_zones();
	test_dst_gap();
	test_dst_overlap();
	test_random_vs_scan();
	test_speed();
	printf("1..%d\n", test_count);
	if (test_failures)
		printf("# %d of %d tests failed\n", test_failures, test_count);
	return test_failures ? 1 : 0;
}
