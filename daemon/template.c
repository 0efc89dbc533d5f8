/*
 * Message templates from one flat directory (docs/templates.md): NAME[.LOCALE].PART.mustache
 * variants and NAME.mustache partials, all read and parsed at load so that rendering, which runs
 * on the store thread for every message, never touches the disk.
 */
#include "template.h"

#include <dirent.h>
#include <errno.h>
#include <glib.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "campaign.h"
#include "jsonpos.h"
#include "util.h"

#define TEMPLATE_MAX_FILE_BYTES (1u << 20)
#define TEMPLATE_SUFFIX ".mustache"
#define TEMPLATE_LOCALE_MAX 32

enum tpart { PART_SUBJECT, PART_TEXT, PART_HTML, PART_N };
static const char *const template_part_names[PART_N] = {"subject", "text", "html"};

struct template_file {
	char *path;	   /* DIR/FNAME; NULL when the variant has no such part */
	const char *fname; /* inside path */
	char *text;	   /* until parsed */
	struct mustache_tmpl *t;
};

struct template
{
	char *name;
	char *locale; /* as written in the file name, cased "de-DE"; "" for none */
	struct template_file part[PART_N];
	int broken;
	const struct template_set *set;
};

struct partial {
	char *name, *path, *text;
	struct mustache_tmpl *t; /* parsed once at load; NULL when it does not parse */
	int broken;
};

struct template_set {
	char *dir;
	struct template **v;
	size_t n;
	struct partial **p;
	size_t np;
	GHashTable *variants; /* "name/locale" (locale lower case) -> template, good ones only */
	GHashTable *partials; /* name -> partial */
	GHashTable *names;    /* names with at least one good variant */
	GHashTable *broken;   /* names with a variant that failed to load */
};

/* Messages go out under the template file's own name, not the configuration's. */
static void __attribute__((format(printf, 6, 7)))
template_diag(struct diag *d, size_t since, const char *file, int line, int col, const char *fmt,
	      ...)
{
	const char *saved = d->file;
	va_list ap;
	char *body, *full;

	va_start(ap, fmt);
	if (vasprintf(&body, fmt, ap) < 0)
		body = NULL;
	va_end(ap);
	/* A broken partial is met again through every template that uses it: say it once. */
	full = line > 0 ? xasprintf("%s:%d:%d: %s", file, line, col, body ? body : "?")
			: xasprintf("%s: %s", file, body ? body : "?");
	for (size_t i = since; i < d->n; i++)
		if (strcmp(d->msgs[i], full) == 0)
			goto out;
	d->file = file;
	if (line > 0)
		diag_add_at(d, line, col, "%s", body ? body : "?");
	else
		diag_add(d, NULL, "%s", body ? body : "?");
	d->file = saved;
out:
	free(full);
	free(body);
}

/* The campaign rule (campaign_step.c): names become file names, so no separators. */
static int
template_valid_name(const char *s, size_t n)
{
	if (n < 1 || n > 128 || s[0] == '.' || s[0] == '-')
		return 0;
	for (size_t i = 0; i < n; i++) {
		char c = s[i];
		if (!(g_ascii_isalnum(c) || c == '_' || c == '-' || c == '.'))
			return 0;
		if (c == '.' && i + 1 < n && s[i + 1] == '.')
			return 0;
	}
	return 1;
}

/* A file name's locale: [a-z]{2,3}, optionally -Region (2 letters, 3 digits) or -Script. */
static int
template_file_locale(const char *s, size_t n)
{
	size_t l = 0;

	while (l < n && s[l] >= 'a' && s[l] <= 'z')
		l++;
	if (l < 2 || l > 3)
		return 0;
	if (l == n)
		return 1;
	if (s[l] != '-')
		return 0;
	const char *sub = s + l + 1;
	size_t m = n - l - 1, alpha = 0, digit = 0;
	for (size_t i = 0; i < m; i++) {
		if (g_ascii_isalpha(sub[i]))
			alpha++;
		else if (g_ascii_isdigit(sub[i]))
			digit++;
		else
			return 0;
	}
	return (alpha == m && (m == 2 || m == 4)) || (digit == m && m == 3);
}

/* The lookup form of a locale: lower case, "_" read as "-", POSIX ".UTF-8" and "@x" dropped. */
static void
template_locale_key(const char *locale, char *out, size_t size)
{
	size_t i = 0;

	for (; locale && locale[i] && locale[i] != '.' && locale[i] != '@' && i + 1 < size; i++)
		out[i] = locale[i] == '_' ? '-' : g_ascii_tolower(locale[i]);
	out[i] = '\0';
}

