/* /v1/status and /v1/campaigns: what the daemon runs and how its campaigns do. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "api.h"
#include "build.h"
#include "campaign.h"
#include "cluster.h"
#include "config.h"
#include "daemon.h"
#include "deliver.h"
#include "duration.h"
#include "http.h"
#include "plugin.h"
#include "store_cluster.h"
#include "storeloop.h"
#include "util.h"

#define API_STATS_DAYS 30
#define API_STATS_DAYS_MAX 366
#define API_STATS_DAY_MS 86400000LL

struct stats_job {
	struct store_job job; /* first */
	struct http_req *hr;
	char *campaign;
	int64_t since_ms;
	size_t store_queue; /* at the request, before this job joined the queue */
	json_t *result;
	struct campaign_stats *stats;  /* a campaign's, from the store */
	struct campaign_count *counts; /* /v1/campaigns */
	size_t n_counts;
	json_t *paused; /* ids paused over the API, read from the store */
	/* /v1/status: the outbox per state, and POST /v1/messages's messages per state */
	struct outbox_counts outbox, transactional;
	/* Issue 19's counters: the campaign's, and the totals across campaigns ("*"). */
	struct measure_row *rows, *all;
	size_t n_rows, n_all;
	/* Issue 21: /v1/status's nodes sharing the store, and the partitions each holds. */
	struct store_node_row *nodes;
	size_t n_nodes;
	int partitions;
	int64_t ttl_ms;
};

static struct stats_job *
stats_job_new(struct http_req *hr, enum store_status (*run)(struct store *, struct store_job *),
	      void (*done)(struct store_job *))
{
	struct stats_job *j = xcalloc(1, sizeof(*j));
	j->hr = hr;
	j->job.run = run;
	j->job.done = done;
	return j;
}

static void
stats_job_free(struct stats_job *j)
{
	free(j->campaign);
	json_decref(j->result);
	campaign_stats_free(j->stats);
	campaign_counts_free(j->counts, j->n_counts);
	json_decref(j->paused);
	measure_rows_free(j->rows, j->n_rows);
	measure_rows_free(j->all, j->n_all);
	store_node_rows_free(j->nodes, j->n_nodes);
	free(j);
}

static enum store_status
status_run(struct store *s, struct store_job *job)
{
	struct stats_job *j = (struct stats_job *)job;
	enum store_status rc = store_outbox_counts(s, &j->outbox);
	if (rc == STORE_OK)
		rc = store_nodes_list(s, j->ttl_ms, &j->nodes, &j->n_nodes, &j->partitions);
	return rc == STORE_OK ? store_transactional_counts(s, &j->transactional) : rc;
}

/* Counts per state as the API shows them: {"queued": N, ...}, every state present. */
static json_t *
status_counts_json(const struct outbox_counts *c)
{
	json_t *o = json_object();
	for (int i = 0; i < OUTBOX_N_STATES; i++)
		json_object_set_new(o, outbox_state_name(i), json_integer(c->n[i]));
	return o;
}

/*
 * Issue 21: this node, the partition count, and every node known with its partitions held and
 * the age of its heartbeat and of its oldest lease renewal (SQLite: this node alone).
 */
static json_t *
status_cluster(struct stats_job *j)
{
	struct cluster *c = daemon_cluster(j->hr->d);
	json_t *nodes = json_array();
	for (size_t i = 0; i < j->n_nodes; i++) {
		const struct store_node_row *n = &j->nodes[i];
		json_t *o = json_pack("{s:s,s:s?,s:b,s:i,s:f}", "node_id", n->node_id, "listen",
				      n->listen, "live", n->live, "partitions", n->partitions,
				      "heartbeat_age_s", (double)n->heartbeat_age_ms / 1000.0);
		json_object_set_new(o, "lease_age_s",
				    n->lease_age_ms >= 0
					? json_real((double)n->lease_age_ms / 1000.0)
					: json_null());
		json_array_append_new(nodes, o);
	}
	return json_pack("{s:s,s:i,s:I,s:o}", "node_id", c ? cluster_node_id(c) : "local",
			 "partitions", j->partitions, "lease_ttl_ms",
			 (json_int_t)(c ? cluster_ttl_ms(c) : 0), "nodes", nodes);
}

