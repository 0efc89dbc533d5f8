/*
 * Rate limits by key (an API token, a client address, an email address): a token bucket per
 * key, of LIMIT requests per WINDOW, refilled continuously. Network loop only: no locking.
 */
#ifndef NURTURED_RATELIMIT_H
#define NURTURED_RATELIMIT_H

#include <stdint.h>

struct ratelimit;

struct ratelimit *ratelimit_new(void);
void ratelimit_free(struct ratelimit *rl);
/*
 * Takes one request for KEY at NOW_US (monotonic): 1 when allowed, 0 when over LIMIT per
 * WINDOW_MS, with *RETRY_S (may be NULL) the seconds until one is allowed again.
 */
int ratelimit_take(struct ratelimit *rl, const char *key, int64_t limit, int64_t window_ms,
		   int64_t now_us, int *retry_s);

/*
 * Whether a take for KEY would be allowed now, without taking (a login is refused before its
 * token is looked at once its failures used the bucket up); *RETRY_S as ratelimit_take's.
 */
int ratelimit_check(struct ratelimit *rl, const char *key, int64_t limit, int64_t window_ms,
		    int64_t now_us, int *retry_s);

#endif
