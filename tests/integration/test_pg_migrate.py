#!/usr/bin/python3
"""Issue 21: `nurtured migrate --from sqlite:DATA_DIR --to postgresql://...` against a private
cluster. The real daemon builds a varied SQLite store (customers whose consent changed, events
with awkward text, journeys waiting a day, mail sent through the maildir with its payloads, a
suppression, a paused and a scheduled campaign, an inactivity timer, a transactional key, a
segment, a draft broadcast, a conversion); after the copy every table matches row for row.
Then the daemon carries on on PostgreSQL: the same statistics and outbox, the waiting steps run
once each, and new customers and events get fresh ids. Refusals change nothing."""
import atexit
import hashlib
import json
import os
import shutil
import sqlite3
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from ntest import Daemon, NURTURED, check, eq, poll, run_all, skip, test  # noqa: E402
import pgcluster  # noqa: E402

WELCOME = {"id": "welcome", "name": "Welcome", "status": "active", "topic": "follow-ups",
           "trigger": {"event": "signup"},
           "goal": {"event": "purchase", "within": "14d"},
           "steps": [{"id": "hello", "send": {"channel": "mail", "template": "hello"}},
                     {"id": "later", "wait": "1d"},
                     {"id": "followup", "send": {"channel": "mail", "template": "followup"}}]}
REVIEW = {"id": "review", "name": "Review", "status": "active", "topic": "follow-ups",
          "trigger": {"event": "purchase"}, "reentry": "always",
          "key": "event.properties.order_id",
          "steps": [{"id": "thanks", "send": {"channel": "mail", "template": "thanks", "variants": [
              {"name": "a", "weight": 50}, {"name": "b", "weight": 50, "template": "hello"}]}},
                    {"id": "await", "wait": {"event": "review", "timeout": "2d",
                                             "on_event": "sorry", "on_timeout": "end"}},
                    {"id": "sorry", "send": {"channel": "mail", "template": "sorry"}},
                    {"id": "end", "exit": "completed"}]}
HELD = {"id": "held", "name": "Held", "status": "active", "topic": "follow-ups",
        "trigger": {"event": "signup"},
        "steps": [{"id": "settle", "wait": "1d"},
                  {"id": "note", "send": {"channel": "mail", "template": "hello"}}]}
NEWS = {"id": "news", "name": "News", "status": "active", "topic": "newsletter",
        "trigger": {"cron": "0 9 1 1 *"}, "reentry": "always",
        "steps": [{"id": "issue", "send": {"channel": "mail", "template": "hello"}}]}
WINBACK = {"id": "winback", "name": "Winback", "status": "active", "topic": "follow-ups",
           "trigger": {"inactive_for": "30d", "of": ["purchase"]},
           "steps": [{"id": "miss", "send": {"channel": "mail", "template": "hello"}}]}
CAMPAIGNS = (WELCOME, REVIEW, HELD, NEWS, WINBACK)
TEMPLATES = {}
for _t in ("hello", "followup", "thanks", "sorry", "receipt"):
    TEMPLATES[_t + ".subject.mustache"] = _t.capitalize() + ", {{customer.name}}"
    TEMPLATES[_t + ".text.mustache"] = f"{_t}: {{{{customer.name}}}}\n"
    TEMPLATES[_t + ".html.mustache"] = (f"<p>{_t}</p><a href=\"https://shop.example/{_t}\">"
                                        "shop</a>")
# Text that COPY's text format must escape: tabs, newlines, backslashes, and non-ASCII.
AWKWARD = "tab\there\nline two\\back\\\\slash \r ünïcødé \"quoted\" \\N \\x41"
# Tables migrate copies only when the target's schema has them (daemon/cmd_migrate.c).
OPTIONAL = {"outbox_days", "suppression_days", "ui_sessions"}
CUSTOMERS = ["c1", "c2", "c3", "c4", "c5", "c6"]


def cluster():
    if not pgcluster.available():
        skip("PostgreSQL's server is not installed")
    return pgcluster.shared()


def dbname(url):
    return url.rsplit("/", 1)[1]


def migrate(data_dir, url):
    return subprocess.run([NURTURED, "migrate", "--from", "sqlite:" + data_dir, "--to", url],
                          capture_output=True, text=True, timeout=120)


