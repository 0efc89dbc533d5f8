#!/usr/bin/python3
"""SIGHUP applies every configuration key or names it (issue 15): one test per key of the
table that `nurtured config-keys` prints, against the real daemon and aiosmtpd. A key that
the reload applies must change what the daemon does next; a key that needs a restart must be
named in the log and in /v1/status while the daemon keeps running on its old value. A new key
in the table without a test here fails `every_key_of_the_table_has_a_test`. A channel that
changes reloads its plugin instance without losing or doubling a message in flight."""
import email
import email.policy
import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.parse

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from ntest import NURTURED, TOKEN, Daemon, Failure, check, eq, poll, run_all, test  # noqa: E402
from smtp_server import SmtpServer  # noqa: E402

CTL = os.path.join(os.environ.get("NT_BUILDDIR") or
                   os.path.join(os.path.dirname(__file__), "..", ".."), "nurturectl")
TEMPLATES = {"thanks.subject.mustache": "Thanks {{customer.name}}",
             "thanks.text.mustache": "Thank you, {{customer.name}}.\n",
             "double-opt-in.subject.mustache": "Confirm {{event.properties.topic}}",
             "double-opt-in.text.mustache": "Confirm: {{links.confirm_url}}\n"}


class Env:
    """A daemon whose channel "mail" goes to SMTP server A; server B waits for a reload."""

    def __init__(self, **config):
        self.a = SmtpServer().start()
        self.b = SmtpServer().start()
        self.d = Daemon(dict({"public_url": "https://old.example",
                              "mail_from": {"name": "Old Shop", "address": "shop@old.example"},
                              "channels": {"mail": self.channel(self.a)}}, **config))
        self.d.write_templates(TEMPLATES)
        self.d.write_send_campaign("thanks", "purchase", "thanks", topic="follow-ups",
                                   reentry="always")
        self.n = 0
        self.d.start()

    @staticmethod
    def channel(srv, **extra):
        return dict({"plugin": "smtp", "host": "127.0.0.1", "port": srv.port,
                     "starttls": "none", "retry": {"initial": "1s", "max": "1s"}}, **extra)

    def reload(self, **changes):
        """Writes CHANGES into the file, sends SIGHUP and waits for the reload's verdict."""
        log = self.d.read_log()
        before = log.count("reloaded ") + log.count("keeping the running")
        self.d.config.update(changes)
        self.d.write_config()
        self.d.proc.send_signal(signal.SIGHUP)

        def done():
            log = self.d.read_log()
            return log.count("reloaded ") + log.count("keeping the running") > before
        poll(done, 10, "the reload")
        check("keeping the running" not in self.d.read_log(), "the reload was taken",
              self.d.read_log()[-2000:])

    def status(self):
        r = self.d.request("GET", "/v1/status")
        eq(r.status, 200, "status")
        return r.json

    def purchase(self, cid=None, **customer):
        """A new customer buys: the campaign "thanks" decides one message."""
        self.n += 1
        cid = cid or f"c{self.n}"
        body = dict({"id": cid, "email": f"{cid}@example.org", "name": cid.upper()}, **customer)
        eq(self.d.request("POST", "/v1/customers", body=body).status, 200, "customer")
        eq(self.d.post_events({"customer": cid, "type": "purchase", "id": f"p-{cid}"}).status,
           202, "event")
        return cid

    def final(self, cid):
        def done():
            r = self.d.request("GET", "/v1/messages?" + urllib.parse.urlencode({"customer": cid}))
            m = r.json["messages"] if r.status == 200 else []
            return m[0] if m and m[0]["state"] not in ("queued", "sending", "deferred") else None
        return poll(done, 20, f"the message to {cid}")

    def received(self, srv, cid):
        """The message to CID that SRV received, parsed."""
        def find():
            with srv.lock:
                for m in srv.messages:
                    if m.rcpts == [f"{cid}@example.org"]:
                        return m
            return None
        m = poll(find, 20, f"the message to {cid} at the server")
        return m, email.message_from_bytes(m.data, policy=email.policy.default)

    def close(self):
        try:
            self.d.stop()
        finally:
            self.a.stop()
            self.b.stop()
            self.d.cleanup()


