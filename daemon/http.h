/*
 * The HTTP API on the network loop (libevent's evhttp): routing, bearer-token auth, JSON
 * replies. Handlers that need the store hand a job to the store loop and reply when it is done;
 * a client that leaves meanwhile is noticed, and the late reply is dropped.
 */
#ifndef NURTURED_HTTP_H
#define NURTURED_HTTP_H

#include <jansson.h>
#include <stdint.h>

struct daemon;
struct evhttp_request;
struct http;

/* One request in flight; owned by the HTTP layer until http_reply_* is called. */
struct http_req {
	struct evhttp_request *req; /* NULL once the client has gone */
	struct daemon *d;
	int64_t start_us;
	char *arg; /* the decoded path parameter ({id}), or NULL */
};

struct http *http_start(struct daemon *d, const char *host, const char *port, char *err,
			size_t errlen);
/* Stops accepting new connections; requests already in flight still get their answers. */
void http_stop_accepting(struct http *h);
void http_free(struct http *h);
/* Requests waiting for an answer (for the graceful stop). */
int http_inflight(struct http *h);
/* Applies reloadable limits (body size). */
void http_set_limits(struct http *h, size_t max_body);

/* Reply helpers: each sends and frees HR. JSON bodies are stolen (decref'd). */
void http_reply_json(struct http_req *hr, int code, json_t *body);
void http_reply_error(struct http_req *hr, int code, const char *msg, const char *field,
		      long index);
void http_reply_text(struct http_req *hr, int code, const char *content_type, const char *body);
/*
 * The answer for a store job that did not succeed, one wording for every handler: 404 with
 * NOTFOUND, 410 for an erased customer, 409 with CONFLICT (NULL: a store error), else 503
 * (nothing was changed).
 */
void http_reply_store_error(struct http_req *hr, int status, const char *notfound,
			    const char *conflict);
/* The decoded query parameter KEY (malloc'd), or NULL when absent. */
char *http_query_param(struct http_req *hr, const char *key);
/* Every query parameter, decoded: name -> value (the last of a repeated name). */
json_t *http_query_params(struct http_req *hr);
/* The request's body parsed as JSON, or NULL after replying 400 itself. */
json_t *http_body_json(struct http_req *hr);

#endif
