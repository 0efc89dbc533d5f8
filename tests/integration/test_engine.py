#!/usr/bin/python3
"""The engine in the real daemon, on real time with short waits: journeys run their steps
exactly once across kill -9, exit on events, wait for events with timeouts, respect keys and
re-entry, and skip sends that went stale during downtime."""
import json
import os
import re
import signal
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from ntest import Daemon, check, eq, poll, run_all, test  # noqa: E402

def daemon_with(*campaigns, **cfg):
    d = Daemon(cfg)
    # JSON payloads need neither an address nor a template: these tests are about journeys.
    d.config.setdefault("channels", {"mail": {"plugin": "maildir", "payload": "json",
                                              "path": os.path.join(d.tmp, "maildir")}})
    cdir = os.path.join(d.tmp, "campaigns")
    os.makedirs(cdir)
    for c in campaigns:
        with open(os.path.join(cdir, c["id"] + ".json"), "w") as f:
            json.dump(c, f, indent=2)
    d.config["campaigns_dir"] = cdir
    d.write_config()
    return d


def campaign(cid, trigger, steps, **extra):
    c = {"id": cid, "name": cid, "status": "active", "topic": "follow-ups",
         "trigger": trigger, "steps": steps}
    c.update(extra)
    return c


def sql_literal(v):
    return str(v) if isinstance(v, int) else "'" + str(v).replace("'", "''") + "'"


def typed(v, pg):
    """A value of Daemon.sql as the tests compare it: integers as int, NULL as None (on
    PostgreSQL NULL reads as "", and no column these tests read holds an empty string)."""
    if v is None or (pg and v == ""):
        return None
    return int(v) if re.fullmatch(r"-?[0-9]+", v) else v


def rows(d, sql, *args):
    """Rows of SQL (? placeholders for ARGS) read from the store on either backend, as tuples."""
    for a in args:
        sql = sql.replace("?", sql_literal(a), 1)
    pg = d.on_postgresql()
    return [tuple(typed(v, pg) for v in r) for r in d.sql(sql)]


def sends(d, campaign_id=None):
    q = ("SELECT c.ext_id, o.step_id FROM outbox o JOIN customers c ON c.id = o.customer_id"
         + (" WHERE o.campaign_id = ?" if campaign_id else "") + " ORDER BY o.id")
    return rows(d, q, *([campaign_id] if campaign_id else []))


def notes(d, action=None):
    q = ("SELECT c.ext_id, n.campaign_id, n.step_id, n.action, n.reason FROM journey_notes n "
         "JOIN customers c ON c.id = n.customer_id" + (" WHERE n.action = ?" if action else "")
         + " ORDER BY n.id")
    return rows(d, q, *([action] if action else []))


THANKS = campaign("thanks", {"event": "purchase"}, [
    {"id": "thanks", "send": {"channel": "mail", "template": "thanks"}},
    {"id": "pause", "wait": "1s"},
    {"id": "check", "send": {"channel": "mail", "template": "check"}},
], reentry="always", key="event.properties.order_id", exit_on=["refund"])


@test
def an_event_starts_a_journey_that_sends_then_waits_then_sends():
    d = daemon_with(THANKS)
    try:
        d.start()
        eq(d.post_events({"customer": "ann", "type": "purchase",
                          "properties": {"order_id": "o1"}}).status, 202, "event")
        poll(lambda: len(sends(d)) == 1, 10, "the thanks")
        poll(lambda: len(sends(d)) == 2, 10, "the check after the wait")
        eq(sends(d), [("ann", "thanks"), ("ann", "check")], "sends in order")
        eq([n[3] for n in notes(d)], ["enter", "send", "send", "exit"], "notes")
        d.stop()
    finally:
        d.cleanup()


