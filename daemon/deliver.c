/*
 * The dispatcher: moves messages from the outbox through the channels' plugins and writes
 * each outcome back. It lives on the network loop; every store access is a store job.
 *
 * A message's walk: queued/deferred (store) -> claimed: "sending", attempt counted (a commit)
 * -> pending here -> accepted by the plugin (in flight) -> outcome -> written back in a batch:
 * sent | deferred with its next attempt | failed | expired. A crash between the claim and the
 * write-back leaves "sending" rows, which the next start queues again: duplicates are limited
 * to what was in flight.
 */
#include "deliver.h"

#include <event2/event.h>
#include <glib.h>
#include <stdlib.h>
#include <string.h>
#include <sys/queue.h>

#include "campaign.h"
#include "channel.h"
#include "log.h"
#include "metrics.h"
#include "plugin.h"
#include "storeloop.h"
#include "util.h"
#include "verp.h"

/* Messages a channel holds at once (pending + in flight), and claimed per store job. */
#define DELIVER_MAX_HELD 4096
#define DELIVER_CLAIM_MAX 1024
/* Results written back per store job at most. */
#define DELIVER_FLUSH_MAX 1024
/*
 * A write-back starts at most this long after the previous one started: outcomes that come
 * meanwhile wait and go together. One at a time, write-backs followed the messages one by one
 * (1.8 outcomes each, 600 commits a second on PostgreSQL at 1,100 mails a second), and their
 * WAL flushes kept the engine's and the requests' commits waiting (WALWrite, WALSync in
 * pg_stat_activity). A quiet channel's first outcome goes at once.
 */
#define DELIVER_FLUSH_GAP_US 10000
/* After a write-back failed (store unavailable): the wait before the next try. */
#define DELIVER_FLUSH_RETRY_US 1000000
/* The longest sleep before looking for due messages again (missed wakes, clock jumps). */
#define DELIVER_MAX_SLEEP_MS 30000

struct deliver_item {
	struct nt_message m;
	struct outbox_msg om;
	struct deliver_channel *ch;
	char *verp_sender; /* issue 16: bounces+TOKEN@domain, owned, or NULL */
	char *verp_data;   /* the payload with a VERP Reply-To in front, owned, or NULL */
	TAILQ_ENTRY(deliver_item) link;
};
TAILQ_HEAD(deliver_items, deliver_item);

struct deliver_channel {
	struct deliver *d;
	char *name;
	json_t *conf; /* the channel's object as configured: a reload that changes it replaces us */
	int retired;  /* replaced or removed by a reload: finishing what is in flight, then fini */
	struct retry_policy retry;
	const struct nt_plugin *p;
	int payload;	/* enum nt_payload: what the engine renders for this channel */
	char *reply_to; /* issue 16: the VERP Reply-To base of this channel, or NULL */
	int internal;	/* the operator's channel: a campaign's reply_to does not apply */
	void *state;
	struct deliver_items pending; /* claimed, not yet taken by the plugin */
	struct deliver_items inflight_items;
	int npending;
	int inflight; /* taken by the plugin, outcome not yet back */
	int full;     /* the plugin refused the last one: wait for an outcome */
	int claiming; /* a claim job is out */
	int dirty;    /* woken while claiming: look again afterwards */
	struct event *pump_ev;
	struct event *timer;
	int64_t timer_due;
};

struct deliver {
	struct event_base *base;
	struct storeloop *loop;
	char *secret;
	char *bounce_address; /* VERP bases (issue 16), or NULL */
	char *reply_to;
	json_t *campaign_reply_to;   /* campaign id -> its "reply_to" base, or null for none */
	struct deliver_channel **ch; /* the channels messages are claimed for */
	size_t n;
	struct deliver_channel **retired; /* replaced at a reload, with messages still in flight */
	size_t n_retired;
	struct event *wake_ev;
	struct outbox_result *results;
	char **replies;
	char **suppress; /* recipient to suppress, per result, or NULL */
	size_t nresults, results_cap;
	int flushing;
	struct event *flush_ev; /* the next write-back, DELIVER_FLUSH_GAP_US after the last */
	int64_t flushed_us;	/* when the last write-back started (monotonic) */
	int recovered;
	int stopping;
};