/* The configured channels, with what each renders and holds in flight now. */
static json_t *
status_channels(struct daemon *d)
{
	const struct config *c = daemon_config(d);
	json_t *list = json_array();

	for (size_t i = 0; i < c->n_chans; i++) {
		const char *name = c->chans[i].name;
		int payload = deliver_channel_payload(daemon_deliver(d), name);
		json_array_append_new(
		    list, json_pack("{s:s,s:s,s:s,s:i}", "name", name, "plugin", c->chans[i].plugin,
				    "payload", payload == NT_PAYLOAD_JSON ? "json" : "mime",
				    "inflight", deliver_channel_inflight(daemon_deliver(d), name)));
	}
	return list;
}

static void
status_done(struct store_job *job)
{
	struct stats_job *j = (struct stats_job *)job;
	struct daemon *d = j->hr->d;

	if (job->status != STORE_OK)
		http_reply_store_error(j->hr, job->status, NULL, NULL);
	else
		http_reply_json(
		    j->hr, 200,
		    json_pack(
			"{s:s,s:I,s:I,s:o,s:o,s:o,s:o,s:o}", "version", PACKAGE_VERSION, "uptime_s",
			(json_int_t)((util_now_ms() - daemon_started_ms(d)) / 1000), "store_queue",
			(json_int_t)j->store_queue, "outbox", status_counts_json(&j->outbox),
			"transactional", status_counts_json(&j->transactional), "channels",
			status_channels(d), "restart_needed", api_restart_needed(d), "cluster",
			status_cluster(j)));
	stats_job_free(j);
}

/* GET /v1/status: version, uptime, the store's queue, the outbox by state, the channels. */
void
api_status(struct http_req *hr)
{
	struct stats_job *j = stats_job_new(hr, status_run, status_done);
	j->store_queue = storeloop_depth(daemon_storeloop(hr->d));
	j->ttl_ms = daemon_config(hr->d)->lease_ttl_ms;
	storeloop_submit(daemon_readloop(hr->d), &j->job);
}

static const char *
stats_status_name(enum campaign_status s)
{
	return s == CAMPAIGN_ACTIVE ? "active" : s == CAMPAIGN_PAUSED ? "paused" : "draft";
}

/* On the reader: the pauses come from the store, where the store thread keeps them. */
static enum store_status
campaigns_run(struct store *s, struct store_job *job)
{
	struct stats_job *j = (struct stats_job *)job;
	char **ids = NULL;
	size_t n = 0;
	enum store_status rc = store_campaigns_paused(s, &ids, &n);

	j->paused = json_object();
	for (size_t i = 0; i < n; i++) {
		json_object_set_new(j->paused, ids[i], json_true());
		free(ids[i]);
	}
	free(ids);
	return rc == STORE_OK ? store_campaign_counts(s, &j->counts, &j->n_counts) : rc;
}

/* The set is read here, on the network loop, where a reload swaps it. */
static void
campaigns_done(struct store_job *job)
{
	struct stats_job *j = (struct stats_job *)job;
	const struct campaign_set *set = daemon_campaigns(j->hr->d);
	json_t *list = json_array();

	if (job->status != STORE_OK) {
		http_reply_store_error(j->hr, job->status, NULL, NULL);
		json_decref(list);
		stats_job_free(j);
		return;
	}
	for (size_t i = 0; set != NULL && i < set->n; i++) {
		const struct campaign *c = set->v[i];
		const struct campaign_count *n = NULL;
		for (size_t k = 0; k < j->n_counts && n == NULL; k++)
			if (strcmp(j->counts[k].campaign_id, c->id) == 0)
				n = &j->counts[k];
		json_t *o = json_pack(
		    "{s:s,s:s,s:s,s:s?,s:b,s:s,s:I,s:I}", "id", c->id, "name",
		    c->name ? c->name : c->id, "status",
		    json_is_true(json_object_get(j->paused, c->id)) ? "paused"
								    : stats_status_name(c->status),
		    "topic", c->topic, "transactional", c->transactional, "version", c->version,
		    "entered", (json_int_t)(n ? n->entered : 0), "active",
		    (json_int_t)(n ? n->active : 0));
		json_array_append_new(list, o);
	}
	http_reply_json(j->hr, 200, json_pack("{s:o}", "campaigns", list));
	stats_job_free(j);
}

/* GET /v1/campaigns: the running campaigns, with their journeys entered and active. */
void
api_campaigns_get(struct http_req *hr)
{
	struct stats_job *j = stats_job_new(hr, campaigns_run, campaigns_done);
	storeloop_submit(daemon_readloop(hr->d), &j->job);
}

