/*
 * Unit tests for the campaign loader (daemon/campaign_load.c, campaign_check.c), printed as TAP.
 * Reads the examples in campaigns/ and the fixtures in tests/campaigns/bad/ under $NT_SRCDIR
 * (default "."); writes scratch files into a temporary directory it removes again.
 */
#include <errno.h>
#include <glib.h>
#include <glib/gstdio.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "campaign.h"
#include "condition.h"
#include "util.h"
#include "tap.h"

static const char *srcdir = ".";
static char *tmpdir;
static json_t *channels;

/* Shows the loader's messages as TAP comments, for failing tests. */
static void
test_print_diag(const struct diag *d)
{
	for (size_t i = 0; i < d->n; i++)
		printf("# %s\n", d->msgs[i]);
}

/* Writes TEXT to NAME in the scratch directory; returns the path (to free). */
static char *
test_write(const char *name, const char *text)
{
	char *path = g_build_filename(tmpdir, name, NULL);
	GError *err = NULL;

	if (!g_file_set_contents(path, text, -1, &err)) {
		fprintf(stderr, "cannot write %s: %s\n", path, err->message);
		abort();
	}
	return path;
}

/* Loads FILE with the test channels (mail, helpdesk) and no template check. */
static struct campaign *
test_load(const char *file, struct diag *d)
{
	struct campaign_ctx ctx = {.channels = channels};
	diag_init(d, file, NULL);
	return campaign_load_file(file, &ctx, d);
}

/*
 * What the engine relies on in every campaign that loads: step targets in range, and the fields
 * of each step's kind set. Returns a reason, or NULL.
 */
static const char *
test_sane(const struct campaign *c)
{
	int n = (int)c->n_steps;

	if (c->id == NULL || c->name == NULL || c->topic == NULL || c->steps == NULL || n < 1 ||
	    c->locale_default == NULL || c->timezone_default == NULL || c->version[16] != '\0' ||
	    strlen(c->version) != 16)
		return "top-level field missing";
	switch (c->trigger.kind) {
	case TRIGGER_EVENT:
		if (c->trigger.event == NULL)
			return "event trigger without event";
		break;
	case TRIGGER_INACTIVITY:
		if (c->trigger.n_of < 1 || c->trigger.inactive_ms <= 0)
			return "inactivity trigger incomplete";
		break;
	case TRIGGER_CRON:
		if (c->trigger.cron == NULL || c->trigger.timezone == NULL)
			return "cron trigger incomplete";
		break;
	case TRIGGER_ANNIVERSARY:
		if (c->trigger.anniversary_of == NULL || c->trigger.at_minute < 0 ||
		    c->trigger.at_minute >= 1440)
			return "anniversary trigger incomplete";
		break;
	case TRIGGER_STAGE:
		if (c->trigger.stage == NULL)
			return "stage trigger incomplete";
		break;
	}
	for (int i = 0; i < n; i++) {
		const struct step *st = &c->steps[i];
		if (st->id == NULL || campaign_step_index(c, st->id) != i)
			return "step id missing or not unique";
		if (st->next < -1 || st->next >= n || st->then_step < -1 || st->then_step >= n ||
		    st->else_step < -1 || st->else_step >= n || st->on_event < -1 ||
		    st->on_event >= n || st->on_timeout < -1 || st->on_timeout >= n)
			return "step target out of range";
		if (st->kind == STEP_SEND && (st->channel == NULL || st->template == NULL))
			return "send without channel or template";
		if (st->kind == STEP_WAIT && st->wait == WAIT_EVENT &&
		    (st->event == NULL || st->timeout_ms <= 0))
			return "event wait incomplete";
		if (st->kind == STEP_WAIT && st->wait == WAIT_DURATION && st->duration_ms <= 0)
			return "wait without duration";
		if (st->kind == STEP_BRANCH && st->cond == NULL)
			return "branch without condition";
	}
	for (size_t i = 0; i < c->n_exit_on; i++)
		if (c->exit_on[i].event == NULL)
			return "exit_on without event";
	return NULL;
}

static const char *const examples[] = {"post-purchase", "quote-follow-up",
				       "win-back",	"newsletter",
				       "birthday",	"first-purchase-anniversary"};

