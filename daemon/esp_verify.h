/*
 * The signature checks of the ESPs' event webhooks (issue 16), through libcrypto: Amazon SNS
 * (SignatureVersion 1 SHA1withRSA, 2 SHA256withRSA, against a pinned certificate file, since
 * nothing may be fetched), Mailgun (HMAC-SHA256 of timestamp + token), SendGrid (ECDSA P-256
 * with SHA-256 over timestamp + payload) and Postmark (HTTP basic auth). Each returns 1 when
 * the signature holds, 0 when not (whatever the reason: a bad key is no signature).
 */
#ifndef NURTURED_ESP_VERIFY_H
#define NURTURED_ESP_VERIFY_H

#include <jansson.h>
#include <stddef.h>

/* The SNS message MSG (parsed JSON) against the PEM certificate in CERT_FILE. */
int esp_verify_sns(json_t *msg, const char *cert_file);
/* The text SNS signs for MSG (malloc'd), or NULL when a field it needs is missing. */
char *esp_sns_string_to_sign(json_t *msg);
/* Mailgun: hex HMAC-SHA256 of TIMESTAMP + TOKEN under KEY equals SIGNATURE. */
int esp_verify_mailgun(const char *key, const char *timestamp, const char *token,
		       const char *signature);
/* SendGrid: SIGNATURE_B64 (DER ECDSA) over TIMESTAMP + BODY under PUBKEY_B64 (DER SPKI). */
int esp_verify_sendgrid(const char *pubkey_b64, const char *signature_b64, const char *timestamp,
			const char *body, size_t len);
/* Postmark: the Authorization header is Basic USER:PASSWORD. */
int esp_verify_basic(const char *authorization, const char *user, const char *password);

#endif
