/*
 * The connections under evhttp (libevent 2.1): how many may be open, the total time a
 * request's head and body may take, and the framing checks that libevent would otherwise
 * answer with an HTML page. Every byte a client sends is seen here first (a callback on the
 * connection's input buffer), before evhttp parses it; a request that breaks a limit gets a
 * JSON error written here, and evhttp never sees the rest of it.
 */
#ifndef NURTURED_HTTP_CONN_H
#define NURTURED_HTTP_CONN_H

#include <stddef.h>

struct event_base;
struct evhttp;
struct evhttp_connection;
struct evconnlistener;
struct http_conns;
struct http_conn;
struct http_req;

struct http_conn_limits {
	size_t max_connections; /* as configured; clamped to the descriptor limit at start */
	int header_timeout_s;	/* from a request's first byte (or the connect) to its blank line */
	int body_timeout_s;	/* from the blank line to the body's last byte */
	size_t max_body;	/* bytes (max_body_bytes) */
};

/* Takes over EVH's connections (evhttp_set_bevcb) on BASE. */
struct http_conns *http_conns_new(struct event_base *base, struct evhttp *evh,
				  const struct http_conn_limits *lim);
/* Watches LEV (evhttp's listener): paused at max_connections and after accept errors. */
void http_conns_listen(struct http_conns *cs, struct evconnlistener *lev);
/* Forgets the listener before evhttp frees it (the graceful stop). */
void http_conns_unlisten(struct http_conns *cs);
/* Applies reloaded limits; a larger max_connections resumes accepting at once. */
void http_conns_set_limits(struct http_conns *cs, const struct http_conn_limits *lim);
/* Connections open now. */
size_t http_conns_open(const struct http_conns *cs);
/* Connections whose answer is not yet all written to the socket. */
size_t http_conns_unflushed(const struct http_conns *cs);
/* Frees the bookkeeping; call after evhttp_free (which closes every connection). */
void http_conns_free(struct http_conns *cs);

/*
 * Ties HR to its connection for as long as it waits for its answer: when the client leaves,
 * HR->req is set to NULL. http_conn_release undoes it when the answer goes out.
 */
void http_conn_hold(struct http_conns *cs, struct evhttp_connection *evcon, struct http_req *hr);
void http_conn_release(struct http_req *hr);

#endif
