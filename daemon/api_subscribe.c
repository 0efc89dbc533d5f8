/*
 * POST /subscribe: the public signup form of a shop's own website (issue 20). No token: a
 * form post (application/x-www-form-urlencoded) or JSON with an email, an optional name and
 * the topics (opt-in topics of the configuration only). It starts double opt-in through
 * consent_request, whose confirmation mail goes through message_queue. The answer is the same
 * whether or not the address is known: one store job either way (a known address's customer,
 * or a new one), the same status and body after its commit. Rate-limited per client address
 * (429) and per email address (silently: the form must not mail-bomb anyone); a honeypot
 * field that bots fill is accepted and does nothing.
 */
#include <event2/buffer.h>
#include <event2/http.h>
#include <event2/keyvalq_struct.h>
#include <glib.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api.h"
#include "compose.h"
#include "config.h"
#include "consent.h"
#include "crypto.h"
#include "daemon.h"
#include "http.h"
#include "ratelimit.h"
#include "storeloop.h"
#include "util.h"
#include "validate.h"

#define SUBSCRIBE_BODY_MAX 8192
#define SUBSCRIBE_NAME_MAX 200
#define SUBSCRIBE_TOPICS_MAX 16
/* The hidden field: a person leaves it empty, a form-filling bot does not. */
#define SUBSCRIBE_HONEYPOT "website"

struct subscribe_form {
	char *email, *name, *honeypot;
	char *topics[SUBSCRIBE_TOPICS_MAX];
	size_t n_topics;
	int is_form; /* a browser's form post: the answer is a page or a redirect */
};

struct subscribe_job {
	struct store_job job; /* first */
	struct http_req *hr;
	struct subscribe_form f;
	const struct compose_ctx *cx;
	const char *channel;
	int64_t now_ms;
	int de;
	int queued; /* a confirmation was queued: delivery is woken */
};

/* The limits of every client and address, on the network loop (one daemon a process). */
static struct ratelimit *subscribe_limits;

static void
subscribe_form_clear(struct subscribe_form *f)
{
	free(f->email);
	free(f->name);
	free(f->honeypot);
	for (size_t i = 0; i < f->n_topics; i++)
		free(f->topics[i]);
	memset(f, 0, sizeof(*f));
}

static void
subscribe_job_free(struct subscribe_job *j)
{
	subscribe_form_clear(&j->f);
	free(j);
}

/* Adds TOPIC (a comma-separated list is split); -1 when there are too many. */
static int
subscribe_add_topics(struct subscribe_form *f, const char *topic)
{
	char **parts = g_strsplit(topic, ",", -1);
	int rc = 0;

	for (size_t i = 0; parts[i] != NULL; i++) {
		char *t = g_strstrip(parts[i]);
		if (*t == '\0')
			continue;
		if (f->n_topics == SUBSCRIBE_TOPICS_MAX) {
			rc = -1;
			break;
		}
		f->topics[f->n_topics++] = xstrdup(t);
	}
	g_strfreev(parts);
	return rc;
}

/* Sets one field of the form; anything else a form may carry (a submit button) is ignored. */
static int
subscribe_field(struct subscribe_form *f, const char *key, const char *value)
{
	char **dst = strcmp(key, "email") == 0		    ? &f->email
		     : strcmp(key, "name") == 0		    ? &f->name
		     : strcmp(key, SUBSCRIBE_HONEYPOT) == 0 ? &f->honeypot
							    : NULL;
	if (strcmp(key, "topics") == 0 || strcmp(key, "topic") == 0)
		return subscribe_add_topics(f, value);
	if (dst != NULL) {
		free(*dst);
		*dst = xstrdup(value);
	}
	return 0;
}

