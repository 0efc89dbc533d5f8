/*
 * nurturectl import FILE: customers from a CSV file with a header row, or from JSON lines,
 * sent in batches to POST /v1/customers ({"customers": [...], "source": "import"}), so that a
 * million rows never sit in memory. Upserts by id make it idempotent: a re-run after an
 * interruption, or a second run, changes nothing. Bad rows are named with their line and
 * reason at the end; on a terminal a progress bar shows the rate and the time left.
 */
#include "ctl.h"

#include <ctype.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "csv.h"

enum target {
	T_ID,
	T_EMAIL,
	T_NAME,
	T_LOCALE,
	T_TIMEZONE,
	T_BIRTHDAY,
	T_CONSENT_TIME,
	T_ATTR,
	T_CONSENT,
	T_IGNORE
};

static const char *const target_names[] = {"id",       "email",	   "name",	  "locale",
					   "timezone", "birthday", "consent_time"};

struct column {
	enum target t;
	char *key; /* T_ATTR: the attribute; T_CONSENT: the topic */
};

/* A bad row found here (syntax, mapping) or by the daemon (validation). */
struct bad {
	long line;
	char *why;
};

struct import {
	const struct ctl *c;
	const char *map; /* --map, or NULL */
	size_t batch_max;
	/* the batch being filled */
	json_t *items;
	long *lines;	  /* the line of each item */
	struct bad *bads; /* this batch's rows refused before sending */
	size_t n_bads;
	/* totals */
	long long rows, changed, unchanged, bad;
	FILE *bad_out; /* every bad row, in line order */
	/* progress */
	long long size; /* bytes of the file, 0 when unknown */
	long long done_bytes;
	double start, last_draw;
	int tty;
};

static double
import_now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* A header's name folded for comparison: lowercase, without spaces, '-' and '_'. */
static char *
import_fold(const char *s)
{
	char *f = ctl_strdup(s), *o = f;
	for (; *s; s++)
		if (*s != ' ' && *s != '-' && *s != '_')
			*o++ = (char)tolower((unsigned char)*s);
	*o = '\0';
	return f;
}

/* TARGET as written in --map: a profile field, attributes.KEY, consent.TOPIC or "-". */
static int
import_parse_target(const char *s, struct column *col)
{
	col->key = NULL;
	if (strcmp(s, "-") == 0) {
		col->t = T_IGNORE;
		return 0;
	}
	for (size_t i = 0; i < NT_CTL_LEN(target_names); i++)
		if (strcmp(s, target_names[i]) == 0) {
			col->t = (enum target)i;
			return 0;
		}
	if (strncmp(s, "attributes.", 11) == 0 && s[11]) {
		col->t = T_ATTR;
		col->key = ctl_strdup(s + 11);
		return 0;
	}
	if (strncmp(s, "consent.", 8) == 0 && s[8]) {
		col->t = T_CONSENT;
		col->key = ctl_strdup(s + 8);
		return 0;
	}
	return -1;
}

/* The default for a header: the obvious names, consent.X, attributes.X, else an attribute. */
static void
import_default_target(const char *head, struct column *col)
{
	static const struct {
		const char *name;
		enum target t;
	} known[] = {{"id", T_ID},
		     {"customerid", T_ID},
		     {"customer", T_ID},
		     {"externalid", T_ID},
		     {"userid", T_ID},
		     {"email", T_EMAIL},
		     {"emailaddress", T_EMAIL},
		     {"mail", T_EMAIL},
		     {"name", T_NAME},
		     {"fullname", T_NAME},
		     {"locale", T_LOCALE},
		     {"language", T_LOCALE},
		     {"lang", T_LOCALE},
		     {"timezone", T_TIMEZONE},
		     {"tz", T_TIMEZONE},
		     {"birthday", T_BIRTHDAY},
		     {"birthdate", T_BIRTHDAY},
		     {"dateofbirth", T_BIRTHDAY},
		     {"dob", T_BIRTHDAY},
		     {"consenttime", T_CONSENT_TIME},
		     {"subscribedat", T_CONSENT_TIME},
		     {"optintime", T_CONSENT_TIME}};
	char *f = import_fold(head);

	col->key = NULL;
	col->t = T_ATTR;
	for (size_t i = 0; i < NT_CTL_LEN(known); i++)
		if (strcmp(f, known[i].name) == 0)
			col->t = known[i].t;
	free(f);
	if (col->t != T_ATTR)
		return;
	if (import_parse_target(head, col) == 0 && (col->t == T_ATTR || col->t == T_CONSENT))
		return;
	if (strncmp(head, "attr.", 5) == 0 && head[5]) {
		col->t = T_ATTR;
		col->key = ctl_strdup(head + 5);
		return;
	}
	col->t = T_ATTR;
	col->key = ctl_strdup(head);
}

