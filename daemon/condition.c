#include "condition.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "duration.h"
#include "util.h"
#include "validate.h"

enum cond_kind { COND_FIELD, COND_ALL, COND_ANY, COND_NOT, COND_COUNT };

enum cond_op {
	OP_EQ,
	OP_NE,
	OP_LT,
	OP_LTE,
	OP_GT,
	OP_GTE,
	OP_IN,
	OP_CONTAINS,
	OP_EXISTS,
};

/* Operator names in enum order; the first six also apply to counts. */
static const char *const cond_op_names[] = {"eq",  "ne", "lt",	     "lte",   "gt",
					    "gte", "in", "contains", "exists"};
#define COND_N_OPS NT_ARRAY_LEN(cond_op_names)
#define COND_N_COUNT_OPS 6

struct cond {
	enum cond_kind kind;
	enum cond_op op;
	char *field;   /* field: the dotted path */
	json_t *value; /* field and count: the operand, owned */
	char *ref;     /* field: the operand is the journey's value at this path ("journey.key") */
	struct cond **kids; /* all, any: N_KIDS; not: one */
	size_t n_kids;
	char *event; /* count */
	int64_t within_ms;
	struct cond *where;
};

/* The shapes a condition object can take, told apart by one key each. */
static const char *const cond_shapes[] = {"field", "all", "any", "not", "count"};

struct cond_compiler {
	struct diag *d;
	const char *what; /* prefix for messages, or NULL */
	int failed;
};

/* Every compile error goes through here, so that each names its campaign and step alike. */
static void __attribute__((format(printf, 3, 4)))
cond_error(struct cond_compiler *cc, const char *path, const char *fmt, ...)
{
	va_list ap;
	char *body;

	va_start(ap, fmt);
	if (vasprintf(&body, fmt, ap) < 0)
		body = NULL;
	va_end(ap);
	if (cc->what != NULL)
		diag_add(cc->d, path, "%s: %s", cc->what, body ? body : "?");
	else
		diag_add(cc->d, path, "%s", body ? body : "?");
	free(body);
	cc->failed = 1;
}

/* jsonpos paths: "a.b" below an object, "" standing for the document itself. */
static char *
cond_subpath(const char *path, const char *key)
{
	return *path ? xasprintf("%s.%s", path, key) : xstrdup(key);
}

/* Checked at load time, so that a typo in a path is an error rather than a silent false. */
const char *
cond_check_path(const char *path)
{
	static const char *const roots[] = {"customer.", "event.", "journey."};
	size_t i, n = strlen(path);
	const char *p;

	for (i = 0; i < NT_ARRAY_LEN(roots); i++)
		if (strncmp(path, roots[i], strlen(roots[i])) == 0)
			break;
	if (i == NT_ARRAY_LEN(roots))
		return "must start with \"customer.\", \"event.\" or \"journey.\"";
	if (n > 256)
		return "is longer than 256 characters";
	for (p = path; *p; p++) {
		if (*p == '.' && (p[1] == '.' || p[1] == '\0'))
			return "has an empty segment";
		if ((unsigned char)*p <= 0x20 || *p == 0x7f)
			return "contains a blank or control character";
	}
	return NULL;
}

/* What eq, ne, in and contains compare with; null is absence, tested with "exists". */
static int
cond_is_scalar(const json_t *v)
{
	return json_is_string(v) || json_is_number(v) || json_is_boolean(v);
}

/* The operator named KEY among the first LIMIT, or -1. */
static int
cond_op_find(const char *key, size_t limit)
{
	for (size_t i = 0; i < limit; i++)
		if (strcmp(key, cond_op_names[i]) == 0)
			return (int)i;
	return -1;
}

/* "trigger." and a path as conditions take it (checked as "event." would be). */
static int
cond_trigger_path(const char *r)
{
	if (strncmp(r, "trigger.", 8) != 0)
		return 0;
	char *as_event = xasprintf("event.%s", r + 8);
	int ok = cond_check_path(as_event) == NULL;
	free(as_event);
	return ok;
}

/*
 * A journey reference as an operand: {"journey": "key"} (the journey's key) or
 * {"journey": "trigger.PATH"} (a field of the event that started it, e.g.
 * "trigger.properties.order_id"). Returns the path to look up ("journey.key",
 * "journey.trigger.properties.order_id"), or NULL after an error; *IS_REF 0 when V is no
 * reference at all.
 */