static enum store_status
campaign_stats_run(struct store *s, struct store_job *job)
{
	struct stats_job *j = (struct stats_job *)job;
	enum store_status rc = store_campaign_stats(s, j->campaign, j->since_ms, &j->stats);
	if (rc == STORE_OK)
		rc = store_measure_read(s, j->campaign, &j->rows, &j->n_rows);
	if (rc == STORE_OK)
		rc = store_measure_read(s, "*", &j->all, &j->n_all);
	return rc;
}

/* A list of counts by name as an object. */
static json_t *
stats_counts_json(const struct stats_count *v, size_t n)
{
	json_t *o = json_object();
	for (size_t i = 0; i < n; i++)
		json_object_set_new(o, v[i].name, json_integer(v[i].n));
	return o;
}

/*
 * The store's figures as JSON: {"entered", "active", "exited": {}, "sent", "failed",
 * "skipped": {}, "conversions", "sent_journeys", "steps": {"STEP": {"sent", "failed",
 * "skipped"}}, "days": [{"day": "YYYY-MM-DD", ...}]}.
 */
static json_t *
stats_json(const struct campaign_stats *st)
{
	json_t *steps = json_object(), *days = json_array();

	for (size_t i = 0; i < st->n_steps; i++)
		json_object_set_new(steps, st->steps[i].step,
				    json_pack("{s:I,s:I,s:I}", "sent",
					      (json_int_t)st->steps[i].sent, "failed",
					      (json_int_t)st->steps[i].failed, "skipped",
					      (json_int_t)st->steps[i].skipped));
	for (size_t i = 0; i < st->n_days; i++) {
		const struct stats_day *d = &st->days[i];
		char buf[16];
		time_t t = (time_t)(d->day * (API_STATS_DAY_MS / 1000));
		struct tm tm;
		gmtime_r(&t, &tm);
		strftime(buf, sizeof(buf), "%Y-%m-%d", &tm);
		json_array_append_new(
		    days, json_pack("{s:s,s:I,s:I,s:I,s:I,s:I}", "day", buf, "entered",
				    (json_int_t)d->entered, "sent", (json_int_t)d->sent, "failed",
				    (json_int_t)d->failed, "skipped", (json_int_t)d->skipped,
				    "conversions", (json_int_t)d->conversions));
	}
	return json_pack("{s:I,s:I,s:o,s:I,s:I,s:o,s:I,s:I,s:o,s:o}", "entered",
			 (json_int_t)st->entered, "active", (json_int_t)st->active, "exited",
			 stats_counts_json(st->exited, st->n_exited), "sent", (json_int_t)st->sent,
			 "failed", (json_int_t)st->failed, "skipped",
			 stats_counts_json(st->skipped, st->n_skipped), "conversions",
			 (json_int_t)st->conversions, "sent_journeys",
			 (json_int_t)st->sent_journeys, "steps", steps, "days", days);
}

/* Steps passed (issue 22's diagram): {"STEP": N}, from the counters the engine keeps. */
static json_t *
stats_passed(const struct measure_row *rows, size_t n)
{
	json_t *o = json_object();
	for (size_t i = 0; i < n; i++)
		if (strcmp(rows[i].metric, "passed") == 0 && rows[i].variant[0] == '\0')
			json_object_set_new(o, rows[i].step, json_integer((json_int_t)rows[i].n));
	return o;
}

/* A campaign's goal as written: {"event", "within"}, or null when it has none. */
static json_t *
stats_goal(const struct campaign *c)
{
	char within[32];
	if (c == NULL || c->goal_event == NULL)
		return json_null();
	if (c->goal_within_ms % API_STATS_DAY_MS == 0)
		snprintf(within, sizeof(within), "%lldd",
			 (long long)(c->goal_within_ms / API_STATS_DAY_MS));
	else
		duration_format(c->goal_within_ms, within, sizeof(within));
	return json_pack("{s:s,s:s}", "event", c->goal_event, "within", within);
}

