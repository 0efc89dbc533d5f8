/*
 * The webhook plugin as the daemon runs it, minus the daemon: plugins/.libs/webhook.so is
 * dlopen'ed with a host table whose HTTP client is the real one (daemon/httpclient.c, libcurl
 * multi on a libevent base), against the real receiver (tests/integration/webhook_receiver.py
 * on a loopback port), which checks the Standard Webhooks signatures itself.
 */
#include <dlfcn.h>
#include <curl/curl.h>
#include <event2/event.h>
#include <glib.h>
#include <jansson.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "../../plugins/nurtured-plugin.h"
#include "crypto.h"
#include "httpclient.h"
#include "mock_host.h"
#include "tap.h"
#include "util.h"

#define SECRET "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"

static struct httpclient *hc;
static const struct nt_plugin *plug;
static int rcv_port;
static FILE *rcv_stdin;
static pid_t rcv_pid;

static int
host_http(const struct nt_http_request *req, nt_http_done_fn done, void *arg)
{
	return httpclient_request(hc, req, done, arg);
}

static const struct nt_host host = {
    .struct_size = sizeof(struct nt_host),
    .abi_major = NT_PLUGIN_ABI_MAJOR,
    .abi_minor = NT_PLUGIN_ABI_MINOR,
    .log = host_log,
    .now_ms = host_now,
    .timer_add = host_timer_add,
    .timer_cancel = host_timer_cancel,
    .http_request = host_http,
    .hmac_sha256 = crypto_hmac_raw,
};

/* One delivery's record: what `done` said, and how often. */
struct result {
	int calls;
	enum nt_result result;
	char reply[1100];
	int64_t retry_after_ms;
	int64_t at_ms;
};

static void
on_done(void *token, const struct nt_outcome *o)
{
	struct result *r = token;
	r->calls++;
	r->result = o->result;
	snprintf(r->reply, sizeof(r->reply), "%s", o->reply ? o->reply : "");
	r->retry_after_ms = o->retry_after_ms;
	r->at_ms = util_now_ms();
}

/* Runs the loop until every result in RS[0..N) is in, or MS pass. */
static int
run_until(struct result *rs, int n, long ms)
{
	int64_t deadline = util_now_ms() + ms;
	for (;;) {
		int all = 1;
		for (int i = 0; i < n; i++)
			all &= rs[i].calls > 0;
		if (all)
			return 1;
		if (util_now_ms() > deadline)
			return 0;
		struct timeval tv = {0, 20000};
		event_base_loopexit(base, &tv);
		event_base_dispatch(base);
	}
}

/* Blocking calls to the receiver's control API (a test program may block). */
static size_t
ctl_collect(char *d, size_t s, size_t n, void *arg)
{
	GString *g = arg;
	g_string_append_len(g, d, (gssize)(s * n));
	return s * n;
}

static json_t *
ctl(const char *method, const char *path, const char *body)
{
	char url[256];
	CURL *e = curl_easy_init();
	GString *g = g_string_new(NULL);
	json_t *out = NULL;

	snprintf(url, sizeof(url), "http://127.0.0.1:%d%s", rcv_port, path);
	curl_easy_setopt(e, CURLOPT_URL, url);
	curl_easy_setopt(e, CURLOPT_CUSTOMREQUEST, method);
	if (body != NULL)
		curl_easy_setopt(e, CURLOPT_POSTFIELDS, body);
	curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, ctl_collect);
	curl_easy_setopt(e, CURLOPT_WRITEDATA, g);
	curl_easy_setopt(e, CURLOPT_TIMEOUT, 10L);
	if (curl_easy_perform(e) == CURLE_OK && g->len > 0)
		out = json_loads(g->str, 0, NULL);
	curl_easy_cleanup(e);
	g_string_free(g, TRUE);
	return out;
}

static void
mode(const char *json)
{
	json_decref(ctl("POST", "/_control/mode", json));
}

/* The receiver's record of requests since the last reset. */
static json_t *
received(void)
{
	return ctl("GET", "/_control/requests", NULL);
}

