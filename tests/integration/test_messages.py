"""Messages end to end against a real SMTP server (aiosmtpd on loopback): every received mail
parses under Python's strict email policy, headers decode to the exact Unicode, data never
becomes header structure, one-click unsubscribe and double opt-in through real HTTP, and the
suppression list.
"""
import email
import email.policy
import os
import re
import sys
import threading
import time
import urllib.parse

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from ntest import Daemon, check, eq, free_port, poll, run_all, test  # noqa: E402

from aiosmtpd.controller import Controller  # noqa: E402

STRICT = email.policy.default.clone(raise_on_defect=True)
PUBLIC = "https://mail.test.example"


class Sink:
    """Keeps every message the daemon hands over, with its envelope."""

    def __init__(self):
        self.messages = []
        self.lock = threading.Lock()

    async def handle_DATA(self, server, session, envelope):
        with self.lock:
            self.messages.append((envelope.mail_from, list(envelope.rcpt_tos), envelope.content))
        return "250 2.0.0 OK"

    def count(self):
        with self.lock:
            return len(self.messages)

    def last(self):
        with self.lock:
            return self.messages[-1]


TEMPLATES = {
    "thanks.subject.mustache": "Danke für Ihren Einkauf, {{customer.name}}",
    "thanks.text.mustache": "Hallo {{customer.name}},\n\ndanke für Bestellung "
                            "{{event.properties.order_id}}.\n{{> footer}}\n",
    "thanks.html.mustache": "<p>Hallo {{customer.name}}</p>{{> footer}}",
    "thanks.de.subject.mustache": "Danke, {{customer.name}}",
    "thanks.de.text.mustache": "Deutsch: {{customer.name}}\n",
    "footer.mustache": "{{#links.unsubscribe_url}}Abmelden: {{links.unsubscribe_url}}"
                       "{{/links.unsubscribe_url}}",
    "order.subject.mustache": "Bestellung {{event.properties.order_id}}",
    "order.text.mustache": "Ihre Bestellung.\n",
    "news.subject.mustache": "News",
    "news.text.mustache": "Neuigkeiten für {{customer.name}}\n",
    "double-opt-in.subject.mustache": "Bitte bestätigen: {{event.properties.topic}}",
    "double-opt-in.text.mustache": "Bestätigen: {{links.confirm_url}}\n",
}


def campaign(cid, event, template, topic="follow-ups"):
    return {"id": cid, "name": cid, "status": "active", "topic": topic,
            "trigger": {"event": event}, "reentry": "always",
            "steps": [{"id": "send", "send": {"channel": "mail", "template": template}}]}


def setup(**config):
    sink = Sink()
    port = free_port()
    ctl = Controller(sink, hostname="127.0.0.1", port=port)
    ctl.start()
    d = Daemon({"public_url": PUBLIC,
                "mail_from": {"name": "Möbel Müller", "address": "shop@mail.test.example"},
                "channels": {"mail": {"plugin": "smtp", "host": "127.0.0.1", "port": port,
                                      "starttls": "none",
                                      "retry": {"initial": "1s", "max": "2s"}}}})
    d.config.update(config)
    d.write_config()
    d.write_templates(TEMPLATES)
    for c in (campaign("thanks", "purchase", "thanks"), campaign("order", "order", "order"),
              campaign("news", "news", "news", topic="newsletter")):
        d.write_campaign(c)
    d.start()
    return d, sink, ctl


def teardown(d, ctl):
    try:
        d.stop()
    finally:
        ctl.stop()
        d.cleanup()


def upsert(d, **cust):
    r = d.request("POST", "/v1/customers", body=cust)
    eq(r.status, 200, f"upsert {cust['id']}: {r.raw}")


def event(d, customer, etype, eid, **props):
    r = d.post_events({"customer": customer, "type": etype, "id": eid, "properties": props})
    eq(r.status, 202, f"event {eid}: {r.raw}")


def messages(d, **query):
    r = d.request("GET", "/v1/messages?" + urllib.parse.urlencode(query))
    eq(r.status, 200, "GET /v1/messages")
    return r.json["messages"]


