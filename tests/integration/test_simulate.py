#!/usr/bin/python3
"""Scenario tests on virtual time: the example campaigns through `nurtured simulate`."""
import json
import os
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from ntest import check, eq, run_all, run_cli, test  # noqa: E402

SRC = os.environ.get("NT_SRCDIR") or os.path.join(os.path.dirname(__file__), "..", "..")
CAMPAIGNS = os.path.join(SRC, "campaigns")
TMP = tempfile.mkdtemp(prefix="nt-sim-")


def with_email(customers, events):
    """Every customer of CUSTOMERS and EVENTS, with an address unless one is given: simulate
    composes each message as the daemon does, and a customer without an address gets none."""
    out = [dict(c) for c in customers or []]
    known = {c["id"] for c in out}
    for e in events:
        if e["customer"] not in known:
            known.add(e["customer"])
            out.append({"id": e["customer"]})
    for c in out:
        c.setdefault("email", c["id"] + "@example.com")
    return out


def write_jsonl(name, rows):
    path = os.path.join(TMP, name)
    with open(path, "w") as f:
        for r in rows:
            f.write(json.dumps(r) + "\n")
    return path


def simulate(events, until="60d", campaigns=CAMPAIGNS, customers=None, extra=(),
             raw_customers=False):
    path = write_jsonl("events.jsonl", events)
    args = ["simulate", "--campaigns", campaigns, "--events", path, "--until", until, "--json"]
    people = customers if raw_customers else with_email(customers, events)
    args += ["--customers", write_jsonl("customers.jsonl", people)]
    r = run_cli(*args, *extra)
    eq(r.returncode, 0, "simulate exit code: " + r.stderr)
    return [json.loads(line) for line in r.stdout.splitlines()]


def sends(timeline, campaign):
    return [(t["at"], t["customer"], t["step"]) for t in timeline
            if t["campaign"] == campaign and t["action"] == "send"]


def exits(timeline, campaign):
    return [(t["customer"], t["reason"]) for t in timeline
            if t["campaign"] == campaign and t["action"] == "exit"]


PURCHASE = {"id": "o1", "customer": "anna", "type": "purchase",
            "time": "2026-03-01T10:00:00+01:00", "properties": {"order_id": "1001"}}


@test
def post_purchase_thanks_at_once_and_checks_after_a_week():
    t = simulate([PURCHASE])
    s = sends(t, "post-purchase")
    eq(s[0], ("2026-03-01T09:00:00.000Z", "anna", "thanks"), "thanks at the purchase")
    eq(s[1], ("2026-03-08T09:00:00.000Z", "anna", "satisfaction-check"), "check 7 days later")
    eq(len(s), 2, "no feedback: nothing more")
    eq(exits(t, "post-purchase"), [("anna", "completed")], "ends after the 14-day wait")
    check(any(e["at"] == "2026-03-22T09:00:00.000Z" for e in t if e["action"] == "exit"),
          "the wait for feedback times out after 14 days", t)


@test
def post_purchase_positive_feedback_asks_for_a_review():
    fb = {"id": "f1", "customer": "anna", "type": "feedback", "time": "2026-03-10T12:00:00+01:00",
          "properties": {"order_id": "1001", "score": 5}}
    s = sends(simulate([PURCHASE, fb]), "post-purchase")
    eq([x[2] for x in s], ["thanks", "satisfaction-check", "review-ask"], "steps")
    eq(s[2][0], "2026-03-10T11:00:00.000Z", "at the feedback")


@test
def post_purchase_negative_feedback_apologises_and_opens_a_ticket():
    fb = {"id": "f1", "customer": "anna", "type": "feedback", "time": "2026-03-10T12:00:00+01:00",
          "properties": {"order_id": "1001", "score": 1}}
    t = simulate([PURCHASE, fb])
    eq([x[2] for x in sends(t, "post-purchase")],
       ["thanks", "satisfaction-check", "apology", "open-ticket"], "steps")
    ticket = [e for e in t if e["step"] == "open-ticket"][0]
    eq(ticket["channel"], "helpdesk", "the ticket goes to the helpdesk webhook")


