/*
 * Internationalised addresses (RFC 6531) for the smtp plugin, over libcurl's SMTP.
 *
 * libcurl sends `SMTPUTF8` on MAIL FROM when the relay's EHLO offered it and an envelope
 * address is not ASCII; when the relay does not offer it, libcurl would send the UTF-8
 * address without the parameter, which RFC 6531 forbids. So this file reads the EHLO reply
 * itself and stops each transfer before MAIL FROM unless the relay offers SMTPUTF8:
 *
 * - CURLOPT_DEBUGFUNCTION sees every command libcurl sends (CURLINFO_HEADER_OUT) and every
 *   reply line it reads (CURLINFO_HEADER_IN). An EHLO or HELO sent starts a new capability
 *   list; a reply line "250-SMTPUTF8" / "250 SMTPUTF8" after it marks SMTPUTF8 as offered.
 *   This is libcurl's own test (the keyword, case as sent, after the code), so the two never
 *   disagree; a second EHLO (after STARTTLS) replaces what the first said, as RFC 3207 asks.
 * - CURLOPT_PREREQFUNCTION is called after the connection is set up (greeting, EHLO,
 *   STARTTLS, AUTH) or reused, and before the first command of the transfer (MAIL FROM):
 *   it aborts the transfer when the last EHLO did not offer SMTPUTF8. The check is therefore
 *   made on the very connection the message would go over, with no extra round trip and no
 *   window in which a UTF-8 address reaches a relay that did not agree to it.
 *
 * One easy handle per batch: libcurl keeps the connection between the batch's messages and
 * opens a new one after an error. Each message's outcome is read from the last reply line.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <curl/curl.h>

#include "smtp_utf8.h"

/* RFC 5321 §4.5.3.2's longest wait for a reply: the end of the data, 10 minutes. */
#define SMTP_UTF8_REPLY_MS_DEFAULT 600000L

struct smtp_utf8 {
	char *url; /* smtp://host:port/helo: libcurl takes the EHLO name from the path */
	char *server;
	long use_ssl;
	int tls_verify;
	char *ca_file, *user, *password;
	long connect_ms, reply_ms, transfer_ms;
};

/* The last command libcurl sent, as the debug callback saw it. */
enum smtp_utf8_cmd {
	SMTP_UTF8_CMD_NONE,  /* connecting: the greeting */
	SMTP_UTF8_CMD_EHLO,  /* EHLO or HELO */
	SMTP_UTF8_CMD_SETUP, /* STARTTLS, AUTH and its continuation lines */
	SMTP_UTF8_CMD_MAIL,
	SMTP_UTF8_CMD_RCPT,
	SMTP_UTF8_CMD_DATA, /* DATA, then the data and its final reply */
	SMTP_UTF8_CMD_QUIT, /* never the last command: t->quitting instead */
};

/* What one easy handle's dialogue has shown; the capabilities outlive a transfer. */
struct smtp_utf8_talk {
	enum smtp_utf8_cmd cmd;
	int offers_utf8;	   /* the last EHLO's reply listed SMTPUTF8 */
	int refused;		   /* the prereq callback stopped the transfer for it */
	int quitting;		   /* QUIT sent: its reply says nothing about the message */
	char last[SMTP_REPLY_MAX]; /* the last reply line of this transfer */
	const char *data;	   /* the message being read out */
	size_t len, off;
};

int
smtp_utf8_needed(const char *addr)
{
	for (; addr != NULL && *addr; addr++)
		if ((unsigned char)*addr >= 0x80)
			return 1;
	return 0;
}

/* The command a line libcurl sent starts with. */
static enum smtp_utf8_cmd
smtp_utf8_cmd_of(const char *buf, size_t len)
{
	static const struct {
		const char *word;
		enum smtp_utf8_cmd cmd;
	} words[] = {
	    {"EHLO ", SMTP_UTF8_CMD_EHLO}, {"HELO ", SMTP_UTF8_CMD_EHLO},
	    {"MAIL ", SMTP_UTF8_CMD_MAIL}, {"RCPT ", SMTP_UTF8_CMD_RCPT},
	    {"DATA", SMTP_UTF8_CMD_DATA},  {"QUIT", SMTP_UTF8_CMD_QUIT},
	};
	for (size_t i = 0; i < sizeof(words) / sizeof(words[0]); i++) {
		size_t n = strlen(words[i].word);
		if (len >= n && strncasecmp(buf, words[i].word, n) == 0)
			return words[i].cmd;
	}
	return SMTP_UTF8_CMD_SETUP;
}

