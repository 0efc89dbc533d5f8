/* The dashboard's parts (ui.c, ui_pages.c, ui_people.c, ui_svg.c, ui_mail.c). */
#ifndef NURTURED_UI_INT_H
#define NURTURED_UI_INT_H

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

struct http_req;

/* Renders page template NAME over VIEW (stolen) inside the layout, and replies 200. */
void ui_render(struct http_req *hr, const char *name, json_t *view);
/* The same with status CODE. */
void ui_render_code(struct http_req *hr, int code, const char *name, json_t *view);
/* A 303 to LOCATION (a path of the dashboard). */
void ui_redirect(struct http_req *hr, const char *location);
/* An error page with CODE and MSG. */
void ui_error(struct http_req *hr, int code, const char *msg);
/* An API answer that is not a success: its error page is answered (1); else 0. */
int ui_api_failed(struct http_req *hr, int code, json_t *body);
/* An API action's answer: redirect to ARG (a malloc'd path, freed), or the error page. */
void ui_api_then_redirect(struct http_req *hr, int code, json_t *body, void *arg);
/* A mail's HTML for a sandboxed iframe: its own CSP, no script, no network. */
void ui_reply_mail_html(struct http_req *hr, const char *html);
/* Whether the session may change things (an admin). */
int ui_is_admin(struct http_req *hr);
/* The decoded form field KEY of a POST (malloc'd), or NULL. */
char *ui_form(struct http_req *hr, const char *key);
/* The decoded query parameter KEY, NULL when absent or empty. */
char *ui_query(struct http_req *hr, const char *key);

/* The capture of an API handler's answer: CB gets its status and JSON body (owned). */
typedef void (*ui_api_cb)(struct http_req *hr, int code, json_t *body, void *arg);
/*
 * Calls the API handler FN for HR with the path argument ARG and the JSON BODY (stolen; may
 * be NULL); its answer goes to CB instead of the client. The dashboard's data and actions
 * take the API's code paths: one validation, one store operation, one wording.
 */
void ui_api(struct http_req *hr, void (*fn)(struct http_req *), const char *arg, json_t *body,
	    ui_api_cb cb, void *cbarg);

/* The pages (ui_pages.c, ui_people.c). ARG is the decoded id, ACTION the part after it. */
void ui_overview(struct http_req *hr);
void ui_campaigns(struct http_req *hr);
void ui_campaign(struct http_req *hr, const char *id);
void ui_campaign_action(struct http_req *hr, const char *id, const char *action);
void ui_customers(struct http_req *hr);
void ui_customer(struct http_req *hr, const char *id);
void ui_customer_erase(struct http_req *hr, const char *id);
void ui_messages(struct http_req *hr);
void ui_message(struct http_req *hr, const char *id);
void ui_message_body(struct http_req *hr, const char *id);
void ui_message_retry(struct http_req *hr, const char *id);
void ui_suppressions(struct http_req *hr);
void ui_suppression_action(struct http_req *hr, const char *action);
void ui_templates(struct http_req *hr);
void ui_template_body(struct http_req *hr);

/* Inline SVG (ui_svg.c), escaped, as malloc'd text. */
/* Bars of two series per day: N days with labels, A and B the counts, in two colours. */
char *ui_svg_days(size_t n, const char *const *labels, const long *a, const long *b,
		  const char *name_a, const char *name_b);
/*
 * A campaign's journey from its JSON DEF: trigger, steps (sends, waits, branches with their
 * conditions, exits) as boxes, with the journeys there NOW on each, those that PASSED it
 * (ran it once or more) and what a send step SENT (each {"step id": N}).
 */
char *ui_svg_journey(json_t *def, json_t *now, json_t *passed, json_t *sent);

/* A mail as the recipient sees it (ui_mail.c, GMime): headers, its HTML and text parts. */
struct ui_mail {
	json_t *headers; /* [{"name", "value"}] in order */
	char *html;	 /* or NULL */
	char *text;	 /* or NULL */
};
int ui_mail_parse(const char *raw, size_t len, struct ui_mail *out);
void ui_mail_clear(struct ui_mail *m);

#endif
