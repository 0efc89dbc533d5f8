/* /v1/suppressions: addresses that are never mailed (hard bounces, complaints, manual). */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "api.h"
#include "daemon.h"
#include "http.h"
#include "mime.h"
#include "storeloop.h"
#include "timefmt.h"
#include "util.h"

#define SUPPRESSIONS_PAGE 100
#define SUPPRESSIONS_PAGE_MAX 1000

/* The reasons an operator may give; "erased" is the store's own (a deleted customer). */
static const char *const suppression_reasons[] = {"manual", "hard_bounce", "complaint",
						  "spam_trap"};

enum suppression_op { SUP_LIST, SUP_ADD, SUP_DELETE };

struct suppression_job {
	struct store_job job; /* first */
	struct http_req *hr;
	enum suppression_op op;
	char *address;
	char *reason;
	char *after;
	int limit;
	const char *secret;
	int64_t now_ms;
	struct suppression_row *rows; /* SUP_LIST */
	size_t n;
};

static void
suppression_job_free(struct suppression_job *j)
{
	free(j->address);
	free(j->reason);
	free(j->after);
	suppression_rows_free(j->rows, j->n);
	free(j);
}

static enum store_status
suppression_run(struct store *s, struct store_job *job)
{
	struct suppression_job *j = (struct suppression_job *)job;

	switch (j->op) {
	case SUP_LIST:
		return store_suppressions_list(s, j->after, j->limit, &j->rows, &j->n);
	case SUP_ADD:
		return store_suppression_add(s, j->secret, j->address, j->reason, j->now_ms);
	default:
		return store_suppression_delete(s, j->secret, j->address);
	}
}

/* A page of the list: {"suppressions": [...], "next": KEY when the page is full}. */
static json_t *
suppressions_json(const struct suppression_job *j)
{
	json_t *list = json_array();
	char when[40];

	for (size_t i = 0; i < j->n; i++) {
		const struct suppression_row *r = &j->rows[i];
		timefmt_format_utc(r->created_ms, when, sizeof(when));
		json_array_append_new(list,
				      json_pack("{s:s?,s:s?,s:s?,s:s}", "key", r->key, "address",
						r->address, "reason", r->reason, "created", when));
	}
	json_t *o = json_pack("{s:o}", "suppressions", list);
	if (j->n > 0 && j->n == (size_t)j->limit)
		json_object_set_new(o, "next", json_string(j->rows[j->n - 1].key));
	return o;
}

static void
suppression_done(struct store_job *job)
{
	struct suppression_job *j = (struct suppression_job *)job;

	if (job->status != STORE_OK)
		http_reply_store_error(j->hr, job->status, "address is not on the suppression list",
				       NULL);
	else if (j->op == SUP_LIST)
		http_reply_json(j->hr, 200, suppressions_json(j));
	else if (j->op == SUP_ADD)
		http_reply_json(j->hr, 200,
				json_pack("{s:s,s:s}", "address", j->address, "reason", j->reason));
	else
		http_reply_json(j->hr, 200,
				json_pack("{s:s,s:b}", "address", j->address, "deleted", 1));
	suppression_job_free(j);
}

static struct suppression_job *
suppression_job_new(struct http_req *hr, enum suppression_op op)
{
	struct suppression_job *j = xcalloc(1, sizeof(*j));
	j->hr = hr;
	j->op = op;
	j->secret = daemon_secret(hr->d);
	j->now_ms = util_now_ms();
	j->job.run = suppression_run;
	j->job.done = suppression_done;
	return j;
}

/* GET /v1/suppressions?after=KEY&limit=N: pages in key order. */
void
api_suppressions_get(struct http_req *hr)
{
	char *limit = http_query_param(hr, "limit"), *end = NULL;
	long long n = SUPPRESSIONS_PAGE;
	struct suppression_job *j;

	/* As /v1/messages: a positive integer, or a 400 naming it; above the page maximum, the
	 * maximum. */
	if (limit != NULL) {
		errno = 0;
		n = (limit[0] >= '0' && limit[0] <= '9') ? strtoll(limit, &end, 10) : -1;
		if (errno != 0 || end == NULL || *end != '\0' || n <= 0) {
			free(limit);
			http_reply_error(hr, 400, "'limit' must be a positive integer", "limit",
					 -1);
			return;
		}
		if (n > SUPPRESSIONS_PAGE_MAX)
			n = SUPPRESSIONS_PAGE_MAX;
	}
	free(limit);
	j = suppression_job_new(hr, SUP_LIST);
	j->after = http_query_param(hr, "after");
	j->limit = (int)n;
	storeloop_submit(daemon_storeloop(hr->d), &j->job);
}

/* POST /v1/suppressions {"address", "reason"}: adding an address twice keeps the first. */
void
api_suppressions_post(struct http_req *hr)
{
	json_t *body = http_body_json(hr);
	const char *addr, *reason;
	struct suppression_job *j;
	size_t i;

	if (body == NULL)
		return;
	addr = json_string_value(json_object_get(body, "address"));
	reason = json_string_value(json_object_get(body, "reason"));
	if (addr == NULL || !mime_addr_valid(addr)) {
		http_reply_error(hr, 400, "'address' must be an email address", "address", -1);
		json_decref(body);
		return;
	}
	for (i = 0; reason != NULL && i < NT_ARRAY_LEN(suppression_reasons); i++)
		if (strcmp(reason, suppression_reasons[i]) == 0)
			break;
	if (json_object_get(body, "reason") != NULL &&
	    (reason == NULL || i == NT_ARRAY_LEN(suppression_reasons))) {
		http_reply_error(
		    hr, 400, "'reason' must be one of manual, hard_bounce, complaint, spam_trap",
		    "reason", -1);
		json_decref(body);
		return;
	}
	j = suppression_job_new(hr, SUP_ADD);
	j->address = xstrdup(addr);
	j->reason = xstrdup(reason ? reason : "manual");
	json_decref(body);
	storeloop_submit(daemon_storeloop(hr->d), &j->job);
}

/* DELETE /v1/suppressions/{address}: mail may go there again (an erased one stays). */
void
api_suppression_delete(struct http_req *hr)
{
	struct suppression_job *j = suppression_job_new(hr, SUP_DELETE);
	j->address = xstrdup(hr->arg);
	storeloop_submit(daemon_storeloop(hr->d), &j->job);
}
