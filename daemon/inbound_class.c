/*
 * The classification of one inbound message as an object: its kinds' names, its recipients,
 * the small text helpers the classifier's three files share (UTF-8, addresses). Here so that
 * inbound_classify.c, inbound_bounce.c and inbound_reply.c each use it, not one another.
 */
#include <ctype.h>
#include <glib.h>
#include <string.h>

#include "inbound_classify.h"
#include "inbound_int.h"
#include "util.h"

static const char *const inbound_kind_names[] = {
    [INBOUND_OTHER] = "other",		 [INBOUND_BOUNCE] = "bounce",
    [INBOUND_DELAY] = "delay",		 [INBOUND_COMPLAINT] = "complaint",
    [INBOUND_AUTO_REPLY] = "auto_reply", [INBOUND_REPLY] = "reply",
};

const char *
inbound_kind_name(enum inbound_kind k)
{
	if ((size_t)k >= NT_ARRAY_LEN(inbound_kind_names))
		return "other";
	return inbound_kind_names[k];
}

int
inbound_kind_parse(const char *name)
{
	for (size_t i = 0; i < NT_ARRAY_LEN(inbound_kind_names); i++)
		if (name != NULL && strcmp(name, inbound_kind_names[i]) == 0)
			return (int)i;
	return -1;
}

void
inbound_class_free(struct inbound_class *c)
{
	if (c == NULL)
		return;
	for (size_t i = 0; i < c->nrcpts; i++) {
		free(c->rcpts[i].address);
		free(c->rcpts[i].status);
		free(c->rcpts[i].action);
		free(c->rcpts[i].diagnostic);
	}
	free(c->rcpts);
	inbound_strv_free(c->references);
	inbound_strv_free(c->to_addrs);
	free(c->message_id);
	free(c->orig_message_id);
	free(c->from);
	free(c->subject);
	free(c->feedback_type);
	free(c->text);
	memset(c, 0, sizeof(*c));
}

void
inbound_strv_free(char **v)
{
	for (size_t i = 0; v != NULL && v[i] != NULL; i++)
		free(v[i]);
	free(v);
}

/* Appends S (taken) to the NULL-ended vector *V of *N, unless it is there already. */
void
inbound_strv_add(char ***v, size_t *n, char *s)
{
	for (size_t i = 0; i < *n; i++)
		if (strcmp((*v)[i], s) == 0) {
			free(s);
			return;
		}
	*v = xrealloc(*v, (*n + 2) * sizeof(char *));
	(*v)[(*n)++] = s;
	(*v)[*n] = NULL;
}

/* A copy of S that is valid UTF-8 (invalid bytes replaced), malloc'd. */
char *
inbound_utf8(const char *s, size_t len)
{
	if (s == NULL || len == 0)
		return xstrdup("");
	gchar *g = g_utf8_make_valid(s, (gssize)len);
	char *out = xstrdup(g ? g : "");
	g_free(g);
	return out;
}

/* ADDR lowercased without <> and spaces (malloc'd), or NULL when it is no addr-spec. */
char *
inbound_addr_norm(const char *addr)
{
	const char *b, *e;
	char *out;

	if (addr == NULL)
		return NULL;
	while (isspace((unsigned char)*addr) || *addr == '<')
		addr++;
	b = addr;
	e = b + strlen(b);
	while (e > b && (isspace((unsigned char)e[-1]) || e[-1] == '>' || e[-1] == '.' ||
			 e[-1] == ';' || e[-1] == ','))
		e--;
	if (e == b || memchr(b, '@', e - b) == NULL || e - b > 320)
		return NULL;
	out = xstrndup(b, e - b);
	for (char *p = out; *p; p++) {
		if (isspace((unsigned char)*p) || *p == '<' || *p == '>' || *p == '"') {
			free(out);
			return NULL;
		}
		*p = (char)tolower((unsigned char)*p);
	}
	if (out[0] == '@' || out[strlen(out) - 1] == '@') {
		free(out);
		return NULL;
	}
	return out;
}

void
inbound_class_add_rcpt(struct inbound_class *c, const char *address, const char *status,
		       const char *action, int hard, const char *diagnostic)
{
	size_t i = c->nrcpts;
	if (inbound_rcpt_add(c, inbound_addr_norm(address), status ? xstrdup(status) : NULL,
			     action ? xstrdup(action) : NULL,
			     diagnostic ? inbound_utf8(diagnostic, strlen(diagnostic)) : NULL) == 0)
		c->rcpts[i].hard = hard;
}

void
inbound_class_add_to(struct inbound_class *c, const char *address)
{
	size_t n = 0;
	char *a = inbound_addr_norm(address);
	while (c->to_addrs && c->to_addrs[n])
		n++;
	if (a != NULL)
		inbound_strv_add(&c->to_addrs, &n, a);
}

/* Adds a recipient to C (all strings taken); 0, or -1 when C is full. */
int
inbound_rcpt_add(struct inbound_class *c, char *address, char *status, char *action,
		 char *diagnostic)
{
	if (c->nrcpts >= INBOUND_MAX_RCPTS) {
		c->truncated = 1;
		free(address);
		free(status);
		free(action);
		free(diagnostic);
		return -1;
	}
	if ((c->nrcpts & (c->nrcpts - 1)) == 0)
		c->rcpts = xrealloc(c->rcpts, (c->nrcpts ? c->nrcpts * 2 : 1) * sizeof(*c->rcpts));
	struct inbound_rcpt *r = &c->rcpts[c->nrcpts++];
	r->address = address;
	r->status = status;
	r->action = action;
	r->diagnostic = diagnostic;
	r->hard = 0;
	return 0;
}
