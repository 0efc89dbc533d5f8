/*
 * The SQLite schema: its forward-only migrations, one a version, each run once in the
 * transaction that also moves PRAGMA user_version. The schema version is their number.
 */
#include <sqlite3.h>
#include <stdio.h>

#include "log.h"
#include "store_sqlite.h"
#include "util.h"

/* Forward-only migrations; index i takes the schema from version i to i + 1. */
static const char *const store_sqlite_migrations[] = {
    /* 0 -> 1: customers, consent, events, suppressions. */
    "CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT) WITHOUT ROWID;"
    "CREATE TABLE customers ("
    " id INTEGER PRIMARY KEY, ext_id TEXT NOT NULL UNIQUE,"
    " email TEXT, name TEXT, locale TEXT, timezone TEXT, birthday TEXT,"
    " attributes TEXT NOT NULL DEFAULT '{}', email_hash TEXT,"
    " created_ms INTEGER NOT NULL, updated_ms INTEGER NOT NULL, erased_ms INTEGER);"
    "CREATE TABLE consent ("
    " customer_id INTEGER NOT NULL, topic TEXT NOT NULL, state TEXT NOT NULL,"
    " updated_ms INTEGER NOT NULL, source TEXT, PRIMARY KEY (customer_id, topic)) WITHOUT ROWID;"
    /*
     * Keyed by (customer, idempotency key): the key lookup is the table itself. `seq` is the
     * commit order the engine's cursor follows; its index only ever grows at the end.
     */
    "CREATE TABLE events ("
    " customer_id INTEGER NOT NULL, event_key TEXT NOT NULL, seq INTEGER NOT NULL,"
    " type TEXT NOT NULL, time_ms INTEGER NOT NULL, received_ms INTEGER NOT NULL,"
    " properties TEXT NOT NULL, content_hash TEXT,"
    " PRIMARY KEY (customer_id, event_key)) WITHOUT ROWID;"
    "CREATE UNIQUE INDEX events_seq ON events (seq);"
    "CREATE TABLE suppressions ("
    " addr_hash TEXT PRIMARY KEY, address TEXT, reason TEXT NOT NULL,"
    " created_ms INTEGER NOT NULL) WITHOUT ROWID;",
    /* 1 -> 2: the engine: campaign versions, journeys, their notes, the outbox, the cursor. */
    "CREATE TABLE campaign_versions ("
    " campaign_id TEXT NOT NULL, version TEXT NOT NULL, definition TEXT NOT NULL,"
    " loaded_ms INTEGER NOT NULL, PRIMARY KEY (campaign_id, version)) WITHOUT ROWID;"
    "CREATE TABLE journeys ("
    " id INTEGER PRIMARY KEY, campaign_id TEXT NOT NULL, version TEXT NOT NULL,"
    " customer_id INTEGER NOT NULL, jkey TEXT NOT NULL DEFAULT '', active INTEGER NOT NULL,"
    " step INTEGER NOT NULL, visit INTEGER NOT NULL DEFAULT 0, due_ms INTEGER,"
    " wait_event TEXT, on_event INTEGER NOT NULL DEFAULT -1, trigger TEXT NOT NULL, event TEXT,"
    " entered_ms INTEGER NOT NULL, exited_ms INTEGER, exit_reason TEXT);"
    "CREATE UNIQUE INDEX journeys_one_active ON journeys (campaign_id, customer_id, jkey)"
    " WHERE active = 1;"
    "CREATE INDEX journeys_due ON journeys (due_ms) WHERE active = 1 AND due_ms IS NOT NULL;"
    "CREATE INDEX journeys_customer ON journeys (customer_id, active);"
    "CREATE INDEX journeys_history ON journeys (campaign_id, customer_id, jkey, entered_ms);"
    "CREATE TABLE journey_notes ("
    " id INTEGER PRIMARY KEY, journey_id INTEGER NOT NULL, customer_id INTEGER NOT NULL,"
    " campaign_id TEXT NOT NULL, step_id TEXT, action TEXT NOT NULL, reason TEXT,"
    " channel TEXT, template TEXT, at_ms INTEGER NOT NULL);"
    "CREATE INDEX journey_notes_customer ON journey_notes (customer_id, at_ms);"
    "CREATE TABLE outbox ("
    " id INTEGER PRIMARY KEY, journey_id INTEGER NOT NULL, step_id TEXT NOT NULL,"
    " visit INTEGER NOT NULL, customer_id INTEGER NOT NULL, campaign_id TEXT NOT NULL,"
    " channel TEXT NOT NULL, template TEXT NOT NULL, state TEXT NOT NULL,"
    " message_id TEXT NOT NULL UNIQUE, attempts INTEGER NOT NULL DEFAULT 0, last_reply TEXT,"
    " created_ms INTEGER NOT NULL, due_ms INTEGER NOT NULL, marketing INTEGER NOT NULL,"
    " UNIQUE (journey_id, step_id, visit));"
    "CREATE INDEX outbox_due ON outbox (due_ms) WHERE state IN ('queued', 'deferred');"
    "CREATE INDEX outbox_customer ON outbox (customer_id, created_ms);"
    /* Trigger timers (inactivity): one per campaign and customer, pushed out by activity. */
    "CREATE TABLE timers ("
    " campaign_id TEXT NOT NULL, customer_id INTEGER NOT NULL, due_ms INTEGER NOT NULL,"
    " PRIMARY KEY (campaign_id, customer_id)) WITHOUT ROWID;"
    "CREATE INDEX timers_due ON timers (due_ms);"
    /* Scheduled campaigns: the next run, and the run being fanned out with its cursor. */
    "CREATE TABLE schedules ("
    " campaign_id TEXT PRIMARY KEY, version TEXT NOT NULL, due_ms INTEGER NOT NULL,"
    " run_ms INTEGER, cursor INTEGER NOT NULL DEFAULT 0) WITHOUT ROWID;"
    /* Lifecycle stages, computed by the engine from purchase history. */
    "ALTER TABLE customers ADD COLUMN stage TEXT NOT NULL DEFAULT 'prospect';"
    "ALTER TABLE customers ADD COLUMN stage_since_ms INTEGER;"
    "INSERT INTO meta (key, value) VALUES ('engine_cursor', '0');",
    /*
     * 2 -> 3: messages and consent. The outbox holds each message rendered, with its
     * envelope, so delivery never renders again; consent records the double opt-in.
     */
    "ALTER TABLE outbox ADD COLUMN sender TEXT;"
    "ALTER TABLE outbox ADD COLUMN recipient TEXT;"
    "ALTER TABLE outbox ADD COLUMN payload BLOB;"
    "ALTER TABLE outbox ADD COLUMN reason TEXT;"
    "ALTER TABLE outbox ADD COLUMN updated_ms INTEGER;"
    "ALTER TABLE outbox ADD COLUMN final_ms INTEGER;"
    "CREATE INDEX outbox_state ON outbox (state, id);"
    "CREATE INDEX outbox_channel_due ON outbox (channel, due_ms)"
    " WHERE state IN ('queued', 'deferred');"
    "CREATE INDEX outbox_campaign ON outbox (campaign_id, created_ms);"
    "ALTER TABLE consent ADD COLUMN requested_ms INTEGER;"
    "ALTER TABLE consent ADD COLUMN confirmed_ms INTEGER;"
    "ALTER TABLE consent ADD COLUMN confirmed_addr TEXT;",
    /*
     * 3 -> 4: payloads in a table of their own, written once and read at each claim: a
     * message's state changes then rewrite a small row, not its kilobyte of MIME (with 1 KiB
     * pages, every update journaled the payload's overflow pages too).
     */
    "CREATE TABLE outbox_payload (id INTEGER PRIMARY KEY, payload BLOB NOT NULL);"
    "INSERT INTO outbox_payload (id, payload) SELECT id, payload FROM outbox"
    " WHERE payload IS NOT NULL;"
    "UPDATE outbox SET payload = NULL WHERE payload IS NOT NULL;",
    /* 4 -> 5: a campaign's statistics read its notes (skips, goals) without a full scan. */
    "CREATE INDEX IF NOT EXISTS journey_notes_campaign"
    " ON journey_notes (campaign_id, action, at_ms);",
    /* 5 -> 6: campaigns paused over the API (nurturectl pause), kept across restarts. */
    "CREATE TABLE IF NOT EXISTS campaign_pauses (campaign_id TEXT PRIMARY KEY,"
    " paused_ms INTEGER NOT NULL) WITHOUT ROWID;",
    /*
     * 6 -> 7: the journeys a paused campaign holds (active, neither timed nor awaiting an
     * event), so that releasing them at each start and reload does not scan every journey
     * of the campaign (0.3 s with a million). outbox_due goes: every query on due messages
     * names the channel (outbox_channel_due), and each message paid for it twice.
     */
    "CREATE INDEX IF NOT EXISTS journeys_held ON journeys (campaign_id)"
    " WHERE active = 1 AND due_ms IS NULL AND wait_event IS NULL;"
    "DROP INDEX IF EXISTS outbox_due;",
    /*
     * issue 16: what came back after the send (bounces, complaints, auto-replies, replies),
     * one row per inbound message; `dedupe` (Message-ID and content hash) makes the same
     * message twice a duplicate. addr_hash counts soft bounces per address; raw is kept for
     * what matched no message, for the operator.
     */
    "CREATE TABLE IF NOT EXISTS inbound ("
    " id INTEGER PRIMARY KEY, dedupe TEXT NOT NULL UNIQUE, message_id TEXT,"
    " kind TEXT NOT NULL, source TEXT NOT NULL, outbox_id INTEGER, customer_id INTEGER,"
    " address TEXT, addr_hash TEXT, hard INTEGER NOT NULL DEFAULT 0, status TEXT,"
    " feedback_type TEXT, effect TEXT NOT NULL, matched INTEGER NOT NULL, detail TEXT,"
    " raw BLOB, received_ms INTEGER NOT NULL);"
    "CREATE INDEX IF NOT EXISTS inbound_soft ON inbound (addr_hash, received_ms)"
    " WHERE kind = 'bounce' AND hard = 0;"
    "CREATE INDEX IF NOT EXISTS inbound_kind ON inbound (kind, id);"
    "CREATE INDEX IF NOT EXISTS inbound_outbox ON inbound (outbox_id) WHERE outbox_id IS NOT NULL;",
    /*
     * 8 -> 9 (issue 15): an event's cost follows what it can touch, not the customer's
     * history. The journeys waiting for its type; sends of one campaign and customer for a
     * goal, and a journey's goal note; a customer's events of one type (stages, counts); the
     * messages that count against the frequency cap.
     */
    "CREATE INDEX IF NOT EXISTS journeys_waiting ON journeys (customer_id, wait_event)"
    " WHERE active = 1 AND wait_event IS NOT NULL;"
    "CREATE INDEX IF NOT EXISTS journey_notes_sends ON journey_notes"
    " (customer_id, campaign_id, at_ms) WHERE action = 'send';"
    "CREATE INDEX IF NOT EXISTS journey_notes_goals ON journey_notes (journey_id)"
    " WHERE action = 'goal';"
    "CREATE INDEX IF NOT EXISTS events_type ON events (customer_id, type, time_ms);"
    "CREATE INDEX IF NOT EXISTS outbox_marketing ON outbox (customer_id, created_ms)"
    " WHERE marketing = 1 AND state <> 'skipped';"
    /*
     * A customer's purchases as the engine has consumed them (stages, anniversaries), filled
     * from the events before the cursor; the engine adds each one it consumes after it.
     */
    "CREATE TABLE IF NOT EXISTS purchases (customer_id INTEGER PRIMARY KEY,"
    " count INTEGER NOT NULL, first_ms INTEGER NOT NULL, last_ms INTEGER NOT NULL);"
    "INSERT OR REPLACE INTO purchases (customer_id, count, first_ms, last_ms)"
    " SELECT customer_id, count(*), min(time_ms), max(time_ms) FROM events"
    " WHERE type = 'purchase' AND seq <= (SELECT CAST(value AS INTEGER) FROM meta"
    " WHERE key = 'engine_cursor') GROUP BY customer_id;",
    /*
     * 9 -> 10 (issue 20): erasure finds a customer's timers; the customer listing's filters
     * (email, stage, consent topic, created and updated since) use indexes; retention finds
     * final messages and finished journeys by age, and keeps the counts of what it deletes
     * (stats_archive: per campaign, kind "outbox", "sent_journey", "note" or "journey", step,
     * state, action or exit reason, reason and UTC day), which the statistics add back.
     */
    "CREATE INDEX IF NOT EXISTS timers_customer ON timers (customer_id);"
    "CREATE INDEX IF NOT EXISTS customers_email ON customers (email);"
    "CREATE INDEX IF NOT EXISTS customers_stage ON customers (stage, id);"
    "CREATE INDEX IF NOT EXISTS customers_created ON customers (created_ms, id);"
    "CREATE INDEX IF NOT EXISTS customers_updated ON customers (updated_ms, id);"
    "CREATE INDEX IF NOT EXISTS consent_topic ON consent (topic, state, customer_id);"
    "CREATE INDEX IF NOT EXISTS outbox_final ON outbox (final_ms, id)"
    " WHERE final_ms IS NOT NULL;"
    "CREATE INDEX IF NOT EXISTS journeys_exited ON journeys (exited_ms, id) WHERE active = 0;"
    "CREATE TABLE IF NOT EXISTS stats_archive (campaign_id TEXT NOT NULL, kind TEXT NOT NULL,"
    " step_id TEXT NOT NULL, state TEXT NOT NULL, reason TEXT NOT NULL, day INTEGER NOT NULL,"
    " n INTEGER NOT NULL,"
    " PRIMARY KEY (campaign_id, kind, step_id, state, reason, day)) WITHOUT ROWID;",
    /*
     * 10 -> 11 (issue 20, transactional sends): POST /v1/messages's idempotency keys, scoped
     * per API token ("scope:id"), with a hash of what was asked (the same key for other
     * content is a conflict) and the message it queued; a key goes with its message
     * (retention, erasure).
     */
    "CREATE TABLE IF NOT EXISTS transactional_keys (key TEXT PRIMARY KEY,"
    " content_hash TEXT NOT NULL, customer_id INTEGER NOT NULL, outbox_id INTEGER,"
    " message_id TEXT, state TEXT NOT NULL, reason TEXT, created_ms INTEGER NOT NULL)"
    " WITHOUT ROWID;"
    "CREATE INDEX IF NOT EXISTS transactional_keys_customer"
    " ON transactional_keys (customer_id);"
    "CREATE INDEX IF NOT EXISTS transactional_keys_outbox ON transactional_keys (outbox_id);",
    /* 11 -> 12 (issue 22): the dashboard finds customers by the start of their email or name. */
    "CREATE INDEX IF NOT EXISTS customers_email_nocase ON customers (email COLLATE NOCASE);"
    "CREATE INDEX IF NOT EXISTS customers_name_nocase ON customers (name COLLATE NOCASE);",
    /*
     * 12 -> 13 (issue 19, measure success): the targets of a message's tracked links with their
     * clicks, and counters kept in the transactions that change them, so that statistics
     * read a few rows instead of scanning (metric: "clicks", "clicked", ...; variant "" for
     * none, step "" for the campaign as a whole).
     */
    "CREATE TABLE IF NOT EXISTS links (outbox_id INTEGER NOT NULL, idx INTEGER NOT NULL,"
    " url TEXT NOT NULL, name TEXT NOT NULL, clicks INTEGER NOT NULL DEFAULT 0,"
    " first_ms INTEGER, last_ms INTEGER, PRIMARY KEY (outbox_id, idx)) WITHOUT ROWID;"
    "CREATE INDEX IF NOT EXISTS links_clicked ON links (outbox_id) WHERE first_ms IS NOT NULL;"
    /* A goal reached, credited to one message (the last clicked, else the last sent). */
    "CREATE TABLE IF NOT EXISTS conversions (id INTEGER PRIMARY KEY,"
    " campaign_id TEXT NOT NULL, journey_id INTEGER NOT NULL, customer_id INTEGER NOT NULL,"
    " event_seq INTEGER NOT NULL, outbox_id INTEGER, step_id TEXT, variant TEXT NOT NULL,"
    " via TEXT NOT NULL, revenue REAL NOT NULL, at_ms INTEGER NOT NULL);"
    "CREATE INDEX IF NOT EXISTS conversions_event ON conversions (event_seq);"
    "CREATE INDEX IF NOT EXISTS conversions_outbox ON conversions (outbox_id);"
    /* A journey's experiment arm, decided at entry and never moved (experiment.h). */
    "CREATE TABLE IF NOT EXISTS assignments (journey_id INTEGER PRIMARY KEY,"
    " campaign_id TEXT NOT NULL, exp_version TEXT NOT NULL, customer_id INTEGER NOT NULL,"
    " arm TEXT NOT NULL, variants TEXT NOT NULL, assigned_ms INTEGER NOT NULL,"
    " converted_ms INTEGER);"
    "CREATE INDEX IF NOT EXISTS assignments_customer ON assignments"
    " (customer_id, campaign_id, assigned_ms) WHERE converted_ms IS NULL;"
    "CREATE TABLE IF NOT EXISTS measure_counts (campaign_id TEXT NOT NULL,"
    " step_id TEXT NOT NULL, variant TEXT NOT NULL, metric TEXT NOT NULL,"
    " n REAL NOT NULL DEFAULT 0, PRIMARY KEY (campaign_id, step_id, variant, metric))"
    " WITHOUT ROWID;",
    /*
     * 13 -> 14 (issue 17): saved audiences (segments) and broadcasts, one-off mailings with their
     * state, their content frozen as sending started, and the cursor of their fan-out (the last
     * customer id handled, moved in the transaction that queues the chunk's messages).
     */
    "CREATE TABLE IF NOT EXISTS segments (id TEXT PRIMARY KEY, name TEXT NOT NULL,"
    " condition TEXT NOT NULL, created_ms INTEGER NOT NULL) WITHOUT ROWID;"
    "CREATE TABLE IF NOT EXISTS broadcasts (id TEXT PRIMARY KEY, state TEXT NOT NULL,"
    " spec TEXT NOT NULL, frozen TEXT, due_ms INTEGER, cursor INTEGER NOT NULL DEFAULT 0,"
    " matched INTEGER NOT NULL DEFAULT 0, not_subscribed INTEGER NOT NULL DEFAULT 0,"
    " created_ms INTEGER NOT NULL, updated_ms INTEGER NOT NULL, started_ms INTEGER,"
    " finished_ms INTEGER) WITHOUT ROWID;"
    "CREATE INDEX IF NOT EXISTS broadcasts_due ON broadcasts (due_ms)"
    " WHERE state IN ('scheduled', 'sending');",
    /*
     * 14 -> 15 (issue 22): the dashboard's overview reads counters, not the tables. Messages
     * per UTC day of their creation, channel and state, and suppressions per day added, with
     * their total, kept by triggers in the transaction of every change (insert, each state
     * change, prune, erasure: no code path can miss one), backfilled here once. Dashboard
     * sessions live in the store, so that a logout revokes a copied cookie.
     */
    "CREATE TABLE IF NOT EXISTS outbox_days (day INTEGER NOT NULL, channel TEXT NOT NULL,"
    " state TEXT NOT NULL, n INTEGER NOT NULL, PRIMARY KEY (day, channel, state)) WITHOUT ROWID;"
    "DELETE FROM outbox_days;"
    "INSERT INTO outbox_days (day, channel, state, n) SELECT created_ms / 86400000, channel,"
    " state, count(*) FROM outbox GROUP BY 1, 2, 3;"
    "DROP TRIGGER IF EXISTS outbox_days_insert;"
    "CREATE TRIGGER outbox_days_insert AFTER INSERT ON outbox BEGIN"
    " INSERT INTO outbox_days (day, channel, state, n)"
    " VALUES (NEW.created_ms / 86400000, NEW.channel, NEW.state, 1)"
    " ON CONFLICT (day, channel, state) DO UPDATE SET n = n + 1; END;"
    "DROP TRIGGER IF EXISTS outbox_days_update;"
    "CREATE TRIGGER outbox_days_update AFTER UPDATE OF state, channel, created_ms ON outbox"
    " WHEN OLD.state IS NOT NEW.state OR OLD.channel IS NOT NEW.channel"
    " OR OLD.created_ms IS NOT NEW.created_ms BEGIN"
    " UPDATE outbox_days SET n = n - 1 WHERE day = OLD.created_ms / 86400000"
    " AND channel = OLD.channel AND state = OLD.state;"
    " INSERT INTO outbox_days (day, channel, state, n)"
    " VALUES (NEW.created_ms / 86400000, NEW.channel, NEW.state, 1)"
    " ON CONFLICT (day, channel, state) DO UPDATE SET n = n + 1; END;"
    "DROP TRIGGER IF EXISTS outbox_days_delete;"
    "CREATE TRIGGER outbox_days_delete AFTER DELETE ON outbox BEGIN"
    " UPDATE outbox_days SET n = n - 1 WHERE day = OLD.created_ms / 86400000"
    " AND channel = OLD.channel AND state = OLD.state; END;"
    "CREATE TABLE IF NOT EXISTS suppression_days (day INTEGER PRIMARY KEY, n INTEGER NOT NULL);"
    "DELETE FROM suppression_days;"
    "INSERT INTO suppression_days (day, n) SELECT -1, count(*) FROM suppressions;"
    "INSERT INTO suppression_days (day, n) SELECT created_ms / 86400000, count(*)"
    " FROM suppressions GROUP BY 1;"
    "DROP TRIGGER IF EXISTS suppression_days_insert;"
    "CREATE TRIGGER suppression_days_insert AFTER INSERT ON suppressions BEGIN"
    " UPDATE suppression_days SET n = n + 1 WHERE day = -1;"
    " INSERT INTO suppression_days (day, n) VALUES (NEW.created_ms / 86400000, 1)"
    " ON CONFLICT (day) DO UPDATE SET n = n + 1; END;"
    "DROP TRIGGER IF EXISTS suppression_days_update;"
    "CREATE TRIGGER suppression_days_update AFTER UPDATE OF created_ms ON suppressions"
    " WHEN OLD.created_ms IS NOT NEW.created_ms BEGIN"
    " UPDATE suppression_days SET n = n - 1 WHERE day = OLD.created_ms / 86400000;"
    " INSERT INTO suppression_days (day, n) VALUES (NEW.created_ms / 86400000, 1)"
    " ON CONFLICT (day) DO UPDATE SET n = n + 1; END;"
    "DROP TRIGGER IF EXISTS suppression_days_delete;"
    "CREATE TRIGGER suppression_days_delete AFTER DELETE ON suppressions BEGIN"
    " UPDATE suppression_days SET n = n - 1 WHERE day = -1;"
    " UPDATE suppression_days SET n = n - 1 WHERE day = OLD.created_ms / 86400000; END;"
    "CREATE TABLE IF NOT EXISTS ui_sessions (id TEXT PRIMARY KEY, fp TEXT NOT NULL,"
    " created_ms INTEGER NOT NULL, expires_ms INTEGER NOT NULL) WITHOUT ROWID;"
    "CREATE INDEX IF NOT EXISTS ui_sessions_expiry ON ui_sessions (expires_ms);",
};

