/* Dropping root: the daemon started as root runs as the configured user (key 'user'). */
#ifndef NURTURED_PRIVDROP_H
#define NURTURED_PRIVDROP_H

#include <stddef.h>

#include "config.h"

/*
 * The account to run as, decided once at start: USER when set ("root" keeps root); as root
 * without USER, "nurtured" when that account exists, else none on a loopback listen (with a
 * warning) and an error otherwise. Returns 0 with *target NULL for "no drop", -1 with ERR.
 */
int privdrop_choose(const char *user, int loopback, const char **target, char *err, size_t len);

/* Makes DIR (created 0700 when missing) and everything under it owned by USER; -1 with ERR. */
int privdrop_chown_tree(const char *dir, const char *user, char *err, size_t len);

/*
 * Becomes USER for good: initgroups, setgid, setuid, then checks that root cannot be regained.
 * Returns 0, or -1 with ERR when a step fails; fatalx when root could be regained.
 */
int privdrop_to(const char *user, char *err, size_t len);

/*
 * At start, before the store opens: chooses the account (privdrop_choose), refuses a listen
 * port below 1024 when dropping, gives data_dir to the account, and drops. -1 with ERR.
 */
int privdrop_daemon(const struct config *c, char *err, size_t len);

/* The file that marks data_dir as nurtured's when the store is not in it (PostgreSQL). */
#define PRIVDROP_MARK "nurtured.store"
int privdrop_mark_dir(const char *dir);

#endif
