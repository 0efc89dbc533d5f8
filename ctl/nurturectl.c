/* nurturectl: look at customers, messages and campaigns of a running nurtured, for people. */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "build.h"
#include "ctl.h"

#define NT_LEN(a) (sizeof(a) / sizeof((a)[0]))
#define CTL_DEFAULT_URL "http://127.0.0.1:7800"
#ifndef NT_SYSCONFDIR
#define NT_SYSCONFDIR "/etc/nurtured"
#endif

struct args {
	const char *state, *customer, *campaign, *to;
	const char *kind; /* inbound (issue 16) */
	int unmatched;
	const char *map, *format, *batch; /* import */
};

static void
ctl_usage(FILE *f)
{
	fputs(
	    "usage: nurturectl [--url URL] [--token TOKEN] [--config FILE] [--json] COMMAND\n"
	    "commands:\n"
	    "  customer ID                      profile, consent, events, journeys, messages\n"
	    "  customers [FILTER...]            every customer (FILTER: email=, stage=,\n"
	    "                                   consent=TOPIC[:STATE], attr.KEY=VALUE,\n"
	    "                                   created_since=TIME, updated_since=TIME)\n"
	    "  export [FILTER...]               everything held, one JSON line a customer\n"
	    "  import [--map H=T,...] [--format csv|jsonl] [--batch N] FILE\n"
	    "                                   customers from CSV (header row) or JSON lines\n"
	    "  messages [--state S] [--customer ID] [--campaign ID]\n"
	    "  retry MESSAGE_ID                 queue a failed, expired or deferred message again\n"
	    "  status                           the daemon: queues, outbox, channels\n"
	    "  campaigns                        every campaign with its counts\n"
	    "  stats [CAMPAIGN]                 a campaign's statistics, or a summary of all\n"
	    "  pause CAMPAIGN | resume CAMPAIGN\n"
	    "  send-test CAMPAIGN STEP --to ADDRESS\n"
	    "  inbound [--kind K] [--unmatched] what came back: bounces, complaints, replies\n"
	    "  broadcast list | show ID | create FILE | cancel ID | delete ID\n"
	    "  broadcast test ID --to ADDRESS   a newsletter (FILE: the request, - for stdin)\n"
	    "  segment list | show ID | count ID | delete ID | create ID NAME CONDITION\n",
	    f);
}

static void __attribute__((noreturn)) ctl_usage_error(const char *fmt, const char *arg)
{
	fputs("nurturectl: ", stderr);
	fprintf(stderr, fmt, arg);
	fputc('\n', stderr);
	ctl_usage(stderr);
	exit(CTL_EXIT_USAGE);
}

/* A config file gives what neither a flag nor the environment gave; a missing default is fine. */
static int
ctl_load_config(const char *file, int required, char **url, char **token)
{
	json_error_t jerr;
	json_t *root = json_load_file(file, 0, &jerr);
	const json_t *u, *t;

	if (root == NULL) {
		if (!required && jerr.line == -1)
			return 0; /* not there (Jansson reports unreadable files at line -1) */
		ctl_die(CTL_EXIT_USAGE, "%s: %s", file, jerr.text);
	}
	u = json_object_get(root, "url");
	t = json_object_get(root, "token");
	if (!json_is_object(root) || (u != NULL && !json_is_string(u)) ||
	    (t != NULL && !json_is_string(t)))
		ctl_die(CTL_EXIT_USAGE,
			"%s: must be an object {\"url\": \"...\", \"token\": \"...\"}", file);
	if (*url == NULL && u != NULL)
		*url = ctl_strdup(json_string_value(u));
	if (*token == NULL && t != NULL)
		*token = ctl_strdup(json_string_value(t));
	json_decref(root);
	return 1;
}

