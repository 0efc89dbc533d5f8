"""Broadcasts and segments (issue 17) with the real daemon and aiosmtpd: a saved segment's
consenting members get the newsletter and nobody else, a scheduled one goes at its instant (and
at a local time per customer), cancel stops the remainder, kill -9 during the fan-out loses and
doubles nothing, a template edited while sending changes nothing in flight, a test send reaches
only its address, the archive shows no personal data, and bad input is a 400 naming the field.
"""
import datetime
import email
import email.policy
import os
import json
import signal
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from ntest import TOKEN, Daemon, check, eq, poll, run_all, run_cli, test  # noqa: E402
from inbound_mail import arf, post_inbound  # noqa: E402
from smtp_server import SmtpServer  # noqa: E402

CTL = os.path.join(os.environ.get("NT_BUILDDIR") or
                   os.path.join(os.path.dirname(__file__), "..", ".."), "nurturectl")


def ctl(d, *args):
    e = {k: v for k, v in os.environ.items() if not k.startswith("NURTURED_")}
    e["HOME"] = d.tmp
    return subprocess.run([CTL, "--url", f"http://127.0.0.1:{d.port}", "--token", TOKEN, *args],
                          capture_output=True, text=True, timeout=30, env=e)


def setup(config=None, templates=None):
    srv = SmtpServer().start()
    ch = {"plugin": "smtp", "host": "127.0.0.1", "port": srv.port, "starttls": "none",
          "messages_per_connection": 100, "retry": {"initial": "1s", "max": "1s"}}
    d = Daemon(dict({"public_url": "https://mail.test.example",
                     "mail_from": {"name": "Shop", "address": "shop@mail.test.example"},
                     "channels": {"mail": ch}}, **(config or {})))
    d.write_templates(templates or {"news.subject.mustache": "News for {{customer.name}}",
                                    "news.text.mustache": "Hello {{customer.name}}: ORIGINAL\n",
                                    "footer.mustache": "-- the shop"})
    d.start()
    return d, srv


def teardown(d, srv):
    try:
        d.stop()
    finally:
        srv.stop()
        d.cleanup()


def customers(d, people):
    """PEOPLE: (id, plan, consent state for newsletter or None, timezone or None)."""
    evs = []
    for cid, plan, consent, tz in people:
        prof = {"email": f"{cid}@example.org", "name": cid.capitalize(),
                "attributes": {"plan": plan}}
        if consent:
            prof["consent"] = {"newsletter": consent}
        if tz:
            prof["timezone"] = tz
        evs.append({"customer": cid, "type": "signup", "id": f"s-{cid}", "profile": prof})
    for i in range(0, len(evs), 500):
        r = d.post_events({"events": evs[i:i + 500]})
        eq(r.status, 202, f"sign-ups: {r.raw}")


def many(d, n, prefix="c"):
    customers(d, [(f"{prefix}{i:05d}", "pro", "subscribed", "UTC") for i in range(n)])
    poll(lambda: d.request("GET", f"/v1/customers/{prefix}{n - 1:05d}").status == 200, 30,
         "the last customer stored")


def inline(**kw):
    b = {"id": "nov", "name": "November news", "topic": "newsletter", "channel": "mail",
         "audience": "pro", "send_at": "now",
         "content": {"subject": "November, {{customer.name}}",
                     "text": "Hi {{customer.name}} <{{customer.email}}>\n{{> footer}}\n"
                             "{{links.unsubscribe_url}}\n"}}
    b.update(kw)
    return b


def pro_segment(d):
    r = d.request("POST", "/v1/segments", body={"id": "pro", "name": "Pro plan",
                                                 "condition": {"field": "customer.attributes.plan",
                                                               "eq": "pro"}})
    eq(r.status, 201, f"segment: {r.raw}")


def bc(d, bid="nov"):
    return d.request("GET", f"/v1/broadcasts/{bid}").json


