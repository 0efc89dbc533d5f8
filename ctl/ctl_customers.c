/* nurturectl customers (the listing, every page) and export (every customer as JSON lines). */
#include "ctl.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "jsonout.h"

/* The query for GET /v1/customers from FILTERS ("KEY=VALUE" each, VALUE escaped). */
static char *
ctl_filters_query(int n, char **filters)
{
	char *q = ctl_strdup("");

	for (int i = 0; i < n; i++) {
		const char *eq = strchr(filters[i], '=');
		if (eq == NULL || eq == filters[i])
			ctl_die(
			    CTL_EXIT_USAGE,
			    "filter '%s' is not KEY=VALUE (email=, stage=, consent=TOPIC[:STATE], "
			    "attr.KEY=, created_since=, updated_since=)",
			    filters[i]);
		char *key = ctl_asprintf("%.*s", (int)(eq - filters[i]), filters[i]);
		char *ek = ctl_escape(key), *ev = ctl_escape(eq + 1);
		char *nq = ctl_asprintf("%s%s=%s&", q, ek, ev);
		free(key);
		free(ek);
		free(ev);
		free(q);
		q = nq;
	}
	return q;
}

/*
 * Calls EACH for every customer of the listing with QUERY (ends in '&' or is empty), page by
 * page (PAGE customers a request), following "next".
 */
static void
ctl_customers_each(const struct ctl *c, const char *query, int page,
		   void (*each)(const struct ctl *, json_t *, void *), void *arg)
{
	char *next = NULL;

	for (;;) {
		char *path =
		    next ? ctl_asprintf("/v1/customers?%slimit=%d&after=%s", query, page, next)
			 : ctl_asprintf("/v1/customers?%slimit=%d", query, page);
		json_t *doc = ctl_http_ok(c, "GET", path, NULL), *v;
		size_t i;

		free(path);
		free(next);
		next = NULL;
		json_array_foreach(json_object_get(doc, "customers"), i, v) each(c, v, arg);
		if (json_is_string(json_object_get(doc, "next")))
			next = ctl_strdup(json_string_value(json_object_get(doc, "next")));
		json_decref(doc);
		if (next == NULL)
			return;
	}
}

static void
ctl_customers_collect(const struct ctl *c, json_t *v, void *arg)
{
	(void)c;
	json_array_append(arg, v);
}

/* A customer's consent as "topic=state,..." for the table. */
static char *
ctl_consent_cell(const json_t *consent)
{
	const char *topic;
	json_t *state;
	char *s = ctl_strdup("");

	json_object_foreach((json_t *)consent, topic, state)
	{
		char *n = ctl_asprintf("%s%s%s=%s", s, *s ? "," : "", topic,
				       json_string_value(state) ? json_string_value(state) : "?");
		free(s);
		s = n;
	}
	return s;
}

int
ctl_customers(const struct ctl *c, int n, char **filters)
{
	static const char *const heads[] = {"ID", "EMAIL", "NAME", "STAGE", "CONSENT", "CREATED"};
	static const char *const keys[] = {"id", "email", "name", "stage", NULL, "created"};
	char *query = ctl_filters_query(n, filters);
	json_t *all = json_array(), *v;
	size_t i;

	ctl_customers_each(c, query, 1000, ctl_customers_collect, all);
	free(query);
	if (c->json) {
		json_t *doc = json_pack("{s:O}", "customers", all);
		ctl_print_json(doc);
		json_decref(doc);
	} else if (json_array_size(all) == 0)
		puts("(no customers)");
	else {
		struct table *t = table_new(NT_CTL_LEN(heads), heads);
		json_array_foreach(all, i, v)
		{
			char *cells[NT_CTL_LEN(heads)];
			for (size_t k = 0; k < NT_CTL_LEN(heads); k++)
				cells[k] = keys[k]
					       ? ctl_cell(v, keys[k])
					       : ctl_consent_cell(json_object_get(v, "consent"));
			table_row(t, (const char *const *)cells);
			for (size_t k = 0; k < NT_CTL_LEN(heads); k++)
				free(cells[k]);
		}
		table_print(t);
		table_free(t);
	}
	json_decref(all);
	return 0;
}

/* One customer's export as one line of OUT. */
static void
ctl_export_one(const struct ctl *c, json_t *v, void *arg)
{
	FILE *out = arg;
	char *path = NULL, *id = ctl_escape(json_string_value(json_object_get(v, "id")));
	json_t *doc;
	long status;

	path = ctl_asprintf("/v1/customers/%s/export", id);
	free(id);
	status = ctl_http(c, "GET", path, NULL, &doc);
	free(path);
	if (status == 404 || status == 410) { /* erased or gone since the page was read */
		json_decref(doc);
		return;
	}
	if (status >= 400 || doc == NULL)
		ctl_die(CTL_EXIT_API, "export of '%s': HTTP %ld",
			json_string_value(json_object_get(v, "id")), status);
	if (jsonout_dumpf(doc, out, JSON_COMPACT) < 0 || fputc('\n', out) == EOF)
		ctl_die(CTL_EXIT_API, "cannot write the export");
	json_decref(doc);
}

int
ctl_export(const struct ctl *c, int n, char **filters)
{
	char *query = ctl_filters_query(n, filters);

	ctl_customers_each(c, query, 1000, ctl_export_one, stdout);
	free(query);
	if (fflush(stdout) == EOF)
		ctl_die(CTL_EXIT_API, "cannot write the export");
	return 0;
}
