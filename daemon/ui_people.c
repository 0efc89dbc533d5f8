/*
 * Issue 22: the dashboard's pages about people: customers (search, one timeline of what
 * happened to one of them, erasure) and the suppression list. Data and actions go through the
 * API's handlers (ui_api) and the store's operations.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <event2/http.h>

#include "api.h"
#include "daemon.h"
#include "http.h"
#include "store_json.h"
#include "store_ui.h"
#include "storeloop.h"
#include "ui_int.h"
#include "util.h"

#define UI_SEARCH_LIMIT 50
#define UI_TIMELINE_MESSAGES 200

struct people_job {
	struct store_job job; /* first */
	struct http_req *hr;
	char *q;
	char *after; /* the search's cursor, NULL from the start */
	char *next;  /* ... and the next page's */
	struct ui_customer_row *rows;
	size_t n;
	json_t *view;
	struct message_row *messages;
	size_t n_messages;
};

static void
people_job_free(struct people_job *j)
{
	free(j->q);
	free(j->after);
	free(j->next);
	ui_customer_rows_free(j->rows, j->n);
	json_decref(j->view);
	message_rows_free(j->messages, j->n_messages);
	free(j);
}

/* --- Customers: search ------------------------------------------------------------------ */

static enum store_status
search_run(struct store *s, struct store_job *job)
{
	struct people_job *j = (struct people_job *)job;
	return s->ops->ui->customer_search(s, j->q, j->after, UI_SEARCH_LIMIT, &j->rows, &j->n,
					   &j->next);
}

static void
search_done(struct store_job *job)
{
	struct people_job *j = (struct people_job *)job;
	json_t *list = json_array();

	static const char *const by[UI_MATCH_N] = {"id", "email", "name"};
	char *more = NULL;

	if (job->status == STORE_NOTFOUND) {
		ui_error(j->hr, 400, "That page of results does not exist: search again.");
		json_decref(list);
		people_job_free(j);
		return;
	}
	if (job->status != STORE_OK) {
		ui_error(j->hr, 503, "The store is busy; search again.");
		json_decref(list);
		people_job_free(j);
		return;
	}
	for (size_t i = 0; i < j->n; i++)
		json_array_append_new(list, json_pack("{s:s,s:s?,s:s?,s:s?,s:s}", "id",
						      j->rows[i].id, "email", j->rows[i].email,
						      "name", j->rows[i].name, "stage",
						      j->rows[i].stage, "by", by[j->rows[i].by]));
	if (j->next != NULL) {
		char *q = evhttp_encode_uri(j->q), *after = evhttp_encode_uri(j->next);
		more = xasprintf("/ui/customers?q=%s&after=%s", q, after);
		free(q);
		free(after);
	}
	ui_render(j->hr, "customers",
		  json_pack("{s:s,s:o,s:b,s:s?,s:b}", "q", j->q, "customers", list, "searched", 1,
			    "next", more, "continued", j->after != NULL));
	free(more);
	people_job_free(j);
}

/*
 * GET /ui/customers?q=[&after=]: by the start of an id, an email or a name, each through its
 * index, a page of 50 at a time with the next page's cursor.
 */
void
ui_customers(struct http_req *hr)
{
	char *q = ui_query(hr, "q");
	char *erased = ui_query(hr, "erased");
	if (q == NULL) {
		ui_render(hr, "customers", json_pack("{s:s?}", "erased", erased));
		free(erased);
		return;
	}
	free(erased);
	struct people_job *j = xcalloc(1, sizeof(*j));
	j->hr = hr;
	j->q = q;
	j->after = ui_query(hr, "after");
	j->job.run = search_run;
	j->job.done = search_done;
	storeloop_submit(daemon_readloop(hr->d), &j->job);
}

/* --- Customers: one timeline ------------------------------------------------------------- */

static void
timeline_add(json_t *tl, json_t *at, const char *kind, const char *what, const char *why,
	     json_t *link)
{
	if (!json_is_string(at)) {
		json_decref(link);
		return;
	}
	json_t *e =
	    json_pack("{s:O,s:s,s:s?,s:s?}", "at", at, "kind", kind, "what", what, "why", why);
	if (link != NULL)
		json_object_set_new(e, "link", link);
	json_object_set_new(e, kind, json_true()); /* for the template's styling */
	json_array_append_new(tl, e);
}

