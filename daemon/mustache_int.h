/* Private to daemon/mustache_*.c: the parsed template tree shared by the parser and renderer. */
#ifndef NURTURED_MUSTACHE_INT_H
#define NURTURED_MUSTACHE_INT_H

#include "mustache.h"

enum ntype { N_TEXT, N_INDENT, N_VAR, N_SECTION, N_INVERTED, N_PARTIAL, N_PARENT, N_BLOCK };

/* How a block pair sits on its line: inline, opening tag alone on its line (intrinsic
 * indentation), or opening and closing tag sharing one otherwise blank line (pair indentation). */
enum bmode { B_INLINE, B_LINE, B_PAIR };

struct node {
	enum ntype type;
	struct node *next;
	struct node *kids; /* section body, parent's argument blocks, block content */
	char *text;	   /* N_TEXT bytes, else the tag name */
	size_t len;
	char **parts; /* dotted name for lookups; 0 parts means "." */
	int nparts;
	char *indent; /* standalone partial/parent whitespace, block indentation; NULL if inline */
	enum bmode mode;
	int escape, dynamic, bol, line, col;
};

struct mustache_tmpl {
	struct node *root;
};

/* Fills ERR (may be NULL) the same way for parse and render failures. */
void mustache_seterr(struct mustache_error *err, const char *file, int line, int col,
		     const char *fmt, ...) __attribute__((format(printf, 5, 6)));

#endif