static char *
cond_journey_ref(struct cond_compiler *cc, json_t *v, const char *path, int *is_ref)
{
	json_t *ref = json_object_get(v, "journey");
	const char *r = json_string_value(ref);

	*is_ref = json_is_object(v) && ref != NULL;
	if (!*is_ref)
		return NULL;
	char *sub = cond_subpath(path, "journey");
	char *full = NULL;
	if (json_object_size(v) != 1)
		cond_error(cc, path,
			   "condition: a journey reference is {\"journey\": \"key\"} or "
			   "{\"journey\": \"trigger.PATH\"}, with no other key");
	else if (r == NULL || strlen(r) != json_string_length(ref) ||
		 (strcmp(r, "key") != 0 && !cond_trigger_path(r)))
		cond_error(cc, sub,
			   "condition: 'journey' must be \"key\" (the journey's key) or "
			   "\"trigger.PATH\" (a field of its trigger event, e.g. "
			   "\"trigger.properties.order_id\")");
	else
		full = xasprintf("journey.%s", r);
	free(sub);
	return full;
}

/* Checks an operand against what its operator can use; the literal's type never changes later. */
static int
cond_check_operand(struct cond_compiler *cc, enum cond_op op, json_t *v, const char *path)
{
	size_t i;
	json_t *e;

	if (json_is_object(v) && json_object_get(v, "journey") != NULL) {
		if (op == OP_IN || op == OP_EXISTS) {
			cond_error(cc, path,
				   "condition: '%s' cannot take a journey reference (eq, ne, lt, "
				   "lte, gt, gte and contains can)",
				   cond_op_names[op]);
			return -1;
		}
		return 0; /* its form is checked when the field condition is built */
	}
	switch (op) {
	case OP_EQ:
	case OP_NE:
	case OP_CONTAINS:
		if (!cond_is_scalar(v)) {
			cond_error(cc, path,
				   "condition: '%s' takes a string, number or boolean, not %s",
				   cond_op_names[op], diag_type_name(v));
			return -1;
		}
		return 0;
	case OP_LT:
	case OP_LTE:
	case OP_GT:
	case OP_GTE:
		if (!json_is_number(v) && !json_is_string(v)) {
			cond_error(cc, path, "condition: '%s' takes a number or a string, not %s",
				   cond_op_names[op], diag_type_name(v));
			return -1;
		}
		return 0;
	case OP_IN:
		if (!json_is_array(v) || json_array_size(v) == 0) {
			cond_error(cc, path, "condition: 'in' takes a non-empty array, not %s",
				   json_is_array(v) ? "an empty one" : diag_type_name(v));
			return -1;
		}
		json_array_foreach(v, i, e)
		{
			if (cond_is_scalar(e))
				continue;
			char *sub = xasprintf("%s[%zu]", path, i);
			cond_error(cc, sub,
				   "condition: the values of 'in' must be strings, numbers or "
				   "booleans, not %s",
				   diag_type_name(e));
			free(sub);
			return -1;
		}
		return 0;
	case OP_EXISTS:
		if (!json_is_boolean(v)) {
			cond_error(cc, path, "condition: 'exists' takes true or false, not %s",
				   diag_type_name(v));
			return -1;
		}
		return 0;
	}
	return -1;
}

static struct cond *cond_compile_rec(struct cond_compiler *cc, json_t *spec, const char *path,
				     int depth);

/*
 * Finds the one operator key of a field or count condition; LIMIT is how many operators apply.
 * Keys other than SHAPE are operators or errors. Returns the operator or -1.
 */