/* The six examples load without a single message, and read as intended. */
static void
test_examples(void)
{
	struct campaign *c[NT_ARRAY_LEN(examples)];

	for (size_t i = 0; i < NT_ARRAY_LEN(examples); i++) {
		char *file = g_strdup_printf("%s/campaigns/%s.json", srcdir, examples[i]);
		struct diag d;
		const char *why;
		c[i] = test_load(file, &d);
		test_ok(c[i] != NULL && d.n == 0, "example %s loads without diagnostics",
			examples[i]);
		test_print_diag(&d);
		why = c[i] ? test_sane(c[i]) : "not loaded";
		if (!test_ok(why == NULL && strcmp(c[i]->id, examples[i]) == 0,
			     "example %s is consistent", examples[i]))
			printf("# %s\n", why ? why : "id differs from file name");
		diag_free(&d);
		g_free(file);
	}
	if (c[0] != NULL) {
		const struct campaign *p = c[0];
		int done = campaign_step_index(p, "done"), rate = campaign_step_index(p, "rate");
		const struct step *heard = &p->steps[campaign_step_index(p, "already-heard")];
		const struct step *await = &p->steps[campaign_step_index(p, "await-feedback")];
		const struct step *rv = &p->steps[campaign_step_index(p, "review-ask")];
		test_ok(p->trigger.kind == TRIGGER_EVENT &&
			    strcmp(p->trigger.event, "purchase") == 0 &&
			    p->reentry == REENTRY_ALWAYS &&
			    strcmp(p->key, "event.properties.order_id") == 0,
			"post-purchase: trigger, reentry and key");
		test_ok(heard->kind == STEP_BRANCH && heard->then_step == done &&
			    heard->else_step == campaign_step_index(p, "satisfaction-check"),
			"post-purchase: a branch without 'else' falls through");
		test_ok(await->kind == STEP_WAIT && await->wait == WAIT_EVENT &&
			    strcmp(await->event, "feedback") == 0 &&
			    await->timeout_ms == 14LL * 86400000 && await->on_event == rate &&
			    await->on_timeout == done,
			"post-purchase: wait for feedback with timeout");
		test_ok(rv->next == done && p->steps[done].next == -1 &&
			    strcmp(p->steps[done].exit_reason, "completed") == 0,
			"post-purchase: 'next' jumps; the last step ends");
		test_ok(p->n_exit_on == 1 && strcmp(p->exit_on[0].event, "refund") == 0 &&
			    cond_uses_journey(p->exit_on[0].where, "key") &&
			    strcmp(p->goal_event, "review") == 0 &&
			    p->goal_within_ms == 30LL * 86400000 && !p->has_quiet_hours,
			"post-purchase: exit_on, goal, no quiet hours");
		test_ok(p->status == CAMPAIGN_ACTIVE && !p->transactional &&
			    strcmp(p->locale_default, "en") == 0 &&
			    strcmp(p->timezone_default, "UTC") == 0 &&
			    p->stale_after_ms == 2LL * 86400000 && !p->on_cap_skip,
			"post-purchase: defaults");
	}
	if (c[1] != NULL) {
		const struct campaign *q = c[1];
		test_ok(q->steps[1].kind == STEP_WAIT && q->steps[1].wait == WAIT_UNTIL &&
			    q->steps[1].until_minute == 9 * 60 && q->n_exit_on == 2 &&
			    q->has_quiet_hours && q->quiet_from == 20 * 60 &&
			    q->quiet_to == 8 * 60 &&
			    strcmp(q->timezone_default, "Europe/Berlin") == 0,
			"quote-follow-up: wait until 09:00, exit_on, quiet hours wrap midnight");
	}
	if (c[2] != NULL) {
		const struct campaign *w = c[2];
		const struct step *mark = &w->steps[3];
		test_ok(
		    w->trigger.kind == TRIGGER_INACTIVITY &&
			w->trigger.inactive_ms == 90LL * 86400000 && w->trigger.n_of == 1 &&
			strcmp(w->trigger.of[0], "purchase") == 0 && w->reentry == REENTRY_AFTER &&
			w->reentry_after_ms == 180LL * 86400000 && strcmp(w->topic, "offers") == 0,
		    "win-back: inactivity trigger, reentry after");
		test_ok(mark->kind == STEP_UPDATE &&
			    json_is_true(json_object_get(mark->set, "win_back_offered")) &&
			    json_array_size(mark->tags_add) == 1 && mark->tags_remove == NULL,
			"win-back: update step");
	}
	if (c[3] != NULL)
		test_ok(c[3]->trigger.kind == TRIGGER_CRON && c[3]->trigger.cron != NULL &&
			    strcmp(c[3]->trigger.timezone, "Europe/Berlin") == 0 &&
			    c[3]->trigger.where == NULL && c[3]->stale_after_ms == 86400000,
			"newsletter: cron trigger in Europe/Berlin, everyone");
	if (c[4] != NULL)
		test_ok(c[4]->trigger.kind == TRIGGER_ANNIVERSARY &&
			    strcmp(c[4]->trigger.anniversary_of, "customer.birthday") == 0 &&
			    c[4]->trigger.at_minute == 540 && c[4]->trigger.offset_ms == 0 &&
			    c[4]->steps[0].else_step == campaign_step_index(c[4], "not-for-them") &&
			    c[4]->steps[0].then_step == 1 && c[4]->steps[3].exit_reason == NULL,
			"birthday: anniversary at 09:00, audience branch");
	if (c[5] != NULL)
		test_ok(c[5]->trigger.kind == TRIGGER_ANNIVERSARY &&
			    strcmp(c[5]->trigger.anniversary_of, "first_purchase") == 0 &&
			    c[5]->trigger.at_minute == 600,
			"first-purchase-anniversary: trigger");
	for (size_t i = 0; i < NT_ARRAY_LEN(examples); i++)
		campaign_free(c[i]);
}

/* The examples' directory loads as a set: sorted, the schema skipped. */
static void
test_example_dir(void)
{
	char *dir = g_strdup_printf("%s/campaigns", srcdir);
	struct campaign_ctx ctx = {.channels = channels};
	struct diag d;
	struct campaign_set *s;

	diag_init(&d, dir, NULL);
	s = campaign_load_dir(dir, &ctx, &d);
	test_ok(s != NULL && s->n == 6 && d.n == 0,
		"campaigns/ loads 6 campaigns (schema skipped)");
	test_print_diag(&d);
	if (s != NULL && s->n == 6) {
		test_ok(strcmp(s->v[0]->id, "birthday") == 0 &&
			    strcmp(s->v[5]->id, "win-back") == 0,
			"the set is sorted by file name");
		test_ok(campaign_set_find(s, "newsletter") == s->v[2] &&
			    campaign_set_find(s, "nope") == NULL &&
			    campaign_set_find(NULL, "newsletter") == NULL,
			"campaign_set_find");
		test_ok(strcmp(s->v[2]->file, "") != 0 && strstr(s->v[2]->file, "newsletter.json"),
			"each campaign knows its file");
	} else {
		test_ok(0, "the set is sorted by file name");
		test_ok(0, "campaign_set_find");
		test_ok(0, "each campaign knows its file");
	}
	campaign_set_free(s);
	diag_free(&d);
	g_free(dir);
}

