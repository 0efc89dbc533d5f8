/*
 * Consent over HTTP. The API's subscribe (double opt-in: pending, then a confirmation mail,
 * queued as system mail through message_queue); unsubscribe, and the customer-facing pages behind
 * the signed links in every mail: /confirm/{token} and /u/{token} (RFC 8058 one-click: a POST with
 * no cookie and no login). Tokens are checked before anything touches the store; a forged one
 * changes nothing.
 */
#include <event2/buffer.h>
#include <event2/http.h>
#include <event2/keyvalq_struct.h>
#include <glib.h>
#include <stdlib.h>
#include <string.h>

#include "api.h"
#include "store_json.h"
#include "campaign.h"
#include "compose.h"
#include "config.h"
#include "consent.h"
#include "daemon.h"
#include "message_queue.h"
#include "prefs.h"
#include "http.h"
#include "log.h"
#include "storeloop.h"
#include "token.h"
#include "util.h"
#include "validate.h"

/* A confirmation link is good for this long; unsubscribe links never expire. */
#define CONSENT_CONFIRM_TTL_S (30 * 86400)

enum consent_op { OP_SUBSCRIBE, OP_UNSUBSCRIBE, OP_CONFIRM, OP_LINK_UNSUBSCRIBE };

struct consent_job {
	struct store_job job; /* first */
	struct http_req *hr;
	enum consent_op op;
	char *customer;
	char *topic; /* a topic, or "*" for all */
	char *addr;  /* the client's address (confirmations) */
	char *source;
	int64_t issued_s;
	int64_t now_ms;
	const struct compose_ctx *cx;
	const char *channel;
	int de; /* the page's language */
	/* Results. */
	const char *state; /* the consent state now */
	char *message;	   /* subscribe: the confirmation's Message-ID, or why it was skipped */
	int skipped;
	int stale; /* a confirmation for a request that no longer stands */
};

static void
consent_job_free(struct consent_job *j)
{
	free(j->customer);
	free(j->topic);
	free(j->addr);
	free(j->source);
	free(j->message);
	free(j);
}

/* The page's language: a ?lang= override, else the browser's first choice, else English. */
int
consent_lang_de(struct http_req *hr)
{
	char *lang = http_query_param(hr, "lang");
	const char *al = hr->req ? evhttp_find_header(evhttp_request_get_input_headers(hr->req),
						      "Accept-Language")
				 : NULL;
	int de = lang ? g_ascii_strncasecmp(lang, "de", 2) == 0
		      : al != NULL && g_ascii_strncasecmp(al, "de", 2) == 0;
	free(lang);
	return de;
}

/* Small, self-contained pages: no scripts, no external resources, no cookies. */
void
consent_page(struct http_req *hr, int code, int de, const char *title, const char *body)
{
	char *html = xasprintf("<!DOCTYPE html>\n<html lang=\"%s\"><head><meta charset=\"utf-8\">"
			       "<meta name=\"viewport\" content=\"width=device-width\">"
			       "<title>%s</title><style>body{font-family:sans-serif;max-width:"
			       "32em;margin:3em auto;padding:0 1em}button{font-size:1em;padding:"
			       ".5em 1em}</style></head><body><h1>%s</h1>%s</body></html>\n",
			       de ? "de" : "en", title, title, body);
	if (hr->req != NULL) {
		struct evkeyvalq *h = evhttp_request_get_output_headers(hr->req);
		evhttp_add_header(h, "Cache-Control", "no-store");
		evhttp_add_header(h, "X-Content-Type-Options", "nosniff");
		evhttp_add_header(h, "Content-Security-Policy",
				  "default-src 'none'; "
				  "style-src 'unsafe-inline'");
	}
	http_reply_text(hr, code, "text/html; charset=utf-8", html);
	free(html);
}

static void
consent_page_invalid(struct http_req *hr, int de)
{
	consent_page(hr, 400, de, de ? "Ungültiger Link" : "Invalid link",
		     de ? "<p>Dieser Link ist ungültig. Bitte verwenden Sie den Link aus Ihrer "
			  "E-Mail unverändert.</p>"
			: "<p>This link is not valid. Please use the link from your email as it "
			  "is.</p>");
}

/* Topics are [a-z0-9_-]: nothing in them needs HTML escaping; "*" reads as "all mail". */
static const char *
consent_topic_label(const char *topic, int de)
{
	return strcmp(topic, "*") == 0 ? (de ? "alle E-Mails" : "all mail") : topic;
}

