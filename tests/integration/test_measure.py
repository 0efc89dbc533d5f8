#!/usr/bin/python3
"""Measuring success (issue 19) in the real daemon: the links of a sent mail are rewritten to
signed click URLs and its unsubscribe link is not; a click answers 302 to the target kept with
the message and records the event "clicked" once however often it is clicked; a forged or
altered token gets 400 and no Location; transactional mail is not tracked; a campaign can be
triggered by "clicked"."""
import email
import email.policy
import glob
import html.parser
import json
import os
import shutil
import signal
import subprocess
import tempfile
import sys
import urllib.parse

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from ntest import TOKEN, Daemon, check, eq, poll, run_all, run_cli, test  # noqa: E402

PUBLIC = "https://mail.test.example"
TARGET = "https://shop.example/p?a=1&b=2"

TEMPLATES = {
    "news.subject.mustache": "News",
    "news.text.mustache": "See {{{event.properties.url}}}\nLeave: {{{links.unsubscribe_url}}}\n",
    "news.html.mustache":
        '<!DOCTYPE html><html><body><p>Hi {{customer.name}}</p>'
        '<a href="https://shop.example/p?a=1&amp;b=2" data-link="product">Buy <b>now</b></a>\n'
        "<A HREF='https://shop.example/sale' title='href=\"https://x.example/\"'>Sale</A>\n"
        '<a href="mailto:help@shop.example">Mail us</a> <a href="tel:+4930123">Call</a>\n'
        '<a href="#top">Top</a> <a name="anchor">no href</a>\n'
        '<a data-notrack href="https://shop.example/private">Private</a>\n'
        '<!--[if mso]><a href="https://shop.example/outlook">Outlook</a><![endif]-->\n'
        '<a href="{{links.unsubscribe_url}}">Unsubscribe</a></body></html>',
    "receipt.subject.mustache": "Receipt",
    "receipt.text.mustache": "Thanks\n",
    "receipt.html.mustache": '<a href="https://shop.example/order">Your order</a>',
    "news2.subject.mustache": "News again",
    "news2.text.mustache": "Again\n",
    "news2.html.mustache": '<a href="https://shop.example/again">Again</a>'
                           '<a href="{{links.unsubscribe_url}}">Leave</a>',
    "followup.subject.mustache": "You clicked {{event.properties.link}}",
    "followup.text.mustache": "Saw you looked at {{event.properties.url}}\n",
}


class Hrefs(html.parser.HTMLParser):
    """Every <a>'s href (decoded by Python's parser) and the document's text."""

    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.hrefs, self.text, self.comments = [], [], []

    def handle_starttag(self, tag, attrs):
        if tag == "a":
            self.hrefs.append(dict(attrs).get("href"))

    def handle_data(self, data):
        self.text.append(data)

    def handle_comment(self, data):
        self.comments.append(data)


def daemon(*campaigns):
    d = Daemon({"public_url": PUBLIC,
                "mail_from": {"name": "Shop", "address": "shop@mail.test.example"},
                })
    d.config["channels"] = {"mail": {"plugin": "maildir", "path": os.path.join(d.tmp, "md")}}
    d.write_config()
    d.write_templates(TEMPLATES)
    for c in campaigns:
        d.write_campaign(c)
    return d


def campaign(cid, event, template, topic="news", **extra):
    c = {"id": cid, "name": cid, "status": "active", "topic": topic,
         "trigger": {"event": event}, "reentry": "always",
         "steps": [{"id": "send", "send": {"channel": "mail", "template": template}}]}
    c.update(extra)
    return c


def mails(d):
    out = []
    for f in sorted(glob.glob(os.path.join(d.tmp, "md", "new", "*"))):
        with open(f, "rb") as fh:
            out.append(email.message_from_bytes(fh.read(), policy=email.policy.default))
    return out


def part(msg, ctype):
    p = msg.get_body(preferencelist=(ctype.split("/")[1],))
    return p.get_content() if p is not None and p.get_content_type() == ctype else None


