#!/usr/bin/python3
"""Check daemon/mime.c (through the mime_tool binary) against Python's email package.

Usage: mime_vs_python.py [PATH/TO/mime_tool]

Each case is a set of struct mime_mail fields; the tool builds the message and Python parses it
with policy.default set to raise on any defect. Then:

  headers   From, To, Subject decode to exactly the Unicode given (display names with commas,
            quotes, non-ASCII; long subjects), the addresses are the ones given, Message-ID is
            the caller's, Date is date_ms, MIME-Version is 1.0; List-Unsubscribe and
            List-Unsubscribe-Post are there exactly when asked for.
  bodies    a single text/plain part, or multipart/alternative with text/plain then text/html,
            charset utf-8, each decoding to the input text (line ends compared as LF: the wire
            form is CRLF, RFC 2049 canonical text).
  wire      every line ends with CRLF, holds at most 998 octets, and every octet is 7-bit.

Refusals: a CR or LF in a header field makes the tool exit 1 with "FIELD: contains CR, LF or
NUL" and print nothing, so no extra header can come out. A name or subject that a reader would
decode as an RFC 2047 encoded-word is not refused: it is encoded, and must read back exactly, as
must names with runs of spaces, tabs or spaces at either end. An internationalised address
(RFC 6531) goes out raw in UTF-8 headers (RFC 6532); only then may the header be 8-bit.

Known and not failed: GMime 3.2 writes encoded-words longer than RFC 2047's 75 characters for
long runs without spaces (the longest is reported); and Python joins the encoded-words of a
display name with spaces where RFC 2047 6.2 says to drop the white space between them, so no
case has a name long enough (about 40 non-ASCII characters without a space) to be split.

Output is TAP: one test per case and one per refusal; exit 1 on any failure.
"""

import datetime
import email
import email.errors
import email.header
import email.policy
import json
import os
import re
import subprocess
import sys

STRICT = email.policy.default.clone(raise_on_defect=True)
UTC = datetime.timezone.utc

BASE = {
    "from_name": "Shop",
    "from_addr": "news@shop.example",
    "to_name": "Ann Smith",
    "to_addr": "ann@example.com",
    "subject": "Thanks",
    "text": "Hello,\nthanks for your order.\n",
    "html": None,
    "message_id": "<j1.s2.v3@shop.example>",
    "date_ms": 1700000000123,
    "unsubscribe_url": None,
    "unsubscribe_mailto": None,
}

LONG_DE = ("Vielen Dank für Ihren Einkauf bei Müller & Söhne — wir freuen uns über Ihre "
           "Bestellung und möchten Ihnen zur Begrüßung einen Gutschein über zwanzig Prozent "
           "schenken, gültig für alle Artikel außer bereits reduzierter Ware, bis Ende März")
LONG_JA = "ご購入いただき誠にありがとうございます。" * 12
HTML = "<p>Grüße aus <b>Köln</b> — 日本語 🎉</p>\n<p>Zweite Zeile</p>\n"

