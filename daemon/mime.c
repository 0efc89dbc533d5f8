/*
 * The MIME builder on GMime 3. GMime does the RFC 2047 encoding of names and subjects, the
 * quoting of display names, the choice of transfer encoding under a 7-bit constraint and the
 * CRLF output; this file only decides what goes in, refuses what must not (CR/LF in a header
 * field, invalid addresses) and checks the result.
 *
 * Threads: every call builds its own GMime objects and its own format options and frees them
 * before returning, so calls on different threads (the store thread, `nurtured preview`) share
 * nothing but GMime's global state, which g_mime_init sets up once.
 */
#include <arpa/inet.h>
#include <gmime/gmime.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "mime.h"
#include "util.h"

#define MIME_LOCAL_MAX 64  /* RFC 5321 4.5.3.1.1 */
#define MIME_ADDR_MAX 254  /* RFC 5321 4.5.3.1.3 (path of 256 less the brackets) */
#define MIME_LABEL_MAX 63  /* RFC 1035 */
#define MIME_URL_MAX 900   /* keeps the List-Unsubscribe line well under 998 octets */
#define MIME_MSGID_MAX 250 /* likewise for Message-ID */
#define MIME_LINE_MAX 998  /* RFC 5322 2.1.1, without the CRLF */

static pthread_once_t mime_once = PTHREAD_ONCE_INIT;

/* g_mime_init keeps an unlocked call count, so two threads must not race into it. */
static void
mime_init_once(void)
{
	g_mime_init();
}

void
mime_init(void)
{
	pthread_once(&mime_once, mime_init_once);
}

char *
mime_message_id(const char *domain, int64_t now_ms)
{
	/* Unique, not secret: GLib's generator (as g_uuid_string_random was), which cannot fail. */
	guint32 a = g_random_int(), b = g_random_int(), c = g_random_int();

	return xasprintf("<%011llx.%08x%08x%04x@%s>", (unsigned long long)now_ms, (unsigned)a,
			 (unsigned)b, (unsigned)(c & 0xffff), domain);
}

/* RFC 5322 atext, and RFC 6532's UTF8-non-ascii (the bytes of one; checked as UTF-8 apart). */
static bool
mime_atext(unsigned char c)
{
	return c != '\0' &&
	       (g_ascii_isalnum(c) || c >= 0x80 || strchr("!#$%&'*+-/=?^_`{|}~", c) != NULL);
}

/* A dot-atom of LEN bytes: atext runs separated by single dots, none at either end. */
static bool
mime_dot_atom(const char *s, size_t len)
{
	if (len == 0 || s[0] == '.' || s[len - 1] == '.')
		return false;
	for (size_t i = 0; i < len; i++) {
		if (s[i] == '.' ? s[i + 1] == '.' : !mime_atext((unsigned char)s[i]))
			return false;
	}
	return true;
}

/*
 * A domain as SMTP can route it: LDH labels (no hyphen at either end, 1..63 octets), at least
 * two of them, a top label that is not all digits (that would be an IP address without
 * brackets); or an address literal, [1.2.3.4] or [IPv6:...], checked by inet_pton.
 */
static bool
mime_domain(const char *d)
{
	size_t len = strlen(d);

	if (d[0] == '[') {
		char lit[64];
		unsigned char buf[16];

		if (len < 3 || d[len - 1] != ']' || len - 2 >= sizeof(lit))
			return false;
		memcpy(lit, d + 1, len - 2);
		lit[len - 2] = '\0';
		if (g_ascii_strncasecmp(lit, "IPv6:", 5) == 0)
			return inet_pton(AF_INET6, lit + 5, buf) == 1;
		return inet_pton(AF_INET, lit, buf) == 1;
	}
	int labels = 0;
	bool all_digits = true;
	for (const char *p = d;; p++) {
		const char *start = p;

		all_digits = true;
		while (g_ascii_isalnum(*p) || *p == '-') {
			if (!g_ascii_isdigit(*p))
				all_digits = false;
			p++;
		}
		size_t n = (size_t)(p - start);
		if (n == 0 || n > MIME_LABEL_MAX || start[0] == '-' || p[-1] == '-')
			return false;
		labels++;
		if (*p == '\0')
			break;
		if (*p != '.')
			return false;
	}
	return labels >= 2 && !all_digits;
}

