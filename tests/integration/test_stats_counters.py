#!/usr/bin/python3
"""Campaign statistics are counters kept as things happen (issue 19): after sends, a failure
and its retry, a suppressed skip, capped skips, a bounce, exits, goals, a pause, retention
pruning and restarts, GET /v1/campaigns/{id}/stats equals a fresh count over the rows (the
scan the statistics used to run), plus what retention pruned; the journeys at each step now
equal the active journeys' steps."""
import datetime
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from inbound_mail import customer, dsn, messages, post_inbound, received_for, setup, teardown  # noqa: E402
from ntest import check, eq, poll, run_all, test  # noqa: E402

FLOW = {
    "id": "flow", "name": "Flow", "status": "active", "topic": "follow-ups",
    "trigger": {"event": "signup"}, "exit_on": ["cancel"], "on_cap": "skip", "reentry": "always",
    "goal": {"event": "purchase", "within": "14d"},
    "steps": [
        {"id": "welcome", "send": {"channel": "mail", "template": "t"}},
        {"id": "pause", "wait": "2s"},
        {"id": "tips", "send": {"channel": "mail", "template": "t"}},
    ],
}
PROMO = {
    "id": "promo", "name": "Promo", "status": "active", "topic": "offers",
    "trigger": {"event": "purchase"}, "on_cap": "skip", "reentry": "always",
    "steps": [{"id": "offer", "send": {"channel": "mail", "template": "t"}}],
}
CAMPAIGNS = ("flow", "promo")
FINAL = "('sent', 'failed', 'expired', 'skipped')"
NOTE_SKIPS = "('already_sent', 'stale', 'frequency_cap')"
RETENTION = {"events": "2s", "payloads": "2s", "messages": "2s", "notes": "2s",
             "journeys": "2s", "interval": "1s"}


def day(d):
    return datetime.datetime.fromtimestamp(d * 86400, datetime.timezone.utc).strftime(
        "%Y-%m-%d")


def bump(o, keys, n):
    for k in keys[:-1]:
        o = o.setdefault(k, {})
    o[keys[-1]] = o.get(keys[-1], 0) + n


def outcome(state):
    return "sent" if state == "sent" else "skipped" if state == "skipped" else "failed"


def rows(d, sql, cid=None):
    """Rows of SQL on either store (d.sql), ? the campaign id; numbers as ints."""
    if cid is not None:
        sql = sql.replace("?", "'" + cid.replace("'", "''") + "'")
    return [tuple(int(v) if v is not None and v.lstrip("-").isdigit() else v for v in row)
            for row in d.sql(sql)]


def counters(d):
    """The counters as the daemon reads them: on PostgreSQL (issue 21) the counter rows plus
    the deltas the triggers wrote since the last fold (the view stats_counts_all)."""
    return "stats_counts_all" if d.on_postgresql() else "stats_counts"