/* A clean record, once the receiver's handlers of earlier tests (stalls) are all done. */
static void
reset(void)
{
	int64_t deadline = util_now_ms() + 5000;
	for (;;) {
		json_t *rec = received();
		int idle = json_integer_value(json_object_get(rec, "active")) == 0;
		json_decref(rec);
		if (idle || util_now_ms() > deadline)
			break;
		usleep(20000);
	}
	json_decref(ctl("POST", "/_control/reset", "{}"));
}

static int
receiver_start(void)
{
	const char *src = getenv("NT_SRCDIR") ? getenv("NT_SRCDIR") : ".";
	char path[1024], line[32];
	int in[2], out[2];

	snprintf(path, sizeof(path), "%s/tests/integration/webhook_receiver.py", src);
	if (pipe(in) < 0 || pipe(out) < 0)
		return -1;
	rcv_pid = fork();
	if (rcv_pid == 0) {
		dup2(in[0], 0);
		dup2(out[1], 1);
		close(in[1]);
		close(out[0]);
		execl("/usr/bin/python3", "python3", path, "--secret", SECRET, "--exit-on-eof",
		      (char *)NULL);
		_exit(127);
	}
	close(in[0]);
	close(out[1]);
	rcv_stdin = fdopen(in[1], "w");
	FILE *f = fdopen(out[0], "r");
	if (f == NULL || fgets(line, sizeof(line), f) == NULL)
		return -1;
	fclose(f);
	rcv_port = atoi(line);
	return rcv_port > 0 ? 0 : -1;
}

static void
receiver_stop(void)
{
	if (rcv_stdin != NULL)
		fclose(rcv_stdin); /* EOF: the receiver stops itself */
	if (rcv_pid > 0)
		waitpid(rcv_pid, NULL, 0);
}

/* A channel from a JSON settings text; NULL with the error printed into ERR. */
static void *
channel(const char *settings_fmt, char *err, size_t errlen)
{
	char text[2048];
	void *state = NULL;
	char *e = NULL;

	snprintf(text, sizeof(text), settings_fmt, rcv_port);
	json_t *cfg = json_loads(text, JSON_ALLOW_NUL, NULL);
	err[0] = '\0';
	if (plug->init(&host, "hooks", cfg, &state, &e) < 0) {
		snprintf(err, errlen, "%s", e ? e : "(no message)");
		free(e);
		state = NULL;
	}
	json_decref(cfg);
	return state;
}

static struct nt_message
message(const char *data, const char *mid)
{
	return (struct nt_message){.struct_size = sizeof(struct nt_message),
				   .id = 1,
				   .message_id = mid,
				   .channel = "hooks",
				   .campaign_id = "c",
				   .step_id = "s",
				   .customer_id = "ann",
				   .data = data,
				   .data_len = strlen(data),
				   .attempt = 1};
}

