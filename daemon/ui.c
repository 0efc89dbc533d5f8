/*
 * Issue 22: the dashboard's edge. A session is a row in the store (a random id, its expiry, a
 * fingerprint of the token that logged in: removing the token ends it) named by a cookie
 * signed with the daemon's secret: a logout deletes the row, so a copied cookie dies with it.
 * Failed logins are limited per client address. Every form that changes something carries
 * a CSRF token derived from the session; every
 * answer has a Content-Security-Policy without inline script and frame-ancestors 'none'.
 * Templates (Mustache, HTML-escaped by default) and static files come from the ui directory,
 * read once and kept.
 */
#include "ui.h"

#include <event2/buffer.h>
#include <event2/http.h>
#include <event2/keyvalq_struct.h>
#include <glib.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "config.h"
#include "consent.h"
#include "crypto.h"
#include "daemon.h"
#include "http.h"
#include "log.h"
#include "mustache.h"
#include "ratelimit.h"
#include "store_ui.h"
#include "storeloop.h"
#include "ui_int.h"
#include "util.h"

#ifndef NT_UIDIR
#define NT_UIDIR "/usr/local/share/nurtured/ui"
#endif
#ifndef NT_SRCUIDIR
#define NT_SRCUIDIR "./ui"
#endif

/* A session lasts this long from its login. */
#define UI_SESSION_S (8 * 3600)
#define UI_COOKIE "nt_session"
#define UI_MAX_FILES 48
/* Failed logins a client address may make: a bucket of 5 refilled over a minute, then 429. */
#define UI_LOGIN_FAILURES 5
#define UI_LOGIN_WINDOW_MS 60000
/* "v2." and a session id of 32 hex digits: what the cookie's MAC signs. */
#define UI_PAYLOAD_LEN 35

static const char ui_csp[] =
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "form-action 'self'; frame-src 'self'; frame-ancestors 'none'; base-uri 'none'";
/* A mail's HTML: no script at all, nothing fetched, only framed by the dashboard. */
static const char ui_mail_csp[] = "default-src 'none'; img-src data:; style-src 'unsafe-inline'; "
				  "frame-ancestors 'self'; sandbox";

/* One file of the ui directory, read once: a parsed template or a static file's bytes. */
struct ui_file {
	char *name;
	char *text;
	size_t len;
	struct mustache_tmpl *tmpl;
};

static struct {
	char *dir;
	struct ui_file v[UI_MAX_FILES];
	size_t n;
} ui_cache;

static struct ratelimit *ui_login_limits;

int
ui_path(const char *path)
{
	return strcmp(path, "/ui") == 0 || strncmp(path, "/ui/", 4) == 0;
}

/* The directory: the configured one, the installed one, else the source tree's. */
static const char *
ui_dir(struct daemon *d)
{
	const struct config *c = daemon_config(d);
	if (c->ui_dir != NULL)
		return c->ui_dir;
	if (access(NT_UIDIR "/layout.mustache", R_OK) == 0)
		return NT_UIDIR;
	return NT_SRCUIDIR;
}

static void
ui_cache_reset(const char *dir)
{
	for (size_t i = 0; i < ui_cache.n; i++) {
		free(ui_cache.v[i].name);
		free(ui_cache.v[i].text);
		mustache_free(ui_cache.v[i].tmpl);
	}
	ui_cache.n = 0;
	free(ui_cache.dir);
	ui_cache.dir = xstrdup(dir);
}

