/* Broadcasts: the checks at creation, the frozen content, the fan-out (broadcast.h). */
#include "broadcast.h"
#include "store_json.h"

#include <glib.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "channel.h"
#include "clock.h"
#include "compose.h"
#include "condition.h"
#include "config.h"
#include "engine_int.h"
#include "log.h"
#include "message_queue.h"
#include "mustache.h"
#include "segment.h"
#include "store_broadcast.h"
#include "template.h"
#include "timefmt.h"
#include "util.h"
#include "validate.h"

#define BROADCAST_SUFFIX ".mustache"
/* Broadcasts advanced per engine pass: a chunk of each. */
#define BROADCAST_DUE_LIMIT 4

static const char *const broadcast_keys[] = {"id",
					     "name",
					     "topic",
					     "channel",
					     "audience",
					     "content",
					     "send_at",
					     "in_customer_timezone",
					     "frequency_cap_exempt",
					     "chunk",
					     "archive",
					     "quiet_hours"};

static int
broadcast_err(char **err, const char **field, const char *f, char *msg)
{
	*err = msg;
	*field = f;
	return -1;
}

/* "HH:MM" as minutes after midnight, or -1. */
static int
broadcast_local_minute(const char *s)
{
	int h, m;
	char end;
	if (s == NULL || strlen(s) != 5 || sscanf(s, "%2d:%2d%c", &h, &m, &end) != 2 || h < 0 ||
	    h > 23 || m < 0 || m > 59)
		return -1;
	return h * 60 + m;
}

/* The inline content's syntax, each part parsed: "content.text: 3:5: message". */
static char *
broadcast_parse_part(json_t *content, const char *part, int required)
{
	json_t *v = json_object_get(content, part);
	struct mustache_error e;
	struct mustache_tmpl *t;

	if (v == NULL && !required)
		return NULL;
	if (!json_is_string(v))
		return xasprintf("'content.%s' must be a string (Mustache)", part);
	if ((t = mustache_parse(json_string_value(v), &e)) == NULL)
		return xasprintf("'content.%s' does not parse: %d:%d: %s", part, e.line, e.col,
				 e.message);
	mustache_free(t);
	return NULL;
}

static int
broadcast_check_content(json_t *content, char **err, const char **field)
{
	static const char *const parts[] = {"subject", "text", "html"};
	json_t *tmpl = json_object_get(content, "template");
	const char *key;
	json_t *v;
	char *why;

	if (!json_is_object(content))
		return broadcast_err(err, field, "content",
				     xstrdup("'content' must be {\"subject\", \"text\", \"html\"?} "
					     "or {\"template\": NAME}"));
	json_object_foreach(content, key, v)
	{
		int known = strcmp(key, "template") == 0;
		for (size_t i = 0; i < NT_ARRAY_LEN(parts); i++)
			known |= strcmp(key, parts[i]) == 0;
		if (!known)
			return broadcast_err(err, field, "content",
					     xasprintf("unknown key 'content.%s'", key));
	}
	if (tmpl != NULL) {
		const char *name = json_string_value(tmpl);
		if (name == NULL || !*name || strchr(name, '/') || name[0] == '.' ||
		    json_object_size(content) != 1)
			return broadcast_err(
			    err, field, "content.template",
			    xstrdup("'content.template' must name a template in templates_dir, "
				    "alone"));
		return 0;
	}
	for (size_t i = 0; i < NT_ARRAY_LEN(parts); i++)
		if ((why = broadcast_parse_part(content, parts[i], i < 2)) != NULL)
			return broadcast_err(err, field,
					     i == 0   ? "content.subject"
					     : i == 1 ? "content.text"
						      : "content.html",
					     why);
	return 0;
}

static int
broadcast_check_audience(json_t *audience, char **err, const char **field)
{
	if (json_is_string(audience)) {
		if (!validate_customer_id(json_string_value(audience)))
			return broadcast_err(err, field, "audience",
					     xstrdup("'audience' must be a segment id or a "
						     "condition"));
		return 0;
	}
	char *why = NULL;
	struct cond *c = segment_compile(audience, "audience", &why);
	cond_free(c);
	return c == NULL ? broadcast_err(err, field, "audience", why) : 0;
}

