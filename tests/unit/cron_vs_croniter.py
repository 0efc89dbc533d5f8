#!/usr/bin/python3
"""Compare daemon/cron.c (through the cron_tool binary) with Debian's python3-croniter.

Usage: cron_vs_croniter.py PATH/TO/cron_tool

Random cron expressions (fixed seed) are evaluated in several IANA zones from start instants
spread over 2015-2030, many of them close to daylight-saving changes.  For every expression the
tool computes the next RUNS runs; each run is then checked against two things:

  reference  the cronie rule documented in docs/cron.md, computed here independently: a plain
             day-by-day scan supplies the selected wall-clock minutes (value sets from
             croniter's parser, cronie's day rule) and zoneinfo maps them to instants with the
             gap/overlap rule.  The tool must equal it.
  croniter   croniter itself, given a zoneinfo-aware start.  Step k restarts croniter from the
             tool's run k-1 so that one difference does not cascade.  Where croniter differs,
             the difference must be reproduced exactly by the model of croniter's documented
             behaviour (docs/cron.md) and must have a documented cause (day rule, croniter's
             calendar slips, DST gap, DST overlap, croniter's "lag" shift, search horizon); it
             is then counted, per cause, as explained.  Anything else is unexplained and fails.

Output is TAP: one test per zone plus one for rejected syntax; exit 1 on any failure.
"""

import bisect
import datetime
import os
import random
import subprocess
import sys
import time
import zoneinfo

from croniter import croniter
from croniter.croniter import CroniterBadCronError, CroniterBadDateError

SEED = 20240331
ZONES = [
    "UTC",
    "Europe/Berlin",
    "America/New_York",
    "Australia/Sydney",
    "Asia/Kolkata",
    "America/Sao_Paulo",
    "Pacific/Chatham",
    "Australia/Lord_Howe",
]
EXPRESSIONS_PER_ZONE = 750
RUNS = 5
DST_LIMIT = 3 * 3600  # cron.c: CRON_DST_LIMIT
HORIZON_YEARS = 8  # cron.h: CRON_HORIZON_YEARS
FIRST = datetime.datetime(2015, 1, 1, tzinfo=datetime.timezone.utc)
LAST = datetime.datetime(2031, 1, 1, tzinfo=datetime.timezone.utc)
MAX_DIAG = 5

UTC = datetime.timezone.utc
MINUTE = datetime.timedelta(minutes=1)


# ---------------------------------------------------------------- time zone helpers


def offset_at(tz, u):
    return int(datetime.datetime.fromtimestamp(u, tz).utcoffset().total_seconds())


def wall(tz, u):
    """Naive wall-clock datetime of instant U in TZ."""
    return datetime.datetime.fromtimestamp(u, tz).replace(tzinfo=None)


def naive_to_seconds(w):
    return int((w - datetime.datetime(1970, 1, 1)).total_seconds())


def transitions(tz, y0=2010, y1=2050):
    """[(instant, offset_before, offset_after)] for offset changes between years y0 and y1."""
    out = []
    t = int(datetime.datetime(y0, 1, 1, tzinfo=UTC).timestamp())
    end = int(datetime.datetime(y1, 1, 1, tzinfo=UTC).timestamp())
    prev = offset_at(tz, t)
    while t < end:
        t2 = t + 6 * 3600
        o2 = offset_at(tz, t2)
        if o2 != prev:
            lo, hi = t, t2
            while hi - lo > 1:
                mid = (lo + hi) // 2
                if offset_at(tz, mid) == prev:
                    lo = mid
                else:
                    hi = mid
            out.append((hi, prev, o2))
        t, prev = t2, o2
    return out


