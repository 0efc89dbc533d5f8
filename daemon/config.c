#include "config.h"
#include "channel.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

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

/*
 * The values derived from others when the file does not set them: Maildir channels under
 * data_dir, for demos and dry runs ("helpdesk" is the team's inbox, internal, so that tickets
 * reach it whatever the customer's consent), and public_url from listen. Again at a reload,
 * after the keys that need a restart took back their running values.
 */
void
config_derive(struct config *c, struct diag *d)
{
	if (c->channels == NULL || c->channels_default) {
		json_decref(c->channels);
		c->channels = json_pack("{s:{s:s,s:s+},s:{s:s,s:s+,s:b,s:s}}", "mail", "plugin",
					"maildir", "path", c->data_dir, "/maildir", "helpdesk",
					"plugin", "maildir", "path", c->data_dir, "/helpdesk",
					"internal", 1, "to", "helpdesk@localhost.localdomain");
		c->channels_default = 1;
	}
	if (c->public_url == NULL || c->public_url_default) {
		free(c->public_url);
		c->public_url = strchr(c->listen_host, ':')
				    ? xasprintf("http://[%s]:%s", c->listen_host, c->listen_port)
				    : xasprintf("http://%s:%s", c->listen_host, c->listen_port);
		c->public_url_default = 1;
	}
	channel_conf_free(c->chans, c->n_chans);
	c->chans = channel_conf_parse(c->channels, &c->n_chans, d);
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
