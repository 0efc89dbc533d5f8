/*
 * POST /v1/messages: a transactional send (a receipt, a password reset), one message now,
 * outside any campaign (issue 20). It goes through message_queue, the one send path, with its
 * transactional flag: consent does not apply, the suppression list does. The idempotency key
 * ("id") is scoped per API token: the same key twice sends once and answers as the first
 * time; the same key with other content is a conflict (409). Rate-limited per token
 * ("transactional_rate"); the statistics count these messages as "transactional".
 */
#include <event2/http.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api.h"
#include "store_json.h"
#include "campaign.h"
#include "channel.h"
#include "compose.h"
#include "config.h"
#include "crypto.h"
#include "daemon.h"
#include "http.h"
#include "message_queue.h"
#include "ratelimit.h"
#include "storeloop.h"
#include "template.h"
#include "util.h"
#include "validate.h"

#define TX_KEY_MAX 200
#define TX_NAME_MAX 128

struct tx_job {
	struct store_job job; /* first */
	struct http_req *hr;
	char *customer, *template, *channel, *key; /* key: "scope:id", or NULL */
	json_t *data;
	char hash[65];
	const struct compose_ctx *cx;
	int64_t now_ms;
	/* Results. */
	const char *bad_field; /* "customer" or "template": not found, nothing queued */
	struct tx_key res;     /* what was queued, or what the key recorded */
	int replay;
};

static void
tx_job_free(struct tx_job *j)
{
	free(j->customer);
	free(j->template);
	free(j->channel);
	free(j->key);
	json_decref(j->data);
	tx_key_clear(&j->res);
	free(j);
}

/* The rate limits of every token, on the network loop (one daemon a process). */
static struct ratelimit *tx_limits;

/* Store thread: the key's record, the customer, the template, then the one send path. */
static enum store_status
tx_run(struct store *s, struct store_job *job)
{
	static const struct campaign tx = {
	    .id = "", .name = "transactional", .transactional = 1, .locale_default = "en"};
	struct tx_job *j = (struct tx_job *)job;
	json_t *customer = NULL;
	int64_t cid;
	int visit;
	enum store_status rc;

	if (j->key != NULL) {
		struct tx_key k;
		rc = store_tx_key_find(s, j->key, &k);
		if (rc == STORE_OK) {
			int same = strcmp(k.content_hash, j->hash) == 0;
			j->res = k;
			j->replay = 1;
			return same ? STORE_OK : STORE_CONFLICT;
		}
		if (rc != STORE_NOTFOUND)
			return rc;
	}
	if ((rc = store_customer_lookup(s, j->customer, &cid)) != STORE_OK) {
		j->bad_field = "customer";
		return rc;
	}
	if ((rc = store_customer_context(s, cid, &customer)) != STORE_OK)
		return rc;
	const char *locale = json_string_value(json_object_get(customer, "locale"));
	if (j->cx->tpl == NULL ||
	    template_find(j->cx->tpl, j->template, locale, tx.locale_default) == NULL) {
		json_decref(customer);
		j->bad_field = "template";
		return STORE_NOTFOUND;
	}
	if ((rc = store_system_visit(s, &visit)) != STORE_OK) {
		json_decref(customer);
		return rc;
	}
	struct message_req r = {.campaign = &tx,
				.customer_id = cid,
				.campaign_id = "",
				.step_id = "transactional",
				.visit = visit,
				.channel = j->channel,
				.template = j->template,
				.customer = customer,
				.data = j->data,
				.transactional = 1,
				.msgid_domain = j->cx->msgid_domain,
				.now_ms = j->now_ms};
	struct message_res out;
	rc = message_queue(s, j->cx, NULL, &r, &out);
	json_decref(customer);
	if (rc == STORE_OK) {
		j->res.customer_id = cid;
		j->res.outbox_id = out.id;
		j->res.message_id = xstrdup(out.message_id);
		j->res.state = xstrdup(outbox_state_name(out.state));
		j->res.reason = out.reason ? xstrdup(out.reason) : NULL;
		j->res.created_ms = j->now_ms;
		if (j->key != NULL) {
			struct tx_key k = j->res;
			k.key = j->key;
			k.content_hash = j->hash;
			rc = store_tx_key_add(s, &k);
		}
	}
	message_res_clear(&out);
	return rc;
}

/* Network loop: 202 once committed, with the message (the first one's, for a replay). */
static void
tx_done(struct store_job *job)
{
	struct tx_job *j = (struct tx_job *)job;

	if (job->status == STORE_OK) {
		json_t *r = json_pack("{s:I,s:s?,s:s?}", "id", (json_int_t)j->res.outbox_id,
				      "message_id", j->res.message_id, "state", j->res.state);
		if (j->res.reason != NULL)
			json_object_set_new(r, "reason", json_string(j->res.reason));
		if (j->replay)
			json_object_set_new(r, "duplicate", json_true());
		else if (j->res.state != NULL && strcmp(j->res.state, "queued") == 0)
			daemon_wake_delivery(j->hr->d);
		http_reply_json(j->hr, 202, r);
	} else if (job->status == STORE_NOTFOUND && j->bad_field != NULL &&
		   strcmp(j->bad_field, "template") == 0)
		http_reply_error(j->hr, 400, "no such template", "template", -1);
	else if (job->status == STORE_NOTFOUND)
		http_reply_error(j->hr, 404, "no such customer", "customer", -1);
	else if (job->status == STORE_GONE)
		http_reply_error(j->hr, 410, "customer erased", "customer", -1);
	else
		http_reply_store_error(j->hr, job->status, "not found",
				       "this id was used for another message");
	tx_job_free(j);
}

