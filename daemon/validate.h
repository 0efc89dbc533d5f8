/*
 * Validation of what clients send: customers and events. Pure functions over Jansson values,
 * run on the network loop before anything reaches the store, so that bad input changes nothing.
 */
#ifndef NURTURED_VALIDATE_H
#define NURTURED_VALIDATE_H

#include <jansson.h>
#include <stdint.h>

/* Where and why input was refused; `field` is a path inside the item, e.g. "profile.email". */
struct verr {
	char field[160];
	char msg[400];
	long index; /* item of a batch, or -1 */
};

/* One event, normalized and owned by whoever holds it. */
struct nt_event {
	char *key;	/* the client's idempotency id, or a generated one */
	char *customer; /* the customer's external id */
	char *type;
	int64_t time_ms;
	json_t *properties; /* object, owned reference */
	json_t *profile;    /* validated customer fields without "id", or NULL */
	char hash[65];	    /* SHA-256 of the event as sent, to tell a duplicate from a conflict */
};

/* Checks one event object; fills OUT and returns 0, or fills ERR and returns -1. */
int validate_event(json_t *obj, int64_t now_ms, struct nt_event *out, struct verr *err);
void nt_event_clear(struct nt_event *ev);

/*
 * Checks a customer object. With NEED_ID the external "id" is required (POST /v1/customers);
 * without it "id" is refused (an event's profile names its customer elsewhere). PREFIX is put
 * before field names in errors ("profile." for an event's profile).
 */
int validate_customer(json_t *obj, int need_id, const char *prefix, struct verr *err);

/*
 * The shape limits on a request body, checked on its raw bytes before it is parsed: parsing a
 * megabyte of tiny members costs the network loop tens of milliseconds, checking it about one.
 */
#define VALIDATE_JSON_MAX_DEPTH 32
#define VALIDATE_JSON_MAX_MEMBERS 1000
/* 0 when the N bytes at P keep within both limits; else -1 with MSG naming the limit. */
int validate_json_shape(const char *p, size_t n, char *msg, size_t msglen);

/* Shared checks, also used by the path router and later by campaigns. */
int validate_customer_id(const char *s);
int validate_email(const char *s);
int validate_topic(const char *s);
/* A locale tag, BCP 47 in shape: "en", "de-CH", "pt_BR" (customers and campaigns alike). */
int validate_locale(const char *s);
/* An event type: 1 to 64 of a-z 0-9 _ . : -, starting with a letter; "nurtured.*" is reserved. */
int validate_event_type(const char *s);

#endif