def get(d, path):
    r = d.request("GET", path)
    eq(r.status, 200, f"GET {path}: {r.raw}")
    return r.json


def view(d):
    """What the API says of the campaigns and the outbox: the statistics of each campaign,
    its status, and every message."""
    out = {c["id"]: get(d, f"/v1/campaigns/{c['id']}/stats") for c in CAMPAIGNS}
    out["status"] = {c["id"]: c["status"] for c in get(d, "/v1/campaigns")["campaigns"]}
    out["messages"] = get(d, "/v1/messages?limit=1000")["messages"]
    return out


def maildir_files(path):
    n = 0
    for sub in ("new", "cur"):
        p = os.path.join(path, sub)
        n += len(os.listdir(p)) if os.path.isdir(p) else 0
    return n


def reply_to(message_id, sender):
    return (f"From: Customer <{sender}>\r\nTo: shop@mail.test.example\r\n"
            f"Subject: Re: Hello\r\nMessage-ID: <reply.1@mail.example>\r\n"
            f"In-Reply-To: {message_id}\r\nMIME-Version: 1.0\r\n"
            "Content-Type: text/plain; charset=utf-8\r\n\r\nDanke schön!\r\n").encode()


def build_store():
    """The SQLite daemon with something in every table that matters; stopped at the end."""
    d = Daemon({"store": "sqlite", "public_url": "https://mail.test.example",
                "mail_from": {"name": "Shop", "address": "shop@mail.test.example"}})
    d.config["channels"] = {"mail": {"plugin": "maildir", "path": os.path.join(d.tmp, "maildir")}}
    d.write_config()
    for c in CAMPAIGNS:
        d.write_campaign(c)
    d.write_templates(TEMPLATES)
    d.start()
    for i, cid in enumerate(CUSTOMERS):
        eq(d.request("POST", "/v1/customers", body={
            "id": cid, "email": f"{cid}@example.com", "name": f"Näme \\ {i} \"q\"",
            "attributes": {"plan": "pro" if i % 2 else "free", "note": AWKWARD},
            "consent": {"newsletter": "subscribed"}}).status, 200, cid)
    # Consent changes: c5 leaves the follow-ups, c4 the newsletter; c6 is suppressed.
    eq(d.request("POST", "/v1/customers/c5/unsubscribe", body={"topic": "follow-ups"}).status,
       200, "c5 unsubscribes")
    eq(d.request("POST", "/v1/customers/c4/unsubscribe", body={"topic": "newsletter"}).status,
       200, "c4 unsubscribes")
    eq(d.request("POST", "/v1/suppressions", body={"address": "c6@example.com"}).status, 200,
       "c6 suppressed")
    eq(d.post_events({"events": [{"customer": c, "type": "signup", "id": "s-" + c,
                                  "properties": {"text": AWKWARD}} for c in CUSTOMERS]}).status,
       202, "signups")
    poll(lambda: len(d.sql("SELECT 1 FROM journeys WHERE campaign_id = 'held'")) == 6, 15,
         "the held campaign's journeys")
    eq(d.request("POST", "/v1/campaigns/held/pause").status, 200, "held paused")
    eq(d.post_events({"events": [
        {"customer": "c1", "type": "purchase", "id": "p1", "properties": {"order_id": "o1"}},
        {"customer": "c2", "type": "purchase", "id": "p2", "properties": {"order_id": "o2"}},
        {"customer": "c3", "type": "view", "id": "v1", "properties": {"page": AWKWARD}}]}).status,
       202, "purchases")
    eq(d.request("POST", "/v1/messages", body={"customer": "c1", "template": "receipt",
                                              "id": "receipt-1", "data": {"n": 1}}).status,
       202, "a transactional send")
    # A name is raw text (not JSON): the tab, CR, LF and backslash reach COPY as they are.
    eq(d.request("POST", "/v1/segments", body={
        "id": "pro", "name": "Pro\tplan\r\nline \\ two",
        "condition": {"field": "customer.attributes.plan", "eq": "pro"}}).status, 201,
       "a segment")
    eq(d.request("POST", "/v1/broadcasts", body={
        "id": "dec", "name": "December", "topic": "newsletter", "channel": "mail",
        "audience": "pro", "content": {"subject": "Dec", "text": "Hi\n"}}).status, 201,
       "a draft broadcast")

    def settled():
        busy = d.sql("SELECT count(*) FROM outbox WHERE state NOT IN"
                     " ('sent', 'skipped', 'failed', 'expired')")[0][0]
        thanks = d.sql("SELECT count(*) FROM outbox WHERE step_id = 'thanks'")[0][0]
        conv = d.sql("SELECT count(*) FROM conversions")[0][0]
        return busy == "0" and thanks == "2" and conv == "2"
    poll(settled, 20, "every message delivered, the thanks sent, c1's and c2's conversions")
    # A reply to c3's hello: inbound keeps it, with its raw message.
    mid = d.sql("SELECT message_id FROM outbox o JOIN customers c ON c.id = o.customer_id"
                " WHERE c.ext_id = 'c3'")[0][0]
    eq(d.request("POST", "/v1/inbound", raw=reply_to(mid, "c3@example.com"),
                 headers={"Content-Type": "message/rfc822"}).status, 202, "a reply")
    poll(lambda: d.sql("SELECT count(*) FROM inbound")[0][0] == "1", 10, "the reply kept")
    sent = int(d.sql("SELECT count(*) FROM outbox WHERE state = 'sent'")[0][0])
    poll(lambda: maildir_files(os.path.join(d.tmp, "maildir")) == sent, 10, "the maildir")
    before = view(d)
    eq(d.stop(), 0, "the SQLite daemon stops cleanly")
    return d, before


