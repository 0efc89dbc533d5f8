/*
 * The engine itself, on an in-memory store and a virtual clock, without the daemon: a journey's
 * events are its own. A campaign keyed by order, whose trigger, wait and exit_on compare with
 * {"journey": "key"}, gets events for several orders of one customer; the notes it records
 * (through the observer) must touch only the journey of the order each event names.
 */
#include <glib.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "campaign.h"
#include "clock.h"
#include "diag.h"
#include "engine.h"
#include "ingest.h"
#include "log.h"
#include "store.h"
#include "util.h"
#include "validate.h"
#include "tap.h"

static const char campaign_text[] =
    "{\"id\": \"orders\", \"name\": \"per order\", \"status\": \"active\", \"topic\": \"orders\","
    " \"trigger\": {\"event\": \"purchase\", \"where\": {\"field\": \"event.properties.order_id\","
    " \"eq\": {\"journey\": \"key\"}}},"
    " \"key\": \"event.properties.order_id\", \"reentry\": \"always\","
    " \"steps\": ["
    "  {\"id\": \"thanks\", \"send\": {\"channel\": \"mail\", \"template\": \"t\"}},"
    "  {\"id\": \"await\", \"wait\": {\"event\": \"feedback\", \"where\": {\"field\":"
    "   \"event.properties.order_id\", \"eq\": {\"journey\": \"key\"}}, \"timeout\": \"10d\","
    "   \"on_event\": \"sorry\", \"on_timeout\": \"end\"}},"
    "  {\"id\": \"sorry\", \"branch\": {\"if\": {\"field\": \"event.properties.sku\", \"eq\":"
    "   {\"journey\": \"trigger.properties.sku\"}}, \"then\": \"same-sku\", \"else\": \"end\"}},"
    "  {\"id\": \"same-sku\", \"send\": {\"channel\": \"mail\", \"template\": \"s\"}},"
    "  {\"id\": \"end\", \"exit\": \"completed\"}],"
    " \"exit_on\": [{\"event\": \"refund\", \"where\": {\"field\": \"event.properties.order_id\","
    " \"eq\": {\"journey\": \"key\"}}}]}";

/* Every note as one line: "ACTION STEP REASON" (the key is read back from the store). */
static GString *test_notes;

static void
test_observe(const struct journey_note *n, const char *customer, void *arg)
{
	(void)customer;
	(void)arg;
	g_string_append_printf(test_notes, "%s %s %s|", note_action_name(n->action),
			       n->step_id ? n->step_id : "-", n->reason ? n->reason : "-");
}

/* Stores one event (JSON text) and lets the engine consume it; the notes it made, or NULL. */
static char *
test_event(struct store *s, struct engine *e, const char *text, int64_t now)
{
	json_t *v = json_loads(text, 0, NULL);
	struct nt_event ev;
	struct verr err;
	unsigned char dup = 0;
	long conflict = -1;
	int n = 0;

	g_string_truncate(test_notes, 0);
	if (v == NULL || validate_event(v, now, &ev, &err) < 0) {
		json_decref(v);
		return NULL;
	}
	store_begin(s);
	enum store_status rc = ingest_events(s, &ev, 1, now, &dup, &conflict);
	if (rc == STORE_OK)
		rc = engine_consume(e, 10, &n);
	store_commit(s);
	nt_event_clear(&ev);
	json_decref(v);
	return rc == STORE_OK ? xstrdup(test_notes->str) : NULL;
}

static void
test_expect(struct store *s, struct engine *e, const char *event, const char *want,
	    const char *what)
{
	char *got = test_event(s, e, event, 1767225600000LL);
	if (!test_ok(got != NULL && strcmp(got, want) == 0, "%s", what))
		printf("# want: %s\n# got:  %s\n", want, got ? got : "(failed)");
	free(got);
}

