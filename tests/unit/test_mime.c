/*
 * The MIME builder on its own: address validation, refusal of header injection, the headers,
 * the structure, line lengths and line ends of what it writes. tests/unit/mime_vs_python.py
 * checks the same output against Python's email package.
 */
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mime.h"
#include "tap.h"

/* A mail that builds: each test changes one field of it. */
static struct mime_mail
base_mail(void)
{
	struct mime_mail m = {
	    .from_name = "Shop",
	    .from_addr = "news@shop.example",
	    .to_name = "Ann Smith",
	    .to_addr = "ann@example.com",
	    .subject = "Thanks",
	    .text = "Hello Ann,\nthanks.\n",
	    .message_id = "<j1.s2.v3@shop.example>",
	    .date_ms = 1700000000123LL,
	};
	return m;
}

/* Builds M; returns the message (caller frees) or NULL, with the error in ERR_OUT if asked. */
static char *
build(const struct mime_mail *m, size_t *len, char **err_out)
{
	char *out = NULL, *err = NULL;
	size_t n = 0;

	if (mime_build(m, &out, &n, &err) < 0) {
		if (err_out)
			*err_out = err;
		else
			free(err);
		return NULL;
	}
	if (len)
		*len = n;
	if (err_out)
		*err_out = NULL;
	return out;
}

/* The message's header section up to the first empty line, unfolded (RFC 5322 2.2.3). */
static char *
head_of(const char *msg)
{
	const char *end = strstr(msg, "\r\n\r\n");
	size_t n = end ? (size_t)(end - msg) + 2 : strlen(msg), k = 0;
	char *h = malloc(n + 1);

	for (size_t i = 0; i < n; i++) {
		if (msg[i] == '\r' && i + 2 < n && msg[i + 1] == '\n' &&
		    (msg[i + 2] == ' ' || msg[i + 2] == '\t'))
			i++;
		else
			h[k++] = msg[i];
	}
	h[k] = '\0';
	return h;
}

/* Whether the header section of MSG has a line starting with PREFIX (case as written). */
static bool
has_header(const char *msg, const char *prefix)
{
	char *h = head_of(msg);
	bool found = strncmp(h, prefix, strlen(prefix)) == 0;

	for (const char *p = strstr(h, "\r\n"); !found && p; p = strstr(p + 2, "\r\n"))
		found = strncmp(p + 2, prefix, strlen(prefix)) == 0;
	free(h);
	return found;
}

/* Every line ends with CRLF (no bare CR or LF) and holds at most 998 octets before it. */
static bool
lines_ok(const char *msg, size_t len, size_t *longest)
{
	size_t start = 0;

	*longest = 0;
	if (len < 2 || msg[len - 2] != '\r' || msg[len - 1] != '\n')
		return false;
	for (size_t i = 0; i < len; i++) {
		if (msg[i] == '\n') {
			if (i == 0 || msg[i - 1] != '\r')
				return false;
			if (i - 1 - start > *longest)
				*longest = i - 1 - start;
			start = i + 1;
		} else if (msg[i] == '\r' && (i + 1 == len || msg[i + 1] != '\n')) {
			return false;
		}
	}
	return *longest <= 998;
}

