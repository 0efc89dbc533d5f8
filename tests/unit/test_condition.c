/*
 * Unit tests for daemon/condition.c and daemon/duration.c, printed as TAP. Conditions are
 * written as JSON text, as campaigns write them, so that compile errors carry real positions.
 */
#include <glib.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "condition.h"
#include "validate.h"
#include "duration.h"
#include "jsonpos.h"
#include "util.h"
#include "tap.h"

/* The context every evaluation test reads: one customer, one event, one journey. */
static const char test_root_text[] =
    "{\"customer\": {\"id\": \"c-1\", \"email\": null, \"stage\": \"mature\","
    " \"birthday\": \"1990-05-17\","
    " \"attributes\": {\"plan\": \"pro\", \"seats\": 7, \"ratio\": 0.5, \"vip\": true,"
    " \"churned\": false, \"tags\": [\"vip\", \"beta\", 3], \"since\": \"2024-03-01T00:00:00Z\","
    " \"address\": {\"city\": \"Berlin\"}}},"
    " \"event\": {\"type\": \"purchase\", \"time\": \"2025-01-10T12:00:00.000Z\","
    " \"properties\": {\"order_id\": \"o-1\", \"score\": 4, \"total\": 99.5,"
    " \"items\": [{\"sku\": \"a\"}, {\"sku\": \"b\"}], \"note\": \"gift wrap please\"}},"
    " \"journey\": {\"campaign\": \"post-purchase\", \"key\": \"o-1\"}}";

/* What the fake history saw, and what it answers. */
struct test_history {
	char type[64];
	int64_t within_ms;
	const struct cond *where;
	long answer;
	int calls;
};

/* A count callback that records its arguments: the engine's store is not needed here. */
static long
test_count_fn(const char *type, int64_t within_ms, const struct cond *where, void *arg)
{
	struct test_history *h = arg;
	snprintf(h->type, sizeof(h->type), "%s", type);
	h->within_ms = within_ms;
	h->where = where;
	h->calls++;
	return h->answer;
}

/* Compiles TEXT with positions; returns the condition or NULL with messages in D. */
static struct cond *
test_compile(const char *text, struct diag *d)
{
	json_error_t jerr;
	json_t *spec = json_loads(text, JSON_REJECT_DUPLICATES | JSON_DECODE_ANY, &jerr);
	struct jsonpos *pos;
	struct cond *c;

	if (spec == NULL) {
		fprintf(stderr, "bad test JSON: %s: %s\n", text, jerr.text);
		abort();
	}
	pos = jsonpos_scan(text);
	diag_init(d, "cond.json", pos);
	c = cond_compile(spec, "", d);
	d->pos = NULL;
	jsonpos_free(pos);
	json_decref(spec);
	return c;
}

/* Compiles and evaluates TEXT against the test context; -1 when it does not compile. */
static int
test_eval_with(const char *text, json_t *root, struct test_history *h)
{
	struct diag d;
	struct cond *c = test_compile(text, &d);
	struct cond_ctx ctx = {.root = root, .count = h ? test_count_fn : NULL, .count_arg = h};
	int r = -1;

	for (size_t i = 0; i < d.n; i++)
		printf("# %s\n", d.msgs[i]);
	if (c != NULL)
		r = cond_eval(c, &ctx);
	cond_free(c);
	diag_free(&d);
	return r;
}