def recount(dmn, cid):
    """The figures counted over the rows, as the statistics did before counters."""
    q = lambda sql: rows(dmn, sql, cid)  # noqa: E731
    r = {"entered": q("SELECT count(*) FROM journeys WHERE campaign_id = ?")[0][0],
         "active": q("SELECT count(*) FROM journeys WHERE campaign_id = ? AND active = 1")
         [0][0],
         "conversions": q("SELECT count(DISTINCT journey_id) FROM journey_notes"
                          " WHERE campaign_id = ? AND action = 'goal'")[0][0],
         "sent_journeys": q("SELECT count(DISTINCT journey_id) FROM outbox"
                            " WHERE campaign_id = ? AND state = 'sent'")[0][0]}
    for reason, n in q("SELECT coalesce(exit_reason, 'unknown'), count(*) FROM journeys"
                       " WHERE campaign_id = ? AND active = 0 GROUP BY 1"):
        bump(r, ["exited", reason], n)
    for step, state, reason, n in q(
            "SELECT step_id, state, coalesce(reason, 'unknown'), count(*) FROM outbox"
            f" WHERE campaign_id = ? AND state IN {FINAL} GROUP BY 1, 2, 3"):
        bump(r, ["steps", step, outcome(state)], n)
        bump(r, ["skipped", reason] if state == "skipped" else [outcome(state)], n)
    for step, reason, n in q(
            "SELECT coalesce(step_id, ''), reason, count(*) FROM journey_notes"
            f" WHERE campaign_id = ? AND action = 'skip' AND reason IN {NOTE_SKIPS}"
            " GROUP BY 1, 2"):
        bump(r, ["skipped", reason], n)
        if step:
            bump(r, ["steps", step, "skipped"], n)
    for d, n in q("SELECT entered_ms / 86400000, count(*) FROM journeys"
                  " WHERE campaign_id = ? GROUP BY 1"):
        bump(r, ["days", day(d), "entered"], n)
    for d, state, n in q("SELECT coalesce(final_ms, created_ms) / 86400000, state,"
                         f" count(*) FROM outbox WHERE campaign_id = ? AND state IN {FINAL}"
                         " GROUP BY 1, 2"):
        bump(r, ["days", day(d), outcome(state)], n)
    for d, action, n in q("SELECT at_ms / 86400000, action, count(*) FROM journey_notes"
                          " WHERE campaign_id = ? AND (action = 'goal' OR (action ="
                          f" 'skip' AND reason IN {NOTE_SKIPS})) GROUP BY 1, 2"):
        bump(r, ["days", day(d), "conversions" if action == "goal" else "skipped"], n)
    now = dict(q("SELECT step, count(*) FROM journeys WHERE campaign_id = ?"
                 " AND active = 1 GROUP BY step"))
    kept = dict((int(s), n) for s, n in q(
        f"SELECT step_id, n FROM {counters(dmn)} WHERE campaign_id = ? AND metric = 'now'"
        " AND n <> 0"))
    eq(kept, now, f"{cid}: the journeys at each step now")
    sj = q(f"SELECT n FROM {counters(dmn)} WHERE campaign_id = ?"
           " AND metric = 'sent_journeys'")
    return r, sj[0][0] if sj else 0


def figures(d, cid):
    """The API's statistics in recount()'s shape (steps and days without zeros)."""
    r = d.request("GET", f"/v1/campaigns/{cid}/stats?days=366")
    eq(r.status, 200, r.raw)
    s = r.json
    out = {k: s[k] for k in ("entered", "active", "conversions", "sent", "failed")}
    for k in ("exited", "skipped"):
        if s[k]:
            out[k] = s[k]
    for st in s["steps"]:
        for k in ("sent", "failed", "skipped"):
            if st[k]:
                bump(out, ["steps", st["step"], k], st[k])
    for dd in s["days"]:
        for k in ("entered", "sent", "failed", "skipped", "conversions"):
            if dd[k]:
                bump(out, ["days", dd["day"], k], dd[k])
    return out, s


def combine(a, b, sign=1):
    """A + SIGN * B over nested counts, zeros dropped."""
    out = {}
    for k in set(a) | set(b):
        x, y = a.get(k, 0), b.get(k, 0)
        if isinstance(x, dict) or isinstance(y, dict):
            v = combine(x or {}, y or {}, sign)
            if v:
                out[k] = v
        elif x + sign * y:
            out[k] = x + sign * y
    return out


def agree(d, cid, pruned=None):
    """The API's figures equal the recount (plus what retention pruned); returns both."""
    got, raw = figures(d, cid)
    counted, sj = recount(d, cid)
    sj_api = counted.pop("sent_journeys")
    want = combine(counted, pruned or {})
    for k in ("sent", "failed", "conversions", "entered", "active"):
        want.setdefault(k, 0)
    eq(got, want, f"{cid}: the counters equal the recount")
    if not pruned:
        eq(sj, sj_api, f"{cid}: journeys with a sent message")
    conv_base = sj
    eq(raw["conversion_rate"], raw["conversions"] / conv_base if conv_base else 0,
       f"{cid}: the conversion rate's base")
    return got, counted


