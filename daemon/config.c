#include "config.h"
#include "channel.h"
#include "mime.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "duration.h"
#include "jsonpos.h"
#include "log.h"
#include "util.h"

#ifndef NT_SYSCONFDIR
#define NT_SYSCONFDIR "/etc/nurtured"
#endif
#ifndef NT_PLUGINDIR
#define NT_PLUGINDIR "/usr/local/lib/nurtured"
#endif

/* The embedded defaults: what `nurtured -f` runs with when given no file. */
static void
config_defaults(struct config *c)
{
	c->listen_host = xstrdup("127.0.0.1");
	c->listen_port = xstrdup("7800");
	c->data_dir = xstrdup("./var/nurtured");
	c->campaigns_dir = xstrdup("./campaigns");
	c->templates_dir = xstrdup("./templates");
	c->plugin_dir = xstrdup(NT_PLUGINDIR);
	c->channels = NULL; /* the default channels are set once data_dir is known */
	c->log_level = LOG_LEVEL_INFO;
	c->durability_full = 1;
	c->max_body_bytes = 1024 * 1024;
	c->max_batch = 1000;
	c->shutdown_timeout_s = 10;
	stage_rules_default(&c->stages);
	c->mail_from_name = xstrdup("nurtured");
	c->mail_from_address = xstrdup("nurtured@localhost.localdomain");
	c->opt_in_topics = xcalloc(3, sizeof(char *));
	c->opt_in_topics[c->n_opt_in_topics++] = xstrdup("newsletter");
	c->opt_in_topics[c->n_opt_in_topics++] = xstrdup("offers");
	c->system_channel = NULL; /* "mail" unless set; checked only when set */
	/* events 2 years, payloads 30 days, messages and notes 180 days, journeys a year */
	c->retention.keep_ms[0] = 730 * 86400000LL;
	c->retention.keep_ms[1] = 30 * 86400000LL;
	c->retention.keep_ms[2] = 180 * 86400000LL;
	c->retention.keep_ms[3] = 180 * 86400000LL;
	c->retention.keep_ms[4] = 365 * 86400000LL;
	c->retention.interval_ms = 60000;
}

/* Splits "host:port" or "[v6]:port"; the port is kept as text for getaddrinfo. */
static int
config_split_listen(const char *s, char **host, char **port)
{
	const char *colon;
	if (s[0] == '[') {
		const char *end = strchr(s, ']');
		if (end == NULL || end[1] != ':' || end[2] == '\0')
			return -1;
		*host = xstrndup(s + 1, (size_t)(end - s - 1));
		*port = xstrdup(end + 2);
	} else {
		colon = strrchr(s, ':');
		if (colon == NULL || colon == s || colon[1] == '\0')
			return -1;
		*host = xstrndup(s, (size_t)(colon - s));
		*port = xstrdup(colon + 1);
	}
	char *end;
	long p = strtol(*port, &end, 10);
	if (*end != '\0' || p < 0 || p > 65535) {
		free(*host);
		free(*port);
		return -1;
	}
	return 0;
}

/* Returns 0 when set, so callers check further only what has the right type. */
static int
config_set_string(char **dst, json_t *v, const char *key, struct diag *d)
{
	if (!json_is_string(v) || json_string_length(v) == 0) {
		diag_add(d, key, "key '%s' must be a non-empty string, not %s", key,
			 json_is_string(v) ? "an empty string" : diag_type_name(v));
		return -1;
	}
	free(*dst);
	*dst = xstrdup(json_string_value(v));
	return 0;
}

static void
config_set_size(size_t *dst, json_t *v, const char *key, long long min, long long max,
		struct diag *d)
{
	if (!json_is_integer(v) || json_integer_value(v) < min || json_integer_value(v) > max) {
		diag_add(d, key, "key '%s' must be an integer from %lld to %lld", key, min, max);
		return;
	}
	*dst = (size_t)json_integer_value(v);
}

/* Channels: the host keys are checked here, the plugin's own when the channel opens. */
static void
config_channels(struct config *c, json_t *v, struct diag *d)
{
	if (!json_is_object(v)) {
		diag_add(d, "channels", "key 'channels' must be an object, not %s",
			 diag_type_name(v));
		return;
	}
	json_decref(c->channels);
	c->channels = json_incref(v);
}

