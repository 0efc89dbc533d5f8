/*
 * Shared by the campaign files: campaign_load.c (files, directories, sets) -> campaign_check.c
 * (the format) -> campaign_step.c (the steps), each of them -> campaign_field.c (one field
 * checked, the error they all report through).
 */
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

/* campaign_field.c, shared by campaign_check.c and campaign_step.c. */
#define CAMPAIGN_EXPECT_EVENT "an event type (1 to 64 of a-z 0-9 _ . : -, starting with a letter)"
#define CAMPAIGN_EXPECT_DURATION "a duration like \"7d\" (a whole number and one of s m h d w)"
extern const char *const campaign_step_kinds[5];
/* Names and exit reasons are shown, not parsed: only their length matters. */
int campaign_valid_name(const char *s);
int campaign_valid_step_id(const char *s);
const char *campaign_str(json_t *v);
char *campaign_path(const char *path, const char *key);
int campaign_check_text(struct campaign_loader *L, const char *what, const char *path,
			const char *key, json_t *v, int (*valid)(const char *), const char *expect,
			char **dst);
int campaign_check_duration(struct campaign_loader *L, const char *what, const char *path,
			    const char *key, json_t *v, int negative_ok, int64_t *ms);
int campaign_check_hhmm(struct campaign_loader *L, const char *what, const char *path,
			const char *key, json_t *v, int *minutes);
int campaign_check_target(struct campaign_loader *L, const char *what, const char *path,
			  const char *key, json_t *v, int *idx);
struct cond *campaign_check_cond(struct campaign_loader *L, const char *what, const char *path,
				 json_t *v);
char *campaign_channel_list(json_t *channels);
void campaign_check_steps(struct campaign_loader *L, json_t *steps);
/* A template name: letters, digits, _ - . (campaign_step.c). */
int campaign_valid_template(const char *s);

#endif