/* The body as a form; -1 after answering. */
static int
subscribe_parse_form(struct http_req *hr, struct subscribe_form *f)
{
	struct evbuffer *in = evhttp_request_get_input_buffer(hr->req);
	size_t len = evbuffer_get_length(in);
	struct evkeyvalq params;
	struct evkeyval *kv;
	char *body;
	int rc = 0;

	body = xstrndup(len ? (const char *)evbuffer_pullup(in, -1) : "", len);
	if (evhttp_parse_query_str(body, &params) != 0) {
		free(body);
		http_reply_error(
		    hr, 400, "the form's body is not application/x-www-form-urlencoded", NULL, -1);
		return -1;
	}
	for (kv = params.tqh_first; kv != NULL && rc == 0; kv = kv->next.tqe_next)
		rc = subscribe_field(f, kv->key, kv->value);
	evhttp_clear_headers(&params);
	free(body);
	if (rc < 0)
		http_reply_error(hr, 400, "too many topics", "topics", -1);
	return rc;
}

/* The body as JSON: {"email", "name", "topics": [...] or "a,b", "website"}; -1 after answering. */
static int
subscribe_parse_json(struct http_req *hr, struct subscribe_form *f)
{
	json_t *body = http_body_json(hr), *v;
	const char *key;
	int rc = 0;

	if (body == NULL)
		return -1;
	if (!json_is_object(body)) {
		http_reply_error(hr, 400, "the body must be a JSON object", NULL, -1);
		json_decref(body);
		return -1;
	}
	json_object_foreach(body, key, v)
	{
		if (strcmp(key, "topics") == 0 && json_is_array(v)) {
			size_t i;
			json_t *t;
			json_array_foreach(v, i, t) if (rc == 0)
			{
				if (!json_is_string(t)) {
					http_reply_error(hr, 400, "'topics' must be topic names",
							 "topics", (long)i);
					rc = -2;
				} else
					rc = subscribe_field(f, key, json_string_value(t));
			}
		} else if (json_is_string(v))
			rc = subscribe_field(f, key, json_string_value(v));
		else if (!json_is_null(v)) {
			char msg[120];
			snprintf(msg, sizeof(msg), "'%.40s' must be a string", key);
			http_reply_error(hr, 400, msg, key, -1);
			rc = -2;
		}
		if (rc != 0)
			break;
	}
	json_decref(body);
	if (rc == -1)
		http_reply_error(hr, 400, "too many topics", "topics", -1);
	return rc < 0 ? -1 : 0;
}

/* A 400 for the form: a page for a browser, JSON for a program. */
static void
subscribe_bad(struct http_req *hr, const struct subscribe_form *f, int de, const char *msg,
	      const char *field)
{
	if (!f->is_form) {
		http_reply_error(hr, 400, msg, field, -1);
		return;
	}
	char *text = g_markup_escape_text(msg, -1);
	char *body = xasprintf(
	    "<p>%s</p><p>%s</p>",
	    de ? "Bitte prüfen Sie Ihre Angaben." : "Please check what you entered.", text);
	consent_page(hr, 400, de, de ? "Anmeldung nicht möglich" : "Could not subscribe", body);
	free(body);
	g_free(text);
}

/* The one answer to every accepted signup, known address or not. */
static void
subscribe_answer(struct http_req *hr, const struct subscribe_form *f, int de)
{
	const char *redirect = daemon_config(hr->d)->subscribe.redirect;

	if (!f->is_form) {
		http_reply_json(
		    hr, 202,
		    json_pack("{s:b,s:s}", "accepted", 1, "message",
			      "if the address can receive mail, a confirmation is on its "
			      "way"));
		return;
	}
	if (redirect != NULL) {
		if (hr->req != NULL) {
			struct evkeyvalq *h = evhttp_request_get_output_headers(hr->req);
			evhttp_add_header(h, "Location", redirect);
			evhttp_add_header(h, "Cache-Control", "no-store");
		}
		http_reply_text(hr, 303, "text/plain; charset=utf-8", "See Other\n");
		return;
	}
	consent_page(hr, 200, de, de ? "Fast geschafft" : "Almost done",
		     de ? "<p>Bitte prüfen Sie Ihr Postfach: Wir haben Ihnen einen Link zur "
			  "Bestätigung geschickt.</p>"
			: "<p>Please check your inbox: we have sent you a link to confirm your "
			  "subscription.</p>");
}

