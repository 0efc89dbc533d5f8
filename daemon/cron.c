/*
 * Cron expressions: the five-field syntax of Vixie cron / cronie, evaluated in an IANA time zone.
 *
 * Syntax.  "minute hour day-of-month month day-of-week", fields separated by blanks.  Each field
 * is a comma-separated list of items; an item is "*", a value, or a range "a-b", optionally
 * followed by a step "/n" ("*" + "/15", "1-30/5"); "a/n" means "a-max/n".  Ranges: minute 0-59,
 * hour 0-23, day-of-month 1-31, month 1-12 or JAN-DEC, day-of-week 0-7 or SUN-SAT (0 and 7 are
 * both Sunday; a range ending in 0/SUN, such as FRI-SUN, ends at 7).  Names are three letters,
 * any case.  A step must lie between 1 and the number of values in the field.  Macros: @yearly,
 * @annually, @monthly, @weekly, @daily, @midnight, @hourly (any case).
 *
 * Day rule (Vixie/cronie).  When the day-of-month and the day-of-week fields both do not begin
 * with '*', a day matches if EITHER field matches; otherwise it must match both.  As in cronie
 * the test is on the text: "*" + "/2" counts as starred, "1-31" does not.
 *
 * Daylight saving and other UTC-offset changes (the cronie rule).  The fields select wall-clock
 * minutes L in the zone; each selected L gives zero, one or two runs:
 *  - L occurs once: one run at that instant.
 *  - L does not occur (a gap: the clocks jumped forward over it).  A fixed-time job runs once at
 *    the instant of the jump (the first instant after the gap, e.g. 03:00 for 02:30 in
 *    Europe/Berlin on the last Sunday of March) if the jump is shorter than 3 hours; every minute
 *    it skipped collapses into that one run.  A wildcard job does not run for L.  After a jump of
 *    3 hours or more no job runs for L.
 *  - L occurs twice (an overlap: the clocks went back).  A wildcard job runs at both instants.
 *    A fixed-time job runs only at the first instant if the clocks went back by at most 3 hours,
 *    and at both instants after a larger step back.
 * A job is "wildcard" when its minute field or its hour field begins with '*' ("*", "*" + "/15");
 * every other job is "fixed-time".  This is cronie's MIN_STAR/HR_STAR test, so "30 * * * *" and
 * @hourly follow the local clock, while "30 2 * * *" and "0-59 2 * * *" are fixed-time.
 *
 * Evaluation.  cron_next walks the matching wall-clock minutes in order, skipping whole months,
 * days and hours that cannot match, and maps each to instants through GTimeZone's intervals.
 */
#include "cron.h"

#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util.h"

enum { CRON_MINUTE, CRON_HOUR, CRON_DOM, CRON_MONTH, CRON_DOW, CRON_NFIELDS };

struct cron_expr {
	uint64_t bits[CRON_NFIELDS]; /* bit v set when value v is selected; dow 7 folded into 0 */
	bool dom_star;		     /* the day-of-month field begins with '*' */
	bool dow_star;		     /* the day-of-week field begins with '*' */
	bool wildcard;		     /* the minute or the hour field begins with '*' */
	bool possible;		     /* some month has a day the fields can match */
};

struct cron_field_spec {
	const char *name;
	int lo, hi;
	const char *const *names; /* three-letter names for lo, lo+1, ...; NULL when none */
};

static const char *const cron_month_names[] = {"jan", "feb", "mar", "apr", "may", "jun", "jul",
					       "aug", "sep", "oct", "nov", "dec", NULL};
static const char *const cron_dow_names[] = {"sun", "mon", "tue", "wed", "thu", "fri", "sat", NULL};

static const struct cron_field_spec cron_fields[CRON_NFIELDS] = {
    {"minute", 0, 59, NULL},
    {"hour", 0, 23, NULL},
    {"day-of-month", 1, 31, NULL},
    {"month", 1, 12, cron_month_names},
    {"day-of-week", 0, 7, cron_dow_names},
};