/* Every operator on every type against one context, including the false cases. */
static void
test_eval_table(json_t *root)
{
	static const struct {
		const char *cond;
		int want;
	} cases[] = {
	    /* eq / ne on each type */
	    {"{\"field\": \"customer.stage\", \"eq\": \"mature\"}", 1},
	    {"{\"field\": \"customer.stage\", \"eq\": \"lapsed\"}", 0},
	    {"{\"field\": \"customer.stage\", \"ne\": \"lapsed\"}", 1},
	    {"{\"field\": \"customer.stage\", \"ne\": \"mature\"}", 0},
	    {"{\"field\": \"customer.attributes.seats\", \"eq\": 7}", 1},
	    {"{\"field\": \"customer.attributes.seats\", \"eq\": 7.0}", 1},
	    {"{\"field\": \"customer.attributes.ratio\", \"eq\": 0.5}", 1},
	    {"{\"field\": \"customer.attributes.seats\", \"ne\": 8}", 1},
	    {"{\"field\": \"customer.attributes.vip\", \"eq\": true}", 1},
	    {"{\"field\": \"customer.attributes.vip\", \"eq\": false}", 0},
	    {"{\"field\": \"customer.attributes.vip\", \"ne\": false}", 1},
	    {"{\"field\": \"customer.attributes.churned\", \"eq\": false}", 1},
	    /* ordering: numbers numerically, strings lexically, RFC 3339 as strings */
	    {"{\"field\": \"event.properties.score\", \"gte\": 4}", 1},
	    {"{\"field\": \"event.properties.score\", \"gt\": 4}", 0},
	    {"{\"field\": \"event.properties.score\", \"lte\": 4}", 1},
	    {"{\"field\": \"event.properties.score\", \"lt\": 4}", 0},
	    {"{\"field\": \"event.properties.score\", \"lt\": 4.5}", 1},
	    {"{\"field\": \"event.properties.total\", \"gt\": 99}", 1},
	    {"{\"field\": \"event.properties.total\", \"lt\": 100}", 1},
	    {"{\"field\": \"customer.attributes.seats\", \"gt\": 10}", 0},
	    {"{\"field\": \"customer.stage\", \"gt\": \"lapsed\"}", 1},
	    {"{\"field\": \"customer.stage\", \"lt\": \"maturer\"}", 1},
	    {"{\"field\": \"customer.stage\", \"lte\": \"mature\"}", 1},
	    {"{\"field\": \"customer.attributes.since\", \"lt\": \"2024-06-01T00:00:00Z\"}", 1},
	    {"{\"field\": \"customer.attributes.since\", \"gte\": \"2024-03-01T00:00:00Z\"}", 1},
	    {"{\"field\": \"event.time\", \"gt\": \"2025-01-10T11:59:59.999Z\"}", 1},
	    /* mismatched types are false, even for ne */
	    {"{\"field\": \"event.properties.score\", \"eq\": \"4\"}", 0},
	    {"{\"field\": \"event.properties.score\", \"ne\": \"4\"}", 0},
	    {"{\"field\": \"event.properties.score\", \"gt\": \"3\"}", 0},
	    {"{\"field\": \"customer.stage\", \"lt\": 5}", 0},
	    {"{\"field\": \"customer.attributes.vip\", \"eq\": 1}", 0},
	    {"{\"field\": \"customer.attributes.vip\", \"gt\": 0}", 0},
	    {"{\"field\": \"customer.attributes.address\", \"eq\": \"Berlin\"}", 0},
	    {"{\"field\": \"customer.attributes.tags\", \"eq\": \"vip\"}", 0},
	    /* in */
	    {"{\"field\": \"customer.stage\", \"in\": [\"growing\", \"mature\"]}", 1},
	    {"{\"field\": \"customer.stage\", \"in\": [\"growing\", \"lapsed\"]}", 0},
	    {"{\"field\": \"event.properties.score\", \"in\": [4, 5]}", 1},
	    {"{\"field\": \"event.properties.score\", \"in\": [\"4\", 5]}", 0},
	    /* contains: substring of a string, element of an array */
	    {"{\"field\": \"event.properties.note\", \"contains\": \"wrap\"}", 1},
	    {"{\"field\": \"event.properties.note\", \"contains\": \"Wrap\"}", 0},
	    {"{\"field\": \"event.properties.note\", \"contains\": \"\"}", 1},
	    {"{\"field\": \"customer.attributes.tags\", \"contains\": \"beta\"}", 1},
	    {"{\"field\": \"customer.attributes.tags\", \"contains\": \"bet\"}", 0},
	    {"{\"field\": \"customer.attributes.tags\", \"contains\": 3}", 1},
	    {"{\"field\": \"customer.attributes.seats\", \"contains\": 7}", 0},
	    /* exists; null counts as absent */
	    {"{\"field\": \"customer.attributes.plan\", \"exists\": true}", 1},
	    {"{\"field\": \"customer.attributes.plan\", \"exists\": false}", 0},
	    {"{\"field\": \"customer.attributes.nope\", \"exists\": false}", 1},
	    {"{\"field\": \"customer.email\", \"exists\": true}", 0},
	    {"{\"field\": \"customer.email\", \"exists\": false}", 1},
	    {"{\"field\": \"customer.attributes.churned\", \"exists\": true}", 1},
	    /* missing paths match nothing but exists:false */
	    {"{\"field\": \"customer.attributes.nope\", \"eq\": \"x\"}", 0},
	    {"{\"field\": \"customer.attributes.nope\", \"ne\": \"x\"}", 0},
	    {"{\"field\": \"customer.email\", \"ne\": \"x\"}", 0},
	    {"{\"field\": \"customer.stage.deeper\", \"eq\": \"x\"}", 0},
	    {"{\"field\": \"journey.key\", \"eq\": \"o-1\"}", 1},
	    {"{\"field\": \"journey.missing\", \"exists\": false}", 1},
	    /* array indexes in paths */
	    {"{\"field\": \"event.properties.items.1.sku\", \"eq\": \"b\"}", 1},
	    {"{\"field\": \"event.properties.items.2.sku\", \"exists\": false}", 1},
	    {"{\"field\": \"customer.attributes.address.city\", \"eq\": \"Berlin\"}", 1},
	    /* all / any / not, nested */
	    {"{\"all\": [{\"field\": \"customer.stage\", \"eq\": \"mature\"},"
	     " {\"field\": \"event.properties.score\", \"gte\": 4}]}",
	     1},
	    {"{\"all\": [{\"field\": \"customer.stage\", \"eq\": \"mature\"},"
	     " {\"field\": \"event.properties.score\", \"gt\": 4}]}",
	     0},
	    {"{\"any\": [{\"field\": \"customer.stage\", \"eq\": \"lapsed\"},"
	     " {\"field\": \"event.properties.score\", \"gte\": 4}]}",
	     1},
	    {"{\"any\": [{\"field\": \"customer.stage\", \"eq\": \"lapsed\"},"
	     " {\"field\": \"event.properties.score\", \"gt\": 4}]}",
	     0},
	    {"{\"not\": {\"field\": \"customer.stage\", \"eq\": \"mature\"}}", 0},
	    {"{\"not\": {\"field\": \"customer.attributes.nope\", \"eq\": \"x\"}}", 1},
	    {"{\"not\": {\"not\": {\"field\": \"customer.stage\", \"eq\": \"mature\"}}}", 1},
	    {"{\"all\": [{\"any\": [{\"field\": \"customer.attributes.plan\", \"eq\": \"free\"},"
	     " {\"not\": {\"field\": \"customer.attributes.vip\", \"eq\": false}}]},"
	     " {\"field\": \"customer.attributes.tags\", \"contains\": \"vip\"}]}",
	     1},
	    {"{\"any\": [{\"all\": [{\"field\": \"customer.stage\", \"eq\": \"mature\"},"
	     " {\"field\": \"customer.attributes.seats\", \"lt\": 5}]},"
	     " {\"not\": {\"any\": [{\"field\": \"journey.campaign\", \"eq\": "
	     "\"post-purchase\"}]}}]}",
	     0},
	};

	for (size_t i = 0; i < NT_ARRAY_LEN(cases); i++) {
		int got = test_eval_with(cases[i].cond, root, NULL);
		if (!test_ok(got == cases[i].want, "eval %s", cases[i].cond))
			printf("# got %d, want %d\n", got, cases[i].want);
	}
}

