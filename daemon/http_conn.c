#include "http_conn.h"

#include <errno.h>
#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>
#include <event2/http.h>
#include <event2/listener.h>
#include <glib.h>
#include <jansson.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#include "http.h"
#include "log.h"
#include "metrics.h"
#include "util.h"

/* The request line's target, and the whole head (request line and header fields). */
#define HTTP_MAX_URI (8 * 1024)
#define HTTP_MAX_HEAD (32 * 1024)
/* A chunk-size line or a trailer line. */
#define HTTP_MAX_LINE 1024
/* How long a refused request's connection is read (and dropped) so the client reads the answer. */
#define HTTP_LINGER_MS 2000
/* After accept fails (no descriptors left), accepting pauses this long. */
#define HTTP_ACCEPT_PAUSE_MS 100
/* Descriptors kept for the store, plugins and logs when max_connections is clamped. */
#define HTTP_FD_RESERVE 32

enum conn_state {
	CONN_HEAD,	 /* reading a request's head */
	CONN_BODY,	 /* a body of a known length */
	CONN_CHUNK_LINE, /* a chunk-size line */
	CONN_CHUNK_DATA, /* a chunk's data */
	CONN_CHUNK_END,	 /* the CRLF after a chunk's data */
	CONN_TRAILER,	 /* trailer lines, until an empty one */
	CONN_WAIT,	 /* a whole request read; the next byte starts the next head */
	CONN_LINGER,	 /* answered with an error: reading and dropping, then closing */
};

struct http_conns {
	struct event_base *base;
	struct evhttp *evh;
	struct evconnlistener *lev;
	struct http_conn_limits lim;
	size_t max_conns; /* effective: lim.max_connections clamped to RLIMIT_NOFILE */
	size_t n_conns;
	GHashTable *by_evcon;  /* evhttp_connection -> http_conn */
	int paused_full;       /* accepting paused: max_conns open */
	int paused_error;      /* accepting paused: accept failed (EMFILE) */
	struct event *resume;  /* ends paused_error */
	struct http_conn *all; /* every connection, for http_conns_free */
	struct log_ratelimit rl_accept, rl_full;
};

struct http_conn {
	struct http_conns *cs;
	struct bufferevent *bev;
	struct evhttp_connection *evcon; /* NULL until attached */
	struct evbuffer_cb_entry *tap;
	struct event *timer; /* attach, then the head, body and linger deadlines */
	struct http_conn *prev, *next;
	enum conn_state state;
	int attached;
	int refused; /* accepted past max_conns: answered 503 at attach */
	int wr_shut;
	struct http_req *hr; /* the request waiting for its answer, if any */
	GString *head;	     /* the current request's head as read so far */
	size_t line_len;     /* bytes of the current line (CR not counted) */
	uint64_t left;	     /* body or chunk bytes still to come */
	uint64_t body_seen;  /* raw body bytes of the current request */
	char size_line[64];  /* the start of a chunk-size line */
};

struct conn_error {
	int code;
	char msg[256];
};

static void conn_timer_cb(evutil_socket_t fd, short what, void *arg);
static void conn_closed_cb(struct evhttp_connection *evcon, void *arg);

static void
conns_update_accepting(struct http_conns *cs)
{
	int want;

	if (cs->lev == NULL)
		return;
	cs->paused_full = cs->n_conns >= cs->max_conns;
	want = !cs->paused_full && !cs->paused_error;
	if (want)
		evconnlistener_enable(cs->lev);
	else
		evconnlistener_disable(cs->lev);
}

/* Counts the descriptors open now (the store, the log, the loop's own), for the clamp. */
static size_t
conns_fds_open(void)
{
	size_t n = 0;
	GDir *dir = g_dir_open("/proc/self/fd", 0, NULL);
	if (dir == NULL)
		return 64;
	while (g_dir_read_name(dir) != NULL)
		n++;
	g_dir_close(dir);
	return n;
}

