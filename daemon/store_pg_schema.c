/*
 * The PostgreSQL schema: forward-only migrations, one a version, each run once in the
 * transaction that records it in schema_version. Several daemons may start at once: the
 * migration runs under a transaction-level advisory lock, so one migrates and the others find
 * the work done.
 *
 * Version 1 is the SQLite schema at its version 14 (store_sqlite_schema.c), translated: ids are
 * identity columns, times bigint milliseconds, payloads bytea, JSON documents text (as stored
 * and returned; nothing queries inside them but the step id of a journey, through ::jsonb).
 * An index SQLite keeps with COLLATE NOCASE is an index on lower(column) here.
 */
#include <stdio.h>

#include "log.h"
#include "store_pg.h"
#include "util.h"

/* Issue 19's statistics counters (the migration 4 -> 5, as SQLite's 14 -> 15). */
#define PG_SC_INS                                                                                  \
	"INSERT INTO stats_counts (campaign_id, metric, step_id, state, reason, day, n) SELECT "
#define PG_SC_ADD                                                                                  \
	" ON CONFLICT (campaign_id, metric, step_id, state, reason, day) DO UPDATE"                \
	" SET n = stats_counts.n + excluded.n;"
#define PG_SC_FINAL "('sent', 'failed', 'expired', 'skipped')"
/* Skips recorded only as notes (store_sqlite.h's STATS_NOTE_SKIPS). */
#define PG_SC_SKIPS "('already_sent', 'stale', 'frequency_cap')"
/* The backfill runs once, should the migration run again (a version set back by hand). */
#define PG_SC_ONCE "NOT EXISTS (SELECT 1 FROM meta WHERE key = 'stats_counts')"

/*
 * The outbox's counters (migration 4 -> 5, redefined by 6 -> 7). "sent_journeys" asks whether
 * the journey has another sent message through the ledger's index: (k.state || '') keeps the
 * planner off outbox_state, whose generic plan read every sent row's entry (0.12 ms an update at
 * 2,400 sent, growing with the outbox), as SQLite's "+k.state" does.
 */
#define PG_STATS_OUTBOX_FN                                                                         \
	"CREATE OR REPLACE FUNCTION stats_outbox_count() RETURNS trigger LANGUAGE plpgsql AS $$"   \
	" DECLARE"                                                                                 \
	" fin CONSTANT text[] := ARRAY['sent', 'failed', 'expired', 'skipped'];"                   \
	" o_fin boolean := false; moved boolean := true; day_moved boolean := true;"               \
	" BEGIN"                                                                                   \
	" IF TG_OP = 'UPDATE' THEN"                                                                \
	" o_fin := OLD.state = ANY (fin);"                                                         \
	" moved := NEW.state IS DISTINCT FROM OLD.state OR coalesce(NEW.reason, 'unknown')"        \
	" IS DISTINCT FROM coalesce(OLD.reason, 'unknown');"                                       \
	" day_moved := NEW.state IS DISTINCT FROM OLD.state OR coalesce(NEW.final_ms,"             \
	" NEW.created_ms) / 86400000 IS DISTINCT FROM coalesce(OLD.final_ms, OLD.created_ms)"      \
	" / 86400000;"                                                                             \
	" IF o_fin AND moved THEN PERFORM pg_stats_add(OLD.campaign_id, 'outbox', OLD.step_id,"    \
	" OLD.state, coalesce(OLD.reason, 'unknown'), -1, -1); END IF;"                            \
	" IF o_fin AND day_moved THEN PERFORM pg_stats_add(OLD.campaign_id, 'outbox_day', '',"     \
	" OLD.state, '', coalesce(OLD.final_ms, OLD.created_ms) / 86400000, -1); END IF;"          \
	" IF OLD.state = 'sent' AND NEW.state IS DISTINCT FROM 'sent' AND OLD.journey_id <> 0"     \
	" AND NOT EXISTS (SELECT 1 FROM outbox k WHERE k.journey_id = OLD.journey_id"              \
	" AND (k.state || '') = 'sent' AND k.id <> OLD.id) THEN PERFORM "                          \
	"pg_stats_add(OLD.campaign_id,"                                                            \
	" 'sent_journeys', '', '', '', -1, -1); END IF;"                                           \
	" END IF;"                                                                                 \
	" IF NEW.state = ANY (fin) THEN"                                                           \
	" IF moved THEN PERFORM pg_stats_add(NEW.campaign_id, 'outbox', NEW.step_id, NEW.state,"   \
	" coalesce(NEW.reason, 'unknown'), -1, 1); END IF;"                                        \
	" IF day_moved THEN PERFORM pg_stats_add(NEW.campaign_id, 'outbox_day', '', NEW.state, "   \
	"'',"                                                                                      \
	" coalesce(NEW.final_ms, NEW.created_ms) / 86400000, 1); END IF;"                          \
	" END IF;"                                                                                 \
	" IF NEW.state = 'sent' AND (TG_OP = 'INSERT' OR OLD.state IS DISTINCT FROM 'sent')"       \
	" AND NEW.journey_id <> 0 AND NOT EXISTS (SELECT 1 FROM outbox k WHERE k.journey_id ="     \
	" NEW.journey_id AND (k.state || '') = 'sent' AND k.id <> NEW.id) THEN"                    \
	" PERFORM pg_stats_add(NEW.campaign_id, 'sent_journeys', '', '', '', -1, 1); END IF;"      \
	" RETURN NULL;"                                                                            \
	" END $$;"

