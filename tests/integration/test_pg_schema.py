#!/usr/bin/python3
"""Issue 21: the PostgreSQL store's schema, against a private cluster (initdb/pg_ctl in a
temporary directory). Several daemons starting at once migrate once, under the advisory lock;
a database is left at the latest version with every table; a second start migrates nothing."""
import os
import re
import subprocess
import sys

sys.path.insert(0, os.path.dirname(__file__))
from ntest import test, run_all, check, eq, poll, skip, NURTURED  # noqa: E402
import pgcluster  # noqa: E402

TOOL = os.path.join(os.path.dirname(NURTURED), "tests", "unit", "pg_tool")


def cluster():
    if not pgcluster.available():
        skip("PostgreSQL's server is not installed")
    return pgcluster.shared()


@test
def five_starts_at_once_migrate_once():
    pg = cluster()
    url = pg.create_database()
    procs = [subprocess.Popen([TOOL, "migrate", url], stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE, text=True) for _ in range(5)]
    outs = [p.communicate(timeout=60) for p in procs]
    for p, (out, err) in zip(procs, outs):
        eq(p.returncode, 0, f"every start succeeds: {err}")
    versions = {out.strip() for out, _ in outs}
    eq(len(versions), 1, "all see the same version")
    latest = int(versions.pop())
    check(latest >= 1, "a version")
    rows = pg.psql("SELECT version FROM schema_version ORDER BY version", db=url.rsplit("/", 1)[1])
    eq([int(r[0]) for r in rows], list(range(1, latest + 1)), "each migration recorded once")
    migrated = sum(err.count("migrating schema 0 -> 1") for _, err in outs)
    eq(migrated, 1, "exactly one start ran the first migration")


@test
def the_schema_has_the_stores_tables():
    pg = cluster()
    url = pg.create_database()
    r = subprocess.run([TOOL, "migrate", url], capture_output=True, text=True, timeout=60)
    eq(r.returncode, 0, r.stderr)
    db = url.rsplit("/", 1)[1]
    tables = {row[0] for row in pg.psql(
        "SELECT tablename FROM pg_tables WHERE schemaname = 'public'", db=db)}
    for t in ("customers", "consent", "events", "suppressions", "journeys", "journey_notes",
              "outbox", "outbox_payload", "timers", "schedules", "campaign_versions",
              "campaign_pauses", "inbound", "purchases", "stats_archive",
              "transactional_keys", "links", "conversions", "assignments", "measure_counts",
              "segments", "broadcasts", "meta", "schema_version", "stats_counts_deltas",
              "outbox_days_deltas", "suppression_days_deltas"):
        check(t in tables, f"table {t}", sorted(tables))
    eq(pg.psql("SELECT value FROM meta WHERE key = 'engine_cursor'", db=db), [["0"]],
       "the engine's cursor starts at 0")
    again = subprocess.run([TOOL, "migrate", url], capture_output=True, text=True, timeout=60)
    eq(again.returncode, 0, again.stderr)
    check("migrating" not in again.stderr, "a second start migrates nothing", again.stderr)


@test
def counters_are_written_as_deltas_and_system_visits_come_from_a_sequence():
    """Issue 21, migration 5 -> 6: the triggers append delta rows instead of updating the
    counters in place (no row lock shared between nodes); the *_all views read both. The
    system mail's visits come from a sequence that starts past the visits already there."""
    pg = cluster()
    url = pg.create_database()
    db = url.rsplit("/", 1)[1]
    subprocess.run([TOOL, "migrate", url], capture_output=True, timeout=60, check=True)
    pg.psql("INSERT INTO outbox (journey_id, step_id, visit, customer_id, campaign_id, channel,"
            " template, state, message_id, created_ms, due_ms, marketing) VALUES"
            " (0, 'confirm', 7, 1, '', 'mail', 'c', 'sent', 'm1', 86400000, 0, 0),"
            " (5, 'hello', 0, 1, 'flow', 'mail', 't', 'sent', 'm2', 86400000, 0, 1);"
            " INSERT INTO suppressions VALUES ('h', 'a@example.com', 'manual', 86400000)", db=db)
    for table in ("outbox_days", "suppression_days", "stats_counts"):
        eq(pg.psql(f"SELECT count(*) FROM {table} WHERE n <> 0", db=db), [["0"]],
           f"{table} untouched")
        check(int(pg.psql(f"SELECT count(*) FROM {table}_deltas", db=db)[0][0]) > 0,
              f"{table}: deltas written")
    eq(pg.psql("SELECT day, channel, state, n FROM outbox_days_all", db=db),
       [["1", "mail", "sent", "2"]], "outbox_days_all: counters and deltas")
    eq(sorted(pg.psql("SELECT day, n FROM suppression_days_all", db=db)),
       [["-1", "1"], ["1", "1"]], "suppression_days_all")
    eq(pg.psql("SELECT step_id, state, n FROM stats_counts_all WHERE campaign_id = 'flow'"
               " AND metric = 'outbox'", db=db), [["hello", "sent", "1"]], "stats_counts_all")
    # A database at version 5 with system mail: the sequence starts past its visits.
    pg.psql("DROP SEQUENCE system_visit_seq; DELETE FROM schema_version WHERE version >= 6",
            db=db)
    r = subprocess.run([TOOL, "migrate", url], capture_output=True, text=True, timeout=60)
    eq(r.returncode, 0, r.stderr)
    check("migrating schema 5 -> 6" in r.stderr, "migrated again", r.stderr)
    eq(pg.psql("SELECT nextval('system_visit_seq')", db=db), [["8"]], "past visit 7")
    eq(pg.psql("SELECT day, channel, state, n FROM outbox_days_all", db=db),
       [["1", "mail", "sent", "2"]], "the deltas kept")