def sent_state(d, bid="nov", timeout=30):
    return poll(lambda: (lambda b: b if b["state"] in ("sent", "canceled") else None)(bc(d, bid)),
                timeout, f"broadcast {bid} done")


def rcpts(srv):
    return sorted(r for m in srv.messages for r in m.rcpts)


def delivered(d, n):
    """Waits until N messages of the outbox are sent (delivery caught up)."""
    poll(lambda: d.request("GET", "/v1/status").json["outbox"]["sent"] >= n, 30,
         f"{n} messages sent")


@test
def segments_are_saved_counted_and_sampled():
    d, srv = setup()
    try:
        customers(d, [("ann", "pro", "subscribed", None), ("bob", "pro", None, None),
                      ("cid", "free", "subscribed", None)])
        poll(lambda: d.request("GET", "/v1/customers/cid").status == 200, 10, "customers")
        pro_segment(d)
        eq(d.request("POST", "/v1/segments", body={"id": "pro", "name": "Pro plan", "condition": {
            "field": "customer.attributes.plan", "eq": "pro"}}).status, 201, "the same again")
        eq(d.request("POST", "/v1/segments", body={"id": "pro", "name": "other", "condition": {
            "field": "customer.attributes.plan", "eq": "pro"}}).status, 409, "another one")
        r = d.request("POST", "/v1/segments", body={"id": "bad", "name": "x",
                                                     "condition": {"field": "nope", "eq": 1}})
        eq((r.status, r.json.get("field")), (400, "condition"), f"a bad condition: {r.raw}")
        eq(d.request("GET", "/v1/segments/pro/count").json["count"], 2, "count")
        eq(d.request("GET", "/v1/segments/pro/count?topic=newsletter").json["subscribed"], 1,
           "subscribed of them")
        eq(sorted(d.request("GET", "/v1/segments/pro/sample?n=5").json["customers"]),
           ["ann", "bob"], "sample")
        eq([s["id"] for s in d.request("GET", "/v1/segments").json["segments"]], ["pro"], "list")
        eq(d.request("DELETE", "/v1/segments/pro").status, 200, "deleted")
        eq(d.request("GET", "/v1/segments/pro").status, 404, "gone")
    finally:
        teardown(d, srv)


@test
def a_broadcast_to_a_segment_reaches_exactly_its_consenting_members():
    d, srv = setup()
    try:
        customers(d, [("ann", "pro", "subscribed", None), ("bea", "pro", "subscribed", None),
                      ("cat", "pro", "unsubscribed", None), ("dan", "pro", None, None),
                      ("eve", "free", "subscribed", None), ("sue", "pro", "subscribed", None)])
        poll(lambda: d.request("GET", "/v1/customers/sue").status == 200, 10, "customers")
        eq(d.request("POST", "/v1/suppressions", body={"address": "sue@example.org",
                                                        "reason": "complaint"}).status, 200,
           "sue suppressed")
        pro_segment(d)
        r = d.request("POST", "/v1/broadcasts", body=inline())
        eq(r.status, 201, f"created: {r.raw}")
        eq(d.request("POST", "/v1/broadcasts", body=inline()).status, 200, "idempotent")
        eq(d.request("POST", "/v1/broadcasts", body=inline(name="other")).status, 409,
           "the same id, another request")
        b = sent_state(d)
        eq(b["state"], "sent", "sent")
        delivered(d, 2)
        srv.wait_for(lambda: len(srv.messages) >= 2)
        eq(rcpts(srv), ["ann@example.org", "bea@example.org"], "exactly the consenting members")
        eq(srv.duplicates(), {}, "each once")
        msg = email.message_from_bytes(srv.messages[0].data, policy=email.policy.default)
        check(msg["List-Unsubscribe"] and "One-Click" in (msg["List-Unsubscribe-Post"] or ""),
              "one-click unsubscribe", str(msg)[:800])
        check("-- the shop" in msg.get_body(("plain",)).get_content(), "the partial rendered")
        b = bc(d)
        eq((b["stats"]["audience"], b["stats"]["not_subscribed"], b["stats"]["sent"],
            b["stats"]["skipped"]), (5, 2, 2, {"suppressed": 1}), f"statistics: {b}")
        r = post_inbound(d, arf(msg["Message-ID"], msg["To"].addresses[0].addr_spec))
        eq((r.status, r.json["kind"]), (202, "complaint"), f"a complaint: {r.raw}")
        eq(bc(d)["stats"]["complaints"], 1, "the complaint counted")
        eq(d.request("POST", "/v1/broadcasts/nov/cancel").status, 409, "sent: no cancel")
        eq(d.request("PATCH", "/v1/broadcasts/nov", body={"name": "x"}).status, 409,
           "sent: no edit")
        eq([x["id"] for x in d.request("GET", "/v1/broadcasts").json["broadcasts"]], ["nov"],
           "listed")
    finally:
        teardown(d, srv)


