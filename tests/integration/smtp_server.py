"""A fault-injecting SMTP server on aiosmtpd for the delivery tests (127.0.0.1 only).

As a module:
    srv = SmtpServer(port=0, behaviour={"tempfail_rcpt": 2})
    srv.start(); ...; srv.messages; srv.set(reject=["x@example.com"]); srv.stop()

As a program (benchmarks, soak):
    /usr/bin/python3 smtp_server.py --port N [--tls] [--auth user:pass] [--reject ADDR] ...
prints "listening PORT" and serves until killed. With --control it also reads JSON commands
on stdin, one a line, answers each with one JSON line, and exits at end of input:
    {"cmd": "stats"}             counts, sessions, received messages (without the data)
    {"cmd": "messages"}          the received messages, data as text
    {"cmd": "set", "behaviour": {...}}   change fault modes (same keys as below)
    {"cmd": "down"} / {"cmd": "up"}      stop listening / listen again on the same port
    {"cmd": "clear"}             forget what was received

Behaviour keys (all switchable at run time):
    greet_421         answer "421" at connect and close
    stall             None | "connect" (never greet) | "data" (never answer DATA)
    tempfail_rcpt     N: "451 4.3.0 try later" to the first N RCPTs of each recipient
    tempfail_data     N: "451 4.3.0 try later" after the data, first N times per recipient
    reject            recipients answered "550 5.1.1 no such user"
    drop_after_mail   close the connection after MAIL FROM
    pipelining        advertise PIPELINING (default True)
    enhanced          advertise ENHANCEDSTATUSCODES (default False)
    fail_rate         P: "451 4.3.0 try later" to a random share P of all RCPTs (soak runs)
    keep_data         keep every received message in `messages` (default True; a soak run
                      keeps only the Message-ID counts)
    delay_data        S: wait S seconds before answering each DATA (messages stay in flight)
Fixed at construction: tls (STARTTLS with a self-signed certificate made with `openssl req`),
auth ((user, password): AUTH PLAIN/LOGIN required before MAIL), smtputf8 (offer SMTPUTF8,
RFC 6531: UTF-8 in commands; without it a command that is not ASCII gets a 500).
"""

import asyncio
import collections
import email.parser
import email.policy
import json
import logging
import os
import random
import shutil
import ssl
import subprocess
import sys
import tempfile
import threading
import warnings

from aiosmtpd.smtp import SMTP, AuthResult, LoginPassword

# AUTH without TLS is what the tests want; aiosmtpd warns about it at every connection.
warnings.filterwarnings("ignore", module="aiosmtpd")
logging.getLogger("mail.log").setLevel(logging.CRITICAL)

DEFAULTS = {
    "greet_421": False,
    "stall": None,
    "tempfail_rcpt": 0,
    "tempfail_data": 0,
    "reject": [],
    "drop_after_mail": False,
    "pipelining": True,
    "enhanced": False,
    "fail_rate": 0.0,
    "keep_data": True,
    "delay_data": 0.0,
}


class Received:
    """One message as it arrived."""

    def __init__(self, session, mail_from, rcpts, data, mail_options=()):
        self.session = session
        self.mail_from = mail_from
        self.mail_options = list(mail_options)
        self.rcpts = list(rcpts)
        self.data = data
        hdrs = email.parser.BytesHeaderParser(policy=email.policy.compat32).parsebytes(data)
        self.message_id = (hdrs.get("Message-ID") or "").strip()

    def as_json(self, with_data=False):
        d = {"session": self.session, "mail_from": self.mail_from,
             "mail_options": self.mail_options, "rcpts": self.rcpts,
             "message_id": self.message_id, "size": len(self.data)}
        if with_data:
            d["data"] = self.data.decode("utf-8", "surrogateescape")
        return d


