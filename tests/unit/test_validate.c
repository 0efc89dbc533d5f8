/*
 * Unit tests of input validation (validate.c): events, customers, addresses, consent. The
 * helpers it rests on (timefmt.c, crypto.c) are tested in test_timefmt.c.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "timefmt.h"
#include "validate.h"

#define NOW_MS INT64_C(1700000000123)

/* What one test holds; the teardown frees it even when an assertion fails. */
struct fx {
	json_t *obj;
	struct nt_event ev;
	struct nt_event ev2;
	struct verr err;
};

static int
fx_setup(void **state)
{
	struct fx *f = calloc(1, sizeof(*f));
	if (f == NULL)
		return -1;
	*state = f;
	return 0;
}

static int
fx_teardown(void **state)
{
	struct fx *f = *state;
	json_decref(f->obj);
	nt_event_clear(&f->ev);
	nt_event_clear(&f->ev2);
	free(f);
	return 0;
}

static json_t *
parse(const char *text)
{
	json_error_t jerr;
	json_t *v = json_loads(text, 0, &jerr);
	if (v == NULL)
		fail_msg("test JSON does not parse: %s: %s", text, jerr.text);
	return v;
}

/* Validates the event TEXT into F->ev; returns validate_event's result. */
static int
event(struct fx *f, const char *text)
{
	json_decref(f->obj);
	nt_event_clear(&f->ev);
	f->obj = parse(text);
	memset(&f->err, 0, sizeof(f->err));
	return validate_event(f->obj, NOW_MS, &f->ev, &f->err);
}

/* The event TEXT is refused, blaming FIELD. */
static void
assert_event_refused(struct fx *f, const char *text, const char *field)
{
	if (event(f, text) != -1)
		fail_msg("accepted: %s", text);
	if (strcmp(f->err.field, field) != 0)
		fail_msg("%s: field \"%s\", want \"%s\"", text, f->err.field, field);
	assert_true(f->err.msg[0] != '\0');
	assert_null(f->ev.key); /* refused input leaves nothing behind */
}

/* Validates the customer TEXT; the result, and err.field on refusal. */
static int
customer(struct fx *f, const char *text, int need_id, const char *prefix)
{
	json_decref(f->obj);
	f->obj = parse(text);
	memset(&f->err, 0, sizeof(f->err));
	return validate_customer(f->obj, need_id, prefix, &f->err);
}

static void
assert_customer_ok(struct fx *f, const char *text)
{
	if (customer(f, text, 1, "") != 0)
		fail_msg("refused: %s (%s)", text, f->err.msg);
}

static void
assert_customer_refused(struct fx *f, const char *text, const char *field)
{
	if (customer(f, text, 1, "") != -1)
		fail_msg("accepted: %s", text);
	if (strcmp(f->err.field, field) != 0)
		fail_msg("%s: field \"%s\", want \"%s\"", text, f->err.field, field);
}

static int
is_lower_hex(const char *s, size_t n)
{
	if (strlen(s) != n)
		return 0;
	for (size_t i = 0; i < n; i++)
		if (!strchr("0123456789abcdef", s[i]))
			return 0;
	return 1;
}

/* A random (version 4, RFC 4122 variant) UUID in its 8-4-4-4-12 text form. */
static int
is_uuid_v4(const char *s)
{
	if (strlen(s) != 36)
		return 0;
	for (size_t i = 0; i < 36; i++) {
		if (i == 8 || i == 13 || i == 18 || i == 23) {
			if (s[i] != '-')
				return 0;
		} else if (!strchr("0123456789abcdef", s[i]))
			return 0;
	}
	return s[14] == '4' && strchr("89ab", s[19]) != NULL;
}

/* ---- validate_event ---- */

static void
test_event_minimal_valid(void **state)
{
	struct fx *f = *state;
	assert_int_equal(event(f, "{\"customer\": \"c1\", \"type\": \"signup\"}"), 0);
	assert_string_equal(f->ev.customer, "c1");
	assert_string_equal(f->ev.type, "signup");
	assert_true(json_is_object(f->ev.properties));
	assert_int_equal(json_object_size(f->ev.properties), 0);
	assert_null(f->ev.profile);
	assert_true(is_lower_hex(f->ev.hash, 64));
}

static void
test_event_not_an_object_refused(void **state)
{
	struct fx *f = *state;
	assert_event_refused(f, "[\"customer\"]", "");
}