@test
def bad_input_is_a_400_naming_the_field():
    d, srv = setup()
    try:
        customers(d, [("ann", "pro", "subscribed", None), ("bob", "free", "unsubscribed", None)])
        poll(lambda: d.request("GET", "/v1/customers/bob").status == 200, 10, "customers")
        pro_segment(d)
        past = (datetime.datetime.now(datetime.timezone.utc)
                - datetime.timedelta(hours=1)).strftime("%Y-%m-%dT%H:%M:%SZ")
        cases = [
            (inline(content={"subject": "x", "text": "{{#open}} never closed"}), "content.text"),
            (inline(content={"template": "missing"}), "content.template"),
            (inline(content={"subject": "x", "text": "{{> nosuch}}"}), "content"),
            (inline(audience={"field": "customer.attributes.plan", "eq": "free"}), "audience"),
            (inline(audience={"field": "customer.attributes.plan", "eq": "none"}), "audience"),
            (inline(audience="unknown"), "audience"),
            (inline(send_at=past), "send_at"),
            (inline(topic="follow-ups"), "topic"),
            (inline(channel="nope"), "channel"),
        ]
        for body, field in cases:
            r = d.request("POST", "/v1/broadcasts", body=body)
            eq((r.status, r.json and r.json.get("field")), (400, field), f"{body}: {r.raw}")
        eq(d.request("GET", "/v1/broadcasts").json["broadcasts"], [], "nothing was created")
    finally:
        teardown(d, srv)


@test
def drafts_are_edited_and_deleted_scheduled_ones_go_at_their_instant():
    d, srv = setup()
    try:
        customers(d, [("ann", "pro", "subscribed", None)])
        poll(lambda: d.request("GET", "/v1/customers/ann").status == 200, 10, "customers")
        pro_segment(d)
        draft = inline(id="draft")
        del draft["send_at"]
        eq(d.request("POST", "/v1/broadcasts", body=draft).status, 201, "a draft")
        r = d.request("PATCH", "/v1/broadcasts/draft", body={"name": "Renamed"})
        eq((r.status, r.json.get("name"), r.json.get("state")), (200, "Renamed", "draft"),
           f"patched: {r.raw}")
        eq(d.request("PATCH", "/v1/broadcasts/draft", body={"send_at": "yesterday"}).status, 400,
           "a patch is checked too")
        eq(d.request("DELETE", "/v1/broadcasts/draft").status, 200, "a draft is deleted")
        at = datetime.datetime.now(datetime.timezone.utc) + datetime.timedelta(seconds=3)
        r = d.request("POST", "/v1/broadcasts",
                      body=inline(send_at=at.strftime("%Y-%m-%dT%H:%M:%SZ")))
        eq((r.status, r.json["state"]), (201, "scheduled"), f"scheduled: {r.raw}")
        eq(d.request("DELETE", "/v1/broadcasts/nov").status, 409, "only drafts are deleted")
        srv.wait_for(lambda: len(srv.messages) >= 1, 15)
        arrived = datetime.datetime.now(datetime.timezone.utc)
        check(arrived >= at.replace(microsecond=0), f"not before its instant ({arrived} < {at})")
        eq(rcpts(srv), ["ann@example.org"], "sent at its instant")
    finally:
        teardown(d, srv)


