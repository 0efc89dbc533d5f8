/* Edge cases for daemon/mustache.c beyond the official spec, as TAP. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "mustache.h"
#include "util.h"

#define MAX_TESTS 256

struct result {
	int ok;
	char *name;
	char *diag;
};

static struct result results[MAX_TESTS];
static int ntests;

/* Results are collected first because TAP wants the plan line before them. */
static void __attribute__((format(printf, 3, 4))) check(int ok, char *diag, const char *fmt, ...)
{
	va_list ap;
	char name[256];

	va_start(ap, fmt);
	vsnprintf(name, sizeof(name), fmt, ap);
	va_end(ap);
	if (ntests == MAX_TESTS) {
		fprintf(stderr, "too many tests\n");
		exit(2);
	}
	results[ntests++] = (struct result){ok, xstrdup(name), diag};
}

/* Partials for these tests live in a JSON object keyed by name. */
static char *
obj_partial(const char *name, void *arg)
{
	json_t *s = json_object_get(arg, name);
	return json_is_string(s) ? xstrdup(json_string_value(s)) : NULL;
}

/* Renders TMPL over DATA_JSON with PARTIALS_JSON; returns output or NULL with ERR filled. */
static char *
render(const char *tmpl, const char *data_json, const char *partials_json, enum mustache_escape esc,
       unsigned flags, struct mustache_error *err)
{
	json_t *data = json_loads(data_json ? data_json : "{}", JSON_DECODE_ANY, NULL);
	json_t *partials = json_loads(partials_json ? partials_json : "{}", 0, NULL);
	struct mustache_tmpl *t = mustache_parse(tmpl, err);
	char *out = NULL;

	if (data == NULL || partials == NULL) {
		fprintf(stderr, "bad test JSON\n");
		exit(2);
	}
	if (t)
		out = mustache_render_flags(t, data, esc, flags, obj_partial, partials, err);
	mustache_free(t);
	json_decref(data);
	json_decref(partials);
	return out;
}

/* Compares full output so whitespace regressions show up too. */
static void
expect_render(const char *name, const char *tmpl, const char *data, const char *partials,
	      enum mustache_escape esc, const char *expected)
{
	struct mustache_error err;
	char *out = render(tmpl, data, partials, esc, 0, &err);
	int ok = out && strcmp(out, expected) == 0;

	check(ok,
	      ok ? NULL
		 : xasprintf("expected: \"%s\"\n# got: \"%s\" (%s)", expected, out ? out : "NULL",
			     out ? "" : err.message),
	      "%s", name);
	free(out);
}

/* Checks that TMPL fails (to parse or render) at FILE:LINE:COL with MSG in the message. */
static void
expect_error(const char *name, const char *tmpl, const char *partials, unsigned flags,
	     const char *file, int line, int col, const char *msg)
{
	struct mustache_error err;
	char *out = render(tmpl, "{}", partials, MUSTACHE_ESCAPE_HTML, flags, &err);
	int ok = out == NULL && strcmp(err.file, file) == 0 && err.line == line && err.col == col &&
		 strstr(err.message, msg) != NULL;

	check(ok,
	      ok ? NULL
		 : xasprintf("expected: error %s:%d:%d containing \"%s\"\n# got: %s (%s:%d:%d: %s)",
			     file, line, col, msg, out ? "success" : "error", err.file, err.line,
			     err.col, err.message),
	      "%s", name);
	free(out);
}

/* Escaping is a security boundary for HTML bodies, so every character is pinned. */
static void
test_escaping(void)
{
	const char *data = "{\"x\": \"a & b < c > d \\\" e ' f\"}";

	expect_render("html escaping of & < > \" '", "{{x}}", data, NULL, MUSTACHE_ESCAPE_HTML,
		      "a &amp; b &lt; c &gt; d &quot; e &#39; f");
	expect_render("triple mustache is never escaped", "{{{x}}}|{{&x}}", data, NULL,
		      MUSTACHE_ESCAPE_HTML, "a & b < c > d \" e ' f|a & b < c > d \" e ' f");
	expect_render("escape mode none leaves {{x}} raw", "{{x}}", data, NULL,
		      MUSTACHE_ESCAPE_NONE, "a & b < c > d \" e ' f");
	expect_render("escape mode none also raw in partials", "{{>p}}", data,
		      "{\"p\": \"<{{x}}>\"}", MUSTACHE_ESCAPE_NONE, "<a & b < c > d \" e ' f>");
	expect_render("template text itself is never escaped", "<b>&amp;</b>", "{}", NULL,
		      MUSTACHE_ESCAPE_HTML, "<b>&amp;</b>");
}