/* Each fixture gives exactly the expected messages (after the file name), in any order. */
static void
test_bad_fixtures(void)
{
	static const struct {
		const char *file;
		const char *msgs[7];
	} cases[] = {
	    {"unknown-key", {"7:3: campaign 'bad-unknown-key': unknown key 'colour'"}},
	    {"unknown-step-target",
	     {"12:7: campaign 'win-back', step 'offer': unknown step 'ofer' in 'next'"}},
	    {"duplicate-step-id",
	     {"10:7: campaign 'bad-duplicate-step', step 'thanks': duplicate step id 'thanks' "
	      "(first at line 8)"}},
	    {"unknown-channel",
	     {"11:9: campaign 'bad-channel', step 'text': unknown channel 'sms' (the configuration "
	      "has: mail, helpdesk)"}},
	    {"bad-duration",
	     {"8:22: campaign 'bad-duration', step 'pause': 'wait': '7 days' is not a duration "
	      "like "
	      "\"7d\" (a whole number and one of s m h d w)"}},
	    {"invalid-cron",
	     {"7:5: campaign 'bad-cron': invalid cron '0 25 1 * *': hour: 25 out of range 0-23 "
	      "(column 3)"}},
	    {"unknown-timezone",
	     {"6:37: campaign 'bad-timezone': 'timezone': 'Europe/Berln' is not a known IANA time "
	      "zone"}},
	    {"two-triggers",
	     {"8:5: campaign 'bad-two-triggers': the trigger has both 'event' and 'inactive_for'; "
	      "a "
	      "campaign has exactly one trigger"}},
	    {"no-steps",
	     {"7:3: campaign 'bad-no-steps': 'steps' must be a non-empty array, not an empty one"}},
	    {"bad-condition-op",
	     {"8:51: campaign 'bad-condition-op': condition: unknown operator 'gtt' (expected eq, "
	      "ne, lt, lte, gt, gte, in, contains or exists)"}},
	    {"bad-condition-path",
	     {"13:13: campaign 'bad-condition-path', step 'big-order': condition: field "
	      "'order.total' must start with \"customer.\", \"event.\" or \"journey.\""}},
	    {"exit-on-wrong-type",
	     {"10:25: campaign 'bad-exit-on': 'exit_on' entries must be an event type or "
	      "{\"event\": ..., \"where\": ...}, not a number"}},
	    {"syntax-error", {"5:9: '}' expected near '\"topic\"'"}},
	    {"reentry-bad",
	     {"7:3: campaign 'bad-reentry': 'reentry' must be \"never\", \"always\" or {\"after\": "
	      "DURATION}"}},
	    {"reply-to-bad",
	     {"6:3: campaign 'bad-reply-to': 'reply_to' must be an email address without '+' (the "
	      "VERP base), or false for none"}},
	    {"quiet-hours-bad",
	     {"10:37: campaign 'bad-quiet-hours': 'to': '25:00' is not a time of day \"HH:MM\""}},
	    {"loop",
	     {"9:5: campaign 'bad-loop', step 'again': the steps 'nag' -> 'again' -> 'nag' loop "
	      "without a wait; the journey would never stop"}},
	    {"wait-event-no-timeout",
	     {"9:22: campaign 'bad-wait-event', step 'await': a 'wait' for an event needs a "
	      "'timeout' (a duration like \"14d\")"}},
	    {"many-errors",
	     {"4:3: campaign 'bad-many': 'status' must be \"active\", \"paused\" or \"draft\"",
	      "5:3: campaign 'bad-many': 'topic': 'Offers' is not a topic (1 to 64 of a-z 0-9 _ -)",
	      "7:3: campaign 'bad-many': 'stale_after': '-2d' is not a duration like \"7d\" (a "
	      "whole number and one of s m h d w); it cannot be negative here",
	      "6:74: campaign 'bad-many': condition: 'eq' takes a string, number or boolean, not "
	      "an "
	      "array",
	      "9:23: campaign 'bad-many', step 'thanks': 'send' needs a 'template'",
	      "10:32: campaign 'bad-many', step 'later': 'until': '9am' is not a time of day "
	      "\"HH:MM\""}},
	};

	for (size_t i = 0; i < NT_ARRAY_LEN(cases); i++) {
		char *file =
		    g_strdup_printf("%s/tests/campaigns/bad/%s.json", srcdir, cases[i].file);
		struct diag d;
		struct campaign *c = test_load(file, &d);
		size_t want = 0, found = 0;
		for (; want < NT_ARRAY_LEN(cases[i].msgs) && cases[i].msgs[want]; want++) {
			char *full = g_strdup_printf("%s:%s", file, cases[i].msgs[want]);
			for (size_t k = 0; k < d.n; k++)
				if (strcmp(d.msgs[k], full) == 0) {
					found++;
					break;
				}
			g_free(full);
		}
		if (!test_ok(c == NULL && found == want && d.n == want, "bad/%s.json: %s",
			     cases[i].file, cases[i].msgs[0]))
			test_print_diag(&d);
		campaign_free(c);
		diag_free(&d);
		g_free(file);
	}
}

