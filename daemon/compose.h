/*
 * Composing a message: the data a template sees (customer, event, journey, campaign, links),
 * rendered into what the channel carries — a MIME message through GMime, or a JSON document
 * for webhooks. Shared by the engine's send step and `nurtured preview`, so a preview is the
 * message exactly as it would be sent.
 */
#ifndef NURTURED_COMPOSE_H
#define NURTURED_COMPOSE_H

#include <jansson.h>
#include <stdint.h>

struct campaign;
struct config;
struct journey;
struct step;
struct template_set;

struct compose_ctx {
	const struct config *cfg;	/* mail_from, public_url, opt-in topics */
	const struct template_set *tpl; /* borrowed */
	const char *secret;		/* signs the unsubscribe and confirm links */
	const char *msgid_domain;	/* the right-hand side of our Message-IDs */
	/* The payload each channel wants (enum nt_payload), by name; NULL: MIME for all. */
	int (*channel_payload)(const char *channel, void *arg);
	void *arg;
};

struct composed {
	char *sender;	 /* envelope sender (MIME) */
	char *recipient; /* envelope recipient (MIME) */
	char *payload;
	size_t len;
	char *locale;  /* the template variant used, or NULL */
	json_t *links; /* the tracked links' targets [{"url", "name"}] (issue 19), or NULL */
};

/*
 * The data templates see. CUSTOMER is the engine's customer context, EVENT the trigger (or
 * the awaited event), J may be NULL (preview, system mail).
 */
json_t *compose_data(const struct compose_ctx *cx, const struct campaign *c, json_t *customer,
		     json_t *event, const struct journey *j, int64_t now_ms);

/*
 * Renders step ST of C for CUSTOMER. Returns 0 with OUT filled, or -1 with *REASON (malloc'd:
 * "no_email", "invalid_address: ...", "no_template: ...", "render_error: file:line:col: ...",
 * "invalid_header: field ...") — a skip the engine records, never a crash. SUBJECT, when not
 * NULL, is rendered over DATA in place of the template's subject (an experiment variant's).
 */
struct mustache_tmpl;
int compose_message(const struct compose_ctx *cx, const struct campaign *c, const char *step_id,
		    const char *channel, const char *template_name,
		    const struct mustache_tmpl *subject, json_t *data, const char *message_id,
		    int64_t now_ms, struct composed *out, char **reason);
/*
 * As compose_message, but a MIME message is checked and not built: *MAIL (mime_mail_free) is
 * what mime_build will take, and OUT has the envelope without a payload. A JSON document is
 * made at once (*MAIL NULL). The checks are mime_build's: a build of *MAIL fails only when
 * GMime does.
 */
struct mime_mail;
int compose_prepare(const struct compose_ctx *cx, const struct campaign *c, const char *step_id,
		    const char *channel, const char *template_name,
		    const struct mustache_tmpl *subject, json_t *data, const char *message_id,
		    int64_t now_ms, struct composed *out, struct mime_mail **mail, char **reason);
void composed_clear(struct composed *m);

/*
 * Whether the customer may receive C's messages now: NULL if yes, else the skip reason
 * ("unsubscribed", "not_subscribed"). Transactional campaigns need no consent.
 */
const char *compose_consent(const struct compose_ctx *cx, const struct campaign *c,
			    json_t *customer);

#endif
