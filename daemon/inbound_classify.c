/*
 * The classifier's MIME side: GMime parses the message, this walks its parts for an RFC 3464
 * delivery-status, an RFC 5965 feedback report, the attached original and the text a person
 * reads, then decides the kind. The words of non-standard bounces are read in
 * inbound_bounce.c, a reply's own text is cut out in inbound_reply.c; the classification
 * object and the helpers the three share are in inbound_class.c.
 */
#include <ctype.h>
#include <gmime/gmime.h>
#include <string.h>
#include <strings.h>

#include "inbound_classify.h"
#include "inbound_int.h"
#include "mime.h"
#include "util.h"

/* A Message-ID without <> and spaces (malloc'd), or NULL. */
static char *
inbound_msgid_norm(const char *id)
{
	const char *b, *e;

	if (id == NULL)
		return NULL;
	while (isspace((unsigned char)*id) || *id == '<')
		id++;
	b = id;
	e = b;
	while (*e && *e != '>' && !isspace((unsigned char)*e))
		e++;
	if (e == b || e - b > 250)
		return NULL;
	return inbound_utf8(b, e - b);
}

/* The addresses of a header (To, Cc, ...) in MSG, appended to *V. */
static void
inbound_header_addrs(GMimeObject *obj, const char *name, char ***v, size_t *n)
{
	GMimeHeaderList *hl = g_mime_object_get_header_list(obj);
	int count = g_mime_header_list_get_count(hl);

	for (int i = 0; i < count; i++) {
		GMimeHeader *h = g_mime_header_list_get_header_at(hl, i);
		if (g_ascii_strcasecmp(g_mime_header_get_name(h), name) != 0)
			continue;
		const char *value = g_mime_header_get_value(h);
		InternetAddressList *l = internet_address_list_parse(NULL, value ? value : "");
		for (int k = 0; l != NULL && k < internet_address_list_length(l); k++) {
			InternetAddress *ia = internet_address_list_get_address(l, k);
			if (!INTERNET_ADDRESS_IS_MAILBOX(ia))
				continue;
			char *a = inbound_addr_norm(
			    internet_address_mailbox_get_addr(INTERNET_ADDRESS_MAILBOX(ia)));
			if (a != NULL)
				inbound_strv_add(v, n, a);
		}
		if (l != NULL)
			g_object_unref(l);
	}
}

/* The decoded content of a leaf part as UTF-8 text (malloc'd); text parts by their charset. */
static char *
inbound_part_text(GMimeObject *obj)
{
	if (GMIME_IS_TEXT_PART(obj)) {
		char *t = g_mime_text_part_get_text(GMIME_TEXT_PART(obj));
		if (t != NULL) {
			char *out = inbound_utf8(t, strlen(t));
			g_free(t);
			return out;
		}
	}
	if (!GMIME_IS_PART(obj))
		return NULL;
	GMimeDataWrapper *w = g_mime_part_get_content(GMIME_PART(obj));
	if (w == NULL)
		return xstrdup("");
	GMimeStream *mem = g_mime_stream_mem_new();
	g_mime_data_wrapper_write_to_stream(w, mem);
	GByteArray *ba = g_mime_stream_mem_get_byte_array(GMIME_STREAM_MEM(mem));
	char *out = inbound_utf8((const char *)ba->data, ba->len);
	g_object_unref(mem);
	return out;
}

/* A message parsed from TEXT (headers, perhaps a body), or NULL. */
static GMimeMessage *
inbound_parse(const char *text, size_t len)
{
	GMimeStream *s = g_mime_stream_mem_new_with_buffer(text, len);
	GMimeParser *p = g_mime_parser_new_with_stream(s);
	GMimeMessage *m;

	g_mime_parser_set_format(p, GMIME_FORMAT_MESSAGE);
	m = g_mime_parser_construct_message(p, NULL);
	g_object_unref(p);
	g_object_unref(s);
	return m;
}

/* What the walk over the parts found. */
struct inbound_walk {
	char *dsn;	    /* the message/delivery-status text */
	char *arf;	    /* the message/feedback-report text */
	GMimeMessage *orig; /* the attached original (a reference), or NULL */
	char *plain;	    /* the first text/plain */
	char *html;	    /* the first text/html */
	int parts;
};