static int
cond_compile_op(struct cond_compiler *cc, json_t *spec, const char *path, const char *shape,
		size_t limit, json_t **operand)
{
	const char *key, *seen = NULL;
	json_t *v;
	int op = -1;

	json_object_foreach(spec, key, v)
	{
		if (strcmp(key, shape) == 0)
			continue;
		char *sub = cond_subpath(path, key);
		int k = cond_op_find(key, limit);
		if (k < 0 && cond_op_find(key, COND_N_OPS) >= 0)
			cond_error(cc, sub, "condition: operator '%s' does not apply to a count",
				   key);
		else if (k < 0)
			cond_error(cc, sub, "condition: unknown operator '%s' (expected %s)", key,
				   limit == COND_N_OPS
				       ? "eq, ne, lt, lte, gt, gte, in, contains or exists"
				       : "eq, ne, lt, lte, gt or gte");
		else if (seen != NULL)
			cond_error(cc, sub,
				   "condition: both '%s' and '%s' in one condition; combine "
				   "them with \"all\"",
				   seen, key);
		else {
			seen = cond_op_names[k];
			if (cond_check_operand(cc, (enum cond_op)k, v, sub) == 0) {
				op = k;
				*operand = v;
			}
		}
		free(sub);
	}
	if (seen == NULL && json_object_size(spec) == 1) {
		char *sub = cond_subpath(path, shape);
		cond_error(cc, sub, "condition: no operator (expected one of %s)",
			   limit == COND_N_OPS ? "eq, ne, lt, lte, gt, gte, in, contains, exists"
					       : "eq, ne, lt, lte, gt, gte");
		free(sub);
	}
	return op;
}

/* {"field": PATH, OP: VALUE} */
static struct cond *
cond_compile_field(struct cond_compiler *cc, json_t *spec, const char *path)
{
	json_t *f = json_object_get(spec, "field"), *operand = NULL;
	char *fpath = cond_subpath(path, "field");
	const char *why = NULL;
	int op;

	if (!json_is_string(f))
		cond_error(cc, fpath, "condition: 'field' must be a string path, not %s",
			   diag_type_name(f));
	else if (strlen(json_string_value(f)) != json_string_length(f) ||
		 (why = cond_check_path(json_string_value(f))) != NULL)
		cond_error(cc, fpath, "condition: field '%s' %s", json_string_value(f),
			   why ? why : "contains a NUL character");
	free(fpath);
	op = cond_compile_op(cc, spec, path, "field", COND_N_OPS, &operand);
	if (op < 0 || !json_is_string(f) || why != NULL)
		return NULL;
	int is_ref;
	char *opath = cond_subpath(path, cond_op_names[op]);
	char *ref = cond_journey_ref(cc, operand, opath, &is_ref);
	free(opath);
	if (is_ref && ref == NULL)
		return NULL;
	struct cond *c = xcalloc(1, sizeof(*c));
	c->kind = COND_FIELD;
	c->op = (enum cond_op)op;
	c->field = xstrdup(json_string_value(f));
	c->value = json_incref(operand);
	c->ref = ref;
	return c;
}

/* {"count": {"event": TYPE, "within": DURATION, "where": C?}, OP: NUMBER} */
static struct cond *
cond_compile_count(struct cond_compiler *cc, json_t *spec, const char *path, int depth)
{
	json_t *cnt = json_object_get(spec, "count"), *operand = NULL, *v;
	char *cpath = cond_subpath(path, "count");
	struct cond *c = xcalloc(1, sizeof(*c));
	const char *key;
	int op, before = cc->failed;

	cc->failed = 0;
	c->kind = COND_COUNT;
	if (!json_is_object(cnt))
		cond_error(cc, cpath,
			   "condition: 'count' must be an object {\"event\": ..., \"within\": "
			   "...}, not %s",
			   diag_type_name(cnt));
	else {
		json_object_foreach(cnt, key, v)
		{
			char *sub = cond_subpath(cpath, key);
			if (strcmp(key, "event") == 0) {
				if (!json_is_string(v) ||
				    !validate_event_type(json_string_value(v)))
					cond_error(cc, sub,
						   "condition: count 'event' must be an event type "
						   "(1 to 64 of a-z 0-9 _ . : -, starting with a "
						   "letter)");
				else
					c->event = xstrdup(json_string_value(v));
			} else if (strcmp(key, "within") == 0) {
				if (!json_is_string(v) ||
				    duration_parse(json_string_value(v), 0, &c->within_ms) < 0 ||
				    c->within_ms <= 0)
					cond_error(cc, sub,
						   "condition: count 'within' must be a positive "
						   "duration like \"30d\"");
			} else if (strcmp(key, "where") == 0)
				c->where = cond_compile_rec(cc, v, sub, depth + 1);
			else
				cond_error(
				    cc, sub,
				    "condition: unknown key '%s' in 'count' (expected event, "
				    "within, where)",
				    key);
			free(sub);
		}
		if (json_object_get(cnt, "event") == NULL)
			cond_error(cc, cpath, "condition: 'count' needs an 'event'");
		if (json_object_get(cnt, "within") == NULL)
			cond_error(cc, cpath, "condition: 'count' needs 'within'");
	}
	free(cpath);
	op = cond_compile_op(cc, spec, path, "count", COND_N_COUNT_OPS, &operand);
	if (op >= 0 && !json_is_number(operand)) {
		char *sub = cond_subpath(path, cond_op_names[op]);
		cond_error(cc, sub, "condition: a count compares with a number, not %s",
			   diag_type_name(operand));
		free(sub);
	}
	if (cc->failed || op < 0) {
		cc->failed = 1;
		cond_free(c);
		return NULL;
	}
	cc->failed = before;
	c->op = (enum cond_op)op;
	c->value = json_incref(operand);
	return c;
}