/* History counts: what the callback receives, and how its answer is compared. */
static void
test_counts(json_t *root)
{
	struct test_history h = {.answer = 2};
	int r;

	r = test_eval_with(
	    "{\"count\": {\"event\": \"purchase\", \"within\": \"30d\"}, \"gte\": 2}", root, &h);
	test_ok(r == 1, "count gte 2 with 2 events");
	test_ok(h.calls == 1 && strcmp(h.type, "purchase") == 0, "count passes the event type");
	test_ok(h.within_ms == 30LL * 86400 * 1000, "count passes within in ms (%lld)",
		(long long)h.within_ms);
	test_ok(h.where == NULL, "count without where passes NULL");

	h = (struct test_history){.answer = 0};
	r = test_eval_with(
	    "{\"count\": {\"event\": \"feedback\", \"within\": \"7d\","
	    " \"where\": {\"field\": \"event.properties.score\", \"lt\": 3}}, \"eq\": 0}",
	    root, &h);
	test_ok(r == 1 && strcmp(h.type, "feedback") == 0 && h.within_ms == 7LL * 86400000,
		"count eq 0 with where");
	test_ok(h.where != NULL, "count passes its where to the callback");

	struct diag d;
	struct cond *c = test_compile("{\"count\": {\"event\": \"feedback\", \"within\": \"7d\","
				      " \"where\": {\"field\": \"event.properties.score\", \"lt\": "
				      "3}}, \"gt\": 0}",
				      &d);
	struct test_history h2 = {.answer = 1};
	struct cond_ctx ctx = {.root = root, .count = test_count_fn, .count_arg = &h2};
	test_ok(c != NULL && cond_eval(c, &ctx) == 1, "count where compiles and evaluates");
	if (c != NULL && h2.where != NULL) {
		json_t *low = json_pack("{s:{s:{s:i}}}", "event", "properties", "score", 2);
		json_t *high = json_pack("{s:{s:{s:i}}}", "event", "properties", "score", 5);
		struct cond_ctx lc = {.root = low}, hc = {.root = high};
		test_ok(cond_eval(h2.where, &lc) == 1 && cond_eval(h2.where, &hc) == 0,
			"the callback can evaluate where per counted event");
		json_decref(low);
		json_decref(high);
	} else
		test_ok(0, "the callback can evaluate where per counted event");
	cond_free(c);
	diag_free(&d);

	static const struct {
		const char *op;
		long answer;
		int want;
	} ops[] = {{"eq", 3, 1}, {"eq", 2, 0}, {"ne", 2, 1},  {"ne", 3, 0},
		   {"lt", 2, 1}, {"lt", 3, 0}, {"lte", 3, 1}, {"lte", 4, 0},
		   {"gt", 4, 1}, {"gt", 3, 0}, {"gte", 3, 1}, {"gte", 2, 0}};
	for (size_t i = 0; i < NT_ARRAY_LEN(ops); i++) {
		char text[160];
		h = (struct test_history){.answer = ops[i].answer};
		snprintf(text, sizeof(text),
			 "{\"count\": {\"event\": \"open\", \"within\": \"1h\"}, \"%s\": 3}",
			 ops[i].op);
		r = test_eval_with(text, root, &h);
		test_ok(r == ops[i].want, "count %s 3 with %ld events is %d", ops[i].op,
			ops[i].answer, ops[i].want);
	}
	h = (struct test_history){.answer = -1};
	r = test_eval_with("{\"count\": {\"event\": \"open\", \"within\": \"1h\"}, \"lt\": 3}",
			   root, &h);
	test_ok(r == 0, "a count that cannot be made is false");
	r = test_eval_with("{\"count\": {\"event\": \"open\", \"within\": \"1h\"}, \"lt\": 3}",
			   root, NULL);
	test_ok(r == 0, "a count without a history callback is false");
	h = (struct test_history){.answer = 2};
	r = test_eval_with("{\"count\": {\"event\": \"open\", \"within\": \"1h\"}, \"lt\": 2.5}",
			   root, &h);
	test_ok(r == 1, "a count compares with a real number");
}

