#include "http.h"

#include <event2/buffer.h>
#include <event2/event.h>
#include <event2/http.h>
#include <event2/keyvalq_struct.h>
#include <event2/listener.h>
#include <malloc.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api.h"
#include "config.h"
#include "crypto.h"
#include "daemon.h"
#include "http_conn.h"
#include "jsonout.h"
#include "log.h"
#include "metrics.h"
#include "pool.h"
#include "store.h"
#include "ui.h"
#include "util.h"
#include "validate.h"

struct http {
	struct daemon *d;
	struct evhttp *evh;
	struct evhttp_bound_socket *sock;
	struct http_conns *conns;
	int inflight;
	struct event *trim;   /* malloc_trim after large bodies */
	struct nt_pool *pool; /* parsing and validating large bodies, off the loop */
};

/* Bodies at least this large are parsed off the loop (about a millisecond's work on it). */
#define HTTP_OFFLOOP_BODY (64 * 1024)

static void
http_trim(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	(void)arg;
	malloc_trim(0);
}

/* Requests with bodies at least this large hand memory back to the system when answered. */
#define HTTP_TRIM_BODY (256 * 1024)

/* Sends the reply, unless the client left; then forgets the request. */
static void
http_finish(struct http_req *hr, int code, const char *reason, struct evbuffer *body)
{
	struct http *h = daemon_http(hr->d);

	http_conn_release(hr);
	if (hr->req != NULL) {
		struct evkeyvalq *hdr = evhttp_request_get_output_headers(hr->req);
		if (daemon_stopping(hr->d))
			evhttp_add_header(hdr, "Connection", "close");
		if (hr->head) {
			/* HEAD: the headers GET would send, Content-Length included; no body. */
			char len[24];
			snprintf(len, sizeof(len), "%zu", body ? evbuffer_get_length(body) : 0);
			evhttp_add_header(hdr, "Content-Length", len);
			evhttp_send_reply(hr->req, code, reason, NULL);
		} else
			evhttp_send_reply(hr->req, code, reason, body);
	}
	if (code < 300)
		metrics_inc(M_HTTP_2XX, 1);
	else if (code < 500)
		metrics_inc(M_HTTP_4XX, 1);
	else
		metrics_inc(M_HTTP_5XX, 1);
	metrics_observe(M_HIST_REQUEST, (double)(util_mono_us() - hr->start_us) / 1e6);
	h->inflight--;
	json_decref(hr->body_json);
	free(hr->body_err);
	if (hr->body_len >= HTTP_TRIM_BODY && !evtimer_pending(h->trim, NULL)) {
		/* A large body's parse left freed memory behind: hand it back, once for a burst. */
		struct timeval tv = {0, 200000};
		evtimer_add(h->trim, &tv);
	}
	free(hr->arg);
	free(hr);
}

static const char *
http_reason(int code)
{
	switch (code) {
	case 200:
		return "OK";
	case 202:
		return "Accepted";
	case 303:
		return "See Other";
	case 302:
		return "Found";
	case 400:
		return "Bad Request";
	case 401:
		return "Unauthorized";
	case 403:
		return "Forbidden";
	case 404:
		return "Not Found";
	case 405:
		return "Method Not Allowed";
	case 409:
		return "Conflict";
	case 410:
		return "Gone";
	case 413:
		return "Payload Too Large";
	case 415:
		return "Unsupported Media Type";
	case 503:
		return "Service Unavailable";
	default:
		return code < 500 ? "Error" : "Server Error";
	}
}