struct deliver_claim_job {
	struct store_job job; /* first */
	struct deliver_channel *ch;
	int limit;
	int64_t now_ms;
	struct outbox_msg *msgs;
	size_t n;
	int64_t next_due;
};

struct deliver_flush_job {
	struct store_job job; /* first */
	struct deliver *d;
	struct outbox_result *results;
	char **replies;
	char **suppress;
	size_t n;
	const char *secret;
};

struct deliver_recover_job {
	struct store_job job; /* first */
	struct deliver *d;
	int64_t now_ms;
	int n;
};

static void deliver_flush(struct deliver *d);
static void deliver_flush_soon(struct deliver *d);
static void deliver_retire_check(struct deliver_channel *ch);

/* The channel of that name messages are claimed for now, or NULL. */
static struct deliver_channel *
deliver_find(struct deliver *d, const char *name)
{
	for (size_t i = 0; i < d->n; i++)
		if (strcmp(d->ch[i]->name, name) == 0)
			return d->ch[i];
	return NULL;
}

/* CH itself, or, once a reload replaced it, its successor (NULL when the channel is gone). */
static struct deliver_channel *
deliver_live(struct deliver_channel *ch)
{
	return ch->retired ? deliver_find(ch->d, ch->name) : ch;
}

/* Pumps run from the loop, never from inside a plugin's call: no re-entrance. */
static void
deliver_schedule_pump(struct deliver_channel *ch)
{
	event_active(ch->pump_ev, EV_TIMEOUT, 0);
}

/* Keeps the earliest wanted wake-up of the channel; every arm is capped for clock jumps. */
static void
deliver_arm_timer(struct deliver_channel *ch, int64_t due_ms)
{
	int64_t now = util_now_ms(), wait;
	if (ch == NULL)
		return;
	if (due_ms < 0 || due_ms > now + DELIVER_MAX_SLEEP_MS)
		due_ms = now + DELIVER_MAX_SLEEP_MS;
	if (evtimer_pending(ch->timer, NULL) && ch->timer_due <= due_ms)
		return;
	wait = due_ms > now ? due_ms - now : 0;
	struct timeval tv = {wait / 1000, (wait % 1000) * 1000};
	ch->timer_due = due_ms;
	evtimer_add(ch->timer, &tv);
}

/* Queues one outcome for the next write-back; REPLY and SUPPRESS are copied. */
static void
deliver_result(struct deliver *d, int64_t id, enum outbox_state state, const char *reply,
	       int64_t due, const char *suppress)
{
	if (d->nresults == d->results_cap) {
		d->results_cap = d->results_cap ? 2 * d->results_cap : 64;
		d->results = xrealloc(d->results, d->results_cap * sizeof(*d->results));
		d->replies = xrealloc(d->replies, d->results_cap * sizeof(*d->replies));
		d->suppress = xrealloc(d->suppress, d->results_cap * sizeof(*d->suppress));
	}
	d->replies[d->nresults] = reply ? xstrndup(reply, 1000) : NULL;
	d->suppress[d->nresults] = suppress ? xstrdup(suppress) : NULL;
	d->results[d->nresults] = (struct outbox_result){
	    .id = id, .state = state, .reply = d->replies[d->nresults], .due_ms = due};
	d->nresults++;
	deliver_flush_soon(d);
}

static void
deliver_item_free(struct deliver_item *it)
{
	free(it->om.message_id);
	free(it->om.channel);
	free(it->om.campaign_id);
	free(it->om.step_id);
	free(it->om.customer);
	free(it->om.sender);
	free(it->om.recipient);
	free(it->om.payload);
	free(it->verp_sender);
	free(it->verp_data);
	free(it);
}

