"""Hearing back after the send (issue 16), end to end against the daemon and aiosmtpd: the
envelope sender names the message (VERP); a DSN for that very message, posted to
/v1/inbound, suppresses the address and the next send is skipped as `suppressed`; the same
DSN twice has one effect; a forged token does nothing; soft bounces count up to
bounce_policy; a complaint unsubscribes; a reply "5" moves the post-purchase journey.
"""
import json
import os
import shutil
import subprocess
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from inbound_mail import (BOUNCES, REPLIES, SRC, arf, customer, dsn, events_of, headers_of, messages,  # noqa: E402
                          post_inbound, purchase, received_for, reply, setup, suppressions,
                          teardown)
from ntest import TOKEN, check, eq, poll, run_all, test  # noqa: E402

@test
def hard_bounce_through_the_api_suppresses_and_the_next_send_is_skipped():
    d, srv = setup()
    try:
        d.start()
        customer(d, "anna")
        purchase(d, "anna", "o1")
        sent = received_for(srv, "anna@example.org")[0]
        check(sent.mail_from.startswith("bounces+b") and sent.mail_from.endswith(
            "@mail.test.example"), "the envelope sender is a VERP address", sent.mail_from)
        msg = headers_of(sent)
        check(msg["Reply-To"] and msg["Reply-To"].strip("<>").startswith("reply+r"),
              "Reply-To names the message too", msg["Reply-To"])
        poll(lambda: messages(d, "anna")[0]["state"] == "sent", 10, "sent")

        # The DSN names the message only by the VERP address it was sent to: the body's
        # Message-ID is mangled, as some relays do.
        raw = dsn(sent.mail_from, "<mangled@nowhere.example>", "anna@example.org")
        r = post_inbound(d, raw)
        eq(r.status, 202, r.raw)
        eq((r.json["kind"], r.json["matched"], r.json["effect"], r.json["duplicate"],
            r.json["customer"]), ("bounce", True, "suppressed", False, "anna"), r.raw)
        r2 = post_inbound(d, raw)
        eq((r2.status, r2.json["duplicate"], r2.json["id"]), (202, True, r.json["id"]),
           "the same DSN again is a duplicate")

        eq(messages(d, "anna")[0]["state"], "bounced", "the message bounced")
        eq(suppressions(d).get("anna@example.org"), "hard_bounce", "address suppressed")
        eq(len(events_of(d, "anna", "bounced")), 1, "one event bounced, not two")

        purchase(d, "anna", "o2")
        m = poll(lambda: (lambda ms: ms if len(ms) == 2 else None)(messages(d, "anna")), 10,
                 "the second message")
        eq((m[1]["state"], m[1].get("reason")), ("skipped", "suppressed"), "never mailed again")
    finally:
        teardown(d, srv)


@test
def forged_token_and_unknown_message_do_nothing_and_are_listed():
    d, srv = setup()
    try:
        d.start()
        customer(d, "bob")
        purchase(d, "bob", "o1")
        sent = received_for(srv, "bob@example.org")[0]
        msg_id = headers_of(sent)["Message-ID"]
        local, domain = sent.mail_from.split("@")
        token = local.split("+")[1]
        forged = "bounces+" + token[:-1] + ("a" if token[-1] != "a" else "b") + "@" + domain
        # The forged token wins over the real Message-ID in the body: nothing happens.
        r = post_inbound(d, dsn(forged, msg_id, "bob@example.org"))
        eq((r.status, r.json["effect"], r.json["matched"]), (202, "forged_token", False), r.raw)
        r = post_inbound(d, dsn(BOUNCES, "<unknown@nowhere.example>", "zed@example.org"))
        eq((r.status, r.json["effect"]), (202, "unmatched"), r.raw)
        check("bob@example.org" not in suppressions(d), "bob not suppressed")
        eq(messages(d, "bob")[0]["state"], "sent", "bob's message untouched")
        r = d.request("GET", "/v1/inbound?kind=bounce&unmatched=1")
        eq(r.status, 200, r.raw)
        eq(sorted(x["effect"] for x in r.json["inbound"]), ["forged_token", "unmatched"],
           "both kept for the operator")
        eq(d.request("GET", "/v1/inbound?kind=nonsense").status, 400, "a bad kind is refused")
        ctl = os.path.join(os.environ.get("NT_BUILDDIR") or os.path.join(SRC), "nurturectl")
        out = subprocess.run([ctl, "--url", f"http://127.0.0.1:{d.port}", "--token", TOKEN,
                              "inbound", "--unmatched"], capture_output=True, text=True,
                             timeout=30, env={"HOME": d.tmp, "PATH": os.environ["PATH"]})
        eq(out.returncode, 0, out.stderr)
        check("forged_token" in out.stdout and "unmatched" in out.stdout and
              "zed@example.org" in out.stdout, "nurturectl inbound lists both", out.stdout)
        r = d.request("POST", "/v1/inbound", raw=b"\x00\x01binary", headers={
            "Content-Type": "message/rfc822"})
        eq(r.status, 400, "binary garbage is not a mail: " + r.raw)
        r = d.request("POST", "/v1/inbound", raw=b"From: x@y\n\nhi", headers={
            "Content-Type": "text/plain"})
        eq(r.status, 415, "another content type")
        eq(len(d.request("GET", "/v1/inbound").json["inbound"]), 2, "nothing recorded for those")
    finally:
        teardown(d, srv)


