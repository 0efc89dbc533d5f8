/*
 * nurturectl stats: issue 19's figures (the API's "measure" and "experiment"): per step and
 * variant, clicks, conversions and revenue with each rate's denominator; per arm of an
 * experiment, the conversion rate's 95 % interval and the test against the control.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ctl.h"

/* "12.5% of 80 recipients" */
static char *
ctl_rate(const json_t *r)
{
	if (!json_is_object(r))
		return ctl_strdup("-");
	return ctl_asprintf("%.1f%% of %lld %s",
			    100.0 * json_number_value(json_object_get(r, "value")),
			    (long long)json_integer_value(json_object_get(r, "of")),
			    json_string_value(json_object_get(r, "denominator")));
}

static char *
ctl_num(const json_t *o, const char *key)
{
	json_t *v = json_object_get(o, key);
	if (json_is_integer(v))
		return ctl_asprintf("%lld", (long long)json_integer_value(v));
	if (json_is_number(v))
		return ctl_asprintf("%.2f", json_number_value(v));
	return ctl_strdup("-");
}

static void
ctl_measure_row(struct table *t, const char *step, const char *variant, const json_t *o)
{
	char *cells[] = {ctl_strdup(step),
			 ctl_strdup(variant),
			 ctl_num(o, "recipients"),
			 ctl_num(o, "clicked"),
			 ctl_rate(json_object_get(o, "click_rate")),
			 ctl_num(o, "converted"),
			 ctl_rate(json_object_get(o, "conversion_rate")),
			 ctl_num(o, "revenue"),
			 ctl_num(o, "unsubscribes"),
			 ctl_num(o, "bounce"),
			 ctl_num(o, "complaint"),
			 ctl_num(o, "reply")};
	table_row(t, (const char *const *)cells);
	for (size_t i = 0; i < sizeof(cells) / sizeof(cells[0]); i++)
		free(cells[i]);
}

void
ctl_stats_measure(const json_t *s)
{
	static const char *const h[] = {"STEP",	      "VARIANT",   "RECIPIENTS", "CLICKED",
					"CLICK RATE", "CONVERTED", "CONV. RATE", "REVENUE",
					"UNSUBS",     "BOUNCES",   "COMPLAINTS", "REPLIES"};
	const json_t *m = json_object_get(s, "measure"), *x = json_object_get(s, "experiment");
	size_t i, k;
	json_t *st, *v;

	if (!json_is_object(m))
		return;
	printf("\nclicks, conversions, revenue (rates name their denominator)\n");
	struct table *t = table_new(12, h);
	ctl_measure_row(t, "(all)", "", m);
	json_array_foreach(json_object_get(m, "steps"), i, st)
	{
		const char *step = json_string_value(json_object_get(st, "step"));
		ctl_measure_row(t, step && step[0] ? step : "(none)", "", st);
		json_array_foreach(json_object_get(st, "variants"), k, v)
		    ctl_measure_row(t, "", json_string_value(json_object_get(v, "variant")), v);
	}
	table_print(t);
	table_free(t);
	char *rpr = ctl_rate(json_object_get(m, "revenue_per_recipient"));
	printf("revenue per recipient: %s\n", rpr);
	free(rpr);
	json_t *all = json_object_get(m, "all_campaigns");
	printf("all campaigns, each goal event once: %lld converted, revenue %.2f\n",
	       (long long)json_integer_value(json_object_get(all, "converted")),
	       json_number_value(json_object_get(all, "revenue")));
	static const char *const lh[] = {"URL", "CLICKS"};
	static const char *const lk[] = {"url", "clicks"};
	printf("\nlinks\n");
	if (json_array_size(json_object_get(m, "links")) == 0)
		puts("(none)");
	else {
		struct table *lt = table_new(2, lh);
		json_array_foreach(json_object_get(m, "links"), i, v) table_row_json(lt, v, lk);
		table_print(lt);
		table_free(lt);
	}
	if (!json_is_object(x))
		return;
	static const char *const eh[] = {"ARM",	       "ENTERED",   "SENT",
					 "CLICKED",    "CONVERTED", "REVENUE",
					 "CONV. RATE", "95% CI",    "VS CONTROL"};
	printf("\nexperiment (control: %s)\n", json_string_value(json_object_get(x, "control")));
	struct table *et = table_new(9, eh);
	json_array_foreach(json_object_get(x, "arms"), i, v)
	{
		const json_t *r = json_object_get(v, "conversion_rate"),
			     *ci = json_object_get(r, "ci95"),
			     *vs = json_object_get(v, "vs_control");
		char *cells[] = {
		    ctl_strdup(json_string_value(json_object_get(v, "arm"))),
		    ctl_num(v, "entered"),
		    ctl_num(v, "sent"),
		    ctl_num(v, "clicked"),
		    ctl_num(v, "converted"),
		    ctl_num(v, "revenue"),
		    ctl_rate(r),
		    ctl_asprintf("%.1f%% to %.1f%%", 100 * json_number_value(json_array_get(ci, 0)),
				 100 * json_number_value(json_array_get(ci, 1))),
		    json_is_object(vs)
			? ctl_asprintf("%+.1f points, p = %.3g (%s): %s",
				       100 * json_number_value(json_object_get(vs, "difference")),
				       json_number_value(json_object_get(vs, "p_value")),
				       json_string_value(json_object_get(vs, "test")),
				       json_string_value(json_object_get(vs, "verdict")))
			: ctl_strdup(json_is_true(json_object_get(v, "control")) ? "(control)"
										 : "-")};
		table_row(et, (const char *const *)cells);
		for (size_t c = 0; c < sizeof(cells) / sizeof(cells[0]); c++)
			free(cells[c]);
	}
	table_print(et);
	table_free(et);
}