static const struct {
	const char *name;
	const char *expansion;
} cron_macros[] = {
    {"@yearly", "0 0 1 1 *"}, {"@annually", "0 0 1 1 *"}, {"@monthly", "0 0 1 * *"},
    {"@weekly", "0 0 * * 0"}, {"@daily", "0 0 * * *"},	  {"@midnight", "0 0 * * *"},
    {"@hourly", "0 * * * *"},
};

/* A clock change of this many seconds or more is a "jump", not daylight saving (cronie: 3 h). */
#define CRON_DST_LIMIT (3 * 3600)
/* Instants beyond +-10^11 s (about year 5100) are refused rather than overflowing. */
#define CRON_MAX_INSTANT INT64_C(100000000000)
/* Bound on |UTC offset| used to bracket the instants of a wall-clock time. */
#define CRON_MAX_OFFSET (26 * 3600)

struct cron_parser {
	const char *text; /* the whole expression, for columns */
	int field;	  /* index into cron_fields, or -1 for the expression as a whole */
	char *err;
	size_t errlen;
};

/* Formats "FIELD: message (column N)" so that a user can find the mistake in a long line. */
static bool __attribute__((format(printf, 3, 4)))
cron_fail(struct cron_parser *ps, const char *at, const char *fmt, ...)
{
	char msg[160];
	va_list ap;

	if (ps->err == NULL || ps->errlen == 0)
		return false;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	snprintf(ps->err, ps->errlen, "%s: %s (column %d)",
		 ps->field >= 0 ? cron_fields[ps->field].name : "expression", msg,
		 (int)(at - ps->text) + 1);
	return false;
}

/* Reads a decimal number or, in fields that have them, a name; checks it against the range. */
static bool
cron_parse_value(struct cron_parser *ps, const char **sp, const char *end, int *out)
{
	const struct cron_field_spec *f = &cron_fields[ps->field];
	const char *s = *sp, *start = s;
	long v = 0;

	if (s < end && g_ascii_isdigit(*s)) {
		while (s < end && g_ascii_isdigit(*s)) {
			if (v < 100000)
				v = v * 10 + (*s - '0');
			s++;
		}
		if (v < f->lo || v > f->hi)
			return cron_fail(ps, start, "%.*s out of range %d-%d", (int)(s - start),
					 start, f->lo, f->hi);
	} else if (s < end && g_ascii_isalpha(*s)) {
		while (s < end && g_ascii_isalpha(*s))
			s++;
		if (f->names == NULL)
			return cron_fail(ps, start, "names such as \"%.*s\" are not allowed here",
					 (int)(s - start), start);
		v = -1;
		for (int i = 0; s - start == 3 && f->names[i] != NULL; i++)
			if (g_ascii_strncasecmp(start, f->names[i], 3) == 0)
				v = f->lo + i;
		if (v < 0)
			return cron_fail(ps, start, "unknown name \"%.*s\"", (int)(s - start),
					 start);
	} else if (s < end) {
		return cron_fail(ps, start, "unexpected character '%c'", *s);
	} else {
		return cron_fail(ps, start, "value missing");
	}
	*sp = s;
	*out = (int)v;
	return true;
}