static void
inbound_walk_part(GMimeObject *obj, struct inbound_walk *w, int depth)
{
	GMimeContentType *ct = g_mime_object_get_content_type(obj);
	const char *type = ct ? g_mime_content_type_get_media_type(ct) : "text";
	const char *sub = ct ? g_mime_content_type_get_media_subtype(ct) : "plain";

	if (++w->parts > 500 || depth > 20)
		return;
	if (GMIME_IS_MULTIPART(obj)) {
		GMimeMultipart *mp = GMIME_MULTIPART(obj);
		int n = g_mime_multipart_get_count(mp);
		for (int i = 0; i < n; i++)
			inbound_walk_part(g_mime_multipart_get_part(mp, i), w, depth + 1);
		return;
	}
	if (GMIME_IS_MESSAGE_PART(obj)) {
		GMimeMessage *m = g_mime_message_part_get_message(GMIME_MESSAGE_PART(obj));
		if (w->orig == NULL && m != NULL)
			w->orig = g_object_ref(m);
		return;
	}
	if (g_ascii_strcasecmp(type, "message") == 0 &&
	    (g_ascii_strcasecmp(sub, "delivery-status") == 0 ||
	     g_ascii_strcasecmp(sub, "global-delivery-status") == 0)) {
		if (w->dsn == NULL)
			w->dsn = inbound_part_text(obj);
		return;
	}
	if (g_ascii_strcasecmp(type, "message") == 0 &&
	    g_ascii_strcasecmp(sub, "feedback-report") == 0) {
		if (w->arf == NULL)
			w->arf = inbound_part_text(obj);
		return;
	}
	if ((g_ascii_strcasecmp(type, "text") == 0 &&
	     g_ascii_strcasecmp(sub, "rfc822-headers") == 0) ||
	    (g_ascii_strcasecmp(type, "message") == 0 &&
	     (g_ascii_strcasecmp(sub, "rfc822-headers") == 0 ||
	      g_ascii_strcasecmp(sub, "global-headers") == 0))) {
		if (w->orig == NULL) {
			char *t = inbound_part_text(obj);
			GString *h = g_string_new(t);
			g_string_append(h, "\n\n");
			w->orig = inbound_parse(h->str, h->len);
			g_string_free(h, TRUE);
			free(t);
		}
		return;
	}
	if (g_ascii_strcasecmp(type, "text") == 0) {
		const char *disp = g_mime_object_get_disposition(obj);
		int attachment = disp != NULL && g_ascii_strcasecmp(disp, "attachment") == 0;
		if (g_ascii_strcasecmp(sub, "plain") == 0 && w->plain == NULL && !attachment)
			w->plain = inbound_part_text(obj);
		else if (g_ascii_strcasecmp(sub, "html") == 0 && w->html == NULL && !attachment)
			w->html = inbound_part_text(obj);
	}
}

/* HTML to rough text: tags dropped, <br>, </p> and </div> as line ends, a few entities. */
static char *
inbound_html_text(const char *html)
{
	GString *s = g_string_new(NULL);
	const char *p = html;

	while (*p) {
		if (*p == '<') {
			const char *e = strchr(p, '>');
			if (e == NULL)
				break;
			if (g_ascii_strncasecmp(p, "<br", 3) == 0 ||
			    g_ascii_strncasecmp(p, "</p", 3) == 0 ||
			    g_ascii_strncasecmp(p, "</div", 5) == 0 ||
			    g_ascii_strncasecmp(p, "<blockquote", 11) == 0)
				g_string_append_c(s, '\n');
			if (g_ascii_strncasecmp(p, "<blockquote", 11) == 0)
				g_string_append(s, "> ");
			if (g_ascii_strncasecmp(p, "<style", 6) == 0 ||
			    g_ascii_strncasecmp(p, "<script", 7) == 0) {
				const char *close = strstr(e, "</");
				e = close ? strchr(close, '>') : NULL;
				if (e == NULL)
					break;
			}
			p = e + 1;
			continue;
		}
		if (*p == '&') {
			static const struct {
				const char *ent, *text;
			} ents[] = {{"&nbsp;", " "}, {"&amp;", "&"},   {"&lt;", "<"},
				    {"&gt;", ">"},   {"&quot;", "\""}, {"&#39;", "'"}};
			size_t k;
			for (k = 0; k < NT_ARRAY_LEN(ents); k++)
				if (strncmp(p, ents[k].ent, strlen(ents[k].ent)) == 0)
					break;
			if (k < NT_ARRAY_LEN(ents)) {
				g_string_append(s, ents[k].text);
				p += strlen(ents[k].ent);
				continue;
			}
		}
		if (*p != '\r')
			g_string_append_c(s, *p);
		p++;
	}
	return g_string_free(s, FALSE);
}

/*
 * One header-like block of a report ("Name: value", folded lines), looked up by name: the
 * value (malloc'd, unfolded, trimmed) or NULL.
 */
