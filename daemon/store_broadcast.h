/*
 * The store's side of broadcasts and segments (issue 17): saved audiences, and one-off
 * mailings with their state, their frozen content and the cursor of their fan-out. A table of
 * operations of its own, reached through store_ops.bc, so that the backend's main table does
 * not grow by a dozen entries.
 */
#ifndef NURTURED_STORE_BROADCAST_H
#define NURTURED_STORE_BROADCAST_H

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

#include "store.h"

/* A saved audience: a condition in the campaign language, kept as its JSON text. */
struct segment_row {
	char *id, *name;
	char *condition; /* JSON text */
	int64_t created_ms;
};
void segment_row_clear(struct segment_row *r);
void segment_rows_free(struct segment_row *v, size_t n);

/*
 * A broadcast's life (broadcast_state_name gives the name the store keeps and the API shows):
 * a draft is edited; a scheduled one waits for its instant; sending is its fan-out under way
 * (content frozen); sent once its last message is queued; canceled before that.
 */
enum broadcast_state {
	BROADCAST_DRAFT,
	BROADCAST_SCHEDULED,
	BROADCAST_SENDING,
	BROADCAST_SENT,
	BROADCAST_CANCELED,
	BROADCAST_N_STATES
};
const char *broadcast_state_name(enum broadcast_state s);
int broadcast_state_parse(const char *name); /* -1: no such state */

struct broadcast_row {
	char *id;
	enum broadcast_state state;
	char *spec;   /* the request as accepted (JSON text) */
	char *frozen; /* the content as sending started: {"files": {FNAME: TEXT}} (JSON), or NULL */
	int64_t due_ms;	     /* scheduled: when the fan-out starts; -1 otherwise */
	int64_t cursor;	     /* the last customer id handled by the fan-out */
	long matched;	     /* customers in the audience (so far) */
	long not_subscribed; /* in the audience without consent for the topic: no message */
	int64_t created_ms, updated_ms;
	int64_t started_ms, finished_ms; /* -1 until then */
};
void broadcast_row_clear(struct broadcast_row *r);
void broadcast_rows_free(struct broadcast_row *v, size_t n);

/* One skip reason and how many messages it skipped. */
struct reason_count {
	char *reason;
	int64_t n;
};

/*
 * A broadcast's messages by state (n[OUTBOX_SKIPPED] their total; SKIPPED by reason, in the
 * order first seen) and the complaints that came back about them.
 */
struct broadcast_counts {
	int64_t n[OUTBOX_N_STATES];
	struct reason_count *skipped;
	size_t n_skipped;
	int64_t complaints;
};
void broadcast_counts_clear(struct broadcast_counts *c);
/* Adds N skips for REASON (NULL: "unknown"), and to the skipped state's count. */
void broadcast_counts_skip_add(struct broadcast_counts *c, const char *reason, int64_t n);

struct store_broadcast_ops {
	/* STORE_DUPLICATE when ID holds the same name and condition, STORE_CONFLICT otherwise. */
	enum store_status (*segment_add)(struct store *, const struct segment_row *r);
	enum store_status (*segment_get)(struct store *, const char *id, struct segment_row *out);
	enum store_status (*segments_list)(struct store *, struct segment_row **out, size_t *n);
	enum store_status (*segment_delete)(struct store *, const char *id);
	/* STORE_DUPLICATE when ID holds the same spec, STORE_CONFLICT otherwise. */
	enum store_status (*broadcast_add)(struct store *, const struct broadcast_row *r);
	enum store_status (*broadcast_get)(struct store *, const char *id,
					   struct broadcast_row *out);
	/* Up to LIMIT, newest first. */
	enum store_status (*broadcasts_list)(struct store *, int limit, struct broadcast_row **out,
					     size_t *n);
	/* Writes state, spec, frozen, due, cursor, counters and times of R. */
	enum store_status (*broadcast_update)(struct store *, const struct broadcast_row *r);
	enum store_status (*broadcast_delete)(struct store *, const char *id);
	/* Scheduled or sending broadcasts due at NOW, oldest first, at most LIMIT. */
	enum store_status (*broadcasts_due)(struct store *, int64_t now_ms, int limit,
					    struct broadcast_row **out, size_t *n);
	/* The messages of CAMPAIGN_ID (a broadcast's) by state and skip reason, and the
	 * complaints that came back about them. */
	enum store_status (*broadcast_counts)(struct store *, const char *campaign_id,
					      struct broadcast_counts *out);
};

extern const struct store_broadcast_ops store_sqlite_broadcast_ops;
extern const struct store_broadcast_ops store_pg_broadcast_ops;

static inline enum store_status
store_segment_add(struct store *s, const struct segment_row *r)
{
	return s->ops->bc->segment_add(s, r);
}
static inline enum store_status
store_segment_get(struct store *s, const char *id, struct segment_row *out)
{
	return s->ops->bc->segment_get(s, id, out);
}
static inline enum store_status
store_segments_list(struct store *s, struct segment_row **out, size_t *n)
{
	return s->ops->bc->segments_list(s, out, n);
}
static inline enum store_status
store_segment_delete(struct store *s, const char *id)
{
	return s->ops->bc->segment_delete(s, id);
}
static inline enum store_status
store_broadcast_add(struct store *s, const struct broadcast_row *r)
{
	return s->ops->bc->broadcast_add(s, r);
}
static inline enum store_status
store_broadcast_get(struct store *s, const char *id, struct broadcast_row *out)
{
	return s->ops->bc->broadcast_get(s, id, out);
}
static inline enum store_status
store_broadcasts_list(struct store *s, int limit, struct broadcast_row **out, size_t *n)
{
	return s->ops->bc->broadcasts_list(s, limit, out, n);
}
static inline enum store_status
store_broadcast_update(struct store *s, const struct broadcast_row *r)
{
	return s->ops->bc->broadcast_update(s, r);
}
static inline enum store_status
store_broadcast_delete(struct store *s, const char *id)
{
	return s->ops->bc->broadcast_delete(s, id);
}
static inline enum store_status
store_broadcasts_due(struct store *s, int64_t now_ms, int limit, struct broadcast_row **out,
		     size_t *n)
{
	return s->ops->bc->broadcasts_due(s, now_ms, limit, out, n);
}
static inline enum store_status
store_broadcast_counts(struct store *s, const char *campaign_id, struct broadcast_counts *out)
{
	return s->ops->bc->broadcast_counts(s, campaign_id, out);
}

#endif
