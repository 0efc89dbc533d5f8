/*
 * Click tracking (issue 19): the links of a rendered HTML part are rewritten to
 * PUBLIC_URL "/c/" TOKEN, where TOKEN (token.h, kind 'k') names the message (its Message-ID)
 * and the link's index. The targets are kept with the message in the store and never read
 * from the URL, so a click cannot be turned into an open redirect.
 *
 * The rewrite is a small tokenizer of HTML's own rules (comments, conditional comments, raw
 * text elements, quoted and unquoted attribute values): only the value of an <a>'s first href
 * changes, every other byte is copied. Never rewritten: links that are not absolute http(s)
 * (mailto:, tel:, in-page anchors, relative), the daemon's own links (unsubscribe, confirm,
 * clicks), and links with a data-notrack attribute.
 */
#ifndef NURTURED_LINKS_H
#define NURTURED_LINKS_H

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

/* The longest link name kept (bytes, cut at a character boundary). */
#define LINKS_NAME_MAX 200
/* The most links tracked in one message; the rest stay as they are. */
#define LINKS_MAX 200

struct links_opts {
	const char *public_url; /* tracked links go to PUBLIC_URL/c/TOKEN */
	const char *secret;	/* signs the token */
	const char *message_id; /* the message the links belong to */
	int64_t issued_s;
};

/*
 * Rewrites the trackable links of HTML. Returns the new document (malloc'd) and appends to
 * LINKS one object {"url", "name"} per tracked link, in order: its index is the token's.
 */
char *links_rewrite_html(const char *html, const struct links_opts *o, json_t *links);

/*
 * The same for a text part (a campaign's track_clicks_text): every absolute http(s) URL that
 * is trackable, up to white space or <>"', without trailing punctuation (.,;:!?)]'), becomes
 * its click URL; indexes go on from LINKS' size (the HTML part's links come first).
 */
char *links_rewrite_text(const char *text, const struct links_opts *o, json_t *links);

/* Whether URL (decoded) is a link to track: absolute http(s), not one of the daemon's own. */
int links_trackable(const char *url, const char *public_url);

/* The tracking URL of link IDX of the message (malloc'd). */
char *links_click_url(const struct links_opts *o, size_t idx);

/*
 * Reads a click token: 0 with the Message-ID (malloc'd) and the link's index, or -1 for
 * anything forged, altered or of another kind.
 */
int links_token_parse(const char *secret, const char *token, char **message_id, int *idx);

/*
 * The open pixel of the message (issue 19, off by default): HTML with an 1x1 image of
 * PUBLIC_URL/o/TOKEN before its </body>, or at its end (malloc'd).
 */
char *links_add_pixel(const char *html, const struct links_opts *o);

/* HTML character references in the N bytes at S decoded (malloc'd): what a browser follows. */
char *links_decode(const char *s, size_t n);

#endif
