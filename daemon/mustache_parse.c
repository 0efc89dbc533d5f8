/* Mustache parsing in three passes: lex into tokens (tracking set-delimiters), pair tags and decide
 * which are standalone (trimming the text around them), then build a tree in which INDENT nodes
 * mark every surviving source line start, so that partial and block indentation is applied at
 * render time without re-parsing. */
#include "mustache_int.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util.h"

struct tok {
	char text;  /* 1 for literal text, 0 for a tag */
	char sigil; /* 0 for a variable, else one of #^/!><$&{= */
	char dynamic, lclear, rclear, lstrip, in_parent;
	enum bmode mode;
	size_t s, e;   /* whole token */
	size_t ns, ne; /* tag name */
	size_t ts, te; /* text kept after standalone trimming */
	size_t ws;     /* start of the blank run left of a tag */
	size_t rend;   /* just past the blank run and line end right of a tag */
	int line, col;
};

struct parser {
	const char *src;
	size_t n;
	struct tok *toks;
	size_t ntok, ctok;
	struct mustache_error *err;
	size_t lpos, lstart; /* line tracking for positions */
	int line;
};

struct level {
	struct node *node;
	struct node **tail;
	size_t dedent;
};

/* One formatter for every error, so parse and render failures read alike. */
void
mustache_seterr(struct mustache_error *err, const char *file, int line, int col, const char *fmt,
		...)
{
	va_list ap;

	if (err == NULL)
		return;
	va_start(ap, fmt);
	vsnprintf(err->message, sizeof(err->message), fmt, ap);
	va_end(ap);
	snprintf(err->file, sizeof(err->file), "%s", file ? file : "");
	err->line = line;
	err->col = col;
}

/* Blanks are what standalone lines and indentation may consist of. */
static int
is_blank(char c)
{
	return c == ' ' || c == '\t';
}

/* Whitespace allowed around tag names and delimiters. */
static int
is_space(char c)
{
	return c == ' ' || c == '\t' || c == '\r' || c == '\n';
}

/* Positions only move forward while lexing, so line numbers cost one pass over the text. */
static void
parser_locate(struct parser *p, size_t pos, int *line, int *col)
{
	for (; p->lpos < pos; p->lpos++) {
		if (p->src[p->lpos] == '\n') {
			p->line++;
			p->lstart = p->lpos + 1;
		}
	}
	*line = p->line;
	*col = (int)(pos - p->lstart) + 1;
}

/* Tokens are addressed by index because the array moves when it grows. */
static struct tok *
parser_push(struct parser *p, int text, size_t s, size_t e)
{
	struct tok *t;

	if (p->ntok == p->ctok) {
		p->ctok = p->ctok ? p->ctok * 2 : 64;
		p->toks = xrealloc(p->toks, p->ctok * sizeof(*p->toks));
	}
	t = &p->toks[p->ntok++];
	memset(t, 0, sizeof(*t));
	t->text = (char)text;
	t->s = t->ts = s;
	t->e = t->te = e;
	return t;
}

/* Names are non-blank; dotted names additionally need non-empty parts unless they are ".". */
static int
name_valid(const char *s, size_t n, int dotted)
{
	if (n == 0)
		return 0;
	for (size_t i = 0; i < n; i++)
		if (is_space(s[i]))
			return 0;
	if (!dotted || (n == 1 && s[0] == '.'))
		return 1;
	if (s[0] == '.' || s[n - 1] == '.')
		return 0;
	for (size_t i = 1; i < n; i++)
		if (s[i] == '.' && s[i - 1] == '.')
			return 0;
	return 1;
}

/* Parses "=open close=" content; the new delimiters point into the source, which outlives lexing.
 */
static int
lex_delims(const char *src, size_t a, size_t b, const char **otag, size_t *olen, const char **ctag,
	   size_t *clen)
{
	size_t x, y;

	while (a < b && is_space(src[a]))
		a++;
	while (b > a && is_space(src[b - 1]))
		b--;
	for (x = a; x < b && !is_space(src[x]); x++)
		;
	for (y = x; y < b && is_space(src[y]); y++)
		;
	if (x == a || y == b || memchr(src + a, '=', x - a) || memchr(src + y, '=', b - y))
		return -1;
	for (size_t i = y; i < b; i++)
		if (is_space(src[i]))
			return -1;
	*otag = src + a;
	*olen = x - a;
	*ctag = src + y;
	*clen = b - y;
	return 0;
}

