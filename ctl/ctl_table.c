#include "ctl.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "jsonout.h"

struct table {
	size_t ncols, nrows, cap;
	char **cells; /* row-major; row 0 the headers */
};

void
ctl_die(int code, const char *fmt, ...)
{
	va_list ap;

	fputs("nurturectl: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	exit(code);
}

char *
ctl_strdup(const char *s)
{
	char *r = strdup(s);
	if (r == NULL)
		ctl_die(CTL_EXIT_CONNECT, "out of memory");
	return r;
}

char *
ctl_asprintf(const char *fmt, ...)
{
	va_list ap;
	char *r;

	va_start(ap, fmt);
	if (vasprintf(&r, fmt, ap) < 0)
		ctl_die(CTL_EXIT_CONNECT, "out of memory");
	va_end(ap);
	return r;
}

/* Terminal columns of UTF-8 text: one per character (names and addresses, not CJK art). */
static size_t
table_width(const char *s)
{
	size_t w = 0;
	for (; *s; s++)
		if (((unsigned char)*s & 0xC0) != 0x80)
			w++;
	return w;
}

/* Room for one more row. */
static char **
table_grow(struct table *t)
{
	if (t->nrows == t->cap) {
		t->cap = t->cap ? t->cap * 2 : 16;
		t->cells = realloc(t->cells, t->cap * t->ncols * sizeof(char *));
		if (t->cells == NULL)
			ctl_die(CTL_EXIT_CONNECT, "out of memory");
	}
	return t->cells + t->nrows++ * t->ncols;
}

void
table_row(struct table *t, const char *const *cells)
{
	char **row = table_grow(t);
	for (size_t i = 0; i < t->ncols; i++)
		row[i] = ctl_strdup(cells[i] != NULL && *cells[i] ? cells[i] : "-");
}

struct table *
table_new(size_t ncols, const char *const *heads)
{
	struct table *t = calloc(1, sizeof(*t));

	if (t == NULL)
		ctl_die(CTL_EXIT_CONNECT, "out of memory");
	t->ncols = ncols;
	table_row(t, heads);
	return t;
}

/* Two spaces between columns; the last column is not padded, so lines carry no trailing blanks. */
void
table_print(struct table *t)
{
	size_t *w = calloc(t->ncols, sizeof(size_t));

	for (size_t r = 0; r < t->nrows; r++)
		for (size_t i = 0; i < t->ncols; i++) {
			size_t n = table_width(t->cells[r * t->ncols + i]);
			if (n > w[i])
				w[i] = n;
		}
	for (size_t r = 0; r < t->nrows; r++) {
		for (size_t i = 0; i < t->ncols; i++) {
			const char *s = t->cells[r * t->ncols + i];
			fputs(s, stdout);
			if (i + 1 < t->ncols)
				printf("%*s", (int)(w[i] - table_width(s) + 2), "");
		}
		putchar('\n');
	}
	free(w);
}

void
table_free(struct table *t)
{
	if (t == NULL)
		return;
	for (size_t i = 0; i < t->nrows * t->ncols; i++)
		free(t->cells[i]);
	free(t->cells);
	free(t);
}

char *
ctl_cell(const json_t *obj, const char *key)
{
	const json_t *v = key != NULL ? json_object_get(obj, key) : obj;

	if (v == NULL || json_is_null(v))
		return ctl_strdup("-");
	if (json_is_string(v))
		return ctl_strdup(json_string_value(v));
	if (json_is_integer(v))
		return ctl_asprintf("%lld", (long long)json_integer_value(v));
	if (json_is_real(v)) {
		char num[64];
		jsonout_real(json_real_value(v), num, sizeof(num));
		return ctl_strdup(num);
	}
	if (json_is_boolean(v))
		return ctl_strdup(json_is_true(v) ? "yes" : "no");
	char *s = jsonout_dumps(v, JSON_COMPACT | JSON_SORT_KEYS | JSON_ENCODE_ANY);
	char *r = ctl_strdup(s ? s : "-");
	free(s);
	return r;
}

void
ctl_print_json(const json_t *v)
{
	if (v == NULL) {
		puts("null");
		return;
	}
	jsonout_dumpf(v, stdout, JSON_INDENT(2) | JSON_ENCODE_ANY);
	putchar('\n');
}

/* One row of OBJ's values under KEYS (as many as the table has columns). */
void
table_row_json(struct table *t, const json_t *obj, const char *const *keys)
{
	char **row = table_grow(t);
	for (size_t i = 0; i < t->ncols; i++)
		row[i] = ctl_cell(obj, keys[i]);
}
