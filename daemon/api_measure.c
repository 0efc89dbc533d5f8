/*
 * Issue 19's figures in /v1/campaigns/{id}/stats, built from the counters the store keeps in
 * the transactions that change them (measure_counts): no scan per request. Every rate names
 * its denominator; an experiment's arms come with a 95 % Wilson interval and a test against
 * the control, named, and say plainly when the sample is too small to tell.
 */
#include <stdlib.h>
#include <string.h>

#include "api.h"
#include "campaign.h"
#include "experiment.h"
#include "measure_stats.h"
#include "store.h"
#include "util.h"

/* Below either, a comparison is reported as too small to tell. */
#define MEASURE_MIN_ENTERED 100
#define MEASURE_MIN_CONVERSIONS 10

/* The figures a group of counters adds up to, each metric summed. */
static void
measure_add(json_t *o, const char *metric, double n)
{
	json_t *v = json_object_get(o, metric);
	json_object_set_new(o, metric, json_real((v ? json_number_value(v) : 0) + n));
}

static double
measure_get(json_t *o, const char *metric)
{
	return json_number_value(json_object_get(o, metric));
}

static json_t *
measure_rate(double num, double den, const char *denominator)
{
	return json_pack("{s:f,s:s,s:I}", "value", den > 0 ? num / den : 0.0, "denominator",
			 denominator, "of", (json_int_t)den);
}

/* The counts and the rates of a group; links {"url": clicks} become a sorted list. */
static json_t *
measure_finish(json_t *sum, json_t *links)
{
	static const char *const counts[] = {"clicked", "clicks",    "converted", "unsubscribes",
					     "bounce",	"complaint", "reply",	  "opens"};
	double sent = measure_get(sum, "sent");
	json_t *o = json_pack("{s:I}", "recipients", (json_int_t)sent);
	const char *k;
	json_t *v;

	for (size_t i = 0; i < NT_ARRAY_LEN(counts); i++)
		json_object_set_new(o, counts[i],
				    json_integer((json_int_t)measure_get(sum, counts[i])));
	json_object_set_new(o, "revenue", json_real(measure_get(sum, "revenue")));
	json_object_set_new(o, "click_rate",
			    measure_rate(measure_get(sum, "clicked"), sent, "recipients"));
	json_object_set_new(o, "conversion_rate",
			    measure_rate(measure_get(sum, "converted"), sent, "recipients"));
	json_object_set_new(o, "revenue_per_recipient",
			    measure_rate(measure_get(sum, "revenue"), sent, "recipients"));
	json_object_set_new(o, "unsubscribe_rate",
			    measure_rate(measure_get(sum, "unsubscribes"), sent, "recipients"));
	json_object_set_new(o, "bounce_rate",
			    measure_rate(measure_get(sum, "bounce"), sent, "recipients"));
	json_object_set_new(o, "complaint_rate",
			    measure_rate(measure_get(sum, "complaint"), sent, "recipients"));
	if (links != NULL) {
		json_t *list = json_array();
		json_object_foreach(links, k, v)
		    json_array_append_new(list, json_pack("{s:s,s:I}", "url", k, "clicks",
							  (json_int_t)json_number_value(v)));
		/* Most clicked first (a few dozen links: a simple insertion sort). */
		for (size_t i = 1; i < json_array_size(list); i++)
			for (size_t j = i; j > 0; j--) {
				json_t *a = json_array_get(list, j - 1),
				       *b = json_array_get(list, j);
				if (json_integer_value(json_object_get(a, "clicks")) >=
				    json_integer_value(json_object_get(b, "clicks")))
					break;
				json_incref(a);
				json_array_set(list, j - 1, b);
				json_array_set_new(list, j, a);
			}
		json_object_set_new(o, "links", list);
	}
	json_decref(sum);
	json_decref(links);
	return o;
}

static json_t *
measure_group(json_t *groups, const char *key)
{
	json_t *g = json_object_get(groups, key);
	if (g == NULL) {
		g = json_pack("{s:{},s:{}}", "sum", "links");
		json_object_set_new(groups, key, g);
	}
	return g;
}

