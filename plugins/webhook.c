/*
 * The webhook plugin: each message is one HTTP POST (or PUT) of the JSON document the host
 * rendered, through the host's HTTP client (libcurl multi on the loop: nothing blocks), signed
 * the Standard Webhooks way when a secret is set, so receivers can check where it came from
 * and deduplicate retries on webhook-id.
 *
 * Settings: "url" (required; http(s); "{{path.to.field}}" placeholders are filled from the
 * payload, URL-encoded), "method" ("POST" or "PUT"), "headers" (name -> value), "secret"
 * ("whsec_" + base64, or a plain string), "max_concurrency" (1..256, default 8), "timeout_ms"
 * (100..300000, default 10000).
 *
 * Outcomes: 2xx sent; 408, 429, 5xx, transport errors and timeouts deferred (Retry-After
 * honoured); any other status failed. Retries and backoff are the host's.
 */
#include "build.h" /* PACKAGE_VERSION, from configure */

#include <jansson.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/queue.h>

#include "nurtured-plugin.h"

#define WEBHOOK_REPLY_BODY 200 /* bytes of a receiver's error body kept in the reply */

struct webhook;

struct webhook_job {
	struct webhook *wh; /* NULL once fini abandoned it: the HTTP answer is dropped */
	const struct nt_message *msg;
	nt_done_fn done;
	void *token;
	char *url;
	char **hdr; /* NULL-terminated header lines of this attempt */
	TAILQ_ENTRY(webhook_job) link;
};
TAILQ_HEAD(webhook_jobs, webhook_job);

struct webhook {
	const struct nt_host *host;
	char *channel;
	char *url; /* the template as configured */
	int url_has_fields;
	const char *method;
	char **hdr; /* configured lines, then our defaults; nhdr of them */
	size_t nhdr;
	unsigned char *key; /* signing key, NULL: unsigned */
	size_t keylen;
	int max_concurrency;
	long timeout_ms;
	struct webhook_jobs waiting;
	struct webhook_jobs running;
	int nwaiting, nrunning;
	int stopping;
	int pumping;
};

/*
 * Exchanges abandoned by fini whose answer may still come (then they free themselves); what
 * is left goes when the plugin is unloaded. Shared by all channels, touched on the loop only.
 */
static struct webhook_jobs webhook_orphans = TAILQ_HEAD_INITIALIZER(webhook_orphans);

static char *webhook_printf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

static char *
webhook_printf(const char *fmt, ...)
{
	va_list ap;
	char *s;

	va_start(ap, fmt);
	if (vasprintf(&s, fmt, ap) < 0)
		s = NULL;
	va_end(ap);
	return s;
}

/*
 * Base64 (RFC 4648) both ways, by hand: the plugin links Jansson only (no GLib, no libcrypto),
 * and Jansson has no codec. The decoder is strict: padding optional, nothing else allowed.
 */
static const char webhook_b64[] =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

static void
webhook_b64_encode(const unsigned char *in, size_t n, char *out)
{
	size_t i, o = 0;

	for (i = 0; i + 2 < n; i += 3) {
		unsigned v = (unsigned)in[i] << 16 | (unsigned)in[i + 1] << 8 | in[i + 2];
		out[o++] = webhook_b64[v >> 18];
		out[o++] = webhook_b64[(v >> 12) & 63];
		out[o++] = webhook_b64[(v >> 6) & 63];
		out[o++] = webhook_b64[v & 63];
	}
	if (i < n) {
		unsigned v = (unsigned)in[i] << 16 | (i + 1 < n ? (unsigned)in[i + 1] << 8 : 0);
		out[o++] = webhook_b64[v >> 18];
		out[o++] = webhook_b64[(v >> 12) & 63];
		out[o++] = i + 1 < n ? webhook_b64[(v >> 6) & 63] : '=';
		out[o++] = '=';
	}
	out[o] = '\0';
}

