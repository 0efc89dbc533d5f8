/* A plugin built for a future ABI major: the daemon must refuse it before calling anything. */
#include <stdlib.h>

#include "nurtured-plugin.h"

static int
abi2_init(const struct nt_host *host, const char *channel, json_t *config, void **state,
	  char **err)
{
	(void)host, (void)channel, (void)config, (void)state, (void)err;
	abort(); /* never called: the ABI check comes first */
}

static int
abi2_deliver(void *state, const struct nt_message *m, nt_done_fn done, void *token)
{
	(void)state, (void)m, (void)done, (void)token;
	abort();
}

static void
abi2_fini(void *state)
{
	(void)state;
}

static const struct nt_plugin abi2 = {
    .abi_major = NT_PLUGIN_ABI_MAJOR + 1,
    .abi_minor = 0,
    .struct_size = sizeof(struct nt_plugin),
    .name = "abi2",
    .payload = NT_PAYLOAD_MIME,
    .init = abi2_init,
    .deliver = abi2_deliver,
    .fini = abi2_fini,
};

const struct nt_plugin *nurtured_plugin(void);

const struct nt_plugin *
nurtured_plugin(void)
{
	return &abi2;
}
