/*
 * /v1/broadcasts (issue 17): one-off mailings. Creation and edits are checked on the network
 * loop (shape), then on the reader (the segment, an audience that reaches somebody, content
 * that renders: these read the store and the disk), then written on the store thread, where
 * the state is checked again. Reads go to the reader; cancel, delete and test sends to the
 * store thread. The archive page (/archive/{id}) renders a sent broadcast's frozen content for
 * a placeholder customer, when the configuration allows it.
 */
#include <stdlib.h>
#include <string.h>

#include "api.h"
#include "broadcast.h"
#include "compose.h"
#include "condition.h"
#include "config.h"
#include "daemon.h"
#include "http.h"
#include "message_queue.h"
#include "mime.h"
#include "segment.h"
#include "store_broadcast.h"
#include "storeloop.h"
#include "template.h"
#include "timefmt.h"
#include "util.h"

#define BROADCASTS_LIST 100
#define BROADCAST_TEST_MAX 10

enum bc_op {
	BC_CHECK,   /* reader: segment, reach, rendering */
	BC_ADD,	    /* store */
	BC_PATCH,   /* store: replace the spec while draft or scheduled */
	BC_LOAD,    /* reader: the row before a PATCH */
	BC_GET,	    /* reader: the row and its counts */
	BC_LIST,    /* reader */
	BC_CANCEL,  /* store */
	BC_DELETE,  /* store */
	BC_TEST,    /* store */
	BC_ARCHIVE, /* reader */
};

struct bc_job {
	struct store_job job; /* first */
	struct http_req *hr;
	enum bc_op op, then; /* BC_CHECK: what follows it (BC_ADD or BC_PATCH) */
	char *id;
	json_t *spec;
	int64_t due_ms;
	int64_t now_ms;
	const struct compose_ctx *cx;
	/* what came of it */
	char *err; /* a 400 (BC_CHECK), or why not (409) */
	const char *field;
	int conflict_state; /* the state forbids the operation */
	struct broadcast_row row;
	struct broadcast_row *rows;
	size_t n;
	struct broadcast_counts counts; /* BC_GET */
	json_t *to;			/* BC_TEST: the addresses */
	json_t *result;			/* BC_TEST: one result per address */
	char *page;			/* BC_ARCHIVE */
	long reach;			/* BC_CHECK: subscribed members found (at most 1) */
};

static void
bc_job_free(struct bc_job *j)
{
	free(j->id);
	json_decref(j->spec);
	free(j->err);
	broadcast_row_clear(&j->row);
	broadcast_rows_free(j->rows, j->n);
	broadcast_counts_clear(&j->counts);
	json_decref(j->to);
	json_decref(j->result);
	free(j->page);
	free(j);
}

static enum store_status bc_run(struct store *s, struct store_job *job);
static void bc_done(struct store_job *job);

static struct bc_job *
bc_job_new(struct http_req *hr, enum bc_op op, const char *id)
{
	struct bc_job *j = xcalloc(1, sizeof(*j));
	j->hr = hr;
	j->op = op;
	j->id = id ? xstrdup(id) : NULL;
	j->job.run = bc_run;
	j->job.done = bc_done;
	j->now_ms = util_now_ms();
	j->cx = daemon_compose(hr->d); /* the store thread's view: read there only */
	return j;
}

static void
bc_time(json_t *o, const char *key, int64_t ms)
{
	char when[40];
	if (ms < 0)
		return;
	timefmt_format_utc(ms, when, sizeof(when));
	json_object_set_new(o, key, json_string(when));
}

/*
 * The fan-out's messages by state (skips by reason) and the complaints: {"queued": N, ...,
 * "skipped": {"REASON": N}, "complaints": N}, added to STATS.
 */