static void
measure_count_row(json_t *g, const struct measure_row *r)
{
	if (strncmp(r->metric, "link:", 5) == 0)
		measure_add(json_object_get(g, "links"), r->metric + 5, r->n);
	else
		measure_add(json_object_get(g, "sum"), r->metric, r->n);
}

json_t *
api_measure_json(const struct campaign *c, const struct measure_row *rows, size_t n,
		 const struct measure_row *all, size_t n_all)
{
	json_t *steps = json_object(), *variants = json_object(),
	       *total = json_pack("{s:{},s:{}}", "sum", "links");
	json_t *out, *list = json_array(), *across = json_object();
	const char *k;
	json_t *g;

	for (size_t i = 0; i < n; i++) {
		const struct measure_row *r = &rows[i];
		if (strcmp(r->step, "*") == 0)
			continue; /* the arms' totals: the experiment's */
		if (strcmp(r->metric, "passed") == 0)
			continue; /* journeys per step: api_stats.c's */
		measure_count_row(total, r);
		measure_count_row(measure_group(steps, r->step), r);
		if (r->variant[0]) {
			char *key = xasprintf("%s\n%s", r->step, r->variant);
			measure_count_row(measure_group(variants, key), r);
			free(key);
		}
	}
	/* Steps in the campaign's order, then any others (older versions, "" for no message). */
	size_t n_steps = c ? c->n_steps : 0;
	for (size_t i = 0; i <= n_steps; i++) {
		json_object_foreach(steps, k, g)
		{
			int idx = c ? campaign_step_index(c, k) : -1;
			if (i < n_steps ? idx != (int)i : idx >= 0)
				continue;
			json_t *o = measure_finish(json_incref(json_object_get(g, "sum")),
						   json_incref(json_object_get(g, "links")));
			json_object_set_new(o, "step", json_string(k));
			json_t *vl = json_array();
			const char *vk;
			json_t *vg;
			json_object_foreach(variants, vk, vg)
			{
				size_t len = strlen(k);
				if (strncmp(vk, k, len) != 0 || vk[len] != '\n')
					continue;
				json_t *vo =
				    measure_finish(json_incref(json_object_get(vg, "sum")),
						   json_incref(json_object_get(vg, "links")));
				json_object_set_new(vo, "variant", json_string(vk + len + 1));
				json_array_append_new(vl, vo);
			}
			if (json_array_size(vl) > 0)
				json_object_set_new(o, "variants", vl);
			else
				json_decref(vl);
			json_array_append_new(list, o);
		}
	}
	out = measure_finish(json_incref(json_object_get(total, "sum")),
			     json_incref(json_object_get(total, "links")));
	json_object_set_new(out, "steps", list);
	for (size_t i = 0; i < n_all; i++)
		measure_add(across, all[i].metric, all[i].n);
	json_object_set_new(
	    out, "all_campaigns",
	    json_pack("{s:I,s:f,s:s}", "converted", (json_int_t)measure_get(across, "converted"),
		      "revenue", measure_get(across, "revenue"), "counting",
		      "each goal event once across campaigns, with the largest revenue any "
		      "campaign credited it with; each campaign's own figures credit it too"));
	json_object_set_new(
	    out, "definitions",
	    json_pack("{s:s,s:s,s:s,s:s}", "recipients",
		      "messages queued to customers by the step (skips excluded)", "clicked",
		      "messages with at least one tracked click", "converted",
		      "goals reached, each credited to one message: the last of the "
		      "campaign clicked within the goal's window, else the last sent",
		      "unsubscribes",
		      "unsubscribes by link counted against the customer's last "
		      "marketing mail"));
	json_decref(steps);
	json_decref(variants);
	json_decref(total);
	json_decref(across);
	return out;
}

