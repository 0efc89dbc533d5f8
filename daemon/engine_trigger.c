/*
 * The engine's triggers other than a plain event: scheduled campaigns (cron, fanned out in
 * batches), inactivity deadlines, and goals. Each runs inside the caller's transaction, like
 * the rest of the engine.
 */
#include <glib.h>
#include <stdlib.h>
#include <string.h>

#include "experiment.h"
#include "store_json.h"
#include "attribution.h"
#include "campaign.h"
#include "clock.h"
#include "condition.h"
#include "cron.h"
#include "engine_int.h"
#include "engine_prefetch.h"
#include "log.h"
#include "segment.h"
#include "timefmt.h"
#include "util.h"

#define DAY_MS (24LL * 3600 * 1000)

/*
 * The next run of a scheduled campaign after AFTER_MS; -1 when none. Cron campaigns run at
 * their cron times in their zone; anniversary campaigns look ahead once a day, at 00:00 UTC.
 */
static int64_t
engine_cron_next(const struct campaign *c, int64_t after_ms)
{
	if (c->trigger.kind == TRIGGER_ANNIVERSARY)
		return (after_ms / DAY_MS + 1) * DAY_MS;
	GTimeZone *tz = g_time_zone_new_identifier(c->trigger.timezone);
	if (tz == NULL)
		tz = g_time_zone_new_utc();
	int64_t next = cron_next(c->trigger.cron, tz, after_ms / 1000);
	g_time_zone_unref(tz);
	return next < 0 ? -1 : next * 1000;
}

/*
 * A scheduled campaign's next run is kept in the store, so that restarts neither skip nor
 * repeat a run. A changed campaign (new version) is rescheduled, unless a run is under way.
 */
enum store_status
engine_schedule(struct engine *e, const struct campaign *c)
{
	struct store_schedule sc = {0};
	enum store_status rc = store_schedule_get(e->store, c->id, &sc);

	if (rc != STORE_OK && rc != STORE_NOTFOUND)
		return rc;
	int changed = rc == STORE_NOTFOUND || strcmp(sc.version, c->version) != 0;
	if (changed && (rc == STORE_NOTFOUND || sc.run_ms < 0)) {
		/* An anniversary campaign's first look-ahead covers the rest of today, from now. */
		int64_t next = c->trigger.kind == TRIGGER_ANNIVERSARY
				   ? clock_now(e->clock)
				   : engine_cron_next(c, clock_now(e->clock));
		char version[sizeof(c->version)];
		memcpy(version, c->version, sizeof(version));
		struct store_schedule nsc = {.campaign_id = c->id,
					     .version = version,
					     .due_ms = next >= 0 ? next : INT64_MAX,
					     .run_ms = -1};
		rc = store_schedule_set(e->store, &nsc);
	} else
		rc = STORE_OK;
	free(sc.campaign_id);
	free(sc.version);
	return rc;
}

/*
 * Goals: an event that a campaign counts as its goal, after one of its sends within the goal's
 * window, is recorded as that journey's conversion (once per journey, even after it ended).
 */
enum store_status
engine_goals(struct engine *e, const struct store_event *ev)
{
	enum store_status rc = STORE_OK;
	for (size_t i = 0; e->campaigns && i < e->campaigns->n && rc == STORE_OK; i++) {
		const struct campaign *c = e->campaigns->v[i];
		int64_t jid;
		if (c->goal_event == NULL || strcmp(c->goal_event, ev->type) != 0)
			continue;
		/*
		 * An experiment counts conversions by arm from entry, whether or not a message
		 * went (the holdout gets none): the comparison is of everyone assigned.
		 */
		if (experiment_active(c)) {
			char *arm = NULL;
			rc = store_experiment_convert(e->store, c->id, ev->customer_id,
						      clock_now(e->clock) - c->goal_within_ms,
						      clock_now(e->clock),
						      attribution_revenue(c, ev), &arm);
			free(arm);
			if (rc == STORE_NOTFOUND)
				rc = STORE_OK;
			if (rc != STORE_OK)
				break;
		}
		rc = engine_goal_candidate(e, c, ev->customer_id,
					   clock_now(e->clock) - c->goal_within_ms, &jid);
		if (rc == STORE_NOTFOUND) {
			rc = STORE_OK;
			continue;
		}
		struct journey j = {
		    .id = jid, .customer_id = ev->customer_id, .campaign_id = c->id};
		if (rc == STORE_OK)
			rc =
			    engine_note(e, &j, ev->customer, NULL, NOTE_GOAL, ev->type, NULL, NULL);
		/* Credited to one message, with its revenue (issue 19). */
		if (rc == STORE_OK) {
			struct assignment a = {0};
			rc = store_assignment_get(e->store, jid, &a);
			if (rc == STORE_OK || rc == STORE_NOTFOUND)
				rc = attribution_credit(e->store, c, ev, jid, a.arm,
							clock_now(e->clock));
			assignment_clear(&a);
		}
	}
	return rc;
}

