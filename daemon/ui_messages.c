/*
 * Issue 22: the dashboard's pages about mail: the messages (filtered, paged by id), one
 * message with its headers, attempts, state and the mail as the recipient sees it, a retry;
 * and the templates rendered for a customer exactly as `nurtured preview` renders them (the
 * same compose_data and compose_message).
 */
#include <glib.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <event2/http.h>

#include "api.h"
#include "store_json.h"
#include "campaign.h"
#include "compose.h"
#include "daemon.h"
#include "engine.h"
#include "http.h"
#include "store_ui.h"
#include "storeloop.h"
#include "ui_int.h"
#include "util.h"

struct mail_job {
	struct store_job job; /* first */
	struct http_req *hr;
	int64_t id;
	json_t *view;
	int body_only; /* the iframe's document: the HTML alone */
	/* the template preview */
	struct engine *engine;
	const struct compose_ctx *cx;
	char *campaign, *step, *customer;
	json_t *event; /* the preview's trigger event, or NULL */
	char *reason;  /* why it would not be sent */
	char *payload;
	size_t len;
};

static void
mail_job_free(struct mail_job *j)
{
	json_decref(j->view);
	free(j->campaign);
	free(j->step);
	free(j->customer);
	json_decref(j->event);
	free(j->reason);
	free(j->payload);
	free(j);
}

/* Puts the mail of J's payload into VIEW (headers, text), or answers the iframe with its HTML. */
static void
mail_show(struct mail_job *j, const char *page, const char *frame)
{
	struct ui_mail m = {0};
	int parsed = j->payload && ui_mail_parse(j->payload, j->len, &m) == 0;

	if (j->body_only) {
		if (parsed && m.html != NULL)
			ui_reply_mail_html(j->hr, m.html);
		else {
			/* No HTML part: its text, escaped, as a page of its own. */
			gchar *esc = g_markup_escape_text(parsed && m.text ? m.text : "", -1);
			char *html =
			    xasprintf("<!doctype html><meta charset=utf-8><pre>%s</pre>", esc);
			ui_reply_mail_html(j->hr, html);
			free(html);
			g_free(esc);
		}
		ui_mail_clear(&m);
		return;
	}
	if (parsed) {
		json_object_set_new(j->view, "headers", json_incref(m.headers));
		if (m.text)
			json_object_set_new(j->view, "text", json_string(m.text));
		json_object_set_new(j->view, "has_html", json_boolean(m.html != NULL));
		json_object_set_new(j->view, "frame", json_string(frame));
	}
	json_object_set_new(j->view, "has_mail", json_boolean(parsed));
	json_t *v = j->view;
	j->view = NULL;
	ui_render(j->hr, page, v);
	ui_mail_clear(&m);
}

/* --- Messages ----------------------------------------------------------------------------- */

static void
messages_got(struct http_req *hr, int code, json_t *body, void *arg)
{
	(void)arg;
	static const char *const states[] = {"queued", "sending", "sent",    "deferred",
					     "failed", "expired", "skipped", "bounced"};
	if (ui_api_failed(hr, code, body))
		return;
	char *state = ui_query(hr, "state"), *q;
	json_t *list = json_array(), *filters = json_object();
	for (size_t i = 0; i < NT_ARRAY_LEN(states); i++)
		json_array_append_new(list, json_pack("{s:s,s:b}", "name", states[i], "selected",
						      state && strcmp(state, states[i]) == 0));
	json_object_set_new(body, "states", list);
	free(state);
	static const char *const keys[] = {"customer", "campaign", "channel"};
	for (size_t i = 0; i < NT_ARRAY_LEN(keys); i++)
		if ((q = ui_query(hr, keys[i])) != NULL) {
			json_object_set_new(filters, keys[i], json_string(q));
			free(q);
		}
	/* The next page keeps the filters: the link is built from them, each encoded. */
	if (json_object_get(body, "next_after") != NULL) {
		GString *g = g_string_new("/ui/messages?");
		const char *k;
		json_t *v;
		json_object_foreach(filters, k, v)
		{
			char *e = evhttp_encode_uri(json_string_value(v));
			g_string_append_printf(g, "%s=%s&", k, e);
			free(e);
		}
		if ((state = ui_query(hr, "state")) != NULL) {
			char *e = evhttp_encode_uri(state);
			g_string_append_printf(g, "state=%s&", e);
			free(e);
			free(state);
		}
		g_string_append_printf(
		    g, "after=%lld",
		    (long long)json_integer_value(json_object_get(body, "next_after")));
		char *next = g_string_free(g, FALSE);
		json_object_set_new(body, "next", json_string(next));
		g_free(next);
	}
	json_object_set_new(body, "filter", filters);
	ui_render(hr, "messages", body);
}

/*
 * GET /ui/messages?state=&campaign=&customer=&channel=&after=: GET /v1/messages's page. The
 * filter form sends its empty fields too; the API would take "" for a value, so the page
 * first sends the browser to the same query without them.
 */
