/*
 * /v1/segments (issue 17): saved audiences. Created and deleted on the store thread; listed,
 * counted and sampled on the reader, so that a scan of every customer never holds the store.
 */
#include <stdlib.h>
#include <string.h>

#include "api.h"
#include "condition.h"
#include "daemon.h"
#include "http.h"
#include "segment.h"
#include "store_broadcast.h"
#include "storeloop.h"
#include "timefmt.h"
#include "util.h"
#include "validate.h"

#define SEGMENT_SAMPLE 10
#define SEGMENT_SAMPLE_MAX 100

enum segment_op { SEG_ADD, SEG_LIST, SEG_GET, SEG_DELETE, SEG_COUNT, SEG_SAMPLE };

struct segment_job {
	struct store_job job; /* first */
	struct http_req *hr;
	enum segment_op op;
	struct segment_row row;
	char *topic;
	int sample;
	int bad_condition; /* the stored condition no longer compiles */
	struct segment_row *rows;
	size_t n;
	struct segment_scan scan;
	int64_t now_ms;
};

static void
segment_job_free(struct segment_job *j)
{
	segment_row_clear(&j->row);
	segment_rows_free(j->rows, j->n);
	segment_scan_clear(&j->scan);
	free(j->topic);
	free(j);
}

static json_t *
segment_json(const struct segment_row *r)
{
	char when[40];
	json_t *cond = json_loads(r->condition, 0, NULL);
	timefmt_format_utc(r->created_ms, when, sizeof(when));
	return json_pack("{s:s,s:s,s:o,s:s}", "id", r->id, "name", r->name, "condition",
			 cond ? cond : json_null(), "created", when);
}

static enum store_status
segment_run(struct store *s, struct store_job *job)
{
	struct segment_job *j = (struct segment_job *)job;
	enum store_status rc;
	char *id;

	switch (j->op) {
	case SEG_ADD:
		return store_segment_add(s, &j->row);
	case SEG_LIST:
		return store_segments_list(s, &j->rows, &j->n);
	case SEG_DELETE:
		return store_segment_delete(s, j->row.id);
	default:
		id = j->row.id;
		j->row.id = NULL;
		rc = store_segment_get(s, id, &j->row);
		free(id);
		if (rc != STORE_OK || j->op == SEG_GET)
			return rc;
		struct cond *c = segment_compile_text(j->row.condition);
		if (c == NULL) {
			j->bad_condition = 1;
			return STORE_OK;
		}
		rc = segment_scan(s, c, j->topic, j->op == SEG_SAMPLE ? j->sample : 0, 0, j->now_ms,
				  &j->scan);
		cond_free(c);
		return rc;
	}
}

static void
segment_done(struct store_job *job)
{
	struct segment_job *j = (struct segment_job *)job;
	json_t *o;

	if (job->status == STORE_DUPLICATE) /* the same segment again: as created */
		job->status = STORE_OK;
	if (job->status != STORE_OK) {
		http_reply_store_error(j->hr, job->status, "no such segment",
				       "a segment with this id exists with another name or "
				       "condition");
		segment_job_free(j);
		return;
	}
	switch (j->op) {
	case SEG_ADD:
		http_reply_json(j->hr, 201, segment_json(&j->row));
		break;
	case SEG_LIST:
		o = json_array();
		for (size_t i = 0; i < j->n; i++)
			json_array_append_new(o, segment_json(&j->rows[i]));
		http_reply_json(j->hr, 200, json_pack("{s:o}", "segments", o));
		break;
	case SEG_GET:
		http_reply_json(j->hr, 200, segment_json(&j->row));
		break;
	case SEG_DELETE:
		http_reply_json(j->hr, 200, json_pack("{s:s,s:b}", "id", j->row.id, "deleted", 1));
		break;
	default:
		if (j->bad_condition) {
			http_reply_error(j->hr, 409, "the segment's condition no longer compiles",
					 "condition", -1);
			break;
		}
		o = json_pack("{s:s,s:I}", "id", j->row.id, "count", (json_int_t)j->scan.matched);
		if (j->topic != NULL)
			json_object_set_new(o, "subscribed", json_integer(j->scan.subscribed));
		if (j->op == SEG_SAMPLE)
			json_object_set(o, "customers", j->scan.sample);
		http_reply_json(j->hr, 200, o);
	}
	segment_job_free(j);
}

