/*
 * Delivery plugins: loading the shared objects (dlopen, ABI check) and the host table of
 * services they get. Channels (plugin instances) are opened by deliver.c.
 */
#ifndef NURTURED_PLUGIN_H_
#define NURTURED_PLUGIN_H_

#include "../plugins/nurtured-plugin.h"

struct event_base;

/* Prepares the host table's services on BASE (the network loop); once, before any plugin. */
void plugin_host_init(struct event_base *base);
const struct nt_host *plugin_host(void);
/* Releases the host services (the HTTP client, abandoning exchanges in flight); after every
 * channel's fini, before plugin_unload_all and before the base is freed. */
void plugin_host_fini(void);

/*
 * Finds DIR/NAME.so (loaded once, kept until plugin_unload_all) and checks its descriptor.
 * NULL with *ERR (malloc'd) when missing, not a plugin, or built for another ABI major.
 */
const struct nt_plugin *plugin_load(const char *dir, const char *name, char **err);
struct config;
/*
 * What CHANNEL of CFG carries (NT_PAYLOAD_MIME or NT_PAYLOAD_JSON): its "payload" key, else
 * its plugin's descriptor (loaded, not initialised); MIME when the plugin cannot be loaded
 * (starting reports that), 0 for no such channel.
 */
int plugin_channel_payload(const struct config *cfg, const char *channel);
/* Closes every loaded plugin; after every channel's fini. */
void plugin_unload_all(void);

#endif