void
http_reply_json(struct http_req *hr, int code, json_t *body)
{
	struct evbuffer *buf;
	char *text;

	if (hr->capture != NULL) {
		/* The dashboard asked for this answer: it takes it, and HR with it. */
		void (*cb)(struct http_req *, int, json_t *, void *) = hr->capture;
		hr->capture = NULL;
		cb(hr, code, body, hr->capture_arg);
		return;
	}
	buf = evbuffer_new();
	text = jsonout_dumps(body, JSON_COMPACT);

	evbuffer_add(buf, text, strlen(text));
	evbuffer_add(buf, "\n", 1);
	free(text);
	json_decref(body);
	if (hr->req != NULL) {
		struct evkeyvalq *hdr = evhttp_request_get_output_headers(hr->req);
		evhttp_add_header(hdr, "Content-Type", "application/json");
		if (code == 503)
			evhttp_add_header(hdr, "Retry-After", "1");
		if (code == 401)
			evhttp_add_header(hdr, "WWW-Authenticate", "Bearer realm=\"nurtured\"");
	}
	http_finish(hr, code, http_reason(code), buf);
	evbuffer_free(buf);
}

void
http_reply_error(struct http_req *hr, int code, const char *msg, const char *field, long index)
{
	json_t *body = json_pack("{s:s}", "error", msg);
	if (field != NULL)
		json_object_set_new(body, "field", json_string(field));
	if (index >= 0)
		json_object_set_new(body, "index", json_integer(index));
	http_reply_json(hr, code, body);
}

void
http_reply_store_error(struct http_req *hr, int status, const char *notfound, const char *conflict)
{
	if (status == STORE_NOTFOUND)
		http_reply_error(hr, 404, notfound, NULL, -1);
	else if (status == STORE_GONE)
		http_reply_error(hr, 410, "customer erased", NULL, -1);
	else if (status == STORE_CONFLICT && conflict != NULL)
		http_reply_error(hr, 409, conflict, NULL, -1);
	else
		http_reply_error(hr, 503, "store unavailable; nothing was changed, retry later",
				 NULL, -1);
}

void
http_reply_raw(struct http_req *hr, int code, const char *const *headers, const char *body,
	       size_t len)
{
	struct evbuffer *buf = evbuffer_new();
	evbuffer_add(buf, body, len);
	if (hr->req != NULL)
		for (size_t i = 0; headers != NULL && headers[i] != NULL; i += 2)
			evhttp_add_header(evhttp_request_get_output_headers(hr->req), headers[i],
					  headers[i + 1]);
	http_finish(hr, code, http_reason(code), buf);
	evbuffer_free(buf);
}

void
http_reply_text(struct http_req *hr, int code, const char *content_type, const char *text)
{
	struct evbuffer *buf = evbuffer_new();
	evbuffer_add(buf, text, strlen(text));
	if (hr->req != NULL)
		evhttp_add_header(evhttp_request_get_output_headers(hr->req), "Content-Type",
				  content_type);
	http_finish(hr, code, http_reason(code), buf);
	evbuffer_free(buf);
}

void
http_reply_bytes(struct http_req *hr, int code, const char *content_type, const void *data,
		 size_t len)
{
	struct evbuffer *buf = evbuffer_new();
	evbuffer_add(buf, data, len);
	if (hr->req != NULL)
		evhttp_add_header(evhttp_request_get_output_headers(hr->req), "Content-Type",
				  content_type);
	http_finish(hr, code, http_reason(code), buf);
	evbuffer_free(buf);
}

/* JSON, or no Content-Type at all (the parser then decides); "application/x+json" counts. */
static int
http_is_json_type(const char *ct)
{
	size_t n;
	if (ct == NULL)
		return 1;
	while (*ct == ' ' || *ct == '\t')
		ct++;
	n = strcspn(ct, "; \t");
	if (n == 16 && strncasecmp(ct, "application/json", 16) == 0)
		return 1;
	return n > 17 && strncasecmp(ct, "application/", 12) == 0 &&
	       strncasecmp(ct + n - 5, "+json", 5) == 0;
}