class Zone:
    def __init__(self, name):
        self.name = name
        self.tz = zoneinfo.ZoneInfo(name)
        self.trans = transitions(self.tz)
        self.instants = [t[0] for t in self.trans]

    def offsets_between(self, a, b):
        """Every UTC offset in force at some instant of [a, b]."""
        offs = {offset_at(self.tz, a)}
        i = bisect.bisect_right(self.instants, a)
        while i < len(self.trans) and self.trans[i][0] <= b:
            offs.add(self.trans[i][2])
            i += 1
        return offs

    def occurrences(self, w):
        """Instants whose wall-clock time is the naive datetime W, ascending."""
        res = set()
        for fold in (0, 1):
            u = int(w.replace(tzinfo=self.tz, fold=fold).timestamp())
            if wall(self.tz, u) == w:
                res.add(u)
        return sorted(res)

    def gap_of(self, w):
        """For a wall-clock time that does not exist: (jump instant, seconds skipped)."""
        before = int(w.replace(tzinfo=self.tz, fold=0).utcoffset().total_seconds())
        after = int(w.replace(tzinfo=self.tz, fold=1).utcoffset().total_seconds())
        base = naive_to_seconds(w)
        lo, hi = base - after, base - before  # offset(lo) == before, offset(hi) == after
        while hi - lo > 1:
            mid = (lo + hi) // 2
            if offset_at(self.tz, mid) == after:
                hi = mid
            else:
                lo = mid
        return hi, after - before


# ---------------------------------------------------------------- expressions