/* Scalar formatting and falsey values are where JSON data meets the spec's loose typing. */
static void
test_values(void)
{
	expect_render("integers and reals", "{{a}} {{b}} {{c}} {{d}} {{e}}",
		      "{\"a\": 85, \"b\": 1.21, \"c\": -3, \"d\": 0.1, \"e\": 1e100}", NULL,
		      MUSTACHE_ESCAPE_HTML, "85 1.21 -3 0.1 1e+100");
	expect_render("real shortest round trip", "{{x}}", "{\"x\": 0.3333333333333333}", NULL,
		      MUSTACHE_ESCAPE_HTML, "0.3333333333333333");
	expect_render("booleans interpolate as words", "{{t}}/{{f}}", "{\"t\": true, \"f\": false}",
		      NULL, MUSTACHE_ESCAPE_HTML, "true/false");
	expect_render("falsey: empty string, 0, null, false, []",
		      "{{#s}}s{{/s}}{{#z}}z{{/z}}{{#n}}n{{/n}}{{#f}}f{{/f}}{{#l}}l{{/l}}|"
		      "{{^s}}s{{/s}}{{^z}}z{{/z}}{{^n}}n{{/n}}{{^f}}f{{/f}}{{^l}}l{{/l}}",
		      "{\"s\": \"\", \"z\": 0, \"n\": null, \"f\": false, \"l\": []}", NULL,
		      MUSTACHE_ESCAPE_HTML, "|sznfl");
}

/* Objects are truthy even when empty; a null root context is just empty. */
static void
test_truthy(void)
{
	expect_render("truthy: {} and non-empty values", "{{#o}}o{{/o}}{{#x}}{{.}}{{/x}}",
		      "{\"o\": {}, \"x\": \"y\"}", NULL, MUSTACHE_ESCAPE_HTML, "oy");
	expect_render("null data renders text", "a{{b}}c", "null", NULL, MUSTACHE_ESCAPE_HTML,
		      "ac");
}

/* A checker is only useful if errors point at the right line and column. */
static void
test_syntax_errors(void)
{
	expect_error("unclosed section reported at its open tag", "a\n  {{#sec}}\nb", NULL, 0, "",
		     2, 3, "unclosed section 'sec'");
	expect_error("mismatched close tag reported at the close tag",
		     "{{#a}}\nxx {{#b}}\n  {{/a}}\n{{/b}}", NULL, 0, "", 3, 3,
		     "does not match section 'b'");
	expect_error("close tag without open", "x\n{{/a}}", NULL, 0, "", 2, 1,
		     "without an open section");
	expect_error("unclosed tag", "x\nyy {{name", NULL, 0, "", 2, 4, "unclosed tag");
	expect_error("unclosed triple mustache", "{{{name}}", NULL, 0, "", 1, 1, "closing '}'");
	expect_error("delimiter change with one delimiter", "ok\n\t{{=<%=}}", NULL, 0, "", 2, 2,
		     "invalid delimiter change");
	expect_error("delimiter change with three delimiters", "{{=a b c=}}", NULL, 0, "", 1, 1,
		     "invalid delimiter change");
	expect_error("delimiter change missing closing =", "{{=<% %>}}", NULL, 0, "", 1, 1,
		     "missing closing '='");
	expect_error("delimiter containing =", "{{=<= =>=}}", NULL, 0, "", 1, 1,
		     "invalid delimiter change");
	expect_error("errors after a delimiter change use new positions", "{{=<% %>=}}\n<%#a%>",
		     NULL, 0, "", 2, 1, "unclosed section 'a'");
	expect_error("empty tag", "a {{ }}", NULL, 0, "", 1, 3, "empty tag name");
	expect_error("name with a space", "{{a b}}", NULL, 0, "", 1, 1, "invalid tag name");
	expect_error("dotted name with empty part", "{{a..b}}", NULL, 0, "", 1, 1,
		     "invalid tag name");
	expect_error("unclosed parent", "{{<p}}{{$b}}{{/b}}", NULL, 0, "", 1, 1,
		     "unclosed parent 'p'");
	expect_error("syntax error inside a partial names the partial", "x {{>p}}",
		     "{\"p\": \"ok\\n {{#s}}\"}", 0, "p", 2, 2, "unclosed section 's'");
}