def write(d, sql):
    """One write to the store behind the daemon's back (a replay, another writer)."""
    if d.on_postgresql():
        import pgcluster
        pgcluster.shared().psql(sql, db=d.config["store"].rsplit("/", 1)[1])
        return
    import sqlite3
    con = sqlite3.connect(d.db_path(), timeout=30)
    try:
        con.execute(sql)
        con.commit()
    finally:
        con.close()


@test
def a_send_the_ledger_already_holds_is_skipped_not_sent_twice():
    """The outbox's (journey, step, visit) key is the send ledger: a step whose send is already
    there records "already_sent" and sends nothing. On PostgreSQL the insert goes out without
    waiting for its answer; the refusal found at the sync undoes the transaction, which runs
    again waiting for each answer, and comes to the same."""
    c = campaign("ledger", {"event": "purchase"}, [
        {"id": "pause", "wait": "2s"},
        {"id": "check", "send": {"channel": "mail", "template": "check"}},
        {"id": "after", "send": {"channel": "mail", "template": "after"}},
    ])
    d = daemon_with(c)
    try:
        d.start()
        eq(d.post_events({"customer": "ann", "type": "purchase"}).status, 202, "event")
        # The wait is the visit it holds; the send is the next one.
        jid, visit, cid = poll(lambda: (rows(d, "SELECT id, visit, customer_id FROM journeys")
                                        or [None])[0], 10, "the journey waits")
        write(d, "INSERT INTO outbox (journey_id, step_id, visit, customer_id, campaign_id,"
              " channel, template, state, message_id, created_ms, due_ms, marketing)"
              f" VALUES ({jid}, 'check', {visit + 1}, {cid}, 'ledger', 'mail', 'check', 'sent',"
              " 'replayed@example', 1, 1, 1)")
        poll(lambda: ("ann", "after") in sends(d), 20, "the journey went on")
        eq(sends(d), [("ann", "check"), ("ann", "after")], "the replayed send and the next")
        eq([r for r in rows(d, "SELECT step_id, message_id FROM outbox ORDER BY id")
            if r[0] == "check"], [("check", "replayed@example")], "one send of the step")
        eq([(n[2], n[3], n[4]) for n in notes(d) if n[3] in ("send", "skip")],
           [("check", "skip", "already_sent"), ("after", "send", None)],
           "skipped as already sent, then the next step sent")
        if d.on_postgresql():
            check("a send the ledger already holds" in d.read_log(),
                  "the refusal found at the sync", d.read_log()[-2000:])
        d.stop()
    finally:
        d.cleanup()


@test
def a_key_gives_two_orders_two_journeys_and_one_order_one():
    d = daemon_with(THANKS)
    try:
        d.start()
        for oid in ("o1", "o2", "o1"):
            d.post_events({"customer": "bob", "type": "purchase",
                           "properties": {"order_id": oid}})
        poll(lambda: len(sends(d)) == 4, 10, "two journeys of two sends")
        eq(sorted(s[1] for s in sends(d)), ["check", "check", "thanks", "thanks"], "sends")
        skips = notes(d, "skip")
        eq([s[4] for s in skips], ["already_in_journey"], "the repeated order id is skipped")
        d.stop()
    finally:
        d.cleanup()


ORDER_KEY = {"field": "event.properties.order_id", "eq": {"journey": "key"}}
PER_ORDER = campaign("per-order", {"event": "purchase"}, [
    {"id": "thanks", "send": {"channel": "mail", "template": "thanks"}},
    {"id": "await", "wait": {"event": "feedback", "where": ORDER_KEY, "timeout": "1h",
                             "on_event": "sorry", "on_timeout": "end"}},
    {"id": "sorry", "send": {"channel": "mail", "template": "sorry"}},
    {"id": "end", "exit": "completed"},
], reentry="always", key="event.properties.order_id",
    exit_on=[{"event": "refund", "where": ORDER_KEY}])