/* One reply line: remembered, and read for SMTPUTF8 when it answers an EHLO. */
static void
smtp_utf8_reply_line(struct smtp_utf8_talk *t, const char *line, size_t len)
{
	char buf[SMTP_REPLY_MAX];

	if (len == 0)
		return;
	if (len > sizeof(buf) - 1)
		len = sizeof(buf) - 1;
	memcpy(buf, line, len);
	buf[len] = '\0';
	smtp_reply_set(t->last, buf);
	if (t->cmd == SMTP_UTF8_CMD_EHLO && len >= 12 && buf[0] == '2' &&
	    (buf[3] == '-' || buf[3] == ' ') && memcmp(buf + 4, "SMTPUTF8", 8) == 0)
		t->offers_utf8 = 1;
}

/* libcurl's view of the dialogue (CURLOPT_VERBOSE): commands out, reply lines in. */
static int
smtp_utf8_debug_cb(CURL *h, curl_infotype type, char *buf, size_t len, void *arg)
{
	struct smtp_utf8_talk *t = arg;
	(void)h;

	if (type == CURLINFO_HEADER_OUT) {
		enum smtp_utf8_cmd c = smtp_utf8_cmd_of(buf, len);
		/* libcurl closes a connection after a refusal with QUIT before it returns:
		 * "221 Bye" must not hide the refusal, nor QUIT the command it answered */
		t->quitting = c == SMTP_UTF8_CMD_QUIT;
		if (t->quitting)
			return 0;
		t->cmd = c;
		if (t->cmd == SMTP_UTF8_CMD_EHLO)
			t->offers_utf8 = 0; /* a new capability list follows */
	} else if (type == CURLINFO_HEADER_IN && !t->quitting) {
		size_t start = 0;
		for (size_t i = 0; i <= len; i++)
			if (i == len || buf[i] == '\n') {
				size_t end = i;
				while (end > start &&
				       (buf[end - 1] == '\r' || buf[end - 1] == '\n'))
					end--;
				smtp_utf8_reply_line(t, buf + start, end - start);
				start = i + 1;
			}
	}
	return 0;
}

/* After the connection is ready, before MAIL FROM: only a relay that offers SMTPUTF8. */
static int
smtp_utf8_prereq_cb(void *arg, char *conn_primary_ip, char *conn_local_ip, int conn_primary_port,
		    int conn_local_port)
{
	struct smtp_utf8_talk *t = arg;
	(void)conn_primary_ip;
	(void)conn_local_ip;
	(void)conn_primary_port;
	(void)conn_local_port;

	if (t->offers_utf8)
		return CURL_PREREQFUNC_OK;
	t->refused = 1;
	return CURL_PREREQFUNC_ABORT;
}

/* libcurl reads the message here; it is already CRLF-terminated RFC 5322 text. */
static size_t
smtp_utf8_read_cb(char *buf, size_t size, size_t nitems, void *arg)
{
	struct smtp_utf8_talk *t = arg;
	size_t n = size * nitems;

	if (n > t->len - t->off)
		n = t->len - t->off;
	memcpy(buf, t->data + t->off, n);
	t->off += n;
	return n;
}

/* Nothing is downloaded in an SMTP upload; anything that comes is dropped. */
static size_t
smtp_utf8_write_cb(char *buf, size_t size, size_t nitems, void *arg)
{
	(void)buf;
	(void)arg;
	return size * nitems;
}

static char *
smtp_utf8_strdup(const char *s, int *oom)
{
	char *d;
	if (s == NULL)
		return NULL;
	if ((d = strdup(s)) == NULL)
		*oom = 1;
	return d;
}

struct smtp_utf8 *
smtp_utf8_new(const struct smtp_utf8_conf *c, char **err)
{
	struct smtp_utf8 *u;
	CURL *h;
	char *helo = NULL;
	int oom = 0;

	*err = NULL;
	if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK) {
		*err = strdup("cannot initialise libcurl (for SMTPUTF8)");
		return NULL;
	}
	if ((u = calloc(1, sizeof(*u))) == NULL) {
		curl_global_cleanup();
		return NULL;
	}
	if ((h = curl_easy_init()) != NULL) {
		helo = curl_easy_escape(h, c->helo, 0);
		curl_easy_cleanup(h);
	}
	if (helo == NULL || asprintf(&u->url, "smtp://%s/%s", c->server, helo) < 0)
		u->url = NULL;
	curl_free(helo);
	u->server = smtp_utf8_strdup(c->server, &oom);
	u->ca_file = smtp_utf8_strdup(c->ca_file, &oom);
	u->user = smtp_utf8_strdup(c->user, &oom);
	u->password = smtp_utf8_strdup(c->password, &oom);
	u->use_ssl = c->tls == SMTP_TLS_REQUIRED	? (long)CURLUSESSL_ALL
		     : c->tls == SMTP_TLS_OPPORTUNISTIC ? (long)CURLUSESSL_TRY
							: (long)CURLUSESSL_NONE;
	u->tls_verify = c->tls_verify;
	u->connect_ms = c->connect_ms;
	u->reply_ms = c->reply_ms > 0 ? c->reply_ms : SMTP_UTF8_REPLY_MS_DEFAULT;
	u->transfer_ms = c->transfer_ms;
	if (oom || u->url == NULL || u->server == NULL) {
		smtp_utf8_free(u);
		*err = strdup("out of memory");
		return NULL;
	}
	return u;
}

