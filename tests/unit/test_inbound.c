/*
 * The inbound classifier: every message of the corpus in tests/inbound/ against the
 * expectations kept beside it (expected.json), then the edges (not a mail, too large, a DSN
 * naming 10,000 recipients), the hard/soft rules and the reply's leading number.
 */
#include <glib.h>
#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "inbound_classify.h"
#include "jsonout.h"
#include "tap.h"
#include "verp.h"
#include "util.h"

static char *
read_file(const char *path, size_t *len)
{
	FILE *f = fopen(path, "rb");
	char *buf;
	long n;

	if (f == NULL)
		return NULL;
	fseek(f, 0, SEEK_END);
	n = ftell(f);
	fseek(f, 0, SEEK_SET);
	buf = xmalloc(n + 1);
	*len = fread(buf, 1, n, f);
	buf[*len] = '\0';
	fclose(f);
	return buf;
}

/* Whether the classification's JSON GOT has every field of WANT with the same value. */
static int
matches(json_t *got, json_t *want, const char *name)
{
	const char *key;
	json_t *v;
	int ok = 1;

	json_object_foreach(want, key, v)
	{
		if (strcmp(key, "format") == 0)
			continue;
		if (strcmp(key, "recipients") == 0) {
			json_t *gr = json_object_get(got, "recipients");
			if (json_array_size(gr) != json_array_size(v)) {
				printf("# %s: %zu recipients, want %zu\n", name,
				       json_array_size(gr), json_array_size(v));
				ok = 0;
				continue;
			}
			for (size_t i = 0; i < json_array_size(v); i++) {
				const char *k2;
				json_t *v2;
				json_object_foreach(json_array_get(v, i), k2, v2)
				{
					json_t *g2 = json_object_get(json_array_get(gr, i), k2);
					if (!json_equal(g2, v2)) {
						char *a = json_dumps(g2, JSON_ENCODE_ANY);
						printf("# %s: recipient %zu %s is %s\n", name, i,
						       k2, a ? a : "(none)");
						free(a);
						ok = 0;
					}
				}
			}
			continue;
		}
		json_t *g = json_object_get(got, key);
		if (!json_equal(g, v)) {
			char *a = json_dumps(g, JSON_ENCODE_ANY),
			     *b = json_dumps(v, JSON_ENCODE_ANY);
			printf("# %s: %s is %s, want %s\n", name, key, a ? a : "(none)", b);
			free(a);
			free(b);
			ok = 0;
		}
	}
	return ok;
}

static void
test_corpus(const char *dir)
{
	char *path = xasprintf("%s/expected.json", dir);
	json_error_t jerr;
	json_t *manifest = json_load_file(path, 0, &jerr), *msgs;
	const char *name;
	json_t *want;
	int total = 0, agreed = 0;
	json_t *formats = json_object();

	free(path);
	if (!test_ok(manifest != NULL, "expected.json loads: %s", manifest ? "" : jerr.text))
		return;
	msgs = json_object_get(manifest, "messages");
	json_object_foreach(msgs, name, want)
	{
		size_t len = 0;
		char *file = xasprintf("%s/%s", dir, name);
		char *data = read_file(file, &len);
		struct inbound_class c;
		const char *err = NULL;
		int ok = 0;

		if (data != NULL && inbound_classify(data, len, &c, &err) == 0) {
			json_t *got = inbound_class_json(&c, NULL);
			ok = matches(got, want, name);
			json_decref(got);
			inbound_class_free(&c);
		} else {
			printf("# %s: %s\n", name, data ? err : "cannot read");
		}
		total++;
		agreed += ok;
		json_object_set_new(formats, json_string_value(json_object_get(want, "format")),
				    json_true());
		test_ok(ok, "%s (%s): %s", name, json_string_value(json_object_get(want, "format")),
			json_string_value(json_object_get(want, "kind")));
		free(data);
		free(file);
	}
	printf("# corpus: %zu formats, %d messages, %d classified as expected\n",
	       json_object_size(formats), total, agreed);
	test_ok(total >= 30, "the corpus has %d messages", total);
	json_decref(formats);
	json_decref(manifest);
}

