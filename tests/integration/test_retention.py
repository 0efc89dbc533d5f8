#!/usr/bin/python3
"""Retention with short limits: old events (but each customer's first of a type), payloads,
final messages, notes and finished journeys are pruned in small chunks, while a running
journey keeps its trigger and notes, a journey that a re-entry rule reads keeps its row, and
the statistics keep their counts."""
import os
import re
import subprocess
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from ntest import Daemon, check, eq, poll, run_all, skip, test  # noqa: E402

D = Daemon({"user": "root", "log_level": "debug",
            "channels": {"mail": {"plugin": "maildir", "path": "/dev/null/x"}},
            "retention": {"events": "2s", "payloads": "2s", "messages": "3s", "notes": "3s",
                          "journeys": "2s", "interval": "1s"}})
D.config["channels"]["mail"]["path"] = os.path.join(D.tmp, "maildir")
D.write_config()
D.write_send_campaign("thanks", "purchase", "t", reentry="always")
D.write_send_campaign("later", "purchase", "t", reentry="always",
                      before=[{"id": "pause", "wait": "1h"}])
D.write_send_campaign("once", "view", "t", reentry="never")
D.write_templates({"t.subject.mustache": "Thanks {{customer.name}}",
                   "t.text.mustache": "order {{event.properties.order}}\n"})


def rows(sql):
    """Rows of SQL read from the store on either backend, as tuples, integers as int."""
    return [tuple(int(v) if re.fullmatch(r"-?[0-9]+", v or "") else v for v in row)
            for row in D.sql(sql)]


def stats(cid):
    r = D.request("GET", f"/v1/campaigns/{cid}/stats")
    eq(r.status, 200, f"stats: {r.raw}")
    r.json.pop("active", None)
    return r.json


@test
def old_data_goes_in_chunks_what_is_needed_stays():
    D.start()
    eq(D.request("POST", "/v1/customers", body={"id": "r1", "email": "r1@example.test",
                                                "name": "Rae", "consent": {"orders":
                                                                           "subscribed"}}).status,
       200, "customer")
    evs = [{"id": f"p{i}", "customer": "r1", "type": "purchase",
            "properties": {"order": f"O-{i}"}} for i in range(3)]
    evs += [{"id": f"v{i}", "customer": "r1", "type": "view"} for i in range(3)]
    for e in evs:  # one by one: the first of each type is the earliest
        eq(D.post_events(e).status, 202, "event")
    poll(lambda: len(rows("SELECT id FROM outbox WHERE state = 'sent'")) == 4, 20, "4 sent")
    before = stats("thanks")
    campaigns_before = {c["id"]: c["entered"] for c in
                        D.request("GET", "/v1/campaigns").json["campaigns"]}
    eq((before["sent"], before["steps"][0]["sent"]), (3, 3), "stats before")
    status_before = D.request("GET", "/v1/status").json["outbox"]
    # Issue 22: the dashboard's counters of messages per day, channel and state follow. The
    # PostgreSQL schema gets them when the dashboard's operations are ported (issue 21):
    # until then there is nothing there to check.
    counters = not D.on_postgresql() or rows(
        "SELECT count(*) FROM information_schema.tables WHERE table_name = 'outbox_days'"
    )[0][0] == 1
    if counters:
        days = "outbox_days_all" if D.on_postgresql() else "outbox_days"  # issue 21: deltas
        eq(rows(f"SELECT channel, state, sum(n) FROM {days} WHERE n <> 0 GROUP BY 1, 2"
                " ORDER BY 1, 2"),
           rows("SELECT channel, state, count(*) FROM outbox GROUP BY 1, 2 ORDER BY 1, 2"),
           "the counters equal a recount before the prune")

    def pruned():
        return (rows("SELECT count(*) FROM events")[0][0] == 2 and
                rows("SELECT count(*) FROM outbox")[0][0] == 0 and
                rows("SELECT count(*) FROM outbox_payload")[0][0] == 0 and
                rows("SELECT count(*) FROM journey_notes WHERE campaign_id = 'thanks'")[0][0]
                == 0 and
                rows("SELECT count(*) FROM journeys WHERE campaign_id = 'thanks'")[0][0] == 0 and
                all("properties" not in t and '"id"' not in t for (t,) in
                    rows("SELECT trigger FROM journeys WHERE active = 0")))
    poll(pruned, 30, "old rows pruned")
    if counters:
        eq(rows(f"SELECT day, channel, state, n FROM {days} WHERE n <> 0"), [],
           "pruned messages leave the dashboard's counters (the outbox is empty)")
    eq(sorted(rows("SELECT event_key FROM events")), [("p0",), ("v0",)],
       "each customer's first event of a type stays")
    live = rows("SELECT trigger FROM journeys WHERE campaign_id = 'later' AND active = 1")
    eq(len(live), 1, "the waiting journey runs on")
    check(all('"order"' in t for (t,) in live), "a running journey keeps its trigger", live)
    check(rows("SELECT count(*) FROM journey_notes WHERE campaign_id = 'later'")[0][0] > 0,
          "and its notes")
    eq(len(rows("SELECT id FROM journeys WHERE campaign_id = 'once' AND active = 0")), 1,
       "a finished journey that re-entry 'never' reads stays, without its trigger's data")
    eq(D.post_events({"id": "v9", "customer": "r1", "type": "view"}).status, 202, "a view")
    eq(rows("SELECT count(*) FROM journeys WHERE campaign_id = 'once'")[0][0], 1,
       "and still keeps the customer from entering again")
    after = stats("thanks")
    for k in ("entered", "sent", "failed", "skipped", "conversions", "conversion_rate", "steps",
              "exited"):
        eq(after[k], before[k], f"statistics keep '{k}'")
    eq(sum(d["sent"] for d in after["days"]), 3, "and the days")
    eq(sum(d["entered"] for d in after["days"]), 3, "and the days' entries")
    eq({c["id"]: c["entered"] for c in D.request("GET", "/v1/campaigns").json["campaigns"]},
       campaigns_before, "and the campaigns' entries")
    eq(D.request("GET", "/v1/status").json["outbox"], status_before, "and the status")
    longest = [float(x) for x in re.findall(r"longest chunk ([0-9.]+) ms", D.read_log())]
    # A chunk holds the store loop: short on either store (PostgreSQL's round trips through
    # the server, which shares the two cores, make its chunks slower; 102 ms seen under load).
    limit = 300 if D.on_postgresql() else 100
    check(longest and max(longest) < limit, f"chunks are short (< {limit} ms)", longest)
    eq(D.stop(), 0, "clean stop")