/* Unknown and runaway partials must fail cleanly rather than crash the daemon. */
static void
test_partials(void)
{
	expect_render("unknown partial renders empty by default", "[{{>nope}}]", "{}", NULL,
		      MUSTACHE_ESCAPE_HTML, "[]");
	expect_error("unknown partial is an error when strict", "a\n  b {{>nope}}", NULL,
		     MUSTACHE_STRICT_PARTIALS, "", 2, 5, "unknown partial 'nope'");
	expect_error("unknown parent is an error when strict", "{{<nope}}{{/nope}}", NULL,
		     MUSTACHE_STRICT_PARTIALS, "", 1, 1, "unknown partial 'nope'");
	expect_error("recursive partial stops at the depth limit", "{{>loop}}",
		     "{\"loop\": \"x{{>loop}}\"}", 0, "loop", 1, 2, "deeper than 64");
	expect_error("recursive parent stops at the depth limit", "{{<p}}{{/p}}",
		     "{\"p\": \"{{<p}}{{/p}}\"}", 0, "p", 1, 1, "deeper than 64");
	expect_error("self-overriding block stops at the depth limit",
		     "{{<p}}{{$a}}{{$a}}x{{/a}}{{/a}}{{/p}}", "{\"p\": \"{{$a}}{{/a}}\"}", 0, "", 1,
		     13, "deeper than 64");
	expect_render("recursion bounded by data is fine", "{{>n}}",
		      "{\"v\": 1, \"c\": [{\"v\": 2, \"c\": [{\"v\": 3, \"c\": []}]}]}",
		      "{\"n\": \"{{v}}({{#c}}{{>n}}{{/c}})\"}", MUSTACHE_ESCAPE_HTML, "1(2(3()))");
	expect_render("nested standalone partials accumulate indentation", "  {{>a}}\n", "{}",
		      "{\"a\": \"a\\n  {{>b}}\\n\", \"b\": \"b1\\nb2\\n\"}", MUSTACHE_ESCAPE_HTML,
		      "  a\n    b1\n    b2\n");
}

struct seen {
	char buf[256];
};

/* Records callbacks as "name@line:col " for one string comparison. */
static void
collect(const char *name, int line, int col, void *arg)
{
	struct seen *s = arg;
	size_t n = strlen(s->buf);
	snprintf(s->buf + n, sizeof(s->buf) - n, "%s@%d:%d ", name, line, col);
}

/* The checker-facing API: listing and verifying partial references without rendering. */
static void
test_static_partials(void)
{
	struct mustache_error err;
	struct seen s = {""};
	json_t *parts;
	struct mustache_tmpl *t = mustache_parse(
	    "{{>a}}\n{{#x}}\n  {{>b}}{{>*dyn}}\n{{/x}}\n{{<c}}{{$k}}{{>d}}{{/k}}{{/c}}", &err);
	int rc;

	mustache_foreach_partial(t, collect, &s);
	check(t && strcmp(s.buf, "a@1:1 b@3:3 c@5:1 d@5:13 ") == 0, xasprintf("got: %s", s.buf),
	      "foreach_partial lists static names with positions");

	parts = json_loads("{\"a\": \"{{>b}}\", \"b\": \"{{>a}}{{>c}}\", \"c\": \"\"}", 0, NULL);
	rc = mustache_check_partials(t, obj_partial, parts, &err);
	check(rc == -1 && strcmp(err.file, "") == 0 && err.line == 5 && err.col == 13 &&
		  strstr(err.message, "unknown partial 'd'"),
	      xasprintf("got: %d %s:%d:%d %s", rc, err.file, err.line, err.col, err.message),
	      "check_partials reports an unknown partial at its tag");
	json_object_set_new(parts, "d", json_string("ok {{>e}}"));
	rc = mustache_check_partials(t, obj_partial, parts, &err);
	check(rc == -1 && strcmp(err.file, "d") == 0 && err.line == 1 && err.col == 4,
	      xasprintf("got: %d %s:%d:%d %s", rc, err.file, err.line, err.col, err.message),
	      "check_partials reports unknown partials inside partials");
	json_object_set_new(parts, "e", json_string("{{#oops}}"));
	rc = mustache_check_partials(t, obj_partial, parts, &err);
	check(rc == -1 && strcmp(err.file, "e") == 0 && strstr(err.message, "unclosed"),
	      xasprintf("got: %d %s:%d:%d %s", rc, err.file, err.line, err.col, err.message),
	      "check_partials reports syntax errors in partials");
	json_object_set_new(parts, "e", json_string("{{>a}}"));
	rc = mustache_check_partials(t, obj_partial, parts, &err);
	check(rc == 0, xasprintf("got: %d %s", rc, err.message),
	      "check_partials accepts recursive partials");
	json_decref(parts);
	mustache_free(t);
}

