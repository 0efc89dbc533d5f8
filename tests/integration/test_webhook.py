#!/usr/bin/python3
"""Webhook delivery in the real daemon: a campaign's send step on a webhook channel reaches a
real receiver on loopback, signed (Standard Webhooks) and carrying the customer and the event;
5xx and 429 are retried by the host (Retry-After honoured), 4xx fails with the receiver's
reply, and a stalling receiver times out without ever blocking the daemon's loop."""
import json
import os
import sys
import time
from urllib.parse import quote

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from ntest import Daemon, check, eq, poll, run_all, test  # noqa: E402
from webhook_receiver import Receiver  # noqa: E402

SECRET = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"

CAMPAIGN = {"id": "helpdesk", "name": "helpdesk", "status": "active", "topic": "follow-ups",
            "trigger": {"event": "purchase"}, "reentry": "always",
            "steps": [{"id": "ticket", "send": {"channel": "helpdesk", "template": "ticket"}}]}


class Setup:
    """A receiver and a daemon whose "helpdesk" channel posts to it."""

    def __init__(self, timeout_ms=1000):
        self.rcv = Receiver(SECRET).start()
        self.d = Daemon({"channels": {"helpdesk": {
            "plugin": "webhook",
            "url": self.rcv.url("/hooks/{{customer.id}}"),
            "secret": SECRET,
            "timeout_ms": timeout_ms,
            "headers": {"X-Tenant": "acme"},
            "retry": {"initial": "1s", "max": "2s", "max_age": "1h"}}}})
        cdir = os.path.join(self.d.tmp, "campaigns")
        os.makedirs(cdir)
        os.makedirs(os.path.join(self.d.tmp, "templates"))  # none needed: the document is JSON
        with open(os.path.join(cdir, "helpdesk.json"), "w") as f:
            json.dump(CAMPAIGN, f)
        self.d.write_config()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        try:
            self.d.stop()
        finally:
            self.d.cleanup()
            self.rcv.stop()

    def purchase(self, customer, order):
        r = self.d.post_events({"customer": customer, "type": "purchase",
                                "properties": {"order_id": order, "total": 42.5}})
        eq(r.status, 202, "event accepted")

    def messages(self, customer):
        r = self.d.request("GET", "/v1/messages?customer=" + quote(customer, safe=""))
        eq(r.status, 200, "GET /v1/messages")
        return r.json["messages"]

    def wait_state(self, customer, state, timeout=15):
        def done():
            m = self.messages(customer)
            return m if m and m[0]["state"] == state else None
        try:
            return poll(done, timeout, f"message of {customer} to be {state}")[0]
        except Exception:
            raise AssertionError(f"{self.messages(customer)}\n{self.d.read_log()[-3000:]}")


@test
def a_send_step_posts_a_signed_document_with_customer_and_event():
    with Setup() as s:
        s.d.start()
        s.purchase("cust 1&a?b", "o1")
        req = s.rcv.wait_for(1)[0]
        m = s.wait_state("cust 1&a?b", "sent")
        check(req["sig_ok"], "the receiver verified the signature", req["sig_error"])
        eq(req["method"], "POST", "method")
        eq(req["path"], "/hooks/cust%201%26a%3Fb", "the customer id URL-encoded in the path")
        eq(req["headers"].get("content-type"), "application/json", "Content-Type")
        check(req["headers"].get("user-agent", "").startswith("nurtured/"), "User-Agent",
              req["headers"])
        eq(req["headers"].get("x-tenant"), "acme", "a configured header")
        eq(req["headers"].get("webhook-id"), m["message_id"], "webhook-id is the message id")
        doc = json.loads(req["body"])
        eq(doc["customer"]["id"], "cust 1&a?b", "the customer in the body")
        eq(doc["event"]["type"], "purchase", "the event in the body")
        eq(doc["event"]["properties"]["order_id"], "o1", "the event's properties")
        eq(m["attempts"], 1, "one attempt")
        eq(m["last_reply"], "HTTP 204", "the reply")


@test
def two_500s_then_200_is_sent_after_three_attempts_with_the_same_id():
    with Setup() as s:
        s.rcv.set_mode("fail_then_ok", n=2)
        s.d.start()
        s.purchase("bo", "o1")
        m = s.wait_state("bo", "sent")
        reqs = s.rcv.snapshot()
        eq(len(reqs), 3, "three requests")
        eq(m["attempts"], 3, "three attempts")
        eq(len({r["headers"]["webhook-id"] for r in reqs}), 1, "one webhook-id across retries")
        check(all(r["sig_ok"] for r in reqs), "every attempt signed afresh")


@test
def a_429_retry_after_is_honoured():
    with Setup() as s:
        s.rcv.set_mode("throttle", n=1, retry_after="2")
        s.d.start()
        s.purchase("cy", "o1")
        m = s.wait_state("cy", "sent")
        reqs = s.rcv.snapshot()
        eq(len(reqs), 2, "two requests")
        gap = reqs[1]["time"] - reqs[0]["time"]
        check(gap >= 2.0, f"the next attempt not before Retry-After: 2 (it came after {gap:.3f} s)")
        eq(m["attempts"], 2, "two attempts")


@test
def a_400_fails_with_the_receivers_reply():
    with Setup() as s:
        s.rcv.set_mode("bad")
        s.d.start()
        s.purchase("di", "o1")
        m = s.wait_state("di", "failed")
        eq(m["last_reply"], 'HTTP 400: {"error": "unknown customer"}', "the reply")
        eq(m["attempts"], 1, "no retry")
        eq(len(s.rcv.snapshot()), 1, "one request")


@test
def a_stalling_receiver_times_out_and_the_loop_stays_responsive():
    with Setup(timeout_ms=1000) as s:
        s.rcv.set_mode("stall", seconds=5)
        s.d.start()
        s.purchase("ed", "o1")
        s.rcv.wait_for(1)
        slowest = 0.0
        t_end = time.monotonic() + 0.6  # while the request hangs (timeout 1 s)
        while time.monotonic() < t_end:
            t0 = time.monotonic()
            eq(s.d.request("GET", "/healthz", auth=False, timeout=2).status, 200, "/healthz")
            slowest = max(slowest, time.monotonic() - t0)
        check(slowest < 0.05, f"/healthz answered within 50 ms (slowest {slowest * 1000:.1f} ms)")

        def timed_out():
            m = s.messages("ed")
            return m if m and m[0]["state"] == "deferred" and \
                "timeout" in (m[0].get("last_reply") or "") else None
        m = poll(timed_out, 10, "a deferral with a timeout reply")[0]
        eq(m["last_reply"], "timeout after 1000 ms", "the reply")
        s.rcv.set_mode("ok")
        s.wait_state("ed", "sent")


if __name__ == "__main__":
    run_all()
