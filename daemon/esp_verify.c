#include "esp_verify.h"

#include <glib.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "crypto.h"
#include "util.h"

/* Verifies SIG over DATA with KEY and digest MD (EVP_DigestVerify). */
static int
esp_verify_sig(EVP_PKEY *key, const EVP_MD *md, const void *data, size_t len,
	       const unsigned char *sig, size_t siglen)
{
	EVP_MD_CTX *ctx = EVP_MD_CTX_new();
	int ok = ctx != NULL && EVP_DigestVerifyInit(ctx, NULL, md, NULL, key) == 1 &&
		 EVP_DigestVerify(ctx, sig, siglen, data, len) == 1;
	EVP_MD_CTX_free(ctx);
	return ok;
}

char *
esp_sns_string_to_sign(json_t *msg)
{
	static const char *const notification[] = {"Message",	"MessageId", "Subject",
						   "Timestamp", "TopicArn",  "Type"};
	static const char *const subscription[] = {
	    "Message", "MessageId", "SubscribeURL", "Timestamp", "Token", "TopicArn", "Type"};
	const char *type = json_string_value(json_object_get(msg, "Type"));
	const char *const *fields;
	size_t n;

	if (type == NULL)
		return NULL;
	if (strcmp(type, "Notification") == 0) {
		fields = notification;
		n = NT_ARRAY_LEN(notification);
	} else if (strcmp(type, "SubscriptionConfirmation") == 0 ||
		   strcmp(type, "UnsubscribeConfirmation") == 0) {
		fields = subscription;
		n = NT_ARRAY_LEN(subscription);
	} else
		return NULL;
	GString *s = g_string_new(NULL);
	for (size_t i = 0; i < n; i++) {
		const char *v = json_string_value(json_object_get(msg, fields[i]));
		if (v == NULL) {
			if (strcmp(fields[i], "Subject") == 0)
				continue; /* optional: left out of the text when absent */
			g_string_free(s, TRUE);
			return NULL;
		}
		g_string_append_printf(s, "%s\n%s\n", fields[i], v);
	}
	return g_string_free(s, FALSE);
}

int
esp_verify_sns(json_t *msg, const char *cert_file)
{
	const char *ver = json_string_value(json_object_get(msg, "SignatureVersion"));
	const char *sig64 = json_string_value(json_object_get(msg, "Signature"));
	const EVP_MD *md;
	FILE *f;
	X509 *cert;
	EVP_PKEY *key;
	int ok = 0;

	if (cert_file == NULL || ver == NULL || sig64 == NULL)
		return 0;
	if (strcmp(ver, "1") == 0)
		md = EVP_sha1();
	else if (strcmp(ver, "2") == 0)
		md = EVP_sha256();
	else
		return 0;
	char *text = esp_sns_string_to_sign(msg);
	if (text == NULL || (f = fopen(cert_file, "r")) == NULL) {
		free(text);
		return 0;
	}
	cert = PEM_read_X509(f, NULL, NULL, NULL);
	fclose(f);
	key = cert ? X509_get_pubkey(cert) : NULL;
	gsize siglen = 0;
	guchar *sig = g_base64_decode(sig64, &siglen);
	if (key != NULL && sig != NULL && siglen > 0)
		ok = esp_verify_sig(key, md, text, strlen(text), sig, siglen);
	g_free(sig);
	EVP_PKEY_free(key);
	X509_free(cert);
	free(text);
	return ok;
}

int
esp_verify_mailgun(const char *key, const char *timestamp, const char *token, const char *signature)
{
	char mac[65];

	if (key == NULL || timestamp == NULL || token == NULL || signature == NULL)
		return 0;
	char *data = xasprintf("%s%s", timestamp, token);
	crypto_hmac_hex(key, data, strlen(data), mac);
	free(data);
	char *lower = g_ascii_strdown(signature, -1);
	int ok = crypto_secret_equal(mac, lower);
	g_free(lower);
	return ok;
}

int
esp_verify_sendgrid(const char *pubkey_b64, const char *signature_b64, const char *timestamp,
		    const char *body, size_t len)
{
	gsize keylen = 0, siglen = 0;
	guchar *der, *sig;
	int ok = 0;

	if (pubkey_b64 == NULL || signature_b64 == NULL || timestamp == NULL)
		return 0;
	der = g_base64_decode(pubkey_b64, &keylen);
	sig = g_base64_decode(signature_b64, &siglen);
	const unsigned char *p = der;
	EVP_PKEY *key = keylen ? d2i_PUBKEY(NULL, &p, (long)keylen) : NULL;
	if (key != NULL && EVP_PKEY_is_a(key, "EC") && siglen > 0) {
		size_t tl = strlen(timestamp);
		char *data = xmalloc(tl + len + 1);
		memcpy(data, timestamp, tl);
		memcpy(data + tl, body, len);
		ok = esp_verify_sig(key, EVP_sha256(), data, tl + len, sig, siglen);
		free(data);
	}
	EVP_PKEY_free(key);
	g_free(der);
	g_free(sig);
	return ok;
}

int
esp_verify_basic(const char *authorization, const char *user, const char *password)
{
	if (authorization == NULL || user == NULL || password == NULL ||
	    strncasecmp(authorization, "Basic ", 6) != 0)
		return 0;
	char *want_plain = xasprintf("%s:%s", user, password);
	gchar *want = g_base64_encode((const guchar *)want_plain, strlen(want_plain));
	const char *got = authorization + 6;
	while (*got == ' ')
		got++;
	int ok = crypto_secret_equal(got, want);
	g_free(want);
	free(want_plain);
	return ok;
}