/*
 * ASCII addresses, and internationalised ones (RFC 6531): a local part in UTF-8 (no control
 * characters), which a message then carries raw (RFC 6532) and SMTP only with SMTPUTF8; the
 * smtp channel refuses them with its reason (libesmtp 1.1 cannot send SMTPUTF8). IDNA domains
 * must arrive in their xn-- form.
 */
int
mime_addr_valid(const char *addr)
{
	if (addr == NULL)
		return 0;
	size_t len = strlen(addr);
	const char *at = strrchr(addr, '@');
	if (len > MIME_ADDR_MAX || at == NULL || !g_utf8_validate(addr, -1, NULL))
		return 0;
	for (const char *p = addr; p < at;) {
		gunichar ch = g_utf8_get_char(p);
		if (ch >= 0x80 &&
		    (g_unichar_iscntrl(ch) || g_unichar_isspace(ch) || !g_unichar_isdefined(ch)))
			return 0;
		p = g_utf8_next_char(p);
	}
	size_t local = (size_t)(at - addr);
	if (local > MIME_LOCAL_MAX || !mime_dot_atom(addr, local))
		return 0;
	return mime_domain(at + 1);
}

/* Sets *ERR to "FIELD: WHY" and returns -1, so refusals are one line at the call. */
static int
mime_refuse(char **err, const char *field, const char *why)
{
	*err = xasprintf("%s: %s", field, why);
	return -1;
}

/*
 * A value headed for a header. A C string cannot hold a NUL inside, so the NUL of the message
 * is the one that ended the value early; CR and LF are what could start a new header line.
 * Invalid UTF-8 is refused too: GMime would have to guess a charset for it.
 */
static int
mime_check_text(const char *field, const char *v, bool required, char **err)
{
	if (v == NULL)
		return required ? mime_refuse(err, field, "missing") : 0;
	if (strpbrk(v, "\r\n") != NULL)
		return mime_refuse(err, field, "contains CR, LF or NUL");
	if (!g_utf8_validate(v, -1, NULL))
		return mime_refuse(err, field, "not valid UTF-8");
	return 0;
}

/*
 * Text a reader would decode as an RFC 2047 encoded-word: GMime writes an ASCII "=?...?=" as it
 * is, so mime_build encodes such a name or subject itself (RFC 2047 5 allows it).
 */
static bool
mime_looks_encoded(const char *v)
{
	const char *ew = v ? strstr(v, "=?") : NULL;
	return ew != NULL && strstr(ew + 2, "?=") != NULL;
}

/* Printable ASCII without space, '<', '>' or ',': what may sit inside <...> in a list header. */
static bool
mime_uri_chars(const char *s)
{
	for (; *s; s++) {
		if ((unsigned char)*s <= ' ' || (unsigned char)*s >= 0x7f ||
		    strchr("<>,", *s) != NULL)
			return false;
	}
	return true;
}

/* Message-ID as "<left@right>" in printable ASCII: it goes out exactly as given. */
static bool
mime_msgid_valid(const char *id)
{
	size_t len = strlen(id);

	if (len < 5 || len > MIME_MSGID_MAX || id[0] != '<' || id[len - 1] != '>')
		return false;
	char *inner = xstrndup(id + 1, len - 2);
	const char *at = strchr(inner, '@');
	bool ok = mime_uri_chars(inner) && at != NULL && at != inner && at[1] != '\0';
	free(inner);
	return ok;
}