/* NAME from the ui directory (read once, a few kilobytes); NULL when it is not there. */
static struct ui_file *
ui_file(struct daemon *d, const char *name, int parse)
{
	const char *dir = ui_dir(d);
	gchar *text = NULL, *path;
	gsize len = 0;

	if (ui_cache.dir == NULL || strcmp(ui_cache.dir, dir) != 0)
		ui_cache_reset(dir);
	for (size_t i = 0; i < ui_cache.n; i++)
		if (strcmp(ui_cache.v[i].name, name) == 0)
			return &ui_cache.v[i];
	if (ui_cache.n == UI_MAX_FILES || strstr(name, "..") != NULL)
		return NULL;
	path = g_build_filename(dir, name, NULL);
	if (!g_file_get_contents(path, &text, &len, NULL)) {
		log_warnx("ui: cannot read %s", path);
		g_free(path);
		return NULL;
	}
	g_free(path);
	struct ui_file *f = &ui_cache.v[ui_cache.n];
	f->name = xstrdup(name);
	f->text = xstrndup(text, len);
	f->len = len;
	g_free(text);
	if (parse) {
		struct mustache_error err;
		f->tmpl = mustache_parse(f->text, &err);
		if (f->tmpl == NULL) {
			log_warnx("ui: %s:%d:%d: %s", name, err.line, err.col, err.message);
			free(f->name);
			free(f->text);
			return NULL;
		}
	}
	ui_cache.n++;
	return f;
}

static const struct mustache_tmpl *
ui_partial(const char *name, void *arg)
{
	char file[96];
	snprintf(file, sizeof(file), "%s.mustache", name);
	struct ui_file *f = ui_file(arg, file, 1);
	return f ? f->tmpl : NULL;
}

/* The session cookie's value from the request, or NULL. */
static char *
ui_cookie(struct http_req *hr)
{
	const char *h = hr->req ? http_header(hr, "Cookie") : NULL;
	const char *p = h;

	while (p != NULL && *p) {
		while (*p == ' ' || *p == ';')
			p++;
		if (strncmp(p, UI_COOKIE "=", sizeof(UI_COOKIE)) == 0) {
			const char *v = p + sizeof(UI_COOKIE);
			return xstrndup(v, strcspn(v, ";"));
		}
		p = strchr(p, ';');
	}
	return NULL;
}

/* A fingerprint of TOKEN under the secret: what the session names instead of the token. */
static void
ui_token_fp(struct daemon *d, const char *token, char out[17])
{
	char mac[65];
	char *data = xasprintf("ui-token:%s", token);
	crypto_hmac_hex(daemon_secret(d), data, strlen(data), mac);
	free(data);
	memcpy(out, mac, 16);
	out[16] = '\0';
}

static void
ui_sign(struct daemon *d, const char *what, const char *payload, char mac[65])
{
	char *data = xasprintf("%s:%s", what, payload);
	crypto_hmac_hex(daemon_secret(d), data, strlen(data), mac);
	free(data);
}

/*
 * The cookie's signed part ("v2.ID") into PAYLOAD when its MAC under the secret is right: 0;
 * else -1. Whether the session ID still exists is the store's to say (ui_gate).
 */
static int
ui_cookie_payload(struct http_req *hr, char payload[UI_PAYLOAD_LEN + 1])
{
	char *cookie = ui_cookie(hr), *dot, mac[65];
	int ok = 0;

	if (cookie != NULL && (dot = strrchr(cookie, '.')) != NULL &&
	    dot - cookie == UI_PAYLOAD_LEN && strncmp(cookie, "v2.", 3) == 0) {
		*dot = '\0';
		ui_sign(hr->d, "ui-session", cookie, mac);
		ok = crypto_secret_equal(dot + 1, mac);
		if (ok)
			memcpy(payload, cookie, UI_PAYLOAD_LEN + 1);
	}
	free(cookie);
	return ok ? 0 : -1;
}

/* The role a session with the token fingerprint FP has now: its token's, or ROLE_NONE. */
static int
ui_fp_role(struct daemon *d, const char *fp)
{
	const struct config *c = daemon_config(d);
	int role = ROLE_NONE;

	if (c->n_api_tokens == 0)
		return strcmp(fp, "open") == 0 ? ROLE_ADMIN : ROLE_NONE;
	for (size_t i = 0; i < c->n_api_tokens; i++) {
		char tfp[17];
		ui_token_fp(d, c->api_tokens[i], tfp);
		if (crypto_secret_equal(tfp, fp) && c->api_token_roles[i] > role)
			role = c->api_token_roles[i];
	}
	return role;
}

static void
ui_csrf(struct http_req *hr, const char *payload, char out[33])
{
	char mac[65];
	ui_sign(hr->d, "ui-csrf", payload, mac);
	memcpy(out, mac, 32);
	out[32] = '\0';
}

