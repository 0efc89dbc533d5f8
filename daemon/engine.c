#include "experiment.h"
#include "store_json.h"
#include "engine.h"
#include "engine_int.h"
#include "engine_prefetch.h"

#include <glib.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "campaign.h"
#include "clock.h"
#include "condition.h"
#include "config.h"
#include "broadcast.h"
#include "cron.h"
#include "diag.h"
#include "log.h"
#include "metrics.h"
#include "mime.h"
#include "mimepool.h"
#include "compose.h"
#include "message_queue.h"
#include "timefmt.h"
#include "util.h"

/* Steps one journey may run in one go: a branch loop in a campaign cannot hang the engine. */
#define ENGINE_MAX_STEPS 64

struct engine *
engine_new(struct store *s, const struct campaign_set *campaigns, const struct clock *clock,
	   const char *msgid_domain)
{
	struct engine *e = xcalloc(1, sizeof(*e));
	e->store = s;
	e->campaigns = campaigns;
	e->clock = clock;
	e->msgid_domain = xstrdup(msgid_domain);
	stage_rules_default(&e->stages);
	return e;
}

void
engine_free(struct engine *e)
{
	if (e == NULL)
		return;
	for (size_t i = 0; i < e->n_old; i++)
		campaign_free(e->old[i]);
	free(e->old);
	free(e->msgid_domain);
	if (e->paused != NULL)
		g_hash_table_destroy(e->paused);
	if (e->exit_by_type != NULL)
		g_hash_table_destroy(e->exit_by_type);
	engine_prefetch_clear(e);
	free(e);
}

const struct campaign *
engine_running_campaign(struct engine *e, const char *id)
{
	return e->campaigns ? campaign_set_find(e->campaigns, id) : NULL;
}

void
engine_set_compose(struct engine *e, const struct compose_ctx *cx)
{
	e->cx = cx;
}

void
engine_set_observer(struct engine *e, engine_observer fn, void *arg)
{
	e->observe = fn;
	e->observe_arg = arg;
}

void
engine_set_cap(struct engine *e, int max, int64_t per_ms)
{
	e->cap_max = max;
	e->cap_per_ms = per_ms;
}

void
engine_set_stages(struct engine *e, const struct stage_rules *r)
{
	e->stages = *r;
}

void
engine_set_campaigns(struct engine *e, const struct campaign_set *campaigns)
{
	e->campaigns = campaigns;
}

/* Reads a campaign file back as text: the definition kept with its version. */
static char *
engine_read_file(const char *path)
{
	gchar *text = NULL;
	if (!g_file_get_contents(path, &text, NULL, NULL))
		return NULL;
	char *copy = xstrdup(text);
	g_free(text);
	return copy;
}

static void
engine_ptr_array_free(gpointer p)
{
	g_ptr_array_free(p, TRUE);
}

/*
 * Which campaigns exit on which event types, over every version in the store (a journey
 * finishes on the version it began with, whose exit_on may differ from the file's now).
 */
static enum store_status
engine_load_exits(struct engine *e)
{
	json_t *map, *types;
	const char *cid, *type;
	void *tmp;
	struct exit_event *pairs = NULL;
	size_t n_pairs = 0;
	enum store_status rc = store_exit_events(e->store, &pairs, &n_pairs);

	if (rc != STORE_OK)
		return rc;
	/* {"CAMPAIGN": {"TYPE": true}}: each pair once. */
	map = json_object();
	for (size_t i = 0; i < n_pairs; i++) {
		json_t *cur = json_object_get(map, pairs[i].campaign_id);
		if (cur == NULL)
			json_object_set_new(map, pairs[i].campaign_id, cur = json_object());
		json_object_set_new(cur, pairs[i].type, json_true());
	}
	exit_events_free(pairs, n_pairs);
	if (e->exit_by_type != NULL)
		g_hash_table_destroy(e->exit_by_type);
	e->exit_by_type =
	    g_hash_table_new_full(g_str_hash, g_str_equal, g_free, engine_ptr_array_free);
	/* The running versions as loaded, too (a campaign without a file keeps "{}"). */
	for (size_t i = 0; e->campaigns && i < e->campaigns->n; i++) {
		const struct campaign *c = e->campaigns->v[i];
		json_t *cur = json_object_get(map, c->id);
		if (cur == NULL)
			json_object_set_new(map, c->id, cur = json_object());
		for (size_t k = 0; k < c->n_exit_on; k++)
			json_object_set_new(cur, c->exit_on[k].event, json_true());
	}
	json_object_foreach_safe(map, tmp, cid, types)
	{
		json_t *v;
		json_object_foreach(types, type, v)
		{
			GPtrArray *ids = g_hash_table_lookup(e->exit_by_type, type);
			if (ids == NULL) {
				ids = g_ptr_array_new_with_free_func(g_free);
				g_hash_table_insert(e->exit_by_type, g_strdup(type), ids);
			}
			g_ptr_array_add(ids, g_strdup(cid));
		}
	}
	json_decref(map);
	return STORE_OK;
}