static void
test_event_missing_customer_refused(void **state)
{
	struct fx *f = *state;
	assert_event_refused(f, "{\"type\": \"signup\"}", "customer");
}

static void
test_event_customer_not_a_string_refused(void **state)
{
	struct fx *f = *state;
	assert_event_refused(f, "{\"customer\": 42, \"type\": \"signup\"}", "customer");
}

static void
test_event_customer_with_slash_refused(void **state)
{
	struct fx *f = *state;
	assert_event_refused(f, "{\"customer\": \"a/b\", \"type\": \"signup\"}", "customer");
}

static void
test_event_missing_type_refused(void **state)
{
	struct fx *f = *state;
	assert_event_refused(f, "{\"customer\": \"c1\"}", "type");
}

static void
test_event_type_capitalized_refused(void **state)
{
	struct fx *f = *state;
	assert_event_refused(f, "{\"customer\": \"c1\", \"type\": \"Purchase\"}", "type");
}

static void
test_event_type_reserved_prefix_refused(void **state)
{
	struct fx *f = *state;
	assert_event_refused(f, "{\"customer\": \"c1\", \"type\": \"nurtured.x\"}", "type");
}

static void
test_event_type_with_punctuation_accepted(void **state)
{
	struct fx *f = *state;
	assert_int_equal(event(f, "{\"customer\": \"c1\", \"type\": \"order.paid:v2-x_y\"}"), 0);
	assert_string_equal(f->ev.type, "order.paid:v2-x_y");
}

static void
test_event_time_date_only_refused(void **state)
{
	struct fx *f = *state;
	assert_event_refused(f, "{\"customer\": \"c1\", \"type\": \"t\", \"time\": \"2024-01-01\"}",
			     "time");
}

static void
test_event_time_without_offset_refused(void **state)
{
	struct fx *f = *state;
	assert_event_refused(
	    f, "{\"customer\": \"c1\", \"type\": \"t\", \"time\": \"2024-01-01T10:00:00\"}",
	    "time");
}

static void
test_event_time_in_words_refused(void **state)
{
	struct fx *f = *state;
	assert_event_refused(f, "{\"customer\": \"c1\", \"type\": \"t\", \"time\": \"yesterday\"}",
			     "time");
}

static void
test_event_time_number_refused(void **state)
{
	struct fx *f = *state;
	assert_event_refused(f, "{\"customer\": \"c1\", \"type\": \"t\", \"time\": 1704103200}",
			     "time");
}

/* 12:00 at +02:00 is 10:00 UTC: 1704067200 (2024-01-01T00:00Z) + 10 h. */
static void
test_event_time_with_offset_converted_to_utc_ms(void **state)
{
	struct fx *f = *state;
	assert_int_equal(
	    event(
		f,
		"{\"customer\": \"c1\", \"type\": \"t\", \"time\": \"2024-01-01T12:00:00+02:00\"}"),
	    0);
	assert_int_equal(f->ev.time_ms, INT64_C(1704103200000));
}

static void
test_event_time_with_negative_offset_and_fraction(void **state)
{
	struct fx *f = *state;
	assert_int_equal(event(f, "{\"customer\": \"c1\", \"type\": \"t\", "
				  "\"time\": \"2024-01-01T04:30:00.250-05:30\"}"),
			 0);
	assert_int_equal(f->ev.time_ms, INT64_C(1704103200250));
}

static void
test_event_time_defaults_to_now(void **state)
{
	struct fx *f = *state;
	assert_int_equal(event(f, "{\"customer\": \"c1\", \"type\": \"t\"}"), 0);
	assert_int_equal(f->ev.time_ms, NOW_MS);
}

static void
test_event_properties_array_refused(void **state)
{
	struct fx *f = *state;
	assert_event_refused(f, "{\"customer\": \"c1\", \"type\": \"t\", \"properties\": [1]}",
			     "properties");
}

static void
test_event_properties_string_refused(void **state)
{
	struct fx *f = *state;
	assert_event_refused(f, "{\"customer\": \"c1\", \"type\": \"t\", \"properties\": \"x\"}",
			     "properties");
}