def rows(d, sql):
    """Rows of SQL on the daemon's store (SQLite or PostgreSQL), numbers read as numbers. On
    PostgreSQL (issue 21) the counters are read as the daemon reads them, with the deltas not
    folded yet (the view measure_counts_all)."""
    if d.on_postgresql():
        sql = sql.replace("FROM measure_counts ", "FROM measure_counts_all ")
    def value(v):
        for kind in (int, float):
            try:
                return kind(v)
            except (TypeError, ValueError):
                pass
        return v
    return [tuple(value(v) for v in row) for row in d.sql(sql)]


def event(cust, etype, key, **props):
    return {"id": key, "customer": cust, "type": etype, "properties": props,
            "profile": {"email": f"{cust}@example.com", "name": "Ann"}}


def path_of(url):
    return urllib.parse.urlsplit(url).path


@test
def links_rewritten_unsubscribe_not():
    d = daemon(campaign("news", "newsletter", "news"))
    try:
        d.start()
        eq(d.post_events(event("c1", "newsletter", "e1", url=TARGET)).status, 202)
        poll(lambda: len(mails(d)) == 1, 10, "the mail")
        m = mails(d)[0]
        page = Hrefs()
        page.feed(part(m, "text/html"))
        page.close()
        h = page.hrefs
        eq(len(h), 8, f"every <a> outside the comment still there: {h}")
        check(h[0].startswith(PUBLIC + "/c/"), "tracked", h[0])
        check(h[1].startswith(PUBLIC + "/c/"), "uppercase HREF, single quotes tracked", h[1])
        eq(h[2:6], ["mailto:help@shop.example", "tel:+4930123", "#top", None], "not tracked")
        eq(h[6], "https://shop.example/private", "data-notrack")
        check(h[7].startswith(PUBLIC + "/u/"), "the unsubscribe link is not rewritten", h[7])
        # The conditional comment is still one comment, its link rewritten inside it.
        eq(len(page.comments), 1, "one conditional comment")
        check(PUBLIC + "/c/" in page.comments[0] and page.comments[0].endswith("<![endif]"),
              "the Outlook link is tracked, the comment intact", page.comments[0])
        check("title='href=\"https://x.example/\"'" in part(m, "text/html"),
              "href-like text in another attribute is left alone")
        eq("".join(page.text).split(), "Hi AnnBuy now Sale Mail us Call Top no href Private "
           "Unsubscribe".split(), "the text of the HTML is unchanged")
        check("/o/" not in part(m, "text/html"), "no open pixel unless asked for")
        text = part(m, "text/plain")
        check(TARGET in text and "/c/" not in text, "the text part is not rewritten", text)
        targets = rows(d, "SELECT idx, url, name FROM links ORDER BY idx")
        eq(targets, [(0, TARGET, "product"), (1, "https://shop.example/sale", "Sale"),
                     (2, "https://shop.example/outlook", "Outlook")], "the targets kept")
    finally:
        d.cleanup()