/* The plugin's `done`: exactly once per accepted message, on the loop. */
static void
deliver_done(void *token, const struct nt_outcome *o)
{
	struct deliver_item *it = token;
	struct deliver_channel *ch = it->ch;
	struct deliver *d = ch->d;
	int64_t now = util_now_ms(), next;
	const char *who = it->om.recipient ? it->om.recipient : it->om.customer;

	TAILQ_REMOVE(&ch->inflight_items, it, link);
	ch->inflight--;
	ch->full = 0;
	switch (o->result) {
	case NT_SENT:
		log_debug("deliver: %s %s to %s: sent", ch->name, it->om.message_id, who);
		deliver_result(d, it->om.id, OUTBOX_SENT, o->reply, 0, NULL);
		metrics_inc_labelled(M_CHANNEL_DELIVERIES, "channel", ch->name, "result", "sent",
				     1);
		break;
	case NT_DEFERRED:
		next = retry_next(&ch->retry, it->om.attempts, it->om.created_ms, now,
				  o->retry_after_ms, g_random_double());
		if (next < 0) {
			log_info("deliver: %s %s to %s: expired after %d attempts (%s)", ch->name,
				 it->om.message_id, who, it->om.attempts,
				 o->reply ? o->reply : "no reply");
			deliver_result(d, it->om.id, OUTBOX_EXPIRED, o->reply, 0, NULL);
			metrics_inc_labelled(M_CHANNEL_DELIVERIES, "channel", ch->name, "result",
					     "expired", 1);
		} else {
			log_info("deliver: %s %s to %s: deferred (%s)", ch->name, it->om.message_id,
				 who, o->reply ? o->reply : "no reply");
			deliver_result(d, it->om.id, OUTBOX_DEFERRED, o->reply, next, NULL);
			metrics_inc_labelled(M_CHANNEL_DELIVERIES, "channel", ch->name, "result",
					     "deferred", 1);
			deliver_arm_timer(deliver_live(ch), next);
		}
		break;
	default:
		log_info("deliver: %s %s to %s: failed (%s)%s", ch->name, it->om.message_id, who,
			 o->reply ? o->reply : "no reply",
			 o->suppress ? "; address suppressed" : "");
		deliver_result(d, it->om.id, OUTBOX_FAILED, o->reply, 0,
			       o->suppress ? it->om.recipient : NULL);
		metrics_inc_labelled(M_CHANNEL_DELIVERIES, "channel", ch->name, "result", "failed",
				     1);
		break;
	}
	deliver_item_free(it);
	deliver_schedule_pump(ch);
}

static enum store_status
deliver_claim_run(struct store *s, struct store_job *job)
{
	struct deliver_claim_job *j = (struct deliver_claim_job *)job;
	enum store_status rc =
	    store_outbox_claim(s, j->ch->name, j->now_ms, j->limit, &j->msgs, &j->n);
	if (rc == STORE_OK && j->n < (size_t)j->limit)
		rc = store_outbox_next_due(s, j->ch->name, &j->next_due);
	return rc;
}

/*
 * A claimed message waits for the plugin. One claimed by a channel that a reload has
 * replaced since goes to its successor; when the channel was removed, back to the queue.
 */
static void
deliver_hold(struct deliver_channel *ch, struct deliver_item *it)
{
	struct deliver_channel *live = deliver_live(ch);

	if (live == NULL) {
		deliver_result(ch->d, it->om.id, OUTBOX_QUEUED, "channel removed by a reload",
			       util_now_ms(), NULL);
		deliver_item_free(it);
		return;
	}
	it->ch = live;
	TAILQ_INSERT_TAIL(&live->pending, it, link);
	live->npending++;
	if (live != ch)
		deliver_schedule_pump(live);
}

/*
 * Issue 16: with bounce_address, the envelope sender names this message (VERP), so that its
 * bounce comes back to it; with reply_to, a Reply-To that does the same for replies is put in
 * front of the rendered headers. Mail channels only.
 */
static void
deliver_verp(struct deliver *d, struct deliver_item *it)
{
	if (it->ch->payload != NT_PAYLOAD_MIME)
		return;
	if (d->bounce_address != NULL) {
		it->verp_sender =
		    verp_address(d->secret, d->bounce_address, VERP_BOUNCE, it->om.id);
		it->m.sender = it->verp_sender;
	}
	/* A campaign's own reply_to, on the customer's channels, comes before the channel's. */
	const char *base = it->ch->reply_to;
	json_t *c = it->ch->internal || d->campaign_reply_to == NULL || it->om.campaign_id == NULL
			? NULL
			: json_object_get(d->campaign_reply_to, it->om.campaign_id);
	if (c != NULL)
		base = json_string_value(c);
	if (base != NULL) {
		char *rt = verp_address(d->secret, base, VERP_REPLY, it->om.id);
		char *hdr = xasprintf("Reply-To: <%s>\r\n", rt);
		size_t hl = strlen(hdr);
		it->verp_data = xmalloc(hl + it->om.payload_len + 1);
		memcpy(it->verp_data, hdr, hl);
		memcpy(it->verp_data + hl, it->om.payload, it->om.payload_len);
		it->verp_data[hl + it->om.payload_len] = '\0';
		it->m.data = it->verp_data;
		it->m.data_len = hl + it->om.payload_len;
		free(hdr);
		free(rt);
	}
}