def final(d, customer, n):
    """Waits until CUSTOMER has N messages, none of them still on its way."""
    def done():
        m = messages(d, customer=customer)
        return m if len(m) >= n and all(x["state"] not in ("queued", "sending", "deferred")
                                        for x in m) else None
    return poll(done, 15, f"{n} final messages for {customer}")


def parse(raw):
    """The strict parse every received mail must pass, with RFC 5322's line limit."""
    for line in raw.split(b"\r\n"):
        check(len(line) <= 998, "a line over 998 octets")
        check(b"\n" not in line and b"\r" not in line, "a bare CR or LF", raw[:400])
    return email.message_from_bytes(raw, policy=STRICT)


@test
def mail_parses_strictly_with_unicode_headers():
    d, sink, ctl = setup()
    try:
        names = ["Jürgen Müller", "Müller, Jürgen", 'Jo "JJ" Smith', "Zoë Ça Va ☃"]
        for i, name in enumerate(names):
            upsert(d, id=f"c{i}", email=f"c{i}@example.com", name=name, locale="fr")
            event(d, f"c{i}", "purchase", f"p{i}", order_id=f"A-{i}")
        poll(lambda: sink.count() >= len(names), 15, "all mails at the SMTP server")
        by_to = {}
        for mail_from, rcpts, raw in sink.messages:
            eq(mail_from, "shop@mail.test.example", "envelope sender")
            # Providers read the raw header: a URL, not RFC 2047 encoded-words.
            check(re.search(rb"\r\nList-Unsubscribe: <https://mail\.test\.example/u/[^>\r\n]+>\r\n",
                            raw), "List-Unsubscribe raw on one line", raw[:600])
            msg = parse(raw)
            check(not msg.defects, "defects", msg.defects)
            by_to[rcpts[0]] = msg
        for i, name in enumerate(names):
            msg = by_to[f"c{i}@example.com"]
            eq(msg["To"].addresses[0].display_name, name, "To display name")
            eq(msg["To"].addresses[0].addr_spec, f"c{i}@example.com", "To address")
            eq(str(msg["Subject"]), f"Danke für Ihren Einkauf, {name}", "Subject")
            eq(msg["From"].addresses[0].display_name, "Möbel Müller", "From name")
            check(msg["Date"] is not None and msg["MIME-Version"] == "1.0", "Date, MIME-Version")
            eq(msg.get_content_type(), "multipart/alternative", "with an HTML part")
            text = msg.get_body(("plain",)).get_content()
            html = msg.get_body(("html",)).get_content()
            check(f"Hallo {name}," in text, "text body unescaped", text)
            check("Hallo " + name.replace('"', "&quot;") in html, "html body escaped", html)
            lu = msg["List-Unsubscribe"]
            check(re.fullmatch(r"<https://mail\.test\.example/u/[A-Za-z0-9_.-]+>", str(lu)),
                  "List-Unsubscribe is one https URL", lu)
            eq(str(msg["List-Unsubscribe-Post"]), "List-Unsubscribe=One-Click", "RFC 8058")
        ids = {m["message_id"] for m in messages(d)}
        eq({str(m["Message-ID"]) for m in by_to.values()}, ids, "Message-IDs as in the outbox")
    finally:
        teardown(d, ctl)


@test
def locale_variant_and_fallback():
    d, sink, ctl = setup(unsubscribe_mailto="leave@mail.test.example")
    try:
        upsert(d, id="de", email="de@example.com", name="Dana", locale="de-AT")
        upsert(d, id="fr", email="fr@example.com", name="Fran", locale="fr-FR")
        event(d, "de", "purchase", "p1", order_id="1")
        event(d, "fr", "purchase", "p2", order_id="2")
        poll(lambda: sink.count() >= 2, 15, "two mails")
        got = {m[1][0]: parse(m[2]) for m in sink.messages}
        eq(str(got["de@example.com"]["Subject"]), "Danke, Dana", "de-AT falls back to de")
        eq(got["de@example.com"].get_content_type(), "text/plain", "de has no HTML part")
        eq(str(got["fr@example.com"]["Subject"]), "Danke für Ihren Einkauf, Fran",
           "fr falls back to the default variant")
        raw = [m[2] for m in sink.messages if m[1] == ["fr@example.com"]][0]
        check(re.search(rb"\r\nList-Unsubscribe: <https://[^>\r\n]+>,\r\n <mailto:leave@mail\.test"
                        rb"\.example>\r\n", raw), "the mailto beside the URL", raw[:700])
    finally:
        teardown(d, ctl)


