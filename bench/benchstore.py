"""The store a bench runs nurtured on (issue 21): BENCH_STORE=sqlite (the default), postgresql,
or both (SQLite and PostgreSQL side by side in the same run, with the ratio PostgreSQL/SQLite
for each figure).

PostgreSQL is a private cluster (tests/integration/pgcluster.py) started once per bench run,
with fsync on, so that a COMMIT is as durable as SQLite's durability "full"; each nurtured run
gets a fresh database. The benches' checks read the store through this module: sqlite3 on the
SQLite file, psql on PostgreSQL.

From python: `import benchstore; for kind in benchstore.kinds(): db = benchstore.Db(kind,
data_dir); cfg.update(db.config()); db.one("SELECT ...")`.
From bash: `python3 bench/benchstore.py start` prints "PORT DIR" of a started cluster (left
running), `python3 bench/benchstore.py stop DIR` stops it and removes DIR.
"""
import atexit
import os
import shutil
import sqlite3
import subprocess
import sys

TOP = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(TOP, "tests", "integration"))
import pgcluster  # noqa: E402

KINDS = {"sqlite": ["sqlite"], "postgresql": ["postgresql"], "both": ["sqlite", "postgresql"]}
SHORT = {"sqlite": "SQLite", "postgresql": "PostgreSQL"}


def kinds():
    """The stores this run measures, from BENCH_STORE; exits with a clear error on a bad one."""
    v = os.environ.get("BENCH_STORE", "sqlite")
    if v not in KINDS:
        sys.exit(f"BENCH_STORE must be sqlite, postgresql or both, not {v!r}")
    if "postgresql" in KINDS[v] and not pgcluster.available():
        sys.exit("BENCH_STORE=%s needs PostgreSQL's server (apt-get install postgresql)" % v)
    return KINDS[v]


_cluster = None


def cluster():
    """One private cluster for the whole bench run, fsync on (durability like "full")."""
    global _cluster
    if _cluster is None:
        _cluster = pgcluster.PgCluster(fsync=True).start()
    return _cluster


def _value(s):
    if s == "":
        return None
    for conv in (int, float):
        try:
            return conv(s)
        except ValueError:
            pass
    return s


class Db:
    """The store of one nurtured run: its config keys and read/write access for the checks."""

    def __init__(self, kind, data_dir):
        self.kind = kind
        self.path = os.path.join(data_dir, "nurtured.db")
        self.url = cluster().create_database() if kind == "postgresql" else None

    def config(self):
        return {"store": self.url} if self.url else {}

    def all(self, sql):
        if self.url is None:
            con = sqlite3.connect(f"file:{self.path}?mode=ro", uri=True, timeout=30)
            try:
                return [tuple(r) for r in con.execute(sql).fetchall()]
            finally:
                con.close()
        db = self.url.rsplit("/", 1)[1]
        return [tuple(_value(v) for v in row) for row in cluster().psql(sql, db)]

    def one(self, sql):
        rows = self.all(sql)
        return rows[0] if rows else None

    def execute(self, sql):
        """A write (with the daemon stopped): one transaction."""
        if self.url is None:
            con = sqlite3.connect(self.path)
            con.execute(sql)
            con.commit()
            con.close()
        else:
            cluster().psql(sql, self.url.rsplit("/", 1)[1])

    def size_mib(self):
        if self.url is None:
            return os.path.getsize(self.path) / 2**20
        db = self.url.rsplit("/", 1)[1]
        return self.one(f"SELECT pg_database_size('{db}')")[0] / 2**20


def ratio_line(name, figures, unit="", higher_is_better=True):
    """'name: SQLite X, PostgreSQL Y, PostgreSQL/SQLite R' when both were measured."""
    if "sqlite" not in figures or "postgresql" not in figures:
        return None
    s, p = figures["sqlite"], figures["postgresql"]
    r = p / s if s else float("nan")
    return (f"{name}: SQLite {s:,.2f}{unit}, PostgreSQL {p:,.2f}{unit},"
            f" PostgreSQL/SQLite {r:.2f}" + ("" if higher_is_better else " (lower is better)"))


def _main(argv):
    if argv[1:2] == ["start"]:
        pg = pgcluster.PgCluster(fsync=True).start()
        atexit.unregister(pg.cleanup)  # bash stops it with `stop DIR`
        print(pg.port, pg.tmp)
        return 0
    if argv[1:2] == ["stop"] and len(argv) == 3 and os.path.isdir(argv[2]):
        cmd = [os.path.join(pgcluster.pg_bindir(), "pg_ctl"), "-D", os.path.join(argv[2], "data"),
               "-m", "immediate", "-w", "stop"]
        if os.geteuid() == 0:
            cmd = ["runuser", "-u", "postgres", "--"] + cmd
        subprocess.run(cmd, capture_output=True)
        shutil.rmtree(argv[2], ignore_errors=True)
        return 0
    print("usage: benchstore.py start | stop DIR", file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(_main(sys.argv))