/* The checks and the parse of a body's N bytes at TEXT; NULL with *ERR (malloc'd) when bad. */
static json_t *
http_parse(const char *text, size_t len, char **err)
{
	json_error_t jerr;
	char msg[300];
	json_t *v;

	*err = NULL;
	if (len == 0) {
		*err = xstrdup("request body is empty; expected JSON");
		return NULL;
	}
	if (validate_json_shape(text, len, msg, sizeof(msg)) < 0) {
		*err = xstrdup(msg);
		return NULL;
	}
	v = json_loadb(text, len, JSON_REJECT_DUPLICATES, &jerr);
	if (v == NULL)
		*err = xasprintf("malformed JSON at line %d, column %d: %s", jerr.line, jerr.column,
				 jerr.text);
	return v;
}

/* 415 unless the request's Content-Type is JSON (or absent); 0 when it may go on. */
static int
http_check_type(struct http_req *hr)
{
	const char *ct =
	    evhttp_find_header(evhttp_request_get_input_headers(hr->req), "Content-Type");
	char msg[160];

	if (http_is_json_type(ct))
		return 0;
	snprintf(msg, sizeof(msg), "Content-Type must be application/json, not %.100s", ct);
	http_reply_error(hr, 415, msg, NULL, -1);
	return -1;
}

json_t *
http_body_json(struct http_req *hr)
{
	struct evbuffer *in;
	json_t *v;
	char *err = NULL;

	if (hr->body_ready) {
		/* Parsed off the loop (http_dispatch); the type was checked there. */
		v = hr->body_json;
		hr->body_json = NULL;
		if (v == NULL)
			http_reply_error(hr, 400, hr->body_err, NULL, -1);
		return v;
	}
	if (http_check_type(hr) < 0)
		return NULL;
	in = evhttp_request_get_input_buffer(hr->req);
	size_t len = evbuffer_get_length(in);
	v = http_parse(len ? (const char *)evbuffer_pullup(in, -1) : "", len, &err);
	if (v == NULL) {
		http_reply_error(hr, 400, err, NULL, -1);
		free(err);
	}
	return v;
}

const char *
http_body_raw(struct http_req *hr, size_t *len)
{
	struct evbuffer *in = evhttp_request_get_input_buffer(hr->req);
	*len = evbuffer_get_length(in);
	return *len ? (const char *)evbuffer_pullup(in, -1) : "";
}

const char *
http_header(struct http_req *hr, const char *name)
{
	return evhttp_find_header(evhttp_request_get_input_headers(hr->req), name);
}

struct http_offload_job {
	struct http_req *hr;
	void (*run)(void *);
	void (*done)(struct http_req *, void *);
	void *arg;
};

static void
http_offload_run(void *arg)
{
	struct http_offload_job *o = arg;
	o->run(o->arg);
}

static void
http_offload_done(void *arg)
{
	struct http_offload_job *o = arg;
	o->done(o->hr, o->arg);
	free(o);
}

void
http_offload(struct http_req *hr, void (*run)(void *arg),
	     void (*done)(struct http_req *hr, void *arg), void *arg)
{
	struct http *h = daemon_http(hr->d);
	struct http_offload_job *o = xcalloc(1, sizeof(*o));

	o->hr = hr;
	o->run = run;
	o->done = done;
	o->arg = arg;
	if (h->pool == NULL || pool_submit(h->pool, http_offload_run, http_offload_done, o) < 0) {
		http_offload_run(o);
		http_offload_done(o);
	}
}

void
http_offload_free(struct http_req *hr, void (*free_fn)(void *arg), void *arg)
{
	struct http *h = daemon_http(hr->d);
	if (h->pool == NULL || pool_submit(h->pool, free_fn, NULL, arg) < 0)
		free_fn(arg);
}

/* A large body's bytes, parsed on the worker, then its handler called on the loop. */
struct http_parse_job {
	void (*fn)(struct http_req *);
	char *text;
	size_t len;
	json_t *json;
	char *err;
};

static void
http_parse_run(void *arg)
{
	struct http_parse_job *p = arg;
	p->json = http_parse(p->text, p->len, &p->err);
	free(p->text);
	p->text = NULL;
}

