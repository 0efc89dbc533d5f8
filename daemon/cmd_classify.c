/* `nurtured classify FILE...`: the classifier over files, one JSON object per line. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "inbound_classify.h"
#include "jsonout.h"
#include "util.h"

static json_t *
inbound_str_or_null(const char *s)
{
	return s ? json_string(s) : json_null();
}

json_t *
inbound_class_json(const struct inbound_class *c, const char *file)
{
	json_t *o = json_object(), *rcpts = json_array();

	if (file != NULL)
		json_object_set_new(o, "file", json_string(file));
	json_object_set_new(o, "kind", json_string(inbound_kind_name(c->kind)));
	for (size_t i = 0; i < c->nrcpts; i++) {
		const struct inbound_rcpt *r = &c->rcpts[i];
		json_array_append_new(rcpts,
				      json_pack("{s:o, s:o, s:o, s:b, s:o}", "address",
						inbound_str_or_null(r->address), "status",
						inbound_str_or_null(r->status), "action",
						inbound_str_or_null(r->action), "hard", r->hard,
						"diagnostic", inbound_str_or_null(r->diagnostic)));
	}
	json_object_set_new(o, "recipients", rcpts);
	if (c->truncated)
		json_object_set_new(o, "truncated", json_true());
	json_object_set_new(o, "message_id", inbound_str_or_null(c->orig_message_id));
	json_object_set_new(o, "feedback_type", inbound_str_or_null(c->feedback_type));
	if (c->kind == INBOUND_REPLY) {
		json_object_set_new(o, "text", inbound_str_or_null(c->text));
		json_object_set_new(o, "number",
				    c->has_number ? jsonout_number(c->number) : json_null());
	}
	return o;
}

/* The whole of FILE (malloc'd) into *OUT, *LEN; -1 with errno. */
static int
inbound_read_file(const char *file, char **out, size_t *len)
{
	FILE *f = fopen(file, "rb");
	size_t cap = 65536, n = 0, r;
	char *buf;

	if (f == NULL)
		return -1;
	buf = xmalloc(cap + 1);
	while ((r = fread(buf + n, 1, cap - n, f)) > 0) {
		n += r;
		if (n == cap) {
			if (cap > INBOUND_MAX_BYTES)
				break; /* the classifier refuses it anyway */
			cap *= 2;
			buf = xrealloc(buf, cap + 1);
		}
	}
	int bad = ferror(f);
	fclose(f);
	if (bad) {
		free(buf);
		errno = EIO;
		return -1;
	}
	buf[n] = '\0';
	*out = buf;
	*len = n;
	return 0;
}

int
inbound_classify_main(int argc, char **argv)
{
	int status = 0;

	if (argc < 2 || strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0) {
		fprintf(argc < 2 ? stderr : stdout, "usage: nurtured classify FILE...\n");
		return argc < 2 ? 2 : 0;
	}
	for (int i = 1; i < argc; i++) {
		char *data;
		size_t len;
		struct inbound_class c;
		const char *err = NULL;
		json_t *o;

		if (inbound_read_file(argv[i], &data, &len) != 0) {
			fprintf(stderr, "nurtured classify: %s: %s\n", argv[i], strerror(errno));
			status = 1;
			continue;
		}
		if (inbound_classify(data, len, &c, &err) != 0) {
			o = json_pack("{s:s, s:s}", "file", argv[i], "error", err);
		} else {
			o = inbound_class_json(&c, argv[i]);
			inbound_class_free(&c);
		}
		free(data);
		char *s = json_dumps(o, JSON_COMPACT | JSON_ENSURE_ASCII);
		json_decref(o);
		if (s != NULL) {
			puts(s);
			free(s);
		}
	}
	return status;
}