/* The form users read: language lower case, region upper case, script title case. */
static char *
template_locale_display(const char *s, size_t n)
{
	char *out = xstrndup(s, n);
	char *dash = strchr(out, '-');

	if (dash != NULL) {
		size_t m = strlen(dash + 1);
		for (size_t i = 0; i < m; i++)
			dash[1 + i] = m == 4 && i > 0 ? g_ascii_tolower(dash[1 + i])
						      : g_ascii_toupper(dash[1 + i]);
	}
	return out;
}

static char *
template_key(const char *name, const char *locale)
{
	char lk[TEMPLATE_LOCALE_MAX];

	template_locale_key(locale, lk, sizeof(lk));
	return xasprintf("%s/%s", name, lk);
}

/* The partial loader: texts kept in memory, so a render never reads a file. */
static char *
template_partial(const char *name, void *arg)
{
	const struct template_set *s = arg;
	const struct partial *p = g_hash_table_lookup(s->partials, name);

	return p ? xstrdup(p->text) : NULL;
}

/* Partials parsed at load, so a render does not parse its layout and footer again (issue 14:
 * 6 % of the store thread with the example campaigns); one that does not parse comes from
 * template_partial, which reports the error as before. */
static const struct mustache_tmpl *
template_parsed(const char *name, void *arg)
{
	const struct template_set *s = arg;
	const struct partial *p = g_hash_table_lookup(s->partials, name);

	return p ? p->t : NULL;
}

/* Reads one file whole; NULL after reporting why (size, NUL bytes, UTF-8). */
static char *
template_read(const char *path, struct diag *d, size_t since)
{
	GError *ge = NULL;
	const gchar *end;
	gchar *text;
	gsize len;
	int line = 1, col = 1;

	if (!g_file_get_contents(path, &text, &len, &ge)) {
		template_diag(d, since, path, 0, 0, "cannot read: %s", ge->message);
		g_error_free(ge);
		return NULL;
	}
	if (len > TEMPLATE_MAX_FILE_BYTES) {
		template_diag(d, since, path, 0, 0, "file larger than %u bytes",
			      TEMPLATE_MAX_FILE_BYTES);
		g_free(text);
		return NULL;
	}
	if (!g_utf8_validate(text, (gssize)len, &end)) {
		for (const gchar *p = text; p < end; p++, col++)
			if (*p == '\n') {
				line++;
				col = 0;
			}
		template_diag(d, since, path, line, col, "%s",
			      *end ? "not valid UTF-8" : "contains a NUL byte");
		g_free(text);
		return NULL;
	}
	char *copy = xstrdup(text);
	g_free(text);
	return copy;
}

/* The variant NAME/LOCALE, created on first sight. */
static struct template *
template_variant(struct template_set *s, GHashTable *seen, const char *name, size_t name_len,
		 const char *locale, size_t locale_len)
{
	char *n = xstrndup(name, name_len), *l = xstrndup(locale, locale_len);
	char *key = template_key(n, l);
	struct template *t = g_hash_table_lookup(seen, key);

	if (t != NULL) {
		free(key);
		free(n);
		free(l);
		return t;
	}
	t = xcalloc(1, sizeof(*t));
	t->name = n;
	t->locale = template_locale_display(l, locale_len);
	free(l);
	t->set = s;
	s->v = xrealloc(s->v, (s->n + 1) * sizeof(*s->v));
	s->v[s->n++] = t;
	g_hash_table_insert(seen, key, t);
	return t;
}