static void
test_init_errors(void)
{
	static const struct {
		const char *settings, *want;
	} cases[] = {
	    {"{}", "url: required"},
	    {"{\"url\": \"ftp://127.0.0.1:%d/\"}", "url: must be an http"},
	    {"{\"url\": \"http:///x\"}", "url: has no host"},
	    {"{\"url\": \"http://127.0.0.1:%d/a b\"}", "url: must not contain spaces"},
	    {"{\"url\": \"http://127.0.0.1:%d/{{customer..id}}\"}", "url: bad placeholder"},
	    {"{\"url\": \"http://127.0.0.1:%d/{{customer.id\"}", "url: bad placeholder"},
	    {"{\"url\": 5}", "url: must be a string"},
	    {"{\"url\": \"http://x\", \"colour\": 1}", "colour: unknown setting"},
	    {"{\"url\": \"http://x\", \"method\": \"GET\"}", "method:"},
	    {"{\"url\": \"http://x\", \"headers\": {\"X Bad\": \"v\"}}",
	     "headers.X Bad: not a valid"},
	    {"{\"url\": \"http://x\", \"headers\": {\"X-A\": \"v\\r\\nX-B: 1\"}}", "headers.X-A:"},
	    {"{\"url\": \"http://x\", \"headers\": {\"X-A\": \"v\\u0000\"}}", "headers.X-A:"},
	    {"{\"url\": \"http://x\", \"headers\": {\"X-A\": 1}}", "headers.X-A: must be a string"},
	    {"{\"url\": \"http://x\", \"headers\": {\"Webhook-Signature\": \"v1,x\"}}",
	     "headers.Webhook-Signature: set by the plugin"},
	    {"{\"url\": \"http://x\", \"headers\": []}", "headers: must be an object"},
	    {"{\"url\": \"http://x\", \"secret\": \"whsec_!!!\"}", "secret:"},
	    {"{\"url\": \"http://x\", \"secret\": \"\"}", "secret:"},
	    {"{\"url\": \"http://x\", \"max_concurrency\": 0}", "max_concurrency: must be"},
	    {"{\"url\": \"http://x\", \"max_concurrency\": 257}", "max_concurrency: must be"},
	    {"{\"url\": \"http://x\", \"timeout_ms\": \"1s\"}", "timeout_ms: must be"},
	    {"{\"url\": \"http://x\", \"timeout_ms\": 99}", "timeout_ms: must be"},
	};
	char err[512];
	for (size_t i = 0; i < NT_ARRAY_LEN(cases); i++) {
		void *st = channel(cases[i].settings, err, sizeof(err));
		test_ok(st == NULL && strstr(err, cases[i].want) != NULL, "init refuses %s (%s)",
			cases[i].settings, err);
		if (st != NULL)
			plug->fini(st);
	}
	void *st =
	    channel("{\"url\": \"HTTPS://x/{{a.0.b}}\", \"plugin\": \"webhook\", "
		    "\"retry\": {}, \"payload\": \"json\", \"method\": \"PUT\", "
		    "\"secret\": \"plain\", \"max_concurrency\": 256, \"timeout_ms\": 300000}",
		    err, sizeof(err));
	test_ok(st != NULL, "init takes every setting and ignores the host's keys (%s)", err);
	if (st != NULL)
		plug->fini(st);
}

/* Recomputes the signature the receiver checks, here with the daemon's own HMAC. */
static void
test_delivered_and_signed(void)
{
	char err[512];
	const char *data =
	    "{\"customer\":{\"id\":\"a b/c\"},\"n\":7,\"event\":{\"type\":\"purchase\"}}";
	void *st = channel("{\"url\": \"http://127.0.0.1:%d/hooks/{{customer.id}}?n={{n}}\", "
			   "\"secret\": \"" SECRET "\", \"headers\": {\"X-Tenant\": \"acme\"}}",
			   err, sizeof(err));
	struct nt_message m = message(data, "<1.abc@example.test>");
	struct result r = {0};

	reset();
	test_ok(st != NULL, "channel opens (%s)", err);
	test_ok(plug->deliver(st, &m, on_done, &r) == 0, "deliver accepts");
	test_ok(r.calls == 0, "done is not called from inside deliver");
	test_ok(run_until(&r, 1, 5000) && r.calls == 1, "done once");
	test_ok(r.result == NT_SENT && strcmp(r.reply, "HTTP 204") == 0, "2xx is sent: %s",
		r.reply);
	json_t *rec = received();
	json_t *q = json_array_get(json_object_get(rec, "requests"), 0);
	json_t *h = json_object_get(q, "headers");
	test_ok(json_is_true(json_object_get(q, "sig_ok")),
		"the receiver verified the signature (%s)",
		json_string_value(json_object_get(q, "sig_error")));
	test_ok(strcmp(json_string_value(json_object_get(q, "path")) ?: "",
		       "/hooks/a%20b%2Fc?n=7") == 0,
		"placeholders are filled and URL-encoded: %s",
		json_string_value(json_object_get(q, "path")));
	test_ok(strcmp(json_string_value(json_object_get(q, "method")) ?: "", "POST") == 0, "POST");
	test_ok(strcmp(json_string_value(json_object_get(q, "body")) ?: "", data) == 0,
		"the body is the payload");
	test_ok(strcmp(json_string_value(json_object_get(h, "content-type")) ?: "",
		       "application/json") == 0,
		"Content-Type: application/json");
	test_ok(
	    strncmp(json_string_value(json_object_get(h, "user-agent")) ?: "", "nurtured/", 9) == 0,
	    "User-Agent: nurtured/...");
	test_ok(strcmp(json_string_value(json_object_get(h, "x-tenant")) ?: "", "acme") == 0,
		"configured headers are sent");
	test_ok(strcmp(json_string_value(json_object_get(h, "webhook-id")) ?: "",
		       "<1.abc@example.test>") == 0,
		"webhook-id is the message id");
	test_ok(json_object_get(h, "expect") == NULL, "no Expect: 100-continue");
	long long ts = atoll(json_string_value(json_object_get(h, "webhook-timestamp")) ?: "0");
	test_ok(llabs(ts - (long long)time(NULL)) < 10, "webhook-timestamp is now");
	json_decref(rec);
	plug->fini(st);
}