/* max_connections, but never more than the descriptor limit leaves room for. */
static void
conns_clamp(struct http_conns *cs)
{
	struct rlimit rl;
	size_t max = cs->lim.max_connections;

	if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur != RLIM_INFINITY) {
		size_t reserve = conns_fds_open() + HTTP_FD_RESERVE;
		size_t room = rl.rlim_cur > reserve ? (size_t)rl.rlim_cur - reserve : 1;
		if (room < max) {
			log_warnx("http: max_connections %zu does not fit the descriptor limit "
				  "(RLIMIT_NOFILE %llu); accepting at most %zu connections",
				  max, (unsigned long long)rl.rlim_cur, room);
			max = room;
		}
	}
	cs->max_conns = max;
}

/*
 * An answer of our own, written straight to the socket: evhttp is not writing (it reads).
 * Returns 1 when it went out whole that way.
 */
static int
conn_send_error(struct http_conn *c, int code, const char *msg)
{
	struct evbuffer *out = bufferevent_get_output(c->bev);
	json_t *body = json_pack("{s:s}", "error", msg);
	char *text = json_dumps(body, JSON_COMPACT);
	const char *reason = code == 408   ? "Request Timeout"
			     : code == 413 ? "Payload Too Large"
			     : code == 414 ? "URI Too Long"
			     : code == 431 ? "Request Header Fields Too Large"
			     : code == 501 ? "Not Implemented"
			     : code == 503 ? "Service Unavailable"
					   : "Bad Request";
	char *resp = xasprintf("HTTP/1.1 %d %s\r\nContent-Type: application/json\r\n"
			       "Content-Length: %zu\r\nConnection: close\r\n%s\r\n%s\n",
			       code, reason, strlen(text) + 1,
			       code == 503 ? "Retry-After: 1\r\n" : "", text);
	size_t len = strlen(resp);

	json_decref(body);
	free(text);
	if (code < 500)
		metrics_inc(M_HTTP_4XX, 1);
	else
		metrics_inc(M_HTTP_5XX, 1);
	if (c->hr != NULL) {
		/* An answer for an earlier pipelined request is due first: just close after it. */
	} else if (evbuffer_get_length(out) > 0) {
		evbuffer_add(out, resp, len); /* after what evhttp is writing (100 Continue) */
	} else {
		evutil_socket_t fd = bufferevent_getfd(c->bev);
		/* The socket's send buffer is empty: a few hundred bytes go out whole. */
		ssize_t sent = fd >= 0 ? send(fd, resp, len, MSG_NOSIGNAL | MSG_DONTWAIT) : -1;
		free(resp);
		return sent == (ssize_t)len;
	}
	free(resp);
	return 0;
}

/* Ends the connection: evhttp reads EOF and frees it (and us, through the close callback). */
static void
conn_shutdown(struct http_conn *c, int how)
{
	evutil_socket_t fd = bufferevent_getfd(c->bev);
	if (fd >= 0)
		shutdown(fd, how);
}

/*
 * Refuses the request being read: the JSON answer, then the rest is read and dropped until the
 * client has sent what it declared (so that it reads the answer instead of a reset), or
 * HTTP_LINGER_MS passed, and the connection is closed.
 */
static void
conn_refuse(struct http_conn *c, const struct conn_error *e)
{
	struct timeval tv = {HTTP_LINGER_MS / 1000, (HTTP_LINGER_MS % 1000) * 1000};

	log_debug("http: refused a request with %d: %s", e->code, e->msg);
	/* Sent whole to the socket: end our side now (a FIN, not a reset), read on a while. */
	if (conn_send_error(c, e->code, e->msg)) {
		conn_shutdown(c, SHUT_WR);
		c->wr_shut = 1;
	}
	c->state = CONN_LINGER;
	evtimer_add(c->timer, &tv);
}

static void
conn_arm(struct http_conn *c, int seconds)
{
	struct timeval tv = {seconds, 0};
	evtimer_add(c->timer, &tv);
}

static const char *
conn_trim(char *s)
{
	char *e;
	while (*s == ' ' || *s == '\t')
		s++;
	e = s + strlen(s);
	while (e > s && (e[-1] == ' ' || e[-1] == '\t'))
		*--e = '\0';
	return s;
}

/*
 * Checks a complete head (request line and fields) and sets up reading the body. Returns -1
 * with E filled in when it is refused.
 */