static void
test_addresses(void)
{
	static const char *good[] = {
	    "a@b.de",
	    "ann.smith@example.com",
	    "x@[1.2.3.4]",
	    "x@[IPv6:2001:db8::1]",
	    "o'brien+tag@mail.example.co.uk",
	    "!#$%&'*+-/=?^_`{|}~@x.de",
	    "a@xn--mller-kva.de",
	    "a@a-b.c-d.de",
	    "1234567890123456789012345678901234567890123456789012345678901234@x.de",
	    "m\xc3\xbcller@x.de", /* RFC 6531 (issue 18) */
	};
	static const char *bad[] = {
	    "",
	    "a@b",
	    "a b@c.de",
	    "\"q\"@x.de",
	    "12345678901234567890123456789012345678901234567890123456789012345@x.de",
	    "a@b.de\r\nBcc: x@y.de",
	    "a@b.de\n",
	    "a\r@b.de",
	    "Ann <a@b.de>",
	    "<a@b.de>",
	    "a@b.de>",
	    "@b.de",
	    "a@",
	    "a@@b.de",
	    "a@b@c.de",
	    ".a@b.de",
	    "a.@b.de",
	    "a..b@c.de",
	    "a@.b.de",
	    "a@b..de",
	    "a@b.de.",
	    "a@-b.de",
	    "a@b-.de",
	    "a@b_c.de",
	    "a@1.2.3.4",
	    "x@[1.2.3]",
	    "x@[1.2.3.256]",
	    "x@[1.2.3.4",
	    "x@[IPv6:zz::1]",
	    "a@m\xc3\xbcller.de", /* an IDNA domain must come as xn--; the local part may be UTF-8
				   */
	    "a@b.de ",
	    "a(comment)@b.de",
	    "a,b@c.de",
	};
	char buf[300];

	for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++)
		test_ok(mime_addr_valid(good[i]), "address valid: %s", good[i]);
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		char shown[80];
		size_t k = 0;
		for (const char *p = bad[i]; *p && k + 4 < sizeof(shown); p++) {
			if (*p == '\r' || *p == '\n') {
				shown[k++] = '\\';
				shown[k++] = *p == '\r' ? 'r' : 'n';
			} else {
				shown[k++] = *p;
			}
		}
		shown[k] = '\0';
		test_ok(!mime_addr_valid(bad[i]), "address refused: \"%s\"", shown);
	}
	test_ok(!mime_addr_valid(NULL), "address refused: NULL");
	/* 254 octets in all is the limit: 64 + '@' + 189 of domain. */
	memset(buf, 'a', 64);
	buf[64] = '@';
	size_t p = 65;
	while (p < 254 - 4) {
		size_t n = 254 - 4 - p < 60 ? 254 - 4 - p : 60;
		memset(buf + p, 'b', n);
		p += n;
		buf[p++] = '.';
	}
	if (buf[p - 1] == '.')
		buf[p++] = 'b';
	while (p < 254)
		buf[p++] = 'c';
	buf[p] = '\0';
	test_ok(strlen(buf) == 254 && mime_addr_valid(buf), "address of 254 octets valid");
	buf[p] = 'c';
	buf[p + 1] = '\0';
	test_ok(!mime_addr_valid(buf), "address of 255 octets refused");
}

/* Sets one string field of M by its name. */
static void
set_field(struct mime_mail *m, const char *field, const char *v)
{
	if (strcmp(field, "from_name") == 0)
		m->from_name = v;
	else if (strcmp(field, "from_addr") == 0)
		m->from_addr = v;
	else if (strcmp(field, "to_name") == 0)
		m->to_name = v;
	else if (strcmp(field, "to_addr") == 0)
		m->to_addr = v;
	else if (strcmp(field, "subject") == 0)
		m->subject = v;
	else if (strcmp(field, "message_id") == 0)
		m->message_id = v;
	else if (strcmp(field, "unsubscribe_url") == 0)
		m->unsubscribe_url = v;
	else if (strcmp(field, "unsubscribe_mailto") == 0)
		m->unsubscribe_mailto = v;
}

