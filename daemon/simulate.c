#include "simulate.h"

#include <getopt.h>
#include <glib.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "campaign.h"
#include "clock.h"
#include "config.h"
#include "diag.h"
#include "duration.h"
#include "engine.h"
#include "ingest.h"
#include "log.h"
#include "store.h"
#include "timefmt.h"
#include "util.h"
#include "validate.h"

struct sim_event {
	struct nt_event ev;
	size_t line;
};

/* Prints one timeline line: text for people, one JSON object a line with --json. */
static void
simulate_print(const struct journey_note *n, const char *customer, void *arg)
{
	int as_json = *(int *)arg;
	char when[40];

	timefmt_format_utc(n->at_ms, when, sizeof(when));
	if (as_json) {
		json_t *o =
		    json_pack("{s:s,s:s,s:s,s:s}", "at", when, "customer", customer ? customer : "",
			      "campaign", n->campaign_id, "action", note_action_name(n->action));
		json_object_set_new(o, "step", n->step_id ? json_string(n->step_id) : json_null());
		json_object_set_new(o, "channel",
				    n->channel ? json_string(n->channel) : json_null());
		json_object_set_new(o, "template",
				    n->template ? json_string(n->template) : json_null());
		json_object_set_new(o, "reason", n->reason ? json_string(n->reason) : json_null());
		char *text = json_dumps(o, JSON_COMPACT | JSON_PRESERVE_ORDER);
		puts(text);
		free(text);
		json_decref(o);
		return;
	}
	printf("%s  %-12s %-22s %-16s %-5s", when, customer ? customer : "", n->campaign_id,
	       n->step_id ? n->step_id : "-", note_action_name(n->action));
	if (n->channel)
		printf("  %s/%s", n->channel, n->template ? n->template : "");
	if (n->reason)
		printf("  (%s)", n->reason);
	putchar('\n');
}

/* Calls FN on each non-empty line of FILE as JSON; problems go to D with line and column. */
static int
simulate_read_jsonl(const char *file, struct diag *d,
		    void (*fn)(json_t *, size_t line, void *arg, struct diag *d), void *arg)
{
	gchar *text = NULL;
	gchar **lines;

	if (!g_file_get_contents(file, &text, NULL, NULL)) {
		diag_add(d, NULL, "cannot read");
		return -1;
	}
	lines = g_strsplit(text, "\n", -1);
	for (size_t i = 0; lines[i] != NULL; i++) {
		json_error_t jerr;
		if (g_strstrip(lines[i])[0] == '\0')
			continue;
		json_t *v = json_loads(lines[i], JSON_REJECT_DUPLICATES, &jerr);
		if (v == NULL)
			diag_add_at(d, (int)i + 1, jerr.column, "%s", jerr.text);
		else
			fn(v, i + 1, arg, d);
		json_decref(v);
	}
	g_strfreev(lines);
	g_free(text);
	return 0;
}

struct sim_customers {
	struct store *store;
	int64_t now;
};

static void
simulate_customer(json_t *v, size_t line, void *arg, struct diag *d)
{
	struct sim_customers *sc = arg;
	struct verr err;
	int64_t id;

	if (validate_customer(v, 1, "", &err) < 0)
		diag_add_at(d, (int)line, 1, "%s", err.msg);
	else if (store_customer_upsert(sc->store, json_string_value(json_object_get(v, "id")), v,
				       sc->now, &id) != STORE_OK)
		diag_add_at(d, (int)line, 1, "cannot store the customer");
}

struct sim_events {
	struct sim_event *v;
	size_t n;
};

static void
simulate_event(json_t *v, size_t line, void *arg, struct diag *d)
{
	struct sim_events *se = arg;
	struct verr err;

	if (!json_is_string(json_object_get(v, "time"))) {
		diag_add_at(d, (int)line, 1, "every event needs a \"time\" to be simulated");
		return;
	}
	se->v = xrealloc(se->v, (se->n + 1) * sizeof(*se->v));
	if (validate_event(v, 0, &se->v[se->n].ev, &err) < 0) {
		diag_add_at(d, (int)line, 1, "%s", err.msg);
		return;
	}
	se->v[se->n++].line = line;
}

/* Stable by time, then by line: events of one customer keep their order. */
static int
simulate_cmp(const void *a, const void *b)
{
	const struct sim_event *x = a, *y = b;
	if (x->ev.time_ms != y->ev.time_ms)
		return x->ev.time_ms < y->ev.time_ms ? -1 : 1;
	return x->line < y->line ? -1 : (x->line > y->line);
}

/* Runs the engine until nothing is left to do at the current virtual time. */
static enum store_status
simulate_settle(struct engine *e)
{
	enum store_status rc = STORE_OK;
	int n1 = 1, n2 = 1;
	while (rc == STORE_OK && (n1 > 0 || n2 > 0)) {
		rc = engine_consume(e, 1000, &n1);
		if (rc == STORE_OK)
			rc = engine_run_due(e, 1000, &n2);
	}
	return rc;
}

static void
simulate_usage(FILE *f)
{
	fprintf(f, "usage: nurtured simulate --campaigns DIR --events FILE.jsonl "
		   "[--customers FILE.jsonl] [--until 180d] [--config FILE] [--json]\n");
}