/* Parses one list item ("*", "a", "a-b", each with an optional "/step") into BITS. */
static bool
cron_parse_item(struct cron_parser *ps, const char **sp, const char *end, uint64_t *bits)
{
	const struct cron_field_spec *f = &cron_fields[ps->field];
	const char *s = *sp, *item = s;
	int lo, hi, step = 1;
	bool ranged;

	if (s == end || *s == ',')
		return cron_fail(ps, s, "empty list element");
	if (*s == '*') {
		lo = f->lo;
		hi = f->hi;
		ranged = true;
		s++;
	} else {
		if (!cron_parse_value(ps, &s, end, &lo))
			return false;
		hi = lo;
		ranged = false;
		if (s < end && *s == '-') {
			s++;
			if (!cron_parse_value(ps, &s, end, &hi))
				return false;
			if (ps->field == CRON_DOW && hi == 0 && lo > 0)
				hi = 7; /* "FRI-SUN": Sunday as the end of the week */
			if (hi < lo)
				return cron_fail(ps, item, "range %d-%d is backwards", lo, hi);
			ranged = true;
		}
	}
	if (s < end && *s == '/') {
		const char *num = ++s;
		long v = 0;
		int width = f->hi - f->lo + 1;

		while (s < end && g_ascii_isdigit(*s)) {
			if (v < 100000)
				v = v * 10 + (*s - '0');
			s++;
		}
		if (s == num)
			return cron_fail(ps, num, "step missing after '/'");
		if (v < 1 || v > width)
			return cron_fail(ps, num, "step %.*s out of range 1-%d", (int)(s - num),
					 num, width);
		step = (int)v;
		if (!ranged)
			hi = f->hi; /* "a/n" is "a-max/n" */
	}
	if (s < end && *s != ',')
		return cron_fail(ps, s, "unexpected character '%c'", *s);
	for (int v = lo; v <= hi; v += step)
		*bits |= UINT64_C(1) << v;
	*sp = s;
	return true;
}

/* Parses the comma-separated list in [S, END) for the field ps->field. */
static bool
cron_parse_field(struct cron_parser *ps, const char *s, const char *end, uint64_t *bits)
{
	*bits = 0;
	for (;;) {
		if (!cron_parse_item(ps, &s, end, bits))
			return false;
		if (s == end)
			return true;
		s++; /* the ',' */
	}
}

/* True when some selected month has a day that the day fields can select in some year. */
static bool
cron_can_match(const struct cron_expr *c)
{
	static const int longest[13] = {0, 31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};

	if (!c->dom_star && !c->dow_star)
		return true; /* either rule: every month has every weekday */
	for (int m = 1; m <= 12; m++)
		if ((c->bits[CRON_MONTH] >> m & 1) &&
		    (c->bits[CRON_DOM] & (((UINT64_C(1) << longest[m]) - 1) << 1)))
			return true;
	return false;
}

/* Splits TEXT into the five fields and parses each; START is where the fields begin. */
static bool
cron_parse_fields(struct cron_parser *ps, const char *start, struct cron_expr *c)
{
	const char *s = start;
	const char *first[CRON_NFIELDS];

	for (int i = 0; i < CRON_NFIELDS; i++) {
		const char *end;

		while (g_ascii_isspace(*s))
			s++;
		ps->field = i;
		if (*s == '\0')
			return cron_fail(ps, s, "field missing (expected 5 fields)");
		end = s;
		while (*end != '\0' && !g_ascii_isspace(*end))
			end++;
		first[i] = s;
		if (!cron_parse_field(ps, s, end, &c->bits[i]))
			return false;
		s = end;
	}
	while (g_ascii_isspace(*s))
		s++;
	if (*s != '\0') {
		ps->field = -1;
		return cron_fail(ps, s, "unexpected text after the 5 fields");
	}
	if (c->bits[CRON_DOW] >> 7 & 1)
		c->bits[CRON_DOW] = (c->bits[CRON_DOW] | 1) & 0x7f;
	c->dom_star = *first[CRON_DOM] == '*';
	c->dow_star = *first[CRON_DOW] == '*';
	c->wildcard = *first[CRON_MINUTE] == '*' || *first[CRON_HOUR] == '*';
	c->possible = cron_can_match(c);
	return true;
}

