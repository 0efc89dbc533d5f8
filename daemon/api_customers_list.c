/*
 * GET /v1/customers (the listing: filters and a cursor) and GET /v1/customers/{id}/export
 * (everything held about one customer). The store gives rows; the JSON is built here.
 */
#include <errno.h>
#include <glib.h>
#include <stdlib.h>
#include <string.h>

#include "api.h"
#include "daemon.h"
#include "http.h"
#include "store_json.h"
#include "storeloop.h"
#include "timefmt.h"
#include "util.h"

#define API_CUSTOMERS_LIMIT 100
#define API_CUSTOMERS_LIMIT_MAX 1000
#define API_CUSTOMERS_ATTRS_MAX 8

struct customers_job {
	struct store_job job; /* first */
	struct http_req *hr;
	json_t *params; /* the query, which the filter's strings point into */
	struct customer_filter f;
	struct customer_row *rows;
	size_t n;
	char *ext_id;
	char *topic; /* the consent filter's TOPIC[:STATE], split */
	struct customer_export x;
};

static void
customers_job_free(struct customers_job *j)
{
	json_decref(j->params);
	json_decref(j->f.attributes);
	customer_rows_free(j->rows, j->n);
	customer_export_clear(&j->x);
	free(j->ext_id);
	free(j->topic);
	free(j);
}

static enum store_status
customers_list_run(struct store *s, struct store_job *job)
{
	struct customers_job *j = (struct customers_job *)job;
	return store_customers_list(s, &j->f, &j->rows, &j->n);
}

static void
customers_list_done(struct store_job *job)
{
	struct customers_job *j = (struct customers_job *)job;

	if (j->job.status != STORE_OK)
		http_reply_store_error(j->hr, j->job.status, "no such customer", NULL);
	else {
		json_t *list = json_array(), *body;
		for (size_t i = 0; i < j->n; i++)
			json_array_append_new(list, customer_row_json(&j->rows[i], 0));
		body = json_pack("{s:o}", "customers", list);
		if (j->n == (size_t)j->f.limit) {
			char next[24];
			snprintf(next, sizeof(next), "%lld", (long long)j->rows[j->n - 1].id);
			json_object_set_new(body, "next", json_string(next));
		}
		http_reply_json(j->hr, 200, body);
	}
	customers_job_free(j);
}

/* A positive decimal, or -1. */
static int64_t
api_number(const char *s)
{
	char *end;
	long long v;
	if (s == NULL || *s < '0' || *s > '9')
		return -1;
	errno = 0;
	v = strtoll(s, &end, 10);
	return errno || *end != '\0' ? -1 : v;
}

/* An attribute filter's value: a JSON scalar when it reads as one (42, true, "x"), else text. */
static json_t *
api_attr_value(const char *s)
{
	json_t *v = json_loads(s, JSON_DECODE_ANY, NULL);
	if (v != NULL && !json_is_object(v) && !json_is_array(v))
		return v;
	json_decref(v);
	return json_string(s);
}

/* Fills J's filter from the query; 0, or -1 after answering 400 naming the parameter. */
static int
customers_parse(struct customers_job *j)
{
	const char *key;
	json_t *val;
	char field[512];

	j->f.created_since_ms = j->f.updated_since_ms = -1;
	j->f.limit = API_CUSTOMERS_LIMIT;
	j->f.attributes = json_object();
	json_object_foreach(j->params, key, val)
	{
		const char *v = json_string_value(val);
		if (strcmp(key, "email") == 0)
			j->f.email = v;
		else if (strcmp(key, "stage") == 0)
			j->f.stage = v;
		else if (strcmp(key, "consent") == 0) {
			char *colon;
			free(j->topic);
			j->topic = xstrdup(v);
			j->f.topic = j->topic;
			j->f.consent_state = NULL;
			if ((colon = strchr(j->topic, ':')) != NULL) {
				*colon = '\0';
				j->f.consent_state = colon + 1;
				if (strcmp(j->f.consent_state, "subscribed") != 0 &&
				    strcmp(j->f.consent_state, "unsubscribed") != 0 &&
				    strcmp(j->f.consent_state, "pending") != 0) {
					http_reply_error(j->hr, 400,
							 "'consent' is TOPIC or TOPIC:STATE, STATE "
							 "subscribed, unsubscribed or pending",
							 "consent", -1);
					return -1;
				}
			}
			if (*j->f.topic == '\0') {
				http_reply_error(j->hr, 400, "'consent' needs a topic", "consent",
						 -1);
				return -1;
			}
		} else if (strcmp(key, "created_since") == 0 || strcmp(key, "updated_since") == 0) {
			int64_t *ms =
			    key[0] == 'c' ? &j->f.created_since_ms : &j->f.updated_since_ms;
			if (timefmt_parse_rfc3339(v, ms) < 0) {
				snprintf(field, sizeof(field), "'%s' must be an RFC 3339 time",
					 key);
				http_reply_error(j->hr, 400, field, key, -1);
				return -1;
			}
		} else if (strcmp(key, "after") == 0) {
			if ((j->f.after = api_number(v)) < 0) {
				http_reply_error(j->hr, 400, "'after' must be a cursor from 'next'",
						 "after", -1);
				return -1;
			}
		} else if (strcmp(key, "limit") == 0) {
			int64_t n = api_number(v);
			if (n <= 0) {
				http_reply_error(j->hr, 400, "'limit' must be a positive integer",
						 "limit", -1);
				return -1;
			}
			j->f.limit = n > API_CUSTOMERS_LIMIT_MAX ? API_CUSTOMERS_LIMIT_MAX : (int)n;
		} else if (strncmp(key, "attr.", 5) == 0 && key[5] != '\0' &&
			   strchr(key + 5, '"') == NULL && strchr(key + 5, '\\') == NULL &&
			   json_object_size(j->f.attributes) < API_CUSTOMERS_ATTRS_MAX) {
			json_object_set_new(j->f.attributes, key + 5, api_attr_value(v));
		} else {
			snprintf(field, sizeof(field),
				 "unknown parameter '%.200s' (email, stage, consent, attr.KEY, "
				 "created_since, updated_since, after, limit; at most %d attr.KEY)",
				 key, API_CUSTOMERS_ATTRS_MAX);
			http_reply_error(j->hr, 400, field, key, -1);
			return -1;
		}
	}
	return 0;
}

