#include "verp.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <openssl/crypto.h>

#include "crypto.h"
#include "util.h"

/* MAC characters in a token: 12 of base32, 60 bits. */
#define VERP_MAC_LEN 12

static const char verp_b32[] = "abcdefghijklmnopqrstuvwxyz234567";

/* The token's MAC over KIND and ID, as VERP_MAC_LEN lowercase base32 characters. */
static void
verp_mac(const char *secret, char kind, int64_t id, char out[VERP_MAC_LEN + 1])
{
	unsigned char mac[32];
	char *msg = xasprintf("nurtured-verp-v1.%c%lld", kind, (long long)id);
	uint64_t bits = 0;

	crypto_hmac(secret, msg, strlen(msg), mac);
	free(msg);
	for (int i = 0; i < 8; i++)
		bits = (bits << 8) | mac[i];
	for (int i = 0; i < VERP_MAC_LEN; i++)
		out[i] = verp_b32[(bits >> (64 - 5 * (i + 1))) & 31];
	out[VERP_MAC_LEN] = '\0';
}

/* ID in base 36, lowercase. */
static void
verp_id36(int64_t id, char out[16])
{
	char tmp[16];
	int n = 0;
	uint64_t v = (uint64_t)id;

	do {
		tmp[n++] = "0123456789abcdefghijklmnopqrstuvwxyz"[v % 36];
		v /= 36;
	} while (v > 0 && n < 15);
	for (int i = 0; i < n; i++)
		out[i] = tmp[n - 1 - i];
	out[n] = '\0';
}

char *
verp_address(const char *secret, const char *base, enum verp_kind kind, int64_t id)
{
	const char *at = strrchr(base, '@');
	char id36[16], mac[VERP_MAC_LEN + 1];

	if (at == NULL)
		return xstrdup(base);
	verp_id36(id, id36);
	verp_mac(secret, (char)kind, id, mac);
	return xasprintf("%.*s+%c%s-%s%s", (int)(at - base), base, (char)kind, id36, mac, at);
}

int
verp_parse(const char *secret, const char *base, const char *addr, enum verp_kind *kind,
	   int64_t *id)
{
	const char *bat, *aat, *plus;
	size_t blocal;
	char tok[64], mac[VERP_MAC_LEN + 1];

	if (secret == NULL || base == NULL || addr == NULL || (bat = strrchr(base, '@')) == NULL ||
	    (aat = strrchr(addr, '@')) == NULL || strcasecmp(bat, aat) != 0)
		return 0;
	blocal = (size_t)(bat - base);
	if ((size_t)(aat - addr) <= blocal + 1 || strncasecmp(addr, base, blocal) != 0 ||
	    addr[blocal] != '+')
		return 0;
	plus = addr + blocal + 1;
	size_t n = (size_t)(aat - plus);
	if (n >= sizeof(tok) || n < 3 + VERP_MAC_LEN)
		return -1;
	for (size_t i = 0; i < n; i++)
		tok[i] = (char)tolower((unsigned char)plus[i]);
	tok[n] = '\0';
	char *dash = strchr(tok, '-');
	if (dash == NULL || strlen(dash + 1) != VERP_MAC_LEN || (tok[0] != 'b' && tok[0] != 'r') ||
	    dash == tok + 1 || dash - tok > 14)
		return -1;
	int64_t v = 0;
	for (const char *p = tok + 1; p < dash; p++) {
		int d = isdigit((unsigned char)*p) ? *p - '0'
			: (*p >= 'a' && *p <= 'z') ? *p - 'a' + 10
						   : -1;
		if (d < 0 || v > (INT64_MAX - d) / 36)
			return -1;
		v = v * 36 + d;
	}
	verp_mac(secret, tok[0], v, mac);
	if (CRYPTO_memcmp(mac, dash + 1, VERP_MAC_LEN) != 0)
		return -1;
	/* Only the canonical spelling: no leading zeros. */
	char id36[16];
	verp_id36(v, id36);
	if ((size_t)(dash - tok - 1) != strlen(id36) || memcmp(id36, tok + 1, strlen(id36)) != 0)
		return -1;
	*kind = (enum verp_kind)tok[0];
	*id = v;
	return 1;
}