@test
def header_injection_is_refused_and_recorded():
    d, sink, ctl = setup()
    try:
        upsert(d, id="eve", email="eve@example.com", name="Eve\r\nBcc: victim@example.com")
        upsert(d, id="mal", email="mal@example.com", name="Mal")
        event(d, "eve", "purchase", "p1", order_id="1")
        event(d, "mal", "order", "o1", order_id="7\r\nBcc: victim@example.com")
        # An address no relay takes is refused at the door, by the message builder's rule.
        r = d.request("POST", "/v1/customers", body={"id": "lh", "email": "lh@localhost"})
        eq((r.status, r.json.get("field")), (400, "email"), "lh@localhost refused")
        upsert(d, id="ok", email="ok@example.com", name="Olga")
        event(d, "ok", "purchase", "p2", order_id="2")
        poll(lambda: sink.count() >= 1, 15, "the good mail")
        for who in ("eve", "mal"):
            m = final(d, who, 1)
            eq(m[0]["state"], "skipped", f"{who}'s message")
            check(m[0]["reason"].startswith("invalid_header"), "the reason names it",
                  m[0]["reason"])
            check(("to_name" if who == "eve" else "subject") in m[0]["reason"],
                  "the reason names the field", m[0]["reason"])
        final(d, "ok", 1)
        eq(sink.count(), 1, "only the good mail went out")
        for _, rcpts, raw in sink.messages:
            eq(rcpts, ["ok@example.com"], "no injected recipient")
            check(b"victim" not in raw, "no injected header")
    finally:
        teardown(d, ctl)


def link_path(msg, kind):
    """The path of a link in the mail (public_url is https; the daemon listens on http)."""
    m = re.search(PUBLIC.replace(".", r"\.") + r"(/" + kind + r"/[A-Za-z0-9_.-]+)",
                  msg.get_body(("plain",)).get_content())
    check(m, f"a /{kind}/ link in the mail")
    return m.group(1)


def form(d, path, body):
    return d.request("POST", path, auth=False, raw=body,
                     headers={"Content-Type": "application/x-www-form-urlencoded"})


@test
def one_click_unsubscribe():
    d, sink, ctl = setup()
    try:
        upsert(d, id="ann", email="ann@example.com", name="Ann")
        event(d, "ann", "purchase", "p1", order_id="1")
        poll(lambda: sink.count() >= 1, 15, "the first mail")
        msg = parse(sink.last()[2])
        path = urllib.parse.urlparse(str(msg["List-Unsubscribe"]).strip("<>")).path
        eq(path, link_path(msg, "u"), "header and body carry the same link")
        page = d.request("GET", path, auth=False, headers={"Accept-Language": "de-DE,de"})
        eq(page.status, 200, "the confirmation page")
        check('lang="de"' in page.raw and "Abmelden" in page.raw, "in German", page.raw)
        eq(d.request("GET", "/v1/customers/ann").json["consent"], {}, "a GET changes nothing")
        # Forged tokens: the signature altered, the payload altered, another key's token.
        payload, sig = path.rsplit("/", 1)[1].split(".")
        flip = sig[:-1] + ("A" if sig[-1] != "A" else "B")
        import base64
        other = base64.urlsafe_b64encode(b'["u","bob","follow-ups",1]').decode().rstrip("=")
        for bad in (f"/u/{payload}.{flip}", f"/u/{other}.{sig}", f"/u/{payload}",
                    "/u/%00%0d%0a", "/u/" + "A" * 5000):
            r = form(d, bad, "List-Unsubscribe=One-Click")
            eq(r.status, 400, f"forged {bad[:40]}")
        eq(d.request("GET", "/v1/customers/ann").json["consent"], {}, "forgeries change nothing")
        r = form(d, path, "List-Unsubscribe=One-Click")
        eq(r.status, 200, "one-click POST, no cookie, no token")
        eq(d.request("GET", "/v1/customers/ann").json["consent"], {"follow-ups": "unsubscribed"},
           "unsubscribed from the topic")
        eq(form(d, path, "List-Unsubscribe=One-Click").status, 200, "a replay is harmless")
        event(d, "ann", "purchase", "p2", order_id="2")
        m = final(d, "ann", 2)
        eq([x["state"] for x in m], ["sent", "skipped"], "the next marketing mail")
        eq(m[1]["reason"], "unsubscribed", "skipped with its reason")
        eq(sink.count(), 1, "nothing more went out")
        # The page's second button leaves every topic.
        eq(form(d, path, "scope=all").status, 200, "unsubscribe from all")
        eq(d.request("GET", "/v1/customers/ann").json["consent"].get("*"), "unsubscribed", "all")
    finally:
        teardown(d, ctl)


