/*
 * The configuration keys of what faces the public and the apps (issue 20): the rate of
 * transactional sends per API token, and the signup form (POST /subscribe). Both apply at a
 * reload; config_keys.c's table lists them.
 */
#include <glib.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config.h"
#include "diag.h"
#include "duration.h"
#include "util.h"

void
config_public_defaults(struct config *c)
{
	c->transactional_rate = 600;
	c->subscribe.redirect = NULL;
	c->subscribe.per_client = 20;
	c->subscribe.per_address = 3;
	c->subscribe.window_ms = 3600000;
}

void
config_public_free(struct config *c)
{
	free(c->subscribe.redirect);
	c->subscribe.redirect = NULL;
}

/* "transactional_rate": POST /v1/messages per API token per minute, 1 to 1,000,000. */
void
key_transactional_rate(struct config *c, json_t *v, const char *key, struct diag *d)
{
	if (!json_is_integer(v) || json_integer_value(v) < 1 || json_integer_value(v) > 1000000) {
		diag_add(d, key,
			 "key 'transactional_rate' must be an integer from 1 to 1000000 "
			 "(messages per API token per minute)");
		return;
	}
	c->transactional_rate = (int)json_integer_value(v);
}

int
transactional_rate_differs(const struct config *a, const struct config *b)
{
	return a->transactional_rate != b->transactional_rate;
}

/* One count of "subscribe" (per_client, per_address): 1 to 100,000. */
static void
subscribe_count(int *dst, json_t *v, const char *path, struct diag *d)
{
	if (!json_is_integer(v) || json_integer_value(v) < 1 || json_integer_value(v) > 100000)
		diag_add(d, path, "'%s' must be an integer from 1 to 100000", path);
	else
		*dst = (int)json_integer_value(v);
}

/*
 * "subscribe": {"redirect": "https://shop.example/thanks", "per_client": 20,
 * "per_address": 3, "window": "1h"}; each key optional.
 */
void
key_subscribe(struct config *c, json_t *v, const char *key, struct diag *d)
{
	const char *k;
	json_t *x;
	char path[64];

	if (!json_is_object(v)) {
		diag_add(d, key,
			 "key 'subscribe' must be an object (redirect, per_client, "
			 "per_address, window)");
		return;
	}
	json_object_foreach(v, k, x)
	{
		snprintf(path, sizeof(path), "subscribe.%s", k);
		if (strcmp(k, "redirect") == 0) {
			const char *u = json_string_value(x);
			if (json_is_null(x)) {
				free(c->subscribe.redirect);
				c->subscribe.redirect = NULL;
			} else if (u == NULL ||
				   (strncmp(u, "https://", 8) != 0 &&
				    strncmp(u, "http://", 7) != 0) ||
				   strpbrk(u, "\r\n \t") != NULL)
				diag_add(d, path,
					 "'subscribe.redirect' must be an http:// or https:// URL");
			else {
				free(c->subscribe.redirect);
				c->subscribe.redirect = xstrdup(u);
			}
		} else if (strcmp(k, "per_client") == 0)
			subscribe_count(&c->subscribe.per_client, x, path, d);
		else if (strcmp(k, "per_address") == 0)
			subscribe_count(&c->subscribe.per_address, x, path, d);
		else if (strcmp(k, "window") == 0) {
			int64_t ms;
			if (!json_is_string(x) ||
			    duration_parse(json_string_value(x), 0, &ms) < 0 || ms < 1000)
				diag_add(d, path,
					 "'subscribe.window' must be a duration of at least 1s "
					 "like \"1h\"");
			else
				c->subscribe.window_ms = ms;
		} else
			diag_add(d, path,
				 "unknown key '%s' (redirect, per_client, per_address, window)", k);
	}
}

int
subscribe_differs(const struct config *a, const struct config *b)
{
	return g_strcmp0(a->subscribe.redirect, b->subscribe.redirect) != 0 ||
	       a->subscribe.per_client != b->subscribe.per_client ||
	       a->subscribe.per_address != b->subscribe.per_address ||
	       a->subscribe.window_ms != b->subscribe.window_ms;
}