int
broadcast_spec_check(json_t *body, const struct config *cfg, int64_t now_ms, int64_t *due_ms,
		     char **err, const char **field)
{
	const char *key, *s;
	json_t *v;

	*due_ms = -1;
	if (!json_is_object(body))
		return broadcast_err(err, field, NULL, xstrdup("the body must be a JSON object"));
	json_object_foreach(body, key, v)
	{
		int known = 0;
		for (size_t i = 0; i < NT_ARRAY_LEN(broadcast_keys); i++)
			known |= strcmp(key, broadcast_keys[i]) == 0;
		if (!known)
			return broadcast_err(err, field, key, xasprintf("unknown key '%s'", key));
	}
	s = json_string_value(json_object_get(body, "id"));
	if (s == NULL || !validate_customer_id(s))
		return broadcast_err(err, field, "id",
				     xstrdup("'id' must be an id (letters, digits, - _ . @ :)"));
	s = json_string_value(json_object_get(body, "name"));
	if (s == NULL || !*s || strlen(s) > 200)
		return broadcast_err(err, field, "name", xstrdup("'name' must be a string"));
	s = json_string_value(json_object_get(body, "topic"));
	int rules = 0;
	for (size_t i = 0; s != NULL && i < cfg->n_opt_in_topics; i++)
		rules |= strcmp(cfg->opt_in_topics[i], s) == 0;
	if (s == NULL || !validate_topic(s))
		return broadcast_err(err, field, "topic", xstrdup("'topic' must be a topic"));
	if (!rules)
		return broadcast_err(
		    err, field, "topic",
		    xasprintf("topic '%s' has no consent rules (it is not in opt_in_topics): a "
			      "broadcast goes only to customers subscribed to its topic",
			      s));
	s = json_string_value(json_object_get(body, "channel"));
	const struct channel_conf *cc = s ? channel_conf_find(cfg->chans, cfg->n_chans, s) : NULL;
	if (cc == NULL)
		return broadcast_err(err, field, "channel",
				     xasprintf("'channel' must name a configured channel"));
	if (cc->internal)
		return broadcast_err(err, field, "channel",
				     xasprintf("channel '%s' is internal (to the operator)", s));
	if (broadcast_check_audience(json_object_get(body, "audience"), err, field) < 0 ||
	    broadcast_check_content(json_object_get(body, "content"), err, field) < 0)
		return -1;
	v = json_object_get(body, "frequency_cap_exempt");
	if (v != NULL && !json_is_boolean(v))
		return broadcast_err(err, field, "frequency_cap_exempt",
				     xstrdup("'frequency_cap_exempt' must be true or false"));
	v = json_object_get(body, "archive");
	if (v != NULL && !json_is_boolean(v))
		return broadcast_err(err, field, "archive",
				     xstrdup("'archive' must be true or false"));
	v = json_object_get(body, "chunk");
	if (v != NULL && (!json_is_integer(v) || json_integer_value(v) < 1 ||
			  json_integer_value(v) > BROADCAST_CHUNK_MAX))
		return broadcast_err(
		    err, field, "chunk",
		    xasprintf("'chunk' must be from 1 to %d", BROADCAST_CHUNK_MAX));
	v = json_object_get(body, "quiet_hours");
	if (v != NULL) {
		int from = broadcast_local_minute(json_string_value(json_object_get(v, "from")));
		int to = broadcast_local_minute(json_string_value(json_object_get(v, "to")));
		if (!json_is_object(v) || json_object_size(v) != 2 || from < 0 || to < 0 ||
		    from == to)
			return broadcast_err(err, field, "quiet_hours",
					     xstrdup("'quiet_hours' must be {\"from\": \"HH:MM\", "
						     "\"to\": \"HH:MM\"}, two different times"));
	}
	v = json_object_get(body, "in_customer_timezone");
	if (v != NULL && broadcast_local_minute(json_string_value(v)) < 0)
		return broadcast_err(
		    err, field, "in_customer_timezone",
		    xstrdup("'in_customer_timezone' must be a local time \"HH:MM\""));
	v = json_object_get(body, "send_at");
	if (v == NULL || json_is_null(v)) {
		if (json_object_get(body, "in_customer_timezone") != NULL)
			return broadcast_err(err, field, "send_at",
					     xstrdup("'in_customer_timezone' needs 'send_at'"));
		return 0; /* a draft */
	}
	s = json_string_value(v);
	if (s != NULL && strcmp(s, "now") == 0)
		*due_ms = now_ms;
	else if (s == NULL || timefmt_parse_rfc3339(s, due_ms) < 0)
		return broadcast_err(err, field, "send_at",
				     xstrdup("'send_at' must be \"now\" or an RFC 3339 instant"));
	else if (*due_ms < now_ms - 1000)
		return broadcast_err(err, field, "send_at",
				     xasprintf("'send_at' %s is in the past", s));
	return 0;
}

