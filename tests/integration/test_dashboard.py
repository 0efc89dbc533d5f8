#!/usr/bin/python3
"""The dashboard at /ui/ in a real browser (issue 22): Debian's chromium, headless, driven by
selenium, against the real daemon loaded with the demo's data (conf/demo) and the example
campaigns, its mail going to a real SMTP server (aiosmtpd). Screenshots of the main pages go
to tests/integration/test_dashboard-screenshots/ in the build directory."""
import hashlib
import hmac
import html
import http.client
import json
import os
import re
import shutil
import sqlite3
import sys
import time
import urllib.parse
from datetime import datetime, timedelta, timezone

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from ntest import TOKEN, Daemon, check, eq, poll, run_all, skip, test  # noqa: E402
from smtp_server import SmtpServer  # noqa: E402

SRC = os.environ.get("NT_SRCDIR") or os.path.join(os.path.dirname(__file__), "..", "..")
OUT = os.path.join(os.environ.get("NT_BUILDDIR") or os.path.join(SRC),
                   "tests", "integration", "test_dashboard-screenshots")
CHROMIUM = "/usr/bin/chromium"
CHROMEDRIVER = "/usr/bin/chromedriver"
ADMIN = "admin-token-0123456789abcdef"
READ = "read-token-0123456789abcdef"
EVIL = "<img src=x onerror=alert(1)><script>alert(2)</script>"


def browser():
    """Headless chromium, or a skip when the machine has none (test.sh installs it)."""
    try:
        from selenium import webdriver
        from selenium.webdriver.chrome.service import Service
    except ImportError:
        skip("python3-selenium is not installed")
    if not (os.path.exists(CHROMIUM) and os.path.exists(CHROMEDRIVER)):
        skip("chromium or chromium-driver is not installed")
    opts = webdriver.ChromeOptions()
    opts.binary_location = CHROMIUM
    opts.add_argument("--headless=new")
    opts.add_argument("--window-size=1280,1000")
    opts.add_argument("--disable-dev-shm-usage")
    opts.add_argument("--disable-gpu")
    if os.geteuid() == 0:
        opts.add_argument("--no-sandbox")
    return webdriver.Chrome(service=Service(CHROMEDRIVER), options=opts)


def demo_events():
    """conf/demo/events.jsonl with its "@Nd@" times made N days before now, as demo.sh does."""
    out = []
    with open(os.path.join(SRC, "conf", "demo", "events.jsonl")) as f:
        for line in f:
            for n in set(re.findall(r"@(\d+)d@", line)):
                t = datetime.now(timezone.utc) - timedelta(days=int(n))
                line = line.replace(f"@{n}d@", t.strftime("%Y-%m-%dT%H:%M:%SZ"))
            out.append(json.loads(line))
    return out


class Env:
    def __init__(self):
        self.smtp = SmtpServer().start()
        self.d = Daemon({
            "api_tokens": [ADMIN, {"token": READ, "role": "read"}],
            "campaigns_dir": os.path.join(SRC, "campaigns"),
            "templates_dir": os.path.join(SRC, "campaigns", "templates"),
            "mail_from": {"name": "Fernhill Home", "address": "hello@fernhill.example"},
            "ui": os.path.join(SRC, "ui"),
            "channels": {
                "mail": {"plugin": "smtp", "host": "127.0.0.1", "port": self.smtp.port,
                         "starttls": "none", "retry": {"initial": "1h", "max": "1h"}},
                "helpdesk": {"plugin": "maildir", "internal": True,
                             "to": "helpdesk@localhost.localdomain"}}})
        self.d.config["channels"]["helpdesk"]["path"] = os.path.join(self.d.tmp, "helpdesk")
        self.d.write_config()
        self.d.start()
        with open(os.path.join(SRC, "conf", "demo", "customers.jsonl")) as f:
            for line in f:
                eq(self.api("POST", "/v1/customers", json.loads(line)).status, 200, "customer")
        eq(self.api("POST", "/v1/events", {"events": demo_events()}).status, 202, "events")
        self.url = f"http://127.0.0.1:{self.d.port}"
        self.b = None

    def api(self, method, path, body=None, token=ADMIN):
        return self.d.request(method, path, body=body, token=token)

    def shot(self, name):
        os.makedirs(OUT, exist_ok=True)
        self.b.save_screenshot(os.path.join(OUT, name + ".png"))

    def go(self, path):
        self.b.get(self.url + path)
        hold_still(self.b)

    def login(self, token):
        from selenium.webdriver.common.by import By
        self.go("/ui/")
        check("/ui/login" in self.b.current_url, "a page without a session sends to the login",
              self.b.current_url)
        self.b.find_element(By.ID, "token").send_keys(token)
        submit(self.b, self.b.find_element(By.ID, "login"))
        poll(lambda: self.b.current_url.endswith("/ui/"), 10, "the overview after the login")

    def logout(self):
        from selenium.webdriver.common.by import By
        submit(self.b, self.b.find_element(By.CSS_SELECTOR, "form.logout button"))
        poll(lambda: "/ui/login" in self.b.current_url, 10, "the login page after the logout")

    def close(self):
        try:
            if self.b is not None:
                self.b.quit()
        finally:
            self.d.stop()
            self.smtp.stop()
            self.d.cleanup()

    def post_form(self, path, fields, cookie=None):
        """A form POST outside the browser (a forger's), with COOKIE as the session."""
        conn = http.client.HTTPConnection("127.0.0.1", self.d.port, timeout=10)
        h = {"Content-Type": "application/x-www-form-urlencoded"}
        if cookie:
            h["Cookie"] = "nt_session=" + cookie
        conn.request("POST", path, body=urllib.parse.urlencode(fields), headers=h)
        r = conn.getresponse()
        body = r.read().decode()
        conn.close()
        return r.status, body


