/* /v1/messages: what happened to each message, and a retry for the failed ones. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "api.h"
#include "daemon.h"
#include "http.h"
#include "store_json.h"
#include "storeloop.h"
#include "util.h"

#define API_MESSAGES_LIMIT 100
#define API_MESSAGES_LIMIT_MAX 1000

struct messages_job {
	struct store_job job; /* first */
	struct http_req *hr;
	struct daemon *d;
	struct outbox_filter f;
	char *customer, *campaign, *state, *channel;
	int64_t id;
	int64_t now_ms;
	struct message_row *rows; /* the listing */
	size_t n;
	struct message_row row; /* one message */
};

static struct messages_job *
messages_job_new(struct http_req *hr, enum store_status (*run)(struct store *, struct store_job *),
		 void (*done)(struct store_job *))
{
	struct messages_job *j = xcalloc(1, sizeof(*j));
	j->hr = hr;
	j->d = hr->d;
	j->now_ms = util_now_ms();
	j->job.run = run;
	j->job.done = done;
	return j;
}

static void
messages_job_free(struct messages_job *j)
{
	free(j->customer);
	free(j->campaign);
	free(j->state);
	free(j->channel);
	message_rows_free(j->rows, j->n);
	message_row_clear(&j->row);
	free(j);
}

/* A positive decimal id, as the API prints them; -1 for anything else. */
static int64_t
api_message_id(const char *s)
{
	char *end;
	long long v;
	if (s == NULL || *s < '0' || *s > '9')
		return -1;
	errno = 0;
	v = strtoll(s, &end, 10);
	return errno || *end != '\0' || v <= 0 ? -1 : v;
}

static int
api_messages_failed(struct messages_job *j)
{
	if (j->job.status == STORE_OK)
		return 0;
	http_reply_store_error(j->hr, j->job.status, "no such message",
			       "only a failed, expired or deferred message can be retried");
	return 1;
}

static enum store_status
messages_list_run(struct store *s, struct store_job *job)
{
	struct messages_job *j = (struct messages_job *)job;
	return store_messages_list(s, &j->f, &j->rows, &j->n);
}

static void
messages_list_done(struct store_job *job)
{
	struct messages_job *j = (struct messages_job *)job;
	if (!api_messages_failed(j)) {
		json_t *list = json_array();
		for (size_t i = 0; i < j->n; i++)
			json_array_append_new(list, message_row_json(&j->rows[i]));
		json_t *body = json_pack("{s:o}", "messages", list);
		if (j->n > 0 && j->n == (size_t)j->f.limit)
			json_object_set_new(body, "next_after", json_integer(j->rows[j->n - 1].id));
		http_reply_json(j->hr, 200, body);
	}
	messages_job_free(j);
}

/* GET /v1/messages?customer=&campaign=&state=&channel=&after=&limit= : oldest first, paged. */
void
api_messages_get(struct http_req *hr)
{
	struct messages_job *j = messages_job_new(hr, messages_list_run, messages_list_done);
	char *after = http_query_param(hr, "after"), *limit = http_query_param(hr, "limit");
	j->customer = http_query_param(hr, "customer");
	j->campaign = http_query_param(hr, "campaign");
	j->state = http_query_param(hr, "state");
	j->channel = http_query_param(hr, "channel");
	j->f = (struct outbox_filter){.customer = j->customer,
				      .channel = j->channel,
				      .campaign_id = j->campaign,
				      .state = outbox_state_parse(j->state),
				      .limit = API_MESSAGES_LIMIT};
	if (after != NULL && (j->f.after_id = api_message_id(after)) < 0)
		http_reply_error(hr, 400, "'after' must be a message id", "after", -1);
	else if (limit != NULL && (j->f.limit = (int)api_message_id(limit)) <= 0)
		http_reply_error(hr, 400, "'limit' must be a positive integer", "limit", -1);
	else {
		if (j->state && j->f.state < 0)
			http_reply_error(hr, 400,
					 "'state' must be one of queued, sending, sent, "
					 "deferred, failed, expired, skipped",
					 "state", -1);
		else {
			if (j->f.limit > API_MESSAGES_LIMIT_MAX)
				j->f.limit = API_MESSAGES_LIMIT_MAX;
			storeloop_submit(daemon_storeloop(hr->d), &j->job);
			j = NULL;
		}
	}
	free(after);
	free(limit);
	if (j != NULL)
		messages_job_free(j);
}

static enum store_status
message_get_run(struct store *s, struct store_job *job)
{
	struct messages_job *j = (struct messages_job *)job;
	return store_message_get(s, j->id, &j->row);
}

static void
message_get_done(struct store_job *job)
{
	struct messages_job *j = (struct messages_job *)job;
	if (!api_messages_failed(j)) {
		http_reply_json(j->hr, 200, message_row_json(&j->row));
	}
	messages_job_free(j);
}

/* GET /v1/messages/{id} */
void
api_message_get(struct http_req *hr)
{
	int64_t id = api_message_id(hr->arg);
	if (id < 0) {
		http_reply_error(hr, 404, "no such message", NULL, -1);
		return;
	}
	struct messages_job *j = messages_job_new(hr, message_get_run, message_get_done);
	j->id = id;
	storeloop_submit(daemon_storeloop(hr->d), &j->job);
}

static enum store_status
message_retry_run(struct store *s, struct store_job *job)
{
	struct messages_job *j = (struct messages_job *)job;
	enum store_status rc = store_message_retry(s, j->id, j->now_ms);
	if (rc == STORE_OK)
		rc = store_message_get(s, j->id, &j->row);
	return rc;
}

static void
message_retry_done(struct store_job *job)
{
	struct messages_job *j = (struct messages_job *)job;
	if (!api_messages_failed(j)) {
		http_reply_json(j->hr, 202, message_row_json(&j->row));
		daemon_wake_delivery(j->d);
	}
	messages_job_free(j);
}

/* POST /v1/messages/{id}/retry: a failed, expired or deferred message is queued again, now. */
void
api_message_post(struct http_req *hr)
{
	char *slash = strchr(hr->arg, '/');
	int64_t id;

	if (slash == NULL || strcmp(slash, "/retry") != 0) {
		http_reply_error(hr, 404, "no such resource", NULL, -1);
		return;
	}
	*slash = '\0';
	if ((id = api_message_id(hr->arg)) < 0) {
		http_reply_error(hr, 404, "no such message", NULL, -1);
		return;
	}
	struct messages_job *j = messages_job_new(hr, message_retry_run, message_retry_done);
	j->id = id;
	storeloop_submit(daemon_storeloop(hr->d), &j->job);
}