static int
conn_check_head(struct http_conn *c, struct conn_error *e)
{
	static const char *methods[] = {"GET", "HEAD", "POST", "DELETE", "PUT", "PATCH", "OPTIONS"};
	char *head = c->head->str, *line, *save = NULL;
	const char *cl = NULL, *te = NULL;
	int known = 0, first = 1;
	uint64_t length = 0;

	if (memchr(head, '\0', c->head->len) != NULL) {
		e->code = 400;
		snprintf(e->msg, sizeof(e->msg), "request head contains a NUL byte");
		return -1;
	}
	for (line = strtok_r(head, "\n", &save); line != NULL; line = strtok_r(NULL, "\n", &save)) {
		size_t n = strlen(line);
		if (n > 0 && line[n - 1] == '\r')
			line[--n] = '\0';
		if (first) {
			char *sp1 = strchr(line, ' '), *sp2 = sp1 ? strchr(sp1 + 1, ' ') : NULL;
			first = 0;
			if (sp1 == NULL || sp2 == NULL || strchr(sp2 + 1, ' ') != NULL) {
				e->code = 400;
				snprintf(e->msg, sizeof(e->msg),
					 "malformed request line; expected METHOD TARGET HTTP/1.1");
				return -1;
			}
			*sp1 = *sp2 = '\0';
			for (size_t i = 0; i < NT_ARRAY_LEN(methods); i++)
				known |= strcmp(line, methods[i]) == 0;
			if (!known) {
				e->code = 501;
				snprintf(e->msg, sizeof(e->msg), "method not implemented");
				return -1;
			}
			if (strcmp(sp2 + 1, "HTTP/1.1") != 0 && strcmp(sp2 + 1, "HTTP/1.0") != 0) {
				e->code = 400;
				snprintf(e->msg, sizeof(e->msg),
					 "unsupported HTTP version; expected HTTP/1.1 or HTTP/1.0");
				return -1;
			}
			if (strlen(sp1 + 1) > HTTP_MAX_URI) {
				e->code = 414;
				snprintf(e->msg, sizeof(e->msg),
					 "request target longer than %d bytes", HTTP_MAX_URI);
				return -1;
			}
			struct evhttp_uri *u =
			    evhttp_uri_parse_with_flags(sp1 + 1, EVHTTP_URI_NONCONFORMANT);
			if (u == NULL) {
				e->code = 400;
				snprintf(e->msg, sizeof(e->msg), "malformed request target");
				return -1;
			}
			evhttp_uri_free(u);
			continue;
		}
		if (n == 0)
			break;
		if (line[0] == ' ' || line[0] == '\t')
			continue; /* an obsolete folded continuation; evhttp joins it */
		char *colon = strchr(line, ':');
		const char *ws = strpbrk(line, " \t");
		if (colon == NULL || colon == line || (ws != NULL && ws < colon)) {
			e->code = 400;
			snprintf(e->msg, sizeof(e->msg), "malformed header field line");
			return -1;
		}
		*colon = '\0';
		const char *value = conn_trim(colon + 1);
		if (strcasecmp(line, "Content-Length") == 0) {
			if (cl != NULL && strcmp(cl, value) != 0) {
				e->code = 400;
				snprintf(e->msg, sizeof(e->msg),
					 "conflicting Content-Length header fields");
				return -1;
			}
			cl = value;
		} else if (strcasecmp(line, "Transfer-Encoding") == 0) {
			if (te != NULL) {
				e->code = 400;
				snprintf(e->msg, sizeof(e->msg),
					 "more than one Transfer-Encoding header field");
				return -1;
			}
			te = value;
		}
	}
	if (cl != NULL && te != NULL) {
		e->code = 400;
		snprintf(e->msg, sizeof(e->msg),
			 "both Content-Length and Transfer-Encoding; send one of them");
		return -1;
	}
	if (te != NULL) {
		if (strcasecmp(te, "chunked") != 0) {
			e->code = 501;
			snprintf(e->msg, sizeof(e->msg),
				 "unsupported Transfer-Encoding; only chunked is accepted");
			return -1;
		}
		c->state = CONN_CHUNK_LINE;
		c->line_len = 0;
		c->body_seen = 0;
		conn_arm(c, c->cs->lim.body_timeout_s);
		return 0;
	}
	if (cl != NULL) {
		const char *p = cl;
		int digits = 0;
		for (; *p >= '0' && *p <= '9'; p++, digits++)
			if (digits < 19)
				length = length * 10 + (uint64_t)(*p - '0');
		if (digits == 0 || *p != '\0') {
			e->code = 400;
			snprintf(e->msg, sizeof(e->msg),
				 "invalid Content-Length; expected a non-negative decimal number");
			return -1;
		}
		if (digits >= 19 || length > c->cs->lim.max_body) {
			e->code = 413;
			snprintf(e->msg, sizeof(e->msg),
				 "request body of %s bytes exceeds the limit of %zu bytes "
				 "(max_body_bytes)",
				 cl, c->cs->lim.max_body);
			return -1;
		}
	}
	c->body_seen = 0;
	if (length > 0) {
		c->state = CONN_BODY;
		c->left = length;
		conn_arm(c, c->cs->lim.body_timeout_s);
	} else {
		c->state = CONN_WAIT;
		evtimer_del(c->timer);
	}
	return 0;
}

