/*
 * All engine time comes from a clock: the real one in the daemon, a virtual one in tests and in
 * `nurtured simulate`, which moves only when told to.
 */
#ifndef NURTURED_CLOCK_H
#define NURTURED_CLOCK_H

#include <stdint.h>

struct clock {
	int virtual_time;
	int64_t now_ms; /* the virtual time */
};

/* Milliseconds since the epoch, real or virtual. */
int64_t clock_now(const struct clock *c);
void clock_real_init(struct clock *c);
void clock_virtual_init(struct clock *c, int64_t start_ms);
/* Moves virtual time forward (never back). */
void clock_virtual_advance_to(struct clock *c, int64_t ms);

#endif
