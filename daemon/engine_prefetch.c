/*
 * The engine's reads for a batch, in one statement each (issue 21). On PostgreSQL every read is
 * a round trip that the store thread waits for; a batch of events or due journeys reads at once
 * what its items will ask for: the customers, their addresses' suppressions, and for events the
 * journeys they can touch, the purchasers' totals and the latest journey of each campaign they
 * trigger (re-entry). The items then take them from here (docs/scaling.md, "What bounds a
 * node"). SQLite, whose reads are function calls, answers the same questions one by one.
 *
 * What keeps them true:
 * - the engine writes only to the customer whose event or journey it is running, so a
 *   customer's reads are good until the batch writes to that customer;
 * - a customer's context is taken once, by its first item, before anything wrote to it; a
 *   later read goes to the store, unless the item gave back a context that is still the stored
 *   one (engine_customer_keep: a stage update keeps it true);
 * - a customer's journeys are dropped whenever the engine starts or saves one of them
 *   (engine_journeys_touched, engine_journey_save), and the journeys an event can touch are
 *   taken once, by the customer's first event;
 * - purchase totals follow every purchase the engine adds (engine_purchase_add);
 * - a customer's goal candidates are dropped whenever the engine notes anything of the
 *   customer (engine_goals_touched): a send makes a candidate, a goal ends one;
 * - the suppression list does not change inside the engine's batch (bounces, complaints and
 *   the API are jobs of their own).
 * Everything is dropped at the batch's end (engine_prefetch_clear), committed or not.
 */
#include "engine_prefetch.h"

#include <glib.h>
#include <stdlib.h>
#include <string.h>

#include "campaign.h"
#include "clock.h"
#include "compose.h"
#include "engine_int.h"
#include "store_customers.h"
#include "store_engine.h"
#include "store_events.h"
#include "store_json.h"
#include "store_rows.h"
#include "util.h"

void
engine_prefetch_clear(struct engine *e)
{
	if (e->pre_customers != NULL)
		g_hash_table_destroy(e->pre_customers);
	if (e->pre_suppressed != NULL)
		g_hash_table_destroy(e->pre_suppressed);
	if (e->pre_journeys != NULL)
		g_hash_table_destroy(e->pre_journeys);
	if (e->pre_purchases != NULL)
		g_hash_table_destroy(e->pre_purchases);
	if (e->pre_latest != NULL)
		g_hash_table_destroy(e->pre_latest);
	if (e->pre_latest_campaigns != NULL)
		g_hash_table_destroy(e->pre_latest_campaigns);
	if (e->pre_goals != NULL)
		g_hash_table_destroy(e->pre_goals);
	if (e->pre_goal_customers != NULL)
		g_hash_table_destroy(e->pre_goal_customers);
	if (e->pre_goal_campaigns != NULL)
		g_hash_table_destroy(e->pre_goal_campaigns);
	e->pre_customers = e->pre_suppressed = e->pre_journeys = e->pre_purchases = NULL;
	e->pre_latest = e->pre_latest_campaigns = NULL;
	e->pre_goals = e->pre_goal_customers = e->pre_goal_campaigns = NULL;
}

/* The batch's addresses' suppressions, when a message may follow (there are campaigns). */
static enum store_status
engine_prefetch_suppressed(struct engine *e)
{
	GPtrArray *addrs = g_ptr_array_new();
	GHashTable *seen = g_hash_table_new(g_str_hash, g_str_equal);
	GHashTableIter it;
	gpointer value;
	enum store_status rc = STORE_OK;

	g_hash_table_iter_init(&it, e->pre_customers);
	while (g_hash_table_iter_next(&it, NULL, &value)) {
		const char *email = json_string_value(json_object_get(value, "email"));
		if (email != NULL && g_hash_table_add(seen, (gpointer)email))
			g_ptr_array_add(addrs, (gpointer)email);
	}
	g_hash_table_destroy(seen);
	if (addrs->len > 0) {
		int *yes = xcalloc(addrs->len, sizeof(*yes));
		rc = store_suppressed_many(e->store, e->cx->secret,
					   (const char *const *)addrs->pdata, addrs->len, yes);
		for (guint i = 0; rc == STORE_OK && i < addrs->len; i++)
			g_hash_table_insert(
			    e->pre_suppressed, xstrdup(addrs->pdata[i]),
			    GINT_TO_POINTER(yes[i] ? MSG_SUPPRESSED_YES : MSG_SUPPRESSED_NO));
		free(yes);
	}
	g_ptr_array_free(addrs, TRUE);
	return rc;
}