CASES = [
    ("plain ASCII", {}),
    ("German name and subject",
     {"to_name": "Jürgen Müller", "subject": "Danke für Ihren Einkauf"}),
    ("name with a comma, non-ASCII", {"to_name": "Müller, Jürgen"}),
    ("name with double quotes", {"to_name": 'Jo "JJ" Smith'}),
    ("ASCII name with a comma, quotes and a backslash",
     {"to_name": 'Smith, John "Jack" \\o/', "from_name": "Shop, Inc."}),
    ("French", {"from_name": "Librairie Générale", "to_name": "Frédéric Dupont-Lefèvre",
                "subject": "Votre commande est expédiée — merci !",
                "text": "Bonjour Frédéric,\nvotre colis arrivera jeudi.\nÀ bientôt\n"}),
    ("Japanese", {"to_name": "山田 太郎", "subject": "ご購入ありがとうございます",
                  "text": "山田様\n\nご注文ありがとうございました。\n"}),
    ("emoji", {"to_name": "Ana 🎉", "from_name": "🛍 Shop",
               "subject": "🎁 A gift for you 🎉", "text": "Hi Ana 👋\n"}),
    ("long German subject (%d chars)" % len(LONG_DE), {"subject": LONG_DE}),
    ("long Japanese subject without spaces (%d chars)" % len(LONG_JA),
     {"subject": LONG_JA, "to_name": "山田 太郎"}),
    ("5000-character ASCII line in text and HTML",
     {"text": "a" * 5000 + "\n", "html": "<p>" + "b" * 5000 + "</p>"}),
    ("5000-character non-ASCII line", {"text": "ü" * 5000}),
    ("HTML alternative", {"to_name": "Jürgen Müller", "html": HTML,
                          "text": "Grüße aus Köln — 日本語 🎉\nZweite Zeile"}),
    ("List-Unsubscribe, https only",
     {"unsubscribe_url": "https://shop.example/u/AbC-123_xyz"}),
    ("List-Unsubscribe, https and mailto",
     {"unsubscribe_url": "https://shop.example/u/AbC-123_xyz?c=news",
      "unsubscribe_mailto": "unsubscribe@shop.example"}),
    ("no display names", {"from_name": None, "to_name": None}),
    ("trailing spaces and tabs, mixed line ends",
     {"text": "line with trailing spaces   \nand a tab\t\r\nend\n"}),
    ("date before 1970", {"date_ms": -1500}),
    ("names with parentheses, angle brackets, semicolon, @",
     {"to_name": "Ann (Sales) <boss> ; ann@home", "from_name": "Müller (Vertrieb); Köln"}),
    ("quotes, comma and non-ASCII in one name", {"to_name": 'Jo "JJ" Müller, Jr.'}),
    ("lines starting with From and dots", {"text": "From the start\n.\n..\nFrom x\n"}),
    ("subject with =? but no encoded-word", {"subject": "Rabatt =? 50 % ?"}),
    # Issue 18: what a strict parser read differently from what was given.
    ("a run of spaces in a name", {"to_name": "Double  Space", "from_name": "Shop  Team"}),
    ("a tab and edge spaces in names", {"to_name": "Tab\tName", "from_name": " Shop "}),
    ("non-ASCII and a run of spaces", {"to_name": "Jürgen  Müller"}),
    ("a quote and a run of spaces", {"to_name": 'Jo  "JJ"  Smith'}),
    ("a name that looks like an encoded-word", {"to_name": "=?utf-8?q?Your_Bank?="}),
    ("a subject that looks like an encoded-word", {"subject": "Hi =?utf-8?b?QQ==?="}),
    ("both, as the hold-out sent them", {"to_name": "=?utf-8?q?not_encoded?=",
                                         "subject": "=?utf-8?q?not_encoded?="}),
    ("a long subject that looks like an encoded-word",
     {"subject": "=?utf-8?q?" + "x" * 120 + "?= und Grüße"}),
    ("an internationalised address (RFC 6531/6532)",
     {"to_addr": "zoë@example.com", "to_name": "Zoë  Ång"}),
]

REFUSALS = [
    ("to_name", "Ann\r\nBcc: victim@example.com"),
    ("from_name", "Shop\nBcc: victim@example.com"),
    ("subject", "Hello\r\nBcc: victim@example.com"),
    ("subject", "Hello\r\n\r\n<html>injected body"),
    ("to_addr", "ann@example.com\r\nBcc: victim@example.com"),
    ("message_id", "<a@b.example>\nBcc: victim@example.com"),
    ("unsubscribe_url", "https://shop.example/u\r\nBcc: victim@example.com"),
]


ENCODED_WORD = re.compile(rb"=\?[^?\s]+\?[bBqQ]\?[^?\s]*\?=")


def run(tool, fields):
    """Runs the tool on FIELDS; returns (exit code, stdout bytes, stderr text)."""
    p = subprocess.run([tool], input=json.dumps(fields).encode(), capture_output=True,
                       timeout=30)
    return p.returncode, p.stdout, p.stderr.decode(errors="replace").strip()


def intl(f):
    """An internationalised address: its message carries UTF-8 headers (RFC 6532)."""
    return any(ord(c) > 127 for c in f["to_addr"] + f["from_addr"])


