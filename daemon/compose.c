#include "compose.h"

#include <stdlib.h>
#include <string.h>

#include "../plugins/nurtured-plugin.h"
#include "campaign.h"
#include "config.h"
#include "links.h"
#include "mime.h"
#include "mustache.h"
#include "store.h"
#include "template.h"
#include "timefmt.h"
#include "token.h"
#include "util.h"

/* Links go in every mail of a topic a customer can leave; transactional mail has none. */
static json_t *
compose_links(const struct compose_ctx *cx, const struct campaign *c, const char *customer,
	      json_t *event, int64_t now_ms)
{
	json_t *links = json_object();
	const char *topic =
	    json_string_value(json_object_get(json_object_get(event, "properties"), "topic"));

	if (customer != NULL && c->topic != NULL && !c->transactional) {
		char *u = token_url(cx->cfg->public_url, cx->secret, 'u', customer, c->topic,
				    now_ms / 1000);
		json_object_set_new(links, "unsubscribe_url", json_string(u));
		json_object_set_new(links, "preferences_url", json_string(u));
		free(u);
	}
	/* The double opt-in mail: its trigger names the topic to confirm. */
	if (customer != NULL && topic != NULL &&
	    strcmp(json_string_value(json_object_get(event, "type")) ?: "",
		   "subscribe_requested") == 0) {
		char *u =
		    token_url(cx->cfg->public_url, cx->secret, 'c', customer, topic, now_ms / 1000);
		json_object_set_new(links, "confirm_url", json_string(u));
		free(u);
	}
	return links;
}

json_t *
compose_data(const struct compose_ctx *cx, const struct campaign *c, json_t *customer,
	     json_t *event, const struct journey *j, int64_t now_ms)
{
	const char *cust = json_string_value(json_object_get(customer, "id"));
	json_t *data = json_object(), *journey = json_object();
	char when[40];

	json_object_set(data, "customer", customer);
	json_object_set_new(data, "event", event ? json_incref(event) : json_object());
	if (j != NULL) {
		json_object_set_new(journey, "id", json_integer(j->id));
		timefmt_format_utc(j->entered_ms, when, sizeof(when));
		json_object_set_new(journey, "entered", json_string(when));
		if (j->key != NULL && j->key[0])
			json_object_set_new(journey, "key", json_string(j->key));
	}
	json_object_set_new(data, "journey", journey);
	json_object_set_new(data, "campaign",
			    json_pack("{s:s,s:s?,s:s?,s:b}", "id", c->id, "name", c->name, "topic",
				      c->topic, "transactional", c->transactional));
	json_object_set_new(data, "links", compose_links(cx, c, cust, event, now_ms));
	return data;
}

const char *
compose_consent(const struct compose_ctx *cx, const struct campaign *c, json_t *customer)
{
	json_t *consent = json_object_get(customer, "consent");
	const char *topic = c->topic, *state, *all;

	if (c->transactional || topic == NULL)
		return NULL;
	state = json_string_value(json_object_get(consent, topic));
	all = json_string_value(json_object_get(consent, "*"));
	if ((state && strcmp(state, "unsubscribed") == 0) ||
	    (all && strcmp(all, "unsubscribed") == 0))
		return "unsubscribed";
	for (size_t i = 0; i < cx->cfg->n_opt_in_topics; i++)
		if (strcmp(cx->cfg->opt_in_topics[i], topic) == 0)
			return state && strcmp(state, "subscribed") == 0 ? NULL : "not_subscribed";
	return NULL;
}

/* A variant's subject in place of the template's: 0, or -1 with *REASON. */
static int
compose_subject(const struct mustache_tmpl *subject, json_t *data, struct template_output *to,
		char **reason)
{
	struct mustache_error err = {0};
	char *s = mustache_render(subject, data, MUSTACHE_ESCAPE_NONE, NULL, NULL, &err);

	if (s == NULL) {
		*reason = xasprintf("render_error: variant subject:%d:%d: %s", err.line, err.col,
				    err.message);
		return -1;
	}
	template_subject_line(s);
	free(to->subject);
	to->subject = s;
	return 0;
}