/* Odd files: missing, empty, not an object, NUL bytes, too large, a directory. */
static void
test_odd_files(void)
{
	static const struct {
		const char *name;
		const char *text;
		const char *want; /* substring of the only message */
	} cases[] = {
	    {"empty.json", "", ":1:1: '[' or '{' expected near end of file"},
	    {"array.json", "[1, 2]", ":1:1: a campaign must be a JSON object, not an array"},
	    {"string.json", "\"x\"", ":1:3: '[' or '{' expected near '\"x\"'"},
	    {"missing.json", "{}", ":1:1: campaign 'missing': missing key 'id'"},
	    {"badid.json",
	     "{\"id\": \"Bad Id\", \"name\": \"n\", \"status\": \"draft\", \"topic\": \"t\",\n"
	     " \"trigger\": {\"event\": \"a\"}, \"steps\": [{\"id\": \"s\", \"exit\": true}]}",
	     ":1:2: campaign 'badid': 'id': 'Bad Id' is not a campaign id (1 to 64 of a-z 0-9 _ "
	     "-)"},
	    {"dupkey.json", "{\"id\": \"a\", \"id\": \"b\"}", "duplicate object key"},
	};
	struct diag d;
	struct campaign *c;

	for (size_t i = 0; i < NT_ARRAY_LEN(cases); i++) {
		char *path = test_write(cases[i].name, cases[i].text);
		c = test_load(path, &d);
		if (!test_ok(c == NULL && d.n >= 1 && strstr(d.msgs[0], cases[i].want) != NULL &&
				 strncmp(d.msgs[0], path, strlen(path)) == 0,
			     "%s: %s", cases[i].name, cases[i].want))
			test_print_diag(&d);
		campaign_free(c);
		diag_free(&d);
		g_unlink(path);
		g_free(path);
	}

	char *missing = g_build_filename(tmpdir, "nonexistent.json", NULL);
	c = test_load(missing, &d);
	test_ok(c == NULL && d.n == 1 && strstr(d.msgs[0], "cannot open") != NULL,
		"a missing file is one message");
	campaign_free(c);
	diag_free(&d);
	g_free(missing);

	char *nul = g_build_filename(tmpdir, "nul.json", NULL);
	static const char nul_text[] = "{\"id\": \"x\"\0, \"name\": 1}";
	g_file_set_contents(nul, nul_text, sizeof(nul_text) - 1, NULL);
	c = test_load(nul, &d);
	test_ok(c == NULL && d.n == 1, "a NUL byte in the file is a syntax error");
	test_print_diag(&d);
	campaign_free(c);
	diag_free(&d);
	g_unlink(nul);
	g_free(nul);

	GString *big = g_string_new("{\"id\": \"big\", \"description\": \"");
	while (big->len < (1u << 20) + 10)
		g_string_append(big,
				"xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx");
	g_string_append(big, "\"}");
	char *bigpath = test_write("big.json", big->str);
	c = test_load(bigpath, &d);
	test_ok(c == NULL && d.n == 1 && strstr(d.msgs[0], "file larger than") != NULL,
		"a file over 1 MiB is refused");
	campaign_free(c);
	diag_free(&d);
	g_unlink(bigpath);
	g_free(bigpath);
	g_string_free(big, TRUE);

	/* The caller's diag keeps its file and positions. */
	struct campaign_ctx ctx = {0};
	const struct jsonpos *fake = (const struct jsonpos *)&ctx;
	char *ok = test_write("restore.json",
			      "{\"id\": \"r\", \"name\": \"n\", \"status\": \"draft\", \"topic\": "
			      "\"t\", \"trigger\": {\"stage_changed_to\": \"lapsed\"}, \"steps\": "
			      "[{\"id\": \"bye\", \"exit\": \"lapsed\"}]}");
	diag_init(&d, "caller", fake);
	c = campaign_load_file(ok, &ctx, &d);
	test_ok(c != NULL && d.n == 0 && strcmp(d.file, "caller") == 0 && d.pos == fake &&
		    c->trigger.kind == TRIGGER_STAGE && strcmp(c->trigger.stage, "lapsed") == 0,
		"the caller's diag file and positions are restored; a stage trigger loads");
	campaign_free(c);
	diag_free(&d);
	g_unlink(ok);
	g_free(ok);
}

/* A template lookup that knows every name but one, and counts its calls. */
static int
test_template_exists(const char *name, void *arg)
{
	(*(int *)arg)++;
	return strcmp(name, "missing-template") != 0;
}

/* Channels and templates are looked up only when the context asks for it. */
static void
test_ctx_checks(void)
{
	char *path = test_write(
	    "ctx.json",
	    "{\"id\": \"ctx\", \"name\": \"n\", \"status\": \"active\", \"topic\": \"t\",\n"
	    " \"trigger\": {\"event\": \"signup\"},\n"
	    " \"steps\": [\n"
	    "  {\"id\": \"a\", \"send\": {\"channel\": \"sms\", \"template\": \"hello\"}},\n"
	    "  {\"id\": \"b\", \"send\": {\"channel\": \"mail\", \"template\": "
	    "\"missing-template\"}}\n"
	    " ]}");
	int calls = 0;
	struct campaign_ctx none = {0};
	struct campaign_ctx both = {
	    .channels = channels, .template_exists = test_template_exists, .arg = &calls};
	struct diag d;
	struct campaign *c;

	diag_init(&d, path, NULL);
	c = campaign_load_file(path, &none, &d);
	test_ok(c != NULL && d.n == 0, "without a context nothing is looked up");
	campaign_free(c);
	diag_free(&d);
	c = campaign_load_file(path, NULL, &d);
	test_ok(c != NULL && d.n == 0, "a NULL context is allowed too");
	campaign_free(c);
	diag_free(&d);

	c = campaign_load_file(path, &both, &d);
	test_ok(c == NULL && d.n == 2 && calls == 2, "unknown channel and unknown template");
	test_ok(d.n == 2 &&
		    strstr(d.msgs[0], ":4:24: campaign 'ctx', step 'a': unknown channel "
				      "'sms' (the configuration has: mail, helpdesk)") &&
		    strstr(d.msgs[1], ":5:43: campaign 'ctx', step 'b': unknown template "
				      "'missing-template'"),
		"their messages and positions");
	test_print_diag(&d);
	campaign_free(c);
	diag_free(&d);
	g_unlink(path);
	g_free(path);
}

