/*
 * Campaign files and directories: reading, parsing with positions, versions, sets and freeing.
 * The format itself is checked in campaign_check.c.
 */
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "experiment.h"
#include "campaign_int.h"
#include "cron.h"
#include "crypto.h"
#include "jsonpos.h"
#include "util.h"

/* Campaigns are small; anything bigger is a mistake (or an attack on the checker). */
#define CAMPAIGN_MAX_FILE_BYTES (1u << 20)

/* Reads FILE whole: Jansson parses the text and jsonpos scans the same text for positions. */
static char *
campaign_read_file(const char *file, size_t *len, struct diag *d)
{
	FILE *f = fopen(file, "rb");
	char *buf = NULL;
	size_t n, cap = 0;

	*len = 0;
	if (f == NULL) {
		diag_add(d, NULL, "cannot open: %s", strerror(errno));
		return NULL;
	}
	do {
		if (cap - *len < 4096) {
			cap = cap ? cap * 2 : 8192;
			buf = xrealloc(buf, cap);
		}
		n = fread(buf + *len, 1, cap - *len - 1, f);
		*len += n;
		if (*len > CAMPAIGN_MAX_FILE_BYTES) {
			diag_add(d, NULL, "file larger than %u bytes", CAMPAIGN_MAX_FILE_BYTES);
			free(buf);
			fclose(f);
			return NULL;
		}
	} while (n > 0);
	if (ferror(f)) {
		diag_add(d, NULL, "cannot read: %s", strerror(errno));
		free(buf);
		fclose(f);
		return NULL;
	}
	fclose(f);
	buf[*len] = '\0';
	return buf;
}

/* How messages name a campaign whose id is missing or wrong: by its file name. */
static char *
campaign_what(json_t *root, const char *file)
{
	json_t *id = json_object_get(root, "id");
	const char *base = strrchr(file, '/');
	size_t n;

	if (json_is_string(id) && strlen(json_string_value(id)) == json_string_length(id) &&
	    campaign_valid_id(json_string_value(id)))
		return xasprintf("campaign '%s'", json_string_value(id));
	base = base ? base + 1 : file;
	n = strlen(base);
	if (n > 5 && strcmp(base + n - 5, ".json") == 0)
		n -= 5;
	return xasprintf("campaign '%.*s'", (int)n, base);
}

/* The version the engine records with each journey: a hash of the meaning, not the layout. */
static void
campaign_version(struct campaign *c, json_t *root)
{
	char *text = json_dumps(root, JSON_SORT_KEYS | JSON_COMPACT);
	char hex[65];

	crypto_sha256_hex(text ? text : "", text ? strlen(text) : 0, hex);
	memcpy(c->version, hex, 16);
	c->version[16] = '\0';
	free(text);
}

/*
 * One campaign from TEXT, named NAME in diagnostics; with SEEN, an id already in that set is
 * an error naming both files.
 */
static struct campaign *
campaign_parse(const char *name, const char *text, size_t len, const struct campaign_ctx *ctx,
	       struct diag *d, const struct campaign_set *seen)
{
	static const struct campaign_ctx no_checks = {0};
	const char *saved_file = d->file;
	const struct jsonpos *saved_pos = d->pos;
	struct campaign *c = xcalloc(1, sizeof(*c));
	struct jsonpos *pos = NULL;
	json_t *root = NULL;
	json_error_t jerr;
	size_t before = d->n;

	c->file = xstrdup(name);
	d->file = c->file;
	d->pos = NULL;
	if (text != NULL && (root = json_loadb(text, len, JSON_REJECT_DUPLICATES, &jerr)) == NULL) {
		if (jerr.line > 0)
			diag_add_at(d, jerr.line, jerr.column > 0 ? jerr.column : 1, "%s",
				    jerr.text);
		else
			diag_add(d, NULL, "%s", jerr.text);
	} else if (root != NULL && !json_is_object(root))
		diag_add_at(d, 1, 1, "a campaign must be a JSON object, not %s",
			    diag_type_name(root));
	else if (root != NULL) {
		struct campaign_loader L = {.c = c, .d = d, .ctx = ctx ? ctx : &no_checks};
		pos = jsonpos_scan(text);
		d->pos = pos;
		L.what = campaign_what(root, name);
		campaign_check(&L, root);
		const struct campaign *other = c->id ? campaign_set_find(seen, c->id) : NULL;
		if (other != NULL)
			campaign_error(&L, L.what, "id", "id '%s' is already used by %s", c->id,
				       other->file);
		campaign_version(c, root);
		experiment_version(c);
		free(L.what);
	}
	d->file = saved_file;
	d->pos = saved_pos;
	json_decref(root);
	jsonpos_free(pos);
	if (d->n > before) {
		campaign_free(c);
		return NULL;
	}
	return c;
}