/* Parses a whole expression, expanding a macro first; see cron.h. */
struct cron_expr *
cron_parse(const char *expr, char *err, size_t errlen)
{
	struct cron_parser ps = {expr, -1, err, errlen};
	struct cron_expr *c = xcalloc(1, sizeof(*c));
	const char *s = expr;
	bool ok;

	while (g_ascii_isspace(*s))
		s++;
	if (*s == '@') {
		const char *end = s, *rest;
		const char *expansion = NULL;

		while (*end != '\0' && !g_ascii_isspace(*end))
			end++;
		for (size_t i = 0; i < NT_ARRAY_LEN(cron_macros); i++)
			if ((size_t)(end - s) == strlen(cron_macros[i].name) &&
			    g_ascii_strncasecmp(s, cron_macros[i].name, (size_t)(end - s)) == 0)
				expansion = cron_macros[i].expansion;
		rest = end;
		while (g_ascii_isspace(*rest))
			rest++;
		if (expansion == NULL)
			ok = cron_fail(&ps, s, "unknown macro \"%.*s\"", (int)(end - s), s);
		else if (*rest != '\0')
			ok = cron_fail(&ps, rest, "unexpected text after %.*s", (int)(end - s), s);
		else {
			struct cron_parser inner = {expansion, -1, NULL, 0};
			ok = cron_parse_fields(&inner, expansion, c);
		}
	} else if (*s == '\0') {
		ok = cron_fail(&ps, s, "empty");
	} else {
		ok = cron_parse_fields(&ps, s, c);
	}
	if (!ok) {
		cron_free(c);
		return NULL;
	}
	return c;
}

/* Frees what cron_parse returned; NULL is accepted. */
void
cron_free(struct cron_expr *c)
{
	free(c);
}

/* ---- calendar arithmetic on "local seconds" (wall-clock time counted as if it were UTC) ---- */

struct cron_civil {
	int year, month, day, hour, minute;
};

/* Division rounding toward minus infinity, for dates before 1970. */
static int64_t
cron_floor_div(int64_t a, int64_t b)
{
	int64_t q = a / b;

	if (a % b != 0 && (a < 0) != (b < 0))
		q--;
	return q;
}

/* Gregorian leap year. */
static bool
cron_is_leap(int64_t y)
{
	return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
}

/* Length of month M (1-12) of year Y. */
static int
cron_days_in_month(int y, int m)
{
	static const int days[13] = {0, 31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};

	return m == 2 && cron_is_leap(y) ? 29 : days[m];
}

/* Leap years among 1 .. Y-1 of the proleptic Gregorian calendar. */
static int64_t
cron_leaps_before(int64_t y)
{
	int64_t n = y - 1;

	return cron_floor_div(n, 4) - cron_floor_div(n, 100) + cron_floor_div(n, 400);
}

/* Days from 1970-01-01 to Y-M-D. */
static int64_t
cron_days_from_civil(int y, int m, int d)
{
	static const int before[13] = {0, 0, 31, 59, 90, 120, 151, 181, 212, 243, 273, 304, 334};

	return 365 * ((int64_t)y - 1970) + cron_leaps_before(y) - cron_leaps_before(1970) +
	       before[m] + (m > 2 && cron_is_leap(y)) + d - 1;
}

/* 0 = Sunday; 1970-01-01 was a Thursday. */
static int
cron_weekday(int y, int m, int d)
{
	int64_t w = (cron_days_from_civil(y, m, d) + 4) % 7;

	return (int)(w < 0 ? w + 7 : w);
}

/* Calendar fields back to local seconds. */
static int64_t
cron_local_from_civil(const struct cron_civil *t)
{
	return cron_days_from_civil(t->year, t->month, t->day) * 86400 + t->hour * 3600 +
	       t->minute * 60;
}

/* Splits minute-aligned local seconds into calendar fields. */
static void
cron_civil_from_local(int64_t local, struct cron_civil *t)
{
	int64_t days = cron_floor_div(local, 86400);
	int64_t secs = local - days * 86400;
	int y = (int)(1970 + cron_floor_div(days * 400, 146097));

	while (cron_days_from_civil(y, 1, 1) > days)
		y--;
	while (cron_days_from_civil(y + 1, 1, 1) <= days)
		y++;
	t->year = y;
	t->month = 1;
	while (t->month < 12 && cron_days_from_civil(y, t->month + 1, 1) <= days)
		t->month++;
	t->day = (int)(days - cron_days_from_civil(y, t->month, 1)) + 1;
	t->hour = (int)(secs / 3600);
	t->minute = (int)(secs % 3600 / 60);
}