@test
def the_outbox_counter_trigger_reads_the_ledger_index_and_payloads_use_lz4():
    """Migration 6 -> 7: the outbox's counter trigger asks whether the journey has another sent
    message. Its generic plan used to read outbox_state's entries of every sent message (0.12 ms
    an update at 2,400 sent, growing with the outbox); it must go through the ledger's index.
    auto_explain shows the plans of the statements inside the trigger."""
    pg = cluster()
    url = pg.create_database()
    db = url.rsplit("/", 1)[1]
    subprocess.run([TOOL, "migrate", url], capture_output=True, timeout=60, check=True)
    pg.psql("INSERT INTO outbox (journey_id, step_id, visit, customer_id, campaign_id, channel,"
            " template, state, message_id, created_ms, due_ms, marketing)"
            " SELECT g, 's', 0, 1, 'flow', 'mail', 't', CASE WHEN g > 1 THEN 'sent' ELSE"
            " 'queued' END, 'm' || g, 86400000, 0, 1 FROM generate_series(1, 500) g", db=db)
    sql = ("LOAD 'auto_explain'; SET auto_explain.log_min_duration = 0;"
           " SET auto_explain.log_nested_statements = on; SET auto_explain.log_level = notice;"
           " SET plan_cache_mode = force_generic_plan;"
           " UPDATE outbox SET state = 'sent' WHERE journey_id = 1;")
    r = subprocess.run(["psql", "-X", "-q", "-v", "ON_ERROR_STOP=1", "-d", url, "-c", sql],
                       capture_output=True, text=True, timeout=60)
    eq(r.returncode, 0, r.stderr)
    plans = r.stderr.split("NOTICE:")
    nested = [p for p in plans if "outbox k" in p]
    check(len(nested) > 0, "auto_explain showed the trigger's query", r.stderr)
    for p in nested:
        check("outbox_state" not in p, "not through outbox_state", p)
        check("outbox_journey_id_step_id_visit_key" in p, "through the ledger's index", p)
    eq(pg.psql("SELECT n FROM stats_counts_all WHERE campaign_id = 'flow'"
               " AND metric = 'sent_journeys'", db=db), [["500"]], "each journey counted once")
    # The same migration: payloads compressed with lz4 (Debian's server has it).
    eq(pg.psql("SELECT attcompression FROM pg_attribute WHERE attrelid = 'outbox_payload'::regclass"
               " AND attname = 'payload'", db=db), [["l"]], "outbox_payload.payload: lz4")
    pg.psql("INSERT INTO outbox_payload (id, payload) SELECT 1, convert_to(repeat('<p>hello</p>',"
            " 2000), 'UTF8')", db=db)
    eq(pg.psql("SELECT pg_column_compression(payload) FROM outbox_payload", db=db), [["lz4"]],
       "a payload stored with lz4")