@test
def post_purchase_feedback_before_the_check_skips_it():
    fb = {"id": "f0", "customer": "anna", "type": "feedback", "time": "2026-03-03T12:00:00+01:00",
          "properties": {"order_id": "1001", "score": 4}}
    eq([x[2] for x in sends(simulate([PURCHASE, fb]), "post-purchase")], ["thanks"],
       "feedback came already: no satisfaction check")


@test
def post_purchase_two_orders_two_journeys_refund_ends_one():
    second = dict(PURCHASE, id="o2", time="2026-03-02T10:00:00+01:00",
                  properties={"order_id": "1002"})
    refund = {"id": "r1", "customer": "anna", "type": "refund",
              "time": "2026-03-04T10:00:00+01:00", "properties": {"order_id": "1002"}}
    t = simulate([PURCHASE, second, refund])
    eq([(x[0][:10], x[2]) for x in sends(t, "post-purchase")],
       [("2026-03-01", "thanks"), ("2026-03-02", "thanks"),
        ("2026-03-08", "satisfaction-check")],
       "the refund of order 1002 ends its journey; order 1001's goes on to its check")
    eq(sorted(exits(t, "post-purchase")), [("anna", "completed"), ("anna", "exit_on:refund")],
       "exit reasons")


@test
def post_purchase_feedback_touches_the_order_it_names_only():
    second = dict(PURCHASE, id="o2", time="2026-03-02T10:00:00+01:00",
                  properties={"order_id": "1002"})
    early = {"id": "f0", "customer": "anna", "type": "feedback",
             "time": "2026-03-03T12:00:00+01:00", "properties": {"order_id": "1002", "score": 5}}
    bad = {"id": "f1", "customer": "anna", "type": "feedback",
           "time": "2026-03-10T12:00:00+01:00", "properties": {"order_id": "1001", "score": 1}}
    t = simulate([PURCHASE, second, early, bad])
    eq([(x[0][:10], x[2]) for x in sends(t, "post-purchase")],
       [("2026-03-01", "thanks"), ("2026-03-02", "thanks"),
        ("2026-03-08", "satisfaction-check"), ("2026-03-10", "apology"),
        ("2026-03-10", "open-ticket")],
       "1002 heard already (no check); the bad score for 1001: one apology, one ticket")


QUOTE = {"id": "q1", "customer": "jurgen", "type": "quote_sent",
         "time": "2026-03-02T11:00:00+01:00", "properties": {"quote_id": "77"}}


@test
def quote_follow_up_twice_without_an_order():
    s = sends(simulate([QUOTE]), "quote-follow-up")
    eq([x[2] for x in s], ["follow-up", "second-follow-up"], "two follow-ups")
    check(s[0][0] >= "2026-03-05T10:00:00.000Z", "the first not before 3 days", s)
    check(s[1][0] >= "2026-03-12T10:00:00.000Z", "the second 7 days later", s)


@test
def quote_follow_up_stops_at_the_order():
    order = {"id": "p1", "customer": "jurgen", "type": "purchase",
             "time": "2026-03-07T09:00:00+01:00", "properties": {"order_id": "5"}}
    t = simulate([QUOTE, order])
    eq([x[2] for x in sends(t, "quote-follow-up")], ["follow-up"], "only the first")
    eq(exits(t, "quote-follow-up")[0][1], "exit_on:purchase", "exit reason")


BUY = {"id": "b1", "customer": "tom", "type": "purchase", "time": "2026-01-10T10:00:00Z",
       "properties": {"order_id": "1"}}
# Win-back's topic, offers, is opt-in (the default opt_in_topics): tom subscribed.
TOM = [{"id": "tom", "consent": {"offers": "subscribed"}}]


