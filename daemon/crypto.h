/* The few cryptographic operations the daemon needs, all through libcrypto. */
#ifndef NURTURED_CRYPTO_H
#define NURTURED_CRYPTO_H

#include <stddef.h>

/* SHA-256 of DATA as 64 lowercase hex characters into OUT (65 bytes). */
void crypto_sha256_hex(const void *data, size_t len, char out[65]);
/* HMAC-SHA256 of DATA under KEY as hex into OUT (65 bytes). */
void crypto_hmac_hex(const char *key, const void *data, size_t len, char out[65]);
/* HMAC-SHA256 raw, 32 bytes into OUT. */
void crypto_hmac(const char *key, const void *data, size_t len, unsigned char out[32]);
/* The same with a key of KEYLEN arbitrary bytes. */
void crypto_hmac_raw(const void *key, size_t keylen, const void *data, size_t len,
		     unsigned char out[32]);
/* Compares two secrets in time independent of where they differ (and of their lengths). */
int crypto_secret_equal(const char *a, const char *b);
/* Fills BUF with N random bytes from the system's CSPRNG; returns -1 on failure. */
int crypto_random(void *buf, size_t n);

#endif