@test
def a_journey_hears_only_the_events_of_its_own_order():
    d = daemon_with(PER_ORDER)
    try:
        d.start()
        for oid in ("o1", "o2", "o3"):
            d.post_events({"customer": "dee", "type": "purchase",
                           "properties": {"order_id": oid}})
        poll(lambda: len(sends(d)) == 3, 10, "three thanks")
        d.post_events({"customer": "dee", "type": "feedback", "properties": {"order_id": "o1"}})
        d.post_events({"customer": "dee", "type": "refund", "properties": {"order_id": "o2"}})
        poll(lambda: len(rows(d, "SELECT 1 FROM journeys WHERE active = 0")) == 2, 10,
             "two journeys ended")
        eq(sorted(rows(d, "SELECT jkey, active, exit_reason FROM journeys")),
           [("o1", 0, "completed"), ("o2", 0, "exit_on:refund"), ("o3", 1, None)],
           "o1 heard its feedback, o2 its refund, o3 neither")
        eq(sorted(sends(d)), [("dee", "sorry"), ("dee", "thanks"), ("dee", "thanks"),
                              ("dee", "thanks")], "one apology, for o1")
        d.stop()
    finally:
        d.cleanup()


@test
def exit_on_ends_the_journey_before_the_next_send():
    d = daemon_with(THANKS)
    try:
        d.start()
        d.post_events({"customer": "cy", "type": "purchase", "properties": {"order_id": "o9"}})
        poll(lambda: len(sends(d)) == 1, 10, "the thanks")
        d.post_events({"customer": "cy", "type": "refund"})
        poll(lambda: notes(d, "exit"), 10, "the exit")
        eq(notes(d, "exit")[0][4], "exit_on:refund", "reason")
        # A control journey, started after cy's: once its check is sent, the engine has run
        # past the time cy's check was due.
        d.post_events({"customer": "ctl", "type": "purchase", "properties": {"order_id": "c1"}})
        poll(lambda: ("ctl", "check") in sends(d), 10, "the control journey's check")
        eq([s for s in sends(d) if s[0] == "cy"], [("cy", "thanks")], "no check after the exit")
        d.stop()
    finally:
        d.cleanup()


FEEDBACK = campaign("feedback", {"event": "purchase"}, [
    {"id": "ask", "send": {"channel": "mail", "template": "ask"}},
    {"id": "await", "wait": {"event": "feedback", "timeout": "2s",
                             "on_event": "judge", "on_timeout": "nudge"}},
    {"id": "judge", "branch": {"if": {"field": "event.properties.score", "gte": 4},
                               "then": "review", "else": "sorry"}},
    {"id": "review", "send": {"channel": "mail", "template": "review"}, "next": "end"},
    {"id": "sorry", "send": {"channel": "mail", "template": "sorry"}, "next": "end"},
    {"id": "nudge", "send": {"channel": "mail", "template": "nudge"}},
    {"id": "end", "exit": "done"},
], reentry="always")


@test
def waiting_for_an_event_resumes_on_it_or_times_out():
    d = daemon_with(FEEDBACK)
    try:
        d.start()
        d.post_events({"customer": "happy", "type": "purchase"})
        d.post_events({"customer": "silent", "type": "purchase"})
        poll(lambda: len(sends(d)) == 2, 10, "both asked")
        d.post_events({"customer": "happy", "type": "feedback", "properties": {"score": 5}})
        poll(lambda: ("happy", "review") in sends(d), 10, "the review request")
        poll(lambda: ("silent", "nudge") in sends(d), 10, "the nudge after the timeout")
        eq(sorted(sends(d)), [("happy", "ask"), ("happy", "review"), ("silent", "ask"),
                              ("silent", "nudge")], "sends")
        d.stop()
    finally:
        d.cleanup()