static int
conn_line_too_long(struct http_conn *c, struct conn_error *e)
{
	if (c->line_len <= HTTP_MAX_LINE)
		return 0;
	e->code = 400;
	snprintf(e->msg, sizeof(e->msg), "chunked body: a line longer than %d bytes",
		 HTTP_MAX_LINE);
	return 1;
}

/*
 * Follows the request framing over N new bytes at P. Returns -1 with E filled in when the
 * request is refused.
 */
static int
conn_feed(struct http_conn *c, const char *p, size_t n, struct conn_error *e)
{
	size_t i = 0;

	while (i < n) {
		switch (c->state) {
		case CONN_WAIT:
			c->state = CONN_HEAD;
			g_string_truncate(c->head, 0);
			c->line_len = 0;
			conn_arm(c, c->cs->lim.header_timeout_s);
			break;
		case CONN_HEAD: {
			int end = 0;
			/* Empty lines before a request line are ignored (RFC 9112 2.2). */
			while (c->head->len == 0 && i < n && (p[i] == '\r' || p[i] == '\n'))
				i++;
			size_t start = i;
			for (; i < n && !end; i++) {
				if (p[i] == '\n') {
					end = c->line_len == 0;
					c->line_len = 0;
				} else if (p[i] != '\r')
					c->line_len++;
			}
			g_string_append_len(c->head, p + start, (gssize)(i - start));
			if (!end && memchr(c->head->str, '\n', c->head->len) == NULL &&
			    c->head->len > HTTP_MAX_URI + 64) {
				e->code = 414;
				snprintf(e->msg, sizeof(e->msg),
					 "request target longer than %d bytes", HTTP_MAX_URI);
				return -1;
			}
			if (c->head->len > HTTP_MAX_HEAD) {
				e->code = 431;
				snprintf(e->msg, sizeof(e->msg),
					 "request head (request line and header fields) longer "
					 "than %d bytes",
					 HTTP_MAX_HEAD);
				return -1;
			}
			if (end && conn_check_head(c, e) < 0)
				return -1;
			break;
		}
		case CONN_BODY: {
			size_t take = n - i < c->left ? n - i : (size_t)c->left;
			c->left -= take;
			i += take;
			if (c->left == 0) {
				c->state = CONN_WAIT;
				evtimer_del(c->timer);
			}
			break;
		}
		case CONN_CHUNK_LINE:
		case CONN_CHUNK_END:
		case CONN_TRAILER:
			for (; i < n; i++) {
				c->body_seen++;
				if (p[i] != '\n') {
					if (p[i] != '\r' && c->state == CONN_CHUNK_LINE &&
					    c->line_len < sizeof(c->size_line) - 1)
						c->size_line[c->line_len] = p[i];
					if (p[i] != '\r')
						c->line_len++;
					if (conn_line_too_long(c, e))
						return -1;
					continue;
				}
				i++;
				if (c->state == CONN_CHUNK_END) {
					c->state = CONN_CHUNK_LINE;
				} else if (c->state == CONN_TRAILER) {
					if (c->line_len == 0) {
						c->state = CONN_WAIT;
						evtimer_del(c->timer);
					}
				} else {
					char *endp, *sl = c->size_line;
					size_t sn = c->line_len < sizeof(c->size_line) - 1
							? c->line_len
							: sizeof(c->size_line) - 1;
					sl[sn] = '\0';
					unsigned long long sz = strtoull(sl, &endp, 16);
					if (endp == sl || !g_ascii_isxdigit(sl[0]) ||
					    (*endp != '\0' && *endp != ';' && *endp != ' ' &&
					     *endp != '\t')) {
						e->code = 400;
						snprintf(e->msg, sizeof(e->msg),
							 "chunked body: malformed chunk size");
						return -1;
					}
					c->state = sz == 0 ? CONN_TRAILER : CONN_CHUNK_DATA;
					c->left = sz;
				}
				c->line_len = 0;
				break;
			}
			break;
		case CONN_CHUNK_DATA: {
			size_t take = n - i < c->left ? n - i : (size_t)c->left;
			c->left -= take;
			c->body_seen += take;
			i += take;
			if (c->left == 0)
				c->state = CONN_CHUNK_END;
			break;
		}
		case CONN_LINGER:
			return 0;
		}
		/* The framing (chunk sizes, trailers) costs a little; the data is what counts. */
		if (c->body_seen > c->cs->lim.max_body + c->cs->lim.max_body / 8 + 4096) {
			e->code = 413;
			snprintf(e->msg, sizeof(e->msg),
				 "request body exceeds the limit of %zu bytes (max_body_bytes)",
				 c->cs->lim.max_body);
			return -1;
		}
	}
	return 0;
}

