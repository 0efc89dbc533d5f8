/*
 * The campaign engine. It runs where the store is owned (the store loop, or `simulate`), inside
 * transactions its caller opens: each call consumes events or runs due steps and writes every
 * effect (journey state, notes, outbox rows, the events cursor) into that one transaction, so a
 * crash at any point neither loses nor repeats a step.
 */
#ifndef NURTURED_ENGINE_H
#define NURTURED_ENGINE_H

#include <stdint.h>

#include "store.h"

struct campaign_set;
struct clock;
struct campaign;
struct engine;

/* Called for every note the engine records (simulate prints them; the daemon logs at debug). */
typedef void (*engine_observer)(const struct journey_note *n, const char *customer, void *arg);

/* Borrows all three; MSGID_DOMAIN is the right-hand side of Message-IDs. */
struct engine *engine_new(struct store *s, const struct campaign_set *campaigns,
			  const struct clock *clock, const char *msgid_domain);
void engine_free(struct engine *e);
void engine_set_observer(struct engine *e, engine_observer fn, void *arg);
struct compose_ctx;
/* How sends are rendered and checked (consent, suppression); borrowed. */
void engine_set_compose(struct engine *e, const struct compose_ctx *cx);
/* At most MAX non-transactional messages per customer within PER_MS; MAX 0: no cap. */
void engine_set_cap(struct engine *e, int max, int64_t per_ms);
struct stage_rules;
/* The lifecycle stage thresholds (stage_rules_default until set). */
void engine_set_stages(struct engine *e, const struct stage_rules *r);
/* The running campaign ID, or NULL; store thread only (a reload swaps the set there). */
const struct campaign *engine_running_campaign(struct engine *e, const char *id);
/*
 * Pauses (PAUSE 1) or resumes campaign ID over the API, in the store so that it lasts across
 * restarts; a resume runs the journeys it held. STORE_NOTFOUND: not running; STORE_CONFLICT:
 * its file says paused or draft (the file decides). *CHANGED when it was not so already.
 */
enum store_status engine_pause(struct engine *e, const char *id, int pause, int *changed);
/* The domain of Message-IDs from now on (a reload changed mail_from); copied. */
void engine_set_msgid_domain(struct engine *e, const char *domain);
/* Swaps in a new set of campaigns (after a reload); the caller keeps ownership. */
void engine_set_campaigns(struct engine *e, const struct campaign_set *campaigns);

/* Records the current campaign versions; in a transaction. */
enum store_status engine_register(struct engine *e);
/*
 * Issue 21: reads the API's pauses again from the store. With several nodes another node may
 * have paused or resumed a campaign: each engine pass starts with the store's word.
 */
enum store_status engine_refresh_pauses(struct engine *e);
/* Consumes up to LIMIT new events; *N tells how many. In a transaction. */
enum store_status engine_consume(struct engine *e, int limit, int *n);
/* Runs up to LIMIT journeys that are due; *N tells how many. In a transaction. */
enum store_status engine_run_due(struct engine *e, int limit, int *n);
/* When the next journey is due (ms), or -1 when none is. */
int64_t engine_next_due(struct engine *e);
struct mimepool;
/* Builds MIME in MP's workers (borrowed): every transaction then ends with engine_flush. */
void engine_set_mimepool(struct engine *e, struct mimepool *mp);
/*
 * Before the commit of a transaction the engine ran in: writes the payloads its workers built
 * (a refused one makes its message skipped). After a rollback, engine_abandon drops them.
 */
enum store_status engine_flush(struct engine *e);
void engine_abandon(struct engine *e);
/* Messages queued in the outbox since the last call (delivery is woken when non-zero). */
long engine_take_queued(struct engine *e);

#endif
