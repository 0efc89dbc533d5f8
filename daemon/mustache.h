/* Mustache templates rendered over Jansson data (spec v1 core, ~inheritance, ~dynamic-names; no
 * lambdas). Truthiness follows the spec's `!!data`: missing, null, false, 0, "" and [] are falsey.
 */
#ifndef NURTURED_MUSTACHE_H
#define NURTURED_MUSTACHE_H

#include <jansson.h>

/* Nested partial, parent and overridden-block expansions allowed while rendering. */
#define MUSTACHE_MAX_DEPTH 64
/* Sections, blocks and parents open at once within one template. */
#define MUSTACHE_MAX_NESTING 100
/* Rendered output larger than this fails instead of exhausting memory. */
#define MUSTACHE_MAX_OUTPUT (64u << 20)

struct mustache_error {
	char message[256];
	char file[128]; /* "" for the template itself, else the partial's name */
	int line;	/* 1-based position in `file`; 0 when not tied to a tag */
	int col;
};

struct mustache_tmpl;

/* A partial loader: returns malloc'd template text for NAME, or NULL when unknown. */
typedef char *(*mustache_partial_fn)(const char *name, void *arg);

enum mustache_escape { MUSTACHE_ESCAPE_HTML, MUSTACHE_ESCAPE_NONE };

enum mustache_flags {
	/* Fail on a partial/parent the loader does not know instead of rendering "". */
	MUSTACHE_STRICT_PARTIALS = 1 << 0,
};

/* Parses TEXT; NULL on syntax error with ERR (may be NULL) filled. */
struct mustache_tmpl *mustache_parse(const char *text, struct mustache_error *err);
void mustache_free(struct mustache_tmpl *t);

/* Renders with DATA as the root context; returns a malloc'd string, or NULL with ERR filled
 * (partial syntax error, depth limit, output limit). PARTIALS may be NULL. Unknown partials render
 * "". */
char *mustache_render(const struct mustache_tmpl *t, json_t *data, enum mustache_escape esc,
		      mustache_partial_fn partials, void *arg, struct mustache_error *err);
/* Same, with mustache_flags OR'ed into FLAGS. */
char *mustache_render_flags(const struct mustache_tmpl *t, json_t *data, enum mustache_escape esc,
			    unsigned flags, mustache_partial_fn partials, void *arg,
			    struct mustache_error *err);

/* A loader of parsed partials: NAME's template, owned by the loader and unchanged while renders
 * use it (parsed once when the templates are loaded), or NULL to ask the text loader. */
typedef const struct mustache_tmpl *(*mustache_parsed_fn)(const char *name, void *arg);
/* mustache_render_flags, asking PARSED first for each partial and parent: one parsed at load
 * serves every render instead of being parsed again in each. PARTIALS is the fallback. */
char *mustache_render_parsed(const struct mustache_tmpl *t, json_t *data, enum mustache_escape esc,
			     unsigned flags, mustache_parsed_fn parsed,
			     mustache_partial_fn partials, void *arg, struct mustache_error *err);

/* Calls CB for each partial and parent name referenced statically (dynamic names are skipped). */
void mustache_foreach_partial(const struct mustache_tmpl *t,
			      void (*cb)(const char *name, int line, int col, void *arg),
			      void *arg);
/* For a checker: loads and parses every statically referenced partial, recursively. Returns 0, or
 * -1 with ERR naming the first unknown partial (at the referencing tag) or partial syntax error. */
int mustache_check_partials(const struct mustache_tmpl *t, mustache_partial_fn partials, void *arg,
			    struct mustache_error *err);

#endif