/* Activity pushes out the inactivity deadline of every campaign that watches its type. */
enum store_status
engine_push_timers(struct engine *e, const struct store_event *ev)
{
	enum store_status rc = STORE_OK;
	for (size_t i = 0; e->campaigns && i < e->campaigns->n && rc == STORE_OK; i++) {
		const struct campaign *c = e->campaigns->v[i];
		if (!engine_active(e, c) || c->trigger.kind != TRIGGER_INACTIVITY)
			continue;
		for (size_t k = 0; k < c->trigger.n_of; k++)
			if (strcmp(c->trigger.of[k], ev->type) == 0) {
				rc = store_timer_push(e->store, c->id, ev->customer_id,
						      ev->time_ms + c->trigger.inactive_ms);
				break;
			}
	}
	return rc;
}

/*
 * An inactivity deadline passed: the customer enters, once; the timer is gone until the next
 * activity sets it again. The journey's trigger is the silence itself, dated at the deadline.
 */
enum store_status
engine_fire_timer(struct engine *e, const struct store_timer *t)
{
	const struct campaign *c =
	    e->campaigns ? campaign_set_find(e->campaigns, t->campaign_id) : NULL;
	json_t *customer = NULL, *event;
	enum store_status rc;
	char when[40];

	if ((rc = store_timer_delete(e->store, t->campaign_id, t->customer_id)) != STORE_OK)
		return rc;
	if (t->campaign_id[0] == '\0') /* the stage timer: a time-based transition is due */
		return engine_stage_update(e, t->customer_id);
	if (c == NULL || !engine_active(e, c) || c->trigger.kind != TRIGGER_INACTIVITY)
		return STORE_OK;
	if ((rc = store_customer_context(e->store, t->customer_id, &customer)) != STORE_OK)
		return rc == STORE_NOTFOUND ? STORE_OK : rc;
	timefmt_format_utc(t->due_ms, when, sizeof(when));
	event = json_pack("{s:s,s:s,s:s,s:{s:I}}", "id", "", "type", "inactivity", "time", when,
			  "properties", "inactive_for_ms", (json_int_t)c->trigger.inactive_ms);
	struct store_event ev = {.customer_id = t->customer_id,
				 .customer =
				     (char *)json_string_value(json_object_get(customer, "id")),
				 .key = "",
				 .type = "inactivity",
				 .time_ms = t->due_ms};
	if (json_is_false(json_object_get(customer, "erased")))
		rc = engine_enter(e, c, &ev, customer, event);
	json_decref(event);
	json_decref(customer);
	return rc;
}

/* The instant of (Y-M-D at MINUTE) in TZ, Feb 29 falling on Feb 28 in common years. */
static int64_t
engine_local_instant(GTimeZone *tz, int y, int m, int d, int minute)
{
	if (m == 2 && d == 29 && !g_date_is_leap_year((GDateYear)y))
		d = 28;
	GDateTime *dt = g_date_time_new(tz, y, m, d, minute / 60, minute % 60, 0);
	if (dt == NULL)
		return -1;
	int64_t ms = g_date_time_to_unix(dt) * 1000;
	g_date_time_unref(dt);
	return ms;
}

/*
 * An anniversary campaign's look-ahead for one customer: if the yearly date (the birthday,
 * or the first purchase's date from the year after) at the campaign's local time, plus the
 * offset, falls within this run's day, the customer enters, dated at that moment.
 */
