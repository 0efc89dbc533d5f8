#!/usr/bin/python3
"""The demo's requests that are not plain files, for demo.sh and the tests that replay the demo
(tests/integration/test_pg_migrate_demo.py): `workload.py batch` prints events.jsonl as one
POST /v1/events body, each "@Nd@" made N days before now (so that the story is the same
whenever it runs); `workload.py feedback` prints the event of Anna's answer to her satisfaction
check. Imported, batch() and FEEDBACK give the same."""
import os
import re
import sys
from datetime import datetime, timedelta, timezone

HERE = os.path.dirname(os.path.abspath(__file__))
# Anna answers the satisfaction check for order 1001 with a 5.
FEEDBACK = ('{"customer": "anna", "type": "feedback", "id": "fb-1",'
            ' "properties": {"order_id": "1001", "score": 5}}')


def batch(now=None):
    """events.jsonl as one batch, its lines as written (the text, not re-encoded JSON)."""
    now = now or datetime.now(timezone.utc)
    with open(os.path.join(HERE, "events.jsonl")) as f:
        lines = [line.rstrip("\n") for line in f if line.strip()]
    text = "\n".join(lines)
    for n in sorted(set(re.findall(r"@(\d+)d@", text))):
        t = (now - timedelta(days=int(n))).strftime("%Y-%m-%dT%H:%M:%SZ")
        text = text.replace(f"@{n}d@", t)
    return '{"events": [%s]}' % ",".join(text.split("\n"))


if __name__ == "__main__":
    if sys.argv[1:] == ["batch"]:
        print(batch())
    elif sys.argv[1:] == ["feedback"]:
        print(FEEDBACK)
    else:
        sys.exit("usage: workload.py batch|feedback")