/* Records each campaign's version and releases what resumed campaigns held. */
enum store_status
engine_register(struct engine *e)
{
	enum store_status rc = engine_refresh_pauses(e);
	for (size_t i = 0; e->campaigns && i < e->campaigns->n && rc == STORE_OK; i++) {
		const struct campaign *c = e->campaigns->v[i];
		char *text = c->file ? engine_read_file(c->file) : NULL;
		rc = store_campaign_version_save(e->store, c->id, c->version, text ? text : "{}",
						 clock_now(e->clock));
		free(text);
		/* A campaign that is active again runs what it held while paused. */
		int released = 0;
		if (rc == STORE_OK && engine_active(e, c))
			rc =
			    store_journeys_release(e->store, c->id, clock_now(e->clock), &released);
		if (released > 0)
			log_info("campaign '%s' resumed: %d held journeys run now", c->id,
				 released);
		if (rc == STORE_OK &&
		    (c->trigger.kind == TRIGGER_CRON || c->trigger.kind == TRIGGER_ANNIVERSARY))
			rc = engine_schedule(e, c);
	}
	if (rc == STORE_OK)
		rc = engine_load_exits(e);
	return rc;
}

/*
 * The per-campaign counters, at the notes: an entry, a queued send, a skipped one (a step's
 * skip; quiet hours and a deferring cap only postpone the step, entry refusals enter nothing).
 */
static void
engine_count_note(const struct journey_note *n)
{
	const char *state = NULL;
	if (n->action == NOTE_ENTER)
		metrics_inc_labelled(M_CAMPAIGN_ENTERED, "campaign", n->campaign_id, NULL, NULL, 1);
	else if (n->action == NOTE_SEND)
		state = outbox_state_name(OUTBOX_QUEUED);
	else if (n->action == NOTE_SKIP && n->step_id != NULL && n->reason != NULL &&
		 strcmp(n->reason, "quiet_hours") != 0 &&
		 strcmp(n->reason, "frequency_cap_deferred") != 0)
		state = outbox_state_name(OUTBOX_SKIPPED);
	if (state != NULL)
		metrics_inc_labelled(M_CAMPAIGN_MESSAGES, "campaign", n->campaign_id, "state",
				     state, 1);
}

/* Writes a note and tells the observer: the engine's "why" for everything it does. */
enum store_status
engine_note(struct engine *e, const struct journey *j, const char *customer, const char *step_id,
	    enum note_action action, const char *reason, const char *channel, const char *tmpl)
{
	struct journey_note n = {.journey_id = j->id,
				 .customer_id = j->customer_id,
				 .campaign_id = j->campaign_id,
				 .step_id = step_id,
				 .action = action,
				 .reason = reason,
				 .channel = channel,
				 .template = tmpl,
				 .at_ms = clock_now(e->clock)};
	engine_goals_touched(e, j->customer_id);
	enum store_status rc = store_journey_note(e->store, &n);
	if (rc == STORE_OK)
		engine_count_note(&n);
	if (rc == STORE_OK && e->observe)
		e->observe(&n, customer, e->observe_arg);
	return rc;
}

/* The event as journeys keep it and conditions see it under "event". */
static json_t *
engine_event_json(const struct store_event *ev)
{
	char when[40];
	timefmt_format_utc(ev->time_ms, when, sizeof(when));
	return json_pack("{s:s,s:s,s:s,s:O}", "id", ev->key, "type", ev->type, "time", when,
			 "properties", ev->properties);
}

struct engine_count_arg {
	struct engine *e;
	int64_t customer_id;
	json_t *customer;
	json_t *journey; /* or NULL: a count's where may compare with the journey too */
};

/* Events looked at for one count with a "where" at most: conditions stay cheap. */
#define ENGINE_COUNT_SCAN 10000

/*
 * History counts for conditions: events of a type within a window before now; with WHERE,
 * only those for which it holds ("event" bound to each counted event).
 */
