#!/usr/bin/python3
"""The HTTP API against a real daemon: auth, routing, validation, idempotency, customers."""
import os
import sys
import threading

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from ntest import Daemon, TOKEN, check, eq, run_all, test  # noqa: E402

D = Daemon({"max_batch": 50, "max_body_bytes": 65536}).start()


def events_of(cid):
    r = D.request("GET", "/v1/customers/" + cid)
    eq(r.status, 200, "GET customer")
    return r.json["events"]


def count_rows(sql):
    """A count read from the store directly, on either backend."""
    return int(D.sql(sql)[0][0])


def metric(name):
    text = D.request("GET", "/metrics", auth=False).raw
    for line in text.splitlines():
        if line.startswith(name + " "):
            return float(line.split()[1])
    raise AssertionError(f"metric {name} missing")


@test
def health_and_ready_need_no_token():
    eq(D.request("GET", "/healthz", auth=False).json, {"status": "ok"}, "healthz")
    r = D.request("GET", "/readyz", auth=False)
    eq((r.status, r.json), (200, {"status": "ready"}), "readyz")


@test
def missing_or_wrong_token_is_401_and_changes_nothing():
    ev = {"id": "a1", "customer": "auth-c", "type": "purchase"}
    r = D.post_events(ev, auth=False)
    eq(r.status, 401, "no token")
    check("Bearer" in r.headers.get("WWW-Authenticate", ""), "WWW-Authenticate header", r.headers)
    eq(D.post_events(ev, token=TOKEN + "x").status, 401, "wrong token")
    eq(D.post_events(ev, token=TOKEN[:-1]).status, 401, "prefix of the token")
    eq(D.request("GET", "/v1/customers/auth-c").status, 404, "nothing stored")
    eq(D.post_events(ev).status, 202, "right token")


@test
def unknown_path_is_404_and_wrong_method_405():
    eq(D.request("GET", "/v2/nothing").status, 404, "unknown path")
    eq(D.request("GET", "/v1/customers/a/b").status, 404, "extra segment")
    r = D.request("GET", "/v1/events")
    eq(r.status, 405, "GET on events")
    eq(r.headers.get("Allow"), "POST", "Allow header")
    eq(D.request("PUT", "/v1/customers/x", body={}).status, 405, "PUT on a customer")


@test
def malformed_json_is_400_with_position():
    r = D.request("POST", "/v1/events", raw='{"customer": "c", "type": }')
    eq(r.status, 400, "status")
    check("line 1, column" in r.json["error"], "position in the error", r)
    eq(D.request("POST", "/v1/events", raw="").status, 400, "empty body")


@test
def wrong_field_is_400_naming_it():
    cases = [
        ({"customer": "c", "type": "Purchase"}, "type"),
        ({"type": "purchase"}, "customer"),
        ({"customer": "c", "type": "purchase", "time": "2024-01-01"}, "time"),
        ({"customer": "c", "type": "purchase", "properties": [1]}, "properties"),
        ({"customer": "c", "type": "purchase", "colour": "red"}, "colour"),
        ({"customer": "c", "type": "purchase", "profile": {"email": "no-at"}}, "profile.email"),
        ({"customer": "c", "type": "purchase", "profile": {"timezone": "Mars/Base"}},
         "profile.timezone"),
    ]
    for body, field in cases:
        r = D.post_events(body)
        eq(r.status, 400, f"status for {body}")
        eq(r.json.get("field"), field, f"field for {body}")
        check(field in r.json["error"], "the message names the field", r)
        check("index" not in r.json, "no index for a single event", r)
    eq(D.request("GET", "/v1/customers/c").status, 404, "nothing stored")


@test
def batch_is_all_or_nothing_and_names_the_item():
    batch = {"events": [{"id": f"b{i}", "customer": "batch-c", "type": "purchase"}
                        for i in range(5)]}
    batch["events"][3]["time"] = "not a time"
    r = D.post_events(batch)
    eq(r.status, 400, "status")
    eq((r.json["field"], r.json["index"]), ("time", 3), "field and index")
    eq(D.request("GET", "/v1/customers/batch-c").status, 404, "nothing of the batch stored")
    del batch["events"][3]["time"]
    r = D.post_events(batch)
    eq(r.status, 202, "the corrected batch")
    eq(r.json["accepted"], 5, "accepted")
    eq(len(events_of("batch-c")), 5, "stored")


@test
def conflict_in_a_batch_rolls_back_the_whole_batch():
    eq(D.post_events({"id": "k1", "customer": "cf", "type": "purchase"}).status, 202, "first")
    batch = {"events": [{"id": "k2", "customer": "cf", "type": "purchase"},
                        {"id": "k1", "customer": "cf", "type": "refund"}]}
    r = D.post_events(batch)
    eq(r.status, 409, "status")
    eq(r.json.get("index"), 1, "index of the conflicting event")
    eq([e["id"] for e in events_of("cf")], ["k1"], "k2 was not kept")


