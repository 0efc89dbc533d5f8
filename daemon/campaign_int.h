/* Shared between campaign_load.c (files, directories, sets) and campaign_check.c (the format). */
#ifndef NURTURED_CAMPAIGN_INT_H
#define NURTURED_CAMPAIGN_INT_H

#include "campaign.h"

/* One load in progress: where problems go and how messages name the campaign. */
struct campaign_loader {
	struct campaign *c;
	struct diag *d; /* its file and positions set to the file being loaded */
	const struct campaign_ctx *ctx;
	char *what; /* "campaign 'win-back'", put before every message */
};

/* Checks the parsed object ROOT into L->c, adding every problem to L->d. */
void campaign_check(struct campaign_loader *L, json_t *root);
/* Adds a problem at PATH, prefixed with WHAT (the campaign, or the campaign and its step). */
void campaign_error(struct campaign_loader *L, const char *what, const char *path, const char *fmt,
		    ...) __attribute__((format(printf, 4, 5)));
/* True for an id as campaigns use them: 1 to 64 of a-z 0-9 _ -. */
int campaign_valid_id(const char *s);

#endif