static long
engine_count(const char *type, int64_t within_ms, const struct cond *where, void *arg)
{
	struct engine_count_arg *a = arg;
	int64_t since = clock_now(a->e->clock) - within_ms;
	struct store_event *evs = NULL;
	size_t n = 0;
	long count = 0;

	if (where == NULL)
		return store_events_count(a->e->store, a->customer_id, type, since);
	if (store_events_of(a->e->store, a->customer_id, type, since, ENGINE_COUNT_SCAN, &evs,
			    &n) != STORE_OK)
		return -1;
	for (size_t i = 0; i < n; i++) {
		json_t *event = engine_event_json(&evs[i]);
		json_t *root = json_pack("{s:O,s:o}", "customer", a->customer, "event", event);
		if (a->journey != NULL)
			json_object_set(root, "journey", a->journey);
		struct cond_ctx ctx = {.root = root};
		count += cond_eval(where, &ctx);
		json_decref(root);
	}
	store_events_free(evs, n);
	return count;
}

/* Builds the condition context {"customer", "event", "journey"} and evaluates COND. */
int
engine_eval(struct engine *e, const struct cond *cond, json_t *customer, json_t *event,
	    const struct journey *j, int64_t customer_id)
{
	struct engine_count_arg ca = {e, customer_id, customer, NULL};
	json_t *root;
	int v;

	if (cond == NULL)
		return 1;
	root = json_pack("{s:O,s:O}", "customer", customer, "event", event ? event : json_null());
	if (j != NULL) {
		char when[40];
		timefmt_format_utc(j->entered_ms, when, sizeof(when));
		json_object_set_new(root, "journey",
				    json_pack("{s:s,s:s,s:s,s:O}", "campaign", j->campaign_id,
					      "entered", when, "key", j->key ? j->key : "",
					      "trigger", j->trigger ? j->trigger : json_null()));
		ca.journey = json_object_get(root, "journey");
	}
	struct cond_ctx ctx = {.root = root, .count = engine_count, .count_arg = &ca};
	v = cond_eval(cond, &ctx);
	json_decref(root);
	return v;
}

static void
engine_finish(struct engine *e, struct journey *j, const char *reason)
{
	j->active = 0;
	j->exited_ms = clock_now(e->clock);
	j->due_ms = -1;
	free(j->wait_event);
	j->wait_event = NULL;
	free(j->exit_reason);
	j->exit_reason = xstrdup(reason);
}

/*
 * The frequency cap across campaigns: *UNTIL is -1 when a non-transactional message may go
 * now, else when the oldest message in the window leaves it.
 */
static enum store_status
engine_capped(struct engine *e, const struct campaign *c, const struct journey *j, int64_t *until)
{
	int64_t now = clock_now(e->clock), oldest = -1;
	long count = 0;
	enum store_status rc;

	*until = -1;
	if (c->transactional || e->cap_max <= 0)
		return STORE_OK;
	rc = store_marketing_sent(e->store, j->customer_id, now - e->cap_per_ms, e->cap_max, &count,
				  &oldest);
	if (rc == STORE_OK && count >= e->cap_max && oldest >= 0)
		*until = oldest + e->cap_per_ms + 1;
	return rc;
}

/* Whether CHANNEL reaches the operator rather than the customer (the channel's "internal"). */
static int
engine_internal(const struct engine *e, const char *channel)
{
	return message_channel_internal(e->cx, channel);
}

/*
 * A send step: the message is decided, rendered and queued by message_queue (the one send
 * path), in the caller's transaction; the note says what came of it. The ledger (journey,
 * step, visit) makes a replay of the same visit a no-op.
 */
static enum store_status
engine_send(struct engine *e, const struct campaign *c, struct journey *j, const struct step *st,
	    const char *customer_name, json_t *customer)
{
	struct message_req r = {.campaign = c,
				.journey_id = j->id,
				.customer_id = j->customer_id,
				.campaign_id = c->id,
				.step_id = st->id,
				.visit = j->visit,
				.channel = st->channel,
				.template = st->template,
				.customer = customer,
				.event = j->event ? j->event : j->trigger,
				.journey = j,
				.transactional = c->transactional,
				.msgid_domain = e->msgid_domain,
				.now_ms = clock_now(e->clock),
				.suppressed = engine_suppressed(
				    e, json_string_value(json_object_get(customer, "email")))};
	struct message_res res;
	struct assignment a = {0};
	enum store_status rc = STORE_OK;

	/* The journey's arm, as recorded at entry: the holdout gets nothing, a variant its own. */
	if (experiment_active(c) && (rc = store_assignment_get(e->store, j->id, &a)) == STORE_OK) {
		const struct variant *v =
		    experiment_variant(st, json_string_value(json_object_get(a.variants, st->id)));
		r.variant = a.arm;
		r.holdout = strcmp(a.arm, "holdout") == 0;
		if (v != NULL && v->template != NULL)
			r.template = v->template;
		if (v != NULL)
			r.subject = v->subject_tmpl;
	} else if (rc != STORE_OK && rc != STORE_NOTFOUND)
		return rc;
	rc = message_queue(e->store, e->cx, e->mp, &r, &res);

	if (rc == STORE_OK && res.duplicate)
		rc = engine_note(e, j, customer_name, st->id, NOTE_SKIP, "already_sent",
				 st->channel, st->template);
	else if (rc == STORE_OK && res.state == OUTBOX_SKIPPED)
		rc = engine_note(e, j, customer_name, st->id, NOTE_SKIP, res.reason, st->channel,
				 st->template);
	else if (rc == STORE_OK) {
		e->queued++;
		rc = engine_note(e, j, customer_name, st->id, NOTE_SEND, NULL, st->channel,
				 r.template);
	}
	message_res_clear(&res);
	assignment_clear(&a);
	return rc;
}

