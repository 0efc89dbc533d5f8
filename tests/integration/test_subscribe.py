#!/usr/bin/python3
"""The public signup form (issue 20): POST /subscribe without a token, as a form post or JSON,
starts double opt-in; the answer is the same for known and unknown addresses; one
confirmation mail per signup (aiosmtpd); a honeypot field; rate limits per client and per
address; only opt-in topics."""
import email
import email.policy
import os
import re
import sys
import urllib.parse

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from ntest import Daemon, check, eq, poll, run_all, test  # noqa: E402
from smtp_server import SmtpServer  # noqa: E402

TEMPLATES = {"double-opt-in.subject.mustache": "Confirm {{event.properties.topic}}",
             "double-opt-in.text.mustache": "Hello {{customer.name}}, confirm: "
                                            "{{links.confirm_url}}\n"}
FORM = {"Content-Type": "application/x-www-form-urlencoded"}


def setup(**config):
    srv = SmtpServer().start()
    d = Daemon(dict({"public_url": "https://shop.example",
                     "subscribe": {"per_client": 100, "per_address": 5},
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


def form(d, **fields):
    return d.request("POST", "/subscribe", raw=urllib.parse.urlencode(fields, doseq=True),
                     headers=FORM, auth=False)


def received(srv, addr):
    with srv.lock:
        return [m for m in srv.messages if m.rcpts == [addr]]


def confirmations_sent(d):
    r = d.request("GET", "/v1/messages?state=sent&limit=1000")
    return [m for m in r.json["messages"] if m["step"] == "double-opt-in"]


def find_customer(d, addr):
    r = d.request("GET", "/v1/customers?" + urllib.parse.urlencode({"email": addr}))
    eq(r.status, 200, "listing")
    return r.json["customers"]


def same(a, b, what):
    eq((a.status, a.raw, a.headers.get("Content-Type"), a.headers.get("Location")),
       (b.status, b.raw, b.headers.get("Content-Type"), b.headers.get("Location")), what)


@test
def the_same_answer_for_known_and_unknown_addresses_and_one_confirmation():
    d, srv = setup()
    try:
        eq(d.request("POST", "/v1/customers",
                     body={"id": "kim", "email": "kim@example.org", "name": "Kim"}).status, 200,
           "a known customer")
        known = form(d, email="kim@example.org", name="Someone Else", topics="newsletter")
        unknown = form(d, email="New.Person@Example.org", name="Nia", topics="newsletter")
        eq(known.status, 200, "a page after the form")
        same(known, unknown, "form: the same answer for a known and an unknown address")
        check("check your inbox" in known.raw, "the page says what comes next", known.raw)
        jk = d.request("POST", "/subscribe", body={"email": "kim@example.org",
                                                   "topics": ["offers"]}, auth=False)
        ju = d.request("POST", "/subscribe", body={"email": "jo@example.org",
                                                   "topics": ["offers"]}, auth=False)
        eq(jk.status, 202, "JSON: accepted")
        same(jk, ju, "JSON: the same answer for a known and an unknown address")

        # One confirmation each (four signups: kim twice, two topics), no more.
        poll(lambda: len(confirmations_sent(d)) == 4, 20, "four confirmations sent")
        eq(len(received(srv, "kim@example.org")), 2, "kim: one per topic")
        eq(len(received(srv, "new.person@example.org")), 1, "the new address: one")
        eq(len(received(srv, "jo@example.org")), 1, "jo: one")
        kim = d.request("GET", "/v1/customers/kim").json
        eq(kim["name"], "Kim", "the form does not change a known customer's profile")
        eq(kim["consent"].get("newsletter"), "pending", "kim's newsletter pending")
        eq(kim["consent_log"]["newsletter"]["source"], "signup-form", "recorded as the form's")
        new = find_customer(d, "new.person@example.org")
        eq([(c["name"], c["consent"]) for c in new], [("Nia", {"newsletter": "pending"})],
           "a new customer, pending")

        # The link in the mail confirms.
        m = email.message_from_bytes(received(srv, "new.person@example.org")[0].data,
                                     policy=email.policy.default)
        link = re.search(r"https://shop\.example(/confirm/\S+)", m.get_body().get_content())
        check(link, "a confirmation link", m.get_body().get_content())
        eq(d.request("POST", link.group(1), auth=False).status, 200, "confirmed")
        eq(find_customer(d, "new.person@example.org")[0]["consent"], {"newsletter": "subscribed"},
           "subscribed after the confirmation")
        # A second signup of a subscribed address: the same answer, no mail.
        again = form(d, email="new.person@example.org", name="Nia", topics="newsletter")
        same(again, unknown, "the same answer for a subscribed address")
        eq(len(find_customer(d, "new.person@example.org")), 1, "found again, not a second one")
    finally:
        teardown(d, srv)


@test
def the_honeypot_is_accepted_and_does_nothing():
    d, srv = setup()
    try:
        person = form(d, email="real@example.org", topics="newsletter", website="")
        bot = form(d, email="bot@example.org", topics="newsletter",
                   website="http://spam.example")
        same(bot, person, "the bot gets the person's answer")
        poll(lambda: len(confirmations_sent(d)) == 1, 20, "the person's confirmation")
        eq(find_customer(d, "bot@example.org"), [], "no customer for the bot")
        eq(received(srv, "bot@example.org"), [], "no mail to the bot's address")
    finally:
        teardown(d, srv)


@test
def rate_limited_per_client_and_per_address():
    d, srv = setup(subscribe={"per_client": 4, "per_address": 1, "window": "1h"})
    try:
        first = form(d, email="ria@example.org", topics="newsletter")
        second = form(d, email="ria@example.org", topics="offers")
        same(first, second, "over the address's limit: the same answer ...")
        poll(lambda: confirmations_sent(d), 20, "the first confirmation")
        eq(form(d, email="other@example.org").status, 200, "a third signup from the client")
        eq(form(d, email="third@example.org").status, 200, "a fourth")
        r = form(d, email="fourth@example.org")
        eq(r.status, 429, "the fifth from one client is refused")
        check(int(r.headers.get("Retry-After", "0")) >= 1, "with Retry-After", r.headers)
        poll(lambda: len(confirmations_sent(d)) == 3, 20, "three confirmations")
        eq(len(received(srv, "ria@example.org")), 1, "... and no second mail to the address")
        eq(find_customer(d, "fourth@example.org"), [], "nothing done for the refused one")
    finally:
        teardown(d, srv)


@test
def bad_input_is_refused_naming_the_field():
    d, srv = setup()
    try:
        r = d.request("POST", "/subscribe", body={"email": "x@example.org",
                                                  "topics": ["orders"]}, auth=False)
        eq((r.status, r.json.get("field")), (400, "topics"), "not an opt-in topic")
        r = d.request("POST", "/subscribe", body={"email": "nope"}, auth=False)
        eq((r.status, r.json.get("field")), (400, "email"), "not an address")
        r = form(d, email="nope")
        eq(r.status, 400, "a form gets a page")
        check(r.headers.get("Content-Type", "").startswith("text/html"), "HTML", r.headers)
        r = d.request("POST", "/subscribe", raw="email=x@example.org",
                      headers={"Content-Type": "text/plain"}, auth=False)
        eq(r.status, 415, "neither a form nor JSON")
        eq(d.request("GET", "/subscribe", auth=False).status, 405, "POST only")
        eq(find_customer(d, "x@example.org"), [], "nothing stored")
        # A form without topics subscribes to the first opt-in topic ("newsletter").
        eq(form(d, email="Plus+Tag@example.org").status, 200, "default topic")
        c = poll(lambda: find_customer(d, "plus+tag@example.org"), 10, "the customer")
        eq(c[0]["consent"], {"newsletter": "pending"}, "the first opt-in topic, pending")
    finally:
        teardown(d, srv)


if __name__ == "__main__":
    run_all()