@test
def kill9_between_steps_neither_loses_nor_repeats_a_step():
    slow = campaign("slow", {"event": "signup"}, [
        {"id": "one", "send": {"channel": "mail", "template": "one"}},
        {"id": "w", "wait": "1s"},
        {"id": "two", "send": {"channel": "mail", "template": "two"}},
    ])
    d = daemon_with(slow)
    try:
        d.start()
        d.post_events({"events": [{"customer": f"k{i}", "type": "signup"} for i in range(50)]})
        poll(lambda: len(sends(d)) >= 50, 10, "the first sends")
        d.kill9()
        d.start()
        poll(lambda: len(sends(d)) == 100, 15, "the second sends after the restart")
        got = sends(d)
        eq(len(set(got)), 100, "no step twice")
        eq(sorted(set(s[0] for s in got)), sorted(f"k{i}" for i in range(50)), "everyone")
        d.stop()
    finally:
        d.cleanup()


@test
def a_batch_of_due_steps_sees_each_customers_own_writes_and_suppressions():
    """Issue 21: the engine reads a batch's customers and their addresses' suppressions in one
    statement each (engine_prefetch.c). A customer's read serves the first of its steps only:
    a later step of the same customer in the batch sees what the earlier one wrote. Every
    journey falls due while the daemon is down, so that one batch runs them all."""
    tagger = campaign("a-tagger", {"event": "signup"}, [
        {"id": "w", "wait": "1s"},
        {"id": "tag", "update": {"tags_add": ["vip"]}},
    ])
    watcher = campaign("b-watcher", {"event": "signup"}, [
        {"id": "w", "wait": "1s"},
        {"id": "which", "branch": {"if": {"field": "customer.attributes.tags",
                                          "contains": "vip"}, "then": "vip", "else": "plain"}},
        {"id": "plain", "send": {"channel": "mail", "template": "plain"}},
        {"id": "done", "exit": "completed"},
        {"id": "vip", "send": {"channel": "mail", "template": "vip"}},
    ])
    d = daemon_with(tagger, watcher)
    try:
        d.start()
        eq(d.request("POST", "/v1/suppressions", body={"address": "B3@example.org",
                                                        "reason": "complaint"}).status, 200,
           "b3 suppressed (the address in another case)")
        eq(d.post_events({"events": [
            {"customer": f"b{i}", "type": "signup", "profile": {"email": f"b{i}@example.org"}}
            for i in range(20)]}).status, 202, "sign-ups")
        poll(lambda: len(notes(d, "enter")) == 40, 10, "both journeys for each")
        d.stop()
        due = max(r[0] for r in rows(d, "SELECT due_ms FROM journeys")) / 1000.0
        poll(lambda: time.time() > due + 0.2, 10, "every journey due")
        d.start()
        poll(lambda: not rows(d, "SELECT id FROM journeys WHERE active = 1"), 15, "all done")
        got = rows(d, "SELECT c.ext_id, o.step_id, o.state, o.reason FROM outbox o JOIN"
                   " customers c ON c.id = o.customer_id WHERE o.campaign_id = 'b-watcher'")
        eq(sorted(g[:2] for g in got), sorted((f"b{i}", "vip") for i in range(20)),
           "each watcher saw its tag, written earlier in the same batch")
        eq(sorted((g[0], g[3]) for g in got if g[2] == "skipped"), [("b3", "suppressed")],
           "the suppressed address skipped, the others not")
        d.stop()
    finally:
        d.cleanup()


