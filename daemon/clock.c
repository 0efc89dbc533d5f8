#include "clock.h"

#include "util.h"

int64_t
clock_now(const struct clock *c)
{
	return c->virtual_time ? c->now_ms : util_now_ms();
}

void
clock_real_init(struct clock *c)
{
	c->virtual_time = 0;
	c->now_ms = 0;
}

void
clock_virtual_init(struct clock *c, int64_t start_ms)
{
	c->virtual_time = 1;
	c->now_ms = start_ms;
}

void
clock_virtual_advance_to(struct clock *c, int64_t ms)
{
	if (ms > c->now_ms)
		c->now_ms = ms;
}
