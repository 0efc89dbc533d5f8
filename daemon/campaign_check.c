/*
 * The campaign format, checked key by key (docs/campaigns.md). Every check reports and carries
 * on, so that one run shows every problem; nothing here trusts a type it has not tested, as the
 * files are written by hand (and fuzzed).
 */
#include <glib.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "experiment.h"
#include "campaign_int.h"
#include "mime.h"
#include "cron.h"
#include "duration.h"
#include "jsonpos.h"
#include "timefmt.h"
#include "util.h"
#include "validate.h"

static const char *const campaign_trigger_kinds[] = {"event", "cron", "inactive_for",
						     "anniversary_of", "stage_changed_to"};
/* The keys each trigger kind takes besides its own, in the order of campaign_trigger_kinds. */
static const char *const campaign_trigger_extra[][4] = {{"where", NULL},
							{"timezone", "audience", "segment", NULL},
							{"of", NULL},
							{"at", "offset", NULL},
							{NULL}};
static const enum trigger_kind campaign_trigger_enum[] = {
    TRIGGER_EVENT, TRIGGER_CRON, TRIGGER_INACTIVITY, TRIGGER_ANNIVERSARY, TRIGGER_STAGE};
static const char *const campaign_stages[] = {"prospect",  "onboarding", "growing",    "mature",
					      "declining", "lapsed",	 "reactivated"};

/* The trigger: exactly one kind key, and only the keys that kind takes. */
static void
campaign_check_trigger(struct campaign_loader *L, json_t *t)
{
	struct trigger *tr = &L->c->trigger;
	const char *key, *kind = NULL, *what = L->what;
	json_t *v;
	size_t k, kk = 0;

	if (!json_is_object(t)) {
		campaign_error(L, what, "trigger", "'trigger' must be an object, not %s",
			       diag_type_name(t));
		return;
	}
	json_object_foreach(t, key, v)
	{
		for (k = 0; k < NT_ARRAY_LEN(campaign_trigger_kinds); k++)
			if (strcmp(key, campaign_trigger_kinds[k]) == 0)
				break;
		if (k == NT_ARRAY_LEN(campaign_trigger_kinds))
			continue;
		if (kind != NULL) {
			char *sub = campaign_path("trigger", key);
			campaign_error(L, what, sub,
				       "the trigger has both '%s' and '%s'; a campaign has exactly "
				       "one trigger",
				       kind, key);
			free(sub);
			return;
		}
		kind = key;
		kk = k;
	}
	if (kind == NULL) {
		campaign_error(L, what, "trigger",
			       "'trigger' needs one of event, cron, inactive_for, anniversary_of, "
			       "stage_changed_to");
		return;
	}
	tr->kind = campaign_trigger_enum[kk];
	tr->at_minute = 9 * 60;
	json_object_foreach(t, key, v)
	{
		char *sub = campaign_path("trigger", key);
		const char *const *extra = campaign_trigger_extra[kk];
		int known = strcmp(key, kind) == 0;
		for (k = 0; !known && extra[k] != NULL; k++)
			known = strcmp(key, extra[k]) == 0;
		if (!known) {
			int other = 0;
			for (k = 0; k < NT_ARRAY_LEN(campaign_trigger_extra); k++)
				for (size_t j = 0; campaign_trigger_extra[k][j] != NULL; j++)
					other |= strcmp(key, campaign_trigger_extra[k][j]) == 0;
			if (other)
				campaign_error(L, what, sub,
					       "'%s' does not apply to a '%s' trigger", key, kind);
			else
				campaign_error(L, what, sub, "unknown key '%s' in 'trigger'", key);
		} else if (strcmp(key, "event") == 0)
			campaign_check_text(L, what, sub, key, v, validate_event_type,
					    CAMPAIGN_EXPECT_EVENT, &tr->event);
		else if (strcmp(key, "where") == 0 || strcmp(key, "audience") == 0)
			tr->where = campaign_check_cond(L, what, sub, v);
		else if (strcmp(key, "segment") == 0) { /* issue 17: a saved audience */
			if (json_object_get(t, "audience") != NULL)
				campaign_error(L, what, sub,
					       "'segment' and 'audience' exclude each other");
			else
				campaign_check_text(L, what, sub, key, v, validate_customer_id,
						    "a segment id", &tr->segment);
		} else if (strcmp(key, "cron") == 0) {
			char err[256] = "";
			if (campaign_check_text(L, what, sub, key, v, NULL, "a cron expression",
						NULL) == 0 &&
			    (tr->cron = cron_parse(json_string_value(v), err, sizeof(err))) == NULL)
				campaign_error(L, what, sub, "invalid cron '%.80s': %s",
					       json_string_value(v), err);
		} else if (strcmp(key, "timezone") == 0)
			campaign_check_text(L, what, sub, key, v, timefmt_valid_timezone,
					    "a known IANA time zone", &tr->timezone);
		else if (strcmp(key, "inactive_for") == 0)
			campaign_check_duration(L, what, sub, key, v, 0, &tr->inactive_ms);
		else if (strcmp(key, "of") == 0) {
			size_t i;
			json_t *e;
			if (!json_is_array(v) || json_array_size(v) == 0) {
				campaign_error(L, what, sub,
					       "'of' must be a non-empty array of event types");
			} else {
				tr->of = xcalloc(json_array_size(v), sizeof(char *));
				json_array_foreach(v, i, e)
				{
					char *esub = xasprintf("%s[%zu]", sub, i);
					if (campaign_check_text(L, what, esub, "of", e,
								validate_event_type,
								CAMPAIGN_EXPECT_EVENT, NULL) == 0)
						tr->of[tr->n_of++] = xstrdup(json_string_value(e));
					free(esub);
				}
			}
		} else if (strcmp(key, "anniversary_of") == 0) {
			const char *s = campaign_str(v);
			if (s != NULL && (strcmp(s, "customer.birthday") == 0 ||
					  strcmp(s, "first_purchase") == 0))
				tr->anniversary_of = xstrdup(s);
			else
				campaign_error(L, what, sub,
					       "'anniversary_of' must be \"customer.birthday\" or "
					       "\"first_purchase\"");
		} else if (strcmp(key, "at") == 0)
			campaign_check_hhmm(L, what, sub, key, v, &tr->at_minute);
		else if (strcmp(key, "offset") == 0)
			campaign_check_duration(L, what, sub, key, v, 1, &tr->offset_ms);
		else if (strcmp(key, "stage_changed_to") == 0) {
			const char *s = campaign_str(v);
			for (k = 0; s != NULL && k < NT_ARRAY_LEN(campaign_stages); k++)
				if (strcmp(s, campaign_stages[k]) == 0)
					tr->stage = xstrdup(s);
			if (tr->stage == NULL)
				campaign_error(
				    L, what, sub,
				    "'stage_changed_to' must be one of prospect, onboarding, "
				    "growing, mature, declining, lapsed, reactivated");
		}
		free(sub);
	}
	if (tr->kind == TRIGGER_INACTIVITY && json_object_get(t, "of") == NULL)
		campaign_error(L, what, "trigger.inactive_for",
			       "an 'inactive_for' trigger needs 'of': the event types that count "
			       "as activity");
	if (tr->kind == TRIGGER_CRON && tr->timezone == NULL)
		tr->timezone = xstrdup(L->c->timezone_default);
}

