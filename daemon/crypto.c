#include "crypto.h"

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/rand.h>
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

/* Keys with any bytes (a webhook's decoded secret), for the plugins' host table too. */
void
crypto_hmac_raw(const void *key, size_t keylen, const void *data, size_t len, unsigned char out[32])
{
	unsigned int mdlen = 32;
	if (HMAC(EVP_sha256(), key, (int)keylen, data, len, out, &mdlen) == NULL)
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
