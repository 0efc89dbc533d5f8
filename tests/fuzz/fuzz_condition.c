/*
 * libFuzzer target: the condition language (daemon/condition.c). The input's first line is a
 * condition as campaigns write it, compiled with positions; the rest, when it is a JSON object,
 * replaces the customer of a fixed context. Each compiled condition is evaluated without and
 * with a history callback, so that count conditions run their "where" too.
 */
#include <jansson.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "condition.h"
#include "diag.h"
#include "jsonpos.h"

static const char fuzz_root_text[] =
    "{\"customer\": {\"id\": \"c-1\", \"email\": \"a@example.com\", \"stage\": \"mature\","
    " \"birthday\": \"1990-05-17\", \"attributes\": {\"plan\": \"pro\", \"seats\": 7,"
    " \"ratio\": 0.5, \"vip\": true, \"tags\": [\"vip\", \"beta\", 3],"
    " \"since\": \"2024-03-01T00:00:00Z\", \"address\": {\"city\": \"Berlin\"}}},"
    " \"event\": {\"type\": \"purchase\", \"time\": \"2025-01-10T12:00:00.000Z\","
    " \"properties\": {\"order_id\": \"o-1\", \"score\": 4, \"total\": 99.5,"
    " \"items\": [{\"sku\": \"a\"}, {\"sku\": \"b\"}], \"note\": \"gift wrap\"}},"
    " \"journey\": {\"campaign\": \"post-purchase\", \"key\": \"o-1\"}}";

static json_t *fuzz_root;

/* A history with one event of every type: evaluates WHERE against the fixed context. */
static long
fuzz_count(const char *type, int64_t within_ms, const struct cond *where, void *arg)
{
	struct cond_ctx *ctx = arg;
	(void)type;
	(void)within_ms;
	return cond_eval(where, ctx) ? 3 : 0;
}

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	fuzz_root = json_loads(fuzz_root_text, 0, NULL);
	return fuzz_root == NULL ? -1 : 0;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const uint8_t *nl = memchr(data, '\n', size);
	size_t n = nl ? (size_t)(nl - data) : size;
	char *text = malloc(n + 1);
	json_t *spec, *root = fuzz_root, *customer = NULL;
	struct jsonpos *pos;
	struct diag d;
	struct cond *c;

	memcpy(text, data, n);
	text[n] = '\0';
	spec = json_loads(text, JSON_REJECT_DUPLICATES | JSON_DECODE_ANY, NULL);
	if (spec == NULL) {
		/* Not JSON: still a dotted path, as "field" takes it. */
		if (cond_check_path(text) == NULL)
			cond_lookup(fuzz_root, text);
		free(text);
		return 0;
	}
	if (nl != NULL)
		customer = json_loadb((const char *)nl + 1, size - n - 1, 0, NULL);
	if (json_is_object(customer)) {
		root = json_deep_copy(fuzz_root);
		json_object_set(root, "customer", customer);
	}
	pos = jsonpos_scan(text);
	diag_init(&d, "cond.json", pos);
	c = cond_compile(spec, "", &d);
	d.pos = NULL;
	if (c != NULL) {
		struct cond_ctx plain = {root, NULL, NULL};
		struct cond_ctx counted = {root, fuzz_count, &plain};
		cond_eval(c, &plain);
		cond_eval(c, &counted);
		cond_free(c);
	}
	diag_free(&d);
	jsonpos_free(pos);
	if (root != fuzz_root)
		json_decref(root);
	json_decref(customer);
	json_decref(spec);
	free(text);
	return 0;
}