FORM = {"Content-Type": "application/x-www-form-urlencoded"}


def http_login(d, token=TOKEN):
    """Logs in over plain HTTP: the session cookie's value."""
    r = d.request("POST", "/ui/login", auth=False, raw="token=" + urllib.parse.quote(token),
                  headers=FORM)
    eq(r.status, 303, f"the login: {r.raw}")
    return re.search(r"nt_session=([^;]+)", r.headers.get("Set-Cookie", "")).group(1)


def page(d, path, cookie, method="GET", fields=None):
    """PATH with the session COOKIE; a POST sends FIELDS as a form."""
    raw = urllib.parse.urlencode(fields) if fields is not None else None
    return d.request(method, path, auth=False, raw=raw,
                     headers={"Cookie": "nt_session=" + cookie, **(FORM if raw else {})})


def csrf_of(html):
    return re.search(r'name="csrf" value="([0-9a-f]{32})"', html).group(1)


def by_id(html, ident):
    """The text of the element with id IDENT in HTML (a simple element, no nesting)."""
    m = re.search(r'id="' + re.escape(ident) + r'"[^>]*>([^<]*)<', html)
    return m.group(1) if m else None


def counters_match_a_recount(d):
    """The overview's counters (kept by triggers) against a recount of their tables, read from
    the store directly (the SQLite file opened read-only, or PostgreSQL): messages per
    creation day, channel and state; suppressions per day added and in all."""
    def rows(sql):
        return {tuple(r) for r in d.sql(sql)}
    # On PostgreSQL (issue 21) the counters plus the deltas not folded yet, as the daemon
    # reads them.
    pg = "_all" if d.on_postgresql() else ""
    kept = rows(f"SELECT day, channel, state, n FROM outbox_days{pg} WHERE n <> 0")
    counted = rows("SELECT created_ms / 86400000, channel, state, count(*)"
                   " FROM outbox GROUP BY 1, 2, 3")
    eq(kept, counted, "outbox_days equals a recount of the outbox")
    kept = rows(f"SELECT day, n FROM suppression_days{pg} WHERE n <> 0")
    counted = rows("SELECT created_ms / 86400000, count(*) FROM suppressions"
                   " GROUP BY 1 UNION ALL SELECT -1, count(*) FROM suppressions")
    eq(kept, {x for x in counted if x[1] != "0"}, "suppression_days equals a recount")
    return int(d.sql("SELECT count(*) FROM outbox")[0][0])


def hold_still(b):
    """Cancels the page's timers: the overview and the campaigns page reload themselves every
    30 s, and a reload in the middle of a step (a slow, loaded machine) would leave the test
    holding elements of the old page."""
    b.execute_script("var id = window.setTimeout(function () {}, 0);"
                     " while (id > 0) { window.clearTimeout(id); id--; }")


def gone(old):
    """Whether OLD's document was left. Chromium 156 answers a touch of an element of a page
    being replaced with "Node with given id does not belong to the document", not a stale
    element, and selenium's staleness_of let that through (test_dashboard failed 2 runs in 5)."""
    from selenium.common.exceptions import StaleElementReferenceException, WebDriverException
    try:
        old.is_enabled()
        return False
    except StaleElementReferenceException:
        return True
    except WebDriverException as e:
        if "does not belong to the document" in str(e):
            return True
        raise


def submit(b, element, confirmed=False):
    """Clicks ELEMENT (accepting the confirm dialog when CONFIRMED) and waits for the page it
    leads to: the old document gone, the new one loaded."""
    from selenium.webdriver.common.by import By
    old = b.find_element(By.TAG_NAME, "html")
    element.click()
    if confirmed:
        confirm(b)
    poll(lambda: gone(old), 20, "the old page left")
    poll(lambda: b.execute_script("return document.readyState") == "complete", 20,
         "the page loaded")
    hold_still(b)


def cells(b, selector):
    from selenium.webdriver.common.by import By
    return [e.text for e in b.find_elements(By.CSS_SELECTOR, selector)]


def confirm(b):
    """Accepts the confirm dialog the page's script shows before a change."""
    poll(lambda: _alert(b), 5, "the confirm dialog").accept()


