#include "inbound_client.h"

#include <curl/curl.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sysexits.h>

#include "diag.h"
#include "inbound_classify.h"
#include "util.h"

char *
inbound_client_url(const struct config *cfg)
{
	const char *h = cfg->listen_host;

	/* A wildcard listener is reached on loopback. */
	if (h == NULL || *h == '\0' || strcmp(h, "0.0.0.0") == 0 || strcmp(h, "*") == 0)
		h = "127.0.0.1";
	else if (strcmp(h, "::") == 0)
		h = "::1";
	return strchr(h, ':') ? xasprintf("http://[%s]:%s", h, cfg->listen_port)
			      : xasprintf("http://%s:%s", h, cfg->listen_port);
}

size_t
inbound_client_fit(const char *raw, size_t len, size_t max)
{
	if (len <= max || max == 0)
		return len;
	for (size_t i = max; i > 0; i--)
		if (raw[i - 1] == '\n')
			return i;
	return max;
}

/* libcurl's write callback into an inbound_buf: past its max the transfer fails. */
size_t
inbound_buf_write(char *ptr, size_t size, size_t n, void *arg)
{
	struct inbound_buf *b = arg;
	size_t k = size * n;
	if (b->len + k > b->max)
		return 0;
	b->data = xrealloc(b->data, b->len + k + 1);
	memcpy(b->data + b->len, ptr, k);
	b->len += k;
	b->data[b->len] = '\0';
	return k;
}

static int
inbound_client_progress(void *arg, curl_off_t a, curl_off_t b, curl_off_t c, curl_off_t d)
{
	volatile int *abort_flag = arg;
	(void)a;
	(void)b;
	(void)c;
	(void)d;
	return abort_flag != NULL && *abort_flag;
}

long
inbound_client_post(const char *base, const char *token, const char *raw, size_t len,
		    const char *rcpt, char **body, volatile int *abort_flag)
{
	CURL *h = curl_easy_init();
	struct curl_slist *hdrs = NULL;
	struct inbound_buf b = {.max = 1u << 20}; /* the daemon's answer: a small JSON */
	long status = 0;
	char *url;

	*body = NULL;
	if (h == NULL)
		return 0;
	if (rcpt != NULL) {
		char *esc = curl_easy_escape(h, rcpt, 0);
		url = xasprintf("%s/v1/inbound?rcpt=%s", base, esc);
		curl_free(esc);
	} else
		url = xasprintf("%s/v1/inbound", base);
	hdrs = curl_slist_append(hdrs, "Content-Type: message/rfc822");
	hdrs = curl_slist_append(hdrs, "Expect:");
	if (token != NULL) {
		char *auth = xasprintf("Authorization: Bearer %s", token);
		hdrs = curl_slist_append(hdrs, auth);
		free(auth);
	}
	curl_easy_setopt(h, CURLOPT_URL, url);
	curl_easy_setopt(h, CURLOPT_HTTPHEADER, hdrs);
	curl_easy_setopt(h, CURLOPT_POSTFIELDS, raw);
	curl_easy_setopt(h, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)len);
	curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, inbound_buf_write);
	curl_easy_setopt(h, CURLOPT_WRITEDATA, &b);
	curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT, 10L);
	curl_easy_setopt(h, CURLOPT_TIMEOUT, 120L);
	curl_easy_setopt(h, CURLOPT_NOPROXY, "*");
	curl_easy_setopt(h, CURLOPT_XFERINFOFUNCTION, inbound_client_progress);
	curl_easy_setopt(h, CURLOPT_XFERINFODATA, (void *)abort_flag);
	curl_easy_setopt(h, CURLOPT_NOPROGRESS, 0L);
	if (curl_easy_perform(h) == CURLE_OK)
		curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &status);
	curl_slist_free_all(hdrs);
	curl_easy_cleanup(h);
	free(url);
	*body = b.data;
	return status;
}

/* Reads all of stdin, up to INBOUND_MAX_BYTES + 1 (more is refused anyway). */
static char *
inbound_read_stdin(size_t *len)
{
	size_t cap = 65536, n = 0, r;
	char *buf = xmalloc(cap + 1);

	while ((r = fread(buf + n, 1, cap - n, stdin)) > 0) {
		n += r;
		if (n == cap) {
			if (cap > INBOUND_MAX_BYTES)
				break;
			cap *= 2;
			buf = xrealloc(buf, cap + 1);
		}
	}
	buf[n] = '\0';
	*len = n;
	return buf;
}

int
inbound_pipe_main(int argc, char **argv)
{
	static const struct option longopts[] = {{"config", required_argument, NULL, 'c'},
						 {"rcpt", required_argument, NULL, 'r'},
						 {"help", no_argument, NULL, 'h'},
						 {NULL, 0, NULL, 0}};
	const char *file = NULL, *rcpt = NULL;
	int ch;

	while ((ch = getopt_long(argc, argv, "c:r:h", longopts, NULL)) != -1) {
		switch (ch) {
		case 'c':
			file = optarg;
			break;
		case 'r':
			rcpt = optarg;
			break;
		case 'h':
			printf(
			    "usage: nurtured inbound [-c FILE] [--rcpt ADDR] < MESSAGE\n"
			    "exit 0: taken; 65: not a mail; 75: the daemon cannot take it now\n");
			return 0;
		default:
			return EX_USAGE;
		}
	}
	struct diag d;
	diag_init(&d, file ? file : "(defaults)", NULL);
	struct config *cfg = config_load(file, &d);
	for (size_t i = 0; i < d.n; i++)
		fprintf(stderr, "%s\n", d.msgs[i]);
	diag_free(&d);
	if (cfg == NULL)
		return EX_TEMPFAIL; /* the MTA keeps the message until the setup is fixed */

	size_t len;
	char *raw = inbound_read_stdin(&len);
	struct inbound_class c;
	const char *err = NULL;
	/* What is no mail never goes to the daemon: the MTA bounces it (sysexits 65). */
	if (inbound_classify(raw, len, &c, &err) != 0) {
		fprintf(stderr, "nurtured inbound: %s\n", err);
		free(raw);
		config_free(cfg);
		return EX_DATAERR;
	}
	inbound_class_free(&c);
	char *url = inbound_client_url(cfg), *body = NULL;
	size_t fit = inbound_client_fit(raw, len, cfg->max_body_bytes);
	if (fit < len)
		fprintf(stderr,
			"nurtured inbound: %zu bytes, over max_body_bytes: the first %zu sent\n",
			len, fit);
	long status =
	    inbound_client_post(url, config_admin_token(cfg), raw, fit, rcpt, &body, NULL);
	int rc = status == 202			    ? EX_OK
		 : (status == 400 || status == 413) ? EX_DATAERR
						    : EX_TEMPFAIL;
	if (rc != EX_OK)
		fprintf(stderr, "nurtured inbound: %s: %s%s\n", url,
			status ? "the daemon answered " : "the daemon cannot be reached",
			status ? (body ? body : "") : "");
	else if (body != NULL)
		printf("%s\n", body);
	free(body);
	free(url);
	free(raw);
	config_free(cfg);
	return rc;
}