/* A webhook's document: the same data the templates see, plus the rendered text if any. */
static int
compose_json(const struct compose_ctx *cx, const struct campaign *c, const char *step_id,
	     const char *template_name, const struct mustache_tmpl *subject, json_t *data,
	     const char *message_id, int64_t now_ms, struct composed *out, char **reason)
{
	json_t *doc = json_deep_copy(data);
	char when[40];

	json_object_set_new(doc, "type", json_string(template_name));
	json_object_set_new(doc, "step", json_string(step_id));
	json_object_set_new(doc, "message_id", json_string(message_id));
	timefmt_format_utc(now_ms, when, sizeof(when));
	json_object_set_new(doc, "created", json_string(when));
	const char *locale =
	    json_string_value(json_object_get(json_object_get(data, "customer"), "locale"));
	const struct template *t =
	    cx->tpl ? template_find(cx->tpl, template_name, locale, c->locale_default) : NULL;
	if (t != NULL) {
		struct template_output to = {0};
		struct mustache_error err = {0};
		if (template_render(t, data, &to, &err) < 0) {
			*reason = xasprintf("render_error: %s:%d:%d: %s", err.file, err.line,
					    err.col, err.message);
			json_decref(doc);
			return -1;
		}
		if (subject != NULL && compose_subject(subject, data, &to, reason) < 0) {
			template_output_free(&to);
			json_decref(doc);
			return -1;
		}
		json_object_set_new(doc, "subject", json_string(to.subject));
		json_object_set_new(doc, "text", json_string(to.text));
		template_output_free(&to);
	}
	out->payload = json_dumps(doc, JSON_COMPACT | JSON_SORT_KEYS);
	out->len = strlen(out->payload);
	json_decref(doc);
	return 0;
}

int
compose_prepare(const struct compose_ctx *cx, const struct campaign *c, const char *step_id,
		const char *channel, const char *template_name, const struct mustache_tmpl *subject,
		json_t *data, const char *message_id, int64_t now_ms, struct composed *out,
		struct mime_mail **mail, char **reason)
{
	json_t *customer = json_object_get(data, "customer");
	const char *email = json_string_value(json_object_get(customer, "email"));
	const char *name = json_string_value(json_object_get(customer, "name"));
	const char *locale = json_string_value(json_object_get(customer, "locale"));
	int payload = cx->channel_payload ? cx->channel_payload(channel, cx->arg) : NT_PAYLOAD_MIME;
	const struct channel_conf *cc =
	    cx->cfg != NULL ? channel_conf_find(cx->cfg->chans, cx->cfg->n_chans, channel) : NULL;
	int internal = cc != NULL && cc->internal;
	struct template_output to = {0};
	struct mustache_error err = {0};
	char *merr = NULL;

