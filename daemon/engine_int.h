/* Private to the engine: shared by engine.c (events, steps) and engine_trigger.c (triggers). */
#ifndef NURTURED_ENGINE_INT_H
#define NURTURED_ENGINE_INT_H

#include <jansson.h>

#include <glib.h>

#include "engine.h"
#include "stage.h"

struct campaign;
struct cond;

struct engine {
	struct store *store;
	const struct campaign_set *campaigns;
	/* Older versions that running journeys started on, loaded from the store when needed. */
	struct campaign **old;
	size_t n_old;
	const struct clock *clock;
	char *msgid_domain;
	engine_observer observe;
	void *observe_arg;
	struct stage_rules stages;
	int cap_max; /* the frequency cap, 0: none */
	int64_t cap_per_ms;
	long queued;		      /* messages queued since engine_take_queued last asked */
	const struct compose_ctx *cx; /* rendering, consent; NULL: queue unrendered (tests) */
	GHashTable *paused;  /* campaign ids paused over the API (store: campaign_pauses) */
	struct mimepool *mp; /* MIME builds off this thread, or NULL: built in the step */
	/* Event type -> GPtrArray of the campaign ids that exit on it, in any version kept
	 * (engine_register): an event reads only the journeys it can touch. */
	GHashTable *exit_by_type;
	/* The batch's reads (engine_prefetch.c): customer id -> context, address -> suppressed. */
	GHashTable *pre_customers, *pre_suppressed;
	GHashTable *pre_journeys;  /* customer id -> GPtrArray of its journeys an event can touch */
	GHashTable *pre_purchases; /* customer id -> struct purchase_totals */
	/* customer id -> GPtrArray of the latest journey per (campaign, key), for these
	 * campaigns (ids, borrowed) */
	GHashTable *pre_latest, *pre_latest_campaigns;
	/* "customer id:campaign id" -> struct goal_row, the customers read (id set), the
	 * campaigns asked (ids, borrowed) */
	GHashTable *pre_goals, *pre_goal_customers, *pre_goal_campaigns;
};

/* Whether C runs: active in its file and not paused over the API. */
int engine_active(const struct engine *e, const struct campaign *c);
/* Whether C holds its journeys: paused in its file or over the API (drafts do neither). */
int engine_paused(const struct engine *e, const struct campaign *c);

/* Records a note (the engine's "why") and tells the observer. */
enum store_status engine_note(struct engine *e, const struct journey *j, const char *customer,
			      const char *step_id, enum note_action action, const char *reason,
			      const char *channel, const char *tmpl);
/* Evaluates COND over {"customer", "event", "journey"}; NULL is true. */
int engine_eval(struct engine *e, const struct cond *cond, json_t *customer, json_t *event,
		const struct journey *j, int64_t customer_id);
/* Enters the customer of EV into C unless re-entry rules say no (recorded). */
enum store_status engine_enter(struct engine *e, const struct campaign *c,
			       const struct store_event *ev, json_t *customer, json_t *event);

/* engine_time.c: the next instant after NOW when the clock in TZNAME shows MINUTE. */
int64_t engine_next_local_time(int64_t now_ms, const char *tzname, int minute);
/* When C's quiet hours end if NOW falls inside them for CUSTOMER, else -1. */
int64_t engine_quiet_until(const struct campaign *c, json_t *customer, int64_t now);

/* engine_trigger.c: the triggers that are not a plain event. */
enum store_status engine_schedule(struct engine *e, const struct campaign *c);
enum store_status engine_goals(struct engine *e, const struct store_event *ev);
enum store_status engine_push_timers(struct engine *e, const struct store_event *ev);
enum store_status engine_fire_timer(struct engine *e, const struct store_timer *t);
/* Recomputes a customer's lifecycle stage; a change enters stage_changed_to campaigns. */
enum store_status engine_stage_update(struct engine *e, int64_t customer_id);
/* The event types that count as purchases for stages. */
int engine_is_purchase(const char *type);
enum store_status engine_anniversary(struct engine *e, const struct campaign *c,
				     const struct store_schedule *sc, json_t *customer,
				     int64_t customer_id);
enum store_status engine_fan_out(struct engine *e, struct store_schedule *sc, int *handled);

#endif
