#!/usr/bin/env bash
# Builds nurtured and runs the whole test suite: unit tests and integration tests against the
# real daemon, then the integration tests again with the daemons on PostgreSQL (issue 21; each
# test process runs a private cluster, tests/integration/pgcluster.py). Installs missing Debian
# packages first (as root). The last line is the verdict over every pass: "N passed, N failed"
# (", N skipped" when any were).
#
# NURTURED_TEST_POSTGRESQL=0 leaves the PostgreSQL pass out (default 1: it runs).
# NURTURED_SANITIZERS=1 (CI) adds the suite under ASan and UBSan, on SQLite.
set -uo pipefail
cd "$(dirname "$0")" || exit 1
. deps/ensure.sh
deps_ensure || exit 1
build_ensure || { echo "0 passed, 1 failed"; exit 1; }

log=$(mktemp)
trap 'rm -f "$log"' EXIT
NURTURED_TEST_STORE=sqlite make -j"$(nproc)" check VERBOSE=1 2>&1 | tee "$log" | grep -E '^(PASS|FAIL|ERROR|SKIP|XPASS|XFAIL|# )' | grep -v '^# \(TOTAL\|PASS\|SKIP\|XFAIL\|FAIL\|XPASS\|ERROR\):'
status=${PIPESTATUS[0]}
# Conformance figures that the suite's readers want to see without opening logs.
grep -h '^# module' tests/unit/test_mustache_spec.log 2>/dev/null | sed 's/^# /mustache spec /'
count() { sed -n "s/^# $1: *\([0-9]*\)/\1/p" "$log" | tail -n 1; }
pass=$(count PASS); fail=$(count FAIL); err=$(count ERROR); xpass=$(count XPASS); skip=$(count SKIP)
pass=${pass:-0}; fail=$((${fail:-0} + ${err:-0} + ${xpass:-0})); skip=${skip:-0}
if [ "$status" -ne 0 ] && [ "$fail" -eq 0 ]; then
	grep -E 'error|Error' "$log" | tail -n 20
	fail=1
fi
if [ "$fail" -gt 0 ]; then
	echo "--- failures (see test-suite.log for all) ---"
	sed -n '/^FAIL\|^ERROR/,$p' "$log" | grep -E '^(not ok|#|FAIL|ERROR)' | head -n 80
fi
# Issue 21: the integration tests again, every daemon on a database of its own in a private
# PostgreSQL cluster. A test that cannot run there (it opens the SQLite file) reports SKIP with
# its reason. Its own summary, test-suite-postgresql.log (the per-test logs are this pass's).
if [ "${NURTURED_TEST_POSTGRESQL:-1}" = 1 ]; then
	pglog=$(mktemp)
	trap 'rm -f "$log" "$pglog"' EXIT
	echo "--- the integration tests again on PostgreSQL ---"
	NURTURED_TEST_STORE=postgresql make -j"$(nproc)" check VERBOSE=1 \
		TESTS='$(INTEGRATION_TESTS)' TEST_SUITE_LOG=test-suite-postgresql.log 2>&1 |
		tee "$pglog" | grep -E '^(PASS|FAIL|ERROR|SKIP|XPASS|XFAIL|# )' |
		grep -v '^# \(TOTAL\|PASS\|SKIP\|XFAIL\|FAIL\|XPASS\|ERROR\):'
	pgstatus=${PIPESTATUS[0]}
	pgcount() { sed -n "s/^# $1: *\([0-9]*\)/\1/p" "$pglog" | tail -n 1; }
	pgpass=$(pgcount PASS); pgskip=$(pgcount SKIP)
	pgf=$(pgcount FAIL); pge=$(pgcount ERROR); pgx=$(pgcount XPASS)
	pgfail=$((${pgf:-0} + ${pge:-0} + ${pgx:-0}))
	if [ "$pgstatus" -ne 0 ] && [ "$pgfail" -eq 0 ]; then
		grep -E 'error|Error' "$pglog" | tail -n 20
		pgfail=1
	fi
	if [ "$pgfail" -gt 0 ]; then
		echo "--- failures on PostgreSQL (see test-suite-postgresql.log) ---"
		sed -n '/^FAIL\|^ERROR/,$p' "$pglog" | grep -E '^(not ok|#|FAIL|ERROR)' | head -n 80
	fi
	echo "on PostgreSQL: ${pgpass:-0} passed, $pgfail failed, ${pgskip:-0} skipped"
	pass=$((pass + ${pgpass:-0}))
	fail=$((fail + pgfail))
	skip=$((skip + ${pgskip:-0}))
fi
# With NURTURED_SANITIZERS=1 (CI sets it): the whole suite again, built with ASan and UBSan in
# a clone of this tree; any sanitizer report fails the run.
if [ "${NURTURED_SANITIZERS:-0}" = 1 ]; then
	san=$(mktemp -d)
	trap 'rm -f "$log" "${pglog:-}"; rm -rf "$san"' EXIT
	echo "--- the suite again under ASan and UBSan ---"
	git clone -q . "$san/src" # what is committed: the clone builds apart from this tree
	(cd "$san/src" && ./autogen.sh >/dev/null 2>&1 && ./configure --enable-sanitizers >/dev/null &&
		make -j"$(nproc)" >/dev/null 2>&1) || { echo "sanitizer build failed"; fail=$((fail + 1)); }
	mkdir -p "$san/reports"
	ASAN_OPTIONS=log_path=$san/reports/asan:detect_leaks=1 \
	UBSAN_OPTIONS=log_path=$san/reports/ubsan:print_stacktrace=1 \
	NURTURED_TEST_STORE=sqlite make -C "$san/src" -j"$(nproc)" check >"$san/check.log" 2>&1
	spass=$(sed -n 's/^# PASS: *\([0-9]*\)/\1/p' "$san/check.log" | tail -n 1)
	sfail=$(awk '/^# (FAIL|ERROR|XPASS):/ { n += $3; seen = 1 } END { if (seen) print n }' "$san/check.log")
	pass=$((pass + ${spass:-0}))
	fail=$((fail + ${sfail:-1}))
	if ls "$san/reports"/* >/dev/null 2>&1; then
		echo "sanitizer reports:"
		head -n 60 "$san/reports"/*
		fail=$((fail + $(ls "$san/reports" | wc -l)))
	fi
	[ "${sfail:-1}" -gt 0 ] && grep -E '^(FAIL|ERROR)' "$san/check.log" | head -n 20
	echo "under sanitizers: ${spass:-0} passed, ${sfail:-?} failed, $(ls "$san/reports" | wc -l) reports"
fi
line="$pass passed, $fail failed"
[ "$skip" -gt 0 ] && line="$line, $skip skipped"
echo "$line"
[ "$fail" -eq 0 ]