def _alert(b):
    from selenium.common.exceptions import NoAlertPresentException
    try:
        return b.switch_to.alert
    except NoAlertPresentException:
        return None


@test
def the_dashboard_in_a_browser():
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import Select
    if os.path.isdir(OUT):
        shutil.rmtree(OUT)
    env = Env()
    try:
        env.b = browser()
        b = env.b
        # 1. Log in with the demo's data.
        poll(lambda: env.api("GET", "/v1/messages?customer=anna").json["messages"], 10,
             "the demo's first message to Anna")
        env.login(ADMIN)
        eq(b.find_element(By.ID, "role").text, "admin", "the session's role")
        check(b.find_element(By.TAG_NAME, "svg") is not None, "the overview's chart")
        env.shot("overview")

        # 2. The demo's campaigns with their counts, as the API counts them.
        env.go("/ui/campaigns")
        api = {c["id"]: c for c in env.api("GET", "/v1/campaigns").json["campaigns"]}
        rows = b.find_elements(By.CSS_SELECTOR, "#campaigns tr[data-campaign]")
        eq(sorted(r.get_attribute("data-campaign") for r in rows), sorted(api),
           "every campaign listed")
        row = b.find_element(By.CSS_SELECTOR, "tr[data-campaign='post-purchase']")
        stats = env.api("GET", "/v1/campaigns/post-purchase/stats").json
        eq((row.find_element(By.CLASS_NAME, "entered").text,
            row.find_element(By.CLASS_NAME, "active").text,
            row.find_element(By.CLASS_NAME, "sent").text),
           (str(api["post-purchase"]["entered"]), str(api["post-purchase"]["active"]),
            str(stats["sent"])), "post-purchase's entered, active and sent")
        check(api["post-purchase"]["entered"] >= 2, "the demo's orders entered post-purchase",
              api)
        env.shot("campaigns")
        env.go("/ui/campaigns/post-purchase")
        svg = b.find_element(By.CSS_SELECTOR, "svg.journey")
        for step in ("trigger", "thanks", "satisfaction-check", "review-ask"):
            check(step in svg.text, f"the journey diagram shows {step}", svg.text)
        passed = env.api("GET", "/v1/campaigns/post-purchase/stats").json["passed"]
        check(passed.get("thanks", 0) >= 2 and f"passed {passed['thanks']}" in svg.text,
              "the diagram shows the journeys that passed each step", passed, svg.text)
        env.shot("campaign")

        # 3. A customer's timeline: the messages and their reasons.
        env.go("/ui/customers")
        b.find_element(By.ID, "q").send_keys("anna s")
        submit(b, b.find_element(By.ID, "search"))
        eq(cells(b, "#customers td.name"), ["Anna Schmidt"], "found by the start of the name")
        submit(b, b.find_element(By.CSS_SELECTOR, "a.customer"))
        poll(lambda: "/ui/customers/anna" in b.current_url, 10, "Anna's page")
        text = b.find_element(By.ID, "timeline").text
        for m in env.api("GET", "/v1/messages?customer=anna").json["messages"]:
            check(f"message #{m['id']} {m['state']}" in text, f"message {m['id']} listed", text)
            why = m.get("reason") or m.get("last_reply")
            if why:
                check(why in text, f"message {m['id']}'s reason shown", why, text)
        notes = env.api("GET", "/v1/customers/anna").json["notes"]
        for n in notes:
            if n.get("reason"):
                check(n["reason"] in text, "the engine's reasons shown", n, text)
        env.shot("customer")

        # 4. Pause a campaign; the engine then starts no journey in it.
        env.go("/ui/campaigns")
        submit(b, b.find_element(By.CSS_SELECTOR,
                                 "tr[data-campaign='post-purchase'] button.pause"),
               confirmed=True)
        poll(lambda: "/ui/campaigns/post-purchase" in b.current_url, 10, "back to the campaign")
        eq(b.find_element(By.ID, "status").text, "paused", "shown paused")
        eq({c["id"]: c["status"] for c in env.api("GET", "/v1/campaigns").json["campaigns"]}
           ["post-purchase"], "paused", "paused in the daemon")
        eq(env.api("POST", "/v1/customers", {"id": "paul", "email": "paul@example.org",
                                            "name": "Paul"}).status, 200, "paul")
        eq(env.api("POST", "/v1/events", {"customer": "paul", "type": "purchase",
                                           "id": "paul-1"}).status, 202, "paul buys")
        c = poll(lambda: (lambda c: c if c["events"] else None)(
            env.api("GET", "/v1/customers/paul").json), 10, "paul's purchase stored")
        eq([j["campaign"] for j in c["journeys"] if j["campaign"] == "post-purchase"], [],
           "the paused campaign started no journey")
        submit(b, b.find_element(By.CSS_SELECTOR, "button.resume"))
        poll(lambda: b.find_element(By.ID, "status").text == "active", 10, "resumed")

        # 5. A template rendered for a customer.
        env.go("/ui/templates")
        Select(b.find_element(By.ID, "step")).select_by_value("post-purchase/thanks")
        b.find_element(By.ID, "customer").send_keys("anna")
        b.find_element(By.ID, "event").send_keys(
            '{"type": "purchase", "properties": {"order_id": "4711"}}')
        submit(b, b.find_element(By.ID, "preview"))
        headers = b.find_element(By.ID, "headers").text
        check("Subject" in headers and "Anna Schmidt" in headers and "4711" in headers,
              "the rendered headers, the event's order in the subject", headers)
        text = b.find_element(By.ID, "mail-text").text
        check("Anna" in text and "4711" in text, "the text part", text)
        frame = b.find_element(By.ID, "mail-html")
        eq(frame.get_attribute("sandbox"), "", "the HTML preview sandboxed, without scripts")
        b.switch_to.frame(frame)
        body = b.find_element(By.TAG_NAME, "body").text
        check("Anna" in body and "4711" in body, "the HTML part in its frame", body)
        b.switch_to.default_content()
        env.shot("template")

        # 6. A deferred message, retried from its page.
        env.smtp.set(tempfail_rcpt=1000)
        eq(env.api("POST", "/v1/customers", {"id": "dora", "email": "dora@example.org",
                                            "name": "Dora"}).status, 200, "dora")
        eq(env.api("POST", "/v1/events", {"customer": "dora", "type": "purchase",
                                           "id": "dora-1"}).status, 202, "dora buys")
        m = poll(lambda: [m for m in env.api("GET", "/v1/messages?customer=dora").json["messages"]
                          if m["state"] == "deferred"], 20, "dora's message deferred")[0]
        env.smtp.set(tempfail_rcpt=0)
        env.go("/ui/messages?state=deferred&channel=helpdesk")
        eq(b.find_elements(By.CSS_SELECTOR, "tr[data-message]"), [], "none on the helpdesk")
        env.go("/ui/messages")
        Select(b.find_element(By.ID, "state")).select_by_visible_text("deferred")
        b.find_element(By.NAME, "channel").send_keys("mail")
        submit(b, b.find_element(By.ID, "filter"))
        eq([r.get_attribute("data-message")
            for r in b.find_elements(By.CSS_SELECTOR, "tr[data-message]")], [str(m["id"])],
           "filtered by state and channel: dora's message")
        submit(b, b.find_element(By.CSS_SELECTOR, f"tr[data-message='{m['id']}'] a"))
        eq(b.find_element(By.ID, "state").text, "deferred", "shown deferred")
        check("451" in b.find_element(By.ID, "last-reply").text, "with the server's reply")
        env.shot("message")
        submit(b, b.find_element(By.ID, "retry"), confirmed=True)
        poll(lambda: env.api("GET", f"/v1/messages/{m['id']}").json["state"] == "sent", 20,
             "the retried message sent")
        check(any(x.rcpts == ["dora@example.org"] for x in env.smtp.messages),
              "the server has it")
        env.go(f"/ui/messages/{m['id']}")
        eq(b.find_element(By.ID, "state").text, "sent", "shown sent")

        # 8. A name with markup is text, and no script runs.
        eq(env.api("POST", "/v1/customers", {"id": "eve", "email": "eve@example.org",
                                            "name": EVIL}).status, 200, "eve")
        env.go("/ui/customers/eve")
        eq(b.find_element(By.ID, "customer-name").text, EVIL, "the name shown as text")
        eq(b.find_elements(By.CSS_SELECTOR, "main img, main script"), [], "no element made")
        eq(_alert(b), None, "no alert")
        env.go("/ui/customers?q=eve")
        eq(cells(b, "#customers td.name"), [EVIL], "in the search too")
        eq(_alert(b), None, "no alert")

        # The suppression list: add, see it counted, remove; erase a customer.
        env.go("/ui/suppressions")
        b.find_element(By.ID, "add-address").send_keys("zed@example.org")
        submit(b, b.find_element(By.ID, "add"))
        poll(lambda: "zed@example.org" in cells(b, "#suppressions td.address"), 10,
             "the address listed")
        eq([x["address"] for x in env.api("GET", "/v1/suppressions").json["suppressions"]],
           ["zed@example.org"], "suppressed in the daemon")
        env.go("/ui/")
        eq(b.find_element(By.ID, "suppressions-added").text, "1", "counted on the overview")
        env.go("/ui/suppressions")
        submit(b, b.find_element(By.CSS_SELECTOR, "#suppressions button.remove"), confirmed=True)
        poll(lambda: cells(b, "#suppressions td.address") == [], 10, "the address removed")
        eq(env.api("GET", "/v1/suppressions").json["suppressions"], [], "gone in the daemon")
        env.go("/ui/customers/eve")
        submit(b, b.find_element(By.ID, "erase"), confirmed=True)
        check("type the customer" in b.find_element(By.ID, "error").text.lower(),
              "an erasure needs the id typed", b.find_element(By.ID, "error").text)
        eq(env.api("GET", "/v1/customers/eve").status, 200, "not erased without it")
        env.go("/ui/customers/eve")
        b.find_element(By.ID, "confirm").send_keys("eve")
        submit(b, b.find_element(By.ID, "erase"), confirmed=True)
        poll(lambda: "/ui/customers?erased=eve" in b.current_url, 10, "back to the search")
        eq(env.api("GET", "/v1/customers/eve").status, 410, "erased")

        # 9. A POST without the CSRF token, or with a wrong one, is refused.
        cookie = b.get_cookie("nt_session")
        check(cookie["httpOnly"] and cookie.get("sameSite") == "Strict",
              "the cookie is HttpOnly and SameSite=Strict", cookie)
        for fields in ({}, {"csrf": "0" * 32}):
            status, _ = env.post_form("/ui/campaigns/post-purchase/pause", fields,
                                      cookie["value"])
            eq(status, 403, f"a POST with {fields or 'no CSRF token'}")
        eq(env.post_form("/ui/campaigns/post-purchase/pause", {})[0], 403, "without a session")
        eq({c["id"]: c["status"] for c in env.api("GET", "/v1/campaigns").json["campaigns"]}
           ["post-purchase"], "active", "nothing paused")

        # 7. A read token: no buttons, and the API refuses its POSTs.
        env.logout()
        env.login(READ)
        eq(b.find_element(By.ID, "role").text, "read", "the session's role")
        env.go("/ui/campaigns")
        eq(b.find_elements(By.CSS_SELECTOR, "button.pause, button.resume"), [],
           "no pause or resume buttons")
        env.go(f"/ui/messages/{m['id']}")
        eq(b.find_elements(By.ID, "retry"), [], "no retry button")
        env.go("/ui/customers/anna")
        eq(b.find_elements(By.ID, "erase"), [], "no erase button")
        env.go("/ui/suppressions")
        eq(b.find_elements(By.ID, "add"), [], "no suppress button")
        env.shot("read-only")
        csrf = b.find_element(By.CSS_SELECTOR, "form.logout input[name=csrf]").get_attribute(
            "value")
        status, _ = env.post_form("/ui/campaigns/post-purchase/pause", {"csrf": csrf},
                                  b.get_cookie("nt_session")["value"])
        eq(status, 403, "the read session's POST refused, even with its CSRF token")
        for path in ("/v1/campaigns/post-purchase/pause", "/v1/messages/1/retry"):
            eq(env.api("POST", path, token=READ).status, 403, f"POST {path} with the read token")
        eq({c["id"]: c["status"] for c in env.api("GET", "/v1/campaigns").json["campaigns"]}
           ["post-purchase"], "active", "still active")
        # Logging out revokes the session in the daemon: a copy of its cookie is no session.
        copied = b.get_cookie("nt_session")["value"]
        eq(page(env.d, "/ui/campaigns", copied).status, 200, "the copied cookie works first")
        env.logout()
        r = page(env.d, "/ui/campaigns", copied)
        eq((r.status, r.headers.get("Location")), (303, "/ui/login"),
           "the copied cookie after the logout: the login page")
        eq(page(env.d, "/ui/logout", copied, "POST", {"csrf": csrf}).status, 403,
           "and no form is taken from it")
        # At least three messages, so that the comparison is not of empty tables: a fourth,
        # the quote follow-up, is deferred unwritten during its customer's quiet hours
        # (20:00-08:00 in Berlin), so the count depends on the time of day.
        check(counters_match_a_recount(env.d) >= 3, "the scenario sent messages")
        print(f"# screenshots in {OUT}", flush=True)
    finally:
        env.close()