@test
def click_redirects_records_once_forged_400():
    follow = campaign("follow", "clicked", "followup", topic="news")
    d = daemon(campaign("news", "newsletter", "news"), follow)
    try:
        d.start()
        eq(d.post_events(event("c1", "newsletter", "e1", url=TARGET)).status, 202)
        poll(lambda: len(mails(d)) == 1, 10, "the mail")
        page = Hrefs()
        page.feed(part(mails(d)[0], "text/html"))
        link = path_of(page.hrefs[0])
        for _ in range(3):
            r = d.request("GET", link, auth=False)
            eq(r.status, 302, r.raw)
            eq(r.headers.get("Location"), TARGET, "the target kept with the message")
        poll(lambda: rows(d, "SELECT clicks FROM links WHERE idx = 0") == [(3,)], 10,
             "three clicks counted")
        ev = rows(d, "SELECT type, properties FROM events WHERE type = 'clicked'")
        eq(len(ev), 1, "one clicked event however often it is clicked")
        props = json.loads(ev[0][1])
        eq(props["url"], TARGET, "url")
        eq(props["link"], "product", "the link's data-link name")
        eq(props["campaign"], "news", "campaign")
        eq(props["step"], "send", "step")
        check(props["message"], "message")
        # A campaign triggered by "clicked" sends once: the event is an event like any other.
        poll(lambda: len(mails(d)) == 2, 10, "the follow-up")
        subjects = sorted(str(m["Subject"]) for m in mails(d))
        eq(subjects, ["News", "You clicked product"], "the follow-up saw the link's name")
        # A second link clicked: a second event, the message's unique click counted once.
        r = d.request("GET", path_of(page.hrefs[1]), auth=False)
        eq(r.headers.get("Location"), "https://shop.example/sale", "second link")
        poll(lambda: len(rows(d, "SELECT 1 FROM events WHERE type = 'clicked'")) == 2, 10,
             "second link's event")
        eq(rows(d, "SELECT metric, n FROM measure_counts WHERE campaign_id = 'news'"
                " AND metric IN ('clicked', 'clicks') ORDER BY metric"),
           [("clicked", 1.0), ("clicks", 4.0)], "counters: one message clicked, four clicks")
        # Forged and altered tokens: 400, redirect nowhere.
        token = link.split("/c/")[1]
        payload, sig = token.split(".")
        flipped = payload[:-1] + ("A" if payload[-1] != "A" else "B") + "." + sig
        for bad in [flipped, payload + "." + sig[::-1], "nonsense", token[:-3]]:
            r = d.request("GET", "/c/" + bad, auth=False)
            eq(r.status, 400, f"forged {bad}")
            check("Location" not in r.headers, "no redirect", r.headers)
        # An unsubscribe token is not a click token.
        unsub = path_of(page.hrefs[7]).split("/u/")[1]
        eq(d.request("GET", "/c/" + unsub, auth=False).status, 400, "another kind of token")
        eq(len(rows(d, "SELECT 1 FROM events WHERE type = 'clicked'")), 2, "nothing recorded")
    finally:
        d.cleanup()


@test
def transactional_and_opt_out_not_tracked():
    d = daemon(campaign("receipt", "purchase", "receipt", transactional=True),
               campaign("news", "newsletter", "news", track_clicks=False))
    try:
        d.start()
        eq(d.post_events(event("c1", "purchase", "p1")).status, 202)
        eq(d.post_events(event("c1", "newsletter", "n1", url=TARGET)).status, 202)
        poll(lambda: len(mails(d)) == 2, 10, "both mails")
        for m in mails(d):
            check("/c/" not in part(m, "text/html"), "not tracked", part(m, "text/html"))
        eq(rows(d, "SELECT count(*) FROM links"), [(0,)], "no targets kept")
    finally:
        d.cleanup()


@test
def text_links_when_asked_and_head_is_not_a_click():
    d = daemon(campaign("news", "newsletter", "news", track_clicks_text=True))
    try:
        d.start()
        eq(d.post_events(event("c1", "newsletter", "e1", url=TARGET + ".")).status, 202)
        poll(lambda: len(mails(d)) == 1, 10, "the mail")
        text = part(mails(d)[0], "text/plain")
        see, leave = text.splitlines()[:2]
        check(see.startswith("See " + PUBLIC + "/c/") and see.endswith("."),
              "the text's link tracked, its full stop kept", see)
        check(leave.startswith("Leave: " + PUBLIC + "/u/"), "the unsubscribe link is not", leave)
        eq(rows(d, "SELECT idx, url FROM links WHERE idx >= 3"), [(3, TARGET)],
           "after the HTML part's three links")
        path = path_of(see[4:-1])
        r = d.request("HEAD", path, auth=False)
        eq((r.status, r.headers.get("Location")), (302, TARGET), "HEAD redirects")
        eq(d.request("GET", path, auth=False).status, 302, "GET")
        poll(lambda: rows(d, "SELECT clicks FROM links WHERE idx = 3") == [(1,)], 10,
             "the GET counted")
        eq(rows(d, "SELECT clicks FROM links WHERE idx = 3"), [(1,)], "the HEAD was not")
    finally:
        d.cleanup()


