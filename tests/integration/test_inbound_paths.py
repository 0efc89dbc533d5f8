"""The other two ways in (issue 16): `nurtured inbound` on stdin for an MTA's pipe (sysexits:
0 taken, 65 no mail, 75 the daemon cannot take it now) and the IMAP poller against a real
Dovecot (a private instance, see dovecot_server.py). A DSN for a message the daemon sent, by
either way, suppresses its address; the poller moves a message only after its commit, and a
kill -9 during a poll leaves every message with exactly one effect.
"""
import email
import os
import sqlite3
import subprocess
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from dovecot_server import PASSWORD, USER, DovecotServer  # noqa: E402
from inbound_mail import (customer, dsn, events_of, headers_of, messages, purchase,  # noqa: E402
                          received_for, setup, suppressions, teardown)
from ntest import NURTURED, check, eq, poll, run_all, test  # noqa: E402


def pipe(d, raw, *args):
    return subprocess.run([NURTURED, "inbound", "-c", d.config_path, *args], input=raw,
                          capture_output=True, timeout=60)


@test
def pipe_delivery_follows_sysexits():
    d, srv = setup()
    try:
        d.start()
        customer(d, "gina")
        purchase(d, "gina", "o1")
        sent = received_for(srv, "gina@example.org")[0]
        raw = dsn(sent.mail_from, headers_of(sent)["Message-ID"], "gina@example.org")
        # Postfix's pipe(8) hands over the envelope recipient: ${recipient}.
        r = pipe(d, raw, "--rcpt", sent.mail_from)
        eq(r.returncode, 0, "taken: " + r.stderr.decode())
        eq(suppressions(d).get("gina@example.org"), "hard_bounce", "suppressed")
        r = pipe(d, raw)
        eq(r.returncode, 0, "the same message again is taken (a duplicate, no effect)")
        check(b'"duplicate": true' in r.stdout or b'"duplicate":true' in r.stdout,
              "said duplicate", r.stdout)
        eq(len(events_of(d, "gina", "bounced")), 1, "one effect")
        # A bounce quoting a 3 MB original (over max_body_bytes): the report part is sent.
        end = raw.rindex(b"\r\n--B")  # the closing boundary: a 3 MB part goes before it
        boundary = raw[end + 2:].split(b"--\r\n")[0]
        big = (raw[:end] + b"\r\n" + boundary + b"\r\nContent-Type: text/plain\r\n\r\n" +
               (b"y" * 998 + b"\r\n") * 3000 + raw[end:])
        r = pipe(d, big.replace(b"Message-Id: <dsn.", b"Message-Id: <big.dsn."))
        eq(r.returncode, 0, "a large message is cut to fit and taken: " + r.stderr.decode())
        check(b"first" in r.stderr, "it says so", r.stderr)
        eq(pipe(d, b"From: a@b.example\r\n\r\n" + b"z" * (26 << 20)).returncode, 65,
           "over 25 MiB: EX_DATAERR")
        eq(pipe(d, os.urandom(4096)).returncode, 65, "binary garbage: EX_DATAERR")
        eq(pipe(d, b"").returncode, 65, "nothing at all: EX_DATAERR")
        d.stop()
        r = pipe(d, raw)
        eq(r.returncode, 75, "daemon down: EX_TEMPFAIL, the MTA retries: " + r.stderr.decode())
    finally:
        teardown(d, srv)


def imap_config(dv, after="move:Processed"):
    return {"inbound": {"imap": {"url": dv.url, "user": USER, "password": PASSWORD,
                                 "interval": "1s", "after": after, "insecure": True}}}


def message_ids(dv, mailbox):
    c = dv.connect()
    try:
        c.select(mailbox)
        _, data = c.uid("SEARCH", "UNDELETED")
        ids = []
        for uid in (data[0].split() if data and data[0] else []):
            _, parts = c.uid("FETCH", uid, "(BODY.PEEK[HEADER.FIELDS (MESSAGE-ID)])")
            ids.append(email.message_from_bytes(parts[0][1])["Message-Id"])
        return ids
    finally:
        c.logout()


@test
def imap_poller_takes_each_message_once_and_moves_it_after_the_commit():
    dv = DovecotServer().start()
    d, srv = setup(imap_config(dv))
    try:
        d.start()
        for cid in ("hana", "ivo"):
            customer(d, cid)
            purchase(d, cid, "o1")
        for cid in ("hana", "ivo"):
            sent = received_for(srv, f"{cid}@example.org")[0]
            dv.append(dsn(sent.mail_from, headers_of(sent)["Message-ID"], f"{cid}@example.org"))
        dv.append(b"no header here at all\r\n")
        poll(lambda: len(dv.uids("Processed")) == 2, 20, "both DSNs moved to Processed")
        eq(len(dv.uids()), 1, "the one that is no mail stays in INBOX (flagged)")
        sup = suppressions(d)
        eq((sup.get("hana@example.org"), sup.get("ivo@example.org")),
           ("hard_bounce", "hard_bounce"), "both suppressed")
        purchase(d, "hana", "o2")
        m = poll(lambda: (lambda ms: ms if len(ms) == 2 else None)(messages(d, "hana")), 10,
                 "the next message")
        eq((m[1]["state"], m[1].get("reason")), ("skipped", "suppressed"), "skipped")
    finally:
        teardown(d, srv)
        dv.stop()


@test
def kill_9_during_a_poll_leaves_exactly_one_effect_per_message():
    dv = DovecotServer().start()
    d, srv = setup(imap_config(dv, after="delete"))
    n = 12
    try:
        # Mail first, without the poller; then the DSNs wait in the mailbox.
        cfg = dict(d.config)
        d.config.pop("inbound")
        d.write_config()
        d.start()
        cids = [f"k{i}" for i in range(n)]
        for cid in cids:
            customer(d, cid)
            purchase(d, cid, "o1")
        dsn_ids = []
        for cid in cids:
            sent = received_for(srv, f"{cid}@example.org")[0]
            raw = dsn(sent.mail_from, headers_of(sent)["Message-ID"], f"{cid}@example.org")
            dsn_ids.append(email.message_from_bytes(raw)["Message-Id"])
            dv.append(raw)
        d.stop()
        d.write_config(cfg)
        d.start()

        def recorded():
            try:
                return [r[0] for r in d.sql("SELECT message_id FROM inbound")]
            except (sqlite3.Error, RuntimeError):
                return []
        poll(lambda: len(recorded()) >= 1, 20, "the poll under way")
        d.kill9()
        # Nothing gone from the mailbox without its record.
        left = set(message_ids(dv, "INBOX"))
        done = {x.strip("<>") for x in recorded()}
        gone = [m for m in dsn_ids if m not in left]
        check(all(m.strip("<>") in done for m in gone),
              "every message gone from the mailbox was committed first", gone, done)
        check(len(left) > 0, "the kill came during the poll (some messages left)", len(left))
        d.start()
        poll(lambda: dv.uids() == [], 30, "the mailbox emptied after the restart")
        ids = recorded()
        eq(sorted(x.strip("<>") for x in ids), sorted(m.strip("<>") for m in dsn_ids),
           "each message recorded exactly once")
        for cid in cids:
            eq(len(events_of(d, cid, "bounced")), 1, f"{cid}: exactly one effect")
        eq(len(suppressions(d)), n, "every address suppressed")
    finally:
        teardown(d, srv)
        dv.stop()


if __name__ == "__main__":
    run_all()