@test
def the_pages_send_a_strict_policy():
    d = Daemon({"ui": os.path.join(SRC, "ui")}).start()
    try:
        r = d.request("GET", "/ui/login", auth=False)
        eq(r.status, 200, "the login page")
        csp = r.headers.get("Content-Security-Policy", "")
        for part in ("script-src 'self'", "frame-ancestors 'none'", "default-src 'none'"):
            check(part in csp, f"the CSP has {part}", csp)
        check("unsafe-inline" not in csp.split("style-src")[0], "no inline script", csp)
        check(not re.search(r"<script(?![^>]*\ssrc=)", r.raw) and
              not re.search(r"\son[a-z]+=", r.raw), "no inline script in the page", r.raw)
        eq(d.request("GET", "/ui/campaigns", auth=False).status, 303, "no session: the login")
        # A session is a row in the store named by a cookie signed with the daemon's secret:
        # a cookie signed right that names no stored session, or one altered, is no session.
        with open(os.path.join(d.config["data_dir"], "secret")) as f:
            secret = f.read().strip()

        def cookie(sid):
            payload = f"v2.{sid}"
            mac = hmac.new(secret.encode(), b"ui-session:" + payload.encode(),
                           hashlib.sha256).hexdigest()
            return f"nt_session={payload}.{mac}"
        real = http_login(d)
        eq(page(d, "/ui/campaigns", real).status, 200, "a stored session")
        eq(d.request("GET", "/ui/campaigns", auth=False,
                     headers={"Cookie": cookie(real[3:35])}).status, 200,
           "the same session signed by the test (the format is as documented)")
        eq(d.request("GET", "/ui/campaigns", auth=False,
                     headers={"Cookie": cookie("0" * 32)}).status, 303,
           "signed right, but no such session in the store")
        eq(d.request("GET", "/ui/campaigns", auth=False,
                     headers={"Cookie": "nt_session=" + real[:-1] +
                              ("1" if real[-1] == "0" else "0")}).status, 303,
           "an altered session")
        r = d.request("POST", "/ui/login", auth=False, raw="token=" + TOKEN,
                      headers={"Content-Type": "application/x-www-form-urlencoded"})
        eq(r.status, 303, "the login")
        sc = r.headers.get("Set-Cookie", "")
        for part in ("HttpOnly", "SameSite=Strict", "Max-Age=", "Path=/ui"):
            check(part in sc, f"the cookie has {part}", sc)
        check("Secure" not in sc, "not Secure over plain http", sc)
        r = d.request("POST", "/ui/login", auth=False, raw="token=" + TOKEN,
                      headers={"Content-Type": "application/x-www-form-urlencoded",
                               "X-Forwarded-Proto": "https"})
        check("; Secure" in r.headers.get("Set-Cookie", ""), "Secure behind https",
              r.headers)
    finally:
        d.stop()
        d.cleanup()