class _Handler:
    """aiosmtpd hooks: the fault modes that answer envelope commands and data."""

    def __init__(self, srv):
        self.srv = srv

    async def handle_EHLO(self, server, session, envelope, hostname, responses):
        session.host_name = hostname
        b = self.srv.behaviour
        extra = []
        if b["pipelining"]:
            extra.append("250-PIPELINING")
        if b["enhanced"]:
            extra.append("250-ENHANCEDSTATUSCODES")
        return responses[:1] + extra + responses[1:]

    async def handle_MAIL(self, server, session, envelope, address, mail_options):
        if self.srv.behaviour["drop_after_mail"]:
            server.transport.close()
            return "421 4.3.0 closing"
        with self.srv.lock:
            self.srv.mail_attempts[address] += 1
        envelope.mail_from = address
        envelope.mail_options.extend(mail_options)
        return "250 OK"

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        srv, b = self.srv, self.srv.behaviour
        with srv.lock:
            srv.rcpt_attempts[address] += 1
            n = srv.rcpt_attempts[address]
        if address in b["reject"]:
            return "550 5.1.1 no such user"
        if n <= b["tempfail_rcpt"] or (b["fail_rate"] and random.random() < b["fail_rate"]):
            return "451 4.3.0 try later"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):
        srv, b = self.srv, self.srv.behaviour
        if b["delay_data"]:
            await asyncio.sleep(b["delay_data"])
        with srv.lock:
            fail = False
            for r in envelope.rcpt_tos:
                srv.data_attempts[r] += 1
                if srv.data_attempts[r] <= b["tempfail_data"]:
                    fail = True
            if fail:
                return "451 4.3.0 try later"
            msg = Received(server.session_id, envelope.mail_from, envelope.rcpt_tos,
                           bytes(envelope.original_content), envelope.mail_options)
            if b["keep_data"]:
                srv.messages.append(msg)
            srv.by_message_id[msg.message_id] += 1
        return "250 OK queued"


class _Smtp(SMTP):
    """aiosmtpd's SMTP with a session number and a DATA that can stall."""

    def __init__(self, srv, **kw):
        super().__init__(_Handler(srv), **kw)
        self.srv = srv
        with srv.lock:
            srv.connections += 1
            self.session_id = srv.connections

    async def smtp_EHLO(self, hostname):
        with self.srv.lock:
            self.srv.sessions.add(self.session_id)
        await super().smtp_EHLO(hostname)

    async def smtp_HELO(self, hostname):
        with self.srv.lock:
            self.srv.sessions.add(self.session_id)
        await super().smtp_HELO(hostname)

    async def smtp_DATA(self, arg):
        if self.srv.behaviour["stall"] == "data" and self.envelope.rcpt_tos:
            await self.srv._forever()
            return
        await super().smtp_DATA(arg)


class _Silent(asyncio.Protocol):
    """A connection that is accepted and never answered (stall at connect)."""

    def __init__(self, srv):
        self.srv = srv

    def connection_made(self, transport):
        with self.srv.lock:
            self.srv.connections += 1
        self.srv.stalled.append(transport)


class _Refuse(asyncio.Protocol):
    """421 at connect, then close."""

    def __init__(self, srv):
        self.srv = srv

    def connection_made(self, transport):
        with self.srv.lock:
            self.srv.connections += 1
        transport.write(b"421 4.3.2 service not available, closing\r\n")
        transport.close()


def _make_cert(directory):
    """A self-signed certificate for 127.0.0.1, made with the openssl CLI."""
    cert, key = os.path.join(directory, "cert.pem"), os.path.join(directory, "key.pem")
    subprocess.run(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt",
                    "ec_paramgen_curve:prime256v1", "-nodes", "-keyout", key, "-out", cert,
                    "-days", "2", "-subj", "/CN=127.0.0.1",
                    "-addext", "subjectAltName=DNS:127.0.0.1,DNS:localhost,IP:127.0.0.1"],
                   check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    return cert, key