def norm(v):
    """One value as both sides can show it: SQLite's from Python's sqlite3, PostgreSQL's from
    row_to_json (bytea as "\\x..." hex, numbers as JSON numbers)."""
    if v is None:
        return None
    if isinstance(v, bytes):
        return "\\x" + v.hex()
    if isinstance(v, float):
        return str(int(v)) if v.is_integer() else repr(v)
    return str(v)


def sqlite_tables(db_path):
    con = sqlite3.connect(f"file:{db_path}?mode=ro", uri=True)
    try:
        names = [r[0] for r in con.execute(
            "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%'"
            " ORDER BY name")]
        out = {}
        for t in names:
            cur = con.execute(f'SELECT * FROM "{t}"')
            cols = [c[0] for c in cur.description]
            out[t] = (cols, [tuple(norm(v) for v in row) for row in cur.fetchall()])
        return out
    finally:
        con.close()


def pg_rows(pg, db, table, cols):
    rows = []
    for (text,) in pg.psql(f"SELECT row_to_json(t)::text FROM {table} t", db=db):
        o = json.loads(text)
        rows.append(tuple(norm(o[c]) for c in cols))
    return rows


def digest(rows):
    h = hashlib.sha256()
    for r in sorted(rows, key=repr):
        h.update(repr(r).encode())
    return h.hexdigest()


_store = None


def store():
    """The SQLite store, built once for the tests that only read it."""
    global _store
    if _store is None:
        _store = build_store()
        atexit.register(_store[0].cleanup)
    return _store


def file_hash(path):
    with open(path, "rb") as f:
        return hashlib.sha256(f.read()).hexdigest()


def tables_in(pg, db):
    return {r[0] for r in pg.psql("SELECT tablename FROM pg_tables WHERE schemaname = 'public'",
                                  db=db)}


