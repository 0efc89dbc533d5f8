#!/usr/bin/python3
"""GET /v1/customers (filters, a cursor that pages through every customer exactly once while
customers are added), GET /v1/customers/{id}/export (everything held: every event, journeys
with their notes, messages with their payloads), and nurturectl customers / export."""
import datetime
import json
import os
import subprocess
import sys
import threading
import time
import urllib.parse

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from ntest import TOKEN, Daemon, check, eq, poll, run_all, test  # noqa: E402

CTL = os.path.join(os.environ.get("NT_BUILDDIR") or
                   os.path.join(os.path.dirname(__file__), "..", ".."), "nurturectl")
D = Daemon({"user": "root", "channels": {"mail": {"plugin": "maildir", "path": "/dev/null/x"}}})
D.config["channels"]["mail"]["path"] = os.path.join(D.tmp, "maildir")
D.write_config()
D.write_send_campaign("thanks", "purchase", "t", reentry="always")
D.write_templates({"t.subject.mustache": "Thanks {{customer.name}}",
                   "t.text.mustache": "Dear {{customer.name}}, order {{event.properties.order}}\n"})
D.start()


def upsert(body):
    r = D.request("POST", "/v1/customers", body=body)
    eq(r.status, 200, f"upsert {body}: {r.raw}")


def page(query):
    r = D.request("GET", "/v1/customers?" + query)
    eq(r.status, 200, f"GET /v1/customers?{query}: {r.raw}")
    return r.json


def all_ids(query=""):
    ids, after = [], None
    while True:
        q = query + ("&" if query else "") + "limit=50" + (f"&after={after}" if after else "")
        doc = page(q)
        ids += [c["id"] for c in doc["customers"]]
        after = doc.get("next")
        if not after:
            return ids


def ctl(*args):
    env = {k: v for k, v in os.environ.items() if not k.startswith("NURTURED_")}
    env["HOME"] = D.tmp
    return subprocess.run([CTL, "--url", f"http://127.0.0.1:{D.port}", "--token", TOKEN, *args],
                          capture_output=True, text=True, timeout=120, env=env)


@test
def listing_pages_through_everyone_once_while_customers_are_added():
    for i in range(300):
        upsert({"id": f"p{i:04d}", "email": f"p{i}@example.test"})
    before = {f"p{i:04d}" for i in range(300)}
    added, stop = [], threading.Event()

    def add():
        n = 0
        while not stop.is_set() and n < 400:
            cid = f"q{n:04d}"
            upsert({"id": cid})
            upsert({"id": f"p{n % 300:04d}", "name": f"renamed {n}"})  # updates move nothing
            added.append(cid)
            n += 1

    t = threading.Thread(target=add)
    t.start()
    seen, after = [], None
    try:
        while True:
            doc = page("limit=7" + (f"&after={after}" if after else ""))
            seen += [c["id"] for c in doc["customers"]]
            after = doc.get("next")
            if not after:
                break
    finally:
        stop.set()
        t.join()
    eq(len(seen), len(set(seen)), "nobody twice")
    check(before <= set(seen), "everyone there at the start is seen",
          sorted(before - set(seen))[:10])
    check(any(c.startswith("q") for c in seen), "customers added meanwhile show up too")


@test
def filters_select_by_email_stage_consent_attributes_and_time():
    upsert({"id": "f-ana", "email": "ana@example.test", "attributes": {"plan": "gold", "seats": 5},
            "consent": {"news": "subscribed"}})
    upsert({"id": "f-bo", "email": "bo@example.test", "attributes": {"plan": "free", "seats": 1},
            "consent": {"news": "unsubscribed"}})
    upsert({"id": "f-cy", "email": "cy@example.test", "attributes": {"plan": "gold", "seats": 1},
            "consent": {"news": "pending", "offers": "subscribed"}})
    eq(all_ids("email=" + urllib.parse.quote("bo@example.test")), ["f-bo"], "email")
    eq(all_ids("consent=news:subscribed"), ["f-ana"], "consent topic and state")
    eq(sorted(all_ids("consent=news")), ["f-ana", "f-bo", "f-cy"], "consent topic, any state")
    eq(all_ids("attr.plan=gold&attr.seats=1"), ["f-cy"], "two attributes, one a number")
    eq(all_ids("attr.plan=gold&consent=offers:subscribed"), ["f-cy"], "attribute and consent")
    check("f-ana" in all_ids("stage=prospect"), "stage")
    eq(all_ids("stage=loyal"), [], "no loyal customers")
    doc = page("email=" + urllib.parse.quote("ana@example.test"))
    c = doc["customers"][0]
    eq((c["consent"], c["attributes"]), ({"news": "subscribed"}, {"plan": "gold", "seats": 5}),
       "a row carries consent and attributes")
    mark = c["updated"]
    upsert({"id": "f-bo", "name": "Bo"})
    check("f-bo" in all_ids("updated_since=" + urllib.parse.quote(mark)), "updated since")
    check("p0001" not in all_ids("created_since=" + urllib.parse.quote(mark)), "created since")
    for q, field in (("colour=red", "colour"), ("consent=news:maybe", "consent"),
                     ("limit=0", "limit"), ("after=x", "after"),
                     ("created_since=yesterday", "created_since")):
        r = D.request("GET", "/v1/customers?" + q)
        eq((r.status, r.json.get("field")), (400, field), f"bad query {q}")