static void
test_injection(void)
{
	static const struct {
		const char *field, *value;
	} cases[] = {
	    {"from_name", "Shop\r\nBcc: victim@example.com"},
	    {"from_name", "Shop\nX: y"},
	    {"from_addr", "news@shop.example\r\nBcc: v@e.com"},
	    {"to_name", "Ann\r\nBcc: victim@example.com"},
	    {"to_name", "Ann\rX"},
	    {"to_addr", "ann@example.com\nBcc: v@e.com"},
	    {"subject", "Hi\r\nBcc: victim@example.com"},
	    {"subject", "Hi\n\n<html>"},
	    {"subject", "Hi\r"},
	    {"message_id", "<a@b.de>\r\nBcc: v@e.com"},
	    {"unsubscribe_url", "https://u.example/x\r\nBcc: v@e.com"},
	    {"unsubscribe_mailto", "mailto:u@e.com\nBcc: v@e.com"},
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct mime_mail m = base_mail();
		char *err = NULL, want[80];

		m.unsubscribe_url = "https://u.example/x";
		set_field(&m, cases[i].field, cases[i].value);
		snprintf(want, sizeof(want), "%s: contains CR, LF or NUL", cases[i].field);
		char *out = build(&m, NULL, &err);
		if (!test_ok(out == NULL && err && strcmp(err, want) == 0,
			     "%s with CR/LF refused (case %zu)", cases[i].field, i))
			printf("# got %s\n", err ? err : "a message");
		free(out);
		free(err);
	}
	/* NUL: a C string ends at it, so what follows never reaches the header. */
	{
		struct mime_mail m = base_mail();
		char *err = NULL;
		m.to_name = "Ann\0\r\nBcc: v@e.com";
		m.subject = "=?";
		char *out = build(&m, NULL, &err);
		test_ok(out && strstr(out, "Bcc") == NULL, "NUL ends the value: nothing after it");
		free(out);
		free(err);
	}
	static const struct {
		const char *field, *value, *want;
	} invalid[] = {
	    {"to_addr", "Ann <ann@example.com>", "to_addr: not a valid address"},
	    {"to_addr", "ann@example", "to_addr: not a valid address"},
	    {"from_addr", "news@@shop.example", "from_addr: not a valid address"},
	    {"message_id", "j1@shop.example", "message_id: not of the form <id@domain>"},
	    {"message_id", "<j1 x@shop.example>", "message_id: not of the form <id@domain>"},
	    {"message_id", "<j1shop.example>", "message_id: not of the form <id@domain>"},
	    {"unsubscribe_url", "http://u.example/x", "unsubscribe_url: not an https URL"},
	    {"unsubscribe_url", "https://u.example/a b", "unsubscribe_url: not an https URL"},
	    {"unsubscribe_url", "https://u.example/>, <x", "unsubscribe_url: not an https URL"},
	    {"unsubscribe_mailto", "mailto:not an address",
	     "unsubscribe_mailto: not a valid address"},
	    {"subject", "bad \xff utf-8", "subject: not valid UTF-8"},
	    {"to_name", "bad \xc3", "to_name: not valid UTF-8"},
	    {"to_addr", "zo\xc3\xab@ex\xc3\xa4mple.com", "to_addr: not a valid address"},
	    {"to_addr",
	     "zo\xc2\x85"
	     "e@example.com",
	     "to_addr: not a valid address"},
	};
	for (size_t i = 0; i < sizeof(invalid) / sizeof(invalid[0]); i++) {
		struct mime_mail m = base_mail();
		char *err = NULL;

		m.unsubscribe_url = "https://u.example/x";
		set_field(&m, invalid[i].field, invalid[i].value);
		char *out = build(&m, NULL, &err);
		if (!test_ok(out == NULL && err && strcmp(err, invalid[i].want) == 0, "refused: %s",
			     invalid[i].want))
			printf("# got %s\n", err ? err : "a message");
		free(out);
		free(err);
	}
	struct mime_mail m = base_mail();
	char *err = NULL;
	m.subject = NULL;
	char *out = build(&m, NULL, &err);
	test_ok(!out && err && strcmp(err, "subject: missing") == 0, "missing subject refused");
	free(out);
	free(err);
	m = base_mail();
	m.text = NULL;
	out = build(&m, NULL, &err);
	test_ok(!out && err && strcmp(err, "text: missing") == 0, "missing text refused");
	free(out);
	free(err);
}

