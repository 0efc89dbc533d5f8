/*
 * nurtured delivery plugin ABI (installed as <nurtured/nurtured-plugin.h>).
 *
 * A plugin is a shared object that exports one symbol, NT_PLUGIN_SYMBOL, a function that
 * returns a pointer to a constant struct nt_plugin. The daemon loads it with
 * dlopen(RTLD_NOW | RTLD_LOCAL), checks abi_major (another major is refused) and struct_size
 * (fields beyond it are treated as absent), then calls init once per channel that names the
 * plugin. A plugin links against nothing of the daemon: everything it needs from the host
 * (logging, timers on the event loop, a worker pool for blocking work, an HTTP client) comes
 * in through struct nt_host.
 *
 * Threads: every call from the host into the plugin (init, deliver, stop, fini) and every
 * callback the host services make (timer, pool done, HTTP done) runs on the daemon's event
 * loop thread; only a pool job's `run` function runs on a worker thread. A plugin must
 * never block the loop: blocking work (an SMTP session) goes to a pool.
 *
 * Ownership: the host owns every struct nt_message and the strings in it until the plugin
 * calls `done` for that message; after `done` the plugin must not touch it. `done` must be
 * called exactly once per accepted message, from the loop thread, possibly from inside
 * deliver. Strings in struct nt_outcome are copied by the host during `done`.
 *
 * docs/plugins.md shows how to write one.
 */
#ifndef NURTURED_PLUGIN_H
#define NURTURED_PLUGIN_H

#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#define NT_PLUGIN_ABI_MAJOR 1
#define NT_PLUGIN_ABI_MINOR 0
#define NT_PLUGIN_SYMBOL "nurtured_plugin"

/* Log levels for nt_host.log, most severe first. */
enum nt_log_level { NT_LOG_ERR = 0, NT_LOG_WARNING, NT_LOG_INFO, NT_LOG_DEBUG };

/* What a channel's messages carry: the host renders accordingly. */
enum nt_payload {
	NT_PAYLOAD_MIME = 1, /* a complete RFC 5322 message, CRLF line ends */
	NT_PAYLOAD_JSON = 2, /* a JSON document (webhooks) */
};

/* One message to deliver. Owned by the host until `done`. */
struct nt_message {
	size_t struct_size;
	int64_t id;		 /* the outbox id, unique in this daemon */
	const char *message_id;	 /* "<...@domain>", fixed at enqueue: a receiver can dedupe */
	const char *channel;	 /* the channel's name in the config */
	const char *campaign_id; /* "" for system mail (double opt-in confirmations) */
	const char *step_id;
	const char *customer_id; /* the customer's external id */
	const char *sender;	 /* envelope sender (addr-spec); MIME payloads only */
	const char *recipient;	 /* envelope recipient (addr-spec); MIME payloads only */
	const char *data;	 /* the payload, data_len bytes, NUL-terminated as well */
	size_t data_len;
	int attempt;	    /* 1 for the first attempt */
	int64_t created_ms; /* when the engine decided it */
};

/* How one delivery attempt ended. */
enum nt_result {
	NT_SENT = 0,	 /* accepted by the next hop */
	NT_DEFERRED = 1, /* transient: the host retries with backoff */
	NT_FAILED = 2,	 /* permanent: no more attempts */
};

struct nt_outcome {
	enum nt_result result;
	const char *reply;	/* the server's reply or a short error; may be NULL */
	int64_t retry_after_ms; /* NT_DEFERRED: not before this many ms (0: host's backoff) */
	int suppress;		/* NT_FAILED: put the recipient on the suppression list */
};

typedef void (*nt_done_fn)(void *token, const struct nt_outcome *outcome);

/* Opaque handles of host services. */
struct nt_timer;
struct nt_pool;
struct nt_http_request;

/* An HTTP exchange for nt_host.http_request. */
struct nt_http_request {
	const char *method; /* "POST" */
	const char *url;
	const char *const *headers; /* NULL-terminated "Name: value" lines, or NULL */
	const char *body;
	size_t body_len;
	long timeout_ms;
};

struct nt_http_response {
	long status;	     /* HTTP status, or 0 when no response arrived */
	const char *error;   /* transport error (connect, timeout) when status is 0 */
	int timed_out;	     /* the exchange hit timeout_ms */
	const char *body;    /* response body (may be truncated to 64 KiB) */
	size_t body_len;
	long retry_after_s;  /* the Retry-After header in seconds, or -1 */
};

typedef void (*nt_http_done_fn)(void *arg, const struct nt_http_response *resp);

/* Services the host lends a plugin; valid from init until fini returns. */
struct nt_host {
	size_t struct_size;
	unsigned abi_major, abi_minor;

	/* Logging into the daemon's log (stderr, syslog or the journal). */
	void (*log)(enum nt_log_level level, const char *fmt, ...)
	    __attribute__((format(printf, 2, 3)));

	/* Wall-clock time in ms since the epoch (virtual in tests). */
	int64_t (*now_ms)(void);

	/* A one-shot timer on the loop; cancel before it fires or let it fire, not both. */
	struct nt_timer *(*timer_add)(long after_ms, void (*cb)(void *arg), void *arg);
	void (*timer_cancel)(struct nt_timer *t);

	/*
	 * A pool of THREADS worker threads for blocking work: `run` runs on a worker, then
	 * `done` runs on the loop with the same ARG. pool_free waits for running jobs and
	 * drops queued ones without calling either function (call it from fini).
	 */
	struct nt_pool *(*pool_new)(const char *name, int threads);
	int (*pool_submit)(struct nt_pool *p, void (*run)(void *arg), void (*done)(void *arg),
			   void *arg);
	void (*pool_free)(struct nt_pool *p);

	/*
	 * An HTTP client driven by the loop (libcurl multi): never blocks. `done` is called
	 * exactly once, on the loop, never from inside http_request. Returns -1 when the
	 * request could not even be started (then `done` is not called).
	 */
	int (*http_request)(const struct nt_http_request *req, nt_http_done_fn done, void *arg);

	/* HMAC-SHA256 of DATA with KEY into OUT (32 bytes), for signatures. */
	void (*hmac_sha256)(const void *key, size_t keylen, const void *data, size_t len,
			    unsigned char out[32]);
};

/* The plugin's descriptor; the first four fields never move. */
struct nt_plugin {
	unsigned abi_major;
	unsigned abi_minor;
	size_t struct_size;
	const char *name;

	enum nt_payload payload;

	/*
	 * Sets up one channel. CONFIG is the channel's object from the config (borrowed: take a
	 * reference to keep it). Returns 0 with *STATE set, or -1 with *ERR set to a malloc'd
	 * message naming the setting ("port: must be 1..65535").
	 */
	int (*init)(const struct nt_host *host, const char *channel, json_t *config, void **state,
		    char **err);

	/*
	 * Takes one message. Returns 0 when accepted (then `done(token, ...)` follows exactly
	 * once), or -1 when the plugin is full or stopping (the host retries later; `done` is
	 * not called).
	 */
	int (*deliver)(void *state, const struct nt_message *msg, nt_done_fn done, void *token);

	/* Stop taking messages; messages already accepted still get their `done`. */
	void (*stop)(void *state);

	/*
	 * Releases everything. Normally called after every accepted message got its `done`; at
	 * a shutdown deadline it may come earlier: then the plugin abandons what is in flight
	 * without calling `done` (the host retries those messages after restart).
	 */
	void (*fini)(void *state);

	void (*spare[4])(void);
};

#endif