/* Sorts FNAME into a variant's part or a partial; problems reported against PATH. */
static void
template_add_file(struct template_set *s, GHashTable *seen, const char *fname, char *path,
		  char *text, struct diag *d, size_t since)
{
	size_t stem = strlen(fname) - strlen(TEMPLATE_SUFFIX);
	const char *dot = memrchr(fname, '.', stem);
	int part = -1;

	for (int i = 0; dot != NULL && i < PART_N; i++)
		if ((size_t)(fname + stem - dot - 1) == strlen(template_part_names[i]) &&
		    memcmp(dot + 1, template_part_names[i], stem - (dot + 1 - fname)) == 0)
			part = i;
	if (part < 0) {
		struct partial *p = xcalloc(1, sizeof(*p));
		p->name = xstrndup(fname, stem);
		p->path = path;
		p->text = text;
		p->t = mustache_parse(text, NULL);
		s->p = xrealloc(s->p, (s->np + 1) * sizeof(*s->p));
		s->p[s->np++] = p;
		g_hash_table_insert(s->partials, p->name, p);
		return;
	}
	size_t name_len = dot - fname;
	const char *loc = memrchr(fname, '.', name_len);
	size_t loc_len = 0;
	if (loc != NULL && template_file_locale(loc + 1, name_len - (loc + 1 - fname))) {
		loc_len = name_len - (loc + 1 - fname);
		name_len = loc - fname;
		loc++;
	} else
		loc = "";
	if (!template_valid_name(fname, name_len)) {
		template_diag(d, since, path, 0, 0,
			      "'%.*s' is not a template name (letters, digits, _ - ., not starting "
			      "with . or -)",
			      (int)name_len, fname);
		free(path);
		free(text);
		return;
	}
	struct template *t = template_variant(s, seen, fname, name_len, loc, loc_len);
	struct template_file *f = &t->part[part];
	if (f->path != NULL) {
		template_diag(d, since, path, 0, 0, "the same part as %s", f->fname);
		t->broken = 1;
		free(path);
		free(text);
		return;
	}
	f->path = path;
	f->fname = strrchr(path, '/') ? strrchr(path, '/') + 1 : path;
	f->text = text;
}

/* Where a check error stands: the file itself, or the partial it names. */
static const char *
template_err_path(const struct template_set *s, const char *self, const struct mustache_error *e)
{
	const struct partial *p = e->file[0] ? g_hash_table_lookup(s->partials, e->file) : NULL;
	return p ? p->path : self;
}

/* Parses TEXT of PATH and checks its partials; NULL after reporting. */
static struct mustache_tmpl *
template_compile(struct template_set *s, const char *path, const char *text, struct diag *d,
		 size_t since)
{
	struct mustache_error e;
	struct mustache_tmpl *t = mustache_parse(text, &e);

	if (t == NULL) {
		template_diag(d, since, path, e.line, e.col, "%s", e.message);
		return NULL;
	}
	if (mustache_check_partials(t, template_partial, s, &e) < 0) {
		template_diag(d, since, template_err_path(s, path, &e), e.line, e.col, "%s",
			      e.message);
		mustache_free(t);
		return NULL;
	}
	return t;
}

/* A variant is usable with a subject and a text; the HTML part is optional. */
static void
template_check_parts(struct template *t, struct diag *d, size_t since)
{
	const char *at = NULL;

	for (int i = 0; i < PART_N && at == NULL; i++)
		at = t->part[i].path;
	for (int i = PART_SUBJECT; i <= PART_TEXT; i++)
		if (t->part[i].path == NULL) {
			template_diag(d, since, at, 0, 0,
				      "template '%s'%s%s%s has no %s: %s%s%s.%s%s is missing",
				      t->name, t->locale[0] ? " (locale " : "", t->locale,
				      t->locale[0] ? ")" : "", template_part_names[i], t->name,
				      t->locale[0] ? "." : "", t->locale, template_part_names[i],
				      TEMPLATE_SUFFIX);
			t->broken = 1;
		}
}

