#!/usr/bin/python3
"""Transactional sends (issue 20): POST /v1/messages queues one message now through the one
send path; its id is an idempotency key (the same id twice sends once, other content is a
409); consent does not apply, the suppression list does; unknown customers, templates and
channels are refused naming the field; rate-limited per token; counted as "transactional"."""
import email
import email.policy
import os
import subprocess
import sys
import urllib.parse

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from ntest import TOKEN, Daemon, check, eq, poll, run_all, test  # noqa: E402
from smtp_server import SmtpServer  # noqa: E402

CTL = os.path.join(os.environ.get("NT_BUILDDIR") or
                   os.path.join(os.path.dirname(__file__), "..", ".."), "nurturectl")
TEMPLATES = {"receipt.subject.mustache": "Receipt for order {{data.order}}",
             "receipt.text.mustache":
                 "Hello {{customer.name}}, order {{data.order}} came to {{data.total}}.\n"}
OTHER = "second-token-0123456789abcdef"


def setup(**config):
    srv = SmtpServer().start()
    d = Daemon(dict({"api_tokens": [TOKEN, OTHER],
                     "channels": {"mail": {"plugin": "smtp", "host": "127.0.0.1",
                                           "port": srv.port, "starttls": "none"}}}, **config))
    d.write_templates(TEMPLATES)
    d.start()
    return d, srv


def teardown(d, srv):
    try:
        d.stop()
    finally:
        srv.stop()
        d.cleanup()


def customer(d, cid, **extra):
    body = dict({"id": cid, "email": f"{cid}@example.org", "name": cid.capitalize()}, **extra)
    eq(d.request("POST", "/v1/customers", body=body).status, 200, "customer")


def send(d, cid, key=None, token=None, **extra):
    body = dict({"customer": cid, "template": "receipt",
                 "data": {"order": "A-1001", "total": 19.99}}, **extra)
    if key is not None:
        body["id"] = key
    return d.request("POST", "/v1/messages", body=body, token=token)


def received(srv, addr):
    with srv.lock:
        return [m for m in srv.messages if m.rcpts == [addr]]


def messages(d, cid):
    r = d.request("GET", "/v1/messages?" + urllib.parse.urlencode({"customer": cid}))
    eq(r.status, 200, "messages")
    return r.json["messages"]


@test
def posted_twice_arrives_once():
    d, srv = setup()
    try:
        customer(d, "ann")
        a = send(d, "ann", key="receipt-A-1001")
        eq(a.status, 202, "first post")
        b = send(d, "ann", key="receipt-A-1001")
        eq(b.status, 202, "the same post again")
        eq((b.json["id"], b.json["message_id"]), (a.json["id"], a.json["message_id"]),
           "the second answer names the first message")
        check(b.json.get("duplicate") is True and "duplicate" not in a.json, "marked duplicate",
              a.json, b.json)
        poll(lambda: messages(d, "ann")[0]["state"] == "sent", 20, "the message sent")
        eq(len(messages(d, "ann")), 1, "one message in the outbox")
        got = received(srv, "ann@example.org")
        eq(len(got), 1, "one message at the SMTP server")
        msg = email.message_from_bytes(got[0].data, policy=email.policy.default)
        eq(msg["Subject"], "Receipt for order A-1001", "subject from data")
        check("Hello Ann, order A-1001 came to 19.99." in msg.get_body().get_content(),
              "the customer and the data in the body", msg.get_body().get_content())
        check(msg["List-Unsubscribe"] is None, "no unsubscribe header on transactional mail",
              msg["List-Unsubscribe"])
        # The same id with other content: refused, nothing more sent.
        c = send(d, "ann", key="receipt-A-1001", data={"order": "A-1002", "total": 5})
        eq(c.status, 409, "the same id with other content")
        # The key is the token's: another token's same id is its own message.
        o = send(d, "ann", key="receipt-A-1001", token=OTHER)
        eq(o.status, 202, "another token")
        check(o.json["id"] != a.json["id"], "another token's key is another message", o.json)
        poll(lambda: len(received(srv, "ann@example.org")) == 2, 20, "the other token's send")
        eq(len(messages(d, "ann")), 2, "two messages in all")
        st = d.request("GET", "/v1/status").json
        eq(st["transactional"]["sent"], 2, "counted as transactional in /v1/status")
        e = {k: v for k, v in os.environ.items() if not k.startswith("NURTURED_")}
        e["HOME"] = d.tmp
        out = subprocess.run([CTL, "--url", f"http://127.0.0.1:{d.port}", "--token", TOKEN,
                              "status"], capture_output=True, text=True, timeout=20, env=e)
        eq(out.returncode, 0, "nurturectl status")
        check("transactional" in out.stdout, "nurturectl status shows them", out.stdout)
    finally:
        teardown(d, srv)