/* "mail_from": {"name": ..., "address": ...}: the From of every mail, the envelope sender. */
static void
config_mail_from(struct config *c, json_t *v, struct diag *d)
{
	const char *key;
	json_t *x;

	if (!json_is_object(v) || !json_is_string(json_object_get(v, "address"))) {
		diag_add(d, "mail_from",
			 "key 'mail_from' must be {\"name\": ..., \"address\": ...}");
		return;
	}
	json_object_foreach(v, key, x)
	{
		char *path = xasprintf("mail_from.%s", key);
		if (strcmp(key, "name") == 0 || strcmp(key, "address") == 0) {
			if (!json_is_string(x) || strpbrk(json_string_value(x), "\r\n") != NULL)
				diag_add(d, path, "'%s' must be a one-line string", path);
			else
				config_set_string(key[0] == 'n' ? &c->mail_from_name
								: &c->mail_from_address,
						  x, path, d);
		} else
			diag_add(d, path, "unknown key '%s'", path);
		free(path);
	}
}

/* "opt_in_topics": the topics only customers who subscribed receive. */
static void
config_opt_in(struct config *c, json_t *v, struct diag *d)
{
	size_t i;
	json_t *t;

	if (!json_is_array(v)) {
		diag_add(d, "opt_in_topics", "key 'opt_in_topics' must be an array of topics");
		return;
	}
	for (i = 0; i < c->n_opt_in_topics; i++)
		free(c->opt_in_topics[i]);
	c->n_opt_in_topics = 0;
	c->opt_in_topics = xrealloc(c->opt_in_topics, (json_array_size(v) + 1) * sizeof(char *));
	json_array_foreach(v, i, t)
	{
		char path[64];
		snprintf(path, sizeof(path), "opt_in_topics[%zu]", i);
		if (!json_is_string(t) || json_string_length(t) == 0)
			diag_add(d, path, "'%s' must be a topic name", path);
		else
			c->opt_in_topics[c->n_opt_in_topics++] = xstrdup(json_string_value(t));
	}
	c->opt_in_topics[c->n_opt_in_topics] = NULL;
}

static void
config_tokens(struct config *c, json_t *v, struct diag *d)
{
	size_t i;
	json_t *t;

	if (!json_is_array(v)) {
		diag_add(d, "api_tokens", "key 'api_tokens' must be an array of strings");
		return;
	}
	c->api_tokens = xcalloc(json_array_size(v) + 1, sizeof(char *));
	json_array_foreach(v, i, t)
	{
		char path[64];
		snprintf(path, sizeof(path), "api_tokens[%zu]", i);
		if (!json_is_string(t) || json_string_length(t) < 16)
			diag_add(d, path,
				 "api_tokens[%zu] must be a string of at least 16 characters", i);
		else
			c->api_tokens[c->n_api_tokens++] = xstrdup(json_string_value(t));
	}
}

/* "frequency_cap": {"max": N, "per": DURATION}, across all non-transactional campaigns. */
static void
config_cap(struct config *c, json_t *v, struct diag *d)
{
	json_t *max = json_object_get(v, "max"), *per = json_object_get(v, "per");
	int64_t ms;

	if (!json_is_object(v) || json_object_size(v) != 2 || !json_is_integer(max) ||
	    !json_is_string(per)) {
		diag_add(d, "frequency_cap",
			 "key 'frequency_cap' must be {\"max\": N, \"per\": \"7d\"}");
		return;
	}
	if (json_integer_value(max) < 1 || json_integer_value(max) > 1000)
		diag_add(d, "frequency_cap.max", "'frequency_cap.max' must be from 1 to 1000");
	else if (duration_parse(json_string_value(per), 0, &ms) < 0)
		diag_add(d, "frequency_cap.per",
			 "'frequency_cap.per' must be a duration like \"7d\"");
	else {
		c->cap_max = (int)json_integer_value(max);
		c->cap_per_ms = ms;
	}
}

/*
 * "retention": {"events": "730d", "payloads": "30d", "messages": "180d", "notes": "180d",
 * "journeys": "365d", "interval": "60s"}; each key optional, "forever" (or null) keeps.
 */
