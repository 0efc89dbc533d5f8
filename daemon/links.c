#include "links.h"

#include <glib.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "token.h"
#include "util.h"

static int
links_ws(char c)
{
	return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f';
}

static int
links_prefix(const char *s, const char *end, const char *p)
{
	size_t n = strlen(p);
	return (size_t)(end - s) >= n && strncasecmp(s, p, n) == 0;
}

/* Finds P (case-insensitive) in [S, END), or END. */
static const char *
links_find(const char *s, const char *end, const char *p)
{
	for (; s < end; s++)
		if (links_prefix(s, end, p))
			return s;
	return end;
}

/* The named references a template is likely to put in a URL or a link's text. */
static const struct {
	const char *name;
	unsigned cp;
} links_entities[] = {{"amp", '&'},   {"lt", '<'},    {"gt", '>'}, {"quot", '"'},
		      {"apos", '\''}, {"nbsp", 0xa0}, {"#", 0}};

char *
links_decode(const char *s, size_t n)
{
	GString *out = g_string_sized_new(n);
	const char *end = s + n;

	while (s < end) {
		const char *semi = *s == '&' ? memchr(s, ';', (size_t)(end - s)) : NULL;
		unsigned cp = 0;
		int ok = 0;
		if (semi != NULL && semi - s <= 10) {
			if (s[1] == '#') {
				char *e = NULL;
				int hex = s[2] == 'x' || s[2] == 'X';
				unsigned long v = strtoul(s + 2 + hex, &e, hex ? 16 : 10);
				ok = e == semi && e > s + 2 + hex && v > 0 && v <= 0x10ffff;
				cp = (unsigned)v;
			} else
				for (size_t i = 0; i + 1 < NT_ARRAY_LEN(links_entities); i++)
					if ((size_t)(semi - s - 1) ==
						strlen(links_entities[i].name) &&
					    strncmp(s + 1, links_entities[i].name,
						    (size_t)(semi - s - 1)) == 0) {
						cp = links_entities[i].cp;
						ok = 1;
					}
		}
		if (ok) {
			g_string_append_unichar(out, cp);
			s = semi + 1;
		} else
			g_string_append_c(out, *s++);
	}
	return g_string_free(out, FALSE);
}

int
links_trackable(const char *url, const char *public_url)
{
	static const char *const own[] = {"/u/", "/confirm/", "/c/", "/o/"};
	size_t n = public_url ? strlen(public_url) : 0;

	if (strncasecmp(url, "http://", 7) != 0 && strncasecmp(url, "https://", 8) != 0)
		return 0; /* mailto:, tel:, #anchor, relative, javascript: ... */
	if (n > 0 && public_url[n - 1] == '/')
		n--;
	if (n > 0 && strncasecmp(url, public_url, n) == 0)
		for (size_t i = 0; i < NT_ARRAY_LEN(own); i++)
			if (strncmp(url + n, own[i], strlen(own[i])) == 0)
				return 0;
	return 1;
}

char *
links_click_url(const struct links_opts *o, size_t idx)
{
	char n[24];
	size_t len = strlen(o->public_url);
	snprintf(n, sizeof(n), "%zu", idx);
	char *t = token_make(o->secret, 'k', o->message_id, n, o->issued_s);
	char *u =
	    xasprintf("%.*s/c/%s", (int)(len > 0 && o->public_url[len - 1] == '/' ? len - 1 : len),
		      o->public_url, t);
	free(t);
	return u;
}

int
links_token_parse(const char *secret, const char *text, char **message_id, int *idx)
{
	struct token t;
	char *e = NULL;
	long v;

	if (token_parse(secret, text, 'k', &t) < 0)
		return -1;
	v = strtol(t.topic, &e, 10);
	if (*e != '\0' || e == t.topic || v < 0 || v >= LINKS_MAX) {
		token_clear(&t);
		return -1;
	}
	*idx = (int)v;
	*message_id = t.customer;
	t.customer = NULL;
	token_clear(&t);
	return 0;
}

/* One attribute of a start tag: where its name and value lie in the document. */
struct links_attr {
	const char *name, *value; /* value NULL: no value */
	size_t name_len, value_len;
	int quoted; /* the value's quote character, or 0 */
};

struct links_tag {
	const char *name;
	size_t name_len;
	const char *end; /* one past the '>', or NULL: the tag runs off the document */
	struct links_attr href, link, notrack;
	int has_href, has_link, has_notrack;
};

static int
links_name_is(const struct links_attr *a, const char *name)
{
	return a->name_len == strlen(name) && strncasecmp(a->name, name, a->name_len) == 0;
}

