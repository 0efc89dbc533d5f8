/* The daemon's configuration: a JSON file, every key checked, with embedded defaults. */
#ifndef NURTURED_CONFIG_H
#define NURTURED_CONFIG_H

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

#include "channel.h"
#include "diag.h"
#include "stage.h"

/*
 * How long each kind of data is kept (retention.c, nurtured.conf(5)); 0: forever. The
 * indexes are store.h's enum retention_kind: events, payloads, messages, notes, journeys.
 */
#define CONFIG_RETENTION_KINDS 5
struct retention_conf {
	int64_t keep_ms[CONFIG_RETENTION_KINDS];
	int64_t interval_ms; /* between passes */
};

struct config {
	char *file; /* NULL when running on embedded defaults */
	char *listen_host;
	char *listen_port;
	char *data_dir;
	char *user; /* the account to run as when started as root; NULL: see privdrop.h */
	char **api_tokens;
	size_t n_api_tokens;
	char *public_url;
	char *secret; /* NULL: generated and kept in data_dir on first start */
	char *campaigns_dir;
	char *templates_dir;
	char *plugin_dir;
	json_t *channels; /* object: name -> {"plugin": ..., settings} */
	int log_level;
	int durability_full;
	size_t max_body_bytes;
	size_t max_batch;
	int shutdown_timeout_s;
	int cap_max;	    /* frequency cap: non-transactional messages per customer; 0: none */
	int64_t cap_per_ms; /* ... within this window */
	struct stage_rules stages;
	struct channel_conf *chans; /* the channels' host settings, parsed */
	size_t n_chans;
	char *mail_from_name;
	char *mail_from_address;
	char **opt_in_topics; /* NULL-terminated */
	size_t n_opt_in_topics;
	char *system_channel;	  /* where double opt-in confirmations go; NULL: "mail" */
	char *unsubscribe_mailto; /* also a mailto: in List-Unsubscribe, or NULL */
	struct retention_conf retention;
};

/*
 * Loads FILE (or the embedded defaults when FILE is NULL). Returns NULL when there are
 * problems, each added to D as "file:line:col: message".
 */
struct config *config_load(const char *file, struct diag *d);
void config_free(struct config *c);
/* True when the listen address is a loopback address. */
int config_listen_is_loopback(const struct config *c);

#endif