static void
config_retention(struct config *c, json_t *v, struct diag *d)
{
	static const char *const kinds[CONFIG_RETENTION_KINDS] = {"events", "payloads", "messages",
								  "notes", "journeys"};
	const char *key;
	json_t *x;
	char path[64];

	if (!json_is_object(v)) {
		diag_add(d, "retention", "key 'retention' must be an object of durations");
		return;
	}
	json_object_foreach(v, key, x)
	{
		int64_t ms = 0;
		size_t i;
		snprintf(path, sizeof(path), "retention.%s", key);
		for (i = 0; i < CONFIG_RETENTION_KINDS; i++)
			if (strcmp(key, kinds[i]) == 0)
				break;
		if (i == CONFIG_RETENTION_KINDS && strcmp(key, "interval") != 0) {
			diag_add(d, path,
				 "unknown key '%s' (events, payloads, messages, notes, journeys, "
				 "interval)",
				 key);
			continue;
		}
		int forever = json_is_null(x) ||
			      (json_is_string(x) && strcmp(json_string_value(x), "forever") == 0);
		if (!(forever && i < CONFIG_RETENTION_KINDS) &&
		    (!json_is_string(x) || duration_parse(json_string_value(x), 0, &ms) < 0 ||
		     ms < 1000)) {
			diag_add(d, path, "'%s' must be a duration of at least 1s like \"30d\"%s",
				 path, i < CONFIG_RETENTION_KINDS ? ", or \"forever\"" : "");
			continue;
		}
		if (i < CONFIG_RETENTION_KINDS)
			c->retention.keep_ms[i] = ms;
		else
			c->retention.interval_ms = ms;
	}
}

/* "stages": the lifecycle thresholds; each key optional, the defaults in stage.c. */
static void
config_stages(struct config *c, json_t *v, struct diag *d)
{
	static const char *days[] = {"onboarding_days", "expected_interval_days", "lapsed_days"};
	int64_t *fields[] = {&c->stages.onboarding_ms, &c->stages.expected_interval_ms,
			     &c->stages.lapsed_ms};
	const char *key;
	json_t *x;

	if (!json_is_object(v)) {
		diag_add(d, "stages", "key 'stages' must be an object");
		return;
	}
	json_object_foreach(v, key, x)
	{
		char *path = xasprintf("stages.%s", key);
		size_t i;
		for (i = 0; i < NT_ARRAY_LEN(days); i++)
			if (strcmp(key, days[i]) == 0)
				break;
		if (i < NT_ARRAY_LEN(days)) {
			if (!json_is_integer(x) || json_integer_value(x) < 1 ||
			    json_integer_value(x) > 3650)
				diag_add(d, path, "'%s' must be a number of days from 1 to 3650",
					 path);
			else
				*fields[i] = json_integer_value(x) * 24LL * 3600 * 1000;
		} else if (strcmp(key, "growing_purchases") == 0 ||
			   strcmp(key, "mature_purchases") == 0) {
			if (!json_is_integer(x) || json_integer_value(x) < 2 ||
			    json_integer_value(x) > 1000)
				diag_add(d, path, "'%s' must be an integer from 2 to 1000", path);
			else if (key[0] == 'g')
				c->stages.growing_purchases = (int)json_integer_value(x);
			else
				c->stages.mature_purchases = (int)json_integer_value(x);
		} else if (strcmp(key, "declining_factor") == 0) {
			if (!json_is_number(x) || json_number_value(x) < 1.0 ||
			    json_number_value(x) > 100.0)
				diag_add(d, path, "'%s' must be a number from 1 to 100", path);
			else
				c->stages.declining_factor = json_number_value(x);
		} else
			diag_add(d, path, "unknown key '%s'", path);
		free(path);
	}
	if (c->stages.mature_purchases < c->stages.growing_purchases)
		diag_add(d, "stages",
			 "'stages.mature_purchases' must not be below "
			 "'stages.growing_purchases'");
}

