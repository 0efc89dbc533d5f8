#!/usr/bin/python3
"""Formats the API's JSON answers for demo.sh: `show.py batch [note]`, `show.py customers`,
`show.py messages`, `show.py mail FILE` (one delivered message, decoded) or `show.py link FILE`
(its unsubscribe link)."""
import email
import email.policy
import json
import re
import sys

mode = sys.argv[1]
if mode == "batch":
    r = json.load(sys.stdin)
    note = " " + sys.argv[2] if len(sys.argv) > 2 else ""
    print(f"   202 Accepted: {r['accepted']} stored, {r['duplicates']} duplicates{note}")
elif mode == "customers":
    for line in sys.stdin:
        if not line.strip():
            continue
        c = json.loads(line)
        consent = ", ".join(f"{t}: {s}" for t, s in c["consent"].items()) or "none given"
        print(f"   {c['name']} <{c['email']}> {c['locale']}, {c['timezone']}; "
              f"stage {c.get('stage')}; consent {consent}")
        for e in c["events"]:
            props = ", ".join(f"{k}={v}" for k, v in e["properties"].items())
            print(f"      event  {e['time'][:16]}  {e['type']:<11} {props}")
        for n in reversed(c.get("notes", [])):
            what = n["action"]
            if n["step"]:
                what += f" {n['step']}"
            if n["channel"]:
                what += f" via {n['channel']} ({n['template']})"
            if n["reason"]:
                what += f" [{n['reason']}]"
            print(f"      {n['campaign']:<16} {n['at'][:16]}  {what}")
        for j in c.get("journeys", []):
            if j["active"]:
                wait = f"waiting for {j['waiting_for']}, " if j["waiting_for"] else ""
                print(f"      {j['campaign']:<16} scheduled: {wait}next step at {j['due'][:16]}")
        print()
elif mode == "messages":
    r = json.load(sys.stdin)
    for m in r["messages"]:
        why = m.get("reason") or m.get("last_reply") or ""
        print(f"   #{m['id']:<3} {m['customer']:<7} {(m['campaign'] or 'system') + '/' + m['step']:<36}"
              f" {m['channel']:<9} {m['state']:<8} {why}")
elif mode == "mail":
    with open(sys.argv[2], "rb") as f:
        msg = email.message_from_binary_file(f, policy=email.policy.default)
    for h in ("From", "To", "Subject", "Date", "Message-ID", "List-Unsubscribe"):
        if msg[h] is not None:
            print(f"   {h}: {msg[h]}")
    print(f"   ({msg.get_content_type()}; headers decoded from RFC 2047)")
    print()
    body = msg.get_body(("plain",)).get_content()
    for line in body.strip().splitlines():
        print(f"   | {line}")
elif mode == "link":
    with open(sys.argv[2], "rb") as f:
        msg = email.message_from_binary_file(f, policy=email.policy.default)
    m = re.search(r"https?://\S+/u/[A-Za-z0-9._-]+", msg.get_body(("plain",)).get_content())
    print(m.group(0) if m else "")
