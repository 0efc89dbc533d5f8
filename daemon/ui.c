/*
 * Issue 22: the dashboard's edge. Sessions are cookies signed with the daemon's secret
 * (role, expiry, a fingerprint of the token that logged in: removing the token ends them);
 * every form that changes something carries a CSRF token derived from the session; every
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
#include "crypto.h"
#include "daemon.h"
#include "http.h"
#include "log.h"
#include "mustache.h"
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

/* The session of a request, once checked. */
struct ui_session {
	int role;
	char payload[96]; /* what the cookie signs: the CSRF token derives from it */
};

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
 * The request's session: the cookie's signature, its expiry, and the token it names still
 * configured; the role is the token's role now. 0, or -1 when there is none.
 */
static int
ui_session(struct http_req *hr, struct ui_session *s)
{
	const struct config *c = daemon_config(hr->d);
	char *cookie = ui_cookie(hr), *dot, mac[65], fp[17];
	long long exp;
	int ok = 0;

	memset(s, 0, sizeof(*s));
	if (cookie == NULL || (dot = strrchr(cookie, '.')) == NULL ||
	    (size_t)(dot - cookie) >= sizeof(s->payload)) {
		free(cookie);
		return -1;
	}
	*dot = '\0';
	ui_sign(hr->d, "ui-session", cookie, mac);
	if (!crypto_secret_equal(dot + 1, mac) || sscanf(cookie, "v1.%lld.%16s", &exp, fp) != 2 ||
	    exp * 1000 < util_now_ms()) {
		free(cookie);
		return -1;
	}
	snprintf(s->payload, sizeof(s->payload), "%s", cookie);
	free(cookie);
	if (c->n_api_tokens == 0) {
		ok = strcmp(fp, "open") == 0;
		s->role = ROLE_ADMIN;
	}
	for (size_t i = 0; i < c->n_api_tokens; i++) {
		char tfp[17];
		ui_token_fp(hr->d, c->api_tokens[i], tfp);
		if (crypto_secret_equal(tfp, fp) && c->api_token_roles[i] > s->role) {
			s->role = c->api_token_roles[i];
			ok = 1;
		}
	}
	return ok ? 0 : -1;
}

static void
ui_csrf(struct http_req *hr, const struct ui_session *s, char out[33])
{
	char mac[65];
	ui_sign(hr->d, "ui-csrf", s->payload, mac);
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
	struct ui_session s;
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
	if (ui_session(hr, &s) == 0) {
		ui_csrf(hr, &s, csrf);
		json_object_set_new(view, "csrf", json_string(csrf));
		json_object_set_new(view, "session", json_true());
		json_object_set_new(view, "admin", json_boolean(s.role == ROLE_ADMIN));
		json_object_set_new(view, "role",
				    json_string(s.role == ROLE_ADMIN ? "admin" : "read"));
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

/* GET /ui/login: the form; POST: a token in, a session cookie out. */
static void
ui_login(struct http_req *hr, int post)
{
	const struct config *c = daemon_config(hr->d);
	char *token, fp[17], mac[65], payload[96], *cookie;
	int role;

	if (!post) {
		ui_render(hr, "login", json_object());
		return;
	}
	token = ui_form(hr, "token");
	role = config_token_role(c, token ? token : "");
	if (role == ROLE_NONE) {
		free(token);
		ui_render_code(hr, 401, "login",
			       json_pack("{s:s}", "error", "That token is not one of api_tokens."));
		return;
	}
	if (c->n_api_tokens == 0)
		snprintf(fp, sizeof(fp), "open");
	else
		ui_token_fp(hr->d, token, fp);
	free(token);
	snprintf(payload, sizeof(payload), "v1.%lld.%s",
		 (long long)(util_now_ms() / 1000 + UI_SESSION_S), fp);
	ui_sign(hr->d, "ui-session", payload, mac);
	cookie = xasprintf(UI_COOKIE "=%s.%s; Path=/ui; Max-Age=%d; HttpOnly; SameSite=Strict%s",
			   payload, mac, UI_SESSION_S, ui_secure(hr) ? "; Secure" : "");
	ui_reply(hr, 303, "text/plain; charset=utf-8", ui_csp, "", 0, cookie, "/ui/");
	free(cookie);
}

static void
ui_logout(struct http_req *hr)
{
	char *cookie = xasprintf(UI_COOKIE "=; Path=/ui; Max-Age=0; HttpOnly; SameSite=Strict%s",
				 ui_secure(hr) ? "; Secure" : "");
	ui_reply(hr, 303, "text/plain; charset=utf-8", ui_csp, "", 0, cookie, "/ui/login");
	free(cookie);
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
ui_csrf_ok(struct http_req *hr, const struct ui_session *s)
{
	char want[33];
	char *got = ui_form(hr, "csrf");
	int ok;
	ui_csrf(hr, s, want);
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

void
ui_dispatch(struct http_req *hr, const char *path, int cmd)
{
	const struct config *c = daemon_config(hr->d);
	int post = cmd == EVHTTP_REQ_POST;
	char *sec, *id, *action;
	struct ui_session s;

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
	else if (ui_session(hr, &s) < 0) {
		if (post)
			ui_error(hr, 403, "No session: log in first.");
		else
			ui_redirect(hr, "/ui/login");
	} else if (post && !ui_csrf_ok(hr, &s))
		ui_error(hr, 403, "The form's CSRF token is missing or wrong: reload the page.");
	else {
		hr->role = s.role;
		if (post && strcmp(sec ? sec : "", "logout") == 0)
			ui_logout(hr);
		else
			ui_route(hr, post, sec, id, action);
	}
	free(sec);
	free(id);
	free(action);
}