def listing_plans_on_postgresql():
    """The shapes store_pg_customers_list.c builds, planned by PostgreSQL with sequential
    scans discouraged: an index must be able to drive each (the tables are too small here
    for the planner to prefer one on its own)."""
    base = "SELECT c.id FROM customers c WHERE c.id > 0::bigint AND c.erased_ms IS NULL"
    cases = {
        base + " ORDER BY c.id LIMIT 10": "customers_pkey",
        base + " AND c.email = 'x' ORDER BY c.id LIMIT 10": "customers_email",
        base + " AND c.stage = 'y' ORDER BY c.id LIMIT 10": "customers_stage",
        "SELECT c.id FROM consent k JOIN customers c ON c.id = k.customer_id"
        " WHERE k.topic = 'x' AND k.state = 'y' AND k.customer_id > 0::bigint"
        " AND c.erased_ms IS NULL ORDER BY k.customer_id LIMIT 10": "consent_",
    }
    for sql, index in cases.items():
        plan = " | ".join(r[0] for r in D.sql("SET enable_seqscan = off; EXPLAIN " + sql))
        check(index in plan and "Seq Scan" not in plan, f"{index} drives it", plan)


@test
def the_listing_s_statements_use_indexes():
    """The shapes store_sqlite_customers.c builds, planned by SQLite on the daemon's schema."""
    if D.on_postgresql():
        listing_plans_on_postgresql()
        return
    import sqlite3
    db = sqlite3.connect(D.db_path())
    base = ("SELECT c.id FROM customers c WHERE ?1 IS NULL AND ?2 IS NULL AND c.id > ?3"
            " AND c.erased_ms IS NULL")
    cases = {
        base + " ORDER BY c.id LIMIT 10": "INTEGER PRIMARY KEY",
        base + " AND c.email = ?4 ORDER BY c.id LIMIT 10": "customers_email",
        base + " AND c.stage = ?5 ORDER BY c.id LIMIT 10": "customers_stage",
        "SELECT c.id FROM consent k JOIN customers c ON c.id = k.customer_id WHERE k.topic = ?1"
        " AND (?2 IS NULL OR k.state = ?2) AND k.customer_id > ?3 AND c.erased_ms IS NULL"
        " ORDER BY k.customer_id LIMIT 10": "consent_topic",
    }
    try:
        for sql, index in cases.items():
            n = max(int(x) for x in __import__("re").findall(r"\?(\d)", sql))
            plan = " | ".join(r[3] for r in db.execute("EXPLAIN QUERY PLAN " + sql,
                                                       (None, None, 0, "x", "y")[:n]))
            check(index in plan and "SCAN c" not in plan, f"{index} drives it", plan)
    finally:
        db.close()