/* Compile errors: the message and where it points. */
static void
test_errors(void)
{
	static const struct {
		const char *text;
		const char *want; /* one of the messages, exactly */
		size_t n;	  /* how many messages */
	} cases[] = {
	    {"{\"field\": \"customer.stage\",\n \"gtt\": 3}",
	     "cond.json:2:2: condition: unknown operator 'gtt' (expected eq, ne, lt, lte, gt, gte, "
	     "in, contains or exists)",
	     1},
	    {"{\"field\": \"stage\", \"eq\": 3}",
	     "cond.json:1:2: condition: field 'stage' must start with \"customer.\", \"event.\" or "
	     "\"journey.\"",
	     1},
	    {"{\"field\": \"customer.\", \"eq\": 3}",
	     "cond.json:1:2: condition: field 'customer.' has an empty segment", 1},
	    {"{\"field\": \"customer..a\", \"eq\": 3}",
	     "cond.json:1:2: condition: field 'customer..a' has an empty segment", 1},
	    {"{\"field\": \"customer.a b\", \"eq\": 3}",
	     "cond.json:1:2: condition: field 'customer.a b' contains a blank or control character",
	     1},
	    {"{\"field\": 7, \"eq\": 3}",
	     "cond.json:1:2: condition: 'field' must be a string path, not a number", 1},
	    {"{\"field\": \"customer.stage\"}",
	     "cond.json:1:2: condition: no operator (expected one of eq, ne, lt, lte, gt, gte, in, "
	     "contains, exists)",
	     1},
	    {"{\"field\": \"customer.stage\", \"eq\": 1, \"ne\": 2}",
	     "cond.json:1:38: condition: both 'eq' and 'ne' in one condition; combine them with "
	     "\"all\"",
	     1},
	    {"{\"field\": \"customer.stage\", \"eq\": [1]}",
	     "cond.json:1:29: condition: 'eq' takes a string, number or boolean, not an array", 1},
	    {"{\"field\": \"customer.stage\", \"eq\": null}",
	     "cond.json:1:29: condition: 'eq' takes a string, number or boolean, not null", 1},
	    {"{\"field\": \"customer.stage\", \"gt\": true}",
	     "cond.json:1:29: condition: 'gt' takes a number or a string, not a boolean", 1},
	    {"{\"field\": \"customer.stage\", \"in\": \"mature\"}",
	     "cond.json:1:29: condition: 'in' takes a non-empty array, not a string", 1},
	    {"{\"field\": \"customer.stage\", \"in\": []}",
	     "cond.json:1:29: condition: 'in' takes a non-empty array, not an empty one", 1},
	    {"{\"field\": \"customer.stage\", \"in\": [\"a\", {}]}",
	     "cond.json:1:41: condition: the values of 'in' must be strings, numbers or booleans, "
	     "not an object",
	     1},
	    {"{\"field\": \"customer.tags\", \"contains\": {}}",
	     "cond.json:1:28: condition: 'contains' takes a string, number or boolean, not an "
	     "object",
	     1},
	    {"{\"field\": \"customer.tags\", \"exists\": \"yes\"}",
	     "cond.json:1:28: condition: 'exists' takes true or false, not a string", 1},
	    {"{\"eq\": 3}", "cond.json:1:2: condition: operator 'eq' without a 'field'", 1},
	    {"{\"fields\": \"customer.x\"}",
	     "cond.json:1:2: condition: unknown key 'fields' (expected field, all, any, not or "
	     "count)",
	     1},
	    {"{}", "cond.json:1:1: condition: empty (expected field, all, any, not or count)", 1},
	    {"[1]", "cond.json:1:1: condition: must be an object, not an array", 1},
	    {"{\"all\": [], \"any\": []}",
	     "cond.json:1:13: condition: both 'all' and 'any' in one object; nest them in \"all\" "
	     "or "
	     "\"any\"",
	     1},
	    {"{\"all\": []}",
	     "cond.json:1:2: condition: 'all' takes a non-empty array of conditions, not an empty "
	     "one",
	     1},
	    {"{\"any\": {}}",
	     "cond.json:1:2: condition: 'any' takes a non-empty array of conditions, not an object",
	     1},
	    {"{\"all\": [{\"field\": \"customer.a\", \"eq\": 1}], \"x\": 1}",
	     "cond.json:1:45: condition: unknown key 'x' next to 'all'", 1},
	    {"{\"not\": 5}", "cond.json:1:2: condition: must be an object, not a number", 1},
	    {"{\"not\": {\"field\": \"customer.a\", \"eq\": 1}, \"but\": 2}",
	     "cond.json:1:43: condition: unknown key 'but' next to 'not'", 1},
	    /* every member of a list is checked, and each problem reported where it is */
	    {"{\"all\": [\n  {\"field\": \"customer.a\", \"eq\": 1},\n  {\"field\": \"x.a\", "
	     "\"eq\": 1},\n"
	     "  {\"any\": [{\"field\": \"event.b\", \"lte\": []}]}\n]}",
	     "cond.json:4:33: condition: 'lte' takes a number or a string, not an array", 2},
	    {"{\"all\": [\n  {\"field\": \"customer.a\", \"eq\": 1},\n  {\"field\": \"x.a\", "
	     "\"eq\": 1},\n"
	     "  {\"any\": [{\"field\": \"event.b\", \"lte\": []}]}\n]}",
	     "cond.json:3:4: condition: field 'x.a' must start with \"customer.\", \"event.\" or "
	     "\"journey.\"",
	     2},
	    /* counts */
	    {"{\"count\": {\"event\": \"open\", \"within\": \"1h\"}, \"in\": [1]}",
	     "cond.json:1:46: condition: operator 'in' does not apply to a count", 1},
	    {"{\"count\": {\"event\": \"open\", \"within\": \"1h\"}, \"gte\": \"2\"}",
	     "cond.json:1:46: condition: a count compares with a number, not a string", 1},
	    {"{\"count\": {\"event\": \"open\", \"within\": \"1h\"}}",
	     "cond.json:1:2: condition: no operator (expected one of eq, ne, lt, lte, gt, gte)", 1},
	    {"{\"count\": {\"event\": \"Open\", \"within\": \"1h\"}, \"gte\": 1}",
	     "cond.json:1:12: condition: count 'event' must be an event type (1 to 64 of a-z 0-9 _ "
	     ". "
	     ": -, starting with a letter)",
	     1},
	    {"{\"count\": {\"event\": \"open\", \"within\": \"1 hour\"}, \"gte\": 1}",
	     "cond.json:1:29: condition: count 'within' must be a positive duration like \"30d\"",
	     1},
	    {"{\"count\": {\"event\": \"open\", \"within\": \"0d\"}, \"gte\": 1}",
	     "cond.json:1:29: condition: count 'within' must be a positive duration like \"30d\"",
	     1},
	    {"{\"count\": {\"event\": \"open\"}, \"gte\": 1}",
	     "cond.json:1:2: condition: 'count' needs 'within'", 1},
	    {"{\"count\": {\"within\": \"1d\", \"since\": 1}, \"gte\": 1}",
	     "cond.json:1:28: condition: unknown key 'since' in 'count' (expected event, within, "
	     "where)",
	     2},
	    {"{\"count\": 3, \"gte\": 1}",
	     "cond.json:1:2: condition: 'count' must be an object {\"event\": ..., \"within\": "
	     "...}, "
	     "not a number",
	     1},
	    {"{\"count\": {\"event\": \"open\", \"within\": \"1d\", \"where\": {\"field\": \"y\", "
	     "\"eq\": 1}}, \"gte\": 1}",
	     "cond.json:1:55: condition: field 'y' must start with \"customer.\", \"event.\" or "
	     "\"journey.\"",
	     1},
	    /* journey references: their form, and the operators that take them */
	    {"{\"field\": \"event.properties.order_id\", \"eq\": {\"journey\": \"order\"}}",
	     "cond.json:1:47: condition: 'journey' must be \"key\" (the journey's key) or "
	     "\"trigger.PATH\" (a field of its trigger event, e.g. "
	     "\"trigger.properties.order_id\")",
	     1},
	    {"{\"field\": \"event.x\", \"eq\": {\"journey\": \"trigger..a\"}}",
	     "cond.json:1:29: condition: 'journey' must be \"key\" (the journey's key) or "
	     "\"trigger.PATH\" (a field of its trigger event, e.g. "
	     "\"trigger.properties.order_id\")",
	     1},
	    {"{\"field\": \"event.x\", \"eq\": {\"journey\": \"key\", \"or\": 1}}",
	     "cond.json:1:22: condition: a journey reference is {\"journey\": \"key\"} or "
	     "{\"journey\": \"trigger.PATH\"}, with no other key",
	     1},
	    {"{\"field\": \"event.x\", \"in\": {\"journey\": \"key\"}}",
	     "cond.json:1:22: condition: 'in' cannot take a journey reference (eq, ne, lt, lte, "
	     "gt, "
	     "gte and contains can)",
	     1},
	    {"{\"field\": \"customer.a\", \"count\": {\"event\": \"open\", \"within\": \"1d\"}}",
	     "cond.json:1:25: condition: both 'field' and 'count' in one object; nest them in "
	     "\"all\" "
	     "or \"any\"",
	     1},
	};

	for (size_t i = 0; i < NT_ARRAY_LEN(cases); i++) {
		struct diag d;
		struct cond *c = test_compile(cases[i].text, &d);
		int found = 0;
		for (size_t k = 0; k < d.n; k++)
			found |= strcmp(d.msgs[k], cases[i].want) == 0;
		if (!test_ok(c == NULL && found && d.n == cases[i].n, "compile error: %s",
			     cases[i].want + strlen("cond.json:")))
			for (size_t k = 0; k < d.n; k++)
				printf("# got: %s\n", d.msgs[k]);
		cond_free(c);
		diag_free(&d);
	}
}