/* A claimed message becomes an item; what cannot be delivered at all fails right here. */
static void
deliver_take(struct deliver_channel *ch, struct outbox_msg *om)
{
	struct deliver_item *it = xcalloc(1, sizeof(*it));
	it->om = *om;
	it->ch = ch;
	it->m = (struct nt_message){.struct_size = sizeof(struct nt_message),
				    .id = om->id,
				    .message_id = om->message_id,
				    .channel = om->channel,
				    .campaign_id = om->campaign_id ? om->campaign_id : "",
				    .step_id = om->step_id,
				    .customer_id = om->customer,
				    .sender = om->sender,
				    .recipient = om->recipient,
				    .data = om->payload,
				    .data_len = om->payload_len,
				    .attempt = om->attempts,
				    .created_ms = om->created_ms};
	if (om->payload == NULL ||
	    (ch->payload == NT_PAYLOAD_MIME && (om->recipient == NULL || om->sender == NULL))) {
		deliver_result(ch->d, om->id, OUTBOX_FAILED,
			       om->payload == NULL ? "no rendered payload (queued before schema 3)"
						   : "no envelope for a mail channel",
			       0, NULL);
		deliver_item_free(it);
		return;
	}
	deliver_verp(ch->d, it);
	deliver_hold(ch, it);
}

static void
deliver_claim_done(struct store_job *job)
{
	struct deliver_claim_job *j = (struct deliver_claim_job *)job;
	struct deliver_channel *ch = j->ch;

	ch->claiming = 0;
	if (job->status != STORE_OK) {
		log_warnx("deliver: %s: cannot claim messages (store unavailable); retrying",
			  ch->name);
		deliver_arm_timer(deliver_live(ch), util_now_ms() + 1000);
	} else {
		for (size_t i = 0; i < j->n; i++)
			deliver_take(ch, &j->msgs[i]);
		free(j->msgs); /* the strings moved into the items */
		struct deliver_channel *live = deliver_live(ch);
		if (live != NULL && j->n == (size_t)j->limit)
			live->dirty = 1; /* a full batch: there may be more due */
		if (live != NULL && !live->dirty)
			deliver_arm_timer(live, j->next_due);
		if (live != NULL && live != ch)
			deliver_schedule_pump(live);
	}
	free(j);
	deliver_schedule_pump(ch);
}

/* Feeds pending messages to the plugin, then claims more when there is room. */
static void
deliver_pump(evutil_socket_t fd, short what, void *arg)
{
	struct deliver_channel *ch = arg;
	struct deliver *d = ch->d;
	(void)fd;
	(void)what;

	if (ch->retired) {
		deliver_retire_check(ch);
		return;
	}
	while (!TAILQ_EMPTY(&ch->pending) && !ch->full && !d->stopping) {
		struct deliver_item *it = TAILQ_FIRST(&ch->pending);
		TAILQ_REMOVE(&ch->pending, it, link);
		ch->npending--;
		ch->inflight++; /* before the call: `done` may come from inside it */
		TAILQ_INSERT_TAIL(&ch->inflight_items, it, link);
		if (ch->p->deliver(ch->state, &it->m, deliver_done, it) < 0) {
			TAILQ_REMOVE(&ch->inflight_items, it, link);
			ch->inflight--;
			TAILQ_INSERT_HEAD(&ch->pending, it, link);
			ch->npending++;
			ch->full = 1;
			if (ch->inflight == 0) /* nothing will wake us: try again shortly */
				deliver_arm_timer(ch, util_now_ms() + 200);
		}
	}
	if (d->stopping || !d->recovered || ch->claiming || ch->npending > 0 || !ch->dirty)
		return;
	int room = DELIVER_MAX_HELD - ch->inflight;
	if (room < DELIVER_CLAIM_MAX / 4 && ch->inflight > 0)
		return; /* claim in batches, not one by one */
	if (room <= 0)
		return;
	struct deliver_claim_job *j = xcalloc(1, sizeof(*j));
	j->ch = ch;
	j->limit = room < DELIVER_CLAIM_MAX ? room : DELIVER_CLAIM_MAX;
	j->now_ms = util_now_ms();
	j->next_due = -1;
	j->job.run = deliver_claim_run;
	j->job.done = deliver_claim_done;
	j->job.background = 1;
	ch->claiming = 1;
	ch->dirty = 0;
	storeloop_submit(d->loop, &j->job);
}