static int
template_name_cmp(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* The *.mustache names in DIR, sorted so that messages come in a stable order. */
static char **
template_list(const char *dir, size_t *n, struct diag *d, size_t since)
{
	DIR *dp = opendir(dir);
	struct dirent *e;
	char **names = NULL;
	size_t sl = strlen(TEMPLATE_SUFFIX);

	*n = 0;
	if (dp == NULL) {
		template_diag(d, since, dir, 0, 0, "cannot open directory: %s", strerror(errno));
		return NULL;
	}
	while ((e = readdir(dp)) != NULL) {
		size_t len = strlen(e->d_name);
		if (e->d_name[0] == '.' || len <= sl ||
		    strcmp(e->d_name + len - sl, TEMPLATE_SUFFIX) != 0)
			continue;
		names = xrealloc(names, (*n + 1) * sizeof(*names));
		names[(*n)++] = xstrdup(e->d_name);
	}
	closedir(dp);
	if (*n > 0)
		qsort(names, *n, sizeof(*names), template_name_cmp);
	else
		names = xcalloc(1, sizeof(*names));
	return names;
}

static struct template_set *
template_set_new(const char *dir)
{
	struct template_set *s = xcalloc(1, sizeof(*s));
	s->dir = xstrdup(dir);
	s->partials = g_hash_table_new(g_str_hash, g_str_equal);
	s->variants = g_hash_table_new_full(g_str_hash, g_str_equal, free, NULL);
	s->names = g_hash_table_new(g_str_hash, g_str_equal);
	s->broken = g_hash_table_new(g_str_hash, g_str_equal);
	return s;
}

static void template_set_compile(struct template_set *s, struct diag *d, size_t since);

/* Read everything first (partials must all be known), then compile in file-name order. */
struct template_set *
template_set_load(const char *dir, struct diag *d)
{
	size_t since = d->n, n;
	char **names = template_list(dir, &n, d, since);
	struct template_set *s;
	GHashTable *seen;

	if (names == NULL)
		return NULL;
	s = template_set_new(dir);
	seen = g_hash_table_new_full(g_str_hash, g_str_equal, free, NULL);
	for (size_t i = 0; i < n; i++) {
		char *path = g_build_filename(dir, names[i], NULL), *p = xstrdup(path), *text;
		struct stat sb;
		g_free(path);
		if (stat(p, &sb) == 0 && !S_ISREG(sb.st_mode)) {
			free(p); /* a directory called x.mustache */
			continue;
		}
		if ((text = template_read(p, d, since)) == NULL) {
			free(p);
			continue;
		}
		template_add_file(s, seen, names[i], p, text, d, since);
	}
	g_hash_table_destroy(seen);
	for (size_t i = 0; i < n; i++)
		free(names[i]);
	free(names);
	template_set_compile(s, d, since);
	return s;
}

/* Issue 17: a set from files kept in memory (a broadcast's frozen content), named LABEL/FNAME. */
struct template_set *
template_set_load_files(const char *label, json_t *files, struct diag *d)
{
	size_t since = d->n, n = json_object_size(files), k = 0;
	const char **names = xcalloc(n + 1, sizeof(*names));
	struct template_set *s = template_set_new(label);
	GHashTable *seen = g_hash_table_new_full(g_str_hash, g_str_equal, free, NULL);
	const char *fname;
	json_t *v;

	json_object_foreach(files, fname, v) names[k++] = fname;
	qsort(names, k, sizeof(*names), template_name_cmp);
	for (size_t i = 0; i < k; i++) {
		const char *text = json_string_value(json_object_get(files, names[i]));
		size_t len = strlen(names[i]), sl = strlen(TEMPLATE_SUFFIX);
		if (text == NULL || len <= sl || strcmp(names[i] + len - sl, TEMPLATE_SUFFIX) != 0)
			continue;
		template_add_file(s, seen, names[i], xasprintf("%s/%s", label, names[i]),
				  xstrdup(text), d, since);
	}
	g_hash_table_destroy(seen);
	free(names);
	template_set_compile(s, d, since);
	return s;
}

/* Compiles what was read: partials first, then every variant's parts. */
static void
template_set_compile(struct template_set *s, struct diag *d, size_t since)
{
	for (size_t i = 0; i < s->np; i++) {
		struct mustache_tmpl *t =
		    template_compile(s, s->p[i]->path, s->p[i]->text, d, since);
		s->p[i]->broken = t == NULL;
		mustache_free(t);
	}
	for (size_t i = 0; i < s->n; i++) {
		struct template *t = s->v[i];
		for (int k = 0; k < PART_N; k++) {
			struct template_file *f = &t->part[k];
			if (f->text == NULL)
				continue;
			if ((f->t = template_compile(s, f->path, f->text, d, since)) == NULL)
				t->broken = 1;
			free(f->text);
			f->text = NULL;
		}
		template_check_parts(t, d, since);
		if (t->broken)
			g_hash_table_add(s->broken, t->name);
		else {
			g_hash_table_insert(s->variants, template_key(t->name, t->locale), t);
			g_hash_table_add(s->names, t->name);
		}
	}
}

void
template_set_free(struct template_set *s)
{
	if (s == NULL)
		return;
	g_hash_table_destroy(s->variants);
	g_hash_table_destroy(s->partials);
	g_hash_table_destroy(s->names);
	g_hash_table_destroy(s->broken);
	for (size_t i = 0; i < s->n; i++) {
		for (int k = 0; k < PART_N; k++) {
			free(s->v[i]->part[k].path);
			free(s->v[i]->part[k].text);
			mustache_free(s->v[i]->part[k].t);
		}
		free(s->v[i]->name);
		free(s->v[i]->locale);
		free(s->v[i]);
	}
	free(s->v);
	for (size_t i = 0; i < s->np; i++) {
		free(s->p[i]->name);
		free(s->p[i]->path);
		free(s->p[i]->text);
		mustache_free(s->p[i]->t);
		free(s->p[i]);
	}
	free(s->p);
	free(s->dir);
	free(s);
}

size_t
template_set_count(const struct template_set *s)
{
	return s ? g_hash_table_size(s->names) : 0;
}

/* Tries LOCALE, then each shorter prefix at a "-" ("zh-hant-tw", "zh-hant", "zh"). */
static const struct template *
template_find_chain(const struct template_set *s, const char *name, const char *locale)
{
	char lk[TEMPLATE_LOCALE_MAX], *dash;
	const struct template *t;

	template_locale_key(locale, lk, sizeof(lk));
	while (lk[0]) {
		char *key = xasprintf("%s/%s", name, lk);
		t = g_hash_table_lookup(s->variants, key);
		free(key);
		if (t != NULL)
			return t;
		if ((dash = strrchr(lk, '-')) == NULL)
			break;
		*dash = '\0';
	}
	return NULL;
}

const struct template *
template_find(const struct template_set *s, const char *name, const char *locale,
	      const char *locale_default)
{
	const struct template *t = NULL;

	if (s == NULL || name == NULL)
		return NULL;
	if (locale != NULL && locale[0])
		t = template_find_chain(s, name, locale);
	if (t == NULL && locale_default != NULL && locale_default[0])
		t = template_find_chain(s, name, locale_default);
	if (t == NULL) {
		char *key = xasprintf("%s/", name);
		t = g_hash_table_lookup(s->variants, key);
		free(key);
	}
	return t;
}

const char *
template_locale(const struct template *t)
{
	return t->locale;
}

void
template_subject_line(char *s)
{
	char *w = s;
	const char *p = s;

	if (s == NULL)
		return;
	while (g_ascii_isspace(*p))
		p++;
	while (*p) {
		if (*p == '\r' || *p == '\n') {
			while (w > s && (w[-1] == ' ' || w[-1] == '\t'))
				w--;
			while (g_ascii_isspace(*p))
				p++;
			if (*p)
				*w++ = ' ';
			continue;
		}
		*w++ = *p++;
	}
	while (w > s && g_ascii_isspace(w[-1]))
		w--;
	*w = '\0';
}

/* Replaces CR and LF in every string of V (a copy) with spaces; returns whether any had one. */
static int
template_unbreak(json_t *v)
{
	const char *key;
	json_t *x;
	size_t i;
	int found = 0;

	switch (json_typeof(v)) {
	case JSON_OBJECT:
		json_object_foreach(v, key, x)
		{
			found |= template_unbreak(x);
		}
		break;
	case JSON_ARRAY:
		json_array_foreach(v, i, x)
		{
			found |= template_unbreak(x);
		}
		break;
	case JSON_STRING:
		if (strpbrk(json_string_value(v), "\r\n") != NULL) {
			char *t = xstrdup(json_string_value(v));
			for (char *p = t; (p = strpbrk(p, "\r\n")) != NULL;)
				*p = ' ';
			json_string_set(v, t);
			free(t);
			found = 1;
		}
		break;
	default:
		break;
	}
	return found;
}

/*
 * Line breaks the template's own text puts in a subject are joined; one that comes from the
 * data (a name or property with CR or LF) is kept, so that the header check refuses the
 * message (CWE-93) instead of sending whatever the data smuggled in. Only a subject that
 * renders with a line break pays for the second render.
 */
static void
template_subject_finish(const struct template_file *f, const struct template_set *s, json_t *data,
			char *subject)
{
	if (strpbrk(subject, "\r\n") != NULL) {
		json_t *clean = json_deep_copy(data);
		char *again = NULL;
		if (clean != NULL && template_unbreak(clean))
			again = mustache_render_parsed(f->t, clean, MUSTACHE_ESCAPE_NONE,
						       MUSTACHE_STRICT_PARTIALS, template_parsed,
						       template_partial, (void *)s, NULL);
		json_decref(clean);
		int from_data = again != NULL && strcmp(again, subject) != 0;
		free(again);
		if (from_data) {
			size_t n = strlen(subject), k = 0;
			while (g_ascii_isspace(subject[k]))
				k++;
			while (n > k && g_ascii_isspace(subject[n - 1]))
				n--;
			memmove(subject, subject + k, n - k);
			subject[n - k] = '\0';
			return;
		}
	}
	template_subject_line(subject);
}

/* Subject and text as written; HTML escaped; an unknown partial is an error, never "". */
int
template_render(const struct template *t, json_t *data, struct template_output *out,
		struct mustache_error *err)
{
	struct mustache_error local;
	char *r[PART_N] = {NULL};

	if (err == NULL)
		err = &local;
	memset(out, 0, sizeof(*out));
	memset(err, 0, sizeof(*err));
	for (int k = 0; k < PART_N; k++) {
		const struct template_file *f = &t->part[k];
		if (f->t == NULL)
			continue;
		r[k] = mustache_render_parsed(
		    f->t, data, k == PART_HTML ? MUSTACHE_ESCAPE_HTML : MUSTACHE_ESCAPE_NONE,
		    MUSTACHE_STRICT_PARTIALS, template_parsed, template_partial, (void *)t->set,
		    err);
		if (r[k] == NULL) {
			char file[sizeof(err->file)];
			if (err->file[0])
				snprintf(file, sizeof(file), "%.100s%s", err->file,
					 TEMPLATE_SUFFIX);
			else
				snprintf(file, sizeof(file), "%s", f->fname);
			memcpy(err->file, file, sizeof(file));
			for (int i = 0; i < k; i++)
				free(r[i]);
			return -1;
		}
	}
	template_subject_finish(&t->part[PART_SUBJECT], t->set, data, r[PART_SUBJECT]);
	out->subject = r[PART_SUBJECT];
	out->text = r[PART_TEXT];
	out->html = r[PART_HTML];
	return 0;
}

void
template_output_free(struct template_output *o)
{
	free(o->subject);
	free(o->text);
	free(o->html);
	memset(o, 0, sizeof(*o));
}

/* The locales NAME has, for a message that says why none of them is the fallback. */
static char *
template_locales_of(const struct template_set *s, const char *name)
{
	GString *g = g_string_new(NULL);
	char *out;

	for (size_t i = 0; i < s->n; i++)
		if (!s->v[i]->broken && strcmp(s->v[i]->name, name) == 0)
			g_string_append_printf(g, "%s%s", g->len ? ", " : "", s->v[i]->locale);
	out = xstrdup(g->str);
	g_string_free(g, TRUE);
	return out;
}

/* Positions come from the campaign file itself, read again only when there is a problem. */
int
template_set_check_campaign(const struct template_set *s, const struct campaign *c,
			    int (*needs)(const char *channel, void *arg), void *arg, struct diag *d)
{
	const char *saved_file = d->file;
	const struct jsonpos *saved_pos = d->pos;
	struct jsonpos *pos = NULL;
	int tried = 0, bad = 0;

	for (size_t i = 0; i < c->n_steps; i++) {
		const struct step *st = &c->steps[i];
		if (st->kind != STEP_SEND || st->template == NULL ||
		    (needs != NULL && !needs(st->channel, arg)) ||
		    template_find(s, st->template, NULL, c->locale_default) != NULL)
			continue;
		if (s != NULL && g_hash_table_contains(s->broken, st->template))
			continue; /* its files' problems are reported already */
		if (!tried && c->file != NULL) {
			gchar *text = NULL;
			json_t *root;
			tried = 1;
			if (g_file_get_contents(c->file, &text, NULL, NULL) &&
			    (root = json_loads(text, 0, NULL)) != NULL) {
				pos = jsonpos_scan(text);
				json_decref(root);
			}
			g_free(text);
		}
		char *path = xasprintf("steps[%zu].send.template", i);
		char *has = s ? template_locales_of(s, st->template) : xstrdup("");
		d->file = c->file ? c->file : c->id;
		d->pos = pos;
		if (has[0])
			diag_add(d, path,
				 "campaign '%s' step '%s': no template '%s' in %s for the default "
				 "locale (it has only %s; add a variant without a locale or set "
				 "locale_default)",
				 c->id, st->id, st->template, s->dir, has);
		else
			diag_add(d, path, "campaign '%s' step '%s': no template '%s' in %s", c->id,
				 st->id, st->template, s ? s->dir : "(no templates_dir)");
		d->file = saved_file;
		d->pos = saved_pos;
		free(has);
		free(path);
		bad = 1;
	}
	jsonpos_free(pos);
	return bad ? -1 : 0;
}
