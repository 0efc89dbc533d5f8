/*
 * The SMTP plugin: delivers MIME messages to one relay with libesmtp.
 *
 * libesmtp's smtp_start_session blocks (DNS, connect, the whole dialogue), so sessions run
 * in the host's worker pool, one per worker: the pool size (max_connections) caps parallel
 * connections. deliver() only queues; a dispatcher on the loop hands a free worker a batch
 * of up to messages_per_connection queued messages (one session, one connection, PIPELINING
 * when offered), within the rate limit (a token bucket on host timers) and the per-domain
 * concurrency. Each message's outcome comes from its recipient's reply (or the DATA reply);
 * what the session never got an answer for (connect refused, dropped, timed out, TLS
 * refused) is deferred. The host retries deferred messages on the channel's schedule.
 * libesmtp's connect() has no limit of its own: smtp_alarm.c gives it connect_ms.
 *
 * Settings: host (required), port, starttls, auth, helo, max_connections,
 * messages_per_connection, rate_per_second, domain_concurrency, timeouts, tls_verify,
 * tls_ca_file (man/nurtured.conf.5), read in smtp_conf.c.
 */
#include <arpa/inet.h>
#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/queue.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#include <openssl/err.h>
#include <openssl/ssl.h>

#include <auth-client.h>
#include <libesmtp.h>

#include "nurtured-plugin.h"
#include "smtp_alarm.h"
#include "smtp_utf8.h"

#include "smtp_int.h"

const struct smtp_timeout_key smtp_timeout_keys[SMTP_NTIMEOUTS] = {
    {"greeting_ms", Timeout_GREETING}, {"envelope_ms", Timeout_ENVELOPE}, {"data_ms", Timeout_DATA},
    {"transfer_ms", Timeout_TRANSFER}, {"data2_ms", Timeout_DATA2},
};

static void smtp_pump(void *arg);

/* A malloc'd message for init's *err; NULL only when out of memory. */
char *
smtp_errf(const char *fmt, ...)
{
	va_list ap;
	char *s = NULL;

	va_start(ap, fmt);
	if (vasprintf(&s, fmt, ap) < 0)
		s = NULL;
	va_end(ap);
	return s;
}

/* Copies SRC into a reply buffer on one line: server text may hold CR/LF. */
void
smtp_reply_set(char *dst, const char *src)
{
	size_t n = 0;
	for (; src != NULL && *src != '\0' && n < SMTP_REPLY_MAX - 1; src++)
		dst[n++] = (*src == '\r' || *src == '\n' || *src == '\t') ? ' ' : *src;
	while (n > 0 && dst[n - 1] == ' ')
		n--;
	dst[n] = '\0';
}

/* --- worker side: one libesmtp session --- */

/*
 * libesmtp reads the message through this callback. The payload is already a complete
 * RFC 5322 message with CRLF line ends: hand it out in one piece, no copy.
 */
static const char *
smtp_message_cb(void **ctx, int *len, void *arg)
{
	struct smtp_item *it = arg;
	(void)ctx;

	if (len == NULL) { /* rewind */
		it->fed = 0;
		return NULL;
	}
	if (it->fed) {
		*len = 0;
		return NULL;
	}
	it->fed = 1;
	*len = (int)it->msg->data_len;
	return it->msg->data;
}

/* Remembers the server's last reply line, for errors the status API doesn't carry (421). */
static void
smtp_monitor_cb(const char *buf, int buflen, int writing, void *arg)
{
	struct smtp_job *j = arg;
	char line[SMTP_REPLY_MAX];
	int start = 0, end = buflen;

	if (writing == SMTP_CB_WRITING && buflen >= 8 && strncasecmp(buf, "STARTTLS", 8) == 0)
		j->tls_tried = 1;
	if (writing != SMTP_CB_READING || buflen <= 0)
		return;
	while (end > 0 && (buf[end - 1] == '\n' || buf[end - 1] == '\r'))
		end--;
	for (int i = end - 1; i >= 0; i--)
		if (buf[i] == '\n') {
			start = i + 1;
			break;
		}
	if (end - start <= 0)
		return;
	if (end - start > SMTP_REPLY_MAX - 1)
		end = start + SMTP_REPLY_MAX - 1;
	memcpy(line, buf + start, (size_t)(end - start));
	line[end - start] = '\0';
	smtp_reply_set(j->last_reply, line);
}

