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

/* An RFC 3339 time in UTC, or null for -1. */
json_t *store_json_time(int64_t ms);
/* A string, or null for NULL. */
json_t *store_json_text(const char *s);

/* A message as GET /v1/messages shows it: absent fields are left out. */
json_t *message_row_json(const struct message_row *m);

#endif
