/*
 * The API's JSON for rows the store returns (store_rows.h), where several callers show the
 * same row: one formatter each, above every backend. The customer as the engine's conditions
 * and templates see it is built here too, from the store's row (store_customer_context).
 */
#ifndef NURTURED_STORE_JSON_H
#define NURTURED_STORE_JSON_H

#include <jansson.h>
#include <stdint.h>

#include "store.h"

/* An RFC 3339 time in UTC, or null for -1 (none). */
json_t *store_json_time(int64_t ms);
/* An RFC 3339 time in UTC, always (an event's time may be before 1970). */
json_t *store_json_utc(int64_t ms);
/* A string, or null for NULL. */
json_t *store_json_text(const char *s);

/*
 * A customer's profile as the listing, the export and GET /v1/customers/{id} show it, with
 * "consent" (topic -> state) and, WITH_LOG, "consent_log" (when, how, from where).
 */
json_t *customer_row_json(const struct customer_row *c, int with_log);
/* An event: {"id", "type", "time", "properties"}, WITH_RECEIVED also "received". */
json_t *store_event_json(const struct store_event *e, int with_received);
/* A journey note: {"at", "campaign", "step", "action", "reason", "channel", "template"}. */
json_t *export_note_json(const struct export_note *n);
/* A customer with the latest events, journeys and notes: GET /v1/customers/{id}. */
json_t *customer_view_json(const struct customer_view *v);

/* A message as GET /v1/messages shows it: absent fields are left out. */
json_t *message_row_json(const struct message_row *m);

/*
 * The customer as conditions and templates see it (the engine, simulate, system mail, test
 * sends, segments, the preference centre): {"id", "email", "name", "locale", "timezone",
 * "birthday", "attributes", "erased", "stage", "stage_since" (when set), "consent": {TOPIC:
 * STATE}}. Reads store_customer_by_id; STORE_NOTFOUND when there is no such customer.
 */
enum store_status store_customer_context(struct store *s, int64_t customer_id, json_t **out);
/* The same context from a row read already (the engine's batches, engine_prefetch.c). */
json_t *customer_context_json(const struct customer_row *r);

#endif
