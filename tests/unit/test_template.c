/*
 * Unit tests for message templates (daemon/template.c), printed as TAP: the file layout, locale
 * fallback, escaping, subjects, partials and layouts, the problems reported with file:line:col,
 * and the examples in campaigns/templates/ (under $NT_SRCDIR, default ".") against the example
 * campaigns. Scratch directories are created in /tmp and removed again.
 */
#include <glib.h>
#include <glib/gstdio.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "campaign.h"
#include "template.h"
#include "util.h"
#include "tap.h"

static const char *srcdir = ".";

/* Shows the loader's messages as TAP comments, for failing tests. */
static void
test_print_diag(const struct diag *d)
{
	for (size_t i = 0; i < d->n; i++)
		printf("# %s\n", d->msgs[i]);
}

/* A fresh scratch directory holding FILES: name, text, name, text, ..., NULL. */
static char *
test_dir(const char *first, ...)
{
	GError *err = NULL;
	char *dir = g_dir_make_tmp("nt-template-XXXXXX", &err);
	va_list ap;

	if (dir == NULL) {
		fprintf(stderr, "cannot make a directory: %s\n", err->message);
		abort();
	}
	va_start(ap, first);
	for (const char *name = first; name != NULL; name = va_arg(ap, const char *)) {
		const char *text = va_arg(ap, const char *);
		char *path = g_build_filename(dir, name, NULL);
		if (!g_file_set_contents(path, text, -1, &err)) {
			fprintf(stderr, "cannot write %s: %s\n", path, err->message);
			abort();
		}
		g_free(path);
	}
	va_end(ap);
	return dir;
}

static void
test_rmdir(char *dir)
{
	GDir *gd = g_dir_open(dir, 0, NULL);
	const char *e;

	while (gd && (e = g_dir_read_name(gd)) != NULL) {
		char *path = g_build_filename(dir, e, NULL);
		g_remove(path);
		g_free(path);
	}
	if (gd)
		g_dir_close(gd);
	g_rmdir(dir);
	g_free(dir);
}

/* True when some message of D is exactly "DIR/FILE" followed by REST. */
static bool
test_has_msg(const struct diag *d, const char *dir, const char *file, const char *rest)
{
	char *want = xasprintf("%s/%s%s", dir, file, rest);
	bool found = false;

	for (size_t i = 0; i < d->n && !found; i++)
		found = strcmp(d->msgs[i], want) == 0;
	if (!found)
		printf("# want: %s\n", want);
	free(want);
	return found;
}

/* The locale found for LOCALE, "(none)" when no variant was, for readable comparisons. */
static const char *
test_found(const struct template_set *s, const char *name, const char *locale, const char *def)
{
	const struct template *t = template_find(s, name, locale, def);
	return t ? template_locale(t) : "(none)";
}

static void
test_expect_locale(const struct template_set *s, const char *name, const char *locale,
		   const char *def, const char *want)
{
	const char *got = test_found(s, name, locale, def);
	if (!test_ok(strcmp(got, want) == 0, "find %s for '%s' (default '%s'): '%s'", name,
		     locale ? locale : "NULL", def ? def : "NULL", want))
		printf("# got '%s'\n", got);
}