@test
def a_logout_revokes_a_copied_cookie():
    d = Daemon({"ui": os.path.join(SRC, "ui"),
                "api_tokens": [TOKEN, {"token": READ, "role": "read"}]}).start()
    try:
        a, b, r = http_login(d), http_login(d), http_login(d, READ)
        for c in (a, b, r):
            eq(page(d, "/ui/campaigns", c).status, 200, "three sessions")
        copy = a  # what a thief copied
        res = page(d, "/ui/logout", a, "POST", {"csrf": csrf_of(page(d, "/ui/", a).raw)})
        eq((res.status, res.headers.get("Location")), (303, "/ui/login"), "logged out")
        check("Max-Age=0" in res.headers.get("Set-Cookie", ""), "the cookie cleared",
              res.headers)
        res = page(d, "/ui/campaigns", copy)
        eq((res.status, res.headers.get("Location")), (303, "/ui/login"),
           "the copied cookie gets the login page")
        eq(page(d, "/ui/campaigns/x/pause", copy, "POST", {"csrf": "0" * 32}).status, 403,
           "and may post nothing")
        eq(page(d, "/ui/campaigns", b).status, 200, "another session lives on")
        # A read session may end only itself; an admin ends every session.
        page(d, "/ui/logout", r, "POST", {"csrf": csrf_of(page(d, "/ui/", r).raw), "all": "1"})
        eq(page(d, "/ui/campaigns", r).status, 303, "the read session ended")
        eq(page(d, "/ui/campaigns", b).status, 200, "not the admin's")
        c = http_login(d)
        check('id="logout-all"' in page(d, "/ui/", b).raw, "an admin sees the button")
        res = page(d, "/ui/logout", b, "POST", {"csrf": csrf_of(page(d, "/ui/", b).raw),
                                                "all": "1"})
        eq(res.status, 303, "every session ended")
        eq([page(d, "/ui/campaigns", x).status for x in (b, c)], [303, 303],
           "no session is left")
        check("every dashboard session ended" in d.read_log(), "logged", d.read_log()[-500:])
        # Sessions are kept in the store: a restart keeps a live one.
        e = http_login(d)
        d.stop()
        d.start()
        eq(page(d, "/ui/campaigns", e).status, 200, "a session outlives a restart")
    finally:
        d.stop()
        d.cleanup()


