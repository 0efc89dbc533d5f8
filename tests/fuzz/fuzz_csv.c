/*
 * libFuzzer target: nurturectl's RFC 4180 reader (ctl/csv.c) on arbitrary bytes: every record
 * and error until the end, through a FILE as the import reads it. Checks that each record has
 * fields, that lines never go backwards, and that the reader always reaches the end.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#include "../../ctl/csv.c"

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	FILE *f = fmemopen((void *)data, size ? size : 1, "r");
	struct csv *c;
	char **fields;
	size_t n;
	long line, last = 0;
	const char *err;
	int r, guard = 0;

	if (f == NULL)
		return 0;
	if (size == 0) { /* fmemopen needs a byte; read none of it */
		fclose(f);
		return 0;
	}
	c = csv_new(f);
	while ((r = csv_next(c, &fields, &n, &line, &err)) != 0) {
		if (line < last || (r > 0 && n == 0))
			abort();
		last = line;
		for (size_t i = 0; r > 0 && i < n; i++)
			if (fields[i] == NULL)
				abort();
		if (++guard > 1 << 20) /* more records than bytes: a loop */
			abort();
	}
	if (csv_offset(c) != (long long)size)
		abort();
	csv_free(c);
	fclose(f);
	return 0;
}