def restart_key(env, key, value):
    """A key that needs a restart: named in the log and /v1/status, the old value runs on."""
    env.reload(**{key: value})
    check(f"reload: '{key}' changed; it needs a restart" in env.d.read_log(), "named in the log",
          env.d.read_log()[-2000:])
    eq(env.status()["restart_needed"], [key], "named in /v1/status")
    e = {k: v for k, v in os.environ.items() if not k.startswith("NURTURED_")}
    e["HOME"] = env.d.tmp
    out = subprocess.run([CTL, "--url", f"http://127.0.0.1:{env.d.port}", "--token", TOKEN,
                          "status"], capture_output=True, text=True, timeout=20, env=e)
    check(f"restart needed: '{key}' changed" in out.stdout, "named by nurturectl status",
          out.stdout, out.stderr)


# --- the keys a restart applies ---------------------------------------------------------

def check_listen(env):
    other = env.d.port + 1 if env.d.port < 65000 else env.d.port - 1
    restart_key(env, "listen", f"127.0.0.1:{other}")
    eq(env.d.request("GET", "/healthz").status, 200, "still answering on the old port")


def check_data_dir(env):
    old = env.d.db_path()
    restart_key(env, "data_dir", os.path.join(env.d.tmp, "elsewhere"))
    cid = env.purchase()
    env.final(cid)
    # On PostgreSQL the data_dir holds no store, but the daemon's secret: it stays too.
    check((env.d.on_postgresql() or os.path.exists(old))
          and not os.path.exists(os.path.join(env.d.tmp, "elsewhere")),
          "the store stays where it is")


def check_store(env):
    restart_key(env, "store", "postgresql://nobody@127.0.0.1:1/elsewhere")
    cid = env.purchase()
    env.final(cid)  # the running store carries on


def check_node_id(env):
    """Issue 21: a node's name among the nodes sharing a store: kept until a restart."""
    before = env.status()["cluster"]["node_id"]
    restart_key(env, "node_id", "elsewhere")
    eq(env.status()["cluster"]["node_id"], before, "the running node id")


def check_lease_ttl(env):
    restart_key(env, "lease_ttl", "30s")
    cid = env.purchase()
    env.final(cid)  # the running leases carry on


def check_secret(env):
    restart_key(env, "secret", "s" * 40)
    cid = env.purchase()
    _, msg = env.received(env.a, cid)
    path = urllib.parse.urlparse(str(msg["List-Unsubscribe"]).strip("<>")).path
    eq(env.d.request("GET", path, auth=False).status, 200,
       "links are still signed with the running secret")


def check_plugin_dir(env):
    restart_key(env, "plugin_dir", os.path.join(env.d.tmp, "no-plugins"))
    env.reload(channels={"mail": env.channel(env.b)})  # opens smtp from the running dir
    cid = env.purchase()
    env.received(env.b, cid)


def check_durability(env):
    restart_key(env, "durability", "normal")


def check_user(env):
    restart_key(env, "user", "nobody")
    # On PostgreSQL the data_dir holds no store file: its secret's owner tells the same.
    path = (os.path.join(env.d.config["data_dir"], "secret") if env.d.on_postgresql()
            else env.d.db_path())
    eq(os.stat(path).st_uid, os.getuid(), "the store's owner unchanged")


# --- the keys a reload applies ------------------------------------------------------------

def check_api_tokens(env):
    new = "new-token-0123456789abcdef"
    env.reload(api_tokens=[new])
    eq(env.d.request("GET", "/v1/status").status, 401, "the old token is refused")
    eq(env.d.request("GET", "/v1/status", token=new).status, 200, "the new token works")
    env.reload(api_tokens=[TOKEN, {"token": new, "role": "read"}])
    eq(env.d.request("GET", "/v1/status", token=new).status, 200, "the read token reads")
    eq(env.d.request("POST", "/v1/customers", body={"id": "r1"}, token=new).status, 403,
       "the read token's role applies: no change")
    env.reload(api_tokens=[TOKEN])


def check_public_url(env):
    env.reload(public_url="https://new.example")
    _, msg = env.received(env.a, env.purchase())
    check(str(msg["List-Unsubscribe"]).startswith("<https://new.example/u/"),
          "links on the new public_url", msg["List-Unsubscribe"])