/* Nesting beyond COND_MAX_DEPTH is refused (a fuzzer would otherwise find the stack's end). */
static void
test_depth(void)
{
	GString *deep = g_string_new(NULL);
	struct diag d;
	struct cond *c;
	int i;

	for (i = 0; i < COND_MAX_DEPTH; i++)
		g_string_append(deep, "{\"not\": ");
	g_string_append(deep, "{\"field\": \"customer.a\", \"exists\": true}");
	for (i = 0; i < COND_MAX_DEPTH; i++)
		g_string_append(deep, "}");
	c = test_compile(deep->str, &d);
	test_ok(c != NULL && d.n == 0, "%d levels of nesting compile", COND_MAX_DEPTH);
	cond_free(c);
	diag_free(&d);

	g_string_truncate(deep, 0);
	for (i = 0; i < 200; i++)
		g_string_append(deep, "{\"all\": [");
	g_string_append(deep, "{\"field\": \"customer.a\", \"exists\": true}");
	for (i = 0; i < 200; i++)
		g_string_append(deep, "]}");
	c = test_compile(deep->str, &d);
	test_ok(c == NULL && d.n == 1 && strstr(d.msgs[0], "nested more than 32 levels deep"),
		"200 levels of nesting are refused with one message");
	cond_free(c);
	diag_free(&d);
	g_string_free(deep, TRUE);
}

