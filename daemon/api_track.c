/*
 * GET /c/{token}: a tracked link in a mail (issue 19). The token (links.h) is checked on the
 * network loop; the target is read on the reader (beside the store thread, so a burst of engine
 * work never holds up a redirect), the answer is a 302 to it, and only then is the click
 * recorded through the store loop: the link's counters, and on the first click of a link of a
 * message the customer's event "clicked", stored by ingest_events as POST /v1/events stores
 * events, so that campaigns can trigger on it, wait for it, exit on it or count it as a goal.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <event2/http.h>

#include "api.h"
#include "daemon.h"
#include "http.h"
#include "ingest.h"
#include "links.h"
#include "log.h"
#include "storeloop.h"
#include "timefmt.h"
#include "token.h"
#include "util.h"
#include "validate.h"

struct click_job {
	struct store_job job; /* first */
	struct http_req *hr;  /* the request, NULL for the record */
	char *message_id;
	int idx;
	int64_t now_ms;
	char *url; /* the target read */
	int head;  /* a HEAD (a link checker): answered, not counted */
};

static void
click_job_free(struct click_job *j)
{
	free(j->message_id);
	free(j->url);
	free(j);
}

static void
click_invalid(struct http_req *hr, int code)
{
	consent_page(hr, code, 0, code == 404 ? "Link not found" : "Invalid link",
		     code == 404 ? "<p>This link no longer leads anywhere.</p>"
				 : "<p>This link is not valid. Please use the link from your "
				   "email as it is.</p>");
}

/* The event "clicked", as a client would post it: the same checks, the same ingest. */
static enum store_status
click_ingest(struct store *s, const struct link_click *c, int idx, int64_t now_ms)
{
	char when[40], key[64];
	struct nt_event ev = {0};
	struct verr err = {0};
	unsigned char dup = 0;
	long conflict = -1;
	enum store_status rc = STORE_OK;

	if (c->ref.customer == NULL) /* erased: nobody to tell */
		return STORE_OK;
	timefmt_format_utc(now_ms, when, sizeof(when));
	snprintf(key, sizeof(key), "click:%lld:%d", (long long)c->ref.id, idx);
	json_t *obj = json_pack("{s:s,s:s,s:s,s:s,s:{s:s,s:s,s:s,s:s,s:s}}", "id", key, "customer",
				c->ref.customer, "type", "clicked", "time", when, "properties",
				"url", c->url, "link", c->name, "message", c->ref.message_id,
				"campaign", c->ref.campaign_id ?: "", "step", c->ref.step_id ?: "");
	if (validate_event(obj, now_ms, &ev, &err) == 0)
		rc = ingest_events(s, &ev, 1, now_ms, &dup, &conflict);
	else
		log_warnx("click: event not stored: %s %s", err.field, err.msg);
	if (rc == STORE_CONFLICT || rc == STORE_DUPLICATE)
		rc = STORE_OK; /* recorded before: once is what counts */
	nt_event_clear(&ev);
	json_decref(obj);
	return rc;
}

/* Store thread: the click's counters, and its event on the first click of the link. */
static enum store_status
click_record_run(struct store *s, struct store_job *job)
{
	struct click_job *j = (struct click_job *)job;
	struct link_click c;
	enum store_status rc = store_link_click(s, j->message_id, j->idx, j->now_ms, &c);

	if (rc == STORE_OK && c.first)
		rc = click_ingest(s, &c, j->idx, j->now_ms);
	link_click_clear(&c);
	return rc == STORE_NOTFOUND ? STORE_OK : rc;
}

static void
click_record_done(struct store_job *job)
{
	struct click_job *j = (struct click_job *)job;
	if (job->status != STORE_OK)
		log_warnx("click on %s link %d not recorded (store status %d)", j->message_id,
			  j->idx, (int)job->status);
	click_job_free(j);
}

/* The reader: the link's target as the message keeps it. */
static enum store_status
click_target_run(struct store *s, struct store_job *job)
{
	struct click_job *j = (struct click_job *)job;
	return store_link_target(s, j->message_id, j->idx, &j->url);
}