static int
timeline_cmp(const void *a, const void *b)
{
	const char *x = json_string_value(json_object_get(*(json_t *const *)a, "at"));
	const char *y = json_string_value(json_object_get(*(json_t *const *)b, "at"));
	return strcmp(y, x); /* newest first: ISO times sort as text */
}

/* Events, journeys, the engine's notes, messages and consent changes: one list, newest first. */
static json_t *
timeline_build(json_t *c, json_t *messages)
{
	json_t *tl = json_array(), *v;
	const char *k;
	size_t i;
	char buf[512];

	json_array_foreach(json_object_get(c, "events"), i, v)
	{
		char *props = json_dumps(json_object_get(v, "properties"),
					 JSON_COMPACT | JSON_REAL_PRECISION(12));
		timeline_add(tl, json_object_get(v, "time"), "event",
			     json_string_value(json_object_get(v, "type")), props, NULL);
		free(props);
	}
	json_array_foreach(json_object_get(c, "journeys"), i, v)
	{
		const char *camp = json_string_value(json_object_get(v, "campaign"));
		snprintf(buf, sizeof(buf), "entered %s", camp ? camp : "?");
		timeline_add(tl, json_object_get(v, "entered"), "journey", buf, NULL, NULL);
		if (json_is_string(json_object_get(v, "exited"))) {
			snprintf(buf, sizeof(buf), "left %s", camp ? camp : "?");
			timeline_add(tl, json_object_get(v, "exited"), "journey", buf,
				     json_string_value(json_object_get(v, "exit_reason")), NULL);
		}
	}
	json_array_foreach(json_object_get(c, "notes"), i, v)
	{
		const char *step = json_string_value(json_object_get(v, "step"));
		snprintf(buf, sizeof(buf), "%s %s%s%s",
			 json_string_value(json_object_get(v, "action")),
			 json_string_value(json_object_get(v, "campaign")), step ? " / " : "",
			 step ? step : "");
		timeline_add(tl, json_object_get(v, "at"), "note", buf,
			     json_string_value(json_object_get(v, "reason")), NULL);
	}
	json_array_foreach(messages, i, v)
	{
		const char *reason = json_string_value(json_object_get(v, "reason"));
		if (reason == NULL)
			reason = json_string_value(json_object_get(v, "last_reply"));
		snprintf(buf, sizeof(buf), "message #%lld %s: %s / %s (%s)",
			 (long long)json_integer_value(json_object_get(v, "id")),
			 json_string_value(json_object_get(v, "state")),
			 json_string_value(json_object_get(v, "campaign")),
			 json_string_value(json_object_get(v, "step")),
			 json_string_value(json_object_get(v, "template")));
		timeline_add(tl, json_object_get(v, "created"), "message", buf, reason,
			     json_sprintf("/ui/messages/%lld",
					  (long long)json_integer_value(json_object_get(v, "id"))));
	}
	json_object_foreach(json_object_get(c, "consent_log"), k, v)
	{
		snprintf(buf, sizeof(buf), "consent %s: %s", k,
			 json_string_value(json_object_get(v, "state")));
		const char *src = json_string_value(json_object_get(v, "source"));
		char why[128];
		snprintf(why, sizeof(why), "by %s", src ? src : "?");
		timeline_add(tl, json_object_get(v, "updated"), "consent", buf, why, NULL);
	}
	size_t n = json_array_size(tl);
	json_t **items = xcalloc(n + 1, sizeof(json_t *));
	for (i = 0; i < n; i++)
		items[i] = json_incref(json_array_get(tl, i));
	qsort(items, n, sizeof(json_t *), timeline_cmp);
	json_array_clear(tl);
	for (i = 0; i < n; i++)
		json_array_append_new(tl, items[i]);
	free(items);
	return tl;
}

static enum store_status
customer_messages_run(struct store *s, struct store_job *job)
{
	struct people_job *j = (struct people_job *)job;
	struct outbox_filter f = {.customer = j->q, .state = -1, .limit = UI_TIMELINE_MESSAGES};
	return store_messages_list(s, &f, &j->messages, &j->n_messages);
}