char *
inbound_field(const char *block, size_t len, const char *name)
{
	size_t nl = strlen(name);
	const char *p = block, *end = block + len;

	while (p < end) {
		const char *eol = memchr(p, '\n', end - p);
		const char *le = eol ? eol : end;
		if ((size_t)(le - p) > nl && g_ascii_strncasecmp(p, name, nl) == 0 &&
		    p[nl] == ':') {
			GString *v = g_string_new_len(p + nl + 1, le - (p + nl + 1));
			const char *q = eol ? eol + 1 : end;
			while (q < end && (*q == ' ' || *q == '\t')) {
				const char *e2 = memchr(q, '\n', end - q);
				const char *l2 = e2 ? e2 : end;
				g_string_append_c(v, ' ');
				g_string_append_len(v, q, l2 - q);
				q = e2 ? e2 + 1 : end;
			}
			/* Folding and CR/TAB collapse into single spaces. */
			char *t = g_strstrip(v->str), *w = t;
			for (char *c = t; *c; c++) {
				char ch = (*c == '\r' || *c == '\t') ? ' ' : *c;
				if (ch == ' ' && w > t && w[-1] == ' ')
					continue;
				*w++ = ch;
			}
			*w = '\0';
			char *out = inbound_utf8(t, strlen(t));
			g_string_free(v, TRUE);
			return out;
		}
		p = eol ? eol + 1 : end;
	}
	return NULL;
}

/* "rfc822; a@b" or "smtp; 550 ..." without the type before ';'. */
static const char *
inbound_typed_value(const char *v)
{
	const char *semi = v ? strchr(v, ';') : NULL;
	if (semi == NULL)
		return v;
	for (const char *p = v; p < semi; p++)
		if (!isalnum((unsigned char)*p) && *p != '-')
			return v;
	semi++;
	while (*semi == ' ')
		semi++;
	return semi;
}

/* "5.1.1" from a Status field ("5.1.1 (user unknown)"), or NULL. */
char *
inbound_status_norm(const char *s)
{
	int a, b, c, n = 0;

	if (s == NULL)
		return NULL;
	while (*s == ' ' || *s == '#')
		s++;
	if (sscanf(s, "%1d.%3d.%3d%n", &a, &b, &c, &n) != 3 || (a != 2 && a != 4 && a != 5))
		return NULL;
	return xasprintf("%d.%d.%d", a, b, c);
}

/*
 * The RFC 3464 delivery-status text: the per-recipient blocks after the per-message one.
 * Failed and delayed recipients go into C; the kind is bounce when any failed, delay when any
 * was delayed, else it stays. Returns the number of recipient blocks (of any action).
 */
static int
inbound_dsn(const char *dsn, struct inbound_class *c)
{
	int blocks = 0;
	const char *p = dsn;
	int first = 1, failed = 0, delayed = 0;

	while (*p) {
		/* Blocks are separated by empty lines (CRLF or LF). */
		const char *b = p, *e = p;
		while (*e) {
			const char *eol = strchr(e, '\n');
			if (eol == NULL) {
				e += strlen(e);
				break;
			}
			const char *next = eol + 1;
			if (*next == '\n' || (next[0] == '\r' && next[1] == '\n')) {
				e = next;
				break;
			}
			e = next;
		}
		p = e;
		while (*p == '\r' || *p == '\n')
			p++;
		size_t len = e - b;
		char *action = inbound_field(b, len, "Action");
		if (first && action == NULL) { /* the per-message block */
			first = 0;
			continue;
		}
		first = 0;
		if (action == NULL)
			continue;
		for (char *a = action; *a; a++)
			*a = (char)tolower((unsigned char)*a);
		blocks++;
		int is_failed = strncmp(action, "failed", 6) == 0;
		int is_delayed = strncmp(action, "delayed", 7) == 0;
		if (!is_failed && !is_delayed) {
			free(action);
			continue;
		}
		char *fr = inbound_field(b, len, "Final-Recipient");
		char *orc = fr ? NULL : inbound_field(b, len, "Original-Recipient");
		char *status = inbound_field(b, len, "Status");
		char *diag = inbound_field(b, len, "Diagnostic-Code");
		char *addr = inbound_addr_norm(inbound_typed_value(fr ? fr : orc));
		char *st = inbound_status_norm(status);
		char *dg = diag ? xstrdup(inbound_typed_value(diag)) : NULL;
		/* "5.0.0" says little when the server's words name "5.1.1". */
		if (dg != NULL && (st == NULL || strcmp(st + 1, ".0.0") == 0)) {
			char *better = inbound_status_in_text(dg);
			if (better != NULL && (st == NULL || better[0] == st[0])) {
				free(st);
				st = better;
			} else {
				free(better);
			}
		}
		free(fr);
		free(orc);
		free(status);
		free(diag);
		failed |= is_failed;
		delayed |= is_delayed;
		int idx = (int)c->nrcpts;
		if (inbound_rcpt_add(c, addr, st, action, dg) == 0 && is_failed)
			c->rcpts[idx].hard =
			    inbound_is_hard(c->rcpts[idx].status, c->rcpts[idx].diagnostic);
	}
	if (failed)
		c->kind = INBOUND_BOUNCE;
	else if (delayed)
		c->kind = INBOUND_DELAY;
	return blocks;
}

