"""A PostgreSQL cluster of the test's own (issue 21): initdb and pg_ctl in a temporary
directory, listening on a Unix socket in it and on a free loopback port, removed afterwards.
No server is assumed to be running and none is left behind.

As root (CI), the cluster runs as the `postgres` account the Debian package creates, because
initdb refuses root; otherwise as the user running the tests.

Usage:
    pg = PgCluster().start()
    url = pg.create_database()      # postgresql://postgres@127.0.0.1:PORT/nt_1
    pg.stop("immediate"); pg.start()  # a crash of the server, and its recovery
    pg.cleanup()
"""
import atexit
import glob
import os
import pwd
import shutil
import socket
import subprocess
import tempfile


def pg_bindir():
    """Debian keeps the server's programs out of PATH, per major version; the newest wins."""
    dirs = sorted(glob.glob("/usr/lib/postgresql/*/bin"),
                  key=lambda d: int(d.split("/")[-2]) if d.split("/")[-2].isdigit() else 0)
    for d in reversed(dirs):
        if os.path.exists(os.path.join(d, "initdb")):
            return d
    return None


def available():
    """Whether a cluster can be made here: the server's programs are installed."""
    return pg_bindir() is not None and shutil.which("psql") is not None


def _free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class PgCluster:
    def __init__(self, fsync=False):
        self.bindir = pg_bindir()
        if self.bindir is None:
            raise RuntimeError("PostgreSQL's server is not installed (apt-get install postgresql)")
        self.tmp = tempfile.mkdtemp(prefix="nt-pg-")
        self.data = os.path.join(self.tmp, "data")
        self.log = os.path.join(self.tmp, "server.log")
        self.port = _free_port()
        self.fsync = fsync
        self.n_db = 0
        self.user = None
        if os.geteuid() == 0:
            # initdb refuses root: the cluster belongs to the package's postgres account.
            self.user = "postgres"
            pw = pwd.getpwnam(self.user)
            os.chmod(self.tmp, 0o755)
            os.chown(self.tmp, pw.pw_uid, pw.pw_gid)
        self._initdb()
        atexit.register(self.cleanup)

    def _run(self, *args, check=True, timeout=120):
        cmd = list(args)
        if self.user is not None:
            cmd = ["runuser", "-u", self.user, "--"] + cmd
        r = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout)
        if check and r.returncode != 0:
            raise RuntimeError(f"{' '.join(args)} failed ({r.returncode}):\n{r.stdout}\n{r.stderr}"
                               + self._log_tail())
        return r

    def _log_tail(self):
        try:
            with open(self.log, errors="replace") as f:
                return "\n--- server log ---\n" + f.read()[-3000:]
        except OSError:
            return ""

    def _initdb(self):
        self._run(os.path.join(self.bindir, "initdb"), "-D", self.data, "-U", "postgres",
                  "--auth=trust", "-E", "UTF8", "--locale=C.UTF-8", "--no-sync")

    def start(self):
        opts = (f"-k {self.tmp} -p {self.port} -c listen_addresses=127.0.0.1"
                f" -c max_connections=200 -c fsync={'on' if self.fsync else 'off'}"
                " -c full_page_writes=off -c shared_buffers=128MB"
                + (" " + os.environ["NT_PG_OPTS"] if os.environ.get("NT_PG_OPTS") else ""))
        self._run(os.path.join(self.bindir, "pg_ctl"), "-D", self.data, "-l", self.log,
                  "-o", opts, "-w", "-t", "60", "start")
        return self

    def stop(self, mode="fast"):
        """mode "immediate" is a crash: no checkpoint, recovery at the next start."""
        self._run(os.path.join(self.bindir, "pg_ctl"), "-D", self.data, "-m", mode, "-w",
                  "stop", check=False)

    def psql(self, sql, db="postgres"):
        """Runs SQL, returns the rows as lists of strings (unaligned, tab-separated)."""
        r = subprocess.run(["psql", "-X", "-q", "-At", "-F", "\t", "-v", "ON_ERROR_STOP=1",
                            "-d", self.url(db), "-c", sql],
                           capture_output=True, text=True, timeout=120)
        if r.returncode != 0:
            raise RuntimeError(f"psql failed: {r.stderr}")
        return [line.split("\t") for line in r.stdout.splitlines()]

    def lock_waiters(self, db):
        """Sessions of database DB waiting on a lock (the daemon's, behind a LockHolder's)."""
        return int(self.psql("SELECT count(*) FROM pg_stat_activity WHERE datname ="
                             f" '{db}' AND wait_event_type = 'Lock'", db=db)[0][0])

    def url(self, db):
        return f"postgresql://postgres@127.0.0.1:{self.port}/{db}"

    def create_database(self, name=None):
        """A new empty database: its URL."""
        self.n_db += 1
        name = name or f"nt_{os.getpid()}_{self.n_db}"
        self.psql(f'CREATE DATABASE "{name}"')
        return self.url(name)

    def cleanup(self):
        if self.tmp is None:
            return
        self.stop("immediate")
        shutil.rmtree(self.tmp, ignore_errors=True)
        self.tmp = None


_shared = None


def shared():
    """One cluster for the whole test process (started on first use, removed at exit)."""
    global _shared
    if _shared is None:
        _shared = PgCluster().start()
    return _shared


class LockHolder:
    """A session of its own that takes a lock in a transaction and holds it until release():
    LockHolder(url, "LOCK TABLE timers IN ACCESS EXCLUSIVE MODE") makes the daemon's
    transactions that need the table wait."""

    def __init__(self, url, lock_sql):
        self.proc = subprocess.Popen(["psql", "-X", "-q", "-At", "-d", url],
                                     stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
        self.proc.stdin.write(f"BEGIN; {lock_sql}; SELECT 'locked';\n")
        self.proc.stdin.flush()
        line = self.proc.stdout.readline().strip()
        if line != "locked":
            self.kill()
            raise RuntimeError(f"the lock was not taken: {line!r}")

    def release(self):
        """Ends the transaction: the lock is gone."""
        self.proc.stdin.write("ROLLBACK;\n")
        self.proc.stdin.close()
        self.proc.wait(timeout=20)

    def kill(self):
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()