enum store_status
engine_prefetch(struct engine *e, const int64_t *ids, size_t n)
{
	int64_t *want = xcalloc(n ? n : 1, sizeof(*want));
	GHashTable *seen = g_hash_table_new(g_int64_hash, g_int64_equal);
	struct customer_row *rows;
	size_t m = 0;
	enum store_status rc;

	engine_prefetch_clear(e);
	e->pre_customers =
	    g_hash_table_new_full(g_int64_hash, g_int64_equal, free, (GDestroyNotify)json_decref);
	e->pre_suppressed = g_hash_table_new_full(g_str_hash, g_str_equal, free, NULL);
	for (size_t i = 0; i < n; i++) /* each customer once */
		if (g_hash_table_add(seen, (gpointer)&ids[i]))
			want[m++] = ids[i];
	g_hash_table_destroy(seen);
	rows = xcalloc(m ? m : 1, sizeof(*rows));
	rc = m > 0 ? store_customers_by_ids(e->store, want, m, rows) : STORE_OK;
	for (size_t i = 0; i < m; i++) {
		if (rc == STORE_OK && rows[i].id == want[i]) {
			int64_t *key = xmalloc(sizeof(*key));
			*key = want[i];
			g_hash_table_insert(e->pre_customers, key, customer_context_json(&rows[i]));
		}
		customer_row_clear(&rows[i]);
	}
	free(rows);
	free(want);
	if (rc == STORE_OK && e->cx != NULL && e->campaigns != NULL && e->campaigns->n > 0)
		rc = engine_prefetch_suppressed(e);
	if (rc != STORE_OK)
		engine_prefetch_clear(e);
	return rc;
}

enum store_status
engine_customer(struct engine *e, int64_t customer_id, json_t **out)
{
	gpointer key, value;

	if (e->pre_customers != NULL &&
	    g_hash_table_steal_extended(e->pre_customers, &customer_id, &key, &value)) {
		free(key);
		*out = value;
		return STORE_OK;
	}
	return store_customer_context(e->store, customer_id, out);
}

void
engine_customer_keep(struct engine *e, int64_t customer_id, json_t *customer)
{
	if (e->pre_customers == NULL) {
		json_decref(customer);
		return;
	}
	int64_t *key = xmalloc(sizeof(*key));
	*key = customer_id;
	g_hash_table_replace(e->pre_customers, key, customer);
}

enum msg_suppressed
engine_suppressed(const struct engine *e, const char *email)
{
	if (e->pre_suppressed == NULL || email == NULL)
		return MSG_SUPPRESSED_UNREAD;
	return GPOINTER_TO_INT(g_hash_table_lookup(e->pre_suppressed, email));
}

static void
engine_journey_free(gpointer p)
{
	journey_clear(p);
	free(p);
}

static GHashTable *engine_journeys_by_customer(const int64_t *ids, size_t m, struct journey *v,
					       size_t nv);

