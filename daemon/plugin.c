#include "plugin.h"

#include <dlfcn.h>
#include <pthread.h>
#include <stddef.h>
#include <event2/event.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config.h"
#include "crypto.h"
#include "httpclient.h"
#include "log.h"
#include "pool.h"
#include "util.h"

struct plugin_lib {
	char *name;
	void *handle;
	const struct nt_plugin *desc;
};

struct nt_timer {
	struct event *ev;
	void (*cb)(void *arg);
	void *arg;
};

/* Loads come from the loop, the reload thread and the store thread (payload kinds). */
static pthread_mutex_t plugin_lock = PTHREAD_MUTEX_INITIALIZER;
static struct plugin_lib *plugin_libs;
static size_t plugin_nlibs;
static struct event_base *plugin_base;
static struct httpclient *plugin_http;
static struct nt_host plugin_host_table;

/* Plugins log through the daemon's log; their level maps onto ours. */
static void
plugin_host_log(enum nt_log_level level, const char *fmt, ...)
{
	char buf[1024];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	if (level <= NT_LOG_WARNING)
		log_warnx("%s", buf);
	else if (level == NT_LOG_INFO)
		log_info("%s", buf);
	else
		log_debug("%s", buf);
}

static int64_t
plugin_host_now(void)
{
	return util_now_ms();
}

/* A one-shot timer frees itself after firing, so the plugin never has to. */
static void
plugin_timer_fire(evutil_socket_t fd, short what, void *arg)
{
	struct nt_timer *t = arg;
	(void)fd;
	(void)what;
	void (*cb)(void *) = t->cb;
	void *cbarg = t->arg;
	event_free(t->ev);
	free(t);
	cb(cbarg);
}

static struct nt_timer *
plugin_timer_add(long after_ms, void (*cb)(void *arg), void *arg)
{
	struct nt_timer *t = xcalloc(1, sizeof(*t));
	struct timeval tv = {after_ms / 1000, (after_ms % 1000) * 1000};
	t->cb = cb;
	t->arg = arg;
	t->ev = evtimer_new(plugin_base, plugin_timer_fire, t);
	evtimer_add(t->ev, &tv);
	return t;
}

static void
plugin_timer_cancel(struct nt_timer *t)
{
	if (t == NULL)
		return;
	event_free(t->ev);
	free(t);
}

/* The pool lives on the network loop: completions come back where plugins run. */
static struct nt_pool *
plugin_pool_new(const char *name, int threads)
{
	return pool_new(plugin_base, name, threads);
}

/* One HTTP client (one curl multi handle) serves every plugin on the network loop. */
static int
plugin_http_request(const struct nt_http_request *req, nt_http_done_fn done, void *arg)
{
	return plugin_http != NULL ? httpclient_request(plugin_http, req, done, arg) : -1;
}

void
plugin_host_init(struct event_base *base)
{
	plugin_base = base;
	httpclient_free(plugin_http);
	plugin_http = httpclient_new(base);
	plugin_host_table = (struct nt_host){
	    .struct_size = sizeof(struct nt_host),
	    .abi_major = NT_PLUGIN_ABI_MAJOR,
	    .abi_minor = NT_PLUGIN_ABI_MINOR,
	    .log = plugin_host_log,
	    .now_ms = plugin_host_now,
	    .timer_add = plugin_timer_add,
	    .timer_cancel = plugin_timer_cancel,
	    .pool_new = plugin_pool_new,
	    .pool_submit = pool_submit,
	    .pool_free = pool_free,
	    .http_request = plugin_http_request,
	    .hmac_sha256 = crypto_hmac_raw,
	};
}

/* Exchanges still in flight are dropped without `done`: their messages stay "sending". */
void
plugin_host_fini(void)
{
	httpclient_free(plugin_http);
	plugin_http = NULL;
}

const struct nt_host *
plugin_host(void)
{
	return &plugin_host_table;
}

/* Refuses what it cannot safely call: another major, a descriptor shorter than ours. */
static const struct nt_plugin *
plugin_check(const struct nt_plugin *p, const char *path, char **err)
{
	if (p == NULL) {
		*err = xasprintf("%s: %s() returned no descriptor", path, NT_PLUGIN_SYMBOL);
		return NULL;
	}
	if (p->abi_major != NT_PLUGIN_ABI_MAJOR) {
		*err =
		    xasprintf("%s: built for plugin ABI %u.%u, this nurtured speaks %d.%d", path,
			      p->abi_major, p->abi_minor, NT_PLUGIN_ABI_MAJOR, NT_PLUGIN_ABI_MINOR);
		return NULL;
	}
	if (p->struct_size < offsetof(struct nt_plugin, spare) || p->name == NULL ||
	    p->init == NULL || p->deliver == NULL || p->fini == NULL ||
	    (p->payload != NT_PAYLOAD_MIME && p->payload != NT_PAYLOAD_JSON)) {
		*err = xasprintf("%s: incomplete plugin descriptor", path);
		return NULL;
	}
	return p;
}

static const struct nt_plugin *plugin_load_locked(const char *dir, const char *name, char **err);

const struct nt_plugin *
plugin_load(const char *dir, const char *name, char **err)
{
	pthread_mutex_lock(&plugin_lock);
	const struct nt_plugin *p = plugin_load_locked(dir, name, err);
	pthread_mutex_unlock(&plugin_lock);
	return p;
}

static const struct nt_plugin *
plugin_load_locked(const char *dir, const char *name, char **err)
{
	const struct nt_plugin *(*entry)(void);
	const struct nt_plugin *p;
	char *path;
	void *h;

	for (size_t i = 0; i < plugin_nlibs; i++)
		if (strcmp(plugin_libs[i].name, name) == 0)
			return plugin_libs[i].desc;
	path = xasprintf("%s/%s.so", dir, name);
	h = dlopen(path, RTLD_NOW | RTLD_LOCAL);
	if (h == NULL) {
		*err = xasprintf("plugin '%s': %s", name, dlerror());
		free(path);
		return NULL;
	}
	*(void **)&entry = dlsym(h, NT_PLUGIN_SYMBOL);
	if (entry == NULL) {
		*err = xasprintf("%s: no symbol %s: not a nurtured plugin", path, NT_PLUGIN_SYMBOL);
		dlclose(h);
		free(path);
		return NULL;
	}
	p = plugin_check(entry(), path, err);
	free(path);
	if (p == NULL) {
		dlclose(h);
		return NULL;
	}
	plugin_libs = xrealloc(plugin_libs, (plugin_nlibs + 1) * sizeof(*plugin_libs));
	plugin_libs[plugin_nlibs++] = (struct plugin_lib){xstrdup(name), h, p};
	return p;
}

int
plugin_channel_payload(const struct config *cfg, const char *channel)
{
	char *err = NULL;
	const struct channel_conf *cc = channel_conf_find(cfg->chans, cfg->n_chans, channel);
	const struct nt_plugin *p;

	if (cc == NULL)
		return 0;
	if (cc->payload)
		return cc->payload;
	p = plugin_load(cfg->plugin_dir, cc->plugin, &err);
	free(err);
	return p != NULL ? (int)p->payload : NT_PAYLOAD_MIME;
}

void
plugin_unload_all(void)
{
	for (size_t i = 0; i < plugin_nlibs; i++) {
		dlclose(plugin_libs[i].handle);
		free(plugin_libs[i].name);
	}
	free(plugin_libs);
	plugin_libs = NULL;
	plugin_nlibs = 0;
}
