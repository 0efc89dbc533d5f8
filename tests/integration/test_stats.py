#!/usr/bin/python3
"""Statistics over the API: /v1/status, /v1/campaigns, a campaign's stats (sends, a skip, an
exit, a conversion, counted once each), their bounds, and the labelled counters in /metrics."""
import datetime
import json
import os
import re
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from ntest import Daemon, check, eq, poll, run_all, test  # noqa: E402

ONBOARD = {
    "id": "onboard", "name": "Onboarding", "status": "active", "topic": "follow-ups",
    "trigger": {"event": "signup"},
    "exit_on": ["cancel"],
    "goal": {"event": "purchase", "within": "14d"},
    "steps": [
        {"id": "welcome", "send": {"channel": "mail", "template": "welcome"}},
        {"id": "pause", "wait": "1h"},
        {"id": "tips", "send": {"channel": "mail", "template": "tips"}},
    ],
}
# Entered by ann's purchase; the frequency cap (one a week) skips its offer: a skip that only
# a note records, no outbox row.
PROMO = {
    "id": "promo", "name": "Promo", "status": "active", "topic": "offers",
    "trigger": {"event": "purchase"}, "on_cap": "skip",
    "steps": [{"id": "offer", "send": {"channel": "mail", "template": "offer"}}],
}
DORMANT = {
    "id": "dormant", "name": "Dormant", "status": "paused", "topic": "news",
    "transactional": True, "trigger": {"event": "never"},
    "steps": [{"id": "hello", "send": {"channel": "mail", "template": "hello"}}],
}


def daemon():
    d = Daemon()
    # JSON payloads need no template; the engine still checks consent and suppression.
    d.config["frequency_cap"] = {"max": 1, "per": "7d"}
    d.config["channels"] = {"mail": {"plugin": "maildir", "payload": "json",
                                     "path": os.path.join(d.tmp, "maildir")}}
    cdir = d.config["campaigns_dir"]
    os.makedirs(cdir)
    for c in (ONBOARD, PROMO, DORMANT):
        with open(os.path.join(cdir, c["id"] + ".json"), "w") as f:
            json.dump(c, f, indent=2)
    d.write_config()
    return d


def get(d, path, status=200):
    r = d.request("GET", path)
    eq(r.status, status, f"GET {path}: {r.raw}")
    return r.json


def stats(d, days=None):
    return get(d, "/v1/campaigns/onboard/stats" + (f"?days={days}" if days else ""))


def metric(text, series):
    m = re.search("^" + re.escape(series) + r" (\d+)$", text, re.M)
    return int(m.group(1)) if m else None


def scenario(d):
    """ann converts, bob cancels, cy is suppressed: two sends, one skip, one exit, one goal."""
    for who in ("ann", "bob", "cy"):
        eq(d.request("POST", "/v1/customers",
                     body={"id": who, "email": f"{who}@example.com"}).status, 200, who)
    eq(d.request("POST", "/v1/suppressions", body={"address": "cy@example.com"}).status, 200,
       "suppressed")
    eq(d.post_events({"events": [{"customer": w, "type": "signup"}
                                 for w in ("ann", "bob", "cy")]}).status,
       202, "signups")
    poll(lambda: stats(d)["sent"] == 2, 15, "two welcomes delivered")
    eq(d.post_events({"events": [{"customer": "ann", "type": "purchase"},
                                 {"customer": "bob", "type": "cancel"}]}).status, 202, "purchase, cancel")
    poll(lambda: stats(d)["conversions"] == 1 and stats(d)["active"] == 2, 15,
         "the conversion and the exit")
    poll(lambda: get(d, "/v1/campaigns/promo/stats")["exited"] == {"completed": 1}, 15,
         "the promo journey done")


@test
def a_campaigns_stats_count_each_outcome_once():
    d = daemon()
    try:
        d.start()
        scenario(d)
        s = stats(d)
        today = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d")
        # Issue 19's figures (test_measure.py checks them in full): counted as things happen.
        m, x = s.pop("measure"), s.pop("experiment")
        eq((m["recipients"], m["converted"], m["clicked"], x), (2, 1, 0, None), "measure")
        eq(s, {"campaign": "onboard", "entered": 3, "active": 2,
               "exited": {"exit_on:cancel": 1}, "sent": 2, "failed": 0,
               "skipped": {"suppressed": 1},
               "goal": {"event": "purchase", "within": "14d"},
               "conversions": 1, "conversion_rate": 0.5,
               "steps": [{"step": "welcome", "sent": 2, "failed": 0, "skipped": 1,
                          "passed": 3},
                         {"step": "tips", "sent": 0, "failed": 0, "skipped": 0, "passed": 0}],
               "days": [{"day": today, "entered": 3, "sent": 2, "failed": 0, "skipped": 1,
                         "conversions": 1}],
               # Journeys that ran each step once or more (the wait, too); none reached tips.
               "passed": {"welcome": 3, "pause": 3}}, "stats")
        p = get(d, "/v1/campaigns/promo/stats")
        eq((p["entered"], p["active"], p["sent"], p["skipped"], p["goal"], p["conversions"],
            p["conversion_rate"], p["steps"]),
           (1, 0, 0, {"frequency_cap": 1}, None, 0, 0,
            [{"step": "offer", "sent": 0, "failed": 0, "skipped": 1, "passed": 1}]),
           "a note-only skip")
        eq([(x["entered"], x["skipped"]) for x in p["days"]], [(1, 1)], "its day")
        eq(stats(d, 1)["days"], s["days"], "today is within the last day")
        eq(stats(d, 366)["days"], s["days"], "the longest window")
        # A campaign without journeys answers zeros; an unknown one is not found.
        z = get(d, "/v1/campaigns/dormant/stats")
        eq((z["entered"], z["sent"], z["goal"], z["conversion_rate"], z["days"]),
           (0, 0, None, 0, []), "no journeys yet")
        eq(z["steps"], [{"step": "hello", "sent": 0, "failed": 0, "skipped": 0, "passed": 0}],
           "its step")
        eq(get(d, "/v1/campaigns/nope/stats", 404)["error"], "no such campaign", "unknown")
        get(d, "/v1/campaigns/onboard/other", 404)
        get(d, "/v1/campaigns/onboard", 404)
        for bad in ("0", "1000", "-1", "abc", "1.5", ""):
            r = d.request("GET", f"/v1/campaigns/onboard/stats?days={bad}")
            eq(r.status, 400, f"days={bad}")
            eq(r.json["field"], "days", f"days={bad} names the field")
        eq(d.request("GET", "/v1/campaigns/onboard/stats", auth=False).status, 401, "token")
        d.stop()
    finally:
        d.cleanup()


