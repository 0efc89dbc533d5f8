#include "diag.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>

#include "jsonpos.h"
#include "util.h"

void
diag_init(struct diag *d, const char *file, const struct jsonpos *pos)
{
	d->msgs = NULL;
	d->n = 0;
	d->file = file;
	d->pos = pos;
}

static void
diag_push(struct diag *d, char *msg)
{
	d->msgs = xrealloc(d->msgs, (d->n + 1) * sizeof(*d->msgs));
	d->msgs[d->n++] = msg;
}

void
diag_add(struct diag *d, const char *path, const char *fmt, ...)
{
	va_list ap;
	char *body;
	int line, col;

	va_start(ap, fmt);
	if (vasprintf(&body, fmt, ap) < 0)
		body = NULL;
	va_end(ap);
	if (path != NULL && jsonpos_lookup(d->pos, path, &line, &col) == 0)
		diag_push(d, xasprintf("%s:%d:%d: %s", d->file, line, col, body ? body : "?"));
	else
		diag_push(d, xasprintf("%s: %s", d->file, body ? body : "?"));
	free(body);
}

void
diag_add_at(struct diag *d, int line, int col, const char *fmt, ...)
{
	va_list ap;
	char *body;

	va_start(ap, fmt);
	if (vasprintf(&body, fmt, ap) < 0)
		body = NULL;
	va_end(ap);
	diag_push(d, xasprintf("%s:%d:%d: %s", d->file, line, col, body ? body : "?"));
	free(body);
}

void
diag_free(struct diag *d)
{
	for (size_t i = 0; i < d->n; i++)
		free(d->msgs[i]);
	free(d->msgs);
	d->msgs = NULL;
	d->n = 0;
}

const char *
diag_type_name(const json_t *v)
{
	switch (json_typeof(v)) {
	case JSON_OBJECT:
		return "an object";
	case JSON_ARRAY:
		return "an array";
	case JSON_STRING:
		return "a string";
	case JSON_INTEGER:
	case JSON_REAL:
		return "a number";
	case JSON_TRUE:
	case JSON_FALSE:
		return "a boolean";
	default:
		return "null";
	}
}
