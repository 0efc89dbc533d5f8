#include "jsonpos.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util.h"

struct jsonpos_entry {
	char *path;
	int line;
	int col;
};

struct jsonpos {
	struct jsonpos_entry *v;
	size_t n, cap;
};

struct jsonpos_scanner {
	const char *p;
	int line, col;
	int depth;
	struct jsonpos *jp;
};

static void jsonpos_value(struct jsonpos_scanner *s, const char *path);

/* Advances one byte, keeping line and column; columns count characters, as Jansson's do. */
static void
jsonpos_advance(struct jsonpos_scanner *s)
{
	if (*s->p == '\n') {
		s->line++;
		s->col = 1;
	} else if ((*(const unsigned char *)s->p & 0xC0) != 0x80)
		s->col++;
	s->p++;
}

static void
jsonpos_skip_ws(struct jsonpos_scanner *s)
{
	while (*s->p == ' ' || *s->p == '\t' || *s->p == '\n' || *s->p == '\r')
		jsonpos_advance(s);
}

static void
jsonpos_add(struct jsonpos *jp, const char *path, int line, int col)
{
	if (jp->n == jp->cap) {
		jp->cap = jp->cap ? jp->cap * 2 : 32;
		jp->v = xrealloc(jp->v, jp->cap * sizeof(*jp->v));
	}
	jp->v[jp->n].path = xstrdup(path);
	jp->v[jp->n].line = line;
	jp->v[jp->n].col = col;
	jp->n++;
}

/* Reads a string literal; returns its raw bytes (escapes kept, enough for key names). */
static char *
jsonpos_string(struct jsonpos_scanner *s)
{
	const char *start;
	if (*s->p != '"')
		return xstrdup("");
	jsonpos_advance(s);
	start = s->p;
	while (*s->p && *s->p != '"') {
		if (*s->p == '\\' && s->p[1])
			jsonpos_advance(s);
		jsonpos_advance(s);
	}
	char *out = xstrndup(start, (size_t)(s->p - start));
	if (*s->p == '"')
		jsonpos_advance(s);
	return out;
}

static void
jsonpos_object(struct jsonpos_scanner *s, const char *path)
{
	jsonpos_advance(s); /* { */
	for (;;) {
		jsonpos_skip_ws(s);
		if (*s->p == '}' || *s->p == '\0')
			break;
		int line = s->line, col = s->col;
		char *key = jsonpos_string(s);
		char *sub = *path ? xasprintf("%s.%s", path, key) : xstrdup(key);
		jsonpos_add(s->jp, sub, line, col);
		jsonpos_skip_ws(s);
		if (*s->p == ':')
			jsonpos_advance(s);
		jsonpos_value(s, sub);
		free(sub);
		free(key);
		jsonpos_skip_ws(s);
		if (*s->p == ',')
			jsonpos_advance(s);
		else
			break;
	}
	if (*s->p == '}')
		jsonpos_advance(s);
}

static void
jsonpos_array(struct jsonpos_scanner *s, const char *path)
{
	jsonpos_advance(s); /* [ */
	for (int i = 0;; i++) {
		jsonpos_skip_ws(s);
		if (*s->p == ']' || *s->p == '\0')
			break;
		char *sub = xasprintf("%s[%d]", path, i);
		jsonpos_add(s->jp, sub, s->line, s->col);
		jsonpos_value(s, sub);
		free(sub);
		jsonpos_skip_ws(s);
		if (*s->p == ',')
			jsonpos_advance(s);
		else
			break;
	}
	if (*s->p == ']')
		jsonpos_advance(s);
}

/* Depth is capped so that hostile nesting cannot exhaust the stack (Jansson caps it too). */
static void
jsonpos_value(struct jsonpos_scanner *s, const char *path)
{
	jsonpos_skip_ws(s);
	if (++s->depth > 256) {
		s->p += strlen(s->p);
		return;
	}
	if (*s->p == '{')
		jsonpos_object(s, path);
	else if (*s->p == '[')
		jsonpos_array(s, path);
	else if (*s->p == '"')
		free(jsonpos_string(s));
	else
		while (*s->p && !strchr(",}] \t\r\n", *s->p))
			jsonpos_advance(s);
	s->depth--;
}

struct jsonpos *
jsonpos_scan(const char *text)
{
	struct jsonpos_scanner s = {.p = text, .line = 1, .col = 1};
	s.jp = xcalloc(1, sizeof(*s.jp));
	jsonpos_add(s.jp, "", 1, 1);
	jsonpos_value(&s, "");
	return s.jp;
}

void
jsonpos_free(struct jsonpos *jp)
{
	if (jp == NULL)
		return;
	for (size_t i = 0; i < jp->n; i++)
		free(jp->v[i].path);
	free(jp->v);
	free(jp);
}

int
jsonpos_lookup(const struct jsonpos *jp, const char *path, int *line, int *col)
{
	for (size_t i = 0; jp && i < jp->n; i++)
		if (strcmp(jp->v[i].path, path) == 0) {
			*line = jp->v[i].line;
			*col = jp->v[i].col;
			return 0;
		}
	return -1;
}