/* Flags first, then NURTURED_URL/NURTURED_TOKEN, then the config file, then the default URL. */
static void
ctl_connect(struct ctl *c, const char *url, const char *token, const char *config)
{
	char *u = url ? ctl_strdup(url) : NULL, *t = token ? ctl_strdup(token) : NULL;

	if (u == NULL && getenv("NURTURED_URL") && *getenv("NURTURED_URL"))
		u = ctl_strdup(getenv("NURTURED_URL"));
	if (t == NULL && getenv("NURTURED_TOKEN") && *getenv("NURTURED_TOKEN"))
		t = ctl_strdup(getenv("NURTURED_TOKEN"));
	if (config != NULL)
		ctl_load_config(config, 1, &u, &t);
	else if (u == NULL || t == NULL) {
		const char *home = getenv("HOME");
		char *p = home ? ctl_asprintf("%s/.config/nurturectl.json", home) : NULL;
		if (p == NULL || !ctl_load_config(p, 0, &u, &t))
			ctl_load_config(NT_SYSCONFDIR "/nurturectl.json", 0, &u, &t);
		free(p);
	}
	if (u == NULL)
		u = ctl_strdup(CTL_DEFAULT_URL);
	size_t n = strlen(u);
	while (n > 0 && u[n - 1] == '/')
		u[--n] = '\0';
	c->url = u;
	c->token = t;
}

/* A path with one escaped id: FMT has exactly one %s. */
static char *
ctl_path(const char *fmt, const char *id)
{
	char *e = ctl_escape(id);
	char *p = ctl_asprintf(fmt, e);
	free(e);
	return p;
}

/* Every page of /v1/messages with QUERY, as one array (the API pages with next_after). */
static json_t *
ctl_messages_fetch(const struct ctl *c, const char *query)
{
	json_t *all = json_array();
	json_int_t after = -1;

	for (;;) {
		char *path = after < 0 ? ctl_asprintf("/v1/messages?%s", query)
				       : ctl_asprintf("/v1/messages?%s%safter=%lld", query,
						      *query ? "&" : "", (long long)after);
		json_t *doc = ctl_http_ok(c, "GET", path, NULL);
		free(path);
		json_array_extend(all, json_object_get(doc, "messages"));
		const json_t *next = json_object_get(doc, "next_after");
		after = json_is_integer(next) ? json_integer_value(next) : -1;
		json_decref(doc);
		if (after < 0)
			return all;
	}
}

/* A table of LIST's objects: HEADS over the values under KEYS. */
static void
ctl_list(const json_t *list, size_t ncols, const char *const *heads, const char *const *keys)
{
	struct table *t = table_new(ncols, heads);
	size_t i;
	json_t *o;

	json_array_foreach(list, i, o) table_row_json(t, o, keys);
	table_print(t);
	table_free(t);
}

/* A titled section; an empty list says so in one line. */
static void
ctl_section(const char *title, const json_t *list, size_t ncols, const char *const *heads,
	    const char *const *keys)
{
	printf("\n%s\n", title);
	if (json_array_size(list) == 0)
		puts("(none)");
	else
		ctl_list(list, ncols, heads, keys);
}

/* "name  value" lines, names padded to the longest; LABELS[i] shows KEYS[i] of OBJ. */
static void
ctl_kv(const json_t *obj, size_t n, const char *const *labels, const char *const *keys)
{
	int w = 0;

	for (size_t i = 0; i < n; i++)
		if ((int)strlen(labels[i]) > w)
			w = (int)strlen(labels[i]);
	for (size_t i = 0; i < n; i++) {
		char *v = ctl_cell(obj, keys[i]);
		printf("%-*s  %s\n", w, labels[i], v);
		free(v);
	}
}

/* An object of name -> count as a two-column list (exit reasons, skip reasons, outbox). */
static void
ctl_counts(const char *title, const char *head, const json_t *obj)
{
	const char *heads[] = {head, "COUNT"};
	struct table *t;
	const char *k;
	json_t *v;

	printf("\n%s\n", title);
	if (!json_is_object(obj) || json_object_size(obj) == 0) {
		puts("(none)");
		return;
	}
	t = table_new(2, heads);
	json_object_foreach((json_t *)obj, k, v)
	{
		char *n = ctl_cell(v, NULL);
		const char *row[] = {k, n};
		table_row(t, row);
		free(n);
	}
	table_print(t);
	table_free(t);
}

static const char *const MSG_HEADS[] = {"ID",	 "CUSTOMER", "CAMPAIGN", "STEP",  "CHANNEL",
					"STATE", "ATTEMPTS", "UPDATED",	 "REASON"};
static const char *const MSG_KEYS[] = {"id",	"customer", "campaign", "step",	 "channel",
				       "state", "attempts", "updated",	"reason"};

static const char *const CMSG_HEADS[] = {"ID",	  "CAMPAIGN", "STEP",	 "CHANNEL",
					 "STATE", "ATTEMPTS", "UPDATED", "REASON"};
static const char *const CMSG_KEYS[] = {"id",	 "campaign", "step",	"channel",
					"state", "attempts", "updated", "reason"};

