#!/usr/bin/python3
"""Issue 21: the demo's data, moved. The daemon runs on SQLite with the demo's own workload
(campaigns/ and its templates as demo.sh installs them, conf/demo's customers and events posted
as demo.sh posts them, Anna's one-click unsubscribe and her feedback), then a suppression and a
goal, so that journeys are mid-way: messages sent and skipped, waits and timers pending, a
schedule armed, consent given and withdrawn, notes and a conversion. It stops; `nurtured
migrate` copies the store into a fresh database of the test's private cluster; a daemon on
each store shows the same statistics, outbox (with the payloads' hashes), customers, journeys,
notes, suppressions, timers and schedules. Then the daemon carries on on PostgreSQL: the
pending waits, timers and schedule come due (their times moved to now, as days passing would),
new events arrive, and every step runs once, none is lost, every message is delivered once,
and the statistics equal a recount of the journeys, the outbox and the notes."""
import atexit
import glob
import hashlib
import http.client
import json
import os
import shutil
import sqlite3
import subprocess
import sys
import time
from datetime import datetime, timedelta, timezone
from zoneinfo import ZoneInfo

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from ntest import Daemon, NURTURED, check, eq, poll, run_all, skip, test  # noqa: E402
import pgcluster  # noqa: E402

SRC = os.environ.get("NT_SRCDIR") or os.path.join(os.path.dirname(__file__), "..", "..")
DEMO = os.path.join(SRC, "conf", "demo")
sys.path.insert(0, DEMO)
import workload  # noqa: E402  (conf/demo/workload.py: what demo.sh posts besides the files)

# demo.sh's configuration but for the listener, the token and the data directory: the example
# campaigns and templates, the default channels (Maildirs under data_dir).
CONFIG = {"store": "sqlite",
          "campaigns_dir": os.path.join(SRC, "campaigns"),
          "templates_dir": os.path.join(SRC, "campaigns", "templates"),
          "mail_from": {"name": "Fernhill Home", "address": "hello@fernhill.example"}}
FINAL = ("sent", "skipped", "failed", "expired", "bounced")
# The skips only a journey note records (daemon/store_sqlite.h, STATS_NOTE_SKIPS).
NOTE_SKIPS = ("already_sent", "stale", "frequency_cap")


def campaigns():
    """The example campaigns as the daemon loads them: id -> the parsed file."""
    out = {}
    for path in sorted(glob.glob(os.path.join(SRC, "campaigns", "*.json"))):
        with open(path) as f:
            c = json.load(f)
        if "steps" in c:
            out[c["id"]] = c
    return out


CAMPAIGNS = campaigns()


def get(d, path):
    r = d.request("GET", path)
    eq(r.status, 200, f"GET {path}: {r.raw}")
    return r.json


def customer_ids():
    with open(os.path.join(DEMO, "customers.jsonl")) as f:
        return [json.loads(line)["id"] for line in f if line.strip()]


def rows(d, sql_sqlite, sql_pg=None):
    """SQL on either store, NULL as "" on both (Daemon.sql gives None on SQLite)."""
    q = sql_pg if (sql_pg and d.on_postgresql()) else sql_sqlite
    return [["" if v is None else v for v in r] for r in d.sql(q)]


def outbox(d):
    """Every message: id, state, reason, channel, campaign, step, visit, customer, journey,
    Message-ID and the hash of its payload (in the row or in outbox_payload; a skip has
    none)."""
    hexed = ("lower(hex(o.payload)), lower(hex(p.payload))",
             "encode(o.payload, 'hex'), encode(p.payload, 'hex')")
    q = ("SELECT o.id, o.state, coalesce(o.reason, ''), o.channel, o.campaign_id, o.step_id,"
         " o.visit, c.ext_id, o.journey_id, o.message_id, %s FROM outbox o"
         " JOIN customers c ON c.id = o.customer_id"
         " LEFT JOIN outbox_payload p ON p.id = o.id ORDER BY o.id")
    out = []
    for r in rows(d, q % hexed[0], q % hexed[1]):
        payload = r[10] or r[11]
        check(payload != "" or r[1] == "skipped", f"message {r[0]} has its payload", r)
        out.append(tuple(r[:10]) + (hashlib.sha256(payload.encode()).hexdigest(),))
    return out


