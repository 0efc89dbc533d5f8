/*
 * Signed link tokens for unsubscribe ('u') and double opt-in confirmation ('c') links:
 * base64url(JSON [kind, customer, topic, issued]) "." base64url(HMAC-SHA256(secret, payload)).
 * Anyone holding a mail can use its link; nobody can make one for another customer or topic.
 */
#ifndef NURTURED_TOKEN_H
#define NURTURED_TOKEN_H

#include <stdint.h>

struct token {
	char kind;	/* 'u' unsubscribe, 'c' confirm */
	char *customer; /* external id */
	char *topic;	/* a topic, or "*" for all */
	int64_t issued_s;
};

/* The token text (malloc'd, URL-safe). */
char *token_make(const char *secret, char kind, const char *customer, const char *topic,
		 int64_t issued_s);
/* PUBLIC_URL "/u/" or "/confirm/" TOKEN (malloc'd). */
char *token_url(const char *public_url, const char *secret, char kind, const char *customer,
		const char *topic, int64_t issued_s);
/*
 * Checks TEXT's signature (in constant time) and shape. 0 with OUT filled, or -1 for anything
 * altered, forged, truncated or of another kind than KIND.
 */
int token_parse(const char *secret, const char *text, char kind, struct token *out);
void token_clear(struct token *t);

#endif
