#include "inbound.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "crypto.h"
#include "ingest.h"
#include "jsonout.h"
#include "log.h"
#include "util.h"
#include "validate.h"
#include "verp.h"

/* What an unmatched message keeps of its raw text for the operator. */
#define INBOUND_RAW_KEEP (1u << 20)

void
inbound_result_clear(struct inbound_result *r)
{
	free(r->message_id);
	free(r->customer);
	memset(r, 0, sizeof(*r));
}

/* The outbox message C is about: by VERP token first, then by the Message-IDs it names. */
static enum store_status
inbound_match(struct store *s, const struct inbound_ctx *cx, const struct inbound_class *c,
	      const char *rcpt, struct outbox_ref *ref, int *found, int *forged,
	      enum verp_kind *via)
{
	const char *bases[2] = {cx->conf->bounce_address, cx->conf->reply_to};
	int64_t id = 0;
	enum store_status rc;

	*found = *forged = 0;
	*via = 0;
	/* The envelope recipient first, then the addresses the headers name. */
	size_t naddr = 0;
	const char *addrs[64];
	if (rcpt != NULL)
		addrs[naddr++] = rcpt;
	for (size_t i = 0; c->to_addrs && c->to_addrs[i] && naddr < NT_ARRAY_LEN(addrs); i++)
		addrs[naddr++] = c->to_addrs[i];
	for (size_t i = 0; i < naddr; i++)
		for (int b = 0; b < 2; b++) {
			enum verp_kind k;
			int64_t v;
			int r = verp_parse(cx->secret, bases[b], addrs[i], &k, &v);
			if (r < 0)
				*forged = 1;
			else if (r > 0 && id == 0) {
				id = v;
				*via = k;
			}
		}
	if (*forged)
		return STORE_OK; /* a forged token does nothing, whatever else the mail says */
	if (id > 0) {
		rc = store_outbox_ref(s, id, NULL, ref);
		if (rc == STORE_OK)
			*found = 1;
		return rc == STORE_NOTFOUND ? STORE_OK : rc;
	}
	/* The original's Message-ID, then In-Reply-To and References, newest first. */
	size_t nids = 0;
	const char *ids[101];
	if (c->orig_message_id != NULL)
		ids[nids++] = c->orig_message_id;
	for (size_t i = 0; c->references && c->references[i] && nids < NT_ARRAY_LEN(ids); i++)
		ids[nids++] = c->references[i];
	for (size_t i = 0; i < nids; i++) {
		/* The outbox keeps Message-IDs with their angle brackets. */
		char *bracketed = xasprintf("<%s>", ids[i]);
		rc = store_outbox_ref(s, 0, bracketed, ref);
		free(bracketed);
		if (rc == STORE_OK) {
			*found = 1;
			return STORE_OK;
		}
		if (rc != STORE_NOTFOUND)
			return rc;
	}
	return STORE_OK;
}

/* Stores one event for CUSTOMER through the same path as POST /v1/events. */
static enum store_status
inbound_event(struct store *s, const char *customer, const char *type, const char *dedupe,
	      json_t *props, int64_t now_ms)
{
	struct nt_event ev = {0};
	unsigned char dup = 0;
	long conflict = -1;
	char h[65];
	enum store_status rc;

	crypto_sha256_hex(dedupe, strlen(dedupe), h);
	ev.key = xasprintf("inbound-%.24s-%s", h, type);
	ev.customer = xstrdup(customer);
	ev.type = xstrdup(type);
	ev.time_ms = now_ms;
	ev.properties = props;
	char *canon = json_dumps(props, JSON_COMPACT | JSON_SORT_KEYS);
	crypto_sha256_hex(canon, strlen(canon), ev.hash);
	free(canon);
	rc = ingest_events(s, &ev, 1, now_ms, &dup, &conflict);
	nt_event_clear(&ev);
	return rc;
}

/* The properties every event of this message carries: which message, campaign and step. */
static json_t *
inbound_props(const struct outbox_ref *ref)
{
	return json_pack("{s:s?, s:s?, s:s?}", "message_id", ref->message_id, "campaign",
			 ref->campaign_id, "step", ref->step_id);
}

