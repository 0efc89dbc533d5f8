/* Runs the official Mustache spec (every module but ~lambdas) against daemon/mustache.c, as TAP. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "mustache.h"
#include "util.h"

static const char *modules[] = {
    "comments", "delimiters", "interpolation", "inverted",
    "partials", "sections",   "~inheritance",  "~dynamic-names",
};

/* Spec partials come from the test case's "partials" object. */
static char *
spec_partial(const char *name, void *arg)
{
	json_t *s = json_object_get(arg, name);
	return json_is_string(s) ? xstrdup(json_string_value(s)) : NULL;
}

/* Diagnostics show strings JSON-quoted so whitespace differences are visible. */
static void
spec_diag(const char *label, const char *s)
{
	json_t *j = json_string(s ? s : "");
	char *q = j ? json_dumps(j, JSON_ENCODE_ANY) : NULL;

	printf("# %s: %s\n", label, q ? q : "(unprintable)");
	free(q);
	json_decref(j);
}

/* Returns 1 when the case renders exactly the expected text. */
static int
spec_case(json_t *tc, char **got, char *errbuf, size_t errlen)
{
	struct mustache_error err;
	struct mustache_tmpl *t;
	json_t *partials = json_object_get(tc, "partials");
	const char *tmpl = json_string_value(json_object_get(tc, "template"));
	const char *expected = json_string_value(json_object_get(tc, "expected"));

	*got = NULL;
	if (tmpl == NULL || expected == NULL) {
		snprintf(errbuf, errlen, "malformed test case");
		return 0;
	}
	t = mustache_parse(tmpl, &err);
	if (t == NULL) {
		snprintf(errbuf, errlen, "parse error %d:%d: %s", err.line, err.col, err.message);
		return 0;
	}
	*got = mustache_render(t, json_object_get(tc, "data"), MUSTACHE_ESCAPE_HTML, spec_partial,
			       partials, &err);
	mustache_free(t);
	if (*got == NULL) {
		snprintf(errbuf, errlen, "render error %s:%d:%d: %s", err.file, err.line, err.col,
			 err.message);
		return 0;
	}
	return strcmp(*got, expected) == 0;
}

/* Loads all modules first so the TAP plan can come first. */
int
main(int argc, char **argv)
{
	json_t *specs[NT_ARRAY_LEN(modules)];
	size_t total = 0, k = 0, passed[NT_ARRAY_LEN(modules)] = {0};
	int failed = 0;

	/* make check passes no arguments: the spec lives in the source tree. */
	char *dir = argc == 2 ? xstrdup(argv[1])
			      : xasprintf("%s/tests/spec/mustache",
					  getenv("NT_SRCDIR") ? getenv("NT_SRCDIR") : ".");
	if (argc > 2) {
		fprintf(stderr, "usage: %s [SPEC-DIR]\n", argv[0]);
		return 2;
	}
	for (size_t m = 0; m < NT_ARRAY_LEN(modules); m++) {
		json_error_t jerr;
		char *path = xasprintf("%s/%s.json", dir, modules[m]);
		specs[m] = json_load_file(path, 0, &jerr);
		if (specs[m] == NULL || !json_is_array(json_object_get(specs[m], "tests"))) {
			printf("Bail out! cannot load %s: %s\n", path, jerr.text);
			return 1;
		}
		free(path);
		total += json_array_size(json_object_get(specs[m], "tests"));
	}
	printf("1..%zu\n", total);
	for (size_t m = 0; m < NT_ARRAY_LEN(modules); m++) {
		json_t *tests = json_object_get(specs[m], "tests");
		for (size_t i = 0; i < json_array_size(tests); i++) {
			json_t *tc = json_array_get(tests, i);
			char errbuf[512] = "", *got;
			int ok = spec_case(tc, &got, errbuf, sizeof(errbuf));
			printf("%s %zu - %s: %s\n", ok ? "ok" : "not ok", ++k, modules[m],
			       json_string_value(json_object_get(tc, "name")));
			if (ok) {
				passed[m]++;
			} else {
				failed = 1;
				spec_diag("expected",
					  json_string_value(json_object_get(tc, "expected")));
				if (got)
					spec_diag("got", got);
				else
					printf("# got: %s\n", errbuf);
			}
			free(got);
		}
	}
	for (size_t m = 0; m < NT_ARRAY_LEN(modules); m++) {
		printf("# module %s: %zu/%zu passed\n", modules[m], passed[m],
		       json_array_size(json_object_get(specs[m], "tests")));
		json_decref(specs[m]);
	}
	free(dir);
	return failed;
}