/* The version this build writes: a reader refuses any other, the writer migrates up to it. */
int
store_sqlite_schema_latest(void)
{
	return (int)NT_ARRAY_LEN(store_sqlite_migrations);
}

/*
 * Runs the migrations the database has not had, in one transaction; refuses a database newer
 * than this build. 0, or -1 with ERR.
 */
int
store_sqlite_migrate(struct store_sqlite *s, char *err, size_t errlen)
{
	sqlite3_stmt *st;
	int version = 0;
	const int latest = store_sqlite_schema_latest();

	if (sqlite3_prepare_v2(s->db, "PRAGMA user_version", -1, &st, NULL) == SQLITE_OK &&
	    sqlite3_step(st) == SQLITE_ROW)
		version = sqlite3_column_int(st, 0);
	sqlite3_finalize(st);
	if (version > latest) {
		snprintf(err, errlen,
			 "database schema version %d is newer than this nurtured supports (%d): "
			 "run a newer nurtured or restore a backup",
			 version, latest);
		return -1;
	}
	if (version == latest)
		return 0;
	if (sqlite3_exec(s->db, "BEGIN IMMEDIATE", NULL, NULL, NULL) != SQLITE_OK)
		goto fail;
	for (int v = version; v < latest; v++) {
		char pragma[64];
		log_info("store: migrating schema %d -> %d", v, v + 1);
		if (sqlite3_exec(s->db, store_sqlite_migrations[v], NULL, NULL, NULL) != SQLITE_OK)
			goto fail;
		snprintf(pragma, sizeof(pragma), "PRAGMA user_version = %d", v + 1);
		if (sqlite3_exec(s->db, pragma, NULL, NULL, NULL) != SQLITE_OK)
			goto fail;
	}
	if (sqlite3_exec(s->db, "COMMIT", NULL, NULL, NULL) != SQLITE_OK)
		goto fail;
	return 0;
fail:
	snprintf(err, errlen, "schema migration failed: %s", sqlite3_errmsg(s->db));
	sqlite3_exec(s->db, "ROLLBACK", NULL, NULL, NULL);
	return -1;
}