/* Sees every byte as it arrives, before evhttp parses it. */
static void
conn_tap(struct evbuffer *buf, const struct evbuffer_cb_info *info, void *arg)
{
	struct http_conn *c = arg;
	struct evbuffer_ptr pos;
	struct evbuffer_iovec stackv[8], *v = stackv;
	struct conn_error e = {0, ""};
	size_t len = evbuffer_get_length(buf);
	int nv, refused = 0;

	if (info->n_added == 0 || info->n_added > len)
		return;
	if (c->state == CONN_LINGER) {
		conn_feed(c, NULL, info->n_added, &e);
		evbuffer_drain(buf, len);
		return;
	}
	if (evbuffer_ptr_set(buf, &pos, len - info->n_added, EVBUFFER_PTR_SET) < 0)
		return;
	nv = evbuffer_peek(buf, (ev_ssize_t)info->n_added, &pos, NULL, 0);
	if (nv > (int)NT_ARRAY_LEN(stackv))
		v = xcalloc((size_t)nv, sizeof(*v));
	nv = evbuffer_peek(buf, (ev_ssize_t)info->n_added, &pos, v, nv);
	size_t done = 0;
	for (int i = 0; i < nv && done < info->n_added && !refused; i++) {
		size_t take = v[i].iov_len;
		if (take > info->n_added - done)
			take = info->n_added - done;
		if (conn_feed(c, v[i].iov_base, take, &e) < 0)
			refused = 1;
		done += take;
	}
	if (v != stackv)
		free(v);
	if (refused) {
		conn_refuse(c, &e);
		evbuffer_drain(buf, len); /* evhttp never sees the refused request */
	}
}

/*
 * Deferred from the accept: by now evhttp has made its connection object. libevent 2.1 has no
 * hook for a new connection (2.2's newreqcb) and no way to answer its errors ourselves
 * (errorcb): the connection is found as the argument evhttp gave its bufferevent callbacks
 * (bufferevent_getcb), and its close callback, kept for its whole life, counts it out. (A
 * bufferevent filter under evhttp_set_bevcb, the other way in, lost requests with 2.1.12.)
 */
static void
conn_attach(struct http_conn *c)
{
	struct http_conns *cs = c->cs;
	void *cbarg = NULL;

	c->attached = 1;
	bufferevent_getcb(c->bev, NULL, NULL, NULL, &cbarg);
	c->evcon = cbarg;
	if (c->evcon != NULL) {
		evhttp_connection_set_closecb(c->evcon, conn_closed_cb, c);
		g_hash_table_insert(cs->by_evcon, c->evcon, c);
	}
	if (c->refused) {
		struct conn_error e = {503, ""};
		snprintf(e.msg, sizeof(e.msg),
			 "too many connections (max_connections %zu); retry later", cs->max_conns);
		conn_refuse(c, &e);
		return;
	}
	conn_arm(c, cs->lim.header_timeout_s);
}

