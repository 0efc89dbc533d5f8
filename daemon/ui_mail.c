/*
 * Issue 22: a mail as its recipient sees it, for the dashboard: its headers in order, its
 * HTML part and its text part, decoded by GMime (the same library that built it).
 */
#include <gmime/gmime.h>
#include <stdlib.h>
#include <string.h>

#include "ui_int.h"
#include "util.h"

/* The first leaf of MIME type TYPE/SUBTYPE that is not an attachment, as UTF-8 (malloc'd). */
static char *
ui_mail_part(GMimeObject *root, const char *subtype)
{
	GMimePartIter *it;
	char *out = NULL;

	if (GMIME_IS_TEXT_PART(root)) {
		GMimeContentType *ct = g_mime_object_get_content_type(root);
		if (g_mime_content_type_is_type(ct, "text", subtype)) {
			char *t = g_mime_text_part_get_text(GMIME_TEXT_PART(root));
			out = t ? xstrdup(t) : NULL;
			g_free(t);
		}
		return out;
	}
	if (!GMIME_IS_MULTIPART(root))
		return NULL;
	it = g_mime_part_iter_new(root);
	do {
		GMimeObject *o = g_mime_part_iter_get_current(it);
		if (o == NULL || !GMIME_IS_TEXT_PART(o))
			continue;
		if (GMIME_IS_PART(o) && g_mime_part_is_attachment(GMIME_PART(o)))
			continue;
		GMimeContentType *ct = g_mime_object_get_content_type(o);
		if (g_mime_content_type_is_type(ct, "text", subtype)) {
			char *t = g_mime_text_part_get_text(GMIME_TEXT_PART(o));
			out = t ? xstrdup(t) : NULL;
			g_free(t);
		}
	} while (out == NULL && g_mime_part_iter_next(it));
	g_mime_part_iter_free(it);
	return out;
}

int
ui_mail_parse(const char *raw, size_t len, struct ui_mail *out)
{
	GMimeStream *s = g_mime_stream_mem_new_with_buffer(raw, len);
	GMimeParser *p = g_mime_parser_new_with_stream(s);
	GMimeMessage *m;

	memset(out, 0, sizeof(*out));
	g_mime_parser_set_format(p, GMIME_FORMAT_MESSAGE);
	m = g_mime_parser_construct_message(p, NULL);
	g_object_unref(p);
	g_object_unref(s);
	if (m == NULL)
		return -1;
	out->headers = json_array();
	GMimeHeaderList *hl = g_mime_object_get_header_list(GMIME_OBJECT(m));
	int count = g_mime_header_list_get_count(hl);
	for (int i = 0; i < count; i++) {
		GMimeHeader *h = g_mime_header_list_get_header_at(hl, i);
		const char *v = g_mime_header_get_value(h);
		char *dec = g_mime_utils_header_decode_text(NULL, v ? v : "");
		json_array_append_new(out->headers,
				      json_pack("{s:s,s:s}", "name", g_mime_header_get_name(h),
						"value", dec ? dec : ""));
		g_free(dec);
	}
	GMimeObject *body = g_mime_message_get_mime_part(m);
	if (body != NULL) {
		out->html = ui_mail_part(body, "html");
		out->text = ui_mail_part(body, "plain");
	}
	g_object_unref(m);
	return 0;
}

void
ui_mail_clear(struct ui_mail *m)
{
	json_decref(m->headers);
	free(m->html);
	free(m->text);
	memset(m, 0, sizeof(*m));
}
