/* Mustache rendering over Jansson values, and the static partial check for template linters. */
#include "mustache_int.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util.h"

/* Partials are loaded and parsed once per render, however often they are referenced, unless
 * the caller lends them parsed (borrowed: not freed here). */
struct pcache {
	char *name;
	struct mustache_tmpl *t; /* NULL: unknown to the loader */
	int borrowed;
	struct pcache *next;
};

/* A parent being expanded, whose argument blocks override the blocks rendered beneath it. */
struct frame {
	const struct node *parent;
	const char *file;
};

struct render {
	char *out;
	size_t len, cap;
	enum mustache_escape esc;
	unsigned flags;
	mustache_partial_fn load;
	mustache_parsed_fn parsed;
	void *arg;
	struct mustache_error *err;
	json_t **ctx;
	size_t nctx, cctx;
	struct frame *frames;
	size_t nframes, cframes;
	struct pcache *cache;
	const char *indent; /* prepended at every INDENT node */
	const char *file;   /* template being rendered, for error positions */
	int depth, failed;
};

/* Keeps the first error: later ones are usually consequences of it. */
static void __attribute__((format(printf, 3, 4)))
render_fail(struct render *r, const struct node *at, const char *fmt, ...)
{
	va_list ap;
	char msg[256];

	if (r->failed)
		return;
	r->failed = 1;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	mustache_seterr(r->err, r->file, at ? at->line : 0, at ? at->col : 0, "%s", msg);
}

/* All output goes through here so the size cap holds everywhere. */
static void
render_emit(struct render *r, const char *s, size_t n)
{
	if (r->failed || n == 0)
		return;
	if (n > MUSTACHE_MAX_OUTPUT - r->len) {
		render_fail(r, NULL, "rendered output exceeds %u bytes", MUSTACHE_MAX_OUTPUT);
		return;
	}
	if (r->len + n + 1 > r->cap) {
		while (r->len + n + 1 > r->cap)
			r->cap = r->cap ? r->cap * 2 : 256;
		r->out = xrealloc(r->out, r->cap);
	}
	memcpy(r->out + r->len, s, n);
	r->len += n;
}

/* HTML escaping of the five characters that can break out of text or attribute values. */
static void
render_escaped(struct render *r, const char *s, size_t n)
{
	size_t run = 0;

	for (size_t i = 0; i < n; i++) {
		const char *rep = NULL;
		switch (s[i]) {
		case '&':
			rep = "&amp;";
			break;
		case '<':
			rep = "&lt;";
			break;
		case '>':
			rep = "&gt;";
			break;
		case '"':
			rep = "&quot;";
			break;
		case '\'':
			rep = "&#39;";
			break;
		}
		if (rep == NULL)
			continue;
		render_emit(r, s + run, i - run);
		render_emit(r, rep, strlen(rep));
		run = i + 1;
	}
	render_emit(r, s + run, n - run);
}

/* Shortest "%g" form that reads back as the same double, so 1.21 prints as 1.21. */
static void
mustache_format_real(double d, char *buf, size_t n)
{
	for (int prec = 15; prec <= 17; prec++) {
		snprintf(buf, n, "%.*g", prec, d);
		if (strtod(buf, NULL) == d)
			return;
	}
}

/* Scalars as text, containers as compact JSON, null as nothing. */
static void
render_value(struct render *r, json_t *v, int escape)
{
	char buf[64], *dump = NULL;
	const char *s = buf;
	size_t n;

	switch (json_typeof(v)) {
	case JSON_STRING:
		s = json_string_value(v);
		n = json_string_length(v);
		break;
	case JSON_INTEGER:
		snprintf(buf, sizeof(buf), "%" JSON_INTEGER_FORMAT, json_integer_value(v));
		n = strlen(buf);
		break;
	case JSON_REAL:
		mustache_format_real(json_real_value(v), buf, sizeof(buf));
		n = strlen(buf);
		break;
	case JSON_TRUE:
	case JSON_FALSE:
		s = json_is_true(v) ? "true" : "false";
		n = strlen(s);
		break;
	case JSON_NULL:
		return;
	default:
		dump = json_dumps(v, JSON_COMPACT | JSON_ENCODE_ANY);
		if (dump == NULL)
			return;
		s = dump;
		n = strlen(dump);
		break;
	}
	if (escape && r->esc == MUSTACHE_ESCAPE_HTML)
		render_escaped(r, s, n);
	else
		render_emit(r, s, n);
	free(dump);
}