/* Issue 18: customer ids "." and ".." must not become dot-segments of the URL's path. */
static void
test_dot_segments_are_encoded(void)
{
	char err[512];
	void *st =
	    channel("{\"url\": \"http://127.0.0.1:%d/api/customers/{{customer.id}}/tickets\", "
		    "\"secret\": \"" SECRET "\"}",
		    err, sizeof(err));
	static const char *ids[] = {"..", ".", "a.b", "..."};
	static const char *want[] = {"/api/customers/%2E%2E/tickets", "/api/customers/%2E/tickets",
				     "/api/customers/a.b/tickets", "/api/customers/.../tickets"};

	test_ok(st != NULL, "channel opens (%s)", err);
	for (size_t i = 0; st != NULL && i < 4; i++) {
		char data[128];
		struct result r = {0};
		snprintf(data, sizeof(data), "{\"customer\":{\"id\":\"%s\"}}", ids[i]);
		struct nt_message m = message(data, "<dots@example.test>");
		reset();
		test_ok(plug->deliver(st, &m, on_done, &r) == 0 && run_until(&r, 1, 5000) &&
			    r.result == NT_SENT,
			"id '%s' delivered: %s", ids[i], r.reply);
		json_t *rec = received();
		json_t *q = json_array_get(json_object_get(rec, "requests"), 0);
		const char *path = json_string_value(json_object_get(q, "path"));
		test_ok(path != NULL && strcmp(path, want[i]) == 0,
			"id '%s' goes to %s, not elsewhere: %s", ids[i], want[i],
			path ? path : "-");
		json_decref(rec);
	}
	if (st != NULL)
		plug->fini(st);
}

static void
test_outcomes(void)
{
	static const struct {
		const char *mode;
		enum nt_result want;
		const char *reply;
		int64_t retry_after_lo, retry_after_hi;
	} cases[] = {
	    {"{\"mode\": \"ok\", \"status\": 200}", NT_SENT, "HTTP 200", 0, 0},
	    {"{\"mode\": \"fail_then_ok\", \"n\": 1}", NT_DEFERRED, "HTTP 500: upstream down", 0,
	     0},
	    {"{\"mode\": \"fail_then_ok\", \"n\": 1, \"status\": 503}", NT_DEFERRED, "HTTP 503", 0,
	     0},
	    {"{\"mode\": \"fail_then_ok\", \"n\": 1, \"status\": 408}", NT_DEFERRED, "HTTP 408", 0,
	     0},
	    {"{\"mode\": \"throttle\", \"retry_after\": \"2\"}", NT_DEFERRED, "HTTP 429: slow down",
	     2000, 2000},
	    {"{\"mode\": \"throttle_date\", \"seconds\": 5}", NT_DEFERRED, "HTTP 429", 3000, 6000},
	    {"{\"mode\": \"bad\"}", NT_FAILED, "HTTP 400: {\"error\": \"unknown customer\"}", 0, 0},
	    {"{\"mode\": \"bad\", \"status\": 404, \"body\": \"no\\u0001pe\"}", NT_FAILED,
	     "HTTP 404: no?pe", 0, 0},
	    {"{\"mode\": \"stall\", \"seconds\": 1}", NT_DEFERRED, "timeout after 300 ms", 0, 0},
	    {"{\"mode\": \"close\"}", NT_DEFERRED, "", 0, 0},
	};
	char err[512];
	void *st = channel("{\"url\": \"http://127.0.0.1:%d/h\", \"secret\": \"" SECRET "\", "
			   "\"timeout_ms\": 300}",
			   err, sizeof(err));
	struct nt_message m = message("{\"x\":1}", "<2@t>");

	for (size_t i = 0; i < NT_ARRAY_LEN(cases); i++) {
		struct result r = {0};
		mode(cases[i].mode);
		int64_t t0 = util_now_ms();
		plug->deliver(st, &m, on_done, &r);
		run_until(&r, 1, 5000);
		test_ok(r.calls == 1 && r.result == cases[i].want &&
			    strncmp(r.reply, cases[i].reply, strlen(cases[i].reply)) == 0 &&
			    r.retry_after_ms >= cases[i].retry_after_lo &&
			    r.retry_after_ms <= cases[i].retry_after_hi,
			"%s -> %d \"%s\" retry_after %lld ms", cases[i].mode, (int)r.result,
			r.reply, (long long)r.retry_after_ms);
		if (strstr(cases[i].mode, "stall") != NULL)
			test_ok(r.at_ms - t0 < 1500, "the timeout cut the stall short (%lld ms)",
				(long long)(r.at_ms - t0));
	}
	plug->fini(st);
}