/* The caller's API token as a short hash: keys and limits are per token, never the token. */
static void
tx_scope(struct http_req *hr, char out[17])
{
	const char *auth = http_header(hr, "Authorization");
	char hex[65];

	if (auth == NULL)
		auth = "";
	crypto_sha256_hex(auth, strlen(auth), hex);
	memcpy(out, hex, 16);
	out[16] = '\0';
}

/* A string field of BODY: NULL when absent, "" (after replying 400) when not a string. */
static const char *
tx_string(struct http_req *hr, json_t *body, const char *field, size_t max, int required, int *bad)
{
	json_t *v = json_object_get(body, field);
	char msg[120];

	if (*bad)
		return NULL;
	if (v == NULL && !required)
		return NULL;
	if (!json_is_string(v) || json_string_length(v) == 0 || json_string_length(v) > max) {
		snprintf(msg, sizeof(msg), "'%s' must be a string of 1 to %zu characters", field,
			 max);
		http_reply_error(hr, 400, msg, field, -1);
		*bad = 1;
		return NULL;
	}
	return json_string_value(v);
}

/* POST /v1/messages {"customer", "template", "data", "channel", "id"} */
void
api_messages_post(struct http_req *hr)
{
	const struct config *c = daemon_config(hr->d);
	json_t *body = http_body_json(hr), *data;
	const char *customer, *template, *channel, *id, *key;
	char scope[17];
	int bad = 0, retry = 0;

	if (body == NULL)
		return;
	if (!json_is_object(body)) {
		http_reply_error(hr, 400, "the body must be a JSON object", NULL, -1);
		json_decref(body);
		return;
	}
	json_object_foreach(body, key, data)
	{
		if (strcmp(key, "customer") && strcmp(key, "template") && strcmp(key, "data") &&
		    strcmp(key, "channel") && strcmp(key, "id")) {
			char msg[160];
			snprintf(msg, sizeof(msg),
				 "unknown field '%.60s' (customer, template, data, channel, id)",
				 key);
			http_reply_error(hr, 400, msg, key, -1);
			json_decref(body);
			return;
		}
	}
	customer = tx_string(hr, body, "customer", 256, 1, &bad);
	template = tx_string(hr, body, "template", TX_NAME_MAX, 1, &bad);
	channel = tx_string(hr, body, "channel", TX_NAME_MAX, 0, &bad);
	id = tx_string(hr, body, "id", TX_KEY_MAX, 0, &bad);
	data = json_object_get(body, "data");
	if (!bad && !validate_customer_id(customer)) {
		http_reply_error(hr, 400, "'customer' must be a customer id", "customer", -1);
		bad = 1;
	} else if (!bad && (strchr(template, '/') != NULL || template[0] == '.')) {
		http_reply_error(hr, 400, "'template' must be a template name", "template", -1);
		bad = 1;
	} else if (!bad && data != NULL && !json_is_object(data)) {
		http_reply_error(hr, 400, "'data' must be an object", "data", -1);
		bad = 1;
	}
	if (!bad && channel == NULL)
		channel = daemon_system_channel(hr->d);
	if (!bad && channel_conf_find(c->chans, c->n_chans, channel) == NULL) {
		http_reply_error(hr, 400, "no such channel", "channel", -1);
		bad = 1;
	}
	if (bad) {
		json_decref(body);
		return;
	}
	tx_scope(hr, scope);
	if (tx_limits == NULL)
		tx_limits = ratelimit_new();
	if (!ratelimit_take(tx_limits, scope, c->transactional_rate, 60000, util_mono_us(),
			    &retry)) {
		char ra[16];
		snprintf(ra, sizeof(ra), "%d", retry);
		if (hr->req != NULL)
			evhttp_add_header(evhttp_request_get_output_headers(hr->req), "Retry-After",
					  ra);
		http_reply_error(hr, 429,
				 "too many transactional sends for this token; retry later "
				 "(transactional_rate)",
				 NULL, -1);
		json_decref(body);
		return;
	}

	struct tx_job *j = xcalloc(1, sizeof(*j));
	j->hr = hr;
	j->customer = xstrdup(customer);
	j->template = xstrdup(template);
	j->channel = xstrdup(channel);
	j->key = id ? xasprintf("%s:%s", scope, id) : NULL;
	j->data = data ? json_incref(data) : NULL;
	j->cx = daemon_compose(hr->d);
	j->now_ms = util_now_ms();
	/* What was asked, canonical: the same key for other content is a conflict. */
	json_t *what = json_pack("{s:s,s:s,s:s,s:O}", "customer", customer, "template", template,
				 "channel", channel, "data", data ? data : json_null());
	char *text = json_dumps(what, JSON_COMPACT | JSON_SORT_KEYS);
	crypto_sha256_hex(text, strlen(text), j->hash);
	free(text);
	json_decref(what);
	json_decref(body);
	j->job.run = tx_run;
	j->job.done = tx_done;
	storeloop_submit(daemon_storeloop(hr->d), &j->job);
}
