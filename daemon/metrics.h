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
	M_JOBS_TOGETHER,
	M_FENCING_REFUSALS, /* issue 21: commits refused for a lease lost */
	M_COUNTER_COUNT
};

enum metric_hist { M_HIST_REQUEST, M_HIST_COMMIT, M_HIST_COUNT };

/* A gauge read when /metrics is scraped (queue depths). */
typedef double (*metrics_gauge_fn)(void *arg);

void metrics_inc(enum metric_counter c, uint64_t n);
uint64_t metrics_get(enum metric_counter c);
/* Thread-safe: the store thread observes commit latency. */
void metrics_observe(enum metric_hist h, double seconds);
/* Counter families with labels, per campaign or channel (metrics_inc_labelled). */
#define M_CAMPAIGN_ENTERED "nurtured_campaign_entered_total"
#define M_CAMPAIGN_MESSAGES "nurtured_campaign_messages_total"
#define M_CHANNEL_DELIVERIES "nurtured_channel_deliveries_total"

/*
 * Any thread: adds N to FAMILY{L1="V1",L2="V2"} (L2 may be NULL for one label), made at 0 the
 * first time. Values are escaped for the text format; a lock guards the table.
 */
void metrics_inc_labelled(const char *family, const char *l1, const char *v1, const char *l2,
			  const char *v2, uint64_t n);
void metrics_add_gauge(const char *name, const char *help, metrics_gauge_fn fn, void *arg);
/* The whole exposition; the caller frees it. */
char *metrics_render(void);
void metrics_reset_gauges(void);

#endif