/* Whether FD is a TCP connection to the relay: by address and port when the host is an IPv4
 * address, by port when it is a name (which may resolve to IPv6). */
static int
smtp_fd_is_relay(const struct smtp *s, int fd)
{
	struct sockaddr_storage a;
	socklen_t len = sizeof(a);
	int type;
	socklen_t tlen = sizeof(type);

	if (getsockopt(fd, SOL_SOCKET, SO_TYPE, &type, &tlen) < 0 || type != SOCK_STREAM ||
	    getpeername(fd, (struct sockaddr *)&a, &len) < 0)
		return 0;
	if (a.ss_family == AF_INET) {
		const struct sockaddr_in *in = (const struct sockaddr_in *)&a;
		return ntohs(in->sin_port) == s->port &&
		       (s->relay_family == AF_UNSPEC ||
			(s->relay_family == AF_INET &&
			 memcmp(&in->sin_addr, s->relay_addr, 4) == 0));
	}
	if (a.ss_family == AF_INET6) {
		const struct sockaddr_in6 *in6 = (const struct sockaddr_in6 *)&a;
		return ntohs(in6->sin6_port) == s->port && s->relay_family == AF_UNSPEC;
	}
	return 0;
}

/* TCP_NODELAY on FD when it is a connection to the relay that does not have it yet. */
static void
smtp_nodelay_fd(const struct smtp *s, int fd)
{
	int on = 0;
	socklen_t len = sizeof(on);

	if (!smtp_fd_is_relay(s, fd) || getsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &on, &len) < 0 ||
	    on)
		return;
	on = 1;
	(void)setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &on, sizeof(on));
}

/*
 * Turns Nagle's algorithm off on the session's socket, right after libesmtp connected it
 * (SMTP_EV_CONNECT, on the worker thread, before the greeting is read).
 *
 * Why: libesmtp writes a message in 2,048-byte pieces. With Nagle on, each piece after the
 * first waits for the ACK of the one before, and the relay's delayed ACK holds that back for
 * up to 40 ms: every message over 2 KB cost about 44 ms, 22 messages a second a session
 * (issue 14; docs/benchmarks.md). libcurl sets TCP_NODELAY on its connections by default.
 *
 * How: libesmtp 1.1 keeps its socket to itself (no accessor, no socket callback), so this
 * looks through the process's descriptors (/proc/self/fd) for TCP connections to the relay
 * that lack TCP_NODELAY. A descriptor of another worker's session to the same relay may be
 * found too; giving it TCP_NODELAY is exactly right, so the races between workers are
 * harmless. When the relay is a host name, connections are matched by the relay's port
 * alone: another connection of the process to that port would get TCP_NODELAY as well,
 * which changes no byte it sends, only how soon small writes leave. Without /proc the
 * descriptors up to the open-files limit are tried. The cost: one getsockopt per open
 * descriptor, once a session (up to messages_per_connection messages).
 */
static void
smtp_nodelay(const struct smtp *s)
{
	DIR *d = opendir("/proc/self/fd");
	struct dirent *e;

	if (d != NULL) {
		int self = dirfd(d);
		while ((e = readdir(d)) != NULL) {
			char *end;
			long fd = strtol(e->d_name, &end, 10);
			if (*end == '\0' && end != e->d_name && fd != self && fd >= 0)
				smtp_nodelay_fd(s, (int)fd);
		}
		closedir(d);
		return;
	}
	struct rlimit rl;
	long max = getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur != RLIM_INFINITY
		       ? (long)rl.rlim_cur
		       : 1024;
	if (max > 65536)
		max = 65536;
	for (long fd = 0; fd < max; fd++)
		smtp_nodelay_fd(s, (int)fd);
}

