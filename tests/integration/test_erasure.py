#!/usr/bin/python3
"""DELETE /v1/customers/{id} erases every copy of personal data: the profile, event
properties and keys, journey triggers and keys, note details, outbox recipients, replies and
payloads (waiting messages cancelled), the address in clear on the suppression list. Then the
database file, its WAL and its shared memory are searched byte by byte for the address, the
name and the order number: nothing. On PostgreSQL, whose files the test cannot read, every text
and bytea column of every table is searched instead."""
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from ntest import Daemon, check, eq, free_port, poll, run_all, test  # noqa: E402

ADDR = "zebulon.erase-7f3a@example.test"
NAME = "Zebulon Quixotic"
ORDER = "ORD-5550123"
NEEDLES = [ADDR.encode(), NAME.encode(), ORDER.encode()]

D = Daemon({"user": "root", "channels": {
    "mail": {"plugin": "maildir", "path": "/dev/null/x"},
    # Nothing listens there: its messages stay deferred, waiting for a retry.
    "held": {"plugin": "smtp", "host": "127.0.0.1", "port": free_port(), "starttls": "none"}}})
D.config["channels"]["mail"]["path"] = os.path.join(D.tmp, "maildir")
D.write_config()
D.write_send_campaign("thanks", "purchase", "t", key="event.properties.order")
D.write_campaign({"id": "later", "name": "later", "status": "active", "topic": "orders",
                  "trigger": {"event": "purchase"},
                  "steps": [{"id": "send", "send": {"channel": "held", "template": "t"}}]})
D.write_templates({"t.subject.mustache": "Thanks {{customer.name}} for {{event.properties.order}}",
                   "t.text.mustache": "Dear {{customer.name}} <{{customer.email}}>,\n"
                                      "your order {{event.properties.order}} ships today.\n",
                   # a tracked link whose target names the order: kept in the links table
                   "t.html.mustache": "<p><a href=\"https://shop.example/orders/"
                                      "{{event.properties.order}}\">Your order</a></p>"})
D.start()


def db_files():
    base = D.db_path()
    return [p for p in (base, base + "-wal", base + "-shm") if os.path.exists(p)]


def found_pg():
    """Which needles are in which columns of PostgreSQL's tables (any case; bytea as text)."""
    cols = D.sql("SELECT table_name, column_name, data_type FROM information_schema.columns"
                 " WHERE table_schema = 'public' AND data_type IN ('text', 'bytea')"
                 " ORDER BY 1, 2")
    parts = []
    for table, col, kind in cols:
        expr = f"encode({col}, 'escape')" if kind == "bytea" else col
        for n in NEEDLES:
            parts.append(f"SELECT '{table}.{col}', '{n.decode()}' FROM {table}"
                         f" WHERE lower({expr}) LIKE '%{n.decode().lower()}%'")
    return sorted({(t, n) for t, n in D.sql(" UNION ALL ".join(parts))})


def found():
    """Which needles are in which of the database's files."""
    if D.on_postgresql():
        return found_pg()
    hits = []
    for p in db_files():
        with open(p, "rb") as f:
            data = f.read()
        hits += [(os.path.basename(p), n.decode()) for n in NEEDLES
                 if n in data or n.lower() in data]
    return hits


def messages():
    r = D.request("GET", "/v1/messages?customer=zq")
    eq(r.status, 200, "messages")
    return r.json["messages"]


@test
def erasure_leaves_no_personal_data_in_any_file():
    eq(D.request("POST", "/v1/customers", body={
        "id": "zq", "email": ADDR, "name": NAME, "attributes": {"last_order": ORDER},
        "consent": {"orders": "subscribed"}}).status, 200, "customer")
    r = D.post_events({"id": "evt-zq-1", "customer": "zq", "type": "purchase",
                       "properties": {"order": ORDER, "total": 19.99}})
    eq(r.status, 202, f"event: {r.raw}")
    poll(lambda: {m["state"] for m in messages()} >= {"sent", "deferred"}, 20,
         "one message sent, one deferred")
    eq(D.request("POST", "/v1/suppressions",
                 body={"address": ADDR, "reason": "hard_bounce"}).status, 200, "suppressed")
    check(found(), "before the erasure the files hold the data (the search can fail)")

    r = D.request("DELETE", "/v1/customers/zq")
    eq(r.status, 200, f"erase: {r.raw}")
    ms = messages()
    eq({m.get("recipient") for m in ms}, {None}, "no recipient in the listing")
    held = [m for m in ms if m["channel"] == "held"]
    eq([(m["state"], m.get("reason")) for m in held], [("skipped", "erased")],
       "the waiting message is cancelled")
    eq(D.request("GET", "/v1/customers/zq").status, 410, "gone")
    poll(lambda: not found(), 10, "no trace in the database, WAL or shm")
    eq(found(), [], "nothing found")

    trig = [r[0] for r in D.sql("SELECT trigger FROM journeys")]
    check(trig and all("properties" not in t for t in trig), "triggers stripped", trig)
    eq(D.sql("SELECT count(*) FROM outbox_payload"), [["0"]], "no payloads")
    eq(D.sql("SELECT count(*) FROM suppressions WHERE address IS NOT NULL"), [["0"]],
       "no address in clear on the suppression list")
    # Still suppressed by its hash: a new profile with the address is not mailed.
    r = D.request("GET", "/v1/suppressions")
    eq([e["reason"] for e in r.json["suppressions"]], ["hard_bounce"], "hash kept")


if __name__ == "__main__":
    try:
        run_all()
    finally:
        D.stop()
        D.cleanup()