def check_campaigns_dir(env):
    cdir = os.path.join(env.d.tmp, "campaigns2")
    os.makedirs(cdir)
    with open(os.path.join(cdir, "hello.json"), "w") as f:
        json.dump({"id": "hello", "name": "hello", "status": "active", "topic": "follow-ups",
                   "trigger": {"event": "signup"},
                   "steps": [{"id": "s", "send": {"channel": "mail", "template": "thanks"}}]},
                  f)
    env.reload(campaigns_dir=cdir)
    poll(lambda: [c["id"] for c in env.d.request("GET", "/v1/campaigns").json["campaigns"]]
         == ["hello"], 10, "the campaigns of the new directory")
    eq(env.d.request("POST", "/v1/customers",
                     body={"id": "sig", "email": "sig@example.org", "name": "Sig"}).status, 200,
       "customer")
    eq(env.d.post_events({"customer": "sig", "type": "signup"}).status, 202, "signup")
    env.received(env.a, "sig")


def check_templates_dir(env):
    tdir = os.path.join(env.d.tmp, "templates2")
    os.makedirs(tdir)
    for name, text in dict(TEMPLATES, **{"thanks.subject.mustache": "New {{customer.name}}"}
                           ).items():
        with open(os.path.join(tdir, name), "w") as f:
            f.write(text)
    env.reload(templates_dir=tdir)
    poll(lambda: "reload: 1 campaigns" in env.d.read_log(), 10, "the store thread's switch")
    cid = env.purchase()
    _, msg = env.received(env.a, cid)
    eq(str(msg["Subject"]), f"New {cid.upper()}", "the new directory's template")


def check_channels(env):
    env.reload(channels={"mail": env.channel(env.b)})
    cid = env.purchase()
    env.received(env.b, cid)
    eq(env.final(cid)["state"], "sent", "sent")
    eq([m for m in env.a.messages if m.rcpts == [f"{cid}@example.org"]], [],
       "nothing through the old channel")
    poll(lambda: "the instance a reload replaced has finished" in env.d.read_log(), 10,
         "the old instance released")


def check_log_level(env):
    cid = env.purchase()
    env.final(cid)
    check(f"to {cid}@example.org: sent" not in env.d.read_log(), "no debug line at info")
    env.reload(log_level="debug")
    cid = env.purchase()
    env.final(cid)
    poll(lambda: f"to {cid}@example.org: sent" in env.d.read_log(), 10, "a debug line")


def check_max_body_bytes(env):
    big = {"customer": "big", "type": "page_view", "properties": {"pad": "x" * 3000}}
    eq(env.d.post_events(big).status, 202, "before")
    env.reload(max_body_bytes=2048)
    eq(env.d.post_events(big).status, 413, "a body over the new limit")


def check_max_batch(env):
    two = {"events": [{"customer": "mb", "type": "page_view", "id": "e1"},
                      {"customer": "mb", "type": "page_view", "id": "e2"}]}
    eq(env.d.post_events(two).status, 202, "two events before")
    env.reload(max_batch=1)
    r = env.d.post_events(two)
    check(400 <= r.status < 500, "two events over the new max_batch", r)


def check_shutdown_timeout(env):
    env.a.set(stall="data")
    env.reload(shutdown_timeout=1)
    env.purchase()
    poll(lambda: env.status()["channels"][0]["inflight"] > 0, 10, "a message in flight")
    t0 = time.monotonic()
    env.d.proc.send_signal(signal.SIGTERM)
    env.d.proc.wait(20)
    took = time.monotonic() - t0
    check(took < 6, "the stop kept the new 1 s deadline, not the default 10 s", took)


def check_frequency_cap(env):
    env.reload(frequency_cap={"max": 1, "per": "7d"})
    cid = env.purchase()
    env.final(cid)
    eq(env.d.post_events({"customer": cid, "type": "purchase", "id": "again"}).status, 202, "")

    def capped():
        notes = env.d.request("GET", f"/v1/customers/{cid}").json["notes"]
        return [n for n in notes if (n.get("reason") or "").startswith("frequency_cap")]
    poll(capped, 10, "the second message held by the cap")


def check_stages(env):
    old = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(time.time() - 3 * 86400))

    def stage_after_old_purchase(cid):
        eq(env.d.post_events({"customer": cid, "type": "purchase", "id": f"old-{cid}",
                              "time": old}).status, 202, "a purchase 3 days ago")
        return poll(lambda: env.d.request("GET", f"/v1/customers/{cid}").json.get("stage")
                    not in (None, "prospect") and
                    env.d.request("GET", f"/v1/customers/{cid}").json["stage"], 10, "a stage")
    eq(stage_after_old_purchase("st1"), "onboarding", "lapsed after 180 days by default")
    env.reload(stages={"lapsed_days": 1})
    eq(stage_after_old_purchase("st2"), "lapsed", "lapsed after the new 1 day")