/* Finds the end of the tag whose content starts at C: "}" or "=" must precede the closing
 * delimiter for triple mustaches and delimiter changes. Returns the content end or (size_t)-1. */
static size_t
lex_close(const char *src, size_t n, size_t c, char sigil, const char *ctag, size_t clen)
{
	size_t q = c;
	const char *f;

	while (q < n && (f = memmem(src + q, n - q, ctag, clen)) != NULL) {
		size_t at = (size_t)(f - src);
		if (sigil != '{' && sigil != '=')
			return at;
		if (at > c && src[at - 1] == (sigil == '{' ? '}' : '='))
			return at - 1;
		q = at + 1;
	}
	return (size_t)-1;
}

/* Pass one: split the source into text and tags, applying delimiter changes as they come. */
static int
parser_lex(struct parser *p)
{
	const char *src = p->src, *otag = "{{", *ctag = "}}";
	size_t olen = 2, clen = 2, pos = 0, n = p->n;

	while (pos < n) {
		const char *f = memmem(src + pos, n - pos, otag, olen);
		size_t o = f ? (size_t)(f - src) : n, c, ce, a, b;
		struct tok *t;
		char sig;

		if (o > pos)
			parser_push(p, 1, pos, o);
		if (f == NULL)
			break;
		t = parser_push(p, 0, o, o);
		parser_locate(p, o, &t->line, &t->col);
		c = o + olen;
		sig = c < n ? src[c] : 0;
		if (sig != 0 && strchr("#^/!><$&{=", sig) != NULL)
			c++;
		else
			sig = 0;
		t->sigil = sig;
		ce = lex_close(src, n, c, sig, ctag, clen);
		if (ce == (size_t)-1) {
			const char *what = "unclosed tag";
			if (sig == '{' && memmem(src + c, n - c, ctag, clen))
				what = "triple mustache lacks its closing '}'";
			else if (sig == '=' && memmem(src + c, n - c, ctag, clen))
				what = "invalid delimiter change: missing closing '='";
			mustache_seterr(p->err, "", t->line, t->col, "%s", what);
			return -1;
		}
		t->e = ce + clen + (sig == '{' || sig == '=');
		pos = t->e;
		if (sig == '=') {
			if (lex_delims(src, c, ce, &otag, &olen, &ctag, &clen) < 0) {
				mustache_seterr(p->err, "", t->line, t->col,
						"invalid delimiter change: expected two delimiters "
						"without whitespace or '='");
				return -1;
			}
			continue;
		}
		if (sig == '!')
			continue;
		for (a = c, b = ce; a < b && is_space(src[a]); a++)
			;
		while (b > a && is_space(src[b - 1]))
			b--;
		if ((sig == '>' || sig == '<') && a < b && src[a] == '*') {
			t->dynamic = 1;
			for (a++; a < b && is_space(src[a]); a++)
				;
		}
		t->ns = a;
		t->ne = b;
		if (!name_valid(src + a, b - a, t->dynamic || strchr("#^&{", sig) != NULL)) {
			mustache_seterr(p->err, "", t->line, t->col, "%s tag name '%.*s'",
					a == b ? "empty" : "invalid",
					(int)(b - a > 64 ? 64 : b - a), src + a);
			return -1;
		}
	}
	return 0;
}

/* Measures the blank runs around a tag: standalone means only blanks back to the line start and
 * only blanks up to the line end. */
static void
tok_clearance(struct parser *p, struct tok *t)
{
	const char *src = p->src;
	size_t a = t->s, b = t->e;

	while (a > 0 && is_blank(src[a - 1]))
		a--;
	t->ws = a;
	t->lclear = a == 0 || src[a - 1] == '\n';
	while (b < p->n && is_blank(src[b]))
		b++;
	t->rend = b;
	if (b == p->n) {
		t->rclear = 1;
	} else if (src[b] == '\n') {
		t->rclear = 1;
		t->rend = b + 1;
	} else if (src[b] == '\r' && b + 1 < p->n && src[b + 1] == '\n') {
		t->rclear = 1;
		t->rend = b + 2;
	}
}