static void
bc_counts_json(json_t *stats, const struct broadcast_counts *c)
{
	json_t *skipped = json_object();

	for (int i = 0; i < OUTBOX_N_STATES; i++)
		if (i != OUTBOX_SKIPPED)
			json_object_set_new(stats, outbox_state_name(i), json_integer(c->n[i]));
	for (size_t i = 0; i < c->n_skipped; i++)
		json_object_set_new(skipped, c->skipped[i].reason, json_integer(c->skipped[i].n));
	json_object_set_new(stats, "skipped", skipped);
	json_object_set_new(stats, "complaints", json_integer(c->complaints));
}

/* The API's view of a broadcast: its request, its state and times, and the fan-out's counts. */
static json_t *
bc_json(const struct broadcast_row *r, const struct broadcast_counts *counts)
{
	json_t *spec = json_loads(r->spec, 0, NULL);
	json_t *o = spec ? spec : json_object();

	json_object_set_new(o, "state", json_string(broadcast_state_name(r->state)));
	bc_time(o, "created", r->created_ms);
	bc_time(o, "updated", r->updated_ms);
	bc_time(o, "due", r->due_ms);
	bc_time(o, "started", r->started_ms);
	bc_time(o, "finished", r->finished_ms);
	json_t *stats = json_pack("{s:I,s:I}", "audience", (json_int_t)r->matched, "not_subscribed",
				  (json_int_t)r->not_subscribed);
	if (counts != NULL) /* room for what later features count: clicks, conversions */
		bc_counts_json(stats, counts);
	json_object_set_new(o, "stats", stats);
	return o;
}

/* Reader: the audience's segment exists, reaches a subscribed customer, the content renders. */
static enum store_status
bc_check_run(struct store *s, struct bc_job *j)
{
	json_t *audience = json_object_get(j->spec, "audience");
	const char *topic = json_string_value(json_object_get(j->spec, "topic"));
	struct cond *c = NULL;
	struct segment_scan scan;
	enum store_status rc;
	char *err = NULL;

	if (json_is_string(audience)) {
		struct segment_row seg;
		rc = store_segment_get(s, json_string_value(audience), &seg);
		if (rc == STORE_NOTFOUND) {
			j->err = xasprintf("no segment '%s'", json_string_value(audience));
			j->field = "audience";
			return STORE_OK;
		}
		if (rc != STORE_OK)
			return rc;
		c = segment_compile_text(seg.condition);
		segment_row_clear(&seg);
	} else
		c = segment_compile(audience, "audience", &err);
	free(err);
	if (c == NULL) {
		j->err = xstrdup("the audience's condition does not compile");
		j->field = "audience";
		return STORE_OK;
	}
	rc = segment_scan(s, c, topic, 0, 1, j->now_ms, &scan);
	cond_free(c);
	if (rc != STORE_OK)
		return rc;
	j->reach = scan.subscribed;
	segment_scan_clear(&scan);
	if (j->reach == 0) {
		j->err =
		    xasprintf("the audience reaches nobody: no customer in it is subscribed to "
			      "topic '%s'",
			      topic);
		j->field = "audience";
		return STORE_OK;
	}
	return STORE_OK;
}

/*
 * Store thread: whether the content renders, read from the store thread's view of the
 * configuration (templates_dir, public_url), which a reload swaps there. Reads the template
 * files: a few small reads, once per creation or edit.
 */
static void
bc_render_check(struct bc_job *j)
{
	char *err = NULL;
	json_t *files = broadcast_sources(j->cx->cfg->templates_dir, j->spec, &err);
	const char *field = json_object_get(json_object_get(j->spec, "content"), "template")
				? "content.template"
				: "content";
	if (files == NULL) {
		j->err = err;
		j->field = field;
		return;
	}
	if ((err = broadcast_render_check(j->cx, j->spec, files)) != NULL) {
		j->err = xasprintf("the content does not render: %s", err);
		j->field = field;
		free(err);
	}
	json_decref(files);
}