@test
def win_back_after_90_quiet_days_then_an_offer_30_days_later():
    t = simulate([BUY], until="200d", customers=TOM)
    eq(sends(t, "win-back"), [("2026-04-10T10:00:00.000Z", "tom", "we-miss-you"),
                              ("2026-05-10T10:00:00.000Z", "tom", "offer")],
       "90 days after the last purchase, then 30 days later")
    enters = [e for e in t if e["campaign"] == "win-back" and e["action"] == "enter"]
    eq([e["reason"] for e in enters], ["inactivity"], "entered once, by inactivity")


@test
def win_back_each_purchase_pushes_the_deadline_out():
    again = dict(BUY, id="b2", time="2026-03-01T10:00:00Z", properties={"order_id": "2"})
    s = sends(simulate([BUY, again], until="200d", customers=TOM), "win-back")
    eq(s[0], ("2026-05-30T10:00:00.000Z", "tom", "we-miss-you"), "90 days after the second")


@test
def win_back_a_purchase_after_the_first_mail_ends_it():
    back = dict(BUY, id="b3", time="2026-04-20T10:00:00Z", properties={"order_id": "3"})
    t = simulate([BUY, back], until="200d", customers=TOM)
    eq([x[2] for x in sends(t, "win-back")], ["we-miss-you"], "no offer after coming back")
    eq(exits(t, "win-back"), [("tom", "exit_on:purchase")], "exit reason")
    goals = [(e["at"], e["campaign"], e["reason"]) for e in t if e["action"] == "goal"]
    eq(goals, [("2026-04-20T10:00:00.000Z", "win-back", "purchase")],
       "the purchase 10 days after the mail is the win-back's conversion, once")


@test
def a_goal_outside_its_window_is_no_conversion():
    late = dict(BUY, id="b4", time="2026-07-20T10:00:00Z", properties={"order_id": "4"})
    t = simulate([BUY, late], until="200d", customers=TOM)  # the offer went out 2026-05-10, window 60d
    eq([e for e in t if e["action"] == "goal"], [], "71 days after the last mail is too late")


@test
def newsletter_goes_to_subscribers_at_each_monthly_run():
    people = [{"id": "anna", "consent": {"newsletter": "subscribed"}, "timezone": "Europe/Berlin"},
              {"id": "maria", "consent": {"newsletter": "pending"}},
              {"id": "tom", "consent": {"newsletter": "unsubscribed"}},
              {"id": "lee"}]
    start = {"id": "s", "customer": "lee", "type": "signup", "time": "2026-02-15T12:00:00Z"}
    s = sends(simulate([start], until="60d", customers=people), "newsletter")
    eq(s, [("2026-03-01T08:00:00.000Z", "anna", "issue"),
           ("2026-04-01T07:00:00.000Z", "anna", "issue")],
       "09:00 Berlin time on the 1st, only to the subscriber, across the DST change")


@test
def newsletter_fan_out_crosses_batches_once_each():
    people = [{"id": f"c{i:05d}", "consent": {"newsletter": "subscribed"}} for i in range(1201)]
    start = {"id": "s", "customer": "c00000", "type": "signup", "time": "2026-02-15T12:00:00Z"}
    s = sends(simulate([start], until="20d", customers=people), "newsletter")
    eq(len(s), 1201, "one issue each")
    eq(len(set(x[1] for x in s)), 1201, "nobody twice")


def campaigns_dir(name, *campaigns):
    """A campaigns directory, with a templates/ beside it holding a template for every send
    step (simulate renders each message as the daemon does)."""
    d = os.path.join(TMP, name)
    os.makedirs(os.path.join(d, "templates"), exist_ok=True)
    for c in campaigns:
        with open(os.path.join(d, c["id"] + ".json"), "w") as f:
            json.dump(c, f)
        for st in c["steps"]:
            if "send" in st:
                t = os.path.join(d, "templates", st["send"]["template"])
                with open(t + ".subject.mustache", "w") as f:
                    f.write("Hello {{customer.id}}\n")
                with open(t + ".text.mustache", "w") as f:
                    f.write("Step " + st["id"] + " for {{customer.id}}.\n")
    return d


