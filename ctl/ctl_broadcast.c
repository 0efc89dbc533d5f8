/*
 * nurturectl broadcast and segment (issue 17): a newsletter from a JSON file, its listing,
 * state and statistics, cancel, delete and a test send; saved audiences and their size.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ctl.h"

#define NT_LEN(a) (sizeof(a) / sizeof((a)[0]))

static const char *const BC_HEADS[] = {"ID",  "NAME",	  "STATE", "TOPIC",
				       "DUE", "AUDIENCE", "SENT",  "FAILED"};
static const char *const BC_KEYS[] = {"id",  "name",  "state", "topic",
				      "due", "reach", "sent",  "failed"};

/* One argument count check per subcommand; 1 when fine. */
int
ctl_broadcast_usage(const char *cmd, int n, char **av, const char *to, const char **why)
{
	const char *sub = n > 0 ? av[0] : "";
	*why = NULL;
	if (strcmp(cmd, "segment") == 0) {
		if ((strcmp(sub, "list") == 0 && n == 1) ||
		    ((strcmp(sub, "show") == 0 || strcmp(sub, "count") == 0 ||
		      strcmp(sub, "delete") == 0) &&
		     n == 2) ||
		    (strcmp(sub, "create") == 0 && n == 4))
			return 1;
		*why = "segment list | show ID | count ID | delete ID | create ID NAME CONDITION";
		return 0;
	}
	if ((strcmp(sub, "list") == 0 && n == 1) ||
	    ((strcmp(sub, "show") == 0 || strcmp(sub, "cancel") == 0 ||
	      strcmp(sub, "delete") == 0 || strcmp(sub, "create") == 0) &&
	     n == 2) ||
	    (strcmp(sub, "test") == 0 && n == 2 && to != NULL))
		return 1;
	*why = "broadcast list | show ID | create FILE | cancel ID | delete ID | test ID --to ADDR";
	return 0;
}

/* The counts of a broadcast's "stats" lifted up for the table. */
static void
ctl_bc_flatten(json_t *b)
{
	json_t *s = json_object_get(b, "stats");
	json_object_set(b, "reach", json_object_get(s, "audience"));
	if (json_object_get(s, "sent"))
		json_object_set(b, "sent", json_object_get(s, "sent"));
	if (json_object_get(s, "failed"))
		json_object_set(b, "failed", json_object_get(s, "failed"));
}

static void
ctl_bc_show(const struct ctl *c, json_t *b)
{
	if (c->json) {
		ctl_print_json(b);
		return;
	}
	static const char *const l[] = {"id",	   "name", "state",   "topic",
					"channel", "due",  "started", "finished"};
	int w = 8;
	for (size_t i = 0; i < NT_LEN(l); i++) {
		char *v = ctl_cell(b, l[i]);
		printf("%-*s  %s\n", w, l[i], v);
		free(v);
	}
	json_t *s = json_object_get(b, "stats");
	const char *k;
	json_t *v;
	printf("\nstatistics\n");
	json_object_foreach(s, k, v)
	{
		char *t = ctl_cell(v, NULL);
		printf("  %-16s %s\n", k, t);
		free(t);
	}
}

static int
ctl_bc_create(const struct ctl *c, const char *file)
{
	json_error_t jerr;
	json_t *body =
	    strcmp(file, "-") == 0 ? json_loadf(stdin, 0, &jerr) : json_load_file(file, 0, &jerr);
	if (body == NULL)
		ctl_die(CTL_EXIT_USAGE, "%s:%d:%d: %s", file, jerr.line, jerr.column, jerr.text);
	json_t *doc = ctl_http_ok(c, "POST", "/v1/broadcasts", body);
	json_decref(body);
	if (c->json)
		ctl_print_json(doc);
	else
		printf("%s %s\n", json_string_value(json_object_get(doc, "id")),
		       json_string_value(json_object_get(doc, "state")));
	json_decref(doc);
	return 0;
}

