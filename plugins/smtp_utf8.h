/*
 * The smtp plugin's second client: internationalised addresses (RFC 6531) over libcurl.
 *
 * libesmtp 1.1 neither reads a relay's SMTPUTF8 nor sends the MAIL parameter, so a message
 * whose envelope holds a non-ASCII address goes through libcurl's SMTP instead, which sends
 * `SMTPUTF8` on MAIL FROM when the relay offers it. Same relay, TLS, AUTH and timeouts as the
 * channel's libesmtp sessions; run on the channel's worker threads, never on the loop.
 */
#ifndef NURTURED_SMTP_UTF8_H
#define NURTURED_SMTP_UTF8_H

#include "nurtured-plugin.h"

#define SMTP_REPLY_MAX 512

enum smtp_tls { SMTP_TLS_NONE, SMTP_TLS_OPPORTUNISTIC, SMTP_TLS_REQUIRED };

/* The channel's settings, as smtp.c read them; borrowed for the call to smtp_utf8_new. */
struct smtp_utf8_conf {
	const char *server; /* "host:port" */
	const char *helo;
	enum smtp_tls tls;
	int tls_verify;
	const char *ca_file;	     /* NULL: the system's trusted certificates */
	const char *user, *password; /* NULL: no AUTH */
	long connect_ms;	     /* 0: libcurl's default */
	long reply_ms;		     /* the longest wait for one reply */
	long transfer_ms;	     /* the longest stall while sending the message; 0: none */
};

/* One message for the client: the envelope and data in, the outcome out. */
struct smtp_utf8_msg {
	const struct nt_message *msg;
	enum nt_result result;
	int suppress;
	char reply[SMTP_REPLY_MAX];
};

struct smtp_utf8;

/* Whether an address needs SMTPUTF8: any byte outside ASCII. */
int smtp_utf8_needed(const char *addr);

/*
 * Loop thread, at the channel's init: the client for one relay, or NULL with *err set
 * (malloc'd). Holds a reference on libcurl's global state until smtp_utf8_free.
 */
struct smtp_utf8 *smtp_utf8_new(const struct smtp_utf8_conf *conf, char **err);

/*
 * Worker thread: sends the N messages over one connection (reopened after an error), one
 * libcurl transfer each, and fills in each message's outcome. Blocks until all are done.
 */
void smtp_utf8_send(struct smtp_utf8 *u, struct smtp_utf8_msg **msgs, int n);

/* Loop thread, at fini, after the workers are joined. */
void smtp_utf8_free(struct smtp_utf8 *u);

/*
 * The one reading of an SMTP reply to RCPT or to the data, shared by both clients (defined
 * in smtp.c): 2xx sent, 4xx deferred, 5xx failed; *suppress when it says the mailbox does
 * not exist (5.1.x, or a 550 "no such user" / "user unknown" from servers without enhanced
 * codes). CLS and SUBJ are the enhanced status code's class and subject, 0 when none.
 */
enum nt_result smtp_reply_outcome(int code, int cls, int subj, const char *text, int *suppress);

/* Reads an enhanced status code ("5.1.1") at the start of TEXT; 1 when there is one. */
int smtp_text_enhanced(const char *text, int *cls, int *subj);

/* Copies SRC into a reply buffer on one line: server text may hold CR/LF (smtp.c). */
void smtp_reply_set(char *dst, const char *src);

#endif