static void
test_fallback(void)
{
	char *dir = test_dir(
	    "greet.subject.mustache", "Hello", "greet.text.mustache", "Hello\n",
	    "greet.de.subject.mustache", "Hallo", "greet.de.text.mustache", "Hallo\n",
	    "greet.fr.subject.mustache", "Bonjour", "greet.fr.text.mustache", "Bonjour\n",
	    "greet.pt.subject.mustache", "Olá", "greet.pt.text.mustache", "Olá\n",
	    "greet.zh-Hant.subject.mustache", "你好", "greet.zh-Hant.text.mustache", "你好\n",
	    "region.de.subject.mustache", "de", "region.de.text.mustache", "de\n",
	    "region.de-AT.subject.mustache", "at", "region.de-AT.text.mustache", "at\n",
	    "only-de.de.subject.mustache", "Hallo", "only-de.de.text.mustache", "Hallo\n", NULL);
	struct diag d;
	struct template_set *s;

	diag_init(&d, "test", NULL);
	s = template_set_load(dir, &d);
	test_print_diag(&d);
	test_ok(s != NULL && d.n == 0, "a clean directory loads without problems");
	test_ok(template_set_count(s) == 3, "three template names (variants count once)");
	test_expect_locale(s, "greet", "de-DE", "en", "de");
	test_expect_locale(s, "greet", "de", "en", "de");
	test_expect_locale(s, "greet", "de_DE", "en", "de");
	test_expect_locale(s, "greet", "de-de", NULL, "de");
	test_expect_locale(s, "greet", "DE", NULL, "de");
	test_expect_locale(s, "greet", "es-ES", "fr", "fr");
	test_expect_locale(s, "greet", "es-ES", "fr-CA", "fr");
	test_expect_locale(s, "greet", "es-ES", "en", "");
	test_expect_locale(s, "greet", "es", NULL, "");
	test_expect_locale(s, "greet", NULL, NULL, "");
	test_expect_locale(s, "greet", "", "", "");
	test_expect_locale(s, "greet", "pt-BR", "en", "pt");
	test_expect_locale(s, "greet", "zh-Hant-TW", "en", "zh-Hant");
	test_expect_locale(s, "greet", "zh-hant", "en", "zh-Hant");
	test_expect_locale(s, "greet", "xx-YY", "en", "");
	test_expect_locale(s, "greet", "de_DE.UTF-8", "en", "de");
	test_expect_locale(s, "region", "de-at", "en", "de-AT");
	test_expect_locale(s, "region", "de-CH", "en", "de");
	test_expect_locale(s, "region", "fr", "de-AT", "de-AT");
	test_expect_locale(s, "only-de", "en-GB", "en", "(none)");
	test_expect_locale(s, "only-de", "en-GB", "de", "de");
	test_expect_locale(s, "nope", "de", "en", "(none)");
	template_set_free(s);
	diag_free(&d);
	test_rmdir(dir);
}

static void
test_escaping_and_subject(void)
{
	char *dir = test_dir("m.subject.mustache", "\n  Hello {{name}},\r\n   your order  \n\n",
			     "m.text.mustache", "Dear {{name}} & co\n", "m.html.mustache",
			     "<p>{{name}} {{{name}}}</p>\n", "plain.subject.mustache", "{{name}}",
			     "plain.text.mustache", "{{name}}", NULL);
	json_t *data = json_pack("{s:s}", "name", "<Tom & \"Jerry\">");
	struct template_output o;
	struct mustache_error err;
	struct diag d;
	struct template_set *s;

	diag_init(&d, "test", NULL);
	s = template_set_load(dir, &d);
	test_print_diag(&d);
	const struct template *t = template_find(s, "m", NULL, NULL);
	test_ok(t != NULL && template_render(t, data, &o, &err) == 0, "renders");
	if (t != NULL) {
		test_ok(strcmp(o.subject, "Hello <Tom & \"Jerry\">, your order") == 0,
			"subject: one line, trimmed, not escaped: [%s]", o.subject);
		test_ok(strcmp(o.text, "Dear <Tom & \"Jerry\"> & co\n") == 0,
			"text is not escaped: [%s]", o.text);
		test_ok(o.html != NULL &&
			    strcmp(o.html,
				   "<p>&lt;Tom &amp; &quot;Jerry&quot;&gt; <Tom & \"Jerry\">"
				   "</p>\n") == 0,
			"html is escaped, triple mustache is not: [%s]", o.html ? o.html : "NULL");
		template_output_free(&o);
	}
	t = template_find(s, "plain", NULL, NULL);
	test_ok(t != NULL && template_render(t, data, &o, &err) == 0 && o.html == NULL,
		"no html part: html is NULL");
	if (t != NULL)
		template_output_free(&o);

	/* A line break from the data is kept, for the header check to refuse (CWE-93). */
	json_object_set_new(data, "name", json_string("Mal\r\nBcc: victim@example.com"));
	t = template_find(s, "m", NULL, NULL);
	if (t != NULL && template_render(t, data, &o, &err) == 0) {
		test_ok(strcmp(o.subject,
			       "Hello Mal\r\nBcc: victim@example.com,\r\n   your order") == 0,
			"a subject whose data has a line break is not joined: [%s]", o.subject);
		template_output_free(&o);
	} else
		test_ok(false, "a subject whose data has a line break is not joined");

	char subj[] = "  a\n\n b \t\r\n c  ";
	template_subject_line(subj);
	test_ok(strcmp(subj, "a b c") == 0, "template_subject_line joins lines: [%s]", subj);
	json_decref(data);
	template_set_free(s);
	diag_free(&d);
	test_rmdir(dir);
}

