#include "metrics.h"

#include <glib.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util.h"

static const struct {
	const char *name, *labels, *help;
} metrics_counter_info[M_COUNTER_COUNT] = {
    [M_EVENTS_ACCEPTED] = {"nurtured_events_accepted_total", "", "Events durably stored."},
    [M_EVENTS_DUPLICATE] = {"nurtured_events_duplicate_total", "",
			    "Events answered as duplicates of a stored one."},
    [M_EVENTS_REJECTED] = {"nurtured_events_rejected_total", "",
			   "Events refused (invalid, conflicting, or store unavailable)."},
    [M_CUSTOMERS_UPSERTED] = {"nurtured_customers_upserted_total", "",
			      "Customer profiles created or updated through the API."},
    [M_HTTP_2XX] = {"nurtured_http_responses_total", "{class=\"2xx\"}", "HTTP responses."},
    [M_HTTP_4XX] = {"nurtured_http_responses_total", "{class=\"4xx\"}", NULL},
    [M_HTTP_5XX] = {"nurtured_http_responses_total", "{class=\"5xx\"}", NULL},
    [M_COMMITS] = {"nurtured_store_commits_total", "", "Store transactions committed."},
    [M_COMMIT_FAILURES] = {"nurtured_store_commit_failures_total", "",
			   "Store transactions that failed and were rolled back."},
    [M_JOBS_TOGETHER] =
	{"nurtured_store_jobs_together_total", "",
	 "Requests stored together with others in one go (events: one round trip)."},
    [M_FENCING_REFUSALS] = {"nurtured_fencing_refusals_total", "",
			    "Commits refused because this node no longer held a lease (issue 21)."},
};

static const double metrics_bounds[] = {0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025,
					0.05,	0.1,   0.25,   0.5,   1,    2.5};
#define NBOUNDS (sizeof(metrics_bounds) / sizeof(metrics_bounds[0]))

static const struct {
	const char *name, *help;
} metrics_hist_info[M_HIST_COUNT] = {
    [M_HIST_REQUEST] = {"nurtured_http_request_duration_seconds",
			"Time from a request's arrival to its response."},
    [M_HIST_COMMIT] = {"nurtured_store_commit_duration_seconds",
		       "Time to commit one group of store jobs (fsync included)."},
};

struct metrics_hist {
	atomic_uint_least64_t buckets[NBOUNDS + 1];
	atomic_uint_least64_t count;
	atomic_uint_least64_t sum_us;
};

struct metrics_gauge {
	char *name, *help;
	metrics_gauge_fn fn;
	void *arg;
};

static const struct {
	const char *name, *help;
} metrics_labelled_info[] = {
    {M_CAMPAIGN_ENTERED, "Journeys entered, per campaign."},
    {M_CAMPAIGN_MESSAGES, "Messages the engine queued or skipped, per campaign."},
    {M_CHANNEL_DELIVERIES, "Delivery attempts' outcomes, per channel."},
};

/*
 * Labelled counters: "family{labels}" (the series as rendered) -> its count. The engine (store
 * thread) and delivery (network loop) both count, so a lock guards the table.
 */
static pthread_mutex_t metrics_labelled_lock = PTHREAD_MUTEX_INITIALIZER;
static GHashTable *metrics_labelled;

static atomic_uint_least64_t metrics_counters[M_COUNTER_COUNT];
static struct metrics_hist metrics_hists[M_HIST_COUNT];
static struct metrics_gauge metrics_gauges[16];
static size_t metrics_ngauges;

void
metrics_inc(enum metric_counter c, uint64_t n)
{
	atomic_fetch_add_explicit(&metrics_counters[c], n, memory_order_relaxed);
}

uint64_t
metrics_get(enum metric_counter c)
{
	return atomic_load(&metrics_counters[c]);
}

void
metrics_observe(enum metric_hist h, double seconds)
{
	struct metrics_hist *m = &metrics_hists[h];
	size_t i = 0;
	while (i < NBOUNDS && seconds > metrics_bounds[i])
		i++;
	atomic_fetch_add_explicit(&m->buckets[i], 1, memory_order_relaxed);
	atomic_fetch_add_explicit(&m->count, 1, memory_order_relaxed);
	atomic_fetch_add_explicit(&m->sum_us, (uint64_t)(seconds * 1e6), memory_order_relaxed);
}

/* A label value in the text format: backslash, double quote and newline escaped. */
static void
metrics_label(GString *out, const char *name, const char *value)
{
	g_string_append_printf(out, "%s=\"", name);
	for (const char *p = value ? value : ""; *p; p++) {
		if (*p == '\\' || *p == '"')
			g_string_append_c(out, '\\');
		if (*p == '\n')
			g_string_append(out, "\\n");
		else
			g_string_append_c(out, *p);
	}
	g_string_append_c(out, '"');
}

void
metrics_inc_labelled(const char *family, const char *l1, const char *v1, const char *l2,
		     const char *v2, uint64_t n)
{
	GString *key = g_string_new(family);
	uint64_t *count;

	g_string_append_c(key, '{');
	metrics_label(key, l1, v1);
	if (l2 != NULL) {
		g_string_append_c(key, ',');
		metrics_label(key, l2, v2);
	}
	g_string_append_c(key, '}');
	pthread_mutex_lock(&metrics_labelled_lock);
	if (metrics_labelled == NULL)
		metrics_labelled = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, g_free);
	if ((count = g_hash_table_lookup(metrics_labelled, key->str)) == NULL) {
		count = g_new0(uint64_t, 1);
		g_hash_table_insert(metrics_labelled, g_strdup(key->str), count);
	}
	*count += n;
	pthread_mutex_unlock(&metrics_labelled_lock);
	g_string_free(key, TRUE);
}