/* CR/LF in any header field first (the injection), then each field on its own; one error. */
int
mime_addr_intl(const char *addr)
{
	for (; addr != NULL && *addr; addr++)
		if ((unsigned char)*addr >= 0x80)
			return 1;
	return 0;
}

int
mime_validate(const struct mime_mail *m, char **err)
{
	if (mime_check_text("from_name", m->from_name, false, err) < 0 ||
	    mime_check_text("from_addr", m->from_addr, true, err) < 0 ||
	    mime_check_text("to_name", m->to_name, false, err) < 0 ||
	    mime_check_text("to_addr", m->to_addr, true, err) < 0 ||
	    mime_check_text("subject", m->subject, true, err) < 0 ||
	    mime_check_text("message_id", m->message_id, true, err) < 0 ||
	    mime_check_text("unsubscribe_url", m->unsubscribe_url, false, err) < 0 ||
	    mime_check_text("unsubscribe_mailto", m->unsubscribe_mailto, false, err) < 0)
		return -1;
	if (!mime_addr_valid(m->from_addr))
		return mime_refuse(err, "from_addr", "not a valid address");
	if (!mime_addr_valid(m->to_addr))
		return mime_refuse(err, "to_addr", "not a valid address");
	if (!mime_msgid_valid(m->message_id))
		return mime_refuse(err, "message_id", "not of the form <id@domain>");
	if (m->text == NULL)
		return mime_refuse(err, "text", "missing");
	if (!g_utf8_validate(m->text, -1, NULL))
		return mime_refuse(err, "text", "not valid UTF-8");
	if (m->html != NULL && !g_utf8_validate(m->html, -1, NULL))
		return mime_refuse(err, "html", "not valid UTF-8");
	if (m->unsubscribe_url != NULL &&
	    (strncmp(m->unsubscribe_url, "https://", 8) != 0 || strlen(m->unsubscribe_url) <= 8 ||
	     strlen(m->unsubscribe_url) > MIME_URL_MAX || !mime_uri_chars(m->unsubscribe_url)))
		return mime_refuse(err, "unsubscribe_url", "not an https URL");
	if (m->unsubscribe_mailto != NULL) {
		const char *a = m->unsubscribe_mailto;
		if (strncmp(a, "mailto:", 7) == 0)
			a += 7;
		if (m->unsubscribe_url == NULL)
			return mime_refuse(err, "unsubscribe_mailto", "needs unsubscribe_url");
		if (!mime_addr_valid(a))
			return mime_refuse(err, "unsubscribe_mailto", "not a valid address");
	}
	return 0;
}

/*
 * One text part in canonical form (RFC 2049: CRLF line ends, which GMime's quoted-printable
 * encoder keeps as hard breaks and its base64 encoder encodes as the canonical text), utf-8,
 * with its transfer encoding left for g_mime_object_encode to choose. A text that does not end
 * with a line break gets one: GMime's best-encoding filter measures only terminated lines (a
 * 5000-octet last line would stay 7bit), and a single-part message ends with CRLF anyway.
 */
static GMimeObject *
mime_text_part(const char *subtype, const char *text)
{
	GMimeTextPart *part = g_mime_text_part_new_with_subtype(subtype);
	GMimeStream *mem = g_mime_stream_mem_new();
	GMimeStream *crlf = g_mime_stream_filter_new(mem);
	GMimeFilter *filter = g_mime_filter_unix2dos_new(FALSE);

	g_mime_stream_filter_add(GMIME_STREAM_FILTER(crlf), filter);
	g_object_unref(filter);
	g_mime_stream_write_string(crlf, text);
	if (text[0] != '\0' && text[strlen(text) - 1] != '\n')
		g_mime_stream_write_string(crlf, "\n");
	g_mime_stream_flush(crlf);
	g_object_unref(crlf);
	g_mime_stream_reset(mem);
	GMimeDataWrapper *content =
	    g_mime_data_wrapper_new_with_stream(mem, GMIME_CONTENT_ENCODING_DEFAULT);
	g_object_unref(mem);
	g_mime_part_set_content(GMIME_PART(part), content);
	g_object_unref(content);
	g_mime_text_part_set_charset(part, "utf-8");
	return GMIME_OBJECT(part);
}