@test
def body_over_limit_is_413_and_batch_over_limit_too():
    big = {"customer": "big", "type": "purchase", "properties": {"x": "y" * 70000}}
    eq(D.post_events(big).status, 413, "body over max_body_bytes")
    many = {"events": [{"customer": "many", "type": "t"} for _ in range(51)]}
    eq(D.post_events(many).status, 413, "batch over max_batch")
    eq(D.request("GET", "/v1/customers/big").status, 404, "nothing stored")
    eq(D.request("GET", "/v1/customers/many").status, 404, "nothing stored")


@test
def duplicate_is_answered_once_stored_once():
    ev = {"id": "dup-1", "customer": "dup-c", "type": "purchase", "properties": {"total": 3}}
    r1 = D.post_events(ev)
    r2 = D.post_events(dict(reversed(list(ev.items()))))  # same content, other key order
    eq((r1.status, r1.json["duplicate"]), (202, False), "first")
    eq((r2.status, r2.json["duplicate"]), (202, True), "second")
    eq(r2.json["id"], "dup-1", "id echoed")
    eq(len(events_of("dup-c")), 1, "stored once")
    r3 = D.post_events({"events": [ev, ev]})
    eq([e["duplicate"] for e in r3.json["events"]], [True, True], "duplicates in a batch")


@test
def same_id_other_content_is_409():
    ev = {"id": "c-1", "customer": "conf-c", "type": "purchase", "properties": {"total": 3}}
    eq(D.post_events(ev).status, 202, "first")
    ev["properties"]["total"] = 4
    r = D.post_events(ev)
    eq(r.status, 409, "status")
    eq(r.json.get("field"), "id", "field")
    eq(events_of("conf-c")[0]["properties"], {"total": 3}, "the first one is kept")


@test
def idempotency_keys_are_scoped_to_the_customer():
    for c in ("scope-a", "scope-b"):
        r = D.post_events({"id": "same", "customer": c, "type": "signup"})
        eq((r.status, r.json["duplicate"]), (202, False), c)


@test
def generated_ids_and_event_time():
    r = D.post_events({"customer": "gen", "type": "signup",
                       "time": "2025-03-30T02:30:00+02:00"})
    eq(r.status, 202, "status")
    check(len(r.json["id"]) == 36, "a UUID was generated", r)
    eq(events_of("gen")[0]["time"], "2025-03-30T00:30:00.000Z", "time normalized to UTC")


@test
def customer_upsert_merges_attributes_and_consent():
    r = D.request("POST", "/v1/customers", body={
        "id": "cu1", "email": "jurgen@example.com", "name": "Jürgen Müller", "locale": "de-DE",
        "timezone": "Europe/Berlin", "birthday": "1980-02-29",
        "attributes": {"plan": "pro", "seats": 3}, "consent": {"newsletter": "subscribed"}})
    eq(r.status, 200, "create")
    r = D.request("POST", "/v1/customers", body={
        "id": "cu1", "name": None, "attributes": {"seats": None, "city": "Köln"},
        "consent": {"offers": "pending"}})
    eq(r.status, 200, "update")
    c = D.request("GET", "/v1/customers/cu1").json
    eq(c["email"], "jurgen@example.com", "email kept")
    eq(c["name"], None, "name cleared by null")
    eq(c["attributes"], {"plan": "pro", "city": "Köln"}, "attributes merged")
    eq(c["consent"], {"newsletter": "subscribed", "offers": "pending"}, "consent merged")
    eq(c["timezone"], "Europe/Berlin", "timezone")
    r = D.request("POST", "/v1/customers", body={"id": "cu1", "birthday": "1981-02-29"})
    eq((r.status, r.json["field"]), (400, "birthday"), "invalid date refused")
    r = D.request("POST", "/v1/customers", body={"email": "x@example.com"})
    eq((r.status, r.json["field"]), (400, "id"), "id required")


@test
def event_profile_upserts_in_the_same_request():
    r = D.post_events({"customer": "prof", "type": "signup",
                       "profile": {"email": "p@example.com", "locale": "en"}})
    eq(r.status, 202, "status")
    c = D.request("GET", "/v1/customers/prof").json
    eq((c["email"], c["locale"]), ("p@example.com", "en"), "profile applied")
    eq(D.request("GET", "/v1/customers/nobody").status, 404, "unknown customer")


@test
def customer_ids_are_url_decoded():
    eq(D.post_events({"customer": "a b+ü", "type": "signup"}).status, 202, "post")
    eq(D.request("GET", "/v1/customers/a%20b%2B%C3%BC").json["id"], "a b+ü", "decoded")


