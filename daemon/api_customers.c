/* /v1/customers: upsert, read (profile and latest events), erase. */
#include <stdlib.h>
#include <string.h>

#include "api.h"
#include "daemon.h"
#include "http.h"
#include "metrics.h"
#include "store_json.h"
#include "storeloop.h"
#include "util.h"
#include "validate.h"

#define API_CUSTOMER_EVENTS 20

struct customer_job {
	struct store_job job; /* first */
	struct http_req *hr;
	char *ext_id;
	json_t *fields;		   /* upsert: validated body */
	struct customer_view view; /* get */
	const char *secret;
	int64_t now_ms;
};

static struct customer_job *
customer_job_new(struct http_req *hr, const char *ext_id,
		 enum store_status (*run)(struct store *, struct store_job *),
		 void (*done)(struct store_job *))
{
	struct customer_job *j = xcalloc(1, sizeof(*j));
	j->hr = hr;
	j->ext_id = xstrdup(ext_id);
	j->now_ms = util_now_ms();
	j->secret = daemon_secret(hr->d);
	j->job.run = run;
	j->job.done = done;
	return j;
}

static void
customer_job_free(struct customer_job *j)
{
	free(j->ext_id);
	json_decref(j->fields);
	customer_view_clear(&j->view);
	free(j);
}

/* Answers the store's verdict for a customer job; OK is left to the caller. */
static int
customer_job_failed(struct customer_job *j)
{
	if (j->job.status == STORE_OK)
		return 0;
	http_reply_store_error(j->hr, j->job.status, "no such customer", NULL);
	return 1;
}

static enum store_status
customer_upsert_run(struct store *s, struct store_job *job)
{
	struct customer_job *j = (struct customer_job *)job;
	int64_t id;
	return store_customer_upsert(s, j->ext_id, j->fields, j->now_ms, &id);
}

static void
customer_upsert_done(struct store_job *job)
{
	struct customer_job *j = (struct customer_job *)job;
	if (!customer_job_failed(j)) {
		metrics_inc(M_CUSTOMERS_UPSERTED, 1);
		http_reply_json(j->hr, 200, json_pack("{s:s}", "id", j->ext_id));
	}
	customer_job_free(j);
}

void
api_customers_post(struct http_req *hr)
{
	json_t *body = http_body_json(hr);
	struct customer_job *j;
	struct verr err;

	if (body == NULL)
		return;
	if (json_is_object(body) && json_object_get(body, "customers") != NULL) {
		api_customers_batch(hr, body);
		return;
	}
	if (validate_customer(body, 1, "", &err) < 0) {
		http_reply_error(hr, 400, err.msg, err.field, -1);
		json_decref(body);
		return;
	}
	j = customer_job_new(hr, json_string_value(json_object_get(body, "id")),
			     customer_upsert_run, customer_upsert_done);
	j->fields = body;
	storeloop_submit(daemon_storeloop(hr->d), &j->job);
}

static enum store_status
customer_get_run(struct store *s, struct store_job *job)
{
	struct customer_job *j = (struct customer_job *)job;
	return store_customer_get(s, j->ext_id, API_CUSTOMER_EVENTS, &j->view);
}

static void
customer_get_done(struct store_job *job)
{
	struct customer_job *j = (struct customer_job *)job;
	if (!customer_job_failed(j)) {
		http_reply_json(j->hr, 200, customer_view_json(&j->view));
	}
	customer_job_free(j);
}

/* "/v1/customers/{id}/ACTION" reaches the handlers too: only POST has actions. */
static int
customer_no_action(struct http_req *hr)
{
	if (strchr(hr->arg, '/') == NULL)
		return 1;
	http_reply_error(hr, 404, "no such resource", NULL, -1);
	return 0;
}

void
api_customer_post(struct http_req *hr)
{
	char *slash = strchr(hr->arg, '/');

	if (slash == NULL) {
		http_reply_error(hr, 405, "method not allowed; POST /v1/customers upserts", NULL,
				 -1);
		return;
	}
	*slash = '\0';
	if (strcmp(slash + 1, "subscribe") == 0 || strcmp(slash + 1, "unsubscribe") == 0)
		api_customer_consent(hr, hr->arg, slash + 1);
	else
		http_reply_error(hr, 404, "no such resource", NULL, -1);
}

void
api_customer_get(struct http_req *hr)
{
	char *slash = strchr(hr->arg, '/');

	if (slash != NULL && strcmp(slash + 1, "export") == 0) {
		*slash = '\0';
		api_customer_export(hr, hr->arg);
		return;
	}
	if (!customer_no_action(hr))
		return;
	struct customer_job *j = customer_job_new(hr, hr->arg, customer_get_run, customer_get_done);
	storeloop_submit(daemon_storeloop(hr->d), &j->job);
}

static enum store_status
customer_erase_run(struct store *s, struct store_job *job)
{
	struct customer_job *j = (struct customer_job *)job;
	return store_customer_erase(s, j->ext_id, j->secret, j->now_ms);
}

static void
customer_erase_done(struct store_job *job)
{
	struct customer_job *j = (struct customer_job *)job;
	if (!customer_job_failed(j))
		http_reply_json(j->hr, 200, json_pack("{s:s,s:b}", "id", j->ext_id, "erased", 1));
	customer_job_free(j);
}

void
api_customer_delete(struct http_req *hr)
{
	if (!customer_no_action(hr))
		return;
	struct customer_job *j =
	    customer_job_new(hr, hr->arg, customer_erase_run, customer_erase_done);
	storeloop_submit(daemon_storeloop(hr->d), &j->job);
}
