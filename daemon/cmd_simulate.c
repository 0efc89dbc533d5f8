/*
 * `nurtured simulate`: the daemon's engine on a virtual clock, over an in-memory store. Every
 * send goes through the daemon's one send path (message_queue: consent, suppression, the
 * template, the headers, the outbox row), with the daemon's quiet hours and frequency cap, so
 * the timeline it prints is the notes the daemon would record. Delivery is not simulated.
 */
#include "cmd_simulate.h"

#include <getopt.h>
#include <glib.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../plugins/nurtured-plugin.h"
#include "campaign.h"
#include "clock.h"
#include "compose.h"
#include "config.h"
#include "broadcast.h"
#include "condition.h"
#include "daemon.h"
#include "diag.h"
#include "duration.h"
#include "engine.h"
#include "ingest.h"
#include "log.h"
#include "mime.h"
#include "plugin.h"
#include "segment.h"
#include "store.h"
#include "store_broadcast.h"
#include "template.h"
#include "timefmt.h"
#include "util.h"
#include "validate.h"

struct sim_event {
	struct nt_event ev;
	size_t line;
};

struct sim_out {
	int as_json;
	int show;	 /* --show-messages */
	const char *dir; /* --show-messages=DIR: one file a message */
	struct store *store;
	long n_messages; /* written to DIR */
	struct diag *d;
};

/*
 * The rendered message of a send just noted: claimed from the outbox (simulate delivers
 * nothing, so a claim only takes it out of the next one), NULL when there is none.
 */
static struct outbox_msg *
simulate_message(struct sim_out *so, const struct journey_note *n, size_t *cnt)
{
	struct outbox_msg *m = NULL;

	*cnt = 0;
	if (store_outbox_claim(so->store, n->channel, n->at_ms, 1000, &m, cnt) != STORE_OK)
		return NULL;
	return m;
}

/* --show-messages=DIR: NNNNNN-customer-campaign-step.eml (or .json), the payload as queued. */
static void
simulate_write_message(struct sim_out *so, const struct outbox_msg *m)
{
	int json = m->payload_len > 0 && m->payload[0] == '{';
	char *path = xasprintf("%s/%06ld-%s-%s-%s.%s", so->dir, ++so->n_messages,
			       m->customer ? m->customer : "", m->campaign_id, m->step_id,
			       json ? "json" : "eml");
	for (char *p = path + strlen(so->dir) + 1; *p; p++)
		if (*p == '/')
			*p = '_';
	GError *err = NULL;
	if (!g_file_set_contents(path, m->payload ? m->payload : "", (gssize)m->payload_len,
				 &err)) {
		diag_add(so->d, NULL, "cannot write %s: %s", path, err->message);
		g_error_free(err);
	}
	free(path);
}

/* Prints one timeline line: text for people, one JSON object a line with --json. */
static void
simulate_print(const struct journey_note *n, const char *customer, void *arg)
{
	struct sim_out *so = arg;
	int as_json = so->as_json;
	char when[40];
	struct outbox_msg *msgs = NULL;
	size_t n_msgs = 0;

	if (so->show && n->action == NOTE_SEND)
		msgs = simulate_message(so, n, &n_msgs);
	if (so->dir != NULL) {
		for (size_t i = 0; i < n_msgs; i++)
			simulate_write_message(so, &msgs[i]);
		outbox_msg_free_all(msgs, n_msgs);
		msgs = NULL;
		n_msgs = 0;
	}

	/* The experiment's arm the journey was assigned at entry (issue 19), if any. */
	struct assignment a = {0};
	if (n->action == NOTE_ENTER)
		store_assignment_get(so->store, n->journey_id, &a);
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
		if (a.arm != NULL)
			json_object_set_new(o, "arm", json_string(a.arm));
		assignment_clear(&a);
		for (size_t i = 0; i < n_msgs; i++)
			json_object_set_new(o, "message",
					    json_stringn(msgs[i].payload ? msgs[i].payload : "",
							 msgs[i].payload_len));
		char *text = json_dumps(o, JSON_COMPACT | JSON_PRESERVE_ORDER);
		puts(text);
		free(text);
		json_decref(o);
		outbox_msg_free_all(msgs, n_msgs);
		return;
	}
	printf("%s  %-12s %-22s %-16s %-5s", when, customer ? customer : "", n->campaign_id,
	       n->step_id ? n->step_id : "-", note_action_name(n->action));
	if (n->channel)
		printf("  %s/%s", n->channel, n->template ? n->template : "");
	if (n->reason)
		printf("  (%s)", n->reason);
	if (a.arm != NULL)
		printf("  [arm %s]", a.arm);
	assignment_clear(&a);
	putchar('\n');
	for (size_t i = 0; i < n_msgs; i++) {
		fwrite(msgs[i].payload, 1, msgs[i].payload_len, stdout);
		if (msgs[i].payload_len == 0 || msgs[i].payload[msgs[i].payload_len - 1] != '\n')
			putchar('\n');
		puts("--");
	}
	outbox_msg_free_all(msgs, n_msgs);
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

