/*
 * /v1/webhooks/{ses,postmark,mailgun,sendgrid} (issue 16): the ESPs' bounce and complaint
 * events, each checked against the provider's signature on the network loop (401 and nothing
 * changed when it fails), turned into classifications, and applied on the store thread through
 * the same path as a bounce that came back by mail. No bearer token: the signature is the
 * credential. 200 after the commit.
 */
#include <glib.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "api.h"
#include "daemon.h"
#include "esp_verify.h"
#include "http.h"
#include "inbound.h"
#include "log.h"
#include "plugin.h"
#include "storeloop.h"
#include "util.h"

/* Events per request at most (SendGrid batches them). */
#define ESP_MAX_EVENTS 1000

struct esp_item {
	struct inbound_class c;
	char *dedupe;
};

struct esp_job {
	struct store_job job; /* first */
	struct http_req *hr;
	struct inbound_ctx cx;
	char *source;
	struct esp_item *items;
	size_t n;
	int ignored; /* events of kinds that change nothing (deliveries, opens) */
	int64_t now_ms;
	int duplicates, matched;
};

static void
esp_job_free(struct esp_job *j)
{
	for (size_t i = 0; i < j->n; i++) {
		inbound_class_free(&j->items[i].c);
		free(j->items[i].dedupe);
	}
	free(j->items);
	free(j->source);
	free(j);
}

/* A new item of J for event ID (the provider's), kind K; NULL beyond ESP_MAX_EVENTS. */
static struct inbound_class *
esp_item(struct esp_job *j, const char *id, enum inbound_kind k)
{
	if (j->n >= ESP_MAX_EVENTS || id == NULL)
		return NULL;
	j->items = xrealloc(j->items, (j->n + 1) * sizeof(*j->items));
	struct esp_item *it = &j->items[j->n++];
	memset(it, 0, sizeof(*it));
	it->dedupe = xasprintf("%s/%s", j->source, id);
	it->c.kind = k;
	it->c.trusted_address = 1;
	return &it->c;
}

static void
esp_set_msgid(struct inbound_class *c, const char *mid)
{
	if (mid == NULL)
		return;
	while (*mid == '<' || *mid == ' ')
		mid++;
	size_t n = strcspn(mid, "> ");
	if (n > 0 && n < 250)
		c->orig_message_id = xstrndup(mid, n);
}

static const char *
esp_str(json_t *o, const char *key)
{
	return json_string_value(json_object_get(o, key));
}

/* Amazon SES's notification (the SNS Message, itself JSON). */
static void
esp_ses(struct esp_job *j, const char *sns_id, json_t *m)
{
	const char *type = esp_str(m, "notificationType");
	json_t *mail = json_object_get(m, "mail");
	struct inbound_class *c = NULL;

	if (type == NULL)
		type = esp_str(m, "eventType");
	if (type == NULL) {
		j->ignored++;
		return;
	}
	if (strcmp(type, "Bounce") == 0) {
		json_t *b = json_object_get(m, "bounce"), *r;
		const char *bt = esp_str(b, "bounceType"), *sub = esp_str(b, "bounceSubType");
		int hard =
		    bt && strcmp(bt, "Permanent") == 0 && !(sub && strcmp(sub, "MailboxFull") == 0);
		size_t i;
		if ((c = esp_item(j, sns_id, INBOUND_BOUNCE)) == NULL)
			return;
		json_array_foreach(json_object_get(b, "bouncedRecipients"), i, r)
		    inbound_class_add_rcpt(c, esp_str(r, "emailAddress"), esp_str(r, "status"),
					   "failed", hard, esp_str(r, "diagnosticCode"));
	} else if (strcmp(type, "Complaint") == 0) {
		json_t *b = json_object_get(m, "complaint"), *r;
		size_t i;
		if ((c = esp_item(j, sns_id, INBOUND_COMPLAINT)) == NULL)
			return;
		const char *ft = esp_str(b, "complaintFeedbackType");
		c->feedback_type = g_ascii_strdown(ft ? ft : "abuse", -1);
		json_array_foreach(json_object_get(b, "complainedRecipients"), i, r)
		    inbound_class_add_rcpt(c, esp_str(r, "emailAddress"), NULL, NULL, 0, NULL);
	} else if (strcmp(type, "DeliveryDelay") == 0) {
		if ((c = esp_item(j, sns_id, INBOUND_DELAY)) == NULL)
			return;
	} else {
		j->ignored++;
		return;
	}
	/* mail.source is the envelope sender: our VERP address. */
	inbound_class_add_to(c, esp_str(mail, "source"));
	esp_set_msgid(c, esp_str(json_object_get(mail, "commonHeaders"), "messageId"));
}