/* Parses the start tag at P ('<' then a letter) as HTML's tokenizer does. */
static void
links_parse_tag(const char *p, const char *end, struct links_tag *t)
{
	memset(t, 0, sizeof(*t));
	t->name = ++p;
	while (p < end && !links_ws(*p) && *p != '/' && *p != '>')
		p++;
	t->name_len = (size_t)(p - t->name);
	for (;;) {
		while (p < end && (links_ws(*p) || *p == '/'))
			p++;
		if (p >= end)
			return;
		if (*p == '>') {
			t->end = p + 1;
			return;
		}
		struct links_attr a = {.name = p};
		p++; /* the first character may be '=' */
		while (p < end && !links_ws(*p) && *p != '/' && *p != '>' && *p != '=')
			p++;
		a.name_len = (size_t)(p - a.name);
		const char *q = p;
		while (q < end && links_ws(*q))
			q++;
		if (q < end && *q == '=') {
			q++;
			while (q < end && links_ws(*q))
				q++;
			if (q < end && (*q == '"' || *q == '\'')) {
				const char *close = memchr(q + 1, *q, (size_t)(end - q - 1));
				if (close == NULL)
					return;
				a.quoted = *q;
				a.value = q + 1;
				a.value_len = (size_t)(close - q - 1);
				p = close + 1;
			} else {
				a.value = q;
				while (q < end && !links_ws(*q) && *q != '>')
					q++;
				a.value_len = (size_t)(q - a.value);
				p = q;
			}
		}
		/* The first of a name counts, as in a browser. */
		if (links_name_is(&a, "href") && !t->has_href) {
			t->href = a;
			t->has_href = 1;
		} else if (links_name_is(&a, "data-link") && !t->has_link) {
			t->link = a;
			t->has_link = 1;
		} else if (links_name_is(&a, "data-notrack"))
			t->has_notrack = 1;
	}
}

/* A link's name: its data-link, else its text (tags dropped, spaces collapsed, cut). */
static char *
links_name(const struct links_tag *t, const char *end)
{
	char *raw, *dec;
	GString *s = g_string_new(NULL);

	if (t->has_link && t->link.value != NULL)
		raw = g_strndup(t->link.value, t->link.value_len);
	else {
		const char *close = links_find(t->end, end, "</a");
		GString *txt = g_string_new(NULL);
		for (const char *p = t->end; p < close; p++) {
			if (*p == '<') {
				const char *gt = memchr(p, '>', (size_t)(close - p));
				if (gt == NULL)
					break;
				p = gt;
				g_string_append_c(txt, ' ');
			} else
				g_string_append_c(txt, *p);
		}
		raw = g_string_free(txt, FALSE);
	}
	dec = links_decode(raw, strlen(raw));
	for (char *p = dec; *p; p++) {
		int ws =
		    links_ws(*p) || ((unsigned char)p[0] == 0xc2 && (unsigned char)p[1] == 0xa0);
		if (ws) {
			if ((unsigned char)*p == 0xc2)
				p++;
			if (s->len > 0 && s->str[s->len - 1] != ' ')
				g_string_append_c(s, ' ');
		} else
			g_string_append_c(s, *p);
	}
	while (s->len > 0 && s->str[s->len - 1] == ' ')
		g_string_truncate(s, s->len - 1);
	if (s->len > LINKS_NAME_MAX) {
		const char *cut = g_utf8_find_prev_char(s->str, s->str + LINKS_NAME_MAX + 1);
		g_string_truncate(s, cut ? (size_t)(cut - s->str) : 0);
	}
	if (!g_utf8_validate(s->str, -1, NULL)) {
		char *v = g_utf8_make_valid(s->str, -1);
		g_string_assign(s, v);
		g_free(v);
	}
	g_free(raw);
	g_free(dec);
	return g_string_free(s, FALSE);
}

/* The raw text elements: nothing in them is markup until their end tag. */
static const char *const links_rawtext[] = {"script", "style", "textarea", "title", "xmp"};

