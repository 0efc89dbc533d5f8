/*
 * JSON out as posted: Jansson prints every real with 17 significant digits (19.99 comes back
 * as 19.989999999999998), and its precision flag is one for the whole document. This writer
 * walks the tree itself and prints each real with the shortest text that reads back as the
 * same double. Everything else is printed as Jansson would (same separators, same escapes).
 * Used by the daemon's answers and by nurturectl; depends on Jansson and libc only.
 */
#include <float.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "jsonout.h"

struct jbuf {
	char *p;
	size_t len, cap;
	int failed;
};

static void
jbuf_add(struct jbuf *b, const char *s, size_t n)
{
	if (b->failed)
		return;
	if (b->len + n + 1 > b->cap) {
		size_t cap = b->cap ? b->cap : 256;
		while (cap < b->len + n + 1)
			cap *= 2;
		char *p = realloc(b->p, cap);
		if (p == NULL) {
			b->failed = 1;
			return;
		}
		b->p = p;
		b->cap = cap;
	}
	memcpy(b->p + b->len, s, n);
	b->len += n;
	b->p[b->len] = '\0';
}

static void
jbuf_str(struct jbuf *b, const char *s)
{
	jbuf_add(b, s, strlen(s));
}

/*
 * The shortest %.Ng (N from 1 to 17) that strtod reads back as D. For normal numbers %.15g
 * is the shortest whenever it reads back (15 digits always survive a round trip, so a shorter
 * text that did would be what %.15g prints); subnormals have fewer digits and are searched.
 */
void
jsonout_real(double d, char *buf, size_t n)
{
	int from = 15;

	if (!isfinite(d)) { /* Jansson refuses these; nothing better to print */
		snprintf(buf, n, "null");
		return;
	}
	if (d != 0.0 && fabs(d) < DBL_MIN)
		from = 1;
	for (int prec = from; prec <= 17; prec++) {
		snprintf(buf, n, "%.*g", prec, d);
		if (strtod(buf, NULL) == d)
			break;
	}
	/* Still a real when read back, as Jansson keeps it: 2.0, not 2. */
	if (strpbrk(buf, ".eE") == NULL && strlen(buf) + 3 <= n)
		strcat(buf, ".0");
}

/* A string escaped as Jansson escapes it by default (UTF-8 kept, '/' left alone). */
static void
jsonout_string(struct jbuf *b, const char *s, size_t n, size_t flags)
{
	static const char hex[] = "0123456789abcdef";
	size_t run = 0;

	jbuf_add(b, "\"", 1);
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)s[i];
		const char *esc = NULL;
		char u[7];

		if (c == '"')
			esc = "\\\"";
		else if (c == '\\')
			esc = "\\\\";
		else if (c == '\n')
			esc = "\\n";
		else if (c == '\r')
			esc = "\\r";
		else if (c == '\t')
			esc = "\\t";
		else if (c == '\b')
			esc = "\\b";
		else if (c == '\f')
			esc = "\\f";
		else if (c < 0x20) {
			u[0] = '\\', u[1] = 'u', u[2] = '0', u[3] = '0';
			u[4] = hex[c >> 4], u[5] = hex[c & 15], u[6] = '\0';
			esc = u;
		} else if (c == '/' && (flags & JSON_ESCAPE_SLASH))
			esc = "\\/";
		if (esc == NULL) {
			run++;
			continue;
		}
		jbuf_add(b, s + i - run, run);
		run = 0;
		jbuf_str(b, esc);
	}
	jbuf_add(b, s + n - run, run);
	jbuf_add(b, "\"", 1);
}

static void
jsonout_newline(struct jbuf *b, size_t flags, int depth)
{
	int indent = (int)(flags & JSON_MAX_INDENT);

	if (indent == 0)
		return;
	jbuf_add(b, "\n", 1);
	for (int i = 0; i < depth * indent; i++)
		jbuf_add(b, " ", 1);
}

static int
jsonout_keycmp(const void *a, const void *b)
{
	return strcmp(*(const char *const *)a, *(const char *const *)b);
}

static void jsonout_value(struct jbuf *b, const json_t *v, size_t flags, int depth);

