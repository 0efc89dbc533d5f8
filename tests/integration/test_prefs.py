#!/usr/bin/python3
"""The preference centre behind the unsubscribe link (issue 20): /u/{token} lists the
customer's topics with their state and changes any, each change in the consent log with the
source "preferences"; plain HTML without script; a forged token changes nothing; RFC 8058's
one-click POST and "unsubscribe from all" work as before."""
import email
import email.policy
import html
import os
import re
import sys
import urllib.parse

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from ntest import Daemon, check, eq, poll, run_all, test  # noqa: E402
from smtp_server import SmtpServer  # noqa: E402

FORM = {"Content-Type": "application/x-www-form-urlencoded"}


def setup():
    srv = SmtpServer().start()
    d = Daemon({"public_url": "https://shop.example",
                "channels": {"mail": {"plugin": "smtp", "host": "127.0.0.1", "port": srv.port,
                                      "starttls": "none"}}})
    d.write_templates({"thanks.subject.mustache": "Thanks",
                       "thanks.text.mustache": "Thanks. Preferences: {{links.preferences_url}}\n"})
    d.write_send_campaign("thanks", "purchase", "thanks", topic="follow-ups")
    d.start()
    return d, srv


def teardown(d, srv):
    try:
        d.stop()
    finally:
        srv.stop()
        d.cleanup()


def post(d, path, fields):
    return d.request("POST", path, raw=urllib.parse.urlencode(fields, doseq=True), headers=FORM,
                     auth=False)


def link(d, srv, cid):
    """The /u/ path of the mail a purchase sends CID."""
    eq(d.post_events({"customer": cid, "type": "purchase", "id": f"p-{cid}"}).status, 202, "event")

    def mail():
        with srv.lock:
            return [m for m in srv.messages if m.rcpts == [f"{cid}@example.org"]]
    m = email.message_from_bytes(poll(mail, 20, "the mail")[0].data, policy=email.policy.default)
    path = urllib.parse.urlparse(str(m["List-Unsubscribe"]).strip("<>")).path
    check(path.startswith("/u/"), "an unsubscribe link", m["List-Unsubscribe"])
    check(f"https://shop.example{path}" in m.get_body().get_content(), "the same in the body")
    return path


def boxes(page):
    """topic -> ticked, as the page's form shows them."""
    out = {}
    for m in re.finditer(r'<input type="checkbox" name="on" value="([^"]+)"( checked)?>', page):
        out[html.unescape(m.group(1))] = bool(m.group(2))
    return out


def customer(d, cid):
    r = d.request("GET", f"/v1/customers/{cid}")
    eq(r.status, 200, "customer")
    return r.json