class SmtpServer:
    """The server on 127.0.0.1 in a background thread, with its own event loop."""

    def __init__(self, port=0, behaviour=None, tls=False, auth=None, smtputf8=False):
        self.port = port
        self.behaviour = dict(DEFAULTS)
        self.behaviour.update(behaviour or {})
        self.lock = threading.Lock()
        self.messages = []
        self.by_message_id = collections.Counter()
        self.rcpt_attempts = collections.Counter()
        self.mail_attempts = collections.Counter()
        self.data_attempts = collections.Counter()
        self.connections = 0
        self.sessions = set()
        self.stalled = []
        self.auth = auth
        self.smtputf8 = smtputf8
        self.tmpdir = tempfile.mkdtemp(prefix="nt-smtp-")
        self.cert_file = None
        self.tls_context = None
        if tls:
            self.cert_file, key = _make_cert(self.tmpdir)
            self.tls_context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
            self.tls_context.load_cert_chain(self.cert_file, key)
        self.loop = asyncio.new_event_loop()
        self.server = None
        self.thread = None
        self._stop_ev = None

    # --- control (any thread) ---

    def start(self):
        self.thread = threading.Thread(target=self._run, daemon=True)
        ready = threading.Event()
        self._ready = ready
        self.thread.start()
        ready.wait(10)
        self.up()
        return self

    def stop(self):
        if self.thread is None:
            return
        self.down()
        self.loop.call_soon_threadsafe(self._stop_ev.set)
        self.thread.join(10)
        self.thread = None
        shutil.rmtree(self.tmpdir, ignore_errors=True)

    def set(self, **behaviour):
        unknown = set(behaviour) - set(DEFAULTS)
        if unknown:
            raise KeyError(f"unknown behaviour {sorted(unknown)}")
        with self.lock:
            self.behaviour.update(behaviour)

    def down(self):
        """Stop listening and drop every connection (the server is gone)."""
        self._call(self._down())

    def up(self):
        """Listen (again) on the same port."""
        self._call(self._up())

    def clear(self):
        with self.lock:
            self.messages.clear()
            self.by_message_id.clear()
            self.rcpt_attempts.clear()
            self.mail_attempts.clear()
            self.data_attempts.clear()
            self.sessions.clear()
            self.connections = 0

    def duplicates(self):
        with self.lock:
            return {k: n for k, n in self.by_message_id.items() if n > 1}

    def stats(self):
        with self.lock:
            return {"port": self.port, "connections": self.connections,
                    "sessions": len(self.sessions), "received": len(self.messages),
                    "sessions_with_mail": len({m.session for m in self.messages}),
                    "duplicates": {k: n for k, n in self.by_message_id.items() if n > 1},
                    "rcpt_attempts": dict(self.rcpt_attempts),
                    "mail_attempts": dict(self.mail_attempts),
                    "messages": [m.as_json() for m in self.messages]}

    def wait_for(self, cond, timeout=10.0):
        """Polls COND() until true; returns its last value."""
        import time
        end = time.monotonic() + timeout
        while True:
            with self.lock:
                v = cond()
            if v or time.monotonic() > end:
                return v
            time.sleep(0.02)

    # --- the loop thread ---

    def _call(self, coro):
        return asyncio.run_coroutine_threadsafe(coro, self.loop).result(10)

    def _run(self):
        asyncio.set_event_loop(self.loop)
        self._stop_ev = asyncio.Event()
        self._forever_ev = asyncio.Event()
        self._ready.set()
        self.loop.run_until_complete(self._stop_ev.wait())
        self._forever_ev.set()
        self.loop.run_until_complete(asyncio.sleep(0.05))
        self.loop.close()

    async def _forever(self):
        await self._forever_ev.wait()

    def _factory(self):
        b = self.behaviour
        if b["greet_421"]:
            return _Refuse(self)
        if b["stall"] == "connect":
            return _Silent(self)
        kw = {"loop": self.loop, "hostname": "smtp-test.invalid", "timeout": 600,
              "enable_SMTPUTF8": self.smtputf8}
        if self.tls_context is not None:
            kw["tls_context"] = self.tls_context
        if self.auth is not None:
            user, password = self.auth

            def check(server, session, envelope, mechanism, data):
                ok = (isinstance(data, LoginPassword) and data.login == user.encode()
                      and data.password == password.encode())
                return AuthResult(success=ok, handled=False)
            kw.update(authenticator=check, auth_required=True, auth_require_tls=False)
        return _Smtp(self, **kw)

    async def _up(self):
        if self.server is not None:
            return
        self.server = await self.loop.create_server(self._factory, "127.0.0.1", self.port,
                                                    reuse_address=True)
        self.port = self.server.sockets[0].getsockname()[1]

    async def _down(self):
        if self.server is None:
            return
        self.server.close()
        await self.server.wait_closed()
        self.server = None
        for t in self.stalled:
            t.close()
        self.stalled.clear()
        for task in asyncio.all_tasks(self.loop):
            if task is not asyncio.current_task() and "_handle_client" in repr(task):
                task.cancel()