static void
test_partials_and_layouts(void)
{
	char *dir = test_dir(
	    "layout.mustache",
	    "<html>{{$title}}Default{{/title}}|{{$body}}{{/body}}|{{> foot}}</html>",
	    "foot.mustache",
	    "{{#links.unsubscribe_url}}<a href=\"{{.}}\">out</a>{{/links.unsubscribe_url}}",
	    "signature.mustache", "-- \n{{team}}\n", "x.subject.mustache", "Hi", "x.text.mustache",
	    "Hello\n{{> signature}}", "x.html.mustache",
	    "{{< layout}}{{$body}}<b>{{team}}</b>{{/body}}{{/layout}}", "dyn.subject.mustache", "d",
	    "dyn.text.mustache", "{{>*which}}", NULL);
	json_t *data = json_pack("{s:s,s:{s:s}}", "team", "A&B", "links", "unsubscribe_url",
				 "https://x.example/u/1");
	struct template_output o;
	struct mustache_error err;
	struct diag d;
	struct template_set *s;

	diag_init(&d, "test", NULL);
	s = template_set_load(dir, &d);
	test_print_diag(&d);
	test_ok(d.n == 0, "partials and a layout load");
	const struct template *t = template_find(s, "x", "en", NULL);
	test_ok(t != NULL && template_render(t, data, &o, &err) == 0, "renders with partials");
	if (t != NULL) {
		test_ok(strcmp(o.text, "Hello\n-- \nA&B\n") == 0, "text partial: [%s]", o.text);
		test_ok(strcmp(o.html, "<html>Default|<b>A&amp;B</b>|<a "
				       "href=\"https://x.example/u/1\">out</a></html>") == 0,
			"layout: block overridden, default kept, partial inside: [%s]", o.html);
		template_output_free(&o);
	}
	json_object_set_new(data, "links", json_object());
	if (t != NULL && template_render(t, data, &o, &err) == 0) {
		test_ok(strstr(o.html, "<a") == NULL, "no unsubscribe link, no footer link");
		template_output_free(&o);
	} else
		test_ok(false, "no unsubscribe link, no footer link");

	/* A dynamic partial cannot be checked at load: an unknown one fails the render. */
	json_object_set_new(data, "which", json_string("nope"));
	t = template_find(s, "dyn", NULL, NULL);
	int rc = t != NULL ? template_render(t, data, &o, &err) : 0;
	test_ok(rc < 0, "unknown dynamic partial fails");
	test_ok(rc < 0 && strcmp(err.file, "dyn.text.mustache") == 0 && err.line == 1 &&
		    err.col == 1 && strstr(err.message, "nope") != NULL,
		"render error names the file and position: %s:%d:%d: %s", err.file, err.line,
		err.col, err.message);
	json_object_set_new(data, "which", json_string("signature"));
	test_ok(t != NULL && template_render(t, data, &o, &err) == 0 &&
		    strcmp(o.text, "-- \nA&B\n") == 0,
		"a known dynamic partial renders from memory");
	if (t != NULL && o.text != NULL)
		template_output_free(&o);
	json_decref(data);
	template_set_free(s);
	diag_free(&d);
	test_rmdir(dir);
}

/* A partial's own error names the partial's file at render time. */
static void
test_render_error_in_partial(void)
{
	char *dir = test_dir("deep.mustache", "a\n  {{>*inner}}", "p.subject.mustache", "s",
			     "p.text.mustache", "{{> deep}}", NULL);
	json_t *data = json_pack("{s:s}", "inner", "missing");
	struct template_output o;
	struct mustache_error err;
	struct diag d;
	struct template_set *s;

	diag_init(&d, "test", NULL);
	s = template_set_load(dir, &d);
	const struct template *t = template_find(s, "p", NULL, NULL);
	int rc = t != NULL ? template_render(t, data, &o, &err) : 0;
	test_ok(rc < 0 && strcmp(err.file, "deep.mustache") == 0 && err.line == 2 && err.col == 3,
		"an error inside a partial names the partial's file: %s:%d:%d", err.file, err.line,
		err.col);
	json_decref(data);
	template_set_free(s);
	diag_free(&d);
	test_rmdir(dir);
}

