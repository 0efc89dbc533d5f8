/*
 * `nurtured render TEMPLATE_FILE DATA.json`: renders one Mustache file as the daemon would,
 * partials read on demand from the file's own directory, so an author can try a template
 * without a campaign, a customer or a running daemon.
 */
#include "cmd_render.h"

#include <getopt.h>
#include <glib.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mustache.h"
#include "template.h"
#include "util.h"

struct render_dir {
	const char *dir;
};

static int
render_ends_with(const char *s, const char *suffix)
{
	size_t n = strlen(s), m = strlen(suffix);
	return n >= m && strcmp(s + n - m, suffix) == 0;
}

/* The partial loader: DIR/NAME.mustache, or NULL (an unknown partial) when it cannot be read. */
static char *
render_partial(const char *name, void *arg)
{
	const struct render_dir *rd = arg;
	gchar *text = NULL, *path;
	char *out = NULL;

	if (name[0] == '\0' || name[0] == '.' || strchr(name, '/') != NULL)
		return NULL;
	path = g_strdup_printf("%s/%s.mustache", rd->dir, name);
	if (g_file_get_contents(path, &text, NULL, NULL))
		out = xstrdup(text);
	g_free(text);
	g_free(path);
	return out;
}

static void
render_usage(FILE *f)
{
	fprintf(f, "usage: nurtured render TEMPLATE_FILE DATA.json [--escape html|none]\n");
}

int
render_main(int argc, char **argv)
{
	static const struct option longopts[] = {{"escape", required_argument, NULL, 'e'},
						 {"help", no_argument, NULL, 'h'},
						 {NULL, 0, NULL, 0}};
	const char *escape = NULL, *file, *data_file;
	struct mustache_error err = {0};
	struct mustache_tmpl *t = NULL;
	json_t *data = NULL;
	json_error_t jerr;
	gchar *text = NULL, *dir = NULL;
	GError *ge = NULL;
	char *out = NULL;
	int ch, rc = 1;
	enum mustache_escape esc;

	optind = 1;
	while ((ch = getopt_long(argc, argv, "h", longopts, NULL)) != -1) {
		switch (ch) {
		case 'e':
			escape = optarg;
			break;
		case 'h':
			render_usage(stdout);
			return 0;
		default:
			render_usage(stderr);
			return 2;
		}
	}
	if (argc - optind != 2 ||
	    (escape && strcmp(escape, "html") != 0 && strcmp(escape, "none") != 0)) {
		render_usage(stderr);
		return 2;
	}
	file = argv[optind];
	data_file = argv[optind + 1];
	if (escape != NULL)
		esc = strcmp(escape, "html") == 0 ? MUSTACHE_ESCAPE_HTML : MUSTACHE_ESCAPE_NONE;
	else
		esc = render_ends_with(file, ".html.mustache") || render_ends_with(file, ".html")
			  ? MUSTACHE_ESCAPE_HTML
			  : MUSTACHE_ESCAPE_NONE;

	if (!g_file_get_contents(file, &text, NULL, &ge)) {
		fprintf(stderr, "%s: %s\n", file, ge->message);
		g_error_free(ge);
		goto out;
	}
	data = json_load_file(data_file, JSON_DECODE_ANY | JSON_REJECT_DUPLICATES, &jerr);
	if (data == NULL) {
		fprintf(stderr, "%s:%d:%d: %s\n", data_file, jerr.line, jerr.column, jerr.text);
		goto out;
	}
	dir = g_path_get_dirname(file);
	struct render_dir rd = {dir};
	if ((t = mustache_parse(text, &err)) != NULL)
		out = mustache_render_flags(t, data, esc, MUSTACHE_STRICT_PARTIALS, render_partial,
					    &rd, &err);
	if (out == NULL) {
		char *where =
		    err.file[0] ? xasprintf("%s/%s.mustache", dir, err.file) : xstrdup(file);
		if (err.line > 0)
			fprintf(stderr, "%s:%d:%d: %s\n", where, err.line, err.col, err.message);
		else
			fprintf(stderr, "%s: %s\n", where, err.message);
		free(where);
		goto out;
	}
	/* A subject is one line in the mail: show it as it will be sent. */
	if (render_ends_with(file, ".subject.mustache")) {
		template_subject_line(out);
		puts(out);
	} else
		fputs(out, stdout);
	rc = fflush(stdout) == 0 ? 0 : 1;
out:
	free(out);
	mustache_free(t);
	json_decref(data);
	g_free(text);
	g_free(dir);
	return rc;
}
