"""kill -9 in the middle of a 5,000-message send through the smtp plugin into a real SMTP
server (aiosmtpd on loopback), then restart: every message arrives, and the duplicates
(counted by Message-ID at the server) are no more than the messages that were in flight
("sending" in the outbox) at the kill. And kill -9 while a burst of due send steps is being
rendered (their MIME built beside the store thread): no message is ever stored without its
payload, and after the restart each step has sent exactly once.
"""
import collections
import concurrent.futures
import email
import email.policy
import os
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
        d.write_send_campaign("blast", "blast", "blast", transactional=True)
        d.write_templates({
            "blast.subject.mustache": "Hello {{customer.name}}",
            "blast.text.mustache": "Dear {{customer.name}}, number {{event.properties.n}}.\n"})
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
        states = outbox_states(d)
        in_flight = states.get("sending", 0)
        check(at_kill < N, f"the kill landed mid-send ({at_kill} of {N} delivered)")
        check(sum(states.values()) <= N, "no message decided twice", states)
        d.start()

        def all_sent():
            rows = outbox_states(d)
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


def outbox_states(d):
    """{state: messages} of the daemon's outbox."""
    return {state: int(n) for state, n in d.sql("SELECT state, count(*) FROM outbox"
                                                 " GROUP BY state")}


def outbox_counts(d):
    """(rows, rows that are not skipped yet lack a payload, distinct Message-IDs)."""
    row = d.sql("SELECT count(*), coalesce(sum(CASE WHEN p.id IS NULL AND o.state <> 'skipped'"
                " THEN 1 ELSE 0 END), 0), count(DISTINCT o.message_id) FROM outbox o"
                " LEFT JOIN outbox_payload p ON p.id = o.id")[0]
    return tuple(int(v) for v in row)


@test
def kill9_while_due_sends_are_rendered_loses_no_payload():
    n = 20000
    d = Daemon({"max_batch": 1000, "channels": {"mail": {"plugin": "discard"}}})
    try:
        d.write_send_campaign("later", "signup", "later", before=[{"id": "wait", "wait": "2s"}],
                              transactional=True)
        d.write_templates({
            "later.subject.mustache": "Hello {{customer.name}}",
            "later.text.mustache": "Dear {{customer.name}}, code {{event.properties.n}}.\n",
            "later.html.mustache": "<p>Dear {{customer.name}}</p>\n"})
        d.start()
        for b in range(0, n, 1000):
            r = d.post_events({"events": [
                {"customer": f"c{i}", "type": "signup", "id": f"s{i}", "properties": {"n": i},
                 "profile": {"email": f"c{i}@example.com", "name": f"K\u00fcndin {i}"}}
                for i in range(b, b + 1000)]})
            eq(r.status, 202, "events batch")
        poll(lambda: outbox_counts(d)[0] >= n // 10, 60, "a tenth of the steps ran")
        d.kill9()
        rows, bare, ids = outbox_counts(d)
        check(rows < n, f"the kill landed mid-burst ({rows} of {n} steps had run)")
        eq(bare, 0, "no message stored without its payload at the kill")
        d.start()
        final = poll(lambda: (lambda c: c if c[0] == n else None)(outbox_counts(d)),
                     120, "every step run after the restart")
        eq(final, (n, 0, n), "one message per step, each with its payload and its own id")
        poll(lambda: d.sql("SELECT count(*) FROM outbox WHERE state = 'sent'") == [[str(n)]],
             60, "all sent")
        sizes = [int(v) for v in d.sql("SELECT min(length(payload)), max(length(payload))"
                                       " FROM outbox_payload")[0]]
        check(sizes[0] > 200, "payloads are whole messages", sizes)
        print(f"# {rows} of {n} steps had run at the kill", flush=True)
    finally:
        try:
            d.stop()
        finally:
            d.cleanup()


if __name__ == "__main__":
    run_all()