/* Applies each key of the file over the defaults; every unknown key is one problem. */
static void
config_apply(struct config *c, json_t *root, struct diag *d)
{
	const char *key;
	json_t *v;

	json_object_foreach(root, key, v)
	{
		if (strcmp(key, "listen") == 0) {
			if (!json_is_string(v)) {
				diag_add(d, key, "key 'listen' must be a string \"host:port\"");
				continue;
			}
			char *h, *p;
			if (config_split_listen(json_string_value(v), &h, &p) < 0) {
				diag_add(d, key, "key 'listen': '%s' is not host:port",
					 json_string_value(v));
				continue;
			}
			free(c->listen_host);
			free(c->listen_port);
			c->listen_host = h;
			c->listen_port = p;
		} else if (strcmp(key, "data_dir") == 0)
			config_set_string(&c->data_dir, v, key, d);
		else if (strcmp(key, "api_tokens") == 0)
			config_tokens(c, v, d);
		else if (strcmp(key, "public_url") == 0) {
			if (config_set_string(&c->public_url, v, key, d) == 0 &&
			    strncmp(json_string_value(v), "http://", 7) != 0 &&
			    strncmp(json_string_value(v), "https://", 8) != 0)
				diag_add(d, key,
					 "key 'public_url' must start with http:// or https://");
		} else if (strcmp(key, "secret") == 0) {
			if (config_set_string(&c->secret, v, key, d) == 0 &&
			    json_string_length(v) < 32)
				diag_add(d, key, "key 'secret' must be at least 32 characters");
		} else if (strcmp(key, "campaigns_dir") == 0)
			config_set_string(&c->campaigns_dir, v, key, d);
		else if (strcmp(key, "templates_dir") == 0)
			config_set_string(&c->templates_dir, v, key, d);
		else if (strcmp(key, "plugin_dir") == 0)
			config_set_string(&c->plugin_dir, v, key, d);
		else if (strcmp(key, "channels") == 0)
			config_channels(c, v, d);
		else if (strcmp(key, "log_level") == 0) {
			int l = json_is_string(v) ? log_level_parse(json_string_value(v)) : -1;
			if (l < 0)
				diag_add(d, key,
					 "key 'log_level' must be one of \"error\", \"warn\", "
					 "\"info\", \"debug\"");
			else
				c->log_level = l;
		} else if (strcmp(key, "durability") == 0) {
			const char *s = json_is_string(v) ? json_string_value(v) : "";
			if (strcmp(s, "full") == 0)
				c->durability_full = 1;
			else if (strcmp(s, "normal") == 0)
				c->durability_full = 0;
			else
				diag_add(d, key, "key 'durability' must be \"full\" or \"normal\"");
		} else if (strcmp(key, "max_body_bytes") == 0)
			config_set_size(&c->max_body_bytes, v, key, 1024, 256LL << 20, d);
		else if (strcmp(key, "max_batch") == 0)
			config_set_size(&c->max_batch, v, key, 1, 100000, d);
		else if (strcmp(key, "shutdown_timeout") == 0) {
			size_t s = 10;
			config_set_size(&s, v, key, 1, 3600, d);
			c->shutdown_timeout_s = (int)s;
		} else if (strcmp(key, "frequency_cap") == 0)
			config_cap(c, v, d);
		else if (strcmp(key, "stages") == 0)
			config_stages(c, v, d);
		else if (strcmp(key, "retention") == 0)
			config_retention(c, v, d);
		else if (strcmp(key, "mail_from") == 0)
			config_mail_from(c, v, d);
		else if (strcmp(key, "opt_in_topics") == 0)
			config_opt_in(c, v, d);
		else if (strcmp(key, "user") == 0) {
			if (config_set_string(&c->user, v, key, d) == 0 &&
			    getpwnam(c->user) == NULL)
				diag_add(d, key, "key 'user': no such user '%s'", c->user);
		} else if (strcmp(key, "system_channel") == 0)
			config_set_string(&c->system_channel, v, key, d);
		else if (strcmp(key, "unsubscribe_mailto") == 0) {
			if (config_set_string(&c->unsubscribe_mailto, v, key, d) == 0 &&
			    !mime_addr_valid(c->unsubscribe_mailto))
				diag_add(d, key,
					 "key 'unsubscribe_mailto' must be an email address");
		} else
			diag_add(d, key, "unknown key '%s'", key);
	}
}

/* Reads the whole file: jsonpos needs the text, Jansson the same text. */
static char *
config_read_file(const char *file, struct diag *d)
{
	FILE *f = fopen(file, "r");
	char *buf = NULL;
	size_t len = 0, cap = 0, n;

	if (f == NULL) {
		diag_add(d, NULL, "cannot open: %s", strerror(errno));
		return NULL;
	}
	do {
		if (cap - len < 4096) {
			cap = cap ? cap * 2 : 8192;
			if (cap > (16u << 20)) {
				diag_add(d, NULL, "file too large");
				free(buf);
				fclose(f);
				return NULL;
			}
			buf = xrealloc(buf, cap);
		}
		n = fread(buf + len, 1, cap - len - 1, f);
		len += n;
	} while (n > 0);
	buf[len] = '\0';
	fclose(f);
	return buf;
}

