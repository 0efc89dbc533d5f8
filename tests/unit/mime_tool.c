/*
 * mime_tool: front end to mime_build for tests that check its output with other parsers.
 * Reads one JSON object of struct mime_mail fields on stdin (strings, date_ms a number, absent
 * or null for NULL) and writes the message to stdout; a refused message prints the error on
 * stderr and exits 1; unreadable input exits 2.
 */
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>

#include "mime.h"

/* A string member, or NULL when absent or null. */
static const char *
mime_tool_str(json_t *o, const char *key)
{
	return json_string_value(json_object_get(o, key));
}

int
main(void)
{
	json_error_t jerr;
	json_t *o = json_loadf(stdin, JSON_REJECT_DUPLICATES, &jerr);
	char *out = NULL, *err = NULL;
	size_t len = 0;

	if (!json_is_object(o)) {
		fprintf(stderr, "mime_tool: bad input: %s\n", o ? "not an object" : jerr.text);
		return 2;
	}
	struct mime_mail m = {
	    .from_name = mime_tool_str(o, "from_name"),
	    .from_addr = mime_tool_str(o, "from_addr"),
	    .to_name = mime_tool_str(o, "to_name"),
	    .to_addr = mime_tool_str(o, "to_addr"),
	    .subject = mime_tool_str(o, "subject"),
	    .text = mime_tool_str(o, "text"),
	    .html = mime_tool_str(o, "html"),
	    .message_id = mime_tool_str(o, "message_id"),
	    .date_ms = json_integer_value(json_object_get(o, "date_ms")),
	    .unsubscribe_url = mime_tool_str(o, "unsubscribe_url"),
	    .unsubscribe_mailto = mime_tool_str(o, "unsubscribe_mailto"),
	};
	mime_init();
	int rc = mime_build(&m, &out, &len, &err);
	if (rc < 0) {
		fprintf(stderr, "%s\n", err);
		free(err);
	} else {
		fwrite(out, 1, len, stdout);
		free(out);
	}
	json_decref(o);
	return rc < 0 ? 1 : 0;
}