/* Postmark's Bounce or SpamComplaint webhook: one event, matched by its address. */
static void
esp_postmark(struct esp_job *j, json_t *b)
{
	const char *rt = esp_str(b, "RecordType"), *type = esp_str(b, "Type");
	json_t *idv = json_object_get(b, "ID");
	char id[32];
	struct inbound_class *c;

	if (json_is_integer(idv))
		snprintf(id, sizeof(id), "%lld", (long long)json_integer_value(idv));
	else
		snprintf(id, sizeof(id), "%.30s",
			 json_is_string(idv) ? json_string_value(idv) : "");
	if (rt != NULL && strcmp(rt, "SpamComplaint") == 0) {
		if ((c = esp_item(j, id, INBOUND_COMPLAINT)) == NULL)
			return;
		c->feedback_type = xstrdup("abuse");
		inbound_class_add_rcpt(c, esp_str(b, "Email"), NULL, NULL, 0, NULL);
		return;
	}
	if (rt == NULL || strcmp(rt, "Bounce") != 0 || type == NULL) {
		j->ignored++;
		return;
	}
	if (strcmp(type, "AutoResponder") == 0) {
		if ((c = esp_item(j, id, INBOUND_AUTO_REPLY)) != NULL)
			c->trusted_address = 0;
		return;
	}
	/* Postmark's bounce types: these say the address is gone; the rest are soft. */
	int hard = strcmp(type, "HardBounce") == 0 || strcmp(type, "BadEmailAddress") == 0 ||
		   strcmp(type, "ManuallyDeactivated") == 0;
	if ((c = esp_item(j, id, INBOUND_BOUNCE)) == NULL)
		return;
	const char *diag = esp_str(b, "Details");
	inbound_class_add_rcpt(c, esp_str(b, "Email"), NULL, "failed", hard,
			       diag ? diag : esp_str(b, "Description"));
}

/* Mailgun's event (event-data): failed (permanent or temporary) or complained. */
static void
esp_mailgun(struct esp_job *j, json_t *ev)
{
	const char *event = esp_str(ev, "event"), *sev = esp_str(ev, "severity");
	json_t *ds = json_object_get(ev, "delivery-status");
	struct inbound_class *c;

	if (event == NULL) {
		j->ignored++;
		return;
	}
	if (strcmp(event, "failed") == 0) {
		int permanent = sev == NULL || strcmp(sev, "permanent") == 0;
		if ((c = esp_item(j, esp_str(ev, "id"),
				  permanent ? INBOUND_BOUNCE : INBOUND_DELAY)) == NULL)
			return;
		const char *st = esp_str(ds, "enhanced-code"), *msg = esp_str(ds, "message");
		const char *desc = esp_str(ds, "description");
		const char *diag = msg && *msg ? msg : desc;
		/* Mailgun's "permanent" includes its own suppressions; the words decide. */
		int hard = permanent && (inbound_is_hard(st ? st : "5.0.0", diag) ||
					 strcmp(esp_str(ev, "reason") ? esp_str(ev, "reason") : "",
						"suppress-bounce") == 0);
		inbound_class_add_rcpt(c, esp_str(ev, "recipient"), st,
				       permanent ? "failed" : "delayed", hard, diag);
	} else if (strcmp(event, "complained") == 0) {
		if ((c = esp_item(j, esp_str(ev, "id"), INBOUND_COMPLAINT)) == NULL)
			return;
		c->feedback_type = xstrdup("abuse");
		inbound_class_add_rcpt(c, esp_str(ev, "recipient"), NULL, NULL, 0, NULL);
	} else {
		j->ignored++;
		return;
	}
	json_t *hdrs = json_object_get(json_object_get(ev, "message"), "headers");
	esp_set_msgid(c, esp_str(hdrs, "message-id"));
}