/* The RFC 5965 feedback report: Feedback-Type and the original recipients. */
static void
inbound_arf(const char *arf, struct inbound_class *c)
{
	size_t len = strlen(arf);
	char *ft = inbound_field(arf, len, "Feedback-Type");

	c->kind = INBOUND_COMPLAINT;
	if (ft != NULL) {
		for (char *p = ft; *p; p++)
			*p = (char)tolower((unsigned char)*p);
		c->feedback_type = ft;
	}
	/* Original-Rcpt-To may repeat; a redacted one is kept as an address of NULL. */
	const char *p = arf;
	while ((p = strcasestr(p, "Original-Rcpt-To:")) != NULL) {
		if (p != arf && p[-1] != '\n') {
			p++;
			continue;
		}
		char *v = inbound_field(p, strlen(p), "Original-Rcpt-To");
		inbound_rcpt_add(c, inbound_addr_norm(v), NULL, NULL, NULL);
		free(v);
		p++;
	}
}

/* Whether a header value says automatic: present and not "no" / "false" / "0". */
static int
inbound_header_set(GMimeObject *obj, const char *name)
{
	const char *v = g_mime_object_get_header(obj, name);
	if (v == NULL)
		return 0;
	while (*v == ' ')
		v++;
	return !(g_ascii_strncasecmp(v, "no", 2) == 0 || g_ascii_strncasecmp(v, "false", 5) == 0 ||
		 strcmp(v, "0") == 0);
}

/* RFC 3834 and the vacation markers in common use. */
static int
inbound_is_auto(GMimeObject *top, const char *subject)
{
	const char *prec = g_mime_object_get_header(top, "Precedence");

	if (inbound_header_set(top, "Auto-Submitted") || inbound_header_set(top, "X-Autoreply") ||
	    inbound_header_set(top, "X-Autorespond") ||
	    inbound_header_set(top, "X-Autoresponder") ||
	    g_mime_object_get_header(top, "X-MS-Exchange-Inbox-Rules-Loop") != NULL ||
	    g_mime_object_get_header(top, "X-Autogenerated") != NULL)
		return 1;
	if (prec != NULL && (strcasestr(prec, "auto_reply") || strcasestr(prec, "bulk") ||
			     strcasestr(prec, "junk")))
		return 1;
	return inbound_auto_subject(subject);
}

/* Re:, AW:, SV:, Antw: ... at the start of SUBJECT. */
static int
inbound_reply_subject(const char *s)
{
	static const char *const prefixes[] = {
	    "re:", "aw:", "sv:", "antw:", "r:", "ref:", "réf:", "res:", "odp:", "vs:"};
	if (s == NULL)
		return 0;
	while (*s == ' ' || *s == '[')
		s++;
	for (size_t i = 0; i < NT_ARRAY_LEN(prefixes); i++)
		if (g_ascii_strncasecmp(s, prefixes[i], strlen(prefixes[i])) == 0)
			return 1;
	return 0;
}

/* The ids of an In-Reply-To or References header, newest first, appended to *V. */
static void
inbound_ids(const char *value, char ***v, size_t *n, int newest_first)
{
	GMimeReferences *refs;
	char **tmp = NULL;
	size_t nt = 0;

	if (value == NULL)
		return;
	refs = g_mime_references_parse(NULL, value);
	for (int i = 0; refs != NULL && i < g_mime_references_length(refs) && i < 100; i++) {
		char *id = inbound_msgid_norm(g_mime_references_get_message_id(refs, i));
		if (id != NULL)
			inbound_strv_add(&tmp, &nt, id);
	}
	if (refs != NULL)
		g_mime_references_free(refs);
	for (size_t i = 0; i < nt; i++)
		inbound_strv_add(v, n, xstrdup(tmp[newest_first ? nt - 1 - i : i]));
	inbound_strv_free(tmp);
}