@test
def every_table_is_copied_row_for_row():
    pg = cluster()
    d, _ = store()
    url = pg.create_database()
    lite_before = file_hash(d.db_path())
    r = migrate(d.config["data_dir"], url)
    eq(r.returncode, 0, f"migrated: {r.stderr}")
    eq(file_hash(d.db_path()), lite_before, "the SQLite store is only read")
    lite = sqlite_tables(d.db_path())
    db = dbname(url)
    summary = {line.split()[0]: line.split()[1] for line in r.stdout.splitlines()
               if len(line.split()) >= 2 and line.split()[1] != "(schema"}
    target = tables_in(pg, db)
    copied = 0
    for table, (cols, rows) in lite.items():
        if table not in target:
            # Counters a target keeps its own way, and login sessions: the only tables a
            # target's schema may lack; the summary says so.
            check(table in OPTIONAL, f"{table}: copied to a target without it", target)
            eq(summary.get(table), "-", f"the summary marks {table} as not copied")
            continue
        eq(summary.get(table), str(len(rows)), f"the summary's count of {table}")
        copied += len(rows)
        got = pg_rows(pg, db, table, cols)
        eq(len(got), len(rows), f"{table}: row count")
        eq(digest(got), digest(rows), f"{table}: checksum of its rows")
    # The store is varied: each of these holds rows.
    for table in ("customers", "consent", "events", "suppressions", "campaign_versions",
                  "journeys", "journey_notes", "outbox", "outbox_payload", "timers",
                  "schedules", "campaign_pauses", "inbound", "purchases", "transactional_keys",
                  "links", "conversions", "assignments", "measure_counts", "segments",
                  "broadcasts", "meta"):
        check(len(lite[table][1]) > 0, f"the SQLite store has rows in {table}")
    eq(summary.get("total"), str(copied), "the total")
    # The ids go on after the copied ones.
    for table in ("customers", "journeys", "journey_notes", "outbox", "inbound", "conversions"):
        nxt = pg.psql(f"SELECT nextval(pg_get_serial_sequence('{table}', 'id')),"
                      f" (SELECT coalesce(max(id), 0) FROM {table})", db=db)[0]
        eq(int(nxt[0]), int(nxt[1]) + 1, f"{table}'s next id")
    nxt = pg.psql("SELECT nextval('events_seq'), (SELECT max(seq) FROM events)", db=db)[0]
    eq(int(nxt[0]), int(nxt[1]) + 1, "the next event's seq")
    # Issue 21: the counters copied replace what the triggers counted as deltas during the
    # copy, and the system mail's visits go on after the copied ones.
    for table in ("stats_counts", "outbox_days", "suppression_days"):
        eq(pg.psql(f"SELECT count(*) FROM {table}_deltas", db=db), [["0"]],
           f"{table}: no deltas left beside the copied counters")
    nxt = pg.psql("SELECT nextval('system_visit_seq'), (SELECT coalesce(max(visit), 0)"
                  " FROM outbox WHERE journey_id = 0)", db=db)[0]
    eq(int(nxt[0]), int(nxt[1]) + 1, "the next system mail's visit")


@test
def a_target_that_keeps_the_counters_gets_the_stores():
    pg = cluster()
    d, _ = store()
    url = pg.create_database()
    db = dbname(url)
    tool = os.path.join(os.path.dirname(NURTURED), "tests", "unit", "pg_tool")
    subprocess.run([tool, "migrate", url], capture_output=True, timeout=60, check=True)
    # A schema with the dashboard's tables (by a migration of its own, or as here), holding
    # rows of its own (what triggers would count as the outbox is copied): replaced.
    pg.psql("CREATE TABLE IF NOT EXISTS outbox_days (day bigint NOT NULL, channel text NOT NULL,"
            " state text NOT NULL, n bigint NOT NULL, PRIMARY KEY (day, channel, state));"
            "CREATE TABLE IF NOT EXISTS suppression_days (day bigint PRIMARY KEY,"
            " n bigint NOT NULL);"
            "CREATE TABLE IF NOT EXISTS ui_sessions (id text PRIMARY KEY, fp text NOT NULL,"
            " created_ms bigint NOT NULL, expires_ms bigint NOT NULL);"
            "INSERT INTO outbox_days VALUES (1, 'mail', 'sent', 99) ON CONFLICT DO NOTHING;"
            "INSERT INTO suppression_days VALUES (-1, 0) ON CONFLICT DO NOTHING", db=db)
    r = migrate(d.config["data_dir"], url)
    eq(r.returncode, 0, f"migrated: {r.stderr}")
    lite = sqlite_tables(d.db_path())
    check(len(lite["outbox_days"][1]) > 0, "the store counts its messages")
    for table in sorted(OPTIONAL):
        cols, rows = lite[table]
        eq(digest(pg_rows(pg, db, table, cols)), digest(rows), f"{table}: the store's rows")