/* One file; with SEEN, an id already in that set is an error naming both files. */
static struct campaign *
campaign_load(const char *file, const struct campaign_ctx *ctx, struct diag *d,
	      const struct campaign_set *seen)
{
	const char *saved_file = d->file;
	struct campaign *c;
	size_t len;
	char *text;

	d->file = file;
	text = campaign_read_file(file, &len, d);
	d->file = saved_file;
	if (text == NULL)
		return NULL;
	c = campaign_parse(file, text, len, ctx, d, seen);
	free(text);
	return c;
}

struct campaign *
campaign_load_text(const char *name, const char *text, const struct campaign_ctx *ctx,
		   struct diag *d)
{
	return campaign_parse(name, text, strlen(text), ctx, d, NULL);
}

/* One file on its own (next-runs, tests): no other ids to clash with. */
struct campaign *
campaign_load_file(const char *file, const struct campaign_ctx *ctx, struct diag *d)
{
	return campaign_load(file, ctx, d, NULL);
}

/* Frees what the trigger owns; only its kind's fields are set, the rest are NULL. */
static void
campaign_trigger_clear(struct trigger *t)
{
	free(t->event);
	cond_free(t->where);
	for (size_t i = 0; i < t->n_of; i++)
		free(t->of[i]);
	free(t->of);
	if (t->cron != NULL)
		cron_free(t->cron);
	free(t->timezone);
	free(t->anniversary_of);
	free(t->stage);
	free(t->segment);
}

/* Also frees half-checked campaigns: every field is NULL or owned. */
void
campaign_free(struct campaign *c)
{
	if (c == NULL)
		return;
	free(c->id);
	free(c->name);
	free(c->file);
	free(c->topic);
	free(c->reply_to);
	free(c->locale_default);
	free(c->timezone_default);
	campaign_trigger_clear(&c->trigger);
	for (size_t i = 0; i < c->n_steps; i++) {
		struct step *st = &c->steps[i];
		free(st->id);
		free(st->channel);
		free(st->template);
		experiment_step_clear(st);
		free(st->event);
		cond_free(st->where);
		cond_free(st->cond);
		json_decref(st->set);
		json_decref(st->tags_add);
		json_decref(st->tags_remove);
		free(st->exit_reason);
	}
	free(c->steps);
	for (size_t i = 0; i < c->n_exit_on; i++) {
		free(c->exit_on[i].event);
		cond_free(c->exit_on[i].where);
	}
	free(c->exit_on);
	free(c->key);
	free(c->goal_event);
	free(c->goal_value);
	free(c);
}

/* Byte order, so that the load order does not depend on the locale. */
static int
campaign_name_cmp(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Campaign files only: "*.json", not hidden (editors' temporaries), not the schema. */
static int
campaign_is_campaign_file(const char *name)
{
	size_t n = strlen(name);
	return n > 5 && name[0] != '.' && strcmp(name + n - 5, ".json") == 0 &&
	       strcmp(name, "schema.json") != 0;
}

/* All or nothing: a set with one broken campaign would silently drop its journeys. */
struct campaign_set *
campaign_load_dir(const char *dir, const struct campaign_ctx *ctx, struct diag *d)
{
	DIR *dp = opendir(dir);
	struct dirent *de;
	char **names = NULL;
	size_t n = 0, before = d->n;
	struct campaign_set *set;

	if (dp == NULL) {
		diag_add(d, NULL, "cannot open directory %s: %s", dir, strerror(errno));
		return NULL;
	}
	while ((de = readdir(dp)) != NULL)
		if (campaign_is_campaign_file(de->d_name)) {
			names = xrealloc(names, (n + 1) * sizeof(*names));
			names[n++] = xstrdup(de->d_name);
		}
	closedir(dp);
	if (n > 0)
		qsort(names, n, sizeof(*names), campaign_name_cmp);
	set = xcalloc(1, sizeof(*set));
	set->v = xcalloc(n + 1, sizeof(*set->v));
	for (size_t i = 0; i < n; i++) {
		size_t dl = strlen(dir);
		char *path = dl > 0 && dir[dl - 1] == '/' ? xasprintf("%s%s", dir, names[i])
							  : xasprintf("%s/%s", dir, names[i]);
		struct stat sb;
		if (stat(path, &sb) == 0 && !S_ISREG(sb.st_mode)) {
			free(path); /* e.g. a directory called x.json */
		} else {
			struct campaign *c = campaign_load(path, ctx, d, set);
			if (c != NULL)
				set->v[set->n++] = c;
			free(path);
		}
		free(names[i]);
	}
	free(names);
	if (d->n > before) {
		campaign_set_free(set);
		return NULL;
	}
	return set;
}

/* Linear: sets are small and looked up per journey, not per byte. */
const struct campaign *
campaign_set_find(const struct campaign_set *s, const char *id)
{
	for (size_t i = 0; s != NULL && id != NULL && i < s->n; i++)
		if (strcmp(s->v[i]->id, id) == 0)
			return s->v[i];
	return NULL;
}

/* Frees the set and every campaign in it. */
void
campaign_set_free(struct campaign_set *s)
{
	if (s == NULL)
		return;
	for (size_t i = 0; i < s->n; i++)
		campaign_free(s->v[i]);
	free(s->v);
	free(s);
}