void
engine_set_mimepool(struct engine *e, struct mimepool *mp)
{
	e->mp = mp;
}

/* A built payload into its row; a refused build makes the message a skip with the reason. */
static int
engine_payload(int64_t id, const char *payload, size_t len, const char *err, void *arg)
{
	struct engine *e = arg;
	enum store_status rc;

	if (err == NULL)
		return store_outbox_payload_add(e->store, id, payload, len);
	char *reason = xasprintf("invalid_header: %s", err);
	log_warnx("outbox %lld: %s", (long long)id, reason);
	rc = store_outbox_refuse(e->store, id, reason);
	free(reason);
	e->queued--;
	return rc;
}

enum store_status
engine_flush(struct engine *e)
{
	if (e->mp == NULL)
		return STORE_OK;
	return (enum store_status)mimepool_drain(e->mp, engine_payload, e);
}

void
engine_abandon(struct engine *e)
{
	if (e->mp != NULL)
		mimepool_drain(e->mp, NULL, NULL);
}

long
engine_take_queued(struct engine *e)
{
	long n = e->queued;
	e->queued = 0;
	return n;
}

/* Applies an update step to the customer's attributes ("tags" is an attribute too). */
static enum store_status
engine_update(struct engine *e, const struct step *st, json_t *customer)
{
	json_t *attrs = json_object(),
	       *tags = json_object_get(json_object_get(customer, "attributes"), "tags");
	json_t *newtags = json_is_array(tags) ? json_deep_copy(tags) : json_array();
	size_t i;
	json_t *t;
	int64_t id;
	enum store_status rc;

	if (st->set)
		json_object_update(attrs, st->set);
	json_array_foreach(st->tags_add, i, t)
	{
		size_t k;
		json_t *have;
		int found = 0;
		json_array_foreach(newtags, k, have) found |= json_equal(have, t);
		if (!found)
			json_array_append(newtags, t);
	}
	json_array_foreach(st->tags_remove, i, t)
	{
		for (size_t k = json_array_size(newtags); k-- > 0;)
			if (json_equal(json_array_get(newtags, k), t))
				json_array_remove(newtags, k);
	}
	if (st->tags_add || st->tags_remove)
		json_object_set(attrs, "tags", newtags);
	json_decref(newtags);
	json_t *fields = json_pack("{s:o}", "attributes", attrs);
	rc = store_customer_upsert(e->store, json_string_value(json_object_get(customer, "id")),
				   fields, clock_now(e->clock), &id);
	json_decref(fields);
	return rc;
}

/*
 * Runs a journey's steps from j->step until it must wait or ends, then saves it once. The
 * caller's transaction covers it all: the outbox row and the step pointer move together.
 */
/*
 * The first time a journey runs a step, the step counts one more journey passed (issue 22's
 * campaign page); the journey keeps the steps it passed, so a loop back does not count again.
 */
static enum store_status
engine_pass(struct engine *e, const struct campaign *c, struct journey *j)
{
	size_t byte = (size_t)j->step / 8;
	unsigned char bit = (unsigned char)(1u << (j->step % 8));

	if (byte < j->n_passed && (j->passed[byte] & bit))
		return STORE_OK;
	if (byte >= j->n_passed) {
		j->passed = xrealloc(j->passed, byte + 1);
		memset(j->passed + j->n_passed, 0, byte + 1 - j->n_passed);
		j->n_passed = byte + 1;
	}
	j->passed[byte] |= bit;
	return store_measure_count(e->store, c->id, c->steps[j->step].id, "", "passed", 1);
}

