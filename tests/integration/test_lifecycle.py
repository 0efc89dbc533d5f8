#!/usr/bin/python3
"""Signals: graceful stop with work in flight, reload on SIGHUP, a bad reload kept out."""
import json
import os
import signal
import socket
import sqlite3
import subprocess
import sys
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from ntest import Daemon, TOKEN, check, eq, poll, run_all, test  # noqa: E402

NEW_TOKEN = "second-token-abcdefghijklmnop"


class StoreHold:
    """Holds the daemon's store from outside, so that a request waits in it: SQLite's exclusive
    lock, or on PostgreSQL the tables an event's POST writes, locked in a psql session."""

    def __init__(self, d):
        if d.on_postgresql():
            self.psql = subprocess.Popen(["psql", "-X", "-q", "-At", "-d", d.config["store"]],
                                         stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                         text=True)
            self.psql.stdin.write("BEGIN;\nLOCK TABLE customers, events IN ACCESS EXCLUSIVE"
                                  " MODE;\n\\echo locked\n")
            self.psql.stdin.flush()
            eq(self.psql.stdout.readline().strip(), "locked", "the tables locked")
        else:
            self.psql = None
            self.db = sqlite3.connect(d.db_path(), timeout=5, isolation_level=None)
            self.db.execute("BEGIN EXCLUSIVE")

    def release(self):
        if self.psql is not None:
            self.psql.communicate("ROLLBACK;\n", timeout=10)
        else:
            self.db.execute("ROLLBACK")
            self.db.close()


@test
def sigterm_answers_what_is_in_flight_then_exits_0():
    d = Daemon()
    try:
        d.start()
        eq(d.post_events({"id": "t0", "customer": "term", "type": "t"}).status, 202, "warm up")
        hold = StoreHold(d)  # hold the store so a request is in flight at SIGTERM
        result = {}
        t = threading.Thread(target=lambda: result.setdefault(
            "r", d.post_events({"id": "t1", "customer": "term", "type": "t"}, timeout=30)))
        t.start()
        # The POST is in the daemon, waiting (this /metrics request is the other one).
        poll(lambda: d.metric("nurtured_http_inflight") >= 2, 5, "the POST to arrive")
        d.proc.send_signal(signal.SIGTERM)
        poll(lambda: "stopping (SIGTERM)" in d.read_log(), 5, "the stop to begin")
        check(d.proc.poll() is None, "still running while a request is in flight")
        hold.release()
        t.join(30)
        eq(result["r"].status, 202, "the in-flight request was answered")
        eq(d.proc.wait(15), 0, "exit code")
        d.log.close()
        d.start()
        ids = {e["id"] for e in d.request("GET", "/v1/customers/term").json["events"]}
        eq(ids, {"t0", "t1"}, "both stored")
        eq(d.stop(signal.SIGINT), 0, "SIGINT stops too")
    finally:
        d.cleanup()


@test
def sighup_reloads_tokens():
    d = Daemon()
    try:
        d.start()
        cfg = dict(d.config)
        cfg["api_tokens"] = [NEW_TOKEN]
        d.write_config(cfg)
        d.proc.send_signal(signal.SIGHUP)
        poll(lambda: "reloaded" in d.read_log(), 5, "reload")
        ev = {"customer": "hup", "type": "t"}
        eq(d.post_events(ev, token=TOKEN).status, 401, "old token refused")
        eq(d.post_events(ev, token=NEW_TOKEN).status, 202, "new token accepted")
        d.stop()
    finally:
        d.cleanup()


def fifo_writer(path):
    """A write end of the FIFO once a reader has it open (the reader then waits for data)."""
    try:
        return os.open(path, os.O_WRONLY | os.O_NONBLOCK)
    except OSError:  # ENXIO: no reader yet
        return None


