#include "channel.h"

#include <math.h>
#include <string.h>

#include "../plugins/nurtured-plugin.h"
#include "duration.h"
#include "mime.h"
#include "util.h"

/* RFC 5321 4.5.4.1: retry for 4-5 days; webhook receivers are expected back sooner. */
static void
channel_retry_defaults(struct retry_policy *p, const char *plugin)
{
	p->initial_ms = 60 * 1000;
	p->multiplier = 3.0;
	p->max_ms = 2 * 3600 * 1000;
	p->max_age_ms = 4LL * 24 * 3600 * 1000;
	p->jitter = 0.2;
	if (plugin != NULL && strcmp(plugin, "webhook") == 0)
		p->max_age_ms = 24LL * 3600 * 1000;
}

/* One duration key of "retry"; the message names the full path. */
static void
channel_retry_duration(json_t *v, const char *path, int64_t *dst, struct diag *d)
{
	int64_t ms;
	if (!json_is_string(v) || duration_parse(json_string_value(v), 0, &ms) < 0 || ms <= 0)
		diag_add(d, path, "'%s' must be a positive duration like \"5m\"", path);
	else
		*dst = ms;
}

/* "retry": {"initial", "multiplier", "max", "max_age", "jitter"}, each optional. */
static void
channel_retry_parse(json_t *v, const char *chpath, struct retry_policy *p, struct diag *d)
{
	const char *key;
	json_t *x;

	if (!json_is_object(v)) {
		char *path = xasprintf("%s.retry", chpath);
		diag_add(d, path, "'%s' must be an object, not %s", path, diag_type_name(v));
		free(path);
		return;
	}
	json_object_foreach(v, key, x)
	{
		char *path = xasprintf("%s.retry.%s", chpath, key);
		if (strcmp(key, "initial") == 0)
			channel_retry_duration(x, path, &p->initial_ms, d);
		else if (strcmp(key, "max") == 0)
			channel_retry_duration(x, path, &p->max_ms, d);
		else if (strcmp(key, "max_age") == 0)
			channel_retry_duration(x, path, &p->max_age_ms, d);
		else if (strcmp(key, "multiplier") == 0) {
			if (!json_is_number(x) || json_number_value(x) < 1.0 ||
			    json_number_value(x) > 100.0)
				diag_add(d, path, "'%s' must be a number from 1 to 100", path);
			else
				p->multiplier = json_number_value(x);
		} else if (strcmp(key, "jitter") == 0) {
			if (!json_is_number(x) || json_number_value(x) < 0.0 ||
			    json_number_value(x) > 1.0)
				diag_add(d, path, "'%s' must be a number from 0 to 1", path);
			else
				p->jitter = json_number_value(x);
		} else
			diag_add(d, path, "unknown key '%s'", path);
		free(path);
	}
}

/*
 * "internal": the channel reaches the operator (a helpdesk, a team's inbox), so the customer's
 * consent, the suppression list, quiet hours and the frequency cap do not apply to it; "to" is
 * where such a channel's mail goes, never the customer's address.
 */
static void
channel_audience_parse(json_t *ch, const char *path, struct channel_conf *c, struct diag *d)
{
	json_t *in = json_object_get(ch, "internal"), *to = json_object_get(ch, "to");
	char *p;

	if (in != NULL && !json_is_boolean(in)) {
		p = xasprintf("%s.internal", path);
		diag_add(d, p, "'%s' must be true or false, not %s", p, diag_type_name(in));
		free(p);
	}
	c->internal = json_is_true(in);
	if (to == NULL)
		return;
	p = xasprintf("%s.to", path);
	if (!json_is_string(to) || !mime_addr_valid(json_string_value(to)))
		diag_add(d, p, "'%s' must be an email address", p);
	else if (!c->internal)
		diag_add(d, p,
			 "'%s' is for internal channels (\"internal\": true); mail to customers "
			 "goes to their own address",
			 p);
	else
		c->to = xstrdup(json_string_value(to));
	free(p);
}

/* "reply_to" (issue 16): an address without '+' (the VERP base), or false for none. */
static void
channel_reply_to_parse(json_t *ch, const char *path, struct channel_conf *c, struct diag *d)
{
	json_t *rt = json_object_get(ch, "reply_to");
	if (rt == NULL)
		return;
	c->reply_to_set = 1;
	if (json_is_false(rt))
		return;
	const char *v = json_string_value(rt), *at = v ? strrchr(v, '@') : NULL;
	if (v == NULL || !mime_addr_valid(v) || at == NULL || memchr(v, '+', at - v) != NULL) {
		char *p = xasprintf("%s.reply_to", path);
		diag_add(d, p, "'%s' must be an email address without '+', or false", p);
		free(p);
		return;
	}
	c->reply_to = xstrdup(v);
}