@test
def failed_logins_are_limited_per_address():
    d = Daemon({"ui": os.path.join(SRC, "ui")}).start()
    try:
        for i in range(5):
            r = d.request("POST", "/ui/login", auth=False, raw=f"token=guess-{i}",
                          headers=FORM)
            eq(r.status, 401, f"failure {i + 1}")
        r = d.request("POST", "/ui/login", auth=False, raw="token=guess-5", headers=FORM)
        eq(r.status, 429, "the sixth guess within the minute")
        check(1 <= int(r.headers.get("Retry-After", "0")) <= 60, "with Retry-After", r.headers)
        r = d.request("POST", "/ui/login", auth=False, raw="token=" + TOKEN, headers=FORM)
        eq(r.status, 429, "even the right token: the token is not looked at")
        check("Set-Cookie" not in r.headers, "no session", r.headers)
        log = d.read_log()
        eq(log.count("ui: failed login from 127.0.0.1"), 5, "each failure logged")
        check("ui: login from 127.0.0.1 refused" in log, "the refusal logged", log[-800:])
    finally:
        d.stop()
        d.cleanup()


def search_sql(source="store_sqlite_ui.c"):
    """The search's statements as daemon/SOURCE has them (between its markers); in
    store_pg_ui.c each is {"name", "sql"}, the name left out here."""
    with open(os.path.join(SRC, "daemon", source)) as f:
        text = f.read()
    block = text.split("/* search-sql-begin */")[1].split("/* search-sql-end */")[0]
    out = []
    for entry in re.findall(r"\[UI_MATCH_\w+\]\s*=\s*\{?\s*((?:\"(?:[^\"\\]|\\.)*\"[\s,]*)+)",
                           block):
        parts = re.findall(r'"((?:[^"\\]|\\.)*)"', entry)
        if source.startswith("store_pg"):
            parts = parts[1:]
        out.append("".join(parts).replace('\\"', '"'))
    eq(len(out), 3, "three statements")
    return out


