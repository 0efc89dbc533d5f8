/*
 * The smtp plugin's own parts, shared by smtp.c (sessions, dispatcher, outcomes) and
 * smtp_conf.c (the channel's settings). Nothing here leaves the plugin: it exports only
 * its descriptor.
 */
#ifndef NURTURED_SMTP_INT_H
#define NURTURED_SMTP_INT_H

#include <sys/queue.h>

#include <jansson.h>
#include <openssl/ssl.h>

#include <libesmtp.h>

#include "nurtured-plugin.h"
#include "smtp_alarm.h"
#include "smtp_utf8.h"

/* Queued messages per worker and batch before deliver() says "full". */
#define SMTP_QUEUE_FACTOR 4

/* libesmtp's timeout phases, in the order of the "timeouts" keys after connect_ms (smtp.c). */
struct smtp_timeout_key {
	const char *key;
	int which;
};
#define SMTP_NTIMEOUTS 5
extern const struct smtp_timeout_key smtp_timeout_keys[SMTP_NTIMEOUTS];

struct smtp_item {
	const struct nt_message *msg;
	nt_done_fn done;
	void *token;
	char *domain; /* the recipient's domain, lower case */
	TAILQ_ENTRY(smtp_item) link;
	/* Filled in by the worker, read on the loop after the job's done. */
	enum nt_result result;
	int suppress;
	int fed;  /* the message callback handed out the data */
	int utf8; /* a non-ASCII envelope address: sent by smtp_utf8.c, not libesmtp */
	char reply[SMTP_REPLY_MAX];
};
TAILQ_HEAD(smtp_items, smtp_item);

struct smtp_domain {
	char *name;
	int inflight;
	LIST_ENTRY(smtp_domain) link;
};

struct smtp_job {
	struct smtp *s;
	struct smtp_item **items;
	int n;
	TAILQ_ENTRY(smtp_job) link;
	/* Worker-side state of the session. */
	char last_reply[SMTP_REPLY_MAX]; /* the last line the server sent */
	const char *tls_error;		 /* why TLS was refused, or NULL */
	int tls_tried, tls_ok;		 /* STARTTLS sent; handshake done */
	struct smtp_alarm alarm;	 /* connect_ms: until the connection stands */
	int connected;			 /* libesmtp reported SMTP_EV_CONNECT */
};
TAILQ_HEAD(smtp_jobs, smtp_job);

struct smtp {
	const struct nt_host *host;
	char *channel;
	/* Settings, read-only after init (workers read them). */
	char *server;	  /* "host:port" for smtp_set_server */
	int port;	  /* the relay's port */
	int relay_family; /* AF_INET: host is an address (relay_addr); AF_UNSPEC: a name */
	unsigned char relay_addr[4];
	char *helo;
	enum smtp_tls tls;
	int tls_verify;
	SSL_CTX *ssl_ctx;
	char *auth_user, *auth_pass;
	long timeouts[SMTP_NTIMEOUTS]; /* 0: libesmtp's default */
	long connect_ms;
	int alarm_used;		/* connect_ms: this channel holds a use of smtp_alarm's handler */
	struct smtp_utf8 *utf8; /* the libcurl client for internationalised addresses */
	int max_connections, per_connection, domain_concurrency;
	double rate; /* messages per second, 0: unlimited */
	/* Loop-side state. */
	struct nt_pool *pool;
	struct smtp_items queue;
	int nqueued;
	struct smtp_jobs jobs; /* submitted, done not yet run */
	int running;
	LIST_HEAD(, smtp_domain) domains; /* those with messages in flight */
	double tokens;
	int64_t tokens_ms;
	struct nt_timer *pump_timer;
	int stopping;
};

/* A malloc'd message for init's *err; NULL only when out of memory. */
char *smtp_errf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/*
 * smtp_conf.c: one top-level setting KEY into S (host, port and tls_ca_file into the caller's
 * HOST, PORT and CA_FILE), then the TLS context and the libcurl client for internationalised
 * addresses once all are read. Each returns NULL, or the problem (malloc'd) naming the key.
 */
char *smtp_conf_key(struct smtp *s, const char *key, json_t *v, const char **host, long *port,
		    const char **ca_file);
char *smtp_conf_tls(struct smtp *s, const char *ca_file);
char *smtp_conf_utf8(struct smtp *s, const char *ca_file);

#endif