/* Midnight of the following day. */
static void
cron_civil_next_day(struct cron_civil *t)
{
	t->hour = 0;
	t->minute = 0;
	if (++t->day <= cron_days_in_month(t->year, t->month))
		return;
	t->day = 1;
	if (++t->month <= 12)
		return;
	t->month = 1;
	t->year++;
}

/* The following minute, carrying into hours and days. */
static void
cron_civil_next_minute(struct cron_civil *t)
{
	if (++t->minute < 60)
		return;
	t->minute = 0;
	if (++t->hour < 24)
		return;
	cron_civil_next_day(t);
}

/* The smallest set bit of MASK in FROM..MAX, or -1. */
static int
cron_next_bit(uint64_t mask, int from, int max)
{
	if (from > max)
		return -1;
	mask >>= from;
	mask &= (UINT64_C(2) << (max - from)) - 1;
	return mask == 0 ? -1 : from + __builtin_ctzll(mask);
}

/* The Vixie day rule: both day fields must match unless neither begins with '*'. */
static bool
cron_day_matches(const struct cron_expr *c, const struct cron_civil *t)
{
	bool dom = c->bits[CRON_DOM] >> t->day & 1;
	bool dow = c->bits[CRON_DOW] >> cron_weekday(t->year, t->month, t->day) & 1;

	return c->dom_star || c->dow_star ? dom && dow : dom || dow;
}

/*
 * Moves T to the first wall-clock minute at or after it that the fields select, skipping
 * months, days and hours that cannot match; false once the year passes LIMIT_YEAR.
 */
static bool
cron_find_match(const struct cron_expr *c, struct cron_civil *t, int limit_year)
{
	for (;;) {
		int v;

		if (t->year > limit_year)
			return false;
		if (!(c->bits[CRON_MONTH] >> t->month & 1)) {
			v = cron_next_bit(c->bits[CRON_MONTH], t->month + 1, 12);
			if (v < 0) {
				t->year++;
				v = cron_next_bit(c->bits[CRON_MONTH], 1, 12);
			}
			*t = (struct cron_civil){t->year, v, 1, 0, 0};
			continue;
		}
		if (!cron_day_matches(c, t)) {
			cron_civil_next_day(t);
			continue;
		}
		v = cron_next_bit(c->bits[CRON_HOUR], t->hour, 23);
		if (v < 0) {
			cron_civil_next_day(t);
			continue;
		}
		if (v != t->hour) {
			t->hour = v;
			t->minute = 0;
		}
		v = cron_next_bit(c->bits[CRON_MINUTE], t->minute, 59);
		if (v < 0) {
			t->minute = 59;
			cron_civil_next_minute(t);
			continue;
		}
		t->minute = v;
		return true;
	}
}

/* ---- wall-clock time to instants, through GTimeZone ---- */

/* GTimeZone's interval (a span with one UTC offset) containing the instant UTC. */
static int
cron_interval(GTimeZone *tz, int64_t utc)
{
	return g_time_zone_find_interval(tz, G_TIME_TYPE_UNIVERSAL, utc);
}

/* The lowest and highest UTC offsets in force at any instant of [FROM, TO]. */
static void
cron_offset_range(GTimeZone *tz, int64_t from, int64_t to, int32_t *lo, int32_t *hi)
{
	int last = cron_interval(tz, to);

	*lo = *hi = g_time_zone_get_offset(tz, last);
	for (int k = cron_interval(tz, from); k < last; k++) {
		int32_t off = g_time_zone_get_offset(tz, k);
		*lo = MIN(*lo, off);
		*hi = MAX(*hi, off);
	}
}

