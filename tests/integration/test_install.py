#!/usr/bin/python3
"""The shipped example config and the shipped example campaigns go together: make install
puts the examples under the documentation directory, and `nurtured check` accepts them there
with conf/nurtured.json (its channels, the post-purchase example's helpdesk among them)."""
import json
import os
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from ntest import check, eq, run_all, run_cli, test  # noqa: E402

SRC = os.environ.get("NT_SRCDIR") or os.path.abspath(
    os.path.join(os.path.dirname(__file__), "..", ".."))
BUILD = os.environ.get("NT_BUILDDIR") or SRC
TMP = tempfile.mkdtemp(prefix="nt-install-")


def find(dest, suffix):
    for dp, _, fs in os.walk(dest):
        for f in fs:
            p = os.path.join(dp, f)
            if p.endswith(suffix):
                return p
    return None


@test
def the_installed_examples_check_with_the_shipped_config():
    dest = os.path.join(TMP, "stage")
    r = subprocess.run(["make", "-C", BUILD, "install", f"DESTDIR={dest}"],
                       capture_output=True, text=True)
    eq(r.returncode, 0, "make install: " + r.stderr[-2000:])
    pp = find(dest, "/doc/nurtured/examples/campaigns/post-purchase.json")
    check(pp is not None, "the examples under the documentation directory")
    examples = os.path.dirname(pp)
    shipped = sorted(f for f in os.listdir(os.path.join(SRC, "campaigns")) if f.endswith(".json"))
    eq(sorted(f for f in os.listdir(examples) if f.endswith(".json")), shipped, "every campaign")
    eq(sorted(os.listdir(os.path.join(examples, "templates"))),
       sorted(os.listdir(os.path.join(SRC, "campaigns", "templates"))), "every template")
    # The installed config as it is, with its paths pointed at the installed examples.
    with open(find(dest, "/etc/nurtured/nurtured.json")) as f:
        cfg = json.load(f)
    cfg.update({"campaigns_dir": examples, "templates_dir": os.path.join(examples, "templates"),
                "data_dir": os.path.join(TMP, "data"),
                "plugin_dir": os.path.dirname(find(dest, "/lib/nurtured/smtp.so"))})
    for ch in cfg["channels"].values():
        if "path" in ch:
            ch["path"] = os.path.join(TMP, "maildir")
    path = os.path.join(TMP, "nurtured.json")
    with open(path, "w") as f:
        json.dump(cfg, f)
    r = run_cli("check", "-c", path)
    eq(r.returncode, 0, "check: " + r.stdout + r.stderr)
    check(f"{examples}: {len(shipped) - 1} campaigns ok" in r.stdout, "every campaign checked",
          r.stdout)
    # And they run: a purchase through simulate, with the shipped config's channels.
    ev = os.path.join(TMP, "ev.jsonl")
    with open(ev, "w") as f:
        f.write(json.dumps({"customer": "c", "type": "purchase", "time": "2026-01-05T10:00:00Z",
                            "properties": {"order_id": "1"}}) + "\n")
    r = run_cli("simulate", "--campaigns", examples, "--config", path, "--events", ev,
                "--until", "1d", "--json", "--templates", os.path.join(examples, "templates"))
    eq(r.returncode, 0, "simulate: " + r.stderr)
    check('"action":"enter"' in r.stdout, "the examples start journeys", r.stdout)


run_all()