/*
 * A reply answers one journey: its events also carry the properties of the event that
 * started that journey (an order's order_id, ...) where they do not set their own, so that a
 * condition comparing with the journey's key ({"journey": "key"}) holds for this journey
 * alone, as it would for the customer's own feedback event naming the order.
 */
static void
inbound_journey_props(json_t *p, const struct outbox_ref *ref)
{
	json_t *t = ref->journey_props ? json_loads(ref->journey_props, 0, NULL) : NULL;
	const char *k;
	json_t *v;

	if (json_is_object(t)) {
		json_object_foreach(t, k, v)
		{
			if (json_object_get(p, k) == NULL)
				json_object_set(p, k, v);
		}
	}
	json_decref(t);
}

/* The recipient of C the message concerns: the one we sent to, else the first. */
static const struct inbound_rcpt *
inbound_rcpt_for(const struct inbound_class *c, const char *recipient)
{
	for (size_t i = 0; recipient != NULL && i < c->nrcpts; i++)
		if (c->rcpts[i].address && strcasecmp(c->rcpts[i].address, recipient) == 0)
			return &c->rcpts[i];
	return c->nrcpts > 0 ? &c->rcpts[0] : NULL;
}

/* The effects of C on the matched message REF; sets ROW's effect and fields. */
static enum store_status
inbound_effects(struct store *s, const struct inbound_ctx *cx, struct inbound_class *c,
		const struct outbox_ref *ref, const char *dedupe, int64_t now_ms,
		struct inbound_row *row)
{
	const char *addr = ref->recipient;
	const struct inbound_rcpt *r = inbound_rcpt_for(c, addr);
	enum store_status rc = STORE_OK;
	json_t *p;

	row->effect = "recorded";
	if (c->kind == INBOUND_BOUNCE && ref->state != NULL && strcmp(ref->state, "bounced") == 0)
		return STORE_OK; /* another report of a bounce already acted on */
	if (c->kind == INBOUND_BOUNCE) {
		int hard = r != NULL && r->hard;
		row->hard = hard;
		row->status = r ? r->status : NULL;
		long soft = 0;
		if (!hard && addr != NULL &&
		    (rc = store_inbound_soft_count(s, cx->secret, addr,
						   now_ms - cx->conf->soft_window_ms, &soft)) !=
			STORE_OK)
			return rc;
		/* This bounce counts too: it is recorded after its effects. */
		int suppress = hard || soft + 1 >= cx->conf->soft_max;
		row->effect = suppress ? "suppressed" : "counted";
		if (hard && (rc = store_outbox_bounced(s, ref->id, r ? r->diagnostic : NULL,
						       now_ms)) != STORE_OK)
			return rc;
		if (!suppress || addr == NULL || ref->customer == NULL)
			return STORE_OK;
		if ((rc = store_suppression_add(s, cx->secret, addr,
						hard ? "hard_bounce" : "soft_bounces", now_ms)) !=
		    STORE_OK)
			return rc;
		p = inbound_props(ref);
		json_object_set_new(p, "address", json_string(addr));
		json_object_set_new(p, "hard", json_boolean(hard));
		if (r && r->status)
			json_object_set_new(p, "status", json_string(r->status));
		if (r && r->diagnostic)
			json_object_set_new(p, "diagnostic", json_string(r->diagnostic));
		if (!hard)
			json_object_set_new(p, "soft_bounces", json_integer(soft + 1));
		return inbound_event(s, ref->customer, "bounced", dedupe, p, now_ms);
	}
	if (c->kind == INBOUND_COMPLAINT) {
		const char *ft = c->feedback_type ? c->feedback_type : "abuse";
		if (strcmp(ft, "abuse") != 0 && strcmp(ft, "opt-out") != 0 &&
		    strcmp(ft, "fraud") != 0)
			return STORE_OK; /* not-spam, virus, auth-failure...: recorded only */
		row->effect = "unsubscribed";
		if (ref->customer == NULL)
			return STORE_OK;
		if ((rc = store_consent_update(s, ref->customer_id, "*", "unsubscribed",
					       "complaint", NULL, now_ms)) != STORE_OK)
			return rc;
		if (addr != NULL && (rc = store_suppression_add(s, cx->secret, addr, "complaint",
								now_ms)) != STORE_OK)
			return rc;
		p = inbound_props(ref);
		json_object_set_new(p, "feedback_type", json_string(ft));
		if (addr != NULL)
			json_object_set_new(p, "address", json_string(addr));
		return inbound_event(s, ref->customer, "complained", dedupe, p, now_ms);
	}
	if (c->kind == INBOUND_REPLY && ref->customer != NULL) {
		row->effect = "event";
		p = inbound_props(ref);
		json_object_set_new(p, "text", json_string(c->text ? c->text : ""));
		inbound_journey_props(p, ref);
		if (c->subject != NULL)
			json_object_set_new(p, "subject", json_string(c->subject));
		if (c->has_number)
			json_object_set_new(p, "number", jsonout_number(c->number));
		if ((rc = inbound_event(s, ref->customer, "reply", dedupe, json_deep_copy(p),
					now_ms)) != STORE_OK) {
			json_decref(p);
			return rc;
		}
		if (!c->has_number) {
			json_decref(p);
			return STORE_OK;
		}
		/*
		 * A reply that begins with a number answers "just reply with a number": it is also
		 * the customer's feedback, with that score, so a journey waiting for feedback goes
		 * on exactly as with POST /v1/events.
		 */
		json_object_set_new(p, "score", jsonout_number(c->number));
		json_object_set_new(p, "source", json_string("reply"));
		return inbound_event(s, ref->customer, "feedback", dedupe, p, now_ms);
	}
	return STORE_OK; /* delay, auto-reply, other: recorded on the message */
}