static enum store_status
engine_advance(struct engine *e, const struct campaign *c, struct journey *j, json_t *customer)
{
	const char *cname = json_string_value(json_object_get(customer, "id"));
	int64_t now = clock_now(e->clock);
	/* Waits count from when the step was due, so late processing does not shift the plan. */
	int64_t at = j->due_ms >= 0 ? j->due_ms : now;
	enum store_status rc = STORE_OK;

	for (int guard = 0; j->active && rc == STORE_OK; guard++) {
		if (guard == ENGINE_MAX_STEPS) {
			rc = engine_note(e, j, cname, NULL, NOTE_EXIT, "step_limit", NULL, NULL);
			engine_finish(e, j, "step_limit");
			break;
		}
		if (j->step < 0 || (size_t)j->step >= c->n_steps) {
			engine_finish(e, j, "completed");
			rc = engine_note(e, j, cname, NULL, NOTE_EXIT, "completed", NULL, NULL);
			break;
		}
		const struct step *st = &c->steps[j->step];
		j->visit++;
		if ((rc = engine_pass(e, c, j)) != STORE_OK)
			break;
		switch (st->kind) {
		case STEP_SEND: {
			const struct campaign *cur = campaign_set_find(e->campaigns, c->id);
			if (cur != NULL && engine_paused(e, cur)) {
				/* Held at this send until the campaign is resumed (even when an
				 * awaited event moved the journey here). */
				j->visit--;
				j->due_ms = -1;
				return engine_journey_save(e, j);
			}
			/* The operator's own channels keep no customer's quiet hours or cap. */
			int internal = engine_internal(e, st->channel);
			int64_t quiet = internal ? -1 : engine_quiet_until(c, customer, now);
			if (quiet >= 0 &&
			    !(j->due_ms >= 0 && now - j->due_ms > c->stale_after_ms)) {
				/* Deferred, not dropped: the same step runs when the window ends.
				 */
				rc = engine_note(e, j, cname, st->id, NOTE_SKIP, "quiet_hours",
						 st->channel, st->template);
				j->due_ms = quiet;
				return rc == STORE_OK ? engine_journey_save(e, j) : rc;
			}
			int64_t capped = -1;
			if (j->due_ms >= 0 && now - j->due_ms > c->stale_after_ms)
				rc = engine_note(e, j, cname, st->id, NOTE_SKIP, "stale",
						 st->channel, st->template);
			else if (!internal && (rc = engine_capped(e, c, j, &capped)) != STORE_OK)
				break;
			else if (capped >= 0 && !c->on_cap_skip) {
				/* Deferred until the oldest message leaves the window. */
				rc = engine_note(e, j, cname, st->id, NOTE_SKIP,
						 "frequency_cap_deferred", st->channel,
						 st->template);
				j->visit--;
				j->due_ms = capped;
				return rc == STORE_OK ? engine_journey_save(e, j) : rc;
			} else if (capped >= 0)
				rc = engine_note(e, j, cname, st->id, NOTE_SKIP, "frequency_cap",
						 st->channel, st->template);
			else
				rc = engine_send(e, c, j, st, cname, customer);
			j->step = st->next;
			break;
		}
		case STEP_WAIT:
			if (st->wait == WAIT_EVENT) {
				free(j->wait_event);
				j->wait_event = xstrdup(st->event);
				j->due_ms = st->timeout_ms > 0 ? at + st->timeout_ms : -1;
				return engine_journey_save(e, j);
			}
			if (st->wait == WAIT_DURATION)
				j->due_ms = at + st->duration_ms;
			else {
				const char *tz =
				    json_string_value(json_object_get(customer, "timezone"));
				j->due_ms = engine_next_local_time(
				    at, tz ? tz : c->timezone_default, st->until_minute);
			}
			j->step = st->next;
			return engine_journey_save(e, j);
		case STEP_BRANCH:
			j->step = engine_eval(e, st->cond, customer,
					      j->event ? j->event : j->trigger, j, j->customer_id)
				      ? st->then_step
				      : st->else_step;
			break;
		case STEP_UPDATE:
			rc = engine_update(e, st, customer);
			j->step = st->next;
			break;
		case STEP_EXIT:
			engine_finish(e, j, st->exit_reason ? st->exit_reason : "exit");
			rc =
			    engine_note(e, j, cname, st->id, NOTE_EXIT, j->exit_reason, NULL, NULL);
			break;
		}
	}
	if (rc != STORE_OK)
		return rc;
	return engine_journey_save(e, j);
}

/* Stringifies the journey key taken from the trigger context ("" when the path is absent). */
static char *
engine_key(const struct campaign *c, json_t *customer, json_t *event)
{
	json_t *root, *v;
	char *key;

	if (c->key == NULL)
		return xstrdup("");
	root = json_pack("{s:O,s:O}", "customer", customer, "event", event);
	v = cond_lookup(root, c->key);
	if (v == NULL || json_is_null(v))
		key = xstrdup("");
	else if (json_is_string(v))
		key = xstrdup(json_string_value(v));
	else
		key = json_dumps(v, JSON_COMPACT | JSON_ENCODE_ANY);
	json_decref(root);
	return key;
}

/*
 * A trigger's where. It may compare with {"journey": ...}: the journey the event would start,
 * whose key it gives and whose trigger it is.
 */
