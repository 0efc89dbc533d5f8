/* The classifier's pieces, shared between its files (not for the rest of the daemon). */
#ifndef NURTURED_INBOUND_INT_H
#define NURTURED_INBOUND_INT_H

#include <stddef.h>

#include "inbound_classify.h"

void inbound_strv_free(char **v);
void inbound_strv_add(char ***v, size_t *n, char *s);
char *inbound_utf8(const char *s, size_t len);
char *inbound_addr_norm(const char *addr);
char *inbound_field(const char *block, size_t len, const char *name);
char *inbound_status_norm(const char *s);
int inbound_rcpt_add(struct inbound_class *c, char *address, char *status, char *action,
		     char *diagnostic);

/* The first enhanced status code ("5.1.1") in TEXT, else one from a basic SMTP code. */
char *inbound_status_in_text(const char *text);
/* Whether FROM is a mail system's address (MAILER-DAEMON, postmaster). */
int inbound_daemon_sender(const char *from);
/* Whether sender, subject or opening words say that this is a delivery report. */
int inbound_bounce_like(const char *from, const char *subject, const char *text);
/* Out-of-office and automatic-reply subjects, English and German and a few more. */
int inbound_auto_subject(const char *subject);
/*
 * Reads the failed (or delayed) recipients, their status and diagnostic from a non-standard
 * bounce's TEXT into C, and sets its kind when any were found. DSN_SEEN: a delivery-status
 * part was there but named nobody.
 */
void inbound_bounce_text(const char *text, struct inbound_class *c, int dsn_seen);
/* A "Message-ID: <...>" of an original quoted inline in TEXT (malloc'd), or NULL. */
char *inbound_inline_msgid(const char *text);

#endif