static void
test_event_properties_kept(void **state)
{
	struct fx *f = *state;
	assert_int_equal(event(f, "{\"customer\": \"c1\", \"type\": \"t\", "
				  "\"properties\": {\"plan\": \"pro\", \"seats\": 3}}"),
			 0);
	assert_string_equal(json_string_value(json_object_get(f->ev.properties, "plan")), "pro");
	assert_int_equal(json_integer_value(json_object_get(f->ev.properties, "seats")), 3);
}

static void
test_event_unknown_field_refused(void **state)
{
	struct fx *f = *state;
	assert_event_refused(f, "{\"customer\": \"c1\", \"type\": \"t\", \"foo\": 1}", "foo");
}

static void
test_event_id_with_space_refused(void **state)
{
	struct fx *f = *state;
	assert_event_refused(f, "{\"id\": \"order 42\", \"customer\": \"c1\", \"type\": \"t\"}",
			     "id");
}

static void
test_event_id_empty_refused(void **state)
{
	struct fx *f = *state;
	assert_event_refused(f, "{\"id\": \"\", \"customer\": \"c1\", \"type\": \"t\"}", "id");
}

static void
test_event_id_not_a_string_refused(void **state)
{
	struct fx *f = *state;
	assert_event_refused(f, "{\"id\": 42, \"customer\": \"c1\", \"type\": \"t\"}", "id");
}

static void
test_event_id_control_char_refused(void **state)
{
	struct fx *f = *state;
	assert_event_refused(f, "{\"id\": \"a\\u0007b\", \"customer\": \"c1\", \"type\": \"t\"}",
			     "id");
}

/* An id of LEN 'x's. */
static int
event_with_id_len(struct fx *f, size_t len)
{
	char id[256], text[512];
	memset(id, 'x', len);
	id[len] = '\0';
	snprintf(text, sizeof(text), "{\"id\": \"%s\", \"customer\": \"c1\", \"type\": \"t\"}", id);
	return event(f, text);
}

static void
test_event_id_of_200_chars_refused(void **state)
{
	struct fx *f = *state;
	assert_int_equal(event_with_id_len(f, 200), -1);
	assert_string_equal(f->err.field, "id");
}

static void
test_event_id_of_129_chars_refused(void **state)
{
	struct fx *f = *state;
	assert_int_equal(event_with_id_len(f, 129), -1);
	assert_string_equal(f->err.field, "id");
}

static void
test_event_id_of_128_chars_accepted(void **state)
{
	struct fx *f = *state;
	assert_int_equal(event_with_id_len(f, 128), 0);
	assert_int_equal(strlen(f->ev.key), 128);
}

static void
test_event_id_given_is_the_key(void **state)
{
	struct fx *f = *state;
	assert_int_equal(event(f, "{\"id\": \"order-42\", \"customer\": \"c1\", \"type\": \"t\"}"),
			 0);
	assert_string_equal(f->ev.key, "order-42");
}

static void
test_event_without_id_gets_a_random_uuid(void **state)
{
	struct fx *f = *state;
	assert_int_equal(event(f, "{\"customer\": \"c1\", \"type\": \"t\"}"), 0);
	assert_int_equal(validate_event(f->obj, NOW_MS, &f->ev2, &f->err), 0);
	assert_true(is_uuid_v4(f->ev.key));
	assert_true(is_uuid_v4(f->ev2.key));
	assert_string_not_equal(f->ev.key, f->ev2.key);
}

static void
test_event_hash_ignores_key_order(void **state)
{
	struct fx *f = *state;
	assert_int_equal(event(f, "{\"customer\": \"c1\", \"type\": \"t\", "
				  "\"properties\": {\"a\": 1, \"b\": {\"x\": 1, \"y\": 2}}}"),
			 0);
	char first[65];
	memcpy(first, f->ev.hash, sizeof(first));
	assert_int_equal(event(f, "{\"properties\": {\"b\": {\"y\": 2, \"x\": 1}, \"a\": 1}, "
				  "\"type\": \"t\", \"customer\": \"c1\"}"),
			 0);
	assert_string_equal(f->ev.hash, first);
}

static void
test_event_hash_differs_when_content_differs(void **state)
{
	struct fx *f = *state;
	assert_int_equal(
	    event(f, "{\"customer\": \"c1\", \"type\": \"t\", \"properties\": {\"a\": 1}}"), 0);
	char first[65];
	memcpy(first, f->ev.hash, sizeof(first));
	assert_int_equal(
	    event(f, "{\"customer\": \"c1\", \"type\": \"t\", \"properties\": {\"a\": 2}}"), 0);
	assert_string_not_equal(f->ev.hash, first);
}

