#!/usr/bin/python3
"""A real webhook receiver for the tests: an HTTP server on 127.0.0.1 (a free port) that
records every request and checks its Standard Webhooks signature the way a receiver must
(HMAC-SHA256 over "id.timestamp.body", constant-time compare, timestamps older or newer than
5 minutes refused with 401).

What it answers is switchable, per request, from a script of steps ("modes"):
  ok            204 (or `status`)                 fail_then_ok  500 `n` times, then 200
  throttle      429 + Retry-After (`retry_after`) bad           400 with a body
  stall         sleep `seconds`, then 200         close         read the request, answer nothing

In a test:   r = Receiver(secret); r.start(); r.set_mode("fail_then_ok", n=2); r.requests
Standalone:  webhook_receiver.py [--port N] [--secret S] [--exit-on-eof]  (prints the port)
The control API (for the C harness): POST /_control/mode {"mode": ..., args...},
GET /_control/requests, POST /_control/reset.
"""
import argparse
import base64
import hashlib
import hmac
import json
import sys
import threading
import time
from email.utils import formatdate
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

TOLERANCE_S = 5 * 60


def secret_key(secret):
    """The signing key: Standard Webhooks "whsec_" + base64, or the string's own bytes."""
    if secret is None:
        return None
    if secret.startswith("whsec_"):
        return base64.b64decode(secret[6:])
    return secret.encode()


def verify(key, headers, body, now=None):
    """Checks a request's webhook-* headers; returns None when valid, else the reason."""
    msg_id = headers.get("webhook-id")
    ts = headers.get("webhook-timestamp")
    sigs = headers.get("webhook-signature")
    if not msg_id or not ts or not sigs:
        return "missing webhook-id, webhook-timestamp or webhook-signature"
    try:
        ts_i = int(ts)
    except ValueError:
        return "bad timestamp"
    if abs((now or time.time()) - ts_i) > TOLERANCE_S:
        return "stale timestamp"
    signed = msg_id.encode() + b"." + ts.encode() + b"." + body
    want = base64.b64encode(hmac.new(key, signed, hashlib.sha256).digest()).decode()
    for part in sigs.split():
        version, _, sig = part.partition(",")
        if version == "v1" and hmac.compare_digest(sig, want):
            return None
    return "no valid v1 signature"


def steps_for(mode, n=1, status=None, retry_after="2", seconds=5.0, body=None):
    """A mode as (script of steps, step for every request after it)."""
    if mode == "ok":
        return [], {"status": status or 204}
    if mode == "fail_then_ok":
        return [{"status": status or 500, "body": body or "upstream down"}] * n, {"status": 200}
    if mode == "throttle":
        return ([{"status": 429, "retry_after": retry_after, "body": body or "slow down"}] * n,
                {"status": 200})
    if mode == "throttle_date":  # Retry-After as an HTTP-date, `seconds` from now
        return [{"status": 429, "retry_after_in": seconds}] * n, {"status": 200}
    if mode == "bad":
        return [], {"status": status or 400, "body": body or '{"error": "unknown customer"}'}
    if mode == "stall":
        return [], {"stall": seconds}
    if mode == "close":
        return [], {"close": True}
    raise ValueError(f"unknown mode {mode!r}")


