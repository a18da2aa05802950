"""Publishing schedules' ticks (``app.schedule``, ``ScheduleRunner``, ``logway clock``,
``logway schedules list``) on real embedded brokers, with a clock the tests move: each
runner waits through ``FakeClock.waiter``, which advances the time it reads instead of
sleeping and stops the runner once the time passes the test's limit."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import threading
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

import logway
from logway.broker import Broker
from logway.cli.clock import clock_specs
from logway.errors import InvalidArgumentError
from logway.log.lock import read_owner
from logway.records import Record
from logway.schedules.runner import ScheduleRunner, ScheduleSpec, last_tick
from tests.schedules.clock import FakeClock
from tests.servers import logway_cli, logway_process


def utc(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


def ms(text: str) -> int:
    return int(utc(text).timestamp() * 1000)


def run(
    broker: Broker,
    spec: ScheduleSpec,
    clock: FakeClock,
    until: str,
    check_s: float = 60,
    **kwargs: Any,
) -> ScheduleRunner:
    """Run ``spec``'s runner (under its lease) from the clock's time to ``until``."""
    runner = ScheduleRunner(
        broker, spec, now=clock.now, wait=clock.waiter(utc(until)), check_s=check_s, **kwargs
    )
    runner.run_until(threading.Event())
    return runner


def ticks(broker: Broker, topic: str) -> list[Record]:
    return [r for p in broker.end_offsets(topic) for r in broker.fetch(topic, p, 0, 10_000)]


def times(broker: Broker, topic: str) -> list[str]:
    """The scheduled times of the ticks on ``topic``, as published (ISO, UTC)."""
    return [(r.header("logway.schedule.time") or b"").decode() for r in ticks(broker, topic)]


@pytest.fixture
def broker(tmp_path: Path) -> Any:
    with logway.connect(f"file:{tmp_path}/data") as b:
        yield b


def test_rate_ticks_are_records_stamped_with_their_time(broker: Broker) -> None:
    app = logway.App("shop")
    app.schedule(
        "rate(5 minutes)", topic="reports", key="daily", headers={"team": "ops"}, name="report"
    )
    clock = FakeClock(utc("2030-01-01T10:02:30"))
    run(broker, app.schedules[0], clock, "2030-01-01T10:20:00", check_s=0.2)
    got = ticks(broker, "reports")
    want = ["2030-01-01T10:05:00Z", "2030-01-01T10:10:00Z", "2030-01-01T10:15:00Z"]
    want.append("2030-01-01T10:20:00Z")
    assert [r.timestamp for r in got] == [ms(t[:-1]) for t in want]
    assert [r.headers for r in got] == [
        (
            ("team", b"ops"),
            ("logway.schedule", b"shop.report"),
            ("logway.schedule.time", t.encode()),
        )
        for t in want
    ]
    assert {r.key for r in got} == {b"daily"}
    assert [r.json() for r in got] == [
        {"schedule": "shop.report", "scheduled_time": t} for t in want
    ]


def test_cron_ticks_follow_the_time_zone_across_a_dst_change(broker: Broker) -> None:
    """09:30 on weekdays in New York: 14:30Z before the clocks go forward on Sunday
    8 March 2026, 13:30Z after."""
    app = logway.App("shop")
    app.schedule(
        "cron(30 9 ? * MON-FRI *)",
        topic="opening",
        timezone="America/New_York",
        value={"open": True},
    )
    clock = FakeClock(utc("2026-03-05T15:00:00"))
    run(broker, app.schedules[0], clock, "2026-03-10T23:00:00", check_s=3600)
    assert times(broker, "opening") == [
        "2026-03-06T14:30:00Z",
        "2026-03-09T13:30:00Z",
        "2026-03-10T13:30:00Z",
    ]
    assert {r.value for r in ticks(broker, "opening")} == {b'{"open": true}'}


def test_flexible_window_delays_each_tick_as_the_schedule_says(broker: Broker) -> None:
    app = logway.App("shop")
    app.schedule("rate(15 minutes)", topic="sync", flexible_window=10)
    spec = app.schedules[0]
    clock = FakeClock(utc("2030-01-01T10:00:00"))
    sent: list[tuple[datetime, datetime]] = []
    run(
        broker,
        spec,
        clock,
        "2030-01-01T11:15:00",
        published=lambda tick: sent.append((tick, clock.now())),
    )
    want = [utc("2030-01-01T10:15:00") + timedelta(minutes=15 * k) for k in range(4)]
    delays = [spec.schedule.delay(t) for t in want]
    assert [tick for tick, _ in sent] == want
    assert [at - tick for tick, at in sent] == delays
    assert all(timedelta(0) <= d < timedelta(minutes=10) for d in delays)
    assert any(d > timedelta(0) for d in delays)
    assert [r.timestamp for r in ticks(broker, "sync")] == [int(t.timestamp() * 1000) for t in want]


@pytest.mark.parametrize(
    ("catch_up", "after_downtime"),
    [
        ("none", ["10:11", "10:12"]),
        ("latest", ["10:10", "10:11", "10:12"]),
        ("all", [f"10:{m:02}" for m in range(4, 13)]),
    ],
)
def test_catch_up_after_downtime(broker: Broker, catch_up: str, after_downtime: list[str]) -> None:
    app = logway.App("shop")
    app.schedule("rate(1 minute)", topic="ticks", catch_up=catch_up)
    clock = FakeClock(utc("2030-01-01T10:00:30"))
    run(broker, app.schedules[0], clock, "2030-01-01T10:03:00")
    clock.set(utc("2030-01-01T10:10:30"))  # nothing ran for seven minutes
    second = run(broker, app.schedules[0], clock, "2030-01-01T10:12:00")
    want = ["10:01", "10:02", "10:03", *after_downtime]
    assert times(broker, "ticks") == [f"2030-01-01T{t}:00Z" for t in want]
    assert second.stats["skipped"] == {"none": 7, "latest": 6, "all": 0}[catch_up]


def test_first_run_starts_from_now_without_catching_up(broker: Broker) -> None:
    app = logway.App("shop")
    app.schedule("rate(1 hour)", topic="hourly", catch_up="all")
    clock = FakeClock(utc("2030-01-01T10:59:59"))
    run(broker, app.schedules[0], clock, "2030-01-01T12:00:00")
    assert times(broker, "hourly") == ["2030-01-01T11:00:00Z", "2030-01-01T12:00:00Z"]


class Crash(Exception):
    pass


class CrashingBroker:
    """A broker that fails on producing the tick of ``at``: before writing it, or just
    after (as a process killed right after producing)."""

    def __init__(self, broker: Broker, at: int, after: bool):
        self.broker, self.at, self.after = broker, at, after

    def __getattr__(self, name: str) -> Any:
        return getattr(self.broker, name)

    def produce(
        self, topic: str, value: Any, key: Any = None, headers: Any = None, **kw: Any
    ) -> Any:
        if kw.get("timestamp") == self.at and not self.after:
            raise Crash
        done = self.broker.produce(topic, value, key, headers, **kw)
        if kw.get("timestamp") == self.at:
            raise Crash
        return done


@pytest.mark.parametrize("after", [False, True], ids=["before-producing", "after-producing"])
def test_a_restart_goes_on_from_the_last_tick_published(broker: Broker, after: bool) -> None:
    app = logway.App("shop")
    app.schedule("rate(1 minute)", topic="ticks", catch_up="all")
    spec = app.schedules[0]
    clock = FakeClock(utc("2030-01-01T10:00:30"))
    crashing = CrashingBroker(broker, ms("2030-01-01T10:03:00"), after)
    with pytest.raises(Crash):
        run(crashing, spec, clock, "2030-01-01T10:10:00")  # type: ignore[arg-type]
    assert clock.now() == utc("2030-01-01T10:03:00")
    run(broker, spec, clock, "2030-01-01T10:05:00")
    assert times(broker, "ticks") == [f"2030-01-01T10:0{m}:00Z" for m in range(1, 6)]
    assert last_tick(broker, "ticks", "shop.ticks") == utc("2030-01-01T10:05:00")


def test_two_runners_of_one_schedule_publish_each_tick_once(broker: Broker) -> None:
    """The second runner starts when the first has published its first tick and waits
    for the lease; the first stops at 10:05 and the second takes over up to 10:10."""
    app = logway.App("shop")
    app.schedule("rate(1 minute)", topic="ticks")
    spec = app.schedules[0]
    clock = FakeClock(utc("2030-01-01T10:00:30"))
    by: dict[str, list[datetime]] = {"first": [], "second": []}
    threads: list[threading.Thread] = []

    def runner(who: str, until: str) -> threading.Thread:
        def published(tick: datetime) -> None:
            by[who].append(tick)
            if who == "first" and len(threads) == 1:
                threads.append(runner("second", "2030-01-01T10:10:00"))
                threads[-1].start()

        r = ScheduleRunner(
            broker,
            spec,
            now=clock.now,
            wait=clock.waiter(utc(until)),
            published=published,
        )
        return threading.Thread(target=r.run_until, args=(threading.Event(),))

    threads.append(runner("first", "2030-01-01T10:05:00"))
    threads[0].start()
    for thread in [threads[0], *threads[1:]]:
        thread.join(timeout=60)
    assert len(threads) == 2
    threads[1].join(timeout=60)
    assert not any(t.is_alive() for t in threads)
    assert times(broker, "ticks") == [f"2030-01-01T10:{m:02}:00Z" for m in range(1, 11)]
    assert by["first"] and by["second"]
    assert sorted(by["first"] + by["second"]) == [
        utc(f"2030-01-01T10:{m:02}:00") for m in range(1, 11)
    ]


def test_start_and_end_bound_the_ticks(broker: Broker) -> None:
    app = logway.App("shop")
    app.schedule(
        "rate(1 minute)",
        topic="window",
        start="2030-01-01T10:02:00Z",
        end="2030-01-01T10:04:00Z",
    )
    app.schedule("at(2030-01-01T19:03:00)", topic="once", timezone="Asia/Tokyo")
    clock = FakeClock(utc("2030-01-01T10:00:30"))
    bounded = run(broker, app.schedules[0], clock, "2030-01-01T10:30:00")
    assert times(broker, "window") == [f"2030-01-01T10:0{m}:00Z" for m in (2, 3, 4)]
    assert bounded.next is None
    clock.set(utc("2030-01-01T10:00:30"))
    run(broker, app.schedules[1], clock, "2030-01-01T10:30:00")
    assert times(broker, "once") == ["2030-01-01T10:03:00Z"]


def test_values_bytes_str_dict_and_functions_of_the_tick(broker: Broker) -> None:
    app = logway.App("shop")
    app.schedule("rate(1 minute)", topic="v", value=b"\x00raw", name="raw")
    app.schedule("rate(1 minute)", topic="v", value="text", name="text")
    app.schedule("rate(1 minute)", topic="v", value={"a": [1]}, name="dict")
    app.schedule("rate(1 minute)", topic="v", value=lambda t: {"minute": t.minute}, name="fn")
    for spec in app.schedules:
        run(broker, spec, FakeClock(utc("2030-01-01T10:00:30")), "2030-01-01T10:01:00")
    assert [r.value for r in ticks(broker, "v")] == [
        b"\x00raw",
        b"text",
        b'{"a": [1]}',
        b'{"minute": 1}',
    ]


@pytest.mark.parametrize(
    ("settings", "message"),
    [
        ({"catch_up": "sometimes"}, "catch_up is 'none', 'latest' or 'all'"),
        ({"timezone": "Mars/Olympus"}, "unknown time zone"),
        ({"flexible_window": 0}, "flexible_window 0 is out of range"),
        ({"value": 3}, "a schedule's value is bytes"),
        ({"key": 5}, "a schedule's key is bytes"),
        ({"headers": {"logway.schedule": "x"}}, "is the schedule's own"),
        ({"start": "2030-01-01T10:00:00"}, "has no UTC offset"),
        ({"topic": "bad topic"}, "topic"),
        ({"name": ""}, "a schedule's name"),
    ],
)
def test_bad_settings_are_refused_when_declared(settings: dict[str, Any], message: str) -> None:
    app = logway.App("shop")
    with pytest.raises(InvalidArgumentError, match=message):
        app.schedule("rate(1 minute)", **{"topic": "ticks", **settings})
    with pytest.raises(InvalidArgumentError, match="rate value must be a positive"):
        app.schedule("rate(0 minutes)", topic="ticks")
    app.schedule("rate(1 minute)", topic="ticks")
    with pytest.raises(InvalidArgumentError, match="already has a schedule 'ticks'"):
        app.schedule("rate(5 minutes)", topic="ticks")
    assert len(app.schedules) == 1


def test_clock_publishes_minute_and_hour_ticks(broker: Broker) -> None:
    specs = clock_specs("clock", minutes=True, hours=True, timezone="Asia/Kolkata")
    assert [s.full_name for s in specs] == ["clock.clock.minute", "clock.clock.hour"]
    for spec in specs:
        clock = FakeClock(utc("2030-01-01T10:28:30"))
        run(broker, spec, clock, "2030-01-01T10:31:00")
    assert [r.json() for r in ticks(broker, "clock")] == [
        {"time": "2030-01-01T15:59:00+05:30", "unit": "minute"},
        {"time": "2030-01-01T16:00:00+05:30", "unit": "minute"},
        {"time": "2030-01-01T16:01:00+05:30", "unit": "minute"},
        {"time": "2030-01-01T16:00:00+05:30", "unit": "hour"},
    ]
    assert clock_specs("t")[0].expression == "cron(* * * * ? *)"


def test_logway_clock_runs_until_ctrl_c_and_refuses_a_bad_time_zone(tmp_path: Path) -> None:
    env = {**os.environ, "LOGWAY_URL": f"file:{tmp_path / 'data'}"}
    done = logway_cli(env, "clock", "ticks", "--timezone", "Mars/Olympus")
    assert done.returncode == 1 and "unknown time zone 'Mars/Olympus'" in done.stderr
    process = logway_process(env, "clock", "ticks", "--minutes", "--hours")
    assert process.stdout is not None
    assert process.stdout.readline() == "logway clock: a tick every minute and hour to ticks\n"
    process.send_signal(signal.SIGINT)
    _, err = process.communicate(timeout=60)
    assert process.returncode == 0 and "logway clock stopped" in err


def test_schedules_list_shows_last_and_next_ticks(tmp_path: Path) -> None:
    (tmp_path / "listedapp.py").write_text(
        "import logway\n"
        'app = logway.App("shop")\n'
        'app.schedule("cron(0 9 * * ? *)", topic="morning", timezone="Europe/Paris")\n'
        'app.schedule("rate(1 day)", topic="daily", name="cleanup")\n'
    )
    url = f"file:{tmp_path / 'data'}"
    with logway.connect(url) as broker:
        app = logway.App("shop")
        app.schedule("cron(0 9 * * ? *)", topic="morning", timezone="Europe/Paris")
        spec = app.schedules[0]
        now = datetime.now(UTC).replace(microsecond=0)
        run(broker, spec, FakeClock(now - timedelta(days=1)), now.isoformat()[:19])
        last = last_tick(broker, "morning", "shop.morning")
    assert last is not None
    env = {**os.environ, "LOGWAY_URL": url, "PYTHONPATH": str(tmp_path)}
    done = logway_cli(env, "schedules", "list", "listedapp:app")
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    assert lines[0].split() == [
        "NAME",
        "EXPRESSION",
        "TIMEZONE",
        "TOPIC",
        "LAST",
        "TICK",
        "NEXT",
        "TICK",
    ]
    paris = spec.schedule.timezone
    nxt = spec.schedule.next_after(datetime.now(UTC))
    assert nxt is not None
    assert lines[1].split() == [
        "shop.morning",
        "cron(0",
        "9",
        "*",
        "*",
        "?",
        "*)",
        "Europe/Paris",
        "morning",
        last.astimezone(paris).isoformat(),
        nxt.astimezone(paris).isoformat(),
    ]
    assert lines[2].split()[0] == "shop.cleanup" and lines[2].split()[-2] == "-"
    scheduled = last.strftime("%Y-%m-%dT%H:%M:%SZ")
    assert json.loads(ticks_value(url)) == {"schedule": "shop.morning", "scheduled_time": scheduled}


def ticks_value(url: str) -> bytes:
    with logway.connect(url) as broker:
        return ticks(broker, "morning")[-1].value or b""


CLOCK_APP = """
import logway

