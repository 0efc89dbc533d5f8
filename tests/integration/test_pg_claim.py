#!/usr/bin/python3
"""Issue 21: two daemons on one PostgreSQL database share its outbox. Each claims the due
messages with FOR UPDATE SKIP LOCKED, so two nodes delivering from one queue never take the
same message: a few hundred messages queued through both nodes arrive exactly once across the
two nodes' relays, and both nodes deliver some of them. A node queues again only what a
node whose session is gone left "sending" (at its start, and at any claim), never what a live
node has in flight."""
import collections
import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from ntest import Daemon, check, cpu_seconds, eq, poll, run_all, skip, test  # noqa: E402,E501
import pgcluster  # noqa: E402
from smtp_server import SmtpServer  # noqa: E402

N = 300
CUSTOMERS = 10
# One secret for the nodes: signed links and address hashes must agree across them.
SECRET = "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"
TEMPLATES = {"receipt.subject.mustache": "Receipt {{data.order}}",
             "receipt.text.mustache": "Hello {{customer.name}}, order {{data.order}}.\n"}


def node(url, sink):
    """A daemon on the shared database URL, delivering through its own relay SINK."""
    d = Daemon({"store": url, "secret": SECRET, "transactional_rate": 1000000,
                "channels": {"mail": {"plugin": "smtp", "host": "127.0.0.1", "port": sink.port,
                                      "starttls": "none"}}})
    d.write_templates(TEMPLATES)
    return d


RETRIES = collections.Counter()


def post(d, path, body):
    """POST BODY; a 503 ("nothing was changed, retry later": the store rolled the group back,
    e.g. a deadlock between the nodes' transactions) is retried, as the API asks clients to."""
    for _ in range(20):
        r = d.request("POST", path, body=body)
        if r.status != 503:
            return r
        RETRIES[path] += 1
    return r


def bare(message_id):
    return message_id.strip().strip("<>")


@test
def two_nodes_deliver_each_message_exactly_once():
    if not pgcluster.available():
        skip("PostgreSQL's server is not installed")
    url = pgcluster.shared().create_database()
    # A short pause at DATA keeps messages in flight, so that claims overlap with deliveries.
    sinks = [SmtpServer(behaviour={"delay_data": 0.002}).start() for _ in range(2)]
    nodes = [node(url, s) for s in sinks]
    try:
        # Both nodes are up before anything is queued.
        for d in nodes:
            d.start()
        for i in range(CUSTOMERS):
            r = post(nodes[i % 2], "/v1/customers", {
                "id": f"c{i}", "email": f"c{i}@example.org", "name": f"C{i}"})
            eq(r.status, 200, f"customer c{i}: {r.raw}")
        # Each POST wakes its node's delivery, which claims whatever is due in the shared
        # queue, the other node's messages included: the claims race.
        for i in range(N):
            r = post(nodes[i % 2], "/v1/messages", {
                "customer": f"c{i % CUSTOMERS}", "template": "receipt", "data": {"order": i}})
            eq(r.status, 202, f"message {i}: {r.raw}")
        sent = poll(lambda: (lambda n: n if n == N else None)(
            int(nodes[0].sql("SELECT count(*) FROM outbox WHERE state = 'sent'")[0][0])),
            120, "every message sent")
        eq(sent, N, "sent")
        queued = {bare(r[0]) for r in nodes[1].sql("SELECT message_id FROM outbox")}
        eq(len(queued), N, "one outbox row per message")
        got = collections.Counter()
        per_node = []
        for s in sinks:
            with s.lock:
                per_node.append(sum(s.by_message_id.values()))
                for mid, n in s.by_message_id.items():
                    got[bare(mid)] += n
        eq(set(got), queued, "every message arrived")
        eq({m: n for m, n in got.items() if n > 1}, {}, "no message arrived twice")
        check(all(n > 0 for n in per_node), "both nodes delivered", per_node)
        attempts = nodes[0].sql("SELECT max(attempts) FROM outbox")[0][0]
        eq(attempts, "1", "each message claimed once")
        print(f"# delivered by node: {per_node}; 503s retried: {dict(RETRIES)}", flush=True)
    finally:
        for d in nodes:
            try:
                d.stop()
            finally:
                d.cleanup()
        for s in sinks:
            s.stop()


def states(d, ids):
    """{message_id: (state, attempts)} of the outbox rows IDS."""
    return {bare(m): (st, int(n)) for m, st, n in d.sql(
        "SELECT message_id, state, attempts FROM outbox") if bare(m) in ids}


def add_customers(d):
    """The customers c0 to c9, through D."""
    for i in range(CUSTOMERS):
        eq(post(d, "/v1/customers", {
            "id": f"c{i}", "email": f"c{i}@example.org", "name": f"C{i}"}).status, 200)


def queue(d, n, first):
    """N messages queued through D: their Message-IDs."""
    ids = set()
    for i in range(first, first + n):
        r = post(d, "/v1/messages", {
            "customer": f"c{i % CUSTOMERS}", "template": "receipt", "data": {"order": i}})
        eq(r.status, 202, f"message {i}: {r.raw}")
        ids.add(bare(r.json["message_id"]))
    return ids


