/*
 * Campaigns: one JSON file each (docs/campaigns.md, campaigns/schema.json), checked completely
 * when loaded: every problem is reported as file:line:col naming the campaign and step, and a
 * campaign with any problem is not loaded at all. What loads is read-only for the engine: step
 * targets are resolved to indexes, durations to milliseconds, conditions compiled.
 */
#ifndef NURTURED_CAMPAIGN_H
#define NURTURED_CAMPAIGN_H

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

#include "condition.h"
#include "diag.h"

struct cron_expr;
struct variant;

enum trigger_kind {
	TRIGGER_EVENT,
	TRIGGER_INACTIVITY,
	TRIGGER_CRON,
	TRIGGER_ANNIVERSARY,
	TRIGGER_STAGE
};
enum step_kind { STEP_SEND, STEP_WAIT, STEP_BRANCH, STEP_UPDATE, STEP_EXIT };
enum wait_kind { WAIT_DURATION, WAIT_UNTIL, WAIT_EVENT };
enum campaign_status { CAMPAIGN_ACTIVE, CAMPAIGN_PAUSED, CAMPAIGN_DRAFT };
enum reentry_kind { REENTRY_NEVER, REENTRY_ALWAYS, REENTRY_AFTER };

/* Only the fields of its kind are set; the others are NULL or 0. */
struct trigger {
	enum trigger_kind kind;
	char *event;	    /* event */
	struct cond *where; /* event: filter; cron: audience; NULL = everyone */
	char **of;	    /* inactivity: the event types that count as activity */
	size_t n_of;
	int64_t inactive_ms;
	struct cron_expr *cron; /* cron */
	char *timezone;		/* cron: the trigger's zone, defaulted to timezone_default */
	char *anniversary_of;	/* anniversary: "customer.birthday" or "first_purchase" */
	int at_minute;		/* minutes after local midnight */
	int64_t offset_ms;	/* may be negative: "-1d" is the day before */
	char *stage;		/* stage */
	char *segment;		/* cron: a saved segment's id instead of an audience (issue 17) */
};

/* Step targets are indexes into campaign.steps, -1 meaning "the journey ends". */
struct step {
	char *id;
	enum step_kind kind;
	int next;		  /* the step's "next", else the following step, else -1 */
	char *channel, *template; /* send */
	struct variant *variants; /* send: its experiment's arms (issue 19), or NULL */
	size_t n_variants;
	enum wait_kind wait; /* wait */
	int64_t duration_ms;
	int until_minute;
	char *event;
	struct cond *where;
	int64_t timeout_ms;
	int on_event, on_timeout;
	struct cond *cond; /* branch */
	int then_step, else_step;
	json_t *set; /* update: each may be NULL */
	json_t *tags_add, *tags_remove;
	char *exit_reason; /* exit: NULL for "exit": true */
};

struct exit_rule {
	char *event;
	struct cond *where; /* NULL = any event of the type */
};

struct campaign {
	char *id, *name, *file;
	enum campaign_status status;
	char *topic;
	int transactional;
	int track_clicks; /* rewrite links in HTML parts (issue 19): default !transactional */
	int track_opens;  /* an open pixel (issue 19): off unless asked for, opens are unreliable */
	int track_clicks_text; /* the text part's links too (issue 19): off by default */
	char *locale_default, *timezone_default;
	int64_t stale_after_ms;
	int on_cap_skip;
	struct trigger trigger;
	struct step *steps;
	size_t n_steps;
	struct exit_rule *exit_on;
	size_t n_exit_on;
	enum reentry_kind reentry;
	int64_t reentry_after_ms;
	char *key;	  /* dotted path, or NULL */
	char *goal_event; /* or NULL */
	int64_t goal_within_ms;
	char *reply_to;	  /* "reply_to" (issue 16): the VERP base of its mails' Reply-To, or NULL */
	int reply_to_set; /* ... set in the file: with reply_to NULL, false (none) */
	char *goal_value; /* the revenue: a dotted path in the goal event, or NULL (issue 19) */
	int has_quiet_hours;
	int quiet_from, quiet_to; /* minutes after midnight; from > to wraps midnight */
	double holdout_pct;	  /* customers who enter and get nothing (issue 19), 0 to 100 */
	char exp_version[17];	  /* the experiment's version, "" without one (experiment.h) */
	/* First 16 hex chars of SHA-256 over the canonical JSON (sorted keys, compact). */
	char version[17];
};

struct campaign_ctx {
	json_t *channels; /* config "channels" object: names that exist; NULL = don't check */
	int (*template_exists)(const char *name, void *arg); /* NULL = don't check */
	void *arg;
};

/* The most steps one campaign may have. */
#define CAMPAIGN_MAX_STEPS 1000

/*
 * Loads and checks FILE. Returns the campaign, or NULL with every problem added to D (messages
 * start with FILE; D's file and positions are restored before returning).
 */
struct campaign *campaign_load_file(const char *file, const struct campaign_ctx *ctx,
				    struct diag *d);
/* The index of the step named ID, or -1. */
int campaign_step_index(const struct campaign *c, const char *id);
void campaign_free(struct campaign *c);

struct campaign_set {
	struct campaign **v;
	size_t n;
};

/*
 * Loads every *.json in DIR, sorted by name, skipping hidden files and "schema.json" (the
 * editors' JSON Schema lives next to the campaigns). Duplicate ids are errors naming both files.
 * Returns NULL when any file has a problem (all of them are in D).
 */
/* A campaign kept as text (an older version from the store), named NAME in diagnostics. */
struct campaign *campaign_load_text(const char *name, const char *text,
				    const struct campaign_ctx *ctx, struct diag *d);
struct campaign_set *campaign_load_dir(const char *dir, const struct campaign_ctx *ctx,
				       struct diag *d);
/* The campaign with ID, or NULL. */
const struct campaign *campaign_set_find(const struct campaign_set *s, const char *id);
void campaign_set_free(struct campaign_set *s);

#endif
