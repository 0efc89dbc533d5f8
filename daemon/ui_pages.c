/*
 * Issue 22: the dashboard's pages about the daemon's work: the overview and the campaigns.
 * Their figures come from the API's handlers (captured, ui_api) and the store's statistics on
 * the reader connection; actions go through the API's handlers too (pause and resume).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <event2/http.h>

#include "api.h"
#include "campaign.h"
#include "daemon.h"
#include "http.h"
#include "store_ui.h"
#include "storeloop.h"
#include "timefmt.h"
#include "ui_int.h"
#include "util.h"

#define DAY_MS 86400000LL

/* A dashboard job on a store loop: the page's view so far, and what the store found. */
struct ui_job {
	struct store_job job; /* first */
	struct http_req *hr;
	json_t *view;
	char *id;
	char *version;
	struct ui_overview ov;
	struct ui_version *versions;
	size_t n_versions;
	char *definition;
	long *now;
	size_t n_now;
};

static struct ui_job *
ui_job_new(struct http_req *hr, json_t *view,
	   enum store_status (*run)(struct store *, struct store_job *),
	   void (*done)(struct store_job *))
{
	struct ui_job *j = xcalloc(1, sizeof(*j));
	j->hr = hr;
	j->view = view;
	j->job.run = run;
	j->job.done = done;
	return j;
}

static void
ui_job_free(struct ui_job *j)
{
	json_decref(j->view);
	free(j->id);
	free(j->version);
	ui_overview_clear(&j->ov);
	ui_versions_free(j->versions, j->n_versions);
	free(j->definition);
	free(j->now);
	free(j);
}

static json_t *
ui_time(int64_t ms)
{
	char buf[40];
	if (ms <= 0)
		return json_null();
	timefmt_format_utc(ms, buf, sizeof(buf));
	return json_string(buf);
}

/* A rate as people read it: "12.5 %", or "–" without a denominator. */
static json_t *
ui_percent(double num, double den)
{
	char buf[32];
	if (den <= 0)
		return json_string("\u2013");
	snprintf(buf, sizeof(buf), "%.1f %%", 100.0 * num / den);
	return json_string(buf);
}

/* --- Overview ------------------------------------------------------------------------- */

static enum store_status
overview_run(struct store *s, struct store_job *job)
{
	struct ui_job *j = (struct ui_job *)job;
	return s->ops->ui->overview(s, util_now_ms(), &j->ov);
}

