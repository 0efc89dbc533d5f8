/*
 * libFuzzer target: the MIME builder (daemon/mime.c). The input is the fields of a struct
 * mime_mail, NUL-separated in declaration order, then 8 bytes of date; missing fields take valid
 * defaults and empty optional fields are NULL, so that most inputs reach GMime. A message that
 * builds must keep the promises of mime.h, else abort(): CRLF line ends only, no line over 998
 * octets, and a top-level header section holding only the headers mime_build writes, each once.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "mime.h"

#define FUZZ_FIELDS 10

static const char *const fuzz_defaults[FUZZ_FIELDS] = {
    "Shop",
    "news@example.com",
    "Ada",
    "ada@example.org",
    "Hello",
    "Hi Ada,\r\nthanks.",
    NULL,
    "<m1@example.com>",
    "https://example.com/u/t",
    NULL,
};
/* Fields that may be NULL: from_name, to_name, html, unsubscribe_url, unsubscribe_mailto. */
static const int fuzz_optional[FUZZ_FIELDS] = {1, 0, 1, 0, 0, 0, 1, 0, 1, 1};

/* The headers mime_build writes at the top level; anything else came from data. */
static const char *const fuzz_headers[] = {
    "From",
    "To",
    "Subject",
    "Date",
    "Message-Id",
    "MIME-Version",
    "Content-Type",
    "Content-Transfer-Encoding",
    "List-Unsubscribe",
    "List-Unsubscribe-Post",
};
#define FUZZ_NHEADERS (sizeof(fuzz_headers) / sizeof(fuzz_headers[0]))

static void
fuzz_fail(const char *why, const char *msg, size_t len)
{
	fprintf(stderr, "mime invariant violated: %s\n--- message (%zu bytes) ---\n%.*s\n---\n",
		why, len, (int)(len > 4000 ? 4000 : len), msg);
	abort();
}

/* Checks line ends, line lengths and the header section of a built message. */
static void
fuzz_check(const char *msg, size_t len)
{
	int seen[FUZZ_NHEADERS] = {0};
	int in_headers = 1;
	size_t line = 0;

	if (strlen(msg) != len)
		fuzz_fail("NUL inside the message", msg, len);
	for (size_t i = 0; i < len; i = line) {
		const char *lf = memchr(msg + i, '\n', len - i);
		size_t end = lf ? (size_t)(lf - msg) : len; /* the LF, or the end */
		size_t n;

		if (lf != NULL && (end == i || msg[end - 1] != '\r'))
			fuzz_fail("bare LF", msg, len);
		n = lf ? end - 1 - i : end - i; /* octets before CRLF */
		if (memchr(msg + i, '\r', n) != NULL)
			fuzz_fail("bare CR", msg, len);
		if (n > 998)
			fuzz_fail("line over 998 octets", msg, len);
		line = lf ? end + 1 : len;
		if (!in_headers)
			continue;
		if (n == 0) {
			in_headers = 0;
			continue;
		}
		if (msg[i] == ' ' || msg[i] == '\t')
			continue; /* folded continuation */
		const char *colon = memchr(msg + i, ':', n);
		size_t k;
		if (colon == NULL)
			fuzz_fail("header line without a colon", msg, len);
		for (k = 0; k < FUZZ_NHEADERS; k++)
			if (strlen(fuzz_headers[k]) == (size_t)(colon - (msg + i)) &&
			    strncasecmp(fuzz_headers[k], msg + i, colon - (msg + i)) == 0)
				break;
		if (k == FUZZ_NHEADERS)
			fuzz_fail("a header mime_build does not write", msg, len);
		if (seen[k]++)
			fuzz_fail("a header twice", msg, len);
	}
	if (in_headers)
		fuzz_fail("no end of the header section", msg, len);
}

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	mime_init();
	return 0;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *copy = malloc(size + 1);
	const char *f[FUZZ_FIELDS];
	size_t at = 0;
	int64_t date = 1700000000000;
	char *out = NULL, *err = NULL;
	size_t len = 0;

	memcpy(copy, data, size);
	copy[size] = '\0';
	for (int i = 0; i < FUZZ_FIELDS; i++) {
		if (at >= size) {
			f[i] = fuzz_defaults[i];
			continue;
		}
		f[i] = copy + at;
		at += strlen(copy + at) + 1;
		if (f[i][0] == '\0' && fuzz_optional[i])
			f[i] = NULL;
	}
	if (at + 8 <= size) {
		memcpy(&date, copy + at, 8);
		date %= 8000000000000000; /* up to year ~255000: both sides of the range check */
	}
	struct mime_mail m = {
	    .from_name = f[0],
	    .from_addr = f[1],
	    .to_name = f[2],
	    .to_addr = f[3],
	    .subject = f[4],
	    .text = f[5],
	    .html = f[6],
	    .message_id = f[7],
	    .date_ms = date,
	    .unsubscribe_url = f[8],
	    .unsubscribe_mailto = f[9],
	};
	if (mime_build(&m, &out, &len, &err) == 0)
		fuzz_check(out, len);
	free(out);
	free(err);
	free(copy);
	return 0;
}