@test
def a_reload_stuck_reading_its_files_does_not_hold_up_the_loop():
    """The config file is a FIFO nobody writes yet, as on a hung file system: while the reload
    waits for it, /healthz and events are answered; two SIGHUPs meanwhile give one more reload
    after it, which reads the file as it is then."""
    third = "third-token-abcdefghijklmnopq"
    d = Daemon()
    try:
        d.start()
        cfg = dict(d.config)
        os.unlink(d.config_path)
        os.mkfifo(d.config_path)
        d.proc.send_signal(signal.SIGHUP)
        w = poll(lambda: fifo_writer(d.config_path), 5, "the reload to open the FIFO")
        d.proc.send_signal(signal.SIGHUP)
        d.proc.send_signal(signal.SIGHUP)
        for i in range(10):
            t0 = time.monotonic()
            eq(d.request("GET", "/healthz", auth=False, timeout=5).status, 200, "healthz")
            took = time.monotonic() - t0
            check(took < 0.5, "healthz answered promptly during the reload", took)
        eq(d.post_events({"id": "r1", "customer": "stuck", "type": "t"}).status, 202,
           "an event stored during the reload, with the old token")
        check("reloaded" not in d.read_log(), "nothing applied before the file is read")
        cfg["api_tokens"] = [NEW_TOKEN]
        os.write(w, json.dumps(cfg).encode())
        os.close(w)
        poll(lambda: d.read_log().count("reloaded") >= 1, 10, "the first reload")
        eq(d.post_events({"customer": "stuck", "type": "t"}, token=NEW_TOKEN).status, 202,
           "the new token after the first reload")
        cfg["api_tokens"] = [third]  # the one reload the two SIGHUPs asked for
        w = poll(lambda: fifo_writer(d.config_path), 5, "the second reload to open the FIFO")
        os.write(w, json.dumps(cfg).encode())
        os.close(w)
        poll(lambda: d.read_log().count("reloaded") >= 2, 10, "the second reload")
        eq(d.post_events({"customer": "stuck", "type": "t"}, token=third).status, 202,
           "the file as it was at the second reload")
        eq(d.post_events({"customer": "stuck", "type": "t"}, token=NEW_TOKEN).status, 401,
           "the first reload's token replaced")
        eq(d.stop(), 0, "exit code")
        eq(d.read_log().count("reloaded"), 2, "two SIGHUPs during a reload: one more reload")
    finally:
        d.cleanup()


@test
def a_stop_keeps_its_deadline_with_a_reload_stuck_reading():
    d = Daemon({"shutdown_timeout": 1})
    try:
        d.start()
        os.unlink(d.config_path)
        os.mkfifo(d.config_path)
        d.proc.send_signal(signal.SIGHUP)
        w = poll(lambda: fifo_writer(d.config_path), 5, "the reload to open the FIFO")
        t0 = time.monotonic()
        eq(d.stop(timeout=10), 0, "exit code")
        took = time.monotonic() - t0
        check(took < 4, "the stop ends about its 1 s deadline", took)
        check("a reload is still busy past the deadline" in d.read_log(), "says why",
              d.read_log()[-1500:])
        os.close(w)
    finally:
        d.cleanup()


@test
def a_bad_reload_keeps_the_running_configuration():
    d = Daemon()
    try:
        d.start()
        with open(d.config_path, "w") as f:
            f.write('{"api_tokens": ["' + NEW_TOKEN + '"], "bogus": 1}')
        d.proc.send_signal(signal.SIGHUP)
        poll(lambda: "keeping the running one" in d.read_log(), 5, "refused reload")
        check("unknown key 'bogus'" in d.read_log(), "names the bad key", d.read_log())
        eq(d.post_events({"customer": "hup2", "type": "t"}).status, 202, "old token still ok")
        eq(d.post_events({"customer": "hup2", "type": "t"}, token=NEW_TOKEN).status, 401,
           "nothing of the bad file applied")
        d.stop()
    finally:
        d.cleanup()


@test
def listen_conflict_fails_fast_with_a_message():
    a = Daemon()
    b = Daemon({"listen": None})
    try:
        a.start()
        cfg = dict(b.config)
        cfg["listen"] = a.config["listen"]
        b.write_config(cfg)
        b.start(wait=False)
        eq(b.proc.wait(10), 1, "exit code")
        b.log.close()
        check("cannot listen on" in b.read_log(), "message", b.read_log())
        a.stop()
    finally:
        a.cleanup()
        b.cleanup()


@test
def generated_secret_is_kept_across_restarts():
    d = Daemon()
    try:
        d.start()
        d.stop()
        path = os.path.join(d.config["data_dir"], "secret")
        first = open(path).read()
        eq(oct(os.stat(path).st_mode & 0o777), "0o600", "mode")
        d.start()
        d.stop()
        eq(open(path).read(), first, "same secret after a restart")
        check(first not in d.read_log(), "the secret is never logged")
    finally:
        d.cleanup()


@test
def service_manager_hears_ready_reloading_stopping():
    d = Daemon()
    sock_path = os.path.join(d.tmp, "notify.sock")
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    sock.bind(sock_path)
    sock.settimeout(10)
    os.environ["NOTIFY_SOCKET"] = sock_path
    try:
        d.start()
        check(b"READY=1" in sock.recv(4096), "READY=1 after start")
        d.proc.send_signal(signal.SIGHUP)
        eq(sock.recv(4096), b"RELOADING=1", "reload begins")
        check(b"READY=1" in sock.recv(4096), "ready again after the reload")
        d.proc.send_signal(signal.SIGTERM)
        eq(sock.recv(4096), b"STOPPING=1", "stop begins")
        eq(d.proc.wait(15), 0, "exit code")
        d.log.close()
    finally:
        del os.environ["NOTIFY_SOCKET"]
        sock.close()
        d.cleanup()


run_all()
