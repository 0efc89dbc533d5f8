#include "message_queue.h"

#include <stdlib.h>
#include <string.h>

#include "campaign.h"
#include "channel.h"
#include "compose.h"
#include "config.h"
#include "mime.h"
#include "mimepool.h"
#include "util.h"

int
message_channel_internal(const struct compose_ctx *cx, const char *channel)
{
	const struct channel_conf *cc =
	    cx != NULL && cx->cfg != NULL
		? channel_conf_find(cx->cfg->chans, cx->cfg->n_chans, channel)
		: NULL;
	return cc != NULL && cc->internal;
}

/*
 * Whether the message may go to the customer: NULL, or the reason it may not. Consent first
 * (not for transactional mail), then the suppression list, which nothing overrides for mail to
 * the customer.
 */
static const char *
message_may_send(struct store *s, const struct compose_ctx *cx, const struct message_req *r,
		 enum store_status *rc)
{
	const char *email = json_string_value(json_object_get(r->customer, "email"));
	const char *why = r->transactional ? NULL : compose_consent(cx, r->campaign, r->customer);
	int suppressed = 0;

	*rc = STORE_OK;
	if (why != NULL || email == NULL)
		return why;
	if (r->suppressed != MSG_SUPPRESSED_UNREAD)
		return r->suppressed == MSG_SUPPRESSED_YES ? "suppressed" : NULL;
	*rc = store_suppressed(s, cx->secret, email, &suppressed);
	return suppressed ? "suppressed" : NULL;
}

/* The statistics' counters (issue 19): the step's sends by variant, and the arm's. */
static enum store_status
message_count_sent(struct store *s, const struct message_req *r)
{
	const char *v = r->variant ? r->variant : "";
	enum store_status rc = store_measure_count(s, r->campaign_id, r->step_id, v, "sent", 1);
	if (rc == STORE_OK && v[0])
		rc = store_measure_count(s, r->campaign_id, "*", v, "sent", 1);
	return rc;
}

enum store_status
message_queue(struct store *s, const struct compose_ctx *cx, struct mimepool *mp,
	      const struct message_req *r, struct message_res *out)
{
	int internal = message_channel_internal(cx, r->channel);
	const char *skip = NULL;
	char *reason = NULL;
	struct composed m = {0};
	struct mime_mail *mail = NULL;
	enum store_status rc = STORE_OK;

	memset(out, 0, sizeof(*out));
	out->message_id = mime_message_id(r->msgid_domain, r->now_ms);
	out->marketing = !r->transactional && !internal;
	if (r->holdout)
		skip = "holdout"; /* the control group of the campaign's experiment */
	else if (cx != NULL && !internal)
		skip = message_may_send(s, cx, r, &rc);
	if (rc != STORE_OK)
		return rc;
	if (skip == NULL && cx != NULL) {
		json_t *data =
		    compose_data(cx, r->campaign, r->customer, r->event, r->journey, r->now_ms);
		if (r->data != NULL)
			json_object_set(data, "data", r->data);
		int bad = mp != NULL
			      ? compose_prepare(cx, r->campaign, r->step_id, r->channel,
						r->template, r->subject, data, out->message_id,
						r->now_ms, &m, &mail, &reason)
			      : compose_message(cx, r->campaign, r->step_id, r->channel,
						r->template, r->subject, data, out->message_id,
						r->now_ms, &m, &reason);
		if (bad < 0)
			skip = reason;
		json_decref(data);
	}
	out->state = skip ? OUTBOX_SKIPPED : OUTBOX_QUEUED;
	out->reason = skip ? xstrdup(skip) : NULL;
	struct outbox_entry o = {.journey_id = r->journey_id,
				 .customer_id = r->customer_id,
				 .campaign_id = r->campaign_id,
				 .step_id = r->step_id,
				 .visit = r->visit,
				 .channel = r->channel,
				 .template = r->template,
				 .message_id = out->message_id,
				 .created_ms = r->now_ms,
				 .marketing = out->marketing,
				 .state = out->state,
				 .reason = out->reason,
				 .sender = m.sender,
				 .recipient = m.recipient,
				 .payload = m.payload,
				 .payload_len = m.len,
				 .due_ms = r->due_ms};
	rc = store_outbox_add(s, &o, &out->id);
	/* The tracked links' targets, kept with the message: a click never reads its URL. */
	if (rc == STORE_OK && m.links != NULL && json_array_size(m.links) > 0)
		rc = store_links_add(s, out->id, m.links);
	if (rc == STORE_OK && mail != NULL) {
		mimepool_submit(mp, out->id, mail); /* its payload before the commit */
		mail = NULL;
	}
	if (rc == STORE_DUPLICATE) {
		out->duplicate = 1;
		rc = STORE_OK;
	} else if (rc == STORE_OK && out->state == OUTBOX_QUEUED && r->journey_id != 0)
		rc = message_count_sent(s, r);
	mime_mail_free(mail);
	composed_clear(&m);
	free(reason);
	return rc;
}

void
message_res_clear(struct message_res *r)
{
	free(r->reason);
	free(r->message_id);
	memset(r, 0, sizeof(*r));
}