static void
deliver_timer(evutil_socket_t fd, short what, void *arg)
{
	struct deliver_channel *ch = arg;
	ch->dirty = 1;
	deliver_pump(fd, what, arg);
}

static enum store_status
deliver_flush_run(struct store *s, struct store_job *job)
{
	struct deliver_flush_job *j = (struct deliver_flush_job *)job;
	/* The outcomes at once (one statement on PostgreSQL), then the hard bounces' addresses. */
	enum store_status rc = store_outbox_finish_many(s, j->results, j->n);
	for (size_t i = 0; rc == STORE_OK && i < j->n; i++) {
		if (j->suppress[i] != NULL)
			rc = store_suppression_add(s, j->secret, j->suppress[i], "hard_bounce",
						   j->results[i].now_ms);
	}
	return rc;
}

static void
deliver_flush_free(struct deliver_flush_job *j)
{
	for (size_t i = 0; i < j->n; i++) {
		free(j->replies[i]);
		free(j->suppress[i]);
	}
	free(j->results);
	free(j->replies);
	free(j->suppress);
	free(j);
}

/*
 * A write-back that failed is tried again with the same results: they stay "sending" in the
 * store until it succeeds (or the next start queues them again).
 */
static void
deliver_flush_done(struct store_job *job)
{
	struct deliver_flush_job *j = (struct deliver_flush_job *)job;
	struct deliver *d = j->d;

	d->flushing = 0;
	if (job->status != STORE_OK) {
		log_warnx("deliver: cannot record %zu outcomes (store unavailable); retrying",
			  j->n);
		/* not at once: a store that is down would be asked in a busy loop */
		d->flushed_us = util_mono_us() + DELIVER_FLUSH_RETRY_US - DELIVER_FLUSH_GAP_US;
		for (size_t i = 0; i < j->n; i++)
			deliver_result(d, j->results[i].id, j->results[i].state, j->replies[i],
				       j->results[i].due_ms, j->suppress[i]);
	}
	deliver_flush_free(j);
	deliver_flush_soon(d);
}

static void
deliver_flush_cb(evutil_socket_t fd, short what, void *arg)
{
	struct deliver *d = arg;
	(void)fd;
	(void)what;
	if (!d->flushing)
		deliver_flush(d);
}

/* The next write-back: now, or when DELIVER_FLUSH_GAP_US has passed since the last began. */
static void
deliver_flush_soon(struct deliver *d)
{
	if (d->nresults == 0 || d->flushing || evtimer_pending(d->flush_ev, NULL))
		return;
	int64_t wait = d->flushed_us + DELIVER_FLUSH_GAP_US - util_mono_us();
	if (wait <= 0) {
		deliver_flush(d);
		return;
	}
	struct timeval tv = {(time_t)(wait / 1000000), (suseconds_t)(wait % 1000000)};
	evtimer_add(d->flush_ev, &tv);
}

