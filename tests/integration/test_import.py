#!/usr/bin/python3
"""nurturectl import: 100,000 CSV rows with bad rows of every kind among them (counts exact,
each bad row named with its line), a re-import that changes nothing, JSON lines, --map, the
consent source "import" with its time, and the progress bar on a terminal."""
import hashlib
import json
import os
import pty
import subprocess
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from ntest import TOKEN, Daemon, check, eq, run_all, test  # noqa: E402

CTL = os.path.join(os.environ.get("NT_BUILDDIR") or
                   os.path.join(os.path.dirname(__file__), "..", ".."), "nurturectl")
D = Daemon().start()
ROWS = 100_000


def ctl_cmd(*args):
    return [CTL, "--url", f"http://127.0.0.1:{D.port}", "--token", TOKEN, *args]


def ctl(*args):
    env = {k: v for k, v in os.environ.items() if not k.startswith("NURTURED_")}
    env["HOME"] = D.tmp
    return subprocess.run(ctl_cmd(*args), capture_output=True, text=True, timeout=600, env=env)


def write_csv(path):
    """ROWS data rows; returns {line: reason keyword} of the bad ones and the good ids."""
    bad, good = {}, []
    line = 1
    with open(path, "w", newline="") as f:
        f.write("id,email,Name,locale,timezone,birthday,plan,consent.newsletter\r\n")
        for i in range(ROWS):
            line += 1
            k = i % 5000
            if k == 100:
                f.write(f"c{i},not-an-address,Bad,en,UTC,,gold,yes\r\n")
                bad[line] = "email"
            elif k == 200:
                f.write(f"c{i},u{i}@example.test,\"Broken\"quote,en,UTC,,gold,yes\r\n")
                bad[line] = "closing quote"
            elif k == 300:
                f.write(f"c{i},u{i}@example.test,Short\r\n")
                bad[line] = "3 fields"
            elif k == 400:
                f.write(f"c{i},u{i}@example.test,N,en,UTC,,gold,maybe\r\n")
                bad[line] = "consent.newsletter"
            elif k == 500:
                f.write(f",,Nobody,en,UTC,,gold,yes\r\n")
                bad[line] = "no id and no email"
            elif k == 600:
                f.write(f"c{i},u{i}@example.test,N,en,Mars/Olympus,,gold,yes\r\n")
                bad[line] = "timezone"
            elif k == 700:  # a quoted name over two lines: good, and later lines shift
                f.write(f"c{i},u{i}@example.test,\"Two\nLines, {i}\",en,UTC,,gold,no\r\n")
                good.append(f"c{i}")
                line += 1
            else:
                f.write(f"c{i},u{i}@example.test,\"Name, {i}\",de-DE,Europe/Berlin,"
                        f"1990-01-{i % 28 + 1:02d},gold,yes\r\n")
                good.append(f"c{i}")
    return bad, good


def snapshot():
    h = hashlib.sha256()
    for table in ("customers", "consent"):
        for row in D.sql(f"SELECT * FROM {table} ORDER BY 1, 2"):
            h.update(repr(row).encode())
    return h.hexdigest()


def summary(out):
    first = out.stdout.splitlines()[0]
    return first


@test
def a_hundred_thousand_rows_with_bad_ones_and_a_re_import():
    path = os.path.join(D.tmp, "customers.csv")
    bad, good = write_csv(path)
    out = ctl("import", path)
    eq(out.returncode, 1, f"bad rows make exit 1: {out.stderr[-500:]}")
    first = summary(out)
    check(f"{ROWS} rows" in first and f"{len(good)} new or changed, 0 unchanged, {len(bad)} bad"
          in first, "exact counts", first)
    reported = {}
    for line in out.stdout.splitlines()[1:]:
        n, why = line.split(": ", 1)
        reported[int(n.split()[1])] = why
    eq(sorted(reported), sorted(bad), "every bad row by its line, none else")
    for n, key in bad.items():
        check(key in reported[n], f"line {n}: reason names {key!r}", reported[n])
    eq(int(D.sql("SELECT count(*) FROM customers")[0][0]), len(good), "stored")
    eq(D.sql("SELECT DISTINCT source FROM consent"), [["import"]], "consent source")
    c = D.request("GET", "/v1/customers/c700").json
    eq((c["name"], c["consent"], c["attributes"]), ("Two\nLines, 700",
       {"newsletter": "unsubscribed"}, {"plan": "gold"}), "an embedded newline, a consent 'no'")
    before = snapshot()
    out = ctl("import", path)
    first = summary(out)
    check(f"0 new or changed, {len(good)} unchanged, {len(bad)} bad" in first, "re-import",
          first)
    eq(snapshot(), before, "a re-import changes nothing, not even 'updated'")