@test
def open_pixel_only_when_asked():
    d = daemon(campaign("news", "newsletter", "news", track_opens=True))
    try:
        d.start()
        eq(d.post_events(event("c1", "newsletter", "e1", url=TARGET)).status, 202)
        poll(lambda: len(mails(d)) == 1, 10, "the mail")
        body = part(mails(d)[0], "text/html")
        pixel = body[body.index(PUBLIC + "/o/"):].split('"')[0]
        check(body.index(pixel) < body.lower().index("</body>"), "before </body>")
        r = d.request("GET", path_of(pixel), auth=False)
        eq((r.status, r.headers.get("Content-Type")), (200, "image/gif"), "the pixel")
        poll(lambda: rows(d, "SELECT n FROM measure_counts WHERE metric = 'opens'") == [(1.0,)],
             10, "the open counted")
        eq(d.request("GET", path_of(pixel)[:-2] + "xx", auth=False).status, 400, "forged")
    finally:
        d.cleanup()


def two_sends(cid, **extra):
    c = campaign(cid, "newsletter", "news", **extra)
    c["steps"] = [{"id": "first", "send": {"channel": "mail", "template": "news"}},
                  {"id": "second", "send": {"channel": "mail", "template": "news2"}}]
    return c


@test
def purchase_after_click_credits_that_message():
    goal = {"event": "purchase", "within": "7d", "value": "properties.total"}
    d = daemon(two_sends("news", goal=goal),
               two_sends("other", goal={"event": "purchase", "within": "1d"}))
    try:
        d.start()
        for cust in ("c1", "c2"):
            eq(d.post_events(event(cust, "newsletter", "n-" + cust, url=TARGET)).status, 202)
        poll(lambda: len(mails(d)) == 8, 10, "two mails of two campaigns for two customers")
        first = [m for m in mails(d) if str(m["Subject"]) == "News"
                 and m["To"].addresses[0].username == "c1"]
        page = Hrefs()
        page.feed(part(first[0], "text/html"))
        eq(d.request("GET", path_of(page.hrefs[0]), auth=False).status, 302, "click")
        poll(lambda: rows(d, "SELECT count(*) FROM events WHERE type = 'clicked'") == [(1,)],
             10, "the click recorded")
        clicked_campaign = rows(d, "SELECT o.campaign_id FROM links l JOIN outbox o"
                                " ON o.id = l.outbox_id WHERE l.clicks > 0")[0][0]
        eq(d.post_events(event("c1", "purchase", "p1", total=49.9)).status, 202)
        eq(d.post_events(event("c2", "purchase", "p2", total="20.10")).status, 202)
        poll(lambda: rows(d, "SELECT count(*) FROM conversions") == [(4,)], 10,
             "both purchases credited by both campaigns")
        got = rows(d, "SELECT c.campaign_id, cu.ext_id, c.step_id, c.via, c.revenue"
                   " FROM conversions c JOIN customers cu ON cu.id = c.customer_id"
                   " ORDER BY 1, 2")
        other = "other" if clicked_campaign == "news" else "news"
        want = sorted([
            (clicked_campaign, "c1", "first", "click",
             49.9 if clicked_campaign == "news" else 0.0),
            (other, "c1", "second", "send", 49.9 if other == "news" else 0.0),
            ("news", "c2", "second", "send", 20.1),
            ("other", "c2", "second", "send", 0.0),
        ])
        eq(got, want, "each purchase credited once per campaign, to the clicked message else "
           "the last sent, with the revenue of its goal's value")
        # The total across campaigns counts each purchase once.
        eq(rows(d, "SELECT metric, round(CAST(n AS numeric), 2) FROM measure_counts WHERE campaign_id = '*'"
                " ORDER BY metric"), [("converted", 2.0), ("revenue", 70.0)],
           "de-duplicated total")
    finally:
        d.cleanup()


