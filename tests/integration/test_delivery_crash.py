"""kill -9 in the middle of a 5,000-message send through the smtp plugin into a real SMTP
server (aiosmtpd on loopback), then restart: every message arrives, and the duplicates
(counted by Message-ID at the server) are no more than the messages that were in flight
("sending" in the outbox) at the kill.
"""
import collections
import concurrent.futures
import email
import email.policy
import json
import os
import sqlite3
import sys
import threading

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from ntest import Daemon, check, eq, free_port, poll, run_all, test  # noqa: E402

from aiosmtpd.controller import Controller  # noqa: E402

N = 5000


class CountingSink:
    def __init__(self):
        self.ids = collections.Counter()
        self.lock = threading.Lock()

    async def handle_DATA(self, server, session, envelope):
        msg = email.message_from_bytes(envelope.content, policy=email.policy.default)
        with self.lock:
            self.ids[str(msg["Message-ID"])] += 1
        return "250 2.0.0 OK"

    def received(self):
        with self.lock:
            return sum(self.ids.values())


@test
def kill9_during_a_5000_message_send():
    sink = CountingSink()
    port = free_port()
    ctl = Controller(sink, hostname="127.0.0.1", port=port)
    ctl.start()
    d = Daemon({"durability": "normal", "max_batch": 1000,
                "channels": {"mail": {"plugin": "smtp", "host": "127.0.0.1", "port": port,
                                      "starttls": "none", "max_connections": 4,
                                      "messages_per_connection": 50,
                                      "retry": {"initial": "1s", "max": "2s"}}}})
    try:
        for sub in ("campaigns", "templates"):
            os.makedirs(os.path.join(d.tmp, sub))
        with open(os.path.join(d.tmp, "campaigns", "blast.json"), "w") as f:
            json.dump({"id": "blast", "name": "blast", "status": "active", "topic": "orders",
                       "transactional": True, "trigger": {"event": "blast"},
                       "steps": [{"id": "send", "send": {"channel": "mail",
                                                         "template": "blast"}}]}, f)
        for part, text in (("subject", "Hello {{customer.name}}"),
                           ("text", "Dear {{customer.name}}, number {{event.properties.n}}.\n")):
            with open(os.path.join(d.tmp, "templates", f"blast.{part}.mustache"), "w") as f:
                f.write(text)
        d.start()

        def upsert(i):
            r = d.request("POST", "/v1/customers",
                          body={"id": f"c{i}", "email": f"c{i}@example.com", "name": f"C {i}"})
            eq(r.status, 200, f"customer {i}")
        with concurrent.futures.ThreadPoolExecutor(8) as ex:
            list(ex.map(upsert, range(N)))
        for b in range(0, N, 1000):
            r = d.post_events({"events": [{"customer": f"c{i}", "type": "blast", "id": f"b{i}",
                                           "properties": {"n": i}}
                                          for i in range(b, b + 1000)]})
            eq(r.status, 202, "events batch")
        poll(lambda: sink.received() >= N // 5, 120, "a fifth of the mails delivered")
        d.kill9()
        at_kill = sink.received()
        db = sqlite3.connect(d.db_path())
        states = dict(db.execute("SELECT state, count(*) FROM outbox GROUP BY state"))
        db.close()
        in_flight = states.get("sending", 0)
        check(at_kill < N, f"the kill landed mid-send ({at_kill} of {N} delivered)")
        check(sum(states.values()) <= N, "no message decided twice", states)
        d.start()

        def all_sent():
            r = d.request("GET", "/metrics", auth=False)
            db = sqlite3.connect(d.db_path())
            try:
                rows = dict(db.execute("SELECT state, count(*) FROM outbox GROUP BY state"))
            finally:
                db.close()
            return rows if rows.get("sent", 0) == N else None
        rows = poll(all_sent, 180, "every message sent after the restart")
        eq(sum(rows.values()), N, "exactly one outbox row per event")
        unique = len(sink.ids)
        dups = sink.received() - unique
        eq(unique, N, "every message arrived")
        check(dups <= in_flight,
              f"duplicates ({dups}) within what was in flight at the kill ({in_flight})")
        print(f"# delivered {at_kill} before the kill, {in_flight} in flight, {dups} duplicates",
              flush=True)
    finally:
        try:
            d.stop()
        finally:
            ctl.stop()
            d.cleanup()


if __name__ == "__main__":
    run_all()
