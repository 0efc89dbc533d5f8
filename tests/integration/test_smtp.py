"""The smtp plugin inside the daemon, against the fault-injecting server (smtp_server.py):
a 451 is retried on the channel's schedule and arrives once, a 550 5.1.1 fails and suppresses
the address, a relay that is down and comes back gets every message exactly once.
"""
import os
import socket
import sys
import urllib.parse

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import time

from ntest import Daemon, check, eq, poll, run_all, test  # noqa: E402
from smtp_server import SmtpServer  # noqa: E402


def setup(channel=None, config=None, smtputf8=False, **behaviour):
    srv = SmtpServer(behaviour=behaviour, smtputf8=smtputf8).start()
    ch = {"plugin": "smtp", "host": "127.0.0.1", "port": srv.port, "starttls": "none",
          "messages_per_connection": 10, "retry": {"initial": "1s", "max": "1s"}}
    ch.update(channel or {})
    d = Daemon(dict({"public_url": "https://mail.test.example",
                     "mail_from": {"name": "Shop", "address": "shop@mail.test.example"},
                     "channels": {"mail": ch}}, **(config or {})))
    d.write_templates({"thanks.subject.mustache": "Thanks {{customer.name}}",
                       "thanks.text.mustache": "Thank you, {{customer.name}}.\n"})
    d.write_send_campaign("thanks", "purchase", "thanks", topic="follow-ups", reentry="always")
    d.start()
    return d, srv


def teardown(d, srv):
    try:
        d.stop()
    finally:
        srv.stop()
        d.cleanup()


def purchase(d, cid, eid):
    r = d.request("POST", "/v1/customers", body={"id": cid, "email": f"{cid}@example.org",
                                                 "name": cid})
    eq(r.status, 200, f"upsert {cid}: {r.raw}")
    r = d.post_events({"customer": cid, "type": "purchase", "id": eid, "properties": {}})
    eq(r.status, 202, f"event {eid}: {r.raw}")


def final(d, cid, n=1):
    def done():
        r = d.request("GET", "/v1/messages?" + urllib.parse.urlencode({"customer": cid}))
        m = r.json["messages"] if r.status == 200 else []
        return m if len(m) >= n and all(x["state"] not in ("queued", "sending", "deferred")
                                        for x in m) else None
    return poll(done, 20, f"{n} final messages for {cid}")


@test
def tempfail_is_retried_and_arrives_once():
    d, srv = setup(tempfail_rcpt=2)
    try:
        purchase(d, "ann", "p1")
        m = final(d, "ann")
        eq(m[0]["state"], "sent", "after two 451s")
        check("final" in m[0] and m[0]["final"] >= m[0]["created"],
              "a sent message has its final time", m[0])
        eq(srv.rcpt_attempts["ann@example.org"], 3, "RCPT attempts")
        eq(len(srv.messages), 1, "received once")
        eq(srv.duplicates(), {}, "no duplicate Message-ID")
    finally:
        teardown(d, srv)


@test
def no_such_user_fails_and_suppresses():
    d, srv = setup(reject=["bob@example.org"])
    try:
        purchase(d, "bob", "p1")
        m = final(d, "bob")
        eq(m[0]["state"], "failed", "550 5.1.1")
        check("final" in m[0], "a failed message has its final time", m[0])
        sup = d.request("GET", "/v1/suppressions").json["suppressions"]
        eq(len(sup), 1, f"one suppression: {sup}")
        purchase(d, "bob", "p2")
        m = final(d, "bob", 2)
        eq((m[1]["state"], m[1].get("reason")), ("skipped", "suppressed"), "never mailed again")
        eq(srv.rcpt_attempts["bob@example.org"], 1, "one RCPT in all")
    finally:
        teardown(d, srv)


@test
def relay_down_then_up_delivers_each_once():
    d, srv = setup()
    try:
        srv.down()
        for i in range(5):
            purchase(d, f"c{i}", f"p{i}")
        poll(lambda: all(
            any(x["state"] == "deferred" for x in d.request(
                "GET", f"/v1/messages?customer=c{i}").json["messages"]) for i in range(5)),
            20, "every message deferred while the relay is down")
        m = poll(lambda: [x for x in d.request("GET", "/v1/messages?customer=c0").json[
            "messages"] if x["state"] == "deferred"], 20, "c0's message deferred")
        check("final" not in m[0] and "next_attempt" in m[0],
              "a deferred message has a next attempt and no final time", m[0])
        srv.up()
        for i in range(5):
            eq(final(d, f"c{i}")[0]["state"], "sent", f"c{i} after the relay came back")
        eq(len(srv.messages), 5, "five received")
        eq(srv.duplicates(), {}, "no duplicate Message-ID")
    finally:
        teardown(d, srv)