/* {"all": [...]} and {"any": [...]}: every member is compiled, to report all problems. */
static struct cond *
cond_compile_list(struct cond_compiler *cc, json_t *spec, const char *path, const char *shape,
		  int depth)
{
	json_t *list = json_object_get(spec, shape), *v;
	char *lpath = cond_subpath(path, shape);
	const char *key;
	struct cond *c = NULL;
	size_t i;
	int ok = 1;

	json_object_foreach(spec, key, v)
	{
		if (strcmp(key, shape) == 0)
			continue;
		char *sub = cond_subpath(path, key);
		cond_error(cc, sub, "condition: unknown key '%s' next to '%s'", key, shape);
		free(sub);
		ok = 0;
	}
	if (!json_is_array(list) || json_array_size(list) == 0) {
		cond_error(cc, lpath,
			   "condition: '%s' takes a non-empty array of conditions, not %s", shape,
			   json_is_array(list) ? "an empty one" : diag_type_name(list));
		free(lpath);
		return NULL;
	}
	c = xcalloc(1, sizeof(*c));
	c->kind = strcmp(shape, "all") == 0 ? COND_ALL : COND_ANY;
	c->kids = xcalloc(json_array_size(list), sizeof(*c->kids));
	json_array_foreach(list, i, v)
	{
		char *sub = xasprintf("%s[%zu]", lpath, i);
		c->kids[c->n_kids] = cond_compile_rec(cc, v, sub, depth + 1);
		if (c->kids[c->n_kids] != NULL)
			c->n_kids++;
		else
			ok = 0;
		free(sub);
	}
	free(lpath);
	if (!ok) {
		cond_free(c);
		return NULL;
	}
	return c;
}

/* {"not": C} */
static struct cond *
cond_compile_not(struct cond_compiler *cc, json_t *spec, const char *path, int depth)
{
	char *sub = cond_subpath(path, "not");
	const char *key;
	json_t *v;
	struct cond *kid;
	int ok = 1;

	json_object_foreach(spec, key, v)
	{
		if (strcmp(key, "not") == 0)
			continue;
		char *k = cond_subpath(path, key);
		cond_error(cc, k, "condition: unknown key '%s' next to 'not'", key);
		free(k);
		ok = 0;
	}
	kid = cond_compile_rec(cc, json_object_get(spec, "not"), sub, depth + 1);
	free(sub);
	if (kid == NULL || !ok) {
		cond_free(kid);
		return NULL;
	}
	struct cond *c = xcalloc(1, sizeof(*c));
	c->kind = COND_NOT;
	c->kids = xcalloc(1, sizeof(*c->kids));
	c->kids[0] = kid;
	c->n_kids = 1;
	return c;
}