int
main(void)
{
	struct store_options so = {.backend = "sqlite", .data_dir = NULL};
	char err[256];
	struct diag d;
	struct clock clk;
	struct campaign_ctx ctx = {0};

	log_init(1, LOG_LEVEL_WARN);
	struct store *s = store_open(&so, err, sizeof(err));
	diag_init(&d, "orders.json", NULL);
	struct campaign *c = campaign_load_text("orders.json", campaign_text, &ctx, &d);
	for (size_t i = 0; i < d.n; i++)
		printf("# %s\n", d.msgs[i]);
	if (s == NULL || c == NULL) {
		printf("1..1\nnot ok 1 - setup: %s\n", s ? "campaign" : err);
		return 1;
	}
	struct campaign *v[] = {c};
	struct campaign_set set = {.v = v, .n = 1};
	clock_virtual_init(&clk, 1767225600000LL); /* 2026-01-01 */
	struct engine *e = engine_new(s, &set, &clk, "test.invalid");
	engine_set_observer(e, test_observe, NULL);
	test_notes = g_string_new("");
	store_begin(s);
	test_ok(engine_register(e) == STORE_OK, "the campaign registers");
	store_commit(s);

	test_expect(
	    s, e,
	    "{\"customer\": \"ann\", \"type\": \"purchase\", \"time\":"
	    " \"2026-01-01T00:00:00Z\", \"properties\": {\"order_id\": \"o1\", \"sku\": \"a\"}}",
	    "enter - purchase|send thanks -|", "order 1 starts its journey");
	test_expect(
	    s, e,
	    "{\"customer\": \"ann\", \"type\": \"purchase\", \"time\":"
	    " \"2026-01-01T00:00:00Z\", \"properties\": {\"order_id\": \"o2\", \"sku\": \"b\"}}",
	    "enter - purchase|send thanks -|", "order 2 starts another");
	test_expect(s, e,
		    "{\"customer\": \"ann\", \"type\": \"purchase\", \"time\":"
		    " \"2026-01-01T00:00:00Z\", \"properties\": {}}",
		    "", "a trigger where with {\"journey\": \"key\"}: no order, no journey");
	test_expect(
	    s, e,
	    "{\"customer\": \"ann\", \"type\": \"feedback\", \"time\":"
	    " \"2026-01-01T00:00:00Z\", \"properties\": {\"order_id\": \"o3\", \"sku\": \"a\"}}",
	    "", "feedback on an order without a journey touches none");
	test_expect(
	    s, e,
	    "{\"customer\": \"ann\", \"type\": \"feedback\", \"time\":"
	    " \"2026-01-01T00:00:00Z\", \"properties\": {\"order_id\": \"o1\", \"sku\": \"a\"}}",
	    "send same-sku -|exit end completed|",
	    "feedback on order 1 resumes order 1's journey only, and its branch compares"
	    " with the trigger's sku");
	test_expect(s, e,
		    "{\"customer\": \"ann\", \"type\": \"refund\", \"time\":"
		    " \"2026-01-01T00:00:00Z\", \"properties\": {\"order_id\": \"o1\"}}",
		    "", "a refund of the finished order 1 touches nothing");
	test_expect(s, e,
		    "{\"customer\": \"ann\", \"type\": \"refund\", \"time\":"
		    " \"2026-01-01T00:00:00Z\", \"properties\": {\"order_id\": \"o2\"}}",
		    "exit - exit_on:refund|", "a refund of order 2 ends order 2's journey");
	test_expect(s, e,
		    "{\"customer\": \"ann\", \"type\": \"feedback\", \"time\":"
		    " \"2026-01-01T00:00:00Z\", \"properties\": {\"order_id\": \"o2\"}}",
		    "", "and its feedback then finds no journey");

	g_string_free(test_notes, TRUE);
	engine_free(e);
	campaign_free(c);
	store_close(s);
	diag_free(&d);
	printf("1..%d\n", test_count);
	return test_failures ? 1 : 0;
}
