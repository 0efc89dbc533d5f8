/*
 * Issue 22: the dashboard's pictures, drawn on the server as inline SVG: no script, no
 * library, every text from data escaped. Colours and sizes are presentation attributes, which
 * a Content-Security-Policy without 'unsafe-inline' styles still allows.
 */
#include <glib.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ui_int.h"
#include "util.h"

#define COLOR_A "#3b7dd8"
#define COLOR_B "#e0892b"

/* TEXT escaped for XML text and attribute values, at most MAX bytes of it (then "…"). */
static void
svg_text(GString *g, const char *text, size_t max)
{
	size_t n = 0;
	for (const char *p = text ? text : ""; *p; p++, n++) {
		if (n >= max && ((unsigned char)*p & 0xC0) != 0x80) {
			g_string_append(g, "\xe2\x80\xa6");
			break;
		}
		switch (*p) {
		case '<':
			g_string_append(g, "&lt;");
			break;
		case '>':
			g_string_append(g, "&gt;");
			break;
		case '&':
			g_string_append(g, "&amp;");
			break;
		case '"':
			g_string_append(g, "&quot;");
			break;
		case '\'':
			g_string_append(g, "&#39;");
			break;
		default:
			g_string_append_c(g, *p);
		}
	}
}

char *
ui_svg_days(size_t n, const char *const *labels, const long *a, const long *b, const char *name_a,
	    const char *name_b)
{
	const int w = 760, h = 220, left = 40, top = 24, plot_h = 150;
	long max = 1;
	GString *g = g_string_new(NULL);

	for (size_t i = 0; i < n; i++) {
		if (a[i] > max)
			max = a[i];
		if (b[i] > max)
			max = b[i];
	}
	double slot = n ? (double)(w - left - 10) / (double)n : 0;
	g_string_append_printf(g,
			       "<svg xmlns=\"http://www.w3.org/2000/svg\" class=\"chart\" "
			       "viewBox=\"0 0 %d %d\" width=\"%d\" height=\"%d\" role=\"img\">",
			       w, h, w, h);
	g_string_append_printf(g, "<line x1=\"%d\" y1=\"%d\" x2=\"%d\" y2=\"%d\" stroke=\"#999\"/>",
			       left, top + plot_h, w - 10, top + plot_h);
	g_string_append_printf(g,
			       "<text x=\"4\" y=\"%d\" font-size=\"11\" fill=\"#555\">%ld</text>"
			       "<text x=\"4\" y=\"%d\" font-size=\"11\" fill=\"#555\">0</text>",
			       top + 8, max, top + plot_h);
	for (size_t i = 0; i < n; i++) {
		double x = left + slot * (double)i;
		double bw = slot / 2 - 1 > 1 ? slot / 2 - 1 : 1;
		int ha = (int)((double)a[i] * plot_h / (double)max);
		int hb = (int)((double)b[i] * plot_h / (double)max);
		g_string_append_printf(g,
				       "<rect x=\"%.1f\" y=\"%d\" width=\"%.1f\" height=\"%d\" "
				       "fill=\"" COLOR_A "\"><title>",
				       x, top + plot_h - ha, bw, ha);
		svg_text(g, labels[i], 40);
		g_string_append_printf(g, ": %ld ", a[i]);
		svg_text(g, name_a, 40);
		g_string_append_printf(g,
				       "</title></rect><rect x=\"%.1f\" y=\"%d\" width=\"%.1f\" "
				       "height=\"%d\" fill=\"" COLOR_B "\"><title>",
				       x + bw + 1, top + plot_h - hb, bw, hb);
		svg_text(g, labels[i], 40);
		g_string_append_printf(g, ": %ld ", b[i]);
		svg_text(g, name_b, 40);
		g_string_append(g, "</title></rect>");
		if (i % 5 == 0 || i + 1 == n) {
			g_string_append_printf(g,
					       "<text x=\"%.1f\" y=\"%d\" font-size=\"10\" "
					       "fill=\"#555\">",
					       x, top + plot_h + 14);
			svg_text(g, labels[i], 12);
			g_string_append(g, "</text>");
		}
	}
	g_string_append_printf(g,
			       "<rect x=\"%d\" y=\"4\" width=\"10\" height=\"10\" fill=\"" COLOR_A
			       "\"/><text x=\"%d\" y=\"13\" font-size=\"11\">",
			       left, left + 14);
	svg_text(g, name_a, 40);
	g_string_append_printf(g,
			       "</text><rect x=\"%d\" y=\"4\" width=\"10\" height=\"10\" "
			       "fill=\"" COLOR_B "\"/><text x=\"%d\" y=\"13\" font-size=\"11\">",
			       left + 120, left + 134);
	svg_text(g, name_b, 40);
	g_string_append(g, "</text></svg>");
	return g_string_free(g, FALSE);
}

