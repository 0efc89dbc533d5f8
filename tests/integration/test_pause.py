#!/usr/bin/python3
"""Pausing and resuming a campaign over the API: no journey starts, the running ones are held
at their next send, a resume runs what was held, and the pause lasts across a restart."""
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from ntest import Daemon, check, eq, poll, run_all, test  # noqa: E402


def setup():
    d = Daemon()
    d.config["channels"] = {"mail": {"plugin": "maildir", "payload": "json",
                                     "path": os.path.join(d.tmp, "maildir")}}
    d.write_config()
    for cid, status in (("thanks", "active"), ("draft", "draft")):
        d.write_send_campaign(cid, "purchase", "t", before=[{"id": "settle", "wait": "2s"}],
                              status=status, reentry="always")
    return d.start()


def sent(d, cust):
    r = d.request("GET", f"/v1/messages?customer={cust}")
    return [m for m in r.json["messages"] if m["state"] == "sent"]


def status(d, cid):
    return {c["id"]: c["status"] for c in d.request("GET", "/v1/campaigns").json["campaigns"]}[cid]


@test
def pause_holds_resume_runs_and_it_lasts():
    d = setup()
    try:
        eq(d.request("POST", "/v1/customers", body={"id": "a", "email": "a@example.com"}).status,
           200, "customer")
        eq(d.post_events({"customer": "a", "type": "purchase", "id": "p1"}).status, 202, "event")

        def journeys():
            return d.request("GET", "/v1/customers/a").json.get("journeys", [])
        poll(lambda: journeys(), 10, "the journey entered (it waits 2 s before its send)")
        eq(journeys()[0]["step"], "send", "the step it runs when the wait ends")
        r = d.request("POST", "/v1/campaigns/thanks/pause")
        eq((r.status, r.json), (200, {"campaign": "thanks", "status": "paused", "changed": True}),
           "paused")
        eq(status(d, "thanks"), "paused", "listed as paused")
        eq(d.post_events({"customer": "a", "type": "purchase", "id": "p2"}).status, 202, "event")
        # The wait ends while paused: the journey is held (no due time), nothing is sent.
        poll(lambda: journeys() and journeys()[0].get("due") is None, 15, "the journey held")
        eq(len(journeys()), 1, "a paused campaign starts no journey for the second order")
        eq(journeys()[0]["step"], "send", "held at its send")
        eq(d.request("GET", "/v1/messages?customer=a").json["messages"], [], "nothing queued")
        d.stop()
        d.start()
        eq(status(d, "thanks"), "paused", "still paused after a restart")
        r = d.request("POST", "/v1/campaigns/thanks/resume")
        eq((r.status, r.json["status"], r.json["changed"]), (200, "active", True), "resumed")
        poll(lambda: sent(d, "a"), 10, "the held journey runs after the resume")
        eq(status(d, "thanks"), "active", "listed as active")
        r = d.request("POST", "/v1/campaigns/thanks/resume")
        eq(r.json["changed"], False, "a second resume changes nothing")
        eq(d.request("POST", "/v1/campaigns/draft/pause").status, 409, "a draft is its file's")
        eq(d.request("POST", "/v1/campaigns/nope/pause").status, 404, "unknown campaign")
        eq(d.request("POST", "/v1/campaigns/thanks/frobnicate").status, 404, "unknown action")
        check(d.request("POST", "/v1/campaigns/thanks/pause", auth=False).status == 401,
              "needs the token")
    finally:
        d.stop()
        d.cleanup()


if __name__ == "__main__":
    run_all()