def check_mail_from(env):
    env.reload(mail_from={"name": "New Shop", "address": "hello@new.example"})
    m, msg = env.received(env.a, env.purchase())
    eq(m.mail_from, "hello@new.example", "the envelope sender")
    eq(msg["From"].addresses[0].addr_spec, "hello@new.example", "From")
    eq(msg["From"].addresses[0].display_name, "New Shop", "From name")
    check(str(msg["Message-ID"]).endswith("@new.example>"), "the Message-ID's domain",
          msg["Message-ID"])


def check_opt_in_topics(env):
    env.reload(opt_in_topics=["newsletter", "follow-ups"])
    m = env.final(env.purchase())
    eq((m["state"], m["reason"]), ("skipped", "not_subscribed"), "follow-ups is opt-in now")


def check_broadcast_archive(env):
    d = env.d
    eq(d.request("POST", "/v1/customers", body={
        "id": "arc", "email": "arc@example.org", "name": "Arc",
        "consent": {"newsletter": "subscribed"}}).status, 200, "a subscriber")
    eq(d.request("POST", "/v1/broadcasts", body={
        "id": "arc", "name": "Archived", "topic": "newsletter", "channel": "mail",
        "audience": {"field": "customer.name", "eq": "Arc"}, "send_at": "now",
        "content": {"subject": "Issue 1", "text": "Issue one"}}).status, 201, "a broadcast")
    poll(lambda: d.request("GET", "/v1/broadcasts/arc").json["state"] == "sent", 10, "sent")
    eq(d.request("GET", "/archive/arc", auth=False).status, 404, "the archive is off by default")
    env.reload(broadcast_archive=True)
    eq(d.request("GET", "/archive/arc", auth=False).status, 200, "on after the reload")


def check_system_channel(env):
    env.reload(channels={"mail": env.channel(env.a), "system": env.channel(env.b)},
               system_channel="system")
    cid = "opt"
    eq(env.d.request("POST", "/v1/customers",
                     body={"id": cid, "email": "opt@example.org", "name": "Opt"}).status, 200, "")
    r = env.d.request("POST", f"/v1/customers/{cid}/subscribe", body={"topic": "newsletter"})
    eq(r.status, 202, f"subscribe: {r.raw}")
    _, msg = env.received(env.b, cid)
    eq(str(msg["Subject"]), "Confirm newsletter", "the confirmation through the new channel")


def check_unsubscribe_mailto(env):
    env.reload(unsubscribe_mailto="leave@new.example")
    _, msg = env.received(env.a, env.purchase())
    check("<mailto:leave@new.example" in str(msg["List-Unsubscribe"]), "the mailto",
          msg["List-Unsubscribe"])


def check_bounce_address(env):
    restart_key(env, "bounce_address", "bounces@shop.example")
    got, _ = env.received(env.a, env.purchase())
    check("bounces+" not in got.mail_from, "the envelope sender is not VERP until a restart",
          got.mail_from)


def check_reply_to(env):
    restart_key(env, "reply_to", "replies@shop.example")
    _, msg = env.received(env.a, env.purchase())
    check(msg["Reply-To"] is None, "no VERP Reply-To until a restart", msg["Reply-To"])


def check_bounce_policy(env):
    restart_key(env, "bounce_policy", {"soft_bounces": 1, "within": "1d"})


def check_inbound(env):
    restart_key(env, "inbound", {"imap": {"url": "imap://127.0.0.1:1/INBOX", "user": "u",
                                           "password": "p", "interval": "1h"}})


def check_webhooks(env):
    restart_key(env, "webhooks", {"mailgun": {"signing_key": "k" * 32}})
    eq(env.d.request("POST", "/v1/webhooks/mailgun", body={}).status, 404,
       "the mailgun endpoint is still not configured")


def check_max_connections(env):
    env.reload(max_connections=3)
    idle = [socket.create_connection(("127.0.0.1", env.d.port)) for _ in range(2)]
    try:
        # the two idle ones and the one asking: the limit is reached while it is answered
        poll(lambda: env.d.metric("nurtured_http_connections") >= 3, 10, "two idle connections")
        idle.append(socket.create_connection(("127.0.0.1", env.d.port)))
        try:
            env.d.request("GET", "/healthz", auth=False, timeout=1.5)
            check(False, "a fourth connection is not taken while three are open")
        except OSError:
            pass
    finally:
        for s in idle:
            s.close()
    eq(env.d.request("GET", "/healthz", auth=False).status, 200, "taken again once they close")