void
ui_messages(struct http_req *hr)
{
	static const char *const keys[] = {"state", "channel", "campaign", "customer", "after"};
	GString *g = g_string_new("/ui/messages");
	int empty = 0;
	char sep = '?';

	for (size_t i = 0; i < NT_ARRAY_LEN(keys); i++) {
		char *v = http_query_param(hr, keys[i]);
		if (v != NULL && *v == '\0')
			empty = 1;
		else if (v != NULL) {
			char *e = evhttp_encode_uri(v);
			g_string_append_printf(g, "%c%s=%s", sep, keys[i], e);
			sep = '&';
			free(e);
		}
		free(v);
	}
	if (empty)
		ui_redirect(hr, g->str);
	else
		ui_api(hr, api_messages_get, NULL, NULL, messages_got, NULL);
	g_string_free(g, TRUE);
}

static enum store_status
payload_run(struct store *s, struct store_job *job)
{
	struct mail_job *j = (struct mail_job *)job;
	enum store_status rc = s->ops->ui->message_payload(s, j->id, &j->payload, &j->len);
	return rc == STORE_NOTFOUND ? STORE_OK : rc; /* skipped messages have none */
}

static void
payload_done(struct store_job *job)
{
	struct mail_job *j = (struct mail_job *)job;
	char frame[64];
	if (job->status != STORE_OK) {
		ui_error(j->hr, 503, "The store is busy; reload the page.");
		mail_job_free(j);
		return;
	}
	snprintf(frame, sizeof(frame), "/ui/messages/%lld/body", (long long)j->id);
	mail_show(j, "message", frame);
	mail_job_free(j);
}

static struct mail_job *
mail_job_new(struct http_req *hr, int64_t id, json_t *view)
{
	struct mail_job *j = xcalloc(1, sizeof(*j));
	j->hr = hr;
	j->id = id;
	j->view = view;
	j->job.run = payload_run;
	j->job.done = payload_done;
	return j;
}

static void
message_got(struct http_req *hr, int code, json_t *body, void *arg)
{
	(void)arg;
	if (ui_api_failed(hr, code, body))
		return;
	const char *st = json_string_value(json_object_get(body, "state"));
	json_object_set_new(
	    body, "retryable",
	    json_boolean(st && (strcmp(st, "failed") == 0 || strcmp(st, "expired") == 0 ||
				strcmp(st, "deferred") == 0)));
	struct mail_job *j = mail_job_new(hr, json_integer_value(json_object_get(body, "id")),
					  json_pack("{s:o}", "message", body));
	storeloop_submit(daemon_storeloop(hr->d), &j->job);
}

/* GET /ui/messages/ID: GET /v1/messages/ID, then the mail itself. */
void
ui_message(struct http_req *hr, const char *id)
{
	ui_api(hr, api_message_get, id, NULL, message_got, NULL);
}

/* GET /ui/messages/ID/body: the mail's HTML, for the sandboxed iframe. */
void
ui_message_body(struct http_req *hr, const char *id)
{
	char *end;
	long long n = strtoll(id, &end, 10);
	if (*end != '\0' || n <= 0) {
		ui_error(hr, 404, "No such message.");
		return;
	}
	struct mail_job *j = mail_job_new(hr, n, json_object());
	j->body_only = 1;
	storeloop_submit(daemon_storeloop(hr->d), &j->job);
}

/* POST /ui/messages/ID/retry: POST /v1/messages/ID/retry. */
void
ui_message_retry(struct http_req *hr, const char *id)
{
	char *arg = xasprintf("%s/retry", id);
	char *enc = evhttp_encode_uri(id);
	char *loc = xasprintf("/ui/messages/%s", enc);
	free(enc);
	ui_api(hr, api_message_post, arg, NULL, ui_api_then_redirect, loc);
	free(arg);
}

/* --- Templates ---------------------------------------------------------------------------- */

/* Store thread: the send step rendered for the customer, as `nurtured preview` does it. */
static enum store_status
preview_run(struct store *s, struct store_job *job)
{
	struct mail_job *j = (struct mail_job *)job;
	const struct campaign *c = engine_running_campaign(j->engine, j->campaign);
	int idx = c ? campaign_step_index(c, j->step) : -1;
	json_t *customer = NULL, *data = NULL;
	struct composed m = {0};
	enum store_status rc;
	int64_t cid, now = util_now_ms();

	if (idx < 0 || c->steps[idx].kind != STEP_SEND) {
		j->reason = xstrdup("no such campaign or send step");
		return STORE_OK;
	}
	rc = store_customer_lookup(s, j->customer, &cid);
	if (rc == STORE_NOTFOUND || rc == STORE_GONE) {
		j->reason = xstrdup(rc == STORE_GONE ? "customer erased" : "no such customer");
		return STORE_OK;
	}
	if (rc != STORE_OK || (rc = store_customer_context(s, cid, &customer)) != STORE_OK)
		return rc;
	char *msgid = xasprintf("<preview.%lld@preview.invalid>", (long long)now);
	const struct step *st = &c->steps[idx];
	data = compose_data(j->cx, c, customer, j->event, NULL, now);
	if (compose_message(j->cx, c, st->id, st->channel, st->template, data, msgid, now, &m,
			    &j->reason) == 0) {
		j->payload = m.payload;
		j->len = m.len;
		m.payload = NULL;
	}
	free(msgid);
	composed_clear(&m);
	json_decref(data);
	json_decref(customer);
	return STORE_OK;
}