static int
engine_trigger_holds(struct engine *e, const struct campaign *c, json_t *customer, json_t *event,
		     int64_t customer_id)
{
	if (!cond_uses_journey(c->trigger.where, NULL))
		return engine_eval(e, c->trigger.where, customer, event, NULL, customer_id);
	struct journey j = {.campaign_id = (char *)c->id,
			    .customer_id = customer_id,
			    .key = engine_key(c, customer, event),
			    .trigger = event,
			    .entered_ms = clock_now(e->clock)};
	int v = engine_eval(e, c->trigger.where, customer, event, &j, customer_id);
	free(j.key);
	return v;
}

/*
 * A journey of a campaign with an experiment gets its arm at entry (experiment.h), recorded
 * with it: its sends read the record, so a later change of weights moves nobody.
 */
static enum store_status
engine_assign(struct engine *e, const struct campaign *c, const struct journey *j,
	      const char *customer)
{
	json_t *variants = NULL;
	enum store_status rc;

	if (!experiment_active(c) || customer == NULL)
		return STORE_OK;
	struct assignment a = {.journey_id = j->id,
			       .customer_id = j->customer_id,
			       .assigned_ms = clock_now(e->clock),
			       .campaign_id = c->id,
			       .exp_version = (char *)c->exp_version,
			       .arm = experiment_assign(c, customer, &variants)};
	a.variants = variants;
	rc = store_assignment_add(e->store, &a);
	if (rc == STORE_OK)
		rc = store_measure_count(e->store, c->id, "*", a.arm, "entered", 1);
	free(a.arm);
	json_decref(variants);
	return rc;
}

/* Enters a customer into a campaign, unless re-entry rules say no (recorded). */
enum store_status
engine_enter(struct engine *e, const struct campaign *c, const struct store_event *ev,
	     json_t *customer, json_t *event)
{
	struct journey j = {0}, old = {0};
	int64_t now = clock_now(e->clock);
	const char *reason = NULL;
	enum store_status rc;

	j.key = engine_key(c, customer, event);
	rc = engine_journey_latest(e, c, ev->customer_id, j.key, &old);
	if (rc == STORE_OK) {
		if (old.active)
			reason = "already_in_journey";
		else if (c->reentry == REENTRY_NEVER)
			reason = "reentry_never";
		else if (c->reentry == REENTRY_AFTER && now - old.entered_ms < c->reentry_after_ms)
			reason = "reentry_too_soon";
	} else if (rc != STORE_NOTFOUND) {
		free(j.key);
		return rc;
	}
	if (reason != NULL) {
		rc = engine_note(e, &old, ev->customer, NULL, NOTE_SKIP, reason, NULL, NULL);
		journey_clear(&old);
		free(j.key);
		return rc;
	}
	journey_clear(&old);
	j.campaign_id = xstrdup(c->id);
	j.version = xstrdup(c->version);
	j.customer_id = ev->customer_id;
	j.active = 1;
	/*
	 * The journey follows the event's timeline: an old event's steps are overdue, so stale.
	 * A future-dated entry (an anniversary) starts then. A due time before 1970 is taken as
	 * 1970: a negative one reads as "not timed" (-1), which would skip the stale rule.
	 */
	j.due_ms = ev->time_ms < 0 ? 0 : ev->time_ms;
	j.on_event = -1;
	j.trigger = json_incref(event);
	j.entered_ms = now;
	j.exited_ms = -1;
	engine_journeys_touched(e, ev->customer_id);
	if ((rc = store_journey_insert(e->store, &j)) == STORE_OK &&
	    (rc = engine_assign(e, c, &j, ev->customer)) == STORE_OK &&
	    (rc = engine_note(e, &j, ev->customer, NULL, NOTE_ENTER, ev->type, NULL, NULL)) ==
		STORE_OK)
		rc = j.due_ms <= now ? engine_advance(e, c, &j, customer) : STORE_OK;
	journey_clear(&j);
	return rc;
}

/*
 * The campaign version a journey started on: the current one, or an older one kept in the
 * store since (a journey finishes on the version it began with). NULL when the campaign was
 * removed: its journeys end.
 */