/* The consent log is topic -> {state, updated, source, ...}; the table keeps the topic. */
static json_t *
ctl_consent_rows(const json_t *c)
{
	const json_t *log = json_object_get(c, "consent_log");
	const json_t *cons = json_object_get(c, "consent");
	json_t *rows = json_array();
	const char *k;
	json_t *v;

	if (json_is_array(log))
		return json_array_extend(rows, (json_t *)log), rows;
	json_object_foreach((json_t *)cons, k, v)
	{
		json_t *r = json_is_object(json_object_get(log, k))
				? json_deep_copy(json_object_get(log, k))
				: json_object();
		json_object_set_new(r, "topic", json_string(k));
		if (json_object_get(r, "state") == NULL)
			json_object_set(r, "state", v);
		json_array_append_new(rows, r);
	}
	return rows;
}

static int
ctl_customer(const struct ctl *c, const char *id)
{
	char *path = ctl_path("/v1/customers/%s", id), *q = ctl_escape(id);
	char *query = ctl_asprintf("customer=%s", q);
	json_t *cust = ctl_http_ok(c, "GET", path, NULL);
	json_t *msgs = ctl_messages_fetch(c, query);

	free(path);
	free(q);
	free(query);
	if (c->json) {
		json_t *doc = json_pack("{s:O,s:O}", "customer", cust, "messages", msgs);
		ctl_print_json(doc);
		json_decref(doc);
	} else {
		static const char *const pl[] = {"customer", "email",	  "name",  "locale",
						 "timezone", "birthday",  "stage", "created",
						 "updated",  "attributes"};
		static const char *const pk[] = {"id",	     "email",	  "name",  "locale",
						 "timezone", "birthday",  "stage", "created",
						 "updated",  "attributes"};
		ctl_kv(cust, NT_LEN(pl), pl, pk);
		json_t *consent = ctl_consent_rows(cust);
		static const char *const ch[] = {"TOPIC", "STATE", "UPDATED", "SOURCE",
						 "CONFIRMED"};
		static const char *const ck[] = {"topic", "state", "updated", "source",
						 "confirmed"};
		ctl_section("consent", consent, 5, ch, ck);
		json_decref(consent);
		static const char *const eh[] = {"ID", "TYPE", "TIME", "PROPERTIES"};
		static const char *const ek[] = {"id", "type", "time", "properties"};
		ctl_section("events", json_object_get(cust, "events"), 4, eh, ek);
		static const char *const jh[] = {"CAMPAIGN", "STEP",	"ACTIVE", "ENTERED",
						 "DUE",	     "WAITING", "EXITED", "EXIT_REASON"};
		static const char *const jk[] = {"campaign", "step",	   "active",
						 "entered",  "due",	   "waiting_for",
						 "exited",   "exit_reason"};
		ctl_section("journeys", json_object_get(cust, "journeys"), 8, jh, jk);
		ctl_section("messages", msgs, 8, CMSG_HEADS, CMSG_KEYS);
		static const char *const nh[] = {"AT", "CAMPAIGN", "STEP", "ACTION", "REASON"};
		static const char *const nk[] = {"at", "campaign", "step", "action", "reason"};
		ctl_section("notes", json_object_get(cust, "notes"), 5, nh, nk);
	}
	json_decref(cust);
	json_decref(msgs);
	return 0;
}

/* Appends "&key=value" (escaped) to *Q when VALUE is set. */
static void
ctl_query_add(char **q, const char *key, const char *value)
{
	if (value == NULL)
		return;
	char *e = ctl_escape(value);
	char *n = ctl_asprintf("%s%s%s=%s", *q, **q ? "&" : "", key, e);
	free(e);
	free(*q);
	*q = n;
}

static int
ctl_messages(const struct ctl *c, const struct args *a)
{
	char *q = ctl_strdup("");
	json_t *msgs;

	ctl_query_add(&q, "state", a->state);
	ctl_query_add(&q, "customer", a->customer);
	ctl_query_add(&q, "campaign", a->campaign);
	msgs = ctl_messages_fetch(c, q);
	free(q);
	if (c->json) {
		json_t *doc = json_pack("{s:O}", "messages", msgs);
		ctl_print_json(doc);
		json_decref(doc);
	} else if (json_array_size(msgs) == 0)
		puts("(no messages)");
	else
		ctl_list(msgs, NT_LEN(MSG_HEADS), MSG_HEADS, MSG_KEYS);
	json_decref(msgs);
	return 0;
}

