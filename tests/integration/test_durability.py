#!/usr/bin/python3
"""Nothing acknowledged is lost: kill -9 after 202s, a full disk, a locked store, old schemas."""
import os
import sqlite3
import subprocess
import sys
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from ntest import STORE, Daemon, check, eq, poll, run_all, skip, test  # noqa: E402


def sqlite_only(why):
    """Ends a test that checks what only the SQLite backend has (its file, its migrations)."""
    if STORE == "postgresql":
        skip(f"SQLite only: {why}")


class StoreHold:
    """Holds the daemon's store from outside, so that a request waits in it: SQLite's exclusive
    lock, or on PostgreSQL the tables an event's POST writes, locked in a psql session."""

    def __init__(self, d):
        if d.on_postgresql():
            self.psql = subprocess.Popen(["psql", "-X", "-q", "-At", "-d", d.config["store"]],
                                         stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                         text=True)
            self.psql.stdin.write("BEGIN;\nLOCK TABLE customers, events IN ACCESS EXCLUSIVE"
                                  " MODE;\n\\echo locked\n")
            self.psql.stdin.flush()
            eq(self.psql.stdout.readline().strip(), "locked", "the tables locked")
        else:
            self.psql = None
            self.db = sqlite3.connect(d.db_path(), timeout=5, isolation_level=None)
            self.db.execute("BEGIN EXCLUSIVE")

    def release(self):
        if self.psql is not None:
            self.psql.communicate("ROLLBACK;\n", timeout=10)
        else:
            self.db.execute("ROLLBACK")
            self.db.close()


def stored_ids(d, cid):
    r = d.request("GET", "/v1/customers/" + cid)
    if r.status == 404:
        return set()
    eq(r.status, 200, "GET customer")
    return {e["id"] for e in r.json["events"]}


@test
def kill9_right_after_202_loses_nothing():
    d = Daemon()
    try:
        d.start()
        r = d.post_events({"id": "k9", "customer": "crash", "type": "purchase"})
        eq(r.status, 202, "accepted")
        d.kill9()
        d.start()
        eq(stored_ids(d, "crash"), {"k9"}, "the event survived kill -9")
        d.stop()
    finally:
        d.cleanup()


@test
def kill9_under_concurrent_load_keeps_every_acknowledged_event():
    d = Daemon()
    acked, lock, stop = [], threading.Lock(), threading.Event()

    def writer(n):
        i = 0
        while not stop.is_set():
            eid = f"w{n}-{i}"
            i += 1
            try:
                r = d.post_events({"id": eid, "customer": f"load-{n}", "type": "purchase"},
                                  timeout=5)
            except OSError:
                return  # the daemon died under us: this one was never acknowledged
            if r.status == 202:
                with lock:
                    acked.append((n, eid))

    try:
        d.start()
        threads = [threading.Thread(target=writer, args=(n,)) for n in range(8)]
        for t in threads:
            t.start()
        poll(lambda: len(acked) >= 200, 30, "200 acknowledged events")
        d.kill9()
        stop.set()
        for t in threads:
            t.join()
        d.start()
        missing = [eid for n, eid in acked
                   if eid not in stored_ids_all(d, f"load-{n}")]
        eq(missing, [], f"of {len(acked)} acknowledged events, missing")
        d.stop()
    finally:
        stop.set()
        d.cleanup()


_cache = {}


def stored_ids_all(d, cid):
    # GET returns the latest 20 events; read the store directly for the full list.
    if cid not in _cache:
        _cache[cid] = {row[0] for row in d.sql(
            "SELECT e.event_key FROM events e JOIN customers c ON c.id = e.customer_id "
            f"WHERE c.ext_id = '{cid}'")}
    return _cache[cid]


