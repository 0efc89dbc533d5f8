/* The daemon's life cycle: start, run the network loop, reload on SIGHUP, stop gracefully. */
#ifndef NURTURED_DAEMON_H
#define NURTURED_DAEMON_H

struct campaign_set;
struct config;
struct diag;
struct daemon;
struct event_base;
struct http;
struct storeloop;

/* Takes CFG. Opens the store, listens, and runs until SIGTERM/SIGINT; returns an exit code. */
int daemon_run(struct config *cfg, int foreground);

/* Loads campaigns_dir; NULL with every problem in D when a campaign is wrong. */
struct campaign_set *daemon_load_campaigns(const struct config *c, struct diag *d);

/* Accessors for the parts (the daemon owns them all). */
const struct config *daemon_config(struct daemon *d);
struct event_base *daemon_base(struct daemon *d);
struct storeloop *daemon_storeloop(struct daemon *d);
struct http *daemon_http(struct daemon *d);
const char *daemon_secret(struct daemon *d);
int daemon_stopping(struct daemon *d);

#endif