static void
conn_timer_cb(evutil_socket_t fd, short what, void *arg)
{
	struct http_conn *c = arg;
	struct conn_error e = {408, ""};
	(void)fd;
	(void)what;

	if (!c->attached) {
		conn_attach(c);
		return;
	}
	if (c->hr != NULL && c->state != CONN_LINGER) {
		/* A pipelined request waits behind one being answered: its clock starts after. */
		conn_arm(c, 1);
		return;
	}
	switch (c->state) {
	case CONN_HEAD:
		snprintf(e.msg, sizeof(e.msg),
			 "request head not complete within %d s (header_timeout)",
			 c->cs->lim.header_timeout_s);
		break;
	case CONN_BODY:
	case CONN_CHUNK_LINE:
	case CONN_CHUNK_DATA:
	case CONN_CHUNK_END:
	case CONN_TRAILER:
		snprintf(e.msg, sizeof(e.msg),
			 "request body not complete within %d s (body_timeout)",
			 c->cs->lim.body_timeout_s);
		break;
	case CONN_LINGER:
		conn_shutdown(c, SHUT_RDWR);
		return;
	case CONN_WAIT:
		return;
	}
	/* A slow client gets its answer, and its descriptor back soon after. */
	conn_send_error(c, e.code, e.msg);
	conn_shutdown(c, SHUT_WR);
	c->wr_shut = 1;
	c->state = CONN_LINGER;
	struct timeval tv = {1, 0};
	evtimer_add(c->timer, &tv);
}

static void
conn_free(struct http_conn *c)
{
	struct http_conns *cs = c->cs;

	if (c->hr != NULL) {
		c->hr->req = NULL;
		c->hr->conn = NULL;
	}
	if (c->tap != NULL)
		evbuffer_remove_cb_entry(bufferevent_get_input(c->bev), c->tap);
	if (c->evcon != NULL)
		g_hash_table_remove(cs->by_evcon, c->evcon);
	event_free(c->timer);
	g_string_free(c->head, TRUE);
	if (c->prev != NULL)
		c->prev->next = c->next;
	else
		cs->all = c->next;
	if (c->next != NULL)
		c->next->prev = c->prev;
	free(c);
	cs->n_conns--;
	conns_update_accepting(cs);
}

static void
conn_closed_cb(struct evhttp_connection *evcon, void *arg)
{
	(void)evcon;
	conn_free(arg);
}

/* evhttp asks for each accepted connection's bufferevent: the connection is counted here. */
static struct bufferevent *
conns_bevcb(struct event_base *base, void *arg)
{
	struct http_conns *cs = arg;
	struct http_conn *c = xcalloc(1, sizeof(*c));

	c->cs = cs;
	c->bev = bufferevent_socket_new(base, -1, BEV_OPT_CLOSE_ON_FREE);
	c->head = g_string_sized_new(512);
	c->timer = evtimer_new(base, conn_timer_cb, c);
	c->state = CONN_HEAD;
	c->tap = evbuffer_add_cb(bufferevent_get_input(c->bev), conn_tap, c);
	c->next = cs->all;
	if (cs->all != NULL)
		cs->all->prev = c;
	cs->all = c;
	cs->n_conns++;
	if (cs->n_conns > cs->max_conns)
		c->refused = 1; /* accepted in the same batch as the last allowed one */
	if (cs->n_conns >= cs->max_conns && !cs->paused_full) {
		unsigned long held;
		if (log_ratelimit_allow(&cs->rl_full, &held))
			log_warnx("http: %zu connections open (max_connections); not accepting "
				  "until one closes (%lu similar messages held back)",
				  cs->n_conns, held);
	}
	conns_update_accepting(cs);
	/* evhttp sets its callbacks on the bufferevent after this returns: attach then. */
	event_active(c->timer, EV_TIMEOUT, 0);
	return c->bev;
}