def start(d, retention=None):
    """Started with the frequency cap, or with RETENTION instead (it keeps what the cap reads)."""
    d.config.pop("retention", None)
    d.config["frequency_cap"] = {"max": 1, "per": "7d"}
    if retention:
        d.config["retention"] = retention
        del d.config["frequency_cap"]
    d.write_config()
    d.start()


def held(d):
    return rows(d, "SELECT count(*) FROM journeys WHERE campaign_id = 'flow'"
                " AND active = 1 AND due_ms IS NULL")[0][0]


STATS_TRIGGERS = ("stats_journey_insert", "stats_journey_update", "stats_journey_delete",
                  "stats_outbox_insert", "stats_outbox_update", "stats_note_insert",
                  "stats_note_update")


def rewind(d):
    """The stopped store back to the schema before the counters (migration 14 -> 15 on SQLite,
    4 -> 5 on PostgreSQL, with 5 -> 6's deltas and views), so that the next start backfills
    them."""
    if d.on_postgresql():
        tables = {"journey": "journeys", "outbox": "outbox", "note": "journey_notes"}
        d.sql("; ".join(f"DROP TRIGGER {t} ON {tables[t.split('_')[1]]}"
                        for t in STATS_TRIGGERS) +
              "; DROP TABLE stats_counts, stats_counts_deltas CASCADE;"
              " ALTER TABLE journeys DROP COLUMN passed;"
              " DELETE FROM meta WHERE key = 'stats_counts';"
              " DELETE FROM schema_version WHERE version >= 5")
        return
    import sqlite3
    db = sqlite3.connect(d.db_path())
    for t in STATS_TRIGGERS:
        db.execute(f"DROP TRIGGER {t}")
    db.execute("DROP TABLE stats_counts")
    db.execute("ALTER TABLE journeys DROP COLUMN passed")
    db.execute("DELETE FROM meta WHERE key = 'stats_counts'")
    db.execute("PRAGMA user_version = 14")
    db.commit()
    db.close()


def signups(d, who):
    eq(d.post_events({"events": [{"customer": w, "type": "signup"} for w in who]}).status,
       202, f"signups {who}")


def settled(d, cid, n_active):
    """Nothing in flight and the campaign's journeys down to N_ACTIVE."""
    def ok():
        if d.events_unconsumed():
            return False
        r = d.request("GET", f"/v1/campaigns/{cid}/stats").json
        st = d.request("GET", "/v1/status").json["outbox"]
        return (r["active"] == n_active and st["queued"] == 0 and st["deferred"] == 0
                and st["sending"] == 0)
    poll(ok, 30, f"{cid} settled at {n_active} active")


