/*
 * Mail messages through GMime: RFC 5322 headers (RFC 2047 for non-ASCII), multipart/alternative
 * when there is an HTML body, transfer encodings that keep every line under 998 octets, and
 * RFC 8058 one-click unsubscribe headers. Data never becomes header structure: a value with CR,
 * LF or NUL is refused, not cleaned.
 */
#ifndef NURTURED_MIME_H
#define NURTURED_MIME_H

#include <stddef.h>
#include <stdint.h>

/* Once per process before any other call (g_mime_init); later calls do nothing. */
void mime_init(void);

/*
 * Whether ADDR is an address we can put on an envelope and in To: an addr-spec with a dot-atom
 * local part (ASCII, or UTF-8 as RFC 6531 allows) and an ASCII domain with a dot or an address
 * literal; no CR/LF/NUL or spaces.
 */
int mime_addr_valid(const char *addr);
/* Whether ADDR (or any text) has non-ASCII octets: an address that then needs SMTPUTF8. */
int mime_addr_intl(const char *addr);

/*
 * A new Message-ID "<TIME.RANDOM@DOMAIN>" (malloc'd): the time in ms first, so that ids made
 * one after another sort together and the outbox's unique index grows at its end instead of
 * at a random leaf; 80 random bits after it keep them unique across processes and hosts.
 */
char *mime_message_id(const char *domain, int64_t now_ms);

struct mime_mail {
	const char *from_name; /* may be NULL */
	const char *from_addr;
	const char *to_name; /* may be NULL */
	const char *to_addr;
	const char *subject;
	const char *text;		/* the text/plain body (required) */
	const char *html;		/* the text/html alternative, or NULL */
	const char *message_id;		/* "<id@domain>", fixed by the caller */
	int64_t date_ms;		/* the Date header */
	const char *unsubscribe_url;	/* https URL: List-Unsubscribe + List-Unsubscribe-Post */
	const char *unsubscribe_mailto; /* optional mailto: address for List-Unsubscribe */
};

/* The checks mime_build makes before it builds: 0, or -1 with *ERR as mime_build's. */
int mime_validate(const struct mime_mail *m, char **err);

/* A copy of M on the heap whose strings it owns; freed with mime_mail_free. */
struct mime_mail *mime_mail_dup(const struct mime_mail *m);
void mime_mail_free(struct mime_mail *m);

/*
 * Builds the message with CRLF line ends into *OUT (malloc'd, NUL-terminated, *LEN bytes).
 * Returns 0, or -1 with *ERR (malloc'd) naming the refused field ("to_name: contains CR, LF
 * or NUL", "to_addr: not a valid address").
 */
int mime_build(const struct mime_mail *m, char **out, size_t *len, char **err);

#endif