@test
def goals_of_one_batch_see_the_sends_and_goals_before_them():
    """One request's events are consumed together; on PostgreSQL their goal candidates are
    read at once beforehand (engine_prefetch_goals). A send or goal earlier in the same batch
    still counts: the newsletter's send makes c1's first purchase a conversion, and that
    conversion keeps the second from counting again; c2, who got no mail, converts nothing."""
    d = daemon(campaign("news", "newsletter", "news",
                        goal={"event": "purchase", "within": "7d"}))
    try:
        d.start()
        r = d.post_events({"events": [event("c1", "newsletter", "n1"),
                                      event("c1", "purchase", "p1", total=10),
                                      event("c1", "purchase", "p2", total=20),
                                      event("c2", "purchase", "p3", total=30)]})
        eq(r.status, 202, r.raw)
        poll(lambda: d.events_unconsumed() == 0 and len(mails(d)) == 1, 10,
             "the batch consumed, the newsletter sent")
        eq(rows(d, "SELECT cu.ext_id, count(*) FROM journey_notes n JOIN customers cu"
                " ON cu.id = n.customer_id WHERE n.action = 'goal' GROUP BY 1"), [("c1", 1)],
           "one goal, c1's, once")
        eq(rows(d, "SELECT cu.ext_id, c.step_id, c.via FROM conversions c JOIN customers cu"
                " ON cu.id = c.customer_id"), [("c1", "send", "send")],
           "credited to the newsletter's send")
    finally:
        d.cleanup()


def experiment(cid, weights, holdout=None, wait=None):
    """On "newsletter": (a wait,) then one send whose variants A and B have WEIGHTS."""
    send = {"id": "send", "send": {"channel": "mail", "template": "news", "variants": [
        {"name": "a", "weight": weights[0]},
        {"name": "b", "weight": weights[1], "template": "news2"}]}}
    c = campaign(cid, "newsletter", "news")
    c["steps"] = ([{"id": "pause", "wait": wait}] if wait else []) + [send]
    c["goal"] = {"event": "purchase", "within": "7d", "value": "properties.total"}
    if holdout is not None:
        c["holdout"] = holdout
    return c


def simulate(campaigns, events):
    tmp = tempfile.mkdtemp(prefix="nt-measure-")
    try:
        os.makedirs(os.path.join(tmp, "campaigns"))
        os.makedirs(os.path.join(tmp, "templates"))
        for c in campaigns:
            with open(os.path.join(tmp, "campaigns", c["id"] + ".json"), "w") as f:
                json.dump(c, f)
        for name, text in TEMPLATES.items():
            with open(os.path.join(tmp, "templates", name), "w") as f:
                f.write(text)
        with open(os.path.join(tmp, "events.jsonl"), "w") as f:
            for e in events:
                f.write(json.dumps(e) + "\n")
        with open(os.path.join(tmp, "customers.jsonl"), "w") as f:
            for cust in sorted({e["customer"] for e in events}):
                f.write(json.dumps({"id": cust, "email": cust + "@example.com"}) + "\n")
        r = run_cli("simulate", "--campaigns", os.path.join(tmp, "campaigns"), "--templates",
                    os.path.join(tmp, "templates"), "--events", os.path.join(tmp, "events.jsonl"),
                    "--customers", os.path.join(tmp, "customers.jsonl"), "--until", "1d",
                    "--json", timeout=300)
        eq(r.returncode, 0, "simulate: " + r.stderr)
        return [json.loads(line) for line in r.stdout.splitlines()]
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


@test
def variants_split_in_proportion_holdout_gets_nothing():
    """4,000 simulated customers (ids cust-0 .. cust-3999, a fixed seed for the keyed hash):
    holdout 10 %, then variants a:b = 70:30; a chi-square goodness-of-fit test (SciPy) must not
    reject the configured split at the 0.1 % level, and the split is the same on a second run."""
    from scipy.stats import chisquare
    n = 4000
    events = [{"id": f"e{i}", "customer": f"cust-{i}", "type": "newsletter",
               "time": "2026-01-05T10:00:00Z"} for i in range(n)]
    tl = simulate([experiment("exp", [70, 30], holdout=10)], events)
    arms = {t["customer"]: t["arm"] for t in tl if t["action"] == "enter"}
    eq(len(arms), n, "every customer entered and shows its arm")
    counts = [sum(1 for a in arms.values() if a == k) for k in ("holdout", "a", "b")]
    expected = [n * 0.10, n * 0.90 * 0.70, n * 0.90 * 0.30]
    stat, p = chisquare(counts, expected)
    check(p > 0.001, "the split follows the weights", counts, expected, p)
    sends = {t["customer"]: t["template"] for t in tl if t["action"] == "send"}
    for cust, arm in arms.items():
        if arm == "holdout":
            check(cust not in sends, "a holdout customer gets nothing", cust)
        else:
            eq(sends.get(cust), {"a": "news", "b": "news2"}[arm], f"{cust} got its variant")
    skips = [t for t in tl if t["action"] == "skip" and t["reason"] == "holdout"]
    eq(len(skips), counts[0], "each holdout send is a skip named holdout")
    again = simulate([experiment("exp", [70, 30], holdout=10)], events)
    eq({t["customer"]: t["arm"] for t in again if t["action"] == "enter"}, arms,
       "deterministic: the same arms again")


