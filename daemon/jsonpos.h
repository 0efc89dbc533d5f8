/*
 * Where each key of a JSON text stands. Jansson parses and reports syntax errors with a position,
 * but forgets positions once parsed; semantic errors (an unknown key, a wrong type) still have to
 * name file:line:col, so this scanner records them by path, e.g. "channels.mail.port" or
 * "api_tokens[1]".
 */
#ifndef NURTURED_JSONPOS_H
#define NURTURED_JSONPOS_H

struct jsonpos;

/* Scans TEXT, which Jansson has already accepted; never fails on valid JSON. */
struct jsonpos *jsonpos_scan(const char *text);
void jsonpos_free(struct jsonpos *jp);
/* Finds PATH; returns 0 and fills line/col (1-based), or -1 when unknown. */
int jsonpos_lookup(const struct jsonpos *jp, const char *path, int *line, int *col);

#endif