/* The spec's `!!data`, read with JavaScript semantics, plus empty lists. */
static int
mustache_truthy(json_t *v)
{
	if (v == NULL)
		return 0;
	switch (json_typeof(v)) {
	case JSON_NULL:
	case JSON_FALSE:
		return 0;
	case JSON_INTEGER:
		return json_integer_value(v) != 0;
	case JSON_REAL:
		return json_real_value(v) != 0.0;
	case JSON_STRING:
		return json_string_length(v) != 0;
	case JSON_ARRAY:
		return json_array_size(v) != 0;
	default:
		return 1;
	}
}

/* First part up the context stack, the rest only inside what it found. */
static json_t *
render_lookup(struct render *r, const struct node *nd)
{
	json_t *v = NULL;

	if (nd->nparts == 0)
		return r->ctx[r->nctx - 1];
	for (size_t i = r->nctx; i-- > 0 && v == NULL;)
		if (json_is_object(r->ctx[i]))
			v = json_object_get(r->ctx[i], nd->parts[0]);
	for (int k = 1; v && k < nd->nparts; k++)
		v = json_is_object(v) ? json_object_get(v, nd->parts[k]) : NULL;
	return v;
}

/* Context values are borrowed: DATA outlives the render. */
static void
render_push(struct render *r, json_t *v)
{
	if (r->nctx == r->cctx) {
		r->cctx = r->cctx ? r->cctx * 2 : 16;
		r->ctx = xrealloc(r->ctx, r->cctx * sizeof(*r->ctx));
	}
	r->ctx[r->nctx++] = v;
}

/* Returns the cached entry for NAME (its template NULL when unknown), or NULL after an error. */
static struct pcache *
render_partial(struct render *r, const char *name, const struct node *at)
{
	struct pcache *pc;
	struct mustache_error perr;
	char *text;

	for (pc = r->cache; pc; pc = pc->next)
		if (strcmp(pc->name, name) == 0)
			break;
	if (pc == NULL) {
		pc = xcalloc(1, sizeof(*pc));
		pc->name = xstrdup(name);
		pc->next = r->cache;
		r->cache = pc;
		if (r->parsed != NULL &&
		    (pc->t = (struct mustache_tmpl *)r->parsed(name, r->arg)) != NULL) {
			pc->borrowed = 1;
			return pc;
		}
		text = r->load ? r->load(name, r->arg) : NULL;
		if (text) {
			pc->t = mustache_parse(text, &perr);
			free(text);
			if (pc->t == NULL) {
				r->failed = 1;
				mustache_seterr(r->err, name, perr.line, perr.col, "%s",
						perr.message);
				return NULL;
			}
		}
	}
	if (pc->t == NULL && (r->flags & MUSTACHE_STRICT_PARTIALS)) {
		render_fail(r, at, "unknown partial '%s'", name);
		return NULL;
	}
	return pc;
}

static void render_nodes(struct render *r, const struct node *nd);

/* Partials and parents: standalone ones indent every line of what they pull in; inline ones
 * start from no indentation, as the spec indents only standalone tags. */
