/* Signed link tokens: what one secret signs, nothing else passes. */
#include <stdlib.h>
#include <string.h>

#include "tap.h"
#include "token.h"

static const char *secret = "0123456789abcdef0123456789abcdef";

static int
parses(const char *text, char kind)
{
	struct token t;
	int ok = token_parse(secret, text, kind, &t) == 0;
	token_clear(&t);
	return ok;
}

int
main(void)
{
	struct token t;
	char *tok = token_make(secret, 'u', "anna/ö \"x\"", "follow-ups", 1796124432);
	char *url;

	test_ok(strspn(tok, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_.") ==
		    strlen(tok),
		"token is URL-safe: %s", tok);
	test_ok(token_parse(secret, tok, 'u', &t) == 0, "round trip parses");
	test_ok(t.kind == 'u' && strcmp(t.customer, "anna/ö \"x\"") == 0 &&
		    strcmp(t.topic, "follow-ups") == 0 && t.issued_s == 1796124432,
		"round trip keeps every field");
	token_clear(&t);
	test_ok(!parses(tok, 'c'), "an unsubscribe token is no confirmation");
	test_ok(token_parse("another-secret-of-32-characters!", tok, 'u', &t) < 0,
		"another secret's signature fails");
	token_clear(&t);

	/* Every single-character change anywhere is refused. */
	size_t n = strlen(tok);
	int refused = 0;
	for (size_t i = 0; i < n; i++) {
		char *x = strdup(tok);
		x[i] = x[i] == 'A' ? 'B' : 'A';
		refused += !parses(x, 'u');
		free(x);
	}
	test_ok(refused == (int)n, "all %zu one-character alterations refused (%d)", n, refused);
	for (size_t cut = 0; cut < n; cut += 7) {
		char *x = strndup(tok, cut);
		refused = parses(x, 'u');
		free(x);
		if (refused)
			break;
	}
	test_ok(!refused, "no truncation parses");
	test_ok(!parses("", 'u') && !parses(".", 'u') && !parses("abc", 'u') && !parses(NULL, 'u'),
		"junk refused");
	char *longer = malloc(5000);
	memset(longer, 'A', 4999);
	longer[4999] = '\0';
	longer[100] = '.';
	test_ok(!parses(longer, 'u'), "an overlong token refused");
	free(longer);

	url = token_url("https://mail.example.com/", secret, 'c', "bob", "newsletter", 1);
	test_ok(strncmp(url, "https://mail.example.com/confirm/", 33) == 0 && parses(url + 33, 'c'),
		"confirm URL under public_url: %s", url);
	free(url);
	free(tok);
	printf("1..%d\n", test_count);
	return test_failures ? 1 : 0;
}
