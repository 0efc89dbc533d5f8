/*
 * Consent shared beyond api_consent.c (issue 20): the double opt-in request, used by the API
 * and the public signup form (api_subscribe.c).
 */
#ifndef NURTURED_CONSENT_H
#define NURTURED_CONSENT_H

#include <stdint.h>

#include "store.h"

struct compose_ctx;
struct http_req;

struct consent_result {
	const char *state; /* the consent now: "pending", or "subscribed" already (no mail) */
	char *message;	   /* the confirmation's Message-ID, or why it was skipped (malloc'd) */
	int skipped;
};

/*
 * Store thread: starts double opt-in for TOPIC of customer CID (pending, recorded with SOURCE;
 * the confirmation mail through message_queue on CHANNEL, in the caller's transaction). A
 * customer already subscribed is left as is. Returns a store failure only.
 */
enum store_status consent_request(struct store *s, const struct compose_ctx *cx,
				  const char *channel, int64_t cid, const char *topic,
				  const char *source, int64_t now_ms, struct consent_result *out);

/* The customer-facing pages (api_consent.c): the language (1: German), from ?lang= or the browser.
 */
int consent_lang_de(struct http_req *hr);
/* A small page: no scripts, no external resources, no cookies; BODY is HTML, escaped already. */
void consent_page(struct http_req *hr, int code, int de, const char *title, const char *body);
/* FIELD of a form POST's body (application/x-www-form-urlencoded, up to 4 KiB), or NULL. */
char *consent_form_field(struct http_req *hr, const char *field);
/* The client's address (malloc'd), or NULL. */
char *consent_peer(struct http_req *hr);

#endif
