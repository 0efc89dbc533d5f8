/*
 * The client side of POST /v1/inbound, blocking (libcurl): `nurtured inbound` (an MTA's pipe)
 * and the IMAP poller's thread hand their messages to the running daemon this way, so that
 * every way in goes through the one path, and a 202 means committed.
 */
#ifndef NURTURED_INBOUND_CLIENT_H
#define NURTURED_INBOUND_CLIENT_H

#include <stddef.h>

#include "config.h"

/* The daemon's own API base ("http://127.0.0.1:PORT") for CFG's listen address (malloc'd). */
char *inbound_client_url(const struct config *cfg);

/*
 * The length of RAW (LEN bytes) to send to a daemon taking bodies of up to MAX bytes: all of
 * it, or what comes before the last line end under MAX. The reports, the headers and a reply's
 * own words come first; what is cut is the end of an attached original or of an attachment.
 */
size_t inbound_client_fit(const char *raw, size_t len, size_t max);

/*
 * POSTs RAW (LEN bytes) to BASE/v1/inbound with TOKEN (may be NULL) and RCPT (may be NULL).
 * Returns the HTTP status (0 when the daemon could not be reached), with the body in *BODY
 * (malloc'd, may be NULL). ABORT (may be NULL) is polled during the transfer: nonzero stops it.
 */
long inbound_client_post(const char *base, const char *token, const char *raw, size_t len,
			 const char *rcpt, char **body, volatile int *abort_flag);

/* `nurtured inbound [-c FILE] [--rcpt ADDR]`: one message on stdin; sysexits codes. */
int inbound_pipe_main(int argc, char **argv);

/* What a libcurl transfer wrote (NUL-terminated), up to MAX bytes. */
struct inbound_buf {
	char *data;
	size_t len;
	size_t max;
};
/* libcurl's CURLOPT_WRITEFUNCTION into a struct inbound_buf; past its max the transfer fails. */
size_t inbound_buf_write(char *ptr, size_t size, size_t n, void *arg);

#endif