/*
 * Store thread: the customer with this address (as stored, or lowercased), or a new one whose
 * id is derived from the address (a keyed hash: a second signup finds it again); then double
 * opt-in for each topic. The same statements run whether or not the address was known.
 */
static enum store_status
subscribe_run(struct store *s, struct store_job *job)
{
	struct subscribe_job *j = (struct subscribe_job *)job;
	char *lower = g_ascii_strdown(j->f.email, -1);
	const char *tries[2] = {j->f.email, lower};
	struct customer_row *rows = NULL;
	size_t n = 0;
	int64_t cid = -1;
	enum store_status rc = STORE_OK;

	for (int i = 0; i < 2 && cid < 0 && rc == STORE_OK; i++) {
		struct customer_filter f = {
		    .email = tries[i], .created_since_ms = -1, .updated_since_ms = -1, .limit = 1};
		rc = store_customers_list(s, &f, &rows, &n);
		if (rc == STORE_OK && n > 0)
			cid = rows[0].id;
		customer_rows_free(rows, n);
		rows = NULL;
		n = 0;
	}
	if (rc == STORE_OK && cid < 0) {
		char hash[65], *ext;
		crypto_hmac_hex(j->cx->secret, lower, strlen(lower), hash);
		ext = xasprintf("signup-%.24s", hash);
		json_t *fields = json_pack("{s:s,s:s?}", "email", lower, "name", j->f.name);
		rc = store_customer_upsert(s, ext, fields, j->now_ms, &cid);
		json_decref(fields);
		free(ext);
	}
	for (size_t i = 0; rc == STORE_OK && i < j->f.n_topics; i++) {
		struct consent_result res;
		rc = consent_request(s, j->cx, j->channel, cid, j->f.topics[i], "signup-form",
				     j->now_ms, &res);
		if (rc == STORE_OK && res.message != NULL && !res.skipped)
			j->queued = 1;
		free(res.message);
	}
	g_free(lower);
	return rc;
}

static void
subscribe_done(struct store_job *job)
{
	struct subscribe_job *j = (struct subscribe_job *)job;

	if (job->status == STORE_OK) {
		if (j->queued)
			daemon_wake_delivery(j->hr->d);
		subscribe_answer(j->hr, &j->f, j->de);
	} else if (j->f.is_form)
		consent_page(j->hr, 503, j->de,
			     j->de ? "Bitte später erneut versuchen" : "Please try again",
			     j->de ? "<p>Gerade konnte nichts gespeichert werden.</p>"
				   : "<p>Nothing could be saved just now.</p>");
	else
		http_reply_store_error(j->hr, job->status, "not found", NULL);
	subscribe_job_free(j);
}

/* Whether TOPIC is one of the configuration's opt-in topics. */
static int
subscribe_topic_ok(const struct config *c, const char *topic)
{
	for (size_t i = 0; i < c->n_opt_in_topics; i++)
		if (strcmp(c->opt_in_topics[i], topic) == 0)
			return 1;
	return 0;
}