/* The column for HEAD: --map's entry when it names it, else the default. */
static void
import_column(const char *map, const char *head, struct column *col)
{
	char *spec = ctl_strdup(map ? map : ""), *save = NULL;

	for (char *e = strtok_r(spec, ",", &save); e; e = strtok_r(NULL, ",", &save)) {
		char *eq = strchr(e, '=');
		if (eq == NULL)
			ctl_die(CTL_EXIT_USAGE, "--map: '%s' is not HEADER=TARGET", e);
		*eq = '\0';
		if (strcmp(e, head) != 0)
			continue;
		if (import_parse_target(eq + 1, col) < 0)
			ctl_die(CTL_EXIT_USAGE,
				"--map: '%s' is no target (id, email, name, locale, timezone, "
				"birthday, consent_time, attributes.KEY, consent.TOPIC, -)",
				eq + 1);
		free(spec);
		return;
	}
	free(spec);
	import_default_target(head, col);
}

/* A consent cell: the three states, or yes/no words. NULL for anything else. */
static const char *
import_consent_state(const char *v)
{
	static const char *const yes[] = {"yes", "y", "true", "1", "x", "subscribed"};
	static const char *const no[] = {"no", "n", "false", "0", "unsubscribed"};
	char *f = import_fold(v);
	const char *r = NULL;

	for (size_t i = 0; !r && i < NT_CTL_LEN(yes); i++)
		if (strcmp(f, yes[i]) == 0)
			r = "subscribed";
	for (size_t i = 0; !r && i < NT_CTL_LEN(no); i++)
		if (strcmp(f, no[i]) == 0)
			r = "unsubscribed";
	if (!r && strcmp(f, "pending") == 0)
		r = "pending";
	free(f);
	return r;
}