/* Gauges are registered once at start-up on the network loop; no lock needed. */
void
metrics_add_gauge(const char *name, const char *help, metrics_gauge_fn fn, void *arg)
{
	if (metrics_ngauges == NT_ARRAY_LEN(metrics_gauges))
		return;
	metrics_gauges[metrics_ngauges].name = xstrdup(name);
	metrics_gauges[metrics_ngauges].help = xstrdup(help);
	metrics_gauges[metrics_ngauges].fn = fn;
	metrics_gauges[metrics_ngauges].arg = arg;
	metrics_ngauges++;
}

void
metrics_reset_gauges(void)
{
	for (size_t i = 0; i < metrics_ngauges; i++) {
		free(metrics_gauges[i].name);
		free(metrics_gauges[i].help);
	}
	metrics_ngauges = 0;
}

/* Appends to a growing buffer; the exposition is small (a few KB). */
static void metrics_printf(char **buf, size_t *len, size_t *cap, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

static void
metrics_printf(char **buf, size_t *len, size_t *cap, const char *fmt, ...)
{
	va_list ap;
	int n;
	for (;;) {
		va_start(ap, fmt);
		n = vsnprintf(*buf + *len, *cap - *len, fmt, ap);
		va_end(ap);
		if (n >= 0 && (size_t)n < *cap - *len)
			break;
		*cap *= 2;
		*buf = xrealloc(*buf, *cap);
	}
	*len += (size_t)n;
}

static int
metrics_key_cmp(const void *a, const void *b)
{
	return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* Every labelled series, sorted so that each family's come together under one HELP. */
static void
metrics_render_labelled(char **buf, size_t *len, size_t *cap)
{
	guint n = 0;
	const char **keys;
	size_t flen = 0;
	const char *family = NULL;

	pthread_mutex_lock(&metrics_labelled_lock);
	if (metrics_labelled == NULL) {
		pthread_mutex_unlock(&metrics_labelled_lock);
		return;
	}
	keys = (const char **)g_hash_table_get_keys_as_array(metrics_labelled, &n);
	qsort(keys, n, sizeof(*keys), metrics_key_cmp);
	for (guint i = 0; i < n; i++) {
		size_t l = strcspn(keys[i], "{");
		if (family == NULL || l != flen || strncmp(family, keys[i], l) != 0) {
			const char *help = "";
			family = keys[i];
			flen = l;
			for (size_t k = 0; k < NT_ARRAY_LEN(metrics_labelled_info); k++)
				if (strlen(metrics_labelled_info[k].name) == l &&
				    strncmp(metrics_labelled_info[k].name, keys[i], l) == 0)
					help = metrics_labelled_info[k].help;
			metrics_printf(buf, len, cap, "# HELP %.*s %s\n# TYPE %.*s counter\n",
				       (int)l, keys[i], help, (int)l, keys[i]);
		}
		metrics_printf(buf, len, cap, "%s %llu\n", keys[i],
			       (unsigned long long)*(uint64_t *)g_hash_table_lookup(
				   metrics_labelled, keys[i]));
	}
	pthread_mutex_unlock(&metrics_labelled_lock);
	g_free(keys);
}

char *
metrics_render(void)
{
	size_t len = 0, cap = 4096;
	char *buf = xmalloc(cap);

	buf[0] = '\0';
	for (int c = 0; c < M_COUNTER_COUNT; c++) {
		if (metrics_counter_info[c].help != NULL)
			metrics_printf(&buf, &len, &cap, "# HELP %s %s\n# TYPE %s counter\n",
				       metrics_counter_info[c].name, metrics_counter_info[c].help,
				       metrics_counter_info[c].name);
		metrics_printf(&buf, &len, &cap, "%s%s %llu\n", metrics_counter_info[c].name,
			       metrics_counter_info[c].labels,
			       (unsigned long long)atomic_load(&metrics_counters[c]));
	}
	for (int h = 0; h < M_HIST_COUNT; h++) {
		struct metrics_hist *m = &metrics_hists[h];
		const char *name = metrics_hist_info[h].name;
		uint64_t cum = 0;
		metrics_printf(&buf, &len, &cap, "# HELP %s %s\n# TYPE %s histogram\n", name,
			       metrics_hist_info[h].help, name);
		for (size_t i = 0; i <= NBOUNDS; i++) {
			cum += atomic_load(&m->buckets[i]);
			if (i < NBOUNDS)
				metrics_printf(&buf, &len, &cap, "%s_bucket{le=\"%g\"} %llu\n",
					       name, metrics_bounds[i], (unsigned long long)cum);
			else
				metrics_printf(&buf, &len, &cap, "%s_bucket{le=\"+Inf\"} %llu\n",
					       name, (unsigned long long)cum);
		}
		metrics_printf(&buf, &len, &cap, "%s_sum %.6f\n%s_count %llu\n", name,
			       (double)atomic_load(&m->sum_us) / 1e6, name,
			       (unsigned long long)atomic_load(&m->count));
	}
	metrics_render_labelled(&buf, &len, &cap);
	for (size_t g = 0; g < metrics_ngauges; g++)
		metrics_printf(&buf, &len, &cap, "# HELP %s %s\n# TYPE %s gauge\n%s %g\n",
			       metrics_gauges[g].name, metrics_gauges[g].help,
			       metrics_gauges[g].name, metrics_gauges[g].name,
			       metrics_gauges[g].fn(metrics_gauges[g].arg));
	return buf;
}