@test
def reload_changing_weights_keeps_assignments():
    d = daemon(experiment("exp", [50, 50], holdout=20, wait="3s"))
    try:
        d.start()
        custs = [f"r{i}" for i in range(40)]
        eq(d.post_events({"events": [event(c, "newsletter", "n-" + c) for c in custs]}).status,
           202)
        poll(lambda: rows(d, "SELECT count(*) FROM assignments") == [(40,)], 10, "assigned")
        before = dict(rows(d, "SELECT cu.ext_id, a.arm FROM assignments a JOIN customers cu"
                              " ON cu.id = a.customer_id"))
        check(set(before.values()) == {"holdout", "a", "b"}, "all arms present", before)
        version = rows(d, "SELECT DISTINCT exp_version FROM assignments")
        d.write_campaign(experiment("exp", [5, 95], holdout=20, wait="3s"))
        d.proc.send_signal(signal.SIGHUP)
        poll(lambda: "reload" in d.read_log().lower(), 10, "the reload")
        # Their sends happen after the reload, on what was recorded.
        poll(lambda: rows(d, "SELECT count(*) FROM journey_notes WHERE action IN ('send', "
                             "'skip') AND step_id = 'send'") == [(40,)], 20, "all sends")
        after = dict(rows(d, "SELECT cu.ext_id, a.arm FROM assignments a JOIN customers cu"
                             " ON cu.id = a.customer_id"))
        eq(after, before, "nobody moved")
        sent = dict(rows(d, "SELECT cu.ext_id, o.template FROM outbox o JOIN customers cu"
                            " ON cu.id = o.customer_id WHERE o.state <> 'skipped'"))
        for cust, arm in before.items():
            if arm == "holdout":
                check(cust not in sent, "holdout gets nothing", cust)
            else:
                eq(sent.get(cust), {"a": "news", "b": "news2"}[arm], cust)
        poll(lambda: len(mails(d)) == sum(1 for a in before.values() if a != "holdout"), 10,
             "the mails")
        holdout_mail = [m for m in mails(d)
                        if before[m["To"].addresses[0].username] == "holdout"]
        eq(holdout_mail, [], "no holdout customer received a mail")
        # A customer entering now is assigned under the new experiment version.
        eq(d.post_events(event("late", "newsletter", "n-late")).status, 202)
        poll(lambda: len(rows(d, "SELECT 1 FROM assignments")) == 41, 10, "late assigned")
        v2 = rows(d, "SELECT DISTINCT exp_version FROM assignments")
        eq(len(v2), 2, "a new experiment version for the new weights")
        check(version[0] in v2, "the old version kept", version, v2)
    finally:
        d.cleanup()


def mail_of(d, cust):
    got = [m for m in mails(d) if m["To"].addresses[0].username == cust]
    eq(len(got), 1, f"one mail for {cust}")
    page = Hrefs()
    page.feed(part(got[0], "text/html"))
    return page.hrefs