static void
conns_resume_cb(evutil_socket_t fd, short what, void *arg)
{
	struct http_conns *cs = arg;
	(void)fd;
	(void)what;
	cs->paused_error = 0;
	conns_update_accepting(cs);
}

static struct http_conns *conns_registry; /* one server a process; for the error callback */

/* accept failed (EMFILE, ENFILE, ENOBUFS): pause accepting instead of retrying at once. */
static void
conns_accept_error(struct evconnlistener *lev, void *arg)
{
	struct http_conns *cs = conns_registry;
	struct timeval tv = {0, HTTP_ACCEPT_PAUSE_MS * 1000};
	int err = EVUTIL_SOCKET_ERROR();
	unsigned long held;
	(void)arg;

	if (cs == NULL || cs->lev != lev)
		return;
	if (log_ratelimit_allow(&cs->rl_accept, &held))
		log_warnx("http: accept: %s (%zu connections open); pausing accepts for %d ms "
			  "(%lu similar messages held back)",
			  strerror(err), cs->n_conns, HTTP_ACCEPT_PAUSE_MS, held);
	cs->paused_error = 1;
	conns_update_accepting(cs);
	evtimer_add(cs->resume, &tv);
}

struct http_conns *
http_conns_new(struct event_base *base, struct evhttp *evh, const struct http_conn_limits *lim)
{
	struct http_conns *cs = xcalloc(1, sizeof(*cs));

	cs->base = base;
	cs->evh = evh;
	cs->lim = *lim;
	cs->by_evcon = g_hash_table_new(g_direct_hash, g_direct_equal);
	cs->resume = evtimer_new(base, conns_resume_cb, cs);
	cs->rl_accept.interval_ms = 10000;
	cs->rl_full.interval_ms = 10000;
	conns_clamp(cs);
	evhttp_set_bevcb(evh, conns_bevcb, cs);
	/* The limits are ours; libevent's would answer with HTML pages. */
	evhttp_set_max_headers_size(evh, 4 * HTTP_MAX_HEAD);
	evhttp_set_max_body_size(evh, -1);
	conns_registry = cs;
	return cs;
}

void
http_conns_listen(struct http_conns *cs, struct evconnlistener *lev)
{
	cs->lev = lev;
	evconnlistener_set_error_cb(lev, conns_accept_error);
	conns_update_accepting(cs);
}

void
http_conns_unlisten(struct http_conns *cs)
{
	cs->lev = NULL;
	evtimer_del(cs->resume);
}

void
http_conns_set_limits(struct http_conns *cs, const struct http_conn_limits *lim)
{
	int clamp = lim->max_connections != cs->lim.max_connections;
	cs->lim = *lim;
	if (clamp)
		conns_clamp(cs);
	conns_update_accepting(cs);
}

size_t
http_conns_open(const struct http_conns *cs)
{
	return cs->n_conns;
}

/*
 * Connections with answer bytes not yet written to their socket: a stop waits for them, or
 * evhttp_free would close a connection whose 202 is still in its output buffer.
 */
size_t
http_conns_unflushed(const struct http_conns *cs)
{
	size_t n = 0;
	for (const struct http_conn *c = cs->all; c != NULL; c = c->next)
		if (c->bev != NULL && evbuffer_get_length(bufferevent_get_output(c->bev)) > 0)
			n++;
	return n;
}

void
http_conns_free(struct http_conns *cs)
{
	if (cs == NULL)
		return;
	/* evhttp_free closed what it had; these never reached it (their bufferevent is gone). */
	while (cs->all != NULL) {
		cs->all->tap = NULL;
		conn_free(cs->all);
	}
	event_free(cs->resume);
	g_hash_table_destroy(cs->by_evcon);
	if (conns_registry == cs)
		conns_registry = NULL;
	free(cs);
}

void
http_conn_hold(struct http_conns *cs, struct evhttp_connection *evcon, struct http_req *hr)
{
	struct http_conn *c = g_hash_table_lookup(cs->by_evcon, evcon);
	hr->conn = c;
	if (c != NULL)
		c->hr = hr;
}

void
http_conn_release(struct http_req *hr)
{
	if (hr->conn != NULL)
		hr->conn->hr = NULL;
	hr->conn = NULL;
}