class Receiver:
    """The server and its record; every method is safe from any thread."""

    def __init__(self, secret=None, port=0):
        self.key = secret_key(secret)
        self.lock = threading.Condition()
        self.requests = []
        self.script, self.default = steps_for("ok")
        self.active = 0
        self.max_active = 0
        self.stopping = threading.Event()
        self.httpd = ThreadingHTTPServer(("127.0.0.1", port), self._handler())
        self.httpd.daemon_threads = True
        self.port = self.httpd.server_address[1]
        self.thread = None

    def url(self, path="/"):
        return f"http://127.0.0.1:{self.port}{path}"

    def start(self):
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self.thread.start()
        return self

    def stop(self):
        self.stopping.set()  # wakes stalled handlers
        self.httpd.shutdown()
        self.httpd.server_close()

    def set_mode(self, mode, **kw):
        with self.lock:
            self.script, self.default = steps_for(mode, **kw)

    def reset(self):
        with self.lock:
            self.requests.clear()
            self.max_active = 0
            self.script, self.default = steps_for("ok")

    def wait_for(self, n, timeout=10.0):
        """Waits until N requests arrived; returns them (raises on timeout)."""
        deadline = time.monotonic() + timeout
        with self.lock:
            while len(self.requests) < n:
                left = deadline - time.monotonic()
                if left <= 0:
                    raise TimeoutError(f"{len(self.requests)} of {n} webhook requests arrived")
                self.lock.wait(left)
            return list(self.requests)

    def snapshot(self):
        with self.lock:
            return list(self.requests)

    def _next_step(self):
        with self.lock:
            return self.script.pop(0) if self.script else self.default

    def _record(self, rec):
        with self.lock:
            self.requests.append(rec)
            self.lock.notify_all()

    def _handler(self):
        rcv = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, fmt, *args):
                pass

            def _reply(self, status, body=b"", headers=None):
                try:
                    self.send_response(status)
                    for k, v in (headers or {}).items():
                        self.send_header(k, v)
                    self.send_header("Content-Length", str(len(body)))
                    self.end_headers()
                    self.wfile.write(body)
                except OSError:  # the client gave up (a stall past its timeout)
                    self.close_connection = True

            def _control(self, body):
                if self.command == "GET" and self.path == "/_control/requests":
                    recs = [dict(r, body=r["body"].decode("utf-8", "replace"))
                            for r in rcv.snapshot()]
                    out = {"requests": recs, "max_active": rcv.max_active,
                           "active": rcv.active}
                    return self._reply(200, json.dumps(out).encode(),
                                       {"Content-Type": "application/json"})
                if self.command == "POST" and self.path == "/_control/mode":
                    args = json.loads(body or b"{}")
                    try:
                        rcv.set_mode(args.pop("mode"), **args)
                    except (KeyError, TypeError, ValueError) as e:
                        return self._reply(400, str(e).encode())
                    return self._reply(204)
                if self.command == "POST" and self.path == "/_control/reset":
                    rcv.reset()
                    return self._reply(204)
                return self._reply(404)

            def _handle(self):
                n = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(n) if n else b""
                if self.path.startswith("/_control/"):
                    return self._control(body)
                headers = {k.lower(): v for k, v in self.headers.items()}
                sig_error = verify(rcv.key, headers, body) if rcv.key is not None else None
                rec = {"method": self.command, "path": self.path, "headers": headers,
                       "body": body, "time": time.time(), "sig_ok": sig_error is None,
                       "sig_error": sig_error}
                with rcv.lock:
                    rcv.active += 1
                    rcv.max_active = max(rcv.max_active, rcv.active)
                try:
                    rcv._record(rec)
                    if sig_error is not None:
                        return self._reply(401, sig_error.encode())
                    step = rcv._next_step()
                    if step.get("close"):
                        self.close_connection = True
                        return
                    if step.get("stall"):
                        rcv.stopping.wait(step["stall"])
                        step = {"status": 200}
                    extra = {}
                    if "retry_after" in step:
                        extra["Retry-After"] = step["retry_after"]
                    if "retry_after_in" in step:
                        extra["Retry-After"] = formatdate(time.time() + step["retry_after_in"],
                                                          usegmt=True)
                    self._reply(step["status"], (step.get("body") or "").encode(), extra)
                finally:
                    with rcv.lock:
                        rcv.active -= 1

            do_POST = do_PUT = do_GET = _handle

        return Handler


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--port", type=int, default=0)
    ap.add_argument("--secret")
    ap.add_argument("--exit-on-eof", action="store_true",
                    help="stop when stdin closes (for a parent process that runs us)")
    args = ap.parse_args()
    r = Receiver(args.secret, args.port)
    print(r.port, flush=True)
    if args.exit_on_eof:
        r.start()
        sys.stdin.read()
        r.stop()
    else:
        try:
            r.httpd.serve_forever()
        except KeyboardInterrupt:
            pass


if __name__ == "__main__":
    main()