@test
def a_batch_naming_a_customer_twice_applies_its_items_in_order():
    """A batch is the upserts one after another: each item sees the ones before it (the
    PostgreSQL backend reads and writes a batch at once, merging its items in order)."""
    upsert({"id": "tw-old", "email": "old@example.test", "attributes": {"k": 1},
            "consent": {"news": "subscribed"}})
    # An upsert in the millisecond that created the customer counts as a change: the batch
    # comes in a later one (on a fast machine both requests fit in one millisecond).
    created = D.request("GET", "/v1/customers/tw-old").json["created"]
    created_s = datetime.datetime.fromisoformat(created.replace("Z", "+00:00")).timestamp()
    poll(lambda: time.time() > created_s + 0.002, 5, "a later millisecond")
    r = D.request("POST", "/v1/customers", body={"customers": [
        {"id": "tw-new", "name": "First", "attributes": {"a": 1},
         "consent": {"news": "subscribed"}},
        {"id": "tw-old", "attributes": {"k": 1}},
        {"id": "tw-new", "name": "Second", "attributes": {"b": 2, "a": None},
         "consent": {"news": "unsubscribed"}},
        {"id": "tw-old", "consent": {"news": "unsubscribed"},
         "consent_time": "2020-01-02T03:04:05Z"},
        {"id": "tw-old", "consent": {"news": "unsubscribed"}},
        {"id": "tw-old", "attributes": {"k": 2}},
        {"id": "tw-old", "attributes": {"k": 2}}]})
    eq(r.status, 200, r.raw)
    eq((r.json["upserted"], r.json["unchanged"], r.json["rejected"]), (4, 3, []),
       "new twice, a consent and an attribute changed; three items changed nothing")
    new = D.request("GET", "/v1/customers/tw-new").json
    eq((new["name"], new["attributes"], new["consent"]),
       ("Second", {"b": 2}, {"news": "unsubscribed"}), "the later item over the earlier")
    old = D.request("GET", "/v1/customers/tw-old").json
    eq((old["email"], old["attributes"], old["consent"]),
       ("old@example.test", {"k": 2}, {"news": "unsubscribed"}), "the stored customer")
    eq(old["consent_log"]["news"]["updated"], "2020-01-02T03:04:05.000Z",
       "the consent's time is the item that changed it, not the one that repeated it")


@test
def export_holds_everything():
    upsert({"id": "x-eve", "email": "eve@example.test", "name": "Eve Export",
            "consent": {"orders": "subscribed"}})
    events = [{"id": f"e{i}", "customer": "x-eve", "type": "purchase" if i < 2 else "view",
               "properties": {"order": f"O-{i}", "price": 19.99}} for i in range(30)]
    eq(D.post_events({"events": events}).status, 202, "events")
    poll(lambda: len([m for m in D.request("GET", "/v1/messages?customer=x-eve").json["messages"]
                      if m["state"] == "sent"]) == 2, 20, "two messages sent")
    r = D.request("GET", "/v1/customers/x-eve/export")
    eq(r.status, 200, f"export: {r.raw[:300]}")
    x = r.json
    eq(x["customer"]["name"], "Eve Export", "profile")
    eq(x["customer"]["consent_log"]["orders"]["state"], "subscribed", "consent log")
    eq(sorted(e["id"] for e in x["events"]), sorted(f"e{i}" for i in range(30)), "every event")
    check('"price":19.99' in r.raw, "numbers as posted", r.raw[:500])
    eq(len(x["journeys"]), 2, "every journey")
    check(all(j["notes"] and j["trigger"]["properties"]["order"] for j in x["journeys"]),
          "journeys with their notes and triggers", x["journeys"])
    eq(len(x["messages"]), 2, "every message")
    check(all("Eve Export" in m["payload"] for m in x["messages"]), "payloads", x["messages"])
    eq(D.request("GET", "/v1/customers/nobody/export").status, 404, "unknown")
    eq(D.request("DELETE", "/v1/customers/x-eve").status, 200, "erase")
    eq(D.request("GET", "/v1/customers/x-eve/export").status, 410, "erased")
    check("x-eve" not in all_ids(), "erased customers are not listed")


@test
def nurturectl_customers_and_export():
    out = ctl("customers", "consent=news:subscribed")
    eq(out.returncode, 0, f"customers: {out.stderr}")
    check("f-ana" in out.stdout and "news=subscribed" in out.stdout and "f-bo" not in out.stdout,
          "the table", out.stdout)
    out = ctl("customers", "colour=red")
    eq(out.returncode, 1, "a bad filter is the API's 400")
    out = ctl("export")
    eq(out.returncode, 0, f"export: {out.stderr}")
    lines = [json.loads(line) for line in out.stdout.splitlines()]
    ids = [x["customer"]["id"] for x in lines]
    eq(sorted(ids), sorted(all_ids()), "every customer once, one JSON line each")
    check(all("events" in x and "messages" in x for x in lines), "whole exports")


if __name__ == "__main__":
    try:
        run_all()
    finally:
        D.stop()
        D.cleanup()