@test
def full_disk_answers_503_with_retry_after_and_recovers():
    sqlite_only("the daemon's file size limit is a full disk for its database file")
    d = Daemon()
    try:
        d.start()
        eq(d.post_events({"id": "before", "customer": "disk", "type": "t"}).status, 202, "ok")
        # Cap the daemon's file size: the WAL cannot grow, as on a full disk.
        subprocess.run(["prlimit", f"--pid={d.proc.pid}", "--fsize=1:unlimited"], check=True)
        big = {"events": [{"id": f"f{i}", "customer": "disk", "type": "t",
                           "properties": {"pad": "x" * 2000}} for i in range(200)]}
        r = d.post_events(big)
        eq(r.status, 503, "full disk")
        check(r.headers.get("Retry-After"), "Retry-After header", r.headers)
        eq(d.request("GET", "/readyz", auth=False).status, 503, "not ready")
        eq(d.request("GET", "/healthz", auth=False).status, 200, "still alive")
        subprocess.run(["prlimit", f"--pid={d.proc.pid}", "--fsize=unlimited"], check=True)
        eq(d.post_events(big).status, 202, "accepted once there is room")
        ids = stored_ids_all(d, "disk")
        eq(len(ids), 201, "the batch stored whole, exactly once")
        eq(d.stop(), 0, "clean stop")
    finally:
        d.cleanup()


@test
def healthz_answers_while_the_store_is_blocked():
    d = Daemon()
    try:
        d.start()
        eq(d.post_events({"id": "x0", "customer": "busy", "type": "t"}).status, 202, "warm up")
        hold = StoreHold(d)  # the store loop now waits on the lock
        result = {}

        def post():
            result["r"] = d.post_events({"id": "x1", "customer": "busy", "type": "t"},
                                        timeout=30)

        t = threading.Thread(target=post)
        t.start()
        # The POST is in the daemon, waiting (this /metrics request is the other one).
        poll(lambda: d.metric("nurtured_http_inflight") >= 2, 5, "the POST to arrive")
        check("r" not in result, "the POST waits for the store", result)
        worst = 0.0
        for _ in range(20):
            t0 = time.monotonic()
            eq(d.request("GET", "/healthz", auth=False).status, 200, "healthz")
            worst = max(worst, time.monotonic() - t0)
        check(worst < 0.05, f"healthz within 50 ms while the store is blocked (worst "
                            f"{worst * 1000:.1f} ms)")
        hold.release()
        t.join(30)
        eq(result["r"].status, 202, "the POST completes once the store is free")
        d.stop()
    finally:
        d.cleanup()


@test
def a_newer_schema_is_refused_clearly():
    d = Daemon()
    try:
        d.start()
        d.stop()
        if d.on_postgresql():
            d.sql("INSERT INTO schema_version (version, migrated_ms) VALUES (99, 0)")
        else:
            db = sqlite3.connect(d.db_path())
            db.execute("PRAGMA user_version = 99")
            db.commit()
            db.close()
        d.start(wait=False)
        rc = d.proc.wait(10)
        d.log.close()
        eq(rc, 1, "exit code")
        check("schema version 99 is newer" in d.read_log(), "clear message", d.read_log())
    finally:
        d.cleanup()