/* Tells the shapes apart by their key, then hands over; one shape key per object. */
static struct cond *
cond_compile_rec(struct cond_compiler *cc, json_t *spec, const char *path, int depth)
{
	const char *shape = NULL, *key;
	json_t *v;

	if (depth > COND_MAX_DEPTH) {
		cond_error(cc, path, "condition: nested more than %d levels deep", COND_MAX_DEPTH);
		return NULL;
	}
	if (!json_is_object(spec)) {
		cond_error(cc, path, "condition: must be an object, not %s", diag_type_name(spec));
		return NULL;
	}
	json_object_foreach(spec, key, v)
	{
		for (size_t i = 0; i < NT_ARRAY_LEN(cond_shapes); i++)
			if (strcmp(key, cond_shapes[i]) == 0) {
				if (shape != NULL) {
					char *sub = cond_subpath(path, key);
					cond_error(cc, sub,
						   "condition: both '%s' and '%s' in one object; "
						   "nest them in \"all\" or \"any\"",
						   shape, key);
					free(sub);
					return NULL;
				}
				shape = cond_shapes[i];
			}
	}
	if (shape == NULL) {
		if (json_object_size(spec) == 0) {
			cond_error(cc, path,
				   "condition: empty (expected field, all, any, not or count)");
			return NULL;
		}
		json_object_foreach(spec, key, v)
		{
			char *sub = cond_subpath(path, key);
			if (cond_op_find(key, COND_N_OPS) >= 0)
				cond_error(cc, sub, "condition: operator '%s' without a 'field'",
					   key);
			else
				cond_error(cc, sub,
					   "condition: unknown key '%s' (expected field, all, any, "
					   "not or count)",
					   key);
			free(sub);
		}
		return NULL;
	}
	if (strcmp(shape, "field") == 0)
		return cond_compile_field(cc, spec, path);
	if (strcmp(shape, "count") == 0)
		return cond_compile_count(cc, spec, path, depth);
	if (strcmp(shape, "not") == 0)
		return cond_compile_not(cc, spec, path, depth);
	return cond_compile_list(cc, spec, path, shape, depth);
}

/* The entry point with a prefix: campaigns name themselves and their step in every message. */
struct cond *
cond_compile_in(json_t *spec, const char *path, const char *what, struct diag *d)
{
	struct cond_compiler cc = {.d = d, .what = what};
	struct cond *c = cond_compile_rec(&cc, spec, path ? path : "", 0);

	/* A member may fail while its parent survives: any failure fails the whole. */
	if (cc.failed) {
		cond_free(c);
		return NULL;
	}
	return c;
}

/* For callers without a campaign around the condition (tests, tools). */
struct cond *
cond_compile(json_t *spec, const char *path, struct diag *d)
{
	return cond_compile_in(spec, path, NULL, d);
}

int
cond_uses_journey(const struct cond *c, const char *what)
{
	if (c == NULL)
		return 0;
	if (c->ref != NULL && (what == NULL || strcmp(c->ref + strlen("journey."), what) == 0))
		return 1;
	for (size_t i = 0; i < c->n_kids; i++)
		if (cond_uses_journey(c->kids[i], what))
			return 1;
	return cond_uses_journey(c->where, what);
}

/* Frees the whole tree, NULL included, so that half-built trees free the same way. */
void
cond_free(struct cond *c)
{
	if (c == NULL)
		return;
	for (size_t i = 0; i < c->n_kids; i++)
		cond_free(c->kids[i]);
	free(c->kids);
	free(c->field);
	free(c->ref);
	free(c->event);
	json_decref(c->value);
	cond_free(c->where);
	free(c);
}

/* A whole segment of digits, no sign, no leading zero: an array index. */
static int
cond_index(const char *s, size_t n, size_t *out)
{
	size_t v = 0;
	if (n == 0 || n > 9 || (n > 1 && s[0] == '0'))
		return -1;
	for (size_t i = 0; i < n; i++) {
		if (s[i] < '0' || s[i] > '9')
			return -1;
		v = v * 10 + (size_t)(s[i] - '0');
	}
	*out = v;
	return 0;
}

/* Walks without copying: paths are evaluated for every event of every journey. */
json_t *
cond_lookup(json_t *root, const char *path)
{
	json_t *v = root;
	const char *p = path;

	if (root == NULL || path == NULL)
		return NULL;
	while (v != NULL) {
		size_t n = strcspn(p, "."), idx;
		if (json_is_object(v))
			v = json_object_getn(v, p, n);
		else if (json_is_array(v) && cond_index(p, n, &idx) == 0)
			v = json_array_get(v, idx);
		else
			return NULL;
		if (p[n] == '\0')
			return v;
		p += n + 1;
	}
	return NULL;
}

