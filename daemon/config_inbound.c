/*
 * The configuration keys of issue 16: "bounce_address" and "reply_to" (VERP bases),
 * "bounce_policy", "inbound" (the IMAP poller) and "webhooks" (ESP signatures). Every key is
 * checked; a problem names its path.
 */
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include <glib.h>

#include "config.h"
#include "duration.h"
#include "mime.h"
#include "util.h"

void
config_inbound_defaults(struct inbound_conf *in)
{
	memset(in, 0, sizeof(*in));
	in->soft_max = 3;
	in->soft_window_ms = 30LL * 24 * 3600 * 1000;
	in->imap_interval_ms = 60000;
}

void
config_inbound_free(struct inbound_conf *in)
{
	free(in->bounce_address);
	free(in->reply_to);
	free(in->imap_url);
	free(in->imap_user);
	free(in->imap_password);
	free(in->imap_move_to);
	free(in->ses_certificate);
	free(in->postmark_user);
	free(in->postmark_password);
	free(in->mailgun_key);
	free(in->sendgrid_key);
	memset(in, 0, sizeof(*in));
}

/* A one-line non-empty string into *DST; 0, or -1 with a problem added. */
static int
config_inbound_string(char **dst, json_t *v, const char *path, struct diag *d)
{
	if (!json_is_string(v) || json_string_length(v) == 0 ||
	    strpbrk(json_string_value(v), "\r\n") != NULL) {
		diag_add(d, path, "'%s' must be a non-empty one-line string", path);
		return -1;
	}
	free(*dst);
	*dst = xstrdup(json_string_value(v));
	return 0;
}

/* A VERP base: an address without '+' in its local part (the token goes there). */
static void
config_inbound_base(char **dst, json_t *v, const char *key, struct diag *d)
{
	if (config_inbound_string(dst, v, key, d) < 0)
		return;
	const char *at = strrchr(*dst, '@');
	if (!mime_addr_valid(*dst) || at == NULL || memchr(*dst, '+', at - *dst) != NULL) {
		diag_add(d, key,
			 "key '%s' must be an email address without '+' (the token goes there)",
			 key);
		free(*dst);
		*dst = NULL;
	}
}

static void
config_inbound_policy(struct inbound_conf *in, json_t *v, struct diag *d)
{
	const char *key;
	json_t *x;

	if (!json_is_object(v)) {
		diag_add(d, "bounce_policy",
			 "key 'bounce_policy' must be {\"soft_bounces\": N, \"within\": \"30d\"}");
		return;
	}
	json_object_foreach(v, key, x)
	{
		char *path = xasprintf("bounce_policy.%s", key);
		int64_t ms;
		if (strcmp(key, "soft_bounces") == 0) {
			if (!json_is_integer(x) || json_integer_value(x) < 1 ||
			    json_integer_value(x) > 1000)
				diag_add(d, path, "'%s' must be an integer from 1 to 1000", path);
			else
				in->soft_max = (int)json_integer_value(x);
		} else if (strcmp(key, "within") == 0) {
			if (!json_is_string(x) ||
			    duration_parse(json_string_value(x), 0, &ms) < 0 || ms <= 0)
				diag_add(d, path, "'%s' must be a duration such as \"30d\"", path);
			else
				in->soft_window_ms = ms;
		} else
			diag_add(d, path, "unknown key '%s'", path);
		free(path);
	}
}