/* Behind https (public_url, or a proxy saying so), cookies are Secure. */
static int
ui_secure(struct http_req *hr)
{
	const char *pu = daemon_config(hr->d)->public_url;
	const char *xf = hr->req ? http_header(hr, "X-Forwarded-Proto") : NULL;
	return (pu != NULL && strncmp(pu, "https://", 8) == 0) ||
	       (xf != NULL && strcmp(xf, "https") == 0);
}

/* Every dashboard answer: its type, the CSP, no caching, no framing, no sniffing. */
static void
ui_reply(struct http_req *hr, int code, const char *type, const char *csp, const char *body,
	 size_t len, const char *cookie, const char *location)
{
	const char *h[20];
	size_t n = 0;
	h[n++] = "Content-Type";
	h[n++] = type;
	h[n++] = "Content-Security-Policy";
	h[n++] = csp;
	h[n++] = "X-Content-Type-Options";
	h[n++] = "nosniff";
	h[n++] = "Referrer-Policy";
	h[n++] = "same-origin";
	h[n++] = "Cache-Control";
	h[n++] = "no-store";
	if (strcmp(csp, ui_csp) == 0) {
		h[n++] = "X-Frame-Options";
		h[n++] = "DENY";
	}
	if (cookie != NULL) {
		h[n++] = "Set-Cookie";
		h[n++] = cookie;
	}
	if (location != NULL) {
		h[n++] = "Location";
		h[n++] = location;
	}
	h[n] = NULL;
	http_reply_raw(hr, code, h, body, len);
}

void
ui_redirect(struct http_req *hr, const char *location)
{
	ui_reply(hr, 303, "text/plain; charset=utf-8", ui_csp, "", 0, NULL, location);
}

void
ui_reply_mail_html(struct http_req *hr, const char *html)
{
	ui_reply(hr, 200, "text/html; charset=utf-8", ui_mail_csp, html, strlen(html), NULL, NULL);
}

int
ui_is_admin(struct http_req *hr)
{
	return hr->role == ROLE_ADMIN;
}

void
ui_render_code(struct http_req *hr, int code, const char *name, json_t *view)
{
	struct mustache_error err;
	char file[96], csrf[33];
	struct ui_file *f;
	char *out;

	snprintf(file, sizeof(file), "%s.mustache", name);
	f = ui_file(hr->d, file, 1);
	if (f == NULL) {
		const char *msg = "dashboard templates missing (see ui in nurtured.conf(5))\n";
		json_decref(view);
		ui_reply(hr, 503, "text/plain; charset=utf-8", ui_csp, msg, strlen(msg), NULL,
			 NULL);
		return;
	}
	if (hr->ui_session[0] != '\0') {
		ui_csrf(hr, hr->ui_session, csrf);
		json_object_set_new(view, "csrf", json_string(csrf));
		json_object_set_new(view, "session", json_true());
		json_object_set_new(view, "admin", json_boolean(hr->role == ROLE_ADMIN));
		json_object_set_new(view, "role",
				    json_string(hr->role == ROLE_ADMIN ? "admin" : "read"));
	}
	char nav[64];
	snprintf(nav, sizeof(nav), "nav_%.50s", name);
	json_object_set_new(view, nav, json_true());
	out = mustache_render_parsed(f->tmpl, view, MUSTACHE_ESCAPE_HTML, 0, ui_partial, NULL,
				     hr->d, &err);
	json_decref(view);
	if (out == NULL) {
		log_warnx("ui: %s: %s", file, err.message);
		ui_reply(hr, 500, "text/plain; charset=utf-8", ui_csp, "render error\n", 13, NULL,
			 NULL);
		return;
	}
	ui_reply(hr, code, "text/html; charset=utf-8", ui_csp, out, strlen(out), NULL, NULL);
	free(out);
}

void
ui_render(struct http_req *hr, const char *name, json_t *view)
{
	ui_render_code(hr, 200, name, view);
}

