/*
 * libFuzzer target: the inbound classifier (daemon/inbound_classify.c, inbound_bounce.c,
 * inbound_reply.c). The input is a raw message. A classification must keep the promises of
 * inbound_classify.h, else abort(): a known kind, at most INBOUND_MAX_RCPTS recipients, an
 * action on every recipient of a bounce or delay, a number only on replies, and JSON that
 * jansson can build and dump (valid UTF-8 everywhere).
 */
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "inbound_classify.h"
#include "mime.h"

static void
fuzz_fail(const char *why)
{
	fprintf(stderr, "classifier invariant violated: %s\n", why);
	abort();
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
	struct inbound_class c;
	const char *err = NULL;

	if (inbound_classify((const char *)data, size, &c, &err) != 0) {
		if (err == NULL)
			fuzz_fail("refused without a reason");
		return 0;
	}
	if (inbound_kind_parse(inbound_kind_name(c.kind)) != (int)c.kind)
		fuzz_fail("unknown kind");
	if (c.nrcpts > INBOUND_MAX_RCPTS)
		fuzz_fail("too many recipients");
	for (size_t i = 0; i < c.nrcpts; i++)
		if ((c.kind == INBOUND_BOUNCE || c.kind == INBOUND_DELAY) &&
		    c.rcpts[i].action == NULL)
			fuzz_fail("a bounce recipient without an action");
	if (c.has_number && c.kind != INBOUND_REPLY)
		fuzz_fail("a number outside a reply");
	json_t *o = inbound_class_json(&c, "fuzz");
	char *s = json_dumps(o, JSON_COMPACT);
	if (o == NULL || s == NULL || json_object_get(o, "kind") == NULL ||
	    json_array_size(json_object_get(o, "recipients")) != c.nrcpts)
		fuzz_fail("no JSON");
	free(s);
	json_decref(o);
	inbound_class_free(&c);
	return 0;
}
