"""Test harness for nurtured's integration tests: starts the real daemon on a free loopback
port with a temporary data directory, talks real HTTP to it, and reports in TAP.

Runs under Debian's /usr/bin/python3. Set NURTURED to the binary (make check does).
"""
import http.client
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import traceback

NURTURED = os.environ.get("NURTURED") or os.path.join(
    os.path.dirname(__file__), "..", "..", "nurtured")
# The plugins as built (libtool puts the shared objects in .libs).
PLUGIN_DIR = os.path.join(os.environ.get("NT_BUILDDIR") or os.path.dirname(NURTURED),
                          "plugins", ".libs")
TOKEN = "test-token-0123456789abcdef"
# Issue 21: "postgresql" runs every daemon on a database of its own in a private cluster.
STORE = os.environ.get("NURTURED_TEST_STORE", "sqlite")
_tests = []


def test(fn):
    """Registers a test function; run_all() runs them in order."""
    _tests.append(fn)
    return fn


class Failure(Exception):
    pass


class Skip(Exception):
    """Raised by skip(): the test cannot run here; TAP reports it as skipped, not passed."""


def skip(reason):
    """Ends the running test as skipped (TAP `ok N - name # SKIP reason`)."""
    raise Skip(reason)


def check(cond, what, *details):
    if not cond:
        raise Failure(what + ("".join("\n" + str(d) for d in details) if details else ""))


def eq(got, want, what=""):
    if got != want:
        raise Failure(f"{what}: expected {want!r}, got {got!r}")