enum store_status
engine_anniversary(struct engine *e, const struct campaign *c, const struct store_schedule *sc,
		   json_t *customer, int64_t customer_id)
{
	const char *tzname = json_string_value(json_object_get(customer, "timezone"));
	int64_t from = sc->run_ms, to = engine_cron_next(c, sc->run_ms), first, last;
	int month = 0, day = 0, min_year = 0;
	long count;
	enum store_status rc = STORE_OK;

	if (strcmp(c->trigger.anniversary_of, "customer.birthday") == 0) {
		const char *b = json_string_value(json_object_get(customer, "birthday"));
		if (b != NULL && sscanf(b[0] == '-' ? b + 2 : b + 5, "%2d-%2d", &month, &day) != 2)
			month = 0;
	} else {
		rc = store_purchase_stats(e->store, customer_id, &count, &first, &last);
		if (rc != STORE_OK || count == 0)
			return rc;
		GTimeZone *tz0 = g_time_zone_new_identifier(tzname ? tzname : c->timezone_default);
		if (tz0 == NULL)
			tz0 = g_time_zone_new_utc();
		GDateTime *u = g_date_time_new_from_unix_utc(first / 1000);
		GDateTime *l = g_date_time_to_timezone(u, tz0);
		month = g_date_time_get_month(l);
		day = g_date_time_get_day_of_month(l);
		min_year = g_date_time_get_year(l) + 1;
		g_date_time_unref(l);
		g_date_time_unref(u);
		g_time_zone_unref(tz0);
	}
	if (month < 1 || month > 12 || day < 1 || day > 31)
		return rc;
	GTimeZone *tz = g_time_zone_new_identifier(tzname ? tzname : c->timezone_default);
	if (tz == NULL)
		tz = g_time_zone_new_utc();
	GDateTime *u = g_date_time_new_from_unix_utc(from / 1000);
	int year = g_date_time_get_year(u);
	g_date_time_unref(u);
	for (int y = year - 1; y <= year + 1 && rc == STORE_OK; y++) {
		int64_t at = engine_local_instant(tz, y, month, day, c->trigger.at_minute);
		if (y < min_year || at < 0)
			continue;
		at += c->trigger.offset_ms;
		if (at < from || at >= to)
			continue;
		char when[40];
		timefmt_format_utc(at, when, sizeof(when));
		json_t *event =
		    json_pack("{s:s,s:s,s:s,s:{s:s}}", "id", when, "type", "anniversary", "time",
			      when, "properties", "of", c->trigger.anniversary_of);
		struct store_event ev = {
		    .customer_id = customer_id,
		    .customer = (char *)json_string_value(json_object_get(customer, "id")),
		    .key = "",
		    .type = "anniversary",
		    .time_ms = at};
		rc = engine_enter(e, c, &ev, customer, event);
		json_decref(event);
	}
	g_time_zone_unref(tz);
	return rc;
}

/* Customers handed to a schedule's audience check per engine call: the loop gets its turns. */
#define ENGINE_FANOUT_BATCH 500

/*
 * One batch of a scheduled run: the next customers by id enter when they are subscribed to
 * the campaign's topic and match its audience. The cursor moves in the same transaction, so a
 * crash resumes the run where it stopped; when the last batch is done the next run is set.
 */
enum store_status
engine_fan_out(struct engine *e, struct store_schedule *sc, int *handled)
{
	const struct campaign *c =
	    e->campaigns ? campaign_set_find(e->campaigns, sc->campaign_id) : NULL;
	int64_t *ids = NULL;
	size_t n = 0;
	enum store_status rc = STORE_OK;
	char when[40];

	int scheduled = c != NULL &&
			(c->trigger.kind == TRIGGER_CRON || c->trigger.kind == TRIGGER_ANNIVERSARY);
	if (!scheduled || !engine_active(e, c)) {
		/* Removed or no longer scheduled: never again; paused: this run is skipped. */
		int64_t next = scheduled ? engine_cron_next(c, clock_now(e->clock)) : -1;
		sc->due_ms = next >= 0 ? next : INT64_MAX;
		sc->run_ms = -1;
		sc->cursor = 0;
		return store_schedule_set(e->store, sc);
	}
	if (sc->run_ms < 0) {
		sc->run_ms = sc->due_ms;
		sc->cursor = 0;
	}
	timefmt_format_utc(sc->run_ms, when, sizeof(when));
	json_t *event = json_pack("{s:s,s:s,s:s,s:{}}", "id", when, "type", "schedule", "time",
				  when, "properties");
	/* A saved segment (issue 17) is read at each batch: an edit applies from the next one. */
	struct cond *segment = NULL;
	if (c->trigger.segment != NULL &&
	    (rc = segment_load(e->store, c->trigger.segment, &segment)) != STORE_OK)
		goto out;
	if (c->trigger.segment != NULL && segment == NULL)
		log_warnx("campaign %s: no segment '%s': nobody enters this run", c->id,
			  c->trigger.segment);
	if ((rc = store_customers_after(e->store, sc->cursor, ENGINE_FANOUT_BATCH, &ids, &n)) !=
		STORE_OK ||
	    (rc = engine_prefetch(e, ids, n)) != STORE_OK)
		goto out;
	for (size_t i = 0; i < n && rc == STORE_OK; i++) {
		json_t *customer = NULL;
		sc->cursor = ids[i];
		if ((rc = engine_customer(e, ids[i], &customer)) != STORE_OK)
			break;
		const char *consent = json_string_value(
		    json_object_get(json_object_get(customer, "consent"), c->topic));
		if (c->trigger.kind == TRIGGER_ANNIVERSARY) {
			/* Opt-out: everyone but those who said no to the topic. */
			if (consent == NULL || strcmp(consent, "unsubscribed") != 0)
				rc = engine_anniversary(e, c, sc, customer, ids[i]);
		} else if (consent != NULL && strcmp(consent, "subscribed") == 0 &&
			   engine_eval(e, c->trigger.where, customer, event, NULL, ids[i]) &&
			   (c->trigger.segment == NULL ||
			    (segment != NULL &&
			     engine_eval(e, segment, customer, event, NULL, ids[i])))) {
			struct store_event ev = {
			    .customer_id = ids[i],
			    .customer = (char *)json_string_value(json_object_get(customer, "id")),
			    .key = "",
			    .type = "schedule",
			    .time_ms = sc->run_ms};
			rc = engine_enter(e, c, &ev, customer, event);
		}
		json_decref(customer);
	}
	*handled += (int)n;
	if (rc == STORE_OK && n < ENGINE_FANOUT_BATCH) {
		int64_t next = engine_cron_next(c, sc->run_ms);
		sc->due_ms = next >= 0 ? next : INT64_MAX;
		sc->run_ms = -1;
		sc->cursor = 0;
	}
	if (rc == STORE_OK)
		rc = store_schedule_set(e->store, sc);
out:
	engine_prefetch_clear(e);
	cond_free(segment);
	json_decref(event);
	free(ids);
	return rc;
}