@test
def a_version_1_database_is_migrated_with_its_data():
    sqlite_only("PostgreSQL's schema began at SQLite's version 14")
    d = Daemon()
    try:
        d.start()
        eq(d.post_events({"id": "old", "customer": "v1", "type": "t"}).status, 202, "stored")
        d.stop()
        db = sqlite3.connect(d.db_path())  # turn it back into a version 1 database
        v1 = {"meta", "customers", "consent", "events", "suppressions"}
        for (t,) in db.execute("SELECT name FROM sqlite_master WHERE type = 'trigger'"
                               ).fetchall():
            db.execute(f"DROP TRIGGER {t}")  # later versions' triggers (schema 15's counters)
        for (t,) in db.execute("SELECT name FROM sqlite_master WHERE type = 'table' "
                               "AND name NOT LIKE 'sqlite_%'").fetchall():
            if t not in v1:
                db.execute(f"DROP TABLE {t}")
        for (i,) in db.execute("SELECT name FROM sqlite_master WHERE type = 'index' "
                               "AND sql IS NOT NULL AND name <> 'events_seq'").fetchall():
            db.execute(f"DROP INDEX {i}")  # later versions' indexes
        v1_columns = {
            "customers": {"id", "ext_id", "email", "name", "locale", "timezone", "birthday",
                          "attributes", "email_hash", "created_ms", "updated_ms", "erased_ms"},
            "consent": {"customer_id", "topic", "state", "updated_ms", "source"},
        }
        for table, keep in v1_columns.items():
            for row in db.execute(f"PRAGMA table_info({table})").fetchall():
                if row[1] not in keep:
                    db.execute(f"ALTER TABLE {table} DROP COLUMN {row[1]}")
        db.execute("DELETE FROM meta WHERE key = 'engine_cursor'")
        db.execute("PRAGMA user_version = 1")
        db.commit()
        db.close()
        d.start()
        eq(stored_ids(d, "v1"), {"old"}, "data kept")
        check("migrating schema 1 -> 2" in d.read_log(), "migrated", d.read_log())
        check("migrating schema 2 -> 3" in d.read_log(), "migrated on", d.read_log())
        check("migrating schema 3 -> 4" in d.read_log(), "and on", d.read_log())
        check("migrating schema 4 -> 5" in d.read_log(), "and on to 5", d.read_log())
        d.stop()
    finally:
        d.cleanup()


@test
def a_version_3_outbox_keeps_its_queued_messages():
    """Schema 4 moved payloads out of the outbox rows: a message queued under version 3 is
    delivered, byte for byte, after the upgrade."""
    sqlite_only("PostgreSQL's schema began at SQLite's version 14")
    d = Daemon({"channels": {"mail": {"plugin": "smtp", "host": "127.0.0.1", "port": 9,
                                      "starttls": "none", "retry": {"initial": "1h"}}}})
    try:
        d.write_send_campaign("c", "order", "t")
        d.write_templates({f"t.{part}.mustache": "Hello {{customer.name}}\n"
                           for part in ("subject", "text")})
        d.start()
        eq(d.request("POST", "/v1/customers", body={"id": "v3", "email": "v3@example.com",
                                                    "name": "Vee"}).status, 200, "customer")
        eq(d.post_events({"id": "o1", "customer": "v3", "type": "order"}).status, 202, "event")
        poll(lambda: d.request("GET", "/v1/messages?state=deferred").json["messages"], 15,
             "the message deferred (no relay on port 9)")
        d.stop()
        db = sqlite3.connect(d.db_path())  # back to version 3: the payload in the row
        want = db.execute("SELECT payload FROM outbox_payload").fetchone()[0]
        db.execute("UPDATE outbox SET payload = (SELECT payload FROM outbox_payload p"
                   " WHERE p.id = outbox.id), due_ms = 0")
        db.execute("DROP TABLE outbox_payload")
        db.execute("PRAGMA user_version = 3")
        db.commit()
        db.close()
        maildir = os.path.join(d.tmp, "maildir")
        d.config["channels"] = {"mail": {"plugin": "maildir", "path": maildir}}
        d.write_config()
        d.start()
        poll(lambda: d.request("GET", "/v1/messages?state=sent").json["messages"], 15,
             "sent after the upgrade")
        check("migrating schema 3 -> 4" in d.read_log(), "migrated", d.read_log())
        files = os.listdir(os.path.join(maildir, "new"))
        eq(len(files), 1, "one message delivered")
        with open(os.path.join(maildir, "new", files[0]), "rb") as f:
            eq(f.read(), want, "the payload as it was queued")
        d.stop()
    finally:
        d.cleanup()


