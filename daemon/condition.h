/*
 * Conditions: the small JSON language campaigns use in trigger filters, branches, waits and
 * exit rules, e.g. {"field": "customer.attributes.plan", "eq": "pro"}, combined with all, any
 * and not, plus history counts ({"count": {"event": "purchase", "within": "30d"}, "gte": 2}).
 * An operand may be the journey's own value instead of a literal: {"field":
 * "event.properties.order_id", "eq": {"journey": "key"}} holds for this journey's order only.
 * Compiled once when a campaign loads (every problem reported with its file:line:col), then
 * evaluated against a JSON context {"customer": ..., "event": ..., "journey": ...}.
 * docs/campaigns.md describes the language.
 */
#ifndef NURTURED_CONDITION_H
#define NURTURED_CONDITION_H

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

#include "diag.h"

struct cond;

/*
 * Counts events of TYPE in the last WITHIN_MS for the customer in ctx, optionally filtered by
 * WHERE (evaluated with event.* bound to each counted event). Returns -1 when it cannot count,
 * which makes the count condition false.
 */
typedef long (*cond_count_fn)(const char *type, int64_t within_ms, const struct cond *where,
			      void *arg);

struct cond_ctx {
	json_t *root;	     /* {"customer": {...}, "event": {...}, "journey": {...}}; borrowed */
	cond_count_fn count; /* NULL: every count condition is false */
	void *count_arg;
};

/* How deep all/any/not/count may nest: hostile files cannot exhaust the stack. */
#define COND_MAX_DEPTH 32

/* Compiles SPEC; NULL with every problem added to D at PATH (a jsonpos path, "" for the root). */
struct cond *cond_compile(json_t *spec, const char *path, struct diag *d);
/* Like cond_compile, with WHAT (e.g. "campaign 'x', step 'y'") put before every message. */
struct cond *cond_compile_in(json_t *spec, const char *path, const char *what, struct diag *d);
/*
 * Whether C compares with a journey reference ({"journey": "key"}, {"journey": "trigger.x"}):
 * WHAT "key" asks for the key only, NULL for any.
 */
int cond_uses_journey(const struct cond *c, const char *what);
/* Returns 1 when C holds in CTX, 0 otherwise; a NULL condition always holds. */
int cond_eval(const struct cond *c, const struct cond_ctx *ctx);
void cond_free(struct cond *c);

/* Follows the dotted PATH from ROOT (digits index arrays); borrowed, NULL when absent. */
json_t *cond_lookup(json_t *root, const char *path);
/*
 * Checks a dotted path as conditions take it: "customer.", "event." or "journey." followed by
 * non-empty segments. Returns NULL when fine, or a static reason.
 */
const char *cond_check_path(const char *path);

#endif
