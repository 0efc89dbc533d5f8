/*
 * The discard plugin: takes every message and reports it sent at once, writing nothing (as
 * Postfix's discard transport). The channel of benchmarks that measure the engine and the
 * outbox without a receiver, and of a dry run that wants only the outbox's account.
 *
 * Settings: none ("reply": the text recorded as the last reply, default "discarded").
 */
#include <stdlib.h>
#include <string.h>

#include "nurtured-plugin.h"

struct discard {
	char *reply;
	int stopping;
};

/* Reports the message sent from inside deliver, which the ABI allows. */
static int
discard_deliver(void *state, const struct nt_message *msg, nt_done_fn done, void *token)
{
	struct discard *d = state;
	struct nt_outcome out = {.result = NT_SENT, .reply = d->reply};
	(void)msg;

	if (d->stopping)
		return -1;
	done(token, &out);
	return 0;
}

static void
discard_stop(void *state)
{
	((struct discard *)state)->stopping = 1;
}

static void
discard_fini(void *state)
{
	struct discard *d = state;
	if (d == NULL)
		return;
	free(d->reply);
	free(d);
}

/* Only "reply" is a setting; anything else is a mistake worth naming. */
static int
discard_init(const struct nt_host *host, const char *channel, json_t *config, void **state,
	     char **err)
{
	const char *key, *reply = "discarded";
	struct discard *d;
	json_t *v;
	(void)host;
	(void)channel;

	json_object_foreach(config, key, v)
	{
		if (strcmp(key, "reply") == 0 && json_is_string(v)) {
			reply = json_string_value(v);
			continue;
		}
		const char *what =
		    strcmp(key, "reply") == 0 ? ": must be a string" : ": unknown setting";
		*err = malloc(strlen(key) + strlen(what) + 1);
		if (*err != NULL) {
			strcpy(*err, key);
			strcat(*err, what);
		}
		return -1;
	}
	d = calloc(1, sizeof(*d));
	if (d == NULL || (d->reply = strdup(reply)) == NULL) {
		free(d);
		*err = strdup("out of memory");
		return -1;
	}
	*state = d;
	return 0;
}

static const struct nt_plugin discard_plugin = {
    .abi_major = NT_PLUGIN_ABI_MAJOR,
    .abi_minor = NT_PLUGIN_ABI_MINOR,
    .struct_size = sizeof(struct nt_plugin),
    .name = "discard",
    .payload = NT_PAYLOAD_MIME,
    .init = discard_init,
    .deliver = discard_deliver,
    .stop = discard_stop,
    .fini = discard_fini,
};

const struct nt_plugin *nurtured_plugin(void);

const struct nt_plugin *
nurtured_plugin(void)
{
	return &discard_plugin;
}