/* Host keys are taken out so that each plugin sees only its own settings. */
struct channel_conf *
channel_conf_parse(json_t *channels, size_t *n, struct diag *d)
{
	struct channel_conf *out = xcalloc(json_object_size(channels) + 1, sizeof(*out));
	const char *name;
	json_t *ch;

	*n = 0;
	json_object_foreach(channels, name, ch)
	{
		char *path = xasprintf("channels.%s", name);
		json_t *plugin = json_object_get(ch, "plugin");
		if (!json_is_object(ch))
			diag_add(d, path, "channel '%s' must be an object, not %s", name,
				 diag_type_name(ch));
		else if (!json_is_string(plugin) || json_string_length(plugin) == 0 ||
			 strpbrk(json_string_value(plugin), "/.") != NULL)
			diag_add(d, path, "channel '%s' needs a key 'plugin' naming a plugin",
				 name);
		else {
			struct channel_conf *c = &out[(*n)++];
			c->name = xstrdup(name);
			c->plugin = xstrdup(json_string_value(plugin));
			channel_retry_defaults(&c->retry, c->plugin);
			if (json_object_get(ch, "retry") != NULL)
				channel_retry_parse(json_object_get(ch, "retry"), path, &c->retry,
						    d);
			json_t *pl = json_object_get(ch, "payload");
			if (pl != NULL && json_is_string(pl) &&
			    strcmp(json_string_value(pl), "mime") == 0)
				c->payload = NT_PAYLOAD_MIME;
			else if (pl != NULL && json_is_string(pl) &&
				 strcmp(json_string_value(pl), "json") == 0)
				c->payload = NT_PAYLOAD_JSON;
			else if (pl != NULL) {
				char *pp = xasprintf("%s.payload", path);
				diag_add(d, pp, "'%s' must be \"mime\" or \"json\"", pp);
				free(pp);
			}
			channel_audience_parse(ch, path, c, d);
			channel_reply_to_parse(ch, path, c, d);
			c->settings = json_copy(ch);
			json_object_del(c->settings, "plugin");
			json_object_del(c->settings, "retry");
			json_object_del(c->settings, "payload");
			json_object_del(c->settings, "internal");
			json_object_del(c->settings, "to");
			json_object_del(c->settings, "reply_to");
		}
		free(path);
	}
	return out;
}

void
channel_conf_free(struct channel_conf *c, size_t n)
{
	for (size_t i = 0; c != NULL && i < n; i++) {
		free(c[i].name);
		free(c[i].plugin);
		free(c[i].to);
		free(c[i].reply_to);
		json_decref(c[i].settings);
	}
	free(c);
}

const struct channel_conf *
channel_conf_find(const struct channel_conf *c, size_t n, const char *name)
{
	for (size_t i = 0; c != NULL && name != NULL && i < n; i++)
		if (strcmp(c[i].name, name) == 0)
			return &c[i];
	return NULL;
}

char *
channel_conf_problem(const struct channel_conf *c, int payload)
{
	if (c->internal && payload == NT_PAYLOAD_MIME && c->to == NULL)
		return xasprintf("channel '%s': an internal channel that writes mail needs 'to', "
				 "the address its messages go to (never the customer's)",
				 c->name);
	return NULL;
}

/* Delay = initial * multiplier^(attempt-1), capped, spread by jitter; never before RETRY_AFTER. */
int64_t
retry_next(const struct retry_policy *p, int attempt, int64_t created_ms, int64_t now_ms,
	   int64_t retry_after_ms, double r)
{
	double delay = (double)p->initial_ms;
	for (int i = 1; i < attempt && delay < (double)p->max_ms; i++)
		delay *= p->multiplier;
	if (delay > (double)p->max_ms)
		delay = (double)p->max_ms;
	delay *= 1.0 + p->jitter * (2.0 * r - 1.0);
	if (delay < (double)retry_after_ms)
		delay = (double)retry_after_ms;
	if (delay < 1.0)
		delay = 1.0;
	int64_t next = now_ms + (int64_t)llround(delay);
	return next - created_ms > p->max_age_ms ? -1 : next;
}