/* The first instant of interval K+1, searched for in (LO, HI]. */
static int64_t
cron_interval_end(GTimeZone *tz, int k, int64_t lo, int64_t hi)
{
	while (hi - lo > 1) {
		int64_t mid = lo + (hi - lo) / 2;

		if (cron_interval(tz, mid) > k)
			hi = mid;
		else
			lo = mid;
	}
	return hi;
}

struct cron_local {
	int n;		  /* how many times the wall-clock time occurs */
	int64_t at[4];	  /* those instants, ascending */
	int64_t jump;	  /* n == 0: the instant the clocks jumped over it, or -1 */
	int64_t jump_len; /* n == 0: the seconds skipped by that jump */
};

/*
 * Finds every instant whose wall-clock time in TZ is LOCAL: for each offset in force near it,
 * LOCAL - offset counts when that offset is really in force then.  None means a gap.
 */
static void
cron_resolve(GTimeZone *tz, int64_t local, struct cron_local *r)
{
	int64_t lo = local - CRON_MAX_OFFSET, hi = local + CRON_MAX_OFFSET;
	int first = cron_interval(tz, lo), last = cron_interval(tz, hi);

	r->n = 0;
	r->jump = -1;
	r->jump_len = 0;
	for (int k = first; k <= last && r->n < (int)NT_ARRAY_LEN(r->at); k++) {
		int64_t u = local - g_time_zone_get_offset(tz, k);

		if (cron_interval(tz, u) == k)
			r->at[r->n++] = u;
	}
	for (int k = first; r->n == 0 && k < last; k++) {
		int64_t t = cron_interval_end(tz, k, lo, hi);
		int32_t before = g_time_zone_get_offset(tz, k);
		int32_t after = g_time_zone_get_offset(tz, k + 1);

		if (t + before <= local && local < t + after) {
			r->jump = t;
			r->jump_len = after - before;
			return;
		}
	}
}

/* The instants at which a job runs for the selected wall-clock minute LOCAL (the cronie rule). */
static int
cron_events(const struct cron_expr *c, GTimeZone *tz, int64_t local, int64_t *ev)
{
	struct cron_local r;

	cron_resolve(tz, local, &r);
	if (r.n == 0) {
		if (c->wildcard || r.jump < 0 || r.jump_len >= CRON_DST_LIMIT)
			return 0;
		ev[0] = r.jump;
		return 1;
	}
	if (r.n > 1 && !c->wildcard && r.at[r.n - 1] - r.at[0] <= CRON_DST_LIMIT) {
		ev[0] = r.at[0];
		return 1;
	}
	memcpy(ev, r.at, sizeof(r.at[0]) * (size_t)r.n);
	return r.n;
}

/*
 * Walks selected wall-clock minutes upward from the earliest one that could yield a run after
 * AFTER.  Offsets shuffle instants only by the spread of offsets in force, so once a run is
 * found, later minutes need checking only within that spread (zero away from a change).
 */
int64_t
cron_next(const struct cron_expr *c, GTimeZone *tz, int64_t after)
{
	struct cron_civil t;
	int32_t lo, hi;
	int64_t best = -1, stop = INT64_MAX;
	bool found = false;
	int limit_year;

	if (!c->possible || after < -CRON_MAX_INSTANT || after > CRON_MAX_INSTANT)
		return -1;
	cron_offset_range(tz, after, after + 3 * 86400, &lo, &hi);
	cron_civil_from_local(cron_floor_div(after + lo, 60) * 60, &t);
	limit_year = t.year + CRON_HORIZON_YEARS;
	while (cron_find_match(c, &t, limit_year)) {
		int64_t local = cron_local_from_civil(&t), ev[4];
		int n;

		if (local >= stop)
			break;
		n = cron_events(c, tz, local, ev);
		for (int i = 0; i < n; i++)
			if (ev[i] > after && (!found || ev[i] < best)) {
				best = ev[i];
				found = true;
			}
		if (found && stop == INT64_MAX) {
			cron_offset_range(tz, after, best, &lo, &hi);
			stop = local + (hi - lo);
		}
		cron_civil_next_minute(&t);
	}
	return best;
}