@test
def a_batch_of_events_sees_the_journeys_its_earlier_events_moved():
    """Issue 21: a batch of events reads the journeys they can touch at once (on PostgreSQL,
    engine_prefetch.c). A customer's second event in the batch must see what the first did:
    a click that already resumed the journey, a refund that ended it, a sign-up that started
    it. All of it goes in one POST, so that one batch consumes it."""
    waiter = campaign("waiter", {"event": "signup"}, [
        {"id": "await", "wait": {"event": "click", "timeout": "1h", "on_event": "thanks",
                                 "on_timeout": "end"}},
        {"id": "thanks", "send": {"channel": "mail", "template": "thanks"}},
        {"id": "end", "exit": "done"},
    ], exit_on=["refund"])
    d = daemon_with(waiter)
    try:
        d.start()
        eq(d.post_events({"events": [{"customer": f"w{i}", "type": "signup"}
                                     for i in range(10)]}).status, 202, "sign-ups")
        poll(lambda: len(notes(d, "enter")) == 10, 10, "ten journeys wait for a click")
        batch = []
        for i in range(5):  # two clicks: the second finds the journey no longer waiting
            batch += [{"customer": f"w{i}", "type": "click", "id": f"c{i}a"},
                      {"customer": f"w{i}", "type": "click", "id": f"c{i}b"}]
        for i in range(5, 10):  # a refund ends it: the click after finds nothing
            batch += [{"customer": f"w{i}", "type": "refund", "id": f"r{i}"},
                      {"customer": f"w{i}", "type": "click", "id": f"c{i}"}]
        batch += [{"customer": "new", "type": "signup", "id": "s"},  # starts, then resumes
                  {"customer": "new", "type": "click", "id": "cn"}]
        eq(d.post_events({"events": batch}).status, 202, "the batch")
        poll(lambda: not rows(d, "SELECT id FROM journeys WHERE active = 1"), 10, "all ended")
        eq(sorted(sends(d)), sorted([(f"w{i}", "thanks") for i in range(5)] +
                                    [("new", "thanks")]), "one thanks per click that came first")
        eq(notes(d, "skip"), [], "no step ran twice (no already_sent)")
        eq(sorted((n[0], n[4]) for n in notes(d, "exit")),
           sorted([(f"w{i}", "done") for i in range(5)] + [("new", "done")] +
                  [(f"w{i}", "exit_on:refund") for i in range(5, 10)]), "how each ended")
        d.stop()
    finally:
        d.cleanup()


@test
def an_entry_in_a_batch_sees_the_exit_just_before_it():
    """Issue 21: a batch reads the latest journey of each campaign its events trigger, for the
    re-entry rules (engine_prefetch.c). A refund that ends a journey and a sign-up right after
    it, in the same batch, must start a new journey; a sign-up alone finds the one running."""
    again = campaign("again", {"event": "signup"}, [{"id": "w", "wait": "1h"}],
                     reentry="always", exit_on=["refund"])
    d = daemon_with(again)
    try:
        d.start()
        eq(d.post_events({"events": [{"customer": f"r{i}", "type": "signup", "id": "s1"}
                                     for i in range(6)]}).status, 202, "first sign-ups")
        poll(lambda: len(notes(d, "enter")) == 6, 10, "six journeys")
        batch = []
        for i in range(3):
            batch += [{"customer": f"r{i}", "type": "refund", "id": "f"},
                      {"customer": f"r{i}", "type": "signup", "id": "s2"}]
        batch += [{"customer": f"r{i}", "type": "signup", "id": "s2"} for i in range(3, 6)]
        eq(d.post_events({"events": batch}).status, 202, "the batch")
        poll(lambda: len(notes(d, "enter")) + len(notes(d, "skip")) == 12, 10, "all handled")
        eq(sorted(n[0] for n in notes(d, "enter")), sorted([f"r{i}" for i in range(6)] +
                                                          [f"r{i}" for i in range(3)]),
           "a new journey after each refund")
        eq(sorted((n[0], n[4]) for n in notes(d, "skip")),
           [(f"r{i}", "already_in_journey") for i in range(3, 6)], "the others still in one")
        eq(len(rows(d, "SELECT id FROM journeys WHERE active = 1")), 6, "six running")
        d.stop()
    finally:
        d.cleanup()


