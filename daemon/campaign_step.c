/*
 * The step checks of a campaign: each step kind, its targets, and the loops a campaign must not
 * have. Split from campaign_check.c, which checks the rest of the campaign.
 */
#include <glib.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "experiment.h"
#include "campaign_int.h"
#include "cron.h"
#include "duration.h"
#include "jsonpos.h"
#include "timefmt.h"
#include "util.h"
#include "validate.h"

/* Templates become file names: no separators, no leading dot, nothing a shell would mangle. */
int
campaign_valid_template(const char *s)
{
	size_t n = strlen(s);
	if (n < 1 || n > 128 || s[0] == '.' || s[0] == '-' || strstr(s, "..") != NULL)
		return 0;
	for (const char *p = s; *p; p++)
		if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') ||
		      (*p >= '0' && *p <= '9') || *p == '_' || *p == '-' || *p == '.'))
			return 0;
	return 1;
}

/* {"channel": NAME, "template": NAME} */
static void
campaign_check_send(struct campaign_loader *L, struct step *st, const char *what, const char *path,
		    json_t *v)
{
	const char *key;
	json_t *x;

	if (!json_is_object(v)) {
		campaign_error(L, what, path,
			       "'send' must be an object {\"channel\": ..., \"template\": ...}, "
			       "not %s",
			       diag_type_name(v));
		return;
	}
	json_object_foreach(v, key, x)
	{
		char *sub = campaign_path(path, key);
		if (strcmp(key, "channel") == 0) {
			if (campaign_check_text(L, what, sub, key, x, NULL, "a channel name",
						&st->channel) == 0 &&
			    L->ctx->channels != NULL &&
			    json_object_get(L->ctx->channels, st->channel) == NULL) {
				char *list = campaign_channel_list(L->ctx->channels);
				campaign_error(
				    L, what, sub,
				    "unknown channel '%.80s' (the configuration has: %s)",
				    st->channel, *list ? list : "no channels");
				g_free(list);
			}
		} else if (strcmp(key, "template") == 0) {
			if (campaign_check_text(L, what, sub, key, x, campaign_valid_template,
						"a template name (letters, digits, _ - .)",
						&st->template) == 0 &&
			    L->ctx->template_exists != NULL &&
			    !L->ctx->template_exists(st->template, L->ctx->arg))
				campaign_error(L, what, sub, "unknown template '%s'", st->template);
		} else if (strcmp(key, "variants") == 0)
			experiment_check_variants(L, st, what, sub, x);
		else
			campaign_error(L, what, sub,
				       "unknown key '%s' in 'send' (expected channel, template, "
				       "variants)",
				       key);
		free(sub);
	}
	if (json_object_get(v, "channel") == NULL)
		campaign_error(L, what, path, "'send' needs a 'channel'");
	if (json_object_get(v, "template") == NULL)
		campaign_error(L, what, path, "'send' needs a 'template'");
}

/* {"event": TYPE, "where": C?, "timeout": D, "on_event": STEP?, "on_timeout": STEP?} */
static void
campaign_check_wait_event(struct campaign_loader *L, struct step *st, const char *what,
			  const char *path, json_t *v)
{
	const char *key;
	json_t *x;

	st->wait = WAIT_EVENT;
	json_object_foreach(v, key, x)
	{
		char *sub = campaign_path(path, key);
		if (strcmp(key, "event") == 0)
			campaign_check_text(L, what, sub, key, x, validate_event_type,
					    CAMPAIGN_EXPECT_EVENT, &st->event);
		else if (strcmp(key, "where") == 0)
			st->where = campaign_check_cond(L, what, sub, x);
		else if (strcmp(key, "timeout") == 0)
			campaign_check_duration(L, what, sub, key, x, 0, &st->timeout_ms);
		else if (strcmp(key, "on_event") == 0)
			campaign_check_target(L, what, sub, key, x, &st->on_event);
		else if (strcmp(key, "on_timeout") == 0)
			campaign_check_target(L, what, sub, key, x, &st->on_timeout);
		else if (strcmp(key, "until") != 0) /* reported by the caller */
			campaign_error(
			    L, what, sub,
			    "unknown key '%s' in an event 'wait' (expected event, where, "
			    "timeout, on_event, on_timeout)",
			    key);
		free(sub);
	}
	if (json_object_get(v, "timeout") == NULL)
		campaign_error(L, what, path,
			       "a 'wait' for an event needs a 'timeout' (a duration like \"14d\")");
}