static void
config_inbound_imap(struct inbound_conf *in, json_t *v, struct diag *d)
{
	const char *key;
	json_t *x;

	if (!json_is_object(v) || !json_is_string(json_object_get(v, "url"))) {
		diag_add(d, "inbound.imap",
			 "'inbound.imap' must be {\"url\": \"imaps://host/INBOX\", \"user\", "
			 "\"password\", \"interval\", \"after\"}");
		return;
	}
	json_object_foreach(v, key, x)
	{
		char *path = xasprintf("inbound.imap.%s", key);
		int64_t ms;
		if (strcmp(key, "url") == 0) {
			if (config_inbound_string(&in->imap_url, x, path, d) == 0 &&
			    strncmp(in->imap_url, "imap://", 7) != 0 &&
			    strncmp(in->imap_url, "imaps://", 8) != 0)
				diag_add(d, path, "'%s' must start with imaps:// or imap://", path);
		} else if (strcmp(key, "user") == 0)
			config_inbound_string(&in->imap_user, x, path, d);
		else if (strcmp(key, "password") == 0)
			config_inbound_string(&in->imap_password, x, path, d);
		else if (strcmp(key, "interval") == 0) {
			if (!json_is_string(x) ||
			    duration_parse(json_string_value(x), 0, &ms) < 0 || ms < 1000)
				diag_add(d, path, "'%s' must be a duration of at least 1s", path);
			else
				in->imap_interval_ms = ms;
		} else if (strcmp(key, "after") == 0) {
			const char *s = json_is_string(x) ? json_string_value(x) : "";
			free(in->imap_move_to);
			in->imap_move_to = NULL;
			if (strncmp(s, "move:", 5) == 0 && s[5] != '\0' &&
			    strpbrk(s, "\r\n\"") == NULL)
				in->imap_move_to = xstrdup(s + 5);
			else if (strcmp(s, "delete") != 0)
				diag_add(d, path, "'%s' must be \"delete\" or \"move:Folder\"",
					 path);
		} else if (strcmp(key, "insecure") == 0) {
			if (!json_is_boolean(x))
				diag_add(d, path, "'%s' must be true or false", path);
			else
				in->imap_insecure = json_is_true(x);
		} else
			diag_add(d, path, "unknown key '%s'", path);
		free(path);
	}
}

static void
config_inbound_in(struct inbound_conf *in, json_t *v, struct diag *d)
{
	const char *key;
	json_t *x;

	if (!json_is_object(v)) {
		diag_add(d, "inbound", "key 'inbound' must be {\"imap\": {...}}");
		return;
	}
	json_object_foreach(v, key, x)
	{
		if (strcmp(key, "imap") == 0)
			config_inbound_imap(in, x, d);
		else
			diag_add(d, "inbound", "unknown key 'inbound.%s'", key);
	}
}

/* "webhooks": {"ses": {"certificate"}, "postmark": {"user", "password"}, "mailgun":
 * {"signing_key"}, "sendgrid": {"public_key"}}. */
static void
config_inbound_hooks(struct inbound_conf *in, json_t *v, struct diag *d)
{
	static const struct {
		const char *provider, *key;
		size_t off;
	} fields[] = {
	    {"ses", "certificate", offsetof(struct inbound_conf, ses_certificate)},
	    {"postmark", "user", offsetof(struct inbound_conf, postmark_user)},
	    {"postmark", "password", offsetof(struct inbound_conf, postmark_password)},
	    {"mailgun", "signing_key", offsetof(struct inbound_conf, mailgun_key)},
	    {"sendgrid", "public_key", offsetof(struct inbound_conf, sendgrid_key)},
	};
	const char *prov, *key;
	json_t *p, *x;

	if (!json_is_object(v)) {
		diag_add(d, "webhooks", "key 'webhooks' must be an object of providers");
		return;
	}
	json_object_foreach(v, prov, p)
	{
		char *ppath = xasprintf("webhooks.%s", prov);
		if (!json_is_object(p)) {
			diag_add(d, ppath, "'%s' must be an object", ppath);
			free(ppath);
			continue;
		}
		json_object_foreach(p, key, x)
		{
			char *path = xasprintf("%s.%s", ppath, key);
			size_t i;
			for (i = 0; i < NT_ARRAY_LEN(fields); i++)
				if (strcmp(fields[i].provider, prov) == 0 &&
				    strcmp(fields[i].key, key) == 0)
					break;
			if (i == NT_ARRAY_LEN(fields))
				diag_add(d, path, "unknown key '%s'", path);
			else
				config_inbound_string((char **)((char *)in + fields[i].off), x,
						      path, d);
			free(path);
		}
		free(ppath);
	}
	if ((in->postmark_user == NULL) != (in->postmark_password == NULL))
		diag_add(d, "webhooks.postmark",
			 "'webhooks.postmark' needs both user and password");
}

