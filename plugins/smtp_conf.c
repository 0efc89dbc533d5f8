/*
 * The smtp channel's settings: each key checked with a message that names it, then the TLS
 * context (a daemon-owned SSL_CTX for libesmtp) and the libcurl client for internationalised
 * addresses (man/nurtured.conf.5).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <openssl/err.h>
#include <openssl/ssl.h>

#include "smtp_int.h"

/* An integer setting within [lo, hi]; the message names the key. */
static char *
smtp_conf_int(json_t *v, const char *key, long lo, long hi, long *dst)
{
	if (!json_is_integer(v) || json_integer_value(v) < lo || json_integer_value(v) > hi)
		return smtp_errf("%s: must be an integer from %ld to %ld", key, lo, hi);
	*dst = (long)json_integer_value(v);
	return NULL;
}

/* Reads the password file at init; one trailing newline (LF or CRLF) is not part of it. */
static char *
smtp_conf_password_file(struct smtp *s, const char *path)
{
	FILE *f = fopen(path, "r");
	char buf[1024];
	size_t n;

	if (f == NULL)
		return smtp_errf("auth.password_file: cannot read %s: %s", path, strerror(errno));
	n = fread(buf, 1, sizeof(buf) - 1, f);
	if (!feof(f)) {
		fclose(f);
		return smtp_errf("auth.password_file: %s is too long (1 KiB at most)", path);
	}
	fclose(f);
	buf[n] = '\0';
	if (n > 0 && buf[n - 1] == '\n')
		buf[--n] = '\0';
	if (n > 0 && buf[n - 1] == '\r')
		buf[--n] = '\0';
	if (n == 0 || strlen(buf) != n)
		return smtp_errf("auth.password_file: %s holds no usable password", path);
	s->auth_pass = strdup(buf);
	explicit_bzero(buf, sizeof(buf));
	return s->auth_pass == NULL ? smtp_errf("out of memory") : NULL;
}

/* "auth": {"user", "password" | "password_file"}. */
static char *
smtp_conf_auth(struct smtp *s, json_t *v)
{
	const char *key, *user = NULL, *pass = NULL, *file = NULL;
	json_t *x;

	if (!json_is_object(v))
		return smtp_errf("auth: must be an object {\"user\", \"password\"}");
	json_object_foreach(v, key, x)
	{
		const char **dst = strcmp(key, "user") == 0	       ? &user
				   : strcmp(key, "password") == 0      ? &pass
				   : strcmp(key, "password_file") == 0 ? &file
								       : NULL;
		if (dst == NULL)
			return smtp_errf("auth.%s: unknown setting", key);
		if (!json_is_string(x) || json_string_length(x) == 0)
			return smtp_errf("auth.%s: must be a non-empty string", key);
		*dst = json_string_value(x);
	}
	if (user == NULL)
		return smtp_errf("auth.user: required");
	if ((pass == NULL) == (file == NULL))
		return smtp_errf("auth: needs exactly one of password and password_file");
	if ((s->auth_user = strdup(user)) == NULL)
		return smtp_errf("out of memory");
	if (file != NULL)
		return smtp_conf_password_file(s, file);
	return (s->auth_pass = strdup(pass)) == NULL ? smtp_errf("out of memory") : NULL;
}

/* "timeouts": each in ms; libesmtp's own floor is one second. */
static char *
smtp_conf_timeouts(struct smtp *s, json_t *v)
{
	const char *key;
	json_t *x;
	char path[64];

	if (!json_is_object(v))
		return smtp_errf("timeouts: must be an object of *_ms values");
	json_object_foreach(v, key, x)
	{
		long *dst = NULL;
		if (strcmp(key, "connect_ms") == 0)
			dst = &s->connect_ms;
		for (size_t i = 0; dst == NULL && i < SMTP_NTIMEOUTS; i++)
			if (strcmp(key, smtp_timeout_keys[i].key) == 0)
				dst = &s->timeouts[i];
		snprintf(path, sizeof(path), "timeouts.%s", key);
		if (dst == NULL)
			return smtp_errf("%s: unknown setting", path);
		char *e = smtp_conf_int(x, path, 1000, 3600000, dst);
		if (e != NULL)
			return e;
	}
	return NULL;
}

/* The one SSL_CTX of the channel: libesmtp never looks for certificates in $HOME. */
char *
smtp_conf_tls(struct smtp *s, const char *ca_file)
{
	if (s->tls == SMTP_TLS_NONE)
		return NULL;
	s->ssl_ctx = SSL_CTX_new(TLS_client_method());
	if (s->ssl_ctx == NULL)
		return smtp_errf("starttls: cannot create a TLS context");
	SSL_CTX_set_min_proto_version(s->ssl_ctx, TLS1_2_VERSION);
	/*
	 * TLS 1.2 at most: libesmtp 1.1 can hang after a TLS 1.3 handshake. The server's
	 * NewSessionTicket records arrive after the handshake; when they are read before
	 * libesmtp has written its EHLO, it goes on waiting for a reply to a command it never
	 * sent, until the envelope timeout (seen with strace against aiosmtpd on a loaded
	 * machine; Postfix sends tickets too).
	 */
	SSL_CTX_set_max_proto_version(s->ssl_ctx, TLS1_2_VERSION);
	if (ca_file != NULL) {
		if (SSL_CTX_load_verify_locations(s->ssl_ctx, ca_file, NULL) != 1)
			return smtp_errf("tls_ca_file: cannot load %s", ca_file);
	} else if (SSL_CTX_set_default_verify_paths(s->ssl_ctx) != 1)
		return smtp_errf("starttls: cannot load the system's trusted certificates");
	SSL_CTX_set_verify(s->ssl_ctx, s->tls_verify ? SSL_VERIFY_PEER : SSL_VERIFY_NONE, NULL);
	return NULL;
}