/* Store: a test send of the content as it is (frozen, or read now) to each address. */
static enum store_status
bc_test_run(struct store *s, struct bc_job *j)
{
	enum store_status rc = store_broadcast_get(s, j->id, &j->row);
	char *err = NULL;
	json_t *spec, *files, *frozen = NULL;

	if (rc != STORE_OK)
		return rc;
	spec = json_loads(j->row.spec, 0, NULL);
	if (j->row.frozen != NULL && (frozen = json_loads(j->row.frozen, 0, NULL)) != NULL)
		files = json_incref(json_object_get(frozen, "files"));
	else
		files = broadcast_sources(j->cx->cfg->templates_dir, spec, &err);
	j->result = json_array();
	if (files == NULL) {
		j->err = err;
		goto out;
	}
	struct diag d;
	diag_init(&d, "broadcast", NULL);
	struct template_set *set = template_set_load_files("content", files, &d);
	diag_free(&d);
	struct compose_ctx cx = *j->cx;
	struct campaign c;
	cx.tpl = set;
	broadcast_campaign(&c, "", spec);
	const char *tmpl =
	    json_string_value(json_object_get(json_object_get(spec, "content"), "template"));
	for (size_t i = 0; i < json_array_size(j->to) && rc == STORE_OK; i++) {
		const char *to = json_string_value(json_array_get(j->to, i));
		json_t *customer = broadcast_placeholder(to);
		int visit;
		if ((rc = store_system_visit(s, &visit)) != STORE_OK) {
			json_decref(customer);
			break;
		}
		/* System mail (campaign ""): a test counts in no statistics. */
		struct message_req r = {.campaign = &c,
					.customer_id = 0,
					.campaign_id = "",
					.step_id = "broadcast-test",
					.visit = visit,
					.channel =
					    json_string_value(json_object_get(spec, "channel")),
					.template = tmpl ? tmpl : BROADCAST_INLINE,
					.customer = customer,
					.transactional = 1,
					.msgid_domain = j->cx->msgid_domain,
					.now_ms = j->now_ms};
		struct message_res res;
		if ((rc = message_queue(s, &cx, NULL, &r, &res)) == STORE_OK)
			json_array_append_new(
			    j->result, res.state == OUTBOX_SKIPPED
					   ? json_pack("{s:s,s:s,s:s}", "to", to, "state",
						       "skipped", "reason", res.reason)
					   : json_pack("{s:s,s:s,s:s}", "to", to, "state", "queued",
						       "message_id", res.message_id));
		message_res_clear(&res);
		json_decref(customer);
	}
	template_set_free(set);
out:
	json_decref(files);
	json_decref(frozen);
	json_decref(spec);
	return rc;
}

/* Reader: the archive page of a sent broadcast, rendered when its fan-out ended. */
static enum store_status
bc_archive_run(struct store *s, struct bc_job *j)
{
	enum store_status rc = store_broadcast_get(s, j->id, &j->row);
	json_t *spec, *frozen;

	if (rc != STORE_OK)
		return rc;
	spec = json_loads(j->row.spec, 0, NULL);
	frozen = j->row.frozen ? json_loads(j->row.frozen, 0, NULL) : NULL;
	const char *page = json_string_value(json_object_get(frozen, "archive"));
	if (j->row.state != BROADCAST_SENT || page == NULL ||
	    json_is_false(json_object_get(spec, "archive")))
		rc = STORE_NOTFOUND;
	else
		j->page = xstrdup(page);
	json_decref(frozen);
	json_decref(spec);
	return rc;
}