static struct segment_job *
segment_job_new(struct http_req *hr, enum segment_op op)
{
	struct segment_job *j = xcalloc(1, sizeof(*j));
	j->hr = hr;
	j->op = op;
	j->job.run = segment_run;
	j->job.done = segment_done;
	j->now_ms = util_now_ms();
	return j;
}

/* GET /v1/segments */
void
api_segments_get(struct http_req *hr)
{
	storeloop_submit(daemon_readloop(hr->d), &segment_job_new(hr, SEG_LIST)->job);
}

/* POST /v1/segments {"id", "name", "condition"} */
void
api_segments_post(struct http_req *hr)
{
	json_t *body = http_body_json(hr);
	const char *id, *name, *key;
	json_t *v;
	char *err = NULL;

	if (body == NULL)
		return;
	id = json_string_value(json_object_get(body, "id"));
	name = json_string_value(json_object_get(body, "name"));
	json_object_foreach(body, key, v) if (strcmp(key, "id") && strcmp(key, "name") &&
					      strcmp(key, "condition"))
	{
		err = xasprintf("unknown key '%s'", key);
		http_reply_error(hr, 400, err, key, -1);
		goto out;
	}
	if (id == NULL || !validate_customer_id(id)) {
		http_reply_error(hr, 400, "'id' must be an id (letters, digits, - _ . @ :)", "id",
				 -1);
		goto out;
	}
	if (name == NULL || !*name || strlen(name) > 200) {
		http_reply_error(hr, 400, "'name' must be a string", "name", -1);
		goto out;
	}
	struct cond *c = segment_compile(json_object_get(body, "condition"), "condition", &err);
	if (c == NULL) {
		http_reply_error(hr, 400, err, "condition", -1);
		goto out;
	}
	cond_free(c);
	struct segment_job *j = segment_job_new(hr, SEG_ADD);
	j->row.id = xstrdup(id);
	j->row.name = xstrdup(name);
	j->row.condition =
	    json_dumps(json_object_get(body, "condition"), JSON_COMPACT | JSON_SORT_KEYS);
	j->row.created_ms = j->now_ms;
	storeloop_submit(daemon_storeloop(hr->d), &j->job);
out:
	free(err);
	json_decref(body);
}

/* GET /v1/segments/{id}, …/count[?topic=T], …/sample[?n=N&topic=T] */
void
api_segment_get(struct http_req *hr)
{
	char *slash = strchr(hr->arg, '/');
	enum segment_op op = SEG_GET;

	if (slash != NULL) {
		op = strcmp(slash, "/count") == 0    ? SEG_COUNT
		     : strcmp(slash, "/sample") == 0 ? SEG_SAMPLE
						     : SEG_GET;
		if (op == SEG_GET) {
			http_reply_error(hr, 404, "no such resource", NULL, -1);
			return;
		}
		*slash = '\0';
	}
	struct segment_job *j = segment_job_new(hr, op);
	char *n = http_query_param(hr, "n");
	j->row.id = xstrdup(hr->arg);
	j->topic = http_query_param(hr, "topic");
	j->sample = n ? atoi(n) : SEGMENT_SAMPLE;
	if (j->sample < 1 || j->sample > SEGMENT_SAMPLE_MAX)
		j->sample = SEGMENT_SAMPLE;
	free(n);
	storeloop_submit(daemon_readloop(hr->d), &j->job);
}

/* DELETE /v1/segments/{id} */
void
api_segment_delete(struct http_req *hr)
{
	if (strchr(hr->arg, '/') != NULL) {
		http_reply_error(hr, 404, "no such resource", NULL, -1);
		return;
	}
	struct segment_job *j = segment_job_new(hr, SEG_DELETE);
	j->row.id = xstrdup(hr->arg);
	storeloop_submit(daemon_storeloop(hr->d), &j->job);
}