int
config_inbound_apply(struct config *c, const char *key, json_t *v, struct diag *d)
{
	struct inbound_conf *in = &c->inbound;

	if (strcmp(key, "bounce_address") == 0)
		config_inbound_base(&in->bounce_address, v, key, d);
	else if (strcmp(key, "reply_to") == 0)
		config_inbound_base(&in->reply_to, v, key, d);
	else if (strcmp(key, "bounce_policy") == 0)
		config_inbound_policy(in, v, d);
	else if (strcmp(key, "inbound") == 0)
		config_inbound_in(in, v, d);
	else if (strcmp(key, "webhooks") == 0)
		config_inbound_hooks(in, v, d);
	else
		return 0;
	return 1;
}

/* A copy of a NULL-able string into *DST, over what it held. */
static void
config_inbound_copy(char **dst, const char *src)
{
	free(*dst);
	*dst = src != NULL ? xstrdup(src) : NULL;
}

/* The reload table's comparison for the top-level KEY of this file (config_keys.c). */
int
config_inbound_differs(const struct inbound_conf *a, const struct inbound_conf *b, const char *key)
{
#define NE(f) (g_strcmp0(a->f, b->f) != 0)
	if (strcmp(key, "bounce_address") == 0)
		return NE(bounce_address);
	if (strcmp(key, "reply_to") == 0)
		return NE(reply_to);
	if (strcmp(key, "bounce_policy") == 0)
		return a->soft_max != b->soft_max || a->soft_window_ms != b->soft_window_ms;
	if (strcmp(key, "inbound") == 0)
		return NE(imap_url) || NE(imap_user) || NE(imap_password) || NE(imap_move_to) ||
		       a->imap_interval_ms != b->imap_interval_ms ||
		       a->imap_insecure != b->imap_insecure;
	return NE(ses_certificate) || NE(postmark_user) || NE(postmark_password) ||
	       NE(mailgun_key) || NE(sendgrid_key);
#undef NE
}

/*
 * A reload keeps the running value of KEY: the VERP bases are copied by delivery when it
 * starts, the IMAP poller's thread reads its settings once, and the policy and the webhook
 * keys are kept with them so that all of issue 16's keys change together, at a restart.
 */
void
config_inbound_keep(struct inbound_conf *n, const struct inbound_conf *o, const char *key)
{
	if (strcmp(key, "bounce_address") == 0)
		config_inbound_copy(&n->bounce_address, o->bounce_address);
	else if (strcmp(key, "reply_to") == 0)
		config_inbound_copy(&n->reply_to, o->reply_to);
	else if (strcmp(key, "bounce_policy") == 0) {
		n->soft_max = o->soft_max;
		n->soft_window_ms = o->soft_window_ms;
	} else if (strcmp(key, "inbound") == 0) {
		config_inbound_copy(&n->imap_url, o->imap_url);
		config_inbound_copy(&n->imap_user, o->imap_user);
		config_inbound_copy(&n->imap_password, o->imap_password);
		config_inbound_copy(&n->imap_move_to, o->imap_move_to);
		n->imap_interval_ms = o->imap_interval_ms;
		n->imap_insecure = o->imap_insecure;
	} else {
		config_inbound_copy(&n->ses_certificate, o->ses_certificate);
		config_inbound_copy(&n->postmark_user, o->postmark_user);
		config_inbound_copy(&n->postmark_password, o->postmark_password);
		config_inbound_copy(&n->mailgun_key, o->mailgun_key);
		config_inbound_copy(&n->sendgrid_key, o->sendgrid_key);
	}
}