enum store_status
engine_prefetch_journeys(struct engine *e, const struct store_event *evs, size_t n)
{
	GHashTable *types = g_hash_table_new(g_str_hash, g_str_equal),
		   *exits = g_hash_table_new(g_str_hash, g_str_equal),
		   *seen = g_hash_table_new(g_int64_hash, g_int64_equal);
	int64_t *ids = xcalloc(n ? n : 1, sizeof(*ids));
	struct journey *v = NULL;
	size_t m = 0, nv = 0;
	enum store_status rc = STORE_OK;

	if (e->store->ops->engine->journeys_for_events == NULL || n == 0)
		goto out;
	for (size_t i = 0; i < n; i++) {
		if (g_hash_table_add(seen, (gpointer)&evs[i].customer_id))
			ids[m++] = evs[i].customer_id;
		g_hash_table_add(types, evs[i].type);
		GPtrArray *x =
		    e->exit_by_type ? g_hash_table_lookup(e->exit_by_type, evs[i].type) : NULL;
		for (guint k = 0; x != NULL && k < x->len; k++)
			g_hash_table_add(exits, x->pdata[k]);
	}
	guint nt, nx;
	gpointer *tv = g_hash_table_get_keys_as_array(types, &nt),
		 *xv = g_hash_table_get_keys_as_array(exits, &nx);
	rc = e->store->ops->engine->journeys_for_events(e->store, ids, m, (char *const *)tv, nt,
							(char *const *)xv, nx, &v, &nv);
	g_free(tv);
	g_free(xv);
	if (rc != STORE_OK)
		goto out;
	e->pre_journeys = engine_journeys_by_customer(ids, m, v, nv);
out:
	g_hash_table_destroy(types);
	g_hash_table_destroy(exits);
	g_hash_table_destroy(seen);
	free(ids);
	return rc;
}

void
engine_journeys_touched(struct engine *e, int64_t customer_id)
{
	if (e->pre_journeys != NULL)
		g_hash_table_remove(e->pre_journeys, &customer_id);
	if (e->pre_latest != NULL)
		g_hash_table_remove(e->pre_latest, &customer_id);
}

enum store_status
engine_journey_save(struct engine *e, const struct journey *j)
{
	engine_journeys_touched(e, j->customer_id);
	return store_journey_update(e->store, j);
}

/* Moves V's N journeys into a new table: customer id -> GPtrArray, IDS each with one. */
static GHashTable *
engine_journeys_by_customer(const int64_t *ids, size_t m, struct journey *v, size_t nv)
{
	GHashTable *t = g_hash_table_new_full(g_int64_hash, g_int64_equal, free,
					      (GDestroyNotify)g_ptr_array_unref);
	for (size_t i = 0; i < m; i++) {
		int64_t *key = xmalloc(sizeof(*key));
		*key = ids[i];
		g_hash_table_insert(t, key, g_ptr_array_new_with_free_func(engine_journey_free));
	}
	for (size_t i = 0; i < nv; i++) {
		GPtrArray *list = g_hash_table_lookup(t, &v[i].customer_id);
		struct journey *j = xmalloc(sizeof(*j));
		*j = v[i]; /* moved */
		if (list != NULL)
			g_ptr_array_add(list, j);
		else
			engine_journey_free(j);
	}
	free(v);
	return t;
}

enum store_status
engine_prefetch_latest(struct engine *e, const struct store_event *evs, size_t n)
{
	GHashTable *seen = g_hash_table_new(g_int64_hash, g_int64_equal),
		   *cs = g_hash_table_new(g_str_hash, g_str_equal);
	int64_t *ids = xcalloc(n ? n : 1, sizeof(*ids));
	struct journey *v = NULL;
	size_t m = 0, nv = 0;
	enum store_status rc = STORE_OK;

	for (size_t i = 0; e->store->ops->engine->journeys_latest != NULL && i < n; i++) {
		int triggers = 0;
		for (size_t k = 0; e->campaigns != NULL && k < e->campaigns->n; k++) {
			const struct campaign *c = e->campaigns->v[k];
			if (engine_active(e, c) && c->trigger.kind == TRIGGER_EVENT &&
			    strcmp(c->trigger.event, evs[i].type) == 0) {
				g_hash_table_add(cs, c->id);
				triggers = 1;
			}
		}
		if (triggers && g_hash_table_add(seen, (gpointer)&evs[i].customer_id))
			ids[m++] = evs[i].customer_id;
	}
	if (m > 0) {
		guint nc;
		gpointer *cv = g_hash_table_get_keys_as_array(cs, &nc);
		rc = e->store->ops->engine->journeys_latest(e->store, ids, m, (char *const *)cv, nc,
							    &v, &nv);
		g_free(cv);
		if (rc == STORE_OK) {
			e->pre_latest = engine_journeys_by_customer(ids, m, v, nv);
			e->pre_latest_campaigns = cs;
			cs = NULL;
		}
	}
	if (cs != NULL)
		g_hash_table_destroy(cs);
	g_hash_table_destroy(seen);
	free(ids);
	return rc;
}