/* The three-way order of two values: 0 when comparable (*ORD set), -1 for mismatched types. */
static int
cond_compare(const json_t *a, const json_t *b, int *ord)
{
	if (json_is_integer(a) && json_is_integer(b)) {
		json_int_t x = json_integer_value(a), y = json_integer_value(b);
		*ord = (x > y) - (x < y);
		return 0;
	}
	if (json_is_number(a) && json_is_number(b)) {
		double x = json_number_value(a), y = json_number_value(b);
		*ord = (x > y) - (x < y);
		return 0;
	}
	if (json_is_string(a) && json_is_string(b)) {
		size_t la = json_string_length(a), lb = json_string_length(b);
		int r = memcmp(json_string_value(a), json_string_value(b), la < lb ? la : lb);
		*ord = r != 0 ? (r > 0) - (r < 0) : (la > lb) - (la < lb);
		return 0;
	}
	return -1;
}

/* Equality as conditions mean it: 1 equal, 0 different, -1 mismatched types (never equal). */
static int
cond_same(const json_t *a, const json_t *b)
{
	int ord;
	if (cond_compare(a, b, &ord) == 0)
		return ord == 0;
	if (json_is_boolean(a) && json_is_boolean(b))
		return json_is_true(a) == json_is_true(b);
	return -1;
}

/* Applies an ordering or equality operator to a present value. */
static int
cond_apply(enum cond_op op, const json_t *v, const json_t *operand)
{
	int ord;
	size_t i;
	json_t *e;

	switch (op) {
	case OP_EQ:
		return cond_same(v, operand) == 1;
	case OP_NE:
		/* Mismatched types are false here too: "ne" never matches a string against 3. */
		return cond_same(v, operand) == 0;
	case OP_LT:
		return cond_compare(v, operand, &ord) == 0 && ord < 0;
	case OP_LTE:
		return cond_compare(v, operand, &ord) == 0 && ord <= 0;
	case OP_GT:
		return cond_compare(v, operand, &ord) == 0 && ord > 0;
	case OP_GTE:
		return cond_compare(v, operand, &ord) == 0 && ord >= 0;
	case OP_IN:
		json_array_foreach(operand, i, e)
		{
			if (cond_same(v, e) == 1)
				return 1;
		}
		return 0;
	case OP_CONTAINS:
		if (json_is_string(v) && json_is_string(operand))
			return memmem(json_string_value(v), json_string_length(v),
				      json_string_value(operand),
				      json_string_length(operand)) != NULL;
		if (json_is_array(v))
			json_array_foreach(v, i, e)
			{
				if (cond_same(e, operand) == 1)
					return 1;
			}
		return 0;
	case OP_EXISTS:
		break;
	}
	return 0;
}

/* Total over any context: missing parts of ROOT are absent fields, never a crash. */
int
cond_eval(const struct cond *c, const struct cond_ctx *ctx)
{
	json_t *v;
	long n;

	if (c == NULL)
		return 1;
	switch (c->kind) {
	case COND_ALL:
		for (size_t i = 0; i < c->n_kids; i++)
			if (!cond_eval(c->kids[i], ctx))
				return 0;
		return 1;
	case COND_ANY:
		for (size_t i = 0; i < c->n_kids; i++)
			if (cond_eval(c->kids[i], ctx))
				return 1;
		return 0;
	case COND_NOT:
		return !cond_eval(c->kids[0], ctx);
	case COND_COUNT:
		if (ctx == NULL || ctx->count == NULL)
			return 0;
		n = ctx->count(c->event, c->within_ms, c->where, ctx->count_arg);
		if (n < 0)
			return 0;
		json_t *nv = json_integer(n);
		int r = cond_apply(c->op, nv, c->value);
		json_decref(nv);
		return r;
	case COND_FIELD:
		v = cond_lookup(ctx ? ctx->root : NULL, c->field);
		if (json_is_null(v))
			v = NULL; /* null is absence: customers' cleared fields are null */
		if (c->op == OP_EXISTS)
			return (v != NULL) == json_is_true(c->value);
		/* An absent field matches nothing, not even "ne" (wrap "eq" in "not" for that). */
		if (c->ref == NULL)
			return v != NULL && cond_apply(c->op, v, c->value);
		/* A journey reference: the journey's value, when there is one, is the operand. */
		json_t *operand = cond_lookup(ctx ? ctx->root : NULL, c->ref);
		return v != NULL && cond_is_scalar(operand) && cond_apply(c->op, v, operand);
	}
	return 0;
}
