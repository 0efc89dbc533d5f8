/*
 * Campaigns paused over the API (nurturectl pause): kept in the store, mirrored in the engine's
 * set, and what "active" and "paused" mean for a campaign given its file and that set.
 */
#include <glib.h>
#include <stdlib.h>

#include "campaign.h"
#include "clock.h"
#include "engine.h"
#include "engine_int.h"
#include "log.h"
#include "util.h"

/* Whether C takes new journeys: active in its file and not paused over the API. */
int
engine_active(const struct engine *e, const struct campaign *c)
{
	return c->status == CAMPAIGN_ACTIVE &&
	       (e->paused == NULL || !g_hash_table_contains(e->paused, c->id));
}

/* Whether C holds its journeys: paused in its file, or over the API. */
int
engine_paused(const struct engine *e, const struct campaign *c)
{
	return c->status == CAMPAIGN_PAUSED || (c->status == CAMPAIGN_ACTIVE && e->paused != NULL &&
						g_hash_table_contains(e->paused, c->id));
}

/*
 * The API's pauses, read at every register (start, reload) and before each engine pass (other
 * nodes may have paused or resumed): the store is the truth.
 */
enum store_status
engine_refresh_pauses(struct engine *e)
{
	char **ids;
	size_t n;
	enum store_status rc = store_campaigns_paused(e->store, &ids, &n);

	if (rc != STORE_OK)
		return rc;
	if (e->paused == NULL)
		e->paused = g_hash_table_new_full(g_str_hash, g_str_equal, free, NULL);
	g_hash_table_remove_all(e->paused);
	for (size_t i = 0; i < n; i++)
		g_hash_table_add(e->paused, ids[i]);
	free(ids);
	return STORE_OK;
}

/* A pause or resume over the API: kept in the store; a resume releases the held journeys. */
enum store_status
engine_pause(struct engine *e, const char *id, int pause, int *changed)
{
	const struct campaign *c = engine_running_campaign(e, id);
	enum store_status rc;
	int released = 0, was;

	*changed = 0;
	if (c == NULL)
		return STORE_NOTFOUND;
	if (c->status != CAMPAIGN_ACTIVE)
		return STORE_CONFLICT; /* its file says paused or draft: the file decides */
	if (e->paused == NULL && (rc = engine_refresh_pauses(e)) != STORE_OK)
		return rc;
	was = g_hash_table_contains(e->paused, id);
	if (was == pause)
		return STORE_OK;
	if ((rc = store_campaign_pause(e->store, id, pause, clock_now(e->clock))) != STORE_OK)
		return rc;
	if (pause)
		g_hash_table_add(e->paused, xstrdup(id));
	else {
		g_hash_table_remove(e->paused, id);
		rc = store_journeys_release(e->store, id, clock_now(e->clock), &released);
	}
	*changed = 1;
	log_info("campaign '%s' %s over the API%s", id, pause ? "paused" : "resumed",
		 released ? "; held journeys run now" : "");
	return rc;
}