# The advisory lock a PostgreSQL node holds while it prunes ("ntretent" in ASCII).
RETENTION_LOCK = 0x6e74726574656e74


@test
def on_postgresql_one_node_prunes_at_a_time():
    """Nodes sharing a database prune one at a time: while another holds retention's lock, a
    node's passes prune nothing (two chunks on the same rows would archive them twice)."""
    if not D.on_postgresql():
        skip("PostgreSQL only: one SQLite database has one daemon")
    d = Daemon({"log_level": "debug", "retention": {"events": "1s", "interval": "1s"}})
    other = subprocess.Popen(["psql", "-X", "-q", "-At", "-d", d.config["store"]],
                             stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    try:
        d.start()
        other.stdin.write(f"SELECT pg_advisory_lock({RETENTION_LOCK});\n\\echo locked\n")
        other.stdin.flush()
        while other.stdout.readline().strip() != "locked":
            pass
        for i in range(3):  # the first of a type stays: two may go
            eq(d.post_events({"id": f"e{i}", "customer": "n1", "type": "view"}).status, 202,
               "event")
        passes = d.read_log().count("retention: pass done")
        # Three passes at 1 s apart: the last had the events older than the limit.
        poll(lambda: d.read_log().count("retention: pass done") >= passes + 3, 20,
             "three retention passes")
        eq(d.sql("SELECT count(*) FROM events"), [["3"]],
           "nothing pruned while another node holds retention")
        other.communicate(f"SELECT pg_advisory_unlock({RETENTION_LOCK});\n", timeout=10)
        poll(lambda: d.sql("SELECT count(*) FROM events") == [["1"]], 20,
             "pruned once the other node is done")
        eq(d.stop(), 0, "clean stop")
    finally:
        if other.poll() is None:
            other.kill()
        d.cleanup()


@test
def retention_is_checked_in_the_config():
    for bad, field in (({"events": "soon"}, "retention.events"),
                       ({"colour": "1d"}, "unknown key 'colour'"),
                       ({"messages": "1d"}, "retention")):
        d = Daemon({"retention": bad, "frequency_cap": {"max": 3, "per": "7d"}})
        try:
            d.start(wait=False)
            d.proc.wait(15)
            eq(d.proc.returncode, 1, f"{bad} refused")
            check(field in d.read_log(), f"{field} named", d.read_log()[-500:])
        finally:
            d.cleanup()


if __name__ == "__main__":
    try:
        run_all()
    finally:
        D.stop()
        D.cleanup()