@test
def the_daemon_carries_on_on_postgresql():
    pg = cluster()
    d, before = store()
    url = pg.create_database()
    r = migrate(d.config["data_dir"], url)
    eq(r.returncode, 0, f"migrated: {r.stderr}")
    db = dbname(url)
    p = d.moved_to(url)  # the same configuration, the store moved
    try:
        after = view(p)
        for key in before:
            eq(after[key], before[key], f"{key}: the same on PostgreSQL as on SQLite")
        eq(p.stop(), 0, "stops")

        # A day passes: the welcome journeys' waits end (due now), nothing else moves.
        waiting = {row[0]: row[1] for row in pg.psql(
            "SELECT id, customer_id FROM journeys WHERE campaign_id = 'welcome' AND active = 1"
            " AND due_ms IS NOT NULL", db=db)}
        eq(len(waiting), 6, "six welcome journeys wait for their day")
        pg.psql("UPDATE journeys SET due_ms = (extract(epoch FROM now()) * 1000)::bigint"
                " WHERE campaign_id = 'welcome' AND active = 1", db=db)
        old = pg.psql("SELECT id, journey_id, step_id, state FROM outbox ORDER BY id", db=db)
        p.start()
        eq(p.request("POST", "/v1/customers", body={"id": "c7", "email": "c7@example.com",
                                                   "name": "Seven"}).status, 200,
           "a new customer (a fresh id)")
        eq(p.post_events({"events": [
            {"customer": "c1", "type": "review", "id": "r1"},
            {"customer": "c7", "type": "signup", "id": "s-c7"},
            {"customer": "c7", "type": "purchase", "id": "p7",
             "properties": {"order_id": "o7"}}]}).status, 202, "events after the move")

        def notes(step):
            return pg.psql("SELECT journey_id, action FROM journey_notes WHERE step_id ="
                           f" '{step}' AND action IN ('send', 'skip') ORDER BY journey_id", db=db)
        poll(lambda: len(notes("followup")) == 6, 20, "each waiting journey's follow-up")
        poll(lambda: len(notes("sorry")) == 1, 20, "c1's apology after its review")
        poll(lambda: pg.psql("SELECT count(*) FROM outbox o JOIN customers c ON"
                             " c.id = o.customer_id WHERE c.ext_id = 'c7'", db=db)[0][0] == "2",
             20, "the new customer's hello and thanks")
        poll(lambda: pg.psql("SELECT count(*) FROM outbox WHERE state NOT IN"
                             " ('sent', 'skipped', 'failed', 'expired')", db=db)[0][0] == "0",
             20, "everything delivered")
        # Each waiting journey ran its follow-up once and ended; no step ran twice.
        eq(sorted(int(j) for j, _ in notes("followup")), sorted(int(j) for j in waiting),
           "one follow-up for each journey that waited, none for another")
        eq(pg.psql("SELECT count(*) FROM journeys WHERE id IN (%s) AND active = 0"
                   " AND exit_reason = 'completed'" % ",".join(waiting), db=db)[0][0], "6",
           "the waiting journeys completed")
        eq(pg.psql("SELECT journey_id, step_id, count(*) FROM journey_notes WHERE action IN"
                   " ('send', 'skip') GROUP BY journey_id, step_id HAVING count(*) > 1", db=db),
           [], "no step of any journey ran twice")
        eq(pg.psql("SELECT id, journey_id, step_id, state FROM outbox WHERE id <= %s"
                   " ORDER BY id" % old[-1][0], db=db), old,
           "the messages sent before the move are untouched")
        new = pg.psql("SELECT step_id, state, reason FROM outbox"
                      f" WHERE id > {old[-1][0]}", db=db)
        eq(sorted(new), sorted([["followup", "sent", ""]] * 4 + [
            ["followup", "skipped", "suppressed"], ["followup", "skipped", "unsubscribed"],
            ["hello", "sent", ""], ["sorry", "sent", ""], ["thanks", "sent", ""]]),
           "the new messages: six follow-ups (c5 unsubscribed, c6 suppressed), the apology,"
           " c7's two")
        sent = int(pg.psql("SELECT count(*) FROM outbox WHERE state = 'sent'", db=db)[0][0])
        poll(lambda: maildir_files(os.path.join(d.tmp, "maildir")) == sent, 10,
             "one file per message sent: nothing sent twice")
        s = get(p, "/v1/campaigns/welcome/stats")
        eq((s["sent"], s["entered"]), (before["welcome"]["sent"] + 5, 7),
           "the welcome statistics go on from SQLite's: four follow-ups and c7's hello more")
        eq(view(p)["status"]["held"], "paused", "the held campaign is still paused")
        eq(p.stop(), 0, "stops")
    finally:
        p.stop()
        shutil.rmtree(p.tmp, ignore_errors=True)