struct sim_suppressions {
	struct store *store;
	const char *secret;
	int64_t now;
};

/* One suppression a line, as POST /v1/suppressions takes it: {"address", "reason"?}. */
static void
simulate_suppression(json_t *v, size_t line, void *arg, struct diag *d)
{
	struct sim_suppressions *ss = arg;
	const char *addr = json_string_value(json_object_get(v, "address"));
	json_t *reason = json_object_get(v, "reason");

	if (!json_is_object(v) || addr == NULL || !validate_email(addr))
		diag_add_at(d, (int)line, 1, "a suppression needs \"address\": an email address");
	else if (reason != NULL && !json_is_string(reason))
		diag_add_at(d, (int)line, 1, "\"reason\" must be a string");
	else if (store_suppression_add(ss->store, ss->secret, addr,
				       reason ? json_string_value(reason) : "manual",
				       ss->now) != STORE_OK)
		diag_add_at(d, (int)line, 1, "cannot store the suppression");
}

/* Issue 17: --broadcasts, a broadcast a line as POST /v1/broadcasts takes it, or a segment. */
struct sim_broadcasts {
	struct store *store;
	const struct config *cfg;
	const struct compose_ctx *cx;
	int64_t now; /* the first event's time: "now" */
};

static void
simulate_broadcast(json_t *v, size_t line, void *arg, struct diag *d)
{
	struct sim_broadcasts *sb = arg;
	json_t *seg = json_object_get(v, "segment");
	char *err = NULL;
	const char *field = NULL;
	int64_t due;

	if (json_is_object(seg)) {
		const char *id = json_string_value(json_object_get(seg, "id"));
		struct cond *c =
		    segment_compile(json_object_get(seg, "condition"), "condition", &err);
		cond_free(c);
		char *text =
		    json_dumps(json_object_get(seg, "condition"), JSON_COMPACT | JSON_SORT_KEYS);
		struct segment_row r = {.id = (char *)id,
					.name =
					    (char *)json_string_value(json_object_get(seg, "name")),
					.condition = text,
					.created_ms = sb->now};
		if (c == NULL || id == NULL || r.name == NULL)
			diag_add_at(d, (int)line, 1, "segment: %s",
				    err ? err : "needs \"id\", \"name\" and \"condition\"");
		else if (store_segment_add(sb->store, &r) != STORE_OK)
			diag_add_at(d, (int)line, 1, "segment '%s' given twice", id);
		free(text);
		free(err);
		return;
	}
	if (broadcast_spec_check(v, sb->cfg, sb->now, &due, &err, &field) < 0) {
		diag_add_at(d, (int)line, 1, "%s%s%s", field ? field : "", field ? ": " : "", err);
		free(err);
		return;
	}
	if (due < 0) {
		diag_add_at(d, (int)line, 1, "send_at: a simulated broadcast needs one");
		return;
	}
	/* The content renders, as the daemon checks it at creation. */
	json_t *files = broadcast_sources(sb->cfg->templates_dir, v, &err);
	char *why = files ? broadcast_render_check(sb->cx, v, files) : err;
	json_decref(files);
	if (why != NULL) {
		diag_add_at(d, (int)line, 1, "content: %s", why);
		free(why);
		return;
	}
	char *text = json_dumps(v, JSON_COMPACT | JSON_SORT_KEYS);
	struct broadcast_row r = {.id = (char *)json_string_value(json_object_get(v, "id")),
				  .state = BROADCAST_SCHEDULED,
				  .spec = text,
				  .due_ms = due,
				  .created_ms = sb->now,
				  .updated_ms = sb->now,
				  .started_ms = -1,
				  .finished_ms = -1};
	if (store_broadcast_add(sb->store, &r) != STORE_OK)
		diag_add_at(d, (int)line, 1, "broadcast '%s' given twice", r.id);
	free(text);
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
	fprintf(f, "usage: nurtured simulate --campaigns DIR --events FILE.jsonl\n"
		   "         [--customers FILE.jsonl] [--suppressions FILE.jsonl] [--until 180d]\n"
		   "         [--config FILE] [--templates DIR] [--json] [--show-messages[=DIR]]\n"
		   "         [--broadcasts FILE.jsonl]\n");
}

/* The payload a channel wants: the daemon's answer (its "payload" key, else its plugin's). */
static int
simulate_channel_payload(const char *channel, void *arg)
{
	int p = plugin_channel_payload(arg, channel);
	return p ? p : NT_PAYLOAD_MIME;
}

