/*
 * links_tool: front end to links_rewrite_html for tests that check its output with other
 * parsers. Reads an HTML document on stdin and writes {"html": ..., "links": [...]} on stdout,
 * with public_url "https://t.example", secret "s" and message "<m@t.example>".
 */
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>

#include "links.h"

int
main(void)
{
	size_t cap = 1 << 16, len = 0, n;
	char *buf = malloc(cap);
	struct links_opts o = {.public_url = "https://t.example",
			       .secret = "s",
			       .message_id = "<m@t.example>",
			       .issued_s = 1700000000};

	while ((n = fread(buf + len, 1, cap - len - 1, stdin)) > 0) {
		len += n;
		if (cap - len < 2)
			buf = realloc(buf, cap *= 2);
	}
	buf[len] = '\0';
	json_t *links = json_array();
	char *html = links_rewrite_html(buf, &o, links);
	json_t *out = json_pack("{s:s,s:o}", "html", html, "links", links);
	json_dumpf(out, stdout, JSON_COMPACT);
	json_decref(out);
	free(html);
	free(buf);
	return 0;
}
