/*
 * The configuration file and every key of it, once: how each is read and checked, and whether
 * a reload (SIGHUP) applies it or only a restart does. config_load reads a file through this
 * table, over config.c's defaults;
 * the reload merges a new file into the running configuration through it; `nurtured
 * config-keys` prints it, and tests/integration/test_reload.py tests every key it lists.
 */
#include "config.h"

#include <errno.h>
#include <glib.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "duration.h"
#include "jsonpos.h"
#include "log.h"
#include "mime.h"
#include "util.h"

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

static void
key_listen(struct config *c, json_t *v, const char *key, struct diag *d)
{
	char *h, *p;

	if (!json_is_string(v)) {
		diag_add(d, key, "key 'listen' must be a string \"host:port\"");
		return;
	}
	if (config_split_listen(json_string_value(v), &h, &p) < 0) {
		diag_add(d, key, "key 'listen': '%s' is not host:port", json_string_value(v));
		return;
	}
	free(c->listen_host);
	free(c->listen_port);
	c->listen_host = h;
	c->listen_port = p;
}

static void
key_data_dir(struct config *c, json_t *v, const char *key, struct diag *d)
{
	config_set_string(&c->data_dir, v, key, d);
}

/*
 * Issue 21: where the store is. "sqlite" (the default: data_dir/nurtured.db) or a PostgreSQL
 * URL ("postgresql://user@host/db" or "postgres://..."), which several daemons may share.
 */
static void
key_store(struct config *c, json_t *v, const char *key, struct diag *d)
{
	if (config_set_string(&c->store, v, key, d) != 0)
		return;
	if (strcmp(c->store, "sqlite") != 0 && strncmp(c->store, "postgresql://", 13) != 0 &&
	    strncmp(c->store, "postgres://", 11) != 0)
		diag_add(d, key,
			 "key 'store' must be \"sqlite\" or a URL \"postgresql://user@host/db\"");
}

/* Issue 21: this node's name among the nodes sharing a PostgreSQL store (default host:port). */
static void
key_node_id(struct config *c, json_t *v, const char *key, struct diag *d)
{
	config_set_string(&c->node_id, v, key, d);
}

/* Issue 21: a partition's lease lasts this long unrenewed ("10s"); renewed every third of it. */
static void
key_lease_ttl(struct config *c, json_t *v, const char *key, struct diag *d)
{
	int64_t ms;
	if (!json_is_string(v) || duration_parse(json_string_value(v), 0, &ms) < 0 || ms < 1000 ||
	    ms > 3600000) {
		diag_add(d, key, "key 'lease_ttl' must be a duration from 1s to 1h like \"10s\"");
		return;
	}
	c->lease_ttl_ms = ms;
}

/* A token is a string (an admin) or {"token": "...", "role": "read" | "admin"} (issue 22). */
static void
key_api_tokens(struct config *c, json_t *v, const char *key, struct diag *d)
{
	size_t i;
	json_t *t;

	if (!json_is_array(v)) {
		diag_add(d, key, "key 'api_tokens' must be an array of strings or objects");
		return;
	}
	c->api_tokens = xcalloc(json_array_size(v) + 1, sizeof(char *));
	c->api_token_roles = xcalloc(json_array_size(v) + 1, sizeof(int));
	json_array_foreach(v, i, t)
	{
		char path[64];
		int role = ROLE_ADMIN;
		json_t *tok = t;

		snprintf(path, sizeof(path), "api_tokens[%zu]", i);
		if (json_is_object(t)) {
			const char *k, *r;
			json_t *x;
			int bad = 0;
			json_object_foreach(t, k, x)
			{
				if (strcmp(k, "token") != 0 && strcmp(k, "role") != 0) {
					diag_add(d, path, "api_tokens[%zu]: unknown key '%s'", i,
						 k);
					bad = 1;
				}
			}
			tok = json_object_get(t, "token");
			r = json_string_value(json_object_get(t, "role"));
			if (r != NULL && strcmp(r, "read") == 0)
				role = ROLE_READ;
			else if (r == NULL || strcmp(r, "admin") != 0) {
				diag_add(d, path,
					 "api_tokens[%zu].role must be \"read\" or \"admin\"", i);
				bad = 1;
			}
			if (bad)
				continue;
		}
		if (!json_is_string(tok) || json_string_length(tok) < 16)
			diag_add(d, path,
				 "api_tokens[%zu] must be a string of at least 16 characters, or "
				 "{\"token\": such a string, \"role\": \"read\" or \"admin\"}",
				 i);
		else {
			c->api_token_roles[c->n_api_tokens] = role;
			c->api_tokens[c->n_api_tokens++] = xstrdup(json_string_value(tok));
		}
	}
}