def _control(srv):
    """The stdin command loop of --control."""
    for line in sys.stdin:
        line = line.strip()
        if not line:
            continue
        try:
            c = json.loads(line)
            cmd = c.get("cmd")
            if cmd == "stats":
                out = srv.stats()
            elif cmd == "messages":
                with srv.lock:
                    out = {"messages": [m.as_json(True) for m in srv.messages]}
            elif cmd == "set":
                srv.set(**c.get("behaviour", {}))
                out = {"ok": True}
            elif cmd == "down":
                srv.down()
                out = {"ok": True}
            elif cmd == "up":
                srv.up()
                out = {"ok": True, "port": srv.port}
            elif cmd == "clear":
                srv.clear()
                out = {"ok": True}
            else:
                out = {"error": f"unknown command {cmd!r}"}
        except Exception as e:  # a bad command must not kill the server
            out = {"error": str(e)}
        print(json.dumps(out), flush=True)


def main():
    import argparse
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--port", type=int, default=0)
    p.add_argument("--tls", action="store_true", help="offer STARTTLS (self-signed)")
    p.add_argument("--auth", metavar="USER:PASSWORD", help="require AUTH PLAIN/LOGIN")
    p.add_argument("--smtputf8", action="store_true", help="offer SMTPUTF8 (RFC 6531)")
    p.add_argument("--greet-421", action="store_true")
    p.add_argument("--stall", choices=["connect", "data"])
    p.add_argument("--tempfail-rcpt", type=int, default=0)
    p.add_argument("--tempfail-data", type=int, default=0)
    p.add_argument("--reject", action="append", default=[], metavar="ADDR")
    p.add_argument("--drop-after-mail", action="store_true")
    p.add_argument("--no-pipelining", action="store_true")
    p.add_argument("--enhanced", action="store_true")
    p.add_argument("--fail-rate", type=float, default=0.0, metavar="P")
    p.add_argument("--no-keep-data", action="store_true")
    p.add_argument("--control", action="store_true",
                   help="read JSON commands on stdin; exit at end of input")
    a = p.parse_args()
    auth = tuple(a.auth.split(":", 1)) if a.auth else None
    srv = SmtpServer(port=a.port, tls=a.tls, auth=auth, smtputf8=a.smtputf8, behaviour={
        "greet_421": a.greet_421, "stall": a.stall, "tempfail_rcpt": a.tempfail_rcpt,
        "tempfail_data": a.tempfail_data, "reject": a.reject,
        "drop_after_mail": a.drop_after_mail, "pipelining": not a.no_pipelining,
        "enhanced": a.enhanced, "fail_rate": a.fail_rate, "keep_data": not a.no_keep_data})
    srv.start()
    print(f"listening {srv.port}", flush=True)
    if srv.cert_file:
        print(f"cert {srv.cert_file}", flush=True)
    try:
        if a.control:
            _control(srv)
        else:
            threading.Event().wait()
    except KeyboardInterrupt:
        pass
    finally:
        srv.stop()


if __name__ == "__main__":
    main()