@test
def double_opt_in():
    d, sink, ctl = setup()
    try:
        upsert(d, id="max", email="max@example.com", name="Max")
        event(d, "max", "news", "n1")
        m = final(d, "max", 1)
        eq((m[0]["state"], m[0]["reason"]), ("skipped", "not_subscribed"), "opt-in topic")
        r = d.request("POST", "/v1/customers/max/subscribe", body={"topic": "nope!"})
        eq((r.status, r.json.get("field")), (400, "topic"), "a bad topic names the field")
        r = d.request("POST", "/v1/customers/max/subscribe", body={"topic": "newsletter"})
        eq(r.status, 202, f"subscribe: {r.raw}")
        eq(r.json["state"], "pending", "pending until confirmed")
        poll(lambda: sink.count() >= 1, 15, "the confirmation mail")
        msg = parse(sink.last()[2])
        eq(str(msg["Subject"]), "Bitte bestätigen: newsletter", "the confirmation")
        check(msg["List-Unsubscribe"] is None, "system mail has no unsubscribe header")
        path = link_path(msg, "confirm")
        eq(d.request("GET", path, auth=False).status, 200, "the confirm page")
        eq(d.request("GET", "/v1/customers/max").json["consent"]["newsletter"], "pending",
           "a GET confirms nothing (link scanners)")
        eq(form(d, path[:-2] + "xx", "").status, 400, "a forged confirmation")
        eq(form(d, path, "").status, 200, "confirmed")
        cust = d.request("GET", "/v1/customers/max").json
        eq(cust["consent"]["newsletter"], "subscribed", "subscribed")
        log = cust["consent_log"]["newsletter"]
        eq((log["source"], log["confirmed_from"]), ("confirm-link", "127.0.0.1"),
           "recorded how and from which address")
        check(log["requested"] <= log["confirmed"], "when it was requested and confirmed", log)
        eq(form(d, path, "").status, 200, "a replay is harmless")
        event(d, "max", "news", "n2")
        m = final(d, "max", 3)
        eq([x["state"] for x in m], ["skipped", "sent", "sent"], "news, confirmation, news")
        eq(sink.count(), 2, "two mails received")
        # After an unsubscribe the old confirmation link no longer subscribes.
        r = d.request("POST", "/v1/customers/max/unsubscribe", body={"topic": "newsletter"})
        eq(r.status, 200, "API unsubscribe")
        eq(form(d, path, "").status, 410, "a stale confirmation")
        eq(d.request("GET", "/v1/customers/max").json["consent"]["newsletter"], "unsubscribed",
           "still unsubscribed")
    finally:
        teardown(d, ctl)