static void
preview_done(struct store_job *job)
{
	struct mail_job *j = (struct mail_job *)job;
	if (job->status != STORE_OK) {
		ui_error(j->hr, 503, "The store is busy; reload the page.");
		mail_job_free(j);
		return;
	}
	if (j->reason != NULL && j->body_only) {
		ui_reply_mail_html(j->hr, "");
		mail_job_free(j);
		return;
	}
	if (j->reason != NULL)
		json_object_set_new(j->view, "reason", json_string(j->reason));
	char *c = evhttp_encode_uri(j->campaign), *s = evhttp_encode_uri(j->step),
	     *u = evhttp_encode_uri(j->customer);
	char *frame = xasprintf("/ui/templates/body?step=%s%%2F%s&customer=%s", c, s, u);
	free(c);
	free(s);
	free(u);
	if (j->event != NULL) {
		char *text = json_dumps(j->event, JSON_COMPACT);
		char *e = evhttp_encode_uri(text), *f = xasprintf("%s&event=%s", frame, e);
		free(text);
		free(e);
		free(frame);
		frame = f;
	}
	mail_show(j, "templates", frame);
	free(frame);
	mail_job_free(j);
}

/* The send steps of the running campaigns: what can be previewed, "CAMPAIGN/STEP". */
static json_t *
templates_steps(struct http_req *hr, const char *selected)
{
	const struct campaign_set *set = daemon_campaigns(hr->d);
	json_t *list = json_array();
	for (size_t i = 0; set != NULL && i < set->n; i++)
		for (size_t k = 0; k < set->v[i]->n_steps; k++) {
			const struct step *st = &set->v[i]->steps[k];
			if (st->kind != STEP_SEND)
				continue;
			char *key = xasprintf("%s/%s", set->v[i]->id, st->id);
			json_array_append_new(
			    list, json_pack("{s:s,s:s,s:s,s:b}", "key", key, "campaign",
					    set->v[i]->id, "template", st->template, "selected",
					    selected && strcmp(selected, key) == 0));
			free(key);
		}
	return list;
}

static void
templates_show(struct http_req *hr, int body_only)
{
	char *step = ui_query(hr, "step"), *customer = ui_query(hr, "customer"), *slash;
	json_t *view =
	    json_pack("{s:o,s:s?}", "steps", templates_steps(hr, step), "customer", customer);

	if (step == NULL || customer == NULL || (slash = strchr(step, '/')) == NULL) {
		free(step);
		free(customer);
		if (body_only) {
			json_decref(view);
			ui_error(hr, 400, "Pick a step and a customer.");
		} else
			ui_render(hr, "templates", view);
		return;
	}
	/* As `nurtured preview --event FILE`: the event the mail is about, as JSON. */
	char *event = ui_query(hr, "event");
	json_t *ev = NULL;
	if (event != NULL) {
		json_error_t jerr;
		json_object_set_new(view, "event", json_string(event));
		ev = json_loads(event, 0, &jerr);
		if (!json_is_object(ev)) {
			char msg[300];
			snprintf(msg, sizeof(msg),
				 "the event must be a JSON object (line %d, column %d: %s)",
				 jerr.line, jerr.column, ev ? "not an object" : jerr.text);
			json_decref(ev);
			free(event);
			free(step);
			free(customer);
			json_decref(view);
			ui_error(hr, 400, msg);
			return;
		}
		free(event);
	}
	struct mail_job *j = xcalloc(1, sizeof(*j));
	j->hr = hr;
	j->view = view;
	j->event = ev;
	j->body_only = body_only;
	j->campaign = xstrndup(step, (size_t)(slash - step));
	j->step = xstrdup(slash + 1);
	j->customer = customer;
	j->engine = daemon_engine(hr->d);
	j->cx = daemon_compose(hr->d);
	j->job.run = preview_run;
	j->job.done = preview_done;
	json_object_set_new(view, "previewed", json_true());
	free(step);
	storeloop_submit(daemon_storeloop(hr->d), &j->job);
}

/* GET /ui/templates?step=CAMPAIGN/STEP&customer=ID: the mail that step renders for them. */
void
ui_templates(struct http_req *hr)
{
	templates_show(hr, 0);
}

void
ui_template_body(struct http_req *hr)
{
	templates_show(hr, 1);
}