static void
test_problems(void)
{
	char *dir = test_dir(
	    "ok.subject.mustache", "fine", "ok.text.mustache", "fine\n", "syntax.subject.mustache",
	    "x", "syntax.text.mustache", "Hello\n{{#open}}\nbye\n", "unknown.subject.mustache", "x",
	    "unknown.de.text.mustache", "x", "unknown.text.mustache", "Hi\n  {{> nope}}\n",
	    "lonely.subject.mustache", "x", "lonely.html.mustache", "<p>x</p>",
	    "textonly.text.mustache", "x", "broken-partial.mustache", "line\n{{/close}}",
	    "user.subject.mustache", "x", "user.text.mustache", "{{> broken-partial}}",
	    "user2.subject.mustache", "x", "user2.text.mustache", "{{> broken-partial}}",
	    "-bad.subject.mustache", "x", "utf.subject.mustache", "ok\n\xff", NULL);
	struct diag d;
	struct template_set *s;

	diag_init(&d, "test", NULL);
	s = template_set_load(dir, &d);
	test_ok(s != NULL, "a directory with problems still loads the good templates");
	test_ok(test_found(s, "ok", NULL, NULL)[0] == '\0', "the good template is there");
	test_ok(test_has_msg(&d, dir, "syntax.text.mustache", ":2:1: unclosed section 'open'"),
		"a syntax error names file:line:col");
	test_ok(test_has_msg(&d, dir, "unknown.text.mustache", ":2:3: unknown partial 'nope'"),
		"an unknown partial names file:line:col of the tag");
	test_ok(test_has_msg(&d, dir, "lonely.subject.mustache",
			     ": template 'lonely' has no text: lonely.text.mustache is missing"),
		"a variant without text is reported");
	test_ok(test_has_msg(&d, dir, "textonly.text.mustache",
			     ": template 'textonly' has no subject: textonly.subject.mustache is "
			     "missing"),
		"a variant without subject is reported");
	test_ok(test_has_msg(&d, dir, "unknown.de.text.mustache",
			     ": template 'unknown' (locale de) has no subject: "
			     "unknown.de.subject.mustache is missing"),
		"a locale variant without subject names the locale");
	size_t n_partial = 0;
	for (size_t i = 0; i < d.n; i++)
		n_partial += strstr(d.msgs[i], "broken-partial.mustache:2:1:") != NULL;
	test_ok(n_partial == 1, "a broken partial used twice is reported once (%zu)", n_partial);
	test_ok(test_has_msg(&d, dir, "-bad.subject.mustache",
			     ": '-bad' is not a template name (letters, digits, _ - ., not "
			     "starting with . or -)"),
		"a bad name is reported");
	test_ok(test_has_msg(&d, dir, "utf.subject.mustache", ":2:1: not valid UTF-8"),
		"invalid UTF-8 is reported with its position");
	test_ok(d.n == 8, "one message per problem (%zu)", d.n);
	if (d.n != 8)
		test_print_diag(&d);
	test_ok(template_find(s, "syntax", NULL, NULL) == NULL &&
		    template_find(s, "unknown", NULL, NULL) == NULL &&
		    template_find(s, "user", NULL, NULL) == NULL,
		"broken templates are left out");
	template_set_free(s);
	diag_free(&d);

	diag_init(&d, "test", NULL);
	char *missing = g_build_filename(dir, "nope", NULL);
	test_ok(template_set_load(missing, &d) == NULL && d.n == 1 &&
		    strstr(d.msgs[0], missing) != NULL,
		"a missing directory is NULL and named: %s", d.n ? d.msgs[0] : "");
	g_free(missing);
	diag_free(&d);
	test_rmdir(dir);
}

