/* The API's JSON for the store's rows that several callers show (store_json.h). */
#include "store_json.h"

#include "timefmt.h"

json_t *
store_json_utc(int64_t ms)
{
	char buf[40];
	timefmt_format_utc(ms, buf, sizeof(buf));
	return json_string(buf);
}

json_t *
store_json_time(int64_t ms)
{
	return ms < 0 ? json_null() : store_json_utc(ms);
}

json_t *
store_json_text(const char *s)
{
	return s != NULL ? json_string(s) : json_null();
}

/* The profile's fields, as both the API and the engine's context show them. */
static void
customer_profile_json(json_t *o, const struct customer_row *c)
{
	json_object_set_new(o, "id", store_json_text(c->ext_id));
	json_object_set_new(o, "email", store_json_text(c->email));
	json_object_set_new(o, "name", store_json_text(c->name));
	json_object_set_new(o, "locale", store_json_text(c->locale));
	json_object_set_new(o, "timezone", store_json_text(c->timezone));
	json_object_set_new(o, "birthday", store_json_text(c->birthday));
	json_object_set_new(o, "attributes",
			    c->attributes ? json_incref(c->attributes) : json_object());
}

json_t *
customer_row_json(const struct customer_row *c, int with_log)
{
	json_t *o = json_object(), *consent = json_object(), *log = json_object();

	customer_profile_json(o, c);
	json_object_set_new(o, "stage", store_json_text(c->stage));
	json_object_set_new(o, "created", store_json_time(c->created_ms));
	json_object_set_new(o, "updated", store_json_time(c->updated_ms));
	for (size_t i = 0; i < c->n_consent; i++) {
		const struct customer_consent *k = &c->consent[i];
		json_t *e = json_object();
		json_object_set_new(consent, k->topic, store_json_text(k->state));
		json_object_set_new(e, "state", store_json_text(k->state));
		json_object_set_new(e, "updated", store_json_time(k->updated_ms));
		json_object_set_new(e, "source", store_json_text(k->source));
		if (k->requested_ms >= 0)
			json_object_set_new(e, "requested", store_json_time(k->requested_ms));
		if (k->confirmed_ms >= 0) {
			json_object_set_new(e, "confirmed", store_json_time(k->confirmed_ms));
			json_object_set_new(e, "confirmed_from",
					    store_json_text(k->confirmed_addr));
		}
		json_object_set_new(log, k->topic, e);
	}
	json_object_set_new(o, "consent", consent);
	if (with_log)
		json_object_set_new(o, "consent_log", log);
	else
		json_decref(log);
	return o;
}

json_t *
store_event_json(const struct store_event *e, int with_received)
{
	json_t *o = json_pack("{s:s?,s:s?,s:o}", "id", e->key, "type", e->type, "time",
			      store_json_utc(e->time_ms));
	if (with_received)
		json_object_set_new(o, "received", store_json_utc(e->received_ms));
	json_object_set_new(o, "properties",
			    e->properties ? json_incref(e->properties) : json_object());
	return o;
}

json_t *
export_note_json(const struct export_note *n)
{
	return json_pack("{s:o,s:s?,s:s?,s:s?,s:s?,s:s?,s:s?}", "at", store_json_utc(n->at_ms),
			 "campaign", n->campaign_id, "step", n->step_id, "action", n->action,
			 "reason", n->reason, "channel", n->channel, "template", n->template);
}

/* The journeys as GET /v1/customers/{id} lists them: where each stands, not its history. */
static json_t *
journey_summary_json(const struct journey_summary *j)
{
	return json_pack("{s:o,s:b,s:o,s:o,s:o,s:o,s:o,s:o}", "campaign",
			 store_json_text(j->campaign_id), "active", j->active, "entered",
			 store_json_utc(j->entered_ms), "due", store_json_time(j->due_ms),
			 "waiting_for", store_json_text(j->wait_event), "exited",
			 store_json_time(j->exited_ms), "exit_reason",
			 store_json_text(j->exit_reason), "step", store_json_text(j->step_id));
}

json_t *
customer_view_json(const struct customer_view *v)
{
	json_t *o = customer_row_json(&v->profile, 1);
	json_t *events = json_array(), *journeys = json_array(), *notes = json_array();

	for (size_t i = 0; i < v->n_events; i++)
		json_array_append_new(events, store_event_json(&v->events[i], 1));
	for (size_t i = 0; i < v->n_journeys; i++)
		json_array_append_new(journeys, journey_summary_json(&v->journeys[i]));
	for (size_t i = 0; i < v->n_notes; i++)
		json_array_append_new(notes, export_note_json(&v->notes[i]));
	json_object_set_new(o, "events", events);
	json_object_set_new(o, "journeys", journeys);
	json_object_set_new(o, "notes", notes);
	return o;
}

/* Sets KEY to S unless S is NULL. */
static void
store_json_set_str(json_t *o, const char *key, const char *s)
{
	if (s != NULL)
		json_object_set_new(o, key, json_string(s));
}

/* Sets KEY to the time MS unless it is -1. */
static void
store_json_set_time(json_t *o, const char *key, int64_t ms)
{
	if (ms >= 0)
		json_object_set_new(o, key, store_json_time(ms));
}

/* The listing's and GET /v1/messages/{id}'s message; the UI shows the same. */
json_t *
message_row_json(const struct message_row *m)
{
	json_t *o = json_object();
	int state = m->state ? outbox_state_parse(m->state) : -1;

	json_object_set_new(o, "id", json_integer(m->id));
	store_json_set_str(o, "message_id", m->message_id);
	store_json_set_str(o, "channel", m->channel);
	store_json_set_str(o, "campaign", m->campaign_id);
	store_json_set_str(o, "step", m->step_id);
	store_json_set_str(o, "customer", m->customer);
	store_json_set_str(o, "recipient", m->recipient);
	store_json_set_str(o, "template", m->template);
	store_json_set_str(o, "state", m->state);
	json_object_set_new(o, "attempts", json_integer(m->attempts));
	store_json_set_str(o, "last_reply", m->last_reply);
	store_json_set_str(o, "reason", m->reason);
	store_json_set_time(o, "created", m->created_ms);
	store_json_set_time(o, "updated", m->updated_ms);
	if (state == OUTBOX_QUEUED || state == OUTBOX_DEFERRED)
		store_json_set_time(o, "next_attempt", m->due_ms);
	store_json_set_time(o, "final", m->final_ms);
	return o;
}

json_t *
customer_context_json(const struct customer_row *r)
{
	json_t *c = json_object(), *consent = json_object();

	customer_profile_json(c, r);
	json_object_set_new(c, "erased", json_boolean(r->erased_ms >= 0));
	json_object_set_new(c, "stage", store_json_text(r->stage));
	if (r->stage_since_ms >= 0)
		json_object_set_new(c, "stage_since", store_json_utc(r->stage_since_ms));
	for (size_t i = 0; i < r->n_consent; i++)
		if (r->consent[i].topic != NULL)
			json_object_set_new(consent, r->consent[i].topic,
					    store_json_text(r->consent[i].state));
	json_object_set_new(c, "consent", consent);
	return c;
}

enum store_status
store_customer_context(struct store *s, int64_t customer_id, json_t **out)
{
	struct customer_row r = {0};
	enum store_status rc = store_customer_by_id(s, customer_id, &r);

	if (rc != STORE_OK)
		return rc;
	*out = customer_context_json(&r);
	customer_row_clear(&r);
	return STORE_OK;
}