int
simulate_main(int argc, char **argv)
{
	static const struct option longopts[] = {{"campaigns", required_argument, NULL, 'c'},
						 {"events", required_argument, NULL, 'e'},
						 {"customers", required_argument, NULL, 'u'},
						 {"until", required_argument, NULL, 't'},
						 {"json", no_argument, NULL, 'j'},
						 {"config", required_argument, NULL, 'f'},
						 {NULL, 0, NULL, 0}};
	const char *dir = NULL, *events = NULL, *customers = NULL, *until = "180d", *conf = NULL;
	int as_json = 0, ch, rc = 1;
	int64_t horizon;
	struct diag d;
	struct campaign_set *set = NULL;
	struct store *store = NULL;
	struct engine *engine = NULL;
	struct sim_events se = {0};
	struct clock clk;
	char err[256];

	optind = 1;
	while ((ch = getopt_long(argc, argv, "", longopts, NULL)) != -1) {
		switch (ch) {
		case 'c':
			dir = optarg;
			break;
		case 'e':
			events = optarg;
			break;
		case 'u':
			customers = optarg;
			break;
		case 't':
			until = optarg;
			break;
		case 'j':
			as_json = 1;
			break;
		case 'f':
			conf = optarg;
			break;
		default:
			simulate_usage(stderr);
			return 2;
		}
	}
	if (dir == NULL || events == NULL || optind != argc) {
		simulate_usage(stderr);
		return 2;
	}
	if (duration_parse(until, 0, &horizon) < 0) {
		fprintf(stderr, "nurtured simulate: --until: '%s' is not a duration like 180d\n",
			until);
		return 2;
	}
	log_init(1, LOG_LEVEL_WARN);
	struct config *cfg = NULL;
	if (conf != NULL) { /* for the settings that shape decisions: the frequency cap */
		diag_init(&d, conf, NULL);
		cfg = config_load(conf, &d);
		for (size_t i = 0; i < d.n; i++)
			fprintf(stderr, "%s\n", d.msgs[i]);
		diag_free(&d);
		if (cfg == NULL)
			return 1;
	}
	diag_init(&d, dir, NULL);
	struct campaign_ctx ctx = {0}; /* simulate checks neither channels nor templates */
	set = campaign_load_dir(dir, &ctx, &d);
	if (set != NULL) {
		d.file = events;
		simulate_read_jsonl(events, &d, simulate_event, &se);
	}
	struct store_options so = {.backend = "sqlite", .data_dir = NULL};
	if (d.n == 0 && (store = store_open(&so, err, sizeof(err))) == NULL)
		diag_add(&d, NULL, "%s", err);
	if (d.n == 0 && se.n == 0)
		diag_add(&d, NULL, "no events to simulate");
	if (d.n == 0) {
		qsort(se.v, se.n, sizeof(*se.v), simulate_cmp);
		clock_virtual_init(&clk, se.v[0].ev.time_ms);
		horizon += se.v[0].ev.time_ms;
		store_begin(store);
		if (customers != NULL) {
			struct sim_customers sc = {store, clk.now_ms};
			d.file = customers;
			simulate_read_jsonl(customers, &d, simulate_customer, &sc);
		}
		engine = engine_new(store, set, &clk, "simulate.invalid");
		engine_set_observer(engine, simulate_print, &as_json);
		if (cfg != NULL) {
			engine_set_cap(engine, cfg->cap_max, cfg->cap_per_ms);
			engine_set_stages(engine, &cfg->stages);
		}
		if (engine_register(engine) != STORE_OK)
			diag_add(&d, NULL, "cannot record the campaigns");
		store_commit(store);
	}
	for (size_t i = 0; d.n == 0 && i <= se.n;) {
		/* Virtual time jumps to whatever comes first: the next event or the next due step.
		 */
		int64_t next_ev = i < se.n ? se.v[i].ev.time_ms : INT64_MAX;
		int64_t due = engine_next_due(engine);
		int64_t t = due >= 0 && due < next_ev ? due : next_ev;
		if (t == INT64_MAX || t > horizon)
			break;
		clock_virtual_advance_to(&clk, t);
		store_begin(store);
		for (; i < se.n && se.v[i].ev.time_ms <= clock_now(&clk); i++) {
			unsigned char dup = 0;
			long conflict = -1;
			if (ingest_events(store, &se.v[i].ev, 1, clock_now(&clk), &dup,
					  &conflict) != STORE_OK)
				diag_add_at(&d, (int)se.v[i].line, 1,
					    "event id '%s' reused with other content",
					    se.v[i].ev.key);
		}
		if (simulate_settle(engine) != STORE_OK || store_commit(store) != STORE_OK) {
			diag_add(&d, NULL, "the engine failed at %lld", (long long)clock_now(&clk));
			break;
		}
		if (i == se.n && engine_next_due(engine) < 0)
			break;
	}
	for (size_t i = 0; i < d.n; i++)
		fprintf(stderr, "%s\n", d.msgs[i]);
	rc = d.n ? 1 : 0;
	diag_free(&d);
	engine_free(engine);
	store_close(store);
	for (size_t i = 0; i < se.n; i++)
		nt_event_clear(&se.v[i].ev);
	free(se.v);
	campaign_set_free(set);
	config_free(cfg);
	return rc;
}
