/*
 * /v1/inbound (issue 16): POST a raw message (message/rfc822) that came back after a send, a
 * bounce, complaint, auto-reply or reply; it is classified and applied on the store thread,
 * and 202 comes after the commit. GET lists what came back, unmatched ones included.
 */
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "api.h"
#include "daemon.h"
#include "http.h"
#include "inbound.h"
#include "inbound_classify.h"
#include "storeloop.h"
#include "timefmt.h"
#include "util.h"

#define INBOUND_PAGE 100

struct inbound_job {
	struct store_job job; /* first */
	struct http_req *hr;
	struct inbound_ctx cx;
	char *raw;
	size_t len;
	char *rcpt;
	int64_t now_ms;
	struct inbound_result res;
	/* GET */
	char *kind;
	int unmatched;
	int64_t before;
	int64_t message; /* an outbox id: what came back about that message */
	int limit;
	struct inbound_entry *rows;
	size_t nrows;
};

static void
inbound_job_free(struct inbound_job *j)
{
	free(j->raw);
	free(j->rcpt);
	free(j->kind);
	inbound_result_clear(&j->res);
	inbound_entries_free(j->rows, j->nrows);
	free(j);
}

static enum store_status
inbound_post_run(struct store *s, struct store_job *job)
{
	struct inbound_job *j = (struct inbound_job *)job;
	return inbound_process(s, &j->cx, j->raw, j->len, j->rcpt, "api", j->now_ms, &j->res);
}

/* The answer for one processed message, shared by POST and `nurtured inbound`. */
static json_t *
inbound_result_json(const struct inbound_result *r)
{
	return json_pack("{s:I, s:s, s:b, s:b, s:s?, s:s?, s:s?}", "id", (json_int_t)r->id, "kind",
			 inbound_kind_name(r->kind), "duplicate", r->duplicate, "matched",
			 r->matched, "effect", r->effect, "message_id", r->message_id, "customer",
			 r->customer);
}

static void
inbound_post_done(struct store_job *job)
{
	struct inbound_job *j = (struct inbound_job *)job;

	if (job->status != STORE_OK)
		http_reply_store_error(j->hr, job->status, NULL, NULL);
	else if (j->res.error != NULL)
		http_reply_error(j->hr, 400, j->res.error, "body", -1);
	else
		http_reply_json(j->hr, 202, inbound_result_json(&j->res));
	inbound_job_free(j);
}

void
api_inbound_post(struct http_req *hr)
{
	const char *ct = http_header(hr, "Content-Type");
	size_t len;
	const char *body;
	struct inbound_job *j;

	if (ct == NULL || strncasecmp(ct, "message/rfc822", 14) != 0) {
		http_reply_error(hr, 415, "expected Content-Type: message/rfc822 (a raw message)",
				 "Content-Type", -1);
		return;
	}
	body = http_body_raw(hr, &len);
	if (len == 0) {
		http_reply_error(hr, 400, "request body is empty; expected a raw message", "body",
				 -1);
		return;
	}
	if (len > INBOUND_MAX_BYTES) {
		http_reply_error(hr, 413, "message too large", "body", -1);
		return;
	}
	j = xcalloc(1, sizeof(*j));
	j->hr = hr;
	j->cx.secret = daemon_secret(hr->d);
	j->cx.conf = &daemon_config(hr->d)->inbound;
	j->raw = xmalloc(len + 1);
	memcpy(j->raw, body, len);
	j->raw[len] = '\0';
	j->len = len;
	j->rcpt = http_query_param(hr, "rcpt");
	j->now_ms = util_now_ms();
	j->job.run = inbound_post_run;
	j->job.done = inbound_post_done;
	j->job.wakes_engine = 1;
	storeloop_submit(daemon_storeloop(hr->d), &j->job);
}