static int
inbound_is_mail(GMimeMessage *m)
{
	static const char *const names[] = {"From",	  "To",	      "Subject",    "Date",
					    "Message-ID", "Received", "Return-Path"};
	GMimeObject *o = GMIME_OBJECT(m);
	for (size_t i = 0; i < NT_ARRAY_LEN(names); i++)
		if (g_mime_object_get_header(o, names[i]) != NULL)
			return 1;
	return 0;
}

int
inbound_classify(const char *data, size_t len, struct inbound_class *out, const char **err)
{
	struct inbound_walk w = {0};
	GMimeMessage *m;
	size_t nrefs = 0, nto = 0;

	memset(out, 0, sizeof(*out));
	if (len > INBOUND_MAX_BYTES) {
		*err = "message too large";
		return -1;
	}
	if (len == 0 || memchr(data, '\0', len < 4096 ? len : 4096) != NULL) {
		*err = "not a mail: empty or binary";
		return -1;
	}
	mime_init();
	m = inbound_parse(data, len);
	if (m == NULL || !inbound_is_mail(m)) {
		if (m != NULL)
			g_object_unref(m);
		*err = "not a mail: no header section";
		return -1;
	}
	GMimeObject *top = GMIME_OBJECT(m);
	const char *mid = g_mime_message_get_message_id(m);
	const char *subj = g_mime_message_get_subject(m);
	out->message_id = inbound_msgid_norm(mid);
	out->subject = subj ? inbound_utf8(subj, strlen(subj)) : NULL;
	InternetAddressList *from = g_mime_message_get_from(m);
	if (from != NULL && internet_address_list_length(from) > 0) {
		InternetAddress *ia = internet_address_list_get_address(from, 0);
		if (INTERNET_ADDRESS_IS_MAILBOX(ia))
			out->from = inbound_addr_norm(
			    internet_address_mailbox_get_addr(INTERNET_ADDRESS_MAILBOX(ia)));
	}
	static const char *const to_headers[] = {
	    "Delivered-To", "X-Original-To", "Envelope-To", "X-Envelope-To", "To", "Cc"};
	for (size_t i = 0; i < NT_ARRAY_LEN(to_headers); i++)
		inbound_header_addrs(top, to_headers[i], &out->to_addrs, &nto);
	inbound_ids(g_mime_object_get_header(top, "In-Reply-To"), &out->references, &nrefs, 1);
	inbound_ids(g_mime_object_get_header(top, "References"), &out->references, &nrefs, 1);

	GMimeObject *body = g_mime_message_get_mime_part(m);
	if (body != NULL)
		inbound_walk_part(body, &w, 0);
	if (w.plain == NULL && w.html != NULL)
		w.plain = inbound_html_text(w.html);

	if (w.orig != NULL)
		out->orig_message_id = inbound_msgid_norm(g_mime_message_get_message_id(w.orig));

	if (w.arf != NULL) {
		inbound_arf(w.arf, out);
	} else if (w.dsn != NULL) {
		/* A DSN that names nobody: the human text may. */
		if (inbound_dsn(w.dsn, out) == 0 && w.plain != NULL)
			inbound_bounce_text(w.plain, out, 1);
	}
	if (out->kind == INBOUND_OTHER && w.dsn == NULL && w.arf == NULL && w.plain != NULL &&
	    inbound_bounce_like(out->from, out->subject, w.plain))
		inbound_bounce_text(w.plain, out, 0);
	if (out->orig_message_id == NULL && w.plain != NULL &&
	    (out->kind == INBOUND_BOUNCE || out->kind == INBOUND_DELAY ||
	     out->kind == INBOUND_COMPLAINT))
		out->orig_message_id = inbound_inline_msgid(w.plain);
	if (out->kind == INBOUND_OTHER && out->nrcpts == 0 && inbound_is_auto(top, out->subject))
		out->kind = INBOUND_AUTO_REPLY;
	if (out->kind == INBOUND_OTHER && w.dsn == NULL &&
	    (out->references != NULL || inbound_reply_subject(out->subject)) &&
	    !inbound_daemon_sender(out->from))
		out->kind = INBOUND_REPLY;
	/* Other mail may still be an answer (to a reply_to token): its text is kept too. */
	if (out->kind == INBOUND_REPLY || out->kind == INBOUND_OTHER)
		out->text = inbound_reply_text(w.plain ? w.plain : "");
	if (out->kind == INBOUND_REPLY)
		out->has_number = inbound_leading_number(out->text, &out->number);
	if (out->orig_message_id == NULL && out->references != NULL)
		out->orig_message_id = xstrdup(out->references[0]);

	free(w.dsn);
	free(w.arf);
	free(w.plain);
	free(w.html);
	if (w.orig != NULL)
		g_object_unref(w.orig);
	g_object_unref(m);
	return 0;
}
