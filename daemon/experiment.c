#include "experiment.h"

#include <glib.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "campaign_int.h"
#include "crypto.h"
#include "mustache.h"
#include "util.h"

void
experiment_step_clear(struct step *st)
{
	for (size_t i = 0; i < st->n_variants; i++) {
		free(st->variants[i].name);
		free(st->variants[i].template);
		free(st->variants[i].subject);
		mustache_free(st->variants[i].subject_tmpl);
	}
	free(st->variants);
	st->variants = NULL;
	st->n_variants = 0;
}

/* A variant's name: 1 to 32 of a-z 0-9 _ - (it is shown in results and kept per journey). */
static int
experiment_valid_name(const char *s)
{
	size_t n = strlen(s);
	if (n == 0 || n > 32 || strcmp(s, "holdout") == 0 || strcmp(s, "treatment") == 0)
		return 0;
	for (const char *p = s; *p; p++)
		if (!((*p >= 'a' && *p <= 'z') || (*p >= '0' && *p <= '9') || *p == '_' ||
		      *p == '-'))
			return 0;
	return 1;
}

/* A variant's subject: one line of 1 to 998 bytes, a Mustache template (parsed once here). */
static void
experiment_check_subject(struct campaign_loader *L, struct variant *va, const char *what,
			 const char *path, json_t *x)
{
	struct mustache_error err = {0};
	const char *s = json_string_value(x);

	if (!json_is_string(x) || s[0] == '\0' || strlen(s) > 998 || strpbrk(s, "\r\n")) {
		campaign_error(L, what, path,
			       "'subject' must be one line of 1 to 998 characters (a Mustache "
			       "template), not %s",
			       json_is_string(x) ? "that" : diag_type_name(x));
		return;
	}
	if ((va->subject_tmpl = mustache_parse(s, &err)) == NULL) {
		campaign_error(L, what, path, "'subject' is not a valid template: column %d: %s",
			       err.col, err.message);
		return;
	}
	va->subject = xstrdup(s);
}

/* {"name": N, "weight": W, "template": T?, "subject": S?} */
static void
experiment_check_variant(struct campaign_loader *L, struct variant *va, const char *what,
			 const char *path, json_t *v)
{
	const char *key;
	json_t *x;

	va->weight = -1;
	if (!json_is_object(v)) {
		campaign_error(L, what, path,
			       "a variant must be an object {\"name\", \"weight\", \"template\", "
			       "\"subject\"}, not %s",
			       diag_type_name(v));
		return;
	}
	json_object_foreach(v, key, x)
	{
		char *sub = campaign_path(path, key);
		if (strcmp(key, "name") == 0)
			campaign_check_text(L, what, sub, key, x, experiment_valid_name,
					    "a variant name (1 to 32 of a-z 0-9 _ -, not "
					    "\"holdout\" or \"treatment\")",
					    &va->name);
		else if (strcmp(key, "weight") == 0) {
			if (!json_is_number(x) || json_number_value(x) < 0 ||
			    !isfinite(json_number_value(x)))
				campaign_error(L, what, sub,
					       "'weight' must be a number of at least 0");
			else
				va->weight = json_number_value(x);
		} else if (strcmp(key, "template") == 0) {
			if (campaign_check_text(L, what, sub, key, x, campaign_valid_template,
						"a template name (letters, digits, _ - .)",
						&va->template) == 0 &&
			    L->ctx->template_exists != NULL &&
			    !L->ctx->template_exists(va->template, L->ctx->arg))
				campaign_error(L, what, sub, "unknown template '%s'", va->template);
		} else if (strcmp(key, "subject") == 0)
			experiment_check_subject(L, va, what, sub, x);
		else
			campaign_error(L, what, sub,
				       "unknown key '%s' in a variant (expected name, weight, "
				       "template, subject)",
				       key);
		free(sub);
	}
	if (va->name == NULL && json_object_get(v, "name") == NULL)
		campaign_error(L, what, path, "a variant needs a 'name'");
	if (json_object_get(v, "weight") == NULL)
		campaign_error(L, what, path, "a variant needs a 'weight'");
}

void
experiment_check_variants(struct campaign_loader *L, struct step *st, const char *what,
			  const char *path, json_t *v)
{
	size_t i, n = json_array_size(v);
	json_t *x;
	double total = 0;

	if (!json_is_array(v) || n < 2 || n > EXPERIMENT_MAX_VARIANTS) {
		campaign_error(L, what, path, "'variants' must be an array of 2 to %d variants",
			       EXPERIMENT_MAX_VARIANTS);
		return;
	}
	experiment_step_clear(st);
	st->variants = xcalloc(n, sizeof(*st->variants));
	st->n_variants = n;
	json_array_foreach(v, i, x)
	{
		char *sub = xasprintf("%s[%zu]", path, i);
		experiment_check_variant(L, &st->variants[i], what, sub, x);
		if (st->variants[i].weight > 0)
			total += st->variants[i].weight;
		for (size_t k = 0; k < i && st->variants[i].name; k++)
			if (st->variants[k].name &&
			    strcmp(st->variants[k].name, st->variants[i].name) == 0)
				campaign_error(L, what, sub, "duplicate variant name '%s'",
					       st->variants[i].name);
		free(sub);
	}
	if (total <= 0)
		campaign_error(L, what, path, "the variants' weights must not all be 0");
}