	memset(out, 0, sizeof(*out));
	*reason = NULL;
	*mail = NULL;
	if (payload == NT_PAYLOAD_JSON)
		return compose_json(cx, c, step_id, template_name, subject, data, message_id,
				    now_ms, out, reason);
	if (internal && cc->to == NULL) { /* refused at start; simulate and preview come here */
		*reason = xasprintf("no_recipient: internal channel '%s' has no 'to'", channel);
		return -1;
	}
	if (internal) { /* to the team, about the customer: no customer address, no unsubscribe */
		email = cc->to;
		name = NULL;
	}
	if (email == NULL || email[0] == '\0') {
		*reason = xstrdup("no_email");
		return -1;
	}
	if (!mime_addr_valid(email)) {
		*reason = xstrdup("invalid_address: customer.email");
		return -1;
	}
	const struct template *t =
	    cx->tpl ? template_find(cx->tpl, template_name, locale, c->locale_default) : NULL;
	if (t == NULL) {
		*reason = xasprintf("no_template: %s for locale %s", template_name,
				    locale ? locale : c->locale_default);
		return -1;
	}
	if (template_render(t, data, &to, &err) < 0) {
		*reason =
		    xasprintf("render_error: %s:%d:%d: %s", err.file[0] ? err.file : "template",
			      err.line, err.col, err.message);
		return -1;
	}
	if (subject != NULL && compose_subject(subject, data, &to, reason) < 0) {
		template_output_free(&to);
		return -1;
	}
	if (to.html != NULL && !internal && c->track_clicks && cx->secret != NULL &&
	    cx->cfg->public_url != NULL) {
		struct links_opts lo = {.public_url = cx->cfg->public_url,
					.secret = cx->secret,
					.message_id = message_id,
					.issued_s = now_ms / 1000};
		out->links = json_array();
		char *html = links_rewrite_html(to.html, &lo, out->links);
		free(to.html);
		to.html = html;
	}
	if (to.text != NULL && !internal && c->track_clicks && c->track_clicks_text &&
	    cx->secret != NULL && cx->cfg->public_url != NULL) {
		struct links_opts lo = {.public_url = cx->cfg->public_url,
					.secret = cx->secret,
					.message_id = message_id,
					.issued_s = now_ms / 1000};
		if (out->links == NULL)
			out->links = json_array();
		char *text = links_rewrite_text(to.text, &lo, out->links);
		free(to.text);
		to.text = text;
	}
	if (to.html != NULL && !internal && c->track_opens && cx->secret != NULL &&
	    cx->cfg->public_url != NULL) {
		struct links_opts lo = {.public_url = cx->cfg->public_url,
					.secret = cx->secret,
					.message_id = message_id,
					.issued_s = now_ms / 1000};
		char *html = links_add_pixel(to.html, &lo);
		free(to.html);
		to.html = html;
	}
	json_t *links = json_object_get(data, "links");
	struct mime_mail m = {
	    .from_name = cx->cfg->mail_from_name,
	    .from_addr = cx->cfg->mail_from_address,
	    .to_name = name,
	    .to_addr = email,
	    .subject = to.subject,
	    .text = to.text,
	    .html = to.html,
	    .message_id = message_id,
	    .date_ms = now_ms,
	    .unsubscribe_url = json_string_value(json_object_get(links, "unsubscribe_url")),
	    .unsubscribe_mailto = cx->cfg->unsubscribe_mailto,
	};
	/* RFC 8058 wants https; a plain-http public_url (a test, the demo) gets no header. */
	if (internal ||
	    (m.unsubscribe_url != NULL && strncmp(m.unsubscribe_url, "https://", 8) != 0))
		m.unsubscribe_url = NULL;
	if (m.unsubscribe_url == NULL)
		m.unsubscribe_mailto = NULL; /* the mailto goes with the one-click URL, not alone */
	if (mime_validate(&m, &merr) < 0) {
		*reason = xasprintf("invalid_header: %s", merr ? merr : "refused");
		free(merr);
		template_output_free(&to);
		composed_clear(out);
		return -1;
	}
	*mail = mime_mail_dup(&m);
	template_output_free(&to);
	out->sender = xstrdup(cx->cfg->mail_from_address);
	out->recipient = xstrdup(email);
	out->locale = xstrdup(template_locale(t));
	return 0;
}

int
compose_message(const struct compose_ctx *cx, const struct campaign *c, const char *step_id,
		const char *channel, const char *template_name, const struct mustache_tmpl *subject,
		json_t *data, const char *message_id, int64_t now_ms, struct composed *out,
		char **reason)
{
	struct mime_mail *mail = NULL;
	char *merr = NULL;

	if (compose_prepare(cx, c, step_id, channel, template_name, subject, data, message_id,
			    now_ms, out, &mail, reason) < 0)
		return -1;
	if (mail == NULL)
		return 0;
	int rc = mime_build(mail, &out->payload, &out->len, &merr);
	mime_mail_free(mail);
	if (rc < 0) {
		*reason = xasprintf("invalid_header: %s", merr ? merr : "refused");
		free(merr);
		composed_clear(out);
		return -1;
	}
	return 0;
}

void
composed_clear(struct composed *m)
{
	free(m->sender);
	free(m->recipient);
	free(m->payload);
	free(m->locale);
	json_decref(m->links);
	memset(m, 0, sizeof(*m));
}
