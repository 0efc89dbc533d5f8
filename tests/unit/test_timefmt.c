/*
 * Unit tests of the helpers validation rests on: RFC 3339 times (timefmt.c, through GLib) and
 * the cryptographic primitives (crypto.c, through libcrypto) against published test vectors.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <pthread.h>
#include <stdio.h>
#include <string.h>

#include "crypto.h"
#include "timefmt.h"

/* ---- timefmt ---- */

static void
test_time_format_and_parse_round_trip(void **state)
{
	(void)state;
	static const struct {
		int64_t ms;
		const char *text;
	} cases[] = {
	    {0, "1970-01-01T00:00:00.000Z"},
	    {INT64_C(1704103200250), "2024-01-01T10:00:00.250Z"},
	    {INT64_C(951782400000), "2000-02-29T00:00:00.000Z"},
	    {-1, "1969-12-31T23:59:59.999Z"},
	    {-1000, "1969-12-31T23:59:59.000Z"},
	    {-1001, "1969-12-31T23:59:58.999Z"},
	    {INT64_C(-14182939877), "1969-07-20T20:17:40.123Z"},
	    {INT64_C(-2208988800000), "1900-01-01T00:00:00.000Z"},
	    {INT64_C(253402300799999), "9999-12-31T23:59:59.999Z"},
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		char buf[40];
		int64_t back = 0;
		timefmt_format_utc(cases[i].ms, buf, sizeof(buf));
		if (strcmp(buf, cases[i].text) != 0)
			fail_msg("%lld formatted as %s, want %s", (long long)cases[i].ms, buf,
				 cases[i].text);
		if (timefmt_parse_rfc3339(buf, &back) != 0 || back != cases[i].ms)
			fail_msg("%s parsed back as %lld, want %lld", buf, (long long)back,
				 (long long)cases[i].ms);
	}
}

/* Years below 1000 are accepted on input; printed, they must keep four digits. */
static void
test_time_format_pads_year_to_four_digits(void **state)
{
	(void)state;
	char buf[40];
	int64_t ms = 0, back = 0;
	assert_int_equal(timefmt_parse_rfc3339("0999-06-01T00:00:00Z", &ms), 0);
	timefmt_format_utc(ms, buf, sizeof(buf));
	assert_string_equal(buf, "0999-06-01T00:00:00.000Z");
	assert_int_equal(timefmt_parse_rfc3339(buf, &back), 0);
	assert_true(back == ms);
}

/* RFC 3339, 5.6: "T" and "Z" may alternatively be lower case. */
static void
test_time_parse_accepts_lowercase_t(void **state)
{
	(void)state;
	int64_t ms = 0;
	assert_int_equal(timefmt_parse_rfc3339("2024-01-01t10:00:00Z", &ms), 0);
	assert_true(ms == INT64_C(1704103200000));
}

static void
test_time_parse_accepts_lowercase_z(void **state)
{
	(void)state;
	int64_t ms = 0;
	assert_int_equal(timefmt_parse_rfc3339("2024-01-01T10:00:00z", &ms), 0);
	assert_true(ms == INT64_C(1704103200000));
}

static void
test_time_parse_refuses_non_rfc3339(void **state)
{
	(void)state;
	static const char *bad[] = {"2024-01-01",	    "2024-01-01T10:00:00",
				    "2024-01-01 10:00:00Z", "2024-01-01T10:00:00+0200",
				    "2024-W01-1T10:00:00Z", "yesterday",
				    "2024-13-01T10:00:00Z", "2024-01-01T10:00:00+02:00Z",
				    "2024-02-30T10:00:00Z"};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		int64_t ms = 42;
		if (timefmt_parse_rfc3339(bad[i], &ms) != -1)
			fail_msg("accepted \"%s\"", bad[i]);
		if (ms != 42)
			fail_msg("\"%s\" changed the output", bad[i]);
	}
}

/* ---- crypto ---- */

static void
test_secret_equal_same(void **state)
{
	(void)state;
	assert_true(crypto_secret_equal("0123456789abcdef", "0123456789abcdef"));
	assert_true(crypto_secret_equal("", ""));
}

static void
test_secret_equal_differs_same_length(void **state)
{
	(void)state;
	assert_false(crypto_secret_equal("0123456789abcdef", "0123456789abcdeF"));
	assert_false(crypto_secret_equal("x123456789abcdef", "0123456789abcdef"));
}