/* An API answer that is not a success: the page says so with its error (1); else 0. */
int
ui_api_failed(struct http_req *hr, int code, json_t *body)
{
	if (code < 300)
		return 0;
	const char *msg = json_string_value(json_object_get(body, "error"));
	ui_error(hr, code, msg ? msg : "failed");
	json_decref(body);
	return 1;
}

/* After a form's action through the API: back to ARG (a malloc'd path), or its error page. */
void
ui_api_then_redirect(struct http_req *hr, int code, json_t *body, void *arg)
{
	char *loc = arg;
	if (!ui_api_failed(hr, code, body)) {
		json_decref(body);
		ui_redirect(hr, loc);
	}
	free(loc);
}

void
ui_error(struct http_req *hr, int code, const char *msg)
{
	ui_render_code(hr, code, "error", json_pack("{s:i,s:s}", "code", code, "message", msg));
}

/* KEY from the query text Q (malloc'd, decoded), NULL when absent or empty. */
static char *
ui_param_of(const char *q, const char *key)
{
	struct evkeyvalq params;
	const char *v;
	char *out = NULL;

	if (q == NULL || evhttp_parse_query_str(q, &params) < 0)
		return NULL;
	v = evhttp_find_header(&params, key);
	if (v != NULL && *v)
		out = xstrdup(v);
	evhttp_clear_headers(&params);
	return out;
}

char *
ui_query(struct http_req *hr, const char *key)
{
	char *v = http_query_param(hr, key);
	if (v != NULL && *v == '\0') {
		free(v);
		return NULL;
	}
	return v;
}

char *
ui_form(struct http_req *hr, const char *key)
{
	size_t len = 0;
	const char *raw = hr->req ? http_body_raw(hr, &len) : "";
	char *q = xstrndup(raw, len), *v;
	/* evhttp decodes '+' as a space only when told: forms encode spaces so. */
	for (char *p = q; *p; p++)
		if (*p == '+')
			*p = ' ';
	v = ui_param_of(q, key);
	free(q);
	return v;
}

struct ui_api_call {
	ui_api_cb cb;
	void *arg;
};

void
ui_api(struct http_req *hr, void (*fn)(struct http_req *), const char *arg, json_t *body,
       ui_api_cb cb, void *cbarg)
{
	free(hr->arg);
	hr->arg = arg ? xstrdup(arg) : NULL;
	json_decref(hr->body_json);
	free(hr->body_err);
	hr->body_err = NULL;
	hr->body_json = body;
	hr->body_ready = body != NULL;
	hr->capture = cb;
	hr->capture_arg = cbarg;
	fn(hr);
}

/* A session's store job: its creation (login), its end (logout) or its check (each page). */
struct ui_gate {
	struct store_job job; /* first */
	struct http_req *hr;
	char id[33];	/* the session id; "" to end every session */
	char fp[17];	/* the fingerprint of the token that logged in */
	int64_t now_ms; /* the time of the request */
	int post;	/* the request, to go on with once checked */
	char *sec, *arg, *action;
};

static struct ui_gate *
ui_gate_new(struct http_req *hr, enum store_status (*run)(struct store *, struct store_job *),
	    void (*done)(struct store_job *))
{
	struct ui_gate *g = xcalloc(1, sizeof(*g));
	g->hr = hr;
	g->now_ms = util_now_ms();
	g->job.run = run;
	g->job.done = done;
	return g;
}

static void
ui_gate_free(struct ui_gate *g)
{
	free(g->sec);
	free(g->arg);
	free(g->action);
	free(g);
}

static enum store_status
login_run(struct store *s, struct store_job *job)
{
	struct ui_gate *g = (struct ui_gate *)job;
	return s->ops->ui->session_add(s, g->id, g->fp, g->now_ms,
				       g->now_ms + (int64_t)UI_SESSION_S * 1000);
}