/* One store job carries every outcome gathered since the last one. */
static void
deliver_flush(struct deliver *d)
{
	struct deliver_flush_job *j;
	size_t n = d->nresults < DELIVER_FLUSH_MAX ? d->nresults : DELIVER_FLUSH_MAX;
	int64_t now = util_now_ms();

	if (n == 0)
		return;
	j = xcalloc(1, sizeof(*j));
	j->d = d;
	j->n = n;
	j->secret = d->secret;
	j->results = xmalloc(n * sizeof(*j->results));
	j->replies = xmalloc(n * sizeof(*j->replies));
	j->suppress = xmalloc(n * sizeof(*j->suppress));
	memcpy(j->results, d->results, n * sizeof(*j->results));
	memcpy(j->replies, d->replies, n * sizeof(*j->replies));
	memcpy(j->suppress, d->suppress, n * sizeof(*j->suppress));
	for (size_t i = 0; i < n; i++)
		j->results[i].now_ms = now;
	memmove(d->results, d->results + n, (d->nresults - n) * sizeof(*d->results));
	memmove(d->replies, d->replies + n, (d->nresults - n) * sizeof(*d->replies));
	memmove(d->suppress, d->suppress + n, (d->nresults - n) * sizeof(*d->suppress));
	d->nresults -= n;
	j->job.run = deliver_flush_run;
	j->job.done = deliver_flush_done;
	j->job.background = 1;
	d->flushing = 1;
	d->flushed_us = util_mono_us();
	storeloop_submit(d->loop, &j->job);
}

static void
deliver_wake_cb(evutil_socket_t fd, short what, void *arg)
{
	struct deliver *d = arg;
	(void)fd;
	(void)what;
	for (size_t i = 0; i < d->n; i++) {
		d->ch[i]->dirty = 1;
		deliver_schedule_pump(d->ch[i]);
	}
}

void
deliver_wake(void *arg)
{
	struct deliver *d = arg;
	event_active(d->wake_ev, EV_TIMEOUT, 0);
}

static enum store_status
deliver_recover_run(struct store *s, struct store_job *job)
{
	struct deliver_recover_job *j = (struct deliver_recover_job *)job;
	return store_outbox_recover(s, j->now_ms, &j->n);
}

/* Until the crash's leftovers are queued again, nothing is claimed (they'd be skipped). */
static void
deliver_recover_done(struct store_job *job)
{
	struct deliver_recover_job *j = (struct deliver_recover_job *)job;
	struct deliver *d = j->d;

	if (job->status != STORE_OK) {
		log_warnx("deliver: cannot recover interrupted messages; retrying");
		j->job.status = STORE_OK;
		storeloop_submit(d->loop, &j->job);
		return;
	}
	if (j->n > 0)
		log_info("deliver: %d messages interrupted by the last stop are queued again",
			 j->n);
	d->recovered = 1;
	free(j);
	deliver_wake_cb(-1, 0, d);
}

/* Releases a channel: its plugin instance (abandoning what it still holds) and its items. */
static void
deliver_channel_free(struct deliver_channel *ch)
{
	struct deliver_item *it;

	if (ch == NULL)
		return;
	if (ch->p != NULL)
		ch->p->fini(ch->state);
	while ((it = TAILQ_FIRST(&ch->pending)) != NULL) {
		TAILQ_REMOVE(&ch->pending, it, link);
		deliver_item_free(it);
	}
	while ((it = TAILQ_FIRST(&ch->inflight_items)) != NULL) {
		TAILQ_REMOVE(&ch->inflight_items, it, link);
		deliver_item_free(it);
	}
	event_free(ch->pump_ev);
	event_free(ch->timer);
	json_decref(ch->conf);
	free(ch->name);
	free(ch->reply_to);
	free(ch);
}

/* Opens one channel (CONF: its object in the config); the plugin checks its own settings. */
static struct deliver_channel *
deliver_open(struct deliver *d, const struct channel_conf *cc, json_t *conf, const char *plugin_dir,
	     char **err)
{
	struct deliver_channel *ch = xcalloc(1, sizeof(*ch));
	char *perr = NULL;

	ch->d = d;
	ch->name = xstrdup(cc->name);
	ch->conf = json_deep_copy(conf);
	ch->retry = cc->retry;
	/* The channel's own reply_to, else the configuration's (not for internal channels). */
	const char *rt = cc->reply_to_set ? cc->reply_to : cc->internal ? NULL : d->reply_to;
	ch->reply_to = rt ? xstrdup(rt) : NULL;
	ch->internal = cc->internal;
	TAILQ_INIT(&ch->pending);
	TAILQ_INIT(&ch->inflight_items);
	ch->pump_ev = event_new(d->base, -1, 0, deliver_pump, ch);
	ch->timer = evtimer_new(d->base, deliver_timer, ch);
	ch->p = plugin_load(plugin_dir, cc->plugin, &perr);
	if (ch->p == NULL) {
		*err = xasprintf("channel '%s': %s", cc->name, perr);
		free(perr);
		deliver_channel_free(ch);
		return NULL;
	}
	ch->payload = cc->payload ? cc->payload : (int)ch->p->payload;
	if ((*err = channel_conf_problem(cc, ch->payload)) != NULL) {
		ch->p = NULL;
		deliver_channel_free(ch);
		return NULL;
	}
	if (ch->p->init(plugin_host(), cc->name, cc->settings, &ch->state, &perr) < 0) {
		*err = xasprintf("channel '%s' (plugin %s): %s", cc->name, cc->plugin,
				 perr ? perr : "init failed");
		free(perr);
		ch->p = NULL;
		deliver_channel_free(ch);
		return NULL;
	}
	return ch;
}

