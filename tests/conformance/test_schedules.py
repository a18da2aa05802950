"""Schedules (``app.schedule``) on every backend: each tick published exactly once,
stamped with its scheduled time, through a restart that catches up the ticks missed
meanwhile and one that finds nothing left to publish. The runners read a clock the
test moves (each wait moves it on instead of sleeping), so ticks never wait for the
wall clock; the lease and the topic, the schedule's only state, are the backend's."""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta

import logway
from logway.schedules.runner import ScheduleRunner, ScheduleSpec
from tests.conformance.conftest import BrokerFactory
from tests.schedules.clock import FakeClock

MINUTE = timedelta(minutes=1)
DEADLINE = 30.0


def run(
    broker: logway.Broker, spec: ScheduleSpec, clock: FakeClock, until: datetime
) -> ScheduleRunner:
    """Run ``spec`` (under its lease, as ``logway run`` does) from the clock's time
    until the clock passes ``until``."""
    runner = ScheduleRunner(broker, spec, now=clock.now, wait=clock.waiter(until), check_s=60)
    stop = threading.Event()
    failed: list[BaseException] = []

    def work() -> None:
        try:
            runner.run_until(stop)
        except BaseException as exc:  # raised again below
            failed.append(exc)

    thread = threading.Thread(target=work, daemon=True)
    thread.start()
    thread.join(DEADLINE)
    stopped_by_its_clock = stop.is_set()
    stop.set()
    thread.join(DEADLINE)
    assert stopped_by_its_clock, "the runner did not reach the limit in time (no lease?)"
    if failed:
        raise failed[0]
    return runner


def test_each_tick_once_with_its_time_through_catch_up_and_restart(
    open_broker: BrokerFactory, topic: str
) -> None:
    app = logway.App("clock")
    app.schedule("rate(1 minute)", topic=topic, key="k", headers={"team": "ops"}, catch_up="all")
    spec = app.schedules[0]
    # a few hours back, on a whole hour: within any retention, and not in the future
    base = datetime.now(UTC).replace(minute=0, second=0, microsecond=0) - timedelta(hours=3)
    clock = FakeClock(base + timedelta(seconds=30))

    first = open_broker()
    ran = run(first, spec, clock, base + 3 * MINUTE)
    assert ran.stats["ticks"] == 3  # from its first run on: 1, 2, 3
    first.close()

    broker = open_broker()
    clock.set(base + 10 * MINUTE + timedelta(seconds=30))  # nothing ran for seven minutes
    caught_up = run(broker, spec, clock, base + 12 * MINUTE)
    assert (caught_up.stats["ticks"], caught_up.stats["skipped"]) == (9, 0)  # 4 to 12
    clock.set(base + 12 * MINUTE + timedelta(seconds=10))  # a restart before the next
    again = run(broker, spec, clock, base + 12 * MINUTE + timedelta(seconds=50))
    assert again.stats["ticks"] == 0 and again.last == base + 12 * MINUTE

    want = [base + k * MINUTE for k in range(1, 13)]
    got = broker.fetch(topic, 0, 0, max_records=1000)
    assert broker.end_offsets(topic) == {0: len(want)}  # each tick once, nothing else
    assert [r.timestamp for r in got] == [int(t.timestamp() * 1000) for t in want]
    assert [r.headers for r in got] == [
        (
            ("team", b"ops"),
            ("logway.schedule", f"clock.{topic}".encode()),
            ("logway.schedule.time", t.strftime("%Y-%m-%dT%H:%M:%SZ").encode()),
        )
        for t in want
    ]
    assert {r.key for r in got} == {b"k"}
    assert [r.json()["scheduled_time"] for r in got] == [
        t.strftime("%Y-%m-%dT%H:%M:%SZ") for t in want
    ]