/* White space an RFC 5322 phrase would not keep: a run, a tab, or white space at either end. */
static bool
mime_odd_space(const char *s)
{
	size_t n = strlen(s);
	if (n > 0 && (s[0] == ' ' || s[n - 1] == ' '))
		return true;
	return strchr(s, '\t') != NULL || strstr(s, "  ") != NULL;
}

/*
 * TEXT as RFC 2047 encoded-words (utf-8, Q), each at most 75 characters, split between
 * characters and joined by folding white space (which decoders drop between encoded-words).
 * Only characters allowed in a phrase stay literal (RFC 2047 5 (3)), so it fits in both a
 * phrase and unstructured text. Returns a malloc'd value for g_mime_header_set_raw_value.
 */
static char *
mime_encode_words(const char *text)
{
	static const char hex[] = "0123456789ABCDEF";
	GString *out = g_string_new(" =?utf-8?q?");
	size_t word = 0;

	for (const char *p = text; *p;) {
		const char *next = g_utf8_next_char(p);
		char enc[32];
		size_t n = 0;
		for (const char *q = p; q < next; q++) {
			unsigned char c = (unsigned char)*q;
			if (c == ' ')
				enc[n++] = '_';
			else if (g_ascii_isalnum(c) || strchr("!*+-/", c) != NULL)
				enc[n++] = (char)c;
			else {
				enc[n++] = '=';
				enc[n++] = hex[c >> 4];
				enc[n++] = hex[c & 15];
			}
		}
		if (word + n > 75 - 12) { /* "=?utf-8?q?" and "?=" */
			g_string_append(out, "?=\n =?utf-8?q?");
			word = 0;
		}
		g_string_append_len(out, enc, (gssize)n);
		word += n;
		p = next;
	}
	g_string_append(out, "?=\n");
	return g_string_free(out, FALSE);
}

/* NAME as an RFC 5322 quoted-string: white space inside is kept as it is. */
static void
mime_quote(GString *out, const char *name)
{
	g_string_append_c(out, '"');
	for (const char *p = name; *p; p++) {
		if (*p == '"' || *p == '\\')
			g_string_append_c(out, '\\');
		g_string_append_c(out, *p);
	}
	g_string_append_c(out, '"');
}

/*
 * A mailbox with its name encoded (RFC 2047, utf-8) and quoted by GMime as it needs; and where
 * GMime's form would not read back exactly, the header written here: an ASCII name with odd
 * white space quoted, a name that looks like an encoded-word or that has both non-ASCII and
 * odd white space encoded whole, and an internationalised address (RFC 6532) raw.
 */
static void
mime_add_mailbox(GMimeMessage *msg, GMimeAddressType type, const char *header, const char *name,
		 const char *addr)
{
	InternetAddressList *list = g_mime_message_get_addresses(msg, type);
	InternetAddress *ia = internet_address_mailbox_new(name ? name : "", addr);
	bool odd = name != NULL && mime_odd_space(name);
	bool ascii = name == NULL || !mime_addr_intl(name);
	GString *v;

	internet_address_set_charset(ia, "utf-8");
	internet_address_list_add(list, ia);
	g_object_unref(ia);
	if (!odd && !mime_looks_encoded(name) && !mime_addr_intl(addr))
		return;
	if (name == NULL || name[0] == '\0') {
		v = g_string_new(" ");
	} else if (mime_looks_encoded(name) || (odd && !ascii)) {
		char *words = mime_encode_words(name);
		v = g_string_new(words);
		g_free(words);
		g_string_truncate(v, v->len - 1); /* the newline */
		g_string_append_c(v, ' ');
	} else if (odd) {
		v = g_string_new(" ");
		mime_quote(v, name);
		g_string_append_c(v, ' ');
	} else {
		/* GMime's own form of the name (encoded or quoted as needed), then the address. */
		InternetAddress *named = internet_address_mailbox_new(name, "x@x.invalid");
		GMimeFormatOptions *fmt = g_mime_format_options_new();
		internet_address_set_charset(named, "utf-8");
		char *s = internet_address_to_string(named, fmt, TRUE);
		char *lt = strrchr(s, '<');
		v = g_string_new(" ");
		g_string_append_len(v, s, lt ? lt - s : 0);
		g_free(s);
		g_mime_format_options_free(fmt);
		g_object_unref(named);
	}
	g_string_append_printf(v, "<%s>\n", addr);
	g_mime_header_set_raw_value(
	    g_mime_header_list_get_header(g_mime_object_get_header_list(GMIME_OBJECT(msg)), header),
	    v->str);
	g_string_free(v, TRUE);
}