enum store_status
engine_journey_latest(struct engine *e, const struct campaign *c, int64_t customer_id,
		      const char *key, struct journey *out)
{
	GPtrArray *list = e->pre_latest && g_hash_table_contains(e->pre_latest_campaigns, c->id)
			      ? g_hash_table_lookup(e->pre_latest, &customer_id)
			      : NULL;

	if (list == NULL)
		return store_journey_find(e->store, c->id, customer_id, key, 0, out);
	for (guint i = 0; i < list->len; i++) {
		const struct journey *j = list->pdata[i];
		if (strcmp(j->campaign_id, c->id) == 0 && strcmp(j->key, key ? key : "") == 0) {
			*out = journey_copy(j);
			return STORE_OK;
		}
	}
	return STORE_NOTFOUND;
}

enum store_status
engine_journeys_for_event(struct engine *e, const struct store_event *ev, char *const *exits,
			  size_t n_exits, struct journey **out, size_t *n)
{
	gpointer key, value;

	if (e->pre_journeys == NULL ||
	    !g_hash_table_steal_extended(e->pre_journeys, &ev->customer_id, &key, &value))
		return store_journeys_for_event(e->store, ev->customer_id, ev->type, exits, n_exits,
						out, n);
	free(key);
	GPtrArray *list = value;
	*out = NULL;
	*n = 0;
	for (guint i = 0; i < list->len; i++) {
		struct journey *j = list->pdata[i];
		int match = j->wait_event != NULL && strcmp(j->wait_event, ev->type) == 0;
		for (size_t k = 0; k < n_exits && !match; k++)
			match = strcmp(j->campaign_id, exits[k]) == 0;
		if (!match)
			continue;
		*out = xrealloc(*out, (*n + 1) * sizeof(**out));
		(*out)[(*n)++] = *j; /* moved: the shell alone is freed */
		memset(j, 0, sizeof(*j));
	}
	g_ptr_array_unref(list);
	return STORE_OK;
}

enum store_status
engine_prefetch_purchases(struct engine *e, const struct store_event *evs, size_t n)
{
	GHashTable *seen = g_hash_table_new(g_int64_hash, g_int64_equal);
	int64_t *ids = xcalloc(n ? n : 1, sizeof(*ids));
	size_t m = 0;
	enum store_status rc = STORE_OK;

	for (size_t i = 0; i < n; i++)
		if (engine_is_purchase(evs[i].type) &&
		    g_hash_table_add(seen, (gpointer)&evs[i].customer_id))
			ids[m++] = evs[i].customer_id;
	g_hash_table_destroy(seen);
	if (m > 0) {
		struct purchase_totals *t = xcalloc(m, sizeof(*t));
		if ((rc = store_purchases_of(e->store, ids, m, t)) == STORE_OK) {
			e->pre_purchases =
			    g_hash_table_new_full(g_int64_hash, g_int64_equal, free, free);
			for (size_t i = 0; i < m; i++) {
				int64_t *key = xmalloc(sizeof(*key));
				*key = ids[i];
				g_hash_table_insert(e->pre_purchases, key,
						    g_memdup2(&t[i], sizeof(t[i])));
			}
		}
		free(t);
	}
	free(ids);
	return rc;
}

enum store_status
engine_purchase_add(struct engine *e, int64_t customer_id, int64_t time_ms)
{
	enum store_status rc = store_purchase_add(e->store, customer_id, time_ms);
	struct purchase_totals *t =
	    e->pre_purchases ? g_hash_table_lookup(e->pre_purchases, &customer_id) : NULL;

	if (rc != STORE_OK || t == NULL)
		return rc;
	/* What purchase_add's upsert made of the row: one more, the earliest, the latest. */
	if (t->count == 0)
		*t = (struct purchase_totals){.count = 1, .first_ms = time_ms, .last_ms = time_ms};
	else {
		t->count++;
		t->first_ms = MIN(t->first_ms, time_ms);
		t->last_ms = MAX(t->last_ms, time_ms);
	}
	return rc;
}