/* SendGrid's event: bounce (type bounce: hard, blocked: soft), deferred, spamreport. */
static void
esp_sendgrid(struct esp_job *j, json_t *ev)
{
	const char *event = esp_str(ev, "event"), *type = esp_str(ev, "type");
	struct inbound_class *c;

	if (event == NULL) {
		j->ignored++;
		return;
	}
	if (strcmp(event, "bounce") == 0) {
		if ((c = esp_item(j, esp_str(ev, "sg_event_id"), INBOUND_BOUNCE)) == NULL)
			return;
		const char *st = esp_str(ev, "status"), *reason = esp_str(ev, "reason");
		int hard = !(type && strcmp(type, "blocked") == 0) &&
			   inbound_is_hard(st ? st : "5.0.0", reason);
		inbound_class_add_rcpt(c, esp_str(ev, "email"), st, "failed", hard, reason);
	} else if (strcmp(event, "deferred") == 0) {
		if ((c = esp_item(j, esp_str(ev, "sg_event_id"), INBOUND_DELAY)) == NULL)
			return;
		inbound_class_add_rcpt(c, esp_str(ev, "email"), NULL, "delayed", 0,
				       esp_str(ev, "response"));
	} else if (strcmp(event, "spamreport") == 0) {
		if ((c = esp_item(j, esp_str(ev, "sg_event_id"), INBOUND_COMPLAINT)) == NULL)
			return;
		c->feedback_type = xstrdup("abuse");
		inbound_class_add_rcpt(c, esp_str(ev, "email"), NULL, NULL, 0, NULL);
	} else {
		j->ignored++;
		return;
	}
	esp_set_msgid(c, esp_str(ev, "smtp-id"));
}

static enum store_status
esp_run(struct store *s, struct store_job *job)
{
	struct esp_job *j = (struct esp_job *)job;
	enum store_status rc;

	for (size_t i = 0; i < j->n; i++) {
		struct inbound_result res;
		rc = inbound_apply(s, &j->cx, &j->items[i].c, j->items[i].dedupe, NULL, j->source,
				   NULL, 0, j->now_ms, &res);
		j->duplicates += res.duplicate;
		j->matched += res.matched;
		inbound_result_clear(&res);
		if (rc != STORE_OK)
			return rc;
	}
	return STORE_OK;
}

static void
esp_done(struct store_job *job)
{
	struct esp_job *j = (struct esp_job *)job;

	if (job->status != STORE_OK)
		http_reply_store_error(j->hr, job->status, NULL, NULL);
	else
		http_reply_json(j->hr, 200,
				json_pack("{s:i, s:i, s:i, s:i}", "processed",
					  (int)j->n - j->duplicates, "duplicates", j->duplicates,
					  "matched", j->matched, "ignored", j->ignored));
	esp_job_free(j);
}

/* SNS's subscription confirmation: the signed SubscribeURL is visited once. */
static void
esp_sns_confirmed(void *arg, const struct nt_http_response *resp)
{
	char *url = arg;
	if (resp->status >= 200 && resp->status < 300)
		log_info("webhooks: ses: SNS subscription confirmed (%s)", url);
	else
		log_warnx(
		    "webhooks: ses: confirming the SNS subscription failed (%ld %s): visit %s",
		    resp->status, resp->error ? resp->error : "", url);
	free(url);
}