/* Network loop: answer first, then record the click (nobody waits for that). */
static void
click_target_done(struct store_job *job)
{
	struct click_job *j = (struct click_job *)job;
	struct http_req *hr = j->hr;
	struct daemon *d = hr->d; /* the reply frees HR */

	if (job->status != STORE_OK) {
		if (job->status == STORE_NOTFOUND)
			click_invalid(hr, 404);
		else
			http_reply_store_error(hr, job->status, NULL, NULL);
		click_job_free(j);
		return;
	}
	if (hr->req != NULL) {
		struct evkeyvalq *h = evhttp_request_get_output_headers(hr->req);
		evhttp_add_header(h, "Location", j->url);
		evhttp_add_header(h, "Cache-Control", "no-store");
		evhttp_add_header(h, "Referrer-Policy", "no-referrer");
	}
	http_reply_text(hr, 302, "text/plain; charset=utf-8", "");
	if (j->head) {
		click_job_free(j);
		return;
	}
	memset(&j->job, 0, sizeof(j->job));
	j->hr = NULL;
	j->job.run = click_record_run;
	j->job.done = click_record_done;
	j->job.wakes_engine = 1; /* a first click stores an event */
	j->job.background = 1;	 /* nobody waits: an engine pass is not cut short for it */
	storeloop_submit(daemon_storeloop(d), &j->job);
}

void
api_click_get(struct http_req *hr)
{
	struct click_job *j = xcalloc(1, sizeof(*j));
	struct daemon *d = hr->d;

	if (links_token_parse(daemon_secret(d), hr->arg, &j->message_id, &j->idx) < 0) {
		click_job_free(j);
		click_invalid(hr, 400);
		return;
	}
	j->hr = hr;
	j->head = hr->head;
	j->now_ms = util_now_ms();
	j->job.run = click_target_run;
	j->job.done = click_target_done;
	storeloop_submit(daemon_readloop(d), &j->job);
}

/* Store thread: an open counted against the message's step (the pixel answered already). */
static enum store_status
open_record_run(struct store *s, struct store_job *job)
{
	struct click_job *j = (struct click_job *)job;
	enum store_status rc = store_open_record(s, j->message_id);
	return rc == STORE_NOTFOUND ? STORE_OK : rc;
}

/*
 * GET /o/{token}: the open pixel, only in mails of campaigns with track_opens (off by default:
 * image proxies and privacy protection fetch every image, so an open says little). The image
 * goes at once; the count follows through the store loop.
 */
void
api_open_get(struct http_req *hr)
{
	static const unsigned char gif[] = {0x47, 0x49, 0x46, 0x38, 0x39, 0x61, 0x01, 0x00, 0x01,
					    0x00, 0x80, 0x00, 0x00, 0x00, 0x00, 0x00, 0xff, 0xff,
					    0xff, 0x21, 0xf9, 0x04, 0x01, 0x00, 0x00, 0x00, 0x00,
					    0x2c, 0x00, 0x00, 0x00, 0x00, 0x01, 0x00, 0x01, 0x00,
					    0x00, 0x02, 0x02, 0x44, 0x01, 0x00, 0x3b};
	struct daemon *d = hr->d;
	struct token t;

	if (token_parse(daemon_secret(d), hr->arg, 'o', &t) < 0) {
		click_invalid(hr, 400);
		return;
	}
	struct click_job *j = xcalloc(1, sizeof(*j));
	j->message_id = t.customer;
	t.customer = NULL;
	token_clear(&t);
	if (hr->req != NULL)
		evhttp_add_header(evhttp_request_get_output_headers(hr->req), "Cache-Control",
				  "no-store");
	http_reply_bytes(hr, 200, "image/gif", gif, sizeof(gif));
	j->job.run = open_record_run;
	j->job.done = click_record_done;
	j->job.background = 1;
	storeloop_submit(daemon_storeloop(d), &j->job);
}
