"""nurturectl against a real daemon: customers, messages, retry, errors and their exit codes,
where the URL and token come from, --json as the API's own documents, and (once the daemon
has them) status, campaigns and stats."""
import json
import os
import subprocess
import sys
import tempfile
import traceback

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import ntest  # noqa: E402
from ntest import TOKEN, Daemon, check, eq, free_port, poll, test  # noqa: E402

CTL = os.path.join(os.environ.get("NT_BUILDDIR") or
                   os.path.join(os.path.dirname(__file__), "..", ".."), "nurturectl")
_daemon = None


def ctl(*args, env=None, url=True, token=True):
    """Runs nurturectl; by default with --url and --token of the shared daemon."""
    e = {k: v for k, v in os.environ.items() if not k.startswith("NURTURED_")}
    e["HOME"] = _daemon.tmp  # no ~/.config/nurturectl.json of the machine's user
    e.update(env or {})
    pre = []
    if url:
        pre += ["--url", f"http://127.0.0.1:{_daemon.port}"]
    if token:
        pre += ["--token", TOKEN]
    return subprocess.run([CTL, *pre, *args], capture_output=True, text=True, timeout=30, env=e)


def api(path):
    r = _daemon.request("GET", path)
    eq(r.status, 200, f"GET {path}: {r.raw}")
    return r.json


def daemon():
    """One daemon for every test: a campaign sending JSON documents to a Maildir (no templates)."""
    global _daemon
    if _daemon is not None:
        return _daemon
    d = Daemon({"user": "root",
                "channels": {"mail": {"plugin": "maildir", "payload": "json",
                                      "path": "/dev/null/x"}}})
    d.config["channels"]["mail"]["path"] = os.path.join(d.tmp, "maildir")
    d.write_config()
    d.write_send_campaign("thanks", "purchase", "thanks", topic="follow-ups", name="Thanks",
                          reentry="always")
    d.start()
    _daemon = d
    r = d.request("POST", "/v1/customers", body={"id": "c-ana", "name": "Ana Lima",
                                                 "email": "ana@example.test"})
    eq(r.status, 200, f"upsert: {r.raw}")
    r = d.post_events({"customer": "c-ana", "type": "purchase", "id": "order-1"})
    eq(r.status, 202, f"event: {r.raw}")
    poll(lambda: [m for m in api("/v1/messages?customer=c-ana")["messages"]
                  if m["state"] == "sent"], 15, "the message sent")
    return d


@test
def customer_shows_profile_and_the_message():
    daemon()
    r = ctl("customer", "c-ana")
    eq(r.returncode, 0, f"exit: {r.stderr}")
    check("Ana Lima" in r.stdout and "ana@example.test" in r.stdout, "profile", r.stdout)
    check("order-1" in r.stdout, "the event", r.stdout)
    msg = api("/v1/messages?customer=c-ana")["messages"][0]
    line = [x for x in r.stdout.splitlines() if x.startswith(str(msg["id"]) + " ")]
    check(line and "thanks" in line[0] and "sent" in line[0], "message row with its state",
          r.stdout)
    check("\x1b" not in r.stdout, "no colours when not a terminal")
    check(TOKEN not in r.stdout + r.stderr, "token never printed")


@test
def messages_filtered_by_state():
    daemon()
    r = ctl("messages", "--state", "sent")
    eq(r.returncode, 0, f"exit: {r.stderr}")
    lines = r.stdout.splitlines()
    check(lines[0].split()[:3] == ["ID", "CUSTOMER", "CAMPAIGN"], "header", r.stdout)
    check(any("c-ana" in x and "sent" in x for x in lines[1:]), "the sent message", r.stdout)
    # Columns are aligned: every row starts its second column where the header does.
    col = lines[0].index("CUSTOMER")
    check(all(x[col - 2:col] == "  " and x[col] != " " for x in lines[1:]), "aligned", r.stdout)
    r = ctl("messages", "--state", "failed")
    eq(r.returncode, 0, "exit")
    check("c-ana" not in r.stdout, "none failed", r.stdout)
    r = ctl("messages", "--state", "bogus")
    eq(r.returncode, 1, "a bad state is the API's 400")
    check("state" in r.stderr, "names the field", r.stderr)