static void
test_secret_equal_differs_in_length(void **state)
{
	(void)state;
	assert_false(crypto_secret_equal("0123456789abcdef", "0123456789abcde"));
	assert_false(crypto_secret_equal("0123456789abcdef", "0123456789abcdef0"));
	assert_false(crypto_secret_equal("", "a"));
}

/* RFC 4231, test case 2. */
static void
test_hmac_sha256_rfc4231_case_2(void **state)
{
	(void)state;
	static const char data[] = "what do ya want for nothing?";
	char out[65];
	crypto_hmac_hex("Jefe", data, strlen(data), out);
	assert_string_equal(out,
			    "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843");
}

/* RFC 4231 cases 1, 2 and 6 (a key longer than SHA-256's block), as hex. */
struct hmac_vector {
	unsigned char key[131];
	size_t keylen;
	const char *data;
	const char *mac;
};

static void
hmac_vectors(struct hmac_vector v[3])
{
	memset(v, 0, 3 * sizeof(*v));
	memset(v[0].key, 0x0b, 20);
	v[0].keylen = 20;
	v[0].data = "Hi There";
	v[0].mac = "b0344c61d8db38535ca8afceaf0bf12b881dc200c9833da726e9376c2e32cff7";
	memcpy(v[1].key, "Jefe", 4);
	v[1].keylen = 4;
	v[1].data = "what do ya want for nothing?";
	v[1].mac = "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843";
	memset(v[2].key, 0xaa, 131);
	v[2].keylen = 131;
	v[2].data = "Test Using Larger Than Block-Size Key - Hash Key First";
	v[2].mac = "60e431591ee0b67f0d8a26aacbf5b77f8e0bc6213728c5140546040f0ee37f54";
}

static int
hmac_vector_ok(const struct hmac_vector *v)
{
	unsigned char md[32];
	char hex[65];
	crypto_hmac_raw(v->key, v->keylen, v->data, strlen(v->data), md);
	for (int i = 0; i < 32; i++)
		snprintf(hex + 2 * i, 3, "%02x", md[i]);
	return strcmp(hex, v->mac) == 0;
}

/* Each thread keeps a context keyed with its last key: changing keys must rekey it. */
static void
test_hmac_sha256_alternating_keys(void **state)
{
	(void)state;
	struct hmac_vector v[3];
	static const int order[] = {1, 0, 1, 2, 2, 0, 1, 2, 0, 0};
	hmac_vectors(v);
	for (size_t i = 0; i < sizeof(order) / sizeof(order[0]); i++)
		assert_true(hmac_vector_ok(&v[order[i]]));
}

static void *
hmac_thread(void *arg)
{
	const struct hmac_vector *v = arg;
	intptr_t bad = 0;
	for (int i = 0; i < 3000; i++)
		bad += !hmac_vector_ok(&v[(i * 7 + i / 3) % 3]);
	return (void *)bad;
}

static void
test_hmac_sha256_threads(void **state)
{
	(void)state;
	struct hmac_vector v[3];
	pthread_t t[4];
	hmac_vectors(v);
	for (int i = 0; i < 4; i++)
		assert_int_equal(pthread_create(&t[i], NULL, hmac_thread, v), 0);
	for (int i = 0; i < 4; i++) {
		void *bad;
		assert_int_equal(pthread_join(t[i], &bad), 0);
		assert_int_equal((intptr_t)bad, 0);
	}
}

/* FIPS 180-2, appendix B.1. */
static void
test_sha256_abc(void **state)
{
	(void)state;
	char out[65];
	crypto_sha256_hex("abc", 3, out);
	assert_string_equal(out,
			    "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_time_format_and_parse_round_trip),
	    cmocka_unit_test(test_time_format_pads_year_to_four_digits),
	    cmocka_unit_test(test_time_parse_accepts_lowercase_t),
	    cmocka_unit_test(test_time_parse_accepts_lowercase_z),
	    cmocka_unit_test(test_time_parse_refuses_non_rfc3339),
	    cmocka_unit_test(test_secret_equal_same),
	    cmocka_unit_test(test_secret_equal_differs_same_length),
	    cmocka_unit_test(test_secret_equal_differs_in_length),
	    cmocka_unit_test(test_hmac_sha256_rfc4231_case_2),
	    cmocka_unit_test(test_hmac_sha256_alternating_keys),
	    cmocka_unit_test(test_hmac_sha256_threads),
	    cmocka_unit_test(test_sha256_abc),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