static const struct campaign *
engine_campaign(struct engine *e, const struct journey *j)
{
	const struct campaign *c =
	    e->campaigns ? campaign_set_find(e->campaigns, j->campaign_id) : NULL;
	char *text = NULL;

	if (c == NULL || strcmp(c->version, j->version) == 0)
		return c;
	for (size_t i = 0; i < e->n_old; i++)
		if (strcmp(e->old[i]->id, j->campaign_id) == 0 &&
		    strcmp(e->old[i]->version, j->version) == 0)
			return e->old[i];
	if (store_campaign_version_load(e->store, j->campaign_id, j->version, &text) != STORE_OK) {
		log_warnx("engine: campaign '%s' version %s is not in the store; using the "
			  "current one",
			  j->campaign_id, j->version);
		return c;
	}
	struct diag d;
	struct campaign_ctx none = {0};
	char *name = xasprintf("campaign '%s' version %s", j->campaign_id, j->version);
	diag_init(&d, name, NULL);
	struct campaign *old = campaign_load_text(name, text, &none, &d);
	for (size_t i = 0; i < d.n; i++)
		log_warnx("engine: %s", d.msgs[i]);
	diag_free(&d);
	free(name);
	free(text);
	if (old == NULL)
		return c;
	e->old = xrealloc(e->old, (e->n_old + 1) * sizeof(*e->old));
	e->old[e->n_old++] = old;
	return old;
}

/* One event: end journeys it exits, wake journeys waiting for it, start journeys it triggers. */
static enum store_status
engine_on_event(struct engine *e, const struct store_event *ev)
{
	struct journey *js = NULL;
	size_t n = 0;
	json_t *customer = NULL, *event = engine_event_json(ev);
	enum store_status rc;

	if ((rc = engine_push_timers(e, ev)) != STORE_OK || (rc = engine_goals(e, ev)) != STORE_OK)
		goto out;
	/* A purchase may move the customer to another stage before the triggers look at them. */
	if (engine_is_purchase(ev->type) &&
	    ((rc = engine_purchase_add(e, ev->customer_id, ev->time_ms)) != STORE_OK ||
	     (rc = engine_stage_update(e, ev->customer_id)) != STORE_OK))
		goto out;
	/* Only the journeys this event can touch: its history does not make it dearer. */
	GPtrArray *exits =
	    e->exit_by_type != NULL ? g_hash_table_lookup(e->exit_by_type, ev->type) : NULL;
	if ((rc = engine_journeys_for_event(e, ev, exits ? (char *const *)exits->pdata : NULL,
					    exits ? exits->len : 0, &js, &n)) != STORE_OK)
		goto out;
	/* Most events concern no journey and no trigger: then the customer need not be read. */
	int triggers = 0;
	for (size_t i = 0; e->campaigns && i < e->campaigns->n && !triggers; i++)
		triggers = e->campaigns->v[i]->trigger.kind == TRIGGER_EVENT &&
			   strcmp(e->campaigns->v[i]->trigger.event, ev->type) == 0;
	if (n == 0 && !triggers)
		goto out;
	if ((rc = engine_customer(e, ev->customer_id, &customer)) != STORE_OK)
		goto out;
	for (size_t i = 0; i < n && rc == STORE_OK; i++) {
		struct journey *j = &js[i];
		const struct campaign *c = engine_campaign(e, j);
		if (c == NULL)
			continue; /* a removed campaign's journeys end when they are next due */
		int exited = 0;
		for (size_t k = 0; k < c->n_exit_on && !exited; k++)
			if (strcmp(c->exit_on[k].event, ev->type) == 0 &&
			    engine_eval(e, c->exit_on[k].where, customer, event, j,
					ev->customer_id)) {
				char *reason = xasprintf("exit_on:%s", ev->type);
				engine_finish(e, j, reason);
				rc = engine_note(e, j, ev->customer, NULL, NOTE_EXIT, reason, NULL,
						 NULL);
				free(reason);
				if (rc == STORE_OK)
					rc = engine_journey_save(e, j);
				exited = 1;
			}
		if (exited || j->wait_event == NULL || strcmp(j->wait_event, ev->type) != 0)
			continue;
		const struct step *st = &c->steps[j->step];
		if (!engine_eval(e, st->where, customer, event, j, ev->customer_id))
			continue;
		free(j->wait_event);
		j->wait_event = NULL;
		json_decref(j->event);
		j->event = json_incref(event); /* from here on, "event" is the one that came */
		j->step = st->on_event;
		j->due_ms = clock_now(e->clock);
		rc = engine_advance(e, c, j, customer);
	}
	for (size_t i = 0; e->campaigns && i < e->campaigns->n && rc == STORE_OK; i++) {
		const struct campaign *c = e->campaigns->v[i];
		if (!engine_active(e, c) || c->trigger.kind != TRIGGER_EVENT ||
		    strcmp(c->trigger.event, ev->type) != 0)
			continue;
		if (engine_trigger_holds(e, c, customer, event, ev->customer_id))
			rc = engine_enter(e, c, ev, customer, event);
	}
out:
	journeys_free(js, n);
	json_decref(customer);
	json_decref(event);
	return rc;
}