/* The control arm: the holdout, else the first variant of each step with variants. */
static char *
measure_control(const struct campaign *c, json_t *arms)
{
	if (json_object_get(arms, "holdout") != NULL || (c && c->holdout_pct > 0))
		return xstrdup("holdout");
	if (c == NULL)
		return NULL;
	size_t with = 0;
	for (size_t i = 0; i < c->n_steps; i++)
		with += c->steps[i].n_variants > 0;
	char *arm = xstrdup("");
	for (size_t i = 0; i < c->n_steps; i++) {
		if (c->steps[i].n_variants == 0)
			continue;
		char *next =
		    xasprintf("%s%s%s%s%s", arm, arm[0] ? "+" : "", with > 1 ? c->steps[i].id : "",
			      with > 1 ? ":" : "", c->steps[i].variants[0].name);
		free(arm);
		arm = next;
	}
	return arm;
}

json_t *
api_experiment_json(const struct campaign *c, const struct measure_row *rows, size_t n)
{
	json_t *arms = json_object(), *list = json_array(), *out;
	const char *k;
	json_t *a;

	for (size_t i = 0; i < n; i++)
		if (strcmp(rows[i].step, "*") == 0 && rows[i].variant[0])
			measure_add(json_object_get(measure_group(arms, rows[i].variant), "sum"),
				    rows[i].metric, rows[i].n);
	if (json_object_size(arms) == 0 && (c == NULL || !experiment_active(c))) {
		json_decref(arms);
		json_decref(list);
		return json_null();
	}
	char *control = measure_control(c, arms);
	json_t *ctl = control ? json_object_get(json_object_get(arms, control), "sum") : NULL;
	long ctl_n = (long)measure_get(ctl, "entered"), ctl_x = (long)measure_get(ctl, "converted");
	json_object_foreach(arms, k, a)
	{
		json_t *s = json_object_get(a, "sum");
		long en = (long)measure_get(s, "entered"), cv = (long)measure_get(s, "converted");
		double lo, hi;
		measure_wilson(cv, en, MEASURE_Z95, &lo, &hi);
		json_t *rate = measure_rate(cv, en, "entered");
		json_object_set_new(rate, "ci95", json_pack("[f,f]", lo, hi));
		json_object_set_new(rate, "interval", json_string("Wilson score"));
		json_t *o = json_pack(
		    "{s:s,s:I,s:I,s:I,s:I,s:f,s:I,s:o,s:o}", "arm", k, "entered", (json_int_t)en,
		    "sent", (json_int_t)measure_get(s, "sent"), "clicked",
		    (json_int_t)measure_get(s, "clickers"), "converted", (json_int_t)cv, "revenue",
		    measure_get(s, "revenue"), "unsubscribes",
		    (json_int_t)measure_get(s, "unsubscribes"), "conversion_rate", rate,
		    "revenue_per_entered", measure_rate(measure_get(s, "revenue"), en, "entered"));
		json_object_set_new(o, "control", json_boolean(control && strcmp(k, control) == 0));
		if (control != NULL && strcmp(k, control) != 0 && ctl != NULL) {
			struct measure_cmp m;
			measure_compare(cv, en, ctl_x, ctl_n, &m);
			int small = en < MEASURE_MIN_ENTERED || ctl_n < MEASURE_MIN_ENTERED ||
				    cv + ctl_x < MEASURE_MIN_CONVERSIONS;
			json_object_set_new(
			    o, "vs_control",
			    json_pack(
				"{s:s,s:f,s:f,s:s,s:b,s:s}", "control", control, "difference",
				m.diff, "p_value", m.p, "test", m.test, "too_small", small,
				"verdict",
				small ? "sample too small to tell"
				: m.p < 0.05
				    ? "the difference is significant at the 5 % level "
				      "(two-sided)"
				    : "no significant difference at the 5 % level (two-sided)"));
		}
		json_array_append_new(list, o);
	}
	out = json_pack("{s:s?,s:f,s:s?,s:o}", "version",
			c && c->exp_version[0] ? c->exp_version : NULL, "holdout",
			c ? c->holdout_pct : 0.0, "control", control, "arms", list);
	free(control);
	json_decref(arms);
	return out;
}