/* Parses and renders TEXT, only caring that nothing crashes or leaks. */
static int
survive(const char *text, json_t *data, json_t *partials)
{
	struct mustache_error err;
	struct mustache_tmpl *t = mustache_parse(text, &err);
	char *out;

	if (t == NULL)
		return err.message[0] != '\0';
	out = mustache_render(t, data, MUSTACHE_ESCAPE_HTML, obj_partial, partials, &err);
	mustache_free(t);
	free(out);
	return out != NULL || err.message[0] != '\0';
}

/* Templates come from operators' files; hostile or broken input must not take the daemon down. */
static void
test_garbage(void)
{
	static const char alphabet[] = "{{}}#^/!<>$&=.* \n\t\rab{}x";
	json_t *data =
	    json_loads("{\"a\": [1, {\"b\": \"x\"}], \"b\": true, \"x\": \"a\"}", 0, NULL);
	json_t *parts =
	    json_loads("{\"a\": \"{{#a}}{{>b}}{{/a}}\", \"b\": \"  {{>a}}\\n{{$x}}q{{/x}}\","
		       "\"x\": \"{{<a}}{{$x}}{{>x}}{{/x}}{{/a}}\"}",
		       0, NULL);
	size_t big = 4u << 20;
	char *buf = xmalloc(big + 1);
	int ok = 1;

	srand(12345);
	for (int i = 0; i < 20000 && ok; i++) {
		size_t n = (size_t)(rand() % 80);
		for (size_t k = 0; k < n; k++)
			buf[k] = alphabet[rand() % (int)(sizeof(alphabet) - 1)];
		buf[n] = '\0';
		ok = survive(buf, data, parts);
	}
	check(ok, ok ? NULL : xasprintf("failed on: %s", buf), "20000 random tag soups survive");

	for (size_t k = 0; k < big; k++)
		buf[k] = (char)(1 + rand() % 255);
	buf[big] = '\0';
	check(survive(buf, data, parts), NULL, "4 MiB of random bytes survive");

	for (size_t k = 0; k < big; k++)
		buf[k] = "{{"[k % 2];
	buf[big] = '\0';
	check(survive(buf, data, parts), NULL, "4 MiB of open delimiters survive");

	buf[0] = '\0';
	for (size_t k = 0; k < 20000; k++)
		memcpy(buf + k * 6, "{{#a}}", 7);
	{
		struct mustache_error err;
		struct mustache_tmpl *t = mustache_parse(buf, &err);
		check(t == NULL && strstr(err.message, "nested"), xasprintf("got: %s", err.message),
		      "20000 nested sections rejected, not overflowed");
		mustache_free(t);
	}

	for (size_t k = 0; k < big; k++)
		buf[k] = k % 100 == 99 ? '\n' : 'x';
	buf[big] = '\0';
	{
		struct mustache_error err;
		struct mustache_tmpl *t = mustache_parse(buf, &err);
		char *out = mustache_render(t, data, MUSTACHE_ESCAPE_HTML, NULL, NULL, &err);
		check(out && strcmp(out, buf) == 0, NULL, "4 MiB of plain text renders verbatim");
		free(out);
		mustache_free(t);
	}

	{
		struct mustache_error err;
		char *fan = xasprintf("{\"a\": \"%s\", \"b\": \"%s\", \"c\": \"%s\", \"d\": \"%s\","
				      "\"e\": \"%s\", \"f\": \"%s\", \"g\": \"%0512d\"}",
				      "{{>b}}{{>b}}{{>b}}{{>b}}{{>b}}{{>b}}{{>b}}{{>b}}",
				      "{{>c}}{{>c}}{{>c}}{{>c}}{{>c}}{{>c}}{{>c}}{{>c}}",
				      "{{>d}}{{>d}}{{>d}}{{>d}}{{>d}}{{>d}}{{>d}}{{>d}}",
				      "{{>e}}{{>e}}{{>e}}{{>e}}{{>e}}{{>e}}{{>e}}{{>e}}",
				      "{{>f}}{{>f}}{{>f}}{{>f}}{{>f}}{{>f}}{{>f}}{{>f}}",
				      "{{>g}}{{>g}}{{>g}}{{>g}}{{>g}}{{>g}}{{>g}}{{>g}}", 0);
		char *out = render("{{>a}}", "{}", fan, MUSTACHE_ESCAPE_HTML, 0, &err);
		check(out == NULL && strstr(err.message, "exceeds"),
		      xasprintf("got: %s", out ? "output" : err.message),
		      "exponential partial expansion stops at the output cap");
		free(out);
		free(fan);
	}
	free(buf);
	json_decref(data);
	json_decref(parts);
}

