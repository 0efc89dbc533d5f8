#!/usr/bin/python3
"""`nurtured simulate` decides as the daemon does: the same customers, suppressions, events,
campaigns, templates and config through both, and the daemon's notes must be simulate's
timeline line for line (the time aside). Covers consent (unsubscribed, not subscribed), the
suppression list, a customer without an address, a header the message builder refuses, a
template that fails to render, quiet hours and the frequency cap."""
import datetime
import json
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from ntest import Daemon, check, eq, poll, run_all, run_cli, test  # noqa: E402


def send(sid, template):
    return {"id": sid, "send": {"channel": "mail", "template": template}}


def campaigns(now):
    # Quiet hours from an hour before now to an hour after, in UTC: the send is deferred.
    m = now.hour * 60 + now.minute
    hhmm = lambda x: "%02d:%02d" % ((x % 1440) // 60, x % 60)  # noqa: E731
    base = {"status": "active", "trigger": {"event": "purchase"}, "timezone_default": "UTC"}
    return [
        dict(base, id="a-orders", name="orders", topic="orders", steps=[send("thanks", "thanks")]),
        dict(base, id="b-offers", name="offers", topic="offers",
             steps=[send("offer-1", "offer"), send("offer-2", "offer")]),
        dict(base, id="c-quiet", name="quiet", topic="orders",
             quiet_hours={"from": hhmm(m - 60), "to": hhmm(m + 60)},
             steps=[send("late", "thanks")]),
        dict(base, id="d-styled", name="styled", topic="orders", transactional=True,
             steps=[send("styled", "styled")]),
    ]


TEMPLATES = {
    "thanks.subject.mustache": "Thanks, {{customer.name}}\n",
    "thanks.text.mustache": "Order {{event.properties.order_id}}.\n",
    "offer.subject.mustache": "An offer\n",
    "offer.text.mustache": "For you.\n",
    # A partial named by the customer: one that does not exist fails at render time.
    "styled.subject.mustache": "Styled\n",
    "styled.text.mustache": "{{>*customer.attributes.style}}\n",
    "plain.mustache": "plain\n",
}

CUSTOMERS = [
    {"id": "subscribed", "email": "s@example.com", "name": "Sam",
     "consent": {"offers": "subscribed"}, "attributes": {"style": "plain"}},
    {"id": "unsubscribed", "email": "u@example.com", "consent": {"orders": "unsubscribed"},
     "attributes": {"style": "plain"}},
    {"id": "pending", "email": "p@example.com", "consent": {"offers": "pending"},
     "attributes": {"style": "plain"}},
    {"id": "suppressed", "email": "x@example.com", "consent": {"offers": "subscribed"},
     "attributes": {"style": "plain"}},
    {"id": "no-address", "consent": {"offers": "subscribed"}, "attributes": {"style": "plain"}},
    {"id": "bad-name", "email": "b@example.com", "name": "Eve\r\nBcc: victim@example.com",
     "attributes": {"style": "plain"}},
    {"id": "bad-style", "email": "t@example.com", "attributes": {"style": "nowhere"}},
]
SUPPRESSIONS = [{"address": "X@example.com", "reason": "complaint"}]


def daemon_notes(d):
    """The daemon's notes, read from its store on either backend (NULL as None: PostgreSQL's
    reads as "", and none of these columns holds an empty string)."""
    return [tuple(None if v == "" else v for v in row) for row in d.sql(
        "SELECT c.ext_id, n.campaign_id, n.step_id, n.action, n.reason, n.channel,"
        " n.template FROM journey_notes n JOIN customers c ON c.id = n.customer_id"
        " ORDER BY n.id")]


def write_jsonl(path, rows):
    with open(path, "w") as f:
        for r in rows:
            f.write(json.dumps(r) + "\n")
    return path


@test
def simulate_and_the_daemon_record_the_same_decisions():
    now = datetime.datetime.now(datetime.timezone.utc).replace(microsecond=0)
    d = Daemon({"frequency_cap": {"max": 2, "per": "7d"}})
    try:
        for c in campaigns(now):
            d.write_campaign(c)
        d.write_templates(TEMPLATES)
        d.write_config()
        when = now.isoformat().replace("+00:00", "Z")
        events = [{"id": "e-" + c["id"], "customer": c["id"], "type": "purchase", "time": when,
                   "properties": {"order_id": "o-" + c["id"]}} for c in CUSTOMERS]
        # simulate first: the same files, the daemon's config (channels, cap, templates_dir).
        r = run_cli("simulate", "--campaigns", os.path.join(d.tmp, "campaigns"),
                    "--config", d.config_path, "--until", "10m", "--json",
                    "--events", write_jsonl(os.path.join(d.tmp, "ev.jsonl"), events),
                    "--customers", write_jsonl(os.path.join(d.tmp, "cu.jsonl"), CUSTOMERS),
                    "--suppressions", write_jsonl(os.path.join(d.tmp, "su.jsonl"), SUPPRESSIONS))
        eq(r.returncode, 0, "simulate: " + r.stderr)
        sim = [(t["customer"], t["campaign"], t["step"], t["action"], t["reason"], t["channel"],
                t["template"]) for t in map(json.loads, r.stdout.splitlines())]
        d.start()
        for c in CUSTOMERS:
            eq(d.request("POST", "/v1/customers", body=c).status, 200, "customer " + c["id"])
        for s in SUPPRESSIONS:
            eq(d.request("POST", "/v1/suppressions", body=s).status, 200, "suppression")
        r = d.post_events({"events": events})
        eq(r.status, 202, "events: " + r.raw)
        poll(lambda: len(daemon_notes(d)) >= len(sim), 15, "the daemon's notes")
        got = daemon_notes(d)
        # Every kind of decision is there, so that agreement means something.
        reasons = {n[4] for n in sim if n[3] == "skip"}
        for want in ("unsubscribed", "not_subscribed", "suppressed", "no_email", "quiet_hours",
                     "frequency_cap_deferred"):
            check(want in reasons, "simulate shows " + want, sim)
        check(any(x and x.startswith("invalid_header") for x in reasons), "a bad header", sim)
        check(any(x and x.startswith("render_error") for x in reasons), "a failing template",
              sim)
        check(any(n[3] == "send" for n in sim), "and sends", sim)
        eq([tuple(n) for n in got], sim, "the daemon's notes, line for line")
    finally:
        d.stop()
        d.cleanup()


@test
def simulate_refuses_a_missing_template_as_the_daemon_does():
    d = Daemon()
    try:
        d.write_campaign({"id": "x", "name": "x", "status": "active", "topic": "orders",
                          "trigger": {"event": "purchase"}, "steps": [send("s", "absent")]})
        d.write_templates({"other.text.mustache": "x\n", "other.subject.mustache": "x\n"})
        ev = write_jsonl(os.path.join(d.tmp, "ev.jsonl"),
                         [{"customer": "c", "type": "purchase", "time": "2026-01-01T00:00:00Z"}])
        r = run_cli("simulate", "--campaigns", os.path.join(d.tmp, "campaigns"), "--config",
                    d.config_path, "--events", ev)
        eq(r.returncode, 1, "simulate refuses it")
        check("no template 'absent'" in r.stderr, "and names it", r.stderr)
        c = run_cli("check", "-c", d.config_path)
        eq(c.returncode, 1, "check refuses it too")
        check("no template 'absent'" in c.stderr + c.stdout, "with the same words", c.stderr)
        d.start(wait=False)
        eq(d.proc.wait(15), 1, "and the daemon does not start")
        check("no template 'absent'" in d.read_log(), "naming it", d.read_log())
    finally:
        d.stop()
        d.cleanup()


run_all()