static enum store_status
bc_run(struct store *s, struct store_job *job)
{
	struct bc_job *j = (struct bc_job *)job;
	enum store_status rc;

	switch (j->op) {
	case BC_CHECK:
		return bc_check_run(s, j);
	case BC_ADD: {
		if (bc_render_check(j), j->err != NULL)
			return STORE_OK;
		char *text = json_dumps(j->spec, JSON_COMPACT | JSON_SORT_KEYS);
		struct broadcast_row r = {.id = j->id,
					  .state =
					      j->due_ms < 0 ? BROADCAST_DRAFT : BROADCAST_SCHEDULED,
					  .spec = text,
					  .due_ms = j->due_ms,
					  .created_ms = j->now_ms,
					  .updated_ms = j->now_ms,
					  .started_ms = -1,
					  .finished_ms = -1};
		rc = store_broadcast_add(s, &r);
		free(text);
		if (rc == STORE_OK || rc == STORE_DUPLICATE) {
			enum store_status got = store_broadcast_get(s, j->id, &j->row);
			rc = got != STORE_OK ? got : rc;
		}
		return rc;
	}
	case BC_PATCH:
		if ((rc = store_broadcast_get(s, j->id, &j->row)) != STORE_OK)
			return rc;
		if (j->row.state != BROADCAST_DRAFT && j->row.state != BROADCAST_SCHEDULED) {
			j->conflict_state = 1;
			return STORE_OK;
		}
		if (bc_render_check(j), j->err != NULL)
			return STORE_OK;
		free(j->row.spec);
		j->row.spec = json_dumps(j->spec, JSON_COMPACT | JSON_SORT_KEYS);
		j->row.state = j->due_ms < 0 ? BROADCAST_DRAFT : BROADCAST_SCHEDULED;
		j->row.due_ms = j->due_ms;
		j->row.updated_ms = j->now_ms;
		return store_broadcast_update(s, &j->row);
	case BC_LOAD:
		return store_broadcast_get(s, j->id, &j->row);
	case BC_GET:
		if ((rc = store_broadcast_get(s, j->id, &j->row)) != STORE_OK)
			return rc;
		{
			char *cid = broadcast_campaign_id(j->id);
			rc = store_broadcast_counts(s, cid, &j->counts);
			free(cid);
		}
		return rc;
	case BC_LIST:
		return store_broadcasts_list(s, BROADCASTS_LIST, &j->rows, &j->n);
	case BC_CANCEL:
		if ((rc = store_broadcast_get(s, j->id, &j->row)) != STORE_OK)
			return rc;
		if (j->row.state == BROADCAST_SENT || j->row.state == BROADCAST_CANCELED) {
			j->conflict_state = 1;
			return STORE_OK;
		}
		j->row.state = BROADCAST_CANCELED;
		j->row.due_ms = -1;
		j->row.updated_ms = j->row.finished_ms = j->now_ms;
		return store_broadcast_update(s, &j->row);
	case BC_DELETE:
		if ((rc = store_broadcast_get(s, j->id, &j->row)) != STORE_OK)
			return rc;
		if (j->row.state != BROADCAST_DRAFT) {
			j->conflict_state = 1;
			return STORE_OK;
		}
		return store_broadcast_delete(s, j->id);
	case BC_TEST:
		return bc_test_run(s, j);
	case BC_ARCHIVE:
		return bc_archive_run(s, j);
	}
	return STORE_OK;
}

static void bc_patch_merged(struct bc_job *j);