/* Validates F: 0, or -1 after answering 400 (the same for known and unknown addresses). */
static int
subscribe_check(struct http_req *hr, struct subscribe_form *f, int de)
{
	const struct config *c = daemon_config(hr->d);

	if (f->email == NULL || !validate_email(f->email)) {
		subscribe_bad(hr, f, de,
			      de ? "Bitte geben Sie eine gültige E-Mail-Adresse an."
				 : "'email' must be an email address",
			      "email");
		return -1;
	}
	if (f->name != NULL && (strlen(f->name) > SUBSCRIBE_NAME_MAX ||
				!g_utf8_validate(f->name, -1, NULL) || strpbrk(f->name, "\r\n"))) {
		subscribe_bad(hr, f, de, "'name' must be one line of at most 200 characters",
			      "name");
		return -1;
	}
	if (f->name != NULL && f->name[0] == '\0') {
		free(f->name);
		f->name = NULL;
	}
	if (f->n_topics == 0 && c->n_opt_in_topics > 0)
		f->topics[f->n_topics++] = xstrdup(c->opt_in_topics[0]);
	if (f->n_topics == 0) {
		subscribe_bad(hr, f, de, "no topic to subscribe to (opt_in_topics is empty)",
			      "topics");
		return -1;
	}
	for (size_t i = 0; i < f->n_topics; i++)
		if (!validate_topic(f->topics[i]) || !subscribe_topic_ok(c, f->topics[i])) {
			subscribe_bad(hr, f, de, "'topics' must name opt-in topics", "topics");
			return -1;
		}
	return 0;
}

/* POST /subscribe */
void
api_subscribe_post(struct http_req *hr)
{
	const struct config *c = daemon_config(hr->d);
	const char *ct = http_header(hr, "Content-Type");
	struct subscribe_form f = {0};
	int de = consent_lang_de(hr), retry = 0;
	char *peer, *key;
	int64_t now_us = util_mono_us();

	if (subscribe_limits == NULL)
		subscribe_limits = ratelimit_new();
	peer = consent_peer(hr);
	key = xasprintf("client:%s", peer ? peer : "");
	free(peer);
	int ok = ratelimit_take(subscribe_limits, key, c->subscribe.per_client,
				c->subscribe.window_ms, now_us, &retry);
	free(key);
	if (!ok) {
		char ra[16];
		snprintf(ra, sizeof(ra), "%d", retry);
		if (hr->req != NULL)
			evhttp_add_header(evhttp_request_get_output_headers(hr->req), "Retry-After",
					  ra);
		http_reply_error(hr, 429, "too many signups from this address; retry later", NULL,
				 -1);
		return;
	}
	if (hr->body_len > SUBSCRIBE_BODY_MAX) {
		http_reply_error(hr, 413, "a signup is at most 8192 bytes", NULL, -1);
		return;
	}
	f.is_form =
	    ct != NULL && g_ascii_strncasecmp(ct, "application/x-www-form-urlencoded", 33) == 0;
	if (f.is_form ? subscribe_parse_form(hr, &f) < 0 : subscribe_parse_json(hr, &f) < 0) {
		subscribe_form_clear(&f);
		return;
	}
	/* A filled honeypot: a bot. It learns nothing; nothing is done. */
	if (f.honeypot != NULL && f.honeypot[0] != '\0') {
		subscribe_answer(hr, &f, de);
		subscribe_form_clear(&f);
		return;
	}
	if (subscribe_check(hr, &f, de) < 0) {
		subscribe_form_clear(&f);
		return;
	}
	char *lower = g_ascii_strdown(f.email, -1);
	key = xasprintf("address:%s", lower);
	g_free(lower);
	ok = ratelimit_take(subscribe_limits, key, c->subscribe.per_address, c->subscribe.window_ms,
			    now_us, NULL);
	free(key);
	if (!ok) {
		/* Silently: the answer tells nothing, and the address gets no more mail. */
		subscribe_answer(hr, &f, de);
		subscribe_form_clear(&f);
		return;
	}

	struct subscribe_job *j = xcalloc(1, sizeof(*j));
	j->hr = hr;
	j->f = f;
	j->cx = daemon_compose(hr->d);
	j->channel = daemon_system_channel(hr->d);
	j->now_ms = util_now_ms();
	j->de = de;
	j->job.run = subscribe_run;
	j->job.done = subscribe_done;
	storeloop_submit(daemon_storeloop(hr->d), &j->job);
}