def cut_after(env, first, trickle):
    """Seconds until the daemon answers or closes a request that sends FIRST, then TRICKLE."""
    s = socket.create_connection(("127.0.0.1", env.d.port))
    try:
        s.sendall(first)
        t0 = time.monotonic()
        s.settimeout(0.3)
        for i in range(len(trickle)):
            try:
                s.send(trickle[i:i + 1])
                if s.recv(65536) is not None:
                    return time.monotonic() - t0
            except socket.timeout:
                continue
            except OSError:
                return time.monotonic() - t0
        return None
    finally:
        s.close()


def check_header_timeout(env):
    env.reload(header_timeout=1)
    took = cut_after(env, b"GET /healthz HTTP/1.1\r\n", b"X-Slow: " + b"a" * 30)
    check(took is not None and took < 4, "a trickled head is cut after the new 1 s, not 10 s",
          took)


def check_body_timeout(env):
    env.reload(body_timeout=1)
    took = cut_after(env, b"POST /v1/events HTTP/1.1\r\nContent-Type: application/json\r\n"
                     b"Authorization: Bearer " + TOKEN.encode() + b"\r\nContent-Length: 100\r\n\r\n",
                     b"x" * 30)
    check(took is not None and took < 4, "a trickled body is cut after the new 1 s, not 60 s",
          took)


def check_retention(env):
    for i in range(2):
        eq(env.d.post_events({"id": f"view-{i}", "customer": "keeper", "type": "view"}).status,
           202, "an event")
    env.reload(retention={"events": "1s", "interval": "1s"})

    def views():
        r = env.d.request("GET", "/v1/customers/keeper/export")
        return [e for e in r.json["events"] if e["type"] == "view"] if r.status == 200 else None
    poll(lambda: views() is not None and len(views()) == 1, 20,
         "the second view pruned at the new 1 s (the first of its type stays)")


def check_transactional_rate(env):
    eq(env.d.request("POST", "/v1/customers", body={"id": "tx", "email": "tx@example.org"}).status,
       200, "customer")

    def send(i):
        return env.d.request("POST", "/v1/messages", body={"customer": "tx", "template": "thanks",
                                                           "id": f"tx-{i}"}).status
    eq(send(0), 202, "a transactional send at the default rate")
    env.reload(transactional_rate=1)
    eq([send(1), send(2)], [202, 429], "one a minute after the reload")


def check_subscribe(env):
    def signup(addr):
        return env.d.request("POST", "/subscribe", raw=urllib.parse.urlencode({"email": addr}),
                             headers={"Content-Type": "application/x-www-form-urlencoded"},
                             auth=False)
    r = signup("first@example.org")
    eq((r.status, r.headers.get("Location")), (200, None), "a page of the daemon's by default")
    env.reload(subscribe={"redirect": "https://shop.example/thanks"})
    r = signup("second@example.org")
    eq((r.status, r.headers.get("Location")), (303, "https://shop.example/thanks"),
       "the configured redirect after the reload")
def check_ui(env):
    """Issue 22: "ui": false takes the dashboard away at once, true brings it back."""
    eq(env.d.request("GET", "/ui/login", auth=False).status, 200, "the dashboard is on")
    env.reload(ui=False)
    eq(env.d.request("GET", "/ui/login", auth=False).status, 404, "off after the reload")
    eq(env.d.request("GET", "/v1/status").status, 200, "the API stays")
    env.reload(ui=True)
    eq(env.d.request("GET", "/ui/login", auth=False).status, 200, "on again")