@test
def suppression_list():
    d, sink, ctl = setup()
    try:
        r = d.request("POST", "/v1/suppressions", body={"address": "not an address"})
        eq((r.status, r.json.get("field")), (400, "address"), "bad address")
        r = d.request("POST", "/v1/suppressions", body={"address": "x@example.com",
                                                        "reason": "because"})
        eq((r.status, r.json.get("field")), (400, "reason"), "bad reason")
        r = d.request("POST", "/v1/suppressions", body={"address": "Sue@Example.com",
                                                        "reason": "complaint"})
        eq(r.status, 200, "suppressed")
        lst = d.request("GET", "/v1/suppressions").json["suppressions"]
        eq([(x["address"], x["reason"]) for x in lst], [("sue@example.com", "complaint")], "list")
        upsert(d, id="sue", email="sue@example.COM", name="Sue")
        event(d, "sue", "purchase", "p1", order_id="1")
        m = final(d, "sue", 1)
        eq((m[0]["state"], m[0]["reason"]), ("skipped", "suppressed"), "never mailed")
        eq(d.request("DELETE", "/v1/suppressions/sue@example.com").status, 200, "removed")
        eq(d.request("DELETE", "/v1/suppressions/sue@example.com").status, 404, "gone")
        event(d, "sue", "purchase", "p2", order_id="2")
        m = final(d, "sue", 2)
        eq(m[1]["state"], "sent", "mailed again after removal")
        # An erased customer's address stays suppressed, kept only as a keyed hash.
        eq(d.request("DELETE", "/v1/customers/sue").status, 200, "erase")
        lst = d.request("GET", "/v1/suppressions").json["suppressions"]
        eq([(x.get("address"), x["reason"]) for x in lst], [(None, "erased")], "hash only")
        upsert(d, id="sue2", email="sue@example.com", name="Sue again")
        event(d, "sue2", "purchase", "p3", order_id="3")
        m = final(d, "sue2", 1)
        eq((m[0]["state"], m[0]["reason"]), ("skipped", "suppressed"), "erased address")
        eq(sink.count(), 1, "one mail in all")
    finally:
        teardown(d, ctl)


@test
def an_internal_channel_reaches_the_team_whatever_the_customer_allows():
    """A ticket for the team goes out on an internal channel (to its own address, without an
    unsubscribe header) even when the customer has unsubscribed, is suppressed, sits in quiet
    hours or has used up the frequency cap; the mail to the customer is held back as before."""
    sink = Sink()
    port = free_port()
    ctl = Controller(sink, hostname="127.0.0.1", port=port)
    ctl.start()
    smtp = {"plugin": "smtp", "host": "127.0.0.1", "port": port, "starttls": "none"}
    d = Daemon({"public_url": PUBLIC,
                "mail_from": {"name": "Shop", "address": "shop@mail.test.example"},
                "frequency_cap": {"max": 1, "per": "7d"},
                "channels": {"mail": dict(smtp),
                             "team": dict(smtp, internal=True, to="support@shop.test.example")}})
    now = time.gmtime()
    quiet = {"from": "%02d:00" % ((now.tm_hour + 23) % 24),  # an hour ago to two hours on
             "to": "%02d:00" % ((now.tm_hour + 2) % 24)}
    try:
        d.write_templates({
            "sorry.subject.mustache": "Sorry, {{customer.name}}",
            "sorry.text.mustache": "We are sorry.\n{{> footer}}\n",
            "footer.mustache": TEMPLATES["footer.mustache"],
            "ticket.subject.mustache": "Complaint from {{customer.id}}",
            "ticket.text.mustache": "Customer {{customer.id}} <{{customer.email}}> rated "
                                    "{{event.properties.score}}.\n",
        })
        for cid, event_type, extra in (("complaint", "feedback", {}),
                                       ("night", "late", {"quiet_hours": quiet})):
            c = {"id": cid, "name": cid, "status": "active", "topic": "follow-ups",
                 "trigger": {"event": event_type}, "reentry": "always",
                 "steps": [{"id": "sorry", "send": {"channel": "mail", "template": "sorry"}},
                           {"id": "ticket", "send": {"channel": "team", "template": "ticket"}}]}
            if cid == "night":  # the ticket first: a deferred mail would hold the journey
                c["steps"].reverse()
            c.update(extra)
            d.write_campaign(c)
        d.start()
        upsert(d, id="una", email="una@example.com", name="Una",
               consent={"follow-ups": "unsubscribed"})
        upsert(d, id="sue", email="sue@example.com", name="Sue")
        eq(d.request("POST", "/v1/suppressions", body={"address": "sue@example.com",
                                                        "reason": "complaint"}).status, 200,
           "suppressed")
        upsert(d, id="cap", email="cap@example.com", name="Cap")
        upsert(d, id="owl", email="owl@example.com", name="Owl")
        for cust in ("una", "sue", "cap"):
            event(d, cust, "feedback", "f-" + cust, score=1)
        event(d, "owl", "late", "l-owl", score=2)
        want = {"una": ("skipped", "unsubscribed"), "sue": ("skipped", "suppressed"),
                "cap": ("sent", None)}
        for cust, (state, reason) in want.items():
            m = {x["step"]: x for x in final(d, cust, 2)}
            eq((m["sorry"]["state"], m["sorry"].get("reason")), (state, reason),
               f"{cust}: the mail to the customer")
            eq(m["ticket"]["state"], "sent", f"{cust}: the ticket, after a mail that counts "
               "towards the cap of 1" if cust == "cap" else f"{cust}: the ticket")
            eq((m["ticket"]["channel"], m["ticket"]["recipient"]),
               ("team", "support@shop.test.example"), "its channel and the team's address")
        m = final(d, "owl", 1)
        eq([(x["step"], x["state"]) for x in m], [("ticket", "sent")],
           "owl: the ticket in quiet hours, the mail after it held until they end")
        poll(lambda: sink.count() == 5, 10, "five mails at the sink")
        with sink.lock:
            got = list(sink.messages)
        tickets = [(rcpt, parse(raw)) for _, rcpt, raw in got
                   if parse(raw)["Subject"].startswith("Complaint")]
        eq(sorted(str(msg["Subject"]) for _, msg in tickets),
           ["Complaint from cap", "Complaint from owl", "Complaint from sue",
            "Complaint from una"], "a ticket for each")
        for rcpt, msg in tickets:
            eq(rcpt, ["support@shop.test.example"], "the envelope goes to the team")
            eq(msg["To"], "support@shop.test.example", "so does the To")
            check(msg["List-Unsubscribe"] is None, "no unsubscribe header", str(msg))
            check("rated" in msg.get_content(), "the customer's data in the body")
        mails = [rcpt for _, rcpt, raw in got if parse(raw)["Subject"].startswith("Sorry")]
        eq(mails, [["cap@example.com"]], "one mail to a customer: cap's")
    finally:
        teardown(d, ctl)