/* Every other check the format makes, one small campaign each. */
static void
test_more_checks(void)
{
	static const char head[] = "{\"id\": \"m\", \"name\": \"n\", \"status\": \"active\", "
				   "\"topic\": \"t\", ";
	static const struct {
		const char *rest;
		const char *want; /* NULL: loads */
	} cases[] = {
	    {"\"trigger\": {\"event\": \"a\", \"of\": [\"b\"]}, \"steps\": [{\"id\": \"s\", "
	     "\"exit\": true}]}",
	     "'of' does not apply to a 'event' trigger"},
	    {"\"trigger\": {\"inactive_for\": \"30d\"}, \"steps\": [{\"id\": \"s\", \"exit\": "
	     "true}]}",
	     "an 'inactive_for' trigger needs 'of'"},
	    {"\"trigger\": {}, \"steps\": [{\"id\": \"s\", \"exit\": true}]}",
	     "'trigger' needs one of event, cron, inactive_for, anniversary_of, stage_changed_to"},
	    {"\"trigger\": {\"anniversary_of\": \"customer.birthday\", \"offset\": \"-1d\", "
	     "\"at\": "
	     "\"08:30\"}, \"steps\": [{\"id\": \"s\", \"exit\": true}]}",
	     NULL},
	    {"\"trigger\": {\"anniversary_of\": \"signup\"}, \"steps\": [{\"id\": \"s\", \"exit\": "
	     "true}]}",
	     "'anniversary_of' must be \"customer.birthday\" or \"first_purchase\""},
	    {"\"trigger\": {\"stage_changed_to\": \"gone\"}, \"steps\": [{\"id\": \"s\", \"exit\": "
	     "true}]}",
	     "'stage_changed_to' must be one of prospect"},
	    {"\"trigger\": {\"cron\": \"@monthly\", \"audience\": {\"field\": \"customer.stage\", "
	     "\"eq\": \"mature\"}}, \"timezone_default\": \"America/New_York\", \"steps\": "
	     "[{\"id\": \"s\", \"exit\": true}]}",
	     NULL},
	    {"\"trigger\": {\"event\": \"nurtured.sent\"}, \"steps\": [{\"id\": \"s\", \"exit\": "
	     "true}]}",
	     "'event': 'nurtured.sent' is not an event type"},
	    {"\"trigger\": {\"event\": \"a\"}, \"steps\": [{\"id\": \"s\"}]}",
	     "a step needs one of send, wait, branch, update or exit"},
	    {"\"trigger\": {\"event\": \"a\"}, \"steps\": [{\"send\": {\"channel\": \"mail\", "
	     "\"template\": \"x\"}}]}",
	     "step 1: a step needs an 'id'"},
	    {"\"trigger\": {\"event\": \"a\"}, \"steps\": [7]}",
	     "step 1: a step must be an object"},
	    {"\"trigger\": {\"event\": \"a\"}, \"steps\": [{\"id\": \"s\", \"exit\": true, "
	     "\"wait\": "
	     "\"1d\"}]}",
	     "a step has one kind, not both 'exit' and 'wait'"},
	    {"\"trigger\": {\"event\": \"a\"}, \"steps\": [{\"id\": \"s\", \"exit\": false}]}",
	     "'exit' must be true or a reason string"},
	    {"\"trigger\": {\"event\": \"a\"}, \"steps\": [{\"id\": \"s\", \"wait\": \"0d\"}]}",
	     "'wait' must be longer than 0"},
	    {"\"trigger\": {\"event\": \"a\"}, \"steps\": [{\"id\": \"s\", \"wait\": {\"until\": "
	     "\"09:00\", \"event\": \"b\", \"timeout\": \"1d\"}}]}",
	     "'wait' has both 'until' and 'event'; use one"},
	    {"\"trigger\": {\"event\": \"a\"}, \"steps\": [{\"id\": \"s\", \"wait\": 5}]}",
	     "'wait' must be a duration like \"7d\""},
	    {"\"trigger\": {\"event\": \"a\"}, \"steps\": [{\"id\": \"s\", \"branch\": {\"then\": "
	     "\"s\"}}]}",
	     "'branch' needs an 'if' condition"},
	    {"\"trigger\": {\"event\": \"a\"}, \"steps\": [{\"id\": \"s\", \"update\": {}}]}",
	     "'update' must be an object with set, tags_add or tags_remove"},
	    {"\"trigger\": {\"event\": \"a\"}, \"steps\": [{\"id\": \"s\", \"update\": {\"set\": "
	     "{\"tags\": []}}}]}",
	     "'set' cannot change 'tags'; use tags_add and tags_remove"},
	    {"\"trigger\": {\"event\": \"a\"}, \"steps\": [{\"id\": \"s\", \"update\": "
	     "{\"tags_add\": [\"\"]}}]}",
	     "a tag must be a string of 1 to 64 bytes"},
	    {"\"trigger\": {\"event\": \"a\"}, \"steps\": [{\"id\": \"s\", \"send\": {\"channel\": "
	     "\"mail\", \"template\": \"../etc/passwd\"}}]}",
	     "'template': '../etc/passwd' is not a template name"},
	    {"\"trigger\": {\"event\": \"a\"}, \"steps\": [{\"id\": \"s\", \"next\": 3, \"exit\": "
	     "true}]}",
	     "'next' must name a step, not a number"},
	    {"\"trigger\": {\"event\": \"a\"}, \"steps\": [{\"id\": \"s\", \"send\": {\"channel\": "
	     "\"mail\", \"template\": \"x\"}, \"next\": \"s\"}]}",
	     "the steps 's' -> 's' loop without a wait"},
	    {"\"trigger\": {\"event\": \"a\"}, \"steps\": [{\"id\": \"s\", \"send\": {\"channel\": "
	     "\"mail\", \"template\": \"x\"}}, {\"id\": \"w\", \"wait\": \"1d\", \"next\": "
	     "\"s\"}]}",
	     NULL},
	    {"\"trigger\": {\"event\": \"a\"}, \"steps\": [{\"id\": \"s\", \"exit\": true}], "
	     "\"key\": \"journey.key\"}",
	     "cannot use \"journey.\""},
	    {"\"trigger\": {\"event\": \"a\"}, \"steps\": [{\"id\": \"s\", \"exit\": true}], "
	     "\"key\": \"order_id\"}",
	     "'key': 'order_id' must start with"},
	    {"\"trigger\": {\"event\": \"a\"}, \"steps\": [{\"id\": \"s\", \"exit\": true}], "
	     "\"goal\": {\"event\": \"b\"}}",
	     "'goal' needs both 'event' and 'within'"},
	    {"\"trigger\": {\"event\": \"a\"}, \"steps\": [{\"id\": \"s\", \"exit\": true}], "
	     "\"quiet_hours\": {\"from\": \"08:00\", \"to\": \"08:00\"}}",
	     "'quiet_hours' 'from' and 'to' are the same time"},
	    {"\"trigger\": {\"event\": \"a\"}, \"steps\": [{\"id\": \"s\", \"exit\": true}], "
	     "\"reentry\": {\"after\": \"30d\", \"max\": 2}}",
	     "unknown key 'max' in 'reentry'"},
	    {"\"trigger\": {\"event\": \"a\"}, \"steps\": [{\"id\": \"s\", \"exit\": true}], "
	     "\"on_cap\": \"drop\"}",
	     "'on_cap' must be \"defer\" or \"skip\""},
	    {"\"trigger\": {\"event\": \"a\"}, \"steps\": [{\"id\": \"s\", \"exit\": true}], "
	     "\"transactional\": \"yes\"}",
	     "'transactional' must be true or false, not a string"},
	    {"\"trigger\": {\"event\": \"a\"}, \"steps\": [{\"id\": \"s\", \"exit\": true}], "
	     "\"locale_default\": \"english\"}",
	     "'locale_default': 'english' is not a BCP 47 language tag"},
	    {"\"trigger\": {\"event\": \"a\"}, \"steps\": [{\"id\": \"s\", \"exit\": true}], "
	     "\"exit_on\": [{\"event\": \"b\", \"where\": {\"field\": \"event.properties.x\", "
	     "\"eq\": 1}}, {\"where\": {\"field\": \"event.x\", \"eq\": 1}}]}",
	     "an 'exit_on' rule needs an 'event'"},
	    {"\"trigger\": {\"event\": \"a\"}, \"steps\": [{\"id\": \"s\", \"exit\": true}], "
	     "\"description\": 5}",
	     "'description' must be a string"},
	    /* a journey's own events: {"journey": "key"} needs a key, said where it is used */
	    {"\"trigger\": {\"event\": \"a\"}, \"steps\": [{\"id\": \"s\", \"exit\": true}],\n"
	     "\"exit_on\": [{\"event\": \"r\",\n \"where\": {\"field\": \"event.properties.o\", "
	     "\"eq\": {\"journey\": \"key\"}}}]}",
	     "more.json:3:2: campaign 'm': {\"journey\": \"key\"} compares with the journey's key, "
	     "and this campaign has none"},
	    {"\"key\": \"event.properties.o\", \"trigger\": {\"event\": \"a\"}, \"steps\": "
	     "[{\"id\": "
	     "\"w\", \"wait\": {\"event\": \"b\", \"where\": {\"field\": \"event.properties.o\", "
	     "\"eq\": {\"journey\": \"key\"}}, \"timeout\": \"1d\"}}], \"exit_on\": [{\"event\": "
	     "\"r\", \"where\": {\"field\": \"event.properties.o\", \"ne\": {\"journey\": "
	     "\"trigger.properties.o\"}}}]}",
	     NULL},
	};

	for (size_t i = 0; i < NT_ARRAY_LEN(cases); i++) {
		char *text = g_strconcat(head, cases[i].rest, NULL);
		char *path = test_write("more.json", text);
		struct diag d;
		struct campaign *c = test_load(path, &d);
		int pass;
		if (cases[i].want == NULL)
			pass = c != NULL && d.n == 0 && test_sane(c) == NULL;
		else
			pass = c == NULL && d.n >= 1 && strstr(d.msgs[0], cases[i].want) != NULL;
		if (!test_ok(pass, "check: %s", cases[i].want ? cases[i].want : cases[i].rest))
			test_print_diag(&d);
		campaign_free(c);
		diag_free(&d);
		g_unlink(path);
		g_free(path);
		g_free(text);
	}
}

