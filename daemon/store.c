#include "store.h"
#include "store_broadcast.h"
#include "store_cluster.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <glib.h>

#include "util.h"

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
	free(j->passed);
	memset(j, 0, sizeof(*j));
}

struct journey
journey_copy(const struct journey *j)
{
	struct journey c = *j;

	c.campaign_id = j->campaign_id ? xstrdup(j->campaign_id) : NULL;
	c.version = j->version ? xstrdup(j->version) : NULL;
	c.key = j->key ? xstrdup(j->key) : NULL;
	c.wait_event = j->wait_event ? xstrdup(j->wait_event) : NULL;
	c.exit_reason = j->exit_reason ? xstrdup(j->exit_reason) : NULL;
	c.trigger = json_incref(j->trigger);
	c.event = json_incref(j->event);
	c.passed = j->passed ? g_memdup2(j->passed, j->n_passed) : NULL;
	return c;
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

/* Adds N skips for REASON (NULL: "unknown") to C: both backends read their rows through it. */
void
broadcast_counts_skip_add(struct broadcast_counts *c, const char *reason, int64_t n)
{
	const char *key = reason ? reason : "unknown";
	size_t i;

	for (i = 0; i < c->n_skipped && strcmp(c->skipped[i].reason, key) != 0; i++)
		;
	if (i == c->n_skipped) {
		c->skipped = xrealloc(c->skipped, (c->n_skipped + 1) * sizeof(*c->skipped));
		c->skipped[c->n_skipped++] = (struct reason_count){xstrdup(key), 0};
	}
	c->skipped[i].n += n;
	c->n[OUTBOX_SKIPPED] += n;
}

void
broadcast_counts_clear(struct broadcast_counts *c)
{
	for (size_t i = 0; i < c->n_skipped; i++)
		free(c->skipped[i].reason);
	free(c->skipped);
	memset(c, 0, sizeof(*c));
}

void
exit_events_free(struct exit_event *v, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		free(v[i].campaign_id);
		free(v[i].type);
	}
	free(v);
}

void
suppression_rows_free(struct suppression_row *v, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		free(v[i].key);
		free(v[i].address);
		free(v[i].reason);
	}
	free(v);
}

void
message_row_clear(struct message_row *m)
{
	free(m->message_id);
	free(m->channel);
	free(m->campaign_id);
	free(m->step_id);
	free(m->customer);
	free(m->recipient);
	free(m->template);
	free(m->last_reply);
	free(m->reason);
	free(m->state);
	memset(m, 0, sizeof(*m));
}

void
message_rows_free(struct message_row *v, size_t n)
{
	for (size_t i = 0; i < n; i++)
		message_row_clear(&v[i]);
	free(v);
}

void
export_notes_free(struct export_note *v, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		free(v[i].campaign_id);
		free(v[i].step_id);
		free(v[i].action);
		free(v[i].reason);
		free(v[i].channel);
		free(v[i].template);
	}
	free(v);
}

void
customer_view_clear(struct customer_view *v)
{
	customer_row_clear(&v->profile);
	store_events_free(v->events, v->n_events);
	for (size_t i = 0; i < v->n_journeys; i++) {
		free(v->journeys[i].campaign_id);
		free(v->journeys[i].step_id);
		free(v->journeys[i].wait_event);
		free(v->journeys[i].exit_reason);
	}
	free(v->journeys);
	export_notes_free(v->notes, v->n_notes);
	memset(v, 0, sizeof(*v));
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

/* Issue 19's statistics rows (store_rows.h). */
void
campaign_stats_free(struct campaign_stats *s)
{
	if (s == NULL)
		return;
	for (size_t i = 0; i < s->n_exited; i++)
		free(s->exited[i].name);
	for (size_t i = 0; i < s->n_skipped; i++)
		free(s->skipped[i].name);
	for (size_t i = 0; i < s->n_steps; i++)
		free(s->steps[i].step);
	free(s->exited);
	free(s->skipped);
	free(s->steps);
	free(s->days);
	free(s);
}

void
campaign_counts_free(struct campaign_count *v, size_t n)
{
	for (size_t i = 0; i < n; i++)
		free(v[i].campaign_id);
	free(v);
}
