/*
 * POST /v1/events: validate on the network loop (a large batch on the HTTP worker), commit in
 * the store loop, then answer 202.
 */
#include <stdlib.h>
#include <string.h>

#include "api.h"
#include "config.h"
#include "daemon.h"
#include "http.h"
#include "ingest.h"
#include "log.h"
#include "metrics.h"
#include "storeloop.h"
#include "util.h"
#include "validate.h"

/* Batches at least this large are validated off the loop (SHA-256 and all, per event). */
#define EVENTS_OFFLOOP 64

struct ingest_job {
	struct store_job job; /* first */
	struct http_req *hr;
	struct nt_event *events;
	size_t n;
	int single; /* the body was one event, not {"events": [...]} */
	unsigned char *duplicate;
	long conflict; /* index of the conflicting event, or -1 */
	int64_t received_ms;
};

static void
ingest_job_free(void *arg)
{
	struct ingest_job *j = arg;

	for (size_t i = 0; i < j->n; i++)
		nt_event_clear(&j->events[i]);
	free(j->events);
	free(j->duplicate);
	free(j);
}

/* Store thread: one savepoint for the whole body, so a batch is all or nothing. */
static enum store_status
ingest_run(struct store *s, struct store_job *job)
{
	struct ingest_job *j = (struct ingest_job *)job;
	return ingest_events(s, j->events, j->n, j->received_ms, j->duplicate, &j->conflict);
}

/*
 * Store thread: several requests' events stored as one batch (one round trip on PostgreSQL
 * where each request took one). A conflict in any of them undoes them all and they run one by
 * one, so that the conflict is the one request's answer.
 */
static enum store_status
ingest_run_many(struct store *s, struct store_job **jobs, size_t n)
{
	size_t total = 0, at = 0;
	struct nt_event *evs;
	int64_t *received;
	unsigned char *dup;
	long conflict = -1;
	enum store_status rc;

	for (size_t i = 0; i < n; i++)
		total += ((struct ingest_job *)jobs[i])->n;
	evs = xcalloc(total ? total : 1, sizeof(*evs));
	received = xcalloc(total ? total : 1, sizeof(*received));
	dup = xcalloc(total ? total : 1, 1);
	for (size_t i = 0; i < n; i++) {
		struct ingest_job *j = (struct ingest_job *)jobs[i];
		memcpy(evs + at, j->events, j->n * sizeof(*evs)); /* borrowed, not owned */
		for (size_t k = 0; k < j->n; k++)
			received[at + k] = j->received_ms;
		at += j->n;
	}
	rc = ingest_events_at(s, evs, received, total, dup, &conflict);
	at = 0;
	for (size_t i = 0; rc == STORE_OK && i < n; i++) {
		struct ingest_job *j = (struct ingest_job *)jobs[i];
		memcpy(j->duplicate, dup + at, j->n);
		at += j->n;
		j->job.status = STORE_OK;
	}
	free(evs);
	free(received);
	free(dup);
	return rc;
}

/* Network loop: the group committed (or not); answer accordingly. */
static void
ingest_done(struct store_job *job)
{
	struct ingest_job *j = (struct ingest_job *)job;
	struct http_req *hr = j->hr;
	json_t *list, *body = NULL;
	size_t dups = 0;
	int code = 202;

	if (job->status == STORE_CONFLICT) {
		metrics_inc(M_EVENTS_REJECTED, j->n);
		code = 409;
		body = json_pack("{s:s,s:s}", "error",
				 "an event with this id and other content exists for this customer",
				 "field", "id");
		if (!j->single)
			json_object_set_new(body, "index", json_integer(j->conflict));
	} else if (job->status != STORE_OK) {
		metrics_inc(M_EVENTS_REJECTED, j->n);
		code = 503;
		body = json_pack("{s:s}", "error",
				 "store unavailable; nothing was stored, retry later");
	} else {
		list = json_array();
		for (size_t i = 0; i < j->n; i++) {
			dups += j->duplicate[i];
			json_array_append_new(list, json_pack("{s:s,s:b}", "id", j->events[i].key,
							      "duplicate", j->duplicate[i]));
		}
		metrics_inc(M_EVENTS_ACCEPTED, j->n - dups);
		metrics_inc(M_EVENTS_DUPLICATE, dups);
		body = json_pack("{s:I,s:I}", "accepted", (json_int_t)(j->n - dups), "duplicates",
				 (json_int_t)dups);
		if (j->single) {
			json_object_set_new(body, "id", json_string(j->events[0].key));
			json_object_set_new(body, "duplicate", json_boolean(j->duplicate[0]));
		}
		json_object_set_new(body, "events", list);
	}
	/* A large batch's values are freed on the HTTP worker, not on the loop. */
	if (j->n >= EVENTS_OFFLOOP)
		http_offload_free(hr, ingest_job_free, j);
	else
		ingest_job_free(j);
	http_reply_json(hr, code, body);
}