static void
key_public_url(struct config *c, json_t *v, const char *key, struct diag *d)
{
	if (config_set_string(&c->public_url, v, key, d) == 0 &&
	    strncmp(json_string_value(v), "http://", 7) != 0 &&
	    strncmp(json_string_value(v), "https://", 8) != 0)
		diag_add(d, key, "key 'public_url' must start with http:// or https://");
}

static void
key_secret(struct config *c, json_t *v, const char *key, struct diag *d)
{
	if (config_set_string(&c->secret, v, key, d) == 0 && json_string_length(v) < 32)
		diag_add(d, key, "key 'secret' must be at least 32 characters");
}

static void
key_campaigns_dir(struct config *c, json_t *v, const char *key, struct diag *d)
{
	config_set_string(&c->campaigns_dir, v, key, d);
}

static void
key_templates_dir(struct config *c, json_t *v, const char *key, struct diag *d)
{
	config_set_string(&c->templates_dir, v, key, d);
}

static void
key_plugin_dir(struct config *c, json_t *v, const char *key, struct diag *d)
{
	config_set_string(&c->plugin_dir, v, key, d);
}

/* Channels: the host keys are checked by config_load, the plugin's own when it opens. */
static void
key_channels(struct config *c, json_t *v, const char *key, struct diag *d)
{
	if (!json_is_object(v)) {
		diag_add(d, key, "key 'channels' must be an object, not %s", diag_type_name(v));
		return;
	}
	json_decref(c->channels);
	c->channels = json_incref(v);
}

static void
key_log_level(struct config *c, json_t *v, const char *key, struct diag *d)
{
	int l = json_is_string(v) ? log_level_parse(json_string_value(v)) : -1;
	if (l < 0)
		diag_add(d, key,
			 "key 'log_level' must be one of \"error\", \"warn\", \"info\", \"debug\"");
	else
		c->log_level = l;
}

/* issue 17: "broadcast_archive": true publishes sent broadcasts at /archive/{id}. */
static void
key_broadcast_archive(struct config *c, json_t *v, const char *key, struct diag *d)
{
	if (!json_is_boolean(v))
		diag_add(d, key, "key 'broadcast_archive' must be true or false");
	else
		c->broadcast_archive = json_is_true(v);
}

static void
key_durability(struct config *c, json_t *v, const char *key, struct diag *d)
{
	const char *s = json_is_string(v) ? json_string_value(v) : "";
	if (strcmp(s, "full") == 0)
		c->durability_full = 1;
	else if (strcmp(s, "normal") == 0)
		c->durability_full = 0;
	else
		diag_add(d, key, "key 'durability' must be \"full\" or \"normal\"");
}

static void
key_max_body_bytes(struct config *c, json_t *v, const char *key, struct diag *d)
{
	config_set_size(&c->max_body_bytes, v, key, 1024, 256LL << 20, d);
}

static void
key_max_batch(struct config *c, json_t *v, const char *key, struct diag *d)
{
	config_set_size(&c->max_batch, v, key, 1, 100000, d);
}

static void
key_shutdown_timeout(struct config *c, json_t *v, const char *key, struct diag *d)
{
	size_t s = (size_t)c->shutdown_timeout_s;
	config_set_size(&s, v, key, 1, 3600, d);
	c->shutdown_timeout_s = (int)s;
}

/* The HTTP edge (issue 18): connections open at once, and a request's head and body deadlines. */
static void
key_max_connections(struct config *c, json_t *v, const char *key, struct diag *d)
{
	config_set_size(&c->max_connections, v, key, 1, 1000000, d);
}

