/* The daemon's configuration: a JSON file, every key checked, with embedded defaults. */
#ifndef NURTURED_CONFIG_H
#define NURTURED_CONFIG_H

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

#include "channel.h"
#include "diag.h"
#include "stage.h"

/* Issue 16: bounces, complaints and replies coming back (keys parsed in config_inbound.c). */
struct inbound_conf {
	char *bounce_address;	/* VERP base of the envelope sender, or NULL */
	char *reply_to;		/* VERP base of Reply-To, or NULL */
	int soft_max;		/* bounce_policy: soft bounces that suppress ... */
	int64_t soft_window_ms; /* ... within this window */
	char *imap_url;		/* inbound.imap: "imaps://host/INBOX", or NULL */
	char *imap_user;
	char *imap_password;
	int64_t imap_interval_ms;
	char *imap_move_to;    /* "move:Folder": the folder; NULL: delete */
	int imap_insecure;     /* tests: accept a self-signed certificate */
	char *ses_certificate; /* webhooks.ses.certificate: PEM file pinned for SNS */
	char *postmark_user;   /* webhooks.postmark: basic auth */
	char *postmark_password;
	char *mailgun_key;  /* webhooks.mailgun.signing_key */
	char *sendgrid_key; /* webhooks.sendgrid.public_key: base64 DER (as SendGrid shows) */
};

/*
 * How long each kind of data is kept (retention.c, nurtured.conf(5)); 0: forever. The
 * indexes are store.h's enum retention_kind: events, payloads, messages, notes, journeys.
 */
#define CONFIG_RETENTION_KINDS 5
struct retention_conf {
	int64_t keep_ms[CONFIG_RETENTION_KINDS];
	int64_t interval_ms; /* between passes */
};

/* "subscribe" (issue 20): the public signup form, POST /subscribe (api_subscribe.c). */
struct subscribe_conf {
	char *redirect;	   /* where the browser goes after a form post; NULL: a page of ours */
	int per_client;	   /* signups per client address per window */
	int per_address;   /* signups per email address per window */
	int64_t window_ms; /* ... the window */
};

struct config {
	char *file; /* NULL when running on embedded defaults */
	char *listen_host;
	char *listen_port;
	char *data_dir;
	char *store;   /* "sqlite" (default, in data_dir) or a postgresql:// URL */
	char *node_id; /* issue 21: this node among those sharing the store; NULL: host:port */
	int64_t lease_ttl_ms; /* issue 21: how long a partition's lease lasts unrenewed */
	char *user;	      /* the account to run as when started as root; NULL: see privdrop.h */
	char **api_tokens;
	size_t n_api_tokens;
	int *api_token_roles; /* issue 22: an enum token_role for each of api_tokens */
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
	size_t max_connections; /* HTTP connections open at once; more wait in the backlog */
	int header_timeout_s;	/* a request's head, from its first byte: total, not per read */
	int body_timeout_s;	/* a request's body, from the end of its head: total */
	int broadcast_archive;	/* issue 17: sent broadcasts at /archive/{id} (off by default) */
	int cap_max;	    /* frequency cap: non-transactional messages per customer; 0: none */
	int64_t cap_per_ms; /* ... within this window */
	struct stage_rules stages;
	struct channel_conf *chans; /* the channels' host settings, parsed */
	size_t n_chans;
	char *mail_from_name;
	char *mail_from_address;
	char **opt_in_topics; /* NULL-terminated */
	size_t n_opt_in_topics;
	char *system_channel;	     /* where double opt-in confirmations go; NULL: "mail" */
	char *unsubscribe_mailto;    /* also a mailto: in List-Unsubscribe, or NULL */
	struct inbound_conf inbound; /* issue 16: what comes back (config_inbound.c) */
	int channels_default;	     /* channels not in the file: derived from data_dir */
	int public_url_default;	     /* public_url not in the file: derived from listen */
	struct retention_conf retention;
	int transactional_rate; /* POST /v1/messages per API token per minute (issue 20) */
	struct subscribe_conf subscribe;
	int ui_disabled; /* issue 22: "ui": false turns the dashboard at /ui/ off */
	char *ui_dir;	 /* "ui": "DIR": its templates there; NULL: installed (ui.c) */
};

