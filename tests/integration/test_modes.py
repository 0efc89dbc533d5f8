#!/usr/bin/python3
"""Files readable by everyone (issue 18, finding 6): the daemon's files are its own whatever
data_dir's mode, and `nurtured check` warns about a configuration or data directory that other
users can read."""
import os
import stat
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from ntest import Daemon, check, eq, poll, run_all, run_cli, test  # noqa: E402


def mode(path):
    return stat.S_IMODE(os.stat(path).st_mode)


@test
def the_database_and_its_wal_are_private_in_an_open_data_dir():
    d = Daemon()
    try:
        data = d.config["data_dir"]
        os.makedirs(data)
        os.chmod(data, 0o755)
        d.start()
        eq(d.post_events({"customer": "m", "type": "t"}).status, 202, "an event (the WAL fills)")
        db = d.db_path()
        files = [os.path.join(data, "secret")]
        if not d.on_postgresql():  # on PostgreSQL the data_dir holds only the secret
            poll(lambda: os.path.exists(db + "-wal") and os.path.exists(db + "-shm"), 5,
                 "the WAL and shared-memory files")
            files += [db, db + "-wal", db + "-shm"]
        for f in files:
            eq(oct(mode(f) & 0o077), oct(0), f"{os.path.basename(f)}: no group or other bits "
                                             f"(mode {oct(mode(f))})")
        eq(d.stop(), 0, "clean stop")
    finally:
        d.cleanup()


@test
def check_warns_about_a_config_or_data_dir_others_can_read():
    d = Daemon()
    try:
        data = d.config["data_dir"]
        os.makedirs(data)
        os.chmod(data, 0o755)
        os.chmod(d.config_path, 0o644)
        r = run_cli("check", "-c", d.config_path)
        eq(r.returncode, 0, "still valid: " + r.stderr)
        check("warning:" in r.stderr and d.config_path in r.stderr and "0640" in r.stderr,
              "the config file readable by all is named", r.stderr)
        check(data in r.stderr and "0700" in r.stderr, "the open data_dir is named", r.stderr)
        os.chmod(data, 0o700)
        os.chmod(d.config_path, 0o640)
        r = run_cli("check", "-c", d.config_path)
        eq((r.returncode, "warning" in r.stderr), (0, False), "no warning once private: " +
           r.stderr)
    finally:
        d.cleanup()


if __name__ == "__main__":
    run_all()