def view(d):
    """What a daemon on either store shows of the demo's data: through the API the statistics
    of every campaign, the campaigns, the messages, each customer (consent and its log,
    events, journeys, notes) and the suppressions; through SQL the payloads, the journeys'
    positions, the inactivity timers and the schedules, which the API does not show."""
    out = {"campaigns": get(d, "/v1/campaigns")["campaigns"]}
    check({c["id"] for c in out["campaigns"]} == set(CAMPAIGNS), "the example campaigns run",
          out["campaigns"])
    for cid in CAMPAIGNS:
        out["stats " + cid] = get(d, f"/v1/campaigns/{cid}/stats")
    out["messages"] = get(d, "/v1/messages?limit=1000")["messages"]
    for cid in customer_ids():
        out["customer " + cid] = get(d, "/v1/customers/" + cid)
    out["suppressions"] = get(d, "/v1/suppressions")["suppressions"]
    out["status outbox"] = get(d, "/v1/status")["outbox"]
    out["outbox"] = outbox(d)
    out["journeys"] = rows(d, "SELECT j.id, j.campaign_id, c.ext_id, j.jkey, j.active, j.step,"
                              " j.visit, j.due_ms, j.wait_event, j.exit_reason FROM journeys j"
                              " JOIN customers c ON c.id = j.customer_id ORDER BY j.id")
    out["notes"] = rows(d, "SELECT id, journey_id, campaign_id, step_id, action, reason, at_ms"
                           " FROM journey_notes ORDER BY id")
    out["timers"] = rows(d, "SELECT t.campaign_id, c.ext_id, t.due_ms FROM timers t"
                            " JOIN customers c ON c.id = t.customer_id ORDER BY 1, 2")
    out["schedules"] = rows(d, "SELECT campaign_id, version, due_ms, run_ms, cursor"
                               " FROM schedules ORDER BY 1")
    out["conversions"] = rows(d, "SELECT id, campaign_id, journey_id, step_id FROM conversions"
                                 " ORDER BY id")
    return out


def recount(d):
    """The figures of GET /v1/campaigns/{id}/stats counted from the journeys, the outbox and
    the notes (docs/api.md's table), to hold against the counters the triggers keep."""
    out = {cid: {"entered": 0, "active": 0, "exited": {}, "sent": 0, "failed": 0,
                 "skipped": {}, "conversions": 0, "steps": {}} for cid in CAMPAIGNS}
    for cid, active, reason in rows(d, "SELECT campaign_id, active,"
                                       " coalesce(exit_reason, 'unknown') FROM journeys"):
        s = out[cid]
        s["entered"] += 1
        if active == "1":
            s["active"] += 1
        else:
            s["exited"][reason] = s["exited"].get(reason, 0) + 1

    def step(s, sid):
        return s["steps"].setdefault(sid, {"sent": 0, "failed": 0, "skipped": 0})
    for cid, sid, state, reason in rows(d, "SELECT campaign_id, step_id, state,"
                                           " coalesce(reason, 'unknown') FROM outbox"
                                           " WHERE journey_id <> 0"):
        s = out[cid]
        if state == "sent":
            s["sent"] += 1
            step(s, sid)["sent"] += 1
        elif state in ("failed", "expired"):
            s["failed"] += 1
            step(s, sid)["failed"] += 1
        elif state == "skipped":
            s["skipped"][reason] = s["skipped"].get(reason, 0) + 1
            step(s, sid)["skipped"] += 1
    goals = {cid: set() for cid in CAMPAIGNS}
    for jid, cid, sid, action, reason in rows(d, "SELECT journey_id, campaign_id, step_id,"
                                                 " action, reason FROM journey_notes"
                                                 " WHERE action IN ('skip', 'goal')"):
        s = out[cid]
        if action == "goal":
            goals[cid].add(jid)  # once per journey
        elif reason in NOTE_SKIPS:
            s["skipped"][reason] = s["skipped"].get(reason, 0) + 1
            step(s, sid)["skipped"] += 1
    for cid, s in out.items():
        s["conversions"] = len(goals[cid])
    return out