static void
test_event_hash_differs_when_type_differs(void **state)
{
	struct fx *f = *state;
	assert_int_equal(event(f, "{\"customer\": \"c1\", \"type\": \"t\"}"), 0);
	char first[65];
	memcpy(first, f->ev.hash, sizeof(first));
	assert_int_equal(event(f, "{\"customer\": \"c1\", \"type\": \"u\"}"), 0);
	assert_string_not_equal(f->ev.hash, first);
}

/* ---- a profile inside an event ---- */

static void
test_event_profile_kept(void **state)
{
	struct fx *f = *state;
	assert_int_equal(
	    event(f, "{\"customer\": \"c1\", \"type\": \"t\", "
		     "\"profile\": {\"email\": \"a@example.com\", \"locale\": \"de-DE\"}}"),
	    0);
	assert_non_null(f->ev.profile);
	assert_string_equal(json_string_value(json_object_get(f->ev.profile, "email")),
			    "a@example.com");
}

static void
test_event_profile_bad_email_field_is_prefixed(void **state)
{
	struct fx *f = *state;
	assert_event_refused(
	    f, "{\"customer\": \"c1\", \"type\": \"t\", \"profile\": {\"email\": \"a@\"}}",
	    "profile.email");
}

static void
test_event_profile_id_refused(void **state)
{
	struct fx *f = *state;
	assert_event_refused(
	    f, "{\"customer\": \"c1\", \"type\": \"t\", \"profile\": {\"id\": \"c1\"}}",
	    "profile.id");
}

static void
test_event_profile_bad_consent_field_is_prefixed(void **state)
{
	struct fx *f = *state;
	assert_event_refused(f,
			     "{\"customer\": \"c1\", \"type\": \"t\", \"profile\": {\"consent\": "
			     "{\"news\": \"yes\"}}}",
			     "profile.consent.news");
}

static void
test_event_profile_not_an_object_field_is_profile(void **state)
{
	struct fx *f = *state;
	assert_event_refused(f, "{\"customer\": \"c1\", \"type\": \"t\", \"profile\": \"x\"}",
			     "profile");
}

/* ---- validate_customer ---- */

static void
test_customer_need_id_missing_refused(void **state)
{
	struct fx *f = *state;
	assert_customer_refused(f, "{\"email\": \"a@example.com\"}", "id");
}

static void
test_customer_need_id_not_a_string_refused(void **state)
{
	struct fx *f = *state;
	assert_customer_refused(f, "{\"id\": 7}", "id");
}

static void
test_customer_need_id_present_accepted(void **state)
{
	struct fx *f = *state;
	assert_customer_ok(f, "{\"id\": \"c1\"}");
}

static void
test_customer_without_need_id_refuses_id(void **state)
{
	struct fx *f = *state;
	assert_int_equal(customer(f, "{\"id\": \"c1\"}", 0, ""), -1);
	assert_string_equal(f->err.field, "id");
}

static void
test_customer_without_need_id_accepts_no_id(void **state)
{
	struct fx *f = *state;
	assert_int_equal(customer(f, "{\"name\": \"Ann\"}", 0, ""), 0);
}

static void
test_customer_prefix_put_before_field(void **state)
{
	struct fx *f = *state;
	assert_int_equal(customer(f, "{\"locale\": \"d\"}", 0, "profile."), -1);
	assert_string_equal(f->err.field, "profile.locale");
}

static void
test_customer_id_with_slash_refused(void **state)
{
	struct fx *f = *state;
	assert_customer_refused(f, "{\"id\": \"a/b\"}", "id");
	assert_false(validate_customer_id("a/b"));
	assert_false(validate_customer_id("/"));
}

static void
test_customer_id_with_control_chars_refused(void **state)
{
	struct fx *f = *state;
	assert_customer_refused(f, "{\"id\": \"a\\nb\"}", "id");
	assert_false(validate_customer_id("a\tb"));
	assert_false(validate_customer_id("a\x7f"));
	assert_false(validate_customer_id("\x01"));
}

static void
test_customer_id_length_bounds(void **state)
{
	(void)state;
	char id[258];
	memset(id, 'x', 257);
	id[257] = '\0';
	assert_false(validate_customer_id(id));
	id[256] = '\0';
	assert_true(validate_customer_id(id));
	assert_false(validate_customer_id(""));
}

