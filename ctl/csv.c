/*
 * RFC 4180 CSV, streaming: fields separated by commas, records by CRLF or LF; a field may be
 * quoted, and then holds commas, line breaks and doubled quotes (""). A UTF-8 byte order mark
 * at the start is skipped. Errors name the line; reading goes on at the next line.
 */
#include "csv.h"

#include <stdlib.h>
#include <string.h>

#define CSV_CHUNK 65536

struct csv {
	FILE *f;
	unsigned char buf[CSV_CHUNK];
	size_t pos, len;
	int eof;
	long long consumed;
	long line;  /* the physical line of the next byte */
	char *text; /* the record's fields, each NUL-terminated */
	size_t text_len, text_cap;
	size_t *starts; /* offsets in text */
	char **fields;
	size_t n, cap;
	int started; /* past the BOM check */
};

struct csv *
csv_new(FILE *f)
{
	struct csv *c = calloc(1, sizeof(*c));
	if (c == NULL)
		return NULL;
	c->f = f;
	c->line = 1;
	return c;
}

void
csv_free(struct csv *c)
{
	if (c == NULL)
		return;
	free(c->text);
	free(c->starts);
	free(c->fields);
	free(c);
}

long long
csv_offset(const struct csv *c)
{
	return c->consumed;
}

/* The next byte, or -1 at the end. */
static int
csv_getc(struct csv *c)
{
	if (c->pos == c->len) {
		if (c->eof)
			return -1;
		c->len = fread(c->buf, 1, sizeof(c->buf), c->f);
		c->pos = 0;
		if (c->len == 0) {
			c->eof = 1;
			return -1;
		}
	}
	c->consumed++;
	return c->buf[c->pos++];
}

/* The next byte without taking it. */
static int
csv_peek(struct csv *c)
{
	int ch = csv_getc(c);
	if (ch >= 0) {
		c->pos--;
		c->consumed--;
	}
	return ch;
}

static int
csv_put(struct csv *c, int ch)
{
	if (c->text_len + 2 > c->text_cap) {
		size_t cap = c->text_cap ? c->text_cap * 2 : 256;
		char *t = realloc(c->text, cap);
		if (t == NULL)
			return -1;
		c->text = t;
		c->text_cap = cap;
	}
	c->text[c->text_len++] = (char)ch;
	return 0;
}

/* Starts a field at the end of the text; -1 when the record has too many. */
static int
csv_begin_field(struct csv *c)
{
	if (c->n == CSV_MAX_FIELDS)
		return -1;
	if (c->n == c->cap) {
		size_t cap = c->cap ? c->cap * 2 : 16;
		size_t *s = realloc(c->starts, cap * sizeof(*s));
		if (s == NULL)
			return -1;
		c->starts = s;
		char **f = realloc(c->fields, cap * sizeof(*f));
		if (f == NULL)
			return -1;
		c->fields = f;
		c->cap = cap;
	}
	c->starts[c->n] = c->text_len;
	return 0;
}

/* After an error: the rest of the physical line goes. */
static void
csv_skip_line(struct csv *c)
{
	int ch;
	while ((ch = csv_getc(c)) >= 0 && ch != '\n')
		;
	if (ch == '\n')
		c->line++;
}

/* A line break read as CH: CR LF, LF, or a lone CR counts as one. */
static void
csv_newline(struct csv *c, int ch)
{
	if (ch == '\r' && csv_peek(c) == '\n')
		csv_getc(c);
	c->line++;
}

/* Skips a UTF-8 byte order mark at the very start. */
static void
csv_skip_bom(struct csv *c)
{
	c->started = 1;
	if (csv_peek(c) == 0xEF && c->len - c->pos >= 3 &&
	    memcmp(c->buf + c->pos, "\xEF\xBB\xBF", 3) == 0) {
		c->pos += 3;
		c->consumed += 3;
	}
}

int
csv_next(struct csv *c, char ***fields, size_t *n, long *line, const char **err)
{
	size_t len;
	int ch;

	if (!c->started)
		csv_skip_bom(c);
	for (;;) { /* empty lines are no records */
		c->text_len = 0;
		c->n = 0;
		*line = c->line;
		ch = csv_getc(c);
		if (ch < 0)
			return 0;
		if (ch != '\n' && ch != '\r')
			break;
		csv_newline(c, ch);
	}
	for (;;) { /* one field; CH is its first byte */
		if (csv_begin_field(c) < 0) {
			*err = "too many fields";
			goto fail;
		}
		len = 0;
		if (ch == '"') {
			for (;;) {
				ch = csv_getc(c);
				if (ch < 0) {
					*err = "a quoted field is not closed";
					return -1;
				}
				if (ch == '"') {
					ch = csv_getc(c);
					if (ch != '"')
						break; /* CH follows the closing quote */
				} else if (ch == '\n' || (ch == '\r' && csv_peek(c) != '\n'))
					c->line++;
				if (++len > CSV_MAX_FIELD) {
					*err = "a field longer than 1 MiB";
					goto fail;
				}
				if (csv_put(c, ch) < 0)
					goto nomem;
			}
			if (ch != ',' && ch != '\n' && ch != '\r' && ch >= 0) {
				*err = "text after a closing quote";
				goto fail;
			}
		} else {
			while (ch != ',' && ch != '\n' && ch != '\r' && ch >= 0) {
				if (ch == '"') {
					*err = "a quote inside an unquoted field";
					goto fail;
				}
				if (++len > CSV_MAX_FIELD) {
					*err = "a field longer than 1 MiB";
					goto fail;
				}
				if (csv_put(c, ch) < 0)
					goto nomem;
				ch = csv_getc(c);
			}
		}
		if (csv_put(c, '\0') < 0)
			goto nomem;
		c->n++;
		if (ch != ',')
			break;
		ch = csv_getc(c);
	}
	if (ch >= 0)
		csv_newline(c, ch);
	for (size_t i = 0; i < c->n; i++)
		c->fields[i] = c->text + c->starts[i];
	*fields = c->fields;
	*n = c->n;
	return 1;
nomem:
	*err = "out of memory";
	return -1;
fail:
	if (ch == '\n')
		c->line++;
	else if (ch >= 0)
		csv_skip_line(c);
	return -1;
}
