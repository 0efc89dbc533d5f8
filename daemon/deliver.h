/* The dispatcher: outbox -> channels' plugins -> outcomes back in the outbox (deliver.c). */
#ifndef NURTURED_DELIVER_H
#define NURTURED_DELIVER_H

#include "config.h"
#include "store.h"

struct deliver;
struct event_base;
struct nt_plugin;
struct storeloop;

/*
 * Opens every channel of CFG (loading its plugin). NULL with *ERR (malloc'd) naming the
 * channel. Nothing moves until deliver_begin.
 */
struct campaign_set;
/* The campaigns' "reply_to" bases (issue 16), from SET; at the start and at each reload. */
void deliver_set_campaigns(struct deliver *d, const struct campaign_set *set);
struct deliver *deliver_start(const struct config *cfg, struct event_base *base, const char *secret,
			      char **err);
/*
 * A reload: opens an instance for every channel of CFG that is new or changed, then retires
 * the instances they replace (and those of removed channels): those stop taking messages,
 * hand what they claimed but did not take to their successor, report every message they
 * hold, and are released after the last. -1 with *ERR (malloc'd) when a new instance cannot
 * start: then nothing changed.
 */
int deliver_reload(struct deliver *d, const struct config *cfg, char **err);
/* Starts delivering once the messages a crash left "sending" are queued again. */
void deliver_begin(struct deliver *d, struct storeloop *loop);
/* Any thread: new messages may be due (the store thread calls it after the engine queued). */
void deliver_wake(void *d);
/* What CHANNEL wants rendered: NT_PAYLOAD_MIME or NT_PAYLOAD_JSON; 0 for no such channel. */
int deliver_channel_payload(struct deliver *d, const char *channel);
/* Messages of CHANNEL a plugin holds now (accepted, outcome not back); 0 for no such one. */
int deliver_channel_inflight(struct deliver *d, const char *channel);
/* Graceful stop: no more claims; plugins finish what they hold. */
void deliver_stop(struct deliver *d);
/* True when nothing is in flight and every outcome is written. */
int deliver_idle(struct deliver *d);
/* After the store loop stopped. */
void deliver_free(struct deliver *d);

#endif