static const char *const store_pg_migrations[] = {
    /* 0 -> 1: everything the SQLite store had at version 14. */
    "CREATE TABLE meta (key text PRIMARY KEY, value text);"
    "CREATE TABLE customers ("
    " id bigint GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY, ext_id text NOT NULL UNIQUE,"
    " email text, name text, locale text, timezone text, birthday text,"
    " attributes text NOT NULL DEFAULT '{}', email_hash text,"
    " created_ms bigint NOT NULL, updated_ms bigint NOT NULL, erased_ms bigint,"
    " stage text NOT NULL DEFAULT 'prospect', stage_since_ms bigint);"
    "CREATE INDEX customers_email ON customers (email);"
    "CREATE INDEX customers_stage ON customers (stage, id);"
    "CREATE INDEX customers_created ON customers (created_ms, id);"
    "CREATE INDEX customers_updated ON customers (updated_ms, id);"
    "CREATE INDEX customers_email_lower ON customers (lower(email) text_pattern_ops);"
    "CREATE INDEX customers_name_lower ON customers (lower(name) text_pattern_ops);"
    "CREATE TABLE consent ("
    " customer_id bigint NOT NULL, topic text NOT NULL, state text NOT NULL,"
    " updated_ms bigint NOT NULL, source text, requested_ms bigint, confirmed_ms bigint,"
    " confirmed_addr text, PRIMARY KEY (customer_id, topic));"
    "CREATE INDEX consent_topic ON consent (topic, state, customer_id);"
    /* seq: the engine's cursor follows it; from a sequence, so that any node may insert. */
    "CREATE SEQUENCE events_seq;"
    "CREATE TABLE events ("
    " customer_id bigint NOT NULL, event_key text NOT NULL, seq bigint NOT NULL,"
    " type text NOT NULL, time_ms bigint NOT NULL, received_ms bigint NOT NULL,"
    " properties text NOT NULL, content_hash text, PRIMARY KEY (customer_id, event_key));"
    "CREATE UNIQUE INDEX events_seq_idx ON events (seq);"
    "CREATE INDEX events_type ON events (customer_id, type, time_ms);"
    "CREATE TABLE suppressions ("
    " addr_hash text PRIMARY KEY, address text, reason text NOT NULL,"
    " created_ms bigint NOT NULL);"
    "CREATE TABLE campaign_versions ("
    " campaign_id text NOT NULL, version text NOT NULL, definition text NOT NULL,"
    " loaded_ms bigint NOT NULL, PRIMARY KEY (campaign_id, version));"
    "CREATE TABLE journeys ("
    " id bigint GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY, campaign_id text NOT NULL,"
    " version text NOT NULL, customer_id bigint NOT NULL, jkey text NOT NULL DEFAULT '',"
    " active integer NOT NULL, step integer NOT NULL, visit integer NOT NULL DEFAULT 0,"
    " due_ms bigint, wait_event text, on_event integer NOT NULL DEFAULT -1,"
    " trigger text NOT NULL, event text, entered_ms bigint NOT NULL, exited_ms bigint,"
    " exit_reason text);"
    "CREATE UNIQUE INDEX journeys_one_active ON journeys (campaign_id, customer_id, jkey)"
    " WHERE active = 1;"
    "CREATE INDEX journeys_due ON journeys (due_ms) WHERE active = 1 AND due_ms IS NOT NULL;"
    "CREATE INDEX journeys_customer ON journeys (customer_id, active);"
    "CREATE INDEX journeys_history ON journeys (campaign_id, customer_id, jkey, entered_ms);"
    "CREATE INDEX journeys_held ON journeys (campaign_id)"
    " WHERE active = 1 AND due_ms IS NULL AND wait_event IS NULL;"
    "CREATE INDEX journeys_waiting ON journeys (customer_id, wait_event)"
    " WHERE active = 1 AND wait_event IS NOT NULL;"
    "CREATE INDEX journeys_exited ON journeys (exited_ms, id) WHERE active = 0;"
    "CREATE TABLE journey_notes ("
    " id bigint GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY, journey_id bigint NOT NULL,"
    " customer_id bigint NOT NULL, campaign_id text NOT NULL, step_id text,"
    " action text NOT NULL, reason text, channel text, template text, at_ms bigint NOT NULL);"
    "CREATE INDEX journey_notes_customer ON journey_notes (customer_id, at_ms);"
    "CREATE INDEX journey_notes_campaign ON journey_notes (campaign_id, action, at_ms);"
    "CREATE INDEX journey_notes_sends ON journey_notes (customer_id, campaign_id, at_ms)"
    " WHERE action = 'send';"
    "CREATE INDEX journey_notes_goals ON journey_notes (journey_id) WHERE action = 'goal';"
    "CREATE TABLE outbox ("
    " id bigint GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY, journey_id bigint NOT NULL,"
    " step_id text NOT NULL, visit integer NOT NULL, customer_id bigint NOT NULL,"
    " campaign_id text NOT NULL, channel text NOT NULL, template text NOT NULL,"
    " state text NOT NULL, message_id text NOT NULL UNIQUE,"
    " attempts integer NOT NULL DEFAULT 0, last_reply text, created_ms bigint NOT NULL,"
    " due_ms bigint NOT NULL, marketing integer NOT NULL, sender text, recipient text,"
    " payload bytea, reason text, updated_ms bigint, final_ms bigint,"
    " UNIQUE (journey_id, step_id, visit));"
    "CREATE INDEX outbox_customer ON outbox (customer_id, created_ms);"
    "CREATE INDEX outbox_state ON outbox (state, id);"
    "CREATE INDEX outbox_channel_due ON outbox (channel, due_ms)"
    " WHERE state IN ('queued', 'deferred');"
    "CREATE INDEX outbox_campaign ON outbox (campaign_id, created_ms);"
    "CREATE INDEX outbox_marketing ON outbox (customer_id, created_ms)"
    " WHERE marketing = 1 AND state <> 'skipped';"
    "CREATE INDEX outbox_final ON outbox (final_ms, id) WHERE final_ms IS NOT NULL;"
    "CREATE TABLE outbox_payload (id bigint PRIMARY KEY, payload bytea NOT NULL);"
    "CREATE TABLE timers ("
    " campaign_id text NOT NULL, customer_id bigint NOT NULL, due_ms bigint NOT NULL,"
    " PRIMARY KEY (campaign_id, customer_id));"
    "CREATE INDEX timers_due ON timers (due_ms);"
    "CREATE INDEX timers_customer ON timers (customer_id);"
    "CREATE TABLE schedules ("
    " campaign_id text PRIMARY KEY, version text NOT NULL, due_ms bigint NOT NULL,"
    " run_ms bigint, cursor bigint NOT NULL DEFAULT 0);"
    "CREATE TABLE campaign_pauses (campaign_id text PRIMARY KEY, paused_ms bigint NOT NULL);"
    "CREATE TABLE inbound ("
    " id bigint GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY, dedupe text NOT NULL UNIQUE,"
    " message_id text, kind text NOT NULL, source text NOT NULL, outbox_id bigint,"
    " customer_id bigint, address text, addr_hash text, hard integer NOT NULL DEFAULT 0,"
    " status text, feedback_type text, effect text NOT NULL, matched integer NOT NULL,"
    " detail text, raw bytea, received_ms bigint NOT NULL);"
    "CREATE INDEX inbound_soft ON inbound (addr_hash, received_ms)"
    " WHERE kind = 'bounce' AND hard = 0;"
    "CREATE INDEX inbound_kind ON inbound (kind, id);"
    "CREATE INDEX inbound_outbox ON inbound (outbox_id) WHERE outbox_id IS NOT NULL;"
    "CREATE TABLE purchases (customer_id bigint PRIMARY KEY, count bigint NOT NULL,"
    " first_ms bigint NOT NULL, last_ms bigint NOT NULL);"
    "CREATE TABLE stats_archive (campaign_id text NOT NULL, kind text NOT NULL,"
    " step_id text NOT NULL, state text NOT NULL, reason text NOT NULL, day bigint NOT NULL,"
    " n bigint NOT NULL, PRIMARY KEY (campaign_id, kind, step_id, state, reason, day));"
    "CREATE TABLE transactional_keys (key text PRIMARY KEY, content_hash text NOT NULL,"
    " customer_id bigint NOT NULL, outbox_id bigint, message_id text, state text NOT NULL,"
    " reason text, created_ms bigint NOT NULL);"
    "CREATE INDEX transactional_keys_customer ON transactional_keys (customer_id);"
    "CREATE INDEX transactional_keys_outbox ON transactional_keys (outbox_id);"
    "CREATE TABLE links (outbox_id bigint NOT NULL, idx integer NOT NULL, url text NOT NULL,"
    " name text NOT NULL, clicks bigint NOT NULL DEFAULT 0, first_ms bigint, last_ms bigint,"
    " PRIMARY KEY (outbox_id, idx));"
    "CREATE INDEX links_clicked ON links (outbox_id) WHERE first_ms IS NOT NULL;"
    "CREATE TABLE conversions (id bigint GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY,"
    " campaign_id text NOT NULL, journey_id bigint NOT NULL, customer_id bigint NOT NULL,"
    " event_seq bigint NOT NULL, outbox_id bigint, step_id text, variant text NOT NULL,"
    " via text NOT NULL, revenue double precision NOT NULL, at_ms bigint NOT NULL);"
    "CREATE INDEX conversions_event ON conversions (event_seq);"
    "CREATE INDEX conversions_outbox ON conversions (outbox_id);"
    "CREATE TABLE assignments (journey_id bigint PRIMARY KEY, campaign_id text NOT NULL,"
    " exp_version text NOT NULL, customer_id bigint NOT NULL, arm text NOT NULL,"
    " variants text NOT NULL, assigned_ms bigint NOT NULL, converted_ms bigint);"
    "CREATE INDEX assignments_customer ON assignments (customer_id, campaign_id, assigned_ms)"
    " WHERE converted_ms IS NULL;"
    "CREATE TABLE measure_counts (campaign_id text NOT NULL, step_id text NOT NULL,"
    " variant text NOT NULL, metric text NOT NULL, n double precision NOT NULL DEFAULT 0,"
    " PRIMARY KEY (campaign_id, step_id, variant, metric));"
    "CREATE TABLE segments (id text PRIMARY KEY, name text NOT NULL, condition text NOT NULL,"
    " created_ms bigint NOT NULL);"
    "CREATE TABLE broadcasts (id text PRIMARY KEY, state text NOT NULL, spec text NOT NULL,"
    " frozen text, due_ms bigint, cursor bigint NOT NULL DEFAULT 0,"
    " matched bigint NOT NULL DEFAULT 0, not_subscribed bigint NOT NULL DEFAULT 0,"
    " created_ms bigint NOT NULL, updated_ms bigint NOT NULL, started_ms bigint,"
    " finished_ms bigint);"
    "CREATE INDEX broadcasts_due ON broadcasts (due_ms)"
    " WHERE state IN ('scheduled', 'sending');"
    "INSERT INTO meta (key, value) VALUES ('engine_cursor', '0');",
    /*
     * 1 -> 2 (issue 22, SQLite's 15 -> 16): the dashboard's overview reads counters, not the
     * tables. Messages per UTC day of their creation, channel and state, and suppressions per
     * day added with their total (day -1), kept by statement triggers in the transaction of
     * every change (each statement's rows summed from its transition tables: one counter
     * write per day and state, whatever the rows), backfilled here once. Dashboard sessions
     * live in the store. The customer search pages through (key, id) indexes compared
     * bytewise (text_pattern_ops), which replace migration 1's lower(email)/lower(name) ones.
     * Self-contained and idempotent (its IF EXISTS notices are not logged).
     */
    "SET LOCAL client_min_messages = warning;"
    "CREATE TABLE IF NOT EXISTS outbox_days (day bigint NOT NULL, channel text NOT NULL,"
    " state text NOT NULL, n bigint NOT NULL, PRIMARY KEY (day, channel, state));"
    "DELETE FROM outbox_days;"
    "INSERT INTO outbox_days (day, channel, state, n) SELECT created_ms / 86400000, channel,"
    " state, count(*) FROM outbox GROUP BY 1, 2, 3;"
    "CREATE OR REPLACE FUNCTION outbox_days_count() RETURNS trigger LANGUAGE plpgsql AS $$"
    " BEGIN"
    " IF TG_OP = 'INSERT' THEN"
    " INSERT INTO outbox_days (day, channel, state, n) SELECT created_ms / 86400000, channel,"
    " state, count(*) FROM new_rows GROUP BY 1, 2, 3 ON CONFLICT (day, channel, state)"
    " DO UPDATE SET n = outbox_days.n + excluded.n;"
    " ELSIF TG_OP = 'DELETE' THEN"
    " UPDATE outbox_days d SET n = d.n - o.n FROM (SELECT created_ms / 86400000 AS day,"
    " channel, state, count(*) AS n FROM old_rows GROUP BY 1, 2, 3) o"
    " WHERE d.day = o.day AND d.channel = o.channel AND d.state = o.state;"
    " ELSE"
    " INSERT INTO outbox_days (day, channel, state, n) SELECT day, channel, state, sum(n)"
    " FROM (SELECT created_ms / 86400000 AS day, channel, state, 1 AS n FROM new_rows"
    " UNION ALL SELECT created_ms / 86400000, channel, state, -1 FROM old_rows) x"
    " GROUP BY 1, 2, 3 HAVING sum(n) <> 0 ON CONFLICT (day, channel, state)"
    " DO UPDATE SET n = outbox_days.n + excluded.n;"
    " END IF;"
    " RETURN NULL;"
    " END $$;"
    "DROP TRIGGER IF EXISTS outbox_days_insert ON outbox;"
    "CREATE TRIGGER outbox_days_insert AFTER INSERT ON outbox REFERENCING NEW TABLE AS new_rows"
    " FOR EACH STATEMENT EXECUTE FUNCTION outbox_days_count();"
    "DROP TRIGGER IF EXISTS outbox_days_update ON outbox;"
    "CREATE TRIGGER outbox_days_update AFTER UPDATE ON outbox REFERENCING OLD TABLE AS old_rows"
    " NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION outbox_days_count();"
    "DROP TRIGGER IF EXISTS outbox_days_delete ON outbox;"
    "CREATE TRIGGER outbox_days_delete AFTER DELETE ON outbox REFERENCING OLD TABLE AS old_rows"
    " FOR EACH STATEMENT EXECUTE FUNCTION outbox_days_count();"
    "CREATE TABLE IF NOT EXISTS suppression_days (day bigint PRIMARY KEY, n bigint NOT NULL);"
    "DELETE FROM suppression_days;"
    "INSERT INTO suppression_days (day, n) SELECT -1, count(*) FROM suppressions;"
    "INSERT INTO suppression_days (day, n) SELECT created_ms / 86400000, count(*)"
    " FROM suppressions GROUP BY 1;"
    "CREATE OR REPLACE FUNCTION suppression_days_count() RETURNS trigger LANGUAGE plpgsql"
    " AS $$"
    " BEGIN"
    " IF TG_OP = 'INSERT' THEN"
    " INSERT INTO suppression_days (day, n) SELECT day, count(*) FROM (SELECT"
    " created_ms / 86400000 AS day FROM new_rows UNION ALL SELECT -1 FROM new_rows) x"
    " GROUP BY 1 ON CONFLICT (day) DO UPDATE SET n = suppression_days.n + excluded.n;"
    " ELSIF TG_OP = 'DELETE' THEN"
    " UPDATE suppression_days d SET n = d.n - o.n FROM (SELECT day, count(*) AS n FROM"
    " (SELECT created_ms / 86400000 AS day FROM old_rows UNION ALL SELECT -1 FROM old_rows) x"
    " GROUP BY 1) o WHERE d.day = o.day;"
    " ELSE"
    " INSERT INTO suppression_days (day, n) SELECT day, sum(n) FROM (SELECT"
    " created_ms / 86400000 AS day, 1 AS n FROM new_rows UNION ALL SELECT"
    " created_ms / 86400000, -1 FROM old_rows) x GROUP BY 1 HAVING sum(n) <> 0"
    " ON CONFLICT (day) DO UPDATE SET n = suppression_days.n + excluded.n;"
    " END IF;"
    " RETURN NULL;"
    " END $$;"
    "DROP TRIGGER IF EXISTS suppression_days_insert ON suppressions;"
    "CREATE TRIGGER suppression_days_insert AFTER INSERT ON suppressions"
    " REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT"
    " EXECUTE FUNCTION suppression_days_count();"
    "DROP TRIGGER IF EXISTS suppression_days_update ON suppressions;"
    "CREATE TRIGGER suppression_days_update AFTER UPDATE ON suppressions"
    " REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows FOR EACH STATEMENT"
    " EXECUTE FUNCTION suppression_days_count();"
    "DROP TRIGGER IF EXISTS suppression_days_delete ON suppressions;"
    "CREATE TRIGGER suppression_days_delete AFTER DELETE ON suppressions"
    " REFERENCING OLD TABLE AS old_rows FOR EACH STATEMENT"
    " EXECUTE FUNCTION suppression_days_count();"
    "CREATE TABLE IF NOT EXISTS ui_sessions (id text PRIMARY KEY, fp text NOT NULL,"
    " created_ms bigint NOT NULL, expires_ms bigint NOT NULL);"
    "CREATE INDEX IF NOT EXISTS ui_sessions_expiry ON ui_sessions (expires_ms);"
    "CREATE INDEX IF NOT EXISTS customers_search_id ON customers (ext_id text_pattern_ops);"
    "CREATE INDEX IF NOT EXISTS customers_search_email ON customers"
    " (lower(email) text_pattern_ops, id);"
    "CREATE INDEX IF NOT EXISTS customers_search_name ON customers"
    " (lower(name) text_pattern_ops, id);"
    "DROP INDEX IF EXISTS customers_email_lower;"
    "DROP INDEX IF EXISTS customers_name_lower;",
    /*
     * 2 -> 3 (issue 21, pg-c): the session that claimed a message "sending", so that a start or
     * a claim queues again only what a node whose session is gone left in flight.
     */
    "ALTER TABLE outbox ADD COLUMN IF NOT EXISTS claimed_by integer;",
    /*
     * 3 -> 4 (issue 21, several nodes): a customer's partition is customer_id % partitions,
     * fixed here; the nodes and their leases (one row a partition; epoch counts the owners so
     * far, for fencing). Events carry a pending mark instead of a global cursor: with several
     * writers, sequence values commit out of order, so a cursor could pass an event that
     * commits later; each node takes the pending events of its partitions and clears the mark
     * in the transaction that consumes them. Events past the old cursor stay pending. Every
     * statement may run again (a version set back by hand): the pending marks are set only
     * when the column is new.
     */
    "INSERT INTO meta (key, value) VALUES ('partitions', '256') ON CONFLICT (key) DO NOTHING;"
    "CREATE TABLE IF NOT EXISTS nodes (node_id text PRIMARY KEY, listen text,"
    " started_ms bigint NOT NULL, heartbeat_ms bigint NOT NULL);"
    "CREATE TABLE IF NOT EXISTS leases (part integer PRIMARY KEY, owner text,"
    " epoch bigint NOT NULL DEFAULT 0, expires_ms bigint NOT NULL DEFAULT 0, renewed_ms bigint);"
    "INSERT INTO leases (part) SELECT generate_series(0,"
    " (SELECT value::int FROM meta WHERE key = 'partitions') - 1) ON CONFLICT DO NOTHING;"
    "DO $$ BEGIN IF NOT EXISTS (SELECT 1 FROM information_schema.columns"
    " WHERE table_name = 'events' AND column_name = 'pending') THEN"
    " ALTER TABLE events ADD COLUMN pending boolean NOT NULL DEFAULT false;"
    " UPDATE events SET pending = true WHERE seq >"
    " coalesce((SELECT value::bigint FROM meta WHERE key = 'engine_cursor'), 0);"
    " ALTER TABLE events ALTER COLUMN pending SET DEFAULT true; END IF; END $$;"
    "CREATE INDEX IF NOT EXISTS events_pending ON events (seq) WHERE pending;",
    /*
     * 4 -> 5 (issue 19, SQLite's 14 -> 15): campaigns' statistics as counters (stats_counts),
     * kept in the transaction of each change by row triggers on journeys, outbox and
     * journey_notes, with the same metrics, keys and effects as SQLite's (store_sqlite_schema.c
     * says what each counts), one UPSERT (pg_stats_add) per key and change; journeys remember
     * the steps they passed (passed, a bitmap of step indexes). The backfill (once: the meta
     * key 'stats_counts') counts the rows and stats_archive's, which then keeps only the
     * outbox per state. Every statement may run again (a version set back by hand).
     */
    /* clang-format off */
    "CREATE TABLE IF NOT EXISTS stats_counts (campaign_id text NOT NULL, metric text NOT NULL,"
    " step_id text NOT NULL, state text NOT NULL, reason text NOT NULL, day bigint NOT NULL,"
    " n bigint NOT NULL, PRIMARY KEY (campaign_id, metric, step_id, state, reason, day));"
    "ALTER TABLE journeys ADD COLUMN IF NOT EXISTS passed bytea;"
    "CREATE OR REPLACE FUNCTION pg_stats_add(c text, m text, s text, st text, r text, d bigint,"
    " k bigint) RETURNS void LANGUAGE plpgsql AS $$ BEGIN"
    " INSERT INTO stats_counts (campaign_id, metric, step_id, state, reason, day, n)"
    " VALUES (c, m, s, st, r, d, k) ON CONFLICT (campaign_id, metric, step_id, state, reason,"
    " day) DO UPDATE SET n = stats_counts.n + excluded.n; END $$;"
    "CREATE OR REPLACE FUNCTION stats_journey_count() RETURNS trigger LANGUAGE plpgsql AS $$"
    " BEGIN"
    " IF TG_OP = 'INSERT' THEN"
    " PERFORM pg_stats_add(NEW.campaign_id, 'entered', '', '', '', NEW.entered_ms / 86400000, 1);"
    " IF NEW.active = 1 THEN"
    " PERFORM pg_stats_add(NEW.campaign_id, 'now', NEW.step::text, '', '', -1, 1); END IF;"
    " IF NEW.active = 0 THEN PERFORM pg_stats_add(NEW.campaign_id, 'exited', '', '',"
    " coalesce(NEW.exit_reason, 'unknown'), -1, 1); END IF;"
    " ELSIF TG_OP = 'UPDATE' THEN"
    " IF OLD.active = 1 AND (NEW.active IS DISTINCT FROM 1 OR NEW.step IS DISTINCT FROM OLD.step)"
    " THEN PERFORM pg_stats_add(OLD.campaign_id, 'now', OLD.step::text, '', '', -1, -1); END IF;"
    " IF NEW.active = 1 AND (OLD.active IS DISTINCT FROM 1 OR NEW.step IS DISTINCT FROM OLD.step)"
    " THEN PERFORM pg_stats_add(NEW.campaign_id, 'now', NEW.step::text, '', '', -1, 1); END IF;"
    " IF OLD.active = 0 AND (NEW.active IS DISTINCT FROM 0 OR coalesce(NEW.exit_reason,"
    " 'unknown') IS DISTINCT FROM coalesce(OLD.exit_reason, 'unknown')) THEN PERFORM"
    " pg_stats_add(OLD.campaign_id, 'exited', '', '', coalesce(OLD.exit_reason, 'unknown'), -1,"
    " -1); END IF;"
    " IF NEW.active = 0 AND (OLD.active IS DISTINCT FROM 0 OR coalesce(NEW.exit_reason,"
    " 'unknown') IS DISTINCT FROM coalesce(OLD.exit_reason, 'unknown')) THEN PERFORM"
    " pg_stats_add(NEW.campaign_id, 'exited', '', '', coalesce(NEW.exit_reason, 'unknown'), -1,"
    " 1); END IF;"
    " ELSE"
    " PERFORM pg_stats_add(OLD.campaign_id, 'now', OLD.step::text, '', '', -1, -1);"
    " END IF;"
    " RETURN NULL;"
    " END $$;"
    "DROP TRIGGER IF EXISTS stats_journey_insert ON journeys;"
    "CREATE TRIGGER stats_journey_insert AFTER INSERT ON journeys FOR EACH ROW"
    " EXECUTE FUNCTION stats_journey_count();"
    "DROP TRIGGER IF EXISTS stats_journey_update ON journeys;"
    "CREATE TRIGGER stats_journey_update AFTER UPDATE OF active, step, exit_reason ON journeys"
    " FOR EACH ROW WHEN (OLD.active IS DISTINCT FROM NEW.active OR OLD.step IS DISTINCT FROM"
    " NEW.step OR OLD.exit_reason IS DISTINCT FROM NEW.exit_reason)"
    " EXECUTE FUNCTION stats_journey_count();"
    "DROP TRIGGER IF EXISTS stats_journey_delete ON journeys;"
    "CREATE TRIGGER stats_journey_delete AFTER DELETE ON journeys FOR EACH ROW"
    " WHEN (OLD.active = 1) EXECUTE FUNCTION stats_journey_count();"
    PG_STATS_OUTBOX_FN
    "DROP TRIGGER IF EXISTS stats_outbox_insert ON outbox;"
    "CREATE TRIGGER stats_outbox_insert AFTER INSERT ON outbox FOR EACH ROW"
    " WHEN (NEW.state IN " PG_SC_FINAL ") EXECUTE FUNCTION stats_outbox_count();"
    "DROP TRIGGER IF EXISTS stats_outbox_update ON outbox;"
    "CREATE TRIGGER stats_outbox_update AFTER UPDATE OF state, reason, final_ms ON outbox"
    " FOR EACH ROW WHEN ((OLD.state IN " PG_SC_FINAL " OR NEW.state IN " PG_SC_FINAL ")"
    " AND (OLD.state IS DISTINCT FROM NEW.state OR OLD.reason IS DISTINCT FROM NEW.reason"
    " OR OLD.final_ms IS DISTINCT FROM NEW.final_ms)) EXECUTE FUNCTION stats_outbox_count();"
    "CREATE OR REPLACE FUNCTION stats_note_count() RETURNS trigger LANGUAGE plpgsql AS $$"
    " BEGIN"
    " IF TG_OP = 'INSERT' THEN"
    " IF NEW.action = 'skip' THEN PERFORM pg_stats_add(NEW.campaign_id, 'note_skip',"
    " coalesce(NEW.step_id, ''), '', NEW.reason, -1, 1); END IF;"
    " PERFORM pg_stats_add(NEW.campaign_id, 'note_day', '', NEW.action, '', NEW.at_ms / 86400000,"
    " 1);"
    " IF NEW.action = 'goal' AND NOT EXISTS (SELECT 1 FROM journey_notes g WHERE g.journey_id ="
    " NEW.journey_id AND g.action = 'goal' AND g.id <> NEW.id) THEN"
    " PERFORM pg_stats_add(NEW.campaign_id, 'conversions', '', '', '', -1, 1); END IF;"
    " ELSE"
    " IF OLD.reason IN " PG_SC_SKIPS " THEN"
    " PERFORM pg_stats_add(OLD.campaign_id, 'note_skip', coalesce(OLD.step_id, ''), '',"
    " OLD.reason, -1, -1);"
    " PERFORM pg_stats_add(OLD.campaign_id, 'note_day', '', 'skip', '', OLD.at_ms / 86400000,"
    " -1); END IF;"
    " IF NEW.reason IN " PG_SC_SKIPS " THEN"
    " PERFORM pg_stats_add(NEW.campaign_id, 'note_skip', coalesce(NEW.step_id, ''), '',"
    " NEW.reason, -1, 1);"
    " PERFORM pg_stats_add(NEW.campaign_id, 'note_day', '', 'skip', '', NEW.at_ms / 86400000,"
    " 1); END IF;"
    " END IF;"
    " RETURN NULL;"
    " END $$;"
    "DROP TRIGGER IF EXISTS stats_note_insert ON journey_notes;"
    "CREATE TRIGGER stats_note_insert AFTER INSERT ON journey_notes FOR EACH ROW"
    " WHEN (NEW.action = 'goal' OR (NEW.action = 'skip' AND NEW.reason IN " PG_SC_SKIPS "))"
    " EXECUTE FUNCTION stats_note_count();"
    /* Erasure cuts a reason's detail ("x: y" -> "x"), which may move a skip in or out. */
    "DROP TRIGGER IF EXISTS stats_note_update ON journey_notes;"
    "CREATE TRIGGER stats_note_update AFTER UPDATE OF reason ON journey_notes FOR EACH ROW"
    " WHEN (OLD.action = 'skip' AND OLD.reason IS DISTINCT FROM NEW.reason"
    " AND (OLD.reason IN " PG_SC_SKIPS " OR NEW.reason IN " PG_SC_SKIPS "))"
    " EXECUTE FUNCTION stats_note_count();"
    /* The backfill: what the scan of each figure gave, with the archive's counts. */
    PG_SC_INS "campaign_id, 'entered', '', '', '', day, sum(n) FROM (SELECT campaign_id,"
    " entered_ms / 86400000 AS day, count(*) AS n FROM journeys GROUP BY 1, 2 UNION ALL"
    " SELECT campaign_id, day, n FROM stats_archive WHERE kind = 'journey') x WHERE " PG_SC_ONCE
    " GROUP BY 1, 6" PG_SC_ADD
    PG_SC_INS "campaign_id, 'now', step::text, '', '', -1, count(*) FROM journeys"
    " WHERE active = 1 AND " PG_SC_ONCE " GROUP BY 1, 3" PG_SC_ADD
    PG_SC_INS "campaign_id, 'exited', '', '', r, -1, sum(n) FROM (SELECT campaign_id,"
    " coalesce(exit_reason, 'unknown') AS r, count(*) AS n FROM journeys WHERE active = 0"
    " GROUP BY 1, 2 UNION ALL SELECT campaign_id, state, n FROM stats_archive"
    " WHERE kind = 'journey') x WHERE " PG_SC_ONCE " GROUP BY 1, 5" PG_SC_ADD
    PG_SC_INS "campaign_id, 'outbox', step_id, state, r, -1, sum(n) FROM (SELECT campaign_id,"
    " step_id, state, coalesce(reason, 'unknown') AS r, count(*) AS n FROM outbox"
    " WHERE state IN " PG_SC_FINAL " GROUP BY 1, 2, 3, 4 UNION ALL SELECT campaign_id, step_id,"
    " state, reason, n FROM stats_archive WHERE kind = 'outbox' AND state IN " PG_SC_FINAL ")"
    " x WHERE " PG_SC_ONCE " GROUP BY 1, 3, 4, 5" PG_SC_ADD
    PG_SC_INS "campaign_id, 'outbox_day', '', state, '', day, sum(n) FROM (SELECT campaign_id,"
    " state, coalesce(final_ms, created_ms) / 86400000 AS day, count(*) AS n FROM outbox"
    " WHERE state IN " PG_SC_FINAL " GROUP BY 1, 2, 3 UNION ALL SELECT campaign_id, state, day,"
    " n FROM stats_archive WHERE kind = 'outbox' AND state IN " PG_SC_FINAL ") x WHERE "
    PG_SC_ONCE " GROUP BY 1, 4, 6" PG_SC_ADD
    PG_SC_INS "campaign_id, 'sent_journeys', '', '', '', -1, sum(n) FROM (SELECT campaign_id,"
    " count(DISTINCT journey_id) AS n FROM outbox WHERE state = 'sent' AND journey_id <> 0"
    " GROUP BY 1 UNION ALL SELECT campaign_id, n FROM stats_archive"
    " WHERE kind = 'sent_journey') x WHERE " PG_SC_ONCE " GROUP BY 1" PG_SC_ADD
    PG_SC_INS "campaign_id, 'note_skip', s, '', reason, -1, sum(n) FROM (SELECT campaign_id,"
    " coalesce(step_id, '') AS s, reason, count(*) AS n FROM journey_notes WHERE action ="
    " 'skip' AND reason IN " PG_SC_SKIPS " GROUP BY 1, 2, 3 UNION ALL SELECT campaign_id,"
    " step_id, reason, n FROM stats_archive WHERE kind = 'note' AND state = 'skip') x WHERE "
    PG_SC_ONCE " GROUP BY 1, 3, 5" PG_SC_ADD
    PG_SC_INS "campaign_id, 'note_day', '', action, '', day, sum(n) FROM (SELECT campaign_id,"
    " action, at_ms / 86400000 AS day, count(*) AS n FROM journey_notes WHERE action = 'goal'"
    " OR (action = 'skip' AND reason IN " PG_SC_SKIPS ") GROUP BY 1, 2, 3 UNION ALL"
    " SELECT campaign_id, state, day, n FROM stats_archive WHERE kind = 'note') x WHERE "
    PG_SC_ONCE " GROUP BY 1, 4, 6" PG_SC_ADD
    PG_SC_INS "campaign_id, 'conversions', '', '', '', -1, sum(n) FROM (SELECT campaign_id,"
    " count(DISTINCT journey_id) AS n FROM journey_notes WHERE action = 'goal' GROUP BY 1"
    " UNION ALL SELECT campaign_id, n FROM stats_archive WHERE kind = 'note'"
    " AND state = 'goal') x WHERE " PG_SC_ONCE " GROUP BY 1" PG_SC_ADD
    "DELETE FROM stats_archive WHERE kind <> 'outbox';"
    "INSERT INTO measure_counts (campaign_id, step_id, variant, metric, n)"
    " SELECT campaign_id, step_id, '', 'passed', count(DISTINCT journey_id) FROM (SELECT"
    " campaign_id, step_id, journey_id FROM outbox WHERE journey_id <> 0 UNION SELECT"
    " campaign_id, step_id, journey_id FROM journey_notes WHERE step_id IS NOT NULL) x WHERE "
    PG_SC_ONCE " GROUP BY 1, 2 ON CONFLICT (campaign_id, step_id, variant, metric)"
    " DO UPDATE SET n = excluded.n;"
    "INSERT INTO meta (key, value) VALUES ('stats_counts', '1') ON CONFLICT DO NOTHING;",
    /*
     * 5 -> 6 (issue 21, several nodes): counters without row locks. The triggers of
     * migrations 2 and 5 upserted shared rows (stats_counts, outbox_days, suppression_days):
     * concurrent transactions of several nodes locked the same rows in different orders,
     * waited on each other and sometimes deadlocked (40P01, a group refused with 503). They
     * now append delta rows with the same columns (no key, no row lock), with the same
     * meaning; readers read the *_all views, counters plus deltas summed, exact at every
     * moment; the holder of partition 0 folds the deltas into the counters in a short
     * transaction of its own (store_pg_stats.c, cluster.c). The same for the counters the
     * measure ops add to (measure_counts, store_pg_measure.c). The system mail's visit comes
     * from a sequence (two nodes drew the same max + 1). Every statement may run again.
     */
    "SET LOCAL client_min_messages = warning;"
    "CREATE TABLE IF NOT EXISTS stats_counts_deltas (campaign_id text NOT NULL,"
    " metric text NOT NULL, step_id text NOT NULL, state text NOT NULL, reason text NOT NULL,"
    " day bigint NOT NULL, n bigint NOT NULL);"
    "CREATE TABLE IF NOT EXISTS outbox_days_deltas (day bigint NOT NULL, channel text NOT NULL,"
    " state text NOT NULL, n bigint NOT NULL);"
    "CREATE TABLE IF NOT EXISTS suppression_days_deltas (day bigint NOT NULL,"
    " n bigint NOT NULL);"
    "CREATE OR REPLACE FUNCTION pg_stats_add(c text, m text, s text, st text, r text, d bigint,"
    " k bigint) RETURNS void LANGUAGE plpgsql AS $$ BEGIN"
    " INSERT INTO stats_counts_deltas (campaign_id, metric, step_id, state, reason, day, n)"
    " VALUES (c, m, s, st, r, d, k); END $$;"
    "CREATE OR REPLACE FUNCTION outbox_days_count() RETURNS trigger LANGUAGE plpgsql AS $$"
    " BEGIN"
    " IF TG_OP = 'INSERT' THEN"
    " INSERT INTO outbox_days_deltas (day, channel, state, n) SELECT created_ms / 86400000,"
    " channel, state, count(*) FROM new_rows GROUP BY 1, 2, 3;"
    " ELSIF TG_OP = 'DELETE' THEN"
    " INSERT INTO outbox_days_deltas (day, channel, state, n) SELECT created_ms / 86400000,"
    " channel, state, -count(*) FROM old_rows GROUP BY 1, 2, 3;"
    " ELSE"
    " INSERT INTO outbox_days_deltas (day, channel, state, n) SELECT day, channel, state,"
    " sum(n) FROM (SELECT created_ms / 86400000 AS day, channel, state, 1 AS n FROM new_rows"
    " UNION ALL SELECT created_ms / 86400000, channel, state, -1 FROM old_rows) x"
    " GROUP BY 1, 2, 3 HAVING sum(n) <> 0;"
    " END IF;"
    " RETURN NULL;"
    " END $$;"
    "CREATE OR REPLACE FUNCTION suppression_days_count() RETURNS trigger LANGUAGE plpgsql"
    " AS $$"
    " BEGIN"
    " IF TG_OP = 'INSERT' THEN"
    " INSERT INTO suppression_days_deltas (day, n) SELECT day, count(*) FROM (SELECT"
    " created_ms / 86400000 AS day FROM new_rows UNION ALL SELECT -1 FROM new_rows) x"
    " GROUP BY 1;"
    " ELSIF TG_OP = 'DELETE' THEN"
    " INSERT INTO suppression_days_deltas (day, n) SELECT day, -count(*) FROM (SELECT"
    " created_ms / 86400000 AS day FROM old_rows UNION ALL SELECT -1 FROM old_rows) x"
    " GROUP BY 1;"
    " ELSE"
    " INSERT INTO suppression_days_deltas (day, n) SELECT day, sum(n) FROM (SELECT"
    " created_ms / 86400000 AS day, 1 AS n FROM new_rows UNION ALL SELECT"
    " created_ms / 86400000, -1 FROM old_rows) x GROUP BY 1 HAVING sum(n) <> 0;"
    " END IF;"
    " RETURN NULL;"
    " END $$;"
    "CREATE OR REPLACE VIEW stats_counts_all AS SELECT campaign_id, metric, step_id, state,"
    " reason, day, sum(n)::bigint AS n FROM (SELECT campaign_id, metric, step_id, state, reason,"
    " day, n FROM stats_counts UNION ALL SELECT campaign_id, metric, step_id, state, reason,"
    " day, n FROM stats_counts_deltas) x GROUP BY 1, 2, 3, 4, 5, 6;"
    "CREATE OR REPLACE VIEW outbox_days_all AS SELECT day, channel, state, sum(n)::bigint AS n"
    " FROM (SELECT day, channel, state, n FROM outbox_days UNION ALL SELECT day, channel,"
    " state, n FROM outbox_days_deltas) x GROUP BY 1, 2, 3;"
    "CREATE OR REPLACE VIEW suppression_days_all AS SELECT day, sum(n)::bigint AS n"
    " FROM (SELECT day, n FROM suppression_days UNION ALL SELECT day, n"
    " FROM suppression_days_deltas) x GROUP BY 1;"
    "CREATE TABLE IF NOT EXISTS measure_counts_deltas (campaign_id text NOT NULL,"
    " step_id text NOT NULL, variant text NOT NULL, metric text NOT NULL,"
    " n double precision NOT NULL);"
    "CREATE OR REPLACE VIEW measure_counts_all AS SELECT campaign_id, step_id, variant, metric,"
    " sum(n) AS n FROM (SELECT campaign_id, step_id, variant, metric, n FROM measure_counts"
    " UNION ALL SELECT campaign_id, step_id, variant, metric, n FROM measure_counts_deltas) x"
    " GROUP BY 1, 2, 3, 4;"
    "CREATE SEQUENCE IF NOT EXISTS system_visit_seq;"
    "SELECT setval('system_visit_seq', greatest((SELECT coalesce(max(visit), 0) + 1"
    " FROM outbox WHERE journey_id = 0), (SELECT CASE WHEN is_called THEN last_value + 1"
    " ELSE last_value END FROM system_visit_seq)), false);",
    /*
     * 6 -> 7: the outbox's counter trigger asks for a journey's other sent messages through
     * the ledger's index, not outbox_state's (PG_STATS_OUTBOX_FN). Payloads (5 to 100 KB of
     * MIME) are compressed with lz4 where the server has it: pglz took 0.126 ms a payload, the
     * dearest statement of a due step (bench/scheduler with pg_stat_statements).
     */
    PG_STATS_OUTBOX_FN
    "DO $$ BEGIN IF (SELECT 'lz4' = ANY (enumvals) FROM pg_settings"
    " WHERE name = 'default_toast_compression') THEN"
    " ALTER TABLE outbox_payload ALTER COLUMN payload SET COMPRESSION lz4; END IF; END $$;",
    /* clang-format on */
};