def search_plans_on_postgresql(d):
    """Each search statement of store_pg_ui.c, planned generically (its parameters unknown)
    with sequential scans and sorts discouraged: an index scan in index order must serve it
    (the table is too small here for the planner to prefer one on its own)."""
    for i, (sql, index) in enumerate(zip(search_sql("store_pg_ui.c"),
                                         ("customers_search_id", "customers_search_email",
                                          "customers_search_name"))):
        plan = " | ".join(r[0] for r in d.sql(
            "SET enable_seqscan = off; SET enable_sort = off;"
            " SET plan_cache_mode = force_generic_plan;"
            f" PREPARE s{i} AS {sql}; EXPLAIN EXECUTE s{i}('x', chr(1114111), 'x', -1, 50)"))
        check(index in plan and "Seq Scan" not in plan and "Sort" not in plan,
              f"{index} drives the search", plan)


@test
def customer_search_pages_with_a_cursor_through_indexes():
    d = Daemon({"ui": os.path.join(SRC, "ui")}).start()
    try:
        want = {}
        people = ([(f"sx-{i:02}", f"other-{i:02}@example.org", f"Other {i}", "id")
                   for i in range(60)] +
                  [(f"c-{i:02}", f"Sx-{i:02}@example.org", "Person", "email")
                   for i in range(60)] +
                  [(f"d-{i:02}", f"d-{i:02}@example.org", f"SX Name {i}", "name")
                   for i in range(60)] +
                  [(f"sx-both-{i}", f"sx-both-{i}@example.org", f"sx both {i}", "id")
                   for i in range(10)] +
                  [(f"z-{i}", f"z-{i}@example.org", f"Zed {i}", None) for i in range(20)])
        for cid, mail, name, by in people:
            eq(d.request("POST", "/v1/customers", {"id": cid, "email": mail, "name": name})
               .status, 200, cid)
            if by:
                want[cid] = by
        cookie = http_login(d)
        got, pages, path = [], 0, "/ui/customers?q=sx"
        while path:
            r = page(d, path, cookie)
            eq(r.status, 200, f"{path}: {r.raw[:300]}")
            rows = re.findall(r'class="customer">([^<]*)</a>.*?<td class="by">(\w+)</td>',
                              r.raw)
            check(len(rows) <= 50, "at most 50 a page", len(rows))
            got += rows
            pages += 1
            m = re.search(r'<a href="([^"]+)" id="next"', r.raw)
            path = html.unescape(m.group(1)) if m else None
            check(pages < 10, "the pages end")
        eq(len(got), len(set(c for c, _ in got)), "nobody listed twice")
        eq(dict(got), want, "everyone found once, by id, email or name (any case)")
        eq(pages, 4, "190 matches in pages of 50")
        r = page(d, "/ui/customers?q=sx&after=bogus", cookie)
        eq(r.status, 400, "a malformed cursor")
        if d.on_postgresql():
            search_plans_on_postgresql(d)
            return
        # Each search statement is a SEARCH through its index, in index order (no sort).
        db = sqlite3.connect(f"file:{d.db_path()}?mode=ro", uri=True, timeout=10)
        try:
            for sql, index in zip(search_sql(), ("sqlite_autoindex_customers_1",
                                                 "customers_email_nocase",
                                                 "customers_name_nocase")):
                plan = " | ".join(r[3] for r in db.execute(
                    "EXPLAIN QUERY PLAN " + sql, ("x", "x\U0010ffff", "x", -1, 50)))
                check(f"SEARCH customers USING INDEX {index}" in plan and "SCAN" not in plan
                      and "TEMP B-TREE" not in plan, f"{index} drives the search", plan)
        finally:
            db.close()
    finally:
        d.stop()
        d.cleanup()


CLICK_TEMPLATES = {
    "news.subject.mustache": "News",
    "news.text.mustache": "News\n",
    "news.html.mustache": '<p>Hi</p><a href="https://shop.example/p">Buy</a>'
                          '<a href="{{links.unsubscribe_url}}">Leave</a>',
}