/*
 * An ESP's verified event that names no message of ours still names the address it failed
 * for: the suppression (or the soft-bounce count) is made by address; no customer, no event.
 */
static enum store_status
inbound_address_effects(struct store *s, const struct inbound_ctx *cx,
			const struct inbound_class *c, const struct inbound_rcpt *r, int64_t now_ms,
			struct inbound_row *row)
{
	const char *addr = row->address, *reason = NULL;
	long soft = 0;
	enum store_status rc;

	if (c->kind == INBOUND_BOUNCE && r->hard)
		reason = "hard_bounce";
	else if (c->kind == INBOUND_BOUNCE) {
		if ((rc = store_inbound_soft_count(s, cx->secret, addr,
						   now_ms - cx->conf->soft_window_ms, &soft)) !=
		    STORE_OK)
			return rc;
		if (soft + 1 >= cx->conf->soft_max)
			reason = "soft_bounces";
		else
			row->effect = "counted";
	} else if (c->kind == INBOUND_COMPLAINT && c->feedback_type != NULL &&
		   (strcmp(c->feedback_type, "abuse") == 0 ||
		    strcmp(c->feedback_type, "opt-out") == 0))
		reason = "complaint";
	if (reason == NULL)
		return STORE_OK;
	row->effect = "suppressed";
	return store_suppression_add(s, cx->secret, addr, reason, now_ms);
}

/*
 * An ESP's verified event that names no message of ours (Postmark's carry their own ids): the
 * customer with that address, when there is one, gets the same effects as for a message of
 * theirs (the event, a complaint's unsubscribe); else the address alone is suppressed or
 * counted. REF is filled for the caller's answer.
 */
static enum store_status
inbound_by_address(struct store *s, const struct inbound_ctx *cx, struct inbound_class *c,
		   const struct inbound_rcpt *r, const char *dedupe, int64_t now_ms,
		   struct inbound_row *row, struct outbox_ref *ref)
{
	struct customer_filter f = {
	    .email = row->address, .created_since_ms = -1, .updated_since_ms = -1, .limit = 1};
	struct customer_row *cust = NULL;
	size_t n = 0;
	enum store_status rc = store_customers_list(s, &f, &cust, &n);