@test
def a_target_that_is_not_empty_is_refused_and_unchanged():
    pg = cluster()
    d, _ = store()
    url = pg.create_database()
    eq(migrate(d.config["data_dir"], url).returncode, 0, "the first copy")
    db = dbname(url)
    counts = pg.psql("SELECT (SELECT count(*) FROM customers), (SELECT count(*) FROM events),"
                     " (SELECT count(*) FROM meta)", db=db)
    r = migrate(d.config["data_dir"], url)
    eq(r.returncode, 1, "refused")
    check("not empty" in r.stderr and "customers" in r.stderr, "says why", r.stderr)
    eq(pg.psql("SELECT (SELECT count(*) FROM customers), (SELECT count(*) FROM events),"
               " (SELECT count(*) FROM meta)", db=db), counts, "nothing changed")


@test
def an_unreachable_target_is_a_clear_error():
    d, _ = store()
    r = migrate(d.config["data_dir"], "postgresql://postgres@127.0.0.1:1/none")
    eq(r.returncode, 1, "refused")
    check("cannot connect to PostgreSQL" in r.stderr, "says why", r.stderr)


@test
def a_missing_data_dir_is_a_clear_error():
    pg = cluster()
    url = pg.create_database()
    r = migrate("/nonexistent/nurtured", url)
    eq(r.returncode, 1, "refused")
    check("no data directory /nonexistent/nurtured" in r.stderr, "says why", r.stderr)
    empty = tempfile.mkdtemp(prefix="nt-test-")
    try:
        r = migrate(empty, url)
        eq(r.returncode, 1, "refused")
        check("has no SQLite store" in r.stderr, "says why", r.stderr)
    finally:
        shutil.rmtree(empty)
    eq(tables_in(pg, dbname(url)), set(), "the target is untouched")
    r = subprocess.run([NURTURED, "migrate", "--from", "/tmp", "--to", url], capture_output=True,
                       text=True, timeout=30)
    eq(r.returncode, 2, "--from needs sqlite:")
    check("--from must be sqlite:DATA_DIR" in r.stderr, "says so", r.stderr)


def altered_copy(d, sql):
    """A copy of the store (SQLite's backup API), changed by SQL: its data dir."""
    tmp = tempfile.mkdtemp(prefix="nt-test-")
    src = sqlite3.connect(f"file:{d.db_path()}?mode=ro", uri=True)
    dst = sqlite3.connect(os.path.join(tmp, "nurtured.db"))
    src.backup(dst)
    src.close()
    dst.executescript(sql)
    dst.close()
    return tmp


@test
def an_old_schema_is_refused_with_the_way_forward():
    pg = cluster()
    d, _ = store()
    con = sqlite3.connect(f"file:{d.db_path()}?mode=ro", uri=True)
    latest = con.execute("PRAGMA user_version").fetchone()[0]
    con.close()
    tmp = altered_copy(d, f"PRAGMA user_version = {latest - 1};")
    try:
        url = pg.create_database()
        r = migrate(tmp, url)
        eq(r.returncode, 1, "refused")
        check(f"schema version {latest - 1}" in r.stderr and "start this nurtured once" in
              r.stderr, "says what to do", r.stderr)
        eq(tables_in(pg, dbname(url)), set(), "the target is untouched")
    finally:
        shutil.rmtree(tmp)


@test
def a_table_the_tool_does_not_know_is_refused():
    pg = cluster()
    d, _ = store()
    tmp = altered_copy(d, "CREATE TABLE newer_feature (x INTEGER); INSERT INTO newer_feature"
                          " VALUES (1);")
    try:
        url = pg.create_database()
        r = migrate(tmp, url)
        eq(r.returncode, 1, "refused: it would be left behind")
        check("'newer_feature'" in r.stderr, "names the table", r.stderr)
        eq(tables_in(pg, dbname(url)), set(), "the target is untouched")
    finally:
        shutil.rmtree(tmp)


if __name__ == "__main__":
    run_all()
