#include "imap_poll.h"

#include <curl/curl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "inbound_classify.h"
#include "inbound_client.h"
#include "log.h"
#include "util.h"

/* Messages handled per poll at most; the rest wait for the next one. */
#define IMAP_POLL_BATCH 200

struct imap_poll {
	pthread_t thread;
	pthread_mutex_t lock;
	pthread_cond_t cond;
	volatile int stop;
	char *url; /* imaps://host/INBOX, without a trailing '/' */
	char *user, *password, *move_to;
	int insecure;
	int64_t interval_ms;
	char *api;	 /* the daemon's own API base */
	char *token;	 /* an API token, or NULL */
	size_t max_body; /* the daemon's max_body_bytes: longer messages are cut to fit */
};

static int
imap_progress(void *arg, curl_off_t a, curl_off_t b, curl_off_t c, curl_off_t d)
{
	struct imap_poll *p = arg;
	(void)a;
	(void)b;
	(void)c;
	(void)d;
	return p->stop;
}

/*
 * One IMAP request: URL (the mailbox, or a message in it), with CUSTOM as the command (NULL:
 * fetch the URL). The response body goes to *OUT (malloc'd) when OUT is given. 0, or -1.
 */
static int
imap_request(struct imap_poll *p, CURL *h, const char *url, const char *custom, char **out,
	     size_t *outlen)
{
	struct inbound_buf b = {.max = INBOUND_MAX_BYTES + 1};
	CURLcode rc;

	curl_easy_reset(h);
	curl_easy_setopt(h, CURLOPT_URL, url);
	if (p->user)
		curl_easy_setopt(h, CURLOPT_USERNAME, p->user);
	if (p->password)
		curl_easy_setopt(h, CURLOPT_PASSWORD, p->password);
	if (custom)
		curl_easy_setopt(h, CURLOPT_CUSTOMREQUEST, custom);
	if (p->insecure) {
		curl_easy_setopt(h, CURLOPT_SSL_VERIFYPEER, 0L);
		curl_easy_setopt(h, CURLOPT_SSL_VERIFYHOST, 0L);
	}
	curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, inbound_buf_write);
	curl_easy_setopt(h, CURLOPT_WRITEDATA, &b);
	curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT, 20L);
	curl_easy_setopt(h, CURLOPT_TIMEOUT, 300L);
	curl_easy_setopt(h, CURLOPT_XFERINFOFUNCTION, imap_progress);
	curl_easy_setopt(h, CURLOPT_XFERINFODATA, p);
	curl_easy_setopt(h, CURLOPT_NOPROGRESS, 0L);
	rc = curl_easy_perform(h);
	if (rc != CURLE_OK) {
		if (!p->stop)
			log_warnx("imap: %s%s%s: %s", url, custom ? " " : "", custom ? custom : "",
				  curl_easy_strerror(rc));
		free(b.data);
		return -1;
	}
	if (out != NULL) {
		*out = b.data ? b.data : xstrdup("");
		if (outlen)
			*outlen = b.len;
	} else
		free(b.data);
	return 0;
}

/* The UIDs of "* SEARCH 1 2 3" into *UIDS (malloc'd); their number. */
static size_t
imap_parse_search(const char *text, unsigned long **uids)
{
	const char *p = strstr(text, "SEARCH");
	size_t n = 0;

	*uids = NULL;
	if (p == NULL)
		return 0;
	p += 6;
	while (*p && *p != '\r' && *p != '\n' && n < IMAP_POLL_BATCH) {
		char *end;
		unsigned long v = strtoul(p, &end, 10);
		if (end == p)
			break;
		*uids = xrealloc(*uids, (n + 1) * sizeof(**uids));
		(*uids)[n++] = v;
		p = end;
	}
	return n;
}

/* Deletes or moves UID, once its effects are committed. */
static int
imap_done_with(struct imap_poll *p, CURL *h, unsigned long uid)
{
	char cmd[512];

	if (p->move_to != NULL) {
		snprintf(cmd, sizeof(cmd), "UID MOVE %lu \"%s\"", uid, p->move_to);
		return imap_request(p, h, p->url, cmd, NULL, NULL);
	}
	snprintf(cmd, sizeof(cmd), "UID STORE %lu +FLAGS.SILENT (\\Deleted)", uid);
	if (imap_request(p, h, p->url, cmd, NULL, NULL) < 0)
		return -1;
	snprintf(cmd, sizeof(cmd), "UID EXPUNGE %lu", uid);
	if (imap_request(p, h, p->url, cmd, NULL, NULL) == 0)
		return 0;
	return imap_request(p, h, p->url, "EXPUNGE", NULL, NULL);
}