/* TLS decisions libesmtp leaves to the application: tls_verify says whether to insist. */
static void
smtp_event_cb(smtp_session_t session, int event, void *arg, ...)
{
	struct smtp_job *j = arg;
	struct smtp *s = j->s;
	va_list ap;
	int *ok = NULL;
	(void)session;

	va_start(ap, arg);
	switch (event) {
	case SMTP_EV_CONNECT: /* connect_ms is over: nothing else of the session is cut short */
		smtp_alarm_stop(&j->alarm);
		j->connected = 1;
		smtp_nodelay(s);
		break;
	case SMTP_EV_INVALID_PEER_CERTIFICATE:
		(void)va_arg(ap, long);
		ok = va_arg(ap, int *);
		if (!s->tls_verify)
			*ok = 1;
		else
			j->tls_error = "TLS: the server's certificate does not verify";
		break;
	case SMTP_EV_NO_PEER_CERTIFICATE:
	case SMTP_EV_WRONG_PEER_CERTIFICATE:
		ok = va_arg(ap, int *);
		if (!s->tls_verify)
			*ok = 1;
		else
			j->tls_error = "TLS: the server's certificate does not match its name";
		break;
	case SMTP_EV_WEAK_CIPHER:
		(void)va_arg(ap, int);
		ok = va_arg(ap, int *);
		j->tls_error = "TLS: weak cipher refused";
		break;
	case SMTP_EV_STARTTLS_OK:
		j->tls_ok = 1;
		break;
	case SMTP_EV_EXTNA_STARTTLS:
		j->tls_error = "STARTTLS required but not offered by the server";
		break;
	default:
		break;
	}
	va_end(ap);
}

/* auth-client asks for the credentials field by field. */
static int
smtp_auth_interact(auth_client_request_t req, char **result, int fields, void *arg)
{
	struct smtp *s = arg;
	for (int i = 0; i < fields; i++) {
		if (req[i].flags & AUTH_USER)
			result[i] = s->auth_user;
		else if (req[i].flags & AUTH_PASS)
			result[i] = s->auth_pass;
		else
			return 0;
	}
	return 1;
}

/* "5.1.1" at the start of the text, for servers that don't announce ENHANCEDSTATUSCODES. */
int
smtp_text_enhanced(const char *text, int *cls, int *subj)
{
	int a, b, c, n = 0;
	if (text == NULL || sscanf(text, "%1d.%3d.%3d%n", &a, &b, &c, &n) != 3 || n == 0)
		return 0;
	*cls = a;
	*subj = b;
	return 1;
}

/* What a reply says about the message, for both clients (smtp_utf8.h). */
enum nt_result
smtp_reply_outcome(int code, int cls, int subj, const char *text, int *suppress)
{
	*suppress = 0;
	if (code >= 200 && code < 300)
		return NT_SENT;
	if (code >= 500 && code < 600) {
		*suppress = (cls == 5 && subj == 1) || (code == 550 && text != NULL &&
							(strcasestr(text, "no such user") != NULL ||
							 strcasestr(text, "user unknown") != NULL));
		return NT_FAILED;
	}
	return NT_DEFERRED;
}

/* The outcome of one SMTP reply (RCPT, DATA or MAIL): 2xx sent, 4xx later, 5xx never. */
static void
smtp_classify(struct smtp_item *it, const smtp_status_t *st)
{
	char buf[SMTP_REPLY_MAX];
	int cls = st->enh_class, subj = st->enh_subject;

	if (st->enh_class > 0)
		snprintf(buf, sizeof(buf), "%d %d.%d.%d %s", st->code, st->enh_class,
			 st->enh_subject, st->enh_detail, st->text ? st->text : "");
	else
		snprintf(buf, sizeof(buf), "%d %s", st->code, st->text ? st->text : "");
	smtp_reply_set(it->reply, buf);
	if (st->enh_class == 0 && !smtp_text_enhanced(st->text, &cls, &subj))
		cls = subj = 0;
	it->result = smtp_reply_outcome(st->code, cls, subj, st->text, &it->suppress);
}

