#!/usr/bin/python3
"""The command line: --version, --help, and `nurtured check` on good and bad configs."""
import json
import os
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from ntest import PLUGIN_DIR, check, eq, run_all, run_cli, test  # noqa: E402

SRC = os.environ.get("NT_SRCDIR") or os.path.join(os.path.dirname(__file__), "..", "..")
TMP = tempfile.mkdtemp(prefix="nt-cli-")


def write(name, text):
    path = os.path.join(TMP, name)
    with open(path, "w") as f:
        f.write(text)
    os.chmod(path, 0o600)  # a configuration holds secrets: check warns when others can read it
    return path


@test
def version_and_help():
    r = run_cli("--version")
    eq(r.returncode, 0, "exit")
    check(r.stdout.startswith("nurtured "), "version line", r.stdout)
    r = run_cli("--help")
    eq(r.returncode, 0, "exit")
    check("nurtured check" in r.stdout, "help mentions check", r.stdout)
    eq(run_cli("--bogus").returncode, 2, "unknown option")
    eq(run_cli("frobnicate").returncode, 2, "unknown command")


@test
def the_example_config_is_valid():
    # As installed, but with the plugins as built: check loads every channel's plugin.
    with open(os.path.join(SRC, "conf", "nurtured.json")) as f:
        text = f.read().replace('"/usr/local/lib/nurtured"', json.dumps(PLUGIN_DIR))
    r = run_cli("check", "-c", write("example.json", text))
    eq((r.returncode, r.stderr), (0, ""), "check")
    check("configuration ok" in r.stdout, "says ok", r.stdout)


@test
def unknown_key_names_file_line_col():
    path = write("unknown.json", '{\n  "listen": "127.0.0.1:7800",\n  "lisen": "x"\n}\n')
    r = run_cli("check", "-c", path)
    eq(r.returncode, 1, "exit")
    eq(r.stderr.strip(), f"{path}:3:3: unknown key 'lisen'", "message")


@test
def every_problem_is_reported_once():
    path = write("many.json", '{"durability": "sometimes",\n "max_batch": "10",\n'
                              ' "api_tokens": ["short"],\n "log_level": 3}\n')
    r = run_cli("check", "-c", path)
    eq(r.returncode, 1, "exit")
    lines = r.stderr.strip().splitlines()
    eq(len(lines), 4, "one line per problem: " + r.stderr)
    for key, pos in (("durability", ":1:2:"), ("max_batch", ":2:2:"), ("api_tokens[0]", ":3:17:"),
                     ("log_level", ":4:2:")):
        check(any(key in l and pos in l for l in lines), f"{key} at {pos}", r.stderr)


@test
def a_bad_frequency_cap_is_named():
    path = write("cap.json", '{"frequency_cap": {"max": 0, "per": "7d"}}')
    r = run_cli("check", "-c", path)
    eq(r.returncode, 1, "exit")
    check(f"{path}:1:20:" in r.stderr and "frequency_cap.max" in r.stderr, "message", r.stderr)
    path = write("cap2.json", '{"frequency_cap": {"max": 3, "per": "a week"}}')
    r = run_cli("check", "-c", path)
    check("frequency_cap.per" in r.stderr, "message", r.stderr)


@test
def bad_stage_thresholds_are_named():
    path = write("stages.json", '{"stages": {"lapsed_days": 0, "speed": 1}}')
    r = run_cli("check", "-c", path)
    eq(r.returncode, 1, "exit")
    check("stages.lapsed_days" in r.stderr and "unknown key 'stages.speed'" in r.stderr,
          "both named", r.stderr)


@test
def malformed_json_names_line_and_column():
    path = write("broken.json", '{\n  "listen": "127.0.0.1:7800",\n  "data_dir": \n}\n')
    r = run_cli("check", "-c", path)
    eq(r.returncode, 1, "exit")
    check(r.stderr.startswith(f"{path}:4:1:"), "position", r.stderr)


@test
def a_missing_file_is_an_error():
    r = run_cli("check", "-c", os.path.join(TMP, "nope.json"))
    eq(r.returncode, 1, "exit")
    check("cannot open" in r.stderr, "message", r.stderr)


@test
def open_api_on_a_public_address_is_refused():
    path = write("open.json", '{"listen": "0.0.0.0:7800"}')
    r = run_cli("check", "-c", path)
    eq(r.returncode, 1, "exit")
    check("api_tokens" in r.stderr, "names api_tokens", r.stderr)


@test
def an_internal_mail_channel_needs_its_own_recipient():
    """Known only once the plugin says it writes mail: check and the start both refuse it."""
    cfg = {"plugin_dir": PLUGIN_DIR, "data_dir": os.path.join(TMP, "internal-data"),
           "listen": "127.0.0.1:0", "campaigns_dir": os.path.join(TMP, "no-campaigns"),
           "templates_dir": os.path.join(TMP, "no-templates"),
           "channels": {"team": {"plugin": "maildir", "path": os.path.join(TMP, "team"),
                                 "internal": True},
                        "hook": {"plugin": "webhook", "url": "http://127.0.0.1:9/t",
                                 "internal": True}}}
    path = write("internal.json", json.dumps(cfg))
    r = run_cli("check", "-c", path)
    eq(r.returncode, 1, "check's exit")
    check("channel 'team'" in r.stderr and "'to'" in r.stderr, "names the channel and 'to'",
          r.stderr)
    check("'hook'" not in r.stderr, "a webhook needs no recipient", r.stderr)
    r = run_cli("-f", "-c", path)
    eq(r.returncode, 1, "the start's exit")
    check("channel 'team'" in r.stderr and "'to'" in r.stderr, "the start says why", r.stderr)
    cfg["channels"]["team"]["to"] = "team@shop.example"
    r = run_cli("check", "-c", write("internal.json", json.dumps(cfg)))
    eq((r.returncode, r.stderr), (0, ""), "with 'to': valid")


@test
def the_daemon_refuses_to_start_on_a_bad_config():
    path = write("bad.json", '{"listen": 7800}')
    r = run_cli("-f", "-c", path)
    eq(r.returncode, 1, "exit")
    check(f"{path}:1:2:" in r.stderr and "listen" in r.stderr, "message", r.stderr)


run_all()
