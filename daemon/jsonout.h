/* JSON text with each real as the shortest text that reads back as the same double. */
#ifndef NURTURED_JSONOUT_H
#define NURTURED_JSONOUT_H

#include <jansson.h>
#include <stddef.h>
#include <stdio.h>

/* Like json_dumps (JSON_COMPACT, JSON_INDENT, JSON_SORT_KEYS, JSON_ENCODE_ANY honoured). */
char *jsonout_dumps(const json_t *v, size_t flags);
/* Like json_dumpf; 0 or -1. */
int jsonout_dumpf(const json_t *v, FILE *f, size_t flags);
/* D as the shortest text that reads back as D, with ".0" when it would read as an integer. */
void jsonout_real(double d, char *buf, size_t n);
/* D as a JSON integer when it is a whole number within +-1e15 ("5"), else a real ("2.5"). */
json_t *jsonout_number(double d);

#endif