@test
def soft_bounces_count_up_to_the_policy():
    d, srv = setup({"bounce_policy": {"soft_bounces": 2, "within": "30d"}})
    try:
        d.start()
        customer(d, "carl")
        purchase(d, "carl", "o1")
        purchase(d, "carl", "o2")
        sent = received_for(srv, "carl@example.org", 2)
        effects = []
        for s in sent:
            r = post_inbound(d, dsn(s.mail_from, "<x@y>", "carl@example.org", status="5.2.2",
                                    diagnostic="552 5.2.2 Mailbox full"))
            eq(r.status, 202, r.raw)
            effects.append(r.json["effect"])
        eq(effects, ["counted", "suppressed"], "the second soft bounce suppresses")
        eq(suppressions(d).get("carl@example.org"), "soft_bounces", "suppressed for soft bounces")
        eq([m["state"] for m in messages(d, "carl")], ["sent", "sent"],
           "a soft bounce does not mark the message bounced")
    finally:
        teardown(d, srv)


@test
def complaint_unsubscribes_and_suppresses():
    d, srv = setup()
    try:
        d.start()
        customer(d, "dora")
        purchase(d, "dora", "o1")
        sent = received_for(srv, "dora@example.org")[0]
        # A feedback loop sends the report to its own address: the Message-ID links it.
        r = post_inbound(d, arf(headers_of(sent)["Message-ID"], "dora@example.org"))
        eq((r.status, r.json["kind"], r.json["effect"]), (202, "complaint", "unsubscribed"),
           r.raw)
        c = d.request("GET", "/v1/customers/dora").json
        eq(c["consent"].get("*"), "unsubscribed", "unsubscribed from all non-transactional mail")
        eq(suppressions(d).get("dora@example.org"), "complaint", "suppressed as a complaint")
        eq(len(events_of(d, "dora", "complained")), 1, "event complained")
    finally:
        teardown(d, srv)


@test
def a_channel_has_its_own_reply_to_or_none():
    for rt, want in (("care@mail.test.example", "care+r"), (False, None)):
        d, srv = setup()
        try:
            d.config["channels"]["mail"]["reply_to"] = rt
            d.write_config()
            d.start()
            customer(d, "hugo")
            purchase(d, "hugo", "o1")
            msg = headers_of(received_for(srv, "hugo@example.org")[0])
            got = msg["Reply-To"]
            if want is None:
                eq(got, None, "\"reply_to\": false: no Reply-To")
            else:
                check(got and got.strip("<>").startswith(want), "the channel's base", got)
        finally:
            teardown(d, srv)


@test
def a_campaign_has_its_own_reply_to_or_none():
    for rt, want in (("orders@mail.test.example", "orders+r"), (False, None)):
        d, srv = setup()
        try:
            with open(os.path.join(d.config["campaigns_dir"], "thanks.json")) as f:
                c = json.load(f)
            c["reply_to"] = rt
            d.write_campaign(c)
            d.start()
            customer(d, "ines")
            purchase(d, "ines", "o1")
            got = headers_of(received_for(srv, "ines@example.org")[0])["Reply-To"]
            if want is None:
                eq(got, None, "the campaign's \"reply_to\": false wins over the configuration's")
            else:
                check(got and got.strip("<>").startswith(want),
                      "the campaign's base, not the configuration's", got)
        finally:
            teardown(d, srv)