/*
 * The templates: --templates, else the config's templates_dir when a config is given, else
 * DIR/templates beside the campaigns when there is one (the repository's layout). Checked as
 * the daemon checks them at start: a send step without its template is an error.
 */
static struct template_set *
simulate_templates(struct config *cfg, const char *opt, int have_conf, const char *dir,
		   const struct campaign_set *set, struct diag *d)
{
	char *beside = g_build_filename(dir, "templates", NULL);
	if (opt != NULL) {
		free(cfg->templates_dir);
		cfg->templates_dir = xstrdup(opt);
	} else if (!have_conf && g_file_test(beside, G_FILE_TEST_IS_DIR)) {
		free(cfg->templates_dir);
		cfg->templates_dir = xstrdup(beside);
	}
	g_free(beside);
	const char *file = d->file;
	size_t before = d->n;
	struct template_set *t = daemon_load_templates(cfg, set, d);
	d->file = file;
	if (d->n > before && !g_file_test(cfg->templates_dir, G_FILE_TEST_IS_DIR))
		diag_add(d, NULL,
			 "simulate renders every message as the daemon does: give the templates "
			 "with --templates DIR (or templates_dir in --config)");
	return t;
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
						 {"templates", required_argument, NULL, 'T'},
						 {"suppressions", required_argument, NULL, 's'},
						 {"show-messages", optional_argument, NULL, 'm'},
						 {"broadcasts", required_argument, NULL, 'b'},
						 {NULL, 0, NULL, 0}};
	const char *dir = NULL, *events = NULL, *customers = NULL, *until = "180d", *conf = NULL,
		   *tdir = NULL, *suppressions = NULL, *broadcasts = NULL;
	struct sim_out out = {0};
	int ch, rc = 1;
	struct template_set *tpl = NULL;
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
			out.as_json = 1;
			break;
		case 'T':
			tdir = optarg;
			break;
		case 's':
			suppressions = optarg;
			break;
		case 'm':
			out.show = 1;
			out.dir = optarg;
			break;
		case 'f':
			conf = optarg;
			break;
		case 'b':
			broadcasts = optarg;
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
	if (out.dir != NULL && !g_file_test(out.dir, G_FILE_TEST_IS_DIR)) {
		fprintf(stderr, "nurtured simulate: --show-messages: '%s' is not a directory\n",
			out.dir);
		return 2;
	}
	log_init(1, LOG_LEVEL_WARN);
	mime_init();
	/* The daemon's settings that shape decisions: channels, the cap, stages, opt-in
	 * topics, mail_from, public_url; the defaults without --config, as the daemon has. */
	struct config *cfg = NULL;
	diag_init(&d, conf ? conf : "(defaults)", NULL);
	cfg = config_load(conf, &d);
	for (size_t i = 0; i < d.n; i++)
		fprintf(stderr, "%s\n", d.msgs[i]);
	if (cfg == NULL || d.n > 0) {
		diag_free(&d);
		config_free(cfg);
		return 1;
	}
	diag_free(&d);
	diag_init(&d, dir, NULL);
	struct campaign_ctx ctx = {.channels = cfg->channels};
	set = campaign_load_dir(dir, &ctx, &d);
	if (set != NULL && d.n == 0)
		tpl = simulate_templates(cfg, tdir, conf != NULL, dir, set, &d);
	struct compose_ctx cx = {.cfg = cfg,
				 .tpl = tpl,
				 .secret = cfg->secret ? cfg->secret : "nurtured-simulate",
				 .msgid_domain = "simulate.invalid",
				 .channel_payload = simulate_channel_payload,
				 .arg = cfg};
	if (set != NULL && d.n == 0) {
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
		if (suppressions != NULL) {
			struct sim_suppressions ss = {store, cx.secret, clk.now_ms};
			d.file = suppressions;
			simulate_read_jsonl(suppressions, &d, simulate_suppression, &ss);
		}
		if (broadcasts != NULL && d.n == 0) {
			struct sim_broadcasts sb = {store, cfg, &cx, clk.now_ms};
			d.file = broadcasts;
			simulate_read_jsonl(broadcasts, &d, simulate_broadcast, &sb);
		}
		out.store = store;
		out.d = &d;
		engine = engine_new(store, set, &clk, "simulate.invalid");
		engine_set_observer(engine, simulate_print, &out);
		engine_set_compose(engine, &cx);
		engine_set_cap(engine, cfg->cap_max, cfg->cap_per_ms);
		engine_set_stages(engine, &cfg->stages);
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
	template_set_free(tpl);
	config_free(cfg);
	plugin_unload_all();
	return rc;
}
