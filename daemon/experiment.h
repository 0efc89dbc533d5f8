/*
 * Experiments (issue 19): a send step's "variants" (templates with weights) and a campaign's
 * "holdout" (a percentage of the customers who enter and get nothing from it, to measure the
 * campaign's uplift).
 *
 * Assignment is deterministic: a keyed hash (HMAC-SHA256, keyed by the campaign and its
 * experiment version) of the customer's id, read as a number in [0, 1) and laid over the
 * weights. It needs no state to decide, so `nurtured simulate` shows what the daemon does; the
 * engine records it with the journey anyway (table assignments), and a send reads the record,
 * so that a reload that changes the weights (a new experiment version: a hash of holdout,
 * names and weights only) never moves anyone already assigned.
 */
#ifndef NURTURED_EXPERIMENT_H
#define NURTURED_EXPERIMENT_H

#include <jansson.h>
#include <stddef.h>

struct campaign;
struct campaign_loader;
struct step;

/* One arm of a send step. */
struct variant {
	char *name;
	double weight;
	char *template; /* NULL: the step's own */
	char *subject;	/* a Mustache subject line overriding the template's, or NULL */
	struct mustache_tmpl *subject_tmpl; /* SUBJECT parsed at load */
};

/* The most variants one step may have. */
#define EXPERIMENT_MAX_VARIANTS 26

/* Checks "variants" of a send step at PATH into ST (errors through L). */
void experiment_check_variants(struct campaign_loader *L, struct step *st, const char *what,
			       const char *path, json_t *v);
/* Checks the campaign's "holdout" (a percentage, 0 to 100). */
void experiment_check_holdout(struct campaign_loader *L, json_t *v);
/* Sets C's experiment version (after a successful load); "" when C has no experiment. */
void experiment_version(struct campaign *c);
void experiment_step_clear(struct step *st);

/* Whether C runs an experiment (a holdout or a step with variants). */
int experiment_active(const struct campaign *c);

/*
 * The assignment of CUSTOMER (external id) in C: its arm (malloc'd: "holdout", else the
 * variants of its steps "a", or "step1:a+step2:b" when several steps have variants, or
 * "treatment" with a holdout and no variants) and VARIANTS {"step": "name"} (new reference).
 */
char *experiment_assign(const struct campaign *c, const char *customer, json_t **variants);

/* The variant named NAME of step ST, or NULL. */
const struct variant *experiment_variant(const struct step *st, const char *name);

/* The number in [0, 1) that the keyed hash gives CUSTOMER for KIND ("holdout", a step id). */
double experiment_unit(const struct campaign *c, const char *kind, const char *customer);

#endif
