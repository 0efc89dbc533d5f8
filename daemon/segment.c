/* Segments: compiling, evaluating and scanning saved audiences (segment.h). */
#include "segment.h"
#include "store_json.h"

#include <stdlib.h>
#include <string.h>

#include "condition.h"
#include "diag.h"
#include "store_broadcast.h"
#include "timefmt.h"
#include "util.h"

/* Customers read per query of a scan. */
#define SEGMENT_SCAN_BATCH 1000
/* Events a count with a "where" looks at, as the engine's counts. */
#define SEGMENT_COUNT_SCAN 10000

struct cond *
segment_compile(json_t *spec, const char *field, char **err)
{
	struct diag d;
	struct cond *c;

	*err = NULL;
	if (!json_is_object(spec)) {
		*err = xasprintf("'%s' must be a condition object", field);
		return NULL;
	}
	diag_init(&d, field, NULL);
	c = cond_compile(spec, "", &d);
	if (c == NULL || d.n > 0) {
		*err = xstrdup(d.n > 0 ? d.msgs[0] : "not a condition");
		cond_free(c);
		c = NULL;
	} else if (cond_uses_journey(c, NULL)) {
		*err = xasprintf("'%s' may not refer to a journey", field);
		cond_free(c);
		c = NULL;
	}
	diag_free(&d);
	return c;
}

struct cond *
segment_compile_text(const char *text)
{
	json_t *spec = json_loads(text, 0, NULL);
	char *err = NULL;
	struct cond *c = spec ? segment_compile(spec, "condition", &err) : NULL;
	free(err);
	json_decref(spec);
	return c;
}

enum store_status
segment_load(struct store *s, const char *id, struct cond **out)
{
	struct segment_row row;
	enum store_status rc = store_segment_get(s, id, &row);

	*out = NULL;
	if (rc == STORE_NOTFOUND)
		return STORE_OK;
	if (rc == STORE_OK)
		*out = segment_compile_text(row.condition);
	segment_row_clear(&row);
	return rc;
}

struct segment_count_arg {
	struct store *s;
	int64_t customer_id;
	json_t *customer;
	int64_t now_ms;
};

/* History counts, as the engine counts them (engine_count), on the store given. */
static long
segment_count(const char *type, int64_t within_ms, const struct cond *where, void *arg)
{
	struct segment_count_arg *a = arg;
	int64_t since = a->now_ms - within_ms;
	struct store_event *evs = NULL;
	size_t n = 0;
	long count = 0;

	if (where == NULL)
		return store_events_count(a->s, a->customer_id, type, since);
	if (store_events_of(a->s, a->customer_id, type, since, SEGMENT_COUNT_SCAN, &evs, &n) !=
	    STORE_OK)
		return -1;
	for (size_t i = 0; i < n; i++) {
		char when[40];
		timefmt_format_utc(evs[i].time_ms, when, sizeof(when));
		json_t *root = json_pack("{s:O,s:{s:s,s:s,s:O}}", "customer", a->customer, "event",
					 "type", evs[i].type, "time", when, "properties",
					 evs[i].properties ? evs[i].properties : json_null());
		struct cond_ctx ctx = {.root = root};
		count += cond_eval(where, &ctx);
		json_decref(root);
	}
	store_events_free(evs, n);
	return count;
}

int
segment_eval(struct store *s, const struct cond *cond, json_t *customer, int64_t customer_id,
	     int64_t now_ms)
{
	struct segment_count_arg a = {s, customer_id, customer, now_ms};
	json_t *root;
	int v;

	if (cond == NULL)
		return 1;
	root = json_pack("{s:O,s:n}", "customer", customer, "event");
	struct cond_ctx ctx = {.root = root, .count = segment_count, .count_arg = &a};
	v = cond_eval(cond, &ctx);
	json_decref(root);
	return v;
}

int
segment_subscribed(json_t *customer, const char *topic)
{
	json_t *consent = json_object_get(customer, "consent");
	const char *state = json_string_value(json_object_get(consent, topic));
	const char *all = json_string_value(json_object_get(consent, "*"));
	return state != NULL && strcmp(state, "subscribed") == 0 &&
	       !(all != NULL && strcmp(all, "unsubscribed") == 0);
}

enum store_status
segment_scan(struct store *s, const struct cond *cond, const char *topic, int sample, long stop_at,
	     int64_t now_ms, struct segment_scan *out)
{
	int64_t after = 0, *ids = NULL;
	size_t n = 0;
	enum store_status rc;

	memset(out, 0, sizeof(*out));
	out->sample = json_array();
	do {
		if ((rc = store_customers_after(s, after, SEGMENT_SCAN_BATCH, &ids, &n)) !=
		    STORE_OK)
			return rc;
		for (size_t i = 0; i < n && rc == STORE_OK; i++) {
			json_t *customer = NULL;
			after = ids[i];
			if ((rc = store_customer_context(s, ids[i], &customer)) != STORE_OK)
				break;
			if (segment_eval(s, cond, customer, ids[i], now_ms)) {
				out->matched++;
				if (topic != NULL && segment_subscribed(customer, topic))
					out->subscribed++;
				if ((long)json_array_size(out->sample) < sample)
					json_array_append(out->sample,
							  json_object_get(customer, "id"));
			}
			json_decref(customer);
			if (stop_at > 0 && (topic ? out->subscribed : out->matched) >= stop_at)
				n = 0; /* found enough */
		}
		free(ids);
		ids = NULL;
	} while (rc == STORE_OK && n == SEGMENT_SCAN_BATCH);
	return rc;
}

void
segment_scan_clear(struct segment_scan *r)
{
	json_decref(r->sample);
	memset(r, 0, sizeof(*r));
}
