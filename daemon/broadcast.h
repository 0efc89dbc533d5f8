/*
 * Broadcasts (issue 17): one-off mailings with their own content, a saved or inline audience,
 * a schedule, a test send and statistics. A broadcast is accepted over the API (checked
 * completely at creation: docs/broadcasts.md), waits for its instant, and is fanned out by the
 * engine's pass on the store thread in chunks of customers by id, each chunk's messages queued
 * through message_queue (the one send path) in the transaction that moves its cursor: a crash
 * resumes it where it stopped, and the ledger key (broadcast, customer) makes a replay a no-op.
 * Its content is frozen as sending starts: the template files are read then and kept with it.
 */
#ifndef NURTURED_BROADCAST_H
#define NURTURED_BROADCAST_H

#include <jansson.h>
#include <stdint.h>

#include "campaign.h"
#include "store.h"

struct compose_ctx;
struct config;
struct engine;
struct template_set;

/* The template name of inline content ("broadcast.subject.mustache", ...). */
#define BROADCAST_INLINE "broadcast"
/* Customers per fan-out transaction, unless the broadcast says ("chunk"). */
#define BROADCAST_CHUNK 500
#define BROADCAST_CHUNK_MAX 5000

/*
 * Checks a request BODY (POST, or the merged PATCH) against CFG at NOW: the shape, the topic's
 * consent rules, the channel, the audience's form and the content's syntax. Returns 0 with
 * *DUE_MS (-1: a draft; NOW for "now"), or -1 with *ERR (malloc'd) and *FIELD (static).
 */
int broadcast_spec_check(json_t *body, const struct config *cfg, int64_t now_ms, int64_t *due_ms,
			 char **err, const char **field);

/* The outbox's campaign id of broadcast ID: "broadcast:ID" (malloc'd). */
char *broadcast_campaign_id(const char *id);

/*
 * The content's source as files (`{"NAME.PART.mustache": TEXT}`): the inline parts, or the
 * named template's files read from TEMPLATES_DIR, with every partial there. NULL with *ERR.
 * Reads the disk: on a thread that may block.
 */
json_t *broadcast_sources(const char *templates_dir, json_t *spec, char **err);

/* Whether SPEC's content renders for a placeholder customer; NULL, or why not (malloc'd). */
char *broadcast_render_check(const struct compose_ctx *cx, json_t *spec, json_t *files);

/*
 * The page of the archive: SPEC's content rendered from FILES for a placeholder customer
 * (no personal data), as HTML (the HTML part, or the text escaped). NULL with *ERR.
 */
char *broadcast_archive_html(const struct compose_ctx *cx, json_t *spec, json_t *files, char **err);

/* A stand-in campaign for SPEC (topic, name, locale): what compose and consent read. */
void broadcast_campaign(struct campaign *c, const char *campaign_id, json_t *spec);

/* A placeholder customer: no personal data, what a test send or the archive renders for. */
json_t *broadcast_placeholder(const char *email);

/* On the store thread, in the engine's pass: the next chunk of each due broadcast. */
enum store_status broadcast_run_due(struct engine *e, int *handled);

#endif