/* "7d" | {"until": "09:00"} | {"event": ...} */
static void
campaign_check_wait(struct campaign_loader *L, struct step *st, const char *what, const char *path,
		    json_t *v)
{
	json_t *until = json_object_get(v, "until"), *event = json_object_get(v, "event");
	const char *key;
	json_t *x;

	if (json_is_string(v)) {
		st->wait = WAIT_DURATION;
		campaign_check_duration(L, what, path, "wait", v, 0, &st->duration_ms);
		return;
	}
	if (!json_is_object(v) || (until == NULL && event == NULL)) {
		campaign_error(L, what, path,
			       "'wait' must be a duration like \"7d\", {\"until\": \"09:00\"} or "
			       "{\"event\": ..., \"timeout\": ...}");
		return;
	}
	if (until != NULL && event != NULL) {
		char *sub = campaign_path(path, "until");
		campaign_error(L, what, sub, "'wait' has both 'until' and 'event'; use one");
		free(sub);
	}
	if (event != NULL) {
		campaign_check_wait_event(L, st, what, path, v);
		return;
	}
	st->wait = WAIT_UNTIL;
	json_object_foreach(v, key, x)
	{
		char *sub = campaign_path(path, key);
		if (strcmp(key, "until") == 0)
			campaign_check_hhmm(L, what, sub, key, x, &st->until_minute);
		else
			campaign_error(L, what, sub,
				       "unknown key '%s' in a 'wait' until a time of day", key);
		free(sub);
	}
}

/* {"if": C, "then": STEP?, "else": STEP?} */
static void
campaign_check_branch(struct campaign_loader *L, struct step *st, const char *what,
		      const char *path, json_t *v)
{
	const char *key;
	json_t *x;

	if (!json_is_object(v)) {
		campaign_error(L, what, path,
			       "'branch' must be an object {\"if\": ..., \"then\": ..., \"else\": "
			       "...}, not %s",
			       diag_type_name(v));
		return;
	}
	json_object_foreach(v, key, x)
	{
		char *sub = campaign_path(path, key);
		if (strcmp(key, "if") == 0)
			st->cond = campaign_check_cond(L, what, sub, x);
		else if (strcmp(key, "then") == 0)
			campaign_check_target(L, what, sub, key, x, &st->then_step);
		else if (strcmp(key, "else") == 0)
			campaign_check_target(L, what, sub, key, x, &st->else_step);
		else
			campaign_error(L, what, sub,
				       "unknown key '%s' in 'branch' (expected if, then, else)",
				       key);
		free(sub);
	}
	if (json_object_get(v, "if") == NULL)
		campaign_error(L, what, path, "'branch' needs an 'if' condition");
}

/* tags_add / tags_remove: arrays of tags, copied. */
static json_t *
campaign_check_tags(struct campaign_loader *L, const char *what, const char *path, const char *key,
		    json_t *v)
{
	size_t i;
	json_t *t;
	int ok = 1;

	if (!json_is_array(v)) {
		campaign_error(L, what, path, "'%s' must be an array of tags, not %s", key,
			       diag_type_name(v));
		return NULL;
	}
	json_array_foreach(v, i, t)
	{
		const char *s = campaign_str(t);
		if (s == NULL || *s == '\0' || strlen(s) > 64) {
			char *sub = xasprintf("%s[%zu]", path, i);
			campaign_error(L, what, sub, "a tag must be a string of 1 to 64 bytes");
			free(sub);
			ok = 0;
		}
	}
	return ok ? json_deep_copy(v) : NULL;
}