@test
def counters_equal_a_recount_through_failures_bounces_pruning_and_restarts():
    d, srv = setup(campaign=False)
    d.write_templates({"t.subject.mustache": "Hi {{customer.name}}",
                       "t.text.mustache": "Hello, {{customer.name}}.\n"})
    d.write_campaign(FLOW)
    d.write_campaign(PROMO)
    try:
        start(d)
        for w in ("ann", "bob", "cy", "dee", "eve", "fay", "gus"):
            customer(d, w)
        eq(d.request("POST", "/v1/suppressions", body={"address": "cy@example.org"}).status,
           200, "cy suppressed")
        srv.set(reject=["dee@example.org"])
        signups(d, ["ann", "bob", "cy", "dee", "eve"])
        # eve's welcome bounces; dee's is refused and retried once the server takes it.
        sent = received_for(srv, "eve@example.org")[0]
        poll(lambda: any(m["state"] == "sent" for m in messages(d, "eve")), 15, "eve sent")
        eq(post_inbound(d, dsn(sent.mail_from, "<x@nowhere.example>", "eve@example.org"))
           .status, 202, "eve's bounce")
        failed = poll(lambda: [m for m in messages(d, "dee") if m["state"] == "failed"], 15,
                      "dee's welcome failed")
        settled(d, "flow", 0)
        agree(d, "flow")
        srv.set(reject=[])
        eq(d.request("POST", f"/v1/messages/{failed[0]['id']}/retry").status, 202, "retry")
        poll(lambda: any(m["state"] == "sent" for m in messages(d, "dee")), 15, "dee sent")
        # A pause holds fay's and gus's journeys at the tips; gus cancels while held; after
        # the resume ann and fay buy (goals, and promo's offers, skipped by the cap).
        signups(d, ["fay", "gus"])
        received_for(srv, "fay@example.org")
        received_for(srv, "gus@example.org")
        eq(d.request("POST", "/v1/campaigns/flow/pause").status, 200, "pause")
        poll(lambda: held(d) == 2, 15, "two held")
        agree(d, "flow")
        eq(d.post_events({"customer": "gus", "type": "cancel"}).status, 202, "gus cancels")
        poll(lambda: figures(d, "flow")[1]["active"] == 1, 15, "gus gone")
        agree(d, "flow")
        eq(d.request("POST", "/v1/campaigns/flow/resume").status, 200, "resume")
        received_for(srv, "fay@example.org")
        eq(d.post_events({"events": [{"customer": "ann", "type": "purchase"},
                                     {"customer": "fay", "type": "purchase"}]}).status,
           202, "purchases")
        settled(d, "flow", 0)
        settled(d, "promo", 0)
        before = {c: agree(d, c)[0] for c in CAMPAIGNS}
        f = before["flow"]
        check(f["sent"] >= 4 and f["failed"] == 0 and f["conversions"] == 2
              and f["skipped"].get("suppressed") and f["skipped"].get("frequency_cap")
              and f["exited"].get("exit_on:cancel") == 1, "a varied scenario", f)
        eq(before["promo"]["skipped"], {"frequency_cap": 2}, "promo's capped offers")
        eq(d.stop(), 0, "stop")

        # The migration's backfill counts the same: back to the schema without the counters.
        rewind(d)
        start(d)
        check("migrating schema " + ("3 -> 4" if d.on_postgresql() else "14 -> 15")
              in d.read_log(), "migrated again", d.read_log()[-500:])
        for c in CAMPAIGNS:
            eq(figures(d, c)[0], before[c], f"{c}: the backfill counts the same")
            agree(d, c)
        eq(d.stop(), 0, "stop")

        # Retention prunes the finished journeys, their messages and notes: the figures stay.
        start(d, RETENTION)

        def pruned():
            return rows(d, "SELECT (SELECT count(*) FROM journeys) + (SELECT count(*)"
                        " FROM outbox) + (SELECT count(*) FROM journey_notes)")[0][0] == 0
        poll(pruned, 30, "everything finished pruned")
        gone = {}
        for c in CAMPAIGNS:
            eq(figures(d, c)[0], before[c], f"{c}: the figures survive pruning")
            gone[c] = combine(before[c], recount(d, c)[0], -1)
        eq(d.stop(), 0, "stop")

        # Restarted without retention: more journeys, a second welcome for ann, an exit.
        start(d)
        for c in CAMPAIGNS:
            eq(figures(d, c)[0], before[c], f"{c}: the figures survive a restart")
        signups(d, ["ann", "gus"])
        received_for(srv, "gus@example.org")
        eq(d.post_events({"customer": "ann", "type": "cancel"}).status, 202, "ann cancels")
        settled(d, "flow", 0)
        for c in CAMPAIGNS:
            agree(d, c, gone[c])
        eq(d.stop(), 0, "stop")
    finally:
        teardown(d, srv)


if __name__ == "__main__":
    run_all()