/* The body of a form POST (application/x-www-form-urlencoded), FIELD's value, or NULL. */
char *
consent_form_field(struct http_req *hr, const char *field)
{
	struct evbuffer *in = hr->req ? evhttp_request_get_input_buffer(hr->req) : NULL;
	size_t len = in ? evbuffer_get_length(in) : 0;
	struct evkeyvalq params;
	char *body, *out = NULL;
	const char *v;

	if (len == 0 || len > 4096)
		return NULL;
	body = xstrndup((const char *)evbuffer_pullup(in, -1), len);
	if (evhttp_parse_query_str(body, &params) == 0) {
		if ((v = evhttp_find_header(&params, field)) != NULL)
			out = xstrdup(v);
		evhttp_clear_headers(&params);
	}
	free(body);
	return out;
}

/*
 * Store thread: the double opt-in request. Pending is recorded and the confirmation mail
 * queued in the same transaction, as system mail (journey 0, campaign ""), through the one
 * send path: an address that may not be mailed gets no mail, and the outbox says why. A
 * customer already subscribed gets no second mail. The API and the signup form share it.
 */
enum store_status
consent_request(struct store *s, const struct compose_ctx *cx, const char *channel, int64_t cid,
		const char *topic, const char *source, int64_t now_ms, struct consent_result *out)
{
	static const struct campaign sys = {
	    .id = "", .name = "double opt-in", .transactional = 1, .locale_default = "en"};
	json_t *customer = NULL, *event = NULL;
	char *state = NULL;
	int64_t requested;
	enum store_status rc;
	int visit;

	memset(out, 0, sizeof(*out));
	if ((rc = store_consent_get(s, cid, topic, &state, &requested)) != STORE_OK)
		return rc;
	if (state != NULL && strcmp(state, "subscribed") == 0) {
		free(state);
		out->state = "subscribed";
		return STORE_OK;
	}
	free(state);
	if ((rc = store_consent_update(s, cid, topic, "pending", source, NULL, now_ms)) !=
		STORE_OK ||
	    (rc = store_customer_context(s, cid, &customer)) != STORE_OK ||
	    (rc = store_system_visit(s, &visit)) != STORE_OK)
		goto out;
	out->state = "pending";
	event =
	    json_pack("{s:s,s:{s:s}}", "type", "subscribe_requested", "properties", "topic", topic);
	struct message_req r = {.campaign = &sys,
				.customer_id = cid,
				.campaign_id = "",
				.step_id = "double-opt-in",
				.visit = visit,
				.channel = channel,
				.template = "double-opt-in",
				.customer = customer,
				.event = event,
				.transactional = 1,
				.msgid_domain = cx->msgid_domain,
				.now_ms = now_ms};
	struct message_res res;
	if ((rc = message_queue(s, cx, NULL, &r, &res)) == STORE_OK) {
		out->skipped = res.state == OUTBOX_SKIPPED;
		out->message = xstrdup(out->skipped ? res.reason : res.message_id);
	}
	message_res_clear(&res);
out:
	json_decref(event);
	json_decref(customer);
	return rc;
}

static enum store_status
consent_subscribe(struct store *s, struct consent_job *j, int64_t cid)
{
	struct consent_result res;
	enum store_status rc =
	    consent_request(s, j->cx, j->channel, cid, j->topic, "api", j->now_ms, &res);

	j->state = res.state;
	j->message = res.message;
	j->skipped = res.skipped;
	return rc;
}

/*
 * Store thread: a confirmation stands only while the request is pending and the link is
 * young; a replay after confirming is harmless, one after an unsubscribe changes nothing.
 */
static enum store_status
consent_confirm(struct store *s, struct consent_job *j, int64_t cid)
{
	char *state = NULL;
	int64_t requested;
	enum store_status rc = store_consent_get(s, cid, j->topic, &state, &requested);

	if (rc != STORE_OK)
		return rc;
	if (state != NULL && strcmp(state, "subscribed") == 0)
		j->state = "subscribed";
	else if (state != NULL && strcmp(state, "pending") == 0 &&
		 j->issued_s + CONSENT_CONFIRM_TTL_S >= j->now_ms / 1000) {
		rc = store_consent_update(s, cid, j->topic, "subscribed", "confirm-link", j->addr,
					  j->now_ms);
		j->state = "subscribed";
	} else
		j->stale = 1;
	free(state);
	return rc;
}

