/*
 * `nurtured preview`: one send step rendered for one customer, printed exactly as the channel
 * would carry it (the MIME message, or the webhook's JSON), through the same code the engine
 * uses. For template authors and for checking a campaign before it goes live.
 */
#include "cmd_preview.h"

#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "campaign.h"
#include "compose.h"
#include "config.h"
#include "diag.h"
#include "log.h"
#include "mime.h"
#include "plugin.h"
#include "template.h"
#include "util.h"

/* The payload a channel wants: the same answer the daemon gets. */
static int
preview_channel_payload(const char *channel, void *arg)
{
	int p = plugin_channel_payload(arg, channel);
	return p ? p : NT_PAYLOAD_MIME;
}

/* A JSON object from FILE, or NULL after saying why (file:line:col). */
static json_t *
preview_read_object(const char *file, const char *what)
{
	json_error_t jerr;
	json_t *v = json_load_file(file, JSON_REJECT_DUPLICATES, &jerr);

	if (v == NULL)
		fprintf(stderr, "%s:%d:%d: %s\n", file, jerr.line, jerr.column, jerr.text);
	else if (!json_is_object(v)) {
		fprintf(stderr, "%s: the %s must be a JSON object\n", file, what);
		json_decref(v);
		v = NULL;
	}
	return v;
}

static void
preview_usage(FILE *f)
{
	fprintf(f, "usage: nurtured preview --campaign FILE --step ID --customer FILE.json\n"
		   "                        [--event FILE.json] [-c CONFIG]\n");
}

int
preview_main(int argc, char **argv)
{
	static const struct option longopts[] = {{"campaign", required_argument, NULL, 'C'},
						 {"step", required_argument, NULL, 's'},
						 {"customer", required_argument, NULL, 'u'},
						 {"event", required_argument, NULL, 'e'},
						 {"config", required_argument, NULL, 'c'},
						 {"help", no_argument, NULL, 'h'},
						 {NULL, 0, NULL, 0}};
	const char *cfile = NULL, *campaign_file = NULL, *step_id = NULL, *customer_file = NULL,
		   *event_file = NULL;
	struct config *cfg = NULL;
	struct campaign *c = NULL;
	struct template_set *tpl = NULL;
	json_t *customer = NULL, *event = NULL, *data = NULL;
	struct composed m = {0};
	struct diag d;
	char *reason = NULL;
	int ch, rc = 1;

	optind = 1;
	while ((ch = getopt_long(argc, argv, "c:h", longopts, NULL)) != -1) {
		switch (ch) {
		case 'C':
			campaign_file = optarg;
			break;
		case 's':
			step_id = optarg;
			break;
		case 'u':
			customer_file = optarg;
			break;
		case 'e':
			event_file = optarg;
			break;
		case 'c':
			cfile = optarg;
			break;
		case 'h':
			preview_usage(stdout);
			return 0;
		default:
			preview_usage(stderr);
			return 2;
		}
	}
	if (optind != argc || !campaign_file || !step_id || !customer_file) {
		preview_usage(stderr);
		return 2;
	}
	log_init(1, LOG_LEVEL_WARN);
	mime_init();
	diag_init(&d, cfile ? cfile : "(defaults)", NULL);
	cfg = config_load(cfile, &d);
	if (cfg != NULL) {
		struct campaign_ctx ctx = {.channels = cfg->channels};
		d.file = campaign_file;
		c = campaign_load_file(campaign_file, &ctx, &d);
	}
	if (c != NULL) {
		d.file = cfg->templates_dir;
		tpl = template_set_load(cfg->templates_dir, &d);
	}
	for (size_t i = 0; i < d.n; i++)
		fprintf(stderr, "%s\n", d.msgs[i]);
	if (tpl == NULL || d.n > 0)
		goto out;
	int idx = campaign_step_index(c, step_id);
	if (idx < 0 || c->steps[idx].kind != STEP_SEND) {
		fprintf(stderr, "%s: campaign '%s' has no send step '%s'\n", campaign_file, c->id,
			step_id);
		goto out;
	}
	customer = preview_read_object(customer_file, "customer");
	if (customer == NULL || (event_file && !(event = preview_read_object(event_file, "event"))))
		goto out;
	if (!json_is_string(json_object_get(customer, "id"))) {
		fprintf(stderr, "%s: the customer needs a string \"id\"\n", customer_file);
		goto out;
	}
	struct compose_ctx cx = {.cfg = cfg,
				 .tpl = tpl,
				 .secret = cfg->secret ? cfg->secret : "preview-secret",
				 .channel_payload = preview_channel_payload,
				 .arg = cfg};
	int64_t now = util_now_ms();
	char *msgid = xasprintf("<preview.%lld@preview.invalid>", (long long)now);
	const struct step *st = &c->steps[idx];
	data = compose_data(&cx, c, customer, event, NULL, now);
	if (compose_message(&cx, c, st->id, st->channel, st->template, NULL, data, msgid, now, &m,
			    &reason) < 0)
		fprintf(stderr, "nurtured preview: not sent: %s\n", reason);
	else {
		fwrite(m.payload, 1, m.len, stdout);
		if (m.len == 0 || m.payload[m.len - 1] != '\n')
			putchar('\n');
		rc = 0;
	}
	free(msgid);
out:
	free(reason);
	composed_clear(&m);
	json_decref(data);
	json_decref(customer);
	json_decref(event);
	template_set_free(tpl);
	campaign_free(c);
	config_free(cfg);
	diag_free(&d);
	plugin_unload_all();
	return rc;
}