def by_ids_plans(first, analyze):
    """pg_tool by-ids's second round of plans (generic ones, made in its first round while each
    table held FIRST rows, ANALYZEd or never), after the tables grew to 30,000 rows."""
    pg = cluster()
    url = pg.create_database()
    db = url.rsplit("/", 1)[1]
    subprocess.run([TOOL, "migrate", url], capture_output=True, timeout=60, check=True)
    grow = {
        "customers": "INSERT INTO customers (ext_id, created_ms, updated_ms)"
                     " SELECT 'c' || g, 0, 0 FROM generate_series({a}, {b}) g",
        "purchases": "INSERT INTO purchases (customer_id, count, first_ms, last_ms)"
                     " SELECT g, 1, 0, 0 FROM generate_series({a}, {b}) g",
        "suppressions": "INSERT INTO suppressions (addr_hash, reason, created_ms)"
                        " SELECT md5(g::text), 'manual', 0 FROM generate_series({a}, {b}) g",
        "journeys": "INSERT INTO journeys (campaign_id, version, customer_id, active, step,"
                    " trigger, entered_ms, wait_event, due_ms) SELECT 'flow', 'v', g, 1, 0,"
                    " 'event', 0, 'visit', 1000000 - g FROM generate_series({a}, {b}) g",
    }
    for t in grow:
        pg.psql(f"ALTER TABLE {t} SET (autovacuum_enabled = off);"
                + grow[t].format(a=1, b=first) + (f"; ANALYZE {t}" if analyze else ""), db=db)
    env = dict(os.environ, PGOPTIONS="-c plan_cache_mode=force_generic_plan"
               " -c session_preload_libraries=auto_explain -c auto_explain.log_min_duration=0"
               " -c auto_explain.log_level=notice -c auto_explain.log_analyze=on"
               " -c auto_explain.log_buffers=on")
    p = subprocess.Popen([TOOL, "by-ids", url], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                         stderr=subprocess.PIPE, text=True, env=env)
    try:
        eq(p.stdout.readline().strip(), "planned", "the first round's plans are made")
        for t in grow:
            pg.psql(grow[t].format(a=first + 1, b=30000), db=db)
        out, err = p.communicate("go\n", timeout=60)
    finally:
        if p.poll() is None:
            p.kill()
    eq(p.returncode, 0, err)
    eq(out.strip(), "found 5", "the second round found the customers")
    plans = [x for x in err.split("store: postgresql:") if "Query Text" in x]
    check(len(plans) >= 14, "auto_explain showed both rounds' plans", err[-3000:])
    return grow, plans[-7:]


def check_probes(grow, last):
    """Each read of the round went through an index to its few rows: no sequential scan, and
    few pages read (a whole index or table of 30,000 rows is hundreds)."""
    for t in grow:
        mine = [x for x in last if f"FROM {t} " in x]
        check(len(mine) > 0, f"the read of {t} in the second round", last)
        for x in mine:
            check(f"Seq Scan on {t}" not in x, f"{t}: no sequential scan", x)
            check("Index" in x, f"{t}: through an index", x)
    for x in last:
        m = re.search(r"Buffers: shared hit=(\d+)(?: read=(\d+))?", x)
        check(m is not None, "the plan counts its pages", x)
        pages = int(m.group(1)) + int(m.group(2) or 0)
        check(pages <= 200, f"few pages read ({pages})", x)


@test
def batch_reads_by_key_stay_index_probes_as_a_new_database_grows():
    """The engine's batch reads (customers, purchases, suppressions, journeys of a batch's
    events, their latest journeys) of a few keys, one customer's journeys for an event, and the
    next due time. A generic plan is made
    once per session; one made while a new database's tables were small (ANALYZEd at 200 rows)
    kept a sequential scan after they grew, until the next ANALYZE: 1.1 ms for 60 customers of
    4,000 in bench/ingest. Each read must go through an index however far the table grew since
    its plan was made (store_pg.c, pg_connect)."""
    check_probes(*by_ids_plans(200, analyze=True))


@test
def batch_reads_stay_probes_when_planned_on_never_analyzed_tables():
    """The same reads planned on a new database's tables before autovacuum's first ANALYZE
    (20 rows): journeys written as customer_id = ANY were read whole through
    journeys_one_active, and the next due time as min() over every due journey (1.4 to 4 ms a
    batch at 6,000 journeys in bench/ingest with the example campaigns); now index probes that
    stop at their rows (store_pg_engine.c)."""
    check_probes(*by_ids_plans(20, analyze=False))


def tool_events(url, *events):
    r = subprocess.run([TOOL, "events", url, *events], capture_output=True, text=True,
                       timeout=60)
    eq(r.returncode, 0, r.stderr)
    return [(line.split()[0], int(line.split()[1]), int(line.split()[2]))
            for line in r.stdout.splitlines()]