@test
def campaigns_and_status_list_what_runs():
    d = daemon()
    try:
        d.start()
        scenario(d)
        cs = get(d, "/v1/campaigns")["campaigns"]
        for c in cs:
            check(re.fullmatch(r"[0-9a-f]{16}", c.pop("version")), "a version hash", c)
        eq(sorted(cs, key=lambda c: c["id"]), [
            {"id": "dormant", "name": "Dormant", "status": "paused", "topic": "news",
             "transactional": True, "entered": 0, "active": 0},
            {"id": "onboard", "name": "Onboarding", "status": "active", "topic": "follow-ups",
             "transactional": False, "entered": 3, "active": 2},
            {"id": "promo", "name": "Promo", "status": "active", "topic": "offers",
             "transactional": False, "entered": 1, "active": 0}], "campaigns")
        st = get(d, "/v1/status")
        eq(st["version"], "0.1.0", "version")
        check(isinstance(st["uptime_s"], int) and 0 <= st["uptime_s"] < 120, "uptime", st)
        check(isinstance(st["store_queue"], int) and st["store_queue"] >= 0, "queue", st)
        eq(st["outbox"], {"queued": 0, "deferred": 0, "sending": 0, "sent": 2, "failed": 0,
                          "expired": 0, "skipped": 1, "bounced": 0}, "outbox")
        eq(st["channels"], [{"name": "mail", "plugin": "maildir", "payload": "json",
                             "inflight": 0}], "channels")
        eq(d.request("GET", "/v1/status", auth=False).status, 401, "token")
        # Statistics are read on the reader's own connection: what the store thread committed
        # before answering is there at once, a pause as well as a count.
        check("no connection of its own" not in d.read_log(), "the reader opened", d.read_log())
        for action, want in (("pause", "paused"), ("resume", "active")):
            eq(d.request("POST", f"/v1/campaigns/onboard/{action}").status, 200, action)
            c = next(c for c in get(d, "/v1/campaigns")["campaigns"] if c["id"] == "onboard")
            eq(c["status"], want, f"listed {want} right after the {action}")
        commits = metric(d.request("GET", "/metrics", auth=False).raw,
                         "nurtured_store_commits_total")
        for _ in range(30):
            get(d, "/v1/campaigns")
        after = metric(d.request("GET", "/metrics", auth=False).raw,
                       "nurtured_store_commits_total")
        check(after - commits < 15, f"the reader's reads are not counted as commits"
              f" ({commits} -> {after} over 30 listings)")
        d.stop()
    finally:
        d.cleanup()


@test
def metrics_count_per_campaign_and_channel():
    d = daemon()
    try:
        d.start()
        scenario(d)
        r = d.request("GET", "/metrics", auth=False)
        eq(r.status, 200, "metrics")
        t = r.raw
        eq(metric(t, 'nurtured_campaign_entered_total{campaign="onboard"}'), 3, "entered")
        eq(metric(t, 'nurtured_campaign_messages_total{campaign="onboard",state="queued"}'),
           2, "queued")
        eq(metric(t, 'nurtured_campaign_messages_total{campaign="onboard",state="skipped"}'),
           1, "skipped")
        eq(metric(t, 'nurtured_campaign_messages_total{campaign="promo",state="skipped"}'),
           1, "the capped offer")
        eq(metric(t, 'nurtured_campaign_entered_total{campaign="promo"}'), 1, "promo entered")
        eq(metric(t, 'nurtured_channel_deliveries_total{channel="mail",result="sent"}'), 2,
           "sent")
        eq(metric(t, 'nurtured_channel_deliveries_total{channel="mail",result="failed"}'),
           None, "no failure series")
        for fam in ("nurtured_campaign_entered_total", "nurtured_campaign_messages_total",
                    "nurtured_channel_deliveries_total"):
            eq(t.count(f"# TYPE {fam} counter\n"), 1, f"{fam} typed once")
        d.stop()
    finally:
        d.cleanup()


if __name__ == "__main__":
    run_all()