enum store_status
engine_consume(struct engine *e, int limit, int *n)
{
	struct store_event *evs = NULL;
	size_t cnt = 0;
	int64_t cursor;
	enum store_status rc;

	*n = 0;
	if ((rc = store_cursor_get(e->store, &cursor)) != STORE_OK ||
	    (rc = store_events_after(e->store, cursor, limit, &evs, &cnt)) != STORE_OK)
		return rc;
	if (cnt > 0) {
		int64_t *ids = xcalloc(cnt, sizeof(*ids));
		for (size_t i = 0; i < cnt; i++)
			ids[i] = evs[i].customer_id;
		rc = engine_prefetch(e, ids, cnt);
		free(ids);
		if (rc == STORE_OK)
			rc = engine_prefetch_journeys(e, evs, cnt);
		if (rc == STORE_OK)
			rc = engine_prefetch_purchases(e, evs, cnt);
		if (rc == STORE_OK)
			rc = engine_prefetch_latest(e, evs, cnt);
		if (rc == STORE_OK)
			rc = engine_prefetch_goals(e, evs, cnt);
	}
	for (size_t i = 0; i < cnt && rc == STORE_OK; i++) {
		rc = engine_on_event(e, &evs[i]);
		cursor = evs[i].seq;
	}
	engine_prefetch_clear(e);
	if (rc == STORE_OK && cnt > 0)
		rc = store_cursor_set(e->store, cursor);
	*n = (int)cnt;
	store_events_free(evs, cnt);
	return rc;
}

/* A journey whose time has come: a wait ended, an awaited event timed out, or a held step. */
static enum store_status
engine_run_one(struct engine *e, struct journey *j)
{
	const struct campaign *c = engine_campaign(e, j);
	json_t *customer = NULL;
	enum store_status rc;

	if ((rc = engine_customer(e, j->customer_id, &customer)) != STORE_OK)
		return rc;
	const char *cname = json_string_value(json_object_get(customer, "id"));
	if (c == NULL) {
		engine_finish(e, j, "campaign_removed");
		rc = engine_note(e, j, cname, NULL, NOTE_EXIT, "campaign_removed", NULL, NULL);
		if (rc == STORE_OK)
			rc = engine_journey_save(e, j);
	} else if (engine_paused(e, campaign_set_find(e->campaigns, c->id))) {
		/* Held, not dropped: it runs when the campaign is resumed. Pausing is the current
		 * version's say, whatever version the journey runs on. */
		j->due_ms = -1;
		rc = engine_journey_save(e, j);
	} else {
		if (j->wait_event != NULL) { /* the awaited event did not come in time */
			free(j->wait_event);
			j->wait_event = NULL;
			j->step = c->steps[j->step].on_timeout;
		}
		if (rc == STORE_OK)
			rc = engine_advance(e, c, j, customer);
	}
	json_decref(customer);
	return rc;
}

enum store_status
engine_run_due(struct engine *e, int limit, int *n)
{
	struct journey *js = NULL;
	struct store_timer *ts = NULL;
	size_t cnt = 0, tcnt = 0;
	enum store_status rc;

	struct store_schedule *scs = NULL;
	size_t scnt = 0;
	int fanned = 0;

	*n = 0;
	rc = store_schedules_due(e->store, clock_now(e->clock), &scs, &scnt);
	for (size_t i = 0; i < scnt && rc == STORE_OK; i++)
		rc = engine_fan_out(e, &scs[i], &fanned);
	store_schedules_free(scs, scnt);
	if (rc == STORE_OK)
		rc = broadcast_run_due(e, &fanned); /* issue 17 */
	if (rc == STORE_OK)
		rc = store_timers_due(e->store, clock_now(e->clock), limit, &ts, &tcnt);
	for (size_t i = 0; i < tcnt && rc == STORE_OK; i++)
		rc = engine_fire_timer(e, &ts[i]);
	store_timers_free(ts, tcnt);
	if (rc == STORE_OK)
		rc = store_journeys_due(e->store, clock_now(e->clock), limit, &js, &cnt);
	if (rc == STORE_OK && cnt > 0) {
		int64_t *ids = xcalloc(cnt, sizeof(*ids));
		for (size_t i = 0; i < cnt; i++)
			ids[i] = js[i].customer_id;
		rc = engine_prefetch(e, ids, cnt);
		free(ids);
	}
	for (size_t i = 0; i < cnt && rc == STORE_OK; i++)
		rc = engine_run_one(e, &js[i]);
	engine_prefetch_clear(e);
	*n = (int)(cnt + tcnt) + fanned;
	journeys_free(js, cnt);
	return rc;
}

int64_t
engine_next_due(struct engine *e)
{
	int64_t due;
	return store_journey_next_due(e->store, &due) == STORE_OK ? due : -1;
}