@test
def delete_erases_personal_data_and_keeps_a_tombstone():
    D.request("POST", "/v1/customers", body={"id": "gone", "email": "Gone@Example.com",
                                             "name": "Gone", "consent": {"news": "subscribed"}})
    D.post_events({"id": "g1", "customer": "gone", "type": "purchase",
                   "properties": {"address": "Secret Street 1"}})
    r = D.request("DELETE", "/v1/customers/gone")
    eq((r.status, r.json.get("erased")), (200, True), "delete")
    eq(D.request("GET", "/v1/customers/gone").status, 410, "gone")
    eq(D.request("DELETE", "/v1/customers/gone").status, 410, "second delete")
    eq(D.request("DELETE", "/v1/customers/never").status, 404, "unknown")
    eq(count_rows("SELECT count(*) FROM customers WHERE ext_id='gone' AND email IS NULL "
                  "AND name IS NULL AND email_hash IS NOT NULL"), 1, "tombstone row")
    eq(count_rows("SELECT count(*) FROM events e JOIN customers c ON c.id = e.customer_id "
                  "WHERE c.ext_id='gone' AND properties='{}'"), 1, "event properties erased")
    eq(count_rows("SELECT count(*) FROM suppressions WHERE reason='erased' AND address IS NULL"),
       1, "hashed address suppressed")
    eq(count_rows("SELECT count(*) FROM consent c JOIN customers u ON u.id = c.customer_id "
                  "WHERE u.ext_id='gone'"), 0, "consent erased")
    r = D.post_events({"id": "g1", "customer": "gone", "type": "purchase",
                       "properties": {"address": "Secret Street 1"}})
    eq((r.status, r.json["duplicate"]), (202, True), "a retried erased event is not re-stored")


@test
def concurrent_requests_stored_together_keep_their_own_answers():
    """Issue 21: single-event requests that reach the store together are stored as one batch
    (one round trip on PostgreSQL; nurtured_store_jobs_together_total counts them). Each keeps
    its own answer: a duplicate of another request in the same go is a duplicate, and a
    conflict is the conflicting request's 409 alone (then they run one by one)."""
    eq(D.post_events({"id": "tg-x", "customer": "tg-0", "type": "signup"}).status, 202, "x")
    before = metric("nurtured_store_jobs_together_total")
    for burst in range(20):
        evs = [{"id": f"tg-{burst}-{i}", "customer": f"tg-{i % 7}", "type": "visit"}
               for i in range(30)]
        evs += [dict(evs[3]), dict(evs[4])]  # the same again: duplicates
        evs.append({"id": "tg-x", "customer": "tg-0", "type": "refund"})  # a conflict
        answers = [None] * len(evs)
        go = threading.Barrier(len(evs))

        def post(i):
            go.wait()
            r = D.post_events(evs[i])
            answers[i] = (r.status, r.json.get("duplicate") if r.json else None)
        threads = [threading.Thread(target=post, args=(i,)) for i in range(len(evs))]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        eq(answers[-1][0], 409, "the conflict refused")
        eq([a[0] for a in answers[:-1]], [202] * (len(evs) - 1), "the others stored")
        eq(sorted(a[1] for a in answers[:-1]), [False] * 30 + [True] * 2,
           "two duplicates, each answered once as one")
        eq(count_rows(f"SELECT count(*) FROM events WHERE event_key LIKE 'tg-{burst}-%'"), 30,
           "each stored once")
        if metric("nurtured_store_jobs_together_total") > before:
            break
    check(metric("nurtured_store_jobs_together_total") > before, "some were stored together")
    eq(count_rows("SELECT count(*) FROM events WHERE event_key = 'tg-x'"), 1,
       "the conflicting one not stored")


@test
def metrics_count_what_happened():
    before = metric("nurtured_events_accepted_total")
    dups = metric("nurtured_events_duplicate_total")
    rejected = metric("nurtured_events_rejected_total")
    D.post_events({"id": "m1", "customer": "met", "type": "t"})
    D.post_events({"id": "m1", "customer": "met", "type": "t"})
    D.post_events({"customer": "met", "type": "BAD"})
    eq(metric("nurtured_events_accepted_total"), before + 1, "accepted")
    eq(metric("nurtured_events_duplicate_total"), dups + 1, "duplicate")
    eq(metric("nurtured_events_rejected_total"), rejected + 1, "rejected")
    text = D.request("GET", "/metrics", auth=False).raw
    for name in ("nurtured_http_request_duration_seconds_bucket",
                 "nurtured_store_commit_duration_seconds_count", "nurtured_store_queue_depth"):
        check(name in text, f"{name} exported", text[:2000])


try:
    run_all()
finally:
    rc = D.stop()
    if rc != 0:
        print(f"# daemon exited with {rc}")
        print("# " + D.read_log().replace("\n", "\n# "))
    D.cleanup()