static void
test_headers(void)
{
	struct mime_mail m = base_mail();
	size_t len, longest;
	char *out = build(&m, &len, NULL);

	if (!test_ok(out != NULL, "plain mail builds")) {
		return;
	}
	test_ok(strlen(out) == len, "length is the string's");
	test_ok(has_header(out, "Date: Tue, 14 Nov 2023 22:13:20 +0000\r\n"), "Date from date_ms");
	test_ok(has_header(out, "Message-Id: <j1.s2.v3@shop.example>\r\n"),
		"Message-ID exactly the caller's");
	test_ok(has_header(out, "From: Shop <news@shop.example>\r\n"), "From");
	test_ok(has_header(out, "To: Ann Smith <ann@example.com>\r\n"), "To");
	test_ok(has_header(out, "Subject: Thanks\r\n"), "Subject");
	test_ok(has_header(out, "MIME-Version: 1.0\r\n"), "MIME-Version");
	test_ok(has_header(out, "Content-Type: text/plain; charset=utf-8\r\n"),
		"single text/plain part, utf-8");
	test_ok(strstr(out, "multipart") == NULL, "no multipart without html");
	test_ok(!has_header(out, "Content-Transfer-Encoding: quoted-printable") &&
		    !has_header(out, "Content-Transfer-Encoding: base64"),
		"short ASCII lines stay 7bit");
	test_ok(strstr(out, "\r\n\r\nHello Ann,\r\nthanks.\r\n") != NULL, "body with CRLF");
	test_ok(!has_header(out, "List-Unsubscribe"), "no List-Unsubscribe unless asked");
	test_ok(lines_ok(out, len, &longest), "CRLF everywhere, lines <= 998");
	free(out);

	m.from_name = NULL;
	m.to_name = NULL;
	out = build(&m, &len, NULL);
	test_ok(out && has_header(out, "From: news@shop.example\r\n") &&
		    has_header(out, "To: ann@example.com\r\n"),
		"no names: bare addresses");
	free(out);

	m = base_mail();
	m.to_name = "J\xc3\xbcrgen M\xc3\xbcller";
	m.subject = "Danke f\xc3\xbcr Ihren Einkauf";
	out = build(&m, &len, NULL);
	test_ok(out && strstr(out, "=?UTF-8?") && strstr(out, "\xc3") == NULL,
		"non-ASCII names and subject RFC 2047-encoded, no raw 8-bit in headers");
	test_ok(out && strstr(out, "\"=?") == NULL, "no encoded-word inside a quoted string");
	free(out);

	m = base_mail();
	m.date_ms = -1;
	out = build(&m, &len, NULL);
	test_ok(out && has_header(out, "Date: Wed, 31 Dec 1969 23:59:59 +0000\r\n"),
		"date before 1970 rounds down");
	free(out);

	/* Issue 18: an RFC 5322 phrase folds "Double  Space" into one space; a quoted-string
	 * keeps it. Text that reads as an encoded-word is encoded, not refused. */
	m = base_mail();
	m.to_name = "Double  Space";
	m.from_name = "Tab\tShop";
	out = build(&m, &len, NULL);
	test_ok(out && has_header(out, "To: \"Double  Space\" <ann@example.com>\r\n") &&
		    has_header(out, "From: \"Tab\tShop\" <news@shop.example>\r\n"),
		"names with a run of spaces or a tab are quoted");
	free(out);
	m = base_mail();
	m.to_name = "=?utf-8?q?not_encoded?=";
	m.subject = "=?utf-8?q?not_encoded?=";
	out = build(&m, &len, NULL);
	test_ok(out && has_header(out, "Subject: =?utf-8?q?=3D=3Futf-8=3Fq=3Fnot=5Fencoded=3F=3D?="
				       "\r\n"),
		"a subject that looks like an encoded-word is encoded");
	test_ok(out && has_header(out, "To: =?utf-8?q?=3D=3Futf-8=3Fq=3Fnot=5Fencoded=3F=3D?= "
				       "<ann@example.com>\r\n"),
		"a name that looks like an encoded-word is encoded");
	free(out);
}