static void
render_expand(struct render *r, const struct node *nd)
{
	const char *name = nd->text, *saved_indent = r->indent, *saved_file = r->file;
	struct pcache *pc;
	char *indent = NULL;

	if (nd->dynamic) {
		json_t *v = render_lookup(r, nd);
		if (!json_is_string(v))
			return;
		name = json_string_value(v);
	}
	pc = render_partial(r, name, nd);
	if (pc == NULL || pc->t == NULL)
		return;
	if (r->depth >= MUSTACHE_MAX_DEPTH) {
		render_fail(r, nd, "partial '%s' nested deeper than %d levels", name,
			    MUSTACHE_MAX_DEPTH);
		return;
	}
	if (nd->indent)
		indent = xasprintf("%s%s", r->indent, nd->indent);
	if (nd->type == N_PARENT) {
		if (r->nframes == r->cframes) {
			r->cframes = r->cframes ? r->cframes * 2 : 8;
			r->frames = xrealloc(r->frames, r->cframes * sizeof(*r->frames));
		}
		r->frames[r->nframes++] = (struct frame){nd, r->file};
	}
	r->indent = indent ? indent : "";
	r->file = pc->name;
	r->depth++;
	render_nodes(r, pc->t->root);
	r->depth--;
	r->file = saved_file;
	r->indent = saved_indent;
	if (nd->type == N_PARENT)
		r->nframes--;
	free(indent);
}

/* A block renders the outermost parent's argument of the same name, else its own content. The
 * content had its intrinsic indentation removed when parsed; this block's indentation is added. */
static void
render_block(struct render *r, const struct node *nd)
{
	const struct node *src = nd, *kids;
	const char *saved_indent = r->indent, *saved_file = r->file;
	char *indent = NULL;

	for (size_t i = 0; i < r->nframes && src == nd; i++) {
		for (const struct node *b = r->frames[i].parent->kids; b; b = b->next) {
			if (strcmp(b->text, nd->text) == 0) {
				src = b;
				r->file = r->frames[i].file;
				break;
			}
		}
	}
	if (src != nd && r->depth >= MUSTACHE_MAX_DEPTH) {
		r->file = saved_file;
		render_fail(r, nd, "block '%s' nested deeper than %d levels", nd->text,
			    MUSTACHE_MAX_DEPTH);
		return;
	}
	kids = src->kids;
	if (nd->mode == B_INLINE) {
		if (src->bol && kids && kids->type == N_INDENT)
			kids = kids->next;
	} else {
		indent = xasprintf("%s%s", r->indent, nd->indent);
		r->indent = indent;
		if (!src->bol && kids)
			render_emit(r, indent, strlen(indent));
	}
	r->depth += src != nd;
	render_nodes(r, kids);
	r->depth -= src != nd;
	r->indent = saved_indent;
	r->file = saved_file;
	free(indent);
}

/* Lists iterate, other truthy values become the context once, inverted sections negate. */
static void
render_section(struct render *r, const struct node *nd)
{
	json_t *v = render_lookup(r, nd);

	if (nd->type == N_INVERTED) {
		if (!mustache_truthy(v))
			render_nodes(r, nd->kids);
	} else if (json_is_array(v)) {
		for (size_t i = 0; i < json_array_size(v) && !r->failed; i++) {
			render_push(r, json_array_get(v, i));
			render_nodes(r, nd->kids);
			r->nctx--;
		}
	} else if (mustache_truthy(v)) {
		render_push(r, v);
		render_nodes(r, nd->kids);
		r->nctx--;
	}
}

/* Stops at the first failure so an error is never followed by more output. */
static void
render_nodes(struct render *r, const struct node *nd)
{
	for (; nd && !r->failed; nd = nd->next) {
		json_t *v;
		switch (nd->type) {
		case N_TEXT:
			render_emit(r, nd->text, nd->len);
			break;
		case N_INDENT:
			render_emit(r, r->indent, strlen(r->indent));
			break;
		case N_VAR:
			if ((v = render_lookup(r, nd)) != NULL)
				render_value(r, v, nd->escape);
			break;
		case N_SECTION:
		case N_INVERTED:
			render_section(r, nd);
			break;
		case N_PARTIAL:
		case N_PARENT:
			render_expand(r, nd);
			break;
		case N_BLOCK:
			render_block(r, nd);
			break;
		}
	}
}