static void
customer_messages_done(struct store_job *job)
{
	struct people_job *j = (struct people_job *)job;
	json_t *v = j->view;

	if (job->status != STORE_OK) {
		ui_error(j->hr, 503, "The store is busy; reload the page.");
		people_job_free(j);
		return;
	}
	json_t *messages = json_array();
	for (size_t i = 0; i < j->n_messages; i++)
		json_array_append_new(messages, message_row_json(&j->messages[i]));
	json_object_set_new(v, "timeline", timeline_build(v, messages));
	json_decref(messages);
	json_t *consent = json_array(), *e;
	const char *topic;
	json_object_foreach(json_object_get(v, "consent_log"), topic, e)
	{
		json_t *row = json_deep_copy(e);
		json_object_set_new(row, "topic", json_string(topic));
		json_array_append_new(consent, row);
	}
	json_object_set_new(v, "consent_list", consent);
	json_object_set_new(v, "n_messages", json_integer((json_int_t)j->n_messages));
	j->view = NULL;
	ui_render(j->hr, "customer", v);
	people_job_free(j);
}

/* The customer as GET /v1/customers/ID has it; then the messages to them (the store loop). */
static void
customer_got(struct http_req *hr, int code, json_t *body, void *arg)
{
	char *id = arg;
	if (ui_api_failed(hr, code, body)) {
		free(id);
		return;
	}
	struct people_job *j = xcalloc(1, sizeof(*j));
	j->hr = hr;
	j->q = id;
	j->view = body;
	j->job.run = customer_messages_run;
	j->job.done = customer_messages_done;
	storeloop_submit(daemon_storeloop(hr->d), &j->job);
}

void
ui_customer(struct http_req *hr, const char *id)
{
	ui_api(hr, api_customer_get, id, NULL, customer_got, xstrdup(id));
}

/* POST /ui/customers/ID/erase with confirm=ID typed again: DELETE /v1/customers/ID. */
void
ui_customer_erase(struct http_req *hr, const char *id)
{
	char *confirm = ui_form(hr, "confirm");
	if (confirm == NULL || strcmp(confirm, id) != 0) {
		free(confirm);
		ui_error(hr, 400, "Type the customer's id to confirm the erasure.");
		return;
	}
	free(confirm);
	char *enc = evhttp_encode_uri(id);
	char *loc = xasprintf("/ui/customers?erased=%s", enc);
	free(enc);
	ui_api(hr, api_customer_delete, id, NULL, ui_api_then_redirect, loc);
}

/* --- Suppressions ------------------------------------------------------------------------- */

static void
suppressions_got(struct http_req *hr, int code, json_t *body, void *arg)
{
	(void)arg;
	if (ui_api_failed(hr, code, body))
		return;
	ui_render(hr, "suppressions", body);
}

/* GET /ui/suppressions?after=: the list in address order, a page at a time. */
void
ui_suppressions(struct http_req *hr)
{
	ui_api(hr, api_suppressions_get, NULL, NULL, suppressions_got, NULL);
}

static void
suppression_done(struct http_req *hr, int code, json_t *body, void *arg)
{
	(void)arg;
	if (!ui_api_failed(hr, code, body)) {
		json_decref(body);
		ui_redirect(hr, "/ui/suppressions");
	}
}

/* POST /ui/suppressions/add (address, reason) or /remove (address): the API's add and delete. */
void
ui_suppression_action(struct http_req *hr, const char *action)
{
	char *address = ui_form(hr, "address");
	if (address == NULL) {
		ui_error(hr, 400, "An address is needed.");
		return;
	}
	if (strcmp(action, "add") == 0) {
		char *reason = ui_form(hr, "reason");
		json_t *body = json_pack("{s:s,s:s?}", "address", address, "reason", reason);
		free(reason);
		ui_api(hr, api_suppressions_post, NULL, body, suppression_done, NULL);
	} else if (strcmp(action, "remove") == 0)
		ui_api(hr, api_suppression_delete, address, NULL, suppression_done, NULL);
	else
		ui_error(hr, 404, "No such action.");
	free(address);
}
