#!/usr/bin/python3
"""Check daemon/measure_stats.c (through the stats_tool binary) against SciPy.

Usage: stats_vs_scipy.py [PATH/TO/stats_tool]

Sources of the expected values:
  - Wilson score interval: scipy.stats.binomtest(k, n).proportion_ci(confidence_level=0.95,
    method="wilson") (SciPy reference, "scipy.stats.BinomTestResult.proportion_ci"); and the
    worked example of Newcombe (1998), Statistics in Medicine 17:857-872, table I: 81/263
    gives 0.2553 to 0.3662.
  - Two-proportion z-test (pooled): its square is Pearson's chi-square of the 2x2 table, so its
    p is scipy.stats.chi2_contingency(table, correction=False) (SciPy reference).
  - Fisher's exact test, two-sided: scipy.stats.fisher_exact(table) (SciPy reference); its
    documentation's example table [[7, 17], [15, 5]] (the lady tasting tea, Fisher 1935, is
    [[3, 1], [1, 3]] with p = 0.4857) is among the cases.
Output is TAP; exit 1 on any failure.
"""
import json
import os
import subprocess
import sys

from scipy.stats import binomtest, chi2_contingency, fisher_exact

CASES = [
    (81, 263, 70, 270), (7, 24, 15, 20), (3, 4, 1, 4), (0, 10, 0, 12), (0, 10, 3, 10),
    (10, 10, 5, 10), (1, 1000, 9, 1000), (120, 4000, 150, 4000), (50, 100, 50, 100),
    (2, 30, 9, 31), (400, 1000, 430, 1000), (5, 5000, 1, 5000), (1, 2, 0, 3),
]


def close(a, b, tol=1e-6):
    return abs(a - b) <= tol * max(1.0, abs(b))


def main():
    tool = sys.argv[1] if len(sys.argv) == 2 else os.path.join(
        os.environ.get("NT_BUILDDIR", "."), "tests", "unit", "stats_tool")
    inp = "".join(json.dumps(list(c)) + "\n" for c in CASES)
    out = subprocess.run([tool], input=inp.encode(), capture_output=True, check=True).stdout
    got = [json.loads(l) for l in out.decode().splitlines()]
    print("1..%d" % (len(CASES) + 2))
    failed = False
    for i, ((x1, n1, x2, n2), g) in enumerate(zip(CASES, got), 1):
        bad = []
        ci = binomtest(x1, n1).proportion_ci(confidence_level=0.95, method="wilson")
        if not (close(g["wilson"][0], ci.low) and close(g["wilson"][1], ci.high)):
            bad.append("wilson %r vs SciPy (%r, %r)" % (g["wilson"], ci.low, ci.high))
        table = [[x1, n1 - x1], [x2, n2 - x2]]
        if (x1 + x2) > 0 and (n1 - x1 + n2 - x2) > 0:
            zp = chi2_contingency(table, correction=False)[1]
            if not close(g["z"], zp):
                bad.append("z-test p %r vs SciPy chi2 %r" % (g["z"], zp))
        fp = fisher_exact(table)[1]
        if not close(g["fisher"], fp):
            bad.append("fisher p %r vs SciPy %r" % (g["fisher"], fp))
        # The test named is the one used: Fisher when an expected cell is below 5.
        n, x = n1 + n2, x1 + x2
        small = n > 0 and min(n1 * x / n, n1 * (n - x) / n, n2 * x / n, n2 * (n - x) / n) < 5
        want = "Fisher's exact test" if small else "two-proportion z-test"
        if g["test"] != want or g["p"] != (g["fisher"] if small else g["z"]):
            bad.append("chose %r, want %r" % (g["test"], want))
        failed |= bool(bad)
        print("%sok %d - %d/%d vs %d/%d" % ("not " if bad else "", i, x1, n1, x2, n2))
        for b in bad:
            print("#   " + b)
    # Published values, to four places.
    g = got[0]
    ok = round(g["wilson"][0], 4) == 0.2553 and round(g["wilson"][1], 4) == 0.3662
    failed |= not ok
    print("%sok %d - Newcombe 1998 table I: 81/263 -> 0.2553 to 0.3662 (got %r)"
          % ("" if ok else "not ", len(CASES) + 1, g["wilson"]))
    ok = round(got[2]["fisher"], 4) == 0.4857
    failed |= not ok
    print("%sok %d - Fisher's tea tasting [[3, 1], [1, 3]]: p = 0.4857 (got %r)"
          % ("" if ok else "not ", len(CASES) + 2, got[2]["fisher"]))
    sys.exit(1 if failed else 0)


if __name__ == "__main__":
    main()