static const char *const IN_HEADS[] = {"ID",	 "RECEIVED", "KIND",	"SOURCE",
				       "EFFECT", "CUSTOMER", "ADDRESS", "STATUS"};
static const char *const IN_KEYS[] = {"id",	"received", "kind",    "source",
				      "effect", "customer", "address", "status"};

/* Issue 16: GET /v1/inbound, newest first; unmatched ones are what needs a person. */
static int
ctl_inbound(const struct ctl *c, const struct args *a)
{
	char *q = ctl_strdup("");
	ctl_query_add(&q, "kind", a->kind);
	ctl_query_add(&q, "unmatched", a->unmatched ? "1" : NULL);
	char *path = ctl_asprintf("/v1/inbound%s%s", *q ? "?" : "", q);
	json_t *doc = ctl_http_ok(c, "GET", path, NULL);
	json_t *rows = json_object_get(doc, "inbound");

	free(q);
	free(path);
	if (c->json)
		ctl_print_json(doc);
	else if (json_array_size(rows) == 0)
		puts("(nothing came back)");
	else
		ctl_list(rows, NT_LEN(IN_HEADS), IN_HEADS, IN_KEYS);
	json_decref(doc);
	return 0;
}

static int
ctl_retry(const struct ctl *c, const char *id)
{
	char *path = ctl_path("/v1/messages/%s/retry", id);
	json_t *doc = ctl_http_ok(c, "POST", path, NULL);

	free(path);
	if (c->json)
		ctl_print_json(doc);
	else
		printf("message %s queued again\n", id);
	json_decref(doc);
	return 0;
}

/* Pauses or resumes a campaign in the daemon (kept across restarts); its file is untouched. */
static int
ctl_pause(const struct ctl *c, const char *campaign, const char *what)
{
	char *path = ctl_path(strcmp(what, "pause") == 0 ? "/v1/campaigns/%s/pause"
							 : "/v1/campaigns/%s/resume",
			      campaign);
	json_t *doc = ctl_http_ok(c, "POST", path, NULL);

	free(path);
	if (c->json)
		ctl_print_json(doc);
	else
		printf("campaign %s %s%s\n", campaign,
		       strcmp(what, "pause") == 0 ? "paused" : "resumed",
		       json_is_true(json_object_get(doc, "changed")) ? "" : " (already so)");
	json_decref(doc);
	return 0;
}

/* One send step rendered for a stand-in customer and sent to ADDRESS, outside the stats. */
static int
ctl_send_test(const struct ctl *c, const char *campaign, const char *step, const char *to)
{
	char *path = ctl_path("/v1/campaigns/%s/test", campaign);
	json_t *body = json_pack("{s:s,s:s}", "step", step, "to", to);
	json_t *doc = ctl_http_ok(c, "POST", path, body);
	const char *state = json_string_value(json_object_get(doc, "state"));
	int rc = 0;

	free(path);
	json_decref(body);
	if (c->json)
		ctl_print_json(doc);
	else if (state != NULL && strcmp(state, "queued") == 0)
		printf("queued %s to %s\n", json_string_value(json_object_get(doc, "message_id")),
		       to);
	else
		printf("not sent: %s\n", json_string_value(json_object_get(doc, "reason")));
	if (state == NULL || strcmp(state, "queued") != 0)
		rc = 1;
	json_decref(doc);
	return rc;
}

/* The keys changed on disk that the running daemon applies only after a restart. */
static void
ctl_restart_needed(const json_t *keys)
{
	size_t i;
	const json_t *k;

	if (json_array_size(keys) == 0)
		return;
	printf("\nrestart needed:");
	json_array_foreach(keys, i, k) printf("%s '%s'", i ? "," : "", json_string_value(k));
	printf(" changed in the configuration; the daemon runs on the old values until it "
	       "restarts\n");
}