char *
broadcast_campaign_id(const char *id)
{
	return xasprintf("broadcast:%s", id);
}

/* Every partial in DIR (NAME.mustache without a part) into FILES; -1 with *ERR. */
static int
broadcast_read_dir(const char *dir, const char *tmpl, json_t *files, char **err)
{
	GError *ge = NULL;
	GDir *d = g_dir_open(dir, 0, &ge);
	const char *fname;
	size_t sl = strlen(BROADCAST_SUFFIX), tl = tmpl ? strlen(tmpl) : 0;

	if (d == NULL) {
		*err = xasprintf("templates_dir %s: %s", dir, ge->message);
		g_error_free(ge);
		return -1;
	}
	while ((fname = g_dir_read_name(d)) != NULL) {
		size_t len = strlen(fname);
		if (fname[0] == '.' || len <= sl || strcmp(fname + len - sl, BROADCAST_SUFFIX) != 0)
			continue;
		const char *stem_end = fname + len - sl;
		int part = 0;
		for (const char *p = fname; p < stem_end; p++)
			if (*p == '.' &&
			    (strncmp(p, ".subject.", 9) == 0 || strncmp(p, ".text.", 6) == 0 ||
			     strncmp(p, ".html.", 6) == 0))
				part = 1;
		/* partials, and the named template's own parts (any locale) */
		if (part &&
		    !(tmpl && len > tl && strncmp(fname, tmpl, tl) == 0 && fname[tl] == '.'))
			continue;
		char *path = g_build_filename(dir, fname, NULL), *text = NULL;
		gsize tlen;
		if (g_file_get_contents(path, &text, &tlen, NULL) &&
		    g_utf8_validate(text, tlen, NULL))
			json_object_set_new(files, fname, json_string(text));
		g_free(text);
		g_free(path);
	}
	g_dir_close(d);
	return 0;
}

json_t *
broadcast_sources(const char *templates_dir, json_t *spec, char **err)
{
	json_t *content = json_object_get(spec, "content"), *files = json_object();
	const char *tmpl = json_string_value(json_object_get(content, "template"));
	static const char *const parts[] = {"subject", "text", "html"};

	*err = NULL;
	if (templates_dir != NULL && broadcast_read_dir(templates_dir, tmpl, files, err) < 0 &&
	    tmpl != NULL) {
		json_decref(files);
		return NULL;
	}
	free(*err);
	*err = NULL;
	if (tmpl != NULL)
		return files;
	for (size_t i = 0; i < NT_ARRAY_LEN(parts); i++) {
		const char *text = json_string_value(json_object_get(content, parts[i]));
		char fname[64];
		snprintf(fname, sizeof(fname), "%s.%s%s", BROADCAST_INLINE, parts[i],
			 BROADCAST_SUFFIX);
		if (text != NULL)
			json_object_set_new(files, fname, json_string(text));
	}
	return files;
}

/* The template name SPEC's content is rendered from. */
static const char *
broadcast_template_name(json_t *spec)
{
	const char *t =
	    json_string_value(json_object_get(json_object_get(spec, "content"), "template"));
	return t ? t : BROADCAST_INLINE;
}

json_t *
broadcast_placeholder(const char *email)
{
	return json_pack("{s:s,s:s,s:s,s:s,s:{},s:{}}", "id", "placeholder", "name", "Subscriber",
			 "email", email ? email : "subscriber@example.invalid", "locale", "",
			 "attributes", "consent");
}

