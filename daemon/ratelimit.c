#include "ratelimit.h"

#include <glib.h>
#include <stdlib.h>

#include "util.h"

/* Keys whose bucket is full again are dropped once the table holds this many. */
#define RATELIMIT_SWEEP_AT 4096

struct bucket {
	double tokens;
	int64_t at_us;
	double per_us; /* its refill rate, for the sweep */
	double limit;
};

struct ratelimit {
	GHashTable *keys; /* key -> struct bucket */
};

struct ratelimit *
ratelimit_new(void)
{
	struct ratelimit *rl = xcalloc(1, sizeof(*rl));
	rl->keys = g_hash_table_new_full(g_str_hash, g_str_equal, free, free);
	return rl;
}

void
ratelimit_free(struct ratelimit *rl)
{
	if (rl == NULL)
		return;
	g_hash_table_destroy(rl->keys);
	free(rl);
}

static gboolean
ratelimit_full(gpointer key, gpointer value, gpointer now)
{
	struct bucket *b = value;
	(void)key;
	return b->tokens + (double)(*(int64_t *)now - b->at_us) * b->per_us >= b->limit;
}

/* KEY's bucket, created full, its level refilled up to NOW. */
static struct bucket *
ratelimit_level(struct ratelimit *rl, const char *key, int64_t limit, double per_us, int64_t now_us)
{
	struct bucket *b = g_hash_table_lookup(rl->keys, key);

	if (b == NULL) {
		if (g_hash_table_size(rl->keys) >= RATELIMIT_SWEEP_AT)
			g_hash_table_foreach_remove(rl->keys, ratelimit_full, &now_us);
		b = xcalloc(1, sizeof(*b));
		b->tokens = (double)limit;
		b->at_us = now_us;
		g_hash_table_insert(rl->keys, xstrdup(key), b);
	}
	b->tokens += (double)(now_us - b->at_us) * per_us;
	if (b->tokens > (double)limit)
		b->tokens = (double)limit;
	b->at_us = now_us;
	b->per_us = per_us;
	b->limit = (double)limit;
	return b;
}

int
ratelimit_check(struct ratelimit *rl, const char *key, int64_t limit, int64_t window_ms,
		int64_t now_us, int *retry_s)
{
	double per_us = (double)limit / ((double)window_ms * 1000.0);

	if (limit <= 0)
		return 1;
	struct bucket *b = ratelimit_level(rl, key, limit, per_us, now_us);
	if (b->tokens >= 1.0)
		return 1;
	if (retry_s != NULL)
		*retry_s = (int)((1.0 - b->tokens) / per_us / 1e6) + 1;
	return 0;
}

int
ratelimit_take(struct ratelimit *rl, const char *key, int64_t limit, int64_t window_ms,
	       int64_t now_us, int *retry_s)
{
	if (!ratelimit_check(rl, key, limit, window_ms, now_us, retry_s))
		return 0;
	if (limit > 0)
		((struct bucket *)g_hash_table_lookup(rl->keys, key))->tokens -= 1.0;
	return 1;
}