@test
def json_lines_and_a_map():
    path = os.path.join(D.tmp, "c.jsonl")
    with open(path, "w") as f:
        f.write(json.dumps({"customer_id": "j1", "email": "j1@example.test", "seats": 5,
                            "attributes": {"vip": True}, "consent": {"news": "yes"},
                            "consent_time": "2024-05-01T10:00:00Z"}) + "\n")
        f.write("{not json\n")
        f.write(json.dumps({"email": "j3@example.test", "price": 19.99}) + "\n")
        f.write("\n")
        f.write(json.dumps({"id": "j4", "locale": 7}) + "\n")
    out = ctl("import", path)
    eq(out.returncode, 1, out.stderr)
    check("4 rows" in summary(out) and "2 new or changed, 0 unchanged, 2 bad" in summary(out),
          "counts", out.stdout)
    check("line 2:" in out.stdout and "line 5: locale" in out.stdout, "bad lines", out.stdout)
    c = D.request("GET", "/v1/customers/j1").json
    eq((c["attributes"], c["consent"]), ({"seats": 5, "vip": True}, {"news": "subscribed"}),
       "typed attributes, consent")
    eq((c["consent_log"]["news"]["source"], c["consent_log"]["news"]["updated"][:19]),
       ("import", "2024-05-01T10:00:00"), "consent source and its time from the file")
    r = D.request("GET", "/v1/customers/j3@example.test")
    eq((r.status, r.json and r.json["attributes"]), (200, {"price": 19.99}),
       "the email stands in for a missing id")

    path = os.path.join(D.tmp, "mapped.csv")
    with open(path, "w") as f:
        f.write("Kundennummer,E-Mail Adresse,Notiz,Newsletter\nm1,m1@example.test,x,ja\n")
    out = ctl("import", "--map", "Kundennummer=id,E-Mail Adresse=email,Notiz=-,"
              "Newsletter=consent.news", path)
    check("line 2: consent.news" in out.stdout, "'ja' is no consent word", out.stdout)
    with open(path, "w") as f:
        f.write("Kundennummer,E-Mail Adresse,Notiz,Newsletter\nm1,m1@example.test,x,yes\n")
    out = ctl("import", "--map", "Kundennummer=id,E-Mail Adresse=email,Notiz=-,"
              "Newsletter=consent.news", path)
    eq(out.returncode, 0, out.stdout + out.stderr)
    c = D.request("GET", "/v1/customers/m1").json
    eq((c["email"], c["attributes"], c["consent"]), ("m1@example.test", {}, {"news": "subscribed"}),
       "mapped columns, an ignored one")
    out = ctl("import", "--map", "Notiz=nowhere", path)
    eq(out.returncode, 64, "a bad --map is a usage error")


@test
def a_progress_bar_on_a_terminal():
    path = os.path.join(D.tmp, "customers.csv")
    pid, fd = pty.fork()
    if pid == 0:
        os.execv(CTL, ctl_cmd("import", path))
    data = b""
    while True:
        try:
            chunk = os.read(fd, 4096)
        except OSError:
            break
        if not chunk:
            break
        data += chunk
    os.waitpid(pid, 0)
    text = data.decode(errors="replace")
    check("ETA" in text and "/s" in text and "%" in text, "rate and ETA shown", text[:300])


if __name__ == "__main__":
    try:
        run_all()
    finally:
        D.stop()
        D.cleanup()