void
broadcast_campaign(struct campaign *c, const char *campaign_id, json_t *spec)
{
	memset(c, 0, sizeof(*c));
	c->id = (char *)campaign_id;
	c->name = (char *)json_string_value(json_object_get(spec, "name"));
	c->topic = (char *)json_string_value(json_object_get(spec, "topic"));
	c->locale_default = "en";
	c->timezone_default = "UTC";
	c->status = CAMPAIGN_ACTIVE;
	json_t *q = json_object_get(spec, "quiet_hours");
	if (q != NULL) {
		c->has_quiet_hours = 1;
		c->quiet_from =
		    broadcast_local_minute(json_string_value(json_object_get(q, "from")));
		c->quiet_to = broadcast_local_minute(json_string_value(json_object_get(q, "to")));
	}
}

/* Renders SPEC's content from FILES for the placeholder: 0 with OUT, or -1 with *ERR. */
static int
broadcast_render(const struct compose_ctx *cx, json_t *spec, json_t *files,
		 struct template_output *out, char **err)
{
	struct diag d;
	diag_init(&d, "broadcast", NULL);
	struct template_set *set = template_set_load_files("content", files, &d);
	const char *name = broadcast_template_name(spec);
	const struct template *t = template_find(set, name, NULL, "en");
	struct campaign c;
	struct mustache_error e;
	int rc = -1;

	*err = NULL;
	memset(out, 0, sizeof(*out));
	broadcast_campaign(&c, "broadcast", spec);
	if (t == NULL)
		*err = d.n > 0 ? xstrdup(d.msgs[0])
			       : xasprintf("no template '%s' in templates_dir", name);
	else {
		json_t *customer = broadcast_placeholder(NULL);
		json_t *data = compose_data(cx, &c, customer, NULL, NULL, util_now_ms());
		if (template_render(t, data, out, &e) < 0)
			*err = xasprintf("%s:%d:%d: %s", e.file[0] ? e.file : name, e.line, e.col,
					 e.message);
		else
			rc = 0;
		json_decref(data);
		json_decref(customer);
	}
	template_set_free(set);
	diag_free(&d);
	return rc;
}

char *
broadcast_render_check(const struct compose_ctx *cx, json_t *spec, json_t *files)
{
	struct template_output out;
	char *err = NULL;
	if (broadcast_render(cx, spec, files, &out, &err) == 0)
		template_output_free(&out);
	return err;
}

char *
broadcast_archive_html(const struct compose_ctx *cx, json_t *spec, json_t *files, char **err)
{
	struct template_output out;
	char *page;

	if (broadcast_render(cx, spec, files, &out, err) < 0)
		return NULL;
	gchar *title = g_markup_escape_text(out.subject ? out.subject : "", -1);
	if (out.html != NULL)
		page = xstrdup(out.html);
	else {
		gchar *body = g_markup_escape_text(out.text ? out.text : "", -1);
		page = xasprintf("<!doctype html>\n<html><head><meta charset=\"utf-8\"><title>%s"
				 "</title></head><body><h1>%s</h1><pre>%s</pre></body></html>\n",
				 title, title, body);
		g_free(body);
	}
	g_free(title);
	template_output_free(&out);
	return page;
}

/*
 * What a fan-out needs across its chunks, built once per broadcast and kept while it runs
 * (the store thread only): the frozen templates and the audience's condition.
 */
struct broadcast_cache {
	char *id;
	int64_t started_ms; /* with the id: a freeze undone by a failed commit is not reused */
	json_t *event; /* what templates see as "event": the broadcast, its archive's address */
	struct template_set *set;
	struct cond *audience;
};
static struct broadcast_cache broadcast_cache;

static void
broadcast_cache_drop(void)
{
	free(broadcast_cache.id);
	template_set_free(broadcast_cache.set);
	cond_free(broadcast_cache.audience);
	json_decref(broadcast_cache.event);
	memset(&broadcast_cache, 0, sizeof(broadcast_cache));
}

