/* The API's JSON for the store's rows that several callers show (store_json.h). */
#include "store_json.h"

#include "timefmt.h"

json_t *
store_json_time(int64_t ms)
{
	char buf[40];
	if (ms < 0)
		return json_null();
	timefmt_format_utc(ms, buf, sizeof(buf));
	return json_string(buf);
}

json_t *
store_json_text(const char *s)
{
	return s != NULL ? json_string(s) : json_null();
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