/* Decodes IN into a malloc'd buffer; NULL when IN is not base64 or decodes to nothing. */
static unsigned char *
webhook_b64_decode(const char *in, size_t *outlen)
{
	size_t n = strlen(in), o = 0;
	unsigned v = 0, bits = 0;
	unsigned char *out;

	while (n > 0 && in[n - 1] == '=')
		n--;
	if ((out = malloc(n * 3 / 4 + 1)) == NULL)
		return NULL;
	for (size_t i = 0; i < n; i++) {
		const char *p = in[i] ? strchr(webhook_b64, in[i]) : NULL;
		if (p == NULL) {
			free(out);
			return NULL;
		}
		v = v << 6 | (unsigned)(p - webhook_b64);
		bits += 6;
		if (bits >= 8) {
			bits -= 8;
			out[o++] = (unsigned char)(v >> bits);
		}
	}
	if (o == 0 || n % 4 == 1) {
		free(out);
		return NULL;
	}
	*outlen = o;
	return out;
}

/* Whether S is a placeholder path: dot-separated names of letters, digits, '_' and '-'. */
static int
webhook_field_ok(const char *s, size_t n)
{
	if (n == 0 || s[0] == '.' || s[n - 1] == '.')
		return 0;
	for (size_t i = 0; i < n; i++) {
		char c = s[i];
		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
		      c == '_' || c == '-' || (c == '.' && s[i + 1] != '.')))
			return 0;
	}
	return 1;
}

/* Checks the URL template once, at init, so a typo is a config error and not a failed send. */
static char *
webhook_url_check(const char *url, size_t len, int *has_fields)
{
	const char *p, *rest;

	if (strlen(url) != len)
		return strdup("url: must not contain NUL");
	if (strncasecmp(url, "http://", 7) == 0)
		rest = url + 7;
	else if (strncasecmp(url, "https://", 8) == 0)
		rest = url + 8;
	else
		return strdup("url: must be an http:// or https:// URL");
	if (*rest == '\0' || *rest == '/')
		return strdup("url: has no host");
	for (p = url; *p; p++)
		if ((unsigned char)*p <= ' ' || *p == 0x7f)
			return strdup("url: must not contain spaces or control characters");
	*has_fields = 0;
	for (p = strstr(url, "{{"); p != NULL; p = strstr(p, "{{")) {
		const char *end = strstr(p + 2, "}}");
		if (end == NULL || !webhook_field_ok(p + 2, (size_t)(end - p - 2)))
			return webhook_printf(
			    "url: bad placeholder at '%.40s' (want {{path.to.field}})", p);
		*has_fields = 1;
		p = end + 2;
	}
	return NULL;
}

/* The payload's value at a dot path (objects by key, arrays by index), or NULL. */
static json_t *
webhook_lookup(json_t *doc, const char *path, size_t n)
{
	char seg[256];
	size_t i = 0;

	while (doc != NULL && i < n) {
		size_t j = i;
		while (j < n && path[j] != '.')
			j++;
		if (j - i >= sizeof(seg))
			return NULL;
		memcpy(seg, path + i, j - i);
		seg[j - i] = '\0';
		if (json_is_object(doc))
			doc = json_object_get(doc, seg);
		else if (json_is_array(doc) && strspn(seg, "0123456789") == j - i)
			doc = json_array_get(doc, strtoul(seg, NULL, 10));
		else
			doc = NULL;
		i = j + 1;
	}
	return doc;
}

/*
 * Appends S percent-encoded (RFC 3986: everything but unreserved characters). A value that is
 * "." or ".." is encoded whole (%2E): as a path segment it would be a dot-segment, which the
 * client resolves, so that customer id ".." in /customers/{{customer.id}}/tickets would post
 * to /tickets.
 */