/* The cache for row R, from its frozen content and audience; NULL with *WHY when broken. */
static struct broadcast_cache *
broadcast_cache_get(const struct broadcast_row *r, const char **why)
{
	if (broadcast_cache.id != NULL && strcmp(broadcast_cache.id, r->id) == 0 &&
	    broadcast_cache.started_ms == r->started_ms)
		return &broadcast_cache;
	broadcast_cache_drop();
	json_t *frozen = r->frozen ? json_loads(r->frozen, 0, NULL) : NULL;
	char *err = NULL;
	struct diag d;
	diag_init(&d, "broadcast", NULL);
	broadcast_cache.set =
	    template_set_load_files("content", json_object_get(frozen, "files"), &d);
	diag_free(&d);
	/* The audience as it was when sending started (a segment's condition copied then). */
	broadcast_cache.audience =
	    segment_compile(json_object_get(frozen, "audience"), "audience", &err);
	free(err);
	json_decref(frozen);
	if (broadcast_cache.audience == NULL) {
		*why = "audience_invalid";
		broadcast_cache_drop();
		return NULL;
	}
	broadcast_cache.id = xstrdup(r->id);
	broadcast_cache.started_ms = r->started_ms;
	return &broadcast_cache;
}

/* The broadcast ends without sending (its content or segment went away): logged. */
static void
broadcast_give_up(struct broadcast_row *r, const char *why, int64_t now)
{
	log_warnx("broadcast %s: %s: canceled", r->id, why);
	r->state = BROADCAST_CANCELED;
	r->due_ms = -1;
	r->finished_ms = now;
}

/*
 * Sending starts: the content's files are read now, and a segment's condition copied, both
 * kept with the broadcast: an edit of either afterwards changes nothing in flight, nor after a
 * crash.
 */
static enum store_status
broadcast_freeze(struct engine *e, struct broadcast_row *r, json_t *spec, int64_t now)
{
	char *err = NULL;
	json_t *audience = json_incref(json_object_get(spec, "audience"));
	if (json_is_string(audience)) {
		struct segment_row seg;
		enum store_status rc =
		    store_segment_get(e->store, json_string_value(audience), &seg);
		json_decref(audience);
		audience = NULL;
		if (rc == STORE_OK)
			audience = json_loads(seg.condition, 0, NULL);
		segment_row_clear(&seg);
		if (rc != STORE_OK && rc != STORE_NOTFOUND)
			return rc;
		if (audience == NULL) {
			broadcast_give_up(r, "its segment is gone", now);
			return STORE_OK;
		}
	}
	json_t *files =
	    broadcast_sources(e->cx && e->cx->cfg ? e->cx->cfg->templates_dir : NULL, spec, &err);
	if (files == NULL) {
		broadcast_give_up(r, err, now);
		free(err);
		json_decref(audience);
		return STORE_OK;
	}
	json_t *f = json_pack("{s:o,s:o}", "files", files, "audience", audience);
	free(r->frozen);
	r->frozen = json_dumps(f, JSON_COMPACT | JSON_SORT_KEYS);
	json_decref(f);
	r->state = BROADCAST_SENDING;
	r->started_ms = now;
	r->cursor = 0;
	if (e->cx != NULL && e->cx->cfg != NULL)
		log_info("broadcast %s: sending", r->id);
	return STORE_OK;
}

/* The archive's page, rendered once as the fan-out ends and kept with the frozen content. */
static void
broadcast_archive_keep(struct engine *e, struct broadcast_row *r, json_t *spec)
{
	json_t *frozen = r->frozen ? json_loads(r->frozen, 0, NULL) : NULL;
	char *err = NULL, *page;

	if (e->cx == NULL || frozen == NULL || json_is_false(json_object_get(spec, "archive"))) {
		json_decref(frozen);
		return;
	}
	page = broadcast_archive_html(e->cx, spec, json_object_get(frozen, "files"), &err);
	if (page != NULL) {
		json_object_set_new(frozen, "archive", json_string(page));
		free(r->frozen);
		r->frozen = json_dumps(frozen, JSON_COMPACT | JSON_SORT_KEYS);
	} else
		log_warnx("broadcast %s: no archive page: %s", r->id, err);
	free(page);
	free(err);
	json_decref(frozen);
}

/*
 * The "event" a broadcast's templates see: {"type": "broadcast", "time", "properties":
 * {"broadcast": ID, "archive_url"}}, the archive's address only when it will have a page.
 */