	if (rc != STORE_OK || n == 0) {
		customer_rows_free(cust, n);
		return rc != STORE_OK ? rc : inbound_address_effects(s, cx, c, r, now_ms, row);
	}
	ref->customer_id = cust[0].id;
	ref->customer = xstrdup(cust[0].ext_id);
	ref->recipient = xstrdup(row->address);
	customer_rows_free(cust, n);
	row->customer_id = ref->customer_id;
	return inbound_effects(s, cx, c, ref, dedupe, now_ms, row);
}

enum store_status
inbound_apply(struct store *s, const struct inbound_ctx *cx, struct inbound_class *c,
	      const char *dedupe, const char *rcpt, const char *source, const char *raw,
	      size_t raw_len, int64_t now_ms, struct inbound_result *res)
{
	struct outbox_ref ref = {0};
	struct inbound_row row = {0};
	int found = 0, forged = 0;
	enum verp_kind via = 0;
	enum store_status rc;
	int64_t id;

	memset(res, 0, sizeof(*res));
	res->kind = c->kind;
	if ((rc = store_inbound_find(s, dedupe, &id)) == STORE_OK) {
		res->duplicate = 1;
		res->id = id;
		res->effect = "duplicate";
		return STORE_OK;
	}
	if (rc != STORE_NOTFOUND)
		return rc;
	if ((rc = inbound_match(s, cx, c, rcpt, &ref, &found, &forged, &via)) != STORE_OK)
		return rc;
	/* Anything that came to a reply_to token and is no report is a person's answer. */
	if (found && via == VERP_REPLY && c->kind == INBOUND_OTHER) {
		c->kind = INBOUND_REPLY;
		res->kind = c->kind;
		c->has_number = inbound_leading_number(c->text, &c->number);
	}
	row.dedupe = dedupe;
	row.message_id = c->message_id;
	row.kind = inbound_kind_name(c->kind);
	row.source = source;
	row.feedback_type = c->feedback_type;
	row.received_ms = now_ms;
	json_t *detail = inbound_class_json(c, NULL);
	char *detail_text = json_dumps(detail, JSON_COMPACT);
	json_decref(detail);
	row.detail = detail_text;
	if (found) {
		row.outbox_id = ref.id;
		row.customer_id = ref.customer_id;
		row.address = ref.recipient;
		row.matched = 1;
		rc = inbound_effects(s, cx, c, &ref, dedupe, now_ms, &row);
	} else {
		const struct inbound_rcpt *r = inbound_rcpt_for(c, NULL);
		row.address = r ? r->address : NULL;
		row.hard = r ? r->hard : 0;
		row.status = r ? r->status : NULL;
		row.effect = forged ? "forged_token" : "unmatched";
		row.raw = raw;
		row.raw_len = raw && raw_len > INBOUND_RAW_KEEP ? INBOUND_RAW_KEEP : raw_len;
		if (!forged && c->trusted_address && row.address != NULL)
			rc = inbound_by_address(s, cx, c, r, dedupe, now_ms, &row, &ref);
	}
	if (rc == STORE_OK)
		rc = store_inbound_add(s, cx->secret, &row, &res->id);
	if (rc == STORE_OK) {
		res->matched = found;
		res->effect = row.effect;
		res->message_id = ref.message_id ? xstrdup(ref.message_id) : NULL;
		res->customer = ref.customer ? xstrdup(ref.customer) : NULL;
	}
	free(detail_text);
	outbox_ref_clear(&ref);
	return rc;
}

enum store_status
inbound_process(struct store *s, const struct inbound_ctx *cx, const char *raw, size_t len,
		const char *rcpt, const char *source, int64_t now_ms, struct inbound_result *res)
{
	struct inbound_class c;
	const char *err = NULL;
	char hash[65];

	memset(res, 0, sizeof(*res));
	if (inbound_classify(raw, len, &c, &err) != 0) {
		res->error = err;
		return STORE_OK;
	}
	crypto_sha256_hex(raw, len, hash);
	char *dedupe = xasprintf("%s/%s", c.message_id ? c.message_id : "", hash);
	enum store_status rc =
	    inbound_apply(s, cx, &c, dedupe, rcpt, source, raw, len, now_ms, res);
	free(dedupe);
	inbound_class_free(&c);
	return rc;
}
