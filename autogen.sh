#!/bin/sh
# Regenerates the build system; run once after a fresh clone.
set -e
cd "$(dirname "$0")"
mkdir -p build-aux m4
autoreconf -fi
# automake does not install the TAP driver by itself.
for d in /usr/share/automake-*; do
	[ -f "$d/tap-driver.sh" ] && cp "$d/tap-driver.sh" build-aux/ && chmod +x build-aux/tap-driver.sh && break
done
