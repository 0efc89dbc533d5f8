/* The preference centre behind the unsubscribe link (/u/{token}): prefs.c. */
#ifndef NURTURED_PREFS_H
#define NURTURED_PREFS_H

struct http_req;
struct token;

/* GET /u/{token}: the page (T checked already; DE: German). */
void prefs_get(struct http_req *hr, const struct token *t, int de);
/* POST /u/{token} with action=preferences: the form's changes, then the page. */
void prefs_post(struct http_req *hr, const struct token *t, int de);

#endif