static json_t *
broadcast_event(struct engine *e, const struct broadcast_row *r, json_t *spec)
{
	char when[40];
	timefmt_format_utc(r->due_ms >= 0 ? r->due_ms : r->started_ms, when, sizeof(when));
	json_t *ev = json_pack("{s:s,s:s,s:{s:s}}", "type", "broadcast", "time", when, "properties",
			       "broadcast", r->id);
	const struct config *cfg = e->cx ? e->cx->cfg : NULL;
	if (cfg != NULL && cfg->broadcast_archive && cfg->public_url != NULL &&
	    !json_is_false(json_object_get(spec, "archive"))) {
		char *u = xasprintf("%s/archive/%s", cfg->public_url, r->id);
		json_object_set_new(json_object_get(ev, "properties"), "archive_url",
				    json_string(u));
		free(u);
	}
	return ev;
}

/* The frequency cap: whether CUSTOMER_ID has had its fill of marketing mail. */
static enum store_status
broadcast_capped(struct engine *e, int64_t customer_id, int64_t now, int *capped)
{
	long count = 0;
	int64_t oldest = -1;
	enum store_status rc = STORE_OK;

	*capped = 0;
	if (e->cap_max <= 0)
		return STORE_OK;
	rc = store_marketing_sent(e->store, customer_id, now - e->cap_per_ms, e->cap_max, &count,
				  &oldest);
	*capped = rc == STORE_OK && count >= e->cap_max;
	return rc;
}

/*
 * Tells the engine's observer (simulate) what came of one customer, as a campaign's notes do.
 * Nothing is written: the outbox row is the record, and a million notes would double the cost.
 */
static void
broadcast_observe(struct engine *e, int64_t cid, json_t *customer, const struct campaign *c,
		  const char *step, enum note_action action, const char *reason,
		  const char *channel, const char *tmpl, int64_t now)
{
	if (e->observe == NULL)
		return;
	struct journey_note n = {.journey_id = -1,
				 .customer_id = cid,
				 .campaign_id = c->id,
				 .step_id = step,
				 .action = action,
				 .reason = reason,
				 .channel = channel,
				 .template = tmpl,
				 .at_ms = now};
	e->observe(&n, json_string_value(json_object_get(customer, "id")), e->observe_arg);
}

/* One customer of the fan-out: audience, consent, the cap, then the one send path. */
static enum store_status
broadcast_one(struct engine *e, struct broadcast_row *r, json_t *spec, struct broadcast_cache *bc,
	      const struct compose_ctx *cx, const struct campaign *c, int64_t cid, int64_t now)
{
	json_t *customer = NULL;
	enum store_status rc = store_customer_context(e->store, cid, &customer);
	int capped = 0;

	if (rc != STORE_OK)
		return rc == STORE_NOTFOUND ? STORE_OK : rc;
	if (!engine_eval(e, bc->audience, customer, NULL, NULL, cid))
		goto out;
	r->matched++;
	const char *tmpl = broadcast_template_name(spec);
	const char *channel = json_string_value(json_object_get(spec, "channel"));
	char step[300];
	snprintf(step, sizeof(step), "broadcast:%s", r->id);
	if (!segment_subscribed(customer, c->topic)) {
		r->not_subscribed++;
		broadcast_observe(e, cid, customer, c, step, NOTE_SKIP, "not_subscribed", channel,
				  tmpl, now);
		goto out;
	}
	if (!json_is_true(json_object_get(spec, "frequency_cap_exempt")) &&
	    (rc = broadcast_capped(e, cid, now, &capped)) != STORE_OK)
		goto out;
	const char *local = json_string_value(json_object_get(spec, "in_customer_timezone"));
	int64_t due = 0;
	if (local != NULL)
		due = engine_next_local_time(
		    r->due_ms - 1, json_string_value(json_object_get(customer, "timezone")),
		    broadcast_local_minute(local));
	/* Quiet hours in the customer's zone hold the message until they end. */
	int64_t quiet = engine_quiet_until(c, customer, due > now ? due : now);
	if (quiet > 0)
		due = quiet;
	if (capped) {
		struct outbox_entry o = {.journey_id = -1,
					 .customer_id = cid,
					 .campaign_id = c->id,
					 .step_id = step,
					 .visit = (int)cid,
					 .channel = channel,
					 .template = tmpl,
					 .message_id = "",
					 .created_ms = now,
					 .state = OUTBOX_SKIPPED,
					 .reason = "frequency_cap"};
		char *mid = xasprintf("capped.%s.%lld", r->id, (long long)cid);
		o.message_id = mid;
		rc = store_outbox_add(e->store, &o, NULL);
		free(mid);
		if (rc == STORE_DUPLICATE)
			rc = STORE_OK;
		broadcast_observe(e, cid, customer, c, step, NOTE_SKIP, "frequency_cap", channel,
				  tmpl, now);
		goto out;
	}
	struct message_req req = {.campaign = c,
				  .journey_id = -1,
				  .customer_id = cid,
				  .campaign_id = c->id,
				  .step_id = step,
				  .visit = (int)cid,
				  .channel = channel,
				  .template = tmpl,
				  .customer = customer,
				  .event = bc->event,
				  .msgid_domain = e->msgid_domain,
				  .now_ms = now,
				  .due_ms = due};
	struct message_res res;
	rc = message_queue(e->store, cx, e->mp, &req, &res);
	if (rc == STORE_OK && !res.duplicate && res.state == OUTBOX_QUEUED)
		e->queued++;
	if (rc == STORE_OK && !res.duplicate)
		broadcast_observe(e, cid, customer, c, step,
				  res.state == OUTBOX_QUEUED ? NOTE_SEND : NOTE_SKIP, res.reason,
				  channel, tmpl, now);
	message_res_clear(&res);
out:
	json_decref(customer);
	return rc;
}

