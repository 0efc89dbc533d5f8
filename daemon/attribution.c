#include "attribution.h"

#include <jansson.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "campaign.h"
#include "condition.h"

double
attribution_revenue(const struct campaign *c, const struct store_event *ev)
{
	json_t *v;
	double x;

	if (c->goal_value == NULL || ev->properties == NULL)
		return 0;
	/* The path is "properties.…": look it up from the event's properties. */
	v = cond_lookup(ev->properties, c->goal_value + strlen("properties."));
	if (json_is_number(v))
		x = json_number_value(v);
	else if (json_is_string(v)) { /* "49.90" as some shops send it */
		char *end = NULL;
		x = strtod(json_string_value(v), &end);
		if (end == json_string_value(v) || *end != '\0')
			x = 0;
	} else
		x = 0;
	return isfinite(x) ? x : 0;
}

enum store_status
attribution_credit(struct store *s, const struct campaign *c, const struct store_event *ev,
		   int64_t journey_id, const char *variant, int64_t now_ms)
{
	struct conversion cv = {.campaign_id = c->id,
				.variant = variant ? variant : "",
				.journey_id = journey_id,
				.customer_id = ev->customer_id,
				.event_seq = ev->seq,
				.revenue = attribution_revenue(c, ev),
				.at_ms = now_ms,
				.since_ms = now_ms - c->goal_within_ms};
	return store_conversion_credit(s, &cv);
}
