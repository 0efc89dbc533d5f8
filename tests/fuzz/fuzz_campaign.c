/*
 * libFuzzer target: the campaign loader (daemon/campaign_load.c and its checks) on a campaign
 * file's text, as `nurtured check` and a reload read it, with a config that knows two channels
 * and a template checker that knows a few names, so that the cross-reference checks run too.
 */
#include <jansson.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "campaign.h"
#include "diag.h"

static json_t *fuzz_channels;

/* Knows every template but those named "missing*", so that both answers are reached. */
static int
fuzz_template_exists(const char *name, void *arg)
{
	(void)arg;
	return strncmp(name, "missing", 7) != 0;
}

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	fuzz_channels =
	    json_pack("{s{s s}s{s s}}", "mail", "plugin", "smtp", "helpdesk", "plugin", "webhook");
	return 0;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *text = malloc(size + 1);
	struct campaign_ctx ctx = {fuzz_channels, fuzz_template_exists, NULL};
	struct diag d;
	struct campaign *c;

	memcpy(text, data, size);
	text[size] = '\0';
	diag_init(&d, "fuzz.json", NULL);
	c = campaign_load_text("fuzz.json", text, &ctx, &d);
	if (c != NULL)
		campaign_free(c);
	diag_free(&d);
	free(text);
	return 0;
}