enum store_status
engine_purchase_stats(struct engine *e, int64_t customer_id, long *count, int64_t *first_ms,
		      int64_t *last_ms)
{
	const struct purchase_totals *t =
	    e->pre_purchases ? g_hash_table_lookup(e->pre_purchases, &customer_id) : NULL;

	if (t == NULL)
		return store_purchase_stats(e->store, customer_id, count, first_ms, last_ms);
	*count = t->count;
	*first_ms = t->first_ms;
	*last_ms = t->last_ms;
	return STORE_OK;
}

static char *
engine_goal_key(int64_t customer_id, const char *campaign_id)
{
	return g_strdup_printf("%lld:%s", (long long)customer_id, campaign_id);
}

/*
 * The window of each campaign starts at the batch's read, so it holds an item's own (which
 * starts later): the latest send in it is the item's candidate if it is in the item's window
 * at all (engine_goal_candidate), and no other can be.
 */
enum store_status
engine_prefetch_goals(struct engine *e, const struct store_event *evs, size_t n)
{
	GHashTable *seen = g_hash_table_new(g_int64_hash, g_int64_equal),
		   *cs = g_hash_table_new(g_str_hash, g_str_equal);
	int64_t *ids = xcalloc(n ? n : 1, sizeof(*ids));
	size_t nc = e->campaigns != NULL ? e->campaigns->n : 0, m = 0, k = 0, nr = 0;
	char **cv = xcalloc(nc ? nc : 1, sizeof(*cv));
	int64_t *since = xcalloc(nc ? nc : 1, sizeof(*since)), now = clock_now(e->clock);
	struct goal_row *rows = NULL;
	enum store_status rc = STORE_OK;

	for (size_t c = 0; e->store->ops->engine->goal_candidates != NULL && c < nc; c++) {
		const struct campaign *camp = e->campaigns->v[c];
		int used = 0;
		for (size_t i = 0; camp->goal_event != NULL && i < n; i++) {
			if (strcmp(camp->goal_event, evs[i].type) != 0)
				continue;
			used = 1;
			if (g_hash_table_add(seen, (gpointer)&evs[i].customer_id))
				ids[m++] = evs[i].customer_id;
		}
		if (used && g_hash_table_add(cs, camp->id)) {
			cv[k] = camp->id;
			since[k++] = now - camp->goal_within_ms;
		}
	}
	if (k > 0)
		rc = e->store->ops->engine->goal_candidates(e->store, ids, m, cv, since, k, &rows,
							    &nr);
	if (k > 0 && rc == STORE_OK) {
		e->pre_goals = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, g_free);
		for (size_t i = 0; i < nr; i++)
			g_hash_table_insert(
			    e->pre_goals,
			    engine_goal_key(rows[i].customer_id, cv[rows[i].campaign]),
			    g_memdup2(&rows[i], sizeof(rows[i])));
		e->pre_goal_customers = seen;
		e->pre_goal_campaigns = cs;
		seen = cs = NULL;
	}
	if (seen != NULL)
		g_hash_table_destroy(seen);
	if (cs != NULL)
		g_hash_table_destroy(cs);
	free(rows);
	free(since);
	free(cv);
	free(ids);
	return rc;
}

enum store_status
engine_goal_candidate(struct engine *e, const struct campaign *c, int64_t customer_id,
		      int64_t since_ms, int64_t *journey_id)
{
	if (e->pre_goals == NULL || !g_hash_table_contains(e->pre_goal_campaigns, c->id) ||
	    !g_hash_table_contains(e->pre_goal_customers, &customer_id))
		return store_goal_candidate(e->store, c->id, customer_id, since_ms, journey_id);
	char *key = engine_goal_key(customer_id, c->id);
	const struct goal_row *g = g_hash_table_lookup(e->pre_goals, key);
	g_free(key);
	if (g == NULL || g->at_ms < since_ms)
		return STORE_NOTFOUND;
	*journey_id = g->journey_id;
	return STORE_OK;
}

void
engine_goals_touched(struct engine *e, int64_t customer_id)
{
	if (e->pre_goal_customers != NULL)
		g_hash_table_remove(e->pre_goal_customers, &customer_id);
}
