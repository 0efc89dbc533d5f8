/*
 * The checkpointer: copies committed WAL frames into the database file from a connection and
 * thread of its own. In WAL mode a PASSIVE checkpoint runs beside the writer without blocking
 * it, so the store loop's commits pay only for their WAL fsync, not for the database's.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "log.h"
#include "store_sqlite.h"
#include "util.h"

/* How often to look at the WAL; a checkpoint with nothing to copy costs a few µs. */
#define CHECKPOINT_INTERVAL_MS 100

static void *
store_sqlite_checkpointer(void *arg)
{
	struct store_sqlite *s = arg;
	struct timespec until;
	int log_frames, done_frames;
	/* A full disk fails every checkpoint, ten a second: one line a minute says so. */
	struct log_ratelimit rl = {.interval_ms = 60000};
	unsigned long held;

	pthread_mutex_lock(&s->checkpoint_lock);
	while (!s->checkpoint_stop) {
		clock_gettime(CLOCK_REALTIME, &until);
		until.tv_nsec += CHECKPOINT_INTERVAL_MS * 1000000L;
		until.tv_sec += until.tv_nsec / 1000000000L;
		until.tv_nsec %= 1000000000L;
		pthread_cond_timedwait(&s->checkpoint_cond, &s->checkpoint_lock, &until);
		if (s->checkpoint_stop)
			break;
		int truncate = s->checkpoint_truncate;
		pthread_mutex_unlock(&s->checkpoint_lock);
		int rc = sqlite3_wal_checkpoint_v2(s->checkpoint_db, NULL,
						   truncate ? SQLITE_CHECKPOINT_TRUNCATE
							    : SQLITE_CHECKPOINT_PASSIVE,
						   &log_frames, &done_frames);
		if (rc != SQLITE_OK && rc != SQLITE_BUSY && log_ratelimit_allow(&rl, &held))
			log_warnx("store: checkpoint: %s (%lu more failures held back)",
				  sqlite3_errmsg(s->checkpoint_db), held);
		pthread_mutex_lock(&s->checkpoint_lock);
		/* A truncation that readers kept from finishing is tried again at the next tick. */
		if (truncate && rc == SQLITE_OK)
			s->checkpoint_truncate = 0;
	}
	pthread_mutex_unlock(&s->checkpoint_lock);
	return NULL;
}

/*
 * Called by SQLite after each commit on the writer. The checkpointer can never quite catch a
 * WAL that keeps growing; past this size the writer finishes the job (mostly copied already),
 * so that the next transaction starts the WAL file over instead of extending it.
 */
#define CHECKPOINT_WAL_FRAMES 65536

static int
store_sqlite_wal_hook(void *arg, sqlite3 *db, const char *name, int frames)
{
	(void)arg;
	if (frames > CHECKPOINT_WAL_FRAMES &&
	    sqlite3_wal_checkpoint_v2(db, name, SQLITE_CHECKPOINT_PASSIVE, NULL, NULL) != SQLITE_OK)
		log_debug("store: writer checkpoint: %s", sqlite3_errmsg(db));
	return SQLITE_OK;
}

int
store_sqlite_checkpointer_start(struct store_sqlite *s, const struct store_options *opt, char *err,
				size_t errlen)
{
	char *path = xasprintf("%s/nurtured.db", opt->data_dir);
	/* Used by the checkpointer thread alone (opened and closed around it). */
	int rc = sqlite3_open_v2(path, &s->checkpoint_db,
				 SQLITE_OPEN_READWRITE | SQLITE_OPEN_NOMUTEX, NULL);

	free(path);
	if (rc != SQLITE_OK) {
		snprintf(err, errlen, "checkpointer: %s", sqlite3_errmsg(s->checkpoint_db));
		return -1;
	}
	sqlite3_busy_timeout(s->checkpoint_db, 1000);
	sqlite3_exec(s->checkpoint_db,
		     opt->durability_full ? "PRAGMA synchronous = FULL"
					  : "PRAGMA synchronous = NORMAL",
		     NULL, NULL, NULL);
	sqlite3_wal_hook(s->db, store_sqlite_wal_hook, s);
	pthread_mutex_init(&s->checkpoint_lock, NULL);
	pthread_cond_init(&s->checkpoint_cond, NULL);
	if (pthread_create(&s->checkpoint_thread, NULL, store_sqlite_checkpointer, s) != 0) {
		snprintf(err, errlen, "checkpointer: pthread_create: %s", strerror(errno));
		return -1;
	}
	s->checkpoint_running = 1;
	return 0;
}

void
store_sqlite_checkpointer_truncate(struct store_sqlite *s)
{
	if (!s->checkpoint_running)
		return;
	pthread_mutex_lock(&s->checkpoint_lock);
	s->checkpoint_truncate = 1;
	pthread_cond_signal(&s->checkpoint_cond);
	pthread_mutex_unlock(&s->checkpoint_lock);
}

void
store_sqlite_checkpointer_stop(struct store_sqlite *s)
{
	if (!s->checkpoint_running)
		return;
	pthread_mutex_lock(&s->checkpoint_lock);
	s->checkpoint_stop = 1;
	pthread_cond_signal(&s->checkpoint_cond);
	pthread_mutex_unlock(&s->checkpoint_lock);
	pthread_join(s->checkpoint_thread, NULL);
	pthread_mutex_destroy(&s->checkpoint_lock);
	pthread_cond_destroy(&s->checkpoint_cond);
	s->checkpoint_running = 0;
}
