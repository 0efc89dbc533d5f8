#!/usr/bin/python3
"""The HTTP edge under abuse (issue 18): descriptors running out, slow clients, connection
limits, framing errors answered in JSON, HEAD, large bodies, the token before routing, content
types, query limits."""
import http.client
import json
import os
import resource
import socket
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from ntest import NURTURED, Daemon, TOKEN, check, eq, poll, run_all, test  # noqa: E402

AUTH = b"Authorization: Bearer " + TOKEN.encode() + b"\r\n"
# Built with ASan (NURTURED_SANITIZERS=1): its allocator keeps freed memory in quarantine.
SANITIZED = "libasan" in subprocess.run(["ldd", NURTURED], capture_output=True,
                                        text=True).stdout


def cpu_seconds(pid):
    """User plus system CPU time of PID, in seconds."""
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def rss_mb(pid):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return 0


def metric(d, name):
    for line in d.request("GET", "/metrics", auth=False).raw.splitlines():
        if line.startswith(name + " "):
            return float(line.split()[1])
    raise AssertionError(f"metric {name} missing")


def raw(d, data, timeout=5):
    """Sends DATA on a fresh connection and reads until the server closes it."""
    s = socket.create_connection(("127.0.0.1", d.port), timeout=timeout)
    out = b""
    try:
        s.sendall(data)
        while True:
            b = s.recv(65536)
            if not b:
                break
            out += b
    except (socket.timeout, ConnectionResetError) as e:
        out += ("<%s>" % type(e).__name__).encode()
    finally:
        s.close()
    return out