static enum store_status
consent_run(struct store *s, struct store_job *job)
{
	struct consent_job *j = (struct consent_job *)job;
	int64_t cid;
	enum store_status rc;

	if ((rc = store_customer_lookup(s, j->customer, &cid)) != STORE_OK)
		return rc;
	switch (j->op) {
	case OP_SUBSCRIBE:
		return consent_subscribe(s, j, cid);
	case OP_CONFIRM:
		return consent_confirm(s, j, cid);
	default:
		/* A link in a mail: the first unsubscribe counts against that mail (issue 19). */
		if (j->op == OP_LINK_UNSUBSCRIBE) {
			char *was = NULL;
			int64_t requested = 0;
			rc = store_consent_get(s, cid, j->topic, &was, &requested);
			if (rc == STORE_OK && (was == NULL || strcmp(was, "unsubscribed") != 0))
				rc = store_unsubscribe_credit(s, cid);
			free(was);
			if (rc != STORE_OK)
				return rc;
		}
		j->state = "unsubscribed";
		return store_consent_update(s, cid, j->topic, "unsubscribed", j->source, NULL,
					    j->now_ms);
	}
}

/* Network loop: the API's answer. */
static void
consent_api_done(struct store_job *job)
{
	struct consent_job *j = (struct consent_job *)job;

	switch (job->status) {
	case STORE_OK: {
		json_t *r = json_pack("{s:s,s:s,s:s}", "customer", j->customer, "topic", j->topic,
				      "state", j->state);
		if (j->message != NULL)
			json_object_set_new(r, j->skipped ? "confirmation_skipped" : "confirmation",
					    json_string(j->message));
		if (j->message != NULL && !j->skipped)
			daemon_wake_delivery(j->hr->d);
		http_reply_json(j->hr, j->op == OP_SUBSCRIBE && j->message ? 202 : 200, r);
		break;
	}
	default:
		http_reply_store_error(j->hr, job->status, "no such customer", NULL);
	}
	consent_job_free(j);
}

/* Network loop: the page after a link's POST. Unknown or erased customers read as done. */
static void
consent_page_done(struct store_job *job)
{
	struct consent_job *j = (struct consent_job *)job;
	int de = j->de;
	const char *label = consent_topic_label(j->topic, de);
	char *body;

	if (job->status != STORE_OK && job->status != STORE_NOTFOUND && job->status != STORE_GONE) {
		consent_page(j->hr, 503, de,
			     de ? "Bitte später erneut versuchen" : "Please try again",
			     de ? "<p>Gerade konnte nichts gespeichert werden. Bitte versuchen Sie "
				  "es in einigen Minuten erneut.</p>"
				: "<p>Nothing could be saved just now. Please try again in a few "
				  "minutes.</p>");
	} else if (j->op == OP_CONFIRM && (j->stale || job->status != STORE_OK)) {
		consent_page(
		    j->hr, 410, de, de ? "Link abgelaufen" : "Link expired",
		    de ? "<p>Diese Bestätigung ist nicht mehr gültig. Sie können sich "
			 "jederzeit neu anmelden.</p>"
		       : "<p>This confirmation is no longer valid. You can subscribe again "
			 "at any time.</p>");
	} else if (j->op == OP_CONFIRM) {
		body =
		    xasprintf(de ? "<p>Danke! Ihre Anmeldung für <b>%s</b> ist bestätigt.</p>"
				 : "<p>Thank you! Your subscription to <b>%s</b> is confirmed.</p>",
			      label);
		consent_page(j->hr, 200, de, de ? "Anmeldung bestätigt" : "Subscription confirmed",
			     body);
		free(body);
	} else {
		body = xasprintf(de ? "<p>Sie erhalten keine E-Mails mehr zu <b>%s</b>.</p>"
				    : "<p>You will no longer receive emails about <b>%s</b>.</p>",
				 label);
		consent_page(j->hr, 200, de, de ? "Abgemeldet" : "Unsubscribed", body);
		free(body);
	}
	consent_job_free(j);
}

static struct consent_job *
consent_job_new(struct http_req *hr, enum consent_op op, const char *customer, const char *topic,
		void (*done)(struct store_job *))
{
	struct consent_job *j = xcalloc(1, sizeof(*j));
	j->hr = hr;
	j->op = op;
	j->customer = xstrdup(customer);
	j->topic = xstrdup(topic);
	j->now_ms = util_now_ms();
	j->cx = daemon_compose(hr->d);
	j->channel = daemon_system_channel(hr->d);
	j->job.run = consent_run;
	j->job.done = done;
	return j;
}

/* POST /v1/customers/{id}/subscribe {"topic"} and /unsubscribe {"topic"} or {"all": true}. */
void
api_customer_consent(struct http_req *hr, const char *customer, const char *action)
{
	int sub = strcmp(action, "subscribe") == 0;
	json_t *body = http_body_json(hr), *topic, *all;
	struct consent_job *j;

	if (body == NULL)
		return;
	topic = json_object_get(body, "topic");
	all = json_object_get(body, "all");
	if (!sub && json_is_true(all) && topic == NULL)
		j = consent_job_new(hr, OP_UNSUBSCRIBE, customer, "*", consent_api_done);
	else if (!json_is_string(topic) || !validate_topic(json_string_value(topic))) {
		http_reply_error(hr, 400,
				 sub ? "'topic' must be a topic name (1 to 64 of a-z 0-9 _ -)"
				     : "'topic' must be a topic name, or give \"all\": true",
				 "topic", -1);
		json_decref(body);
		return;
	} else
		j = consent_job_new(hr, sub ? OP_SUBSCRIBE : OP_UNSUBSCRIBE, customer,
				    json_string_value(topic), consent_api_done);
	json_decref(body);
	j->source = xstrdup("api");
	storeloop_submit(daemon_storeloop(hr->d), &j->job);
}