static void import_bad(struct import *im, long line, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* Records a bad row of the batch being filled. */
static void
import_bad(struct import *im, long line, const char *fmt, ...)
{
	va_list ap;
	char *why;

	va_start(ap, fmt);
	if (vasprintf(&why, fmt, ap) < 0)
		ctl_die(CTL_EXIT_API, "out of memory");
	va_end(ap);
	im->bads = realloc(im->bads, (im->n_bads + 1) * sizeof(*im->bads));
	if (im->bads == NULL)
		ctl_die(CTL_EXIT_API, "out of memory");
	im->bads[im->n_bads++] = (struct bad){line, why};
	im->rows++;
}

/* Sets VALUE (a string) at the column's place in CUSTOMER; -1 with a reason in WHY. */
static int
import_set(json_t *cust, const struct column *col, const char *value, json_t *jvalue, char **why)
{
	json_t *v = jvalue ? json_incref(jvalue) : json_string(value);

	if (v == NULL) {
		*why = ctl_strdup("not UTF-8");
		return -1;
	}
	switch (col->t) {
	case T_IGNORE:
		json_decref(v);
		return 0;
	case T_ATTR: {
		json_t *a = json_object_get(cust, "attributes");
		if (a == NULL)
			json_object_set_new(cust, "attributes", a = json_object());
		json_object_set_new(a, col->key, v);
		return 0;
	}
	case T_CONSENT: {
		const char *st = json_is_string(v)  ? import_consent_state(json_string_value(v))
				 : json_is_true(v)  ? "subscribed"
				 : json_is_false(v) ? "unsubscribed"
						    : NULL;
		json_decref(v);
		if (st == NULL) {
			*why = ctl_asprintf("consent.%s: not yes/no, subscribed, unsubscribed or "
					    "pending",
					    col->key);
			return -1;
		}
		json_t *k = json_object_get(cust, "consent");
		if (k == NULL)
			json_object_set_new(cust, "consent", k = json_object());
		json_object_set_new(k, col->key, json_string(st));
		return 0;
	}
	default:
		json_object_set_new(cust, target_names[col->t], v);
		return 0;
	}
}

/* The customer is complete: it needs an id (the email stands in), then joins the batch. */
static void import_flush(struct import *im);

static void
import_add(struct import *im, json_t *cust, long line)
{
	json_t *id = json_object_get(cust, "id"), *email = json_object_get(cust, "email");

	if (id == NULL && json_is_string(email))
		json_object_set(cust, "id", email);
	else if (id == NULL) {
		import_bad(im, line, "no id and no email");
		json_decref(cust);
		return;
	}
	json_array_append_new(im->items, cust);
	im->lines = realloc(im->lines, json_array_size(im->items) * sizeof(*im->lines));
	if (im->lines == NULL)
		ctl_die(CTL_EXIT_API, "out of memory");
	im->lines[json_array_size(im->items) - 1] = line;
	im->rows++;
	if (json_array_size(im->items) >= im->batch_max)
		import_flush(im);
}

static int
import_bad_cmp(const void *a, const void *b)
{
	const struct bad *x = a, *y = b;
	return (x->line > y->line) - (x->line < y->line);
}

/* Progress on a terminal: done, rate and what is left, redrawn at most 5 times a second. */
static void
import_progress(struct import *im, int last)
{
	double now = import_now(), el = now - im->start;
	long long sent = im->changed + im->unchanged + im->bad;

	if (!im->tty || (!last && now - im->last_draw < 0.2))
		return;
	im->last_draw = now;
	double rate = el > 0 ? (double)sent / el : 0;
	if (im->size > 0) {
		double frac = (double)im->done_bytes / (double)im->size;
		int w = 30, fill = (int)(frac * w + 0.5);
		double eta = frac > 0 ? el / frac - el : 0;
		fprintf(stderr, "\r%3d%% [%.*s%*s] %lld rows  %.0f/s  ETA %d:%02d ",
			(int)(frac * 100), fill, "##############################", w - fill, "",
			sent, rate, (int)eta / 60, (int)eta % 60);
	} else
		fprintf(stderr, "\r%lld rows  %.0f/s ", sent, rate);
	if (last)
		fputc('\n', stderr);
	fflush(stderr);
}

/* Sends the batch (halving it when the daemon says it is too large) and counts the answer. */
static void
import_send(struct import *im, json_t *items, const long *lines)
{
	json_t *body = json_pack("{s:O,s:s}", "customers", items, "source", "import"), *doc, *r;
	long status = ctl_http(im->c, "POST", "/v1/customers", body, &doc);
	size_t n = json_array_size(items), i;

	json_decref(body);
	if (status == 413 && n > 1) {
		json_decref(doc);
		size_t half = n / 2;
		json_t *a = json_array(), *b = json_array();
		for (i = 0; i < n; i++)
			json_array_append(i < half ? a : b, json_array_get(items, i));
		im->batch_max = half;
		import_send(im, a, lines);
		import_send(im, b, lines + half);
		json_decref(a);
		json_decref(b);
		return;
	}
	if (status != 200) {
		const char *err = json_string_value(json_object_get(doc, "error"));
		ctl_die(CTL_EXIT_API,
			"import stopped at line %ld: HTTP %ld: %s (rows before it are stored; "
			"running the import again is safe)",
			lines[0], status, err ? err : "no answer");
	}
	im->changed += json_integer_value(json_object_get(doc, "upserted"));
	im->unchanged += json_integer_value(json_object_get(doc, "unchanged"));
	json_array_foreach(json_object_get(doc, "rejected"), i, r)
	{
		json_int_t k = json_integer_value(json_object_get(r, "index"));
		const char *f = json_string_value(json_object_get(r, "field"));
		const char *e = json_string_value(json_object_get(r, "error"));
		if (k < 0 || (size_t)k >= n)
			continue;
		im->bads = realloc(im->bads, (im->n_bads + 1) * sizeof(*im->bads));
		if (im->bads == NULL)
			ctl_die(CTL_EXIT_API, "out of memory");
		im->bads[im->n_bads++] =
		    (struct bad){lines[k], f && *f ? ctl_asprintf("%s: %s", f, e ? e : "refused")
						   : ctl_strdup(e ? e : "refused")};
	}
	json_decref(doc);
}

/* Sends what the batch holds and writes its bad rows, in line order, to the report. */
static void
import_flush(struct import *im)
{
	if (json_array_size(im->items) > 0)
		import_send(im, im->items, im->lines);
	json_array_clear(im->items);
	if (im->n_bads > 0)
		qsort(im->bads, im->n_bads, sizeof(*im->bads), import_bad_cmp);
	for (size_t i = 0; i < im->n_bads; i++) {
		fprintf(im->bad_out, "line %ld: %s\n", im->bads[i].line, im->bads[i].why);
		free(im->bads[i].why);
	}
	im->bad += (long long)im->n_bads;
	im->n_bads = 0;
	import_progress(im, 0);
}

/* CSV: the header names the columns; each record is one customer. */
static void
import_csv(struct import *im, FILE *f)
{
	struct csv *c = csv_new(f);
	struct column *cols = NULL;
	size_t ncols = 0, n;
	char **fields;
	const char *err;
	long line;
	int r;

	if (c == NULL)
		ctl_die(CTL_EXIT_API, "out of memory");
	while ((r = csv_next(c, &fields, &n, &line, &err)) < 0)
		fprintf(stderr, "nurturectl: line %ld: %s (in the header)\n", line, err);
	if (r == 0)
		ctl_die(CTL_EXIT_USAGE, "the file is empty: a CSV file needs a header row");
	ncols = n;
	cols = calloc(ncols, sizeof(*cols));
	for (size_t i = 0; i < ncols; i++)
		import_column(im->map, fields[i], &cols[i]);
	while ((r = csv_next(c, &fields, &n, &line, &err)) != 0) {
		im->done_bytes = csv_offset(c);
		if (r < 0) {
			import_bad(im, line, "%s", err);
			continue;
		}
		if (n != ncols) {
			import_bad(im, line, "%zu fields, the header has %zu", n, ncols);
			continue;
		}
		json_t *cust = json_object();
		char *why = NULL;
		for (size_t i = 0; i < n && why == NULL; i++)
			if (fields[i][0] != '\0') /* an empty cell changes nothing */
				import_set(cust, &cols[i], fields[i], NULL, &why);
		if (why != NULL) {
			import_bad(im, line, "%s", why);
			free(why);
			json_decref(cust);
			continue;
		}
		import_add(im, cust, line);
	}
	for (size_t i = 0; i < ncols; i++)
		free(cols[i].key);
	free(cols);
	csv_free(c);
}

/* JSON lines: each line an object; its keys map like CSV headers ("attributes" and "consent"
 * objects are taken as they are). */
static void
import_jsonl(struct import *im, FILE *f)
{
	char *buf = NULL;
	size_t cap = 0;
	ssize_t len;
	long line = 0;

	while ((len = getline(&buf, &cap, f)) >= 0) {
		json_error_t e;
		json_t *obj, *cust, *v;
		const char *key;
		char *why = NULL;

		line++;
		im->done_bytes += len;
		while (len > 0 && (buf[len - 1] == '\n' || buf[len - 1] == '\r' ||
				   buf[len - 1] == ' ' || buf[len - 1] == '\t'))
			buf[--len] = '\0';
		if (len == 0)
			continue;
		obj = json_loadb(buf, (size_t)len, JSON_REJECT_DUPLICATES, &e);
		if (!json_is_object(obj)) {
			import_bad(im, line, "%s", obj ? "not a JSON object" : e.text);
			json_decref(obj);
			continue;
		}
		cust = json_object();
		json_object_foreach(obj, key, v)
		{
			struct column col;
			if (strcmp(key, "attributes") == 0 || strcmp(key, "consent") == 0) {
				json_t *to = json_object_get(cust, key), *x;
				const char *k;
				if (!json_is_object(v)) {
					why = ctl_asprintf("%s: must be an object", key);
					break;
				}
				if (to == NULL)
					json_object_set_new(cust, key, to = json_object());
				json_object_foreach(v, k, x)
				{
					if (key[0] == 'a')
						json_object_set(to, k, x);
					else {
						struct column cc = {T_CONSENT, (char *)k};
						if (import_set(cust, &cc, NULL, x, &why) < 0)
							break;
					}
				}
				if (why)
					break;
				continue;
			}
			import_column(im->map, key, &col);
			if (col.t != T_ATTR && col.t != T_CONSENT && col.t != T_IGNORE &&
			    !json_is_string(v) && !json_is_null(v))
				why = ctl_asprintf("%s: must be a string", key);
			else if (!json_is_null(v))
				import_set(cust, &col, NULL, v, &why);
			free(col.key);
			if (why)
				break;
		}
		json_decref(obj);
		if (why != NULL) {
			import_bad(im, line, "%s", why);
			free(why);
			json_decref(cust);
			continue;
		}
		import_add(im, cust, line);
	}
	free(buf);
}

int
ctl_import(const struct ctl *c, const char *file, const char *map, const char *format, int batch)
{
	struct import im = {.c = c, .map = map, .batch_max = batch > 0 ? (size_t)batch : 1000};
	FILE *f = strcmp(file, "-") == 0 ? stdin : fopen(file, "r");
	struct stat sb;
	int jsonl;
	char line[512];

	if (f == NULL)
		ctl_die(CTL_EXIT_USAGE, "%s: %s", file, strerror(errno));
	if (format != NULL && strcmp(format, "csv") != 0 && strcmp(format, "jsonl") != 0)
		ctl_die(CTL_EXIT_USAGE, "--format is csv or jsonl, not '%s'", format);
	if (format != NULL)
		jsonl = strcmp(format, "jsonl") == 0;
	else {
		const char *dot = strrchr(file, '.');
		int ch;
		jsonl = dot && (strcmp(dot, ".jsonl") == 0 || strcmp(dot, ".ndjson") == 0 ||
				strcmp(dot, ".json") == 0);
		if (!dot || (!jsonl && strcmp(dot, ".csv") != 0)) { /* look at the first byte */
			while ((ch = getc(f)) == ' ' || ch == '\n' || ch == '\r' || ch == '\t')
				;
			jsonl = ch == '{';
			if (ch != EOF)
				ungetc(ch, f);
		}
	}
	if (fstat(fileno(f), &sb) == 0 && S_ISREG(sb.st_mode))
		im.size = sb.st_size;
	im.items = json_array();
	im.bad_out = tmpfile();
	if (im.bad_out == NULL)
		ctl_die(CTL_EXIT_API, "tmpfile: %s", strerror(errno));
	im.tty = isatty(STDERR_FILENO);
	im.start = import_now();
	if (jsonl)
		import_jsonl(&im, f);
	else
		import_csv(&im, f);
	import_flush(&im);
	im.done_bytes = im.size;
	import_progress(&im, 1);
	if (f != stdin)
		fclose(f);
	double el = import_now() - im.start;
	printf("%s: %lld rows in %.1f s (%.0f/s): %lld new or changed, %lld unchanged, %lld bad\n",
	       file, im.rows, el, el > 0 ? (double)im.rows / el : 0.0, im.changed, im.unchanged,
	       im.bad);
	rewind(im.bad_out);
	while (fgets(line, sizeof(line), im.bad_out) != NULL)
		fputs(line, stdout);
	fclose(im.bad_out);
	json_decref(im.items);
	free(im.lines);
	free(im.bads);
	return im.bad > 0 ? CTL_EXIT_API : 0;
}