static int
ctl_status(const struct ctl *c)
{
	json_t *doc = ctl_http_ok(c, "GET", "/v1/status", NULL);

	if (c->json)
		ctl_print_json(doc);
	else {
		static const char *const l[] = {"version", "uptime (s)", "store queue"};
		static const char *const k[] = {"version", "uptime_s", "store_queue"};
		static const char *const oh[] = {"QUEUED", "DEFERRED", "SENDING", "SENT",
						 "FAILED", "EXPIRED",  "SKIPPED"};
		static const char *const ok[] = {"queued", "deferred", "sending", "sent",
						 "failed", "expired",  "skipped"};
		static const char *const chh[] = {"NAME", "PLUGIN", "PAYLOAD", "INFLIGHT"};
		static const char *const chk[] = {"name", "plugin", "payload", "inflight"};
		json_t *outbox = json_array();
		json_array_append(outbox, json_object_get(doc, "outbox"));
		ctl_kv(doc, NT_LEN(l), l, k);
		ctl_section("outbox", outbox, NT_LEN(oh), oh, ok);
		json_t *tx = json_array();
		if (json_object_get(doc, "transactional") != NULL)
			json_array_append(tx, json_object_get(doc, "transactional"));
		ctl_section("transactional", tx, NT_LEN(oh), oh, ok);
		json_decref(tx);
		ctl_section("channels", json_object_get(doc, "channels"), NT_LEN(chh), chh, chk);
		/* Issue 21: the nodes sharing the store, what each holds, how fresh its leases are.
		 */
		static const char *const nh[] = {
		    "NODE", "LISTEN", "LIVE", "PARTITIONS", "HEARTBEAT AGE (s)", "LEASE AGE (s)"};
		static const char *const nk[] = {"node_id",    "listen",	  "live",
						 "partitions", "heartbeat_age_s", "lease_age_s"};
		const json_t *cl = json_object_get(doc, "cluster");
		if (cl != NULL) {
			char title[128];
			snprintf(title, sizeof(title), "nodes (this one: %s; %lld partitions)",
				 json_string_value(json_object_get(cl, "node_id")),
				 (long long)json_integer_value(json_object_get(cl, "partitions")));
			ctl_section(title, json_object_get(cl, "nodes"), NT_LEN(nh), nh, nk);
		}
		json_decref(outbox);
		ctl_restart_needed(json_object_get(doc, "restart_needed"));
	}
	json_decref(doc);
	return 0;
}

static const char *const CAMP_HEADS[] = {"ID",	    "NAME",    "STATUS", "TOPIC", "TRANSACTIONAL",
					 "VERSION", "ENTERED", "ACTIVE"};
static const char *const CAMP_KEYS[] = {"id",	   "name",    "status", "topic", "transactional",
					"version", "entered", "active"};

static int
ctl_campaigns(const struct ctl *c)
{
	json_t *doc = ctl_http_ok(c, "GET", "/v1/campaigns", NULL);
	const json_t *list = json_object_get(doc, "campaigns");

	if (c->json)
		ctl_print_json(doc);
	else if (json_array_size(list) == 0)
		puts("(no campaigns)");
	else
		ctl_list(list, NT_LEN(CAMP_HEADS), CAMP_HEADS, CAMP_KEYS);
	json_decref(doc);
	return 0;
}

static json_t *
ctl_stats_fetch(const struct ctl *c, const char *id)
{
	char *path = ctl_path("/v1/campaigns/%s/stats", id);
	json_t *doc = ctl_http_ok(c, "GET", path, NULL);
	free(path);
	return doc;
}

/* One campaign in full: counts, reasons, the goal, per step and per day. */
static void
ctl_stats_one(const json_t *s)
{
	static const char *const l[] = {"campaign", "entered", "active",      "sent",
					"failed",   "goal",    "conversions", "conversion rate"};
	static const char *const k[] = {"campaign", "entered", "active",      "sent",
					"failed",   "goal",    "conversions", "conversion_rate"};
	const json_t *goal = json_object_get(s, "goal");

	json_t *v = json_deep_copy(s);

	if (json_is_object(goal)) {
		char *e = ctl_cell(goal, "event"), *w = ctl_cell(goal, "within");
		json_object_set_new(v, "goal", json_sprintf("%s within %s", e, w));
		free(e);
		free(w);
	} else
		json_object_set_new(v, "goal", json_string("(none)"));
	ctl_kv(v, NT_LEN(l), l, k);
	json_decref(v);
	ctl_counts("exited", "REASON", json_object_get(s, "exited"));
	ctl_counts("skipped", "REASON", json_object_get(s, "skipped"));
	static const char *const sh[] = {"STEP", "PASSED", "SENT", "FAILED", "SKIPPED"};
	static const char *const sk[] = {"step", "passed", "sent", "failed", "skipped"};
	ctl_section("steps", json_object_get(s, "steps"), NT_LEN(sh), sh, sk);
	static const char *const dh[] = {"DAY",	   "ENTERED", "SENT",
					 "FAILED", "SKIPPED", "CONVERSIONS"};
	static const char *const dk[] = {"day",	   "entered", "sent",
					 "failed", "skipped", "conversions"};
	ctl_section("days", json_object_get(s, "days"), NT_LEN(dh), dh, dk);
	ctl_stats_measure(s);
}