/* The provider's signature, checked; 0 after replying 401 (or 400/404) itself. */
static int
esp_verified(struct http_req *hr, const struct inbound_conf *in, const char *provider, json_t *body,
	     const char *raw, size_t len)
{
	const char *why = NULL;

	if (strcmp(provider, "ses") == 0) {
		if (in->ses_certificate == NULL)
			why = "";
		else if (!esp_verify_sns(body, in->ses_certificate))
			why = "SNS signature does not verify against the configured certificate";
	} else if (strcmp(provider, "postmark") == 0) {
		if (in->postmark_user == NULL)
			why = "";
		else if (!esp_verify_basic(http_header(hr, "Authorization"), in->postmark_user,
					   in->postmark_password))
			why = "wrong or missing basic auth";
	} else if (strcmp(provider, "mailgun") == 0) {
		json_t *sig = json_object_get(body, "signature");
		if (in->mailgun_key == NULL)
			why = "";
		else if (!esp_verify_mailgun(in->mailgun_key, esp_str(sig, "timestamp"),
					     esp_str(sig, "token"), esp_str(sig, "signature")))
			why = "Mailgun signature does not match";
	} else if (strcmp(provider, "sendgrid") == 0) {
		if (in->sendgrid_key == NULL)
			why = "";
		else if (!esp_verify_sendgrid(
			     in->sendgrid_key,
			     http_header(hr, "X-Twilio-Email-Event-Webhook-Signature"),
			     http_header(hr, "X-Twilio-Email-Event-Webhook-Timestamp"), raw, len))
			why = "SendGrid signature does not verify";
	} else
		why = "";
	if (why == NULL)
		return 1;
	if (*why == '\0')
		http_reply_error(hr, 404, "no such webhook (the provider is not configured)", NULL,
				 -1);
	else
		http_reply_error(hr, 401, why, NULL, -1);
	return 0;
}

void
api_webhook_post(struct http_req *hr)
{
	const struct inbound_conf *in = &daemon_config(hr->d)->inbound;
	const char *provider = hr->arg;
	size_t len;
	const char *raw = http_body_raw(hr, &len);
	json_t *body = http_body_json_untyped(hr);

	if (body == NULL)
		return;
	if (!esp_verified(hr, in, provider, body, raw, len)) {
		json_decref(body);
		return;
	}
	struct esp_job *j = xcalloc(1, sizeof(*j));
	j->hr = hr;
	j->cx.secret = daemon_secret(hr->d);
	j->cx.conf = in;
	j->source = xstrdup(provider);
	j->now_ms = util_now_ms();
	if (strcmp(provider, "ses") == 0) {
		const char *type = esp_str(body, "Type");
		if (type != NULL && strcmp(type, "SubscriptionConfirmation") == 0) {
			const char *url = esp_str(body, "SubscribeURL");
			struct nt_http_request req = {
			    .method = "GET", .url = url, .timeout_ms = 10000};
			char *copy = xstrdup(url ? url : "");
			if (url == NULL ||
			    plugin_host()->http_request(&req, esp_sns_confirmed, copy) < 0)
				free(copy);
			http_reply_json(hr, 200, json_pack("{s:s}", "subscription", "confirming"));
			json_decref(body);
			esp_job_free(j);
			return;
		}
		json_t *m =
		    json_loads(esp_str(body, "Message") ? esp_str(body, "Message") : "", 0, NULL);
		if (m != NULL)
			esp_ses(j, esp_str(body, "MessageId"), m);
		else
			j->ignored++;
		json_decref(m);
	} else if (strcmp(provider, "postmark") == 0) {
		esp_postmark(j, body);
	} else if (strcmp(provider, "mailgun") == 0) {
		esp_mailgun(j, json_object_get(body, "event-data"));
	} else {
		size_t i;
		json_t *ev;
		if (!json_is_array(body)) {
			json_decref(body);
			esp_job_free(j);
			http_reply_error(hr, 400, "expected a JSON array of events", NULL, -1);
			return;
		}
		json_array_foreach(body, i, ev) esp_sendgrid(j, ev);
	}
	json_decref(body);
	j->job.run = esp_run;
	j->job.done = esp_done;
	j->job.wakes_engine = 1;
	storeloop_submit(daemon_storeloop(hr->d), &j->job);
}