/* A retired channel is released once nothing of it is out: no claim, no message in flight. */
static void
deliver_retire_check(struct deliver_channel *ch)
{
	struct deliver *d = ch->d;

	if (ch->inflight > 0 || ch->claiming)
		return;
	for (size_t i = 0; i < d->n_retired; i++)
		if (d->retired[i] == ch) {
			d->retired[i] = d->retired[--d->n_retired];
			break;
		}
	log_info("deliver: %s: the instance a reload replaced has finished", ch->name);
	deliver_channel_free(ch);
}

/*
 * Retires CH at a reload: its plugin stops taking messages but still reports each one it
 * holds; the messages claimed but not yet handed over go to the successor (or back to the
 * queue when the channel is gone); it is released when its last outcome is back.
 */
static void
deliver_retire(struct deliver_channel *ch)
{
	struct deliver *d = ch->d;
	struct deliver_item *it;

	ch->retired = 1;
	if (ch->p->stop != NULL)
		ch->p->stop(ch->state);
	evtimer_del(ch->timer);
	while ((it = TAILQ_FIRST(&ch->pending)) != NULL) {
		TAILQ_REMOVE(&ch->pending, it, link);
		ch->npending--;
		deliver_hold(ch, it);
	}
	d->retired = xrealloc(d->retired, (d->n_retired + 1) * sizeof(*d->retired));
	d->retired[d->n_retired++] = ch;
	deliver_schedule_pump(ch); /* released from the loop, never inside a plugin's call */
}

int
deliver_reload(struct deliver *d, const struct config *cfg, char **err)
{
	struct deliver_channel **next = xcalloc(cfg->n_chans + 1, sizeof(*next));
	char *fresh = xcalloc(cfg->n_chans + 1, 1);
	size_t i, k;

	/* First every new instance: one that fails leaves the running channels untouched. */
	for (i = 0; i < cfg->n_chans; i++) {
		const struct channel_conf *cc = &cfg->chans[i];
		json_t *conf = json_object_get(cfg->channels, cc->name);
		struct deliver_channel *old = deliver_find(d, cc->name);
		if (old != NULL && json_equal(old->conf, conf)) {
			next[i] = old;
			continue;
		}
		next[i] = deliver_open(d, cc, conf, cfg->plugin_dir, err);
		if (next[i] == NULL) {
			for (k = 0; k < i; k++)
				if (fresh[k])
					deliver_channel_free(next[k]);
			free(next);
			free(fresh);
			return -1;
		}
		fresh[i] = 1;
	}
	struct deliver_channel **old = d->ch;
	size_t nold = d->n;
	d->ch = next;
	d->n = cfg->n_chans;
	for (k = 0; k < nold; k++) {
		for (i = 0; i < d->n && d->ch[i] != old[k]; i++)
			;
		if (i == d->n) {
			log_info("deliver: %s: %s at reload; %d messages in flight finish first",
				 old[k]->name,
				 deliver_find(d, old[k]->name) ? "replaced" : "removed",
				 old[k]->inflight);
			deliver_retire(old[k]);
		}
	}
	for (i = 0; i < d->n; i++)
		if (fresh[i]) {
			d->ch[i]->dirty = 1;
			deliver_schedule_pump(d->ch[i]);
		}
	free(old);
	free(fresh);
	return 0;
}

/*
 * The campaigns' own "reply_to" (issue 16), from the set the engine runs: the loop thread's
 * copy, taken at the start and at each reload, since delivery runs here and not on the store.
 */