static void
webhook_url_escape(char **out, size_t *len, const char *s)
{
	static const char hex[] = "0123456789ABCDEF";
	int dots = strcmp(s, ".") == 0 || strcmp(s, "..") == 0;
	for (; *s; s++) {
		unsigned char c = (unsigned char)*s;
		if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
		    c == '-' || (c == '.' && !dots) || c == '_' || c == '~')
			(*out)[(*len)++] = (char)c;
		else {
			(*out)[(*len)++] = '%';
			(*out)[(*len)++] = hex[c >> 4];
			(*out)[(*len)++] = hex[c & 15];
		}
	}
}

/*
 * The URL of one message: placeholders replaced by the payload's scalars. NULL with *ERR (a
 * reply for the outbox) when the payload lacks a field: that message can never be sent.
 */
static char *
webhook_url_expand(const struct webhook *wh, const struct nt_message *msg, char **err)
{
	json_error_t jerr;
	json_t *doc;
	char *out = NULL, *val = NULL;
	size_t len = 0, cap;
	const char *p = wh->url, *q;

	if (!wh->url_has_fields)
		return strdup(wh->url);
	doc = json_loadb(msg->data, msg->data_len, 0, &jerr);
	if (doc == NULL) {
		*err = webhook_printf("url: the payload is not JSON (%s)", jerr.text);
		return NULL;
	}
	cap = strlen(wh->url) + 1;
	out = malloc(cap);
	while (out != NULL && (q = strstr(p, "{{")) != NULL) {
		const char *end = strstr(q + 2, "}}");
		json_t *v = webhook_lookup(doc, q + 2, (size_t)(end - q - 2));
		if (json_is_string(v))
			val = strdup(json_string_value(v));
		else if (json_is_integer(v))
			val = webhook_printf("%" JSON_INTEGER_FORMAT, json_integer_value(v));
		else if (json_is_real(v))
			val = webhook_printf("%.17g", json_real_value(v));
		else if (json_is_boolean(v))
			val = strdup(json_is_true(v) ? "true" : "false");
		else {
			*err = webhook_printf("url: the payload has no value for {{%.*s}}",
					      (int)(end - q - 2), q + 2);
			free(out);
			out = NULL;
			break;
		}
		if (val == NULL) {
			free(out);
			out = NULL;
			break;
		}
		cap += (size_t)(q - p) + 3 * strlen(val);
		char *grown = realloc(out, cap);
		if (grown == NULL) {
			free(out);
			out = NULL;
			break;
		}
		out = grown;
		memcpy(out + len, p, (size_t)(q - p));
		len += (size_t)(q - p);
		webhook_url_escape(&out, &len, val);
		free(val);
		val = NULL;
		p = end + 2;
	}
	free(val);
	if (out != NULL) {
		size_t tail = strlen(p);
		memcpy(out + len, p, tail + 1);
	} else if (*err == NULL)
		*err = strdup("out of memory");
	json_decref(doc);
	return out;
}