static void
test_campaign_check(void)
{
	char *cfile = g_build_filename(srcdir, "campaigns", "post-purchase.json", NULL);
	char *dir = test_dir("post-purchase-thanks.subject.mustache", "x",
			     "post-purchase-thanks.text.mustache", "x",
			     "post-purchase-review.de.subject.mustache", "x",
			     "post-purchase-review.de.text.mustache", "x", NULL);
	struct diag d;
	struct campaign *c;
	struct template_set *s;

	diag_init(&d, cfile, NULL);
	c = campaign_load_file(cfile, NULL, &d);
	test_print_diag(&d);
	diag_init(&d, "test", NULL);
	s = template_set_load(dir, &d);
	test_ok(c != NULL && s != NULL && template_set_check_campaign(s, c, NULL, NULL, &d) < 0,
		"a campaign with missing templates fails the check");
	char *want = xasprintf("%s:28:64: campaign 'post-purchase' step 'satisfaction-check': no "
			       "template 'post-purchase-satisfaction' in %s",
			       cfile, dir);
	test_ok(d.n == 4 && strcmp(d.msgs[0], want) == 0,
		"each missing template is named with the step's file:line:col");
	free(want);
	want = xasprintf("%s:47:56: campaign 'post-purchase' step 'review-ask': no template "
			 "'post-purchase-review' in %s for the default locale (it has only de; "
			 "add a variant without a locale or set locale_default)",
			 cfile, dir);
	test_ok(d.n > 1 && strcmp(d.msgs[1], want) == 0,
		"a template with only other locales says so");
	free(want);
	diag_free(&d);

	diag_init(&d, "test", NULL);
	template_set_free(s);
	s = template_set_load(dir, &d);
	free(c->locale_default);
	c->locale_default = xstrdup("de");
	template_set_check_campaign(s, c, NULL, NULL, &d);
	test_ok(d.n == 3, "with locale_default de, the de-only template is enough");
	diag_free(&d);
	template_set_free(s);
	campaign_free(c);
	g_free(cfile);
	test_rmdir(dir);
}

/* The data a template sees, as compose.c builds it; LINKS may be "none" (transactional). */
static json_t *
test_sample_data(bool links)
{
	json_t *data = json_pack(
	    "{s:{s:s,s:s,s:s,s:s,s:s,s:s,s:{s:s}},s:{s:s,s:s,s:{s:s,s:s,s:[s,s],s:s,s:I,s:s,s:s,"
	    "s:I,s:s}},s:{s:I,s:s,s:s},s:{s:s,s:s,s:s,s:b}}",
	    "customer", "id", "anna", "name", "Anna Schmidt", "email", "anna@example.com", "locale",
	    "de-DE", "timezone", "Europe/Berlin", "stage", "mature", "attributes", "company",
	    "Fernhill", "event", "type", "purchase", "time", "2024-05-01T10:00:00Z", "properties",
	    "order_id", "1001", "currency", "EUR", "items", "Wool blanket", "Oak board", "quote_id",
	    "77", "amount", (json_int_t)4800, "topic", "newsletter", "comment",
	    "Arrived <damaged> & late", "score", (json_int_t)2, "source", "website", "journey",
	    "id", (json_int_t)7, "entered", "2024-05-01T10:00:00Z", "key", "1001", "campaign", "id",
	    "post-purchase", "name", "Post purchase", "topic", "orders", "transactional", !links);
	json_t *l = json_object();
	if (links) {
		json_object_set_new(l, "unsubscribe_url", json_string("https://m.example/u/tok"));
		json_object_set_new(l, "preferences_url", json_string("https://m.example/u/tok"));
	}
	json_object_set_new(l, "confirm_url", json_string("https://m.example/confirm/tok"));
	json_object_set_new(data, "links", l);
	return data;
}