/* What the session left unanswered is deferred, with the best reason we have. */
static void
smtp_unanswered(struct smtp_job *j, struct smtp_item *it, int err)
{
	char ebuf[256], buf[SMTP_REPLY_MAX];
	int code = atoi(j->last_reply);

	it->result = NT_DEFERRED;
	if (!j->connected && j->s->alarm_used &&
	    smtp_alarm_elapsed_ms(&j->alarm) >= j->s->connect_ms)
		snprintf(buf, sizeof(buf), "%s: no connection within %ld ms", j->s->server,
			 j->s->connect_ms);
	else if (j->tls_error != NULL)
		snprintf(buf, sizeof(buf), "%s", j->tls_error);
	else if (j->tls_tried && !j->tls_ok) {
		unsigned long e = ERR_peek_last_error();
		ERR_error_string_n(e, ebuf, sizeof(ebuf));
		snprintf(buf, sizeof(buf), "%s: TLS handshake failed%s%s", j->s->server,
			 e != 0 ? ": " : "", e != 0 ? ebuf : "");
	} else if (code >= 400 && code < 600)
		snprintf(buf, sizeof(buf), "%s", j->last_reply);
	else if (err != 0)
		snprintf(buf, sizeof(buf), "%s: %s", j->s->server,
			 smtp_strerror(err, ebuf, sizeof(ebuf)));
	else
		snprintf(buf, sizeof(buf), "%s: no reply (connection lost or timed out)%s%.200s",
			 j->s->server, j->last_reply[0] ? "; last: " : "", j->last_reply);
	smtp_reply_set(it->reply, buf);
}

/* Sets up one session for the batch: envelope, data callback, TLS, AUTH, timeouts. */
static smtp_session_t
smtp_session_build(struct smtp_job *j, smtp_recipient_t *rcpts, smtp_message_t *msgs,
		   auth_context_t *authctx)
{
	struct smtp *s = j->s;
	smtp_session_t ss = smtp_create_session();

	if (ss == NULL)
		return NULL;
	smtp_set_server(ss, s->server);
	smtp_set_hostname(ss, s->helo);
	smtp_set_eventcb(ss, smtp_event_cb, j);
	smtp_set_monitorcb(ss, smtp_monitor_cb, j, 0);
	for (size_t i = 0; i < SMTP_NTIMEOUTS; i++)
		if (s->timeouts[i] > 0)
			smtp_set_timeout(
			    ss, smtp_timeout_keys[i].which | Timeout_OVERRIDE_RFC2822_MINIMUM,
			    s->timeouts[i]);
	if (s->tls != SMTP_TLS_NONE) {
		smtp_starttls_enable(ss, s->tls == SMTP_TLS_REQUIRED ? Starttls_REQUIRED
								     : Starttls_ENABLED);
		smtp_starttls_set_ctx(ss, s->ssl_ctx);
	} else
		smtp_starttls_enable(ss, Starttls_DISABLED);
	if (s->auth_user != NULL) {
		*authctx = auth_create_context();
		if (*authctx != NULL) {
			auth_set_mechanism_flags(*authctx, AUTH_PLUGIN_PLAIN, 0);
			auth_set_interact_cb(*authctx, smtp_auth_interact, s);
			smtp_auth_set_context(ss, *authctx);
		}
	}
	for (int i = 0; i < j->n; i++) {
		struct smtp_item *it = j->items[i];
		if (it->utf8)
			continue; /* smtp_utf8_send's */
		msgs[i] = smtp_add_message(ss);
		if (msgs[i] == NULL)
			break;
		smtp_set_reverse_path(msgs[i], it->msg->sender);
		smtp_set_messagecb(msgs[i], smtp_message_cb, it);
		rcpts[i] = smtp_add_recipient(msgs[i], it->msg->recipient);
	}
	return ss;
}