/* {"set": {attr: value}, "tags_add": [...], "tags_remove": [...]} */
static void
campaign_check_update(struct campaign_loader *L, struct step *st, const char *what,
		      const char *path, json_t *v)
{
	const char *key, *attr;
	json_t *x, *av;

	if (!json_is_object(v) || json_object_size(v) == 0) {
		campaign_error(L, what, path,
			       "'update' must be an object with set, tags_add or tags_remove");
		return;
	}
	json_object_foreach(v, key, x)
	{
		char *sub = campaign_path(path, key);
		if (strcmp(key, "set") == 0) {
			if (!json_is_object(x))
				campaign_error(L, what, sub,
					       "'set' must be an object of attributes, not %s",
					       diag_type_name(x));
			else {
				int ok = 1;
				json_object_foreach(x, attr, av)
				{
					char *asub = campaign_path(sub, attr);
					if (strcmp(attr, "tags") == 0) {
						campaign_error(L, what, asub,
							       "'set' cannot change 'tags'; use "
							       "tags_add and tags_remove");
						ok = 0;
					} else if (*attr == '\0' || strlen(attr) > 128) {
						campaign_error(
						    L, what, asub,
						    "attribute names are 1 to 128 bytes");
						ok = 0;
					}
					free(asub);
				}
				if (ok)
					st->set = json_deep_copy(x);
			}
		} else if (strcmp(key, "tags_add") == 0)
			st->tags_add = campaign_check_tags(L, what, sub, key, x);
		else if (strcmp(key, "tags_remove") == 0)
			st->tags_remove = campaign_check_tags(L, what, sub, key, x);
		else
			campaign_error(L, what, sub,
				       "unknown key '%s' in 'update' (expected set, tags_add, "
				       "tags_remove)",
				       key);
		free(sub);
	}
}

/* Reads one step; its "next" is resolved first, as the defaults of then/else/on_* follow it. */
static void
campaign_check_step(struct campaign_loader *L, size_t i, json_t *s, const char *what,
		    const char *path)
{
	struct step *st = &L->c->steps[i];
	const char *key, *kind = NULL;
	json_t *v, *next = json_object_get(s, "next");
	size_t k;

	if (next != NULL) {
		char *sub = campaign_path(path, "next");
		campaign_check_target(L, what, sub, "next", next, &st->next);
		free(sub);
	}
	st->then_step = st->else_step = st->on_event = st->on_timeout = st->next;
	json_object_foreach(s, key, v)
	{
		char *sub = campaign_path(path, key);
		for (k = 0; k < NT_ARRAY_LEN(campaign_step_kinds); k++)
			if (strcmp(key, campaign_step_kinds[k]) == 0)
				break;
		if (k < NT_ARRAY_LEN(campaign_step_kinds)) {
			if (kind != NULL)
				campaign_error(L, what, sub,
					       "a step has one kind, not both '%s' and '%s'", kind,
					       key);
			else {
				kind = campaign_step_kinds[k];
				st->kind = (enum step_kind)k;
			}
		} else if (strcmp(key, "id") != 0 && strcmp(key, "next") != 0)
			campaign_error(L, what, sub,
				       "unknown key '%s' in a step (expected id, next and one of "
				       "send, wait, branch, update, exit)",
				       key);
		free(sub);
	}
	if (kind == NULL) {
		campaign_error(L, what, path,
			       "a step needs one of send, wait, branch, update or exit");
		return;
	}
	char *sub = campaign_path(path, kind);
	v = json_object_get(s, kind);
	switch (st->kind) {
	case STEP_SEND:
		campaign_check_send(L, st, what, sub, v);
		break;
	case STEP_WAIT:
		campaign_check_wait(L, st, what, sub, v);
		break;
	case STEP_BRANCH:
		campaign_check_branch(L, st, what, sub, v);
		break;
	case STEP_UPDATE:
		campaign_check_update(L, st, what, sub, v);
		break;
	case STEP_EXIT:
		if (json_is_string(v))
			campaign_check_text(L, what, sub, "exit", v, campaign_valid_name,
					    "true or a reason of at most 256 bytes",
					    &st->exit_reason);
		else if (!json_is_true(v))
			campaign_error(L, what, sub, "'exit' must be true or a reason string");
		break;
	}
	free(sub);
}

/* Where step I may go on without pausing: a wait pauses, an exit ends. */
static int
campaign_step_edges(const struct step *st, int out[2])
{
	switch (st->kind) {
	case STEP_SEND:
	case STEP_UPDATE:
		out[0] = st->next;
		return 1;
	case STEP_BRANCH:
		out[0] = st->then_step;
		out[1] = st->else_step;
		return 2;
	default:
		return 0;
	}
}