static void
test_examples(void)
{
	char *tdir = g_build_filename(srcdir, "campaigns", "templates", NULL);
	char *cdir = g_build_filename(srcdir, "campaigns", NULL);
	json_t *with = test_sample_data(true), *without = test_sample_data(false);
	struct diag d;
	struct template_set *s;
	struct campaign_set *cs;
	size_t bad = 0, rendered = 0;

	diag_init(&d, "test", NULL);
	s = template_set_load(tdir, &d);
	test_print_diag(&d);
	test_ok(s != NULL && d.n == 0, "the example templates load without problems");
	diag_free(&d);
	diag_init(&d, cdir, NULL);
	cs = campaign_load_dir(cdir, NULL, &d);
	test_print_diag(&d);
	test_ok(cs != NULL && cs->n > 0, "the example campaigns load");
	for (size_t i = 0; cs != NULL && i < cs->n; i++) {
		const struct campaign *c = cs->v[i];
		test_ok(template_set_check_campaign(s, c, NULL, NULL, &d) == 0,
			"campaign %s finds all its templates", c->id);
		for (size_t k = 0; k < c->n_steps; k++) {
			const char *name = c->steps[k].template;
			if (c->steps[k].kind != STEP_SEND)
				continue;
			if (strcmp(test_found(s, name, "en-GB", c->locale_default), "") != 0 ||
			    strcmp(test_found(s, name, "de-DE", c->locale_default), "de") != 0) {
				printf("# %s: no en or de variant\n", name);
				bad++;
			}
		}
	}
	test_ok(bad == 0, "every template of the examples has an English and a German variant");
	test_print_diag(&d);
	diag_free(&d);

	/* Every variant, found through its own subject file, renders over the sample data. */
	GDir *gd = g_dir_open(tdir, 0, NULL);
	const char *e;
	bad = 0;
	while (gd && (e = g_dir_read_name(gd)) != NULL) {
		const char *suffix = ".subject.mustache", *dot;
		size_t n = strlen(e), sl = strlen(suffix);
		if (n <= sl || strcmp(e + n - sl, suffix) != 0)
			continue;
		char *stem = g_strndup(e, n - sl), *locale = "";
		if ((dot = strrchr(stem, '.')) != NULL) {
			stem[dot - stem] = '\0';
			locale = stem + (dot - stem) + 1;
		}
		const struct template *t = template_find(s, stem, locale, NULL);
		for (int pass = 0; pass < 2; pass++) {
			struct template_output o;
			struct mustache_error err;
			bool links = pass == 0;
			bool footer = strcmp(stem, "double-opt-in") != 0 &&
				      strcmp(stem, "post-purchase-helpdesk-ticket") != 0;
			if (t == NULL || strcmp(template_locale(t), locale) != 0 ||
			    template_render(t, links ? with : without, &o, &err) < 0) {
				printf("# %s: %s:%d:%d: %s\n", e, err.file, err.line, err.col,
				       t ? err.message : "not found");
				bad++;
				break;
			}
			if (o.subject[0] == '\0' || o.text[0] == '\0' ||
			    (strstr(o.text, "m.example/u/") != NULL) != (links && footer) ||
			    (strcmp(stem, "double-opt-in") == 0 &&
			     strstr(o.text, "https://m.example/confirm/tok") == NULL) ||
			    (o.html && strstr(o.html, "&lt;damaged&gt;") == NULL &&
			     strstr(o.html, "<damaged>") != NULL)) {
				printf("# %s (links %d): unexpected output:\n%s\n%s\n", e, links,
				       o.subject, o.text);
				bad++;
			}
			rendered++;
			template_output_free(&o);
		}
		g_free(stem);
	}
	if (gd)
		g_dir_close(gd);
	test_ok(bad == 0 && rendered >= 2 * 26,
		"every example variant renders, with and without an unsubscribe link (%zu)",
		rendered);
	const struct template *t = template_find(s, "double-opt-in", "de-AT", "en");
	test_ok(t != NULL && strcmp(template_locale(t), "de") == 0,
		"the double opt-in has a German variant");
	t = template_find(s, "double-opt-in", "es", "en");
	test_ok(t != NULL && strcmp(template_locale(t), "") == 0,
		"the double opt-in falls back to English");

	json_decref(with);
	json_decref(without);
	campaign_set_free(cs);
	template_set_free(s);
	g_free(tdir);
	g_free(cdir);
}

int
main(void)
{
	if (getenv("NT_SRCDIR") != NULL)
		srcdir = getenv("NT_SRCDIR");
	test_fallback();
	test_escaping_and_subject();
	test_partials_and_layouts();
	test_render_error_in_partial();
	test_problems();
	test_campaign_check();
	test_examples();
	printf("1..%d\n", test_count);
	return test_failures ? 1 : 0;
}
