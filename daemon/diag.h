/*
 * Diagnostics for files a person wrote (the config, later campaigns and templates): every problem
 * is collected, not just the first, each as "file:line:col: message", like a compiler.
 */
#ifndef NURTURED_DIAG_H
#define NURTURED_DIAG_H

#include <jansson.h>
#include <stddef.h>

struct jsonpos;

struct diag {
	char **msgs;
	size_t n;
	const char *file;	   /* borrowed */
	const struct jsonpos *pos; /* borrowed; may be NULL */
};

void diag_init(struct diag *d, const char *file, const struct jsonpos *pos);
/* Adds a problem at the JSON PATH (its position looked up), or at the file when PATH is NULL. */
void diag_add(struct diag *d, const char *path, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
/* Adds a problem at an explicit position (from a Jansson parse error). */
void diag_add_at(struct diag *d, int line, int col, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
void diag_free(struct diag *d);

/* "an object", "an array", "a string", "a number", "a boolean" or "null": one wording for
 * every "must be X, not Y" message. */
const char *diag_type_name(const json_t *v);

#endif