@test
def a_dead_nodes_messages_in_flight_are_taken_over_a_live_ones_are_not():
    if not pgcluster.available():
        skip("PostgreSQL's server is not installed")
    url = pgcluster.shared().create_database()
    # Node A's relay holds each message 4 s at DATA: A's messages stay "sending" meanwhile.
    slow, fast = SmtpServer(behaviour={"delay_data": 4}).start(), SmtpServer().start()
    a, b = node(url, slow), node(url, fast)
    try:
        a.start()
        add_customers(a)
        live = queue(a, 3, 0)
        poll(lambda: {s for s, _ in states(a, live).values()} == {"sending"}, 20,
             "A's messages in flight")
        b.start()
        eq({s for s, _ in states(b, live).values()}, {"sending"},
           "B's start left A's messages in flight to A")
        poll(lambda: {s for s, _ in states(a, live).values()} == {"sent"}, 60, "A sent them")
        eq({m: n for m, (_, n) in states(a, live).items()}, {m: 1 for m in live},
           "each claimed once")
        with fast.lock:
            eq(sum(fast.by_message_id[f"<{m}>"] + fast.by_message_id[m] for m in live), 0,
               "none went through B")
        # A dies with messages in flight: B's next claim takes them over, without a restart.
        dead = queue(a, 3, 100)
        poll(lambda: {s for s, _ in states(a, dead).values()} == {"sending"}, 20,
             "A's second messages in flight")
        a.kill9()
        woken = queue(b, 1, 200)  # wakes B's delivery
        poll(lambda: {s for s, _ in states(b, dead | woken).values()} == {"sent"}, 60,
             "B sent what A left in flight")
        with fast.lock:
            got = {bare(m) for m in fast.by_message_id}
        check(dead <= got, "through B's relay", dead, got)
        eq({m: n for m, (_, n) in states(b, dead).items()}, {m: 2 for m in dead},
           "claimed by A, then once more by B")
    finally:
        for d in (a, b):
            try:
                d.stop()
            finally:
                d.cleanup()
        slow.stop()
        fast.stop()


@test
def outcomes_met_by_a_server_down_wait_for_it_without_a_busy_loop():
    """Outcomes that come back while the server is down are written once it is back. Their
    write-back is tried again a second later: it was tried again at once, in a loop that took a
    core and wrote 100,000 log lines a second (deliver.c, DELIVER_FLUSH_RETRY_US)."""
    if not pgcluster.available():
        skip("PostgreSQL's server is not installed")
    pg = pgcluster.PgCluster().start()  # its own: this test stops the server
    url = pg.create_database()
    db = url.rsplit("/", 1)[1]
    slow = SmtpServer(behaviour={"delay_data": 2}).start()  # in flight while the server stops
    d = node(url, slow)
    try:
        d.start()
        add_customers(d)
        ids = queue(d, 3, 0)

        def state_of():
            return {bare(m): st for m, st in pg.psql(
                "SELECT message_id, state FROM outbox", db=db) if bare(m) in ids}
        poll(lambda: set(state_of().values()) == {"sending"}, 20, "the messages in flight")
        pg.stop("immediate")
        poll(lambda: "cannot record" in d.read_log(), 20, "the relay answered; no store")
        # A rate over a window: measured, not polled.
        before = cpu_seconds(d.proc.pid)
        time.sleep(1.0)
        used = cpu_seconds(d.proc.pid) - before
        check(used < 0.3, f"the node idles while the server is down ({used:.2f} s of CPU in 1 s)")
        tries = d.read_log().count("cannot record")
        check(tries < 10, f"the write-back is tried about once a second ({tries} tries)")
        pg.start()
        poll(lambda: set(state_of().values()) == {"sent"}, 60, "written once the server is back")
        with slow.lock:
            eq(sum(slow.by_message_id[f"<{m}>"] + slow.by_message_id[m] for m in ids), 3,
               "each sent once")
    finally:
        try:
            d.stop()
        finally:
            d.cleanup()
        slow.stop()
        pg.cleanup()


@test
def delivery_goes_on_while_the_engine_waits_on_the_database():
    """Delivery's claims and outcomes have a connection of their own: while the engine's
    transaction waits on a lock (another session holds the timers table), messages already
    queued are still sent and recorded sent. On the engine's connection, their outcomes would
    wait behind it."""
    if not pgcluster.available():
        skip("PostgreSQL's server is not installed")
    pg = pgcluster.shared()
    url = pg.create_database()
    n = 200
    sink = SmtpServer(behaviour={"delay_data": 0.02}).start()
    d = node(url, sink)
    holder = None
    try:
        d.start()
        eq(post(d, "/v1/customers", {"id": "c0", "email": "c0@example.org",
                                     "name": "C0"}).status, 200)
        for i in range(n):
            eq(post(d, "/v1/messages", {"customer": "c0", "template": "receipt",
                                        "data": {"order": i}}).status, 202, f"message {i}")
        holder = pgcluster.LockHolder(url, "LOCK TABLE timers IN ACCESS EXCLUSIVE MODE")
        db = url.rsplit("/", 1)[1]

        def sent():
            return int(pg.psql("SELECT count(*) FROM outbox WHERE state = 'sent'", db=db)[0][0])

        # The engine looks at its timers at least every 200 ms: its pass waits on the lock.
        poll(lambda: pg.lock_waiters(db) > 0, 20, "the engine waits on the lock")
        before = sent()
        check(before < n, "messages still to send while the engine waits", before)
        poll(lambda: sent() == n, 60, "every message sent while the engine waits")
        check(pg.lock_waiters(db) > 0, "the engine still waits")
        holder.release()
        holder = None
        eq(post(d, "/v1/customers", {"id": "c1", "email": "c1@example.org"}).status, 200,
           "the store thread goes on once the lock is gone")
    finally:
        if holder is not None:
            holder.kill()
        d.stop()
        d.cleanup()
        sink.stop()


if __name__ == "__main__":
    run_all()