static void
test_missing_field_fails(void)
{
	char err[512];
	void *st = channel("{\"url\": \"http://127.0.0.1:%d/{{customer.id}}\"}", err, sizeof(err));
	struct nt_message m = message("{\"customer\":{}}", "<3@t>");
	struct nt_message bad = message("not json", "<4@t>");
	struct result r[2] = {{0}};

	plug->deliver(st, &m, on_done, &r[0]);
	plug->deliver(st, &bad, on_done, &r[1]);
	run_until(r, 2, 1000);
	test_ok(r[0].calls == 1 && r[0].result == NT_FAILED &&
		    strstr(r[0].reply, "{{customer.id}}") != NULL,
		"a missing placeholder field fails: %s", r[0].reply);
	test_ok(r[1].calls == 1 && r[1].result == NT_FAILED && strstr(r[1].reply, "not JSON"),
		"a payload that is not JSON fails: %s", r[1].reply);
	plug->fini(st);
}

/* 2 on the wire, 8 waiting, the 11th refused; the receiver never sees more than 2 at once. */
static void
test_concurrency_and_queue(void)
{
	char err[512];
	void *st = channel("{\"secret\": \"" SECRET
			   "\", \"url\": \"http://127.0.0.1:%d/q\", \"max_concurrency\": 2, "
			   "\"timeout_ms\": 2000}",
			   err, sizeof(err));
	struct nt_message m = message("{}", "<5@t>");
	struct result r[11] = {{0}};
	int accepted = 0;

	reset();
	mode("{\"mode\": \"stall\", \"seconds\": 0.15}");
	for (int i = 0; i < 11; i++)
		accepted += plug->deliver(st, &m, on_done, &r[i]) == 0;
	test_ok(accepted == 10, "4 x max_concurrency wait, then deliver refuses (%d)", accepted);
	plug->stop(st);
	struct result late = {0};
	test_ok(plug->deliver(st, &m, on_done, &late) < 0, "deliver refuses after stop");
	test_ok(run_until(r, 10, 10000), "every accepted message gets its done after stop");
	int sent = 0, calls = 0;
	for (int i = 0; i < 10; i++) {
		sent += r[i].result == NT_SENT;
		calls += r[i].calls;
	}
	test_ok(sent == 10 && calls == 10 && r[10].calls == 0,
		"all sent, each done once (%d, %d: %s)", sent, calls, r[0].reply);
	json_t *rec = received();
	test_ok(json_integer_value(json_object_get(rec, "max_active")) == 2,
		"at most max_concurrency on the wire (%lld)",
		(long long)json_integer_value(json_object_get(rec, "max_active")));
	json_decref(rec);
	plug->fini(st);
}