static void
http_parse_done(struct http_req *hr, void *arg)
{
	struct http_parse_job *p = arg;
	void (*fn)(struct http_req *) = p->fn;

	hr->body_ready = 1;
	hr->body_json = p->json;
	hr->body_err = p->err;
	free(p);
	if (hr->req == NULL) {
		/* The client left while its body was parsed: nobody to answer. */
		http_reply_error(hr, 503, "client gone", NULL, -1);
		return;
	}
	fn(hr);
}

/* The body as JSON whatever its Content-Type says: Amazon SNS posts its JSON as text/plain. */
json_t *
http_body_json_untyped(struct http_req *hr)
{
	size_t len;
	const char *raw = http_body_raw(hr, &len);
	char *err = NULL;
	json_t *v = http_parse(raw, len, &err);

	if (v == NULL) {
		http_reply_error(hr, 400, err, NULL, -1);
		free(err);
	}
	return v;
}

/* The bearer token's role (config_token_role): ROLE_NONE without a valid one. */
static int
http_role(struct http *h, struct evhttp_request *req)
{
	const struct config *c = daemon_config(h->d);
	const char *auth =
	    evhttp_find_header(evhttp_request_get_input_headers(req), "Authorization");

	if (c->n_api_tokens == 0)
		return ROLE_ADMIN; /* loopback-only, see config_load */
	if (auth == NULL || strncasecmp(auth, "Bearer ", 7) != 0)
		return ROLE_NONE;
	return config_token_role(c, auth + 7);
}

static int
http_authorized(struct http *h, struct evhttp_request *req)
{
	return http_role(h, req) != ROLE_NONE;
}

enum http_method_bits { M_GET = 1, M_POST = 2, M_DELETE = 4, M_PATCH = 8 };

struct http_route {
	const char *prefix; /* path, or prefix ending in '/' for "/{id}" */
	int has_arg;
	int auth;
	int methods;
	void (*get)(struct http_req *);
	void (*post)(struct http_req *);
	void (*del)(struct http_req *);
};

static const struct http_route http_routes[] = {
    {"/healthz", 0, 0, M_GET, api_healthz, NULL, NULL},
    {"/readyz", 0, 0, M_GET, api_readyz, NULL, NULL},
    {"/metrics", 0, 0, M_GET, api_metrics, NULL, NULL},
    {"/v1/events", 0, 1, M_POST, NULL, api_events_post, NULL},
    {"/v1/customers", 0, 1, M_GET | M_POST, api_customers_get, api_customers_post, NULL},
    {"/v1/customers/", 2, 1, M_GET | M_POST | M_DELETE, api_customer_get, api_customer_post,
     api_customer_delete},
    {"/v1/messages", 0, 1, M_GET | M_POST, api_messages_get, api_messages_post, NULL},
    {"/v1/messages/", 2, 1, M_GET | M_POST, api_message_get, api_message_post, NULL},
    {"/v1/suppressions", 0, 1, M_GET | M_POST, api_suppressions_get, api_suppressions_post, NULL},
    {"/v1/suppressions/", 1, 1, M_DELETE, NULL, NULL, api_suppression_delete},
    {"/v1/status", 0, 1, M_GET, api_status, NULL, NULL},
    {"/v1/campaigns", 0, 1, M_GET, api_campaigns_get, NULL, NULL},
    {"/v1/campaigns/", 2, 1, M_GET | M_POST, api_campaign_get, api_campaign_post, NULL},
    {"/v1/inbound", 0, 1, M_GET | M_POST, api_inbound_get, api_inbound_post, NULL},
    /* The ESPs' event webhooks: the provider's signature is the credential (issue 16). */
    {"/v1/webhooks/", 1, 0, M_POST, NULL, api_webhook_post, NULL},
    /* The links in mails: no token, no cookie; the signed path is the credential. */
    {"/confirm/", 1, 0, M_GET | M_POST, api_confirm_get, api_confirm_post, NULL},
    {"/u/", 1, 0, M_GET | M_POST, api_unsubscribe_get, api_unsubscribe_post, NULL},
    /* The public signup form (issue 20): no token; rate-limited, a honeypot. */
    {"/subscribe", 0, 0, M_POST, NULL, api_subscribe_post, NULL},
    /* A tracked link (issue 19): the signed token names the message and the link. */
    {"/c/", 1, 0, M_GET, api_click_get, NULL, NULL},
    {"/o/", 1, 0, M_GET, api_open_get, NULL, NULL},
    /* issue 17: segments, broadcasts, the archive of sent broadcasts */
    {"/v1/segments", 0, 1, M_GET | M_POST, api_segments_get, api_segments_post, NULL},
    {"/v1/segments/", 2, 1, M_GET | M_DELETE, api_segment_get, NULL, api_segment_delete},
    {"/v1/broadcasts", 0, 1, M_GET | M_POST, api_broadcasts_get, api_broadcasts_post, NULL},
    /* M_PATCH: a PATCH goes to the post handler, which tells them apart (http_is_patch) */
    {"/v1/broadcasts/", 2, 1, M_GET | M_POST | M_DELETE | M_PATCH, api_broadcast_get,
     api_broadcast_post, api_broadcast_delete},
    {"/archive/", 1, 0, M_GET, api_archive_get, NULL, NULL},
};