static void
overview_done(struct store_job *job)
{
	struct ui_job *j = (struct ui_job *)job;
	struct ui_overview *o = &j->ov;
	json_t *v = j->view, *list;
	const char *labels[UI_DAYS];
	char lab[UI_DAYS][8];

	if (job->status != STORE_OK) {
		ui_error(j->hr, 503, "The store is busy; reload the page.");
		ui_job_free(j);
		return;
	}
	for (int i = 0; i < UI_DAYS; i++) {
		char buf[40];
		timefmt_format_utc(o->day0_ms + i * DAY_MS, buf, sizeof(buf));
		snprintf(lab[i], sizeof(lab[i]), "%.5s", buf + 5);
		labels[i] = lab[i];
	}
	char *svg = ui_svg_days(UI_DAYS, labels, o->events, o->messages, "events", "messages");
	json_object_set_new(v, "chart", json_string(svg));
	free(svg);
	long ev30 = 0, msg30 = 0;
	for (int i = 0; i < UI_DAYS; i++) {
		ev30 += o->events[i];
		msg30 += o->messages[i];
	}
	json_object_set_new(v, "events_today", json_integer(o->events[UI_DAYS - 1]));
	json_object_set_new(v, "messages_today", json_integer(o->messages[UI_DAYS - 1]));
	json_object_set_new(v, "events_30", json_integer(ev30));
	json_object_set_new(v, "messages_30", json_integer(msg30));
	list = json_array();
	for (size_t i = 0; i < o->n_by_state; i++)
		json_array_append_new(list, json_pack("{s:s?,s:s?,s:I}", "channel",
						      o->by_state[i].a, "state", o->by_state[i].b,
						      "n", (json_int_t)o->by_state[i].n));
	json_object_set_new(v, "by_state", list);
	list = json_array();
	for (size_t i = 0; i < o->n_queues; i++)
		json_array_append_new(list, json_pack("{s:s?,s:I,s:o}", "channel", o->queues[i].a,
						      "n", (json_int_t)o->queues[i].n, "oldest",
						      ui_time(o->queues[i].oldest_ms)));
	json_object_set_new(v, "queues", list);
	list = json_array();
	for (size_t i = 0; i < o->n_errors; i++)
		json_array_append_new(
		    list,
		    json_pack("{s:I,s:s?,s:s?,s:s?,s:s?,s:o}", "id", (json_int_t)o->errors[i].id,
			      "customer", o->errors[i].customer, "channel", o->errors[i].channel,
			      "state", o->errors[i].state, "reply", o->errors[i].reply, "at",
			      ui_time(o->errors[i].updated_ms)));
	json_object_set_new(v, "errors", list);
	list = json_array();
	for (size_t i = 0; i < o->n_inbound; i++)
		json_array_append_new(list, json_pack("{s:s?,s:I}", "kind", o->inbound[i].a, "n",
						      (json_int_t)o->inbound[i].n));
	json_object_set_new(v, "inbound", list);
	json_object_set_new(v, "suppressions", json_integer(o->suppressions));
	json_object_set_new(v, "suppressions_added", json_integer(o->suppressions_added));
	json_object_set_new(v, "recipients", json_integer(o->recipients));
	json_object_set_new(v, "clicks", json_integer(o->clicks));
	json_object_set_new(v, "clicked", json_integer(o->clicked));
	json_object_set_new(v, "click_rate", ui_percent((double)o->clicked, (double)o->recipients));
	j->view = NULL;
	ui_render(j->hr, "overview", v);
	ui_job_free(j);
}

/* /v1/status first (the outbox by state, the channels), then the store's figures. */
static void
overview_status(struct http_req *hr, int code, json_t *body, void *arg)
{
	(void)arg;
	if (ui_api_failed(hr, code, body))
		return;
	json_t *view = json_pack("{s:o}", "status", body);
	json_t *states = json_array(), *v;
	const char *k;
	json_object_foreach(json_object_get(body, "outbox"), k, v)
	    json_array_append_new(states, json_pack("{s:s,s:O}", "state", k, "n", v));
	json_object_set_new(view, "outbox", states);
	struct ui_job *j = ui_job_new(hr, view, overview_run, overview_done);
	storeloop_submit(daemon_readloop(hr->d), &j->job);
}

void
ui_overview(struct http_req *hr)
{
	ui_api(hr, api_status, NULL, NULL, overview_status, NULL);
}

/* --- Campaigns ------------------------------------------------------------------------- */

static void
campaigns_got(struct http_req *hr, int code, json_t *body, void *arg)
{
	(void)arg;
	if (ui_api_failed(hr, code, body))
		return;
	json_t *c;
	size_t i;
	json_array_foreach(json_object_get(body, "campaigns"), i, c)
	{
		const char *st = json_string_value(json_object_get(c, "status"));
		json_object_set_new(c, "paused", json_boolean(st && strcmp(st, "paused") == 0));
		json_object_set_new(c, "running", json_boolean(st && strcmp(st, "active") == 0));
	}
	ui_render(hr, "campaigns", body);
}

/*
 * The campaigns with their journeys (GET /v1/campaigns); sent and converted per campaign
 * come from each one's statistics, asked one after the other.
 */
struct campaigns_walk {
	json_t *body;
	size_t i;
};

static void campaigns_next(struct http_req *hr, struct campaigns_walk *w);