/*
 * The RFC 2369 / RFC 8058 pair; both values were checked to be plain ASCII URIs. The value is
 * set raw: GMime would fold a long unstructured value into RFC 2047 encoded-words, which no
 * mail provider reads as a URL. The mailto goes on a folded line of its own.
 */
static void
mime_add_unsubscribe(GMimeObject *msg, const struct mime_mail *m)
{
	char *v;

	if (m->unsubscribe_mailto == NULL)
		v = xasprintf(" <%s>\n", m->unsubscribe_url);
	else
		v = xasprintf(" <%s>,\n <%s%s>\n", m->unsubscribe_url,
			      strncmp(m->unsubscribe_mailto, "mailto:", 7) == 0 ? "" : "mailto:",
			      m->unsubscribe_mailto);
	g_mime_object_set_header(msg, "List-Unsubscribe", "", NULL);
	g_mime_header_set_raw_value(
	    g_mime_header_list_get_header(g_mime_object_get_header_list(msg), "List-Unsubscribe"),
	    v);
	g_mime_object_set_header(msg, "List-Unsubscribe-Post", "List-Unsubscribe=One-Click", NULL);
	free(v);
}

/* A last check on what GMime wrote: CRLF after every line, none longer than 998 octets. */
static bool
mime_lines_ok(const unsigned char *p, size_t len)
{
	size_t start = 0;

	if (len < 2 || p[len - 2] != '\r' || p[len - 1] != '\n')
		return false;
	for (size_t i = 0; i < len; i++) {
		if (p[i] == '\n') {
			if (i == 0 || p[i - 1] != '\r' || i - 1 - start > MIME_LINE_MAX)
				return false;
			start = i + 1;
		} else if (p[i] == '\r' && (i + 1 == len || p[i + 1] != '\n')) {
			return false;
		}
	}
	return true;
}

/* Seconds since the epoch from milliseconds, rounding down also before 1970. */
static GDateTime *
mime_date(int64_t ms)
{
	int64_t s = ms / 1000 - (ms % 1000 < 0 ? 1 : 0);

	return g_date_time_new_from_unix_utc(s);
}

