/*
 * The one store interface. Every piece of SQL lives behind it, in a backend (store_sqlite.c
 * now; a PostgreSQL backend later for several daemons sharing one database). A store is used
 * by one thread at a time: the store loop owns it.
 */
#ifndef NURTURED_STORE_H
#define NURTURED_STORE_H

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

#include "validate.h"

enum store_status {
	STORE_OK = 0,
	STORE_DUPLICATE, /* same idempotency key, same content */
	STORE_CONFLICT,	 /* same idempotency key, other content */
	STORE_NOTFOUND,
	STORE_GONE,	   /* erased customer */
	STORE_UNAVAILABLE, /* disk full, I/O error, locked: retry later */
	STORE_CORRUPT,	   /* refuse to run */
};

struct store_options {
	const char *backend; /* "sqlite" */
	const char *data_dir;
	int durability_full;
};

struct store;

struct store_ops {
	const char *name;
	struct store *(*open)(const struct store_options *, char *err, size_t errlen);
	void (*close)(struct store *);
	const char *(*errmsg)(struct store *);
	int (*schema_version)(struct store *);

	enum store_status (*begin)(struct store *);
	enum store_status (*commit)(struct store *);
	void (*rollback)(struct store *);
	enum store_status (*savepoint)(struct store *);
	enum store_status (*release)(struct store *);
	void (*rollback_savepoint)(struct store *);

	enum store_status (*heartbeat)(struct store *, int64_t now_ms);
	enum store_status (*customer_upsert)(struct store *, const char *ext_id, json_t *fields,
					     int64_t now_ms, int64_t *id);
	enum store_status (*customer_ensure)(struct store *, const char *ext_id, int64_t now_ms,
					     int64_t *id);
	enum store_status (*customer_get)(struct store *, const char *ext_id, int events_limit,
					  json_t **out);
	enum store_status (*customer_erase)(struct store *, const char *ext_id, const char *secret,
					    int64_t now_ms);
	enum store_status (*event_insert)(struct store *, int64_t customer_id,
					  const struct nt_event *ev, int64_t received_ms,
					  int64_t *seq);
};

/* Every backend's struct starts with this. */
struct store {
	const struct store_ops *ops;
};

/* The schema version this build writes; a newer database is refused. */
#define STORE_SCHEMA_VERSION 1

/* Opens the backend named in OPT; NULL with a message in ERR on failure. */
struct store *store_open(const struct store_options *opt, char *err, size_t errlen);

static inline void
store_close(struct store *s)
{
	if (s != NULL)
		s->ops->close(s);
}
static inline const char *
store_errmsg(struct store *s)
{
	return s->ops->errmsg(s);
}
static inline enum store_status
store_begin(struct store *s)
{
	return s->ops->begin(s);
}
static inline enum store_status
store_commit(struct store *s)
{
	return s->ops->commit(s);
}
static inline void
store_rollback(struct store *s)
{
	s->ops->rollback(s);
}
static inline enum store_status
store_savepoint(struct store *s)
{
	return s->ops->savepoint(s);
}
static inline enum store_status
store_release(struct store *s)
{
	return s->ops->release(s);
}
static inline void
store_rollback_savepoint(struct store *s)
{
	s->ops->rollback_savepoint(s);
}

static inline enum store_status
store_heartbeat(struct store *s, int64_t now_ms)
{
	return s->ops->heartbeat(s, now_ms);
}
static inline enum store_status
store_customer_upsert(struct store *s, const char *ext_id, json_t *fields, int64_t now_ms,
		      int64_t *id)
{
	return s->ops->customer_upsert(s, ext_id, fields, now_ms, id);
}
static inline enum store_status
store_customer_ensure(struct store *s, const char *ext_id, int64_t now_ms, int64_t *id)
{
	return s->ops->customer_ensure(s, ext_id, now_ms, id);
}
static inline enum store_status
store_customer_get(struct store *s, const char *ext_id, int events_limit, json_t **out)
{
	return s->ops->customer_get(s, ext_id, events_limit, out);
}
static inline enum store_status
store_customer_erase(struct store *s, const char *ext_id, const char *secret, int64_t now_ms)
{
	return s->ops->customer_erase(s, ext_id, secret, now_ms);
}
static inline enum store_status
store_event_insert(struct store *s, int64_t customer_id, const struct nt_event *ev,
		   int64_t received_ms, int64_t *seq)
{
	return s->ops->event_insert(s, customer_id, ev, received_ms, seq);
}

extern const struct store_ops store_sqlite_ops;

#endif