@test
def send_test_of_one_step():
    d, sink, ctl = setup()
    try:
        r = d.request("POST", "/v1/campaigns/thanks/test", body={"step": "send",
                                                                 "to": "qa@example.com"})
        eq(r.status, 202, f"send-test: {r.raw}")
        poll(lambda: sink.count() >= 1, 15, "the test mail")
        _, rcpts, raw = sink.last()
        eq(rcpts, ["qa@example.com"], "to the address given")
        msg = parse(raw)
        eq(str(msg["Subject"]), "Danke für Ihren Einkauf, Test Recipient", "a stand-in customer")
        eq(str(msg["Message-ID"]), r.json["message_id"], "the Message-ID answered")
        upsert(d, id="real", email="real@example.com", name="Rea", locale="de")
        r = d.request("POST", "/v1/campaigns/thanks/test",
                      body={"step": "send", "to": "qa@example.com", "customer": "real",
                            "event": {"type": "purchase", "properties": {"order_id": "9"}}})
        eq(r.status, 202, f"as a real customer: {r.raw}")
        poll(lambda: sink.count() >= 2, 15, "the second test mail")
        _, rcpts, raw = sink.last()
        eq((rcpts, str(parse(raw)["Subject"])), (["qa@example.com"], "Danke, Rea"),
           "the customer's data and locale, the test address")
        d.request("POST", "/v1/suppressions", body={"address": "qa@example.com"})
        r = d.request("POST", "/v1/campaigns/thanks/test", body={"step": "send",
                                                                 "to": "qa@example.com"})
        eq((r.status, r.json.get("reason")), (200, "suppressed"), "never to a suppressed address")
        for body, field in (({"to": "qa@example.com"}, "step"), ({"step": "send"}, "to"),
                            ({"step": "send", "to": "x@y"}, "to")):
            r = d.request("POST", "/v1/campaigns/thanks/test", body=body)
            eq((r.status, r.json.get("field")), (400, field), f"bad {body}")
        r = d.request("POST", "/v1/campaigns/nope/test", body={"step": "send", "to": "a@b.de"})
        eq(r.status, 404, "unknown campaign")
        eq(messages(d, campaign="thanks"), [], "test sends stay out of the campaign's messages")
        eq(sink.count(), 2, "two test mails in all")
    finally:
        teardown(d, ctl)


if __name__ == "__main__":
    run_all()