@test
def a_stalling_server_times_out_while_the_loop_answers():
    d, srv = setup(channel={"timeouts": {"greeting_ms": 1500, "envelope_ms": 1500,
                                         "data_ms": 1500, "transfer_ms": 1500,
                                         "data2_ms": 1500}}, stall="data")
    try:
        for i in range(3):
            purchase(d, f"s{i}", f"p{i}")
        worst = 0.0
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            t0 = time.monotonic()
            eq(d.request("GET", "/healthz", auth=False).status, 200, "healthz")
            worst = max(worst, time.monotonic() - t0)
            m = d.request("GET", "/v1/messages?customer=s0").json["messages"]
            if m and m[0]["state"] == "deferred":
                break
            time.sleep(0.01)
        eq(m[0]["state"], "deferred", "the stalled message")
        check("no reply" in m[0]["last_reply"] or "timed out" in m[0]["last_reply"],
              "a timeout reply", m[0])
        check(worst < 0.05, f"/healthz within 50 ms while sessions stall (worst {worst:.3f} s)")
        srv.set(stall=None)
        for i in range(3):
            eq(final(d, f"s{i}")[0]["state"], "sent", f"s{i} once the server answers")
        eq(srv.duplicates(), {}, "no duplicate Message-ID")
    finally:
        teardown(d, srv)


def blackhole():
    """A port whose SYNs go unanswered: a listener whose one-place accept queue is full."""
    ls = socket.socket()
    ls.bind(("127.0.0.1", 0))
    ls.listen(0)
    filler = socket.create_connection(ls.getsockname(), timeout=2)
    probe = socket.socket()
    probe.settimeout(0.3)
    try:
        probe.connect(ls.getsockname())
        raise AssertionError("the accept queue is not full: the test would prove nothing")
    except socket.timeout:
        pass
    finally:
        probe.close()
    return ls, filler


@test
def a_relay_that_never_answers_the_connect_is_given_up_at_connect_ms():
    ls, filler = blackhole()
    d, srv = setup(channel={"port": ls.getsockname()[1], "timeouts": {"connect_ms": 1000}})
    try:
        purchase(d, "nc", "p1")
        m = poll(lambda: [x for x in d.request("GET", "/v1/messages?customer=nc").json[
            "messages"] if x["state"] == "deferred" and x["attempts"] >= 2], 15,
            "two attempts deferred (the kernel alone gives up after about two minutes)")
        check("no connection within 1000 ms" in m[0]["last_reply"], "the reason", m[0])
        eq(d.request("GET", "/healthz", auth=False, timeout=2).status, 200, "healthz")
        t0 = time.monotonic()
        eq(d.stop(timeout=10), 0, "exit code")
        check(time.monotonic() - t0 < 5, "the stop waits for no connect()",
              time.monotonic() - t0)
    finally:
        srv.stop()
        d.cleanup()
        filler.close()
        ls.close()


@test
def a_stop_ends_at_its_deadline_with_a_session_stalled_and_loses_nothing():
    """libesmtp's own DATA timeout is minutes: the stop must not wait for it."""
    d, srv = setup(config={"shutdown_timeout": 2}, stall="data")
    try:
        purchase(d, "st", "p1")
        poll(lambda: any(x["state"] == "sending" for x in d.request(
            "GET", "/v1/messages?customer=st").json["messages"]), 10, "the message in flight")
        poll(lambda: srv.rcpt_attempts["st@example.org"] >= 1, 10, "the session at its DATA")
        t0 = time.monotonic()
        eq(d.stop(timeout=15), 0, "exit code")
        took = time.monotonic() - t0
        check(took < 6, "the stop keeps its 2 s deadline, about", took)
        check("exiting without waiting" in d.read_log(), "says so", d.read_log()[-2000:])
        srv.set(stall=None)
        d.start()
        eq(final(d, "st")[0]["state"], "sent", "sent after the restart")
        eq(len(srv.messages), 1, "received once")
    finally:
        teardown(d, srv)