/* Drops the blanks left of tag I from the preceding text; they become indentation or vanish. */
static void
tok_strip_left(struct parser *p, size_t i)
{
	struct tok *t = &p->toks[i], *prev = i > 0 ? &p->toks[i - 1] : NULL;

	t->lstrip = 1;
	if (prev && prev->text && prev->te > t->ws)
		prev->te = t->ws > prev->ts ? t->ws : prev->ts;
}

/* Drops the blanks and line end right of tag I from the following text. */
static void
tok_strip_right(struct parser *p, size_t i)
{
	struct tok *t = &p->toks[i], *next = i + 1 < p->ntok ? &p->toks[i + 1] : NULL;

	if (next && next->text && next->ts < t->rend)
		next->ts = t->rend < next->te ? t->rend : next->te;
}

/* Error messages name what was left open in the author's terms. */
static const char *
tok_kind(char sigil)
{
	return sigil == '<' ? "parent" : sigil == '$' ? "block" : "section";
}

/* Pass two: match open and close tags and apply the standalone rules, including the inheritance
 * spec's: text directly inside a parent pair is ignored, so there only the side of a tag facing
 * out of the pair decides, and a pair may be standalone though neither of its tags is. */
static int
parser_pair(struct parser *p)
{
	size_t stack[MUSTACHE_MAX_NESTING];
	int sp = 0;

	for (size_t i = 0; i < p->ntok; i++) {
		struct tok *t = &p->toks[i], *o;

		if (t->text)
			continue;
		tok_clearance(p, t);
		switch (t->sigil) {
		case '#':
		case '^':
		case '<':
		case '$':
			if (sp == MUSTACHE_MAX_NESTING) {
				mustache_seterr(p->err, "", t->line, t->col,
						"more than %d nested sections",
						MUSTACHE_MAX_NESTING);
				return -1;
			}
			t->in_parent =
			    t->sigil == '$' && sp > 0 && p->toks[stack[sp - 1]].sigil == '<';
			stack[sp++] = i;
			if (t->in_parent) {
				if (t->rclear) {
					tok_strip_right(p, i);
					t->mode = B_LINE;
				}
			} else if (t->sigil != '<' && t->lclear && t->rclear) {
				tok_strip_left(p, i);
				tok_strip_right(p, i);
				t->mode = B_LINE;
			}
			break;
		case '/':
			if (sp == 0) {
				mustache_seterr(p->err, "", t->line, t->col,
						"close tag '%.*s' without an open section",
						(int)(t->ne - t->ns), p->src + t->ns);
				return -1;
			}
			o = &p->toks[stack[--sp]];
			{
				size_t ns = t->ns;
				if (o->dynamic && ns < t->ne && p->src[ns] == '*')
					for (ns++; ns < t->ne && is_space(p->src[ns]); ns++)
						;
				if (t->ne - ns != o->ne - o->ns ||
				    memcmp(p->src + ns, p->src + o->ns, t->ne - ns) != 0) {
					mustache_seterr(p->err, "", t->line, t->col,
							"close tag '%.*s' does not match %s '%.*s' "
							"opened at line %d",
							(int)(t->ne - t->ns), p->src + t->ns,
							tok_kind(o->sigil), (int)(o->ne - o->ns),
							p->src + o->ns, o->line);
					return -1;
				}
			}
			if (o->sigil == '<') {
				if (o->lclear && t->rclear) {
					tok_strip_left(p, (size_t)(o - p->toks));
					tok_strip_right(p, i);
				}
			} else if (o->in_parent) {
				if (t->lclear)
					tok_strip_left(p, i);
			} else {
				if (t->lclear && t->rclear) {
					tok_strip_left(p, i);
					tok_strip_right(p, i);
				}
				if (o->sigil == '$' && o->mode != B_LINE && o->lclear &&
				    t->rclear) {
					o->mode = B_PAIR;
					tok_strip_left(p, (size_t)(o - p->toks));
				}
			}
			break;
		case '!':
		case '=':
		case '>':
			if (t->lclear && t->rclear) {
				tok_strip_left(p, i);
				tok_strip_right(p, i);
			}
			break;
		}
	}
	if (sp > 0) {
		struct tok *o = &p->toks[stack[sp - 1]];
		mustache_seterr(p->err, "", o->line, o->col, "unclosed %s '%.*s'",
				tok_kind(o->sigil), (int)(o->ne - o->ns), p->src + o->ns);
		return -1;
	}
	return 0;
}