/* The session is stored: its cookie names it. */
static void
login_done(struct store_job *job)
{
	struct ui_gate *g = (struct ui_gate *)job;
	struct http_req *hr = g->hr;
	char payload[UI_PAYLOAD_LEN + 1], mac[65], *cookie;

	if (job->status != STORE_OK) {
		ui_render_code(hr, 503, "login",
			       json_pack("{s:s}", "error", "The store is busy; log in again."));
		ui_gate_free(g);
		return;
	}
	snprintf(payload, sizeof(payload), "v2.%s", g->id);
	ui_sign(hr->d, "ui-session", payload, mac);
	cookie = xasprintf(UI_COOKIE "=%s.%s; Path=/ui; Max-Age=%d; HttpOnly; SameSite=Strict%s",
			   payload, mac, UI_SESSION_S, ui_secure(hr) ? "; Secure" : "");
	ui_reply(hr, 303, "text/plain; charset=utf-8", ui_csp, "", 0, cookie, "/ui/");
	free(cookie);
	ui_gate_free(g);
}

/*
 * GET /ui/login: the form; POST: a token in, a session out. A client address that failed
 * UI_LOGIN_FAILURES times within the window gets 429 until its bucket refills, before its
 * token is even compared; every failure and refusal is logged with the address.
 */
static void
ui_login(struct http_req *hr, int post)
{
	const struct config *c = daemon_config(hr->d);
	char *token, *peer, *key;
	unsigned char rnd[16];
	int role, retry = 0;
	int64_t now_us = util_mono_us();

	if (!post) {
		ui_render(hr, "login", json_object());
		return;
	}
	if (ui_login_limits == NULL)
		ui_login_limits = ratelimit_new();
	peer = consent_peer(hr);
	key = xasprintf("ui-login:%s", peer ? peer : "");
	if (!ratelimit_check(ui_login_limits, key, UI_LOGIN_FAILURES, UI_LOGIN_WINDOW_MS, now_us,
			     &retry)) {
		char ra[16];
		log_warnx("ui: login from %s refused: %d failed logins a minute; retry in %d s",
			  peer ? peer : "?", UI_LOGIN_FAILURES, retry);
		snprintf(ra, sizeof(ra), "%d", retry);
		if (hr->req != NULL)
			evhttp_add_header(evhttp_request_get_output_headers(hr->req), "Retry-After",
					  ra);
		ui_render_code(
		    hr, 429, "login",
		    json_pack("{s:s}", "error",
			      "Too many failed logins from this address: wait a minute."));
		free(peer);
		free(key);
		return;
	}
	token = ui_form(hr, "token");
	role = config_token_role(c, token ? token : "");
	if (role == ROLE_NONE) {
		ratelimit_take(ui_login_limits, key, UI_LOGIN_FAILURES, UI_LOGIN_WINDOW_MS, now_us,
			       NULL);
		log_warnx("ui: failed login from %s", peer ? peer : "?");
		free(token);
		free(peer);
		free(key);
		ui_render_code(hr, 401, "login",
			       json_pack("{s:s}", "error", "That token is not one of api_tokens."));
		return;
	}
	free(peer);
	free(key);
	if (crypto_random(rnd, sizeof(rnd)) < 0) {
		free(token);
		ui_render_code(hr, 503, "login",
			       json_pack("{s:s}", "error", "No randomness for a session; retry."));
		return;
	}
	struct ui_gate *g = ui_gate_new(hr, login_run, login_done);
	for (size_t i = 0; i < sizeof(rnd); i++)
		snprintf(g->id + 2 * i, 3, "%02x", rnd[i]);
	if (c->n_api_tokens == 0)
		snprintf(g->fp, sizeof(g->fp), "open");
	else
		ui_token_fp(hr->d, token, g->fp);
	free(token);
	storeloop_submit(daemon_storeloop(hr->d), &g->job);
}

static enum store_status
logout_run(struct store *s, struct store_job *job)
{
	struct ui_gate *g = (struct ui_gate *)job;
	return s->ops->ui->session_end(s, g->id[0] ? g->id : NULL);
}

/* The session (or every one) is gone from the store: the cookie is cleared too. */
static void
logout_done(struct store_job *job)
{
	struct ui_gate *g = (struct ui_gate *)job;
	struct http_req *hr = g->hr;

	if (job->status != STORE_OK) {
		ui_error(hr, 503, "The store is busy; log out again.");
		ui_gate_free(g);
		return;
	}
	if (!g->id[0])
		log_info("ui: every dashboard session ended (by an admin's request)");
	char *cookie = xasprintf(UI_COOKIE "=; Path=/ui; Max-Age=0; HttpOnly; SameSite=Strict%s",
				 ui_secure(hr) ? "; Secure" : "");
	ui_reply(hr, 303, "text/plain; charset=utf-8", ui_csp, "", 0, cookie, "/ui/login");
	free(cookie);
	ui_gate_free(g);
}