int
engine_is_purchase(const char *type)
{
	return strcmp(type, "purchase") == 0;
}

/*
 * Stages: recomputed from the purchase history at every purchase and when the stage timer
 * (the timer with an empty campaign id) says a threshold is crossed. A change is stored and
 * enters the campaigns triggered by that stage, with the change as their trigger event.
 */
enum store_status
engine_stage_update(struct engine *e, int64_t customer_id)
{
	int64_t now = clock_now(e->clock), first, last, next, since = -1;
	json_t *customer = NULL;
	long count;
	enum store_status rc;

	if ((rc = engine_purchase_stats(e, customer_id, &count, &first, &last)) != STORE_OK ||
	    (rc = engine_customer(e, customer_id, &customer)) != STORE_OK)
		return rc;
	/* A copy: the customer's "stage" is replaced below, and the old one is still needed. */
	const char *prev_ref = json_string_value(json_object_get(customer, "stage"));
	char *prev = prev_ref ? xstrdup(prev_ref) : NULL;
	const char *since_text = json_string_value(json_object_get(customer, "stage_since"));
	if (since_text != NULL)
		timefmt_parse_rfc3339(since_text, &since);
	const char *stage = stage_compute(&e->stages, count, first, last, prev, since, now, &next);
	rc = store_timer_set(e->store, "", customer_id, next);
	if (rc == STORE_OK && prev != NULL && strcmp(prev, stage) == 0) {
		free(prev);
		engine_customer_keep(e, customer_id,
				     customer); /* unchanged: the event's next read */
		return rc;
	}
	if (rc != STORE_OK ||
	    (rc = store_stage_set(e->store, customer_id, stage, now)) != STORE_OK) {
		free(prev);
		json_decref(customer);
		return rc;
	}
	log_debug("engine: customer %s: stage %s -> %s",
		  json_string_value(json_object_get(customer, "id")), prev ? prev : "-", stage);
	json_object_set_new(customer, "stage", json_string(stage));
	/* Where customer_context_json puts it: before "consent", a store read's order. */
	json_t *consent = json_incref(json_object_get(customer, "consent"));
	json_object_del(customer, "consent");
	json_object_set_new(customer, "stage_since", store_json_utc(now));
	json_object_set_new(customer, "consent", consent);
	char when[40];
	timefmt_format_utc(now, when, sizeof(when));
	json_t *event =
	    json_pack("{s:s,s:s,s:s,s:{s:s,s:s}}", "id", when, "type", "stage_changed", "time",
		      when, "properties", "from", prev ? prev : "", "to", stage);
	struct store_event ev = {.customer_id = customer_id,
				 .customer =
				     (char *)json_string_value(json_object_get(customer, "id")),
				 .key = "",
				 .type = "stage_changed",
				 .time_ms = now};
	int entered = 0;
	for (size_t i = 0; e->campaigns && i < e->campaigns->n && rc == STORE_OK; i++) {
		const struct campaign *c = e->campaigns->v[i];
		if (engine_active(e, c) && c->trigger.kind == TRIGGER_STAGE &&
		    strcmp(c->trigger.stage, stage) == 0) {
			rc = engine_enter(e, c, &ev, customer, event);
			entered = 1;
		}
	}
	json_decref(event);
	/* As stored now, unless a journey's steps wrote to the customer since. */
	if (rc == STORE_OK && !entered)
		engine_customer_keep(e, customer_id, customer);
	else
		json_decref(customer);
	free(prev);
	return rc;
}