/*
 * One chunk of broadcast R: the next customers by id after its cursor. The cursor, the
 * counters and the state move in the transaction that queues the chunk's messages.
 */
static enum store_status
broadcast_fan_out(struct engine *e, struct broadcast_row *r, int *handled)
{
	int64_t now = clock_now(e->clock), *ids = NULL;
	json_t *spec = json_loads(r->spec, 0, NULL);
	json_t *chunk_v = json_object_get(spec, "chunk");
	int chunk = chunk_v ? (int)json_integer_value(chunk_v) : BROADCAST_CHUNK;
	char *cid = broadcast_campaign_id(r->id);
	const char *why = NULL;
	enum store_status rc = STORE_OK;
	size_t n = 0;

	if (r->state == BROADCAST_SCHEDULED && (rc = broadcast_freeze(e, r, spec, now)) != STORE_OK)
		goto out;
	if (r->state != BROADCAST_SENDING)
		goto save;
	struct broadcast_cache *bc = broadcast_cache_get(r, &why);
	if (bc == NULL) {
		broadcast_give_up(r, why, now);
		goto save;
	}
	if (bc->event == NULL)
		bc->event = broadcast_event(e, r, spec);
	struct compose_ctx cx;
	struct campaign c;
	if (e->cx != NULL) {
		cx = *e->cx;
		cx.tpl = bc->set;
	}
	broadcast_campaign(&c, cid, spec);
	if ((rc = store_customers_after(e->store, r->cursor, chunk, &ids, &n)) != STORE_OK)
		goto out;
	for (size_t i = 0; i < n && rc == STORE_OK; i++) {
		rc = broadcast_one(e, r, spec, bc, e->cx ? &cx : NULL, &c, ids[i], now);
		r->cursor = ids[i];
	}
	*handled += (int)n;
	if (rc == STORE_OK && n < (size_t)chunk) {
		broadcast_archive_keep(e, r, spec);
		r->state = BROADCAST_SENT;
		r->due_ms = -1;
		r->finished_ms = now;
		broadcast_cache_drop();
		log_info("broadcast %s: sent (%ld in the audience, %ld not subscribed)", r->id,
			 r->matched, r->not_subscribed);
	}
save:
	if (rc == STORE_OK) {
		r->updated_ms = now;
		rc = store_broadcast_update(e->store, r);
	}
out:
	free(ids);
	free(cid);
	json_decref(spec);
	return rc;
}

enum store_status
broadcast_run_due(struct engine *e, int *handled)
{
	struct broadcast_row *rows = NULL;
	size_t n = 0;
	enum store_status rc =
	    store_broadcasts_due(e->store, clock_now(e->clock), BROADCAST_DUE_LIMIT, &rows, &n);

	for (size_t i = 0; i < n && rc == STORE_OK; i++)
		rc = broadcast_fan_out(e, &rows[i], handled);
	if (rc != STORE_OK)
		broadcast_cache_drop(); /* the transaction is undone: so is what it read */
	broadcast_rows_free(rows, n);
	return rc;
}
