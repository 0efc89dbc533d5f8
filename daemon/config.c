/* The configuration object: its embedded defaults, the values derived from others, its free. */
#include "config.h"
#include "channel.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>

#include "crypto.h"
#include "log.h"
#include "util.h"

#ifndef NT_SYSCONFDIR
#define NT_SYSCONFDIR "/etc/nurtured"
#endif
#ifndef NT_PLUGINDIR
#define NT_PLUGINDIR "/usr/local/lib/nurtured"
#endif

/* The embedded defaults: what `nurtured -f` runs with when given no file. */
void
config_defaults(struct config *c)
{
	c->listen_host = xstrdup("127.0.0.1");
	c->listen_port = xstrdup("7800");
	c->lease_ttl_ms = 10000;
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
	c->max_connections = 1024;
	c->header_timeout_s = 10;
	c->body_timeout_s = 60;
	stage_rules_default(&c->stages);
	c->mail_from_name = xstrdup("nurtured");
	c->mail_from_address = xstrdup("nurtured@localhost.localdomain");
	c->opt_in_topics = xcalloc(3, sizeof(char *));
	c->opt_in_topics[c->n_opt_in_topics++] = xstrdup("newsletter");
	c->opt_in_topics[c->n_opt_in_topics++] = xstrdup("offers");
	c->system_channel = NULL; /* "mail" unless set; checked only when set */
	config_inbound_defaults(&c->inbound);
	/* events 2 years, payloads 30 days, messages and notes 180 days, journeys a year */
	c->retention.keep_ms[0] = 730 * 86400000LL;
	c->retention.keep_ms[1] = 30 * 86400000LL;
	c->retention.keep_ms[2] = 180 * 86400000LL;
	c->retention.keep_ms[3] = 180 * 86400000LL;
	c->retention.keep_ms[4] = 365 * 86400000LL;
	c->retention.interval_ms = 60000;
	config_public_defaults(c);
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
	free(c->store);
	free(c->node_id);
	free(c->user);
	for (size_t i = 0; i < c->n_api_tokens; i++)
		free(c->api_tokens[i]);
	free(c->api_tokens);
	free(c->api_token_roles);
	free(c->ui_dir);
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
	config_public_free(c);
	config_inbound_free(&c->inbound);
	free(c);
}

int
config_token_role(const struct config *c, const char *token)
{
	int role = ROLE_NONE;

	if (c->n_api_tokens == 0)
		return ROLE_ADMIN;
	if (token == NULL)
		return ROLE_NONE;
	for (size_t i = 0; i < c->n_api_tokens; i++)
		if (crypto_secret_equal(token, c->api_tokens[i]) && c->api_token_roles[i] > role)
			role = c->api_token_roles[i];
	return role;
}

const char *
config_admin_token(const struct config *c)
{
	for (size_t i = 0; i < c->n_api_tokens; i++)
		if (c->api_token_roles[i] == ROLE_ADMIN)
			return c->api_tokens[i];
	return NULL;
}
