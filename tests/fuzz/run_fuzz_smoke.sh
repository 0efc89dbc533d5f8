#!/bin/bash
# A short run of every libFuzzer target (bench/fuzz), as TAP: one test per target, "ok" when it
# ran FUZZ_SECONDS (default 10) on its seed corpus without a crash, leak or sanitizer report.
# Skips when clang (with libFuzzer) is missing. Sources are found through NT_SRCDIR, which
# `make check` exports; the build goes to FUZZ_BUILD (default /tmp/nurtured-fuzz-smoke-$UID-CKSUM,
# CKSUM of the source tree's path).
SRC=${NT_SRCDIR:-$(cd "$(dirname "$0")/../.." && pwd)}
CC=${CC:-clang}
case $CC in *clang*) ;; *) CC=clang ;; esac # configure's gcc cannot build libFuzzer targets

if ! command -v "$CC" >/dev/null 2>&1; then
	echo "1..0 # SKIP no clang"
	exit 0
fi
# clang without libFuzzer's runtime (no compiler-rt) cannot link a target: skip as well.
probe=$(mktemp -d)
trap 'rm -rf "$probe"' EXIT
echo 'int LLVMFuzzerTestOneInput(const char *d, long n) { return 0; }' >"$probe/p.c"
if ! "$CC" -fsanitize=fuzzer,address,undefined "$probe/p.c" -o "$probe/p" 2>/dev/null; then
	echo "1..0 # SKIP clang has no libFuzzer"
	exit 0
fi
export NT_SRCDIR=$SRC CC
export FUZZ_SECONDS=${FUZZ_SECONDS:-10} FUZZ_TAP=1
# One build directory per source tree: objects are rebuilt by date only, so two trees sharing
# one would link each other's objects.
export FUZZ_BUILD=${FUZZ_BUILD:-/tmp/nurtured-fuzz-smoke-$(id -u)-$(cksum <<<"$SRC" | cut -d' ' -f1)}
out=$("$SRC/bench/fuzz" 2>"$probe/err")
rc=$?
if ! grep -q '^1\.\.' <<<"$out"; then
	echo "1..1"
	echo "not ok 1 - bench/fuzz did not build the targets (exit $rc)"
	sed 's/^/# /' "$probe/err" | tail -30
	exit 0
fi
echo "$out"
sed 's/^/# /' "$probe/err" | tail -30
exit 0