int
store_pg_schema_latest(void)
{
	return (int)NT_ARRAY_LEN(store_pg_migrations);
}

/*
 * Runs the migrations the database has not had, in one transaction under the advisory lock;
 * refuses a database newer than this build. 0, or -1 with ERR.
 */
int
store_pg_migrate(struct store_pg *s, char *err, size_t errlen)
{
	char sql[160];
	const int latest = store_pg_schema_latest();
	int version;

	if (pg_exec(s, "BEGIN") != STORE_OK)
		goto fail;
	snprintf(sql, sizeof(sql), "SELECT pg_advisory_xact_lock(%lld)", PG_MIGRATE_LOCK);
	if (pg_exec(s, sql) != STORE_OK ||
	    pg_exec(s, "CREATE TABLE IF NOT EXISTS schema_version (version integer PRIMARY KEY,"
		       " migrated_ms bigint NOT NULL)") != STORE_OK)
		goto fail;
	if ((version = store_pg_schema_version(&s->base)) < 0)
		goto fail;
	if (version > latest) {
		pg_exec(s, "ROLLBACK");
		snprintf(err, errlen,
			 "database schema version %d is newer than this nurtured supports (%d): "
			 "run a newer nurtured",
			 version, latest);
		return -1;
	}
	for (int v = version; v < latest; v++) {
		log_info("store: migrating schema %d -> %d", v, v + 1);
		if (pg_exec(s, store_pg_migrations[v]) != STORE_OK)
			goto fail;
		snprintf(sql, sizeof(sql),
			 "INSERT INTO schema_version (version, migrated_ms) VALUES (%d,"
			 " (extract(epoch FROM clock_timestamp()) * 1000)::bigint)",
			 v + 1);
		if (pg_exec(s, sql) != STORE_OK)
			goto fail;
	}
	if (pg_exec(s, "COMMIT") != STORE_OK)
		goto fail;
	return 0;
fail:
	snprintf(err, errlen, "schema migration failed: %s", s->err);
	if (s->conn != NULL)
		pg_exec(s, "ROLLBACK");
	return -1;
}
