"""Windows (``app.window``) and continuous queries (``app.sql``) on every backend: results
per key and window of event time read from a two-partition topic, late and unreadable
records aside with the reason, and restarts from the checkpoint (after a stop, and after
dying before one) that repeat and lose no final result."""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from functools import partial
from typing import Any, cast

import pytest

import logway
from logway.windows.runner import CHANGELOG_TOPIC, run_windows
from tests.conformance.conftest import BrokerFactory
from tests.conformance.test_functions import DEADLINE, run_until

MINUTE = 60_000
# event times an hour ago, on a minute: results are stamped with them, retention keeps them
BASE = (int(time.time() * 1000) // MINUTE - 60) * MINUTE


def run(
    broker: logway.Broker,
    app: logway.App,
    until: Callable[[], bool],
    before: Callable[[], None] | None = None,
) -> list[Any]:
    """Run the app's windows and queries until ``until()`` holds, then stop them as
    SIGTERM does; returns their runners."""
    return run_until(partial(run_windows, broker, app.name, app.windows), until, before)


def held(broker: logway.Broker, topic: str) -> int:
    """How many records ``topic`` holds (0 before the runner creates it)."""
    if topic not in broker.list_topics():
        return 0
    return sum(broker.end_offsets(topic).values())


def records(broker: logway.Broker, topic: str) -> list[logway.Record]:
    return [
        r
        for p, end in broker.end_offsets(topic).items()
        for r in broker.fetch(topic, p, 0, max_records=max(end, 1))
    ]


def rows(broker: logway.Broker, topic: str) -> list[dict[str, Any]]:
    return [json.loads(r.value or b"") for r in records(broker, topic)]


def read_up(broker: logway.Broker, group: str, topic: str) -> Callable[[], bool]:
    """Whether ``group`` has committed the end of every partition of ``topic``: the
    runner read (and checkpointed) everything produced so far."""

    def done() -> bool:
        ends = broker.end_offsets(topic)
        got = broker.committed(group, topic)
        return all(got.get(logway.TopicPartition(topic, p)) == end for p, end in ends.items())

    return done


def set_aside(broker: logway.Broker, target: str) -> Callable[[], bool]:
    """Whether the late topic of ``target`` holds a record and its error topic two."""
    return lambda: held(broker, f"{target}-late") >= 1 and held(broker, f"{target}-errors") >= 2


def wait_for(condition: Callable[[], bool]) -> None:
    end = time.monotonic() + DEADLINE
    while not condition():
        assert time.monotonic() < end, "the condition did not hold in time"
        time.sleep(0.02)  # the runner works meanwhile, in its own thread


def reading(device: str, ms: int, temp: float) -> bytes:
    return json.dumps({"device": device, "ts": BASE + ms, "temp": temp}).encode()


def per_minute(source: str, to: str, **settings: Any) -> logway.App:
    app = logway.App("plant")
    app.window(
        source,
        to=to,
        name="per-minute",  # the consumer group plant.per-minute
        key="device",
        time="ts",
        tumbling="1m",
        idle="1h",  # only event time closes windows here
        aggregate={"n": "count", "avg": ("mean", "temp"), "top": ("max", "temp")},
        **settings,
    )
    return app


def test_a_tumbling_window_per_key_with_late_and_unreadable_records_aside(
    broker: logway.Broker, topic: str
) -> None:
    broker.create_topic(topic, partitions=2)
    out = f"{topic}-per-minute"
    no_time = json.dumps({"device": "a", "temp": 1}).encode()
    broker.produce_many(
        topic,
        [
            (reading("a", 1_000, 20.0), b"a"),
            (reading("a", 30_000, 22.0), b"a"),
            (b"not json", b"a"),
            (reading("a", MINUTE + 5_000, 40.0), b"a"),
            (no_time, b"a"),
            (reading("a", 2 * MINUTE + 20_000, 0.0), b"a"),
        ],
        partition=0,
    )
    broker.produce_many(
        topic,
        [
            (reading("b", 2_000, 30.0), b"b"),
            (reading("b", MINUTE + 1_000, 31.0), b"b"),
            (reading("b", MINUTE + 2_000, 35.0), b"b"),
            (reading("b", 2 * MINUTE + 20_000, 0.0), b"b"),
        ],
        partition=1,
    )
    late = reading("a", 5_000, 99.0)

    def then_a_late_one() -> None:
        wait_for(lambda: held(broker, out) >= 4)  # the first two minutes have closed
        broker.produce(topic, late, b"a", partition=0)

    app = per_minute(topic, out, grace="10s")  # watermark: 2 min 10 s
    (runner,) = run(broker, app, until=set_aside(broker, out), before=then_a_late_one)

    results = records(broker, out)
    assert [json.loads(r.value or b"") for r in results] == [
        {"key": "a", "window_start": BASE, "window_end": BASE + MINUTE, "n": 2, "avg": 21.0,
         "top": 22.0},
        {"key": "b", "window_start": BASE, "window_end": BASE + MINUTE, "n": 1, "avg": 30.0,
         "top": 30.0},
        {"key": "a", "window_start": BASE + MINUTE, "window_end": BASE + 2 * MINUTE, "n": 1,
         "avg": 40.0, "top": 40.0},
        {"key": "b", "window_start": BASE + MINUTE, "window_end": BASE + 2 * MINUTE, "n": 2,
         "avg": 33.0, "top": 35.0},
    ]  # fmt: skip
    assert [r.key for r in results] == [b"a", b"b", b"a", b"b"]
    assert [r.timestamp for r in results] == [BASE + MINUTE - 1] * 2 + [BASE + 2 * MINUTE - 1] * 2

    errors = records(broker, f"{out}-errors")
    assert [r.value for r in errors] == [b"not json", no_time]
    why = [(r.header("logway.reason") or b"").decode() for r in errors]
    assert why[0].startswith("its value is not JSON") and "no field 'ts'" in why[1]
    assert [r.header("logway.source.offset") for r in errors] == [b"2", b"4"]
    assert {r.header("logway.source.topic") for r in errors} == {topic.encode()}

    (aside_,) = records(broker, f"{out}-late")
    assert aside_.value == late and aside_.key == b"a"
    assert b"watermark" in (aside_.header("logway.reason") or b"")
    assert aside_.header("logway.source.partition") == b"0"
    assert aside_.header("logway.source.offset") == b"6"
    assert runner.stats == {"records_in": 11, "results": 4, "late": 1, "errors": 2}
    assert held(broker, out) == 4  # the third minute is still open


def two_devices(broker: logway.Broker, topic: str, minutes: range) -> None:
    """Device a on partition 0 and b on partition 1, three readings a minute each."""
    for partition, device in ((0, "a"), (1, "b")):
        broker.produce_many(
            topic,
            [
                (reading(device, m * MINUTE + s * 1_000, m * 10 + s + partition), device.encode())
                for m in minutes
                for s in range(3)
            ],
            partition=partition,
        )


def expected(minutes: range) -> list[dict[str, Any]]:
    """The results of ``two_devices`` over ``minutes``, in the order they are produced."""
    return [
        {
            "key": device,
            "window_start": BASE + m * MINUTE,
            "window_end": BASE + (m + 1) * MINUTE,
            "n": 3,
            "avg": m * 10 + 1 + partition,
            "top": m * 10 + 2 + partition,
        }
        for m in minutes
        for partition, device in ((0, "a"), (1, "b"))
    ]


def same_per_minute(kind: str, source: str, to: str, checkpoint: str) -> logway.App:
    """``per_minute`` as a window, or as a continuous query that makes the same rows."""
    if kind == "window":
        return per_minute(source, to, checkpoint=checkpoint)
    app = logway.App("plant")
    app.sql(
        f"INSERT INTO {to} SELECT device AS key, window_start, window_end, count(*) AS n, "
        f"avg(temp) AS avg, max(temp) AS top FROM TUMBLE({source}, DESCRIPTOR(ts), "
        "INTERVAL '1' MINUTE) GROUP BY device, window_start, window_end",
        name="per-minute",
        key="key",
        idle="1h",
        checkpoint=checkpoint,
    )
    return app


# records a restart reads: a window from its checkpoint's positions, a query from the
# oldest record held in an open window (a minute of both devices, six records, more)
READ_AGAIN = {"window": 0, "sql": 6}
KINDS = pytest.mark.parametrize("kind", ["window", "sql"])


@KINDS
def test_a_restart_from_the_checkpoint_repeats_and_loses_no_final_result(
    open_broker: BrokerFactory, topic: str, kind: str
) -> None:
    broker = open_broker()
    broker.create_topic(topic, partitions=2)
    out = f"{topic}-per-minute"
    app = same_per_minute(kind, topic, out, checkpoint="20ms")
    done = read_up(broker, "plant.per-minute", topic)
    two_devices(broker, topic, range(0, 4))  # minutes 0-2 close, 3 stays open
    run(broker, app, until=lambda: held(broker, out) >= 6 and done())
    assert rows(broker, out) == expected(range(0, 3))

    broker.close()
    broker = open_broker()  # as another process would
    done = read_up(broker, "plant.per-minute", topic)
    two_devices(broker, topic, range(4, 7))  # minutes 3-5 close
    (runner,) = run(broker, app, until=lambda: held(broker, out) >= 12 and done())
    assert rows(broker, out) == expected(range(0, 6))
    assert runner.stats["records_in"] == 18 + READ_AGAIN[kind]  # from the checkpoint on
    assert records(broker, f"{out}-late") == records(broker, f"{out}-errors") == []


class Died(Exception):
    """The process died as it wrote a checkpoint."""


class DiesAtCheckpoint:
    """A broker through which a runner dies as it writes its checkpoint: the results it
    produced before are stored, the checkpoint is not."""

    def __init__(self, broker: logway.Broker):
        self._broker = broker

    def __getattr__(self, name: str) -> Any:
        return getattr(self._broker, name)

    def produce(self, topic: str, *args: Any, **kwargs: Any) -> Any:
        if topic == CHANGELOG_TOPIC:
            raise Died(topic)
        return self._broker.produce(topic, *args, **kwargs)


@KINDS
def test_a_restart_after_dying_before_the_checkpoint_repeats_no_final_result(
    open_broker: BrokerFactory, topic: str, kind: str
) -> None:
    """Results produced after the last checkpoint are made again by the replay from it,
    and skipped by their numbers; the results after them are produced."""
    broker = open_broker()
    broker.create_topic(topic, partitions=2)
    out = f"{topic}-per-minute"
    done = read_up(broker, "plant.per-minute", topic)
    two_devices(broker, topic, range(0, 3))
    app = same_per_minute(kind, topic, out, checkpoint="20ms")
    run(broker, app, until=lambda: done() and held(broker, out) >= 4)

    two_devices(broker, topic, range(3, 6))
    dying = cast(logway.Broker, DiesAtCheckpoint(broker))
    no_checkpoint = same_per_minute(kind, topic, out, checkpoint="1h")  # only at the stop
    with pytest.raises(Died):
        run(dying, no_checkpoint, until=lambda: held(broker, out) >= 10)
    assert rows(broker, out) == expected(range(0, 5))

    broker.close()
    broker = open_broker()
    done = read_up(broker, "plant.per-minute", topic)
    two_devices(broker, topic, range(6, 8))  # minutes 5 and 6 close
    (runner,) = run(broker, app, until=lambda: done() and held(broker, out) >= 14)
    assert rows(broker, out) == expected(range(0, 7))
    # minutes 3-7 read again from the checkpoint before the death, and the new ones
    assert runner.stats["records_in"] == 30 + READ_AGAIN[kind]
    numbers = [r.header("logway.window.seq") for r in records(broker, out)]
    assert numbers == [str(n).encode() for n in range(14)]  # each result once, in order


def test_a_continuous_query_produces_its_rows_and_sets_records_aside(
    broker: logway.Broker, topic: str
) -> None:
    broker.create_topic(topic, partitions=2)
    alerts = f"{topic}-alerts"
    app = logway.App("plant")
    app.sql(
        f"INSERT INTO {alerts} SELECT device, window_start, window_end, count(*) AS n, "
        f"avg(temp) AS temp FROM TUMBLE({topic}, DESCRIPTOR(ts), INTERVAL '1' MINUTE) "
        "GROUP BY device, window_start, window_end HAVING avg(temp) > 30",
        key="device",
        idle="1h",
        checkpoint="20ms",
    )
    no_time = json.dumps({"device": "a", "temp": 40.0}).encode()
    broker.produce_many(
        topic,
        [
            reading("a", 1_000, 31.0),
            reading("a", 2_000, 35.0),
            b"not json",
            reading("a", 61_000, 10.0),
            no_time,
            reading("a", 125_000, 0.0),
        ],
        partition=0,
    )
    broker.produce_many(
        topic,
        [
            reading("b", 3_000, 20.0),
            reading("b", 61_000, 45.0),
            reading("b", 62_000, 41.0),
            reading("b", 125_000, 0.0),
        ],
        partition=1,
    )
    late = reading("b", 4_000, 99.0)

    def then_a_late_one() -> None:
        wait_for(lambda: held(broker, alerts) >= 2)  # the first two minutes have closed
        broker.produce(topic, late, partition=1)

    (runner,) = run(broker, app, until=set_aside(broker, alerts), before=then_a_late_one)

    results = records(broker, alerts)
    assert [json.loads(r.value or b"") for r in results] == [
        {"device": "a", "window_start": BASE, "window_end": BASE + MINUTE, "n": 2, "temp": 33.0},
        {"device": "b", "window_start": BASE + MINUTE, "window_end": BASE + 2 * MINUTE, "n": 2,
         "temp": 43.0},
    ]  # fmt: skip
    assert [r.key for r in results] == [b"a", b"b"]
    assert [r.timestamp for r in results] == [BASE + MINUTE - 1, BASE + 2 * MINUTE - 1]

    errors = records(broker, f"{alerts}-errors")
    assert [r.value for r in errors] == [b"not json", no_time]
    assert [r.header("logway.reason") for r in errors] == [
        b"its value is not JSON",
        b"it has no column 'ts'",
    ]
    assert [r.header("logway.source.offset") for r in errors] == [b"2", b"4"]

    (aside_,) = records(broker, f"{alerts}-late")
    assert aside_.value == late and b"has closed" in (aside_.header("logway.reason") or b"")
    assert aside_.header("logway.source.partition") == b"1"
    assert runner.stats == {"records_in": 11, "results": 2, "late": 1, "errors": 2}


def test_another_jobs_big_checkpoints_do_not_hide_this_windows(
    open_broker: BrokerFactory, topic: str
) -> None:
    """Every app's windows checkpoint into one changelog; a restart finds its own newest
    checkpoint behind others bigger than one fetch returns (1 MB), so the records of
    its open windows are kept."""
    broker = open_broker()
    broker.create_topic(topic, partitions=2)
    out = f"{topic}-per-minute"
    app = per_minute(topic, out, checkpoint="1h")  # one checkpoint, at the stop
    broker.create_topic(CHANGELOG_TOPIC, retention_ms="7d")
    big = b"{}" + b" " * 300_000
    for _ in range(4):  # another job's state, 1.2 MB in all
        broker.produce(CHANGELOG_TOPIC, big, b"dairy.per-hour")
    two_devices(broker, topic, range(0, 1))  # minute 0 stays open
    runner = app.windows[0].make_runner(broker, app.name)
    run_until(runner.run, until=lambda: runner.stats["records_in"] == 6)
    assert read_up(broker, "plant.per-minute", topic)()  # checkpointed at the stop
    assert held(broker, out) == 0

    broker.close()
    broker = open_broker()
    two_devices(broker, topic, range(1, 3))  # minutes 0 (with what was read before) and 1 close
    run(
        broker,
        per_minute(topic, out, checkpoint="20ms"),
        until=read_up(broker, "plant.per-minute", topic),
    )
    assert rows(broker, out) == expected(range(0, 2))