void
deliver_set_campaigns(struct deliver *d, const struct campaign_set *set)
{
	json_t *m = json_object();

	for (size_t i = 0; set != NULL && i < set->n; i++)
		if (set->v[i]->reply_to_set)
			json_object_set_new(m, set->v[i]->id,
					    set->v[i]->reply_to ? json_string(set->v[i]->reply_to)
								: json_null());
	json_decref(d->campaign_reply_to);
	d->campaign_reply_to = m;
}

struct deliver *
deliver_start(const struct config *cfg, struct event_base *base, const char *secret, char **err)
{
	struct deliver *d = xcalloc(1, sizeof(*d));

	d->base = base;
	d->secret = xstrdup(secret);
	d->bounce_address =
	    cfg->inbound.bounce_address ? xstrdup(cfg->inbound.bounce_address) : NULL;
	d->reply_to = cfg->inbound.reply_to ? xstrdup(cfg->inbound.reply_to) : NULL;
	d->wake_ev = event_new(base, -1, 0, deliver_wake_cb, d);
	d->flush_ev = evtimer_new(base, deliver_flush_cb, d);
	d->ch = xcalloc(cfg->n_chans + 1, sizeof(*d->ch));
	for (size_t i = 0; i < cfg->n_chans; i++) {
		d->ch[i] = deliver_open(d, &cfg->chans[i],
					json_object_get(cfg->channels, cfg->chans[i].name),
					cfg->plugin_dir, err);
		if (d->ch[i] == NULL) {
			deliver_free(d);
			return NULL;
		}
		d->n = i + 1;
	}
	return d;
}

void
deliver_begin(struct deliver *d, struct storeloop *loop)
{
	struct deliver_recover_job *j = xcalloc(1, sizeof(*j));
	d->loop = loop;
	j->d = d;
	j->now_ms = util_now_ms();
	j->job.run = deliver_recover_run;
	j->job.done = deliver_recover_done;
	j->job.background = 1;
	storeloop_submit(loop, &j->job);
}

int
deliver_channel_inflight(struct deliver *d, const char *channel)
{
	int n = 0;
	for (size_t i = 0; d != NULL && i < d->n; i++)
		if (strcmp(d->ch[i]->name, channel) == 0)
			n += d->ch[i]->inflight;
	for (size_t i = 0; d != NULL && i < d->n_retired; i++)
		if (strcmp(d->retired[i]->name, channel) == 0)
			n += d->retired[i]->inflight;
	return n;
}

int
deliver_channel_payload(struct deliver *d, const char *channel)
{
	struct deliver_channel *ch = d != NULL ? deliver_find(d, channel) : NULL;
	return ch != NULL ? ch->payload : 0;
}

void
deliver_stop(struct deliver *d)
{
	if (d == NULL || d->stopping)
		return;
	d->stopping = 1;
	for (size_t i = 0; i < d->n; i++)
		if (d->ch[i]->p != NULL && d->ch[i]->p->stop != NULL)
			d->ch[i]->p->stop(d->ch[i]->state);
}

int
deliver_idle(struct deliver *d)
{
	if (d == NULL)
		return 1;
	for (size_t i = 0; i < d->n; i++)
		if (d->ch[i]->inflight > 0 || d->ch[i]->claiming)
			return 0;
	if (d->n_retired > 0)
		return 0;
	return d->nresults == 0 && !d->flushing;
}

/*
 * After the store loop stopped: plugins abandon what is still in flight (those messages stay
 * "sending" and are queued again at the next start); pending ones were never handed over.
 */
void
deliver_free(struct deliver *d)
{
	if (d == NULL)
		return;
	for (size_t i = 0; i < d->n; i++)
		deliver_channel_free(d->ch[i]);
	for (size_t i = 0; i < d->n_retired; i++)
		deliver_channel_free(d->retired[i]);
	free(d->retired);
	for (size_t i = 0; i < d->nresults; i++) {
		free(d->replies[i]);
		free(d->suppress[i]);
	}
	free(d->results);
	free(d->replies);
	free(d->suppress);
	event_free(d->wake_ev);
	event_free(d->flush_ev);
	free(d->ch);
	free(d->secret);
	free(d->bounce_address);
	free(d->reply_to);
	json_decref(d->campaign_reply_to);
	free(d);
}
