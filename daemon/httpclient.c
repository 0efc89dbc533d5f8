/*
 * libcurl multi on libevent (the shape of curl's docs/examples/multi-event.c): curl tells us
 * which sockets to watch (CURLMOPT_SOCKETFUNCTION) and when to wake it (CURLMOPT_TIMERFUNCTION);
 * libevent watches them and hands readiness back with curl_multi_socket_action. Finished
 * transfers are taken off the multi handle right after curl_multi_socket_action returns and
 * reported from a separate event, so that `done` never runs inside libcurl or inside
 * httpclient_request, and a `done` that starts the next request is safe.
 */
#include "httpclient.h"

#include <ctype.h>
#include <curl/curl.h>
#include <event2/event.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/queue.h>
#include <time.h>

#include "log.h"
#include "util.h"

/* What a response body is cut to: a receiver's error text, not a download. */
#define HTTPCLIENT_BODY_MAX (64 * 1024)

struct httpclient_sock {
	struct httpclient *hc;
	curl_socket_t fd;
	struct event *ev;
	LIST_ENTRY(httpclient_sock) link;
};

struct httpclient_xfer {
	struct httpclient *hc;
	CURL *easy;
	struct curl_slist *headers;
	nt_http_done_fn done;
	void *arg;
	char errbuf[CURL_ERROR_SIZE];
	char *body;
	size_t body_len;
	/* Filled when the transfer finished, before its easy handle leaves the multi. */
	CURLcode result;
	long status;
	long retry_after_s;
	TAILQ_ENTRY(httpclient_xfer) link;
};
TAILQ_HEAD(httpclient_xfers, httpclient_xfer);

struct httpclient {
	struct event_base *base;
	CURLM *multi;
	struct event *timer;   /* curl's one timeout, re-armed on each request of curl */
	struct event *done_ev; /* reports finished transfers, outside libcurl */
	struct httpclient_xfers running;
	struct httpclient_xfers finished;
	LIST_HEAD(, httpclient_sock) socks;
	int n;
};

void
httpclient_global_init(void)
{
	CURLcode rc = curl_global_init(CURL_GLOBAL_DEFAULT);
	if (rc != CURLE_OK)
		fatalx("curl_global_init: %s", curl_easy_strerror(rc));
}

int
httpclient_inflight(const struct httpclient *hc)
{
	return hc->n;
}

/* Retry-After as seconds from now: delta-seconds or an HTTP-date (RFC 9110 10.2.3); -1 if none. */
static long
httpclient_retry_after(CURL *easy)
{
	struct curl_header *h = NULL;
	const char *v;
	char *end;

	if (curl_easy_header(easy, "Retry-After", 0, CURLH_HEADER, -1, &h) != CURLHE_OK ||
	    h == NULL || h->value == NULL)
		return -1;
	v = h->value;
	while (*v == ' ' || *v == '\t')
		v++;
	if (isdigit((unsigned char)*v)) {
		long s = strtol(v, &end, 10);
		while (*end == ' ' || *end == '\t')
			end++;
		return *end == '\0' && s >= 0 ? s : -1;
	}
	time_t t = curl_getdate(v, NULL);
	if (t == (time_t)-1)
		return -1;
	time_t now = time(NULL);
	return t > now ? (long)(t - now) : 0;
}

static void
httpclient_xfer_free(struct httpclient_xfer *x)
{
	if (x->easy != NULL)
		curl_easy_cleanup(x->easy);
	curl_slist_free_all(x->headers);
	free(x->body);
	free(x);
}

/* Reports finished transfers; a `done` may start new ones, which land on the running list. */
static void
httpclient_report(evutil_socket_t fd, short what, void *arg)
{
	struct httpclient *hc = arg;
	struct httpclient_xfer *x;
	(void)fd;
	(void)what;

	while ((x = TAILQ_FIRST(&hc->finished)) != NULL) {
		TAILQ_REMOVE(&hc->finished, x, link);
		hc->n--;
		struct nt_http_response r = {.status = x->status,
					     .body = x->body ? x->body : "",
					     .body_len = x->body_len,
					     .retry_after_s = x->retry_after_s};
		if (x->result != CURLE_OK) {
			r.status = 0;
			r.timed_out = x->result == CURLE_OPERATION_TIMEDOUT;
			r.error = x->errbuf[0] ? x->errbuf : curl_easy_strerror(x->result);
		}
		x->done(x->arg, &r);
		httpclient_xfer_free(x);
	}
}

/*
 * Takes every finished transfer off the multi handle. Runs only from our event callbacks,
 * after curl_multi_socket_action returned: never inside a libcurl callback.
 */