/*
 * Worker thread: the batch's messages with a non-ASCII envelope address go to the relay over
 * libcurl, with SMTPUTF8 (smtp_utf8.c); each gets its outcome in its item.
 */
static void
smtp_session_run_utf8(struct smtp_job *j)
{
	struct smtp_utf8_msg **um = calloc((size_t)j->n, sizeof(*um));
	int n = 0;

	for (int i = 0; um != NULL && i < j->n; i++) {
		if (!j->items[i]->utf8)
			continue;
		if ((um[n] = calloc(1, sizeof(*um[n]))) == NULL)
			break;
		um[n++]->msg = j->items[i]->msg;
	}
	if (n > 0)
		smtp_utf8_send(j->s->utf8, um, n);
	for (int i = 0, k = 0; i < j->n; i++) {
		struct smtp_item *it = j->items[i];
		if (!it->utf8)
			continue;
		if (k < n) {
			it->result = um[k]->result;
			it->suppress = um[k]->suppress;
			memcpy(it->reply, um[k]->reply, sizeof(it->reply));
			free(um[k++]);
		} else {
			it->result = NT_DEFERRED;
			smtp_reply_set(it->reply, "out of memory setting up the session");
		}
	}
	free(um);
}

/*
 * Worker thread: one connection carries the whole batch; every message gets an outcome.
 * The messages for internationalised addresses take a second connection, over libcurl.
 */
static void
smtp_session_run(void *arg)
{
	struct smtp_job *j = arg;
	smtp_recipient_t *rcpts = calloc((size_t)j->n, sizeof(*rcpts));
	smtp_message_t *msgs = calloc((size_t)j->n, sizeof(*msgs));
	auth_context_t authctx = NULL;
	smtp_session_t ss = NULL;
	int err = 0, nascii = 0, nutf8 = 0;

	for (int i = 0; i < j->n; i++)
		*(j->items[i]->utf8 ? &nutf8 : &nascii) += 1;
	if (nutf8 > 0)
		smtp_session_run_utf8(j);
	if (nascii == 0) {
		free(rcpts);
		free(msgs);
		return;
	}
	if (rcpts != NULL && msgs != NULL)
		ss = smtp_session_build(j, rcpts, msgs, &authctx);
	if (ss != NULL && j->s->alarm_used && smtp_alarm_start(&j->alarm, j->s->connect_ms) < 0)
		j->s->host->log(NT_LOG_WARNING,
				"smtp %s: no connect timer (%s); connect_ms not applied",
				j->s->channel, strerror(errno));
	if (ss == NULL || !smtp_start_session(ss))
		err = smtp_errno();
	smtp_alarm_stop(&j->alarm);
	for (int i = 0; i < j->n; i++) {
		struct smtp_item *it = j->items[i];
		const smtp_status_t *mail, *rst, *dst;

		if (it->utf8)
			continue;
		if (ss == NULL || msgs[i] == NULL || rcpts[i] == NULL) {
			it->result = NT_DEFERRED;
			smtp_reply_set(it->reply, "out of memory setting up the session");
			continue;
		}
		mail = smtp_reverse_path_status(msgs[i]);
		rst = smtp_recipient_status(rcpts[i]);
		dst = smtp_message_transfer_status(msgs[i]);
		if (mail->code >= 400) {
			/* our sender or our login was refused: a setup problem of the channel,
			 * not the recipient's; retried until the operator fixes it */
			smtp_classify(it, mail);
			it->result = NT_DEFERRED;
		} else if (rst->code == 0)
			smtp_unanswered(j, it, err);
		else if (rst->code >= 300)
			smtp_classify(it, rst);
		else if (dst->code == 0)
			smtp_unanswered(j, it, err);
		else
			smtp_classify(it, dst);
	}
	ERR_clear_error(); /* the queue is per thread: don't blame the next session */
	if (ss != NULL)
		smtp_destroy_session(ss);
	if (authctx != NULL)
		auth_destroy_context(authctx);
	free(rcpts);
	free(msgs);
}

/* --- loop side: queue, dispatcher, outcomes --- */

