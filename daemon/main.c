/* nurtured: the command line. Thin: it parses arguments and hands over to a subcommand. */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "build.h"
#include "cmd_check.h"
#include "cmd_migrate.h"
#include "config.h"
#include "daemon.h"
#include "inbound_classify.h"
#include "inbound_client.h"
#include "log.h"
#include "cmd_nextruns.h"
#include "cmd_preview.h"
#include "cmd_render.h"
#include "cmd_simulate.h"

static void
usage(FILE *f)
{
	fprintf(
	    f,
	    "usage: nurtured [-c FILE] [-f] [-v]...   run the daemon\n"
	    "       nurtured check [-c FILE]        validate the configuration and campaigns\n"
	    "       nurtured config-keys            each key: applied at reload, or restart\n"
	    "       nurtured next-runs FILE [--count N] [--from RFC3339]\n"
	    "       nurtured simulate --campaigns DIR --events FILE.jsonl\n"
	    "                [--customers FILE.jsonl] [--until 180d] [--config FILE] [--json]\n"
	    "       nurtured preview --campaign FILE --step ID --customer FILE.json\n"
	    "                [--event FILE.json] [-c FILE]\n"
	    "       nurtured render TEMPLATE_FILE DATA.json [--escape html|none]\n"
	    "       nurtured classify FILE...       what came back: bounce, complaint, reply...\n"
	    "       nurtured inbound [-c FILE] [--rcpt ADDR] < MESSAGE   (an MTA's pipe)\n"
	    "       nurtured migrate --from sqlite:DATA_DIR --to postgresql://USER@HOST/DB\n"
	    "                copy the SQLite store into an empty PostgreSQL database\n"
	    "       nurtured --version | --help\n"
	    "\n"
	    "  -c FILE   configuration (JSON); without it, the embedded defaults\n"
	    "  -f        stay in the foreground and log to stderr\n"
	    "  -v        more verbose logging (repeat for debug)\n");
}

int
main(int argc, char **argv)
{
	static const struct option longopts[] = {
	    {"config", required_argument, NULL, 'c'}, {"foreground", no_argument, NULL, 'f'},
	    {"verbose", no_argument, NULL, 'v'},      {"version", no_argument, NULL, 'V'},
	    {"help", no_argument, NULL, 'h'},	      {NULL, 0, NULL, 0}};
	const char *file = NULL, *cmd = NULL;
	int foreground = 0, verbose = 0, ch;

	if (argc > 1 && argv[1][0] != '-') {
		cmd = argv[1];
		argv++;
		argc--;
		/* Subcommands with options of their own parse them themselves. */
		if (strcmp(cmd, "simulate") == 0)
			return simulate_main(argc, argv);
		if (strcmp(cmd, "next-runs") == 0)
			return nextruns_main(argc, argv);
		if (strcmp(cmd, "preview") == 0)
			return preview_main(argc, argv);
		if (strcmp(cmd, "render") == 0)
			return render_main(argc, argv);
		if (strcmp(cmd, "config-keys") == 0)
			return config_keys_main();
		if (strcmp(cmd, "classify") == 0)
			return inbound_classify_main(argc, argv);
		if (strcmp(cmd, "inbound") == 0)
			return inbound_pipe_main(argc, argv);
		if (strcmp(cmd, "migrate") == 0)
			return migrate_main(argc, argv);
	}
	while ((ch = getopt_long(argc, argv, "c:fvVh", longopts, NULL)) != -1) {
		switch (ch) {
		case 'c':
			file = optarg;
			break;
		case 'f':
			foreground = 1;
			break;
		case 'v':
			verbose++;
			break;
		case 'V':
			printf("nurtured %s\n", PACKAGE_VERSION);
			return 0;
		case 'h':
			usage(stdout);
			return 0;
		default:
			usage(stderr);
			return 2;
		}
	}
	if (optind != argc) {
		usage(stderr);
		return 2;
	}
	if (cmd != NULL && strcmp(cmd, "check") == 0)
		return check_main(file);
	if (cmd != NULL) {
		fprintf(stderr, "nurtured: unknown command '%s'\n", cmd);
		usage(stderr);
		return 2;
	}

	struct diag d;
	struct config *cfg;
	log_init(1, LOG_LEVEL_INFO);
	diag_init(&d, file ? file : "(defaults)", NULL);
	cfg = config_load(file, &d);
	for (size_t i = 0; i < d.n; i++)
		fprintf(stderr, "%s\n", d.msgs[i]);
	diag_free(&d);
	if (cfg == NULL)
		return 1;
	int level = cfg->log_level + verbose;
	log_init(foreground, level > LOG_LEVEL_DEBUG ? LOG_LEVEL_DEBUG : level);
	return daemon_run(cfg, foreground);
}