def wire_problems(data, utf8_headers=False):
    """Line ends, line lengths and 8-bit octets of the raw message."""
    out = []
    if not data.endswith(b"\r\n"):
        out.append("does not end with CRLF")
    lines = data.split(b"\r\n")
    for i, line in enumerate(lines[:-1] if data.endswith(b"\r\n") else lines):
        if b"\n" in line or b"\r" in line:
            out.append("line %d has a bare CR or LF" % (i + 1))
        if len(line) > 998:
            out.append("line %d has %d octets" % (i + 1, len(line)))
    head = data.split(b"\r\n\r\n", 1)[0] if utf8_headers else b""
    if any(b >= 0x80 for b in data[len(head):]):
        out.append("8-bit octets")
    if utf8_headers:
        try:
            head.decode("utf-8")
        except UnicodeDecodeError:
            out.append("headers are not UTF-8")
    return out


def raw_header(data, name):
    """The raw, unfolded value of header NAME in DATA."""
    head = data.split(b"\r\n\r\n", 1)[0].decode("utf-8", "replace")
    m = re.search(r"^" + name + r":(.*(?:\r\n[ \t].*)*)", head, re.M)
    return re.sub(r"\r\n(?=[ \t])", "", m.group(1)).strip() if m else ""


def lf(s):
    return s.replace("\r\n", "\n")


