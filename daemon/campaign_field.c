/*
 * One field of a campaign file, checked: a text, a duration, a time of day, a step named as a
 * target, a condition; the error every check reports through; the step lookup. The bottom of
 * the campaign files: campaign_load.c, campaign_check.c and campaign_step.c use it, it uses
 * none of them.
 */
#include <glib.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "campaign_int.h"
#include "condition.h"
#include "duration.h"
#include "util.h"
#include "validate.h"

const char *const campaign_step_kinds[5] = {"send", "wait", "branch", "update", "exit"};

/* Every message goes through here, so that each names its campaign (and step) alike. */
void
campaign_error(struct campaign_loader *L, const char *what, const char *path, const char *fmt, ...)
{
	va_list ap;
	char *body;

	va_start(ap, fmt);
	if (vasprintf(&body, fmt, ap) < 0)
		body = NULL;
	va_end(ap);
	diag_add(L->d, path, "%s: %s", what, body ? body : "?");
	free(body);
}

/* Campaign ids go into logs, URLs and the store: a conservative alphabet. */
int
campaign_valid_id(const char *s)
{
	return validate_topic(s); /* the same rule: 1 to 64 of a-z 0-9 _ - */
}

/* Step ids may also use capitals: they never leave the campaign. */
int
campaign_valid_step_id(const char *s)
{
	size_t n = strlen(s);
	if (n < 1 || n > 64)
		return 0;
	for (const char *p = s; *p; p++)
		if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') ||
		      (*p >= '0' && *p <= '9') || *p == '_' || *p == '-'))
			return 0;
	return 1;
}

/* Names and exit reasons are shown, not parsed: only their length matters. */
int
campaign_valid_name(const char *s)
{
	return strlen(s) <= 256;
}

/* The string value of V when it is a string without NUL bytes, else NULL. */
const char *
campaign_str(json_t *v)
{
	if (!json_is_string(v) || strlen(json_string_value(v)) != json_string_length(v))
		return NULL;
	return json_string_value(v);
}

/* jsonpos paths: "a.b" below an object, "" standing for the document itself. */
char *
campaign_path(const char *path, const char *key)
{
	return *path ? xasprintf("%s.%s", path, key) : xstrdup(key);
}

/* A non-empty string passing VALID (may be NULL); copied to *DST when DST is not NULL. */
int
campaign_check_text(struct campaign_loader *L, const char *what, const char *path, const char *key,
		    json_t *v, int (*valid)(const char *), const char *expect, char **dst)
{
	const char *s = campaign_str(v);

	if (s == NULL || *s == '\0') {
		campaign_error(L, what, path, "'%s' must be %s, not %s", key, expect,
			       json_is_string(v) ? "an empty string" : diag_type_name(v));
		return -1;
	}
	if (valid != NULL && !valid(s)) {
		campaign_error(L, what, path, "'%s': '%.80s' is not %s", key, s, expect);
		return -1;
	}
	if (dst != NULL) {
		free(*dst);
		*dst = xstrdup(s);
	}
	return 0;
}

/* A duration; positive unless NEGATIVE_OK (then any value, zero included). */
int
campaign_check_duration(struct campaign_loader *L, const char *what, const char *path,
			const char *key, json_t *v, int negative_ok, int64_t *ms)
{
	const char *s = campaign_str(v);
	int64_t t;

	if (s == NULL) {
		campaign_error(L, what, path, "'%s' must be %s, not %s", key,
			       CAMPAIGN_EXPECT_DURATION, diag_type_name(v));
		return -1;
	}
	if (duration_parse(s, negative_ok, &t) < 0) {
		campaign_error(
		    L, what, path, "'%s': '%.80s' is not %s%s", key, s, CAMPAIGN_EXPECT_DURATION,
		    negative_ok ? "" : (s[0] == '-' ? "; it cannot be negative here" : ""));
		return -1;
	}
	if (!negative_ok && t == 0) {
		campaign_error(L, what, path, "'%s' must be longer than 0", key);
		return -1;
	}
	*ms = t;
	return 0;
}

/* "HH:MM", 00:00 to 23:59, into minutes after midnight. */
int
campaign_check_hhmm(struct campaign_loader *L, const char *what, const char *path, const char *key,
		    json_t *v, int *minutes)
{
	const char *s = campaign_str(v);

	if (s != NULL && strlen(s) == 5 && s[2] == ':' && s[0] >= '0' && s[0] <= '2' &&
	    s[1] >= '0' && s[1] <= '9' && s[3] >= '0' && s[3] <= '5' && s[4] >= '0' &&
	    s[4] <= '9') {
		int h = (s[0] - '0') * 10 + (s[1] - '0'), m = (s[3] - '0') * 10 + (s[4] - '0');
		if (h < 24) {
			*minutes = h * 60 + m;
			return 0;
		}
	}
	if (s != NULL)
		campaign_error(L, what, path, "'%s': '%.80s' is not a time of day \"HH:MM\"", key,
			       s);
	else
		campaign_error(L, what, path, "'%s' must be a time of day \"HH:MM\", not %s", key,
			       diag_type_name(v));
	return -1;
}

/* A step id that exists, into its index. */
int
campaign_check_target(struct campaign_loader *L, const char *what, const char *path,
		      const char *key, json_t *v, int *idx)
{
	const char *s = campaign_str(v);
	int i;

	if (s == NULL) {
		campaign_error(L, what, path, "'%s' must name a step, not %s", key,
			       diag_type_name(v));
		return -1;
	}
	if ((i = campaign_step_index(L->c, s)) < 0) {
		campaign_error(L, what, path, "unknown step '%.80s' in '%s'", s, key);
		return -1;
	}
	*idx = i;
	return 0;
}

/* A condition, compiled with messages naming WHAT. */
struct cond *
campaign_check_cond(struct campaign_loader *L, const char *what, const char *path, json_t *v)
{
	return cond_compile_in(v, path, what, L->d);
}

/* Lists the configured channels for "unknown channel" messages: the fix is usually a typo. */
char *
campaign_channel_list(json_t *channels)
{
	GString *s = g_string_new(NULL);
	const char *name;
	json_t *v;

	json_object_foreach(channels, name, v)
	{
		if (s->len > 200) {
			g_string_append(s, ", ...");
			break;
		}
		g_string_append_printf(s, "%s%s", s->len ? ", " : "", name);
	}
	return g_string_free(s, FALSE);
}

/* Linear: campaigns have few steps, and targets are resolved once, at load. */
int
campaign_step_index(const struct campaign *c, const char *id)
{
	for (size_t i = 0; c != NULL && id != NULL && i < c->n_steps; i++)
		if (c->steps[i].id != NULL && strcmp(c->steps[i].id, id) == 0)
			return (int)i;
	return -1;
}