static void
bc_done(struct store_job *job)
{
	struct bc_job *j = (struct bc_job *)job;
	struct http_req *hr = j->hr;
	int dup = job->status == STORE_DUPLICATE;

	if (dup)
		job->status = STORE_OK;
	if (job->status != STORE_OK) {
		if (j->op == BC_ARCHIVE && job->status == STORE_NOTFOUND)
			http_reply_text(hr, 404, "text/plain; charset=utf-8", "not found\n");
		else
			http_reply_store_error(hr, job->status, "no such broadcast",
					       "a broadcast with this id exists with another "
					       "request");
		bc_job_free(j);
		return;
	}
	if (j->conflict_state) {
		char *msg = xasprintf("the broadcast is %s", broadcast_state_name(j->row.state));
		http_reply_error(hr, 409, msg, "state", -1);
		free(msg);
		bc_job_free(j);
		return;
	}
	switch (j->op) {
	case BC_CHECK:
		if (j->err != NULL) {
			http_reply_error(hr, 400, j->err, j->field, -1);
			break;
		}
		j->op = j->then;
		j->job.status = STORE_OK;
		j->job.wakes_engine = 1;
		storeloop_submit(daemon_storeloop(hr->d), &j->job);
		return; /* the same job goes on */
	case BC_LOAD:
		bc_patch_merged(j);
		return;
	case BC_ADD:
		if (j->err != NULL)
			http_reply_error(hr, 400, j->err, j->field, -1);
		else
			http_reply_json(hr, dup ? 200 : 201, bc_json(&j->row, NULL));
		break;
	case BC_PATCH:
		if (j->err != NULL) {
			http_reply_error(hr, 400, j->err, j->field, -1);
			break;
		}
		/* fall through */
	case BC_CANCEL:
	case BC_GET:
		http_reply_json(hr, 200, bc_json(&j->row, j->op == BC_GET ? &j->counts : NULL));
		break;
	case BC_LIST: {
		json_t *a = json_array();
		for (size_t i = 0; i < j->n; i++)
			json_array_append_new(a, bc_json(&j->rows[i], NULL));
		http_reply_json(hr, 200, json_pack("{s:o}", "broadcasts", a));
		break;
	}
	case BC_DELETE:
		http_reply_json(hr, 200, json_pack("{s:s,s:b}", "id", j->id, "deleted", 1));
		break;
	case BC_TEST:
		if (j->err != NULL)
			http_reply_error(hr, 409, j->err, "content", -1);
		else {
			daemon_wake_delivery(hr->d);
			http_reply_json(hr, 202, json_pack("{s:O}", "sent", j->result));
		}
		break;
	case BC_ARCHIVE:
		if (j->page == NULL)
			http_reply_text(hr, 500, "text/plain; charset=utf-8", "cannot render\n");
		else
			http_reply_text(hr, 200, "text/html; charset=utf-8", j->page);
		break;
	}
	bc_job_free(j);
}

/* The network loop's checks of SPEC, then the reader's; THEN writes it. J is taken. */
static void
bc_check(struct bc_job *j, enum bc_op then)
{
	char *err = NULL;
	const char *field = NULL;

	if (broadcast_spec_check(j->spec, daemon_config(j->hr->d), j->now_ms, &j->due_ms, &err,
				 &field) < 0) {
		http_reply_error(j->hr, 400, err, field, -1);
		free(err);
		bc_job_free(j);
		return;
	}
	j->op = BC_CHECK;
	j->then = then;
	storeloop_submit(daemon_readloop(j->hr->d), &j->job);
}

/* POST /v1/broadcasts */
void
api_broadcasts_post(struct http_req *hr)
{
	json_t *body = http_body_json(hr);
	if (body == NULL)
		return;
	struct bc_job *j = bc_job_new(hr, BC_ADD, json_string_value(json_object_get(body, "id")));
	j->spec = body;
	bc_check(j, BC_ADD);
}

/* GET /v1/broadcasts */
void
api_broadcasts_get(struct http_req *hr)
{
	storeloop_submit(daemon_readloop(hr->d), &bc_job_new(hr, BC_LIST, NULL)->job);
}

/* GET /v1/broadcasts/{id} */
void
api_broadcast_get(struct http_req *hr)
{
	if (strchr(hr->arg, '/') != NULL) {
		http_reply_error(hr, 404, "no such resource", NULL, -1);
		return;
	}
	storeloop_submit(daemon_readloop(hr->d), &bc_job_new(hr, BC_GET, hr->arg)->job);
}

/* DELETE /v1/broadcasts/{id}: drafts only. */
void
api_broadcast_delete(struct http_req *hr)
{
	if (strchr(hr->arg, '/') != NULL) {
		http_reply_error(hr, 404, "no such resource", NULL, -1);
		return;
	}
	storeloop_submit(daemon_storeloop(hr->d), &bc_job_new(hr, BC_DELETE, hr->arg)->job);
}

