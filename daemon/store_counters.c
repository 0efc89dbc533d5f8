/*
 * The counter rows of stats_counts (issue 19) folded into struct campaign_stats: what a row
 * means is decided here once, above the backends, which only read the rows (the SQLite and
 * PostgreSQL backends' campaign_stats).
 */
#include <stdlib.h>
#include <string.h>

#include "store.h"
#include "store_stats.h"
#include "util.h"

/* Adds N under NAME in the list *V of *LEN. */
static void
stats_count_add(struct stats_count **v, size_t *len, const char *name, int64_t n)
{
	for (size_t i = 0; i < *len; i++)
		if (strcmp((*v)[i].name, name) == 0) {
			(*v)[i].n += n;
			return;
		}
	*v = xrealloc(*v, (*len + 1) * sizeof(**v));
	(*v)[*len].name = xstrdup(name);
	(*v)[(*len)++].n = n;
}

/* The step's entry, made with its counts at 0 when new. */
static struct stats_step *
stats_step(struct campaign_stats *o, const char *id)
{
	for (size_t i = 0; i < o->n_steps; i++)
		if (strcmp(o->steps[i].step, id) == 0)
			return &o->steps[i];
	o->steps = xrealloc(o->steps, (o->n_steps + 1) * sizeof(*o->steps));
	memset(&o->steps[o->n_steps], 0, sizeof(*o->steps));
	o->steps[o->n_steps].step = xstrdup(id);
	return &o->steps[o->n_steps++];
}

/* The day's entry, made with every count at 0 when new. */
static struct stats_day *
stats_day(struct campaign_stats *o, int64_t day)
{
	for (size_t i = 0; i < o->n_days; i++)
		if (o->days[i].day == day)
			return &o->days[i];
	o->days = xrealloc(o->days, (o->n_days + 1) * sizeof(*o->days));
	memset(&o->days[o->n_days], 0, sizeof(*o->days));
	o->days[o->n_days].day = day;
	return &o->days[o->n_days++];
}

static int
stats_day_cmp(const void *a, const void *b)
{
	const struct stats_day *x = a, *y = b;
	return (x->day > y->day) - (x->day < y->day);
}

/* The outcome's count in a day: a final outbox state is sent, skipped or failed. */
static int64_t *
stats_day_outcome(struct stats_day *d, const char *state)
{
	int s = outbox_state_parse(state);
	return s == OUTBOX_SENT ? &d->sent : s == OUTBOX_SKIPPED ? &d->skipped : &d->failed;
}

void
campaign_stats_add(struct campaign_stats *o, const char *metric, const char *step,
		   const char *state, const char *reason, int64_t day, int64_t n)
{
	if (strcmp(metric, "entered") == 0) {
		o->entered += n;
		if (day >= 0)
			stats_day(o, day)->entered += n;
	} else if (strcmp(metric, "now") == 0)
		o->active += n;
	else if (strcmp(metric, "exited") == 0)
		stats_count_add(&o->exited, &o->n_exited, reason, n);
	else if (strcmp(metric, "outbox") == 0) {
		int s = outbox_state_parse(state);
		struct stats_step *p = stats_step(o, step);
		if (s == OUTBOX_SKIPPED) {
			p->skipped += n;
			stats_count_add(&o->skipped, &o->n_skipped, reason, n); /* by reason only */
		} else if (s == OUTBOX_SENT) {
			p->sent += n;
			o->sent += n;
		} else {
			p->failed += n;
			o->failed += n;
		}
	} else if (strcmp(metric, "outbox_day") == 0)
		*stats_day_outcome(stats_day(o, day), state) += n;
	else if (strcmp(metric, "note_skip") == 0) {
		stats_count_add(&o->skipped, &o->n_skipped, reason, n);
		if (*step != '\0')
			stats_step(o, step)->skipped += n;
	} else if (strcmp(metric, "note_day") == 0) {
		struct stats_day *d = stats_day(o, day);
		if (strcmp(state, note_action_name(NOTE_GOAL)) == 0)
			d->conversions += n;
		else
			d->skipped += n;
	} else if (strcmp(metric, "conversions") == 0)
		o->conversions += n;
	else if (strcmp(metric, "sent_journeys") == 0)
		o->sent_journeys += n;
}

void
campaign_stats_finish(struct campaign_stats *o)
{
	if (o->n_days > 1)
		qsort(o->days, o->n_days, sizeof(*o->days), stats_day_cmp);
}