static void
jsonout_object(struct jbuf *b, const json_t *v, size_t flags, int depth)
{
	size_t n = json_object_size(v), i = 0;
	const char **keys;
	const char *key;
	json_t *item;
	const char *sep = (flags & JSON_COMPACT) ? ":" : ": ";

	if (n == 0) {
		jbuf_add(b, "{}", 2);
		return;
	}
	keys = malloc(n * sizeof(*keys));
	if (keys == NULL) {
		b->failed = 1;
		return;
	}
	json_object_foreach((json_t *)v, key, item) keys[i++] = key;
	if (flags & JSON_SORT_KEYS)
		qsort(keys, n, sizeof(*keys), jsonout_keycmp);
	jbuf_add(b, "{", 1);
	for (i = 0; i < n; i++) {
		if (i > 0)
			jbuf_add(b, ",", 1);
		if (i > 0 && !(flags & JSON_COMPACT) && !(flags & JSON_MAX_INDENT))
			jbuf_add(b, " ", 1);
		jsonout_newline(b, flags, depth + 1);
		jsonout_string(b, keys[i], strlen(keys[i]), flags);
		jbuf_str(b, sep);
		jsonout_value(b, json_object_get(v, keys[i]), flags, depth + 1);
	}
	jsonout_newline(b, flags, depth);
	jbuf_add(b, "}", 1);
	free(keys);
}

static void
jsonout_array(struct jbuf *b, const json_t *v, size_t flags, int depth)
{
	size_t n = json_array_size(v);

	if (n == 0) {
		jbuf_add(b, "[]", 2);
		return;
	}
	jbuf_add(b, "[", 1);
	for (size_t i = 0; i < n; i++) {
		if (i > 0)
			jbuf_add(b, ",", 1);
		if (i > 0 && !(flags & JSON_COMPACT) && !(flags & JSON_MAX_INDENT))
			jbuf_add(b, " ", 1);
		jsonout_newline(b, flags, depth + 1);
		jsonout_value(b, json_array_get(v, i), flags, depth + 1);
	}
	jsonout_newline(b, flags, depth);
	jbuf_add(b, "]", 1);
}

static void
jsonout_value(struct jbuf *b, const json_t *v, size_t flags, int depth)
{
	char num[64];

	switch (json_typeof(v)) {
	case JSON_OBJECT:
		jsonout_object(b, v, flags, depth);
		break;
	case JSON_ARRAY:
		jsonout_array(b, v, flags, depth);
		break;
	case JSON_STRING:
		jsonout_string(b, json_string_value(v), json_string_length(v), flags);
		break;
	case JSON_INTEGER:
		snprintf(num, sizeof(num), "%" JSON_INTEGER_FORMAT, json_integer_value(v));
		jbuf_str(b, num);
		break;
	case JSON_REAL:
		jsonout_real(json_real_value(v), num, sizeof(num));
		jbuf_str(b, num);
		break;
	case JSON_TRUE:
		jbuf_add(b, "true", 4);
		break;
	case JSON_FALSE:
		jbuf_add(b, "false", 5);
		break;
	default:
		jbuf_add(b, "null", 4);
		break;
	}
}

char *
jsonout_dumps(const json_t *v, size_t flags)
{
	struct jbuf b = {NULL, 0, 0, 0};

	if (v == NULL)
		return NULL;
	if (!(flags & JSON_ENCODE_ANY) && !json_is_object(v) && !json_is_array(v))
		return NULL;
	jsonout_value(&b, v, flags, 0);
	if (b.failed) {
		free(b.p);
		return NULL;
	}
	return b.p;
}

int
jsonout_dumpf(const json_t *v, FILE *f, size_t flags)
{
	char *s = jsonout_dumps(v, flags);
	int rc = -1;

	if (s != NULL && fputs(s, f) >= 0)
		rc = 0;
	free(s);
	return rc;
}

/* Range first: casting a double outside json_int_t's range to it is undefined behaviour. */
json_t *
jsonout_number(double d)
{
	if (d < 1e15 && d > -1e15 && d == (double)(json_int_t)d)
		return json_integer((json_int_t)d);
	return json_real(d);
}