/* Line starts are where INDENT nodes go. */
static int
parser_bol(const struct parser *p, size_t pos)
{
	return pos == 0 || p->src[pos - 1] == '\n';
}

/* Nodes keep their tag position so render errors can point at it. */
static struct node *
node_new(enum ntype type, const struct tok *t)
{
	struct node *nd = xcalloc(1, sizeof(*nd));

	nd->type = type;
	if (t) {
		nd->line = t->line;
		nd->col = t->col;
	}
	return nd;
}

/* Pre-splits a dotted name so lookups need no allocation. */
static void
node_name(struct node *nd, const char *s, size_t n, int dotted)
{
	nd->text = xstrndup(s, n);
	nd->len = n;
	if (!dotted || strcmp(nd->text, ".") == 0)
		return;
	nd->nparts = 1;
	for (size_t i = 0; i < n; i++)
		nd->nparts += s[i] == '.';
	nd->parts = xcalloc((size_t)nd->nparts, sizeof(char *));
	for (int k = 0; k < nd->nparts; k++) {
		const char *dot = memchr(s, '.', n);
		size_t len = dot ? (size_t)(dot - s) : n;
		nd->parts[k] = xstrndup(s, len);
		s += len + 1;
		n -= dot ? len + 1 : len;
	}
}

/* Appends in source order without walking the list. */
static void
level_add(struct level *lv, struct node *nd)
{
	*lv->tail = nd;
	lv->tail = &nd->next;
}

/* Blank run [A,B) as indentation, minus what the enclosing blocks' dedent already removes. */
static char *
level_indent(const struct parser *p, const struct level *lv, size_t a, size_t b)
{
	size_t skip = b - a < lv->dedent ? b - a : lv->dedent;
	return xstrndup(p->src + a + skip, b - a - skip);
}

/* Emits kept text line by line, with an INDENT before each line start and the enclosing blocks'
 * intrinsic indentation removed there. */
static void
level_text(const struct parser *p, struct level *lv, const struct tok *t)
{
	size_t i = t->ts;

	while (i < t->te) {
		const char *nl;
		size_t e;
		struct node *nd;

		if (parser_bol(p, i)) {
			level_add(lv, node_new(N_INDENT, t));
			for (size_t k = 0; i < t->te && k < lv->dedent && is_blank(p->src[i]); k++)
				i++;
			if (i >= t->te)
				break;
		}
		nl = memchr(p->src + i, '\n', t->te - i);
		e = nl ? (size_t)(nl - p->src) + 1 : t->te;
		nd = node_new(N_TEXT, t);
		nd->text = xstrndup(p->src + i, e - i);
		nd->len = e - i;
		level_add(lv, nd);
		i = e;
	}
}

static void node_free_list(struct node *nd);

/* Keeps only the argument blocks of a parent pair; everything else inside it is ignored. */
static void
node_keep_blocks(struct node *parent)
{
	struct node **pp = &parent->kids;

	while (*pp) {
		struct node *nd = *pp;
		if (nd->type == N_BLOCK) {
			pp = &nd->next;
		} else {
			*pp = nd->next;
			nd->next = NULL;
			node_free_list(nd);
		}
	}
}

/* Pass three: turn the trimmed token stream into a tree. Cannot fail; pass two validated nesting.
 */
