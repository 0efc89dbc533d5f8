#include "store.h"
#include "store_cluster.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Backends are found by name, OpenSMTPD-style. */
static const struct store_ops *store_backends[] = {&store_sqlite_ops, &store_pg_ops};

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

static const char *const note_action_names[] = {
    [NOTE_ENTER] = "enter", [NOTE_SEND] = "send", [NOTE_SKIP] = "skip",
    [NOTE_EXIT] = "exit",   [NOTE_WAIT] = "wait", [NOTE_GOAL] = "goal"};

const char *
note_action_name(enum note_action a)
{
	return a <= NOTE_GOAL ? note_action_names[a] : "?";
}

/* The one table of outbox state names: the store, delivery, the API and stats use it. */
static const char *const outbox_state_names[OUTBOX_N_STATES] = {
    [OUTBOX_QUEUED] = "queued",	    [OUTBOX_SENDING] = "sending", [OUTBOX_SENT] = "sent",
    [OUTBOX_DEFERRED] = "deferred", [OUTBOX_FAILED] = "failed",	  [OUTBOX_EXPIRED] = "expired",
    [OUTBOX_SKIPPED] = "skipped",   [OUTBOX_BOUNCED] = "bounced"};

const char *
outbox_state_name(enum outbox_state s)
{
	return s < OUTBOX_N_STATES ? outbox_state_names[s] : "?";
}

int
outbox_state_parse(const char *name)
{
	for (int i = 0; name != NULL && i < OUTBOX_N_STATES; i++)
		if (strcmp(outbox_state_names[i], name) == 0)
			return i;
	return -1;
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
store_node_rows_free(struct store_node_row *v, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		free(v[i].node_id);
		free(v[i].listen);
	}
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

void
tx_key_clear(struct tx_key *k)
{
	free(k->key);
	free(k->content_hash);
	free(k->message_id);
	free(k->state);
	free(k->reason);
	memset(k, 0, sizeof(*k));
}