/* Path walking and the small checks the campaign loader shares. */
static void
test_lookup(json_t *root)
{
	json_t *v;

	v = cond_lookup(root, "customer.attributes.address.city");
	test_ok(json_is_string(v) && strcmp(json_string_value(v), "Berlin") == 0,
		"cond_lookup follows objects");
	v = cond_lookup(root, "event.properties.items.0.sku");
	test_ok(json_is_string(v) && strcmp(json_string_value(v), "a") == 0,
		"cond_lookup indexes arrays with digits");
	test_ok(cond_lookup(root, "event.properties.items.01.sku") == NULL,
		"cond_lookup refuses leading zeros");
	test_ok(cond_lookup(root, "event.properties.items.x") == NULL,
		"cond_lookup: a name on an array is absent");
	test_ok(cond_lookup(root, "customer.stage.x") == NULL,
		"cond_lookup: below a string is absent");
	test_ok(cond_lookup(root, "customer.nope") == NULL, "cond_lookup: a missing key is absent");
	test_ok(json_is_null(cond_lookup(root, "customer.email")),
		"cond_lookup returns a null as null");
	test_ok(cond_lookup(NULL, "customer.a") == NULL && cond_lookup(root, NULL) == NULL,
		"cond_lookup takes NULLs");
	test_ok(cond_eval(NULL, NULL) == 1, "a NULL condition holds");
	test_ok(cond_check_path("customer.a.b") == NULL && cond_check_path("journey.key") == NULL &&
		    cond_check_path("event.type") == NULL && cond_check_path("customer") != NULL &&
		    cond_check_path("profile.a") != NULL,
		"cond_check_path");
	test_ok(validate_event_type("purchase") && validate_event_type("order.paid:v2") &&
		    !validate_event_type("Purchase") && !validate_event_type("") &&
		    !validate_event_type("nurtured.sent") && !validate_event_type("1st"),
		"validate_event_type");
}