/*
 * Matches PATH against a route; for "/x/{id}" the rest must be one non-empty segment, or
 * with has_arg 2 ("/x/{id}/action") at most two, handed over as "id/action".
 */
static int
http_match(const struct http_route *r, const char *path, char **arg)
{
	size_t n = strlen(r->prefix);
	const char *slash;
	if (!r->has_arg)
		return strcmp(path, r->prefix) == 0;
	if (strncmp(path, r->prefix, n) != 0 || path[n] == '\0' || path[n] == '/')
		return 0;
	slash = strchr(path + n, '/');
	if (slash != NULL && (r->has_arg < 2 || slash[1] == '\0' || strchr(slash + 1, '/')))
		return 0;
	*arg = evhttp_uridecode(path + n, 0, NULL);
	return *arg != NULL;
}

static void
http_allow_header(struct evhttp_request *req, int methods)
{
	char allow[48] = "";
	if (methods & M_GET)
		strcat(allow, "GET, HEAD");
	if (methods & M_POST)
		strcat(allow, allow[0] ? ", POST" : "POST");
	if (methods & M_DELETE)
		strcat(allow, allow[0] ? ", DELETE" : "DELETE");
	if (methods & M_PATCH)
		strcat(allow, allow[0] ? ", PATCH" : "PATCH");
	evhttp_add_header(evhttp_request_get_output_headers(req), "Allow", allow);
}

