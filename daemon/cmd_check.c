#include "cmd_check.h"

#include <glib.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "campaign.h"
#include "config.h"
#include "daemon.h"
#include "diag.h"
#include "filemodes.h"
#include "log.h"
#include "plugin.h"
#include "store_broadcast.h"
#include "template.h"

/* Templates as the daemon loads them at start: the same rules, the same messages. */
static void
check_templates(const struct config *cfg, const struct campaign_set *set, struct diag *d)
{
	size_t before = d->n;
	struct template_set *ts = daemon_load_templates(cfg, set, d);

	if (ts != NULL && d->n == before)
		printf("%s: %zu templates ok\n", cfg->templates_dir, template_set_count(ts));
	template_set_free(ts);
}

/* Every channel's plugin loads and speaks our ABI (initialising it is left to the start). */
static void
check_plugins(const struct config *cfg, struct diag *d)
{
	for (size_t i = 0; i < cfg->n_chans; i++) {
		char *err = NULL;
		if (plugin_load(cfg->plugin_dir, cfg->chans[i].plugin, &err) == NULL) {
			diag_add(d, NULL, "channel '%s': %s", cfg->chans[i].name, err);
			free(err);
		} else if ((err = channel_conf_problem(
				&cfg->chans[i], plugin_channel_payload(cfg, cfg->chans[i].name))) !=
			   NULL) {
			diag_add(d, NULL, "%s", err);
			free(err);
		}
	}
}

/*
 * Issue 17: a cron trigger's segment must exist in the store. The database is opened read-only
 * when it is there; without one no segment exists yet. Issue 21: the configured store, SQLite's
 * file or the PostgreSQL database.
 */
static void
check_segments(const struct config *cfg, const struct campaign_set *set, struct diag *d)
{
	struct store *s = NULL;
	char err[256] = "", *db = g_build_filename(cfg->data_dir, "nurtured.db", NULL);
	int pg = cfg->store != NULL && strcmp(cfg->store, "sqlite") != 0;
	int exists = pg || g_file_test(db, G_FILE_TEST_EXISTS);
	const char *saved = d->file;

	g_free(db);
	for (size_t i = 0; set != NULL && i < set->n; i++) {
		const struct campaign *c = set->v[i];
		struct segment_row row;
		if (c->trigger.segment == NULL)
			continue;
		if (s == NULL && exists) {
			struct store_options opt = {.backend = pg ? "postgresql" : "sqlite",
						    .data_dir = cfg->data_dir,
						    .url = pg ? cfg->store : NULL,
						    .read_only = 1};
			if ((s = store_open(&opt, err, sizeof(err))) == NULL) {
				fprintf(stderr, "warning: cannot check segments: %s\n", err);
				break;
			}
		}
		d->file = c->file;
		if (s == NULL || store_segment_get(s, c->trigger.segment, &row) != STORE_OK)
			diag_add(d, NULL,
				 "campaign '%s': trigger.segment: no segment '%s' in the store "
				 "(POST /v1/segments creates it)",
				 c->id, c->trigger.segment);
		else
			segment_row_clear(&row);
		d->file = saved;
	}
	store_close(s);
}

static void
check_warn_stderr(const char *msg)
{
	fprintf(stderr, "warning: %s\n", msg);
}

/* Config, then campaigns (checked against the config's channels): every problem, one a line. */
int
check_main(const char *file)
{
	struct diag d;
	struct config *cfg;
	int rc;

	log_init(1, LOG_LEVEL_WARN);
	diag_init(&d, file ? file : "(defaults)", NULL);
	cfg = config_load(file, &d);
	if (cfg != NULL) {
		printf("%s: configuration ok\n", file ? file : "(defaults)");
		filemodes_check(file, cfg->n_api_tokens > 0 || cfg->secret != NULL, cfg->data_dir,
				check_warn_stderr);
	}
	if (cfg != NULL) {
		struct campaign_set *set = daemon_load_campaigns(cfg, &d);
		if (set != NULL && d.n == 0)
			printf("%s: %zu campaigns ok\n", cfg->campaigns_dir, set->n);
		check_plugins(cfg, &d);
		check_templates(cfg, set, &d);
		check_segments(cfg, set, &d);
		campaign_set_free(set);
	}
	for (size_t i = 0; i < d.n; i++)
		fprintf(stderr, "%s\n", d.msgs[i]);
	rc = d.n > 0 ? 1 : 0;
	diag_free(&d);
	config_free(cfg);
	plugin_unload_all();
	return rc;
}