struct config *
config_load(const char *file, struct diag *d)
{
	struct config *c = xcalloc(1, sizeof(*c));
	json_error_t jerr;
	json_t *root = NULL;
	char *text = NULL;
	struct jsonpos *pos = NULL;
	size_t before = d->n;

	config_defaults(c);
	if (file != NULL) {
		c->file = xstrdup(file);
		text = config_read_file(file, d);
		if (text != NULL) {
			root = json_loads(text, JSON_REJECT_DUPLICATES, &jerr);
			if (root == NULL)
				diag_add_at(d, jerr.line, jerr.column, "%s", jerr.text);
			else if (!json_is_object(root))
				diag_add_at(d, 1, 1, "the configuration must be a JSON object");
			else {
				pos = jsonpos_scan(text);
				d->pos = pos;
				config_apply(c, root, d);
				/* The frequency cap counts the messages of its window. */
				if (c->retention.keep_ms[2] > 0 &&
				    c->retention.keep_ms[2] < c->cap_per_ms)
					diag_add(
					    d, "retention",
					    "'retention.messages' must be at least "
					    "'frequency_cap.per': the cap counts those messages");
			}
		}
	}
	/*
	 * Without channels in the file: Maildir channels under data_dir, for demos and dry runs;
	 * "helpdesk" is the team's inbox, internal, so that tickets reach it whatever the
	 * customer's consent.
	 */
	if (c->channels == NULL)
		c->channels = json_pack("{s:{s:s,s:s+},s:{s:s,s:s+,s:b,s:s}}", "mail", "plugin",
					"maildir", "path", c->data_dir, "/maildir", "helpdesk",
					"plugin", "maildir", "path", c->data_dir, "/helpdesk",
					"internal", 1, "to", "helpdesk@localhost.localdomain");
	c->chans = channel_conf_parse(c->channels, &c->n_chans, d);
	if (c->system_channel != NULL && json_object_get(c->channels, c->system_channel) == NULL)
		diag_add(d, "system_channel",
			 "key 'system_channel': no channel '%s' (double opt-in mails go there)",
			 c->system_channel);
	d->pos = NULL;
	if (c->public_url == NULL)
		c->public_url = strchr(c->listen_host, ':')
				    ? xasprintf("http://[%s]:%s", c->listen_host, c->listen_port)
				    : xasprintf("http://%s:%s", c->listen_host, c->listen_port);
	if (c->n_api_tokens == 0 && d->n == before && !config_listen_is_loopback(c))
		diag_add(d, NULL,
			 "key 'api_tokens' must list at least one token when 'listen' is not "
			 "a loopback address");
	json_decref(root);
	jsonpos_free(pos);
	free(text);
	if (d->n > before) {
		config_free(c);
		return NULL;
	}
	return c;
}

/* Only literal loopback addresses count: a name like "127.example.org" may resolve anywhere. */
int
config_listen_is_loopback(const struct config *c)
{
	struct in_addr a4;
	struct in6_addr a6;

	if (strcmp(c->listen_host, "localhost") == 0)
		return 1;
	if (inet_pton(AF_INET, c->listen_host, &a4) == 1)
		return (ntohl(a4.s_addr) >> 24) == 127;
	return inet_pton(AF_INET6, c->listen_host, &a6) == 1 && IN6_IS_ADDR_LOOPBACK(&a6);
}

void
config_free(struct config *c)
{
	if (c == NULL)
		return;
	free(c->file);
	free(c->listen_host);
	free(c->listen_port);
	free(c->data_dir);
	free(c->user);
	for (size_t i = 0; i < c->n_api_tokens; i++)
		free(c->api_tokens[i]);
	free(c->api_tokens);
	free(c->public_url);
	free(c->secret);
	free(c->campaigns_dir);
	free(c->templates_dir);
	free(c->plugin_dir);
	json_decref(c->channels);
	channel_conf_free(c->chans, c->n_chans);
	free(c->mail_from_name);
	free(c->mail_from_address);
	for (size_t i = 0; i < c->n_opt_in_topics; i++)
		free(c->opt_in_topics[i]);
	free(c->opt_in_topics);
	free(c->system_channel);
	free(c->unsubscribe_mailto);
	free(c);
}