/* exit_on: [TYPE | {"event": TYPE, "where": C}] */
static void
campaign_check_exit_on(struct campaign_loader *L, json_t *v)
{
	struct campaign *c = L->c;
	size_t i;
	json_t *e;

	if (!json_is_array(v)) {
		campaign_error(L, L->what, "exit_on",
			       "'exit_on' must be an array of event types or {\"event\": ..., "
			       "\"where\": ...}, not %s",
			       diag_type_name(v));
		return;
	}
	c->exit_on = xcalloc(json_array_size(v) + 1, sizeof(*c->exit_on));
	json_array_foreach(v, i, e)
	{
		char *path = xasprintf("exit_on[%zu]", i);
		struct exit_rule *r = &c->exit_on[c->n_exit_on++];
		if (json_is_string(e))
			campaign_check_text(L, L->what, path, "exit_on", e, validate_event_type,
					    CAMPAIGN_EXPECT_EVENT, &r->event);
		else if (json_is_object(e)) {
			const char *key;
			json_t *x;
			json_object_foreach(e, key, x)
			{
				char *sub = campaign_path(path, key);
				if (strcmp(key, "event") == 0)
					campaign_check_text(L, L->what, sub, key, x,
							    validate_event_type,
							    CAMPAIGN_EXPECT_EVENT, &r->event);
				else if (strcmp(key, "where") == 0)
					r->where = campaign_check_cond(L, L->what, sub, x);
				else
					campaign_error(L, L->what, sub,
						       "unknown key '%s' in 'exit_on' (expected "
						       "event, where)",
						       key);
				free(sub);
			}
			if (json_object_get(e, "event") == NULL)
				campaign_error(L, L->what, path,
					       "an 'exit_on' rule needs an 'event'");
		} else
			campaign_error(
			    L, L->what, path,
			    "'exit_on' entries must be an event type or {\"event\": ..., "
			    "\"where\": ...}, not %s",
			    diag_type_name(e));
		free(path);
	}
}

