/*
 * The host's HTTP client: libcurl's multi interface driven by a libevent loop, so that many
 * exchanges run at once without ever blocking the loop. Plugins reach it through
 * nt_host.http_request; everything runs on the loop thread that owns the base.
 */
#ifndef NURTURED_HTTPCLIENT_H
#define NURTURED_HTTPCLIENT_H

#include "../plugins/nurtured-plugin.h"

struct event_base;
struct httpclient;

/* curl_global_init, once, before any thread starts (libcurl's rule). */
void httpclient_global_init(void);

/* A client on BASE; free it before the base. */
struct httpclient *httpclient_new(struct event_base *base);

/*
 * Cancels every exchange in flight without calling its `done` (the host retries those
 * messages after a restart). Not from inside a `done` callback.
 */
void httpclient_free(struct httpclient *hc);

/*
 * Starts one exchange; everything in REQ is copied, so it may go away on return. Only
 * http:// and https:// URLs are fetched (others end in `done` with an error); redirects are
 * not followed. DONE(ARG, response) follows exactly once, on the loop, never from inside this
 * call; the response is valid only during DONE. Returns -1 (and DONE is not called) only
 * when the exchange cannot be set up at all.
 */
int httpclient_request(struct httpclient *hc, const struct nt_http_request *req,
		       nt_http_done_fn done, void *arg);

/* Exchanges started and not yet completed (for tests and metrics). */
int httpclient_inflight(const struct httpclient *hc);

#endif