void
smtp_utf8_free(struct smtp_utf8 *u)
{
	if (u == NULL)
		return;
	if (u->password != NULL)
		explicit_bzero(u->password, strlen(u->password));
	free(u->url);
	free(u->server);
	free(u->ca_file);
	free(u->user);
	free(u->password);
	free(u);
	curl_global_cleanup();
}

/* The settings every transfer of the batch shares; 0 when libcurl took them all. */
static int
smtp_utf8_setup(struct smtp_utf8 *u, CURL *h, struct smtp_utf8_talk *t, char *errbuf)
{
	CURLcode rc = CURLE_OK;

#define SMTP_UTF8_OPT(opt, val)                                                                    \
	do {                                                                                       \
		if (rc == CURLE_OK)                                                                \
			rc = curl_easy_setopt(h, opt, val);                                        \
	} while (0)
	SMTP_UTF8_OPT(CURLOPT_URL, u->url);
	SMTP_UTF8_OPT(CURLOPT_NOSIGNAL, 1L); /* a worker thread: no SIGALRM for DNS */
	SMTP_UTF8_OPT(CURLOPT_TCP_NODELAY, 1L);
	SMTP_UTF8_OPT(CURLOPT_ERRORBUFFER, errbuf);
	SMTP_UTF8_OPT(CURLOPT_VERBOSE, 1L); /* the debug callback only runs with it */
	SMTP_UTF8_OPT(CURLOPT_DEBUGFUNCTION, smtp_utf8_debug_cb);
	SMTP_UTF8_OPT(CURLOPT_DEBUGDATA, t);
	SMTP_UTF8_OPT(CURLOPT_PREREQFUNCTION, smtp_utf8_prereq_cb);
	SMTP_UTF8_OPT(CURLOPT_PREREQDATA, t);
	SMTP_UTF8_OPT(CURLOPT_READFUNCTION, smtp_utf8_read_cb);
	SMTP_UTF8_OPT(CURLOPT_READDATA, t);
	SMTP_UTF8_OPT(CURLOPT_WRITEFUNCTION, smtp_utf8_write_cb);
	SMTP_UTF8_OPT(CURLOPT_UPLOAD, 1L);
	SMTP_UTF8_OPT(CURLOPT_USE_SSL, u->use_ssl);
	SMTP_UTF8_OPT(CURLOPT_SSLVERSION, (long)CURL_SSLVERSION_TLSv1_2);
	SMTP_UTF8_OPT(CURLOPT_SSL_VERIFYPEER, u->tls_verify ? 1L : 0L);
	SMTP_UTF8_OPT(CURLOPT_SSL_VERIFYHOST, u->tls_verify ? 2L : 0L);
	if (u->ca_file != NULL)
		SMTP_UTF8_OPT(CURLOPT_CAINFO, u->ca_file);
	if (u->user != NULL) {
		SMTP_UTF8_OPT(CURLOPT_USERNAME, u->user);
		SMTP_UTF8_OPT(CURLOPT_PASSWORD, u->password);
	}
	/* connect_ms: libcurl's connect phase lasts until the greeting, EHLO, STARTTLS and
	 * AUTH are done, a little more than libesmtp's connect() */
	if (u->connect_ms > 0)
		SMTP_UTF8_OPT(CURLOPT_CONNECTTIMEOUT_MS, u->connect_ms);
	/* one limit for every reply: the longest of the channel's reply phases */
	SMTP_UTF8_OPT(CURLOPT_SERVER_RESPONSE_TIMEOUT, (u->reply_ms + 999) / 1000);
	/* transfer_ms: sending the data may stall (under 1 byte/s) that long at most */
	if (u->transfer_ms > 0) {
		SMTP_UTF8_OPT(CURLOPT_LOW_SPEED_LIMIT, 1L);
		SMTP_UTF8_OPT(CURLOPT_LOW_SPEED_TIME, (u->transfer_ms + 999) / 1000);
	}
#undef SMTP_UTF8_OPT
	return rc == CURLE_OK ? 0 : -1;
}

#define SMTP_UTF8_REFUSED                                                                          \
	"5.6.7 internationalised address (RFC 6531): the relay %s does not offer SMTPUTF8, "       \
	"so the message was not sent; use a relay that offers SMTPUTF8, or another channel "       \
	"for this address"