/* RFC 9110 token characters: what a header name may be made of. */
static int
webhook_header_name_ok(const char *s)
{
	if (*s == '\0')
		return 0;
	for (; *s; s++)
		if (!((*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z') ||
		      (*s >= '0' && *s <= '9') || strchr("!#$%&'*+-.^_`|~", *s) != NULL))
			return 0;
	return 1;
}

/* No CR, LF, NUL or other control characters (tab is fine): no header injection (CWE-93). */
static int
webhook_header_value_ok(const char *s, size_t len)
{
	if (strlen(s) != len)
		return 0;
	for (; *s; s++)
		if (((unsigned char)*s < ' ' && *s != '\t') || *s == 0x7f)
			return 0;
	return 1;
}

static void
webhook_lines_free(char **l)
{
	for (size_t i = 0; l != NULL && l[i] != NULL; i++)
		free(l[i]);
	free(l);
}

static void
webhook_job_free(struct webhook_job *j)
{
	free(j->url);
	webhook_lines_free(j->hdr);
	free(j);
}

/* Reply text must be valid UTF-8 for the API: bad bytes and controls become '?'. */
static void
webhook_clean_text(char *dst, const char *src, size_t n)
{
	size_t i = 0, o = 0;

	while (i < n && src[i] != '\0') {
		unsigned char c = (unsigned char)src[i];
		size_t k = c < 0x80	    ? 1
			   : (c >> 5) == 6  ? 2
			   : (c >> 4) == 14 ? 3
			   : (c >> 3) == 30 ? 4
					    : 0;
		int ok = k > 0 && i + k <= n;
		for (size_t m = 1; ok && m < k; m++)
			ok = ((unsigned char)src[i + m] >> 6) == 2;
		if (!ok || (k == 1 && (c < ' ' || c == 0x7f))) {
			dst[o++] = c == '\n' || c == '\r' || c == '\t' ? ' ' : '?';
			i++;
			continue;
		}
		memcpy(dst + o, src + i, k);
		o += k;
		i += k;
	}
	dst[o] = '\0';
}

/* What one HTTP exchange means for the message. */
static void
webhook_outcome(const struct webhook *wh, const struct nt_http_response *r, struct nt_outcome *o,
		char *reply, size_t size)
{
	char body[4 * WEBHOOK_REPLY_BODY + 1];

	*o = (struct nt_outcome){.reply = reply};
	if (r->status == 0) {
		o->result = NT_DEFERRED;
		if (r->timed_out)
			snprintf(reply, size, "timeout after %ld ms", wh->timeout_ms);
		else
			snprintf(reply, size, "%s", r->error ? r->error : "no response");
		return;
	}
	if (r->status >= 200 && r->status < 300) {
		o->result = NT_SENT;
		snprintf(reply, size, "HTTP %ld", r->status);
		return;
	}
	webhook_clean_text(body, r->body ? r->body : "",
			   r->body_len < WEBHOOK_REPLY_BODY ? r->body_len : WEBHOOK_REPLY_BODY);
	snprintf(reply, size, "HTTP %ld%s%s", r->status, body[0] ? ": " : "", body);
	if (r->status == 408 || r->status == 429 || r->status >= 500) {
		o->result = NT_DEFERRED;
		if (r->retry_after_s >= 0)
			o->retry_after_ms = (int64_t)r->retry_after_s * 1000;
	} else
		o->result = NT_FAILED; /* 3xx (not followed) and 4xx: retrying won't help */
}

static void webhook_pump(struct webhook *wh);

/* The host's HTTP answer, on the loop. */
static void
webhook_http_done(void *arg, const struct nt_http_response *r)
{
	struct webhook_job *j = arg;
	struct webhook *wh = j->wh;
	struct nt_outcome o;
	char reply[1024];

	if (wh == NULL) {
		TAILQ_REMOVE(&webhook_orphans, j, link);
		webhook_job_free(j);
		return;
	}
	TAILQ_REMOVE(&wh->running, j, link);
	wh->nrunning--;
	webhook_outcome(wh, r, &o, reply, sizeof(reply));
	j->done(j->token, &o);
	webhook_job_free(j);
	webhook_pump(wh);
}

/* Ends a job that never reached the network. */
static void
webhook_finish_early(struct webhook_job *j, enum nt_result result, const char *reply)
{
	struct nt_outcome o = {.result = result, .reply = reply};
	j->done(j->token, &o);
	webhook_job_free(j);
}

/*
 * The header lines of one attempt: the configured and default ones, then the Standard Webhooks
 * trio, signed over "id.timestamp.body" with this attempt's time.
 */
static char **
webhook_attempt_headers(const struct webhook *wh, const struct nt_message *msg)
{
	char **l = calloc(wh->nhdr + 4, sizeof(*l));
	size_t n = 0;

	if (l == NULL)
		return NULL;
	for (size_t i = 0; i < wh->nhdr; i++)
		if ((l[n++] = strdup(wh->hdr[i])) == NULL)
			goto fail;
	if (wh->key != NULL) {
		long long ts = (long long)(wh->host->now_ms() / 1000);
		char *signed_part = webhook_printf("%s.%lld.", msg->message_id, ts);
		unsigned char mac[32];
		char b64[48];
		if (signed_part == NULL)
			goto fail;
		size_t plen = strlen(signed_part);
		char *content = malloc(plen + msg->data_len + 1);
		if (content == NULL) {
			free(signed_part);
			goto fail;
		}
		memcpy(content, signed_part, plen);
		memcpy(content + plen, msg->data, msg->data_len);
		wh->host->hmac_sha256(wh->key, wh->keylen, content, plen + msg->data_len, mac);
		free(content);
		free(signed_part);
		webhook_b64_encode(mac, sizeof(mac), b64);
		if ((l[n++] = webhook_printf("webhook-id: %s", msg->message_id)) == NULL ||
		    (l[n++] = webhook_printf("webhook-timestamp: %lld", ts)) == NULL ||
		    (l[n++] = webhook_printf("webhook-signature: v1,%s", b64)) == NULL)
			goto fail;
	}
	return l;
fail:
	webhook_lines_free(l);
	return NULL;
}

/* Puts one job on the wire, or ends it at once when it cannot be sent. */
static void
webhook_start(struct webhook *wh, struct webhook_job *j)
{
	const struct nt_message *msg = j->msg;
	char *err = NULL;

	if (msg->message_id == NULL ||
	    !webhook_header_value_ok(msg->message_id, strlen(msg->message_id))) {
		webhook_finish_early(j, NT_FAILED, "message id unusable as webhook-id");
		return;
	}
	if ((j->url = webhook_url_expand(wh, msg, &err)) == NULL) {
		webhook_finish_early(j, NT_FAILED, err ? err : "url: cannot be built");
		free(err);
		return;
	}
	if ((j->hdr = webhook_attempt_headers(wh, msg)) == NULL) {
		webhook_finish_early(j, NT_DEFERRED, "out of memory");
		return;
	}
	struct nt_http_request req = {.method = wh->method,
				      .url = j->url,
				      .headers = (const char *const *)j->hdr,
				      .body = msg->data,
				      .body_len = msg->data_len,
				      .timeout_ms = wh->timeout_ms};
	TAILQ_INSERT_TAIL(&wh->running, j, link);
	wh->nrunning++;
	if (wh->host->http_request(&req, webhook_http_done, j) < 0) {
		TAILQ_REMOVE(&wh->running, j, link);
		wh->nrunning--;
		webhook_finish_early(j, NT_DEFERRED, "cannot start the HTTP request");
	}
}

/* Starts waiting jobs while slots are free; a `done` that re-enters deliver is absorbed. */
static void
webhook_pump(struct webhook *wh)
{
	struct webhook_job *j;

	if (wh->pumping)
		return;
	wh->pumping = 1;
	while (wh->nrunning < wh->max_concurrency && (j = TAILQ_FIRST(&wh->waiting)) != NULL) {
		TAILQ_REMOVE(&wh->waiting, j, link);
		wh->nwaiting--;
		webhook_start(wh, j);
	}
	wh->pumping = 0;
}

static int
webhook_deliver(void *state, const struct nt_message *msg, nt_done_fn done, void *token)
{
	struct webhook *wh = state;
	struct webhook_job *j;

	if (wh->stopping || wh->nwaiting >= 4 * wh->max_concurrency)
		return -1;
	if ((j = calloc(1, sizeof(*j))) == NULL)
		return -1;
	*j = (struct webhook_job){.wh = wh, .msg = msg, .done = done, .token = token};
	TAILQ_INSERT_TAIL(&wh->waiting, j, link);
	wh->nwaiting++;
	webhook_pump(wh);
	return 0;
}

static void
webhook_stop(void *state)
{
	((struct webhook *)state)->stopping = 1;
}

/* Waiting jobs are dropped; running ones become orphans whose late answer is ignored. */
static void
webhook_fini(void *state)
{
	struct webhook *wh = state;
	struct webhook_job *j;

	if (wh == NULL)
		return;
	while ((j = TAILQ_FIRST(&wh->waiting)) != NULL) {
		TAILQ_REMOVE(&wh->waiting, j, link);
		webhook_job_free(j);
	}
	while ((j = TAILQ_FIRST(&wh->running)) != NULL) {
		TAILQ_REMOVE(&wh->running, j, link);
		j->wh = NULL;
		j->msg = NULL;
		TAILQ_INSERT_TAIL(&webhook_orphans, j, link);
	}
	webhook_lines_free(wh->hdr);
	free(wh->key);
	free(wh->url);
	free(wh->channel);
	free(wh);
}

/* At dlclose: the orphans whose answers never came (the host's client dropped them). */
__attribute__((destructor)) static void
webhook_unload(void)
{
	struct webhook_job *j;
	while ((j = TAILQ_FIRST(&webhook_orphans)) != NULL) {
		TAILQ_REMOVE(&webhook_orphans, j, link);
		webhook_job_free(j);
	}
}

/* Appends one "Name: value" line to the channel's fixed headers. */
static int
webhook_add_line(struct webhook *wh, char *line)
{
	char **grown;

	if (line == NULL || (grown = realloc(wh->hdr, (wh->nhdr + 2) * sizeof(*grown))) == NULL) {
		free(line);
		return -1;
	}
	wh->hdr = grown;
	wh->hdr[wh->nhdr++] = line;
	wh->hdr[wh->nhdr] = NULL;
	return 0;
}

/* "headers": names are tokens, values single-line; ours are reserved. */
static char *
webhook_parse_headers(struct webhook *wh, json_t *v, int *has_ctype, int *has_agent)
{
	static const char *reserved[] = {"webhook-id", "webhook-timestamp", "webhook-signature",
					 "content-length", "transfer-encoding"};
	const char *name;
	json_t *x;

	if (!json_is_object(v))
		return strdup("headers: must be an object of header name -> value");
	json_object_foreach(v, name, x)
	{
		if (!webhook_header_name_ok(name))
			return webhook_printf("headers.%s: not a valid header name", name);
		for (size_t i = 0; i < sizeof(reserved) / sizeof(reserved[0]); i++)
			if (strcasecmp(name, reserved[i]) == 0)
				return webhook_printf("headers.%s: set by the plugin itself", name);
		if (!json_is_string(x))
			return webhook_printf("headers.%s: must be a string", name);
		if (!webhook_header_value_ok(json_string_value(x), json_string_length(x)))
			return webhook_printf(
			    "headers.%s: must not contain CR, LF, NUL or control characters", name);
		if (strcasecmp(name, "Content-Type") == 0)
			*has_ctype = 1;
		if (strcasecmp(name, "User-Agent") == 0)
			*has_agent = 1;
		if (webhook_add_line(wh, webhook_printf("%s: %s", name, json_string_value(x))) < 0)
			return strdup("out of memory");
	}
	return NULL;
}

/* "secret": Standard Webhooks "whsec_<base64>" (the key is the decoded bytes) or plain text. */
static char *
webhook_parse_secret(struct webhook *wh, json_t *v)
{
	const char *s = json_string_value(v);

	if (!json_is_string(v) || json_string_length(v) == 0 || strlen(s) != json_string_length(v))
		return strdup("secret: must be a non-empty string");
	if (strncmp(s, "whsec_", 6) == 0) {
		if ((wh->key = webhook_b64_decode(s + 6, &wh->keylen)) == NULL)
			return strdup("secret: what follows \"whsec_\" must be base64");
		return NULL;
	}
	wh->keylen = strlen(s);
	wh->key = (unsigned char *)strdup(s);
	return wh->key ? NULL : strdup("out of memory");
}

/* An integer setting within [LO, HI]. */
static char *
webhook_parse_int(json_t *v, const char *key, long lo, long hi, long *out)
{
	if (!json_is_integer(v) || json_integer_value(v) < lo || json_integer_value(v) > hi)
		return webhook_printf("%s: must be an integer from %ld to %ld", key, lo, hi);
	*out = (long)json_integer_value(v);
	return NULL;
}

/* Reads every setting; the first problem ends init with a message naming its key. */
static char *
webhook_configure(struct webhook *wh, json_t *config)
{
	const char *key;
	json_t *v;
	long n;
	char *err = NULL;
	int has_ctype = 0, has_agent = 0;

	if (!json_is_object(config))
		return strdup("settings must be an object");
	json_object_foreach(config, key, v)
	{
		if (strcmp(key, "plugin") == 0 || strcmp(key, "retry") == 0 ||
		    strcmp(key, "payload") == 0)
			continue; /* the host's keys */
		if (strcmp(key, "url") == 0) {
			if (!json_is_string(v))
				err = strdup("url: must be a string");
			else if ((err =
				      webhook_url_check(json_string_value(v), json_string_length(v),
							&wh->url_has_fields)) == NULL &&
				 (wh->url = strdup(json_string_value(v))) == NULL)
				err = strdup("out of memory");
		} else if (strcmp(key, "method") == 0) {
			if (json_is_string(v) && strcmp(json_string_value(v), "POST") == 0)
				wh->method = "POST";
			else if (json_is_string(v) && strcmp(json_string_value(v), "PUT") == 0)
				wh->method = "PUT";
			else
				err = strdup("method: must be \"POST\" or \"PUT\"");
		} else if (strcmp(key, "headers") == 0)
			err = webhook_parse_headers(wh, v, &has_ctype, &has_agent);
		else if (strcmp(key, "secret") == 0)
			err = webhook_parse_secret(wh, v);
		else if (strcmp(key, "max_concurrency") == 0) {
			if ((err = webhook_parse_int(v, key, 1, 256, &n)) == NULL)
				wh->max_concurrency = (int)n;
		} else if (strcmp(key, "timeout_ms") == 0)
			err = webhook_parse_int(v, key, 100, 300000, &wh->timeout_ms);
		else
			err = webhook_printf("%s: unknown setting", key);
		if (err != NULL)
			return err;
	}
	if (wh->url == NULL)
		return strdup("url: required (the receiver's http:// or https:// URL)");
	if ((!has_ctype && webhook_add_line(wh, strdup("Content-Type: application/json")) < 0) ||
	    (!has_agent &&
	     webhook_add_line(wh, strdup("User-Agent: nurtured/" PACKAGE_VERSION)) < 0))
		return strdup("out of memory");
	return NULL;
}

static int
webhook_init(const struct nt_host *host, const char *channel, json_t *config, void **state,
	     char **err)
{
	struct webhook *wh;

	if (host->struct_size < offsetof(struct nt_host, hmac_sha256) + sizeof(host->hmac_sha256) ||
	    host->http_request == NULL || host->hmac_sha256 == NULL || host->now_ms == NULL) {
		*err = strdup("the host offers no HTTP client");
		return -1;
	}
	if ((wh = calloc(1, sizeof(*wh))) == NULL)
		return -1;
	wh->host = host;
	wh->channel = strdup(channel ? channel : "");
	wh->method = "POST";
	wh->max_concurrency = 8;
	wh->timeout_ms = 10000;
	TAILQ_INIT(&wh->waiting);
	TAILQ_INIT(&wh->running);
	if ((*err = webhook_configure(wh, config)) != NULL) {
		webhook_fini(wh);
		return -1;
	}
	*state = wh;
	return 0;
}

static const struct nt_plugin webhook_plugin = {
    .abi_major = NT_PLUGIN_ABI_MAJOR,
    .abi_minor = NT_PLUGIN_ABI_MINOR,
    .struct_size = sizeof(struct nt_plugin),
    .name = "webhook",
    .payload = NT_PAYLOAD_JSON,
    .init = webhook_init,
    .deliver = webhook_deliver,
    .stop = webhook_stop,
    .fini = webhook_fini,
};

const struct nt_plugin *nurtured_plugin(void);

const struct nt_plugin *
nurtured_plugin(void)
{
	return &webhook_plugin;
}