/* The one entry point for every request: check the token, route, check the method, dispatch. */
static void
http_dispatch(struct evhttp_request *req, void *arg)
{
	struct http *h = arg;
	struct http_req *hr = xcalloc(1, sizeof(*hr));
	const struct evhttp_uri *uri = evhttp_request_get_evhttp_uri(req);
	const char *path = uri ? evhttp_uri_get_path(uri) : NULL;
	enum evhttp_cmd_type cmd = evhttp_request_get_command(req);
	const struct http_route *r = NULL;
	/* /v1/webhooks/ is the ESPs': their signature is the credential, checked by the handler. */
	int api = path != NULL && (strcmp(path, "/v1") == 0 || strncmp(path, "/v1/", 4) == 0) &&
		  strncmp(path, "/v1/webhooks/", 13) != 0;
	size_t max_body = daemon_config(h->d)->max_body_bytes;

	hr->req = req;
	hr->d = h->d;
	hr->start_us = util_mono_us();
	hr->head = cmd == EVHTTP_REQ_HEAD;
	hr->body_len = evbuffer_get_length(evhttp_request_get_input_buffer(req));
	h->inflight++;
	http_conn_hold(h->conns, evhttp_request_get_connection(req), hr);

	/* Under /v1/ the token comes first: without one, no route is told from another. */
	if (api) {
		int role = hr->role = http_role(h, req);
		if (role == ROLE_NONE) {
			http_reply_error(hr, 401, "missing or invalid bearer token", NULL, -1);
			return;
		}
		/* Issue 22: a read token looks; whatever changes state needs an admin. */
		if (role != ROLE_ADMIN && cmd != EVHTTP_REQ_GET && cmd != EVHTTP_REQ_HEAD &&
		    cmd != EVHTTP_REQ_OPTIONS) {
			http_reply_error(hr, 403, "this token may only read (role \"read\")", NULL,
					 -1);
			return;
		}
	}

	if (hr->body_len > max_body) {
		/* A chunked body: its length is known only now (a declared one was checked). */
		char msg[160];
		snprintf(
		    msg, sizeof(msg),
		    "request body of %zu bytes exceeds the limit of %zu bytes (max_body_bytes)",
		    hr->body_len, max_body);
		evhttp_add_header(evhttp_request_get_output_headers(req), "Connection", "close");
		http_reply_error(hr, 413, msg, NULL, -1);
		return;
	}
	if (path != NULL && ui_path(path)) {
		/* Issue 22: the dashboard, with its own sessions (ui.c). */
		ui_dispatch(hr, path, (int)cmd);
		return;
	}
	for (size_t i = 0; path && i < NT_ARRAY_LEN(http_routes); i++)
		if (http_match(&http_routes[i], path, &hr->arg)) {
			r = &http_routes[i];
			break;
		}
	if (r == NULL) {
		http_reply_error(hr, 404, "no such resource", NULL, -1);
		return;
	}
	void (*fn)(struct http_req *) = NULL;
	if ((cmd == EVHTTP_REQ_GET || cmd == EVHTTP_REQ_HEAD) && (r->methods & M_GET))
		fn = r->get;
	else if (cmd == EVHTTP_REQ_POST && (r->methods & M_POST))
		fn = r->post;
	else if (cmd == EVHTTP_REQ_DELETE && (r->methods & M_DELETE))
		fn = r->del;
	else if (cmd == EVHTTP_REQ_PATCH && (r->methods & M_PATCH))
		fn = r->post;
	if (fn == NULL) {
		http_allow_header(req, r->methods);
		http_reply_error(hr, 405, "method not allowed", NULL, -1);
		return;
	}
	if (r->auth && !http_authorized(h, req)) {
		http_reply_error(hr, 401, "missing or invalid bearer token", NULL, -1);
		return;
	}
	if (daemon_stopping(h->d) && r->auth) {
		http_reply_error(hr, 503, "shutting down", NULL, -1);
		return;
	}
	if ((cmd == EVHTTP_REQ_POST || cmd == EVHTTP_REQ_PATCH) && r->auth &&
	    hr->body_len >= HTTP_OFFLOOP_BODY &&
	    http_is_json_type(
		evhttp_find_header(evhttp_request_get_input_headers(req), "Content-Type"))) {
		/*
		 * Parsing a large JSON body takes milliseconds: on the worker, not on the loop. A
		 * body of another type is its handler's: a raw mail for /v1/inbound, or a 415 from
		 * http_body_json.
		 */
		struct http_parse_job *p = xcalloc(1, sizeof(*p));
		p->fn = fn;
		p->len = hr->body_len;
		p->text = xmalloc(p->len);
		evbuffer_remove(evhttp_request_get_input_buffer(req), p->text, p->len);
		http_offload(hr, http_parse_run, http_parse_done, p);
		return;
	}
	fn(hr);
}

int
http_is_patch(struct http_req *hr)
{
	return hr->req != NULL && evhttp_request_get_command(hr->req) == EVHTTP_REQ_PATCH;
}

/* Query parameters are read where a handler needs them: few endpoints take any. */
char *
http_query_param(struct http_req *hr, const char *key)
{
	const struct evhttp_uri *uri = hr->req ? evhttp_request_get_evhttp_uri(hr->req) : NULL;
	const char *q = uri ? evhttp_uri_get_query(uri) : NULL;
	struct evkeyvalq params;
	const char *v;
	char *out = NULL;

	if (q == NULL || evhttp_parse_query_str(q, &params) < 0)
		return NULL;
	v = evhttp_find_header(&params, key);
	if (v != NULL)
		out = xstrdup(v);
	evhttp_clear_headers(&params);
	return out;
}