@test
def a_message_expires_after_max_age_and_can_be_retried():
    d, srv = setup(channel={"retry": {"initial": "1s", "max": "1s", "max_age": "2s"}})
    try:
        srv.down()
        purchase(d, "old", "p1")
        m = final(d, "old")
        eq(m[0]["state"], "expired", "gave up after max_age")
        check(m[0]["attempts"] >= 2, "retried before giving up", m[0])
        srv.up()
        r = d.request("POST", f"/v1/messages/{m[0]['id']}/retry")
        eq(r.status, 202, f"retry: {r.raw}")
        m = final(d, "old")
        eq(m[0]["state"], "sent", "delivered after the retry")
        eq(len(srv.messages), 1, "received once")
        r = d.request("POST", f"/v1/messages/{m[0]['id']}/retry")
        eq(r.status, 409, "a sent message is not retried")
        eq(d.request("POST", "/v1/messages/99999/retry").status, 404, "unknown message")
    finally:
        teardown(d, srv)


def zoe(d):
    """Issue 18: zoë@example.com, an RFC 6531 address (UTF-8 local part), and her purchase."""
    r = d.request("POST", "/v1/customers", body={"id": "zoe", "email": "zoë@example.com",
                                                 "name": "Zoë"})
    eq(r.status, 200, "an RFC 6531 address accepted: " + r.raw)
    eq(d.request("GET", "/v1/customers/zoe").json.get("email"), "zoë@example.com",
       "stored as given")
    eq(d.post_events({"customer": "zoe", "type": "purchase", "id": "z1"}).status, 202, "event")


@test
def a_relay_offering_smtputf8_receives_an_internationalised_address_once():
    # The smtp channel sends it over libcurl with SMTPUTF8 on MAIL FROM; an ASCII message of
    # the same moment still goes through libesmtp, without the parameter.
    d, srv = setup(smtputf8=True)
    try:
        zoe(d)
        purchase(d, "ann", "p1")
        m = final(d, "zoe")
        eq(m[0]["state"], "sent", f"sent through a relay that offers SMTPUTF8: {m[0]}")
        eq(final(d, "ann")[0]["state"], "sent", "the ASCII message too")
        got = [x for x in srv.messages if x.rcpts == ["zoë@example.com"]]
        eq(len(got), 1, f"received exactly once: {srv.stats()}")
        check("SMTPUTF8" in got[0].mail_options, "MAIL FROM carried SMTPUTF8", got[0].as_json())
        sender = d.request("GET", "/v1/customers/zoe/export").json["messages"][0]["sender"]
        eq(got[0].mail_from, sender, "the message's (VERP) envelope sender")
        eq(srv.rcpt_attempts["zoë@example.com"], 1, "one RCPT, the raw UTF-8 address")
        check("zoë@example.com".encode() in got[0].data, "UTF-8 in the headers (RFC 6532)",
              got[0].data[:400])
        ann = [x for x in srv.messages if x.rcpts == ["ann@example.org"]]
        eq((len(ann), ann[0].mail_options if ann else None), (1, []),
           "the ASCII message once, without SMTPUTF8")
        eq(srv.duplicates(), {}, "no duplicate Message-ID")
    finally:
        teardown(d, srv)


@test
def a_relay_without_smtputf8_fails_an_internationalised_address_and_says_why():
    # The relay's EHLO does not list SMTPUTF8: the message fails before MAIL FROM, with a
    # reason naming the relay and the missing extension; the address is not suppressed.
    d, srv = setup()
    try:
        zoe(d)
        m = final(d, "zoe")
        eq(m[0]["state"], "failed", "not sent through a relay without SMTPUTF8")
        reply = m[0].get("last_reply", "")
        check(f"127.0.0.1:{srv.port} does not offer SMTPUTF8" in reply and "RFC 6531" in reply,
              "the reason names the relay and SMTPUTF8", m[0])
        check(len(srv.sessions) >= 1, "the relay was asked (EHLO)", srv.stats())
        eq((dict(srv.mail_attempts), dict(srv.rcpt_attempts)), ({}, {}),
           "neither MAIL FROM nor RCPT reached the relay")
        eq(d.request("GET", "/v1/suppressions").json["suppressions"], [], "not suppressed")
        purchase(d, "ann", "p1")
        eq(final(d, "ann")[0]["state"], "sent", "an ASCII message still goes out")
    finally:
        teardown(d, srv)


if __name__ == "__main__":
    run_all()