@test
def quiet_hours_defer_a_send_to_the_window_end_in_the_customers_zone():
    base = {"status": "active", "topic": "orders", "trigger": {"event": "purchase"},
            "timezone_default": "UTC", "quiet_hours": {"from": "20:00", "to": "08:00"},
            "steps": [{"id": "thanks", "send": {"channel": "mail", "template": "t"}}]}
    marketing = dict(base, id="polite", name="polite")
    receipt = dict(base, id="receipt", name="receipt", transactional=True)
    d = campaigns_dir("quiet", marketing, receipt)
    late = {"id": "o1", "customer": "berlin", "type": "purchase",
            "time": "2026-07-01T22:30:00+02:00"}
    customer = {"id": "berlin", "timezone": "Europe/Berlin"}
    t = simulate([late], campaigns=d, customers=[customer])
    eq(sends(t, "polite"), [("2026-07-02T06:00:00.000Z", "berlin", "thanks")],
       "sent at 08:00 Berlin time the next morning")
    skips = [(e["step"], e["reason"]) for e in t if e["action"] == "skip"]
    eq(skips, [("thanks", "quiet_hours")], "the deferral is recorded")
    eq(sends(t, "receipt"), [("2026-07-01T20:30:00.000Z", "berlin", "thanks")],
       "transactional: at once")
    # The same wall-clock time in UTC is outside 20:00-08:00 Berlin-wise only for Berlin.
    t = simulate([dict(late, time="2026-07-01T19:30:00+00:00", customer="utc")], campaigns=d)
    eq(sends(t, "polite"), [("2026-07-01T19:30:00.000Z", "utc", "thanks")],
       "19:30 in the campaign's zone (UTC) is not quiet")


@test
def the_frequency_cap_defers_or_skips_but_never_holds_transactional_mail():
    def send(i):
        return {"id": i, "send": {"channel": "mail", "template": i}}
    base = {"status": "active", "topic": "offers", "trigger": {"event": "purchase"}}
    a = dict(base, id="a", name="a", steps=[send("a1"), send("a2"), send("a3")])
    b = dict(base, id="b", name="b", on_cap="skip", steps=[send("b1")])
    r = dict(base, id="r", name="r", transactional=True, steps=[send("r1")])
    d = campaigns_dir("cap", a, b, r)
    conf = os.path.join(TMP, "cap.json")
    with open(conf, "w") as f:
        json.dump({"frequency_cap": {"max": 2, "per": "7d"}}, f)
    buy = {"id": "p", "customer": "cap", "type": "purchase", "time": "2026-06-01T12:00:00Z"}
    t = simulate([buy], until="30d", campaigns=d, customers=[{"id": "cap", "consent": {"offers": "subscribed"}}],
                  extra=("--config", conf, "--templates", os.path.join(d, "templates")))
    got = sorted((e["at"][:16], e["step"], e["action"], e["reason"]) for e in t
                 if e["action"] in ("send", "skip"))
    eq(got, [("2026-06-01T12:00", "a1", "send", None), ("2026-06-01T12:00", "a2", "send", None),
             ("2026-06-01T12:00", "a3", "skip", "frequency_cap_deferred"),
             ("2026-06-01T12:00", "b1", "skip", "frequency_cap"),
             ("2026-06-01T12:00", "r1", "send", None),
             ("2026-06-08T12:00", "a3", "send", None)],
       "two now, the third when the first leaves the 7-day window, b skipped, r untouched")