def poll(cond, timeout=10.0, what="condition"):
    """Waits until cond() is true; never a blind sleep."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        v = cond()
        if v:
            return v
        time.sleep(0.02)
    raise Failure(f"timed out waiting for {what}")


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def cpu_seconds(pid):
    """The CPU time process PID used so far (user and system), in seconds."""
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


class Response:
    def __init__(self, status, headers, body):
        self.status = status
        self.headers = headers
        self.raw = body
        try:
            self.json = json.loads(body) if body else None
        except ValueError:
            self.json = None

    def __repr__(self):
        return f"<{self.status} {self.raw[:300]!r}>"


class Daemon:
    """One nurtured process with its own config and data dir."""

    def __init__(self, config=None, tmp=None):
        self.tmp = tmp or tempfile.mkdtemp(prefix="nt-test-")
        self.port = free_port()
        self.config = {
            "listen": f"127.0.0.1:{self.port}",
            "data_dir": os.path.join(self.tmp, "data"),
            "api_tokens": [TOKEN],
            # No campaigns unless a test writes some here.
            "campaigns_dir": os.path.join(self.tmp, "campaigns"),
            "templates_dir": os.path.join(self.tmp, "templates"),
            "plugin_dir": PLUGIN_DIR,
            "log_level": "info",
        }
        self.config.update(config or {})
        if STORE == "postgresql" and "store" not in self.config:
            import pgcluster
            self.config["store"] = pgcluster.shared().create_database()
        self.config_path = os.path.join(self.tmp, "nurtured.json")
        self.log_path = os.path.join(self.tmp, "nurtured.log")
        self.proc = None
        self.write_config()

    def write_campaign(self, campaign):
        """campaigns/ID.json in this daemon's campaigns_dir."""
        d = os.path.join(self.tmp, "campaigns")
        os.makedirs(d, exist_ok=True)
        with open(os.path.join(d, campaign["id"] + ".json"), "w") as f:
            json.dump(campaign, f)

    def write_send_campaign(self, cid, event, template, topic="orders", before=(), **extra):
        """The test campaign most tests need: on EVENT, the steps BEFORE, then one step "send"
        of TEMPLATE through the channel "mail"; EXTRA adds or overrides campaign keys."""
        c = {"id": cid, "name": cid, "status": "active", "topic": topic,
             "trigger": {"event": event},
             "steps": [*before, {"id": "send", "send": {"channel": "mail", "template": template}}]}
        c.update(extra)
        self.write_campaign(c)

    def write_templates(self, files):
        """FILES: file name -> text, in this daemon's templates_dir."""
        d = os.path.join(self.tmp, "templates")
        os.makedirs(d, exist_ok=True)
        for name, text in files.items():
            with open(os.path.join(d, name), "w") as f:
                f.write(text)

    def write_config(self, config=None):
        if config is not None:
            self.config = config
        with open(self.config_path, "w") as f:
            json.dump(self.config, f, indent=2)
        os.chmod(self.config_path, 0o600)  # it holds the API tokens: private, as installed

    def start(self, wait=True, preexec=None):
        self.log = open(self.log_path, "ab")
        self.proc = subprocess.Popen([NURTURED, "-f", "-c", self.config_path],
                                     stdout=self.log, stderr=subprocess.STDOUT,
                                     preexec_fn=preexec)
        if wait:
            poll(self._up, 10, "daemon to answer /healthz")
        return self

    def moved_to(self, url):
        """A daemon with this one's configuration and its store moved to the PostgreSQL
        database URL (after `nurtured migrate`): the same data_dir (its secret signs what was
        already sent), its own port. Started and answering; skips while the backend is
        incomplete."""
        p = Daemon(dict({k: v for k, v in self.config.items() if k != "listen"}, store=url),
                   tmp=tempfile.mkdtemp(prefix="nt-test-"))
        p.start(wait=False)

        def up():
            if p.proc.poll() is not None:
                log = p.read_log()
                if "the PostgreSQL backend lacks its" in log:
                    skip("the PostgreSQL backend is incomplete: " + log.strip().splitlines()[-1])
                raise Failure("the daemon exited:\n" + log)
            try:
                return p.request("GET", "/healthz", auth=False, timeout=1).status == 200
            except OSError:
                return False
        try:
            poll(up, 20, "the daemon on PostgreSQL")
        except BaseException:
            p.stop()
            raise
        return p

    def _up(self):
        if self.proc.poll() is not None:
            raise Failure(f"daemon exited with {self.proc.returncode}:\n{self.read_log()}")
        try:
            return self.request("GET", "/healthz", auth=False, timeout=1).status == 200
        except OSError:
            return False

    def read_log(self):
        with open(self.log_path, errors="replace") as f:
            return f.read()

    def request(self, method, path, body=None, auth=True, token=None, timeout=10,
                headers=None, raw=None):
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=timeout)
        h = dict(headers or {})
        if auth:
            h["Authorization"] = "Bearer " + (token or TOKEN)
        data = raw if raw is not None else (json.dumps(body) if body is not None else None)
        if data is not None:
            h.setdefault("Content-Type", "application/json")
        try:
            conn.request(method, path, body=data, headers=h)
            r = conn.getresponse()
            return Response(r.status, dict(r.getheaders()), r.read().decode("utf-8", "replace"))
        finally:
            conn.close()

    def metric(self, name):
        """The value of an unlabelled metric from /metrics (answered on the network loop)."""
        for line in self.request("GET", "/metrics", auth=False).raw.splitlines():
            if line.startswith(name + " "):
                return float(line.split()[1])
        raise Failure(f"no metric {name}")

    def post_events(self, events, **kw):
        return self.request("POST", "/v1/events", body=events, **kw)

    def kill9(self):
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait()
        self.log.close()

    def stop(self, sig=signal.SIGTERM, timeout=15):
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(sig)
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
                raise Failure("daemon did not stop within %ss" % timeout)
        if self.proc:
            self.log.close()
        return self.proc.returncode if self.proc else None

    def cleanup(self):
        try:
            if self.proc and self.proc.poll() is None:
                self.proc.kill()
                self.proc.wait()
        finally:
            shutil.rmtree(self.tmp, ignore_errors=True)

    def db_path(self):
        """The SQLite file. A test that opens it cannot run on PostgreSQL: it is reported as
        skipped there, with the reason (Daemon.sql reads either store)."""
        if self.on_postgresql():
            raise Skip("reads the SQLite file directly; on PostgreSQL it would need Daemon.sql")
        return os.path.join(self.config["data_dir"], "nurtured.db")

    def on_postgresql(self):
        return self.config.get("store", "sqlite") != "sqlite"

    def events_unconsumed(self):
        """Stored events the engine has not consumed yet. On SQLite the engine consumes them in
        the transaction that stores them; on PostgreSQL in one of its own right after (issue 21),
        so a test that waits for their effects to settle waits for this to be 0 first."""
        if self.on_postgresql():
            return int(self.sql("SELECT count(*) FROM events WHERE pending")[0][0])
        return int(self.sql("SELECT count(*) FROM events WHERE seq > (SELECT CAST(value AS"
                            " INTEGER) FROM meta WHERE key = 'engine_cursor')")[0][0])

    def sql(self, query):
        """Rows of QUERY on this daemon's store, read directly (SQLite file or PostgreSQL), as
        lists of strings (None for NULL on SQLite, "" on PostgreSQL): for checks the API
        does not show."""
        if self.on_postgresql():
            import pgcluster
            url = self.config["store"]
            return pgcluster.shared().psql(query, db=url.rsplit("/", 1)[1])
        import sqlite3
        con = sqlite3.connect(f"file:{self.db_path()}?mode=ro", uri=True, timeout=10)
        try:
            return [[None if v is None else str(v) for v in row]
                    for row in con.execute(query).fetchall()]
        finally:
            con.close()


def run_cli(*args, timeout=30):
    return subprocess.run([NURTURED, *args], capture_output=True, text=True, timeout=timeout)


def run_all():
    """Runs every registered test and prints TAP; exits 1 if any failed. A test that calls
    skip() is reported with TAP's SKIP directive, which the test driver counts as skipped."""
    print(f"1..{len(_tests)}", flush=True)
    failed = 0
    for i, fn in enumerate(_tests, 1):
        name = fn.__name__
        try:
            fn()
            print(f"ok {i} - {name}", flush=True)
        except Skip as e:
            print(f"ok {i} - {name} # SKIP {e}", flush=True)
        except Exception as e:
            failed += 1
            print(f"not ok {i} - {name}", flush=True)
            if isinstance(e, Failure):
                detail = str(e)
            else:  # the frames, and the message's first lines (a browser's runs long)
                msg = "".join(traceback.format_exception_only(type(e), e)).splitlines()[:6]
                detail = "".join(traceback.format_tb(e.__traceback__)) + "\n".join(msg)
            for line in detail.splitlines()[-60:]:
                print(f"# {line}", flush=True)
    sys.exit(1 if failed else 0)
