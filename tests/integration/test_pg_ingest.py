#!/usr/bin/python3
"""Issue 21: on PostgreSQL a node stores events on a connection of its own and its engine
consumes them in its own transactions, side by side (storeloop_start_ingest). A 202 says the
events are stored; their effects follow without another request. While the engine cannot take
them (its transaction waits on a lock another session holds), events are still stored, but
each next group waits for the engine first: a node under more load than its engine carries
answers slower instead of falling further behind."""
import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from ntest import Daemon, check, eq, poll, run_all, skip, test  # noqa: E402
import pgcluster  # noqa: E402

FLOW = {"id": "flow", "name": "flow", "status": "active", "topic": "orders",
        "trigger": {"event": "signup"},
        "steps": [{"id": "wait", "wait": "1d"}]}


@test
def events_wait_for_the_engine_instead_of_running_ahead_of_it():
    if not pgcluster.available():
        skip("PostgreSQL's server is not installed")
    pg = pgcluster.shared()
    url = pg.create_database()
    db = url.rsplit("/", 1)[1]
    d = Daemon({"store": url})
    d.write_campaign(FLOW)
    holder = None
    try:
        d.start()
        # Effects follow a 202 by themselves.
        eq(d.post_events({"customer": "a", "type": "signup"}).status, 202, "a signs up")
        poll(lambda: d.sql("SELECT count(*) FROM journeys")[0][0] == "1", 10,
             "a's journey started")
        eq(d.events_unconsumed(), 0, "a's event consumed")
        # The engine cannot take events: its transactions wait on the timers table.
        holder = pgcluster.LockHolder(url, "LOCK TABLE timers IN ACCESS EXCLUSIVE MODE")
        poll(lambda: pg.lock_waiters(db) > 0, 20, "the engine waits on the lock")
        # The first event is stored at once; the next waits for the engine to take it.
        t0 = time.monotonic()
        eq(d.post_events({"customer": "b", "type": "signup"}).status, 202, "b stored")
        first = time.monotonic() - t0
        t0 = time.monotonic()
        eq(d.post_events({"customer": "c", "type": "signup"}).status, 202, "c stored")
        second = time.monotonic() - t0
        check(first < 1.5, "the first event was not held back", first)
        check(second >= 1.5, "the next waited for the engine (up to 2 s)", second)
        eq(d.events_unconsumed(), 2, "both stored, neither consumed")
        holder.release()
        holder = None
        poll(lambda: d.events_unconsumed() == 0, 20, "the engine took them once free")
        poll(lambda: d.sql("SELECT count(*) FROM journeys")[0][0] == "3", 20,
             "b's and c's journeys started")
    finally:
        if holder is not None:
            holder.kill()
        d.stop()
        d.cleanup()


if __name__ == "__main__":
    run_all()