def check_message(f, data):
    """Everything Python can tell about the message; returns a list of problems."""
    bad = wire_problems(data, intl(f))
    try:
        if intl(f):
            # Python calls a UTF-8 local part a defect even where RFC 6532 allows it.
            msg = email.message_from_string(data.decode("utf-8"), policy=email.policy.SMTPUTF8)
        else:
            msg = email.message_from_bytes(data, policy=STRICT)
    except Exception as e:  # raise_on_defect turns every defect into an exception
        return bad + ["Python refuses it: %r" % e]
    for part in msg.walk():
        if part.defects:
            bad.append("defects in %s: %r" % (part.get_content_type(), part.defects))
    for name in ("From", "To", "Subject", "Date", "Message-ID", "MIME-Version"):
        if len(msg.get_all(name, [])) != 1:
            bad.append("%s appears %d times" % (name, len(msg.get_all(name, []))))
            continue
        defects = [d for d in msg[name].defects
                   if not (intl(f) and isinstance(d, email.errors.NonASCIILocalPartDefect))]
        if defects:
            bad.append("%s header defects: %r" % (name, defects))
    if bad:
        return bad

    for hdr, name_key, addr_key in (("From", "from_name", "from_addr"),
                                    ("To", "to_name", "to_addr")):
        addrs = msg[hdr].addresses
        if len(addrs) != 1:
            bad.append("%s has %d addresses: %r" % (hdr, len(addrs), str(msg[hdr])))
            continue
        want_name = f[name_key] or ""
        got_name = str(addrs[0].display_name)
        if got_name != want_name and " ".join(got_name.split()) == " ".join(want_name.split()):
            # Python folds white space inside a phrase's encoded-words into one space, which
            # RFC 2047 does not: decode the encoded-words of the raw header to compare.
            phrase = raw_header(data, hdr).rsplit("<", 1)[0].strip()
            got_name = str(email.header.make_header(email.header.decode_header(phrase)))
        if got_name != want_name:
            bad.append("%s name %r, want %r" % (hdr, addrs[0].display_name, want_name))
        if addrs[0].addr_spec != f[addr_key]:
            bad.append("%s address %r, want %r" % (hdr, addrs[0].addr_spec, f[addr_key]))
    if str(msg["Subject"]) != f["subject"]:
        bad.append("Subject %r, want %r" % (str(msg["Subject"]), f["subject"]))
    if str(msg["Message-ID"]) != f["message_id"]:
        bad.append("Message-ID %r, want %r" % (str(msg["Message-ID"]), f["message_id"]))
    want_date = datetime.datetime.fromtimestamp(f["date_ms"] // 1000, UTC)
    if msg["Date"].datetime != want_date:
        bad.append("Date %s, want %s" % (msg["Date"].datetime, want_date))
    if str(msg["MIME-Version"]) != "1.0":
        bad.append("MIME-Version %r" % str(msg["MIME-Version"]))

    lu, lup = msg.get("List-Unsubscribe"), msg.get("List-Unsubscribe-Post")
    if f["unsubscribe_url"] is None:
        if lu is not None or lup is not None:
            bad.append("List-Unsubscribe without being asked")
    else:
        want = "<%s>" % f["unsubscribe_url"]
        if f["unsubscribe_mailto"]:
            want += ", <mailto:%s>" % f["unsubscribe_mailto"]
        if lu is None or " ".join(str(lu).split()) != want:
            bad.append("List-Unsubscribe %r, want %r" % (lu, want))
        if lup is None or str(lup) != "List-Unsubscribe=One-Click":
            bad.append("List-Unsubscribe-Post %r" % lup)

    if f["html"] is None:
        parts = [("text/plain", msg, f["text"])]
        if msg.get_content_type() != "text/plain":
            bad.append("top-level type %s" % msg.get_content_type())
    else:
        if msg.get_content_type() != "multipart/alternative":
            bad.append("top-level type %s" % msg.get_content_type())
            return bad
        subs = list(msg.iter_parts())
        if [p.get_content_type() for p in subs] != ["text/plain", "text/html"]:
            return bad + ["parts %r" % [p.get_content_type() for p in subs]]
        parts = [("text/plain", subs[0], f["text"]), ("text/html", subs[1], f["html"])]
    for ctype, part, want in parts:
        if part.get_content_charset() != "utf-8":
            bad.append("%s charset %r" % (ctype, part.get_content_charset()))
        cte = part.get("Content-Transfer-Encoding", "7bit").lower()
        if cte not in ("7bit", "quoted-printable", "base64"):
            bad.append("%s transfer encoding %s" % (ctype, cte))
        got = lf(part.get_content())
        want = lf(want)
        # mime.c ends every non-empty body with a line break (see mime_text_part).
        if want and not want.endswith("\n"):
            want += "\n"
        if got != want:
            bad.append("%s body %r..., want %r..." % (ctype, got[:60], want[:60]))
        # GMime also quoted-printable-encodes lines starting with "From " (mbox safety).
        ascii_short = all(ord(c) < 128 for c in want) and all(
            len(l) <= 76 and not l.endswith((" ", "\t")) and not l.startswith("From ")
            for l in want.split("\n"))
        if ascii_short and cte != "7bit":
            bad.append("%s: short ASCII lines sent as %s" % (ctype, cte))
    return bad


def main():
    # make check runs it without arguments: the tool is in the build tree.
    if len(sys.argv) > 2:
        sys.exit(__doc__)
    tool = sys.argv[1] if len(sys.argv) == 2 else os.path.join(
        os.environ.get("NT_BUILDDIR", "."), "tests", "unit", "mime_tool")
    n = 0
    failed = False
    longest_ew = 0
    for name, over in CASES:
        f = dict(BASE, **over)
        rc, data, err = run(tool, f)
        bad = ["tool exit %d: %s" % (rc, err)] if rc != 0 else check_message(f, data)
        n += 1
        failed |= bool(bad)
        print("%sok %d - %s" % ("not " if bad else "", n, name))
        for b in bad[:8]:
            print("#   %s" % b)
        if rc == 0:
            longest_ew = max(longest_ew, max(map(len, ENCODED_WORD.findall(data)), default=0))
    refusals = [(f, v, "%s: contains CR, LF or NUL" % f, "with CR/LF") for f, v in REFUSALS]
    for field, value, want, what in refusals:
        f = dict(BASE, **{field: value})
        rc, data, err = run(tool, f)
        ok = rc == 1 and data == b"" and err == want
        n += 1
        failed |= not ok
        print("%sok %d - %s %s refused" % ("" if ok else "not ", n, field, what))
        if not ok:
            print("#   exit %d, stderr %r, %d bytes out" % (rc, err, len(data)))
    # Known: GMime 3.2 writes encoded-words longer than RFC 2047's 75 characters for long runs
    # without spaces (decoders accept them; lines stay far below 998). Reported, not failed.
    print("# longest encoded-word: %d characters (RFC 2047 asks for at most 75)" % longest_ew)
    print("1..%d" % n)
    sys.exit(1 if failed else 0)


if __name__ == "__main__":
    main()