static void
httpclient_collect(struct httpclient *hc)
{
	CURLMsg *m;
	int left, any = 0;

	while ((m = curl_multi_info_read(hc->multi, &left)) != NULL) {
		if (m->msg != CURLMSG_DONE)
			continue;
		/* The message dies with curl_multi_remove_handle: copy first. */
		CURL *easy = m->easy_handle;
		CURLcode result = m->data.result;
		struct httpclient_xfer *x = NULL;
		curl_easy_getinfo(easy, CURLINFO_PRIVATE, (char **)&x);
		x->result = result;
		curl_easy_getinfo(easy, CURLINFO_RESPONSE_CODE, &x->status);
		x->retry_after_s = httpclient_retry_after(easy);
		curl_multi_remove_handle(hc->multi, easy);
		TAILQ_REMOVE(&hc->running, x, link);
		TAILQ_INSERT_TAIL(&hc->finished, x, link);
		any = 1;
	}
	if (any)
		event_active(hc->done_ev, EV_TIMEOUT, 0);
}

/* A watched socket is ready: tell curl which way, then see what finished. */
static void
httpclient_sock_ready(evutil_socket_t fd, short what, void *arg)
{
	struct httpclient_sock *s = arg;
	struct httpclient *hc = s->hc; /* s may be freed inside curl_multi_socket_action */
	int action =
	    (what & EV_READ ? CURL_CSELECT_IN : 0) | (what & EV_WRITE ? CURL_CSELECT_OUT : 0);
	int running;

	curl_multi_socket_action(hc->multi, fd, action, &running);
	httpclient_collect(hc);
}

/* curl's timeout expired (or it asked for an immediate call): let it run its timers. */
static void
httpclient_timer_fired(evutil_socket_t fd, short what, void *arg)
{
	struct httpclient *hc = arg;
	int running;
	(void)fd;
	(void)what;

	curl_multi_socket_action(hc->multi, CURL_SOCKET_TIMEOUT, 0, &running);
	httpclient_collect(hc);
}

/*
 * CURLMOPT_TIMERFUNCTION: only re-arms our one timer (even for 0 ms); calling libcurl from
 * here would re-enter it.
 */
static int
httpclient_timer_cb(CURLM *multi, long timeout_ms, void *userp)
{
	struct httpclient *hc = userp;
	(void)multi;

	if (timeout_ms < 0) {
		evtimer_del(hc->timer);
		return 0;
	}
	struct timeval tv = {timeout_ms / 1000, (timeout_ms % 1000) * 1000};
	evtimer_add(hc->timer, &tv);
	return 0;
}

/*
 * CURLMOPT_SOCKETFUNCTION: one context per socket, kept with curl_multi_assign. REMOVE means
 * "stop watching", not "closed": the same fd may come back, and gets a fresh context.
 */
static int
httpclient_sock_cb(CURL *easy, curl_socket_t fd, int what, void *userp, void *sockp)
{
	struct httpclient *hc = userp;
	struct httpclient_sock *s = sockp;
	(void)easy;

	if (what == CURL_POLL_REMOVE) {
		if (s != NULL) {
			LIST_REMOVE(s, link);
			event_free(s->ev);
			free(s);
			curl_multi_assign(hc->multi, fd, NULL);
		}
		return 0;
	}
	if (s == NULL) {
		s = xcalloc(1, sizeof(*s));
		s->hc = hc;
		s->fd = fd;
		s->ev = event_new(hc->base, fd, 0, httpclient_sock_ready, s);
		LIST_INSERT_HEAD(&hc->socks, s, link);
		curl_multi_assign(hc->multi, fd, s);
	}
	/* Re-assigning is safe once deleted (not pending, not active). */
	short kind = EV_PERSIST | (what & CURL_POLL_IN ? EV_READ : 0) |
		     (what & CURL_POLL_OUT ? EV_WRITE : 0);
	event_del(s->ev);
	event_assign(s->ev, hc->base, fd, kind, httpclient_sock_ready, s);
	event_add(s->ev, NULL);
	return 0;
}

struct httpclient *
httpclient_new(struct event_base *base)
{
	struct httpclient *hc = xcalloc(1, sizeof(*hc));

	hc->base = base;
	hc->multi = curl_multi_init();
	if (hc->multi == NULL)
		fatalx("curl_multi_init failed");
	TAILQ_INIT(&hc->running);
	TAILQ_INIT(&hc->finished);
	LIST_INIT(&hc->socks);
	hc->timer = evtimer_new(base, httpclient_timer_fired, hc);
	hc->done_ev = event_new(base, -1, 0, httpclient_report, hc);
	curl_multi_setopt(hc->multi, CURLMOPT_SOCKETFUNCTION, httpclient_sock_cb);
	curl_multi_setopt(hc->multi, CURLMOPT_SOCKETDATA, hc);
	curl_multi_setopt(hc->multi, CURLMOPT_TIMERFUNCTION, httpclient_timer_cb);
	curl_multi_setopt(hc->multi, CURLMOPT_TIMERDATA, hc);
	return hc;
}