@test
def stages_follow_the_purchase_history_and_trigger_campaigns():
    def on(stage):
        return {"id": f"on-{stage}", "name": stage, "status": "active", "topic": "care",
                "trigger": {"stage_changed_to": stage}, "reentry": "always",
                "steps": [{"id": "hello", "send": {"channel": "mail", "template": stage}}]}
    d = campaigns_dir("stages", *[on(s) for s in ("onboarding", "growing", "mature",
                                                   "declining", "lapsed", "reactivated")])
    buys = [dict(BUY, id=f"b{i}", time=t) for i, t in enumerate(
        ["2026-01-01T10:00:00Z", "2026-01-31T10:00:00Z", "2026-03-02T10:00:00Z",
         "2026-04-01T10:00:00Z", "2026-12-01T10:00:00Z"])]
    t = simulate(buys, until="400d", campaigns=d)
    got = [(e["at"][:10], e["campaign"]) for e in t if e["action"] == "send"]
    eq(got, [("2026-01-01", "on-onboarding"),   # first purchase
             ("2026-01-31", "on-growing"),      # second
             ("2026-04-01", "on-mature"),       # fourth (every 30 days)
             ("2026-05-31", "on-declining"),    # last + 2 x 30 days
             ("2026-09-28", "on-lapsed"),       # last + 180 days
             ("2026-12-01", "on-reactivated"),  # bought again
             ("2026-12-31", "on-mature")],      # 30 days on: back to their count's stage
       "every stage change, when it happens (declining next on 2027-05-17: last + 2 x 83.5 d)")


@test
def anniversaries_at_local_time_each_year():
    bday = {"id": "bday", "name": "bday", "status": "active", "topic": "greetings",
            "trigger": {"anniversary_of": "customer.birthday", "at": "09:00"},
            "reentry": {"after": "300d"},
            "steps": [{"id": "greet", "send": {"channel": "mail", "template": "b"}}]}
    first = {"id": "first", "name": "first", "status": "active", "topic": "greetings",
             "trigger": {"anniversary_of": "first_purchase", "at": "10:00", "offset": "-1d"},
             "reentry": {"after": "300d"},
             "steps": [{"id": "thanks", "send": {"channel": "mail", "template": "f"}}]}
    d = campaigns_dir("anniv", bday, first)
    people = [{"id": "ber", "birthday": "1980-03-15", "timezone": "Europe/Berlin"},
              {"id": "syd", "birthday": "--03-15", "timezone": "Australia/Sydney"},
              {"id": "nobday"}]
    buy = {"id": "o", "customer": "nobday", "type": "purchase", "time": "2026-02-20T15:00:00Z"}
    t = simulate([buy], until="400d", campaigns=d, customers=people)
    eq(sends(t, "bday"), [("2026-03-14T22:00:00.000Z", "syd", "greet"),
                          ("2026-03-15T08:00:00.000Z", "ber", "greet"),
                          ("2027-03-14T22:00:00.000Z", "syd", "greet"),
                          ("2027-03-15T08:00:00.000Z", "ber", "greet")],
           "09:00 in each customer's zone on the day, every year")
    eq(sends(t, "first"), [("2027-02-19T10:00:00.000Z", "nobday", "thanks")],
       "a year after the first purchase, one day early, at 10:00 (UTC: no zone known)")


@test
def stage_thresholds_come_from_the_config():
    lapsed = {"id": "on-lapsed", "name": "l", "status": "active", "topic": "care",
              "trigger": {"stage_changed_to": "lapsed"},
              "steps": [{"id": "hello", "send": {"channel": "mail", "template": "l"}}]}
    d = campaigns_dir("stages2", lapsed)
    conf = os.path.join(TMP, "stages.json")
    with open(conf, "w") as f:
        json.dump({"stages": {"lapsed_days": 45, "declining_factor": 10}}, f)
    t = simulate([BUY], until="100d", campaigns=d,
                 extra=("--config", conf, "--templates", os.path.join(d, "templates")))
    got = [x["at"][:10] for x in t if x["action"] == "send"]
    eq(got, ["2026-02-24"], "lapsed 45 days after the purchase, as configured")