/* "never" | "always" | {"after": DURATION} */
static void
campaign_check_reentry(struct campaign_loader *L, json_t *v)
{
	const char *s = campaign_str(v), *key;
	json_t *x;

	if (s != NULL && strcmp(s, "never") == 0)
		L->c->reentry = REENTRY_NEVER;
	else if (s != NULL && strcmp(s, "always") == 0)
		L->c->reentry = REENTRY_ALWAYS;
	else if (json_is_object(v) && json_object_get(v, "after") != NULL) {
		L->c->reentry = REENTRY_AFTER;
		json_object_foreach(v, key, x)
		{
			char *sub = campaign_path("reentry", key);
			if (strcmp(key, "after") == 0)
				campaign_check_duration(L, L->what, sub, key, x, 0,
							&L->c->reentry_after_ms);
			else
				campaign_error(L, L->what, sub,
					       "unknown key '%s' in 'reentry' (expected after)",
					       key);
			free(sub);
		}
	} else
		campaign_error(L, L->what, "reentry",
			       "'reentry' must be \"never\", \"always\" or {\"after\": DURATION}");
}

/* {"event": TYPE, "within": DURATION} */
static void
campaign_check_goal(struct campaign_loader *L, json_t *v)
{
	const char *key;
	json_t *x;

	if (!json_is_object(v)) {
		campaign_error(L, L->what, "goal",
			       "'goal' must be an object {\"event\": ..., \"within\": ...}, not %s",
			       diag_type_name(v));
		return;
	}
	json_object_foreach(v, key, x)
	{
		char *sub = campaign_path("goal", key);
		if (strcmp(key, "event") == 0)
			campaign_check_text(L, L->what, sub, key, x, validate_event_type,
					    CAMPAIGN_EXPECT_EVENT, &L->c->goal_event);
		else if (strcmp(key, "within") == 0)
			campaign_check_duration(L, L->what, sub, key, x, 0, &L->c->goal_within_ms);
		else if (strcmp(key, "value") == 0) {
			/* The revenue the conversion brings: a number in the event (issue 19). */
			const char *s = json_string_value(x);
			char *full = s ? xasprintf("event.%s", s) : NULL;
			if (s == NULL || strncmp(s, "properties.", 11) != 0 ||
			    cond_check_path(full))
				campaign_error(L, L->what, sub,
					       "'value' must be a dotted path in the event like "
					       "\"properties.total\"");
			else {
				free(L->c->goal_value);
				L->c->goal_value = xstrdup(s);
			}
			free(full);
		} else
			campaign_error(L, L->what, sub,
				       "unknown key '%s' in 'goal' (expected event, within, value)",
				       key);
		free(sub);
	}
	if (json_object_get(v, "event") == NULL || json_object_get(v, "within") == NULL)
		campaign_error(L, L->what, "goal", "'goal' needs both 'event' and 'within'");
}

/* {"from": "HH:MM", "to": "HH:MM"}; from > to wraps midnight. */
static void
campaign_check_quiet(struct campaign_loader *L, json_t *v)
{
	const char *key;
	json_t *x;
	int from = -1, to = -1;

	if (!json_is_object(v)) {
		campaign_error(L, L->what, "quiet_hours",
			       "'quiet_hours' must be an object {\"from\": \"20:00\", \"to\": "
			       "\"08:00\"}, not %s",
			       diag_type_name(v));
		return;
	}
	json_object_foreach(v, key, x)
	{
		char *sub = campaign_path("quiet_hours", key);
		if (strcmp(key, "from") == 0)
			campaign_check_hhmm(L, L->what, sub, key, x, &from);
		else if (strcmp(key, "to") == 0)
			campaign_check_hhmm(L, L->what, sub, key, x, &to);
		else
			campaign_error(L, L->what, sub,
				       "unknown key '%s' in 'quiet_hours' (expected from, to)",
				       key);
		free(sub);
	}
	if (json_object_get(v, "from") == NULL || json_object_get(v, "to") == NULL)
		campaign_error(L, L->what, "quiet_hours",
			       "'quiet_hours' needs both 'from' and 'to'");
	else if (from >= 0 && from == to)
		campaign_error(L, L->what, "quiet_hours",
			       "'quiet_hours' 'from' and 'to' are the same time");
	else if (from >= 0 && to >= 0) {
		L->c->has_quiet_hours = 1;
		L->c->quiet_from = from;
		L->c->quiet_to = to;
	}
}