def parse_response(data):
    """(status, headers, body, rest) of the first HTTP response in DATA."""
    head, _, rest = data.partition(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    status = int(lines[0].split()[1])
    headers = {k.strip().lower(): v.strip() for k, v in
               (line.split(":", 1) for line in lines[1:])}
    n = int(headers.get("content-length", "0"))
    return status, headers, rest[:n], rest[n:]


def healthz_seconds(d, timeout=5):
    t = time.monotonic()
    r = d.request("GET", "/healthz", auth=False, timeout=timeout)
    eq(r.status, 200, "healthz")
    return time.monotonic() - t


def low_nofile(n):
    def pre():
        resource.setrlimit(resource.RLIMIT_NOFILE, (n, n))
    return pre


def trickle(sockets, seconds, payload=b"GET /healthz HTTP/1.1\r\nX-Slow: "):
    """Sends one byte a socket every 0.5 s for SECONDS; returns the sockets the server closed."""
    pos = {s: 0 for s in sockets}
    closed = set()
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        for s in sockets:
            if s in closed:
                continue
            try:
                i = pos[s]
                s.send(payload[i:i + 1] if i < len(payload) else b"a")
                pos[s] = i + 1
            except BlockingIOError:
                pass
            except OSError:
                closed.add(s)
        time.sleep(0.5)
    return closed


def open_sockets(d, n):
    out = []
    for _ in range(n):
        s = socket.socket()
        s.setblocking(False)
        s.connect_ex(("127.0.0.1", d.port))
        out.append(s)
    return out


@test
def slowloris_under_a_low_descriptor_limit_neither_spins_nor_locks_out():
    # 128 descriptors, 200 clients sending a header byte every half second.
    d = Daemon({"header_timeout": 2})
    try:
        d.start(preexec=low_nofile(128))
        cpu0 = cpu_seconds(d.proc.pid)
        log0 = os.path.getsize(d.log_path)
        socks = open_sockets(d, 200)
        t0 = time.monotonic()
        closed = trickle(socks, 7)
        spent = time.monotonic() - t0
        cpu = cpu_seconds(d.proc.pid) - cpu0
        check(cpu < 0.25 * spent, f"the daemon idles while clients hold its descriptors "
                                  f"({cpu:.2f} s of CPU in {spent:.1f} s)")
        check(len(closed) >= 100, f"slow clients are cut at header_timeout, not kept "
                                  f"({len(closed)} of 200 closed in {spent:.1f} s)")
        for s in socks:
            s.close()
        grown = os.path.getsize(d.log_path) - log0
        check(grown < 20000, f"repeated conditions are logged a few times ({grown} bytes)",
              d.read_log()[-3000:])
        # The limit frees: a fresh connection's /healthz answers at once.
        took = min(healthz_seconds(d) for _ in range(3))
        check(took < 0.5, f"/healthz from a fresh connection ({took * 1000:.0f} ms)")
        poll(lambda: metric(d, "nurtured_http_connections") <= 1, 10,
             "every connection counted out")
        eq(d.stop(), 0, "clean stop")
    finally:
        d.cleanup()


@test
def accept_failing_for_lack_of_descriptors_pauses_instead_of_spinning():
    d = Daemon()
    try:
        d.start()
        pid = d.proc.pid
        nfds = len(os.listdir(f"/proc/{pid}/fd"))
        # Lower the limit under the running daemon: accept() itself now fails (EMFILE).
        soft, hard = resource.prlimit(pid, resource.RLIMIT_NOFILE)
        resource.prlimit(pid, resource.RLIMIT_NOFILE, (nfds + 4, hard))
        cpu0 = cpu_seconds(pid)
        log0 = os.path.getsize(d.log_path)
        socks = open_sockets(d, 40)
        time.sleep(3)  # the spin, if any, shows in the CPU time and the log over this span
        cpu = cpu_seconds(pid) - cpu0
        grown = os.path.getsize(d.log_path) - log0
        check(cpu < 0.5, f"no busy loop on EMFILE ({cpu:.2f} s of CPU in 3 s)")
        check(grown < 2000, f"the accept failure logged a few times ({grown} bytes)",
              d.read_log()[-2000:])
        check("accept" in d.read_log(), "the accept failure is logged")
        for s in socks:
            s.close()
        resource.prlimit(pid, resource.RLIMIT_NOFILE, (soft, hard))
        poll(lambda: healthz_seconds(d) < 0.5, 10, "accepting resumed")
        eq(d.stop(), 0, "clean stop")
    finally:
        d.cleanup()


@test
def max_connections_stops_accepting_and_resumes():
    d = Daemon({"max_connections": 4})
    try:
        d.start()
        idle = []
        for _ in range(4):
            s = socket.create_connection(("127.0.0.1", d.port))
            s.sendall(b"GET /healthz HTTP/1.1\r\n")  # a head begun, not finished
            idle.append(s)
        poll(lambda: True, 0.1)
        try:
            r = d.request("GET", "/healthz", auth=False, timeout=1)
            got = r.status
        except OSError:
            got = "no answer"
        eq(got, "no answer", "a fifth connection waits while four are open")
        idle.pop().close()
        took = healthz_seconds(d)
        check(took < 0.5, f"accepting resumes when one closes ({took * 1000:.0f} ms)")
        for s in idle:
            s.close()
        eq(d.stop(), 0, "clean stop")
    finally:
        d.cleanup()


@test
def head_and_body_deadlines_are_totals_not_per_byte():
    d = Daemon({"header_timeout": 2, "body_timeout": 2})
    try:
        d.start()
        for what, first, payload in [
                ("head", b"", b"GET /healthz HTTP/1.1\r\nX-Slow: " + b"a" * 100),
                ("body", b"POST /v1/events HTTP/1.1\r\nContent-Type: application/json\r\n"
                         b"Content-Length: 100\r\n" + AUTH + b"\r\n", b"x" * 100)]:
            s = socket.create_connection(("127.0.0.1", d.port))
            s.sendall(first)
            t0 = time.monotonic()
            cut = None
            for i in range(len(payload)):  # a byte every 0.3 s: 30 s if never cut
                try:
                    s.send(payload[i:i + 1])
                except OSError:
                    cut = time.monotonic() - t0
                    break
                time.sleep(0.3)
                if time.monotonic() - t0 > 6:
                    break
            s.settimeout(2)
            try:
                data = s.recv(65536)
            except OSError:
                data = b""
            s.close()
            if cut is None and data:
                cut = time.monotonic() - t0
            check(cut is not None and cut < 4, f"a trickled {what} is cut at its deadline "
                                               f"(after {cut} s)")
            status, headers, body, _ = parse_response(data)
            eq(status, 408, f"{what}: 408")
            eq(headers.get("content-type"), "application/json", f"{what}: JSON")
            key = "header_timeout" if what == "head" else "body_timeout"
            check(key in json.loads(body)["error"], "names the key", body)
        eq(d.stop(), 0, "clean stop")
    finally:
        d.cleanup()


@test
def framing_errors_are_answered_in_json():
    d = Daemon({"max_body_bytes": 65536})
    try:
        d.start()
        post = b"POST /v1/events HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
        chunk = b"10000\r\n" + b"a" * 65536 + b"\r\n"
        cases = [
            ("body over the limit", 413, post + AUTH + b"Content-Length: 70000\r\n\r\n" +
             b"x" * 70000),
            ("chunked body over the limit", 413,
             post + AUTH + b"Transfer-Encoding: chunked\r\n\r\n" + chunk * 2 + b"0\r\n\r\n"),
            ("Content-Length: 10000000000", 413,
             post + b"Content-Length: 10000000000\r\n\r\n"),
            ("a negative Content-Length", 400, post + b"Content-Length: -5\r\n\r\n"),
            ("Content-Length and Transfer-Encoding", 400,
             post + b"Content-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n"),
            ("a 100 KB header", 431,
             b"GET /healthz HTTP/1.1\r\nX-Big: " + b"a" * 100000 + b"\r\n\r\n"),
            ("a 200 KB URI", 414, b"GET /" + b"a" * 200000 + b" HTTP/1.1\r\n\r\n"),
            ("an unknown method", 501, b"BREW /healthz HTTP/1.1\r\n\r\n"),
        ]
        for what, code, data in cases:
            got = raw(d, data)
            status, headers, body, _ = parse_response(got)
            eq(status, code, what)
            eq(headers.get("content-type"), "application/json", what + ": JSON")
            check("error" in json.loads(body), what + ": an error member", body)
        # A client that sends its whole body before reading gets the 413, not a reset.
        c = http.client.HTTPConnection("127.0.0.1", d.port, timeout=10)
        c.request("POST", "/v1/events", body=b"x" * 3000000,
                  headers={"Content-Type": "application/json",
                           "Authorization": "Bearer " + TOKEN})
        r = c.getresponse()
        eq(r.status, 413, "http.client reads the 413")
        check("max_body_bytes" in json.loads(r.read())["error"], "names the key")
        c.close()
        # A chunked body under the limit still goes through.
        ev = json.dumps({"id": "ch1", "customer": "chunky", "type": "t"}).encode()
        parts = [ev[:7], ev[7:]]
        body = b"".join(b"%x\r\n%s\r\n" % (len(p), p) for p in parts) + b"0\r\n\r\n"
        got = raw(d, post + AUTH + b"Transfer-Encoding: chunked\r\nConnection: close\r\n\r\n" +
                  body)
        eq(parse_response(got)[0], 202, "a chunked body within the limit")
        eq(d.stop(), 0, "clean stop")
    finally:
        d.cleanup()


@test
def head_answers_without_a_body():
    d = Daemon()
    try:
        d.start()
        got = raw(d, b"HEAD /healthz HTTP/1.1\r\nHost: x\r\n\r\n"
                     b"GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        head, _, rest = got.partition(b"\r\n\r\n")
        check(head.startswith(b"HTTP/1.1 200"), "HEAD answered", got)
        check(b"Content-Length: 16" in head, "with GET's Content-Length", head)
        status, _, body, extra = parse_response(rest)
        eq((status, json.loads(body)), (200, {"status": "ok"}),
           "the pipelined GET right after the HEAD's headers")
        eq(extra, b"", "nothing else")
        eq(d.stop(), 0, "clean stop")
    finally:
        d.cleanup()


LOADER = r"""
import http.client, json, sys, threading
port, n = int(sys.argv[1]), int(sys.argv[2])
props = {"p%d" % i: i for i in range(78000)}
body = json.dumps({"customer": "big", "type": "t", "properties": props}).encode()
codes = []
def post():
    c = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
    c.request("POST", "/v1/events", body=body, headers={
        "Content-Type": "application/json", "Authorization": "Bearer " + sys.argv[3]})
    r = c.getresponse()
    codes.append((r.status, r.read().decode()))
    c.close()
ts = [threading.Thread(target=post) for _ in range(n)]
[t.start() for t in ts]
[t.join() for t in ts]
print(json.dumps(codes))
"""


@test
def large_bodies_do_not_stall_the_loop_or_keep_memory():
    d = Daemon({"max_body_bytes": 2 * 1024 * 1024})
    try:
        d.start()
        rss0 = rss_mb(d.proc.pid)
        load = subprocess.Popen([sys.executable, "-c", LOADER, str(d.port), "50", TOKEN],
                                stdout=subprocess.PIPE)
        samples = []
        while load.poll() is None:
            samples.append(healthz_seconds(d))
            time.sleep(0.02)
        codes = json.loads(load.communicate()[0])
        eq(len(codes), 50, "every post answered")
        for status, body in codes:
            eq(status, 400, "78,000 properties refused")
            check("1000" in json.loads(body)["error"], "the answer names the limit", body)
        # The loop stalled 3.6 s before the fix. On two cores shared with the 50 posting
        # clients (and, in CI's PostgreSQL pass, a server and other tests), a single answer can
        # miss 100 ms by the scheduler alone (CI saw a p95 of 104 ms): 95 % of them within
        # 150 ms, and none over 300 ms.
        samples.sort()
        p95, worst = samples[int(len(samples) * 0.95)], samples[-1]
        check(p95 < 0.15 and worst < 0.3, f"/healthz within 150 ms under the load (p95 "
                                          f"{p95 * 1000:.0f} ms, worst {worst * 1000:.0f} ms, "
                                          f"{len(samples)} samples)")
        rss = rss_mb(d.proc.pid)
        check(SANITIZED or rss < rss0 + 60,
              f"memory given back ({rss0:.0f} MB before, {rss:.0f} after)")
        deep = "[" * 40 + "]" * 40
        r = d.request("POST", "/v1/events", raw=json.dumps(
            {"customer": "deep", "type": "t", "properties": {"x": json.loads(deep)}}))
        eq(r.status, 400, "nested too deep")
        check("32" in r.json["error"], "names the depth limit", r.json)
        eq(d.stop(), 0, "clean stop")
    finally:
        d.cleanup()


BATCHER = r"""
import http.client, json, sys, threading
port, n = int(sys.argv[1]), int(sys.argv[2])
codes = []
def post(k):
    evs = [{"id": "e%d-%d" % (k, i), "customer": "c%d" % (i % 50), "type": "t",
            "properties": {"p%d" % j: j for j in range(40)}} for i in range(1500)]
    c = http.client.HTTPConnection("127.0.0.1", port, timeout=120)
    c.request("POST", "/v1/events", body=json.dumps({"events": evs}), headers={
        "Content-Type": "application/json", "Authorization": "Bearer " + sys.argv[3]})
    r = c.getresponse()
    codes.append(r.status)
    r.read()
    c.close()
ts = [threading.Thread(target=post, args=(k,)) for k in range(n)]
[t.start() for t in ts]
[t.join() for t in ts]
print(json.dumps(codes))
"""


def loop_cpu_seconds(pid):
    """CPU time of the daemon's main thread: the network loop."""
    return cpu_seconds(f"{pid}/task/{pid}")


@test
def large_valid_batches_are_parsed_and_checked_off_the_loop():
    # 20 batches of 1,500 events with 40 properties each (730 KB): 60,000 values a body, within
    # every limit. Parsed, validated and freed on the loop they cost it about 55 ms each.
    d = Daemon({"max_body_bytes": 2 * 1024 * 1024, "max_batch": 2000, "durability": "normal"})
    try:
        d.start()
        cpu0 = loop_cpu_seconds(d.proc.pid)
        load = subprocess.run([sys.executable, "-c", BATCHER, str(d.port), "20", TOKEN],
                              capture_output=True, text=True, timeout=300)
        eq(json.loads(load.stdout), [202] * 20, "every batch accepted")
        per = (loop_cpu_seconds(d.proc.pid) - cpu0) / 20
        check(per < 0.025, f"the network loop spends little on a large batch ({per * 1000:.1f} "
                           f"ms of CPU each)")
        r = d.request("GET", "/v1/customers/c7")
        eq(len(r.json["events"]) > 0, True, "stored")
        eq(d.stop(), 0, "clean stop")
    finally:
        d.cleanup()


@test
def the_token_is_checked_before_routing_under_v1():
    d = Daemon()
    try:
        d.start()
        for method, path in [("GET", "/v1/nothing"), ("DELETE", "/v1/events"),
                             ("GET", "/v1/customers/a/b/c")]:
            r = d.request(method, path, auth=False)
            eq(r.status, 401, f"{method} {path} without a token")
        eq(d.request("GET", "/v1/nothing").status, 404, "with a token: 404")
        eq(d.request("DELETE", "/v1/events").status, 405, "with a token: 405")
        eq(d.request("GET", "/nothing", auth=False).status, 404, "outside /v1/: 404")
        eq(d.stop(), 0, "clean stop")
    finally:
        d.cleanup()


@test
def a_body_that_is_not_json_is_415():
    d = Daemon()
    try:
        d.start()
        ev = json.dumps({"id": "ct1", "customer": "ct", "type": "t"})
        for ct in ["text/plain", "application/x-www-form-urlencoded"]:
            r = d.request("POST", "/v1/events", raw=ev, headers={"Content-Type": ct})
            eq(r.status, 415, ct)
            eq(r.headers.get("Content-Type"), "application/json", "a JSON answer")
        eq(d.request("GET", "/v1/customers/ct").status, 404, "nothing stored")
        for ct in ["application/json; charset=utf-8", "application/vnd.api+json"]:
            r = d.request("POST", "/v1/events", raw=ev, headers={"Content-Type": ct})
            eq(r.status, 202, ct)
        eq(d.stop(), 0, "clean stop")
    finally:
        d.cleanup()


@test
def suppressions_limit_is_validated():
    d = Daemon()
    try:
        d.start()
        for bad in ["-5", "abc", "0", "5x"]:
            r = d.request("GET", "/v1/suppressions?limit=" + bad)
            eq(r.status, 400, "limit=" + bad)
            eq(r.json.get("field"), "limit", "names the field")
        eq(d.request("GET", "/v1/suppressions?limit=5").status, 200, "limit=5")
        eq(d.request("GET", "/v1/suppressions?limit=5000").status, 200, "capped, not refused")
        eq(d.stop(), 0, "clean stop")
    finally:
        d.cleanup()


if __name__ == "__main__":
    run_all()
