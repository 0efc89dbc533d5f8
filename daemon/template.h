/*
 * Message templates: a directory of Mustache files, one template a name with locale variants,
 * each with a subject, a text body and an optional HTML body; partials from the same
 * directory. Loaded and parsed once (at start and on reload), rendered many times.
 * The file layout is described in docs/templates.md.
 */
#ifndef NURTURED_TEMPLATE_H
#define NURTURED_TEMPLATE_H

#include <jansson.h>
#include <stddef.h>

#include "diag.h"
#include "mustache.h"

struct campaign;
struct template_set;
struct template;

struct template_output {
	char *subject; /* one line: rendered unescaped, surrounding white space trimmed */
	char *text;    /* rendered unescaped */
	char *html;    /* rendered HTML-escaped; NULL when the template has no HTML part */
};

/*
 * Loads every template in DIR. Problems (syntax errors, unknown partials, a variant without
 * a text body) go to D as "file:line:col: message"; the set is returned with the good
 * templates, NULL only when DIR cannot be read at all.
 */
struct template_set *template_set_load(const char *dir, struct diag *d);
/*
 * Like template_set_load, from FILES ({"NAME.PART.mustache": TEXT, ...}: a broadcast's frozen
 * content) instead of a directory; LABEL stands for the directory in messages.
 */
struct template_set *template_set_load_files(const char *label, json_t *files, struct diag *d);
void template_set_free(struct template_set *s);
/* How many template names (not variants) the set holds. */
size_t template_set_count(const struct template_set *s);

/*
 * The variant of NAME for LOCALE with fallback: "de-DE" -> "de" -> LOCALE_DEFAULT (the
 * campaign's) -> the variant without a locale. NULL when NAME has none of these.
 */
const struct template *template_find(const struct template_set *s, const char *name,
				     const char *locale, const char *locale_default);
/* The locale of the variant ("de"), or "" for the variant without one. */
const char *template_locale(const struct template *t);

/* Renders T over DATA. Returns 0, or -1 with ERR naming the file, line and column. */
int template_render(const struct template *t, json_t *data, struct template_output *out,
		    struct mustache_error *err);
void template_output_free(struct template_output *o);
/* Makes S one line in place: surrounding white space trimmed, each line break run one space. */
void template_subject_line(char *s);

/*
 * For `nurtured check` and the daemon's start: every send step of C for which NEEDS(channel,
 * ARG) is true (NEEDS NULL: every one) names a template that exists in S (at least its
 * fallback variant); problems go to D naming campaign and step.
 */
int template_set_check_campaign(const struct template_set *s, const struct campaign *c,
				int (*needs)(const char *channel, void *arg), void *arg,
				struct diag *d);

#endif
