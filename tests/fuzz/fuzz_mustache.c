/*
 * libFuzzer target: the Mustache parser and renderer (daemon/mustache_parse.c,
 * mustache_render.c). The input is a template; it is parsed, its partials checked, and rendered
 * over fixed data in both escape modes, with and without strict partials, with partials from a
 * small fixed map (one of which recurses, to reach MUSTACHE_MAX_DEPTH). A template that renders
 * beyond MUSTACHE_MAX_OUTPUT must fail, not succeed.
 */
#include <jansson.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mustache.h"

static const char fuzz_data_text[] =
    "{\"name\": \"Ada <&> \\\"Lovelace\\\"\", \"n\": 3, \"pi\": 3.14, \"yes\": true, \"no\": false,"
    " \"none\": null, \"empty\": \"\", \"list\": [1, \"two\", {\"name\": \"inner\"}, [4]],"
    " \"items\": [{\"sku\": \"a\", \"qty\": 1}, {\"sku\": \"b\", \"qty\": 2}],"
    " \"customer\": {\"first_name\": \"Ada\", \"attributes\": {\"plan\": \"pro\"}},"
    " \"dyn\": \"p_row\", \"a\": {\"b\": {\"c\": \"deep\"}}}";

static const char *const fuzz_partials[][2] = {
    {"p_row", "<li>{{sku}} x{{qty}}</li>\n"},
    {"p_name", "{{name}}"},
    {"p_loop", "{{#list}}{{>p_loop}}{{/list}}"},
    {"p_self", "[{{>p_self}}]"},
    {"layout", "<html>{{$body}}default{{/body}}</html>"},
    {"p_bad", "{{#unclosed}}"},
};

static json_t *fuzz_data;

/* The fixed map as a loader: malloc'd text, NULL for an unknown name. */
static char *
fuzz_partial(const char *name, void *arg)
{
	(void)arg;
	for (size_t i = 0; i < sizeof(fuzz_partials) / sizeof(fuzz_partials[0]); i++)
		if (strcmp(name, fuzz_partials[i][0]) == 0)
			return strdup(fuzz_partials[i][1]);
	return NULL;
}

/* Renders T one way; the output must be a NUL-terminated string within the limit. */
static void
fuzz_render(const struct mustache_tmpl *t, enum mustache_escape esc, unsigned flags)
{
	struct mustache_error err;
	char *out = mustache_render_flags(t, fuzz_data, esc, flags, fuzz_partial, NULL, &err);

	if (out != NULL && strlen(out) > MUSTACHE_MAX_OUTPUT) {
		fprintf(stderr, "rendered %zu bytes, over MUSTACHE_MAX_OUTPUT\n", strlen(out));
		abort();
	}
	free(out);
}

static void
fuzz_count_partial(const char *name, int line, int col, void *arg)
{
	(void)name;
	(void)line;
	(void)col;
	(*(int *)arg)++;
}

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	fuzz_data = json_loads(fuzz_data_text, 0, NULL);
	return fuzz_data == NULL ? -1 : 0;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *text = malloc(size + 1);
	struct mustache_error err;
	struct mustache_tmpl *t;
	int n = 0;

	memcpy(text, data, size);
	text[size] = '\0';
	t = mustache_parse(text, &err);
	if (t != NULL) {
		mustache_foreach_partial(t, fuzz_count_partial, &n);
		mustache_check_partials(t, fuzz_partial, NULL, &err);
		fuzz_render(t, MUSTACHE_ESCAPE_HTML, 0);
		fuzz_render(t, MUSTACHE_ESCAPE_NONE, MUSTACHE_STRICT_PARTIALS);
		mustache_free(t);
	}
	free(text);
	return 0;
}
