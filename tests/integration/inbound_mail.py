"""For the inbound tests (issue 16): the daemon with an SMTP server and VERP configured, and the
messages that come back after a send, made from what the SMTP server received: a Postfix DSN,
an ARF complaint, a reply quoted the way Gmail quotes."""
import email
import email.policy
import itertools
import os
import urllib.parse

from ntest import Daemon, eq, poll
from smtp_server import SmtpServer

_n = itertools.count(1)


def headers_of(received):
    """The message the daemon sent, parsed (received: smtp_server.Received)."""
    data = received.data if isinstance(received.data, bytes) else received.data.encode()
    return email.message_from_bytes(data, policy=email.policy.default)


def dsn(to, message_id, rcpt, status="5.1.1",
        diagnostic="550 5.1.1 <{rcpt}>: Recipient address rejected: User unknown", action="failed"):
    """A Postfix bounce to TO (the envelope sender) for the message MESSAGE_ID to RCPT."""
    n = next(_n)
    diag = diagnostic.format(rcpt=rcpt)
    return f"""Return-Path: <>
Delivered-To: {to}
Date: Mon,  5 Jan 2026 10:00:07 +0100 (CET)
From: MAILER-DAEMON@mx.test.example (Mail Delivery System)
Subject: Undelivered Mail Returned to Sender
To: {to}
Auto-Submitted: auto-replied
MIME-Version: 1.0
Content-Type: multipart/report; report-type=delivery-status; boundary="B{n}"
Message-Id: <dsn.{n}@mx.test.example>

--B{n}
Content-Type: text/plain

This is the mail system at host mx.test.example.

<{rcpt}>: host mx.example.org said: {diag}

--B{n}
Content-Type: message/delivery-status

Reporting-MTA: dns; mx.test.example

Final-Recipient: rfc822; {rcpt}
Action: {action}
Status: {status}
Diagnostic-Code: smtp; {diag}

--B{n}
Content-Type: text/rfc822-headers

From: Shop <shop@mail.test.example>
To: {rcpt}
Message-Id: {message_id}

--B{n}--
""".replace("\n", "\r\n").encode()


def arf(message_id, rcpt, feedback_type="abuse"):
    """An RFC 5965 complaint about MESSAGE_ID, recipient RCPT (a provider's feedback loop)."""
    n = next(_n)
    return f"""From: <fbl@isp.example>
To: <fbl@mail.test.example>
Subject: Abuse report
Date: Mon, 5 Jan 2026 12:00:00 +0000
Message-ID: <arf.{n}@isp.example>
MIME-Version: 1.0
Content-Type: multipart/report; report-type=feedback-report; boundary="A{n}"

--A{n}
Content-Type: text/plain

A user marked this message as spam.

--A{n}
Content-Type: message/feedback-report

Feedback-Type: {feedback_type}
User-Agent: ISPFBL/1.0
Version: 1
Original-Rcpt-To: <{rcpt}>

--A{n}
Content-Type: message/rfc822

From: Shop <shop@mail.test.example>
To: {rcpt}
Subject: Thanks
Message-ID: {message_id}

Thank you.
--A{n}--
""".replace("\n", "\r\n").encode()


def reply(to, message_id, sender, text):
    """A person's answer to MESSAGE_ID, sent to TO (the Reply-To), quoted as Gmail quotes."""
    n = next(_n)
    body = (f"{text}\n\nAm Mo., 5. Jan. 2026 um 10:00 Uhr schrieb Shop <shop@mail.test.example>:\n\n"
            "> Are you happy with it? Just reply with a number.\n")
    return (f"From: Customer <{sender}>\nTo: {to}\nSubject: Re: How is everything?\n"
            f"Date: Mon, 5 Jan 2026 12:00:00 +0000\nMessage-ID: <reply.{n}@gmail.example>\n"
            f"In-Reply-To: {message_id}\nReferences: {message_id}\nMIME-Version: 1.0\n"
            "Content-Type: text/plain; charset=utf-8\nContent-Transfer-Encoding: 8bit\n\n"
            f"{body}").replace("\n", "\r\n").encode("utf-8")


SRC = os.environ.get("NT_SRCDIR", os.path.join(os.path.dirname(__file__), "..", ".."))
BOUNCES = "bounces@mail.test.example"
REPLIES = "reply@mail.test.example"


def setup(config=None, campaign=True):
    srv = SmtpServer().start()
    ch = {"plugin": "smtp", "host": "127.0.0.1", "port": srv.port, "starttls": "none",
          "retry": {"initial": "1s", "max": "1s"}}
    cfg = {"public_url": "https://mail.test.example",
           "mail_from": {"name": "Shop", "address": "shop@mail.test.example"},
           "bounce_address": BOUNCES, "reply_to": REPLIES,
           "channels": {"mail": ch, "helpdesk": {"plugin": "discard"}}}
    cfg.update(config or {})
    d = Daemon(cfg)
    if campaign:
        d.write_templates({"thanks.subject.mustache": "Thanks {{customer.name}}",
                           "thanks.text.mustache": "Thank you, {{customer.name}}.\n"})
        d.write_send_campaign("thanks", "purchase", "thanks", topic="follow-ups",
                              reentry="always")
    return d, srv


def teardown(d, srv):
    try:
        d.stop()
    finally:
        srv.stop()
        d.cleanup()


def customer(d, cid):
    r = d.request("POST", "/v1/customers", body={"id": cid, "email": f"{cid}@example.org",
                                                 "name": cid})
    eq(r.status, 200, f"upsert {cid}: {r.raw}")


def purchase(d, cid, eid):
    r = d.post_events({"customer": cid, "type": "purchase", "id": eid,
                       "properties": {"order_id": eid}})
    eq(r.status, 202, f"event {eid}: {r.raw}")


def messages(d, cid):
    r = d.request("GET", "/v1/messages?" + urllib.parse.urlencode({"customer": cid}))
    eq(r.status, 200, r.raw)
    return sorted(r.json["messages"], key=lambda m: m["id"])


def received_for(srv, rcpt, n=1):
    def got():
        m = [x for x in srv.messages if rcpt in x.rcpts]
        return m if len(m) >= n else None
    return poll(got, 20, f"{n} message(s) to {rcpt} at the SMTP server")


def post_inbound(d, raw, **params):
    q = ("?" + urllib.parse.urlencode(params)) if params else ""
    return d.request("POST", "/v1/inbound" + q, raw=raw,
                     headers={"Content-Type": "message/rfc822"})


def events_of(d, cid, etype):
    r = d.request("GET", f"/v1/customers/{cid}")
    eq(r.status, 200, r.raw)
    return [e for e in r.json["events"] if e["type"] == etype]


def suppressions(d):
    r = d.request("GET", "/v1/suppressions")
    eq(r.status, 200, r.raw)
    return {s.get("address"): s.get("reason") for s in r.json["suppressions"]}
