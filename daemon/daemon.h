/* The daemon's life cycle: start, run the network loop, reload on SIGHUP, stop gracefully. */
#ifndef NURTURED_DAEMON_H
#define NURTURED_DAEMON_H

#include <stdint.h>

struct campaign_set;
struct compose_ctx;
struct template_set;
struct config;
struct diag;
struct daemon;
struct deliver;
struct engine;
struct event_base;
struct http;
struct storeloop;

/* Takes CFG. Opens the store, listens, and runs until SIGTERM/SIGINT; returns an exit code. */
int daemon_run(struct config *cfg, int foreground);

/* Loads campaigns_dir; NULL with every problem in D when a campaign is wrong. */
struct campaign_set *daemon_load_campaigns(const struct config *c, struct diag *d);

/*
 * Loads templates_dir and checks that every send step on a mail channel finds its template
 * (a webhook's JSON needs none). Returns the set (NULL when there is no directory and nothing
 * needs one); problems go to D, and the caller refuses to run on any.
 */
struct template_set *daemon_load_templates(const struct config *c, const struct campaign_set *set,
					   struct diag *d);

/* Accessors for the parts (the daemon owns them all). */
const struct config *daemon_config(struct daemon *d);
struct event_base *daemon_base(struct daemon *d);
struct storeloop *daemon_storeloop(struct daemon *d);
/* Where requests that store events go: on PostgreSQL a loop of their own, or the store loop. */
struct storeloop *daemon_ingestloop(struct daemon *d);
/* Where read-only scans (statistics) go: a reader beside the store thread, or the store loop. */
struct storeloop *daemon_readloop(struct daemon *d);
/* Issue 21: the lease loop when the store is PostgreSQL, or NULL. */
struct cluster;
struct cluster *daemon_cluster(struct daemon *d);
struct http *daemon_http(struct daemon *d);
const char *daemon_secret(struct daemon *d);
int daemon_stopping(struct daemon *d);
/* When the daemon started (ms since the epoch), for its uptime. */
int64_t daemon_started_ms(struct daemon *d);
struct deliver *daemon_deliver(struct daemon *d);
/* The running campaign set; only on the network loop (a reload swaps it there). */
const struct campaign_set *daemon_campaigns(struct daemon *d);
/* How messages are rendered; its template set is read (and swapped) on the store thread. */
const struct compose_ctx *daemon_compose(struct daemon *d);
/* The engine, for jobs that run on the store thread. */
struct engine *daemon_engine(struct daemon *d);
/* The channel of system mail (double opt-in confirmations). */
const char *daemon_system_channel(struct daemon *d);
/* The keys a reload found changed that only a restart applies (NULL-terminated; may be empty). */
const char *const *daemon_restart_needed(struct daemon *d);
/* New or requeued messages may be due: delivery looks now rather than at its next timer. */
void daemon_wake_delivery(struct daemon *d);

#endif
