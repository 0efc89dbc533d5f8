#include "token.h"

#include <glib.h>
#include <jansson.h>
#include <openssl/crypto.h>
#include <stdlib.h>
#include <string.h>

#include "crypto.h"
#include "util.h"

/* Longest token we look at: far above any real one, small enough to refuse junk cheaply. */
#define TOKEN_MAX_LEN 2048

/* GLib's base64, made URL-safe without padding (RFC 4648 section 5). */
static char *
token_b64url(const void *data, size_t len)
{
	gchar *b = g_base64_encode(data, len);
	char *out = xstrdup(b);
	size_t n = strlen(out);

	g_free(b);
	for (size_t i = 0; i < n; i++)
		out[i] = out[i] == '+' ? '-' : out[i] == '/' ? '_' : out[i];
	while (n > 0 && out[n - 1] == '=')
		out[--n] = '\0';
	return out;
}

/* The inverse; NULL for characters outside the URL-safe alphabet. */
static guchar *
token_unb64url(const char *text, size_t len, gsize *outlen)
{
	char *b = xmalloc(len + 4);
	size_t n = 0;
	guchar *out;

	for (size_t i = 0; i < len; i++) {
		char ch = text[i];
		if (!g_ascii_isalnum(ch) && ch != '-' && ch != '_') {
			free(b);
			return NULL;
		}
		b[n++] = ch == '-' ? '+' : ch == '_' ? '/' : ch;
	}
	if (n % 4 == 1) {
		free(b);
		return NULL;
	}
	while (n % 4)
		b[n++] = '=';
	b[n] = '\0';
	out = g_base64_decode(b, outlen);
	free(b);
	return out;
}

/* The MAC covers the encoded payload, with a label so no other HMAC of ours can pass. */
static char *
token_mac(const char *secret, const char *payload, size_t len)
{
	unsigned char mac[32];
	char *msg = xasprintf("nurtured-link-v1.%.*s", (int)len, payload);

	crypto_hmac(secret, msg, strlen(msg), mac);
	free(msg);
	return token_b64url(mac, sizeof(mac));
}

char *
token_make(const char *secret, char kind, const char *customer, const char *topic, int64_t issued_s)
{
	char k[2] = {kind, '\0'};
	json_t *a = json_pack("[s,s,s,I]", k, customer, topic, (json_int_t)issued_s);
	char *json = json_dumps(a, JSON_COMPACT);
	char *payload = token_b64url(json, strlen(json));
	char *mac = token_mac(secret, payload, strlen(payload));
	char *out = xasprintf("%s.%s", payload, mac);

	json_decref(a);
	free(json);
	free(payload);
	free(mac);
	return out;
}

char *
token_url(const char *public_url, const char *secret, char kind, const char *customer,
	  const char *topic, int64_t issued_s)
{
	char *t = token_make(secret, kind, customer, topic, issued_s);
	size_t n = strlen(public_url);
	char *url = xasprintf("%.*s/%s/%s", (int)(n > 0 && public_url[n - 1] == '/' ? n - 1 : n),
			      public_url, kind == 'c' ? "confirm" : "u", t);
	free(t);
	return url;
}

int
token_parse(const char *secret, const char *text, char kind, struct token *out)
{
	const char *dot;
	char *mac;
	guchar *raw;
	gsize rawlen;
	json_t *a;
	const char *k, *cust, *topic;
	json_int_t issued;
	int ok;

	memset(out, 0, sizeof(*out));
	if (text == NULL || strlen(text) > TOKEN_MAX_LEN || (dot = strchr(text, '.')) == NULL)
		return -1;
	mac = token_mac(secret, text, (size_t)(dot - text));
	ok = strlen(mac) == strlen(dot + 1) && CRYPTO_memcmp(mac, dot + 1, strlen(mac)) == 0;
	free(mac);
	if (!ok || (raw = token_unb64url(text, (size_t)(dot - text), &rawlen)) == NULL)
		return -1;
	a = json_loadb((const char *)raw, rawlen, 0, NULL);
	g_free(raw);
	ok = a != NULL && json_unpack(a, "[sssI]", &k, &cust, &topic, &issued) == 0 &&
	     k[0] == kind && k[1] == '\0' && cust[0] && topic[0];
	if (ok) {
		out->kind = kind;
		out->customer = xstrdup(cust);
		out->topic = xstrdup(topic);
		out->issued_s = issued;
	}
	json_decref(a);
	return ok ? 0 : -1;
}

void
token_clear(struct token *t)
{
	free(t->customer);
	free(t->topic);
	memset(t, 0, sizeof(*t));
}