def gen_field(rng, idx):
    """One random field; idx 0..4 = minute, hour, day-of-month, month, day-of-week."""
    lo, hi = [(0, 59), (0, 23), (1, 31), (1, 12), (0, 7)][idx]
    if idx == 3:
        names = ["JAN", "FEB", "MAR", "APR", "MAY", "JUN", "JUL", "AUG", "SEP", "OCT", "NOV", "DEC"]
    elif idx == 4:
        names = ["SUN", "MON", "TUE", "WED", "THU", "FRI", "SAT"]
    else:
        names = None

    def value(v):
        if names and rng.random() < 0.4 and v - lo < len(names):
            n = names[v - lo]
            return rng.choice([n, n.lower(), n.capitalize()])
        return str(v)

    def pick():
        if idx == 1 and rng.random() < 0.6:  # hours near the usual DST changes
            return rng.choice([0, 1, 2, 3, 4, 23])
        if idx == 0 and rng.random() < 0.5:
            return rng.choice([0, 15, 30, 45, 59])
        if idx == 4:
            return rng.randint(0, 7)
        return rng.randint(lo, hi)

    star_weight = [0.25, 0.3, 0.6, 0.65, 0.6][idx]
    r = rng.random()
    if r < star_weight:
        return "*"
    kind = rng.choice(["value", "value", "list", "range", "range_step", "star_step", "start_step", "full"])
    if kind == "value":
        return value(pick())
    if kind == "list":
        vals = sorted({pick() for _ in range(rng.randint(2, 4))})
        return ",".join(value(v) for v in vals)
    if kind in ("range", "range_step"):
        a = pick()
        b = rng.randint(a, hi)
        if idx == 4 and b == 7 and a > 0 and rng.random() < 0.5:
            rng_end = rng.choice(["0", "SUN", "sun"])  # FRI-SUN style
        else:
            rng_end = value(b)
        text = "%s-%s" % (value(a), rng_end)
        if kind == "range_step":
            text += "/%d" % rng.randint(1, max(1, (hi - lo) // 3))
        return text
    if kind == "star_step":
        return "*/%d" % rng.choice([s for s in (2, 3, 4, 5, 6, 10, 12, 15, 20, 30) if s <= hi - lo] or [2])
    if kind == "start_step":
        return "%d/%d" % (pick(), rng.randint(2, max(2, (hi - lo) // 2)))
    # an unstarred range covering the whole field ("1-31", "0-6", "SUN-SAT", "0-59")
    full = {0: "0-59", 1: "0-23", 2: "1-31", 3: "JAN-DEC", 4: rng.choice(["0-6", "1-7", "SUN-SAT"])}
    return full[idx]


MACROS = {
    "@yearly": "0 0 1 1 *",
    "@annually": "0 0 1 1 *",
    "@monthly": "0 0 1 * *",
    "@weekly": "0 0 * * 0",
    "@daily": "0 0 * * *",
    "@midnight": "0 0 * * *",
    "@hourly": "0 * * * *",
}


def gen_expr(rng, hot_hours=None):
    """A random expression; HOT_HOURS, the local hours around a nearby clock change, are often
    put in the hour field so that runs fall into the gap or the repeated hour."""
    if rng.random() < 0.03:
        return rng.choice(sorted(MACROS))
    fields = [gen_field(rng, i) for i in range(5)]
    if hot_hours and rng.random() < 0.6:
        hot = sorted(hot_hours)
        fields[1] = rng.choice([str(rng.choice(hot)), ",".join(map(str, hot)),
                                "%d-%d" % (hot[0], hot[-1]), "*"])
    if rng.random() < 0.25:  # make the OR/AND day rule matter
        fields[2] = rng.choice(["1", "13", "1,15", "10-20", "*/2", "1-31", "29", "31"])
        fields[4] = rng.choice(["MON", "5", "0", "7", "mon-fri", "*/3", "SAT,SUN", "0-6"])
    return " ".join(fields)


class Spec:
    """An expression with its value sets (from croniter's parser) and both day rules."""

    RANGES = [(0, 59), (0, 23), (1, 31), (1, 12), (0, 6)]

    def __init__(self, expr):
        self.expr = expr
        text = MACROS.get(expr.lower(), expr)
        f = text.split()
        expanded = croniter.expand(text)[0]
        self.sets = []
        for i, vals in enumerate(expanded):
            lo, hi = self.RANGES[i]
            self.sets.append(set(range(lo, hi + 1)) if vals == ["*"] else {int(v) % 7 if i == 4 else int(v) for v in vals})
        self.hours = sorted(self.sets[1])
        self.minutes = sorted(self.sets[0])
        self.dom_list = sorted(self.sets[2])
        self.wildcard = f[0].startswith("*") or f[1].startswith("*")
        # cronie: either day field may match unless one of them *begins with* '*'
        self.cronie_or = not (f[2].startswith("*") or f[4].startswith("*"))
        # croniter: either may match unless one of them *expands to* every value
        self.croniter_or = expanded[2] != ["*"] and expanded[4] != ["*"]


def day_ok(spec, d, use_or):
    if d.month not in spec.sets[3]:
        return False
    dom = d.day in spec.sets[2]
    dow = d.isoweekday() % 7 in spec.sets[4]
    return (dom or dow) if use_or else (dom and dow)


def wall_next(spec, after, use_or, limit_year):
    """The first wall-clock minute strictly after the naive datetime AFTER that the fields
    select (a plain day-by-day scan), or None past LIMIT_YEAR."""
    d = after.date()
    while d.year <= limit_year:
        if day_ok(spec, d, use_or):
            for h in spec.hours:
                for m in spec.minutes:
                    w = datetime.datetime(d.year, d.month, d.day, h, m)
                    if w > after:
                        return w
        d += datetime.timedelta(days=1)
    return None


# ---------------------------------------------------------------- the reference (cronie rule)


def events(zone, spec, w):
    """Instants at which a job runs for the selected wall-clock minute W (docs/cron.md), and
    which DST window W is in ("gap", "overlap" or None)."""
    occ = zone.occurrences(w)
    if not occ:
        jump, length = zone.gap_of(w)
        if spec.wildcard or length >= DST_LIMIT:
            return [], "gap"
        return [jump], "gap"
    if len(occ) > 1:
        if not spec.wildcard and occ[-1] - occ[0] <= DST_LIMIT:
            return occ[:1], "overlap"
        return occ, "overlap"
    return occ, None


def search_start(zone, s):
    """The earliest wall-clock minute that can yield a run after S (as in cron_next)."""
    lo = min(zone.offsets_between(s, s + 3 * 86400))
    return datetime.datetime(1970, 1, 1) + datetime.timedelta(seconds=(s + lo) // 60 * 60)


def reference_next(zone, spec, s, use_or=None):
    """(next run after S under the cronie rule or -1, the DST window its wall-clock minute is
    in: {"gap"}, {"overlap"} or set()).  USE_OR overrides the day rule (default: cronie's)."""
    if use_or is None:
        use_or = spec.cronie_or
    start = search_start(zone, s)
    limit_year = start.year + HORIZON_YEARS
    best, stop, best_window = None, None, None
    w = start - MINUTE
    while True:
        w = wall_next(spec, w, use_or, limit_year)
        if w is None or (stop is not None and w >= stop):
            break
        evs, window = events(zone, spec, w)
        for u in evs:
            if u > s and (best is None or u < best):
                best, best_window = u, window
        if best is not None and stop is None:
            offs = zone.offsets_between(s, best)
            stop = w + datetime.timedelta(seconds=max(offs) - min(offs))
    return (-1 if best is None else best), ({best_window} if best_window else set())


# ---------------------------------------------------------------- croniter and its model


def croniter_next(zone, spec, s):
    start = datetime.datetime.fromtimestamp(s, zone.tz)
    try:
        return int(croniter(spec.expr, start).get_next(float))
    except CroniterBadDateError:
        return -1


def croniter_wall_next(spec, after):
    """croniter's own answer on naive wall-clock time (its calendar quirks included)."""
    try:
        return croniter(spec.expr, after).get_next(datetime.datetime)
    except CroniterBadDateError:
        return None


def calendar_cause(spec, after, got, want):
    """Names croniter's documented calendar slip that turns WANT into GOT, or None."""
    if got is None and want is not None and spec.croniter_or:
        return "croniter OR branch impossible"
    if got is not None and want is not None and got > want:
        # proc_day_of_month jumps from day x of an N-day month to listed day v > N, landing on
        # day v - N of the next month and skipping the days before it.
        prev = want.replace(day=1) - datetime.timedelta(days=1)
        if prev.date() >= after.date() and any(v > prev.day and want.day <= v - prev.day for v in spec.dom_list):
            return "croniter day-of-month overshoot"
    return None


def croniter_model(zone, spec, s):
    """croniter 1.3.5 as documented in docs/cron.md; returns (instant, causes).

    1. From wall(s + 60 s) - 60 s it finds the next selected wall-clock minute W with its own day
       rule and calendar code.  2. W becomes an instant with fold=0: a time in a gap is read with
       the offset before the gap (so it runs late by the gap length), a repeated time is its
       first occurrence.  3. The "lag" shift: if the offsets at the start and at the result
       differ and the step is long, the result's wall-clock time is moved by the difference.
    """
    tz = zone.tz
    causes = set()
    after = wall(tz, s + 60) - MINUTE
    limit = after.year + 60
    w = croniter_wall_next(spec, after)
    right = wall_next(spec, after, spec.croniter_or, limit)
    if w != right:
        cause = calendar_cause(spec, after, w, right)
        causes.add(cause or "UNKNOWN croniter calendar difference")
    if right != wall_next(spec, after, spec.cronie_or, limit):
        causes.add("day rule")
    if len(zone.occurrences(wall(tz, s))) > 1:
        causes.add("overlap")
    if w is None:
        return -1, causes
    occ = zone.occurrences(w)
    if not occ:
        causes.add("gap")
    elif len(occ) > 1:
        causes.add("overlap")
    raw = int(w.replace(tzinfo=tz, fold=0).timestamp())
    dtstart = datetime.datetime.fromtimestamp(s, tz)
    dtres = datetime.datetime.fromtimestamp(raw, tz)
    lag = (dtres.utcoffset() - dtstart.utcoffset()).total_seconds()
    lag_hours = (dtres - dtstart).total_seconds() / 3600  # same tzinfo: wall-clock difference
    before_midnight = 24 - dtstart.hour
    if lag != 0 and (
        (lag > 0 and abs(lag_hours) >= before_midnight)
        or (lag < 0 and 3600 * abs(lag_hours) + abs(lag) >= before_midnight * 3600)
    ):
        shifted = int((dtres - datetime.timedelta(seconds=lag)).timestamp())
        if shifted != raw:
            causes.add("lag")
        raw = shifted
    return raw, causes


def explain(zone, spec, s, t, c, windows):
    """Why croniter's C differs from the tool's T (which equals the cronie rule) for a step
    from S: (set of documented causes, None), or (None, description) when unexplained."""
    if spec.croniter_or != spec.cronie_or and c == reference_next(zone, spec, s, spec.croniter_or)[0]:
        return {"day rule"}, None  # the cronie rule with croniter's OR/AND gives exactly c
    if t == -1 and c != -1 and wall(zone.tz, c).year > search_start(zone, s).year + HORIZON_YEARS:
        return {"horizon"}, None  # croniter searches 50 years, cron_next 8
    m, causes = croniter_model(zone, spec, s)
    causes |= windows
    if m != c or not causes or any(k.startswith("UNKNOWN") for k in causes):
        return None, "%s %s" % (fmt(zone, m), sorted(causes))
    return causes, None


# ---------------------------------------------------------------- driver


def fmt(zone, u):
    if u is None or u == -1:
        return str(u)
    return datetime.datetime.fromtimestamp(u, zone.tz).isoformat()


def start_instants(rng, zone, n):
    """[(start, hot hours or None)]: half uniformly over the years, half within a day and a half
    before (or a little after) an offset change, with the local hours that change touches."""
    a, b = int(FIRST.timestamp()), int(LAST.timestamp())
    near = [t for t in zone.trans if a <= t[0] < b]
    out = []
    for i in range(n):
        if near and i % 2:
            t = rng.choice(near)[0]
            last, first = wall(zone.tz, t - 1), wall(zone.tz, t)
            lo, hi = sorted((last.hour, first.hour))
            hot = set(range(lo, hi + 1))
            if rng.random() < 0.2:  # right at the change
                out.append((t + rng.choice([-3600, -60, -1, 0, 1, 60]), hot))
            else:
                out.append((t + rng.randint(-36 * 3600, 4 * 3600), hot))
        else:
            out.append((rng.randint(a, b), None))
    return out


def run_tool(tool, lines):
    proc = subprocess.run([tool], input="".join(lines), capture_output=True, text=True, check=True)
    out = proc.stdout.split("\n")
    if len(out) < len(lines):
        sys.exit("cron_tool printed %d lines for %d" % (len(out), len(lines)))
    return out[: len(lines)]


def syntax_group(rng, tool):
    """Malformed expressions: both implementations must reject them."""
    bad = []
    for _ in range(200):
        f = ["0", "0", "*", "*", "*"]
        i = rng.randrange(5)
        lo, hi = [(0, 59), (0, 23), (1, 31), (1, 12), (0, 7)][i]
        f[i] = rng.choice([
            str(hi + rng.randint(1, 40)),
            "%d-%d" % (hi, lo + 1),
            "FOO",
            "1,,2",
            "*/x",
            "-%d" % rng.randint(1, 5),
            "%d-%d" % (lo, hi + 1),
        ])
        bad.append(" ".join(f))
    bad += ["* * * *", "*", "1 2 3", "0 0 1 1 * 1 2", "@reboot x"]
    out = run_tool(tool, ["%s\tUTC\t0\t1\n" % e for e in bad])
    failures = []
    for e, line in zip(bad, out):
        try:
            croniter(e)
            cr_ok = True
        except (CroniterBadCronError, ValueError, KeyError, IndexError):
            cr_ok = False
        if not line.startswith("ERR ") or cr_ok:
            failures.append((e, line, "croniter accepts" if cr_ok else "croniter rejects"))
    return len(bad), failures


def main():
    # make check runs it without arguments: the tool is in the build tree.
    if len(sys.argv) > 2:
        sys.exit(__doc__)
    tool = sys.argv[1] if len(sys.argv) == 2 else os.path.join(
        os.environ.get("NT_BUILDDIR", "."), "tests", "unit", "cron_tool")
    t0 = time.time()
    rng = random.Random(SEED)
    zones = [Zone(z) for z in ZONES]

    cases = []  # (zone, spec, start)
    for zone in zones:
        for s, hot in start_instants(rng, zone, EXPRESSIONS_PER_ZONE):
            cases.append((zone, Spec(gen_expr(rng, hot)), s))
    out = run_tool(tool, ["%s\t%s\t%d\t%d\n" % (c[1].expr, c[0].name, c[2], RUNS) for c in cases])

    per_zone = {z.name: {"comparisons": 0, "agree": 0, "explained": {}, "bad": []} for z in zones}
    in_window = {"gap": 0, "overlap": 0}  # comparisons whose cronie-rule run met a DST window
    example = {}  # first explained difference per cause
    for (zone, spec, s0), line in zip(cases, out):
        st = per_zone[zone.name]
        if line.startswith("ERR"):
            st["bad"].append("%r from %d: tool says %s" % (spec.expr, s0, line))
            continue
        runs = [int(x) for x in line.split()]
        s = s0
        for t in runs:
            st["comparisons"] += 1
            r, windows = reference_next(zone, spec, s)
            c = croniter_next(zone, spec, s)
            for k in windows:
                in_window[k] += 1
            where = "%r in %s from %s" % (spec.expr, zone.name, fmt(zone, s))
            if t != r:
                st["bad"].append("%s: tool %s, cronie rule %s, croniter %s"
                                 % (where, fmt(zone, t), fmt(zone, r), fmt(zone, c)))
            elif c == t:
                st["agree"] += 1
            else:
                causes, m = explain(zone, spec, s, t, c, windows)
                if causes is None:
                    st["bad"].append("%s: tool %s (= cronie rule), croniter %s, croniter model %s"
                                     % (where, fmt(zone, t), fmt(zone, c), m))
                else:
                    key = "+".join(sorted(causes))
                    st["explained"][key] = st["explained"].get(key, 0) + 1
                    example.setdefault(key, "%s: tool %s, croniter %s"
                                       % (where, fmt(zone, t), fmt(zone, c)))
            if t == -1:
                break
            s = t

    n = 0
    failed = False
    total = {"comparisons": 0, "agree": 0, "explained": 0, "bad": 0}
    why = {}
    for zone in zones:
        st = per_zone[zone.name]
        n += 1
        explained = sum(st["explained"].values())
        ok = not st["bad"]
        failed |= not ok
        print("%sok %d - %s: %d comparisons, %d agree, %d explained, %d unexplained"
              % ("" if ok else "not ", n, zone.name, st["comparisons"], st["agree"], explained,
                 len(st["bad"])))
        for k, v in sorted(st["explained"].items()):
            print("#   explained (%s): %d" % (k, v))
            why[k] = why.get(k, 0) + v
        for b in st["bad"][:MAX_DIAG]:
            print("#   UNEXPLAINED %s" % b)
        total["comparisons"] += st["comparisons"]
        total["agree"] += st["agree"]
        total["explained"] += explained
        total["bad"] += len(st["bad"])

    count, failures = syntax_group(rng, tool)
    n += 1
    print("%sok %d - %d malformed expressions rejected by both" % ("" if not failures else "not ", n, count))
    for e, line, note in failures[:MAX_DIAG]:
        print("#   %r: tool %r, %s" % (e, line, note))
    failed |= bool(failures)

    print("1..%d" % n)
    print("# expressions: %d (%d zones), comparisons: %d, agree: %d, explained differences: %d, "
          "unexplained: %d, %.1f s"
          % (len(cases), len(zones), total["comparisons"], total["agree"], total["explained"],
             total["bad"], time.time() - t0))
    print("# comparisons whose cronie-rule run met a DST gap: %d, an overlap: %d"
          % (in_window["gap"], in_window["overlap"]))
    involved = {}
    for k, v in why.items():
        for cause in k.split("+"):
            involved[cause] = involved.get(cause, 0) + v
    print("# differences involving each cause: %s"
          % ", ".join("%s %d" % kv for kv in sorted(involved.items())))
    for k, v in sorted(why.items()):
        print("#   explained by %s: %d, e.g. %s" % (k, v, example[k]))
    sys.exit(1 if failed else 0)


if __name__ == "__main__":
    main()