/* Duplicate ids across files name both; hidden files and schema.json are skipped. */
static void
test_dir_duplicates(void)
{
	static const char camp[] =
	    "{\"id\": \"same\", \"name\": \"n\", \"status\": \"active\", \"topic\": \"t\",\n"
	    " \"trigger\": {\"event\": \"a\"}, \"steps\": [{\"id\": \"s\", \"exit\": true}]}";
	char *sub = g_build_filename(tmpdir, "dir", NULL);
	char *a, *b, *hidden, *schema, *other, *subdir;
	struct diag d;
	struct campaign_set *s;
	struct campaign_ctx ctx = {.channels = channels};

	g_mkdir(sub, 0700);
	a = g_build_filename(sub, "a.json", NULL);
	b = g_build_filename(sub, "b.json", NULL);
	hidden = g_build_filename(sub, ".#a.json", NULL);
	schema = g_build_filename(sub, "schema.json", NULL);
	other = g_build_filename(sub, "notes.txt", NULL);
	subdir = g_build_filename(sub, "old.json", NULL);
	g_file_set_contents(a, camp, -1, NULL);
	g_file_set_contents(hidden, "not json", -1, NULL);
	g_file_set_contents(schema, "{\"$schema\": \"x\"}", -1, NULL);
	g_file_set_contents(other, "not json", -1, NULL);
	g_mkdir(subdir, 0700);

	diag_init(&d, sub, NULL);
	s = campaign_load_dir(sub, &ctx, &d);
	test_ok(s != NULL && s->n == 1 && d.n == 0,
		"hidden files, schema.json, other names and directories are skipped");
	test_print_diag(&d);
	campaign_set_free(s);
	diag_free(&d);

	g_file_set_contents(b, camp, -1, NULL);
	diag_init(&d, sub, NULL);
	s = campaign_load_dir(sub, &ctx, &d);
	char *want =
	    g_strdup_printf("%s:1:2: campaign 'same': id 'same' is already used by %s", b, a);
	if (!test_ok(s == NULL && d.n == 1 && strcmp(d.msgs[0], want) == 0,
		     "duplicate ids name both files"))
		test_print_diag(&d);
	test_ok(strcmp(d.file, sub) == 0, "the caller's diag file is kept");
	campaign_set_free(s);
	diag_free(&d);
	g_free(want);

	/* Problems in several files are all reported; a trailing slash is fine. */
	g_file_set_contents(a, "{\"id\": \"a\"}", -1, NULL);
	g_file_set_contents(b, "{\"id\": \"b\"", -1, NULL);
	char *slash = g_strconcat(sub, "/", NULL);
	diag_init(&d, slash, NULL);
	s = campaign_load_dir(slash, &ctx, &d);
	test_ok(s == NULL && d.n == 6 && strstr(d.msgs[0], "/a.json:1:1: campaign 'a': missing") &&
		    strstr(d.msgs[5], "/b.json:1:"),
		"every file's problems are reported");
	test_print_diag(&d);
	campaign_set_free(s);
	diag_free(&d);
	g_free(slash);

	char *empty = g_build_filename(tmpdir, "empty", NULL);
	g_mkdir(empty, 0700);
	diag_init(&d, empty, NULL);
	s = campaign_load_dir(empty, &ctx, &d);
	test_ok(s != NULL && s->n == 0 && d.n == 0, "an empty directory is an empty set");
	campaign_set_free(s);
	diag_free(&d);
	g_rmdir(empty);
	g_free(empty);

	char *none = g_build_filename(tmpdir, "none", NULL);
	diag_init(&d, none, NULL);
	s = campaign_load_dir(none, &ctx, &d);
	test_ok(s == NULL && d.n == 1 && strstr(d.msgs[0], "cannot open directory"),
		"a missing directory is one message");
	diag_free(&d);
	g_free(none);

	g_unlink(a);
	g_unlink(b);
	g_unlink(hidden);
	g_unlink(schema);
	g_unlink(other);
	g_rmdir(subdir);
	g_rmdir(sub);
	g_free(a);
	g_free(b);
	g_free(hidden);
	g_free(schema);
	g_free(other);
	g_free(subdir);
	g_free(sub);
}

