/*
 * A reply's own words: the quoted history that Gmail, Outlook, Apple Mail and Thunderbird put
 * under (or above) the answer, in English and German, and the signature, cut away. The
 * attribution lines are matched by GLib regular expressions, compiled once.
 */
#include <ctype.h>
#include <glib.h>
#include <stdlib.h>
#include <string.h>

#include "inbound_int.h"
#include "util.h"

/*
 * Attribution lines that start the quoted history:
 *   Gmail EN      On Mon, Jan 5, 2026 at 10:00 AM Shop <news@shop.example> wrote:
 *   Gmail DE      Am Mo., 5. Jan. 2026 um 10:00 Uhr schrieb Shop <news@shop.example>:
 *   Apple Mail    On 5 Jan 2026, at 10:00, Shop <news@shop.example> wrote:
 *                 Am 05.01.2026 um 10:00 schrieb Shop <news@shop.example>:
 *   Thunderbird   On 05.01.26 10:00, Shop wrote:  /  Am 05.01.26 um 10:00 schrieb Shop:
 * Gmail wraps long ones over two lines: the pattern is tried on a line and the next together.
 */
static const char attribution_re[] =
    "^\\s*((On|Le|El|Il) .{4,200}(wrote|a écrit|escribió|ha scritto)\\s*:"
    "|(Am|Von) .{4,200}schrieb.{0,200}:"
    "|.{0,100}\\d{1,4}.{0,100} (schrieb|wrote)\\s*.{0,100}:)\\s*$";
/* Outlook's header block and the separators above a forwarded or quoted original. */
static const char separator_re[] =
    "^\\s*(-{2,}\\s*(Original Message|Ursprüngliche Nachricht|Originalnachricht|Forwarded "
    "message|Weitergeleitete Nachricht)\\s*-{2,}|_{10,}|(From|Von):\\s.+|\\*?(From|Von):\\*?\\s.+)"
    "\\s*$";
/* Signature delimiters and mobile footers. */
static const char signature_re[] =
    "^(--\\s*|Sent from my .+|Sent from Mail for Windows.*|Get Outlook for .+|"
    "Von meinem .+ gesendet|Gesendet von meinem .+|Gesendet von Mail für Windows.*|"
    "Diese Nachricht wurde von meinem .+ gesendet\\.?|Mit freundlichen Gr(ü|ue)(ß|ss)en,?|"
    "((Viele|Liebe|Beste|Herzliche|Freundliche) )?Gr(ü|ue)(ß|ss)e,?|LG,?|VG,?|MfG,?|Best "
    "regards,?|Kind regards,?|Regards,?|"
    "Thanks,?|Cheers,?)\\s*$";

static GRegex *re_attr, *re_sep, *re_sig;

static void
inbound_reply_init(void)
{
	static gsize done = 0;
	if (g_once_init_enter(&done)) {
		GRegexCompileFlags f = G_REGEX_CASELESS | G_REGEX_OPTIMIZE;
		re_attr = g_regex_new(attribution_re, f, 0, NULL);
		re_sep = g_regex_new(separator_re, f, 0, NULL);
		re_sig = g_regex_new(signature_re, f, 0, NULL);
		g_once_init_leave(&done, 1);
	}
}

static int
inbound_line_matches(GRegex *re, const char *line)
{
	return re != NULL && g_regex_match(re, line, 0, NULL);
}