/* One of NAMES into *OUT (its index), or an error listing them. */
static void
campaign_check_enum(struct campaign_loader *L, const char *key, json_t *v, const char *const *names,
		    size_t n, int *out)
{
	const char *s = campaign_str(v);
	GString *list = g_string_new(NULL);

	for (size_t i = 0; s != NULL && i < n; i++)
		if (strcmp(s, names[i]) == 0) {
			*out = (int)i;
			g_string_free(list, TRUE);
			return;
		}
	for (size_t i = 0; i < n; i++)
		g_string_append_printf(list, "%s\"%s\"",
				       i == 0	    ? ""
				       : i + 1 == n ? " or "
						    : ", ",
				       names[i]);
	campaign_error(L, L->what, key, "'%s' must be %s", key, list->str);
	g_string_free(list, TRUE);
}

/* Keys that must be present; the others have defaults. */
static const char *const campaign_required[] = {"id",	 "name",    "status",
						"topic", "trigger", "steps"};

/*
 * {"journey": "key"} compares with the journey's key: a campaign without a "key" has none,
 * so the condition could never hold. Said where the condition is (after the whole file).
 */
static void
campaign_check_journey_key(struct campaign_loader *L)
{
	const struct campaign *c = L->c;
	const char *why = "{\"journey\": \"key\"} compares with the journey's key, and this "
			  "campaign has none (add a \"key\", e.g. \"event.properties.order_id\")";

	if (c->key != NULL)
		return;
	if (cond_uses_journey(c->trigger.where, "key"))
		campaign_error(L, L->what, "trigger.where", "%s", why);
	for (size_t i = 0; i < c->n_steps; i++) {
		const struct step *st = &c->steps[i];
		char *path = xasprintf("steps[%zu].%s", i,
				       st->kind == STEP_BRANCH ? "branch.if" : "wait.where");
		if (cond_uses_journey(st->kind == STEP_BRANCH ? st->cond : st->where, "key"))
			campaign_error(L, L->what, path, "%s", why);
		free(path);
	}
	for (size_t i = 0; i < c->n_exit_on; i++) {
		char *path = xasprintf("exit_on[%zu].where", i);
		if (cond_uses_journey(c->exit_on[i].where, "key"))
			campaign_error(L, L->what, path, "%s", why);
		free(path);
	}
}

