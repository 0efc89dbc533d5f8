#!/usr/bin/python3
"""Plugins as the daemon loads them: one of another ABI major, a missing one and a channel with a
bad setting are refused by `nurtured check` and at start, each named."""
import os
import shutil
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from ntest import PLUGIN_DIR, Daemon, check, eq, poll, run_all, run_cli, test  # noqa: E402

BUILD = os.environ.get("NT_BUILDDIR") or os.path.join(os.path.dirname(__file__), "..", "..")
ABI2 = os.path.join(BUILD, "tests", "plugins", ".libs", "abi2.so")


def refused(channels, plugin_dir, *needles):
    """Both `check` and a start refuse CHANNELS, saying each of NEEDLES."""
    d = Daemon({"channels": channels, "plugin_dir": plugin_dir})
    try:
        r = run_cli("check", "-c", d.config_path)
        eq(r.returncode, 1, f"check exit: {r.stdout} {r.stderr}")
        for n in needles:
            check(n in r.stderr, f"check says {n!r}", r.stderr)
        d.start(wait=False)
        d.proc.wait(15)
        eq(d.proc.returncode, 1, "the daemon refuses to start")
        log = d.read_log()
        for n in needles:
            check(n in log, f"the log says {n!r}", log)
    finally:
        d.cleanup()


@test
def another_abi_major_is_refused():
    check(os.path.exists(ABI2), "the test plugin is built", ABI2)
    d = Daemon()
    pdir = os.path.join(d.tmp, "plugins")
    os.makedirs(pdir)
    shutil.copy(ABI2, os.path.join(pdir, "abi2.so"))
    try:
        refused({"mail": {"plugin": "abi2"}}, pdir, "channel 'mail'", "built for plugin ABI 2.0",
                "speaks 1.")
    finally:
        d.cleanup()


@test
def a_missing_plugin_is_named():
    refused({"mail": {"plugin": "nosuch"}}, PLUGIN_DIR, "channel 'mail'", "nosuch")


@test
def a_bad_setting_names_channel_and_key():
    d = Daemon({"channels": {"bulk": {"plugin": "smtp", "host": "127.0.0.1", "port": 0}}})
    try:
        d.start(wait=False)
        d.proc.wait(15)
        eq(d.proc.returncode, 1, "refused")
        log = d.read_log()
        check("channel 'bulk' (plugin smtp): port:" in log, "names channel and key", log)
    finally:
        d.cleanup()


@test
def two_smtp_channels_coexist():
    d = Daemon({"channels": {
        "mail": {"plugin": "smtp", "host": "127.0.0.1", "port": 2525},
        "bulk": {"plugin": "smtp", "host": "127.0.0.1", "port": 2526, "max_connections": 2},
        "hook": {"plugin": "webhook", "url": "http://127.0.0.1:9/x"}}})
    try:
        r = run_cli("check", "-c", d.config_path)
        eq((r.returncode, r.stderr), (0, ""), "check")
        d.start()
        eq(d.request("GET", "/healthz", auth=False).status, 200, "running")
        eq(d.stop(), 0, "clean stop")
    finally:
        d.cleanup()


@test
def the_discard_plugin_records_every_message_sent():
    """discard takes the message, writes nothing, and the outbox records it sent with the
    reply its setting names; an unknown setting is refused by name."""
    d = Daemon({"channels": {"mail": {"plugin": "discard", "threads": 2}}})
    try:
        d.start(wait=False)
        d.proc.wait(15)
        eq(d.proc.returncode, 1, "an unknown setting is refused")
        check("channel 'mail' (plugin discard): threads: unknown setting" in d.read_log(),
              "named", d.read_log())
    finally:
        d.cleanup()
    d = Daemon({"channels": {"mail": {"plugin": "discard", "reply": "250 gone"}}})
    try:
        d.write_send_campaign("c", "order", "t", reentry="always")
        d.write_templates({f"t.{part}.mustache": "Hello {{customer.name}}\n"
                           for part in ("subject", "text")})
        d.start()
        eq(d.request("POST", "/v1/customers", body={"id": "k", "email": "k@example.com",
                                                   "name": "Kay"}).status, 200, "customer")
        eq(d.post_events({"events": [{"id": f"o{i}", "customer": "k", "type": "order"}
                          for i in range(3)]}).status, 202, "events")
        msgs = poll(lambda: (lambda m: m if len(m) == 3 else None)(
            d.request("GET", "/v1/messages?state=sent").json["messages"]), 15, "three sent")
        eq({m["last_reply"] for m in msgs}, {"250 gone"}, "the configured reply")
        eq(d.request("GET", "/v1/messages?state=queued").json["messages"], [], "none left")
        eq(d.stop(), 0, "clean stop")
    finally:
        d.cleanup()


if __name__ == "__main__":
    run_all()