static void
test_unsubscribe(void)
{
	struct mime_mail m = base_mail();
	size_t len;

	m.unsubscribe_url = "https://shop.example/u/abc_DEF-123";
	char *out = build(&m, &len, NULL);
	test_ok(out &&
		    has_header(out, "List-Unsubscribe: <https://shop.example/u/abc_DEF-123>\r\n"),
		"List-Unsubscribe with the https URL");
	test_ok(out && has_header(out, "List-Unsubscribe-Post: List-Unsubscribe=One-Click\r\n"),
		"List-Unsubscribe-Post one-click");
	free(out);
	m.unsubscribe_mailto = "unsub@shop.example";
	out = build(&m, &len, NULL);
	test_ok(out && has_header(out, "List-Unsubscribe: <https://shop.example/u/abc_DEF-123>, "
				       "<mailto:unsub@shop.example>\r\n"),
		"List-Unsubscribe with https and mailto");
	free(out);
	m.unsubscribe_mailto = "mailto:unsub@shop.example";
	out = build(&m, &len, NULL);
	test_ok(out && has_header(out, "List-Unsubscribe: <https://shop.example/u/abc_DEF-123>, "
				       "<mailto:unsub@shop.example>\r\n"),
		"mailto: prefix not doubled");
	free(out);
}

static void
test_structure(void)
{
	struct mime_mail m = base_mail();
	size_t len, longest;
	char *big = malloc(5002);

	m.html = "<p>Hello Ann</p>\n";
	char *out = build(&m, &len, NULL);
	test_ok(out && has_header(out, "Content-Type: multipart/alternative; boundary="),
		"html: multipart/alternative");
	const char *plain = out ? strstr(out, "Content-Type: text/plain; charset=utf-8") : NULL;
	const char *html = out ? strstr(out, "Content-Type: text/html; charset=utf-8") : NULL;
	test_ok(plain && html && plain < html, "text/plain first, then text/html");
	test_ok(out && lines_ok(out, len, &longest), "multipart: CRLF everywhere");
	free(out);

	memset(big, 'a', 5000);
	big[5000] = '\n';
	big[5001] = '\0';
	m = base_mail();
	m.text = big;
	out = build(&m, &len, NULL);
	test_ok(out && lines_ok(out, len, &longest), "5000-character text line: every line <= 998");
	printf("# longest line %zu\n", longest);
	test_ok(out && has_header(out, "Content-Transfer-Encoding: quoted-printable"),
		"long ASCII line: quoted-printable");
	free(out);
	m = base_mail();
	m.html = big;
	out = build(&m, &len, NULL);
	test_ok(out && lines_ok(out, len, &longest), "5000-character HTML line: every line <= 998");
	free(out);
	/* GMime's best-encoding filter measures only terminated lines: the last one must be too. */
	big[5000] = '\0';
	m = base_mail();
	m.text = big;
	m.html = big;
	out = build(&m, &len, NULL);
	test_ok(out && lines_ok(out, len, &longest),
		"5000-character last line without a line break: every line <= 998");
	free(out);
	m = base_mail();
	m.text = "no final break";
	out = build(&m, &len, NULL);
	test_ok(out && len > 16 && strcmp(out + len - 16, "no final break\r\n") == 0,
		"output ends with CRLF");
	free(out);

	/* 5000 characters of non-ASCII text without a break. */
	char *wide = malloc(5000 * 2 + 1);
	for (int i = 0; i < 5000; i++)
		memcpy(wide + 2 * i, "\xc3\xbc", 2);
	wide[10000] = '\0';
	m = base_mail();
	m.text = wide;
	m.html = wide;
	m.subject = wide;
	m.to_name = wide;
	out = build(&m, &len, NULL);
	test_ok(out && lines_ok(out, len, &longest),
		"5000 umlauts in text, html, subject, name: every line <= 998");
	free(out);
	free(wide);

	m = base_mail();
	m.text = "caf\xc3\xa9\r\nbare LF\nbare CR\rend";
	out = build(&m, &len, NULL);
	test_ok(out && lines_ok(out, len, &longest), "mixed line ends in text: CRLF out");
	test_ok(out && (has_header(out, "Content-Transfer-Encoding: quoted-printable") ||
			has_header(out, "Content-Transfer-Encoding: base64")),
		"8-bit text: encoded for a 7-bit relay");
	bool eight = false;
	for (size_t i = 0; out && i < len; i++)
		eight |= (unsigned char)out[i] >= 0x80;
	test_ok(out && !eight, "no 8-bit octet in the output");
	free(out);
	free(big);
}

