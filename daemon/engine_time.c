/*
 * The engine's local time of day: a wait "until 09:00" and quiet hours, in the customer's time
 * zone (the campaign's when unknown), through GLib's time zones.
 */
#include <glib.h>

#include "campaign.h"
#include "engine_int.h"

/* The next instant after NOW when the local clock in TZNAME shows MINUTE (after midnight). */
int64_t
engine_next_local_time(int64_t now_ms, const char *tzname, int minute)
{
	GTimeZone *tz = g_time_zone_new_identifier(tzname ? tzname : "UTC");
	if (tz == NULL)
		tz = g_time_zone_new_utc();
	GDateTime *now = g_date_time_new_from_unix_utc(now_ms / 1000);
	GDateTime *local = g_date_time_to_timezone(now, tz);
	int64_t result = -1;

	for (int day = 0; day < 3 && result < 0; day++) {
		GDateTime *d = g_date_time_add_days(local, day);
		GDateTime *at =
		    g_date_time_new(tz, g_date_time_get_year(d), g_date_time_get_month(d),
				    g_date_time_get_day_of_month(d), minute / 60, minute % 60, 0);
		if (at != NULL && g_date_time_to_unix(at) * 1000 > now_ms)
			result = g_date_time_to_unix(at) * 1000;
		if (at != NULL)
			g_date_time_unref(at);
		g_date_time_unref(d);
	}
	g_date_time_unref(local);
	g_date_time_unref(now);
	g_time_zone_unref(tz);
	return result;
}

/* Minutes after local midnight at MS in TZNAME. */
static int
engine_local_minute(int64_t ms, const char *tzname)
{
	GTimeZone *tz = g_time_zone_new_identifier(tzname ? tzname : "UTC");
	if (tz == NULL)
		tz = g_time_zone_new_utc();
	GDateTime *utc = g_date_time_new_from_unix_utc(ms / 1000);
	GDateTime *local = g_date_time_to_timezone(utc, tz);
	int minute = g_date_time_get_hour(local) * 60 + g_date_time_get_minute(local);
	g_date_time_unref(local);
	g_date_time_unref(utc);
	g_time_zone_unref(tz);
	return minute;
}

/*
 * Quiet hours, in the customer's time zone (the campaign's when unknown): returns when the
 * window ends if NOW falls inside it, else -1. Transactional campaigns have none.
 */
int64_t
engine_quiet_until(const struct campaign *c, json_t *customer, int64_t now)
{
	const char *tz = json_string_value(json_object_get(customer, "timezone"));
	int m, inside;

	if (c->transactional || !c->has_quiet_hours)
		return -1;
	tz = tz ? tz : c->timezone_default;
	m = engine_local_minute(now, tz);
	inside = c->quiet_from <= c->quiet_to ? (m >= c->quiet_from && m < c->quiet_to)
					      : (m >= c->quiet_from || m < c->quiet_to);
	return inside ? engine_next_local_time(now, tz, c->quiet_to) : -1;
}
