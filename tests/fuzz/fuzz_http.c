/*
 * libFuzzer target: what the HTTP API does with a request's bytes before the store sees them.
 * The input's first line is a request target ("/v1/customers/c-1/subscribe?lang=de"), the rest
 * is the body. The target is split by libevent as evhttp splits it, routed by the daemon's own
 * route table and http_match (daemon/http.c is included here, so its static router is reached
 * without exporting it), the path argument checked as the handlers check it (customer id, link
 * token with token_parse, topic), the query parsed, and the body parsed and validated as a
 * customer or an event. Handlers themselves need a running daemon and are not called.
 */
#include "../../daemon/http.c"

#include <event2/http.h>
#include <event2/keyvalq_struct.h>

#include "token.h"
#include "validate.h"

#define FUZZ_SECRET "fuzz-secret-0123456789abcdef0123456789abcdef"

/* The query keys some handler reads. */
static const char *const fuzz_query_keys[] = {"after",	  "limit", "customer",
					      "campaign", "state", "lang"};

/* Checks a link token the way /u/ and /confirm/ do, plus one made for the same parts. */
static void
fuzz_token(const char *arg, char kind)
{
	struct token t = {0};

	if (token_parse(FUZZ_SECRET, arg, kind, &t) == 0) {
		if (strcmp(t.topic, "*") != 0)
			validate_topic(t.topic);
		char *again = token_make(FUZZ_SECRET, kind, t.customer, t.topic, t.issued_s);
		struct token u = {0};
		if (token_parse(FUZZ_SECRET, again, kind, &u) != 0 ||
		    strcmp(u.customer, t.customer) != 0 || strcmp(u.topic, t.topic) != 0 ||
		    u.issued_s != t.issued_s)
			abort(); /* a token we make must read back as made */
		token_clear(&u);
		free(again);
	}
	token_clear(&t);
}

/* What the handlers check in the path argument before anything is looked up. */
static void
fuzz_arg(const struct http_route *r, char *arg)
{
	char *slash = strchr(arg, '/');

	if (strcmp(r->prefix, "/u/") == 0)
		fuzz_token(arg, 'u');
	else if (strcmp(r->prefix, "/confirm/") == 0)
		fuzz_token(arg, 'c');
	else if (strcmp(r->prefix, "/v1/customers/") == 0) {
		if (slash != NULL)
			*slash = '\0';
		validate_customer_id(arg);
	} else if (strcmp(r->prefix, "/v1/suppressions/") == 0)
		validate_email(arg);
}

/* Parses the query as http_query_param does and reads every key a handler reads. */
static void
fuzz_query(const char *q)
{
	struct evkeyvalq params;

	if (q == NULL || evhttp_parse_query_str(q, &params) < 0)
		return;
	for (size_t i = 0; i < NT_ARRAY_LEN(fuzz_query_keys); i++)
		evhttp_find_header(&params, fuzz_query_keys[i]);
	evhttp_clear_headers(&params);
}

/* The body as http_body_json parses it, validated as the POST handlers validate it. */
static void
fuzz_body(const uint8_t *data, size_t size)
{
	json_t *body = json_loadb((const char *)data, size, JSON_REJECT_DUPLICATES, NULL);
	struct nt_event ev = {0};
	struct verr err;

	if (body == NULL)
		return;
	validate_customer(body, 1, "", &err);
	if (validate_event(body, 1700000000000, &ev, &err) == 0)
		nt_event_clear(&ev);
	json_t *topic = json_object_get(body, "topic");
	if (json_is_string(topic))
		validate_topic(json_string_value(topic));
	json_decref(body);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const uint8_t *nl = memchr(data, '\n', size);
	size_t n = nl ? (size_t)(nl - data) : size;
	char *target = malloc(n + 1);
	struct evhttp_uri *uri;

	memcpy(target, data, n);
	target[n] = '\0';
	uri = evhttp_uri_parse_with_flags(target, EVHTTP_URI_NONCONFORMANT); /* as evhttp */
	const char *path = uri ? evhttp_uri_get_path(uri) : NULL;
	for (size_t i = 0; path != NULL && i < NT_ARRAY_LEN(http_routes); i++) {
		char *arg = NULL;
		if (http_match(&http_routes[i], path, &arg)) {
			if (arg != NULL)
				fuzz_arg(&http_routes[i], arg);
			free(arg);
			break;
		}
	}
	if (uri != NULL) {
		fuzz_query(evhttp_uri_get_query(uri));
		evhttp_uri_free(uri);
	}
	free(target);
	if (nl != NULL)
		fuzz_body(nl + 1, size - n - 1);
	return 0;
}