static char *reference;

/* Builds the same single-part mail many times; each must equal the reference exactly. */
static void *
build_many(void *arg)
{
	struct mime_mail m = base_mail();
	int *same = arg;

	m.to_name = "M\xc3\xbcller, J\xc3\xbcrgen";
	m.subject = "Danke f\xc3\xbcr Ihren Einkauf";
	m.text = "Gr\xc3\xbc\xc3\x9f"
		 "e\n";
	m.unsubscribe_url = "https://shop.example/u/x";
	for (int i = 0; i < 300; i++) {
		char *out = build(&m, NULL, NULL);
		*same += out && strcmp(out, reference) == 0;
		free(out);
	}
	return NULL;
}

/* The store thread and `nurtured preview` build concurrently: nothing may be shared. */
static void
test_threads(void)
{
	struct mime_mail m = base_mail();
	pthread_t t[4];
	int same[4] = {0};

	m.to_name = "M\xc3\xbcller, J\xc3\xbcrgen";
	m.subject = "Danke f\xc3\xbcr Ihren Einkauf";
	m.text = "Gr\xc3\xbc\xc3\x9f"
		 "e\n";
	m.unsubscribe_url = "https://shop.example/u/x";
	reference = build(&m, NULL, NULL);
	for (int i = 0; i < 4; i++)
		pthread_create(&t[i], NULL, build_many, &same[i]);
	for (int i = 0; i < 4; i++)
		pthread_join(t[i], NULL);
	test_ok(reference && same[0] + same[1] + same[2] + same[3] == 1200,
		"4 threads x 300 builds: identical output (deterministic, nothing shared)");
	free(reference);
}

/* Message-IDs: valid msg-id syntax, unique, and in creation order (the outbox index). */
static void
test_message_ids(void)
{
	char *a = mime_message_id("shop.example", 1764590400000LL);
	char *b = mime_message_id("shop.example", 1764590400000LL);
	char *c = mime_message_id("shop.example", 1764590400001LL);
	char *late = mime_message_id("shop.example", 4102444800000LL); /* 2100 */
	size_t n = strlen(a);

	test_ok(n > 2 && a[0] == '<' && a[n - 1] == '>' && strstr(a, "@shop.example>") != NULL &&
		    strspn(a + 1, "0123456789abcdef.") == n - 1 - strlen("@shop.example>"),
		"a Message-ID is <hex.hex@domain>: %s", a);
	test_ok(strcmp(a, b) != 0, "two ids in the same millisecond differ");
	test_ok(strcmp(a, c) < 0 && strcmp(b, c) < 0, "a later id sorts after earlier ones");
	test_ok(strcmp(c, late) < 0 && strlen(late) == n, "ordered and of one length until 2100");
	free(a);
	free(b);
	free(c);
	free(late);
}

int
main(void)
{
	mime_init();
	mime_init();
	test_addresses();
	test_injection();
	test_headers();
	test_unsubscribe();
	test_structure();
	test_threads();
	test_message_ids();
	printf("1..%d\n", test_count);
	return test_failures ? 1 : 0;
}