void
experiment_check_holdout(struct campaign_loader *L, json_t *v)
{
	if (!json_is_number(v) || json_number_value(v) < 0 || json_number_value(v) >= 100)
		campaign_error(L, L->what, "holdout",
			       "'holdout' must be a percentage from 0 to below 100, not %s",
			       json_is_number(v) ? "that" : diag_type_name(v));
	else
		L->c->holdout_pct = json_number_value(v);
}

int
experiment_active(const struct campaign *c)
{
	if (c->holdout_pct > 0)
		return 1;
	for (size_t i = 0; i < c->n_steps; i++)
		if (c->steps[i].n_variants > 0)
			return 1;
	return 0;
}

/* The experiment's version: what decides assignments (holdout, names, weights), hashed. */
void
experiment_version(struct campaign *c)
{
	json_t *doc;
	char *text, hex[65];

	c->exp_version[0] = '\0';
	if (!experiment_active(c))
		return;
	doc = json_pack("{s:f,s:{}}", "holdout", c->holdout_pct, "steps");
	for (size_t i = 0; i < c->n_steps; i++) {
		json_t *arms = json_array();
		for (size_t k = 0; k < c->steps[i].n_variants; k++)
			json_array_append_new(arms, json_pack("[s,f]", c->steps[i].variants[k].name,
							      c->steps[i].variants[k].weight));
		if (c->steps[i].n_variants > 0)
			json_object_set_new(json_object_get(doc, "steps"), c->steps[i].id, arms);
		else
			json_decref(arms);
	}
	text = json_dumps(doc, JSON_SORT_KEYS | JSON_COMPACT);
	crypto_sha256_hex(text, strlen(text), hex);
	memcpy(c->exp_version, hex, 16);
	c->exp_version[16] = '\0';
	free(text);
	json_decref(doc);
}

double
experiment_unit(const struct campaign *c, const char *kind, const char *customer)
{
	char *key = xasprintf("nurtured-experiment:%s:%s:%s", c->id, c->exp_version, kind);
	char hex[65];
	uint64_t x = 0;

	crypto_hmac_hex(key, customer, strlen(customer), hex);
	for (int i = 0; i < 13; i++) /* 52 bits: exact in a double */
		x = x << 4 | (uint64_t)g_ascii_xdigit_value(hex[i]);
	free(key);
	return (double)x / (double)(1ULL << 52);
}

const struct variant *
experiment_variant(const struct step *st, const char *name)
{
	for (size_t i = 0; name != NULL && i < st->n_variants; i++)
		if (strcmp(st->variants[i].name, name) == 0)
			return &st->variants[i];
	return NULL;
}

/* The variant U in [0, 1) falls on, laid over ST's weights in their order. */
static const struct variant *
experiment_pick(const struct step *st, double u)
{
	double total = 0, at = 0;
	for (size_t i = 0; i < st->n_variants; i++)
		total += st->variants[i].weight;
	for (size_t i = 0; i < st->n_variants; i++) {
		at += st->variants[i].weight;
		if (st->variants[i].weight > 0 && u * total < at)
			return &st->variants[i];
	}
	for (size_t i = st->n_variants; i-- > 0;) /* rounding at the very top */
		if (st->variants[i].weight > 0)
			return &st->variants[i];
	return &st->variants[0];
}

char *
experiment_assign(const struct campaign *c, const char *customer, json_t **variants)
{
	GString *arm = g_string_new(NULL);
	size_t with = 0;

	*variants = json_object();
	if (c->holdout_pct > 0 &&
	    experiment_unit(c, "holdout", customer) * 100.0 < c->holdout_pct) {
		g_string_free(arm, TRUE);
		return xstrdup("holdout");
	}
	for (size_t i = 0; i < c->n_steps; i++)
		with += c->steps[i].n_variants > 0;
	for (size_t i = 0; i < c->n_steps; i++) {
		const struct step *st = &c->steps[i];
		if (st->n_variants == 0)
			continue;
		const struct variant *v = experiment_pick(st, experiment_unit(c, st->id, customer));
		json_object_set_new(*variants, st->id, json_string(v->name));
		if (arm->len > 0)
			g_string_append_c(arm, '+');
		if (with > 1)
			g_string_append_printf(arm, "%s:", st->id);
		g_string_append(arm, v->name);
	}
	if (arm->len == 0)
		g_string_assign(arm, "treatment");
	char *out = xstrdup(arm->str);
	g_string_free(arm, TRUE);
	return out;
}