static struct smtp_domain *
smtp_domain_get(struct smtp *s, const char *name, int create)
{
	struct smtp_domain *d;
	LIST_FOREACH(d, &s->domains, link)
	if (strcmp(d->name, name) == 0)
		return d;
	if (!create || (d = calloc(1, sizeof(*d))) == NULL)
		return NULL;
	if ((d->name = strdup(name)) == NULL) {
		free(d);
		return NULL;
	}
	LIST_INSERT_HEAD(&s->domains, d, link);
	return d;
}

static void
smtp_domain_release(struct smtp *s, const char *name)
{
	struct smtp_domain *d = smtp_domain_get(s, name, 0);
	if (d != NULL && --d->inflight <= 0) {
		LIST_REMOVE(d, link);
		free(d->name);
		free(d);
	}
}

static void
smtp_item_free(struct smtp_item *it)
{
	free(it->domain);
	free(it);
}

/* Refills the token bucket; its depth is one second's worth (at least one message). */
static void
smtp_tokens_refill(struct smtp *s)
{
	int64_t now = s->host->now_ms();
	double cap = s->rate > 1.0 ? s->rate : 1.0;

	if (now > s->tokens_ms)
		s->tokens += (double)(now - s->tokens_ms) * s->rate / 1000.0;
	s->tokens_ms = now;
	if (s->tokens > cap)
		s->tokens = cap;
}

/* Runs the dispatcher from the loop soon, once, however many messages came in meanwhile. */
static void
smtp_schedule(struct smtp *s, long after_ms)
{
	if (s->pump_timer != NULL)
		return;
	s->pump_timer = s->host->timer_add(after_ms, smtp_pump, s);
}

/* Loop thread: every message of the batch gets its `done`, then the worker is free again. */
static void
smtp_session_done(void *arg)
{
	struct smtp_job *j = arg;
	struct smtp *s = j->s;

	TAILQ_REMOVE(&s->jobs, j, link);
	s->running--;
	for (int i = 0; i < j->n; i++) {
		struct smtp_item *it = j->items[i];
		struct nt_outcome o = {.result = it->result,
				       .reply = it->reply[0] ? it->reply : NULL,
				       .suppress = it->result == NT_FAILED && it->suppress};
		if (s->domain_concurrency > 0)
			smtp_domain_release(s, it->domain);
		it->done(it->token, &o);
		smtp_item_free(it);
	}
	free(j->items);
	free(j);
	smtp_schedule(s, 0);
}

/* Takes the next batch from the queue within the domain and rate limits; NULL when none. */
static struct smtp_job *
smtp_batch_take(struct smtp *s, long *wait_ms)
{
	struct smtp_job *j;
	struct smtp_item *it, *next;

	*wait_ms = -1;
	if (s->rate > 0) {
		smtp_tokens_refill(s);
		if (s->tokens < 1.0) {
			*wait_ms = (long)((1.0 - s->tokens) * 1000.0 / s->rate) + 1;
			return NULL;
		}
	}
	if ((j = calloc(1, sizeof(*j))) == NULL ||
	    (j->items = calloc((size_t)s->per_connection, sizeof(*j->items))) == NULL) {
		free(j);
		return NULL;
	}
	j->s = s;
	for (it = TAILQ_FIRST(&s->queue); it != NULL && j->n < s->per_connection; it = next) {
		next = TAILQ_NEXT(it, link);
		if (s->rate > 0 && s->tokens < 1.0)
			break;
		if (s->domain_concurrency > 0) {
			struct smtp_domain *d = smtp_domain_get(s, it->domain, 1);
			if (d == NULL || d->inflight >= s->domain_concurrency)
				continue;
			d->inflight++;
		}
		if (s->rate > 0)
			s->tokens -= 1.0;
		TAILQ_REMOVE(&s->queue, it, link);
		s->nqueued--;
		j->items[j->n++] = it;
	}
	if (j->n == 0) {
		free(j->items);
		free(j);
		return NULL;
	}
	return j;
}