/* Abandons transfers without `done`; the multi goes before the events it may still touch. */
void
httpclient_free(struct httpclient *hc)
{
	struct httpclient_xfer *x;
	struct httpclient_sock *s;

	if (hc == NULL)
		return;
	while ((x = TAILQ_FIRST(&hc->running)) != NULL) {
		TAILQ_REMOVE(&hc->running, x, link);
		curl_multi_remove_handle(hc->multi, x->easy);
		httpclient_xfer_free(x);
	}
	while ((x = TAILQ_FIRST(&hc->finished)) != NULL) {
		TAILQ_REMOVE(&hc->finished, x, link);
		httpclient_xfer_free(x);
	}
	curl_multi_cleanup(hc->multi);
	while ((s = LIST_FIRST(&hc->socks)) != NULL) {
		LIST_REMOVE(s, link);
		event_free(s->ev);
		free(s);
	}
	event_free(hc->timer);
	event_free(hc->done_ev);
	free(hc);
}

/* CURLOPT_WRITEFUNCTION: keeps the first 64 KiB, swallows the rest. */
static size_t
httpclient_write(char *data, size_t size, size_t nmemb, void *arg)
{
	struct httpclient_xfer *x = arg;
	size_t n = size * nmemb, room = HTTPCLIENT_BODY_MAX - x->body_len;
	size_t take = n < room ? n : room;

	if (take > 0) {
		if (x->body == NULL)
			x->body = xmalloc(HTTPCLIENT_BODY_MAX + 1);
		memcpy(x->body + x->body_len, data, take);
		x->body_len += take;
		x->body[x->body_len] = '\0';
	}
	return n;
}

/* The request's header lines, plus an empty Expect: no 100-continue round trip for bodies. */
static struct curl_slist *
httpclient_headers(const char *const *lines)
{
	struct curl_slist *l = NULL, *t;
	int expect = 0;

	for (size_t i = 0; lines != NULL && lines[i] != NULL; i++) {
		if (strncasecmp(lines[i], "Expect:", 7) == 0)
			expect = 1;
		if ((t = curl_slist_append(l, lines[i])) == NULL)
			goto fail;
		l = t;
	}
	if (!expect) {
		if ((t = curl_slist_append(l, "Expect:")) == NULL)
			goto fail;
		l = t;
	}
	return l;
fail:
	curl_slist_free_all(l);
	return NULL;
}

int
httpclient_request(struct httpclient *hc, const struct nt_http_request *req, nt_http_done_fn done,
		   void *arg)
{
	struct httpclient_xfer *x;
	const char *method = req->method ? req->method : "POST";
	CURLcode rc = CURLE_OK;
	CURL *e;

	if (hc == NULL || req->url == NULL || done == NULL)
		return -1;
	x = xcalloc(1, sizeof(*x));
	x->hc = hc;
	x->done = done;
	x->arg = arg;
	x->retry_after_s = -1;
	if ((x->easy = e = curl_easy_init()) == NULL ||
	    (x->headers = httpclient_headers(req->headers)) == NULL) {
		httpclient_xfer_free(x);
		return -1;
	}
#define SET(opt, val)                                                                              \
	do {                                                                                       \
		if (rc == CURLE_OK)                                                                \
			rc = curl_easy_setopt(e, opt, val);                                        \
	} while (0)
	SET(CURLOPT_URL, req->url);
	SET(CURLOPT_PROTOCOLS_STR, "http,https");
	SET(CURLOPT_NOSIGNAL, 1L);
	SET(CURLOPT_PRIVATE, x);
	SET(CURLOPT_ERRORBUFFER, x->errbuf);
	SET(CURLOPT_WRITEFUNCTION, httpclient_write);
	SET(CURLOPT_WRITEDATA, x);
	SET(CURLOPT_HTTPHEADER, x->headers);
	if (req->timeout_ms > 0)
		SET(CURLOPT_TIMEOUT_MS, req->timeout_ms);
	if (strcmp(method, "GET") == 0)
		SET(CURLOPT_HTTPGET, 1L);
	else {
		/* COPYPOSTFIELDS copies the body: REQ may go away on return. */
		SET(CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)(req->body ? req->body_len : 0));
		SET(CURLOPT_COPYPOSTFIELDS, req->body ? req->body : "");
		if (strcmp(method, "POST") != 0)
			SET(CURLOPT_CUSTOMREQUEST, method);
	}
#undef SET
	if (rc != CURLE_OK) {
		log_warnx("http: %s %s: %s", method, req->url, curl_easy_strerror(rc));
		httpclient_xfer_free(x);
		return -1;
	}
	/* Adding only arms curl's timer (at 0 ms): the transfer starts from the loop. */
	if (curl_multi_add_handle(hc->multi, e) != CURLM_OK) {
		httpclient_xfer_free(x);
		return -1;
	}
	TAILQ_INSERT_TAIL(&hc->running, x, link);
	hc->n++;
	return 0;
}
