/*
 * POST /v1/customers with {"customers": [...]}: a batch upsert, for imports. Unlike a batch
 * of events it is not all or nothing: each customer is validated alone, the valid ones are
 * committed together (one store job, one commit) and the refused ones are named by index.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api.h"
#include "config.h"
#include "daemon.h"
#include "http.h"
#include "metrics.h"
#include "storeloop.h"
#include "timefmt.h"
#include "util.h"
#include "validate.h"

struct batch_job {
	struct store_job job; /* first */
	struct http_req *hr;
	json_t *body;
	json_t *rejected; /* [{"index", "id", "error", "field"}] */
	struct customer_item *items;
	size_t n;
	const char *source;
	int64_t now_ms;
};

static void
batch_job_free(struct batch_job *j)
{
	json_decref(j->body);
	json_decref(j->rejected);
	free(j->items);
	free(j);
}

static enum store_status
batch_run(struct store *s, struct store_job *job)
{
	struct batch_job *j = (struct batch_job *)job;
	return store_customers_upsert(s, j->items, j->n, j->source, j->now_ms);
}

static void
batch_done(struct store_job *job)
{
	struct batch_job *j = (struct batch_job *)job;
	size_t changed = 0, ok = 0;

	if (j->job.status != STORE_OK) {
		http_reply_store_error(j->hr, j->job.status, "no such customer", NULL);
		batch_job_free(j);
		return;
	}
	for (size_t i = 0; i < j->n; i++) {
		ok += !j->items[i].skip;
		changed += j->items[i].changed;
	}
	metrics_inc(M_CUSTOMERS_UPSERTED, ok);
	http_reply_json(j->hr, 200,
			json_pack("{s:I,s:I,s:O}", "upserted", (json_int_t)changed, "unchanged",
				  (json_int_t)(ok - changed), "rejected", j->rejected));
	batch_job_free(j);
}

/* Validates item I into J's items, or records why it is refused. */
static void
batch_item(struct batch_job *j, size_t i, json_t *item)
{
	struct customer_item *it = &j->items[i];
	json_t *when = json_object_get(item, "consent_time");
	struct verr err;

	it->consent_ms = j->now_ms;
	if (json_is_object(item) && when != NULL) {
		if (!json_is_string(when) ||
		    timefmt_parse_rfc3339(json_string_value(when), &it->consent_ms) < 0) {
			snprintf(err.msg, sizeof(err.msg), "must be an RFC 3339 time");
			snprintf(err.field, sizeof(err.field), "consent_time");
			goto refuse;
		}
		json_object_del(item, "consent_time");
	}
	if (validate_customer(item, 1, "", &err) < 0)
		goto refuse;
	it->ext_id = json_string_value(json_object_get(item, "id"));
	it->fields = item;
	return;
refuse:
	it->skip = 1;
	json_t *r = json_pack("{s:I,s:s,s:s}", "index", (json_int_t)i, "error", err.msg, "field",
			      err.field);
	if (json_is_string(json_object_get(item, "id")))
		json_object_set(r, "id", json_object_get(item, "id"));
	json_array_append_new(j->rejected, r);
}

/* BODY is {"customers": [...], "source"?: "api" | "import"}; taken over. */
void
api_customers_batch(struct http_req *hr, json_t *body)
{
	const struct config *c = daemon_config(hr->d);
	json_t *items = json_object_get(body, "customers"), *src = json_object_get(body, "source");
	struct batch_job *j;
	const char *key;
	json_t *v;

	json_object_foreach(body, key,
			    v) if (strcmp(key, "customers") != 0 && strcmp(key, "source") != 0)
	{
		http_reply_error(hr, 400, "unknown field (customers, source)", key, -1);
		json_decref(body);
		return;
	}
	if (src != NULL &&
	    (!json_is_string(src) || (strcmp(json_string_value(src), "api") != 0 &&
				      strcmp(json_string_value(src), "import") != 0))) {
		http_reply_error(hr, 400, "must be \"api\" or \"import\"", "source", -1);
		json_decref(body);
		return;
	}
	if (!json_is_array(items) || json_array_size(items) == 0 ||
	    json_array_size(items) > c->max_batch) {
		char msg[96];
		snprintf(msg, sizeof(msg), "a batch holds 1 to %zu customers", c->max_batch);
		http_reply_error(hr, json_array_size(items) > c->max_batch ? 413 : 400, msg,
				 "customers", -1);
		json_decref(body);
		return;
	}
	j = xcalloc(1, sizeof(*j));
	j->hr = hr;
	j->body = body;
	j->rejected = json_array();
	j->now_ms = util_now_ms();
	j->source = src != NULL ? json_string_value(src) : "api";
	j->n = json_array_size(items);
	j->items = xcalloc(j->n, sizeof(*j->items));
	for (size_t i = 0; i < j->n; i++)
		batch_item(j, i, json_array_get(items, i));
	j->job.run = batch_run;
	j->job.done = batch_done;
	storeloop_submit(daemon_storeloop(hr->d), &j->job);
}