/* Steps in the campaign's order (every send step, counted or not), then any older ones. */
static json_t *
stats_steps(const struct campaign *c, json_t *counts, json_t *passed)
{
	json_t *list = json_array(), *v, *o;
	const char *id;
	size_t i;

	for (i = 0; c != NULL && i < c->n_steps; i++) {
		if (c->steps[i].kind != STEP_SEND)
			continue;
		json_t *n = json_object_get(counts, c->steps[i].id);
		json_t *o = json_pack("{s:s,s:i,s:i,s:i}", "step", c->steps[i].id, "sent", 0,
				      "failed", 0, "skipped", 0);
		if (n != NULL)
			json_object_update(o, n);
		json_array_append_new(list, o);
	}
	json_object_foreach(counts, id, v)
	{
		if (c != NULL && campaign_step_index(c, id) >= 0 &&
		    c->steps[campaign_step_index(c, id)].kind == STEP_SEND)
			continue;
		json_t *o = json_pack("{s:s}", "step", id);
		json_object_update(o, v);
		json_array_append_new(list, o);
	}
	json_array_foreach(list, i, o)
	{
		json_t *p = json_object_get(passed, json_string_value(json_object_get(o, "step")));
		json_object_set_new(o, "passed", json_integer(p ? json_integer_value(p) : 0));
	}
	return list;
}

static void
campaign_stats_done(struct store_job *job)
{
	struct stats_job *j = (struct stats_job *)job;
	const struct campaign *c = campaign_set_find(daemon_campaigns(j->hr->d), j->campaign);
	json_t *r, *passed;

	if (job->status != STORE_OK) {
		http_reply_store_error(j->hr, job->status, "no such campaign", NULL);
		stats_job_free(j);
		return;
	}
	r = j->result = stats_json(j->stats);
	json_int_t entered = json_integer_value(json_object_get(r, "entered"));
	json_int_t base = json_integer_value(json_object_get(r, "sent_journeys"));
	json_int_t conv = json_integer_value(json_object_get(r, "conversions"));
	if (c == NULL && entered == 0) {
		http_reply_error(j->hr, 404, "no such campaign", NULL, -1);
		stats_job_free(j);
		return;
	}
	passed = stats_passed(j->rows, j->n_rows);
	json_t *body = json_pack(
	    "{s:s,s:I,s:O,s:O,s:O,s:O,s:O,s:o,s:I,s:f,s:o,s:O}", "campaign", j->campaign, "entered",
	    entered, "active", json_object_get(r, "active"), "exited", json_object_get(r, "exited"),
	    "sent", json_object_get(r, "sent"), "failed", json_object_get(r, "failed"), "skipped",
	    json_object_get(r, "skipped"), "goal", stats_goal(c), "conversions", conv,
	    "conversion_rate", base > 0 ? (double)conv / (double)base : 0.0, "steps",
	    stats_steps(c, json_object_get(r, "steps"), passed), "days",
	    json_object_get(r, "days"));
	json_object_set_new(body, "passed", passed);
	json_object_set_new(body, "measure",
			    api_measure_json(c, j->rows, j->n_rows, j->all, j->n_all));
	json_object_set_new(body, "experiment", api_experiment_json(c, j->rows, j->n_rows));
	http_reply_json(j->hr, 200, body);
	stats_job_free(j);
}

/* A whole number of days within 1 .. API_STATS_DAYS_MAX; -1 for anything else. */
static int
stats_days_param(const char *s)
{
	char *end;
	long v;
	if (s == NULL || *s < '0' || *s > '9')
		return -1;
	errno = 0;
	v = strtol(s, &end, 10);
	return errno || *end != '\0' || v < 1 || v > API_STATS_DAYS_MAX ? -1 : (int)v;
}

/* GET /v1/campaigns/{id}/stats?days=N: totals, per step and the last N days (UTC). */
void
api_campaign_get(struct http_req *hr)
{
	char *slash = strchr(hr->arg, '/'), *param;
	int days = API_STATS_DAYS;

	if (slash == NULL || strcmp(slash, "/stats") != 0) {
		http_reply_error(hr, 404, "no such resource", NULL, -1);
		return;
	}
	*slash = '\0';
	if ((param = http_query_param(hr, "days")) != NULL &&
	    (days = stats_days_param(param)) < 0) {
		free(param);
		http_reply_error(hr, 400, "'days' must be a whole number from 1 to 366", "days",
				 -1);
		return;
	}
	free(param);
	struct stats_job *j = stats_job_new(hr, campaign_stats_run, campaign_stats_done);
	int64_t today = util_now_ms() / API_STATS_DAY_MS;
	j->campaign = xstrdup(hr->arg);
	j->since_ms = (today - (days - 1)) * API_STATS_DAY_MS;
	storeloop_submit(daemon_readloop(hr->d), &j->job);
}