/* After BC_LOAD: the PATCH body merged over the stored request, checked again. */
static void
bc_patch_merged(struct bc_job *j)
{
	json_t *spec = json_loads(j->row.spec, 0, NULL);
	if (spec == NULL)
		spec = json_object();
	if (j->row.state != BROADCAST_DRAFT && j->row.state != BROADCAST_SCHEDULED) {
		char *msg = xasprintf("the broadcast is %s: only a draft or a scheduled one can "
				      "be changed",
				      broadcast_state_name(j->row.state));
		http_reply_error(j->hr, 409, msg, "state", -1);
		free(msg);
		json_decref(spec);
		bc_job_free(j);
		return;
	}
	json_t *v;
	const char *key;
	json_object_foreach(j->spec, key, v)
	{
		if (json_is_null(v))
			json_object_del(spec, key);
		else
			json_object_set(spec, key, v);
	}
	json_decref(j->spec);
	j->spec = spec;
	json_object_set_new(spec, "id", json_string(j->id));
	broadcast_row_clear(&j->row);
	bc_check(j, BC_PATCH);
}

/* PATCH /v1/broadcasts/{id}: before sending; "send_at": null makes it a draft again. */
void
api_broadcast_patch(struct http_req *hr)
{
	json_t *body;
	if (strchr(hr->arg, '/') != NULL) {
		http_reply_error(hr, 404, "no such resource", NULL, -1);
		return;
	}
	if ((body = http_body_json(hr)) == NULL)
		return;
	const char *bid = json_string_value(json_object_get(body, "id"));
	if (!json_is_object(body) ||
	    (json_object_get(body, "id") && (bid == NULL || strcmp(bid, hr->arg) != 0))) {
		http_reply_error(hr, 400, "a PATCH body is an object and does not change 'id'",
				 "id", -1);
		json_decref(body);
		return;
	}
	struct bc_job *j = bc_job_new(hr, BC_LOAD, hr->arg);
	j->spec = body;
	storeloop_submit(daemon_readloop(hr->d), &j->job);
}

/* POST /v1/broadcasts/{id}/cancel, …/test {"to": [ADDRESS, ...]} */
void
api_broadcast_post(struct http_req *hr)
{
	char *slash = strchr(hr->arg, '/');
	if (http_is_patch(hr)) {
		api_broadcast_patch(hr);
		return;
	}
	if (slash == NULL) {
		http_reply_error(hr, 404, "no such resource (…/cancel or …/test)", NULL, -1);
		return;
	}
	*slash = '\0';
	if (strcmp(slash + 1, "cancel") == 0) {
		storeloop_submit(daemon_storeloop(hr->d), &bc_job_new(hr, BC_CANCEL, hr->arg)->job);
		return;
	}
	if (strcmp(slash + 1, "test") != 0) {
		http_reply_error(hr, 404, "no such resource (…/cancel or …/test)", NULL, -1);
		return;
	}
	json_t *body = http_body_json(hr), *to;
	if (body == NULL)
		return;
	to = json_object_get(body, "to");
	if (json_is_string(to))
		to = json_pack("[O]", to);
	else
		json_incref(to);
	int ok = json_is_array(to) && json_array_size(to) > 0 &&
		 json_array_size(to) <= BROADCAST_TEST_MAX;
	for (size_t i = 0; ok && i < json_array_size(to); i++)
		ok = json_is_string(json_array_get(to, i)) &&
		     mime_addr_valid(json_string_value(json_array_get(to, i)));
	if (!ok) {
		http_reply_error(hr, 400, "'to' must be an email address or a list of 1 to 10",
				 "to", -1);
		json_decref(to);
	} else {
		struct bc_job *j = bc_job_new(hr, BC_TEST, hr->arg);
		j->to = to;
		storeloop_submit(daemon_storeloop(hr->d), &j->job);
	}
	json_decref(body);
}

/* GET /archive/{id}: public, when broadcast_archive is on. */
void
api_archive_get(struct http_req *hr)
{
	if (!daemon_config(hr->d)->broadcast_archive) {
		http_reply_text(hr, 404, "text/plain; charset=utf-8", "not found\n");
		return;
	}
	storeloop_submit(daemon_readloop(hr->d), &bc_job_new(hr, BC_ARCHIVE, hr->arg)->job);
}