/* Durations: what parses, what does not, and the formatting back. */
static void
test_durations(void)
{
	static const struct {
		const char *s;
		int neg;
		int rc;
		int64_t ms;
	} cases[] = {
	    {"90d", 0, 0, 90LL * 86400000},
	    {"36h", 0, 0, 36LL * 3600000},
	    {"15m", 0, 0, 15LL * 60000},
	    {"45s", 0, 0, 45000},
	    {"2w", 0, 0, 14LL * 86400000},
	    {"0s", 0, 0, 0},
	    {"007d", 0, 0, 7LL * 86400000},
	    {"-1d", 1, 0, -86400000},
	    {"-1d", 0, -1, 0},
	    {"+1d", 1, -1, 0},
	    {"1", 0, -1, 0},
	    {"d", 0, -1, 0},
	    {"", 0, -1, 0},
	    {"-", 1, -1, 0},
	    {"1.5d", 0, -1, 0},
	    {"1 d", 0, -1, 0},
	    {" 1d", 0, -1, 0},
	    {"1d ", 0, -1, 0},
	    {"1D", 0, -1, 0},
	    {"1ms", 0, 0, 1},
	    {"250ms", 0, 0, 250},
	    {"1mss", 0, -1, 0},
	    {"1 ms", 0, -1, 0},
	    {"1y", 0, -1, 0},
	    {"1dd", 0, -1, 0},
	    {"36500d", 0, 0, 36500LL * 86400000},
	    {"36501d", 0, -1, 0},
	    {"5214w", 0, 0, 5214LL * 7 * 86400000},
	    {"5215w", 0, -1, 0},
	    {"99999999999999999999999s", 0, -1, 0},
	    {"-36500d", 1, 0, -36500LL * 86400000},
	};

	for (size_t i = 0; i < NT_ARRAY_LEN(cases); i++) {
		int64_t ms = 12345;
		int rc = duration_parse(cases[i].s, cases[i].neg, &ms);
		int64_t want = cases[i].rc == 0 ? cases[i].ms : 12345;
		if (!test_ok(rc == cases[i].rc && ms == want, "duration_parse(\"%s\", %d)",
			     cases[i].s, cases[i].neg))
			printf("# rc %d ms %lld\n", rc, (long long)ms);
	}
	test_ok(duration_parse(NULL, 0, &(int64_t){0}) == -1, "duration_parse(NULL)");

	static const struct {
		int64_t ms;
		const char *want;
	} fmt[] = {{14LL * 86400000, "2w"}, {90LL * 86400000, "90d"}, {36LL * 3600000, "36h"},
		   {-86400000, "-1d"},	    {1500, "1500ms"},	      {0, "0s"}};
	for (size_t i = 0; i < NT_ARRAY_LEN(fmt); i++) {
		char buf[32];
		duration_format(fmt[i].ms, buf, sizeof(buf));
		test_ok(strcmp(buf, fmt[i].want) == 0, "duration_format(%lld) = %s",
			(long long)fmt[i].ms, fmt[i].want);
	}
}