/* The validation of a batch: on the loop, or for a large one on the HTTP worker. */
struct events_check {
	struct ingest_job *j;
	json_t *body, *items;
	size_t n;
	struct verr err;
	long bad; /* the refused event's index, or -1 */
};

static void
events_check_run(void *arg)
{
	struct events_check *c = arg;
	struct ingest_job *j = c->j;

	for (size_t i = 0; i < c->n; i++) {
		json_t *ev = j->single ? c->items : json_array_get(c->items, i);
		if (validate_event(ev, j->received_ms, &j->events[i], &c->err) < 0) {
			c->bad = (long)i;
			break;
		}
		j->n++;
	}
	/* The events hold what they need (their properties by reference): the rest goes here. */
	json_decref(c->body);
	c->body = NULL;
}

static void
events_check_done(struct http_req *hr, void *arg)
{
	struct events_check *c = arg;
	struct ingest_job *j = c->j;

	if (c->bad >= 0 || hr->req == NULL) {
		metrics_inc(M_EVENTS_REJECTED, c->n);
		if (c->bad >= 0)
			http_reply_error(hr, 400, c->err.msg, c->err.field,
					 j->single ? -1 : c->bad);
		else
			http_reply_error(hr, 503, "client gone", NULL, -1);
		ingest_job_free(j);
	} else {
		j->job.run = ingest_run;
		j->job.run_many = ingest_run_many;
		j->job.done = ingest_done;
		j->job.wakes_engine = 1;
		storeloop_submit(daemon_ingestloop(hr->d), &j->job);
	}
	free(c);
}

void
api_events_post(struct http_req *hr)
{
	const struct config *c = daemon_config(hr->d);
	json_t *body = http_body_json(hr), *items;
	struct events_check *chk;
	struct ingest_job *j;
	size_t n;

	if (body == NULL)
		return;
	items = json_object_get(body, "events");
	int single = items == NULL;
	if (single)
		items = body;
	else if (!json_is_array(items) || json_object_size(body) != 1) {
		json_decref(body);
		http_reply_error(hr, 400, "expected one event or {\"events\": [...]}", "events",
				 -1);
		return;
	}
	n = single ? 1 : json_array_size(items);
	if (n == 0 || n > c->max_batch) {
		json_decref(body);
		metrics_inc(M_EVENTS_REJECTED, n);
		char msg[96];
		snprintf(msg, sizeof(msg), "a batch holds 1 to %zu events", c->max_batch);
		http_reply_error(hr, n ? 413 : 400, msg, "events", -1);
		return;
	}
	j = xcalloc(1, sizeof(*j));
	j->hr = hr;
	j->single = single;
	j->conflict = -1;
	j->received_ms = util_now_ms();
	j->events = xcalloc(n, sizeof(*j->events));
	j->duplicate = xcalloc(n, 1);
	chk = xcalloc(1, sizeof(*chk));
	chk->j = j;
	chk->body = body;
	chk->items = items;
	chk->n = n;
	chk->bad = -1;
	if (n >= EVENTS_OFFLOOP) {
		http_offload(hr, events_check_run, events_check_done, chk);
		return;
	}
	events_check_run(chk);
	events_check_done(hr, chk);
}