CASES = {
    "listen": ("restart", check_listen),
    "data_dir": ("restart", check_data_dir),
    "store": ("restart", check_store),
    "node_id": ("restart", check_node_id),
    "lease_ttl": ("restart", check_lease_ttl),
    "secret": ("restart", check_secret),
    "plugin_dir": ("restart", check_plugin_dir),
    "durability": ("restart", check_durability),
    "user": ("restart", check_user),
    "api_tokens": ("reload", check_api_tokens),
    "public_url": ("reload", check_public_url),
    "campaigns_dir": ("reload", check_campaigns_dir),
    "templates_dir": ("reload", check_templates_dir),
    "channels": ("reload", check_channels),
    "log_level": ("reload", check_log_level),
    "max_body_bytes": ("reload", check_max_body_bytes),
    "max_batch": ("reload", check_max_batch),
    "shutdown_timeout": ("reload", check_shutdown_timeout),
    "frequency_cap": ("reload", check_frequency_cap),
    "stages": ("reload", check_stages),
    "mail_from": ("reload", check_mail_from),
    "opt_in_topics": ("reload", check_opt_in_topics),
    "system_channel": ("reload", check_system_channel),
    "unsubscribe_mailto": ("reload", check_unsubscribe_mailto),
    "retention": ("reload", check_retention),
    "max_connections": ("reload", check_max_connections),
    "header_timeout": ("reload", check_header_timeout),
    "body_timeout": ("reload", check_body_timeout),
    "bounce_address": ("restart", check_bounce_address),
    "reply_to": ("restart", check_reply_to),
    "bounce_policy": ("restart", check_bounce_policy),
    "inbound": ("restart", check_inbound),
    "webhooks": ("restart", check_webhooks),
    "transactional_rate": ("reload", check_transactional_rate),
    "subscribe": ("reload", check_subscribe),
    "ui": ("reload", check_ui),
    "broadcast_archive": ("reload", check_broadcast_archive),
}


def table():
    out = subprocess.run([NURTURED, "config-keys"], capture_output=True, text=True, timeout=10)
    eq(out.returncode, 0, "nurtured config-keys")
    return dict(line.split() for line in out.stdout.splitlines())


@test
def every_key_of_the_table_has_a_test():
    t = table()
    eq(sorted(t), sorted(CASES), "the keys of the table and the keys tested here")
    eq({k: v for k, v in t.items()}, {k: c[0] for k, c in CASES.items()},
       "reload or restart, as the table says")


@test
def each_key_applies_at_reload_or_is_named_as_needing_a_restart():
    t = table()
    failed = []
    for key in t:
        if key not in CASES:
            failed.append(f"{key}: no test")
            continue
        env = Env()
        try:
            CASES[key][1](env)
            if CASES[key][0] == "reload":
                check(env.d.proc.poll() is not None or env.status()["restart_needed"] == [],
                      f"{key}: nothing named as needing a restart")
                check(env.d.proc.poll() is not None
                      or f"reload: '{key}' applied" in env.d.read_log(),
                      f"{key}: logged as applied")
        except Failure as e:
            failed.append(f"{key}: {e}")
        finally:
            env.close()
    check(not failed, "every key", *failed)


@test
def a_restart_key_changed_back_is_no_longer_named():
    env = Env()
    try:
        port = env.d.config["listen"]
        restart_key(env, "listen", "127.0.0.1:1")
        env.reload(listen=port)
        eq(env.status()["restart_needed"], [], "back to the running value")
    finally:
        env.close()


@test
def a_changed_channel_neither_loses_nor_doubles_a_message_in_flight():
    """Server A answers each DATA after 0.3 s, so messages are in flight in A's sessions when
    the reload points the channel at B: A's instance finishes them, B takes the rest."""
    env = Env()
    try:
        env.a.set(delay_data=0.3)
        cids = [env.purchase() for _ in range(20)]
        poll(lambda: env.status()["channels"][0]["inflight"] > 0 and env.a.messages, 20,
             "messages in flight at A")
        env.reload(channels={"mail": env.channel(env.b)})
        check(len(env.a.messages) < 20, "the reload came while A still held messages",
              len(env.a.messages))
        cids += [env.purchase() for _ in range(5)]
        poll(lambda: "the instance a reload replaced has finished" in env.d.read_log(), 30,
             "the old instance released after its last outcome")
        for cid in cids:
            eq(env.final(cid)["state"], "sent", f"{cid} sent")
        got = [m.message_id for m in env.a.messages] + [m.message_id for m in env.b.messages]
        eq(len(got), 25, "every message received")
        eq(len(set(got)), 25, "none twice")
        check(len(env.b.messages) >= 5, "the new messages went through the new instance",
              len(env.b.messages))
    finally:
        env.close()


@test
def a_channel_that_cannot_start_changes_nothing():
    env = Env()
    try:
        env.d.config["channels"] = {"mail": env.channel(env.b, port=0)}
        env.d.write_config()
        env.d.proc.send_signal(signal.SIGHUP)
        poll(lambda: "keeping the running configuration" in env.d.read_log(), 10, "refused")
        cid = env.purchase()
        env.received(env.a, cid)
    finally:
        env.close()


if __name__ == "__main__":
    run_all()