/* The dispatcher: gives each free worker one batch (one session, one connection). */
static void
smtp_pump(void *arg)
{
	struct smtp *s = arg;
	long wait_ms = -1;

	s->pump_timer = NULL;
	while (s->running < s->max_connections && !TAILQ_EMPTY(&s->queue)) {
		struct smtp_job *j = smtp_batch_take(s, &wait_ms);
		if (j == NULL)
			break;
		if (s->host->pool_submit(s->pool, smtp_session_run, smtp_session_done, j) < 0) {
			/* the pool is going away: put the batch back, in order */
			for (int i = j->n - 1; i >= 0; i--) {
				if (s->domain_concurrency > 0)
					smtp_domain_release(s, j->items[i]->domain);
				TAILQ_INSERT_HEAD(&s->queue, j->items[i], link);
				s->nqueued++;
			}
			free(j->items);
			free(j);
			return;
		}
		TAILQ_INSERT_TAIL(&s->jobs, j, link);
		s->running++;
	}
	if (wait_ms >= 0 && s->running < s->max_connections)
		smtp_schedule(s, wait_ms); /* waiting for rate tokens */
}

static int
smtp_deliver(void *state, const struct nt_message *msg, nt_done_fn done, void *token)
{
	struct smtp *s = state;
	struct smtp_item *it;
	const char *at;

	if (s->stopping || s->nqueued >= SMTP_QUEUE_FACTOR * s->max_connections * s->per_connection)
		return -1;
	if (msg->sender == NULL || msg->recipient == NULL || msg->data == NULL) {
		struct nt_outcome o = {.result = NT_FAILED, .reply = "no envelope or no message"};
		done(token, &o);
		return 0;
	}
	if ((it = calloc(1, sizeof(*it))) == NULL)
		return -1;
	at = strrchr(msg->recipient, '@');
	it->domain = strdup(at != NULL ? at + 1 : "");
	if (it->domain == NULL) {
		free(it);
		return -1;
	}
	for (char *p = it->domain; *p; p++)
		*p = (char)tolower((unsigned char)*p);
	it->msg = msg;
	/* An internationalised address (RFC 6531) needs SMTPUTF8, which libesmtp 1.1 cannot
	 * send: smtp_utf8.c sends it, or fails it when the relay does not offer SMTPUTF8. */
	it->utf8 = smtp_utf8_needed(msg->sender) || smtp_utf8_needed(msg->recipient);
	it->done = done;
	it->token = token;
	TAILQ_INSERT_TAIL(&s->queue, it, link);
	s->nqueued++;
	smtp_schedule(s, 0); /* batch whatever else arrives in this loop turn */
	return 0;
}

/* Accepted messages are still delivered: the ABI promises each its `done`. */
static void
smtp_stop(void *state)
{
	((struct smtp *)state)->stopping = 1;
}

static void
smtp_fini(void *state)
{
	struct smtp *s = state;
	struct smtp_item *it;
	struct smtp_job *j;
	struct smtp_domain *d;

	if (s == NULL)
		return;
	if (s->pump_timer != NULL)
		s->host->timer_cancel(s->pump_timer);
	if (s->pool != NULL)
		s->host->pool_free(s->pool); /* waits for running sessions */
	if (s->alarm_used) /* after the join: no worker of ours is left to signal */
		smtp_alarm_unuse();
	smtp_utf8_free(s->utf8);		      /* after the join too: no worker uses it */
	while ((j = TAILQ_FIRST(&s->jobs)) != NULL) { /* abandoned: the host retries them */
		TAILQ_REMOVE(&s->jobs, j, link);
		for (int i = 0; i < j->n; i++)
			smtp_item_free(j->items[i]);
		free(j->items);
		free(j);
	}
	while ((it = TAILQ_FIRST(&s->queue)) != NULL) {
		TAILQ_REMOVE(&s->queue, it, link);
		smtp_item_free(it);
	}
	while ((d = LIST_FIRST(&s->domains)) != NULL) {
		LIST_REMOVE(d, link);
		free(d->name);
		free(d);
	}
	if (s->ssl_ctx != NULL)
		SSL_CTX_free(s->ssl_ctx);
	if (s->auth_pass != NULL)
		explicit_bzero(s->auth_pass, strlen(s->auth_pass));
	free(s->auth_user);
	free(s->auth_pass);
	free(s->server);
	free(s->helo);
	free(s->channel);
	free(s);
}