@test
def purchases_in_one_batch_move_stages_as_they_do_one_by_one():
    """Issue 21: a batch of events reads its purchasers' totals at once and keeps them as it
    adds each purchase (engine_prefetch.c). Customer "one" gets its purchases one request at a
    time, "all" the same purchases in one batch, out of time order: the stages each goes
    through, and where it ends, must be the same."""
    def on(stage):
        return campaign(f"on-{stage}", {"stage_changed_to": stage},
                        [{"id": "hello", "send": {"channel": "mail", "template": stage}}],
                        reentry="always")
    d = daemon_with(*[on(st) for st in ("onboarding", "growing", "mature", "declining",
                                         "lapsed", "reactivated")])
    day = 86400
    now = time.time()
    times = [now - 200 * day, now - 230 * day, now - 1 * day, now - 170 * day]
    buys = [{"type": "purchase", "id": f"p{i}", "time": time.strftime(
        "%Y-%m-%dT%H:%M:%SZ", time.gmtime(t))} for i, t in enumerate(times)]
    try:
        d.start()
        def bought(c):
            got = rows(d, "SELECT p.count FROM purchases p JOIN customers c ON"
                          " c.id = p.customer_id WHERE c.ext_id = ?", c)
            return got[0][0] if got else 0
        for i, b in enumerate(buys):
            eq(d.post_events(dict(b, customer="one")).status, 202, f"one's purchase {i}")
            poll(lambda: bought("one") == i + 1, 10, f"one's purchase {i} consumed")
        eq(d.post_events({"events": [dict(b, customer="all") for b in buys]}).status, 202,
           "all's purchases in one batch")
        poll(lambda: bought("all") == len(buys), 10, "all's purchases consumed")
        stages = {c: [x[1] for x in rows(d, "SELECT c.ext_id, o.campaign_id FROM outbox o"
                                            " JOIN customers c ON c.id = o.customer_id"
                                            " WHERE c.ext_id = ? ORDER BY o.id", c)]
                  for c in ("one", "all")}
        check(len(stages["one"]) >= 2, "one went through stages", stages)
        eq(stages["all"], stages["one"], "the same stages, in the same order")
        eq(d.request("GET", "/v1/customers/all").json["stage"],
           d.request("GET", "/v1/customers/one").json["stage"], "the same stage now")
        eq(rows(d, "SELECT p.count, p.first_ms, p.last_ms FROM purchases p JOIN customers c"
                   " ON c.id = p.customer_id WHERE c.ext_id = 'all'"),
           rows(d, "SELECT p.count, p.first_ms, p.last_ms FROM purchases p JOIN customers c"
                   " ON c.id = p.customer_id WHERE c.ext_id = 'one'"), "the same totals")
        d.stop()
    finally:
        d.cleanup()


@test
def sends_that_went_stale_during_downtime_are_skipped_and_recorded():
    stale = campaign("stale", {"event": "signup"}, [
        {"id": "w", "wait": "1s"},
        {"id": "late", "send": {"channel": "mail", "template": "late"}},
    ], stale_after="1s")
    d = daemon_with(stale)
    try:
        d.start()
        d.post_events({"customer": "st", "type": "signup"})
        poll(lambda: notes(d, "enter"), 10, "the journey")
        d.stop()
        # The scenario: down until the send is overdue by more than stale_after (1 s).
        due = rows(d, "SELECT due_ms FROM journeys")[0][0] / 1000.0
        poll(lambda: time.time() > due + 1.2, 10, "the send to be overdue past stale_after")
        d.start()
        poll(lambda: notes(d, "skip"), 10, "the skip")
        eq(notes(d, "skip")[0][2:], ("late", "skip", "stale"), "recorded with its reason")
        eq(sends(d), [], "nothing sent")
        d.stop()
    finally:
        d.cleanup()