/* The token from the path, or NULL after answering 400 (nothing is looked up for it). */
static int
consent_token(struct http_req *hr, char kind, struct token *t, int de)
{
	if (token_parse(daemon_secret(hr->d), hr->arg, kind, t) < 0 ||
	    (kind == 'u' && strcmp(t->topic, "*") != 0 && !validate_topic(t->topic)) ||
	    (kind == 'c' && !validate_topic(t->topic))) {
		token_clear(t);
		consent_page_invalid(hr, de);
		return -1;
	}
	return 0;
}

/* GET /confirm/{token}: a page with the button; a GET alone changes nothing (link scanners). */
void
api_confirm_get(struct http_req *hr)
{
	int de = consent_lang_de(hr);
	struct token t;
	char *body;

	if (consent_token(hr, 'c', &t, de) < 0)
		return;
	body = xasprintf(de ? "<p>Bitte bestätigen Sie Ihre Anmeldung für <b>%s</b>.</p>"
			      "<form method=\"post\"><button type=\"submit\">Anmeldung "
			      "bestätigen</button></form>"
			    : "<p>Please confirm your subscription to <b>%s</b>.</p>"
			      "<form method=\"post\"><button type=\"submit\">Confirm "
			      "subscription</button></form>",
			 t.topic);
	consent_page(hr, 200, de, de ? "Anmeldung bestätigen" : "Confirm your subscription", body);
	free(body);
	token_clear(&t);
}

/* The client's address, recorded with a confirmation as the proof of who confirmed. */
char *
consent_peer(struct http_req *hr)
{
	struct evhttp_connection *c = hr->req ? evhttp_request_get_connection(hr->req) : NULL;
	const char *addr = NULL;
	ev_uint16_t port;

	if (c != NULL)
		evhttp_connection_get_peer(c, (char **)&addr, &port);
	return addr ? xstrdup(addr) : NULL;
}

void
api_confirm_post(struct http_req *hr)
{
	int de = consent_lang_de(hr);
	struct token t;
	struct consent_job *j;

	if (consent_token(hr, 'c', &t, de) < 0)
		return;
	j = consent_job_new(hr, OP_CONFIRM, t.customer, t.topic, consent_page_done);
	j->issued_s = t.issued_s;
	j->addr = consent_peer(hr);
	j->de = de;
	token_clear(&t);
	storeloop_submit(daemon_storeloop(hr->d), &j->job);
}

/* GET /u/{token}: what the link does, and the preference centre (prefs.c). */
void
api_unsubscribe_get(struct http_req *hr)
{
	int de = consent_lang_de(hr);
	struct token t;

	if (consent_token(hr, 'u', &t, de) < 0)
		return;
	prefs_get(hr, &t, de);
	token_clear(&t);
}

/*
 * POST /u/{token}: RFC 8058's one-click (body "List-Unsubscribe=One-Click") or the page's
 * form; "scope=all" leaves every topic. Replaying it only unsubscribes again.
 */
void
api_unsubscribe_post(struct http_req *hr)
{
	int de = consent_lang_de(hr);
	struct token t;
	struct consent_job *j;
	char *scope, *oneclick;

	if (consent_token(hr, 'u', &t, de) < 0)
		return;
	scope = consent_form_field(hr, "action");
	if (scope != NULL && strcmp(scope, "preferences") == 0) {
		prefs_post(hr, &t, de); /* the preference centre's form */
		free(scope);
		token_clear(&t);
		return;
	}
	free(scope);
	scope = consent_form_field(hr, "scope");
	oneclick = consent_form_field(hr, "List-Unsubscribe");
	j = consent_job_new(hr, OP_LINK_UNSUBSCRIBE, t.customer,
			    scope && strcmp(scope, "all") == 0 ? "*" : t.topic, consent_page_done);
	j->source = xstrdup(oneclick && strcmp(oneclick, "One-Click") == 0 ? "one-click" : "link");
	j->de = de;
	free(scope);
	free(oneclick);
	token_clear(&t);
	storeloop_submit(daemon_storeloop(hr->d), &j->job);
}