/* Owns all per-render state (context stack, partial cache) so templates stay immutable and
 * shareable. */
char *
mustache_render_parsed(const struct mustache_tmpl *t, json_t *data, enum mustache_escape esc,
		       unsigned flags, mustache_parsed_fn parsed, mustache_partial_fn partials,
		       void *arg, struct mustache_error *err)
{
	struct render r = {
	    .esc = esc, .flags = flags, .load = partials, .parsed = parsed, .arg = arg, .err = err};

	if (err)
		memset(err, 0, sizeof(*err));
	r.indent = r.file = "";
	render_push(&r, data ? data : json_null());
	if (t)
		render_nodes(&r, t->root);
	while (r.cache) {
		struct pcache *next = r.cache->next;
		if (!r.cache->borrowed)
			mustache_free(r.cache->t);
		free(r.cache->name);
		free(r.cache);
		r.cache = next;
	}
	free(r.ctx);
	free(r.frames);
	if (r.failed) {
		free(r.out);
		return NULL;
	}
	if (r.out == NULL)
		return xstrdup("");
	r.out[r.len] = '\0';
	return r.out;
}

/* Partials from the text loader alone, parsed in each render. */
char *
mustache_render_flags(const struct mustache_tmpl *t, json_t *data, enum mustache_escape esc,
		      unsigned flags, mustache_partial_fn partials, void *arg,
		      struct mustache_error *err)
{
	return mustache_render_parsed(t, data, esc, flags, NULL, partials, arg, err);
}

/* The spec behaviour: unknown partials render as "". */
char *
mustache_render(const struct mustache_tmpl *t, json_t *data, enum mustache_escape esc,
		mustache_partial_fn partials, void *arg, struct mustache_error *err)
{
	return mustache_render_flags(t, data, esc, 0, partials, arg, err);
}
struct check {
	mustache_partial_fn load;
	void *arg;
	struct mustache_error *err;
	char **seen;
	size_t nseen;
	int failed;
};

/* Visits each distinct partial once, so recursive partials terminate. */
static void
check_nodes(struct check *c, const struct node *nd, const char *file, int depth)
{
	for (; nd && !c->failed; nd = nd->next) {
		size_t i;
		if ((nd->type == N_PARTIAL || nd->type == N_PARENT) && !nd->dynamic) {
			for (i = 0; i < c->nseen && strcmp(c->seen[i], nd->text) != 0; i++)
				;
			if (i == c->nseen) {
				struct mustache_error perr;
				struct mustache_tmpl *t;
				char *text = c->load ? c->load(nd->text, c->arg) : NULL;

				c->seen = xrealloc(c->seen, (c->nseen + 1) * sizeof(char *));
				c->seen[c->nseen++] = xstrdup(nd->text);
				if (text == NULL) {
					mustache_seterr(c->err, file, nd->line, nd->col,
							"unknown partial '%s'", nd->text);
					c->failed = 1;
					return;
				}
				t = mustache_parse(text, &perr);
				free(text);
				if (t == NULL) {
					mustache_seterr(c->err, nd->text, perr.line, perr.col, "%s",
							perr.message);
					c->failed = 1;
					return;
				}
				if (depth < MUSTACHE_MAX_DEPTH)
					check_nodes(c, t->root, nd->text, depth + 1);
				mustache_free(t);
			}
		}
		check_nodes(c, nd->kids, file, depth);
	}
}

/* Static counterpart of MUSTACHE_STRICT_PARTIALS for config checks. */
int
mustache_check_partials(const struct mustache_tmpl *t, mustache_partial_fn partials, void *arg,
			struct mustache_error *err)
{
	struct check c = {.load = partials, .arg = arg, .err = err};

	if (err)
		memset(err, 0, sizeof(*err));
	if (t)
		check_nodes(&c, t->root, "", 0);
	for (size_t i = 0; i < c.nseen; i++)
		free(c.seen[i]);
	free(c.seen);
	return c.failed ? -1 : 0;
}