/* One poll: every message not yet done, in UID order. */
static void
imap_poll_once(struct imap_poll *p, CURL *h)
{
	char *text = NULL;
	unsigned long *uids;
	size_t n;

	/* Flagged ones are those the daemon refused as no mail: left for a person. */
	if (imap_request(p, h, p->url, "UID SEARCH UNDELETED UNFLAGGED", &text, NULL) < 0)
		return;
	n = imap_parse_search(text, &uids);
	free(text);
	for (size_t i = 0; i < n && !p->stop; i++) {
		char *url = xasprintf("%s/;UID=%lu", p->url, uids[i]), *raw = NULL, *body = NULL;
		size_t len = 0;
		if (imap_request(p, h, url, NULL, &raw, &len) < 0) {
			free(url);
			break;
		}
		free(url);
		long status =
		    inbound_client_post(p->api, p->token, raw, len, NULL, &body, &p->stop);
		free(raw);
		if (status == 202) {
			log_debug("imap: UID %lu taken: %s", uids[i], body ? body : "");
			imap_done_with(p, h, uids[i]);
		} else if (status == 400 || status == 413) {
			char cmd[128];
			log_warnx(
			    "imap: UID %lu is no mail the daemon can take (%ld %s); flagged and "
			    "left in the mailbox",
			    uids[i], status, body ? body : "");
			snprintf(cmd, sizeof(cmd), "UID STORE %lu +FLAGS.SILENT (\\Flagged)",
				 uids[i]);
			imap_request(p, h, p->url, cmd, NULL, NULL);
		} else {
			log_warnx("imap: UID %lu: the daemon did not take it (%ld); next poll",
				  uids[i], status);
			free(body);
			break;
		}
		free(body);
	}
	free(uids);
}

static void *
imap_poll_thread(void *arg)
{
	struct imap_poll *p = arg;
	CURL *h = curl_easy_init();

	if (h == NULL) {
		log_warnx("imap: cannot start libcurl");
		return NULL;
	}
	log_info("imap: polling %s every %lld ms", p->url, (long long)p->interval_ms);
	while (!p->stop) {
		imap_poll_once(p, h);
		struct timespec ts;
		clock_gettime(CLOCK_REALTIME, &ts);
		int64_t ns = ts.tv_nsec + (p->interval_ms % 1000) * 1000000;
		ts.tv_sec += p->interval_ms / 1000 + ns / 1000000000;
		ts.tv_nsec = ns % 1000000000;
		pthread_mutex_lock(&p->lock);
		while (!p->stop && pthread_cond_timedwait(&p->cond, &p->lock, &ts) == 0)
			;
		pthread_mutex_unlock(&p->lock);
	}
	curl_easy_cleanup(h);
	return NULL;
}

struct imap_poll *
imap_poll_start(const struct config *cfg)
{
	const struct inbound_conf *in = &cfg->inbound;
	struct imap_poll *p;

	if (in->imap_url == NULL)
		return NULL;
	p = xcalloc(1, sizeof(*p));
	p->url = xstrdup(in->imap_url);
	size_t n = strlen(p->url);
	while (n > 0 && p->url[n - 1] == '/')
		p->url[--n] = '\0';
	p->user = in->imap_user ? xstrdup(in->imap_user) : NULL;
	p->password = in->imap_password ? xstrdup(in->imap_password) : NULL;
	p->move_to = in->imap_move_to ? xstrdup(in->imap_move_to) : NULL;
	p->insecure = in->imap_insecure;
	p->interval_ms = in->imap_interval_ms;
	p->api = inbound_client_url(cfg);
	p->token = config_admin_token(cfg) ? xstrdup(config_admin_token(cfg)) : NULL;
	p->max_body = cfg->max_body_bytes;
	pthread_mutex_init(&p->lock, NULL);
	pthread_cond_init(&p->cond, NULL);
	if (pthread_create(&p->thread, NULL, imap_poll_thread, p) != 0) {
		log_warnx("imap: cannot start the poller thread");
		imap_poll_free(p);
		return NULL;
	}
	return p;
}

void
imap_poll_stop(struct imap_poll *p)
{
	if (p == NULL)
		return;
	pthread_mutex_lock(&p->lock);
	p->stop = 1;
	pthread_cond_signal(&p->cond);
	pthread_mutex_unlock(&p->lock);
}

void
imap_poll_free(struct imap_poll *p)
{
	if (p == NULL)
		return;
	imap_poll_stop(p);
	if (p->thread)
		pthread_join(p->thread, NULL);
	pthread_mutex_destroy(&p->lock);
	pthread_cond_destroy(&p->cond);
	free(p->url);
	free(p->user);
	free(p->password);
	free(p->move_to);
	free(p->api);
	free(p->token);
	free(p);
}