/* The version of TEXT as a campaign file, or "" when it does not load. */
static void
test_version_of(const char *text, char out[17])
{
	char *path = test_write("version.json", text);
	struct diag d;
	struct campaign *c = test_load(path, &d);

	snprintf(out, 17, "%s", c ? c->version : "");
	test_print_diag(&d);
	campaign_free(c);
	diag_free(&d);
	g_unlink(path);
	g_free(path);
}

/* Versions follow meaning, not layout. */
static void
test_versions(void)
{
	char v1[17], v2[17], v3[17], v4[17];

	test_version_of(
	    "{\"id\": \"v\", \"name\": \"n\", \"status\": \"active\", \"topic\": \"t\", "
	    "\"trigger\": {\"event\": \"a\"}, \"steps\": [{\"id\": \"s\", \"send\": "
	    "{\"channel\": \"mail\", \"template\": \"x\"}}]}",
	    v1);
	test_version_of(
	    "{\n  \"steps\": [\n    {\"send\": {\"template\": \"x\", \"channel\": "
	    "\"mail\"},\n     \"id\": \"s\"}\n  ],\n  \"trigger\": {\"event\": \"a\"},\n"
	    "  \"topic\": \"t\", \"status\": \"active\", \"name\": \"n\", \"id\": \"v\"\n}\n",
	    v2);
	test_version_of(
	    "{\"id\": \"v\", \"name\": \"n\", \"status\": \"active\", \"topic\": \"t\", "
	    "\"trigger\": {\"event\": \"a\"}, \"steps\": [{\"id\": \"s\", \"send\": "
	    "{\"channel\": \"mail\", \"template\": \"y\"}}]}",
	    v3);
	test_version_of(
	    "{\"id\": \"v\", \"name\": \"n\", \"status\": \"paused\", \"topic\": \"t\", "
	    "\"trigger\": {\"event\": \"a\"}, \"steps\": [{\"id\": \"s\", \"send\": "
	    "{\"channel\": \"mail\", \"template\": \"x\"}}]}",
	    v4);
	test_ok(strlen(v1) == 16 && strspn(v1, "0123456789abcdef") == 16,
		"the version is 16 hex characters (%s)", v1);
	test_ok(strcmp(v1, v2) == 0, "whitespace and key order leave the version alone");
	test_ok(*v3 && strcmp(v1, v3) != 0, "a changed template changes the version");
	test_ok(*v4 && strcmp(v1, v4) != 0 && strcmp(v3, v4) != 0,
		"a changed status changes the version");
}