/* Issue 22: what a token may do: look (GET), or change too. A plain string is an admin. */
enum token_role { ROLE_NONE = 0, ROLE_READ = 1, ROLE_ADMIN = 2 };

/* Whether a reload (SIGHUP) applies a key, or only a restart does. */
enum config_reload { CONFIG_RELOAD_APPLY, CONFIG_RELOAD_RESTART };

/* One key of the file: config_keys.c has the table of them all. */
struct config_key {
	const char *name;
	enum config_reload reload;
	/* Reads V into C over what is there; each problem goes to D under KEY. */
	void (*parse)(struct config *c, json_t *v, const char *key, struct diag *d);
	/* True when A and B differ in this key. */
	int (*differs)(const struct config *a, const struct config *b);
	/* Restart keys: gives N a copy of the running value, O's. */
	void (*keep)(struct config *n, const struct config *o);
};
extern const struct config_key config_keys[];
extern const size_t config_nkeys;
/* The key called NAME, or NULL. */
const struct config_key *config_key_find(const char *name);

/*
 * Prepares N (just loaded) to replace the running O at a reload, which it only reads: every
 * key that needs a restart takes O's running value back, its name listed in *RESTART; the keys the
 * reload applies that changed are listed in *APPLIED. Both NULL-terminated, to free (their strings
 * are the table's).
 */
void config_reload_merge(struct config *n, const struct config *o, const char ***applied,
			 const char ***restart);
/* The embedded defaults, into a zeroed C (config_load starts from them). */
void config_defaults(struct config *c);
/* Derives what the file left out (default channels, public_url); D gets channel problems. */
void config_derive(struct config *c, struct diag *d);
/* `nurtured config-keys`: prints the table. */
int config_keys_main(void);

/*
 * Loads FILE (or the embedded defaults when FILE is NULL). Returns NULL when there are
 * problems, each added to D as "file:line:col: message".
 */
struct config *config_load(const char *file, struct diag *d);
void config_free(struct config *c);
/*
 * Issue 22: the role of TOKEN (ROLE_NONE when it is none of api_tokens; every token compared, so
 * timing tells nothing). Without any api_tokens (loopback only) everyone is an admin.
 */
int config_token_role(const struct config *c, const char *token);
/* The first admin token, for the daemon's own clients of its API (inbound pipe, IMAP), or NULL. */
const char *config_admin_token(const struct config *c);
/* config_inbound.c: the defaults, a top-level key of issue 16 (1 when it is one), freeing. */
void config_inbound_defaults(struct inbound_conf *in);
int config_inbound_apply(struct config *c, const char *key, json_t *v, struct diag *d);
void config_inbound_free(struct inbound_conf *in);
/* config_inbound.c: whether A and B differ in top-level KEY of issue 16; N takes O's value. */
int config_inbound_differs(const struct inbound_conf *a, const struct inbound_conf *b,
			   const char *key);
void config_inbound_keep(struct inbound_conf *n, const struct inbound_conf *o, const char *key);
/* config_public.c (issue 20): the keys "transactional_rate" and "subscribe". */
void config_public_defaults(struct config *c);
void config_public_free(struct config *c);
void key_transactional_rate(struct config *c, json_t *v, const char *key, struct diag *d);
int transactional_rate_differs(const struct config *a, const struct config *b);
void key_subscribe(struct config *c, json_t *v, const char *key, struct diag *d);
int subscribe_differs(const struct config *a, const struct config *b);
/* True when the listen address is a loopback address. */
int config_listen_is_loopback(const struct config *c);

#endif