/* Skips are counted per reason; the summary shows their sum. */
static json_int_t
ctl_sum(const json_t *v)
{
	json_int_t n = 0;
	const char *k;
	json_t *x;

	if (json_is_integer(v))
		return json_integer_value(v);
	json_object_foreach((json_t *)v, k, x) n += json_integer_value(x);
	return n;
}

static int
ctl_stats(const struct ctl *c, const char *id)
{
	if (id != NULL) {
		json_t *s = ctl_stats_fetch(c, id);
		if (c->json)
			ctl_print_json(s);
		else
			ctl_stats_one(s);
		json_decref(s);
		return 0;
	}
	json_t *doc = ctl_http_ok(c, "GET", "/v1/campaigns", NULL);
	json_t *all = json_array();
	size_t i;
	json_t *camp;

	json_array_foreach(json_object_get(doc, "campaigns"), i, camp)
	{
		const char *cid = json_string_value(json_object_get(camp, "id"));
		if (cid == NULL)
			continue;
		json_t *s = ctl_stats_fetch(c, cid);
		if (json_is_object(s))
			json_object_set_new(s, "skipped_total",
					    json_integer(ctl_sum(json_object_get(s, "skipped"))));
		json_array_append_new(all, s);
	}
	if (c->json) {
		json_t *out = json_pack("{s:O}", "stats", all);
		size_t j;
		json_t *s;
		json_array_foreach(all, j, s) json_object_del(s, "skipped_total");
		ctl_print_json(out);
		json_decref(out);
	} else if (json_array_size(all) == 0)
		puts("(no campaigns)");
	else {
		static const char *const h[] = {"CAMPAIGN", "ENTERED", "ACTIVE",      "SENT",
						"FAILED",   "SKIPPED", "CONVERSIONS", "RATE"};
		static const char *const k[] = {"campaign",    "entered",	 "active",
						"sent",	       "failed",	 "skipped_total",
						"conversions", "conversion_rate"};
		ctl_list(all, NT_LEN(h), h, k);
	}
	json_decref(all);
	json_decref(doc);
	return 0;
}

static void
ctl_nargs(int have, int min, int max, const char *cmd)
{
	if (have < min || have > max)
		ctl_usage_error("wrong number of arguments for '%s'", cmd);
}