app = logway.App("shop")
app.schedule("cron(* * * * ? *)", topic="ticks", key="k")
"""


@pytest.mark.slow
def test_two_logway_run_processes_publish_each_tick_once_through_sigkills(
    tmp_path: Path,
) -> None:
    """Two ``logway run`` of an app with a schedule every minute: after the first
    tick one is SIGKILLed and started again, and a few seconds before the second tick
    the other is: each minute's tick is on the topic once."""
    (tmp_path / "clockapp.py").write_text(CLOCK_APP)
    url = f"file:{tmp_path / 'data'}"
    env = {**os.environ, "LOGWAY_URL": url, "PYTHONPATH": str(tmp_path)}

    def start() -> subprocess.Popen[str]:
        process = logway_process(env, "run", "clockapp:app")
        assert process.stdout is not None
        assert "ticks cron(* * * * ? *) -> ticks" in process.stdout.readline()
        return process

    def published() -> list[Record]:
        with logway.connect(url) as broker:
            if "ticks" not in broker.list_topics():
                return []
            return ticks(broker, "ticks")

    def wait_for(count: int, deadline: float) -> list[Record]:
        while len(got := published()) < count:
            assert time.time() < deadline, f"{len(got)} of {count} ticks"
            time.sleep(0.2)  # the processes work meanwhile
        return got

    processes = [start(), start()]
    try:
        first = wait_for(1, time.time() + 75)[0]
        for i, when in ((0, 0.0), (1, first.timestamp / 1000 + 52)):
            time.sleep(max(0.0, when - time.time()))
            processes[i].send_signal(signal.SIGKILL)
            processes[i].communicate(timeout=60)
            processes[i] = start()
        wait_for(2, first.timestamp / 1000 + 60 + 45)
    finally:
        # the one that does not own the data directory first: it talks to the owner
        owner = read_owner(str(tmp_path / "data"))[0]
        processes.sort(key=lambda p: str(p.pid) == owner)
        errors = []
        for process in processes:
            process.send_signal(signal.SIGTERM)
            errors.append(process.communicate(timeout=60)[1])
    assert [p.returncode for p in processes] == [0, 0], errors
    got = published()
    stamps = [r.timestamp for r in got]
    assert len(stamps) == len(set(stamps)), "a tick was published twice"
    assert stamps == [first.timestamp + 60_000 * k for k in range(len(stamps))]
    assert first.timestamp % 60_000 == 0 and len(stamps) >= 2
    for r in got:
        scheduled = datetime.fromtimestamp(r.timestamp / 1000, UTC)
        assert r.key == b"k"
        assert r.header("logway.schedule") == b"shop.ticks"
        assert r.header("logway.schedule.time") == scheduled.strftime("%Y-%m-%dT%H:%M:%SZ").encode()
