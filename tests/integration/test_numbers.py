#!/usr/bin/python3
"""Numbers come back as posted: each real as the shortest text that reads back as the same
double (Jansson's default printed 17 digits: 19.99 came back as 19.989999999999998), integers
beyond 2^53 exactly; in the API's answers and in nurturectl's tables and --json."""
import os
import subprocess
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from ntest import TOKEN, Daemon, check, eq, run_all, test  # noqa: E402

CTL = os.path.join(os.environ.get("NT_BUILDDIR") or
                   os.path.join(os.path.dirname(__file__), "..", ".."), "nurturectl")
D = Daemon().start()
# Posted as raw text, so that the test does not depend on Python's own float printing.
PROPS = ('{"total":0.1,"price":19.99,"big":1e21,"tiny":5e-324,"int":9007199254740993,'
         '"demo":89.9,"neg":-2.5e-7,"whole":2.0,"third":0.3333333333333333}')
WANT = ['"total":0.1', '"price":19.99', '"big":1e+21', '"tiny":5e-324',
        '"int":9007199254740993', '"demo":89.9', '"neg":-2.5e-07', '"whole":2.0',
        '"third":0.3333333333333333']


@test
def event_properties_come_back_as_posted():
    raw = ('{"customer":"num-1","type":"purchase","id":"o1","properties":%s}' % PROPS)
    r = D.request("POST", "/v1/events", raw=raw)
    eq(r.status, 202, f"post: {r.raw}")
    r = D.request("GET", "/v1/customers/num-1")
    eq(r.status, 200, "get")
    for w in WANT:
        check(w in r.raw, f"{w} in the answer", r.raw)
    check("19.989999999999998" not in r.raw and "0.10000000000000001" not in r.raw,
          "no 17-digit noise", r.raw)


@test
def attributes_come_back_as_posted():
    raw = '{"id":"num-2","attributes":{"score":89.9,"ratio":0.1}}'
    eq(D.request("POST", "/v1/customers", raw=raw).status, 200, "upsert")
    r = D.request("GET", "/v1/customers/num-2")
    check('"score":89.9' in r.raw and '"ratio":0.1' in r.raw, "attributes as posted", r.raw)


@test
def nurturectl_shows_them_as_posted():
    env = {k: v for k, v in os.environ.items() if not k.startswith("NURTURED_")}
    env["HOME"] = D.tmp
    base = [CTL, "--url", f"http://127.0.0.1:{D.port}", "--token", TOKEN]
    out = subprocess.run(base + ["customer", "num-1"], capture_output=True, text=True,
                         env=env, timeout=30)
    eq(out.returncode, 0, f"nurturectl customer: {out.stderr}")
    for w in WANT:
        check(w in out.stdout, f"{w} in the table", out.stdout)
    out = subprocess.run(base + ["--json", "customer", "num-2"], capture_output=True,
                         text=True, env=env, timeout=30)
    eq(out.returncode, 0, f"nurturectl --json customer: {out.stderr}")
    check('"score": 89.9' in out.stdout, "--json as posted", out.stdout)


if __name__ == "__main__":
    try:
        run_all()
    finally:
        D.stop()
        D.cleanup()