@test
def variants_may_differ_only_in_the_subject():
    """Two variants of one template: each mail carries its arm's subject (rendered as a
    template); a bad subject is refused with file:line:col, and nothing starts."""
    c = campaign("subj", "newsletter", "news")
    c["steps"][0]["send"]["variants"] = [
        {"name": "a", "weight": 1, "subject": "Hello {{customer.name}}, news for you"},
        {"name": "b", "weight": 1, "subject": "Last chance!"}]
    d = daemon(c)
    try:
        d.start()
        custs = [f"v{i}" for i in range(12)]
        eq(d.post_events({"events": [event(x, "newsletter", f"n-{x}", url="https://x.example/")
                                     for x in custs]}).status, 202, "events")
        poll(lambda: len(mails(d)) == 12, 20, "twelve mails")
        arms = dict(rows(d, "SELECT c.ext_id, a.arm FROM assignments a JOIN customers c"
                            " ON c.id = a.customer_id"))
        want = {"a": "Hello Ann, news for you", "b": "Last chance!"}
        got = {m["To"].addresses[0].username: m["Subject"] for m in mails(d)}
        eq(got, {x: want[arms[x]] for x in custs}, "each mail has its arm's subject")
        eq(sorted(set(arms.values())), ["a", "b"], "both arms used")
        check(all("See https://x.example/" in (part(m, "text/plain") or "") for m in mails(d)),
              "the body is the template's")
        d.stop()
        for bad, msg in (("", "'subject' must be one line"),
                         ("two\nlines", "'subject' must be one line"),
                         (7, "'subject' must be one line of 1 to 998 characters (a Mustache"
                             " template), not a number"),
                         ("Hi {{#x}}", "'subject' is not a valid template")):
            c["steps"][0]["send"]["variants"][1]["subject"] = bad
            text = json.dumps(c, indent=2)
            with open(os.path.join(d.tmp, "campaigns", "subj.json"), "w") as f:
                f.write(text)
            line = next(i for i, t in enumerate(text.split("\n"), 1) if '"Last' in t or
                        ('"subject"' in t and "Hello" not in t))
            r = run_cli("check", "-c", d.config_path)
            eq(r.returncode, 1, f"check refuses {bad!r}")
            check(f"subj.json:{line}:" in r.stderr and msg in r.stderr,
                  f"file:line:col and why for {bad!r}", r.stderr)
    finally:
        d.cleanup()


