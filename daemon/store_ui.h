/*
 * Issue 22: the store's queries for the dashboard, as C structs (the pages build their views
 * from them). Each reads through indexes or a bounded range: nothing scans a table that grows
 * with the customers.
 */
#ifndef NURTURED_STORE_UI_H
#define NURTURED_STORE_UI_H

#include <stddef.h>
#include <stdint.h>

#include "store.h"

#define UI_DAYS 30

/* A count under a name or two (channel and state, kind of inbound, ...). */
struct ui_count {
	char *a, *b;
	long n;
	int64_t oldest_ms; /* queues: the oldest waiting message's creation, else 0 */
};
void ui_counts_free(struct ui_count *v, size_t n);

/* A message that went wrong lately. */
struct ui_error_row {
	int64_t id;
	char *customer, *channel, *state, *reply;
	int64_t updated_ms;
};

struct ui_overview {
	int64_t day0_ms;	   /* the first of the UI_DAYS UTC days, the last being today */
	long events[UI_DAYS];	   /* per day, from the event sequence's range */
	long messages[UI_DAYS];	   /* per day, from the outbox id's range */
	struct ui_count *by_state; /* messages of the 30 days by channel (a) and state (b) */
	size_t n_by_state;
	struct ui_count *queues; /* waiting messages per channel, with the oldest */
	size_t n_queues;
	struct ui_error_row *errors; /* the latest failed, deferred or bounced, newest first */
	size_t n_errors;
	struct ui_count *inbound; /* inbound messages per kind (bounce, complaint, ...) */
	size_t n_inbound;
	long suppressions;	 /* addresses on the list (a counter) */
	long suppressions_added; /* ... of them added in the UI_DAYS days (daily counters) */
	/* Issue 19's counters over every campaign: messages sent, clicks, messages clicked. */
	long recipients, clicks, clicked;
};
void ui_overview_clear(struct ui_overview *o);

/* How a customer matched a search: its id, its email or its name starts with the text. */
enum ui_match { UI_MATCH_ID, UI_MATCH_EMAIL, UI_MATCH_NAME, UI_MATCH_N };

/* A customer found by a search. */
struct ui_customer_row {
	char *id, *email, *name, *stage;
	enum ui_match by;
};
void ui_customer_rows_free(struct ui_customer_row *v, size_t n);

/* A version of a campaign's file the store keeps. */
struct ui_version {
	char *version;
	int64_t loaded_ms;
};
void ui_versions_free(struct ui_version *v, size_t n);

struct store_ui_ops {
	enum store_status (*overview)(struct store *, int64_t now_ms, struct ui_overview *out);
	/*
	 * Customers whose id starts with Q, then those whose email starts with Q, then those
	 * whose name does (ASCII letters in any case), each through its index, from the
	 * cursor AFTER (NULL: the start) on: at most LIMIT rows, reading at most a bounded
	 * number of index entries. *NEXT (malloc'd) is the cursor of the next page, NULL at
	 * the end. A customer an earlier kind already matched is not listed again.
	 */
	enum store_status (*customer_search)(struct store *, const char *q, const char *after,
					     int limit, struct ui_customer_row **out, size_t *n,
					     char **next);
	/* The rendered message ID as queued (STORE_NOTFOUND without one). */
	enum store_status (*message_payload)(struct store *, int64_t id, char **payload,
					     size_t *len);
	enum store_status (*campaign_versions)(struct store *, const char *campaign_id, int limit,
					       struct ui_version **out, size_t *n);
	/* The campaign's active journeys per step index: {"INDEX": N}. */
	enum store_status (*campaign_steps_now)(struct store *, const char *campaign_id,
						long **counts, size_t *n);
	/*
	 * Dashboard sessions (ui.c): ID is random, FP the fingerprint of the token that logged
	 * in. Add drops the expired ones too; get gives FP (17 bytes) of a live session, else
	 * STORE_NOTFOUND; end removes ID, or every session when ID is NULL.
	 */
	enum store_status (*session_add)(struct store *, const char *id, const char *fp,
					 int64_t now_ms, int64_t expires_ms);
	enum store_status (*session_get)(struct store *, const char *id, int64_t now_ms,
					 char fp[17]);
	enum store_status (*session_end)(struct store *, const char *id);
};

extern const struct store_ui_ops store_sqlite_ui_ops;
extern const struct store_ui_ops store_pg_ui_ops;

#endif
