/*
 * libFuzzer target: the API's event and customer validators (daemon/validate.c) on bytes as a
 * client sends them. The body is parsed as POST /v1/events and POST /v1/customers parse it, then
 * validated as one event, as a batch {"events": [...]}, and as a customer with and without id.
 */
#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

#include "validate.h"

/* Validates one event and drops what validate_event allocated, whatever the outcome. */
static void
fuzz_event_one(json_t *ev)
{
	struct nt_event out = {0};
	struct verr err;

	if (validate_event(ev, 1700000000000, &out, &err) == 0)
		nt_event_clear(&out);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	json_error_t jerr;
	json_t *body = json_loadb((const char *)data, size, JSON_REJECT_DUPLICATES, &jerr);
	json_t *items;
	struct verr err;

	if (body == NULL)
		return 0;
	items = json_object_get(body, "events");
	if (json_is_array(items)) {
		for (size_t i = 0; i < json_array_size(items) && i < 1000; i++)
			fuzz_event_one(json_array_get(items, i));
	} else {
		fuzz_event_one(body);
	}
	validate_customer(body, 1, "", &err);
	validate_customer(body, 0, "profile.", &err);
	json_decref(body);
	return 0;
}