/* Top-level keys in file order, then the trigger and the steps, which depend on them. */
void
campaign_check(struct campaign_loader *L, json_t *root)
{
	static const char *const statuses[] = {"active", "paused", "draft"};
	static const char *const caps[] = {"defer", "skip"};
	struct campaign *c = L->c;
	const char *key;
	json_t *v;
	int e;

	c->locale_default = xstrdup("en");
	c->timezone_default = xstrdup("UTC");
	c->stale_after_ms = 2LL * 24 * 3600 * 1000;
	c->reentry = REENTRY_NEVER;
	c->track_clicks = -1; /* decided below, once 'transactional' is known */
	for (size_t i = 0; i < NT_ARRAY_LEN(campaign_required); i++)
		if (json_object_get(root, campaign_required[i]) == NULL)
			campaign_error(L, L->what, "", "missing key '%s'", campaign_required[i]);
	json_object_foreach(root, key, v)
	{
		if (strcmp(key, "id") == 0)
			campaign_check_text(L, L->what, key, key, v, campaign_valid_id,
					    "a campaign id (1 to 64 of a-z 0-9 _ -)", &c->id);
		else if (strcmp(key, "name") == 0)
			campaign_check_text(L, L->what, key, key, v, campaign_valid_name,
					    "a name of at most 256 bytes", &c->name);
		else if (strcmp(key, "status") == 0) {
			e = 0;
			campaign_check_enum(L, key, v, statuses, 3, &e);
			c->status = (enum campaign_status)e;
		} else if (strcmp(key, "topic") == 0)
			campaign_check_text(L, L->what, key, key, v, validate_topic,
					    "a topic (1 to 64 of a-z 0-9 _ -)", &c->topic);
		else if (strcmp(key, "transactional") == 0) {
			if (json_is_boolean(v))
				c->transactional = json_is_true(v);
			else
				campaign_error(L, L->what, key,
					       "'transactional' must be true or false, not %s",
					       diag_type_name(v));
		} else if (strcmp(key, "track_clicks") == 0) {
			if (json_is_boolean(v))
				c->track_clicks = json_is_true(v);
			else
				campaign_error(L, L->what, key,
					       "'track_clicks' must be true or false, not %s",
					       diag_type_name(v));
		} else if (strcmp(key, "track_clicks_text") == 0) {
			if (json_is_boolean(v))
				c->track_clicks_text = json_is_true(v);
			else
				campaign_error(L, L->what, key,
					       "'track_clicks_text' must be true or false, not %s",
					       diag_type_name(v));
		} else if (strcmp(key, "track_opens") == 0) {
			if (json_is_boolean(v))
				c->track_opens = json_is_true(v);
			else
				campaign_error(L, L->what, key,
					       "'track_opens' must be true or false, not %s",
					       diag_type_name(v));
		} else if (strcmp(key, "holdout") == 0)
			experiment_check_holdout(L, v);
		else if (strcmp(key, "locale_default") == 0)
			campaign_check_text(L, L->what, key, key, v, validate_locale,
					    "a BCP 47 language tag like \"en\" or \"de-CH\"",
					    &c->locale_default);
		else if (strcmp(key, "timezone_default") == 0)
			campaign_check_text(L, L->what, key, key, v, timefmt_valid_timezone,
					    "a known IANA time zone", &c->timezone_default);
		else if (strcmp(key, "stale_after") == 0)
			campaign_check_duration(L, L->what, key, key, v, 0, &c->stale_after_ms);
		else if (strcmp(key, "on_cap") == 0) {
			e = 0;
			campaign_check_enum(L, key, v, caps, 2, &e);
			c->on_cap_skip = e;
		} else if (strcmp(key, "exit_on") == 0)
			campaign_check_exit_on(L, v);
		else if (strcmp(key, "reentry") == 0)
			campaign_check_reentry(L, v);
		else if (strcmp(key, "key") == 0) {
			const char *s = campaign_str(v), *why = NULL;
			if (s == NULL)
				campaign_error(L, L->what, key,
					       "'key' must be a dotted path like "
					       "\"event.properties.order_id\", not %s",
					       diag_type_name(v));
			else if ((why = cond_check_path(s)) != NULL ||
				 (strncmp(s, "journey.", 8) == 0 &&
				  (why = "cannot use \"journey.\": the journey is not there yet")))
				campaign_error(L, L->what, key, "'key': '%.80s' %s", s, why);
			else
				c->key = xstrdup(s);
		} else if (strcmp(key, "reply_to") == 0) {
			const char *s = campaign_str(v), *at = s ? strrchr(s, '@') : NULL;
			c->reply_to_set = 1;
			if (json_is_false(v))
				;
			else if (s == NULL || !mime_addr_valid(s) || at == NULL ||
				 memchr(s, '+', (size_t)(at - s)) != NULL)
				campaign_error(
				    L, L->what, key,
				    "'reply_to' must be an email address without '+' (the "
				    "VERP base), or false for none");
			else
				c->reply_to = xstrdup(s);
		} else if (strcmp(key, "goal") == 0)
			campaign_check_goal(L, v);
		else if (strcmp(key, "quiet_hours") == 0)
			campaign_check_quiet(L, v);
		else if (strcmp(key, "$schema") == 0 || strcmp(key, "description") == 0) {
			if (!json_is_string(v))
				campaign_error(L, L->what, key, "'%s' must be a string", key);
		} else if (strcmp(key, "trigger") != 0 && strcmp(key, "steps") != 0)
			campaign_error(L, L->what, key, "unknown key '%s'", key);
	}
	if (c->track_clicks < 0) /* marketing mail is measured, a receipt is not */
		c->track_clicks = !c->transactional;
	/* After the loop: the trigger's zone defaults to timezone_default. */
	if ((v = json_object_get(root, "trigger")) != NULL)
		campaign_check_trigger(L, v);
	if ((v = json_object_get(root, "steps")) != NULL)
		campaign_check_steps(L, v);
	campaign_check_journey_key(L);
}
