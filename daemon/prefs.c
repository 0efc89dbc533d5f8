/*
 * The preference centre behind the unsubscribe link (/u/{token}, issue 20): the customer's
 * topics with their state, a form to change any, and the buttons to leave the link's topic or
 * all mail (api_consent.c, unchanged: RFC 8058's one-click POST is theirs). The signed token
 * in the path is the credential; the forms post it back to the same path, and there are no
 * cookies, so another site cannot forge a change. Plain HTML, escaped, no script. Each change
 * is recorded in the consent log with the source "preferences".
 */
#include <event2/buffer.h>
#include <event2/http.h>
#include <event2/keyvalq_struct.h>
#include <glib.h>
#include <stdlib.h>
#include <string.h>

#include "config.h"
#include "store_json.h"
#include "consent.h"
#include "daemon.h"
#include "http.h"
#include "prefs.h"
#include "storeloop.h"
#include "token.h"
#include "util.h"
#include "validate.h"

#define PREFS_TOPICS_MAX 64

struct prefs_job {
	struct store_job job; /* first */
	struct http_req *hr;
	char *customer, *topic; /* the link's */
	GPtrArray *opt_in;	/* the configuration's opt-in topics (copied on the loop) */
	GPtrArray *shown;	/* a POST: the topics the form showed ... */
	GHashTable *on;		/* ... and those ticked */
	int post, de;
	int64_t now_ms;
	/* Results. */
	json_t *consent; /* topic -> state, after the changes; NULL: no such customer */
	int changes;
};

static void
prefs_job_free(struct prefs_job *j)
{
	free(j->customer);
	free(j->topic);
	g_ptr_array_free(j->opt_in, TRUE);
	if (j->shown)
		g_ptr_array_free(j->shown, TRUE);
	if (j->on)
		g_hash_table_destroy(j->on);
	json_decref(j->consent);
	free(j);
}

static int
prefs_opt_in(const struct prefs_job *j, const char *topic)
{
	for (guint i = 0; i < j->opt_in->len; i++)
		if (strcmp(g_ptr_array_index(j->opt_in, i), topic) == 0)
			return 1;
	return 0;
}

/* Whether mail of TOPIC reaches the customer, as compose_consent decides (all mail aside). */
static int
prefs_receiving(const struct prefs_job *j, json_t *consent, const char *topic)
{
	const char *state = json_string_value(json_object_get(consent, topic));
	if (prefs_opt_in(j, topic))
		return state != NULL && strcmp(state, "subscribed") == 0;
	return state == NULL || strcmp(state, "unsubscribed") != 0;
}

/* Store thread: the form's changes, each a consent change of its own; then the state now. */
static enum store_status
prefs_run(struct store *s, struct store_job *job)
{
	struct prefs_job *j = (struct prefs_job *)job;
	json_t *ctx = NULL, *consent;
	int64_t cid;
	int any_on = 0;
	enum store_status rc = store_customer_lookup(s, j->customer, &cid);

	if (rc == STORE_NOTFOUND || rc == STORE_GONE)
		return STORE_OK; /* the page without topics: nothing is told */
	if (rc != STORE_OK || (rc = store_customer_context(s, cid, &ctx)) != STORE_OK)
		return rc;
	consent = json_object_get(ctx, "consent");
	for (guint i = 0; j->post && i < j->shown->len && rc == STORE_OK; i++) {
		const char *t = g_ptr_array_index(j->shown, i);
		int want = g_hash_table_contains(j->on, t);
		any_on |= want;
		if (want == prefs_receiving(j, consent, t))
			continue;
		rc = store_consent_update(s, cid, t, want ? "subscribed" : "unsubscribed",
					  "preferences", NULL, j->now_ms);
		j->changes++;
	}
	/* A topic chosen after leaving all mail: all mail is allowed again. */
	const char *all = json_string_value(json_object_get(consent, "*"));
	if (rc == STORE_OK && any_on && all != NULL && strcmp(all, "unsubscribed") == 0) {
		rc =
		    store_consent_update(s, cid, "*", "subscribed", "preferences", NULL, j->now_ms);
		j->changes++;
	}
	json_decref(ctx);
	ctx = NULL;
	if (rc == STORE_OK && (rc = store_customer_context(s, cid, &ctx)) == STORE_OK)
		j->consent = json_incref(json_object_get(ctx, "consent"));
	json_decref(ctx);
	return rc;
}

