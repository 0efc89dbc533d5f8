/*
 * What came back after a send: a bounce (RFC 3464 or one of the common non-standard texts), a
 * delay, a complaint (RFC 5965 ARF), an auto-reply (RFC 3834 and the vacation headers and
 * subjects in common use), a person's reply, or something else. Parsing goes through GMime;
 * nothing here touches the store.
 */
#ifndef NURTURED_INBOUND_CLASSIFY_H
#define NURTURED_INBOUND_CLASSIFY_H

#include <jansson.h>
#include <stddef.h>

enum inbound_kind {
	INBOUND_OTHER = 0,
	INBOUND_BOUNCE,
	INBOUND_DELAY,
	INBOUND_COMPLAINT,
	INBOUND_AUTO_REPLY,
	INBOUND_REPLY,
};

/* Larger inputs are refused; more recipients than this are cut (and `truncated` set). */
#define INBOUND_MAX_BYTES (25u * 1024 * 1024)
#define INBOUND_MAX_RCPTS 1000

struct inbound_rcpt {
	char *address;	  /* lowercased addr-spec, or NULL when the report redacts it */
	char *status;	  /* "5.1.1", or NULL */
	char *action;	  /* "failed", "delayed", ... (lowercase) */
	int hard;	  /* the address will not work again */
	char *diagnostic; /* the remote server's words, or NULL */
};

struct inbound_class {
	enum inbound_kind kind;
	struct inbound_rcpt *rcpts;
	size_t nrcpts;
	int truncated;	       /* more than INBOUND_MAX_RCPTS recipients */
	char *message_id;      /* the inbound message's own Message-ID (without <>), or NULL */
	char *orig_message_id; /* the message this one is about: the attached original's
				  Message-ID, else In-Reply-To (without <>), or NULL */
	char **references;     /* In-Reply-To then References ids, newest first (NULL-ended) */
	char **to_addrs;       /* Delivered-To, X-Original-To, Envelope-To, To, Cc (NULL-ended) */
	char *from;	       /* the inbound's From address */
	char *subject;
	char *feedback_type; /* complaints: lowercase Feedback-Type */
	char *text;	     /* replies: the text without quoted history or signature */
	int has_number;	     /* replies: the text begins with a number */
	double number;
	int trusted_address; /* an ESP vouches for the recipient: suppress it by address even
				when no message of ours matches */
};

/*
 * Classifies the raw message DATA (LEN bytes). 0 with OUT filled (inbound_class_free it), or
 * -1 with *ERR (static text) when DATA is not a mail (no header section GMime can read, none of
 * From/To/Subject/Date/Message-ID) or is over INBOUND_MAX_BYTES.
 */
int inbound_classify(const char *data, size_t len, struct inbound_class *out, const char **err);
void inbound_class_free(struct inbound_class *c);
/* For classifications made from an ESP's event: a recipient and an address it went to. */
void inbound_class_add_rcpt(struct inbound_class *c, const char *address, const char *status,
			    const char *action, int hard, const char *diagnostic);
void inbound_class_add_to(struct inbound_class *c, const char *address);

const char *inbound_kind_name(enum inbound_kind k);
/* The kind named NAME, or -1. */
int inbound_kind_parse(const char *name);

/*
 * Whether a failure with STATUS ("5.1.1", may be NULL) and DIAGNOSTIC (may be NULL) is hard:
 * the address will not work again. The diagnostic's words come first, as established bounce
 * processors read them; class 4 is always soft.
 */
int inbound_is_hard(const char *status, const char *diagnostic);

/*
 * The reply's own words in BODY (UTF-8 text): quoted history (Gmail, Outlook, Apple Mail,
 * Thunderbird, English and German) and signature removed, trimmed. Malloc'd.
 */
char *inbound_reply_text(const char *body);
/* Whether TEXT begins with a number ("2 – leider kaputt"): 1 with *OUT, else 0. */
int inbound_leading_number(const char *text, double *out);

/* The classification as `nurtured classify` prints it (new reference); FILE may be NULL. */
json_t *inbound_class_json(const struct inbound_class *c, const char *file);

/* `nurtured classify FILE...`: one JSON object per line; 1 when a file cannot be read. */
int inbound_classify_main(int argc, char **argv);

#endif
