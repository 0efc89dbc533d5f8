/* nurturectl: a command-line client of nurtured's HTTP API, for people. */
#ifndef NURTURECTL_CTL_H
#define NURTURECTL_CTL_H

#include <jansson.h>
#include <stddef.h>

/* Exit codes: the API said no, the daemon was not reached, not there yet, bad usage. */
#define CTL_EXIT_API 1
#define CTL_EXIT_CONNECT 2
#define CTL_EXIT_UNSUPPORTED 3
#define CTL_EXIT_USAGE 64

struct ctl {
	char *url;   /* base URL, no trailing slash */
	char *token; /* never printed; NULL: no Authorization header */
	int json;    /* --json: the API's documents as they are */
};

/*
 * One request: METHOD on URL + PATH with BODY (NULL: none). Returns the HTTP status with the
 * parsed document in *out (NULL when the body is not JSON); exits 2 when the daemon cannot be
 * reached.
 */
long ctl_http(const struct ctl *c, const char *method, const char *path, const json_t *body,
	      json_t **out);
/* Like ctl_http, but any status of 400 or more prints the API's error and exits 1. */
json_t *ctl_http_ok(const struct ctl *c, const char *method, const char *path, const json_t *body);
/* PATH-safe (percent-encoded) copy of S; the caller frees it. */
char *ctl_escape(const char *s);
void ctl_http_init(void);
void ctl_http_fini(void);

/* A table of text cells printed with columns as wide as their widest cell. */
struct table;
/* A table whose header row is HEADS (NCOLS of them, copied). */
struct table *table_new(size_t ncols, const char *const *heads);
/* Appends a row of NCOLS cells, copied; NULL or empty prints "-". */
void table_row(struct table *t, const char *const *cells);
/* Appends OBJ's values under KEYS, one per column, as ctl_cell shows them. */
void table_row_json(struct table *t, const json_t *obj, const char *const *keys);
void table_print(struct table *t);
void table_free(struct table *t);

/* A value of OBJ as text for a cell: strings as they are, numbers, booleans, JSON for the rest. */
char *ctl_cell(const json_t *obj, const char *key);
void ctl_print_json(const json_t *v);
void ctl_die(int code, const char *fmt, ...) __attribute__((format(printf, 2, 3), noreturn));
char *ctl_strdup(const char *s);
char *ctl_asprintf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* The clicks, conversions and experiment of one campaign's statistics (ctl_measure.c). */
void ctl_stats_measure(const json_t *s);

#define NT_CTL_LEN(a) (sizeof(a) / sizeof((a)[0]))
/* nurturectl customers [FILTER...]: every page of the listing as a table (ctl_customers.c). */
int ctl_customers(const struct ctl *c, int n, char **filters);
/* nurturectl export [FILTER...]: every customer's export as one JSON line each on stdout. */
int ctl_export(const struct ctl *c, int n, char **filters);
/* nurturectl import FILE: CSV or JSON lines in batches (ctl_import.c); 1 when rows were bad. */
int ctl_import(const struct ctl *c, const char *file, const char *map, const char *format,
	       int batch);

/* ctl_broadcast.c (issue 17): "broadcast" and "segment"; usage checked before connecting. */
int ctl_broadcast_usage(const char *cmd, int n, char **av, const char *to, const char **why);
int ctl_broadcast(const struct ctl *c, const char *cmd, char **av, const char *to);

#endif
