#!/usr/bin/env bash
# Builds nurtured and runs the whole test suite: unit tests and integration tests against the
# real daemon. Installs missing Debian packages first (as root). The last line is the verdict:
# "N passed, N failed" (", N skipped" when any were).
set -uo pipefail
cd "$(dirname "$0")" || exit 1
. deps/ensure.sh
deps_ensure || exit 1
build_ensure || { echo "0 passed, 1 failed"; exit 1; }

log=$(mktemp)
trap 'rm -f "$log"' EXIT
make -j"$(nproc)" check VERBOSE=1 2>&1 | tee "$log" | grep -E '^(PASS|FAIL|ERROR|SKIP|XPASS|XFAIL|# )' | grep -v '^# \(TOTAL\|PASS\|SKIP\|XFAIL\|FAIL\|XPASS\|ERROR\):'
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
# With NURTURED_SANITIZERS=1 (CI sets it): the whole suite again, built with ASan and UBSan in
# a clone of this tree; any sanitizer report fails the run.
if [ "${NURTURED_SANITIZERS:-0}" = 1 ]; then
	san=$(mktemp -d)
	trap 'rm -f "$log"; rm -rf "$san"' EXIT
	echo "--- the suite again under ASan and UBSan ---"
	git clone -q . "$san/src" # what is committed: the clone builds apart from this tree
	(cd "$san/src" && ./autogen.sh >/dev/null 2>&1 && ./configure --enable-sanitizers >/dev/null &&
		make -j"$(nproc)" >/dev/null 2>&1) || { echo "sanitizer build failed"; fail=$((fail + 1)); }
	mkdir -p "$san/reports"
	ASAN_OPTIONS=log_path=$san/reports/asan:detect_leaks=1 \
	UBSAN_OPTIONS=log_path=$san/reports/ubsan:print_stacktrace=1 \
		make -C "$san/src" -j"$(nproc)" check >"$san/check.log" 2>&1
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