@test
def a_history_count_applies_its_where_to_each_event():
    vip = {"id": "vip", "name": "vip", "status": "active", "topic": "orders",
           "trigger": {"event": "purchase"}, "reentry": "always",
           "steps": [{"id": "check", "branch": {"if": {
               "count": {"event": "purchase", "within": "365d",
                         "where": {"field": "event.properties.total", "gte": 100}},
               "gte": 2}, "then": "big", "else": "small"}},
               {"id": "big", "send": {"channel": "mail", "template": "vip"}, "next": "end"},
               {"id": "small", "exit": "not yet"},
               {"id": "end", "exit": True}]}
    d = campaigns_dir("vip", vip)
    evs = []
    for who, totals in (("big", [150, 50, 200]), ("mid", [150, 50, 60])):
        for i, total in enumerate(totals):
            evs.append({"id": f"{who}{i}", "customer": who, "type": "purchase",
                        "time": f"2026-05-0{i + 1}T10:00:00Z", "properties": {"total": total}})
    t = simulate(evs, campaigns=d, until="10d")
    eq([(x[1], x[0][:10]) for x in sends(t, "vip")], [("big", "2026-05-03")],
       "only the customer with two purchases of 100 or more, at the second of them")


@test
def the_birthday_and_anniversary_examples_greet_mature_customers_only():
    people = [{"id": "loyal", "birthday": "1975-09-10", "timezone": "Europe/Berlin"},
              {"id": "new", "birthday": "1990-09-10", "timezone": "Europe/Berlin"}]
    # loyal buys monthly from 2025-09-01 (mature by their 4th purchase); new buys once.
    evs = [{"id": f"l{i}", "customer": "loyal", "type": "purchase",
            "time": f"2025-{9 + i:02d}-01T10:00:00Z" if 9 + i <= 12
            else f"2026-{i - 3:02d}-01T10:00:00Z"} for i in range(13)]
    evs.append({"id": "n0", "customer": "new", "type": "purchase",
                "time": "2026-08-20T10:00:00Z"})
    t = simulate(evs, until="400d", customers=people)
    eq(sends(t, "birthday"), [("2026-09-10T07:00:00.000Z", "loyal", "greet")],
       "09:00 Berlin on the birthday, for the mature customer only")
    audience = [e["customer"] for e in t if e["campaign"] == "birthday"
                and e["action"] == "exit" and e["reason"] == "audience"]
    check("new" in audience, "the new customer's journey ends at the audience check", t)
    eq(sends(t, "first-purchase-anniversary"),
       [("2026-09-01T08:00:00.000Z", "loyal", "celebrate")],
       "a year after the first purchase, 10:00 Berlin, mature only")


@test
def simulate_text_output_and_errors():
    path = os.path.join(TMP, "one.jsonl")
    with open(path, "w") as f:
        f.write(json.dumps(PURCHASE) + "\n")
    people = write_jsonl("people.jsonl", with_email(None, [PURCHASE]))
    r = run_cli("simulate", "--campaigns", CAMPAIGNS, "--events", path, "--until", "1d",
                "--customers", people)
    eq(r.returncode, 0, "exit")
    check("post-purchase" in r.stdout and "send" in r.stdout, "a readable timeline", r.stdout)
    with open(path, "w") as f:
        f.write('{"customer": "x", "type": "purchase"}\n{"broken": \n')
    r = run_cli("simulate", "--campaigns", CAMPAIGNS, "--events", path)
    eq(r.returncode, 1, "exit")
    check(f"{path}:1:1:" in r.stderr and "time" in r.stderr, "event without time", r.stderr)
    check(f"{path}:2:" in r.stderr, "JSON error with its line", r.stderr)
    eq(run_cli("simulate", "--events", path).returncode, 2, "usage")