static enum store_status
inbound_list_run(struct store *s, struct store_job *job)
{
	struct inbound_job *j = (struct inbound_job *)job;
	return store_inbound_list(s, j->kind, j->unmatched, j->before, j->message, j->limit,
				  &j->rows, &j->nrows);
}

static void
inbound_list_done(struct store_job *job)
{
	struct inbound_job *j = (struct inbound_job *)job;

	if (job->status != STORE_OK) {
		http_reply_store_error(j->hr, job->status, NULL, NULL);
		inbound_job_free(j);
		return;
	}
	json_t *list = json_array();
	for (size_t i = 0; i < j->nrows; i++) {
		const struct inbound_entry *e = &j->rows[i];
		char when[40];
		timefmt_format_utc(e->received_ms, when, sizeof(when));
		json_t *o = json_pack("{s:I, s:s, s:s, s:s, s:b, s:s}", "id", (json_int_t)e->id,
				      "kind", e->kind, "source", e->source, "effect", e->effect,
				      "matched", e->matched, "received", when);
		if (e->message_id)
			json_object_set_new(o, "inbound_message_id", json_string(e->message_id));
		if (e->address)
			json_object_set_new(o, "address", json_string(e->address));
		if (e->status)
			json_object_set_new(o, "status", json_string(e->status));
		if (e->kind && strcmp(e->kind, "bounce") == 0)
			json_object_set_new(o, "hard", json_boolean(e->hard));
		if (e->feedback_type)
			json_object_set_new(o, "feedback_type", json_string(e->feedback_type));
		if (e->customer)
			json_object_set_new(o, "customer", json_string(e->customer));
		if (e->outbox_id > 0)
			json_object_set_new(o, "message", json_integer(e->outbox_id));
		json_t *detail = e->detail ? json_loads(e->detail, 0, NULL) : NULL;
		if (detail != NULL)
			json_object_set_new(o, "classification", detail);
		json_array_append_new(list, o);
	}
	json_t *r = json_pack("{s:o}", "inbound", list);
	if (j->nrows == (size_t)j->limit && j->nrows > 0)
		json_object_set_new(r, "next", json_integer(j->rows[j->nrows - 1].id));
	http_reply_json(j->hr, 200, r);
	inbound_job_free(j);
}

void
api_inbound_get(struct http_req *hr)
{
	struct inbound_job *j = xcalloc(1, sizeof(*j));
	char *unmatched = http_query_param(hr, "unmatched");
	char *before = http_query_param(hr, "before");
	char *limit = http_query_param(hr, "limit");
	char *message = http_query_param(hr, "message");
	char *end = NULL;

	j->hr = hr;
	j->kind = http_query_param(hr, "kind");
	j->limit = INBOUND_PAGE;
	j->unmatched =
	    unmatched != NULL && strcmp(unmatched, "0") != 0 && strcmp(unmatched, "false") != 0;
	const char *bad = NULL;
	if (j->kind != NULL && inbound_kind_parse(j->kind) < 0)
		bad = "kind";
	if (before != NULL && ((j->before = strtoll(before, &end, 10)) <= 0 || *end != '\0'))
		bad = "before";
	if (message != NULL && ((j->message = strtoll(message, &end, 10)) <= 0 || *end != '\0'))
		bad = "message";
	if (limit != NULL &&
	    ((j->limit = (int)strtol(limit, &end, 10)) < 1 || j->limit > 1000 || *end != '\0'))
		bad = "limit";
	free(unmatched);
	free(before);
	free(limit);
	free(message);
	if (bad != NULL) {
		http_reply_error(
		    hr, 400,
		    strcmp(bad, "kind") == 0
			? "kind must be bounce, delay, complaint, auto_reply, reply or other"
			: "before and limit must be positive integers (limit up to 1000)",
		    bad, -1);
		inbound_job_free(j);
		return;
	}
	j->job.run = inbound_list_run;
	j->job.done = inbound_list_done;
	storeloop_submit(daemon_storeloop(hr->d), &j->job);
}
