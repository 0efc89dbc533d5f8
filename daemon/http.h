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
struct http_conn;
struct config;

/* One request in flight; owned by the HTTP layer until http_reply_* is called. */
struct http_req {
	struct evhttp_request *req; /* NULL once the client has gone */
	struct daemon *d;
	int64_t start_us;
	char *arg;		/* the decoded path parameter ({id}), or NULL */
	struct http_conn *conn; /* its connection, while it waits for its answer */
	int head;		/* a HEAD request: the answer goes without its body */
	size_t body_len;	/* the request body's size */
	int body_ready;		/* a large body was parsed off the loop: body_json or body_err */
	json_t *body_json;	/* ... its value, until http_body_json hands it over */
	char *body_err;		/* ... or why it is not JSON (a 400) */
	/*
	 * Issue 22: the dashboard calls the API's handlers for their data. When set, the next
	 * JSON reply goes to CAPTURE instead of the client (which owns BODY and HR from there,
	 * and answers HR itself in the end).
	 */
	void (*capture)(struct http_req *hr, int code, json_t *body, void *arg);
	void *capture_arg;
	int role;	     /* issue 22: the caller's role (enum token_role) once checked */
	char ui_session[40]; /* issue 22: the dashboard session's signed part, once checked */
};

struct http *http_start(struct daemon *d, const char *host, const char *port, char *err,
			size_t errlen);
/* Stops accepting new connections; requests already in flight still get their answers. */
void http_stop_accepting(struct http *h);
void http_free(struct http *h);
/* Requests waiting for an answer (for the graceful stop). */
int http_inflight(struct http *h);
/* Connections whose answer is still being written: a stop waits for them to be flushed. */
size_t http_unflushed(struct http *h);
/* Connections open now (for /metrics). */
size_t http_connections(struct http *h);
/* Applies reloadable limits (body size, connections, deadlines) from C. */
void http_set_limits(struct http *h, const struct config *c);

/* Reply helpers: each sends and frees HR. JSON bodies are stolen (decref'd). */
void http_reply_json(struct http_req *hr, int code, json_t *body);
void http_reply_error(struct http_req *hr, int code, const char *msg, const char *field,
		      long index);
void http_reply_text(struct http_req *hr, int code, const char *content_type, const char *body);
/* LEN bytes of DATA (an image: NULs and all). */
void http_reply_bytes(struct http_req *hr, int code, const char *content_type, const void *data,
		      size_t len);
/*
 * The answer for a store job that did not succeed, one wording for every handler: 404 with
 * NOTFOUND, 410 for an erased customer, 409 with CONFLICT (NULL: a store error), else 503
 * (nothing was changed).
 */
void http_reply_store_error(struct http_req *hr, int status, const char *notfound,
			    const char *conflict);
/*
 * A reply with the headers HEADERS (name, value, ..., NULL; may be NULL) and BODY of LEN bytes:
 * the dashboard's pages, redirects and static files.
 */
void http_reply_raw(struct http_req *hr, int code, const char *const *headers, const char *body,
		    size_t len);
/* The decoded query parameter KEY (malloc'd), or NULL when absent. */
char *http_query_param(struct http_req *hr, const char *key);
/* Whether HR is a PATCH (routes with M_PATCH hand it to their post handler). */
int http_is_patch(struct http_req *hr);
/* The request's body as it came (LEN bytes; valid until the reply), "" when empty. */
const char *http_body_raw(struct http_req *hr, size_t *len);
/* A request header's value, or NULL. */
const char *http_header(struct http_req *hr, const char *name);
/* Every query parameter, decoded: name -> value (the last of a repeated name). */
json_t *http_query_params(struct http_req *hr);
/* The request's body parsed as JSON, or NULL after replying 400 itself. */
json_t *http_body_json(struct http_req *hr);
/* The same whatever the Content-Type (webhooks whose senders label JSON text/plain). */
json_t *http_body_json_untyped(struct http_req *hr);
/*
 * Runs RUN(ARG) on the HTTP layer's worker thread, then DONE(HR, ARG) on the loop: work on a
 * large body (parsing, validating a big batch) that would hold up every other client. DONE is
 * called also when the client left (HR->req NULL; its answer is dropped). Without a worker (the
 * pool is stopping) both run here, at once.
 */
void http_offload(struct http_req *hr, void (*run)(void *arg),
		  void (*done)(struct http_req *hr, void *arg), void *arg);
/* FREE(ARG) on that worker: freeing a large batch's values costs the loop milliseconds too. */
void http_offload_free(struct http_req *hr, void (*free_fn)(void *arg), void *arg);

#endif
