/*
 * What an operator does to a running campaign over HTTP: pause and resume it (kept in the
 * store, across restarts; a resume runs what the campaign held), and send one of its steps to
 * one address as a test, through the one send path (message_queue) as system mail.
 */
#include <stdlib.h>
#include <string.h>

#include "api.h"
#include "store_json.h"
#include "campaign.h"
#include "compose.h"
#include "daemon.h"
#include "engine.h"
#include "http.h"
#include "message_queue.h"
#include "mime.h"
#include "storeloop.h"
#include "util.h"
#include "validate.h"

struct campaign_job {
	struct store_job job; /* first */
	struct http_req *hr;
	struct engine *engine; /* on the store thread */
	char *campaign;
	int pause, changed; /* pause and resume */
	/* test send */
	const struct compose_ctx *cx;
	char *step, *customer, *to;
	int standin; /* no customer given: the stand-in customer */
	json_t *event;
	int64_t now_ms;
	int missing; /* no such campaign or send step */
	int skipped;
	char *message; /* the Message-ID, or why it was skipped */
};

static struct campaign_job *
campaign_job_new(struct http_req *hr, const char *campaign,
		 enum store_status (*run)(struct store *, struct store_job *),
		 void (*done)(struct store_job *))
{
	struct campaign_job *j = xcalloc(1, sizeof(*j));
	j->hr = hr;
	j->campaign = xstrdup(campaign);
	j->engine = daemon_engine(hr->d);
	j->job.run = run;
	j->job.done = done;
	return j;
}

static void
campaign_job_free(struct campaign_job *j)
{
	free(j->campaign);
	free(j->step);
	free(j->customer);
	free(j->to);
	free(j->message);
	json_decref(j->event);
	free(j);
}

static enum store_status
campaign_pause_run(struct store *s, struct store_job *job)
{
	struct campaign_job *j = (struct campaign_job *)job;
	(void)s;
	return engine_pause(j->engine, j->campaign, j->pause, &j->changed);
}

static void
campaign_pause_done(struct store_job *job)
{
	struct campaign_job *j = (struct campaign_job *)job;

	if (job->status == STORE_OK)
		http_reply_json(j->hr, 200,
				json_pack("{s:s,s:s,s:b}", "campaign", j->campaign, "status",
					  j->pause ? "paused" : "active", "changed", j->changed));
	else
		http_reply_store_error(j->hr, job->status, "no such campaign",
				       "its file says paused or draft: the file decides (edit it "
				       "and reload)");
	campaign_job_free(j);
}

/*
 * Store thread: a test send of one step, rendered as the engine would for the customer given
 * (or a stand-in), to the address given. System mail (campaign "", step "send-test"), so it
 * counts in no campaign's statistics; transactional for message_queue (an operator asked
 * for it: consent does not apply), the suppression list does.
 */
static enum store_status
campaign_test_run(struct store *s, struct store_job *job)
{
	struct campaign_job *j = (struct campaign_job *)job;
	const struct campaign *c = engine_running_campaign(j->engine, j->campaign);
	int idx = c ? campaign_step_index(c, j->step) : -1;
	json_t *customer = NULL, *event = NULL;
	enum store_status rc;
	int64_t cid;
	int visit;

	if (idx < 0 || c->steps[idx].kind != STEP_SEND) {
		j->missing = 1;
		return STORE_OK;
	}
	const struct step *st = &c->steps[idx];
	if ((rc = store_customer_lookup(s, j->customer, &cid)) == STORE_NOTFOUND && j->standin)
		rc = store_customer_ensure(s, j->customer, j->now_ms, &cid);
	if (rc != STORE_OK || (rc = store_customer_context(s, cid, &customer)) != STORE_OK ||
	    (rc = store_system_visit(s, &visit)) != STORE_OK)
		goto out;
	json_object_set_new(customer, "email", json_string(j->to));
	if (j->standin && !json_is_string(json_object_get(customer, "name")))
		json_object_set_new(customer, "name", json_string("Test Recipient"));
	event = j->event ? json_incref(j->event)
			 : json_pack("{s:s,s:{}}", "type", "send_test", "properties");
	struct message_req r = {.campaign = c,
				.customer_id = cid,
				.campaign_id = "",
				.step_id = "send-test",
				.visit = visit,
				.channel = st->channel,
				.template = st->template,
				.customer = customer,
				.event = event,
				.transactional = 1,
				.msgid_domain = j->cx->msgid_domain,
				.now_ms = j->now_ms};
	struct message_res res;
	if ((rc = message_queue(s, j->cx, NULL, &r, &res)) == STORE_OK) {
		j->skipped = res.state == OUTBOX_SKIPPED;
		j->message = xstrdup(j->skipped ? res.reason : res.message_id);
	}
	message_res_clear(&res);
out:
	json_decref(event);
	json_decref(customer);
	return rc;
}