@test
def in_customer_timezone_each_gets_it_at_the_local_time():
    d, srv = setup()
    try:
        # The next whole minute in UTC: "now" there; an hour later for a customer at UTC-1.
        now = datetime.datetime.now(datetime.timezone.utc)
        nxt = (now + datetime.timedelta(minutes=1)).replace(second=0, microsecond=0)
        if (nxt - now).total_seconds() < 5:
            nxt += datetime.timedelta(minutes=1)
        customers(d, [("ann", "pro", "subscribed", "UTC"),
                      ("bob", "pro", "subscribed", "Etc/GMT+1")])
        poll(lambda: d.request("GET", "/v1/customers/bob").status == 200, 10, "customers")
        pro_segment(d)
        r = d.request("POST", "/v1/broadcasts",
                      body=inline(in_customer_timezone=nxt.strftime("%H:%M")))
        eq(r.status, 201, f"created: {r.raw}")
        eq(sent_state(d)["state"], "sent", "every message queued")
        bob = d.request("GET", "/v1/messages?customer=bob").json["messages"]
        eq(bob[0]["state"], "queued", "bob's waits")
        eq(bob[0]["next_attempt"], (nxt + datetime.timedelta(hours=1)).strftime(
            "%Y-%m-%dT%H:%M:%S.000Z"), "at 'HH:MM' in bob's zone (UTC-1)")
        eq(len(srv.messages), 0, "nothing before the local time")
        srv.wait_for(lambda: len(srv.messages) >= 1, 75)
        check(datetime.datetime.now(datetime.timezone.utc) >= nxt, "ann's at her local time")
        eq(rcpts(srv), ["ann@example.org"], "ann's only")
    finally:
        teardown(d, srv)


@test
def quiet_hours_hold_the_message_until_they_end():
    d, srv = setup()
    try:
        now = datetime.datetime.now(datetime.timezone.utc)
        start = now - datetime.timedelta(hours=1)
        end = (now + datetime.timedelta(hours=1)).replace(second=0, microsecond=0)
        customers(d, [("ann", "pro", "subscribed", "UTC")])
        poll(lambda: d.request("GET", "/v1/customers/ann").status == 200, 10, "customers")
        pro_segment(d)
        r = d.request("POST", "/v1/broadcasts", body=inline(
            quiet_hours={"from": start.strftime("%H:%M"), "to": end.strftime("%H:%M")}))
        eq(r.status, 201, f"created: {r.raw}")
        eq(sent_state(d)["state"], "sent", "queued")
        m = d.request("GET", "/v1/messages?customer=ann").json["messages"]
        eq((m[0]["state"], m[0]["next_attempt"]),
           ("queued", end.strftime("%Y-%m-%dT%H:%M:%S.000Z")), "held until the quiet hours end")
        r = d.request("POST", "/v1/broadcasts", body=inline(id="q2", quiet_hours={"from": "x"}))
        eq((r.status, r.json.get("field")), (400, "quiet_hours"), "bad quiet hours")
    finally:
        teardown(d, srv)


@test
def cancel_stops_the_remainder():
    d, srv = setup()
    try:
        many(d, 400)
        pro_segment(d)
        eq(d.request("POST", "/v1/broadcasts", body=inline(chunk=1)).status, 201, "created")
        poll(lambda: bc(d)["stats"]["audience"] >= 5, 20, "the fan-out under way")
        r = d.request("POST", "/v1/broadcasts/nov/cancel")
        eq((r.status, r.json["state"]), (200, "canceled"), f"canceled: {r.raw}")
        n = bc(d)["stats"]["audience"]
        time.sleep(0.5)  # the fan-out would have gone on in this time; a cancel stops it
        b = bc(d)
        eq(b["stats"]["audience"], n, "no customer after the cancel")
        check(n < 400, f"the remainder was not queued ({n})")
        eq(d.request("POST", "/v1/broadcasts/nov/cancel").status, 409, "canceled once")
    finally:
        teardown(d, srv)