/*
 * The libcurl client for internationalised addresses, on the same settings. libcurl has one
 * limit for every reply: the longest of the reply phases, each at its value or, when not set,
 * at libesmtp's default (RFC 5321 §4.5.3.2's minimum); a stalled data transfer is given up
 * after transfer_ms (default 3 minutes, the RFC's data block).
 */
char *
smtp_conf_utf8(struct smtp *s, const char *ca_file)
{
	static const long rfc_ms[SMTP_NTIMEOUTS] = {300000, 300000, 120000, 180000, 600000};
	struct smtp_utf8_conf c = {.server = s->server,
				   .helo = s->helo,
				   .tls = s->tls,
				   .tls_verify = s->tls_verify,
				   .ca_file = ca_file,
				   .user = s->auth_user,
				   .password = s->auth_pass,
				   .connect_ms = s->connect_ms};
	char *err = NULL;

	for (size_t i = 0; i < SMTP_NTIMEOUTS; i++) {
		long ms = s->timeouts[i] > 0 ? s->timeouts[i] : rfc_ms[i];
		if (smtp_timeout_keys[i].which == Timeout_TRANSFER)
			c.transfer_ms = ms;
		else if (ms > c.reply_ms)
			c.reply_ms = ms;
	}
	s->utf8 = smtp_utf8_new(&c, &err);
	if (s->utf8 == NULL && err == NULL)
		return smtp_errf("out of memory");
	return err;
}

/* One key of the channel object; returns the error message or NULL. */
char *
smtp_conf_key(struct smtp *s, const char *key, json_t *v, const char **host, long *port,
	      const char **ca_file)
{
	long n;
	char *e;

	if (strcmp(key, "plugin") == 0 || strcmp(key, "retry") == 0 || strcmp(key, "payload") == 0)
		return NULL; /* the host's */
	if (strcmp(key, "host") == 0) {
		if (!json_is_string(v) || json_string_length(v) == 0 ||
		    strpbrk(json_string_value(v), ": \t") != NULL)
			return smtp_errf("host: must be a host name or IPv4 address");
		*host = json_string_value(v);
	} else if (strcmp(key, "port") == 0)
		return smtp_conf_int(v, "port", 1, 65535, port);
	else if (strcmp(key, "starttls") == 0) {
		const char *t = json_is_string(v) ? json_string_value(v) : "";
		if (strcmp(t, "none") == 0)
			s->tls = SMTP_TLS_NONE;
		else if (strcmp(t, "opportunistic") == 0)
			s->tls = SMTP_TLS_OPPORTUNISTIC;
		else if (strcmp(t, "required") == 0)
			s->tls = SMTP_TLS_REQUIRED;
		else
			return smtp_errf(
			    "starttls: must be \"none\", \"opportunistic\" or \"required\"");
	} else if (strcmp(key, "auth") == 0)
		return smtp_conf_auth(s, v);
	else if (strcmp(key, "helo") == 0) {
		if (!json_is_string(v) || json_string_length(v) == 0)
			return smtp_errf("helo: must be a non-empty string");
		free(s->helo);
		s->helo = strdup(json_string_value(v));
	} else if (strcmp(key, "max_connections") == 0) {
		if ((e = smtp_conf_int(v, key, 1, 64, &n)) != NULL)
			return e;
		s->max_connections = (int)n;
	} else if (strcmp(key, "messages_per_connection") == 0) {
		if ((e = smtp_conf_int(v, key, 1, 1000, &n)) != NULL)
			return e;
		s->per_connection = (int)n;
	} else if (strcmp(key, "domain_concurrency") == 0) {
		if ((e = smtp_conf_int(v, key, 0, 100000, &n)) != NULL)
			return e;
		s->domain_concurrency = (int)n;
	} else if (strcmp(key, "rate_per_second") == 0) {
		if (!json_is_number(v) || json_number_value(v) < 0 || json_number_value(v) > 1e6)
			return smtp_errf("rate_per_second: must be a number from 0 (unlimited) "
					 "to 1000000");
		s->rate = json_number_value(v);
	} else if (strcmp(key, "timeouts") == 0)
		return smtp_conf_timeouts(s, v);
	else if (strcmp(key, "tls_verify") == 0) {
		if (!json_is_boolean(v))
			return smtp_errf("tls_verify: must be true or false");
		s->tls_verify = json_is_true(v);
	} else if (strcmp(key, "tls_ca_file") == 0) {
		if (!json_is_string(v) || json_string_length(v) == 0)
			return smtp_errf("tls_ca_file: must be a file name");
		*ca_file = json_string_value(v);
	} else
		return smtp_errf("%s: unknown setting", key);
	return NULL;
}