@test
def a_backfilled_old_event_follows_its_own_timeline_and_sends_nothing_stale():
    d = daemon_with(THANKS)  # THANKS has the default stale_after of 2 days
    try:
        d.start()
        old = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(time.time() - 30 * 86400))
        d.post_events({"customer": "old", "type": "purchase", "time": old,
                       "properties": {"order_id": "o-old"}})
        poll(lambda: notes(d, "exit"), 10, "the journey to end")
        eq([(n[2], n[4]) for n in notes(d, "skip")], [("thanks", "stale"), ("check", "stale")],
           "both sends skipped as stale, with the reason")
        eq(sends(d), [], "no thank-you for a month-old order")
        d.stop()
    finally:
        d.cleanup()


@test
def an_event_dated_before_1970_is_stale_too():
    d = daemon_with(THANKS)
    try:
        d.start()
        r = d.post_events({"customer": "past", "type": "purchase", "time": "1969-12-31T00:00:00Z",
                           "properties": {"order_id": "o-1969"}})
        eq(r.status, 202, "accepted")
        poll(lambda: notes(d, "exit"), 10, "the journey to end")
        eq([(n[2], n[4]) for n in notes(d, "skip")], [("thanks", "stale"), ("check", "stale")],
           "both sends skipped as stale, as for last month's")
        eq(sends(d), [], "no thank-you for an order of 1969")
        d.stop()
    finally:
        d.cleanup()


@test
def the_customer_shows_journeys_and_why():
    d = daemon_with(FEEDBACK)
    try:
        d.start()
        d.post_events({"customer": "why", "type": "purchase"})
        poll(lambda: len(sends(d)) == 1, 10, "the ask")
        c = d.request("GET", "/v1/customers/why").json
        eq(len(c["journeys"]), 1, "one journey")
        j = c["journeys"][0]
        eq((j["campaign"], j["active"], j["waiting_for"]), ("feedback", True, "feedback"),
           "waiting for feedback")
        check(j["due"] is not None, "with its timeout", j)
        eq([(n["action"], n["step"]) for n in c["notes"]], [("send", "ask"), ("enter", None)],
           "notes, newest first")
        eq(c["stage"], "onboarding", "a first purchase: onboarding")
        eq(d.request("GET", "/v1/customers/nobody-yet").status, 404, "unknown")
        d.post_events({"customer": "lead", "type": "signup"})
        eq(d.request("GET", "/v1/customers/lead").json["stage"], "prospect", "no purchase")
        d.stop()
    finally:
        d.cleanup()


@test
def a_paused_campaign_holds_its_sends_and_runs_them_when_resumed():
    held = campaign("held", {"event": "signup"}, [
        {"id": "w", "wait": "1s"},
        {"id": "hello", "send": {"channel": "mail", "template": "hello"}},
    ])
    d = daemon_with(held, dict(held, id="control", name="control", trigger={"event": "ctl"}))
    path = os.path.join(d.config["campaigns_dir"], "held.json")
    try:
        d.start()
        d.post_events({"customer": "p1", "type": "signup"})
        poll(lambda: notes(d, "enter"), 10, "the journey")
        with open(path, "w") as f:
            json.dump(dict(held, status="paused"), f)
        d.proc.send_signal(signal.SIGHUP)
        poll(lambda: "reload: 2 campaigns" in d.read_log(), 10, "the reload")
        d.post_events({"customer": "p2", "type": "signup"})
        # The control campaign's journey started after p1's: once it has sent, the engine has
        # run past the time p1's send was due.
        d.post_events({"customer": "c", "type": "ctl"})
        poll(lambda: sends(d, "control") == [("c", "hello")], 10, "the control send")
        eq(sends(d, "held"), [], "held while paused")
        eq([n[0] for n in notes(d, "enter") if n[1] == "held"], ["p1"],
           "no entry while paused")
        with open(path, "w") as f:
            json.dump(held, f)
        d.proc.send_signal(signal.SIGHUP)
        poll(lambda: sends(d, "held") == [("p1", "hello")], 10, "the held send after the resume")
        check("1 held journeys run now" in d.read_log(), "logged", d.read_log())
        d.stop()
    finally:
        d.cleanup()