@test
def kill9_during_fan_out_loses_and_doubles_nothing():
    d, srv = setup()
    try:
        many(d, 1500)
        pro_segment(d)
        eq(d.request("POST", "/v1/broadcasts", body=inline(chunk=20)).status, 201, "created")
        poll(lambda: bc(d)["stats"]["audience"] >= 100, 30, "the fan-out under way")
        d.kill9()
        d.start()
        eq(sent_state(d, timeout=60)["state"], "sent", "resumed and finished")
        d.stop()
        rows = d.sql("SELECT customer_id, count(*) FROM outbox WHERE campaign_id ="
                     " 'broadcast:nov' GROUP BY customer_id")
        eq(len(rows), 1500, "every customer one message")
        eq([r for r in rows if r[1] != "1"], [], "no customer twice")
    finally:
        srv.stop()
        d.cleanup()


@test
def a_template_edited_while_sending_changes_nothing_in_flight():
    d, srv = setup()
    try:
        many(d, 150)
        pro_segment(d)
        eq(d.request("POST", "/v1/broadcasts",
                     body=inline(chunk=1, content={"template": "news"})).status, 201, "created")
        poll(lambda: bc(d)["state"] == "sending" and bc(d)["stats"]["audience"] >= 3, 20,
             "sending")
        d.write_templates({"news.text.mustache": "Hello {{customer.name}}: EDITED\n"})
        d.proc.send_signal(signal.SIGHUP)
        poll(lambda: "reload" in d.read_log(), 10, "reloaded")
        eq(sent_state(d)["state"], "sent", "sent")
        delivered(d, 150)
        srv.wait_for(lambda: len(srv.messages) >= 150, 30)
        texts = [m.data.decode() for m in srv.messages]
        eq(sum("ORIGINAL" in t for t in texts), 150, "every message as it was when sending began")
        eq(sum("EDITED" in t for t in texts), 0, "none with the edit")
    finally:
        teardown(d, srv)


@test
def a_test_send_reaches_only_its_address_and_counts_nowhere():
    d, srv = setup()
    try:
        customers(d, [("ann", "pro", "subscribed", None)])
        poll(lambda: d.request("GET", "/v1/customers/ann").status == 200, 10, "customers")
        pro_segment(d)
        draft = inline()
        del draft["send_at"]
        eq(d.request("POST", "/v1/broadcasts", body=draft).status, 201, "a draft")
        r = d.request("POST", "/v1/broadcasts/nov/test", body={"to": ["qa@example.net"]})
        eq(r.status, 202, f"test: {r.raw}")
        srv.wait_for(lambda: len(srv.messages) >= 1, 15)
        eq(rcpts(srv), ["qa@example.net"], "the given address only")
        check("Hi Subscriber" in srv.messages[0].data.decode(), "a placeholder customer")
        b = bc(d)
        eq((b["state"], b["stats"]["sent"], b["stats"]["queued"], b["stats"]["audience"]),
           ("draft", 0, 0, 0), f"counted nowhere: {b}")
        eq(d.request("POST", "/v1/broadcasts/nov/test", body={"to": "nope"}).status, 400,
           "a bad address")
    finally:
        teardown(d, srv)


