/* Counters, gauges and histograms for /metrics, in the Prometheus text format. */
#ifndef NURTURED_METRICS_H
#define NURTURED_METRICS_H

#include <stdint.h>

enum metric_counter {
	M_EVENTS_ACCEPTED,
	M_EVENTS_DUPLICATE,
	M_EVENTS_REJECTED,
	M_CUSTOMERS_UPSERTED,
	M_HTTP_2XX,
	M_HTTP_4XX,
	M_HTTP_5XX,
	M_COMMITS,
	M_COMMIT_FAILURES,
	M_COUNTER_COUNT
};

enum metric_hist { M_HIST_REQUEST, M_HIST_COMMIT, M_HIST_COUNT };

/* A gauge read when /metrics is scraped (queue depths). */
typedef double (*metrics_gauge_fn)(void *arg);

void metrics_inc(enum metric_counter c, uint64_t n);
uint64_t metrics_get(enum metric_counter c);
/* Thread-safe: the store thread observes commit latency. */
void metrics_observe(enum metric_hist h, double seconds);
void metrics_add_gauge(const char *name, const char *help, metrics_gauge_fn fn, void *arg);
/* The whole exposition; the caller frees it. */
char *metrics_render(void);
void metrics_reset_gauges(void);

#endif
