/*
 * stats_tool: front end to measure_stats.c for tests that check it against SciPy. Reads one
 * JSON array [x1, n1, x2, n2] a line and writes {"wilson": [lo, hi] of x1/n1, "z": p,
 * "fisher": p, "test": name, "p": p} a line.
 */
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>

#include "measure_stats.h"

int
main(void)
{
	char line[256];

	while (fgets(line, sizeof(line), stdin) != NULL) {
		json_t *a = json_loads(line, 0, NULL);
		long x1 = (long)json_integer_value(json_array_get(a, 0));
		long n1 = (long)json_integer_value(json_array_get(a, 1));
		long x2 = (long)json_integer_value(json_array_get(a, 2));
		long n2 = (long)json_integer_value(json_array_get(a, 3));
		double lo, hi;
		struct measure_cmp c;
		measure_wilson(x1, n1, MEASURE_Z95, &lo, &hi);
		measure_compare(x1, n1, x2, n2, &c);
		json_t *o =
		    json_pack("{s:[f,f],s:f,s:f,s:s,s:f}", "wilson", lo, hi, "z",
			      measure_ztest(x1, n1, x2, n2), "fisher",
			      measure_fisher(x1, n1 - x1, x2, n2 - x2), "test", c.test, "p", c.p);
		char *t = json_dumps(o, JSON_COMPACT);
		puts(t);
		free(t);
		json_decref(o);
		json_decref(a);
	}
	return 0;
}