def check_counts(d, where):
    """Every campaign's statistics and /v1/campaigns equal the recount."""
    want = recount(d)
    listed = {c["id"]: c for c in get(d, "/v1/campaigns")["campaigns"]}
    for cid, w in want.items():
        s = get(d, f"/v1/campaigns/{cid}/stats")
        got = {k: s[k] for k in ("entered", "active", "exited", "sent", "failed", "skipped",
                                 "conversions")}
        got["steps"] = {st["step"]: {k: st[k] for k in ("sent", "failed", "skipped")}
                        for st in s["steps"]}
        for sid in got["steps"]:
            w["steps"].setdefault(sid, {"sent": 0, "failed": 0, "skipped": 0})
        eq(got, w, f"{where}: {cid}'s statistics against a recount")
        eq((listed[cid]["entered"], listed[cid]["active"]), (w["entered"], w["active"]),
           f"{where}: {cid} in /v1/campaigns against a recount")


def maildir_files(data_dir):
    """Messages delivered to the default channels' Maildirs (mail and helpdesk)."""
    n = 0
    for box in ("maildir", "helpdesk"):
        for sub in ("new", "cur"):
            p = os.path.join(data_dir, box, sub)
            n += len(os.listdir(p)) if os.path.isdir(p) else 0
    return n


def settled(d):
    return rows(d, "SELECT count(*) FROM outbox WHERE state NOT IN ('%s')"
                % "', '".join(FINAL))[0][0] == "0"


def one_click(d, link):
    """The RFC 8058 POST a mail client sends for the List-Unsubscribe link (as demo.sh)."""
    path = link.split(f"127.0.0.1:{d.port}", 1)[1]
    conn = http.client.HTTPConnection("127.0.0.1", d.port, timeout=10)
    try:
        conn.request("POST", path, body="List-Unsubscribe=One-Click",
                     headers={"Content-Type": "application/x-www-form-urlencoded"})
        return conn.getresponse().status
    finally:
        conn.close()


def run_demo(d):
    """What ./demo.sh does to its daemon, step by step, with the same files and requests."""
    with open(os.path.join(DEMO, "customers.jsonl"), "rb") as f:
        for line in f:
            eq(d.request("POST", "/v1/customers", raw=line).status, 200, line)
    batch = workload.batch().encode()
    r = d.request("POST", "/v1/events", raw=batch)
    eq((r.status, r.json["accepted"]), (202, 5), "the demo's events")
    r = d.request("POST", "/v1/events", raw=batch)
    eq((r.status, r.json["duplicates"]), (202, 5), "the same batch again: nothing stored twice")
    poll(lambda: "satisfaction-check" in d.request("GET", "/v1/customers/anna").raw, 10,
         "Anna's satisfaction check")
    poll(lambda: settled(d), 10, "the demo's messages delivered")
    mails = [p for p in glob.glob(os.path.join(d.config["data_dir"], "maildir", "new", "*"))
             if "anna.schmidt@example.com" in open(p, errors="replace").read()]
    eq(len(mails), 1, "the mail Anna received")
    link = subprocess.run(["/usr/bin/python3", os.path.join(DEMO, "show.py"), "link", mails[0]],
                          capture_output=True, text=True, check=True).stdout.strip()
    eq(one_click(d, link), 200, "Anna's one-click unsubscribe")
    eq(get(d, "/v1/customers/anna")["consent"],
       {"newsletter": "subscribed", "orders": "unsubscribed"}, "Anna's consent")
    eq(d.request("POST", "/v1/events", raw=workload.FEEDBACK.encode()).status, 202,
       "Anna's feedback")
    poll(lambda: any(m["step"] == "review-ask" for m in
                     get(d, "/v1/messages?customer=anna&state=skipped")["messages"]), 10,
         "the review ask skipped: Anna unsubscribed from orders")