@test
def the_archive_shows_no_personal_data_and_is_off_by_default():
    d, srv = setup(config={"broadcast_archive": True})
    try:
        customers(d, [("ann", "pro", "subscribed", None)])
        poll(lambda: d.request("GET", "/v1/customers/ann").status == 200, 10, "customers")
        pro_segment(d)
        body = inline()
        body["content"]["text"] += "In your browser: {{event.properties.archive_url}}\n"
        eq(d.request("POST", "/v1/broadcasts", body=body).status, 201, "created")
        eq(sent_state(d)["state"], "sent", "sent")
        srv.wait_for(lambda: len(srv.messages) >= 1, 15)
        check("In your browser: https://mail.test.example/archive/nov" in
              srv.messages[0].data.decode(), "the mail links to its page",
              srv.messages[0].data.decode())
        r = d.request("GET", "/archive/nov", auth=False)
        eq(r.status, 200, f"the page: {r.raw[:300]}")
        page = r.raw if isinstance(r.raw, str) else r.raw.decode()
        check("Subscriber" in page and "November" in page, "the content", page)
        check("ann" not in page.lower() and "example.org" not in page, "no personal data", page)
        eq(d.request("GET", "/archive/nope", auth=False).status, 404, "no such broadcast")
        d.config["broadcast_archive"] = False
        d.write_config()
        d.proc.send_signal(signal.SIGHUP)
        poll(lambda: d.request("GET", "/archive/nov", auth=False).status == 404, 10,
             "off after a reload")
    finally:
        teardown(d, srv)


@test
def a_cron_campaign_may_name_a_segment_and_check_validates_it():
    d, srv = setup()
    try:
        customers(d, [("ann", "pro", "subscribed", None), ("bob", "free", "subscribed", None)])
        poll(lambda: d.request("GET", "/v1/customers/bob").status == 200, 10, "customers")
        pro_segment(d)
        d.write_campaign({"id": "monthly", "name": "Monthly", "status": "active",
                          "topic": "newsletter",
                          "trigger": {"cron": "* * * * *", "segment": "pro"},
                          "steps": [{"id": "send",
                                     "send": {"channel": "mail", "template": "news"}}]})
        r = run_cli("check", "-c", d.config_path)
        eq((r.returncode, r.stderr), (0, ""), "check: the segment exists")
        d.proc.send_signal(signal.SIGHUP)
        srv.wait_for(lambda: len(srv.messages) >= 1, 75)
        eq(rcpts(srv), ["ann@example.org"], "the segment's member only")
        d.write_campaign({"id": "monthly", "name": "Monthly", "status": "active",
                          "topic": "newsletter",
                          "trigger": {"cron": "* * * * *", "segment": "nope",
                                      "audience": {"field": "customer.name", "eq": "x"}},
                          "steps": [{"id": "send",
                                     "send": {"channel": "mail", "template": "news"}}]})
        r = run_cli("check", "-c", d.config_path)
        eq(r.returncode, 1, "check: two problems")
        check("'segment' and 'audience' exclude each other" in r.stderr, "both", r.stderr)
        d.write_campaign({"id": "monthly", "name": "Monthly", "status": "active",
                          "topic": "newsletter", "trigger": {"cron": "* * * * *",
                                                             "segment": "nope"},
                          "steps": [{"id": "send",
                                     "send": {"channel": "mail", "template": "news"}}]})
        r = run_cli("check", "-c", d.config_path)
        check(r.returncode == 1 and "no segment 'nope'" in r.stderr, "an unknown segment",
              r.stderr)
    finally:
        teardown(d, srv)


@test
def nurturectl_broadcast_and_segment():
    d, srv = setup()
    try:
        customers(d, [("ann", "pro", "subscribed", None), ("bob", "free", "subscribed", None)])
        poll(lambda: d.request("GET", "/v1/customers/bob").status == 200, 10, "customers")
        r = ctl(d, "segment", "create", "pro", "Pro plan",
                '{"field": "customer.attributes.plan", "eq": "pro"}')
        eq((r.returncode, r.stdout.strip()), (0, "pro saved"), f"segment create: {r.stderr}")
        r = ctl(d, "segment", "count", "pro")
        eq((r.returncode, r.stdout.strip()), (0, "1"), "segment count")
        path = os.path.join(d.tmp, "nov.json")
        with open(path, "w") as f:
            json.dump(inline(), f)
        r = ctl(d, "broadcast", "create", path)
        eq((r.returncode, r.stdout.strip()), (0, "nov scheduled"), f"create: {r.stderr}")
        sent_state(d)
        r = ctl(d, "broadcast", "list")
        check(r.returncode == 0 and "nov" in r.stdout and "sent" in r.stdout, "list", r.stdout)
        r = ctl(d, "--json", "broadcast", "show", "nov")
        eq(json.loads(r.stdout)["stats"]["audience"], 1, "show --json")
        r = ctl(d, "broadcast", "cancel", "nov")
        eq(r.returncode, 1, "a sent broadcast cannot be canceled")
        r = ctl(d, "broadcast", "test", "nov")
        eq(r.returncode, 64, "test needs --to")
    finally:
        teardown(d, srv)