char *
links_rewrite_html(const char *html, const struct links_opts *o, json_t *links)
{
	size_t len = strlen(html);
	const char *p = html, *end = html + len;
	GString *out = g_string_sized_new(len + len / 8);

	while (p < end) {
		const char *lt = memchr(p, '<', (size_t)(end - p));
		if (lt == NULL) {
			g_string_append_len(out, p, end - p);
			break;
		}
		g_string_append_len(out, p, lt - p);
		p = lt;
		const char *next;
		if (links_prefix(p, end, "<!--[if")) {
			/* A conditional comment's content is markup for Outlook: go on inside it.
			 */
			const char *gt = links_find(p, end, "]>");
			next = gt < end ? gt + 2 : end;
		} else if (links_prefix(p, end, "<!--")) {
			/* From p + 2: "<!-->" and "<!--->" are (empty) comments of their own. */
			const char *c = links_find(p + 2, end, "-->");
			next = c < end ? c + 3 : end;
		} else if (links_prefix(p, end, "<!") || links_prefix(p, end, "<?") ||
			   links_prefix(p, end, "</")) {
			const char *gt = memchr(p, '>', (size_t)(end - p));
			next = gt ? gt + 1 : end;
		} else if (p + 1 < end && g_ascii_isalpha(p[1])) {
			struct links_tag t;
			links_parse_tag(p, end, &t);
			if (t.end == NULL) { /* runs off the document: leave it */
				g_string_append_len(out, p, end - p);
				break;
			}
			next = t.end;
			for (size_t i = 0; i < NT_ARRAY_LEN(links_rawtext); i++)
				if (t.name_len == strlen(links_rawtext[i]) &&
				    strncasecmp(t.name, links_rawtext[i], t.name_len) == 0) {
					char close[16];
					snprintf(close, sizeof(close), "</%s", links_rawtext[i]);
					next = links_find(t.end, end, close);
				}
			char *url = t.has_href && t.href.value
					? links_decode(t.href.value, t.href.value_len)
					: NULL;
			if (url != NULL)
				g_strstrip(url);
			if (t.name_len == 1 && (*t.name == 'a' || *t.name == 'A') && url != NULL &&
			    !t.has_notrack && links_trackable(url, o->public_url) &&
			    json_array_size(links) < LINKS_MAX) {
				size_t idx = json_array_size(links);
				char *name = links_name(&t, end);
				char *click = links_click_url(o, idx);
				json_array_append_new(
				    links, json_pack("{s:s,s:s}", "url", url, "name", name));
				g_string_append_len(out, p, t.href.value - p);
				if (t.href.quoted == 0)
					g_string_append_c(out, '"');
				g_string_append(out, click);
				if (t.href.quoted == 0)
					g_string_append_c(out, '"');
				p = t.href.value + t.href.value_len;
				free(click);
				free(name);
			}
			g_free(url);
		} else
			next = p + 1; /* a '<' that opens nothing is text */
		g_string_append_len(out, p, next - p);
		p = next;
	}
	return g_string_free(out, FALSE);
}

char *
links_add_pixel(const char *html, const struct links_opts *o)
{
	size_t len = strlen(html), at = len, n = strlen(o->public_url);
	char *t = token_make(o->secret, 'o', o->message_id, "0", o->issued_s);
	char *img;

	if (n > 0 && o->public_url[n - 1] == '/')
		n--;
	img = xasprintf("<img src=\"%.*s/o/%s\" width=\"1\" height=\"1\" alt=\"\" "
			"style=\"display:none\">",
			(int)n, o->public_url, t);
	for (size_t i = len; i-- > 0;) /* the last </body>, in any case */
		if (html[i] == '<' && strncasecmp(html + i, "</body", 6) == 0) {
			at = i;
			break;
		}
	char *out = xasprintf("%.*s%s%s", (int)at, html, img, html + at);
	free(t);
	free(img);
	return out;
}

char *
links_rewrite_text(const char *text, const struct links_opts *o, json_t *links)
{
	GString *out = g_string_sized_new(strlen(text));
	const char *p = text;

	while (*p) {
		const char *h = strstr(p, "http");
		if (h == NULL) {
			g_string_append(out, p);
			break;
		}
		const char *e = h;
		while (*e && !links_ws(*e) && !strchr("<>\"'", *e))
			e++;
		while (e > h && strchr(".,;:!?)]'", e[-1]))
			e--;
		char *url = g_strndup(h, (size_t)(e - h));
		int start = h == text || !g_ascii_isalnum(h[-1]);
		int is_url =
		    start &&
		    (strncmp(url, "http://", 7) == 0 || strncmp(url, "https://", 8) == 0) &&
		    strlen(url) > 8;
		g_string_append_len(out, p, h - p);
		if (is_url && links_trackable(url, o->public_url) &&
		    json_array_size(links) < LINKS_MAX) {
			char *click = links_click_url(o, json_array_size(links));
			json_array_append_new(links,
					      json_pack("{s:s,s:s}", "url", url, "name", ""));
			g_string_append(out, click);
			free(click);
			p = e;
		} else if (is_url) { /* one of ours, or past the limit: kept whole */
			g_string_append(out, url);
			p = e;
		} else {
			g_string_append_len(out, h, 4);
			p = h + 4;
		}
		g_free(url);
	}
	return g_string_free(out, FALSE);
}