/* One context for all evaluation tests; the plan comes last, as TAP allows. */
/* An operand that is the journey's own value: its key, or a field of its trigger event. */
static void
test_journey_refs(void)
{
	json_t *root = json_loads(
	    "{\"event\": {\"properties\": {\"order_id\": \"o-1\", \"n\": 3}},"
	    " \"journey\": {\"key\": \"o-1\", \"trigger\": {\"properties\": {\"order_id\": \"o-1\","
	    " \"n\": 2, \"sku\": \"a\"}}}}",
	    0, NULL);
	json_t *other = json_loads("{\"event\": {\"properties\": {\"order_id\": \"o-2\"}},"
				   " \"journey\": {\"key\": \"o-1\"}}",
				   0, NULL);
	json_t *none =
	    json_loads("{\"event\": {\"properties\": {\"order_id\": \"o-1\"}}}", 0, NULL);
	static const char key_eq[] =
	    "{\"field\": \"event.properties.order_id\", \"eq\": {\"journey\": \"key\"}}";
	struct diag d;
	struct cond *c;

	test_ok(test_eval_with(key_eq, root, NULL) == 1, "journey ref: this journey's order");
	test_ok(test_eval_with(key_eq, other, NULL) == 0, "journey ref: another order is not it");
	test_ok(test_eval_with(key_eq, none, NULL) == 0, "journey ref: without a journey, false");
	test_ok(test_eval_with("{\"field\": \"event.properties.order_id\", \"ne\": {\"journey\":"
			       " \"key\"}}",
			       other, NULL) == 1,
		"journey ref: ne another order");
	test_ok(test_eval_with("{\"field\": \"event.properties.n\", \"gt\": {\"journey\":"
			       " \"trigger.properties.n\"}}",
			       root, NULL) == 1,
		"journey ref: gt a field of the trigger");
	test_ok(test_eval_with("{\"field\": \"event.properties.order_id\", \"eq\": {\"journey\":"
			       " \"trigger.properties.sku\"}}",
			       root, NULL) == 0,
		"journey ref: eq another trigger field");
	test_ok(test_eval_with("{\"field\": \"event.properties.order_id\", \"eq\": {\"journey\":"
			       " \"trigger.properties.absent\"}}",
			       root, NULL) == 0,
		"journey ref: an absent trigger field matches nothing");
	c = test_compile("{\"all\": [{\"field\": \"event.a\", \"eq\": 1}, {\"not\": {\"field\": "
			 "\"event.b\", \"eq\": {\"journey\": \"key\"}}}]}",
			 &d);
	test_ok(c != NULL && cond_uses_journey(c, "key") && cond_uses_journey(c, NULL) &&
		    !cond_uses_journey(c, "trigger.properties.x"),
		"cond_uses_journey finds a nested reference");
	cond_free(c);
	diag_free(&d);
	json_decref(root);
	json_decref(other);
	json_decref(none);
}

int
main(void)
{
	json_t *root = json_loads(test_root_text, 0, NULL);

	if (root == NULL) {
		fprintf(stderr, "bad test context\n");
		return 1;
	}
	test_eval_table(root);
	test_counts(root);
	test_errors();
	test_depth();
	test_lookup(root);
	test_durations();
	test_journey_refs();
	json_decref(root);
	printf("1..%d\n", test_count);
	return test_failures ? 1 : 0;
}