def build_store():
    """The demo on SQLite, then a suppression and a goal; stopped mid-way: what it shows."""
    d = Daemon(dict(CONFIG))
    d.start()
    run_demo(d)
    # Beyond demo.sh: Tom's address is suppressed, and Anna writes the review the
    # post-purchase campaign aims at (its goal, after her satisfaction check was sent).
    eq(d.request("POST", "/v1/suppressions", body={"address": "tom@example.com"}).status, 200,
       "Tom suppressed")
    eq(d.post_events({"customer": "anna", "type": "review", "id": "review-1001",
                      "properties": {"order_id": "1001"}}).status, 202, "Anna's review")
    poll(lambda: rows(d, "SELECT count(*) FROM journey_notes WHERE action = 'goal'")[0][0] == "1",
         10, "the goal reached")
    # A month passes for the newsletter: its schedule fans out once on SQLite (to Anna, the
    # one subscriber) and is armed for the next month.
    eq(d.stop(), 0, "stops")
    con = sqlite3.connect(d.db_path())
    con.execute("UPDATE schedules SET due_ms = ? WHERE campaign_id = 'newsletter'",
                (int(time.time() * 1000) - 1000,))
    con.commit()
    con.close()
    d.start()
    poll(lambda: len(rows(d, "SELECT 1 FROM journeys WHERE campaign_id = 'newsletter'")) == 1,
         10, "Anna's newsletter journey")
    poll(lambda: settled(d), 10, "everything delivered")
    sent = int(rows(d, "SELECT count(*) FROM outbox WHERE state = 'sent'")[0][0])
    poll(lambda: maildir_files(d.config["data_dir"]) == sent, 10, "the Maildirs")
    before = view(d)
    # Mid-way: journeys waiting (Lee's settle-in, Jürgen's second follow-up), inactivity
    # timers and a schedule armed, messages sent and skipped, a conversion.
    states = {m["state"] for m in before["messages"]}
    check({"sent", "skipped"} <= states, "messages sent and skipped", states)
    waiting = [j for j in before["journeys"] if j[4] == "1" and j[7] != ""]
    check(len(waiting) >= 2, "journeys wait for their next step", before["journeys"])
    check(any(t[0] == "win-back" for t in before["timers"]), "inactivity timers armed",
          before["timers"])
    check([int(s[2]) > time.time() * 1000 for s in before["schedules"]
           if s[0] == "newsletter"] == [True], "the newsletter armed for its next run",
          before["schedules"])
    eq(len(before["conversions"]), 1, "a conversion")
    eq(len(before["suppressions"]), 1, "a suppression")
    check_counts(d, "on SQLite")
    eq(d.stop(), 0, "the SQLite daemon stops cleanly")
    return d, before