@test
def a_running_journey_finishes_on_its_version_after_a_change():
    v1 = campaign("versions", {"event": "signup"}, [
        {"id": "a", "send": {"channel": "mail", "template": "a"}},
        {"id": "w", "wait": "1s"},
        {"id": "b", "send": {"channel": "mail", "template": "b"}},
    ], reentry="always")
    v2 = dict(v1, steps=[
        {"id": "x", "send": {"channel": "mail", "template": "x"}},
        {"id": "w", "wait": "1s"},
        {"id": "y", "send": {"channel": "mail", "template": "y"}},
    ])
    d = daemon_with(v1)
    path = os.path.join(d.config["campaigns_dir"], "versions.json")
    try:
        d.start()
        d.post_events({"customer": "old", "type": "signup"})
        poll(lambda: sends(d) == [("old", "a")], 10, "the first version's first send")
        with open(path, "w") as f:
            json.dump(v2, f)
        d.proc.send_signal(signal.SIGHUP)
        poll(lambda: "reload: 1 campaigns" in d.read_log(), 10, "the reload")
        d.post_events({"customer": "new", "type": "signup"})
        poll(lambda: len(sends(d)) == 4, 10, "both journeys done")
        eq(sorted(sends(d)), [("new", "x"), ("new", "y"), ("old", "a"), ("old", "b")],
           "the old journey on version 1, the new one on version 2")
        eq(len(rows(d, "SELECT version FROM campaign_versions WHERE campaign_id = 'versions'")), 2,
           "both versions kept")
        d.stop()
    finally:
        d.cleanup()


@test
def an_old_versions_exit_on_still_ends_its_journeys():
    # An event reads only the journeys it can touch: waiting for it, or of a campaign that
    # exits on it in any version kept. Version 1 exits on "cancel", version 2 does not.
    v1 = campaign("exits", {"event": "signup"}, [
        {"id": "a", "send": {"channel": "mail", "template": "a"}},
        {"id": "w", "wait": "1h"},
        {"id": "b", "send": {"channel": "mail", "template": "b"}},
    ], reentry="always", exit_on=["cancel"])
    v2 = dict(v1, exit_on=["other"])
    d = daemon_with(v1)
    path = os.path.join(d.config["campaigns_dir"], "exits.json")
    try:
        d.start()
        d.post_events({"customer": "old", "type": "signup"})
        poll(lambda: sends(d) == [("old", "a")], 10, "the first version's journey")
        with open(path, "w") as f:
            json.dump(v2, f)
        d.proc.send_signal(signal.SIGHUP)
        poll(lambda: "reload: 1 campaigns" in d.read_log(), 10, "the reload")
        d.post_events({"customer": "new", "type": "signup"})
        poll(lambda: len(sends(d)) == 2, 10, "the second version's journey")
        for who in ("old", "new"):
            d.post_events({"customer": who, "type": "cancel"})
            d.post_events({"customer": who, "type": "other"})
        poll(lambda: len(notes(d, "exit")) == 2, 10, "both journeys end")
        eq(sorted((r[0], r[1]) for r in rows(
            d, "SELECT c.ext_id, j.exit_reason FROM journeys j JOIN customers c"
               " ON c.id = j.customer_id")),
           [("new", "exit_on:other"), ("old", "exit_on:cancel")],
           "each journey by its own version's exit_on")
        d.stop()
    finally:
        d.cleanup()


@test
def a_bad_campaign_stops_the_start_and_check_names_it():
    bad = campaign("bad", {"event": "purchase"}, [
        {"id": "a", "send": {"channel": "nope", "template": "x"}}])
    d = daemon_with(bad)
    try:
        d.start(wait=False)
        eq(d.proc.wait(10), 1, "exit code")
        d.log.close()
        check("bad" in d.read_log() and "nope" in d.read_log(), "names campaign and channel",
              d.read_log())
    finally:
        d.cleanup()


run_all()