/* Depth-first search for a loop of steps none of which waits: it would never stop. */
static int
campaign_find_loop(struct campaign_loader *L, int u, char *color, int *stack, int depth)
{
	int e[2], n = campaign_step_edges(&L->c->steps[u], e);

	color[u] = 1;
	stack[depth] = u;
	for (int k = 0; k < n; k++) {
		int v = e[k];
		if (v < 0 || color[v] == 2)
			continue;
		if (color[v] == 1) {
			GString *s = g_string_new(NULL);
			int from = depth;
			while (from > 0 && stack[from] != v)
				from--;
			for (int j = from; j <= depth && s->len < 300; j++)
				g_string_append_printf(s, "'%s' -> ", L->c->steps[stack[j]].id);
			g_string_append_printf(s, "'%s'", L->c->steps[v].id);
			char *what = xasprintf("%s, step '%s'", L->what, L->c->steps[u].id);
			char *path = xasprintf("steps[%d]", u);
			campaign_error(L, what, path,
				       "the steps %s loop without a wait; the journey would never "
				       "stop",
				       s->str);
			free(path);
			free(what);
			g_string_free(s, TRUE);
			return 1;
		}
		if (campaign_find_loop(L, v, color, stack, depth + 1))
			return 1;
	}
	color[u] = 2;
	return 0;
}

/* Steps: ids first (targets may point forward), then each step, then loops. */
void
campaign_check_steps(struct campaign_loader *L, json_t *steps)
{
	struct campaign *c = L->c;
	size_t i, n = json_array_size(steps), before = L->d->n;
	json_t *s;

	if (!json_is_array(steps) || n == 0) {
		campaign_error(L, L->what, "steps", "'steps' must be a non-empty array, not %s",
			       json_is_array(steps) ? "an empty one" : diag_type_name(steps));
		return;
	}
	if (n > CAMPAIGN_MAX_STEPS) {
		campaign_error(L, L->what, "steps", "more than %d steps", CAMPAIGN_MAX_STEPS);
		return;
	}
	c->steps = xcalloc(n, sizeof(*c->steps));
	c->n_steps = n;
	json_array_foreach(steps, i, s)
	{
		const char *id = campaign_str(json_object_get(s, "id"));
		char *path = xasprintf("steps[%zu].id", i);
		int first;
		c->steps[i].next = i + 1 < n ? (int)i + 1 : -1;
		if (!json_is_object(s) || id == NULL || !campaign_valid_step_id(id)) {
			/* reported below, with the step */
		} else if ((first = campaign_step_index(c, id)) >= 0) {
			int line = 0, col = 0;
			char *fpath = xasprintf("steps[%d].id", first);
			char *what = xasprintf("%s, step '%s'", L->what, id);
			jsonpos_lookup(L->d->pos, fpath, &line, &col);
			campaign_error(L, what, path, "duplicate step id '%s' (first at line %d)",
				       id, line);
			free(what);
			free(fpath);
		} else
			c->steps[i].id = xstrdup(id);
		free(path);
	}
	json_array_foreach(steps, i, s)
	{
		json_t *id = json_object_get(s, "id");
		char *path = xasprintf("steps[%zu]", i);
		char *what = campaign_str(id) && campaign_valid_step_id(campaign_str(id))
				 ? xasprintf("%s, step '%s'", L->what, campaign_str(id))
				 : xasprintf("%s, step %zu", L->what, i + 1);
		if (!json_is_object(s))
			campaign_error(L, what, path, "a step must be an object, not %s",
				       diag_type_name(s));
		else {
			if (id == NULL)
				campaign_error(L, what, path, "a step needs an 'id'");
			else {
				char *sub = campaign_path(path, "id");
				campaign_check_text(L, what, sub, "id", id, campaign_valid_step_id,
						    "a step id (1 to 64 of A-Z a-z 0-9 _ -)", NULL);
				free(sub);
			}
			campaign_check_step(L, i, s, what, path);
		}
		free(what);
		free(path);
	}
	if (L->d->n != before)
		return; /* loops are only meaningful once every target is right */
	char *color = xcalloc(n, 1);
	int *stack = xcalloc(n, sizeof(int));
	for (i = 0; i < n; i++)
		if (color[i] == 0 && campaign_find_loop(L, (int)i, color, stack, 0))
			break;
	free(stack);
	free(color);
}
