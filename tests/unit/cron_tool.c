/*
 * cron_tool: batch front end to cron_next for tests that compare against other implementations.
 * Reads "EXPR<TAB>TZ<TAB>FROM_UNIX_SECONDS<TAB>COUNT" lines on stdin; for each prints the COUNT
 * next runs as Unix seconds separated by spaces (stopping after a -1 meaning "no further run"),
 * or "ERR message".
 */
#include <errno.h>
#include <glib.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cron.h"

/* Time zones are loaded once per identifier: the comparison script sends thousands of lines. */
static GTimeZone *
cron_tool_zone(GHashTable *cache, const char *name)
{
	GTimeZone *tz = g_hash_table_lookup(cache, name);

	if (tz == NULL) {
		tz = g_time_zone_new_identifier(name);
		if (tz == NULL)
			return NULL;
		g_hash_table_insert(cache, g_strdup(name), tz);
	}
	return tz;
}

/* Strict integer parsing, so that a malformed line is reported rather than read as 0. */
static int
cron_tool_int(const char *s, long long *out)
{
	char *end;

	errno = 0;
	*out = strtoll(s, &end, 10);
	return errno == 0 && end != s && *end == '\0' ? 0 : -1;
}

/* Handles one input line, printing one output line. */
static void
cron_tool_line(GHashTable *cache, char *line)
{
	char *fields[4];
	char err[256];
	long long from, count;
	struct cron_expr *c;
	GTimeZone *tz;
	int n = 0;

	for (char *p = line; n < 4; n++) {
		fields[n] = p;
		p = strchr(p, '\t');
		if (p == NULL) {
			n++;
			break;
		}
		*p++ = '\0';
	}
	if (n != 4 || cron_tool_int(fields[2], &from) < 0 || cron_tool_int(fields[3], &count) < 0 ||
	    count < 0) {
		printf("ERR malformed line\n");
		return;
	}
	tz = cron_tool_zone(cache, fields[1]);
	if (tz == NULL) {
		printf("ERR unknown time zone %s\n", fields[1]);
		return;
	}
	c = cron_parse(fields[0], err, sizeof(err));
	if (c == NULL) {
		printf("ERR %s\n", err);
		return;
	}
	int64_t t = from;
	for (long long i = 0; i < count; i++) {
		t = cron_next(c, tz, t);
		printf("%s%" PRId64, i ? " " : "", t);
		if (t < 0)
			break;
	}
	printf("\n");
	cron_free(c);
}

/* One output line per input line, so a caller can zip its requests with the answers. */
int
main(void)
{
	GHashTable *cache = g_hash_table_new_full(g_str_hash, g_str_equal, g_free,
						  (GDestroyNotify)g_time_zone_unref);
	char *line = NULL;
	size_t cap = 0;
	ssize_t len;

	while ((len = getline(&line, &cap, stdin)) >= 0) {
		while (len > 0 && (line[len - 1] == '\n' || line[len - 1] == '\r'))
			line[--len] = '\0';
		cron_tool_line(cache, line);
	}
	free(line);
	g_hash_table_destroy(cache);
	return 0;
}