/* Replacement values for the mutation test: every JSON type, plus likely-wrong strings. */
static const char *const test_mutants[] = {
    "null",	      "0",  "-1", "1.5",    "true",	  "false",   "\"\"", "\"x\"", "\"-1d\"",
    "\"customer.a\"", "[]", "{}", "[null]", "{\"x\": 1}", "\"done\""};

/* Loads ROOT as written to FILE; counts it, and counts it as bad when it half-loads. */
static void
test_mutant_load(json_t *root, const char *file, long *loads, long *bad)
{
	char *text = json_dumps(root, JSON_INDENT(1));
	char *path = test_write(file, text);
	struct diag d;
	struct campaign *c = test_load(path, &d);

	(*loads)++;
	if ((c == NULL) == (d.n == 0) || (c != NULL && test_sane(c) != NULL)) {
		(*bad)++;
		if (*bad <= 3)
			printf("# bad mutant: %s\n", text);
	}
	campaign_free(c);
	diag_free(&d);
	g_free(path);
	free(text);
}

/* Replaces the value at each position of the tree in turn, and removes each member. */
static void
test_mutate_walk(json_t *root, json_t *node, const char *file, long *loads, long *bad)
{
	const char *key;
	json_t *v;
	size_t i;

	if (json_is_object(node)) {
		/* Keys first: removing and re-adding a member moves it to the end of the order. */
		size_t n = json_object_size(node), j = 0;
		char **keys = xcalloc(n, sizeof(*keys));
		json_object_foreach(node, key, v)
		{
			keys[j++] = xstrdup(key);
		}
		for (j = 0; j < n; j++) {
			char *k = keys[j];
			json_t *keep = json_incref(json_object_get(node, k));
			for (size_t m = 0; m < NT_ARRAY_LEN(test_mutants) + 1; m++) {
				if (m == NT_ARRAY_LEN(test_mutants))
					json_object_del(node, k);
				else
					json_object_set_new(
					    node, k,
					    json_loads(test_mutants[m], JSON_DECODE_ANY, NULL));
				test_mutant_load(root, file, loads, bad);
			}
			json_object_set_new(node, k, keep);
			test_mutate_walk(root, keep, file, loads, bad);
			free(k);
		}
		free(keys);
	} else if (json_is_array(node)) {
		json_array_foreach(node, i, v)
		{
			json_t *keep = json_incref(v);
			for (size_t m = 0; m < NT_ARRAY_LEN(test_mutants); m++) {
				json_array_set_new(
				    node, i, json_loads(test_mutants[m], JSON_DECODE_ANY, NULL));
				test_mutant_load(root, file, loads, bad);
			}
			json_array_set_new(node, i, keep);
			test_mutate_walk(root, keep, file, loads, bad);
		}
	}
}

/*
 * The loader never crashes and never half-loads: each mutant of each example either loads
 * consistently with no message, or fails with at least one (run under ASan for the rest).
 */
static void
test_mutations(void)
{
	for (size_t i = 0; i < NT_ARRAY_LEN(examples); i++) {
		char *file = g_strdup_printf("%s/campaigns/%s.json", srcdir, examples[i]);
		json_t *root = json_load_file(file, 0, NULL);
		long loads = 0, bad = 0;
		if (root != NULL) {
			test_mutate_walk(root, root, "mutant.json", &loads, &bad);
			char *path = g_build_filename(tmpdir, "mutant.json", NULL);
			g_unlink(path);
			g_free(path);
		}
		test_ok(root != NULL && loads > 100 && bad == 0,
			"%ld mutants of %s: no crash, no half-loaded campaign (%ld bad)", loads,
			examples[i], bad);
		json_decref(root);
		g_free(file);
	}
}

/* Runs every group in a scratch directory; the plan comes last, as TAP allows. */
int
main(void)
{
	const char *env = getenv("NT_SRCDIR");
	GError *err = NULL;

	if (env != NULL && *env)
		srcdir = env;
	tmpdir = g_dir_make_tmp("nt-campaign-XXXXXX", &err);
	if (tmpdir == NULL) {
		fprintf(stderr, "cannot make a temporary directory: %s\n", err->message);
		return 1;
	}
	channels = json_pack("{s:{},s:{}}", "mail", "helpdesk");
	test_examples();
	test_example_dir();
	test_bad_fixtures();
	test_odd_files();
	test_ctx_checks();
	test_more_checks();
	test_dir_duplicates();
	test_versions();
	test_mutations();
	json_decref(channels);
	g_rmdir(tmpdir);
	g_free(tmpdir);
	printf("1..%d\n", test_count);
	return test_failures ? 1 : 0;
}
