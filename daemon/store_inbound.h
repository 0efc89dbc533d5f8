/*
 * The store's operations on inbound mail: a table of its own, reached through store_ops.inbound,
 * which every backend fills (store_sqlite_ops.inbound). Each returns rows as C structs
 * (store_rows.h); the api_*.c files format them.
 */
#ifndef NURTURED_STORE_INBOUND_H
#define NURTURED_STORE_INBOUND_H

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

#include "store.h"

struct store_inbound_ops {
	/* Inbound mail (store_sqlite_inbound.c, issue 16). */
	/* The row recorded under DEDUPE: STORE_OK with *ID, or STORE_NOTFOUND. */
	enum store_status (*inbound_find)(struct store *, const char *dedupe, int64_t *id);
	/* Records R (STORE_DUPLICATE when its dedupe key is there); SECRET hashes the address. */
	enum store_status (*inbound_add)(struct store *, const char *secret,
					 const struct inbound_row *r, int64_t *id);
	/*
	 * Up to LIMIT rows before BEFORE (0: the newest), of KIND (NULL: all), about outbox
	 * message MESSAGE (0: any), newest first.
	 */
	enum store_status (*inbound_list)(struct store *, const char *kind, int unmatched_only,
					  int64_t before, int64_t message, int limit,
					  struct inbound_entry **out, size_t *n);
	/* Soft bounces recorded for ADDRESS since SINCE_MS. */
	enum store_status (*inbound_soft_count)(struct store *, const char *secret,
						const char *address, int64_t since_ms, long *n);
};

extern const struct store_inbound_ops store_sqlite_inbound_ops;
extern const struct store_inbound_ops store_pg_inbound_ops;

static inline enum store_status
store_inbound_find(struct store *s, const char *dedupe, int64_t *id)
{
	return s->ops->inbound->inbound_find(s, dedupe, id);
}
static inline enum store_status
store_inbound_add(struct store *s, const char *secret, const struct inbound_row *r, int64_t *id)
{
	return s->ops->inbound->inbound_add(s, secret, r, id);
}
static inline enum store_status
store_inbound_list(struct store *s, const char *kind, int unmatched_only, int64_t before,
		   int64_t message, int limit, struct inbound_entry **out, size_t *n)
{
	return s->ops->inbound->inbound_list(s, kind, unmatched_only, before, message, limit, out,
					     n);
}
static inline enum store_status
store_inbound_soft_count(struct store *s, const char *secret, const char *address, int64_t since_ms,
			 long *n)
{
	return s->ops->inbound->inbound_soft_count(s, secret, address, since_ms, n);
}

#endif