@test
def a_postgresql_schema_is_migrated_once_and_its_indexes_serve_the_engine():
    if STORE != "postgresql":
        skip("PostgreSQL only (NURTURED_TEST_STORE=postgresql)")
    d = Daemon()
    try:
        d.start()
        d.stop()
        d.start()
        d.stop()
        log = d.read_log()
        eq(log.count("migrating schema 0 -> 1"), 1, "first migration once over two starts")
        versions = [int(r[0]) for r in d.sql("SELECT version FROM schema_version ORDER BY 1")]
        eq(versions, list(range(1, len(versions) + 1)), "every version recorded once")
        eq(log.count("migrating schema"), len(versions), "each migration run once")
        # An event reads what it can touch, by index (with sequential scans off: the tables
        # are empty, where the planner would rightly scan).
        for sql, index in (
                ("SELECT id FROM journeys WHERE customer_id = 1 AND active = 1"
                 " AND wait_event = 'x'", "journeys_waiting"),
                ("SELECT count(*) FROM outbox WHERE customer_id = 1 AND marketing = 1"
                 " AND created_ms > 0 AND state <> 'skipped'", "outbox_marketing"),
                ("SELECT 1 FROM journey_notes WHERE customer_id = 1 AND campaign_id = 'c'"
                 " AND action = 'send' AND at_ms >= 0", "journey_notes_sends"),
                ("SELECT 1 FROM journey_notes WHERE journey_id = 1 AND action = 'goal'",
                 "journey_notes_goals"),
                ("SELECT count(*) FROM events WHERE customer_id = 1 AND type = 'x'"
                 " AND time_ms >= 0", "events_type"),
                ("UPDATE journeys SET due_ms = 1 WHERE campaign_id = 'c' AND active = 1"
                 " AND due_ms IS NULL AND wait_event IS NULL", "journeys_held")):
            plan = " ".join(r[0] for r in d.sql("SET enable_seqscan = off; EXPLAIN " + sql))
            check(index in plan, f"{index} serves it", sql, plan)
    finally:
        d.cleanup()


