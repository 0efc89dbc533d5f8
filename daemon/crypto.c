#include "crypto.h"

#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/rand.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"

static void
crypto_hex(const unsigned char *d, size_t n, char *out)
{
	static const char hex[] = "0123456789abcdef";
	for (size_t i = 0; i < n; i++) {
		out[2 * i] = hex[d[i] >> 4];
		out[2 * i + 1] = hex[d[i] & 15];
	}
	out[2 * n] = '\0';
}

void
crypto_sha256_hex(const void *data, size_t len, char out[65])
{
	unsigned char md[32];
	unsigned int mdlen = 0;
	if (!EVP_Digest(data, len, md, &mdlen, EVP_sha256(), NULL))
		fatalx("EVP_Digest failed");
	crypto_hex(md, 32, out);
}

void
crypto_hmac(const char *key, const void *data, size_t len, unsigned char out[32])
{
	crypto_hmac_raw(key, strlen(key), data, len, out);
}

/*
 * Each thread keeps one HMAC context keyed with the last key it used. OpenSSL 3's one-shot
 * HMAC() fetches the algorithm and allocates a context at every call (about 1 us here); a
 * context reinitialised with the key it holds costs a sixth of that. Every send signs its
 * links and hashes its address, on the store thread, thousands of times a second.
 */
struct crypto_mac {
	EVP_MAC_CTX *ctx;
	unsigned char *key;
	size_t keylen;
};

static pthread_key_t crypto_mac_tls;
static pthread_once_t crypto_mac_once = PTHREAD_ONCE_INIT;

static void
crypto_mac_free(void *arg)
{
	struct crypto_mac *m = arg;
	if (m == NULL)
		return;
	EVP_MAC_CTX_free(m->ctx);
	OPENSSL_clear_free(m->key, m->keylen);
	free(m);
}

static void
crypto_mac_init_tls(void)
{
	if (pthread_key_create(&crypto_mac_tls, crypto_mac_free) != 0)
		fatalx("pthread_key_create failed");
}

/* This thread's context, keyed with KEY (rekeyed only when the key differs). */
static EVP_MAC_CTX *
crypto_mac_ctx(const void *key, size_t keylen)
{
	pthread_once(&crypto_mac_once, crypto_mac_init_tls);
	struct crypto_mac *m = pthread_getspecific(crypto_mac_tls);
	if (m == NULL) {
		EVP_MAC *mac = EVP_MAC_fetch(NULL, "HMAC", NULL);
		if (mac == NULL || (m = calloc(1, sizeof(*m))) == NULL ||
		    (m->ctx = EVP_MAC_CTX_new(mac)) == NULL)
			fatalx("HMAC context failed");
		EVP_MAC_free(mac);
		pthread_setspecific(crypto_mac_tls, m);
	}
	if (m->key != NULL && m->keylen == keylen && CRYPTO_memcmp(m->key, key, keylen) == 0) {
		if (!EVP_MAC_init(m->ctx, NULL, 0, NULL))
			fatalx("HMAC init failed");
		return m->ctx;
	}
	OSSL_PARAM params[] = {
	    OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_DIGEST, (char *)"SHA256", 0),
	    OSSL_PARAM_construct_end()};
	/* An empty key is a valid HMAC key; OpenSSL wants a non-NULL pointer for it. */
	static const unsigned char none[1];
	OPENSSL_clear_free(m->key, m->keylen);
	m->key = NULL;
	if (!EVP_MAC_init(m->ctx, keylen ? key : none, keylen, params))
		fatalx("HMAC init failed");
	if ((m->key = OPENSSL_malloc(keylen ? keylen : 1)) == NULL)
		fatalx("out of memory");
	if (keylen > 0)
		memcpy(m->key, key, keylen);
	m->keylen = keylen;
	return m->ctx;
}

/* Keys with any bytes (a webhook's decoded secret), for the plugins' host table too. */
void
crypto_hmac_raw(const void *key, size_t keylen, const void *data, size_t len, unsigned char out[32])
{
	EVP_MAC_CTX *ctx = crypto_mac_ctx(key, keylen);
	size_t outlen = 0;
	if (!EVP_MAC_update(ctx, data, len) || !EVP_MAC_final(ctx, out, &outlen, 32) ||
	    outlen != 32)
		fatalx("HMAC failed");
}

void
crypto_hmac_hex(const char *key, const void *data, size_t len, char out[65])
{
	unsigned char md[32];
	crypto_hmac(key, data, len, md);
	crypto_hex(md, 32, out);
}

/* Hashing both sides first makes the comparison length-independent; CRYPTO_memcmp is constant-time.
 */
int
crypto_secret_equal(const char *a, const char *b)
{
	unsigned char da[32], db[32];
	unsigned int n = 0;
	EVP_Digest(a, strlen(a), da, &n, EVP_sha256(), NULL);
	EVP_Digest(b, strlen(b), db, &n, EVP_sha256(), NULL);
	return CRYPTO_memcmp(da, db, 32) == 0;
}

int
crypto_random(void *buf, size_t n)
{
	return RAND_bytes(buf, (int)n) == 1 ? 0 : -1;
}