@test
def consent_does_not_apply_suppression_does():
    d, srv = setup()
    try:
        customer(d, "una")
        eq(d.request("POST", "/v1/customers/una/unsubscribe", body={"all": True}).status, 200,
           "unsubscribed from all mail")
        r = send(d, "una", key="reset-1")
        eq((r.status, r.json["state"]), (202, "queued"), "queued for an unsubscribed customer")
        poll(lambda: received(srv, "una@example.org"), 20, "the receipt arrives all the same")

        customer(d, "sam")
        eq(d.request("POST", "/v1/suppressions",
                     body={"address": "sam@example.org", "reason": "complaint"}).status, 200,
           "suppressed")
        r = send(d, "sam", key="receipt-2")
        eq((r.status, r.json["state"], r.json.get("reason")), (202, "skipped", "suppressed"),
           "a suppressed address is skipped, with the reason")
        m = d.request("GET", f"/v1/messages/{r.json['id']}").json
        eq((m["state"], m.get("reason")), ("skipped", "suppressed"), "the outbox says why")
        eq(d.request("GET", "/v1/status").json["transactional"]["skipped"], 1,
           "the skip counted")
        poll(lambda: messages(d, "una")[0]["state"] == "sent", 20, "una's sent")
        eq(received(srv, "sam@example.org"), [], "nothing sent to the suppressed address")
    finally:
        teardown(d, srv)


@test
def unknown_customer_template_or_channel_is_refused_naming_the_field():
    d, srv = setup()
    try:
        customer(d, "bob")
        cases = [
            (dict(customer="nobody"), 404, "customer"),
            (dict(template="no-such-template"), 400, "template"),
            (dict(channel="pigeon"), 400, "channel"),
            (dict(data=[1, 2]), 400, "data"),
            (dict(customer=""), 400, "customer"),
            (dict(colour="red"), 400, "colour"),
        ]
        for extra, status, field in cases:
            body = dict({"customer": "bob", "template": "receipt", "id": "k-" + field}, **extra)
            r = d.request("POST", "/v1/messages", body=body)
            eq((r.status, r.json.get("field")), (status, field), f"{extra}")
        eq(messages(d, "bob"), [], "nothing queued")
        eq(messages(d, "nobody"), [], "nothing queued for the unknown customer")
        # A refused request keeps no key: the same id, now right, sends.
        r = send(d, "bob", key="k-template")
        eq(r.status, 202, "the key is free after a refusal")
        eq(d.request("POST", "/v1/messages", body={"customer": "bob"}).status, 400,
           "no template")
        r = d.request("POST", "/v1/messages", raw="customer=bob",
                      headers={"Content-Type": "application/x-www-form-urlencoded"})
        eq(r.status, 415, "JSON only")
        eq(d.request("POST", "/v1/messages", body={}, auth=False).status, 401, "token first")
    finally:
        teardown(d, srv)


@test
def rate_limited_per_token():
    d, srv = setup(transactional_rate=2)
    try:
        customer(d, "rae")
        eq([send(d, "rae", key=f"r{i}").status for i in range(2)], [202, 202], "two a minute")
        r = send(d, "rae", key="r2")
        eq(r.status, 429, "the third is refused")
        check(int(r.headers.get("Retry-After", "0")) >= 1, "with Retry-After", r.headers)
        eq(send(d, "rae", key="r3", token=OTHER).status, 202, "another token has its own rate")
        eq(len(messages(d, "rae")), 3, "the refused one queued nothing")
    finally:
        teardown(d, srv)


@test
def retention_takes_a_key_with_its_message_and_keeps_the_count():
    d, srv = setup(retention={"payloads": "1s", "messages": "2s", "interval": "1s"})
    try:
        customer(d, "ret")
        r = send(d, "ret", key="old-receipt")
        eq(r.status, 202, "sent")
        poll(lambda: d.request("GET", f"/v1/messages/{r.json['id']}").status == 404, 30,
             "the message pruned after its 2 s")

        poll(lambda: d.sql("SELECT count(*) FROM transactional_keys") == [["0"]], 10,
             "its idempotency key gone with it")
        eq(d.request("GET", "/v1/status").json["transactional"]["sent"], 1,
           "still counted once pruned")
        eq(len(received(srv, "ret@example.org")), 1, "one mail")
    finally:
        teardown(d, srv)


if __name__ == "__main__":
    run_all()