@test
def a_schema_is_migrated_forward_once():
    sqlite_only("SQLite's migrations, query plans and journal mode")
    d = Daemon()
    try:
        d.start()
        d.stop()
        d.start()
        d.stop()
        log = d.read_log()
        eq(log.count("migrating schema 0 -> 1"), 1, "first migration once over two starts")
        eq(log.count("migrating schema 1 -> 2"), 1, "second migration once over two starts")
        eq(log.count("migrating schema 2 -> 3"), 1, "third migration once over two starts")
        eq(log.count("migrating schema 3 -> 4"), 1, "fourth migration once over two starts")
        eq(log.count("migrating schema 5 -> 6"), 1, "sixth migration once over two starts")
        eq(log.count("migrating schema 4 -> 5"), 1, "fifth migration once over two starts")
        eq(log.count("migrating schema 6 -> 7"), 1, "seventh migration once over two starts")
        eq(log.count("migrating schema 7 -> 8"), 1, "eighth migration (inbound) once")
        eq(log.count("migrating schema 8 -> 9"), 1, "ninth migration once over two starts")
        eq(log.count("migrating schema 9 -> 10"), 1, "tenth migration (issue 20) once")
        eq(log.count("migrating schema 10 -> 11"), 1, "transactional keys (issue 20) once")
        eq(log.count("migrating schema 11 -> 12"), 1, "the dashboard's indexes (issue 22) once")
        eq(log.count("migrating schema 12 -> 13"), 1, "measuring success (issue 19) once")
        eq(log.count("migrating schema 13 -> 14"), 1, "broadcasts and segments (issue 17) once")
        eq(log.count("migrating schema 14 -> 15"), 1, "the dashboard's counters (issue 22) once")
        db = sqlite3.connect(d.db_path())
        eq(db.execute("PRAGMA user_version").fetchone()[0], 15, "version")
        # Issue 15: an event reads what it can touch, by index, not the customer's history.
        for sql, index in (
                ("SELECT id FROM journeys WHERE customer_id = 1 AND active = 1"
                 " AND wait_event = 'x'", "journeys_waiting"),
                ("SELECT count(*) FROM outbox WHERE customer_id = 1 AND marketing = 1"
                 " AND created_ms > 0 AND state <> 'skipped'", "outbox_marketing"),
                ("SELECT 1 FROM journey_notes WHERE customer_id = 1 AND campaign_id = 'c'"
                 " AND action = 'send' AND at_ms >= 0", "journey_notes_sends"),
                ("SELECT 1 FROM journey_notes WHERE journey_id = 1 AND action = 'goal'",
                 "journey_notes_goals"),
                ("SELECT count(*) FROM events WHERE customer_id = 1 AND type = 'x'"
                 " AND time_ms >= 0", "events_type"),
                # Issue 22: the dashboard's search by the start of an email or a name.
                ("SELECT ext_id FROM customers WHERE email >= 'an' COLLATE NOCASE"
                 " AND email < 'ao' COLLATE NOCASE AND erased_ms IS NULL"
                 " ORDER BY email COLLATE NOCASE LIMIT 50", "customers_email_nocase"),
                ("SELECT ext_id FROM customers WHERE name >= 'an' COLLATE NOCASE"
                 " AND name < 'ao' COLLATE NOCASE AND erased_ms IS NULL"
                 " ORDER BY name COLLATE NOCASE LIMIT 50", "customers_name_nocase")):
            plan = " ".join(r[3] for r in db.execute("EXPLAIN QUERY PLAN " + sql))
            check(index in plan, f"{index} serves it", sql, plan)
        plan = " ".join(r[3] for r in db.execute(
            "EXPLAIN QUERY PLAN UPDATE journeys SET due_ms = 1 WHERE campaign_id = 'c'"
            " AND active = 1 AND due_ms IS NULL AND wait_event IS NULL"))
        check("journeys_held" in plan, "releasing held journeys reads only those", plan)
        indexes = {r[0] for r in db.execute("SELECT name FROM sqlite_master WHERE type = 'index'")}
        check("outbox_due" not in indexes and "outbox_channel_due" in indexes,
              "the unused outbox_due is gone", indexes)
        eq(db.execute("PRAGMA journal_mode").fetchone()[0], "wal", "WAL mode")
        db.close()
    finally:
        d.cleanup()



@test
def a_failing_checkpoint_is_logged_once_not_ten_times_a_second():
    # Issue 18: with a full disk, "checkpoint: database or disk is full" came 10 times a second.
    sqlite_only("checkpoints are SQLite's WAL")
    d = Daemon()
    try:
        d.start()
        pad = {"events": [{"id": f"pad{i}", "customer": "pad", "type": "t",
                           "properties": {"pad": "x" * 2000}} for i in range(200)]}
        eq(d.post_events(pad).status, 202, "a database of some size")
        time.sleep(1)  # checkpointed into the database file
        size = os.path.getsize(d.db_path())
        # The database file may not grow; the WAL, written again from its start, fits.
        subprocess.run(["prlimit", f"--pid={d.proc.pid}", f"--fsize={size}:unlimited"],
                       check=True)
        for i in range(5):
            d.post_events({"events": [{"id": f"cp{i}-{j}", "customer": f"cp{i}-{j}",
                                       "type": "t"} for j in range(20)]})
        poll(lambda: "checkpoint:" in d.read_log(), 10, "the checkpoint failure logged")
        time.sleep(3)
        n = d.read_log().count("checkpoint:")
        check(n <= 2, f"the failure logged once, not on every try ({n} lines in 3 s)",
              d.read_log()[-1500:])
        subprocess.run(["prlimit", f"--pid={d.proc.pid}", "--fsize=unlimited"], check=True)
        eq(d.stop(), 0, "clean stop")
    finally:
        d.cleanup()

run_all()