@test
def a_batch_of_events_is_one_round_trip_and_keeps_its_order_through_a_race():
    """store_events_insert: a batch's inserts go out together (pipeline mode) inside a
    savepoint of their own. Duplicates and conflicts are told per event. When another writer
    creates one of the batch's customers while the batch runs, that insert cannot settle: the
    savepoint is rolled back and the batch inserted one by one, in order."""
    pg = cluster()
    url = pg.create_database()
    db = url.rsplit("/", 1)[1]
    subprocess.run([TOOL, "migrate", url], capture_output=True, timeout=60, check=True)
    # STORE_OK 0, STORE_DUPLICATE 1, STORE_CONFLICT 2 (store.h).
    got = tool_events(url, "ann:e1", "bob:e1", "ann:e1", "ann:e2", "bob:e1:refund")
    eq([g[1] for g in got], [0, 0, 1, 0, 2], "ok, ok, duplicate, ok, conflict")
    eq([g[2] for g in got if g[1] == 0], [1, 2, 3], "numbered in order")
    eq(pg.psql("SELECT count(*) FROM events", db=db), [["3"]], "three stored")
    # The race: another transaction holds a new customer "xen" uncommitted for a while.
    racer = subprocess.Popen(
        ["psql", "-X", "-q", "-d", url, "-c", "BEGIN; INSERT INTO customers (ext_id,"
         " created_ms, updated_ms) VALUES ('xen', 0, 0); SELECT pg_sleep(1.5); COMMIT;"],
        stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    poll(lambda: pg.psql("SELECT count(*) FROM pg_stat_activity WHERE query LIKE"
                         " '%pg_sleep(1.5)%' AND pid <> pg_backend_pid()", db=db) == [["1"]],
         10, "the racer holds xen")
    got = tool_events(url, "yan:r1", "xen:r1", "zoe:r1")
    eq(racer.wait(timeout=30), 0, racer.stderr.read())
    eq([g[1] for g in got], [0, 0, 0], "all three stored, xen's once the racer committed")
    seqs = [g[2] for g in got]
    check(seqs[0] < seqs[1] < seqs[2], "in the batch's order", seqs)
    check(seqs[0] > 4, "the first attempt was rolled back (its numbers are spent)", seqs)
    eq(pg.psql("SELECT c.ext_id FROM events e JOIN customers c ON c.id = e.customer_id"
               " WHERE e.event_key = 'r1' ORDER BY e.seq", db=db),
       [["yan"], ["xen"], ["zoe"]], "one event each, in order")


@test
def a_newer_database_is_refused():
    pg = cluster()
    url = pg.create_database()
    subprocess.run([TOOL, "migrate", url], capture_output=True, timeout=60, check=True)
    pg.psql("INSERT INTO schema_version VALUES (999, 0)", db=url.rsplit("/", 1)[1])
    r = subprocess.run([TOOL, "migrate", url], capture_output=True, text=True, timeout=60)
    check(r.returncode != 0, "refused")
    check("newer than this nurtured supports" in r.stderr, "says why", r.stderr)


@test
def an_unreachable_server_is_a_clear_error():
    r = subprocess.run([TOOL, "migrate", "postgresql://postgres@127.0.0.1:1/none"],
                       capture_output=True, text=True, timeout=60)
    check(r.returncode != 0, "refused")
    check("cannot connect to PostgreSQL" in r.stderr, "says why", r.stderr)


@test
def a_transaction_that_met_an_error_does_not_commit():
    pg = cluster()
    # The error: from a statement run at once; from one sent in pipeline mode whose failure
    # is read later, past another item's savepoint rolled back (which must not revive the
    # transaction); or unseen by the store, where only COMMIT's command tag tells.
    for mode, said in (("exec", "a statement of the transaction failed"),
                       ("send", "a statement of the transaction failed"),
                       ("tag", "COMMIT of an aborted transaction rolled back")):
        url = pg.create_database()
        r = subprocess.run([TOOL, "aborted-commit", mode, url], capture_output=True,
                           text=True, timeout=60)
        eq(r.returncode, 0, r.stderr)
        # STORE_UNAVAILABLE is 5 (store.h); the heartbeat written before the error is not
        # there.
        eq(r.stdout.strip(), "commit=5 heartbeat=none", f"{mode}: refused, nothing written")
        check(said in r.stderr, f"{mode}: logged", r.stderr)


if __name__ == "__main__":
    run_all()