/* Partials lent parsed: used as they are (not parsed, not freed), with the text loader as the
 * fallback for names the parsed loader does not have. */
static int parsed_calls;

static const struct mustache_tmpl *
lent_partial(const char *name, void *arg)
{
	parsed_calls++;
	return strcmp(name, "layout") == 0 ? arg : NULL;
}

static char *
text_partial(const char *name, void *arg)
{
	(void)arg;
	return strcmp(name, "footer") == 0 ? xstrdup("-- {{who}}") : NULL;
}

static void
test_parsed_partials(void)
{
	struct mustache_error err;
	struct mustache_tmpl *layout = mustache_parse("<{{$body}}none{{/body}}|{{>footer}}>", NULL);
	struct mustache_tmpl *t =
	    mustache_parse("{{<layout}}{{$body}}hi {{who}}{{/body}}{{/layout}}"
			   "{{<layout}}{{/layout}}",
			   NULL);
	json_t *data = json_pack("{s:s}", "who", "ann");
	char *out = NULL;

	for (int i = 0; i < 3; i++) { /* the lent template survives every render */
		free(out);
		parsed_calls = 0;
		out =
		    mustache_render_parsed(t, data, MUSTACHE_ESCAPE_NONE, MUSTACHE_STRICT_PARTIALS,
					   lent_partial, text_partial, layout, &err);
	}
	check(out != NULL && strcmp(out, "<hi ann|-- ann><none|-- ann>") == 0 && parsed_calls == 2,
	      xstrdup(out ? out : err.message),
	      "render_parsed: a lent parent serves both uses, asked once per name per render; "
	      "the text loader fills in the rest");
	free(out);
	out = mustache_render_parsed(t, data, MUSTACHE_ESCAPE_NONE, MUSTACHE_STRICT_PARTIALS,
				     lent_partial, NULL, layout, &err);
	check(out == NULL && strstr(err.message, "unknown partial 'footer'") != NULL,
	      xstrdup(err.message), "render_parsed: a name neither loader has is unknown");
	free(out);
	json_decref(data);
	mustache_free(t);
	mustache_free(layout);
}

/* Runs every group, then prints the TAP plan and results. */
int
main(void)
{
	int failed = 0;

	test_escaping();
	test_values();
	test_truthy();
	test_syntax_errors();
	test_partials();
	test_static_partials();
	test_parsed_partials();
	test_garbage();
	printf("1..%d\n", ntests);
	for (int i = 0; i < ntests; i++) {
		printf("%s %d - %s\n", results[i].ok ? "ok" : "not ok", i + 1, results[i].name);
		if (!results[i].ok) {
			failed = 1;
			if (results[i].diag)
				printf("# %s\n", results[i].diag);
		}
		free(results[i].name);
		free(results[i].diag);
	}
	return failed;
}