@test
def retry_of_a_sent_message_is_the_409():
    daemon()
    msg = api("/v1/messages?customer=c-ana")["messages"][0]
    r = _daemon.request("POST", f"/v1/messages/{msg['id']}/retry")
    eq(r.status, 409, "the API's answer")
    out = ctl("retry", str(msg["id"]))
    eq(out.returncode, 1, "exit")
    check(r.json["error"] in out.stderr and "409" in out.stderr, "the 409 text", out.stderr)


@test
def wrong_token_is_the_401():
    daemon()
    r = ctl("--token", "wrong-token-0123456789", "messages", token=False)
    eq(r.returncode, 1, "exit")
    check("401" in r.stderr and "bearer token" in r.stderr, "the 401 text", r.stderr)
    check("wrong-token" not in r.stderr + r.stdout, "token never printed", r.stderr)


@test
def unreachable_url_exits_2_naming_it():
    daemon()
    url = f"http://127.0.0.1:{free_port()}"
    r = ctl("--url", url, "messages", url=False)
    eq(r.returncode, 2, f"exit: {r.stderr}")
    check(url in r.stderr, "names the URL", r.stderr)


@test
def token_and_url_from_env_and_from_a_config_file():
    daemon()
    url = f"http://127.0.0.1:{_daemon.port}"
    r = ctl("messages", url=False, token=False,
            env={"NURTURED_URL": url, "NURTURED_TOKEN": TOKEN})
    eq(r.returncode, 0, f"env: {r.stderr}")
    check("c-ana" in r.stdout, "env works", r.stdout)
    with tempfile.NamedTemporaryFile("w", suffix=".json", delete=False) as f:
        json.dump({"url": url, "token": TOKEN}, f)
    try:
        r = ctl("--config", f.name, "messages", url=False, token=False)
        eq(r.returncode, 0, f"--config: {r.stderr}")
        check("c-ana" in r.stdout, "config works", r.stdout)
        # The default file: ~/.config/nurturectl.json
        os.makedirs(os.path.join(_daemon.tmp, ".config"), exist_ok=True)
        os.replace(f.name, os.path.join(_daemon.tmp, ".config", "nurturectl.json"))
        r = ctl("messages", url=False, token=False)
        eq(r.returncode, 0, f"default file: {r.stderr}")
        # A flag wins over the environment and the file.
        r = ctl("--token", "wrong-token-0123456789", "messages", url=False, token=False,
                env={"NURTURED_TOKEN": TOKEN})
        eq(r.returncode, 1, "flag wins")
    finally:
        if os.path.exists(f.name):
            os.unlink(f.name)
        p = os.path.join(_daemon.tmp, ".config", "nurturectl.json")
        if os.path.exists(p):
            os.unlink(p)


@test
def json_is_the_apis_own():
    daemon()
    r = ctl("--json", "messages", "--customer", "c-ana")
    eq(r.returncode, 0, f"exit: {r.stderr}")
    eq(json.loads(r.stdout), api("/v1/messages?customer=c-ana"), "messages")
    r = ctl("--json", "customer", "c-ana")
    eq(r.returncode, 0, f"exit: {r.stderr}")
    doc = json.loads(r.stdout)
    eq(doc["customer"], api("/v1/customers/c-ana"), "customer")
    eq(doc["messages"], api("/v1/messages?customer=c-ana")["messages"], "its messages")


@test
def usage_errors_and_pause_resume():
    daemon()
    for args in ([], ["frobnicate"], ["customer"], ["retry", "1", "2"], ["status", "--state", "x"],
                 ["send-test", "thanks", "send"]):
        r = ctl(*args)
        eq(r.returncode, 64, f"usage exit for {args}: {r.stderr}")
        check("usage:" in r.stderr, "prints usage", r.stderr)
    r = ctl("pause", "thanks")
    eq((r.returncode, r.stdout), (0, "campaign thanks paused\n"), f"pause: {r.stderr}")
    eq(ctl("pause", "thanks").stdout, "campaign thanks paused (already so)\n", "again")
    eq(ctl("resume", "thanks").stdout, "campaign thanks resumed\n", "resume")
    r = ctl("pause", "nope")
    eq(r.returncode, 1, "an unknown campaign")
    check("no such campaign" in r.stderr, "named", r.stderr)