def post_purchase(d):
    """The example campaign as shipped, but with its 7-day wait shortened to one second."""
    with open(os.path.join(SRC, "campaigns", "post-purchase.json")) as f:
        c = json.load(f)
    c.pop("$schema", None)
    for st in c["steps"]:
        if st.get("wait") == "7d":
            st["wait"] = "1s"
    d.write_campaign(c)
    tdir = os.path.join(d.tmp, "templates")
    shutil.rmtree(tdir, ignore_errors=True)
    shutil.copytree(os.path.join(SRC, "campaigns", "templates"), tdir)


@test
def reply_with_a_number_moves_the_post_purchase_journey():
    d, srv = setup(campaign=False)
    try:
        post_purchase(d)
        d.start()
        for cid, answer, step in (("erik", "5", "review-ask"),
                                  ("frida", "2 \u2013 leider kaputt", "apology")):
            customer(d, cid)
            purchase(d, cid, "order-" + cid)
            sat = received_for(srv, f"{cid}@example.org", 2)[1]
            msg = headers_of(sat)
            rt = msg["Reply-To"].strip("<>")
            r = post_inbound(d, reply(rt, msg["Message-ID"], f"{cid}@example.org", answer))
            eq((r.status, r.json["kind"], r.json["effect"]), (202, "reply", "event"), r.raw)
            ev = events_of(d, cid, "reply")
            eq(len(ev), 1, "one reply event")
            eq((ev[0]["properties"]["text"], ev[0]["properties"]["step"]),
               (answer, "satisfaction-check"), "the reply's own text, the step it answers")

            def reached():
                ms = messages(d, cid)
                return ms if any(m["step"] == step for m in ms) else None
            poll(reached, 15, f"{cid}'s journey reaches {step}")
        # Without a token (to the bare reply address), In-Reply-To names the message; an
        # out-of-office is recorded on it and counts as nothing.
        customer(d, "gert")
        purchase(d, "gert", "order-gert")
        sat = received_for(srv, "gert@example.org", 2)[1]
        mid = headers_of(sat)["Message-ID"]
        ooo = reply(REPLIES, mid, "gert@example.org", "I am out of the office until Monday.")
        ooo = ooo.replace(b"Subject: Re:", b"Auto-Submitted: auto-replied\r\nSubject: Re:")
        r = post_inbound(d, ooo)
        eq((r.status, r.json["kind"], r.json["effect"], r.json["matched"]),
           (202, "auto_reply", "recorded", True), r.raw)
        eq(events_of(d, "gert", "reply"), [], "an auto-reply is no reply")
        gmsg = [m for m in messages(d, "gert") if m["step"] == "satisfaction-check"][0]["id"]
        on_msg = d.request("GET", f"/v1/inbound?message={gmsg}").json["inbound"]
        eq([x["kind"] for x in on_msg], ["auto_reply"], "recorded on the message")
        r = post_inbound(d, reply(REPLIES, mid, "gert@example.org", "Danke, alles gut."))
        eq((r.status, r.json["kind"], r.json["matched"], r.json["effect"]),
           (202, "reply", True, "event"), r.raw)
        ev = events_of(d, "gert", "reply")
        eq((len(ev), ev[0]["properties"]["text"], "number" in ev[0]["properties"]),
           (1, "Danke, alles gut.", False), "matched through In-Reply-To, no number")
        eq(events_of(d, "gert", "feedback"), [], "no number: no feedback")
        # Erasing the customer leaves no address or text in what came back.
        eq(d.request("DELETE", "/v1/customers/gert").status, 200, "erased")
        rows = [x for x in d.request("GET", "/v1/inbound").json["inbound"]
                if x.get("message") and x["kind"] in ("reply", "auto_reply")]
        check(not any("gert" in json.dumps(x) for x in rows), "nothing of gert's left", rows)
    finally:
        teardown(d, srv)


if __name__ == "__main__":
    run_all()