static void
key_header_timeout(struct config *c, json_t *v, const char *key, struct diag *d)
{
	size_t s = (size_t)c->header_timeout_s;
	config_set_size(&s, v, key, 1, 3600, d);
	c->header_timeout_s = (int)s;
}

static void
key_body_timeout(struct config *c, json_t *v, const char *key, struct diag *d)
{
	size_t s = (size_t)c->body_timeout_s;
	config_set_size(&s, v, key, 1, 3600, d);
	c->body_timeout_s = (int)s;
}

/*
 * "retention": {"events": "730d", "payloads": "30d", "messages": "180d", "notes": "180d",
 * "journeys": "365d", "interval": "60s"}; each key optional, "forever" (or null) keeps.
 */
static void
key_retention(struct config *c, json_t *v, const char *name, struct diag *d)
{
	static const char *const kinds[CONFIG_RETENTION_KINDS] = {"events", "payloads", "messages",
								  "notes", "journeys"};
	const char *key;
	json_t *x;
	char path[64];

	if (!json_is_object(v)) {
		diag_add(d, name, "key 'retention' must be an object of durations");
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

/* "frequency_cap": {"max": N, "per": DURATION}, across all non-transactional campaigns. */
static void
key_frequency_cap(struct config *c, json_t *v, const char *key, struct diag *d)
{
	json_t *max = json_object_get(v, "max"), *per = json_object_get(v, "per");
	int64_t ms;

	if (!json_is_object(v) || json_object_size(v) != 2 || !json_is_integer(max) ||
	    !json_is_string(per)) {
		diag_add(d, key, "key 'frequency_cap' must be {\"max\": N, \"per\": \"7d\"}");
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

/* "stages": the lifecycle thresholds; each key optional, the defaults in stage.c. */
static void
key_stages(struct config *c, json_t *v, const char *key, struct diag *d)
{
	static const char *days[] = {"onboarding_days", "expected_interval_days", "lapsed_days"};
	int64_t *fields[] = {&c->stages.onboarding_ms, &c->stages.expected_interval_ms,
			     &c->stages.lapsed_ms};
	const char *k;
	json_t *x;

	if (!json_is_object(v)) {
		diag_add(d, key, "key 'stages' must be an object");
		return;
	}
	json_object_foreach(v, k, x)
	{
		char *path = xasprintf("stages.%s", k);
		size_t i;
		for (i = 0; i < NT_ARRAY_LEN(days); i++)
			if (strcmp(k, days[i]) == 0)
				break;
		if (i < NT_ARRAY_LEN(days)) {
			if (!json_is_integer(x) || json_integer_value(x) < 1 ||
			    json_integer_value(x) > 3650)
				diag_add(d, path, "'%s' must be a number of days from 1 to 3650",
					 path);
			else
				*fields[i] = json_integer_value(x) * 24LL * 3600 * 1000;
		} else if (strcmp(k, "growing_purchases") == 0 ||
			   strcmp(k, "mature_purchases") == 0) {
			if (!json_is_integer(x) || json_integer_value(x) < 2 ||
			    json_integer_value(x) > 1000)
				diag_add(d, path, "'%s' must be an integer from 2 to 1000", path);
			else if (k[0] == 'g')
				c->stages.growing_purchases = (int)json_integer_value(x);
			else
				c->stages.mature_purchases = (int)json_integer_value(x);
		} else if (strcmp(k, "declining_factor") == 0) {
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
		diag_add(d, key,
			 "'stages.mature_purchases' must not be below "
			 "'stages.growing_purchases'");
}

/* "mail_from": {"name": ..., "address": ...}: the From of every mail, the envelope sender. */
static void
key_mail_from(struct config *c, json_t *v, const char *key, struct diag *d)
{
	const char *k;
	json_t *x;

	if (!json_is_object(v) || !json_is_string(json_object_get(v, "address"))) {
		diag_add(d, key, "key 'mail_from' must be {\"name\": ..., \"address\": ...}");
		return;
	}
	json_object_foreach(v, k, x)
	{
		char *path = xasprintf("mail_from.%s", k);
		if (strcmp(k, "name") == 0 || strcmp(k, "address") == 0) {
			if (!json_is_string(x) || strpbrk(json_string_value(x), "\r\n") != NULL)
				diag_add(d, path, "'%s' must be a one-line string", path);
			else
				config_set_string(k[0] == 'n' ? &c->mail_from_name
							      : &c->mail_from_address,
						  x, path, d);
		} else
			diag_add(d, path, "unknown key '%s'", path);
		free(path);
	}
}

/* "opt_in_topics": the topics only customers who subscribed receive. */
static void
key_opt_in_topics(struct config *c, json_t *v, const char *key, struct diag *d)
{
	size_t i;
	json_t *t;

	if (!json_is_array(v)) {
		diag_add(d, key, "key 'opt_in_topics' must be an array of topics");
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
key_user(struct config *c, json_t *v, const char *key, struct diag *d)
{
	if (config_set_string(&c->user, v, key, d) == 0 && getpwnam(c->user) == NULL)
		diag_add(d, key, "key 'user': no such user '%s'", c->user);
}

/* Checked against the channels by config_load, once every key is read. */
static void
key_system_channel(struct config *c, json_t *v, const char *key, struct diag *d)
{
	config_set_string(&c->system_channel, v, key, d);
}

static void
key_unsubscribe_mailto(struct config *c, json_t *v, const char *key, struct diag *d)
{
	if (config_set_string(&c->unsubscribe_mailto, v, key, d) == 0 &&
	    !mime_addr_valid(c->unsubscribe_mailto))
		diag_add(d, key, "key 'unsubscribe_mailto' must be an email address");
}

/* Comparing and keeping values: one pair per kind of field. */
#define STR_FIELD(fn, field)                                                                       \
	static int fn##_differs(const struct config *a, const struct config *b)                    \
	{                                                                                          \
		return g_strcmp0(a->field, b->field) != 0;                                         \
	}                                                                                          \
	G_GNUC_UNUSED static void fn##_keep(struct config *n, const struct config *o)              \
	{                                                                                          \
		free(n->field);                                                                    \
		n->field = o->field != NULL ? xstrdup(o->field) : NULL;                            \
	}
#define NUM_FIELD(fn, field)                                                                       \
	static int fn##_differs(const struct config *a, const struct config *b)                    \
	{                                                                                          \
		return a->field != b->field;                                                       \
	}                                                                                          \
	G_GNUC_UNUSED static void fn##_keep(struct config *n, const struct config *o)              \
	{                                                                                          \
		n->field = o->field;                                                               \
	}

STR_FIELD(data_dir, data_dir)
STR_FIELD(store, store)
STR_FIELD(node_id, node_id)
NUM_FIELD(lease_ttl, lease_ttl_ms)
STR_FIELD(public_url, public_url)
STR_FIELD(secret, secret)
STR_FIELD(campaigns_dir, campaigns_dir)
STR_FIELD(templates_dir, templates_dir)
STR_FIELD(plugin_dir, plugin_dir)
STR_FIELD(user, user)
STR_FIELD(system_channel, system_channel)
STR_FIELD(unsubscribe_mailto, unsubscribe_mailto)
NUM_FIELD(log_level, log_level)
NUM_FIELD(durability, durability_full)
NUM_FIELD(max_body_bytes, max_body_bytes)
NUM_FIELD(max_batch, max_batch)
NUM_FIELD(shutdown_timeout, shutdown_timeout_s)
NUM_FIELD(max_connections, max_connections)
NUM_FIELD(header_timeout, header_timeout_s)
NUM_FIELD(body_timeout, body_timeout_s)
NUM_FIELD(broadcast_archive, broadcast_archive)

/* Issue 22: "ui": true, false, or the directory of the dashboard's templates. */
static void
key_ui(struct config *c, json_t *v, const char *key, struct diag *d)
{
	if (json_is_boolean(v))
		c->ui_disabled = !json_is_true(v);
	else if (json_is_string(v) && json_string_length(v) > 0) {
		c->ui_disabled = 0;
		free(c->ui_dir);
		c->ui_dir = xstrdup(json_string_value(v));
	} else
		diag_add(d, key, "key 'ui' must be true, false or a directory, not %s",
			 diag_type_name(v));
}

static int
ui_differs(const struct config *a, const struct config *b)
{
	return a->ui_disabled != b->ui_disabled || g_strcmp0(a->ui_dir, b->ui_dir) != 0;
}

static int
retention_differs(const struct config *a, const struct config *b)
{
	return memcmp(&a->retention, &b->retention, sizeof(a->retention)) != 0;
}

static int
listen_differs(const struct config *a, const struct config *b)
{
	return strcmp(a->listen_host, b->listen_host) != 0 ||
	       strcmp(a->listen_port, b->listen_port) != 0;
}

static void
listen_keep(struct config *n, const struct config *o)
{
	free(n->listen_host);
	free(n->listen_port);
	n->listen_host = xstrdup(o->listen_host);
	n->listen_port = xstrdup(o->listen_port);
}

/* Two NULL-able lists of N strings, in order. */
static int
config_strv_differ(char *const *a, size_t na, char *const *b, size_t nb)
{
	if (na != nb)
		return 1;
	for (size_t i = 0; i < na; i++)
		if (strcmp(a[i], b[i]) != 0)
			return 1;
	return 0;
}

static int
api_tokens_differs(const struct config *a, const struct config *b)
{
	return config_strv_differ(a->api_tokens, a->n_api_tokens, b->api_tokens, b->n_api_tokens) ||
	       (a->n_api_tokens > 0 &&
		memcmp(a->api_token_roles, b->api_token_roles, a->n_api_tokens * sizeof(int)) != 0);
}

static int
opt_in_topics_differs(const struct config *a, const struct config *b)
{
	return config_strv_differ(a->opt_in_topics, a->n_opt_in_topics, b->opt_in_topics,
				  b->n_opt_in_topics);
}

static int
channels_differs(const struct config *a, const struct config *b)
{
	return !json_equal(a->channels, b->channels);
}

static int
frequency_cap_differs(const struct config *a, const struct config *b)
{
	return a->cap_max != b->cap_max || a->cap_per_ms != b->cap_per_ms;
}

static int
stages_differs(const struct config *a, const struct config *b)
{
	const struct stage_rules *x = &a->stages, *y = &b->stages;
	return x->onboarding_ms != y->onboarding_ms ||
	       x->growing_purchases != y->growing_purchases ||
	       x->mature_purchases != y->mature_purchases ||
	       x->declining_factor != y->declining_factor ||
	       x->expected_interval_ms != y->expected_interval_ms || x->lapsed_ms != y->lapsed_ms;
}

static int
mail_from_differs(const struct config *a, const struct config *b)
{
	return g_strcmp0(a->mail_from_name, b->mail_from_name) != 0 ||
	       g_strcmp0(a->mail_from_address, b->mail_from_address) != 0;
}

/* Issue 16's keys (config_inbound.c): each a restart key, see config_inbound_keep. */
#define INBOUND_KEY(name)                                                                          \
	static void key_##name(struct config *c, json_t *v, const char *key, struct diag *d)       \
	{                                                                                          \
		config_inbound_apply(c, key, v, d);                                                \
	}                                                                                          \
	static int name##_differs(const struct config *a, const struct config *b)                  \
	{                                                                                          \
		return config_inbound_differs(&a->inbound, &b->inbound, #name);                    \
	}                                                                                          \
	static void name##_keep(struct config *n, const struct config *o)                          \
	{                                                                                          \
		config_inbound_keep(&n->inbound, &o->inbound, #name);                              \
	}
INBOUND_KEY(bounce_address)
INBOUND_KEY(reply_to)
INBOUND_KEY(bounce_policy)
INBOUND_KEY(inbound)
INBOUND_KEY(webhooks)

#define APPLY(name)                                                                                \
	{                                                                                          \
#name, CONFIG_RELOAD_APPLY, key_##name, name##_differs, NULL                       \
	}
#define RESTART(name)                                                                              \
	{                                                                                          \
#name, CONFIG_RELOAD_RESTART, key_##name, name##_differs, name##_keep              \
	}

/*
 * The table. A restart key is one the running daemon has built on: its socket (listen), its
 * store (data_dir, store, durability), the account it runs as (user), the key of its signed links
 * and erased-address hashes (secret), the plugins it loaded while still root (plugin_dir).
 */
const struct config_key config_keys[] = {
    RESTART(listen),
    RESTART(data_dir),
    RESTART(store),
    APPLY(api_tokens),
    APPLY(public_url),
    RESTART(secret),
    APPLY(campaigns_dir),
    APPLY(templates_dir),
    RESTART(plugin_dir),
    APPLY(channels),
    APPLY(log_level),
    RESTART(durability),
    APPLY(max_body_bytes),
    APPLY(max_batch),
    APPLY(shutdown_timeout),
    APPLY(frequency_cap),
    APPLY(stages),
    APPLY(mail_from),
    APPLY(opt_in_topics),
    RESTART(user),
    APPLY(system_channel),
    APPLY(unsubscribe_mailto),
    RESTART(bounce_address),
    RESTART(reply_to),
    APPLY(retention),
    APPLY(max_connections),
    APPLY(header_timeout),
    APPLY(body_timeout),
    RESTART(bounce_policy),
    RESTART(inbound),
    RESTART(webhooks),
    APPLY(transactional_rate),
    APPLY(subscribe),
    APPLY(ui),
    APPLY(broadcast_archive),
    RESTART(node_id),
    RESTART(lease_ttl),
};
const size_t config_nkeys = NT_ARRAY_LEN(config_keys);

const struct config_key *
config_key_find(const char *name)
{
	for (size_t i = 0; i < config_nkeys; i++)
		if (strcmp(config_keys[i].name, name) == 0)
			return &config_keys[i];
	return NULL;
}

/* Applies each key of the file over the defaults, through the table; an unknown key is a problem.
 */
static void
config_apply(struct config *c, json_t *root, struct diag *d)
{
	const char *key;
	json_t *v;

	json_object_foreach(root, key, v)
	{
		const struct config_key *k = config_key_find(key);
		if (k != NULL)
			k->parse(c, v, key, d);
		else
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
	config_derive(c, d);
	if (c->system_channel != NULL && json_object_get(c->channels, c->system_channel) == NULL)
		diag_add(d, "system_channel",
			 "key 'system_channel': no channel '%s' (double opt-in mails go there)",
			 c->system_channel);
	d->pos = NULL;
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

/*
 * Restart keys first, so that values derived from them (a default public_url from listen,
 * the default channels under data_dir) are derived again from the running ones before the
 * keys a reload applies are compared.
 */
void
config_reload_merge(struct config *n, const struct config *o, const char ***applied,
		    const char ***restart)
{
	size_t na = 0, nr = 0;

	*applied = xcalloc(config_nkeys + 1, sizeof(char *));
	*restart = xcalloc(config_nkeys + 1, sizeof(char *));
	for (size_t i = 0; i < config_nkeys; i++) {
		const struct config_key *k = &config_keys[i];
		if (k->reload == CONFIG_RELOAD_RESTART && k->differs(n, o)) {
			k->keep(n, o);
			(*restart)[nr++] = k->name;
		}
	}
	struct diag scratch; /* the derived values were checked when N was loaded */
	diag_init(&scratch, "(reload)", NULL);
	config_derive(n, &scratch);
	diag_free(&scratch);
	for (size_t i = 0; i < config_nkeys; i++) {
		const struct config_key *k = &config_keys[i];
		if (k->reload == CONFIG_RELOAD_APPLY && k->differs(n, o))
			(*applied)[na++] = k->name;
	}
}

/* `nurtured config-keys`: the table, one key a line: NAME reload|restart. */
int
config_keys_main(void)
{
	for (size_t i = 0; i < config_nkeys; i++)
		printf("%s %s\n", config_keys[i].name,
		       config_keys[i].reload == CONFIG_RELOAD_APPLY ? "reload" : "restart");
	return 0;
}
