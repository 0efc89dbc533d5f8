/*
 * VERP addresses (issue 16): each message's envelope sender, and optionally its Reply-To, is
 * LOCAL+TOKEN@DOMAIN of a configured base address, the token naming the outbox message and
 * signed with the daemon's secret, so that a bounce or a reply maps to its message even when
 * the report's body is mangled, and nobody can make a token that names another message.
 * Tokens are lowercase letters and digits (MTAs may lowercase local parts) and a '-'.
 */
#ifndef NURTURED_VERP_H
#define NURTURED_VERP_H

#include <stdint.h>

enum verp_kind {
	VERP_BOUNCE = 'b', /* the envelope sender */
	VERP_REPLY = 'r',  /* the Reply-To */
};

/* BASE's local part + "+" + the token for outbox message ID + "@" + its domain (malloc'd). */
char *verp_address(const char *secret, const char *base, enum verp_kind kind, int64_t id);

/*
 * Whether ADDR is BASE with a token: 1 with *KIND and *ID when the token's signature holds,
 * -1 when ADDR is BASE+something that is not a valid token (forged, altered, truncated), 0 when
 * ADDR is not BASE+token at all (another address, or BASE itself).
 */
int verp_parse(const char *secret, const char *base, const char *addr, enum verp_kind *kind,
	       int64_t *id);

#endif