static gint
prefs_cmp(gconstpointer a, gconstpointer b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* The topics to show: the opt-in topics, those the customer has a state for, the link's. */
static GPtrArray *
prefs_topics(const struct prefs_job *j)
{
	GPtrArray *v = g_ptr_array_new();
	GHashTable *seen = g_hash_table_new(g_str_hash, g_str_equal);
	const char *t;
	json_t *x;

	for (guint i = 0; i < j->opt_in->len; i++)
		g_hash_table_add(seen, g_ptr_array_index(j->opt_in, i));
	json_object_foreach(j->consent, t, x) if (strcmp(t, "*") != 0)
	    g_hash_table_add(seen, (char *)t);
	if (strcmp(j->topic, "*") != 0)
		g_hash_table_add(seen, j->topic);
	GHashTableIter it;
	gpointer key;
	g_hash_table_iter_init(&it, seen);
	while (g_hash_table_iter_next(&it, &key, NULL))
		g_ptr_array_add(v, key);
	g_ptr_array_sort(v, prefs_cmp);
	g_hash_table_destroy(seen);
	return v;
}

/* Network loop: the page, with the form (and a note when a POST saved something). */
static void
prefs_done(struct store_job *job)
{
	struct prefs_job *j = (struct prefs_job *)job;
	int de = j->de;
	GString *b = g_string_new(NULL);
	char *label = g_markup_escape_text(
	    strcmp(j->topic, "*") == 0 ? (de ? "alle E-Mails" : "all mail") : j->topic, -1);

	if (job->status != STORE_OK) {
		consent_page(j->hr, 503, de,
			     de ? "Bitte später erneut versuchen" : "Please try again",
			     de ? "<p>Gerade konnte nichts gespeichert werden. Bitte versuchen Sie "
				  "es in einigen Minuten erneut.</p>"
				: "<p>Nothing could be saved just now. Please try again in a few "
				  "minutes.</p>");
		goto out;
	}
	if (j->post)
		g_string_append(b,
				de ? "<p role=\"status\"><b>Ihre Einstellungen sind "
				     "gespeichert.</b></p>"
				   : "<p role=\"status\"><b>Your preferences are saved.</b></p>");
	/* The link's own action first: what one-click does, as before. */
	g_string_append_printf(
	    b,
	    de ? "<p>Keine E-Mails mehr zu <b>%s</b> erhalten?</p><form "
		 "method=\"post\"><button type=\"submit\">Abmelden</button></form>"
	       : "<p>Stop receiving emails about <b>%s</b>?</p><form "
		 "method=\"post\"><button type=\"submit\">Unsubscribe</button></form>",
	    label);
	if (j->consent != NULL) {
		GPtrArray *topics = prefs_topics(j);
		const char *all = json_string_value(json_object_get(j->consent, "*"));
		int all_off = all != NULL && strcmp(all, "unsubscribed") == 0;
		g_string_append(b, de ? "<h2>Ihre Themen</h2>" : "<h2>Your topics</h2>");
		if (all_off)
			g_string_append(b,
					de ? "<p>Sie sind von allen E-Mails abgemeldet. Wählen Sie "
					     "ein Thema, um wieder E-Mails zu erhalten.</p>"
					   : "<p>You are unsubscribed from all mail. Choose a "
					     "topic to receive mail again.</p>");
		g_string_append(b, "<form method=\"post\"><input type=\"hidden\" name=\"action\" "
				   "value=\"preferences\"><fieldset>");
		for (guint i = 0; i < topics->len; i++) {
			const char *t = g_ptr_array_index(topics, i);
			const char *state = json_string_value(json_object_get(j->consent, t));
			int on = !all_off && prefs_receiving(j, j->consent, t);
			char *et = g_markup_escape_text(t, -1);
			g_string_append_printf(
			    b,
			    "<input type=\"hidden\" name=\"shown\" value=\"%s\"><p><label><input "
			    "type=\"checkbox\" name=\"on\" value=\"%s\"%s> %s</label>%s</p>",
			    et, et, on ? " checked" : "", et,
			    state && strcmp(state, "pending") == 0
				? (de ? " <small>(Bestätigung ausstehend)</small>"
				      : " <small>(waiting for your confirmation)</small>")
				: "");
			g_free(et);
		}
		g_string_append(b, de ? "</fieldset><p><button type=\"submit\">Speichern</button>"
					"</p></form>"
				      : "</fieldset><p><button type=\"submit\">Save</button></p>"
					"</form>");
		g_ptr_array_free(topics, TRUE);
	}
	g_string_append(b, de ? "<form method=\"post\"><input type=\"hidden\" name=\"scope\" "
				"value=\"all\"><p><button type=\"submit\">Von allen E-Mails "
				"abmelden</button></p></form>"
			      : "<form method=\"post\"><input type=\"hidden\" name=\"scope\" "
				"value=\"all\"><p><button type=\"submit\">Unsubscribe from all "
				"mail</button></p></form>");
	consent_page(j->hr, 200, de, de ? "Abmelden und Einstellungen" : "Email preferences",
		     b->str);
out:
	g_free(label);
	g_string_free(b, TRUE);
	prefs_job_free(j);
}

static struct prefs_job *
prefs_job_new(struct http_req *hr, const struct token *t, int de)
{
	const struct config *c = daemon_config(hr->d);
	struct prefs_job *j = xcalloc(1, sizeof(*j));

	j->hr = hr;
	j->customer = xstrdup(t->customer);
	j->topic = xstrdup(t->topic);
	j->de = de;
	j->now_ms = util_now_ms();
	j->opt_in = g_ptr_array_new_with_free_func(free);
	for (size_t i = 0; i < c->n_opt_in_topics; i++)
		g_ptr_array_add(j->opt_in, xstrdup(c->opt_in_topics[i]));
	j->job.run = prefs_run;
	j->job.done = prefs_done;
	return j;
}

void
prefs_get(struct http_req *hr, const struct token *t, int de)
{
	storeloop_submit(daemon_storeloop(hr->d), &prefs_job_new(hr, t, de)->job);
}

/* The form's fields: "shown" (each topic it showed) and "on" (each ticked); bad ones dropped. */
static int
prefs_parse(struct http_req *hr, struct prefs_job *j)
{
	struct evbuffer *in = hr->req ? evhttp_request_get_input_buffer(hr->req) : NULL;
	size_t len = in ? evbuffer_get_length(in) : 0;
	struct evkeyvalq params;
	struct evkeyval *kv;
	char *body;

	j->shown = g_ptr_array_new_with_free_func(free);
	j->on = g_hash_table_new_full(g_str_hash, g_str_equal, free, NULL);
	if (len > 16384)
		return -1;
	body = xstrndup(len ? (const char *)evbuffer_pullup(in, -1) : "", len);
	if (evhttp_parse_query_str(body, &params) != 0) {
		free(body);
		return -1;
	}
	for (kv = params.tqh_first; kv != NULL; kv = kv->next.tqe_next) {
		if (!validate_topic(kv->value))
			continue;
		if (strcmp(kv->key, "shown") == 0 && j->shown->len < PREFS_TOPICS_MAX)
			g_ptr_array_add(j->shown, xstrdup(kv->value));
		else if (strcmp(kv->key, "on") == 0 && g_hash_table_size(j->on) < PREFS_TOPICS_MAX)
			g_hash_table_add(j->on, xstrdup(kv->value));
	}
	evhttp_clear_headers(&params);
	free(body);
	return 0;
}

void
prefs_post(struct http_req *hr, const struct token *t, int de)
{
	struct prefs_job *j = prefs_job_new(hr, t, de);

	j->post = 1;
	if (prefs_parse(hr, j) < 0) {
		prefs_job_free(j);
		consent_page(hr, 400, de, de ? "Ungültige Eingabe" : "Invalid form",
			     de ? "<p>Das Formular konnte nicht gelesen werden.</p>"
				: "<p>The form could not be read.</p>");
		return;
	}
	storeloop_submit(daemon_storeloop(hr->d), &j->job);
}