static void
test_edges(void)
{
	struct inbound_class c;
	const char *err = NULL;
	static const char garbage[] = "\x7f\x45\x4c\x46\x02\x01\x01\x00\x00\x00binary";
	static const char nomail[] = "just some words\nwithout any header\n";

	test_ok(inbound_classify(garbage, sizeof(garbage) - 1, &c, &err) < 0 && err != NULL,
		"binary garbage is not a mail: %s", err ? err : "");
	err = NULL;
	test_ok(inbound_classify(nomail, strlen(nomail), &c, &err) < 0,
		"text without a header section is not a mail: %s", err ? err : "");
	err = NULL;
	test_ok(inbound_classify("", 0, &c, &err) < 0, "empty input is not a mail");

	/* Over the limit: refused before parsing. */
	size_t big = INBOUND_MAX_BYTES + 1;
	char *huge = xmalloc(big);
	memset(huge, 'a', big);
	memcpy(huge, "From: a@b.example\n\n", 19);
	err = NULL;
	test_ok(inbound_classify(huge, big, &c, &err) < 0 && strstr(err, "too large") != NULL,
		"a message over %u bytes is refused", INBOUND_MAX_BYTES);
	free(huge);

	/* A DSN naming 10,000 recipients: cut at the limit, marked truncated. */
	GString *s =
	    g_string_new("From: MAILER-DAEMON@mx.example\nTo: bounces@shop.example\n"
			 "Subject: Undelivered Mail Returned to Sender\nMIME-Version: 1.0\n"
			 "Content-Type: multipart/report; report-type=delivery-status; "
			 "boundary=\"b\"\n\n--b\nContent-Type: text/plain\n\nx\n--b\n"
			 "Content-Type: message/delivery-status\n\nReporting-MTA: dns; mx\n");
	for (int i = 0; i < 10000; i++)
		g_string_append_printf(
		    s,
		    "\nFinal-Recipient: rfc822; u%d@example.org\nAction: failed\n"
		    "Status: 5.1.1\n",
		    i);
	g_string_append(s, "\n--b--\n");
	test_ok(inbound_classify(s->str, s->len, &c, &err) == 0 && c.kind == INBOUND_BOUNCE &&
		    c.nrcpts == INBOUND_MAX_RCPTS && c.truncated,
		"a DSN naming 10,000 recipients keeps %d and says truncated", INBOUND_MAX_RCPTS);
	inbound_class_free(&c);
	g_string_free(s, TRUE);

	/* Malformed MIME: a multipart without its boundary still classifies. */
	static const char broken[] =
	    "From: x@y.example\nSubject: Re: hi\nIn-Reply-To: <a@b>\n"
	    "Content-Type: multipart/mixed; boundary=\"nope\"\n\n5 stars\n";
	test_ok(inbound_classify(broken, strlen(broken), &c, &err) == 0 && c.kind == INBOUND_REPLY,
		"malformed multipart still reads as %s", inbound_kind_name(c.kind));
	inbound_class_free(&c);
}

static void
test_hard(void)
{
	static const struct {
		const char *status, *diag;
		int hard;
	} cases[] = {
	    {"5.1.1", NULL, 1},
	    {"5.1.2", NULL, 1},
	    {"5.1.6", NULL, 1},
	    {"5.1.10", NULL, 1},
	    {"5.2.1", "The email account that you tried to reach is disabled", 1},
	    {"5.2.2", "Mailbox full", 0},
	    {"5.1.1", "user's mailbox is over quota", 0},
	    {"4.1.1", "User unknown", 0},
	    {"5.7.1", "Message rejected as spam", 0},
	    {"5.7.1", "Recipient address rejected: user does not exist", 1},
	    {"5.0.0", "User unknown in local recipient table", 1},
	    {"5.0.0", NULL, 0},
	    {"5.4.4", "Host or domain name not found", 1},
	    {"5.4.7", "delivery time expired", 0},
	    {"5.4.1", "Connection timed out", 0},
	    {NULL, "rate limit exceeded", 0},
	    {"5.3.0", "Too many recipients", 0},
	};
	for (size_t i = 0; i < NT_ARRAY_LEN(cases); i++)
		test_ok(inbound_is_hard(cases[i].status, cases[i].diag) == cases[i].hard,
			"%s \"%s\" is %s", cases[i].status ? cases[i].status : "(none)",
			cases[i].diag ? cases[i].diag : "", cases[i].hard ? "hard" : "soft");
}