int
mime_build(const struct mime_mail *m, char **out, size_t *len, char **err)
{
	*out = NULL;
	*len = 0;
	*err = NULL;
	if (mime_validate(m, err) < 0)
		return -1;
	GDateTime *date = mime_date(m->date_ms);
	if (date == NULL)
		return mime_refuse(err, "date_ms", "out of range");
	mime_init();

	GMimeMessage *msg = g_mime_message_new(FALSE);
	GMimeObject *obj = GMIME_OBJECT(msg);
	g_mime_message_set_date(msg, date);
	g_date_time_unref(date);
	mime_add_mailbox(msg, GMIME_ADDRESS_TYPE_FROM, "From", m->from_name, m->from_addr);
	mime_add_mailbox(msg, GMIME_ADDRESS_TYPE_TO, "To", m->to_name, m->to_addr);
	g_mime_message_set_subject(msg, m->subject, "utf-8");
	if (mime_looks_encoded(m->subject)) {
		char *words = mime_encode_words(m->subject);
		g_mime_header_set_raw_value(
		    g_mime_header_list_get_header(g_mime_object_get_header_list(obj), "Subject"),
		    words);
		g_free(words);
	}
	/* GMime adds the angle brackets back: the header carries the caller's id unchanged. */
	char *id = xstrndup(m->message_id + 1, strlen(m->message_id) - 2);
	g_mime_message_set_message_id(msg, id);
	free(id);
	if (m->unsubscribe_url != NULL)
		mime_add_unsubscribe(obj, m);

	GMimeObject *body = mime_text_part("plain", m->text);
	if (m->html != NULL) {
		GMimeMultipart *alt = g_mime_multipart_new_with_subtype("alternative");
		GMimeObject *html = mime_text_part("html", m->html);
		g_mime_multipart_add(alt, body);
		g_mime_multipart_add(alt, html);
		g_object_unref(body);
		g_object_unref(html);
		body = GMIME_OBJECT(alt);
	}
	g_mime_message_set_mime_part(msg, body);
	g_object_unref(body);
	/* 7bit where the text allows, else quoted-printable or base64: safe for any relay. */
	g_mime_object_encode(obj, GMIME_ENCODING_CONSTRAINT_7BIT);

	GMimeFormatOptions *fmt = g_mime_format_options_new();
	g_mime_format_options_set_newline_format(fmt, GMIME_NEWLINE_FORMAT_DOS);
	GMimeStream *mem = g_mime_stream_mem_new();
	ssize_t n = g_mime_object_write_to_stream(obj, fmt, mem);
	g_mime_format_options_free(fmt);
	g_object_unref(msg);
	GByteArray *bytes = g_mime_stream_mem_get_byte_array(GMIME_STREAM_MEM(mem));
	int rc = 0;
	if (n < 0) {
		rc = mime_refuse(err, "message", "GMime could not write it");
	} else if (!mime_lines_ok(bytes->data, bytes->len)) {
		rc = mime_refuse(err, "message", "a line is longer than 998 octets or lacks CRLF");
	} else {
		*out = xmalloc(bytes->len + 1);
		memcpy(*out, bytes->data, bytes->len);
		(*out)[bytes->len] = '\0';
		*len = bytes->len;
	}
	g_object_unref(mem);
	return rc;
}

/* NULL stays NULL: optional fields are optional in the copy too. */
static const char *
mime_strdup(const char *s)
{
	return s ? xstrdup(s) : NULL;
}

struct mime_mail *
mime_mail_dup(const struct mime_mail *m)
{
	struct mime_mail *c = xcalloc(1, sizeof(*c));

	c->from_name = mime_strdup(m->from_name);
	c->from_addr = mime_strdup(m->from_addr);
	c->to_name = mime_strdup(m->to_name);
	c->to_addr = mime_strdup(m->to_addr);
	c->subject = mime_strdup(m->subject);
	c->text = mime_strdup(m->text);
	c->html = mime_strdup(m->html);
	c->message_id = mime_strdup(m->message_id);
	c->date_ms = m->date_ms;
	c->unsubscribe_url = mime_strdup(m->unsubscribe_url);
	c->unsubscribe_mailto = mime_strdup(m->unsubscribe_mailto);
	return c;
}

void
mime_mail_free(struct mime_mail *m)
{
	if (m == NULL)
		return;
	free((char *)m->from_name);
	free((char *)m->from_addr);
	free((char *)m->to_name);
	free((char *)m->to_addr);
	free((char *)m->subject);
	free((char *)m->text);
	free((char *)m->html);
	free((char *)m->message_id);
	free((char *)m->unsubscribe_url);
	free((char *)m->unsubscribe_mailto);
	free(m);
}