/* Whether LINES[I] (perhaps with the next line, when Gmail wrapped it) starts the history. */
static int
inbound_quote_start(char **lines, size_t i)
{
	if (inbound_line_matches(re_attr, lines[i]))
		return 1;
	if (lines[i + 1] != NULL && lines[i][0] != '\0' && lines[i][0] != '>') {
		char *two = g_strconcat(lines[i], " ", lines[i + 1], NULL);
		int yes = inbound_line_matches(re_attr, two) &&
			  (g_str_has_prefix(g_strstrip(lines[i]), "On ") ||
			   g_str_has_prefix(lines[i], "Am "));
		g_free(two);
		if (yes)
			return 1;
	}
	if (inbound_line_matches(re_sep, lines[i])) {
		/* "From: x" alone is no separator: Outlook follows it with Sent/Date/To. */
		const char *l = lines[i];
		while (*l == ' ' || *l == '*')
			l++;
		if (g_ascii_strncasecmp(l, "From:", 5) != 0 &&
		    g_ascii_strncasecmp(l, "Von:", 4) != 0)
			return 1;
		for (size_t k = i + 1; k < i + 4 && lines[k] != NULL; k++) {
			const char *n = lines[k];
			while (*n == ' ' || *n == '*')
				n++;
			if (g_ascii_strncasecmp(n, "Sent:", 5) == 0 ||
			    g_ascii_strncasecmp(n, "Gesendet:", 9) == 0 ||
			    g_ascii_strncasecmp(n, "Date:", 5) == 0 ||
			    g_ascii_strncasecmp(n, "Datum:", 6) == 0)
				return 1;
		}
	}
	return 0;
}

char *
inbound_reply_text(const char *body)
{
	char *norm, **lines;
	GString *out = g_string_new(NULL);
	size_t n;

	inbound_reply_init();
	norm = inbound_utf8(body, strlen(body));
	/* CRLF and CR to LF; non-breaking spaces to spaces. */
	{
		char *w = norm;
		for (char *r = norm; *r; r++) {
			if (*r == '\r') {
				if (r[1] != '\n')
					*w++ = '\n';
				continue;
			}
			*w++ = *r;
		}
		*w = '\0';
	}
	lines = g_strsplit(norm, "\n", 5000);
	free(norm);
	n = g_strv_length(lines);
	for (size_t i = 0; i < n; i++) {
		char *l = lines[i];
		char *nbsp;
		while ((nbsp = strstr(l, "\xc2\xa0")) != NULL)
			memmove(nbsp, nbsp + 1, strlen(nbsp + 1) + 1), nbsp[0] = ' ';
		g_strchomp(l);
		if (l[0] == '>')
			continue; /* quoted, wherever it stands (bottom or interleaved) */
		if (inbound_quote_start(lines, i))
			break;
		/* A signature delimiter ends the answer once there is one. */
		if (inbound_line_matches(re_sig, l) && out->len > 0)
			break;
		if (out->len > 0 || l[0] != '\0') {
			g_string_append(out, l);
			g_string_append_c(out, '\n');
		}
	}
	g_strfreev(lines);
	while (out->len > 0 && isspace((unsigned char)out->str[out->len - 1]))
		g_string_truncate(out, out->len - 1);
	char *text = xstrdup(out->str);
	g_string_free(out, TRUE);
	return text;
}

int
inbound_leading_number(const char *text, double *out)
{
	const char *p = text;
	char *end;
	double v;

	if (text == NULL)
		return 0;
	while (*p == ' ' || *p == '\t' || *p == '\n' || *p == '*' || *p == '"')
		p++;
	if (!isdigit((unsigned char)*p) &&
	    !((*p == '-' || *p == '+') && isdigit((unsigned char)p[1])))
		return 0;
	/* "2,5" as German writes it: only when a digit follows the comma. */
	char buf[32];
	size_t k = 0;
	if (*p == '-' || *p == '+')
		buf[k++] = *p++;
	while (isdigit((unsigned char)*p) && k < 20)
		buf[k++] = *p++;
	if ((*p == ',' || *p == '.') && isdigit((unsigned char)p[1]) && k < 20) {
		buf[k++] = '.';
		p++;
		while (isdigit((unsigned char)*p) && k < 30)
			buf[k++] = *p++;
	}
	buf[k] = '\0';
	/* "2026-01-05" or "10:00" is no answer with a number. */
	if (isalpha((unsigned char)*p) || *p == ':' || (*p == '-' && isdigit((unsigned char)p[1])))
		return 0;
	v = g_ascii_strtod(buf, &end);
	if (end == buf)
		return 0;
	*out = v;
	return 1;
}
