#include "validate.h"

#include "mime.h"

#include <glib.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "crypto.h"
#include "timefmt.h"
#include "util.h"

static int verr_set(struct verr *err, const char *prefix, const char *field, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

/* Fills ERR and returns -1, so a check can `return verr_set(...)`. */
static int
verr_set(struct verr *err, const char *prefix, const char *field, const char *fmt, ...)
{
	va_list ap;
	char what[200];
	snprintf(err->field, sizeof(err->field), "%s%s", prefix, field);
	size_t n = strlen(err->field);
	if (field[0] == '\0' && n > 0 && err->field[n - 1] == '.')
		err->field[n - 1] = '\0'; /* "profile." names the object itself: "profile" */
	va_start(ap, fmt);
	vsnprintf(what, sizeof(what), fmt, ap);
	va_end(ap);
	if (err->field[0])
		snprintf(err->msg, sizeof(err->msg), "'%s' %s", err->field, what);
	else
		snprintf(err->msg, sizeof(err->msg), "%s", what);
	return -1;
}

/* Printable, no controls: ids end up in logs, URLs and (later) headers. */
static int
validate_printable(const char *s, size_t min, size_t max)
{
	size_t n = strlen(s);
	if (n < min || n > max)
		return 0;
	for (const unsigned char *p = (const unsigned char *)s; *p; p++)
		if (*p < 0x20 || *p == 0x7f)
			return 0;
	return 1;
}

/*
 * One pass over the text: strings are skipped (escapes included), brackets counted, and an
 * object's members counted by its commas. Malformed JSON passes here and fails in the parser.
 */
int
validate_json_shape(const char *p, size_t n, char *msg, size_t msglen)
{
	unsigned members[VALIDATE_JSON_MAX_DEPTH + 1];
	char kind[VALIDATE_JSON_MAX_DEPTH + 1];
	int depth = 0;

	for (size_t i = 0; i < n; i++) {
		switch (p[i]) {
		case '"':
			for (i++; i < n && p[i] != '"'; i++)
				if (p[i] == '\\')
					i++;
			break;
		case '{':
		case '[':
			if (depth == VALIDATE_JSON_MAX_DEPTH) {
				snprintf(msg, msglen,
					 "request body nests deeper than %d levels (the limit)",
					 VALIDATE_JSON_MAX_DEPTH);
				return -1;
			}
			depth++;
			kind[depth] = p[i];
			members[depth] = 1;
			break;
		case '}':
		case ']':
			if (depth > 0)
				depth--;
			break;
		case ',':
			if (depth > 0 && kind[depth] == '{' &&
			    ++members[depth] > VALIDATE_JSON_MAX_MEMBERS) {
				snprintf(
				    msg, msglen,
				    "request body has an object with more than %d members (the "
				    "limit for one object, such as an event's properties)",
				    VALIDATE_JSON_MAX_MEMBERS);
				return -1;
			}
			break;
		default:
			break;
		}
	}
	return 0;
}

int
validate_customer_id(const char *s)
{
	return validate_printable(s, 1, 256) && strchr(s, '/') == NULL;
}

/*
 * The one address rule, the message builder's: what we accept is what we can put on an
 * envelope (an ASCII dot-atom addr-spec with a dotted domain; no quoting, no IDN yet).
 */
int
validate_email(const char *s)
{
	return mime_addr_valid(s);
}

int
validate_topic(const char *s)
{
	size_t n = strlen(s);
	if (n < 1 || n > 64)
		return 0;
	for (const char *p = s; *p; p++)
		if (!g_ascii_islower(*p) && !g_ascii_isdigit(*p) && *p != '-' && *p != '_')
			return 0;
	return 1;
}

/* BCP 47 in shape: a 2-3 letter language and subtags of 1-8 alphanumerics. */
int
validate_locale(const char *s)
{
	size_t n = strlen(s), i = 0;
	while (i < n && g_ascii_isalpha(s[i]))
		i++;
	if (i < 2 || i > 3)
		return 0;
	while (i < n) {
		if (s[i] != '-' && s[i] != '_')
			return 0;
		size_t start = ++i;
		while (i < n && g_ascii_isalnum(s[i]))
			i++;
		if (i - start < 1 || i - start > 8)
			return 0;
	}
	return n <= 35;
}

int
validate_event_type(const char *s)
{
	size_t n = strlen(s);
	if (n < 1 || n > 64 || !g_ascii_islower(s[0]))
		return 0;
	for (const char *p = s; *p; p++)
		if (!g_ascii_islower(*p) && !g_ascii_isdigit(*p) && !strchr("_.:-", *p))
			return 0;
	return strncmp(s, "nurtured.", 9) != 0; /* reserved for internal events */
}

/* A nullable string field: absent is fine, null clears, a string must pass CHECK. */
static int
validate_opt_string(json_t *obj, const char *key, int (*check)(const char *), const char *what,
		    const char *prefix, struct verr *err)
{
	json_t *v = json_object_get(obj, key);
	if (v == NULL || json_is_null(v))
		return 0;
	if (!json_is_string(v))
		return verr_set(err, prefix, key, "must be a string or null");
	if (check != NULL && !check(json_string_value(v)))
		return verr_set(err, prefix, key, "is not %s", what);
	return 0;
}

static int
validate_name(const char *s)
{
	return strlen(s) <= 256; /* header safety is the message builder's job, at send time */
}

int
validate_customer(json_t *obj, int need_id, const char *prefix, struct verr *err)
{
	static const char *known[] = {"id",	  "email",    "name",	    "locale",
				      "timezone", "birthday", "attributes", "consent"};
	const char *key;
	json_t *v;

	if (!json_is_object(obj))
		return verr_set(err, prefix, "", "must be an object");
	json_object_foreach(obj, key, v)
	{
		size_t i;
		for (i = 0; i < NT_ARRAY_LEN(known); i++)
			if (strcmp(key, known[i]) == 0)
				break;
		if (i == NT_ARRAY_LEN(known) || (!need_id && i == 0))
			return verr_set(err, prefix, key, "unknown field");
	}
	v = json_object_get(obj, "id");
	if (need_id && !json_is_string(v))
		return verr_set(err, prefix, "id", "is required and must be a string");
	if (need_id && !validate_customer_id(json_string_value(v)))
		return verr_set(err, prefix, "id",
				"must be 1 to 256 printable characters without '/'");
	if (validate_opt_string(obj, "email", validate_email, "a valid email address", prefix,
				err) < 0 ||
	    validate_opt_string(obj, "name", validate_name, "at most 256 bytes", prefix, err) < 0 ||
	    validate_opt_string(obj, "locale", validate_locale, "a BCP 47 language tag", prefix,
				err) < 0 ||
	    validate_opt_string(obj, "timezone", timefmt_valid_timezone, "a known IANA time zone",
				prefix, err) < 0 ||
	    validate_opt_string(obj, "birthday", timefmt_valid_date, "a date YYYY-MM-DD or --MM-DD",
				prefix, err) < 0)
		return -1;
	v = json_object_get(obj, "attributes");
	if (v != NULL && !json_is_object(v))
		return verr_set(err, prefix, "attributes", "must be an object");
	v = json_object_get(obj, "consent");
	if (v != NULL) {
		json_t *state;
		if (!json_is_object(v))
			return verr_set(err, prefix, "consent", "must be an object topic -> state");
		json_object_foreach(v, key, state)
		{
			const char *s = json_string_value(state);
			char field[96];
			snprintf(field, sizeof(field), "consent.%.80s", key);
			if (!validate_topic(key))
				return verr_set(err, prefix, field,
						"topic must be 1 to 64 of a-z 0-9 - _");
			if (s == NULL ||
			    (strcmp(s, "subscribed") != 0 && strcmp(s, "unsubscribed") != 0 &&
			     strcmp(s, "pending") != 0))
				return verr_set(err, prefix, field,
						"must be \"subscribed\", \"unsubscribed\" or "
						"\"pending\"");
		}
	}
	return 0;
}

int
validate_event(json_t *obj, int64_t now_ms, struct nt_event *out, struct verr *err)
{
	static const char *known[] = {"id", "customer", "type", "time", "properties", "profile"};
	const char *key;
	json_t *v;

	memset(out, 0, sizeof(*out));
	if (!json_is_object(obj))
		return verr_set(err, "", "", "an event must be an object");
	json_object_foreach(obj, key, v)
	{
		size_t i;
		for (i = 0; i < NT_ARRAY_LEN(known); i++)
			if (strcmp(key, known[i]) == 0)
				break;
		if (i == NT_ARRAY_LEN(known))
			return verr_set(err, "", key, "unknown field");
	}
	v = json_object_get(obj, "id");
	if (v != NULL && (!json_is_string(v) || !validate_printable(json_string_value(v), 1, 128) ||
			  strchr(json_string_value(v), ' ') != NULL))
		return verr_set(err, "", "id", "must be 1 to 128 printable characters, no spaces");
	v = json_object_get(obj, "customer");
	if (!json_is_string(v) || !validate_customer_id(json_string_value(v)))
		return verr_set(err, "", "customer",
				"is required: the customer's id, 1 to 256 printable characters");
	v = json_object_get(obj, "type");
	if (!json_is_string(v) || !validate_event_type(json_string_value(v)))
		return verr_set(err, "", "type",
				"is required: 1 to 64 of a-z 0-9 _ . : -, starting with a letter");
	v = json_object_get(obj, "time");
	out->time_ms = now_ms;
	if (v != NULL &&
	    (!json_is_string(v) || timefmt_parse_rfc3339(json_string_value(v), &out->time_ms) < 0))
		return verr_set(err, "", "time", "must be an RFC 3339 date-time with offset");
	v = json_object_get(obj, "properties");
	if (v != NULL && !json_is_object(v))
		return verr_set(err, "", "properties", "must be an object");
	v = json_object_get(obj, "profile");
	if (v != NULL && validate_customer(v, 0, "profile.", err) < 0)
		return -1;

	char *canon = json_dumps(obj, JSON_COMPACT | JSON_SORT_KEYS);
	crypto_sha256_hex(canon, strlen(canon), out->hash);
	free(canon);
	if (json_is_string(json_object_get(obj, "id")))
		out->key = xstrdup(json_string_value(json_object_get(obj, "id")));
	else {
		gchar *u = g_uuid_string_random();
		out->key = xstrdup(u);
		g_free(u);
	}
	out->customer = xstrdup(json_string_value(json_object_get(obj, "customer")));
	out->type = xstrdup(json_string_value(json_object_get(obj, "type")));
	v = json_object_get(obj, "properties");
	out->properties = v ? json_incref(v) : json_object();
	v = json_object_get(obj, "profile");
	out->profile = v ? json_incref(v) : NULL;
	return 0;
}

void
nt_event_clear(struct nt_event *ev)
{
	free(ev->key);
	free(ev->customer);
	free(ev->type);
	json_decref(ev->properties);
	json_decref(ev->profile);
	memset(ev, 0, sizeof(*ev));
}