@test
def clicks_on_the_overview_and_counters_equal_a_recount():
    d = Daemon({"ui": os.path.join(SRC, "ui"), "public_url": "https://mail.test.example",
                "mail_from": {"name": "Shop", "address": "shop@mail.test.example"}})
    d.config["channels"] = {"mail": {"plugin": "maildir", "path": os.path.join(d.tmp, "md")}}
    d.write_config()
    d.write_templates(CLICK_TEMPLATES)
    d.write_campaign({"id": "news", "name": "News", "status": "active", "topic": "news",
                      "trigger": {"event": "newsletter"}, "reentry": "always",
                      "steps": [{"id": "send",
                                 "send": {"channel": "mail", "template": "news"}}]})
    d.start()
    try:
        for c in ("ann", "bob", "cid", "dan"):
            eq(d.post_events({"id": f"n-{c}", "customer": c, "type": "newsletter",
                              "profile": {"email": f"{c}@example.com", "name": c}}).status,
               202, c)
        md = os.path.join(d.tmp, "md", "new")
        poll(lambda: os.path.isdir(md) and len(os.listdir(md)) == 4, 20, "four mails")
        links = []
        for f in sorted(os.listdir(md)):
            with open(os.path.join(md, f), errors="replace") as fh:
                raw = fh.read().replace("=\n", "").replace("=3D", "=")
            links.append(re.search(r"https://mail\.test\.example(/c/[A-Za-z0-9_.\-]+)",
                                   raw).group(1))
        for path in (links[0], links[0], links[1]):
            eq(d.request("GET", path, auth=False).status, 302, "a click")
        cookie = http_login(d)
        poll(lambda: by_id(page(d, "/ui/", cookie).raw, "clicks") == "3", 10,
             "three clicks on the overview")
        ov = page(d, "/ui/", cookie).raw
        eq((by_id(ov, "clicked"), by_id(ov, "recipients"), by_id(ov, "click-rate")),
           ("2", "4", "50.0 %"), "two of four messages clicked: the rate and its denominator")
        camp = page(d, "/ui/campaigns", cookie).raw
        row = re.search(r"<tr data-campaign=\"news\">(.*?)</tr>", camp, re.S).group(1)
        check('class="n clicks">3<' in row and "50.0 %" in row and
              "2 of 4 recipients" in row, "the campaign's clicks and click rate", row)
        # Counters through every kind of change: suppressions added and removed, a message
        # refused for a suppressed address, a customer erased, then a restart.
        for a in ("x1@example.org", "x2@example.org", "eve@example.com"):
            eq(d.request("POST", "/v1/suppressions", {"address": a}).status in (200, 201),
               True, f"suppress {a}")
        eq(d.request("DELETE", "/v1/suppressions/x1@example.org").status in (200, 204), True,
           "unsuppress")
        eq(d.post_events({"id": "n-eve", "customer": "eve", "type": "newsletter",
                          "profile": {"email": "eve@example.com"}}).status, 202, "eve")
        poll(lambda: d.request("GET", "/v1/messages?customer=eve").json["messages"], 10,
             "eve's message decided")
        eq(d.request("DELETE", "/v1/customers/dan").status in (200, 202, 204), True, "erase")
        ov = page(d, "/ui/", cookie).raw
        listed = d.request("GET", "/v1/suppressions").json["suppressions"]
        check(len(listed) >= 2, "x2 and eve listed (and what the erasure keeps)", listed)
        eq((by_id(ov, "suppressions-added"), by_id(ov, "suppressions")),
           (str(len(listed)), str(len(listed))), "the list's figures on the overview")
        counters_match_a_recount(d)
        # The migration backfills: back to the schema without the counters, then a start.
        d.stop()
        triggers = ("outbox_days_insert", "outbox_days_update", "outbox_days_delete",
                    "suppression_days_insert", "suppression_days_update",
                    "suppression_days_delete")
        if d.on_postgresql():
            # PostgreSQL's migration 1 -> 2 (store_pg_schema.c) made them. The later ones run
            # again too: each is idempotent (issue 19's backfill runs once, by a meta key).
            d.sql("; ".join(f"DROP TRIGGER {t} ON "
                            + ("outbox" if t.startswith("outbox") else "suppressions")
                            for t in triggers) +
                  "; DROP TABLE outbox_days, suppression_days, ui_sessions,"
                  " outbox_days_deltas, suppression_days_deltas CASCADE;"
                  " DELETE FROM schema_version WHERE version > 1")
            before = "migrating schema 1 -> 2"
        else:
            db = sqlite3.connect(d.db_path())
            for t in triggers:
                db.execute(f"DROP TRIGGER {t}")
            for t in ("outbox_days", "suppression_days", "ui_sessions"):
                db.execute(f"DROP TABLE {t}")
            db.execute("PRAGMA user_version = 15")
            db.commit()
            db.close()
            before = "migrating schema 15 -> 16"
        d.start()
        check(before in d.read_log(), "migrated", d.read_log()[-500:])
        counters_match_a_recount(d)
        eq(d.post_events({"id": "n-fay", "customer": "fay", "type": "newsletter",
                          "profile": {"email": "fay@example.com"}}).status, 202, "fay")
        poll(lambda: len(os.listdir(md)) == 5, 20, "fay's mail")
        check(counters_match_a_recount(d) >= 6, "counted after the migration too")
    finally:
        d.stop()
        d.cleanup()


if __name__ == "__main__":
    run_all()