/* fini with exchanges in flight: no done; the client drops them; nothing leaks or crashes. */
static void
test_fini_abandons(void)
{
	char err[512];
	void *st = channel("{\"secret\": \"" SECRET
			   "\", \"url\": \"http://127.0.0.1:%d/f\", \"max_concurrency\": 1}",
			   err, sizeof(err));
	struct nt_message m = message("{}", "<6@t>");
	struct result r[3] = {{0}};

	reset();
	mode("{\"mode\": \"stall\", \"seconds\": 1}");
	for (int i = 0; i < 3; i++)
		plug->deliver(st, &m, on_done, &r[i]);
	run_until(r, 1, 300); /* lets the first reach the receiver */
	plug->fini(st);
	run_until(r, 1, 1500); /* its answer comes to an orphan */
	test_ok(r[0].calls == 0 && r[1].calls == 0 && r[2].calls == 0,
		"fini abandons in-flight and waiting messages without done (%d %d %d: %s)",
		r[0].calls, r[1].calls, r[2].calls, r[0].reply);
	test_ok(httpclient_inflight(hc) == 0, "the orphan's answer was consumed");

	st = channel("{\"secret\": \"" SECRET "\", \"url\": \"http://127.0.0.1:%d/f\"}", err,
		     sizeof(err));
	struct result r2 = {0};
	plug->deliver(st, &m, on_done, &r2);
	run_until(&r2, 1, 300);
	plug->fini(st);
	httpclient_free(hc); /* cancels the exchange without any done */
	hc = httpclient_new(base);
	test_ok(r2.calls == 0, "httpclient_free cancels without done");
}

/* The client's own contract: unsupported schemes end in done (never inside the call). */
static void
test_client_contract(void)
{
	struct nt_http_request req = {.method = "POST",
				      .url = "file:///etc/passwd",
				      .body = "x",
				      .body_len = 1,
				      .timeout_ms = 1000};
	int rc = httpclient_request(hc, &req, NULL, NULL);
	test_ok(rc == -1, "no done function: cannot start");
}

static int got_status;
static char got_error[256];

static void
on_http(void *arg, const struct nt_http_response *resp)
{
	int *calls = arg;
	(*calls)++;
	got_status = (int)resp->status;
	snprintf(got_error, sizeof(got_error), "%s", resp->error ? resp->error : "");
}

static void
test_client_schemes(void)
{
	struct nt_http_request req = {.method = "POST",
				      .url = "file:///etc/passwd",
				      .body = "x",
				      .body_len = 1,
				      .timeout_ms = 1000};
	int calls = 0;
	test_ok(httpclient_request(hc, &req, on_http, &calls) == 0 && calls == 0,
		"a file:// request starts but done is not called inside");
	struct result dummy = {0};
	int64_t deadline = util_now_ms() + 2000;
	while (calls == 0 && util_now_ms() < deadline)
		run_until(&dummy, 1, 20);
	test_ok(calls == 1 && got_status == 0 && got_error[0] != '\0',
		"file:// is refused by the client: %s", got_error);
}

int
main(void)
{
	const char *bld = getenv("NT_BUILDDIR") ? getenv("NT_BUILDDIR") : ".";
	char path[1024];
	void *h;
	const struct nt_plugin *(*entry)(void);

	signal(SIGPIPE, SIG_IGN);
	httpclient_global_init();
	if (receiver_start() < 0) {
		printf("1..0 # SKIP cannot start the webhook receiver\n");
		return 0;
	}
	snprintf(path, sizeof(path), "%s/plugins/.libs/webhook.so", bld);
	h = dlopen(path, RTLD_NOW | RTLD_LOCAL);
	if (!test_ok(h != NULL, "dlopen %s", path)) {
		printf("# %s\n1..%d\n", dlerror(), test_count);
		receiver_stop();
		return 1;
	}
	*(void **)&entry = dlsym(h, NT_PLUGIN_SYMBOL);
	plug = entry();
	test_ok(plug->abi_major == NT_PLUGIN_ABI_MAJOR && strcmp(plug->name, "webhook") == 0 &&
		    plug->payload == NT_PAYLOAD_JSON,
		"descriptor: ABI %u, JSON payload", plug->abi_major);
	base = event_base_new();
	hc = httpclient_new(base);

	test_init_errors();
	test_delivered_and_signed();
	test_dot_segments_are_encoded();
	test_outcomes();
	test_missing_field_fails();
	test_concurrency_and_queue();
	test_fini_abandons();
	test_client_contract();
	test_client_schemes();

	httpclient_free(hc);
	event_base_free(base);
	dlclose(h);
	receiver_stop();
	curl_global_cleanup();
	printf("1..%d\n", test_count);
	return test_failures ? 1 : 0;
}