static int
smtp_init(const struct nt_host *host, const char *channel, json_t *config, void **state, char **err)
{
	struct smtp *s;
	const char *key, *hostname = NULL, *ca_file = NULL;
	json_t *v;
	long port = 25;
	char name[256];

	*err = NULL;
	if (host->pool_new == NULL || host->timer_add == NULL) {
		*err = smtp_errf("the host offers no worker pool");
		return -1;
	}
	if (!json_is_object(config)) {
		*err = smtp_errf("the channel's settings must be an object");
		return -1;
	}
	if ((s = calloc(1, sizeof(*s))) == NULL)
		return -1;
	s->host = host;
	s->channel = strdup(channel != NULL ? channel : "smtp");
	s->tls = SMTP_TLS_OPPORTUNISTIC;
	s->tls_verify = 1;
	s->max_connections = 4;
	s->per_connection = 100;
	s->connect_ms = 30000; /* Postfix's smtp_connect_timeout */
	TAILQ_INIT(&s->queue);
	TAILQ_INIT(&s->jobs);
	LIST_INIT(&s->domains);
	json_object_foreach(config, key, v)
	{
		if ((*err = smtp_conf_key(s, key, v, &hostname, &port, &ca_file)) != NULL)
			goto fail;
	}
	if (hostname == NULL) {
		*err = smtp_errf("host: required (the relay to deliver to)");
		goto fail;
	}
	if (s->helo == NULL) {
		if (gethostname(name, sizeof(name)) < 0)
			strcpy(name, "localhost");
		name[sizeof(name) - 1] = '\0';
		s->helo = strdup(name);
	}
	if (asprintf(&s->server, "%s:%ld", hostname, port) < 0)
		s->server = NULL;
	s->port = (int)port;
	s->relay_family = inet_pton(AF_INET, hostname, s->relay_addr) == 1 ? AF_INET : AF_UNSPEC;
	if (s->helo == NULL || s->server == NULL || s->channel == NULL) {
		*err = smtp_errf("out of memory");
		goto fail;
	}
	if ((*err = smtp_conf_tls(s, ca_file)) != NULL ||
	    (*err = smtp_conf_utf8(s, ca_file)) != NULL)
		goto fail;
	if (s->connect_ms > 0) {
		if (smtp_alarm_use() < 0) {
			*err = smtp_errf("timeouts.connect_ms: cannot set up the connect timer: %s",
					 strerror(errno));
			goto fail;
		}
		s->alarm_used = 1;
	}
	s->tokens = 1.0;
	s->tokens_ms = host->now_ms();
	s->pool = host->pool_new("smtp", s->max_connections);
	if (s->pool == NULL) {
		*err = smtp_errf("cannot start the worker pool");
		goto fail;
	}
	host->log(NT_LOG_DEBUG, "smtp %s: relay %s, %d connections, %d messages each", s->channel,
		  s->server, s->max_connections, s->per_connection);
	*state = s;
	return 0;
fail:
	smtp_fini(s);
	return -1;
}

static const struct nt_plugin smtp_plugin = {
    .abi_major = NT_PLUGIN_ABI_MAJOR,
    .abi_minor = NT_PLUGIN_ABI_MINOR,
    .struct_size = sizeof(struct nt_plugin),
    .name = "smtp",
    .payload = NT_PAYLOAD_MIME,
    .init = smtp_init,
    .deliver = smtp_deliver,
    .stop = smtp_stop,
    .fini = smtp_fini,
};

const struct nt_plugin *nurtured_plugin(void);

const struct nt_plugin *
nurtured_plugin(void)
{
	return &smtp_plugin;
}