static void
test_number(void)
{
	static const struct {
		const char *text;
		int has;
		double v;
	} cases[] = {
	    {"2 – leider kaputt", 1, 2},
	    {"5", 1, 5},
	    {" 4, good", 1, 4},
	    {"2,5 von 5", 1, 2.5},
	    {"10/10", 1, 10},
	    {"leider 2", 0, 0},
	    {"2026-01-05 war das Paket da", 0, 0},
	    {"10:00 passt", 0, 0},
	    {"3rd time lucky", 0, 0},
	    {"", 0, 0},
	};
	for (size_t i = 0; i < NT_ARRAY_LEN(cases); i++) {
		double v = -1;
		int has = inbound_leading_number(cases[i].text, &v);
		test_ok(has == cases[i].has && (!has || fabs(v - cases[i].v) < 1e-9), "\"%s\": %s",
			cases[i].text, has ? "a number" : "no number");
	}
	/* The number as JSON: whole numbers as integers, the rest (and any beyond +-1e15, where a
	 * cast to an integer would be undefined) as reals. */
	static const struct {
		double v;
		int integer;
	} nums[] = {{2, 1}, {2.5, 0}, {-7, 1}, {1.11111e19, 0}, {-1e300, 0}, {999999999999999, 1}};
	for (size_t i = 0; i < NT_ARRAY_LEN(nums); i++) {
		json_t *j = jsonout_number(nums[i].v);
		test_ok(j != NULL && json_is_integer(j) == nums[i].integer &&
			    json_number_value(j) == nums[i].v,
			"%g as JSON is %s", nums[i].v, nums[i].integer ? "an integer" : "a real");
		json_decref(j);
	}
	char *t = inbound_reply_text("Danke!\r\n\r\n-- \r\nMax\r\n");
	test_ok(strcmp(t, "Danke!") == 0, "signature after \"-- \" is cut: \"%s\"", t);
	free(t);
	t = inbound_reply_text("> quoted\n> more\n\nmy answer below\n");
	test_ok(strcmp(t, "my answer below") == 0, "quoted lines above are skipped: \"%s\"", t);
	free(t);
}

static void
test_verp(void)
{
	const char *secret = "0123456789abcdef0123456789abcdef";
	enum verp_kind k;
	int64_t id = 0;
	char *a = verp_address(secret, "bounces@shop.example", VERP_BOUNCE, 123456789);

	test_ok(strncmp(a, "bounces+b", 9) == 0 && strlen(a) < 48 &&
		    strcmp(a + strlen(a) - 13, "@shop.example") == 0,
		"VERP address is short: %s", a);
	test_ok(verp_parse(secret, "bounces@shop.example", a, &k, &id) == 1 && k == VERP_BOUNCE &&
		    id == 123456789,
		"VERP round trip names the message");
	char *up = g_ascii_strup(a, -1);
	test_ok(verp_parse(secret, "bounces@shop.example", up, &k, &id) == 1 && id == 123456789,
		"an MTA that uppercases the address changes nothing");
	g_free(up);
	test_ok(verp_parse("another-secret-of-32-characters!", "bounces@shop.example", a, &k,
			   &id) == -1,
		"another secret's token is forged");
	int refused = 0, n = 0;
	for (char *p = strchr(a, '+') + 1; *p != '@'; p++, n++) {
		char saved = *p;
		*p = *p == 'a' ? 'b' : 'a';
		refused += verp_parse(secret, "bounces@shop.example", a, &k, &id) == -1;
		*p = saved;
	}
	test_ok(refused == n, "every altered token character is refused (%d of %d)", refused, n);
	test_ok(
	    verp_parse(secret, "bounces@shop.example", "bounces@shop.example", &k, &id) == 0 &&
		verp_parse(secret, "bounces@shop.example", "anna@example.org", &k, &id) == 0 &&
		verp_parse(secret, "bounces@shop.example", "bounces+x@other.example", &k, &id) == 0,
	    "the base itself and other addresses carry no token");
	test_ok(verp_parse(secret, "bounces@shop.example", "bounces+b1-aaaaaaaaaaaa@shop.example",
			   &k, &id) == -1,
		"a made-up token is forged");
	free(a);
}

int
main(void)
{
	const char *src = getenv("NT_SRCDIR");
	char *dir = xasprintf("%s/tests/inbound", src ? src : ".");

	test_corpus(dir);
	test_edges();
	test_hard();
	test_number();
	test_verp();
	free(dir);
	printf("1..%d\n", test_count);
	return test_failures ? 1 : 0;
}