@test
def preferences_are_shown_changed_and_logged():
    d, srv = setup()
    try:
        eq(d.request("POST", "/v1/customers", body={
            "id": "ann", "email": "ann@example.org", "name": "<b>Ann</b>",
            "consent": {"newsletter": "subscribed"}}).status, 200, "customer")
        path = link(d, srv, "ann")
        page = d.request("GET", path, auth=False)
        eq(page.status, 200, "the page")
        eq(boxes(page.raw), {"follow-ups": True, "newsletter": True, "offers": False},
           "every topic with its state (offers is opt-in, never subscribed)")
        check("<script" not in page.raw.lower() and "<b>Ann</b>" not in page.raw,
              "no script, nothing unescaped", page.raw)
        csp = page.headers.get("Content-Security-Policy", "")
        check("default-src 'none'" in csp, "scripts forbidden by the policy", csp)
        check('name="action" value="preferences"' in page.raw and
              'method="post"' in page.raw and "action=\"http" not in page.raw,
              "the form posts back to the link itself", page.raw)
        eq(customer(d, "ann")["consent"], {"newsletter": "subscribed"}, "a GET changes nothing")

        r = post(d, path, {"action": "preferences",
                           "shown": ["follow-ups", "newsletter", "offers"],
                           "on": ["follow-ups", "offers"]})
        eq(r.status, 200, "saved")
        check("preferences are saved" in r.raw, "says so", r.raw)
        eq(boxes(r.raw), {"follow-ups": True, "newsletter": False, "offers": True},
           "the page shows the new state")
        c = customer(d, "ann")
        eq(c["consent"], {"newsletter": "unsubscribed", "offers": "subscribed"},
           "newsletter left, offers chosen; follow-ups unchanged (it was on)")
        for topic in ("newsletter", "offers"):
            eq(c["consent_log"][topic]["source"], "preferences", f"{topic}: logged with its source")

        # A forged token changes nothing, whatever the form says.
        payload, sig = path.rsplit("/", 1)[1].split(".")
        flip = sig[:-1] + ("A" if sig[-1] != "A" else "B")
        r = post(d, f"/u/{payload}.{flip}", {"action": "preferences", "shown": "offers"})
        eq(r.status, 400, "forged")
        # Topics the form did not show, or that are no topics, are left alone.
        r = post(d, path, {"action": "preferences", "shown": ["bad topic!", "offers"],
                           "on": ["offers", "newsletter"]})
        eq(r.status, 200, "a form with junk")
        eq(customer(d, "ann")["consent"], {"newsletter": "unsubscribed", "offers": "subscribed"},
           "nothing changed: newsletter was not shown, offers was on already")
    finally:
        teardown(d, srv)


@test
def one_click_and_all_mail_work_as_before():
    d, srv = setup()
    try:
        eq(d.request("POST", "/v1/customers", body={"id": "bo", "email": "bo@example.org"}
                     ).status, 200, "customer")
        path = link(d, srv, "bo")
        r = post(d, path, {"List-Unsubscribe": "One-Click"})
        eq(r.status, 200, "one-click")
        c = customer(d, "bo")
        eq(c["consent"], {"follow-ups": "unsubscribed"}, "the link's topic left")
        eq(c["consent_log"]["follow-ups"]["source"], "one-click", "as one-click")
        eq(post(d, path, {"scope": "all"}).status, 200, "all mail")
        eq(customer(d, "bo")["consent"].get("*"), "unsubscribed", "all mail left")
        page = d.request("GET", path, auth=False, headers={"Accept-Language": "de"})
        check("Abmelden" in page.raw and 'lang="de"' in page.raw, "in German", page.raw)
        eq(boxes(page.raw), {"follow-ups": False, "newsletter": False, "offers": False},
           "nothing ticked after leaving all mail")
        # Choosing a topic again lifts "all mail".
        r = post(d, path, {"action": "preferences", "shown": ["follow-ups", "newsletter"],
                           "on": "follow-ups"})
        eq(r.status, 200, "saved")
        c = customer(d, "bo")
        eq((c["consent"].get("*"), c["consent"].get("follow-ups")), ("subscribed", "subscribed"),
           "all mail and follow-ups back")
        eq(c["consent_log"]["*"]["source"], "preferences", "logged")
        eq(boxes(r.raw), {"follow-ups": True, "newsletter": False, "offers": False}, "shown")
    finally:
        teardown(d, srv)


@test
def an_unknown_customer_gets_the_plain_page():
    d, srv = setup()
    try:
        eq(d.request("POST", "/v1/customers", body={"id": "cy", "email": "cy@example.org"}
                     ).status, 200, "customer")
        path = link(d, srv, "cy")
        eq(d.request("DELETE", "/v1/customers/cy").status, 200, "erased")
        page = d.request("GET", path, auth=False)
        eq(page.status, 200, "the page still answers")
        eq(boxes(page.raw), {}, "but shows no topics of an erased customer")
        eq(post(d, path, {"List-Unsubscribe": "One-Click"}).status, 200, "one-click reads as done")
    finally:
        teardown(d, srv)


if __name__ == "__main__":
    run_all()