static void
campaign_test_done(struct store_job *job)
{
	struct campaign_job *j = (struct campaign_job *)job;

	if (job->status == STORE_OK && j->missing)
		http_reply_error(j->hr, 404, "no such campaign or send step", "step", -1);
	else if (job->status == STORE_OK && j->skipped)
		http_reply_json(j->hr, 200,
				json_pack("{s:s,s:s}", "state", "skipped", "reason", j->message));
	else if (job->status == STORE_OK) {
		daemon_wake_delivery(j->hr->d);
		http_reply_json(j->hr, 202,
				json_pack("{s:s,s:s,s:s}", "state", "queued", "message_id",
					  j->message, "to", j->to));
	} else
		http_reply_store_error(j->hr, job->status, "no such customer", NULL);
	campaign_job_free(j);
}

/* POST /v1/campaigns/{id}/test {"step", "to", "customer"?, "event"?}: one step, to one address. */
static void
campaign_test(struct http_req *hr, const char *campaign)
{
	json_t *body = http_body_json(hr), *ev;
	const char *step, *to, *cust;
	struct campaign_job *j;

	if (body == NULL)
		return;
	step = json_string_value(json_object_get(body, "step"));
	to = json_string_value(json_object_get(body, "to"));
	cust = json_string_value(json_object_get(body, "customer"));
	ev = json_object_get(body, "event");
	if (step == NULL)
		http_reply_error(hr, 400, "'step' must name a send step", "step", -1);
	else if (to == NULL || !mime_addr_valid(to))
		http_reply_error(hr, 400, "'to' must be an email address", "to", -1);
	else if (json_object_get(body, "customer") && (cust == NULL || !validate_customer_id(cust)))
		http_reply_error(hr, 400, "'customer' must be a customer id", "customer", -1);
	else if (ev != NULL && !json_is_object(ev))
		http_reply_error(hr, 400, "'event' must be an object", "event", -1);
	else {
		j = campaign_job_new(hr, campaign, campaign_test_run, campaign_test_done);
		j->cx = daemon_compose(hr->d);
		j->step = xstrdup(step);
		j->customer = xstrdup(cust ? cust : "nurtured-send-test");
		j->to = xstrdup(to);
		j->standin = cust == NULL;
		j->event = json_incref(ev);
		j->now_ms = util_now_ms();
		storeloop_submit(daemon_storeloop(hr->d), &j->job);
	}
	json_decref(body);
}

/*
 * POST /v1/campaigns/{id}/ACTION: "pause" and "resume" (kept in the store, across restarts;
 * a resume runs what the campaign held), "test" sends one step to one address.
 */
void
api_campaign_post(struct http_req *hr)
{
	char *slash = strchr(hr->arg, '/');

	if (slash != NULL && strcmp(slash, "/test") == 0) {
		*slash = '\0';
		campaign_test(hr, hr->arg);
	} else if (slash != NULL &&
		   (strcmp(slash, "/pause") == 0 || strcmp(slash, "/resume") == 0)) {
		int pause = slash[1] == 'p';
		*slash = '\0';
		struct campaign_job *j =
		    campaign_job_new(hr, hr->arg, campaign_pause_run, campaign_pause_done);
		j->pause = pause;
		j->job.wakes_engine = 1; /* a resume may have released journeys to run now */
		storeloop_submit(daemon_storeloop(hr->d), &j->job);
	} else
		http_reply_error(hr, 404, "no such resource", NULL, -1);
}