@test
def the_issue_s_unsubscribed_customer_gets_no_post_purchase_mail():
    people = [{"id": "anna", "consent": {"orders": "unsubscribed"}}]
    t = simulate([PURCHASE], until="30d", customers=people)
    eq(sends(t, "post-purchase"), [], "nothing sent")
    eq([(e["step"], e["reason"]) for e in t if e["action"] == "skip"],
       [("thanks", "unsubscribed"), ("satisfaction-check", "unsubscribed")],
       "each send skipped with the daemon's reason")


@test
def suppressions_come_from_a_file_and_bad_lines_are_named():
    sup = write_jsonl("sup.jsonl", [{"address": "Anna@Example.com", "reason": "hard_bounce"}])
    t = simulate([PURCHASE], until="1d", extra=("--suppressions", sup))
    eq([(e["step"], e["reason"]) for e in t if e["action"] == "skip"],
       [("thanks", "suppressed")], "the suppressed address gets nothing (any case)")
    bad = write_jsonl("bad-sup.jsonl", [{"address": "ok@example.com"}, {"addr": "x"}])
    r = run_cli("simulate", "--campaigns", CAMPAIGNS, "--events",
                write_jsonl("e.jsonl", [PURCHASE]), "--suppressions", bad)
    eq(r.returncode, 1, "refused")
    check(f"{bad}:2:1: a suppression needs" in r.stderr, "file:line:col", r.stderr)


@test
def show_messages_prints_or_writes_the_rendered_messages():
    fb = {"id": "f1", "customer": "anna", "type": "feedback", "time": "2026-03-10T12:00:00+01:00",
          "properties": {"order_id": "1001", "score": 1}}
    people = [{"id": "anna", "name": "Anna", "email": "anna@example.com"}]
    t = simulate([PURCHASE, fb], customers=people, extra=("--show-messages",))
    msgs = {e["step"]: e.get("message") for e in t if e["action"] == "send"}
    check("Subject: Thank you for your order 1001, Anna!" in msgs["thanks"],
          "the thank-you as sent", msgs["thanks"])
    check("To: Anna <anna@example.com>" in msgs["thanks"], "to the customer", msgs["thanks"])
    check("Message-Id: <" in msgs["apology"], "every send has its message", msgs)
    check("anna@example.com" not in msgs["open-ticket"].split("\r\n\r\n")[0].split("To:")[1]
          .split("\n")[0], "the ticket goes to the team, not to the customer", msgs["open-ticket"])
    out = os.path.join(TMP, "messages")
    os.makedirs(out, exist_ok=True)
    t = simulate([PURCHASE, fb], customers=people, extra=("--show-messages=" + out,))
    files = sorted(os.listdir(out))
    eq(files, ["000001-anna-post-purchase-thanks.eml",
               "000002-anna-post-purchase-satisfaction-check.eml",
               "000003-anna-post-purchase-apology.eml",
               "000004-anna-post-purchase-open-ticket.eml"], "one file a message, in order")
    with open(os.path.join(out, files[0]), "rb") as f:
        check(b"Subject: Thank you for your order 1001, Anna!" in f.read(), "the payload")
    check(all("message" not in e for e in t), "not printed as well", t)


@test
def next_runs_prints_rfc3339_times_in_the_campaign_zone():
    r = run_cli("next-runs", os.path.join(CAMPAIGNS, "newsletter.json"), "--count", "3",
                "--from", "2026-03-01T00:00:00Z")
    eq(r.returncode, 0, "exit: " + r.stderr)
    eq(r.stdout.split(), ["2026-03-01T09:00:00+01:00", "2026-04-01T09:00:00+02:00",
                          "2026-05-01T09:00:00+02:00"], "across the DST change")
    r = run_cli("next-runs", os.path.join(CAMPAIGNS, "post-purchase.json"))
    eq(r.returncode, 1, "not a scheduled campaign")
    check("no \"cron\" trigger" in r.stderr, "message", r.stderr)


run_all()