@test
def send_test_renders_one_step_to_one_address():
    daemon()
    r = ctl("send-test", "thanks", "send", "--to", "qa@example.com")
    eq(r.returncode, 0, f"exit: {r.stderr}")
    check(r.stdout.startswith("queued <") and "to qa@example.com" in r.stdout, "says so", r.stdout)
    msgs = poll(lambda: [m for m in api("/v1/messages?customer=nurtured-send-test")["messages"]
                         if m["state"] == "sent"], 15, "the test message sent")
    eq((msgs[0]["campaign"], msgs[0]["step"]), ("", "send-test"), "system mail, outside stats")
    r = ctl("send-test", "thanks", "nope", "--to", "qa@example.com")
    eq(r.returncode, 1, "an unknown step")
    check("no such campaign or send step" in r.stderr, "named", r.stderr)
    r = ctl("send-test", "thanks", "send", "--to", "not-an-address")
    eq(r.returncode, 1, "a bad address")
    check("to" in r.stderr, "names the field", r.stderr)


def endpoint_or_skip(path):
    """The status and campaign endpoints are newer than nurturectl: SKIP while they are 404."""
    r = _daemon.request("GET", path)
    if r.status == 404:
        return None
    eq(r.status, 200, f"GET {path}: {r.raw}")
    return r.json


class Skip(Exception):
    """Raised by a test whose endpoint is not in this daemon: reported as TAP "# SKIP"."""


@test
def status_shows_outbox_and_channels():
    daemon()
    doc = endpoint_or_skip("/v1/status")
    if doc is None:
        raise Skip("GET /v1/status answers 404 in this nurtured")
    r = ctl("status")
    eq(r.returncode, 0, f"exit: {r.stderr}")
    check(doc["version"] in r.stdout, "version", r.stdout)
    check("mail" in r.stdout and "maildir" in r.stdout, "the channel", r.stdout)
    r = ctl("--json", "status")
    got = json.loads(r.stdout)
    eq(set(got), set(doc), "same keys as the API")
    eq(got["outbox"], endpoint_or_skip("/v1/status")["outbox"], "outbox")


@test
def campaigns_and_stats():
    daemon()
    doc = endpoint_or_skip("/v1/campaigns")
    if doc is None:
        raise Skip("GET /v1/campaigns answers 404 in this nurtured")
    r = ctl("campaigns")
    eq(r.returncode, 0, f"exit: {r.stderr}")
    check(any(x.startswith("thanks ") and "Thanks" in x for x in r.stdout.splitlines()),
          "the campaign row", r.stdout)
    eq(json.loads(ctl("--json", "campaigns").stdout), api("/v1/campaigns"), "--json")
    stats = endpoint_or_skip("/v1/campaigns/thanks/stats")
    r = ctl("stats", "thanks")
    eq(r.returncode, 0, f"exit: {r.stderr}")
    check("send" in r.stdout and "conversion" in r.stdout, "steps and conversions", r.stdout)
    eq(json.loads(ctl("--json", "stats", "thanks").stdout), stats, "--json stats")
    r = ctl("stats")
    eq(r.returncode, 0, f"exit: {r.stderr}")
    row = [x for x in r.stdout.splitlines() if x.startswith("thanks ")]
    check(row and row[0].split()[3] == str(stats["sent"]), "summary row with sent", r.stdout)
    r = ctl("stats", "no-such-campaign")
    eq(r.returncode, 1, "unknown campaign is the API's 404")


@test
def zz_stop_the_daemon():
    if _daemon is not None:
        try:
            eq(_daemon.stop(), 0, "clean stop")
        finally:
            _daemon.cleanup()


def run_all_with_skips():
    """ntest.run_all, but a Skip is reported "ok N - name # SKIP why" (TAP)."""
    print(f"1..{len(ntest._tests)}", flush=True)
    failed = 0
    for i, fn in enumerate(ntest._tests, 1):
        try:
            fn()
            print(f"ok {i} - {fn.__name__}", flush=True)
        except Skip as e:
            print(f"ok {i} - {fn.__name__} # SKIP {e}", flush=True)
        except Exception as e:
            failed += 1
            print(f"not ok {i} - {fn.__name__}", flush=True)
            detail = str(e) if isinstance(e, ntest.Failure) else traceback.format_exc()
            for line in detail.splitlines()[-40:]:
                print(f"# {line}", flush=True)
    if _daemon is not None:
        _daemon.cleanup()
    sys.exit(1 if failed else 0)


run_all_with_skips()