def quiet_until(campaign, tz, at):
    """When the campaign's quiet hours in TZ end if AT (aware) falls inside them, else None
    (daemon/engine_time.c's engine_quiet_until)."""
    q = CAMPAIGNS[campaign].get("quiet_hours")
    if q is None:
        return None
    local = at.astimezone(ZoneInfo(tz))
    m = local.hour * 60 + local.minute
    lo, hi = (int(x[:2]) * 60 + int(x[3:]) for x in (q["from"], q["to"]))
    inside = (lo <= m < hi) if lo <= hi else (m >= lo or m < hi)
    if not inside:
        return None
    for day in range(3):
        d = local.date() + timedelta(days=day)
        end = datetime(d.year, d.month, d.day, hi // 60, hi % 60, tzinfo=ZoneInfo(tz))
        if end > at:
            return int(end.timestamp()) * 1000
    raise AssertionError("no end of the quiet hours")


def outcome(view, customer, campaign):
    """What a send of CAMPAIGN to CUSTOMER comes to by the consent and the suppressions in
    VIEW (docs/api.md, Consent: opt_in_topics, by default newsletter and offers, need a
    subscription; other topics go unless unsubscribed; the suppression list overrides)."""
    c = view["customer " + customer]
    topic = CAMPAIGNS[campaign]["topic"]
    consent = c["consent"].get(topic, c["consent"].get("*"))
    if c["email"] in {s["address"] for s in view["suppressions"]}:
        return "skipped:suppressed"
    if consent == "unsubscribed":
        return "skipped:unsubscribed"
    if topic in ("newsletter", "offers") and consent != "subscribed":
        return "skipped:not_subscribed"
    return "sent"


def next_send(campaign, step):
    """The first send step at or after index STEP, following the steps in order."""
    steps = CAMPAIGNS[campaign]["steps"]
    for s in steps[step:]:
        if "send" in s:
            return s["id"]
    return None


@test
def the_demo_carries_on_on_postgresql():
    if not pgcluster.available():
        skip("PostgreSQL's server is not installed")
    pg = pgcluster.shared()
    d, before = build_store()
    atexit.register(d.cleanup)
    url = pg.create_database()
    db = url.rsplit("/", 1)[1]
    r = subprocess.run([NURTURED, "migrate", "--from", "sqlite:" + d.config["data_dir"],
                        "--to", url], capture_output=True, text=True, timeout=120)
    eq(r.returncode, 0, f"migrated: {r.stderr}")
    p = d.moved_to(url)  # the same configuration, the store moved
    try:
        after = view(p)
        for key in before:
            eq(after[key], before[key], f"{key}: the same on PostgreSQL as on SQLite")
        check_counts(p, "on PostgreSQL, after the move")
        eq(p.stop(), 0, "stops")

        # Days pass: what waits comes due now. The journeys waiting for a time (Lee's
        # settle-in, Jürgen's pause before the second follow-up), the win-back campaign's
        # inactivity timers (Anna and Lee bought nothing more), the newsletter's schedule.
        now = int(time.time() * 1000) - 1000
        waiting = pg.psql("SELECT j.id, j.campaign_id, c.ext_id, c.timezone, j.step FROM"
                          " journeys j JOIN customers c ON c.id = j.customer_id WHERE"
                          " j.active = 1 AND j.due_ms IS NOT NULL ORDER BY j.id", db=db)
        timers = pg.psql("SELECT c.ext_id, c.timezone FROM timers t JOIN customers c ON"
                         " c.id = t.customer_id WHERE t.campaign_id = 'win-back' ORDER BY 1",
                         db=db)
        subscribers = pg.psql("SELECT c.ext_id, c.timezone FROM consent k JOIN customers c ON"
                              " c.id = k.customer_id WHERE k.topic = 'newsletter'"
                              " AND k.state = 'subscribed'", db=db)
        check(len(waiting) >= 2 and len(timers) >= 2 and len(subscribers) >= 1,
              "waits, timers and subscribers to carry on with", waiting, timers, subscribers)
        # A customer still in a journey of the campaign (Anna's newsletter, when the quiet
        # hours held it on SQLite) is not entered again: the engine notes the refusal.
        running = {(r[0], r[1]) for r in pg.psql(
            "SELECT c.ext_id, j.campaign_id FROM journeys j JOIN customers c ON"
            " c.id = j.customer_id WHERE j.active = 1", db=db)}
        fired = {(cust, "win-back") for cust, _ in timers} | {
            (cust, "newsletter") for cust, _ in subscribers}
        entered, refused = fired - running, fired & running
        pg.psql(f"UPDATE journeys SET due_ms = {now} WHERE active = 1 AND due_ms IS NOT NULL;"
                f" UPDATE timers SET due_ms = {now} WHERE campaign_id = 'win-back';"
                f" UPDATE schedules SET due_ms = {now} WHERE campaign_id = 'newsletter'", db=db)
        old = outbox(p)
        old_notes = int(pg.psql("SELECT max(id) FROM journey_notes", db=db)[0][0])
        old_journeys = int(pg.psql("SELECT max(id) FROM journeys", db=db)[0][0])
        t0 = datetime.now(timezone.utc)
        p.start()

        # Each waiting journey runs on to its next send, once: the message goes, or, in the
        # campaign's quiet hours where the customer lives, the step is deferred to their end.
        def moved(jid, step):
            j = pg.psql(f"SELECT step, due_ms FROM journeys WHERE id = {jid}", db=db)[0]
            deferred = pg.psql(f"SELECT count(*) FROM journey_notes WHERE journey_id = {jid}"
                               f" AND id > {old_notes} AND reason = 'quiet_hours'", db=db)
            return j[0] != step or deferred[0][0] != "0"
        for jid, cid, cust, tz, step in waiting:
            poll(lambda: moved(jid, step), 20, f"journey {jid} ({cid}, {cust}) moves on")
        # The win-back for each timer, the newsletter for each subscriber: a new journey, or
        # the refusal of a second one.

        def new_journeys():
            return [(r[1], r[0]) for r in pg.psql(
                "SELECT j.campaign_id, c.ext_id FROM journeys j JOIN customers c ON"
                f" c.id = j.customer_id WHERE j.id > {old_journeys}", db=db)]

        def refusals():
            return [(r[0], r[1]) for r in pg.psql(
                "SELECT c.ext_id, n.campaign_id FROM journey_notes n JOIN customers c ON"
                f" c.id = n.customer_id WHERE n.id > {old_notes}"
                " AND n.reason = 'already_in_journey'", db=db)]
        poll(lambda: entered <= set(new_journeys()) and refused <= set(refusals()), 20,
             "the timers and the schedule fire")
        poll(lambda: settled(p), 20, "everything queued delivered")

        # Lee's satisfaction check went (the post-purchase campaign keeps no quiet hours); he
        # answers with a 2: the apology by mail and a ticket for the helpdesk. Tom orders
        # again: his thank-you is skipped, his address is suppressed.
        lee = pg.psql("SELECT o.state FROM outbox o JOIN customers c ON c.id = o.customer_id"
                      " WHERE c.ext_id = 'lee' AND o.step_id = 'satisfaction-check'", db=db)
        eq(lee, [["sent"]], "Lee's satisfaction check, after his week")
        poll(lambda: pg.psql("SELECT j.wait_event FROM journeys j JOIN customers c ON"
                             " c.id = j.customer_id WHERE c.ext_id = 'lee' AND j.active = 1"
                             " AND j.campaign_id = 'post-purchase'", db=db) == [["feedback"]],
             10, "Lee's journey awaits his feedback")
        eq(p.post_events({"events": [
            {"customer": "lee", "type": "feedback", "id": "fb-lee",
             "properties": {"order_id": "0977", "score": 2}},
            {"customer": "tom", "type": "purchase", "id": "order-0413",
             "properties": {"order_id": "0413", "total": 12.5, "currency": "GBP"}}]}).status,
           202, "events after the move")

        def step_states(cust, campaign):
            return {r[0]: r[1] for r in pg.psql(
                "SELECT o.step_id, o.state || coalesce(':' || o.reason, '') FROM outbox o"
                " JOIN customers c ON c.id = o.customer_id WHERE c.ext_id ="
                f" '{cust}' AND o.campaign_id = '{campaign}' AND o.id > {old[-1][0]}", db=db)}
        poll(lambda: step_states("lee", "post-purchase") == {
            "satisfaction-check": "sent", "apology": "sent", "open-ticket": "sent"}, 20,
             "Lee's apology and the helpdesk ticket")
        poll(lambda: step_states("tom", "post-purchase") == {"thanks": "skipped:suppressed"},
             20, "Tom's thank-you skipped: suppressed")
        poll(lambda: settled(p), 20, "everything delivered")
        t1 = datetime.now(timezone.utc)

        # What each journey that came due did, against the customer's clock.
        for jid, cid, cust, tz, step in waiting:
            send = next_send(cid, int(step))
            sent = pg.psql("SELECT state || coalesce(':' || reason, '') FROM outbox WHERE"
                           f" journey_id = {jid} AND id > {old[-1][0]} AND step_id = '{send}'",
                           db=db)
            q0, q1 = quiet_until(cid, tz, t0), quiet_until(cid, tz, t1)
            if q0 is None and q1 is None:
                eq(sent, [[outcome(after, cust, cid)]], f"journey {jid} ({cust}): {send}")
            elif q0 is not None and q1 is not None:
                eq(sent, [], f"journey {jid}: {send} waits for the end of the quiet hours")
                due = int(pg.psql(f"SELECT due_ms FROM journeys WHERE id = {jid}", db=db)[0][0])
                check(due in (q0, q1), f"journey {jid} runs {send} when the quiet hours end",
                      due, q0, q1)
        for cust, cid in sorted(entered):
            tz = dict(timers + subscribers)[cust]
            first = next_send(cid, 0)
            got = pg.psql("SELECT o.state || coalesce(':' || o.reason, '') FROM outbox o"
                          " JOIN journeys j ON j.id = o.journey_id"
                          " JOIN customers c ON c.id = j.customer_id WHERE c.ext_id ="
                          f" '{cust}' AND j.campaign_id = '{cid}' AND j.id > {old_journeys}",
                          db=db)
            q0, q1 = quiet_until(cid, tz, t0), quiet_until(cid, tz, t1)
            if q0 is None and q1 is None:
                eq(got, [[outcome(after, cust, cid)]], f"{cust}'s {cid}: {first}")
            elif q0 is not None and q1 is not None:
                eq(got, [], f"{cust}'s {cid}: {first} waits for the end of the quiet hours")

        # No step ran twice: one entry per journey, one send or skip per journey and step
        # (a quiet-hours deferral is no skip: the step runs later), one message per journey,
        # step and visit, and the messages from before the move are as they were.
        eq(pg.psql("SELECT journey_id, count(*) FROM journey_notes WHERE action = 'enter'"
                   " GROUP BY 1 HAVING count(*) > 1", db=db), [], "each journey entered once")
        eq(pg.psql("SELECT journey_id, step_id, count(*) FROM journey_notes WHERE action IN"
                   " ('send', 'skip') AND coalesce(reason, '') <> 'quiet_hours'"
                   " GROUP BY 1, 2 HAVING count(*) > 1", db=db), [],
           "no step of any journey ran twice")
        eq(pg.psql("SELECT journey_id, step_id, visit, count(*) FROM outbox"
                   " GROUP BY 1, 2, 3 HAVING count(*) > 1", db=db), [],
           "one message per journey, step and visit")
        eq(pg.psql("SELECT count(*) FROM outbox o WHERE journey_id <> 0 AND NOT EXISTS"
                   " (SELECT 1 FROM journey_notes n WHERE n.journey_id = o.journey_id AND"
                   " n.step_id = o.step_id AND n.action IN ('send', 'skip'))", db=db),
           [["0"]], "every message has its journey's note")
        eq(sorted(new_journeys()), sorted(entered | {("tom", "post-purchase")}),
           "new journeys: one per timer and subscriber, and Tom's new order's")
        eq(sorted(refusals()), sorted(refused), "one refusal per customer already in one")
        now_out = outbox(p)
        eq(now_out[:len(old)], old, "the messages from before the move are untouched")
        # Nothing sent twice or lost on the way: one file per message sent.
        sent = int(pg.psql("SELECT count(*) FROM outbox WHERE state = 'sent'", db=db)[0][0])
        poll(lambda: maildir_files(d.config["data_dir"]) == sent, 10,
             "one file in the Maildirs per message sent")
        # The statistics go on from SQLite's and add up.
        check_counts(p, "on PostgreSQL, carrying on")
        s = get(p, "/v1/campaigns/post-purchase/stats")
        b = before["stats post-purchase"]
        eq((s["entered"], s["sent"]), (b["entered"] + 1, b["sent"] + 3),
           "post-purchase: Tom's new order entered; Lee's check, apology and ticket sent")
        eq(p.stop(), 0, "stops")
    finally:
        p.stop()
        shutil.rmtree(p.tmp, ignore_errors=True)


if __name__ == "__main__":
    run_all()