static char *
ctl_bc_path(const char *fmt, const char *id)
{
	char *e = ctl_escape(id);
	char *p = ctl_asprintf(fmt, e);
	free(e);
	return p;
}

static int
ctl_segment(const struct ctl *c, char **av)
{
	json_t *doc;
	char *path;

	if (strcmp(av[0], "list") == 0) {
		doc = ctl_http_ok(c, "GET", "/v1/segments", NULL);
		if (c->json)
			ctl_print_json(doc);
		else {
			static const char *const h[] = {"ID", "NAME", "CONDITION"};
			static const char *const k[] = {"id", "name", "condition"};
			struct table *t = table_new(3, h);
			size_t i;
			json_t *o;
			json_array_foreach(json_object_get(doc, "segments"), i, o)
			    table_row_json(t, o, k);
			table_print(t);
			table_free(t);
		}
	} else if (strcmp(av[0], "create") == 0) {
		json_error_t jerr;
		json_t *cond = json_loads(av[3], 0, &jerr);
		if (cond == NULL)
			ctl_die(CTL_EXIT_USAGE, "CONDITION: %s", jerr.text);
		json_t *body =
		    json_pack("{s:s,s:s,s:o}", "id", av[1], "name", av[2], "condition", cond);
		doc = ctl_http_ok(c, "POST", "/v1/segments", body);
		json_decref(body);
		if (c->json)
			ctl_print_json(doc);
		else
			printf("%s saved\n", av[1]);
	} else {
		int count = strcmp(av[0], "count") == 0, del = strcmp(av[0], "delete") == 0;
		path = ctl_bc_path(count ? "/v1/segments/%s/count" : "/v1/segments/%s", av[1]);
		doc = ctl_http_ok(c, del ? "DELETE" : "GET", path, NULL);
		free(path);
		if (c->json || !count)
			ctl_print_json(doc);
		else
			printf("%lld\n",
			       (long long)json_integer_value(json_object_get(doc, "count")));
	}
	json_decref(doc);
	return 0;
}

int
ctl_broadcast(const struct ctl *c, const char *cmd, char **av, const char *to)
{
	json_t *doc;
	char *path;

	if (strcmp(cmd, "segment") == 0)
		return ctl_segment(c, av);
	if (strcmp(av[0], "create") == 0)
		return ctl_bc_create(c, av[1]);
	if (strcmp(av[0], "list") == 0) {
		doc = ctl_http_ok(c, "GET", "/v1/broadcasts", NULL);
		if (c->json)
			ctl_print_json(doc);
		else {
			struct table *t = table_new(NT_LEN(BC_HEADS), BC_HEADS);
			size_t i;
			json_t *o;
			json_array_foreach(json_object_get(doc, "broadcasts"), i, o)
			{
				ctl_bc_flatten(o);
				table_row_json(t, o, BC_KEYS);
			}
			table_print(t);
			table_free(t);
		}
		json_decref(doc);
		return 0;
	}
	if (strcmp(av[0], "test") == 0) {
		json_t *body = json_pack("{s:[s]}", "to", to);
		path = ctl_bc_path("/v1/broadcasts/%s/test", av[1]);
		doc = ctl_http_ok(c, "POST", path, body);
		json_decref(body);
		free(path);
		ctl_print_json(json_object_get(doc, "sent"));
		json_decref(doc);
		return 0;
	}
	const char *method = strcmp(av[0], "cancel") == 0   ? "POST"
			     : strcmp(av[0], "delete") == 0 ? "DELETE"
							    : "GET";
	path = ctl_bc_path(
	    strcmp(av[0], "cancel") == 0 ? "/v1/broadcasts/%s/cancel" : "/v1/broadcasts/%s", av[1]);
	doc = ctl_http_ok(c, method, path, NULL);
	free(path);
	if (strcmp(av[0], "delete") == 0 && !c->json)
		printf("%s deleted\n", av[1]);
	else
		ctl_bc_show(c, doc);
	json_decref(doc);
	return 0;
}