/* One line of text in a box. */
static void
svg_line(GString *g, int x, int y, const char *weight, const char *text, size_t max)
{
	g_string_append_printf(g, "<text x=\"%d\" y=\"%d\" font-size=\"12\"%s>", x, y,
			       weight ? weight : "");
	svg_text(g, text, max);
	g_string_append(g, "</text>");
}

/* JSON V as compact text (malloc'd); a string as itself. */
static char *
svg_json(json_t *v)
{
	if (json_is_string(v))
		return xstrdup(json_string_value(v));
	char *s =
	    v ? json_dumps(v, JSON_COMPACT | JSON_ENCODE_ANY | JSON_REAL_PRECISION(12)) : NULL;
	return s ? s : xstrdup("");
}

/* What step S does, in two lines, and its colour. */
static const char *
svg_step_text(json_t *s, char **l1, char **l2)
{
	json_t *v;
	char *x = NULL, *y = NULL;
	const char *fill = "#eef3fb";

	if ((v = json_object_get(s, "send")) != NULL) {
		x = svg_json(json_object_get(v, "template"));
		y = svg_json(json_object_get(v, "channel"));
		*l1 = xasprintf("send %s", x);
		*l2 = xasprintf("via %s", y);
	} else if ((v = json_object_get(s, "wait")) != NULL) {
		x = svg_json(v);
		*l1 = xasprintf("wait %s", x);
		*l2 = xstrdup("");
		fill = "#f4f4f4";
	} else if ((v = json_object_get(s, "branch")) != NULL) {
		json_t *th = json_object_get(v, "then"), *el = json_object_get(v, "else");
		x = svg_json(json_object_get(v, "if"));
		*l1 = xasprintf("if %s", x);
		char *t = svg_json(th), *e = svg_json(el);
		*l2 = xasprintf("then \xe2\x86\x92 %s, else \xe2\x86\x92 %s",
				th ? t : "the next step", el ? e : "the next step");
		free(t);
		free(e);
		fill = "#fdf3e4";
	} else if ((v = json_object_get(s, "exit")) != NULL) {
		x = svg_json(v);
		*l1 = xasprintf("exit%s%s", json_is_string(v) ? ": " : "",
				json_is_string(v) ? x : "");
		*l2 = xstrdup("");
		fill = "#fbeaea";
	} else if ((v = json_object_get(s, "update")) != NULL) {
		x = svg_json(v);
		*l1 = xasprintf("update %s", x);
		*l2 = xstrdup("");
	} else {
		*l1 = xstrdup("step");
		*l2 = xstrdup("");
	}
	free(x);
	free(y);
	return fill;
}

