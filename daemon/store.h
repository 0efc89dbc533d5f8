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

#include "store_rows.h"
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
	const char *backend;  /* "sqlite" or "postgresql" */
	const char *data_dir; /* sqlite: NULL is in memory (simulate, tests) */
	const char *url;      /* postgresql: the connection URL (libpq's conninfo) */
	int durability_full;
	/*
	 * A reader beside the writer (statistics off the store thread): read-only, a deferred
	 * BEGIN (no write lock), a smaller page cache, no migrations and no checkpointer. The
	 * writer must have opened the database first.
	 */
	int read_only;
};

struct store;
struct store_ui_ops;
struct store_customer_ops;
struct store_event_ops;
struct store_engine_ops;
struct store_outbox_ops;
struct store_stats_ops;
struct store_inbound_ops;
struct store_measure_ops;
struct store_broadcast_ops;
struct store_cluster_ops;

/*
 * A backend: its connection and transactions here, its operations in one table per concern
 * (each in its header, with the inline wrappers the rest of the daemon calls).
 */
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
	/*
	 * One chunk of retention: at most LIMIT rows of KIND older than CUTOFF_MS looked at from
	 * CUR on; *N tells how many (fewer than LIMIT: nothing more to do for now). KEEP (for
	 * RETAIN_JOURNEYS) is campaign id -> the time before which a finished journey may go
	 * (re-entry "after"), or -1 (re-entry "never": it stays, without its trigger's data);
	 * campaigns not in it lose their finished journeys at CUTOFF_MS.
	 */
	enum store_status (*prune)(struct store *, enum retention_kind kind, int64_t cutoff_ms,
				   int limit, const json_t *keep, struct retention_cursor *cur,
				   int *n);
	/* Customers and consent (store_customers.h) */
	const struct store_customer_ops *customer;
	/* Events and the engine's cursor over them (store_events.h) */
	const struct store_event_ops *event;
	/* Journeys and the engine (store_engine.h) */
	const struct store_engine_ops *engine;
	/* The outbox and delivery (store_outbox.h) */
	const struct store_outbox_ops *outbox;
	/* Statistics (store_stats.h) */
	const struct store_stats_ops *stats;
	/* Inbound mail (store_inbound.h) */
	const struct store_inbound_ops *inbound;
	/* Click tracking, attribution and experiments (store_measure.h) */
	const struct store_measure_ops *measure;
	/* Issue 22: the dashboard's queries (store_ui.h). */
	const struct store_ui_ops *ui;
	/* Broadcasts and segments (store_broadcast.h, issue 17). */
	const struct store_broadcast_ops *bc;
	/* Issue 21: the nodes sharing the store and their leases (store_cluster.h). */
	const struct store_cluster_ops *cluster;
};

/* Every backend's struct starts with this. */
struct store {
	const struct store_ops *ops;
};

/*
 * The bytes the store's library holds in memory (SQLite: its heap, page caches included).
 * Safe from any thread, for a gauge: RSS less this is what a leak elsewhere would grow.
 */
int64_t store_memory_used(void);

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

extern const struct store_ops store_sqlite_ops;
extern const struct store_ops store_pg_ops;

static inline enum store_status
store_prune(struct store *s, enum retention_kind kind, int64_t cutoff_ms, int limit,
	    const json_t *keep, struct retention_cursor *cur, int *n)
{
	return s->ops->prune(s, kind, cutoff_ms, limit, keep, cur, n);
}

/* The operations by concern, each with its wrappers. */
#include "store_customers.h"
#include "store_events.h"
#include "store_engine.h"
#include "store_outbox.h"
#include "store_stats.h"
#include "store_inbound.h"
#include "store_measure.h"

#endif
