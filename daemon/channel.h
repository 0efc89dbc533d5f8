/*
 * Delivery channels as the config names them: the host's own settings of a channel (which
 * plugin, how to retry) parsed and checked here; everything else in the channel's object
 * belongs to its plugin, which checks it when the channel opens.
 */
#ifndef NURTURED_CHANNEL_H
#define NURTURED_CHANNEL_H

#include <jansson.h>
#include <stdint.h>

#include "diag.h"

/* Exponential backoff with jitter, and the age after which a message expires. */
struct retry_policy {
	int64_t initial_ms; /* the delay after the first failed attempt */
	double multiplier;  /* each next delay is this many times the last */
	int64_t max_ms;	    /* no delay longer than this */
	int64_t max_age_ms; /* a message older than this is expired, not retried */
	double jitter;	    /* each delay is spread by +-jitter of itself */
};

struct channel_conf {
	char *name;
	char *plugin;
	json_t *settings; /* the plugin's part: the channel's object without host keys */
	int payload;	  /* 0: as the plugin says; else enum nt_payload ("payload" key) */
	struct retry_policy retry;
	int internal; /* to the operator's own people or systems ("internal"), not the customer */
	char *to;     /* an internal mail channel's recipient ("to") */
	/* issue 16: "reply_to": this channel's VERP Reply-To base (an address), or false for
	   none; unset: the configuration's reply_to, but none for internal channels. */
	char *reply_to;
	int reply_to_set;
};

/* Parses the config's "channels" object; problems go to D under "channels.NAME...". */
struct channel_conf *channel_conf_parse(json_t *channels, size_t *n, struct diag *d);
void channel_conf_free(struct channel_conf *c, size_t n);
/* The channel called NAME among the N of C, or NULL. */
const struct channel_conf *channel_conf_find(const struct channel_conf *c, size_t n,
					     const char *name);
/*
 * What the channel lacks now that its payload (enum nt_payload) is known, as a message to
 * free, or NULL: an internal channel that writes mail needs its own recipient.
 */
char *channel_conf_problem(const struct channel_conf *c, int payload);

/*
 * When attempt ATTEMPT (1 for the first) failed transiently at NOW: the next attempt's time,
 * or -1 when the message has outlived max_age (created at CREATED). R in [0, 1) picks the
 * jitter; RETRY_AFTER (ms, 0 if none) is a server's own wish, honoured as a minimum.
 */
int64_t retry_next(const struct retry_policy *p, int attempt, int64_t created_ms, int64_t now_ms,
		   int64_t retry_after_ms, double r);

#endif
