"""Dropping root: started as root with "user", the daemon runs as that user with only its group,
owns its data, still works, and root cannot come back. Needs root (skipped otherwise)."""
import os
import pwd
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from ntest import Daemon, check, eq, run_all, run_cli, test  # noqa: E402

if os.geteuid() != 0:
    print("1..0 # SKIP not root: dropping privileges needs root")
    sys.exit(0)

NOBODY = pwd.getpwnam("nobody")


def status_ids(pid):
    ids = {}
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            k, _, v = line.partition(":")
            if k in ("Uid", "Gid", "Groups"):
                ids[k] = [int(x) for x in v.split()]
    return ids


def daemon(**config):
    d = Daemon({"user": "nobody", **config})
    os.chmod(d.tmp, 0o755)  # the user must be able to reach data_dir
    return d


@test
def runs_as_the_user_with_only_its_group():
    d = daemon()
    try:
        # A store made by root (a start before "user" was set) becomes the user's.
        d.config["user"] = "root"
        d.write_config()
        d.start()
        eq(d.post_events({"customer": "c0", "type": "signup", "id": "e0"}).status, 202, "as root")
        eq(d.stop(), 0, "clean stop")
        # On PostgreSQL the store is not in data_dir: the secret is root's file there.
        made = (os.path.join(d.config["data_dir"], "secret") if d.on_postgresql()
                else d.db_path())
        check(os.stat(made).st_uid == 0, "root's store")
        d.config["user"] = "nobody"
        d.write_config()
        d.start()
        ids = status_ids(d.proc.pid)
        eq(ids["Uid"], [NOBODY.pw_uid] * 4, "Uid")
        eq(ids["Gid"], [NOBODY.pw_gid] * 4, "Gid")
        eq(ids["Groups"], [NOBODY.pw_gid], "Groups")
        r = d.post_events({"customer": "c1", "type": "purchase", "id": "e1"})
        eq(r.status, 202, f"event stored: {r.raw}")
        r = d.request("GET", "/v1/customers/c1")
        eq(r.status, 200, "customer read back")
        eq([e["id"] for e in r.json["events"]], ["e1"], "events")
        for root, dirs, files in os.walk(d.config["data_dir"]):
            for name in [root] + [os.path.join(root, x) for x in dirs + files]:
                st = os.lstat(name)
                eq((st.st_uid, st.st_gid), (NOBODY.pw_uid, NOBODY.pw_gid), f"owner of {name}")
        check("running as nobody" in d.read_log(), "logged", d.read_log())
        eq(d.stop(), 0, "clean stop")
        # A second start over the data it owns works as well.
        d.start()
        eq(d.request("GET", "/v1/customers/c1").status, 200, "after restart")
        eq(d.stop(), 0, "clean stop")
    finally:
        d.cleanup()


@test
def an_unknown_user_is_a_config_error_naming_the_key():
    d = Daemon({"user": "no-such-user-nt"})
    try:
        r = run_cli("check", "-c", d.config_path)
        eq(r.returncode, 1, "exit")
        check("user" in r.stderr and "no-such-user-nt" in r.stderr, "names the key", r.stderr)
        r = run_cli("-f", "-c", d.config_path)
        eq(r.returncode, 1, "daemon exit")
    finally:
        d.cleanup()


@test
def a_data_dir_that_is_not_nurtureds_is_not_taken():
    d = daemon()
    try:
        os.makedirs(d.config["data_dir"])
        other = os.path.join(d.config["data_dir"], "someone-elses-file")
        open(other, "w").close()
        r = run_cli("-f", "-c", d.config_path)
        eq(r.returncode, 1, "exit")
        check("data_dir" in r.stderr and "nurtured.db" in r.stderr, "names the key", r.stderr)
        eq(os.stat(other).st_uid, 0, "left alone")
    finally:
        d.cleanup()


@test
def a_port_below_1024_is_refused_when_dropping():
    d = daemon(listen="127.0.0.1:1")
    try:
        r = run_cli("-f", "-c", d.config_path)
        eq(r.returncode, 1, "exit")
        check("listen" in r.stderr and "1024" in r.stderr, "names the key", r.stderr)
    finally:
        d.cleanup()


@test
def root_on_loopback_without_user_warns_and_runs():
    d = Daemon()
    try:
        if any(p.pw_name == "nurtured" for p in pwd.getpwall()):
            return  # the default account exists: it is used, as the first test shows for nobody
        d.start()
        eq(status_ids(d.proc.pid)["Uid"], [0] * 4, "still root")
        check("set key 'user'" in d.read_log(), "warns naming the key", d.read_log())
        eq(d.stop(), 0, "clean stop")
    finally:
        d.cleanup()


run_all()
