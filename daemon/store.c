#include "store.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Backends are found by name, OpenSMTPD-style; add PostgreSQL here. */
static const struct store_ops *store_backends[] = {&store_sqlite_ops};

struct store *
store_open(const struct store_options *opt, char *err, size_t errlen)
{
	const char *name = opt->backend ? opt->backend : "sqlite";
	for (size_t i = 0; i < sizeof(store_backends) / sizeof(store_backends[0]); i++)
		if (strcmp(store_backends[i]->name, name) == 0)
			return store_backends[i]->open(opt, err, errlen);
	snprintf(err, errlen, "unknown store backend '%s'", name);
	return NULL;
}

void
store_event_clear(struct store_event *ev)
{
	free(ev->customer);
	free(ev->key);
	free(ev->type);
	json_decref(ev->properties);
}

void
store_events_free(struct store_event *v, size_t n)
{
	for (size_t i = 0; i < n; i++)
		store_event_clear(&v[i]);
	free(v);
}

void
journey_clear(struct journey *j)
{
	free(j->campaign_id);
	free(j->version);
	free(j->key);
	free(j->wait_event);
	free(j->exit_reason);
	json_decref(j->trigger);
	json_decref(j->event);
	memset(j, 0, sizeof(*j));
}

void
journeys_free(struct journey *v, size_t n)
{
	for (size_t i = 0; i < n; i++)
		journey_clear(&v[i]);
	free(v);
}

void
store_timers_free(struct store_timer *v, size_t n)
{
	for (size_t i = 0; i < n; i++)
		free(v[i].campaign_id);
	free(v);
}

void
store_schedules_free(struct store_schedule *v, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		free(v[i].campaign_id);
		free(v[i].version);
	}
	free(v);
}