static void
test_customer_id_printable_utf8_accepted(void **state)
{
	(void)state;
	assert_true(validate_customer_id("kunde-42"));
	assert_true(validate_customer_id("Jürgen Müller"));
}

static void
test_customer_unknown_field_refused(void **state)
{
	struct fx *f = *state;
	assert_customer_refused(f, "{\"id\": \"c1\", \"foo\": 1}", "foo");
}

static void
test_email_valid(void **state)
{
	(void)state;
	static const char *ok[] = {"a@example.com", "first.last+tag@sub.example.co",
				   "a@[192.0.2.1]", "x_y-z!#$%&'*/=?^`{|}~@h-1.example",
				   /* RFC 6531: a UTF-8 local part (issue 18) */
				   "zo\xc3\xab@example.com", "\xe7\x94\xb0\xe4\xb8\xad@example.jp"};
	for (size_t i = 0; i < sizeof(ok) / sizeof(ok[0]); i++)
		if (!validate_email(ok[i]))
			fail_msg("refused valid email \"%s\"", ok[i]);
}

static void
test_email_invalid(void **state)
{
	(void)state;
	static const char *bad[] = {"a@", "@b.c", "a b@c.d", "a@b..c", "a@-b.c", "a@b-.c",
				    "a\r\n@b.c", "a..b@c.d", ".a@b.c", "a.@b.c", "a@b.c.",
				    "a@b_c.d", "a@b@c.d", "", "abc", "a\"b@c.d", "a@b c.d", "a@b",
				    /* not UTF-8; a control character; a non-ASCII domain */
				    "zo\xeb@example.com",
				    "a\xc2\x85"
				    "b@c.d",
				    "a@\xc3\xa4.example"};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		if (validate_email(bad[i]))
			fail_msg("accepted invalid email \"%s\"", bad[i]);
}

/* 64 a's "@" 63 b's "." 63 c's "." and LAST d's: 193 + LAST characters, labels within limits. */
static void
long_email(char *buf, size_t last)
{
	char *p = buf;
	memset(p, 'a', 64);
	p += 64;
	*p++ = '@';
	memset(p, 'b', 63);
	p += 63;
	*p++ = '.';
	memset(p, 'c', 63);
	p += 63;
	*p++ = '.';
	memset(p, 'd', last);
	p[last] = '\0';
}

static void
test_email_254_chars_accepted(void **state)
{
	(void)state;
	char buf[300];
	long_email(buf, 61);
	assert_int_equal(strlen(buf), 254);
	assert_true(validate_email(buf));
}

static void
test_email_255_chars_refused(void **state)
{
	(void)state;
	char buf[300];
	long_email(buf, 62);
	assert_int_equal(strlen(buf), 255);
	assert_false(validate_email(buf));
}

static void
test_email_local_part_over_64_refused(void **state)
{
	(void)state;
	char buf[80];
	memset(buf, 'a', 65);
	strcpy(buf + 65, "@b.c");
	assert_false(validate_email(buf));
}

static void
test_email_local_part_of_64_accepted(void **state)
{
	(void)state;
	char buf[80];
	memset(buf, 'a', 64);
	strcpy(buf + 64, "@b.c");
	assert_true(validate_email(buf));
}

static void
test_customer_bad_email_field(void **state)
{
	struct fx *f = *state;
	assert_customer_refused(f, "{\"id\": \"c1\", \"email\": \"a..b@c.d\"}", "email");
}

static void
test_customer_email_not_a_string_refused(void **state)
{
	struct fx *f = *state;
	assert_customer_refused(f, "{\"id\": \"c1\", \"email\": 5}", "email");
}

static void
test_customer_null_clears_email_and_name(void **state)
{
	struct fx *f = *state;
	assert_customer_ok(f, "{\"id\": \"c1\", \"email\": null, \"name\": null}");
}

static void
test_customer_name_over_256_bytes_refused(void **state)
{
	struct fx *f = *state;
	char text[400], name[258];
	memset(name, 'n', 257);
	name[257] = '\0';
	snprintf(text, sizeof(text), "{\"id\": \"c1\", \"name\": \"%s\"}", name);
	assert_customer_refused(f, text, "name");
}