static void
campaigns_stats(struct http_req *hr, int code, json_t *body, void *arg)
{
	struct campaigns_walk *w = arg;
	json_t *c = json_array_get(json_object_get(w->body, "campaigns"), w->i);
	if (code == 200) {
		json_t *m = json_object_get(body, "measure");
		json_t *rate = json_object_get(m, "click_rate");
		json_object_set(c, "sent", json_object_get(body, "sent"));
		json_object_set(c, "converted", json_object_get(body, "conversions"));
		/* Issue 19's counters: clicks, and messages clicked of the recipients. */
		json_object_set_new(c, "clicks",
				    json_integer(json_integer_value(json_object_get(m, "clicks"))));
		json_object_set_new(
		    c, "clicked", json_integer(json_integer_value(json_object_get(m, "clicked"))));
		json_object_set_new(c, "recipients",
				    json_integer(json_integer_value(json_object_get(rate, "of"))));
		json_object_set_new(
		    c, "click_rate",
		    ui_percent((double)json_integer_value(json_object_get(m, "clicked")),
			       (double)json_integer_value(json_object_get(rate, "of"))));
	}
	json_decref(body);
	w->i++;
	campaigns_next(hr, w);
}

static void
campaigns_next(struct http_req *hr, struct campaigns_walk *w)
{
	json_t *list = json_object_get(w->body, "campaigns");
	if (w->i < json_array_size(list)) {
		const char *id =
		    json_string_value(json_object_get(json_array_get(list, w->i), "id"));
		char *arg = xasprintf("%s/stats", id);
		ui_api(hr, api_campaign_get, arg, NULL, campaigns_stats, w);
		free(arg);
		return;
	}
	campaigns_got(hr, 200, w->body, NULL);
	free(w);
}

static void
campaigns_list(struct http_req *hr, int code, json_t *body, void *arg)
{
	(void)arg;
	if (ui_api_failed(hr, code, body))
		return;
	struct campaigns_walk *w = xcalloc(1, sizeof(*w));
	w->body = body;
	campaigns_next(hr, w);
}

void
ui_campaigns(struct http_req *hr)
{
	ui_api(hr, api_campaigns_get, NULL, NULL, campaigns_list, NULL);
}

static enum store_status
campaign_run(struct store *s, struct store_job *job)
{
	struct ui_job *j = (struct ui_job *)job;
	enum store_status rc =
	    s->ops->ui->campaign_versions(s, j->id, 20, &j->versions, &j->n_versions);
	if (rc == STORE_OK)
		rc = s->ops->ui->campaign_steps_now(s, j->id, &j->now, &j->n_now);
	if (rc == STORE_OK && j->version != NULL &&
	    store_campaign_version_load(s, j->id, j->version, &j->definition) != STORE_OK) {
		free(j->definition);
		j->definition = NULL;
	}
	return rc;
}

static void
campaign_done(struct store_job *job)
{
	struct ui_job *j = (struct ui_job *)job;
	const struct campaign *c = campaign_set_find(daemon_campaigns(j->hr->d), j->id);
	json_t *v = j->view, *list, *now = json_object(), *passed = json_object(), *st;
	size_t i;

	if (job->status != STORE_OK) {
		ui_error(j->hr, 503, "The store is busy; reload the page.");
		ui_job_free(j);
		json_decref(now);
		json_decref(passed);
		return;
	}
	for (i = 0; c != NULL && i < j->n_now && i < c->n_steps; i++)
		json_object_set_new(now, c->steps[i].id, json_integer(j->now[i]));
	json_array_foreach(json_object_get(json_object_get(v, "stats"), "steps"), i, st)
	    json_object_set(passed, json_string_value(json_object_get(st, "step")),
			    json_object_get(st, "sent"));
	json_t *def = j->definition ? json_loads(j->definition, 0, NULL) : NULL;
	if (def != NULL) {
		char *svg = ui_svg_journey(def, now, passed);
		json_object_set_new(v, "diagram", json_string(svg));
		free(svg);
	}
	json_decref(def);
	json_decref(now);
	json_decref(passed);
	list = json_array();
	for (i = 0; i < j->n_versions; i++)
		json_array_append_new(
		    list, json_pack("{s:s,s:o,s:b}", "version", j->versions[i].version, "loaded",
				    ui_time(j->versions[i].loaded_ms), "running",
				    c && strcmp(c->version, j->versions[i].version) == 0));
	json_object_set_new(v, "versions", list);
	/* Sends and conversions per day, from the statistics' days. */
	json_t *days = json_object_get(json_object_get(v, "stats"), "days");
	size_t nd = json_array_size(days);
	const char **labels = xcalloc(nd + 1, sizeof(char *));
	long *a = xcalloc(nd + 1, sizeof(long)), *b = xcalloc(nd + 1, sizeof(long));
	json_array_foreach(days, i, st)
	{
		const char *day = json_string_value(json_object_get(st, "day"));
		labels[i] = day && strlen(day) >= 10 ? day + 5 : "";
		a[i] = (long)json_integer_value(json_object_get(st, "sent"));
		b[i] = (long)json_integer_value(json_object_get(st, "conversions"));
	}
	char *svg = ui_svg_days(nd, labels, a, b, "sent", "conversions");
	json_object_set_new(v, "chart", json_string(svg));
	free(svg);
	free(labels);
	free(a);
	free(b);
	/* Skip reasons with their counts. */
	list = json_array();
	const char *k;
	json_object_foreach(json_object_get(json_object_get(v, "stats"), "skipped"), k, st)
	    json_array_append_new(list, json_pack("{s:s,s:O}", "reason", k, "n", st));
	json_object_set_new(v, "skips", list);
	j->view = NULL;
	ui_render(j->hr, "campaign", v);
	ui_job_free(j);
}