int
main(int argc, char **argv)
{
	static const struct option opts[] = {
	    {"url", required_argument, NULL, 'u'},	{"token", required_argument, NULL, 't'},
	    {"config", required_argument, NULL, 'c'},	{"json", no_argument, NULL, 'j'},
	    {"state", required_argument, NULL, 's'},	{"customer", required_argument, NULL, 'C'},
	    {"campaign", required_argument, NULL, 'K'}, {"to", required_argument, NULL, 'T'},
	    {"kind", required_argument, NULL, 'k'},	{"unmatched", no_argument, NULL, 'U'},
	    {"map", required_argument, NULL, 'M'},	{"format", required_argument, NULL, 'F'},
	    {"batch", required_argument, NULL, 'B'},	{"help", no_argument, NULL, 'h'},
	    {"version", no_argument, NULL, 'V'},	{NULL, 0, NULL, 0}};
	const char *url = NULL, *token = NULL, *config = NULL;
	struct args a = {0};
	struct ctl c = {0};
	int ch, rc;

	while ((ch = getopt_long(argc, argv, "hjc:", opts, NULL)) != -1) {
		switch (ch) {
		case 'u':
			url = optarg;
			break;
		case 't':
			token = optarg;
			break;
		case 'c':
			config = optarg;
			break;
		case 'j':
			c.json = 1;
			break;
		case 's':
			a.state = optarg;
			break;
		case 'C':
			a.customer = optarg;
			break;
		case 'K':
			a.campaign = optarg;
			break;
		case 'T':
			a.to = optarg;
			break;
		case 'k':
			a.kind = optarg;
			break;
		case 'U':
			a.unmatched = 1;
			break;
		case 'M':
			a.map = optarg;
			break;
		case 'F':
			a.format = optarg;
			break;
		case 'B':
			a.batch = optarg;
			break;
		case 'h':
			ctl_usage(stdout);
			return 0;
		case 'V':
			printf("nurturectl %s\n", PACKAGE_VERSION);
			return 0;
		default:
			ctl_usage(stderr);
			return CTL_EXIT_USAGE;
		}
	}
	if (optind >= argc)
		ctl_usage_error("%s", "no command given");
	const char *cmd = argv[optind];
	char **av = argv + optind + 1;
	int n = argc - optind - 1;
	int is_messages = strcmp(cmd, "messages") == 0, is_test = strcmp(cmd, "send-test") == 0;
	if (!is_messages && (a.state || a.customer || a.campaign))
		ctl_usage_error("--state, --customer and --campaign belong to 'messages', not '%s'",
				cmd);
	int is_bc = strcmp(cmd, "broadcast") == 0 || strcmp(cmd, "segment") == 0;
	if (!is_test && !is_bc && a.to)
		ctl_usage_error("--to belongs to 'send-test', not '%s'", cmd);
	int is_inbound = strcmp(cmd, "inbound") == 0;
	if (!is_inbound && (a.kind || a.unmatched))
		ctl_usage_error("--kind and --unmatched belong to 'inbound', not '%s'", cmd);
	if (strcmp(cmd, "import") != 0 && (a.map || a.format || a.batch))
		ctl_usage_error("--map, --format and --batch belong to 'import', not '%s'", cmd);
	if (a.batch && atoi(a.batch) <= 0)
		ctl_usage_error("--batch needs a positive number, not '%s'", a.batch);

	/* Usage is checked before anything touches the network. */
	if (strcmp(cmd, "customer") == 0 || strcmp(cmd, "retry") == 0 ||
	    strcmp(cmd, "pause") == 0 || strcmp(cmd, "resume") == 0)
		ctl_nargs(n, 1, 1, cmd);
	else if (is_messages || is_inbound || strcmp(cmd, "status") == 0 ||
		 strcmp(cmd, "campaigns") == 0)
		ctl_nargs(n, 0, 0, cmd);
	else if (strcmp(cmd, "stats") == 0)
		ctl_nargs(n, 0, 1, cmd);
	else if (strcmp(cmd, "customers") == 0 || strcmp(cmd, "export") == 0)
		ctl_nargs(n, 0, 16, cmd);
	else if (strcmp(cmd, "import") == 0)
		ctl_nargs(n, 1, 1, cmd);
	else if (is_test) {
		ctl_nargs(n, 2, 2, cmd);
		if (a.to == NULL)
			ctl_usage_error("%s needs --to ADDRESS", cmd);
	} else if (is_bc) {
		const char *why;
		if (!ctl_broadcast_usage(cmd, n, av, a.to, &why))
			ctl_usage_error("usage: %s", why);
	} else
		ctl_usage_error("unknown command '%s'", cmd);

	ctl_connect(&c, url, token, config);
	ctl_http_init();
	if (strcmp(cmd, "customer") == 0)
		rc = ctl_customer(&c, av[0]);
	else if (is_messages)
		rc = ctl_messages(&c, &a);
	else if (is_inbound)
		rc = ctl_inbound(&c, &a);
	else if (strcmp(cmd, "customers") == 0)
		rc = ctl_customers(&c, n, av);
	else if (strcmp(cmd, "export") == 0)
		rc = ctl_export(&c, n, av);
	else if (strcmp(cmd, "import") == 0)
		rc = ctl_import(&c, av[0], a.map, a.format, a.batch ? atoi(a.batch) : 0);
	else if (strcmp(cmd, "retry") == 0)
		rc = ctl_retry(&c, av[0]);
	else if (strcmp(cmd, "status") == 0)
		rc = ctl_status(&c);
	else if (strcmp(cmd, "campaigns") == 0)
		rc = ctl_campaigns(&c);
	else if (is_bc)
		rc = ctl_broadcast(&c, cmd, av, a.to);
	else if (is_test)
		rc = ctl_send_test(&c, av[0], av[1], a.to);
	else if (strcmp(cmd, "pause") == 0 || strcmp(cmd, "resume") == 0)
		rc = ctl_pause(&c, av[0], cmd);
	else
		rc = ctl_stats(&c, n ? av[0] : NULL);
	ctl_http_fini();
	free(c.url);
	free(c.token);
	return rc;
}