/* The connection limits of configuration C. */
static void
http_conn_limits_of(const struct config *c, struct http_conn_limits *lim)
{
	lim->max_connections = c->max_connections;
	lim->header_timeout_s = c->header_timeout_s;
	lim->body_timeout_s = c->body_timeout_s;
	lim->max_body = c->max_body_bytes;
}

json_t *
http_query_params(struct http_req *hr)
{
	const struct evhttp_uri *uri = hr->req ? evhttp_request_get_evhttp_uri(hr->req) : NULL;
	const char *q = uri ? evhttp_uri_get_query(uri) : NULL;
	struct evkeyvalq params;
	struct evkeyval *kv;
	json_t *out = json_object();

	if (q == NULL || evhttp_parse_query_str(q, &params) < 0)
		return out;
	for (kv = params.tqh_first; kv != NULL; kv = kv->next.tqe_next)
		json_object_set_new(out, kv->key, json_string(kv->value));
	evhttp_clear_headers(&params);
	return out;
}

struct http *
http_start(struct daemon *d, const char *host, const char *port, char *err, size_t errlen)
{
	struct http *h = xcalloc(1, sizeof(*h));
	const struct config *c = daemon_config(d);
	struct http_conn_limits lim;

	h->d = d;
	h->evh = evhttp_new(daemon_base(d));
	if (h->evh == NULL)
		fatalx("evhttp_new");
	evhttp_set_allowed_methods(h->evh, EVHTTP_REQ_GET | EVHTTP_REQ_HEAD | EVHTTP_REQ_POST |
					       EVHTTP_REQ_DELETE | EVHTTP_REQ_PUT |
					       EVHTTP_REQ_PATCH | EVHTTP_REQ_OPTIONS);
	/* An idle keep-alive connection; a request's own deadlines are http_conn's. */
	evhttp_set_timeout(h->evh, 60);
	http_conn_limits_of(c, &lim);
	h->conns = http_conns_new(daemon_base(d), h->evh, &lim);
	h->trim = evtimer_new(daemon_base(d), http_trim, NULL);
	h->pool = pool_new(daemon_base(d), "http", 1);
	evhttp_set_gencb(h->evh, http_dispatch, h);
	h->sock = evhttp_bind_socket_with_handle(h->evh, host, (ev_uint16_t)atoi(port));
	if (h->sock == NULL) {
		snprintf(err, errlen, "cannot listen on %s:%s (in use, or not an address here)",
			 host, port);
		evhttp_free(h->evh);
		http_conns_free(h->conns);
		event_free(h->trim);
		pool_free(h->pool);
		free(h);
		return NULL;
	}
	http_conns_listen(h->conns, evhttp_bound_socket_get_listener(h->sock));
	return h;
}

void
http_set_limits(struct http *h, const struct config *c)
{
	struct http_conn_limits lim;
	http_conn_limits_of(c, &lim);
	http_conns_set_limits(h->conns, &lim);
}

void
http_stop_accepting(struct http *h)
{
	if (h->sock != NULL) {
		http_conns_unlisten(h->conns);
		evhttp_del_accept_socket(h->evh, h->sock);
		h->sock = NULL;
	}
}

int
http_inflight(struct http *h)
{
	return h->inflight;
}

size_t
http_unflushed(struct http *h)
{
	return http_conns_unflushed(h->conns);
}

size_t
http_connections(struct http *h)
{
	return http_conns_open(h->conns);
}

void
http_free(struct http *h)
{
	if (h == NULL)
		return;
	http_conns_unlisten(h->conns);
	pool_free(h->pool);
	evhttp_free(h->evh);
	http_conns_free(h->conns);
	event_free(h->trim);
	free(h);
}