/* POST /ui/logout: this session ends; with "all" (an admin only) every session does. */
static void
ui_logout(struct http_req *hr)
{
	char *all = ui_form(hr, "all");
	struct ui_gate *g = ui_gate_new(hr, logout_run, logout_done);

	if (all == NULL || !ui_is_admin(hr))
		memcpy(g->id, hr->ui_session + 3, sizeof(g->id) - 1);
	free(all);
	storeloop_submit(daemon_storeloop(hr->d), &g->job);
}

/* GET /ui/static/NAME: the stylesheet and the script, from the ui directory's static/. */
static void
ui_static(struct http_req *hr, const char *name)
{
	char file[96];
	const char *type = NULL;
	size_t n = strlen(name);

	if (n > 4 && strcmp(name + n - 4, ".css") == 0)
		type = "text/css; charset=utf-8";
	else if (n > 3 && strcmp(name + n - 3, ".js") == 0)
		type = "text/javascript; charset=utf-8";
	snprintf(file, sizeof(file), "static/%s", name);
	struct ui_file *f = type && !strchr(name, '/') ? ui_file(hr->d, file, 0) : NULL;
	if (f == NULL) {
		ui_reply(hr, 404, "text/plain; charset=utf-8", ui_csp, "not found\n", 10, NULL,
			 NULL);
		return;
	}
	ui_reply(hr, 200, type, ui_csp, f->text, f->len, NULL, NULL);
}

/* The path's parts after /ui/: SECTION, then ID and ACTION (decoded), each may be NULL. */
static void
ui_split(const char *path, char **section, char **id, char **action)
{
	char **parts = g_strsplit(path + 4, "/", 4);
	*section = *id = *action = NULL;
	if (parts[0] && *parts[0])
		*section = xstrdup(parts[0]);
	if (parts[0] && parts[1] && *parts[1])
		*id = evhttp_uridecode(parts[1], 0, NULL);
	if (parts[0] && parts[1] && parts[2] && *parts[2])
		*action = xstrdup(parts[2]);
	g_strfreev(parts);
}

/* A POST needs the session's CSRF token in the form (a cross-site form cannot know it). */
static int
ui_csrf_ok(struct http_req *hr)
{
	char want[33];
	char *got = ui_form(hr, "csrf");
	int ok;
	ui_csrf(hr, hr->ui_session, want);
	ok = got != NULL && crypto_secret_equal(got, want);
	free(got);
	return ok;
}

static void
ui_route(struct http_req *hr, int post, const char *sec, const char *id, const char *action)
{
	if (!post) {
		if (sec == NULL)
			ui_overview(hr);
		else if (strcmp(sec, "campaigns") == 0 && id == NULL)
			ui_campaigns(hr);
		else if (strcmp(sec, "campaigns") == 0 && action == NULL)
			ui_campaign(hr, id);
		else if (strcmp(sec, "customers") == 0 && id == NULL)
			ui_customers(hr);
		else if (strcmp(sec, "customers") == 0 && action == NULL)
			ui_customer(hr, id);
		else if (strcmp(sec, "messages") == 0 && id == NULL)
			ui_messages(hr);
		else if (strcmp(sec, "messages") == 0 && action == NULL)
			ui_message(hr, id);
		else if (strcmp(sec, "messages") == 0 && strcmp(action, "body") == 0)
			ui_message_body(hr, id);
		else if (strcmp(sec, "suppressions") == 0 && id == NULL)
			ui_suppressions(hr);
		else if (strcmp(sec, "templates") == 0 && id == NULL)
			ui_templates(hr);
		else if (strcmp(sec, "templates") == 0 && strcmp(id, "body") == 0)
			ui_template_body(hr);
		else
			ui_error(hr, 404, "No such page.");
		return;
	}
	if (!ui_is_admin(hr))
		ui_error(hr, 403, "This session may only look (a read token).");
	else if (sec != NULL && strcmp(sec, "campaigns") == 0 && id && action)
		ui_campaign_action(hr, id, action);
	else if (sec != NULL && strcmp(sec, "customers") == 0 && id && action &&
		 strcmp(action, "erase") == 0)
		ui_customer_erase(hr, id);
	else if (sec != NULL && strcmp(sec, "messages") == 0 && id && action &&
		 strcmp(action, "retry") == 0)
		ui_message_retry(hr, id);
	else if (sec != NULL && strcmp(sec, "suppressions") == 0 && id && !action)
		ui_suppression_action(hr, id);
	else
		ui_error(hr, 404, "No such action.");
}

