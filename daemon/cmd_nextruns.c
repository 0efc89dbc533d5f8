#include "cmd_nextruns.h"

#include <getopt.h>
#include <glib.h>
#include <stdio.h>
#include <stdlib.h>

#include "campaign.h"
#include "cron.h"
#include "diag.h"
#include "log.h"
#include "timefmt.h"
#include "util.h"

/* One RFC 3339 time a line, with the offset of the campaign's time zone at that instant. */
static void
nextruns_print(int64_t secs, GTimeZone *tz)
{
	GDateTime *utc = g_date_time_new_from_unix_utc(secs);
	GDateTime *local = g_date_time_to_timezone(utc, tz);
	gchar *text = g_date_time_format(local, "%Y-%m-%dT%H:%M:%S%:z");
	puts(text);
	g_free(text);
	g_date_time_unref(local);
	g_date_time_unref(utc);
}

int
nextruns_main(int argc, char **argv)
{
	static const struct option longopts[] = {{"count", required_argument, NULL, 'n'},
						 {"from", required_argument, NULL, 'f'},
						 {NULL, 0, NULL, 0}};
	long count = 10;
	int64_t from_ms = util_now_ms();
	int ch, rc = 1;
	char *end;
	struct diag d;
	struct campaign_ctx ctx = {0};

	optind = 1;
	while ((ch = getopt_long(argc, argv, "", longopts, NULL)) != -1) {
		if (ch == 'n') {
			count = strtol(optarg, &end, 10);
			if (*end != '\0' || count < 1 || count > 10000) {
				fprintf(stderr, "nurtured next-runs: --count takes 1 to 10000\n");
				return 2;
			}
		} else if (ch == 'f') {
			if (timefmt_parse_rfc3339(optarg, &from_ms) < 0) {
				fprintf(stderr, "nurtured next-runs: --from takes an RFC 3339 time "
						"with offset\n");
				return 2;
			}
		} else
			goto usage;
	}
	if (optind != argc - 1)
		goto usage;
	log_init(1, LOG_LEVEL_WARN);
	diag_init(&d, argv[optind], NULL);
	struct campaign *c = campaign_load_file(argv[optind], &ctx, &d);
	if (c != NULL && c->trigger.kind != TRIGGER_CRON)
		diag_add(&d, "trigger", "campaign '%s' has no \"cron\" trigger", c->id);
	if (d.n == 0) {
		GTimeZone *tz = g_time_zone_new_identifier(c->trigger.timezone);
		int64_t t = from_ms / 1000 - (from_ms % 1000 < 0);
		for (long i = 0; i < count; i++) {
			t = cron_next(c->trigger.cron, tz, t);
			if (t < 0)
				break;
			nextruns_print(t, tz);
		}
		g_time_zone_unref(tz);
		rc = 0;
	}
	for (size_t i = 0; i < d.n; i++)
		fprintf(stderr, "%s\n", d.msgs[i]);
	diag_free(&d);
	campaign_free(c);
	return rc;
usage:
	fprintf(stderr, "usage: nurtured next-runs FILE [--count N] [--from RFC3339]\n");
	return 2;
}