@test
def statistics_match_hand_counts():
    d = daemon(experiment("exp", [50, 50], holdout=25))
    try:
        d.start()
        custs = [f"s{i}" for i in range(16)]
        eq(d.post_events({"events": [event(c, "newsletter", "n-" + c) for c in custs]}).status,
           202)
        poll(lambda: rows(d, "SELECT count(*) FROM journey_notes WHERE step_id = 'send'")
             == [(16,)], 10, "all sends decided")
        arm = dict(rows(d, "SELECT cu.ext_id, a.arm FROM assignments a JOIN customers cu"
                           " ON cu.id = a.customer_id"))
        treated = [c for c in custs if arm[c] != "holdout"]
        held = [c for c in custs if arm[c] == "holdout"]
        check(len(treated) >= 4 and len(held) >= 1, "enough of each", arm)
        poll(lambda: len(mails(d)) == len(treated), 10, "the mails")
        # Clicks: t0 twice on its first link, t1 once, t2 on two links (variant b has one).
        t0, t1, t2, t3 = treated[:4]
        clicks = [(t0, 0), (t0, 0), (t1, 0), (t2, 0)]
        if arm[t2] == "a":
            clicks.append((t2, 1))
        for cust, i in clicks:
            eq(d.request("GET", path_of(mail_of(d, cust)[i]), auth=False).status, 302)
        poll(lambda: rows(d, "SELECT sum(clicks) FROM links") == [(len(clicks),)], 10,
             "clicks recorded")
        # t3 leaves by its unsubscribe link, twice (counted once).
        unsub = [h for h in mail_of(d, t3) if h and "/u/" in h][0]
        for _ in range(2):
            eq(d.request("POST", path_of(unsub), auth=False, raw="List-Unsubscribe=One-Click",
                         headers={"Content-Type": "application/x-www-form-urlencoded"}).status,
               200)
        # Purchases: t0 (10), t1 (20), t3 (5, no click), and a holdout customer (7).
        buys = [(t0, 10), (t1, 20), (t3, 5), (held[0], 7)]
        for cust, total in buys:
            eq(d.post_events(event(cust, "purchase", "p-" + cust, total=total)).status, 202)
        poll(lambda: rows(d, "SELECT count(*) FROM assignments WHERE converted_ms IS NOT NULL")
             == [(4,)], 10, "conversions by arm")
        r = d.request("GET", "/v1/campaigns/exp/stats")
        eq(r.status, 200, r.raw)
        body = json.loads(r.raw)
        m = body["measure"]
        eq(m["recipients"], len(treated), "recipients: the treated customers' mails")
        eq(m["clicked"], 3, "three messages clicked")
        eq(m["clicks"], len(clicks), "every click")
        eq(m["converted"], 3, "three purchases credited to messages (the holdout's is not)")
        eq(m["revenue"], 35.0, "their revenue")
        eq(m["unsubscribes"], 1, "one unsubscribe, however often the link is used")
        eq(m["click_rate"], {"value": 3 / len(treated), "denominator": "recipients",
                             "of": len(treated)}, "click rate names its denominator")
        eq(m["revenue_per_recipient"]["value"], 35.0 / len(treated), "revenue per recipient")
        urls = {}
        for cust, i in clicks:
            urls.setdefault("https://shop.example/again" if arm[cust] == "b"
                            else ["https://shop.example/p?a=1&b=2",
                                  "https://shop.example/sale"][i], 0)
        for cust, i in clicks:
            u = ("https://shop.example/again" if arm[cust] == "b"
                 else ["https://shop.example/p?a=1&b=2", "https://shop.example/sale"][i])
            urls[u] += 1
        eq({l["url"]: l["clicks"] for l in m["links"]}, urls, "per-link clicks")
        eq([st["step"] for st in m["steps"]], ["send"], "one step")
        by_variant = {v["variant"]: v for v in m["steps"][0]["variants"]}
        for v in ("a", "b"):
            mine = [c for c in treated if arm[c] == v]
            eq(by_variant[v]["recipients"], len(mine), f"variant {v} recipients")
            eq(by_variant[v]["clicked"], len({c for c, _ in clicks if arm[c] == v}),
               f"variant {v} clicked")
            eq(by_variant[v]["converted"], len([c for c, _ in buys if c in mine]),
               f"variant {v} converted")
            eq(by_variant[v]["revenue"], float(sum(t for c, t in buys if c in mine)),
               f"variant {v} revenue")
        eq(m["all_campaigns"]["converted"], 3, "across campaigns")
        x = body["experiment"]
        eq(x["control"], "holdout", "the holdout is the control")
        arms = {a["arm"]: a for a in x["arms"]}
        for name in set(arm.values()):
            mine = [c for c in custs if arm[c] == name]
            a = arms[name]
            eq(a["entered"], len(mine), f"{name} entered")
            eq(a["sent"], 0 if name == "holdout" else len(mine), f"{name} sent")
            eq(a["clicked"], len({c for c, _ in clicks if arm[c] == name}), f"{name} clicked")
            conv = [c for c, _ in buys if arm[c] == name]
            eq(a["converted"], len(conv), f"{name} converted")
            eq(a["revenue"], float(sum(t for c, t in buys if arm[c] == name)), f"{name} revenue")
            eq(a["conversion_rate"]["denominator"], "entered", "denominator")
            lo, hi = a["conversion_rate"]["ci95"]
            check(lo <= len(conv) / len(mine) <= hi, "the interval holds the rate", a)
            if name != "holdout":
                vs = a["vs_control"]
                eq(vs["test"], "Fisher's exact test", "small cells: Fisher")
                check(vs["too_small"] and vs["verdict"] == "sample too small to tell",
                      "says plainly the sample is too small", vs)
        ctl = os.path.join(os.environ.get("NT_BUILDDIR") or
                           os.path.join(os.path.dirname(__file__), "..", ".."), "nurturectl")
        env = {k: v for k, v in os.environ.items() if not k.startswith("NURTURED_")}
        env["HOME"] = d.tmp
        p = subprocess.run([ctl, "--url", f"http://127.0.0.1:{d.port}", "--token", TOKEN,
                            "stats", "exp"], capture_output=True, text=True, timeout=30, env=env)
        eq(p.returncode, 0, p.stderr)
        check("experiment (control: holdout)" in p.stdout and "of %d recipients"
              % len(treated) in p.stdout and "sample too small to tell" in p.stdout,
              "nurturectl shows the figures", p.stdout)
    finally:
        d.cleanup()


if __name__ == "__main__":
    run_all()