/*
 * The outcome of one transfer. Only replies to RCPT and to the data speak about the message;
 * any other failure (connect, greeting, EHLO, TLS, AUTH, MAIL refused, a dropped connection,
 * a timeout) is the channel's, and deferred, as in the libesmtp sessions. Returns 1 when the
 * failure concerns the connection rather than this message (the caller gives the rest of
 * the batch the same outcome).
 */
static int
smtp_utf8_outcome(struct smtp_utf8 *u, struct smtp_utf8_talk *t, CURLcode rc, const char *errbuf,
		  struct smtp_utf8_msg *m)
{
	char buf[SMTP_REPLY_MAX];
	int code = 0, cls = 0, subj = 0;

	m->suppress = 0;
	if (rc == CURLE_OK) {
		m->result = NT_SENT;
		smtp_reply_set(m->reply, t->last[0] ? t->last : "250");
		return 0;
	}
	if (t->refused) {
		m->result = NT_FAILED;
		snprintf(buf, sizeof(buf), SMTP_UTF8_REFUSED, u->server);
		smtp_reply_set(m->reply, buf);
		return 1;
	}
	if (strlen(t->last) >= 3 && t->last[0] >= '1' && t->last[0] <= '5')
		code = atoi(t->last);
	if (code >= 400 && code < 600 &&
	    (t->cmd == SMTP_UTF8_CMD_RCPT || t->cmd == SMTP_UTF8_CMD_DATA)) {
		const char *text = t->last[3] != '\0' ? t->last + 4 : "";
		if (!smtp_text_enhanced(text, &cls, &subj))
			cls = subj = 0;
		m->result = smtp_reply_outcome(code, cls, subj, text, &m->suppress);
		smtp_reply_set(m->reply, t->last);
		return 0;
	}
	m->result = NT_DEFERRED;
	if (code >= 400 && code < 600)
		smtp_reply_set(m->reply, t->last);
	else {
		snprintf(buf, sizeof(buf), "%s: %s%s%.200s", u->server,
			 errbuf[0] ? errbuf : curl_easy_strerror(rc), t->last[0] ? "; last: " : "",
			 t->last);
		smtp_reply_set(m->reply, buf);
	}
	return t->cmd < SMTP_UTF8_CMD_MAIL;
}

void
smtp_utf8_send(struct smtp_utf8 *u, struct smtp_utf8_msg **msgs, int n)
{
	struct smtp_utf8_talk t = {0};
	char errbuf[CURL_ERROR_SIZE];
	CURL *h = curl_easy_init();
	int i = 0;

	errbuf[0] = '\0';
	if (h == NULL || smtp_utf8_setup(u, h, &t, errbuf) < 0) {
		for (; i < n; i++) {
			msgs[i]->result = NT_DEFERRED;
			smtp_reply_set(msgs[i]->reply, "cannot set up libcurl for SMTPUTF8");
		}
		if (h != NULL)
			curl_easy_cleanup(h);
		return;
	}
	for (; i < n; i++) {
		struct smtp_utf8_msg *m = msgs[i];
		struct curl_slist *rcpt = curl_slist_append(NULL, m->msg->recipient);
		CURLcode rc = CURLE_OUT_OF_MEMORY;

		errbuf[0] = '\0';
		t.last[0] = '\0';
		t.cmd = SMTP_UTF8_CMD_NONE; /* a greeting, or MAIL FROM on a kept connection */
		t.refused = 0;
		t.quitting = 0;
		t.data = m->msg->data;
		t.len = m->msg->data_len;
		t.off = 0;
		if (rcpt != NULL &&
		    curl_easy_setopt(h, CURLOPT_MAIL_FROM, m->msg->sender) == CURLE_OK &&
		    curl_easy_setopt(h, CURLOPT_MAIL_RCPT, rcpt) == CURLE_OK &&
		    curl_easy_setopt(h, CURLOPT_INFILESIZE_LARGE, (curl_off_t)t.len) == CURLE_OK)
			rc = curl_easy_perform(h);
		curl_easy_setopt(h, CURLOPT_MAIL_RCPT, NULL);
		curl_slist_free_all(rcpt);
		if (smtp_utf8_outcome(u, &t, rc, errbuf, m))
			break; /* the connection's answer holds for the rest of the batch */
	}
	for (int k = i + 1; k < n; k++) {
		msgs[k]->result = msgs[i]->result;
		msgs[k]->suppress = 0;
		memcpy(msgs[k]->reply, msgs[i]->reply, sizeof(msgs[k]->reply));
	}
	curl_easy_cleanup(h); /* QUIT on the connection libcurl kept */
}