char *
ui_svg_journey(json_t *def, json_t *now, json_t *passed, json_t *sent)
{
	json_t *steps = json_object_get(def, "steps"), *s;
	const int w = 640, bh = 64, gap = 26, bx = 20, bw = 600;
	size_t n = json_array_size(steps), i;
	int h = 20 + (bh + gap) * (int)(n + 1) + 20 + (json_object_get(def, "exit_on") ? 30 : 0);
	GString *g = g_string_new(NULL);
	char *t;

	g_string_append_printf(g,
			       "<svg xmlns=\"http://www.w3.org/2000/svg\" class=\"journey\" "
			       "viewBox=\"0 0 %d %d\" width=\"%d\" height=\"%d\" role=\"img\">",
			       w, h, w, h);
	g_string_append(g, "<defs><marker id=\"arrow\" viewBox=\"0 0 10 10\" refX=\"9\" "
			   "refY=\"5\" markerWidth=\"7\" markerHeight=\"7\" orient=\"auto\">"
			   "<path d=\"M0,0 L10,5 L0,10 z\" fill=\"#666\"/></marker></defs>");
	/* The trigger. */
	int y = 20;
	g_string_append_printf(g,
			       "<rect x=\"%d\" y=\"%d\" width=\"%d\" height=\"%d\" rx=\"24\" "
			       "fill=\"#e6f4ea\" stroke=\"#5a9\"/>",
			       bx, y, bw, bh);
	t = svg_json(json_object_get(def, "trigger"));
	svg_line(g, bx + 12, y + 24, " font-weight=\"bold\"", "trigger", 20);
	svg_line(g, bx + 12, y + 44, NULL, t, 80);
	free(t);
	json_array_foreach(steps, i, s)
	{
		char *l1, *l2, counts[96];
		const char *id = json_string_value(json_object_get(s, "id"));
		const char *fill = svg_step_text(s, &l1, &l2);
		int ny = y + bh + gap;

		g_string_append_printf(g,
				       "<line x1=\"%d\" y1=\"%d\" x2=\"%d\" y2=\"%d\" "
				       "stroke=\"#666\" marker-end=\"url(#arrow)\"/>",
				       bx + bw / 2, y + bh, bx + bw / 2, ny - 2);
		y = ny;
		g_string_append_printf(
		    g,
		    "<rect x=\"%d\" y=\"%d\" width=\"%d\" height=\"%d\" rx=\"6\" "
		    "fill=\"%s\" stroke=\"#889\"/>",
		    bx, y, bw, bh, fill);
		svg_line(g, bx + 12, y + 18, " font-weight=\"bold\"", id ? id : "?", 40);
		long long n_now = json_integer_value(json_object_get(now, id ? id : ""));
		long long n_passed = json_integer_value(json_object_get(passed, id ? id : ""));
		if (json_object_get(s, "send") != NULL)
			snprintf(
			    counts, sizeof(counts),
			    "now %lld \xc2\xb7 passed %lld \xc2\xb7 sent %lld", n_now, n_passed,
			    (long long)json_integer_value(json_object_get(sent, id ? id : "")));
		else
			snprintf(counts, sizeof(counts), "now %lld \xc2\xb7 passed %lld", n_now,
				 n_passed);
		svg_line(g, bx + bw - 300, y + 18, " fill=\"#345\"", counts, 60);
		svg_line(g, bx + 12, y + 38, NULL, l1, 85);
		svg_line(g, bx + 12, y + 56, " fill=\"#555\"", l2, 85);
		if (json_object_get(s, "next") != NULL) {
			char *nx = svg_json(json_object_get(s, "next"));
			char *txt = xasprintf("next \xe2\x86\x92 %s", nx);
			svg_line(g, bx + bw - 190, y + 56, " fill=\"#555\"", txt, 40);
			free(txt);
			free(nx);
		}
		free(l1);
		free(l2);
	}
	if (json_object_get(def, "exit_on") != NULL) {
		t = svg_json(json_object_get(def, "exit_on"));
		char *txt = xasprintf("exits on %s", t);
		svg_line(g, bx, y + bh + 28, " fill=\"#a33\"", txt, 90);
		free(txt);
		free(t);
	}
	g_string_append(g, "</svg>");
	return g_string_free(g, FALSE);
}