static void
test_customer_locale_valid(void **state)
{
	struct fx *f = *state;
	assert_customer_ok(f, "{\"id\": \"c1\", \"locale\": \"de-DE\"}");
	assert_customer_ok(f, "{\"id\": \"c1\", \"locale\": \"en\"}");
	assert_customer_ok(f, "{\"id\": \"c1\", \"locale\": \"zh-Hant-TW\"}");
}

static void
test_customer_locale_invalid(void **state)
{
	struct fx *f = *state;
	assert_customer_refused(f, "{\"id\": \"c1\", \"locale\": \"d\"}", "locale");
	assert_customer_refused(f, "{\"id\": \"c1\", \"locale\": \"german!\"}", "locale");
	assert_customer_refused(f, "{\"id\": \"c1\", \"locale\": \"de-\"}", "locale");
	assert_customer_refused(f, "{\"id\": \"c1\", \"locale\": \"de-abcdefghi\"}", "locale");
}

static void
test_customer_timezone_valid(void **state)
{
	struct fx *f = *state;
	assert_customer_ok(f, "{\"id\": \"c1\", \"timezone\": \"Europe/Berlin\"}");
}

static void
test_customer_timezone_invalid(void **state)
{
	struct fx *f = *state;
	assert_customer_refused(f, "{\"id\": \"c1\", \"timezone\": \"Mars/Base\"}", "timezone");
	assert_customer_refused(f, "{\"id\": \"c1\", \"timezone\": \"../etc/passwd\"}", "timezone");
	assert_customer_refused(f, "{\"id\": \"c1\", \"timezone\": \"/etc/passwd\"}", "timezone");
	/* the file exists (zoneinfo/../zoneinfo/...), but a path with ".." is never a zone name */
	assert_customer_refused(f, "{\"id\": \"c1\", \"timezone\": \"../zoneinfo/Europe/Berlin\"}",
				"timezone");
	assert_customer_refused(f, "{\"id\": \"c1\", \"timezone\": \"\"}", "timezone");
}

static void
test_customer_birthday_valid(void **state)
{
	struct fx *f = *state;
	assert_customer_ok(f, "{\"id\": \"c1\", \"birthday\": \"1980-02-29\"}");
	assert_customer_ok(f, "{\"id\": \"c1\", \"birthday\": \"--02-29\"}");
}

static void
test_customer_birthday_invalid(void **state)
{
	struct fx *f = *state;
	assert_customer_refused(f, "{\"id\": \"c1\", \"birthday\": \"1981-02-29\"}", "birthday");
	assert_customer_refused(f, "{\"id\": \"c1\", \"birthday\": \"--13-01\"}", "birthday");
	assert_customer_refused(f, "{\"id\": \"c1\", \"birthday\": \"1980-2-29\"}", "birthday");
	assert_customer_refused(f, "{\"id\": \"c1\", \"birthday\": \"29.02.1980\"}", "birthday");
}

/* The header promises "YYYY-MM-DD" or "--MM-DD": digits only, no sscanf leniency. */
static void
test_birthday_with_space_or_sign_refused(void **state)
{
	(void)state;
	assert_false(timefmt_valid_date("1980- 2-29"));
	assert_false(timefmt_valid_date("1980-+2-29"));
	assert_false(timefmt_valid_date("--+2-+1"));
}

static void
test_customer_consent_states_accepted(void **state)
{
	struct fx *f = *state;
	assert_customer_ok(f, "{\"id\": \"c1\", \"consent\": {\"news\": \"subscribed\", "
			      "\"tips\": \"unsubscribed\", \"beta_2-x\": \"pending\"}}");
}

static void
test_customer_consent_unknown_state_refused(void **state)
{
	struct fx *f = *state;
	assert_customer_refused(f, "{\"id\": \"c1\", \"consent\": {\"news\": \"yes\"}}",
				"consent.news");
}

static void
test_customer_consent_non_string_state_refused(void **state)
{
	struct fx *f = *state;
	assert_customer_refused(f, "{\"id\": \"c1\", \"consent\": {\"news\": true}}",
				"consent.news");
}

static void
test_customer_consent_bad_topic_refused(void **state)
{
	struct fx *f = *state;
	assert_customer_refused(f, "{\"id\": \"c1\", \"consent\": {\"News!\": \"subscribed\"}}",
				"consent.News!");
	assert_false(validate_topic("News!"));
	assert_false(validate_topic(""));
	assert_true(validate_topic("news-2_x"));
}