/* Which campaign the detail page shows, and its status from the campaigns' list. */
struct campaign_ask {
	char *id;
	char *status;
};

static void
campaign_stats_got(struct http_req *hr, int code, json_t *body, void *arg)
{
	struct campaign_ask *a = arg;
	if (ui_api_failed(hr, code, body)) {
		free(a->id);
		free(a->status);
		free(a);
		return;
	}
	const struct campaign *c = campaign_set_find(daemon_campaigns(hr->d), a->id);
	json_t *view = json_pack("{s:s,s:o,s:s?}", "id", a->id, "stats", body, "status", a->status);
	json_object_set_new(view, "paused",
			    json_boolean(a->status && strcmp(a->status, "paused") == 0));
	json_object_set_new(view, "running",
			    json_boolean(a->status && strcmp(a->status, "active") == 0));
	if (c != NULL) {
		json_object_set_new(view, "name", json_string(c->name ? c->name : c->id));
		json_object_set_new(view, "version", json_string(c->version));
		json_object_set_new(view, "topic", c->topic ? json_string(c->topic) : json_null());
	}
	struct ui_job *j = ui_job_new(hr, view, campaign_run, campaign_done);
	j->id = a->id;
	j->version = c ? xstrdup(c->version) : NULL;
	free(a->status);
	free(a);
	storeloop_submit(daemon_readloop(hr->d), &j->job);
}

/* The campaign's status (paused over the API or not) comes from the list, asked first. */
static void
campaign_listed(struct http_req *hr, int code, json_t *body, void *arg)
{
	struct campaign_ask *a = arg;
	json_t *c;
	size_t i;

	if (ui_api_failed(hr, code, body)) {
		free(a->id);
		free(a);
		return;
	}
	json_array_foreach(json_object_get(body, "campaigns"), i, c)
	{
		if (strcmp(json_string_value(json_object_get(c, "id")), a->id) == 0)
			a->status = xstrdup(json_string_value(json_object_get(c, "status")));
	}
	json_decref(body);
	char *stats = xasprintf("%s/stats", a->id);
	ui_api(hr, api_campaign_get, stats, NULL, campaign_stats_got, a);
	free(stats);
}

void
ui_campaign(struct http_req *hr, const char *id)
{
	struct campaign_ask *a = xcalloc(1, sizeof(*a));
	a->id = xstrdup(id);
	ui_api(hr, api_campaigns_get, NULL, NULL, campaign_listed, a);
}

/* POST /ui/campaigns/ID/pause or /resume: the API's pause, then back to the campaign. */
void
ui_campaign_action(struct http_req *hr, const char *id, const char *action)
{
	if (strcmp(action, "pause") != 0 && strcmp(action, "resume") != 0) {
		ui_error(hr, 404, "No such action.");
		return;
	}
	char *arg = xasprintf("%s/%s", id, action);
	char *enc = evhttp_encode_uri(id);
	char *loc = xasprintf("/ui/campaigns/%s", enc);
	free(enc);
	ui_api(hr, api_campaign_post, arg, NULL, ui_api_then_redirect, loc);
	free(arg);
}