static struct node *
parser_tree(struct parser *p)
{
	struct level lv[MUSTACHE_MAX_NESTING + 1];
	struct node *root = NULL;
	int d = 0;

	lv[0] = (struct level){NULL, &root, 0};
	for (size_t i = 0; i < p->ntok; i++) {
		const struct tok *t = &p->toks[i];
		struct level *cur = &lv[d];
		struct node *nd = NULL;

		if (t->text) {
			level_text(p, cur, t);
			continue;
		}
		if (parser_bol(p, t->s) && !t->lstrip)
			level_add(cur, node_new(N_INDENT, t));
		switch (t->sigil) {
		case 0:
		case '&':
		case '{':
			nd = node_new(N_VAR, t);
			node_name(nd, p->src + t->ns, t->ne - t->ns, 1);
			nd->escape = t->sigil == 0;
			level_add(cur, nd);
			break;
		case '>':
		case '<':
			nd = node_new(t->sigil == '>' ? N_PARTIAL : N_PARENT, t);
			node_name(nd, p->src + t->ns, t->ne - t->ns, t->dynamic);
			nd->dynamic = t->dynamic;
			if (t->lstrip)
				nd->indent = level_indent(p, cur, t->ws, t->s);
			level_add(cur, nd);
			break;
		case '#':
		case '^':
			nd = node_new(t->sigil == '#' ? N_SECTION : N_INVERTED, t);
			node_name(nd, p->src + t->ns, t->ne - t->ns, 1);
			level_add(cur, nd);
			break;
		case '$':
			nd = node_new(N_BLOCK, t);
			node_name(nd, p->src + t->ns, t->ne - t->ns, 0);
			nd->mode = t->mode;
			nd->bol = t->mode == B_LINE;
			level_add(cur, nd);
			break;
		case '/':
			if (cur->node->type == N_PARENT)
				node_keep_blocks(cur->node);
			d--;
			break;
		}
		if (nd && (nd->type == N_SECTION || nd->type == N_INVERTED ||
			   nd->type == N_PARENT || nd->type == N_BLOCK)) {
			size_t dedent = cur->dedent;
			if (nd->type == N_BLOCK && nd->mode == B_LINE) {
				size_t b = t->rend;
				while (b < p->n && is_blank(p->src[b]))
					b++;
				nd->indent = level_indent(p, cur, t->rend, b);
				dedent += strlen(nd->indent);
			} else if (nd->type == N_BLOCK && nd->mode == B_PAIR) {
				nd->indent = level_indent(p, cur, t->ws, t->s);
			}
			d++;
			lv[d] = (struct level){nd, &nd->kids, dedent};
		}
	}
	return root;
}

/* Siblings iteratively, children recursively: depth is bounded by MUSTACHE_MAX_NESTING. */
static void
node_free_list(struct node *nd)
{
	while (nd) {
		struct node *next = nd->next;
		node_free_list(nd->kids);
		for (int k = 0; k < nd->nparts; k++)
			free(nd->parts[k]);
		free(nd->parts);
		free(nd->text);
		free(nd->indent);
		free(nd);
		nd = next;
	}
}

/* Parses once so a template can be rendered many times. */
struct mustache_tmpl *
mustache_parse(const char *text, struct mustache_error *err)
{
	struct parser p = {.src = text, .err = err, .line = 1};
	struct mustache_tmpl *t = NULL;

	if (err)
		memset(err, 0, sizeof(*err));
	if (text == NULL) {
		mustache_seterr(err, "", 0, 0, "no template text");
		return NULL;
	}
	p.n = strlen(text);
	if (parser_lex(&p) == 0 && parser_pair(&p) == 0) {
		t = xcalloc(1, sizeof(*t));
		t->root = parser_tree(&p);
	}
	free(p.toks);
	return t;
}

/* Frees the whole tree; NULL is fine. */
void
mustache_free(struct mustache_tmpl *t)
{
	if (t == NULL)
		return;
	node_free_list(t->root);
	free(t);
}
/* Walks section, block and parent bodies too: partials there are still referenced. */
static void
foreach_nodes(const struct node *nd, void (*cb)(const char *, int, int, void *), void *arg)
{
	for (; nd; nd = nd->next) {
		if ((nd->type == N_PARTIAL || nd->type == N_PARENT) && !nd->dynamic)
			cb(nd->text, nd->line, nd->col, arg);
		foreach_nodes(nd->kids, cb, arg);
	}
}

/* Lets a checker report partial names without rendering anything. */
void
mustache_foreach_partial(const struct mustache_tmpl *t,
			 void (*cb)(const char *name, int line, int col, void *arg), void *arg)
{
	if (t && cb)
		foreach_nodes(t->root, cb, arg);
}
