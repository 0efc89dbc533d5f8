#!/usr/bin/python3
"""The build as a packager sees it: make install with DESTDIR, the unit file, configure's errors."""
import os
import shutil
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from ntest import check, eq, run_all, skip, test  # noqa: E402

SRC = os.environ.get("NT_SRCDIR") or os.path.abspath(
    os.path.join(os.path.dirname(__file__), "..", ".."))
BUILD = os.environ.get("NT_BUILDDIR") or SRC
TMP = tempfile.mkdtemp(prefix="nt-build-")


@test
def make_install_honours_destdir():
    dest = os.path.join(TMP, "stage")
    r = subprocess.run(["make", "-C", BUILD, "install", f"DESTDIR={dest}"],
                       capture_output=True, text=True)
    eq(r.returncode, 0, "make install: " + r.stderr[-2000:])
    found = {os.path.relpath(os.path.join(dp, f), dest)
             for dp, _, fs in os.walk(dest) for f in fs}
    for want in ("sbin/nurtured", "etc/nurtured/nurtured.json", "lib/systemd/system/nurtured.service",
                 "share/man/man8/nurtured.8", "share/man/man5/nurtured.conf.5",
                 "include/nurtured/nurtured-plugin.h", "lib/nurtured/smtp.so",
                 "lib/nurtured/webhook.so", "lib/nurtured/maildir.so",
                 "lib/nurtured/discard.so",
                 # issue 22: the dashboard's templates and static files
                 "share/nurtured/ui/layout.mustache", "share/nurtured/ui/overview.mustache",
                 "share/nurtured/ui/static/ui.js", "share/nurtured/ui/static/ui.css"):
        check(any(f.endswith(want) for f in found), f"{want} installed", sorted(found))
    conf = os.path.join(dest, next(f for f in found if f.endswith("etc/nurtured/nurtured.json")))
    eq(oct(os.stat(conf).st_mode & 0o777), oct(0o640),
       "nurtured.json (it holds the API tokens) installed 0640")
    unit = next(f for f in found if f.endswith("nurtured.service"))
    text = open(os.path.join(dest, unit)).read()
    check("@sbindir@" not in text and "${" not in text, "paths filled in", text)
    check("Type=notify" in text and "ExecReload=/bin/kill -HUP $MAINPID" in text, "unit", text)
    # Issue 18: room for max_connections' descriptors, and private files.
    check("LimitNOFILE=65536" in text and "UMask=0077" in text, "LimitNOFILE and UMask", text)


@test
def the_unit_passes_systemd_analyze_verify_where_available():
    tool = shutil.which("systemd-analyze")
    if tool is None:
        skip("no systemd-analyze on this machine")
    unit = os.path.join(BUILD, "systemd", "nurtured.service")
    text = open(unit).read()
    # verify wants the binaries named in ExecStart to exist: point them at the built one.
    local = os.path.join(TMP, "nurtured.service")
    sbin = [l.split("=", 1)[1].split()[0] for l in text.splitlines()
            if l.startswith("ExecStart=")][0]
    with open(local, "w") as f:
        f.write(text.replace(sbin, os.path.join(BUILD, "nurtured")))
    # ...and the man pages named in Documentation= to be found by man(1).
    for sec, page in (("8", "nurtured.8"), ("5", "nurtured.conf.5")):
        os.makedirs(os.path.join(TMP, "man", "man" + sec), exist_ok=True)
        shutil.copy(os.path.join(SRC, "man", page), os.path.join(TMP, "man", "man" + sec))
    env = dict(os.environ, MANPATH=os.path.join(TMP, "man"))
    r = subprocess.run([tool, "verify", local], capture_output=True, text=True, env=env)
    problems = [l for l in (r.stdout + r.stderr).splitlines()
                if "nurtured.service" in l and "Unknown user" not in l]
    eq(problems, [], "systemd-analyze verify")


def source_copy():
    """The source tree without build products, once, for configure runs of its own."""
    copy = os.path.join(TMP, "src")
    if not os.path.isdir(copy):
        shutil.copytree(SRC, copy, ignore=shutil.ignore_patterns(
            ".git", "*.o", "*.lo", ".libs", "var", "config.status", "config.log", "Makefile",
            "build.h", "libtool", "stamp-h1", ".deps"))
    return copy


@test
def configure_names_the_debian_package_of_a_missing_library():
    env = dict(os.environ, PKG_CONFIG_LIBDIR=os.path.join(TMP, "empty"), PKG_CONFIG_PATH="")
    r = subprocess.run(["./configure"], cwd=source_copy(), env=env, capture_output=True,
                       text=True)
    check(r.returncode != 0, "configure fails")
    check("install the Debian package libevent-dev" in r.stderr, "names the package",
          r.stderr[-1000:])


@test
def configure_requires_cmocka_so_that_its_unit_tests_never_drop_out():
    """Every library pkg-config knows but cmocka: configure stops and names libcmocka-dev."""
    pcdir = os.path.join(TMP, "pc-without-cmocka")
    os.makedirs(pcdir)
    search = subprocess.run(["pkg-config", "--variable", "pc_path", "pkg-config"],
                            capture_output=True, text=True).stdout.strip().split(":")
    for d in search + os.environ.get("PKG_CONFIG_PATH", "").split(":"):
        if d and os.path.isdir(d):
            for f in os.listdir(d):
                if f.endswith(".pc") and f != "cmocka.pc" and \
                        not os.path.exists(os.path.join(pcdir, f)):
                    shutil.copy(os.path.join(d, f), pcdir)
    env = dict(os.environ, PKG_CONFIG_LIBDIR=pcdir, PKG_CONFIG_PATH="")
    r = subprocess.run(["./configure"], cwd=source_copy(), env=env, capture_output=True,
                       text=True)
    check(r.returncode != 0, "configure fails without cmocka", r.stdout[-1000:])
    check("install the Debian package libcmocka-dev" in r.stderr, "names the package",
          r.stderr[-1000:])


try:
    run_all()
finally:
    shutil.rmtree(TMP, ignore_errors=True)