/* A request with its session checked (or none): the CSRF token, then its page or action. */
static void
ui_dispatch_checked(struct http_req *hr, int post, const char *sec, const char *id,
		    const char *action)
{
	if (hr->ui_session[0] == '\0') {
		if (post)
			ui_error(hr, 403, "No session: log in first.");
		else
			ui_redirect(hr, "/ui/login");
	} else if (post && !ui_csrf_ok(hr))
		ui_error(hr, 403, "The form's CSRF token is missing or wrong: reload the page.");
	else if (post && strcmp(sec ? sec : "", "logout") == 0)
		ui_logout(hr);
	else
		ui_route(hr, post, sec, id, action);
}

/* On the reader: the session the cookie names, if it is still there and not expired. */
static enum store_status
gate_run(struct store *s, struct store_job *job)
{
	struct ui_gate *g = (struct ui_gate *)job;
	return s->ops->ui->session_get(s, g->id, g->now_ms, g->fp);
}

static void
gate_done(struct store_job *job)
{
	struct ui_gate *g = (struct ui_gate *)job;
	struct http_req *hr = g->hr;
	int role = job->status == STORE_OK ? ui_fp_role(hr->d, g->fp) : ROLE_NONE;

	if (job->status != STORE_OK && job->status != STORE_NOTFOUND) {
		ui_error(hr, 503, "The store is busy; reload the page.");
		ui_gate_free(g);
		return;
	}
	if (role == ROLE_NONE)
		hr->ui_session[0] = '\0'; /* logged out, expired, or its token removed */
	hr->role = role;
	ui_dispatch_checked(hr, g->post, g->sec, g->arg, g->action);
	ui_gate_free(g);
}

void
ui_dispatch(struct http_req *hr, const char *path, int cmd)
{
	const struct config *c = daemon_config(hr->d);
	int post = cmd == EVHTTP_REQ_POST;
	char *sec, *id, *action;

	if (c->ui_disabled) {
		http_reply_error(hr, 404, "no such resource", NULL, -1);
		return;
	}
	if (!post && cmd != EVHTTP_REQ_GET && cmd != EVHTTP_REQ_HEAD) {
		ui_reply(hr, 405, "text/plain; charset=utf-8", ui_csp, "method not allowed\n", 19,
			 NULL, NULL);
		return;
	}
	if (strcmp(path, "/ui") == 0) {
		ui_redirect(hr, "/ui/");
		return;
	}
	ui_split(path, &sec, &id, &action);
	if (sec != NULL && strcmp(sec, "static") == 0 && id != NULL && !post)
		ui_static(hr, id);
	else if (sec != NULL && strcmp(sec, "login") == 0)
		ui_login(hr, post);
	else if (ui_cookie_payload(hr, hr->ui_session) < 0) {
		hr->ui_session[0] = '\0';
		ui_dispatch_checked(hr, post, sec, id, action);
	} else {
		/* The store says whether the session still exists: then the page goes on. */
		struct ui_gate *g = ui_gate_new(hr, gate_run, gate_done);
		memcpy(g->id, hr->ui_session + 3, sizeof(g->id) - 1);
		g->post = post;
		g->sec = sec;
		g->arg = id;
		g->action = action;
		storeloop_submit(daemon_readloop(hr->d), &g->job);
		return;
	}
	free(sec);
	free(id);
	free(action);
}
