/* An RFC 4180 CSV reader that streams: one record at a time, never the whole file. */
#ifndef NURTURECTL_CSV_H
#define NURTURECTL_CSV_H

#include <stddef.h>
#include <stdio.h>

#define CSV_MAX_FIELD (1024 * 1024) /* bytes in one field */
#define CSV_MAX_FIELDS 4096	    /* fields in one record */

struct csv;

/* A reader of F (not closed by csv_free). */
struct csv *csv_new(FILE *f);
void csv_free(struct csv *c);

/*
 * The next record: 1 with its N fields (valid until the next call) and the line it starts on,
 * 0 at the end, -1 with *ERR on a syntax error (the rest of that line is skipped, and reading
 * goes on after it). Fields may hold embedded newlines; empty lines are skipped.
 */
int csv_next(struct csv *c, char ***fields, size_t *n, long *line, const char **err);
/* Bytes consumed so far (for a progress bar). */
long long csv_offset(const struct csv *c);

#endif