@test
def simulate_shows_a_broadcasts_decisions():
    import tempfile
    tmp = tempfile.mkdtemp(prefix="nt-sim-")
    os.makedirs(os.path.join(tmp, "campaigns"))
    os.makedirs(os.path.join(tmp, "templates"))
    with open(os.path.join(tmp, "templates", "footer.mustache"), "w") as f:
        f.write("-- the shop")

    def jsonl(name, rows):
        p = os.path.join(tmp, name)
        with open(p, "w") as f:
            f.write("".join(json.dumps(r) + "\n" for r in rows))
        return p
    cust = jsonl("customers.jsonl", [
        {"id": "ann", "email": "ann@example.org", "attributes": {"plan": "pro"},
         "consent": {"newsletter": "subscribed"}},
        {"id": "bob", "email": "bob@example.org", "attributes": {"plan": "pro"}},
        {"id": "sue", "email": "sue@example.org", "attributes": {"plan": "pro"},
         "consent": {"newsletter": "subscribed"}},
        {"id": "eve", "email": "eve@example.org", "attributes": {"plan": "free"},
         "consent": {"newsletter": "subscribed"}}])
    evs = jsonl("events.jsonl", [{"id": "e1", "customer": "ann", "type": "visit",
                                  "time": "2026-03-01T09:00:00Z"}])
    sup = jsonl("suppressions.jsonl", [{"address": "sue@example.org"}])
    bcs = jsonl("broadcasts.jsonl", [
        {"segment": {"id": "pro", "name": "Pro", "condition": {
            "field": "customer.attributes.plan", "eq": "pro"}}},
        dict(inline(), send_at="2026-03-02T10:00:00Z")])
    try:
        r = run_cli("simulate", "--campaigns", os.path.join(tmp, "campaigns"), "--events", evs,
                    "--customers", cust, "--suppressions", sup, "--broadcasts", bcs,
                    "--templates", os.path.join(tmp, "templates"), "--json")
        eq(r.returncode, 0, f"simulate: {r.stderr}")
        lines = [json.loads(x) for x in r.stdout.splitlines()]
        got = sorted((x["customer"], x["action"], x["reason"]) for x in lines
                     if x["campaign"] == "broadcast:nov")
        eq(got, [("ann", "send", None), ("bob", "skip", "not_subscribed"),
                 ("sue", "skip", "suppressed")], "the broadcast's decisions")
        check(all(x["at"] == "2026-03-02T10:00:00.000Z" for x in lines
                  if x["campaign"] == "broadcast:nov"), "at its instant", lines)
        bad = jsonl("bad.jsonl", [dict(inline(), topic="follow-ups"),
                                  dict(inline(id="x", content={"subject": "s", "text": "{{> no}}"}),
                                       send_at="2026-03-02T10:00:00Z")])
        r = run_cli("simulate", "--campaigns", os.path.join(tmp, "campaigns"), "--events", evs,
                    "--customers", cust, "--broadcasts", bad,
                    "--templates", os.path.join(tmp, "templates"))
        check(r.returncode == 1 and "bad.jsonl:1:1: topic:" in r.stderr, "a bad broadcast",
              r.stderr)
        check("bad.jsonl:2:1: content:" in r.stderr, "content that does not render", r.stderr)
    finally:
        import shutil
        shutil.rmtree(tmp)


if __name__ == "__main__":
    run_all()