static void
test_customer_consent_not_an_object_refused(void **state)
{
	struct fx *f = *state;
	assert_customer_refused(f, "{\"id\": \"c1\", \"consent\": [\"news\"]}", "consent");
}

static void
test_customer_attributes_must_be_object(void **state)
{
	struct fx *f = *state;
	assert_customer_refused(f, "{\"id\": \"c1\", \"attributes\": [1, 2]}", "attributes");
	assert_customer_refused(f, "{\"id\": \"c1\", \"attributes\": \"x\"}", "attributes");
	assert_customer_ok(f, "{\"id\": \"c1\", \"attributes\": {\"plan\": \"pro\"}}");
}

#define T(name) cmocka_unit_test_setup_teardown(name, fx_setup, fx_teardown)

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    T(test_event_minimal_valid),
	    T(test_event_not_an_object_refused),
	    T(test_event_missing_customer_refused),
	    T(test_event_customer_not_a_string_refused),
	    T(test_event_customer_with_slash_refused),
	    T(test_event_missing_type_refused),
	    T(test_event_type_capitalized_refused),
	    T(test_event_type_reserved_prefix_refused),
	    T(test_event_type_with_punctuation_accepted),
	    T(test_event_time_date_only_refused),
	    T(test_event_time_without_offset_refused),
	    T(test_event_time_in_words_refused),
	    T(test_event_time_number_refused),
	    T(test_event_time_with_offset_converted_to_utc_ms),
	    T(test_event_time_with_negative_offset_and_fraction),
	    T(test_event_time_defaults_to_now),
	    T(test_event_properties_array_refused),
	    T(test_event_properties_string_refused),
	    T(test_event_properties_kept),
	    T(test_event_unknown_field_refused),
	    T(test_event_id_with_space_refused),
	    T(test_event_id_empty_refused),
	    T(test_event_id_not_a_string_refused),
	    T(test_event_id_control_char_refused),
	    T(test_event_id_of_200_chars_refused),
	    T(test_event_id_of_129_chars_refused),
	    T(test_event_id_of_128_chars_accepted),
	    T(test_event_id_given_is_the_key),
	    T(test_event_without_id_gets_a_random_uuid),
	    T(test_event_hash_ignores_key_order),
	    T(test_event_hash_differs_when_content_differs),
	    T(test_event_hash_differs_when_type_differs),
	    T(test_event_profile_kept),
	    T(test_event_profile_bad_email_field_is_prefixed),
	    T(test_event_profile_id_refused),
	    T(test_event_profile_bad_consent_field_is_prefixed),
	    T(test_event_profile_not_an_object_field_is_profile),
	    T(test_customer_need_id_missing_refused),
	    T(test_customer_need_id_not_a_string_refused),
	    T(test_customer_need_id_present_accepted),
	    T(test_customer_without_need_id_refuses_id),
	    T(test_customer_without_need_id_accepts_no_id),
	    T(test_customer_prefix_put_before_field),
	    T(test_customer_id_with_slash_refused),
	    T(test_customer_id_with_control_chars_refused),
	    T(test_customer_id_length_bounds),
	    T(test_customer_id_printable_utf8_accepted),
	    T(test_customer_unknown_field_refused),
	    T(test_email_valid),
	    T(test_email_invalid),
	    T(test_email_254_chars_accepted),
	    T(test_email_255_chars_refused),
	    T(test_email_local_part_over_64_refused),
	    T(test_email_local_part_of_64_accepted),
	    T(test_customer_bad_email_field),
	    T(test_customer_email_not_a_string_refused),
	    T(test_customer_null_clears_email_and_name),
	    T(test_customer_name_over_256_bytes_refused),
	    T(test_customer_locale_valid),
	    T(test_customer_locale_invalid),
	    T(test_customer_timezone_valid),
	    T(test_customer_timezone_invalid),
	    T(test_customer_birthday_valid),
	    T(test_customer_birthday_invalid),
	    T(test_birthday_with_space_or_sign_refused),
	    T(test_customer_consent_states_accepted),
	    T(test_customer_consent_unknown_state_refused),
	    T(test_customer_consent_non_string_state_refused),
	    T(test_customer_consent_bad_topic_refused),
	    T(test_customer_consent_not_an_object_refused),
	    T(test_customer_attributes_must_be_object),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