/* GET /v1/customers?email=&stage=&consent=TOPIC[:STATE]&attr.KEY=&created_since=&... */
void
api_customers_get(struct http_req *hr)
{
	struct customers_job *j = xcalloc(1, sizeof(*j));

	j->hr = hr;
	j->params = http_query_params(hr);
	j->job.run = customers_list_run;
	j->job.done = customers_list_done;
	if (customers_parse(j) < 0) {
		customers_job_free(j);
		return;
	}
	storeloop_submit(daemon_storeloop(hr->d), &j->job);
}

static json_t *
api_journey_json(const struct journey *jr)
{
	json_t *o =
	    json_pack("{s:I,s:s?,s:s?,s:s?,s:b,s:o,s:o,s:s?,s:o,s:s?}", "id", (json_int_t)jr->id,
		      "campaign", jr->campaign_id, "version", jr->version, "key", jr->key, "active",
		      jr->active, "entered", store_json_time(jr->entered_ms), "due",
		      store_json_time(jr->due_ms), "waiting_for", jr->wait_event, "exited",
		      store_json_time(jr->exited_ms), "exit_reason", jr->exit_reason);
	json_object_set(o, "trigger", jr->trigger ? jr->trigger : json_null());
	if (jr->event != NULL)
		json_object_set(o, "event", jr->event);
	json_object_set_new(o, "notes", json_array());
	return o;
}

/* The payload as text when it is UTF-8 (MIME, a JSON document), else base64. */
static void
api_payload_set(json_t *o, const struct export_message *m)
{
	if (m->payload == NULL)
		json_object_set_new(o, "payload", json_null());
	else if (g_utf8_validate(m->payload, (gssize)m->payload_len, NULL))
		json_object_set_new(o, "payload", json_stringn(m->payload, m->payload_len));
	else {
		gchar *b64 = g_base64_encode((const guchar *)m->payload, m->payload_len);
		json_object_set_new(o, "payload_base64", json_string(b64));
		g_free(b64);
	}
}

static json_t *
api_message_json(const struct export_message *m)
{
	json_t *o =
	    json_pack("{s:I,s:s?,s:s?,s:s?,s:s?,s:s?,s:s?,s:s?,s:s?,s:I,s:s?,s:s?,s:o,s:o,s:o}",
		      "id", (json_int_t)m->id, "message_id", m->message_id, "channel", m->channel,
		      "campaign", m->campaign_id, "step", m->step_id, "template", m->template,
		      "state", m->state, "sender", m->sender, "recipient", m->recipient, "attempts",
		      (json_int_t)m->attempts, "last_reply", m->last_reply, "reason", m->reason,
		      "created", store_json_time(m->created_ms), "updated",
		      store_json_time(m->updated_ms), "final", store_json_time(m->final_ms));
	api_payload_set(o, m);
	return o;
}

/* The export document: the customer, every event, journey (with its notes) and message. */
static json_t *
api_export_json(const struct customer_export *x)
{
	json_t *events = json_array(), *journeys = json_array(), *messages = json_array();
	json_t *other = json_array();

	for (size_t i = 0; i < x->n_events; i++)
		json_array_append_new(events, store_event_json(&x->events[i], 0));
	for (size_t i = 0; i < x->n_journeys; i++)
		json_array_append_new(journeys, api_journey_json(&x->journeys[i]));
	for (size_t i = 0; i < x->n_notes; i++) {
		json_t *n = export_note_json(&x->notes[i]), *to = other;
		for (size_t k = 0; k < x->n_journeys; k++)
			if (x->journeys[k].id == x->notes[i].journey_id) {
				to = json_object_get(json_array_get(journeys, k), "notes");
				break;
			}
		json_array_append_new(to, n);
	}
	for (size_t i = 0; i < x->n_messages; i++)
		json_array_append_new(messages, api_message_json(&x->messages[i]));
	return json_pack("{s:o,s:o,s:o,s:o,s:o}", "customer", customer_row_json(&x->profile, 1),
			 "events", events, "journeys", journeys, "notes", other, "messages",
			 messages);
}

static enum store_status
customer_export_run(struct store *s, struct store_job *job)
{
	struct customers_job *j = (struct customers_job *)job;
	return store_customer_export(s, j->ext_id, &j->x);
}

static void
customer_export_done(struct store_job *job)
{
	struct customers_job *j = (struct customers_job *)job;
	if (j->job.status != STORE_OK)
		http_reply_store_error(j->hr, j->job.status, "no such customer", NULL);
	else
		http_reply_json(j->hr, 200, api_export_json(&j->x));
	customers_job_free(j);
}

void
api_customer_export(struct http_req *hr, const char *ext_id)
{
	struct customers_job *j = xcalloc(1, sizeof(*j));
	j->hr = hr;
	j->ext_id = xstrdup(ext_id);
	j->job.run = customer_export_run;
	j->job.done = customer_export_done;
	storeloop_submit(daemon_storeloop(hr->d), &j->job);
}
