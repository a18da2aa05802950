"""Continuous SQL over a real embedded log: each window table function (TUMBLE, HOP,
CUMULATE, SESSION) on out-of-order records with late ones aside, filters without a
window, unreadable records on the error topic with the reason, a query that fails over
one window, and a restart from the checkpoint that repeats and loses no result."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

import logway
from logway.broker import ensure_topic
from logway.errors import InvalidArgumentError
from logway.server.metrics import render
from logway.windows.sql import ContinuousQuery
from logway.windows.sqlrun import SqlRunner, sql_spec

S = 1000
MINUTE = 60 * S
# event times two hours ago, aligned to the hour: results are stamped with them, and
# retention keeps them
BASE = (int(time.time() * 1000) // (60 * MINUTE) - 2) * 60 * MINUTE


@pytest.fixture
def broker(tmp_path: Path) -> Iterator[logway.Broker]:
    with logway.connect(f"file:{tmp_path}/data") as b:
        b.create_topic("readings", partitions=1)
        yield b


def reading(device: str, second: float, temp: float = 1.0) -> bytes:
    return json.dumps({"device": device, "ts": BASE + int(second * S), "temp": temp}).encode()


def start(broker: logway.Broker, statement: str, **settings: Any) -> SqlRunner:
    """A runner of ``statement`` whose watermark moves with event time only."""
    spec = sql_spec(statement, idle="1h", checkpoint="1h", **settings)
    for topic in (spec.to, spec.late_topic, spec.error_topic, "__logway_windows"):
        ensure_topic(broker, topic)
    runner = spec.make_runner(broker, "plant")
    runner.open()
    return runner


def feed(broker: logway.Broker, runner: SqlRunner, *values: bytes | None, batch: int = 1) -> None:
    """Produce ``values`` to readings and hand them to the runner ``batch`` at a time."""
    first = broker.end_offsets("readings")[0]
    broker.produce_many("readings", list(values))
    records = broker.fetch("readings", 0, first, max_records=len(values))
    for i in range(0, len(records), batch):
        runner.step(records[i : i + batch])


def rows(broker: logway.Broker, topic: str) -> list[dict[str, Any]]:
    return [json.loads(r.value or b"") for r in broker.fetch(topic, 0, 0, max_records=10_000)]


def reasons(broker: logway.Broker, topic: str) -> list[str]:
    return [
        (r.header("logway.reason") or b"").decode()
        for r in broker.fetch(topic, 0, 0, max_records=10_000)
    ]


def at(second: float) -> int:
    return BASE + int(second * S)


PER_MINUTE = (
    "INSERT INTO alerts SELECT device, window_start, window_end, count(*) AS n, "
    "avg(temp) AS temp FROM TUMBLE(readings, DESCRIPTOR(ts), INTERVAL '1' MINUTE) "
    "GROUP BY device, window_start, window_end"
)


def test_tumble_out_of_order_and_late(broker: logway.Broker) -> None:
    runner = start(broker, PER_MINUTE, key="device")
    feed(
        broker,
        runner,
        reading("a", 0, 10),
        reading("a", 30, 20),
        reading("b", 10, 5),  # out of order, same window
        reading("a", 65, 7),  # watermark 65 s: [0, 60) closes
        reading("a", 5, 99),  # late: its only window has closed
        reading("b", 61, 3),
    )
    assert rows(broker, "alerts") == [
        {"device": "a", "window_start": at(0), "window_end": at(60), "n": 2, "temp": 15.0},
        {"device": "b", "window_start": at(0), "window_end": at(60), "n": 1, "temp": 5.0},
    ]
    late = broker.fetch("alerts-late", 0, 0)
    assert [json.loads(r.value or b"")["temp"] for r in late] == [99]
    assert "has closed" in reasons(broker, "alerts-late")[0]
    out = broker.fetch("alerts", 0, 0)
    assert [r.key for r in out] == [b"a", b"b"]
    assert all(r.timestamp == at(60) - 1 for r in out)  # the window's last millisecond
    feed(broker, runner, reading("a", 200))  # closes [60, 120)
    assert rows(broker, "alerts")[2:] == [
        {"device": "a", "window_start": at(60), "window_end": at(120), "n": 1, "temp": 7.0},
        {"device": "b", "window_start": at(60), "window_end": at(120), "n": 1, "temp": 3.0},
    ]


def test_the_issue_alert_query_keeps_only_hot_windows(broker: logway.Broker) -> None:
    runner = start(
        broker,
        "INSERT INTO alerts SELECT device, window_start, window_end, avg(temp) AS temp "
        "FROM TUMBLE(readings, DESCRIPTOR(ts), INTERVAL '1' MINUTE) "
        "GROUP BY device, window_start, window_end HAVING avg(temp) > 30",
    )
    feed(broker, runner, reading("a", 1, 31), reading("a", 2, 33), reading("b", 3, 29))
    feed(broker, runner, reading("a", 61, 0))
    assert rows(broker, "alerts") == [
        {"device": "a", "window_start": at(0), "window_end": at(60), "temp": 32.0}
    ]


def test_hop_puts_each_record_in_size_over_slide_windows(broker: logway.Broker) -> None:
    runner = start(
        broker,
        "INSERT INTO out SELECT window_start, window_end, count(*) AS n FROM "
        "TABLE(HOP(TABLE readings, DESCRIPTOR(ts), INTERVAL '30' SECONDS, INTERVAL '1' MINUTE)) "
        "GROUP BY window_start, window_end",
        grace="30s",  # 10 s comes after 40 s, and its first window [-30, 30) is still open
    )
    feed(broker, runner, reading("a", 40), reading("a", 10), reading("a", 70), reading("a", 500))
    got = [(r["window_start"], r["window_end"], r["n"]) for r in rows(broker, "out")]
    assert got == [
        (at(-30), at(30), 1),
        (at(0), at(60), 2),
        (at(30), at(90), 2),
        (at(60), at(120), 1),
    ]


def test_cumulate_grows_windows_by_step_within_size(broker: logway.Broker) -> None:
    runner = start(
        broker,
        "INSERT INTO out SELECT window_start, window_end, count(*) AS n, sum(temp) AS total "
        "FROM CUMULATE(readings, DESCRIPTOR(ts), INTERVAL '20' SECONDS, INTERVAL '1' MINUTE) "
        "GROUP BY window_start, window_end",
        grace="30s",  # 5 s comes after 25 s, and its window [0, 20) is still open
    )
    feed(broker, runner, reading("a", 25, 2), reading("a", 5, 1), reading("a", 45, 4))
    feed(broker, runner, reading("a", 200, 100))
    got = [(r["window_start"], r["window_end"], r["n"], r["total"]) for r in rows(broker, "out")]
    assert got == [(at(0), at(20), 1, 1.0), (at(0), at(40), 2, 3.0), (at(0), at(60), 3, 7.0)]


def test_session_merges_records_less_than_the_gap_apart(broker: logway.Broker) -> None:
    runner = start(
        broker,
        "INSERT INTO out SELECT device, window_start, window_end, count(*) AS n FROM "
        "TABLE(SESSION(TABLE readings PARTITION BY device, DESCRIPTOR(ts), INTERVAL '10' SECONDS)) "
        "GROUP BY device, window_start, window_end",
        grace="30s",
    )
    feed(
        broker,
        runner,
        reading("a", 0),
        reading("a", 5),
        reading("b", 2),
        reading("a", 30),
        reading("a", 12),  # out of order: joins 0 and 5
        reading("a", 20),  # bridges to 12 (8 s) but not to 30 (10 s is not less than the gap)
    )
    assert rows(broker, "out") == []  # the watermark (0 s) has passed no session's end
    feed(broker, runner, reading("c", 100))
    got = sorted(
        (r["device"], r["window_start"], r["window_end"], r["n"]) for r in rows(broker, "out")
    )
    assert got == [("a", at(0), at(30), 4), ("a", at(30), at(40), 1), ("b", at(2), at(12), 1)]


def test_a_filter_without_a_window_runs_record_by_record(broker: logway.Broker) -> None:
    runner = start(
        broker, "INSERT INTO hot SELECT device, temp * 2 AS double FROM readings WHERE temp > 30"
    )
    feed(broker, runner, reading("a", 0, 31), reading("b", 1, 3), reading("c", 2, 40), batch=2)
    assert rows(broker, "hot") == [{"device": "a", "double": 62.0}, {"device": "c", "double": 80.0}]


def test_unreadable_records_go_to_the_error_topic_with_the_reason(broker: logway.Broker) -> None:
    runner = start(broker, PER_MINUTE)
    feed(
        broker,
        runner,
        reading("a", 1, 10),
        b"not json",
        b"[1, 2]",
        json.dumps({"device": "a", "ts": at(2)}).encode(),
        json.dumps({"device": "a", "ts": at(3), "temp": "hot"}).encode(),
        json.dumps({"device": "a", "ts": None, "temp": 1}).encode(),
        None,
        reading("a", 4, 20),
        batch=3,
    )
    assert reasons(broker, "alerts-errors") == [
        "its value is not JSON",
        "its value is a JSON array, not an object",
        "it has no column 'temp'",
        'column "temp" is "hot", not DOUBLE',
        "its time column 'ts' is null",
        "it has no value",
    ]
    errors = broker.fetch("alerts-errors", 0, 0)
    assert errors[0].value == b"not json"  # as it was
    assert errors[0].header("logway.source.offset") == b"1"
    feed(broker, runner, reading("a", 61))
    assert rows(broker, "alerts") == [  # the query carried on
        {"device": "a", "window_start": at(0), "window_end": at(60), "n": 2, "temp": 15.0}
    ]


def test_a_query_failing_over_one_window_reports_it_and_carries_on(
    broker: logway.Broker,
) -> None:
    runner = start(
        broker,
        "INSERT INTO out SELECT window_start, CAST(max(device) AS INTEGER) AS n "
        "FROM TUMBLE(readings, DESCRIPTOR(ts), INTERVAL '1' MINUTE) "
        "GROUP BY window_start, window_end",
    )
    feed(broker, runner, reading("x", 1), reading("7", 61), reading("7", 130))
    assert rows(broker, "out") == [{"window_start": at(60), "n": 7}]
    failed = json.loads(broker.fetch("out-errors", 0, 0)[0].value or b"")
    assert failed["window_start"] == at(0) and "Conversion" in failed["error"]


def test_declared_columns_and_the_record_timestamp_as_event_time(broker: logway.Broker) -> None:
    runner = start(
        broker,
        "INSERT INTO out SELECT window_start, sum(level) AS total, count(*) AS n "
        "FROM TUMBLE(readings, DESCRIPTOR(_timestamp), INTERVAL '1' MINUTE) "
        "GROUP BY window_start, window_end",
        columns={"level": "BIGINT"},
    )
    first = broker.end_offsets("readings")[0]
    broker.produce_many(
        "readings",
        [
            logway.Message(b'{"level": 2}', None, (), None, at(1)),
            logway.Message(b'{"level": 2.5}', None, (), None, at(2)),  # not a BIGINT
            logway.Message(b'{"level": 5}', None, (), None, at(3)),
            logway.Message(b'{"level": 1}', None, (), None, at(70)),
        ],
    )
    runner.step(broker.fetch("readings", 0, first))
    assert rows(broker, "out") == [{"window_start": at(0), "total": 7, "n": 2}]
    assert reasons(broker, "out-errors") == ['column "level" is 2.5, not BIGINT']


def test_a_restart_from_the_checkpoint_repeats_and_loses_no_result(
    broker: logway.Broker,
) -> None:
    runner = start(broker, PER_MINUTE)
    feed(broker, runner, reading("a", 1, 1), reading("a", 61, 2), reading("b", 62, 3))
    feed(broker, runner, reading("late", 2))
    runner.checkpoint()  # [60, 120) holds two records; [0, 60) was produced
    feed(broker, runner, reading("a", 70, 4), reading("a", 130, 5))
    # a crash here: [60, 120) was produced after the checkpoint; a restart replays
    before = rows(broker, "alerts")
    assert [(r["device"], r["n"]) for r in before] == [("a", 1), ("a", 2), ("b", 1)]
    again = start(broker, PER_MINUTE)
    assert again.open() == {0: 1}  # from the oldest record held at the checkpoint
    again.step(broker.fetch("readings", 0, 1, max_records=100))
    feed(broker, again, reading("a", 190, 6))
    got = [(r["device"], r["window_start"], r["n"]) for r in rows(broker, "alerts")]
    assert got == [
        ("a", at(0), 1),
        ("a", at(60), 2),
        ("b", at(60), 1),
        ("a", at(120), 1),
    ]
    assert len(broker.fetch("alerts-late", 0, 0)) == 1  # not sent aside again


@pytest.mark.parametrize(
    ("statement", "message"),
    [
        ("SELECT count(*) FROM readings", "aggregate over windows"),
        ("SELECT * FROM a JOIN b ON a.x = b.x", "reads one topic"),
        ("SELECT window_start FROM readings", "come from a window table function"),
        ("SELECT * FROM TUMBLE(readings, ts, INTERVAL '1' MINUTE)", r"DESCRIPTOR\(ts\)"),
        ("SELECT * FROM TUMBLE(readings, DESCRIPTOR(ts), 60)", "INTERVAL '1' MINUTE"),
        (
            "SELECT * FROM HOP(readings, DESCRIPTOR(ts), INTERVAL '7' SECOND, INTERVAL '1' MINUTE)",
            "multiple of its slide",
        ),
        ("SELECT * FROM SESSION(readings, DESCRIPTOR(ts))", "SESSION takes"),
        ("SELEC device FROM readings", "syntax error"),
        ("", "not empty"),
    ],
)
def test_bad_statements_are_refused_with_the_reason(statement: str, message: str) -> None:
    with pytest.raises(InvalidArgumentError, match=message):
        ContinuousQuery.parse(statement)


def test_an_app_query_is_checked_when_declared() -> None:
    app = logway.App("plant")
    with pytest.raises(InvalidArgumentError, match="INSERT INTO"):
        app.sql("SELECT * FROM readings")
    with pytest.raises(InvalidArgumentError, match="cannot run over rows"):
        app.sql("INSERT INTO x SELECT nope + 1 FROM readings", columns={"temp": "DOUBLE"})
    with pytest.raises(InvalidArgumentError, match="time column 'ts'"):
        app.sql(PER_MINUTE, columns={"device": "VARCHAR", "temp": "DOUBLE"})
    assert app.sql(PER_MINUTE) == "alerts"
    with pytest.raises(InvalidArgumentError, match="already has"):
        app.sql(PER_MINUTE)


def test_one_runner_at_a_time_and_the_query_moves_when_it_stops(broker: logway.Broker) -> None:
    """Two runners of one query (two processes running the app): one runs it, the other
    waits; stopping the one that runs moves the query to the other, which goes on from
    the checkpoint without repeating or losing a result."""
    spec = sql_spec(PER_MINUTE, idle="1h", checkpoint="10ms")
    runners = [spec.make_runner(broker, "plant") for _ in range(2)]
    stops = [threading.Event() for _ in runners]
    threads = [
        threading.Thread(target=r.run_until, args=(s,)) for r, s in zip(runners, stops, strict=True)
    ]
    for thread in threads:
        thread.start()
    try:
        broker.produce_many("readings", [reading("a", 1), reading("b", 2), reading("a", 61)])
        wait_until(lambda: held(broker, "alerts") == 2)
        first = next(i for i, r in enumerate(runners) if r.stats["records_in"])
        assert runners[1 - first].stats["records_in"] == 0  # it waited
        stops[first].set()
        threads[first].join(timeout=30)
        broker.produce_many("readings", [reading("b", 70), reading("c", 130)])
        wait_until(lambda: held(broker, "alerts") == 4)
        assert runners[1 - first].stats["records_in"] >= 2  # the other took it over
    finally:
        for s in stops:
            s.set()
        for thread in threads:
            thread.join(timeout=30)
    got = [(r["device"], r["window_start"], r["n"]) for r in rows(broker, "alerts")]
    assert got == [("a", at(0), 1), ("b", at(0), 1), ("a", at(60), 1), ("b", at(60), 1)]


def held(broker: logway.Broker, topic: str) -> int:
    """How many records ``topic`` holds (0 before the runner creates it)."""
    return sum(broker.end_offsets(topic).values()) if topic in broker.list_topics() else 0


def wait_until(condition: Callable[[], bool], timeout: float = 30.0) -> None:
    end = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < end, "the condition did not hold in time"
        time.sleep(0.01)  # the runners work meanwhile, in their threads


def test_rows_over_max_held_go_to_the_error_topic_and_metrics_show_them(
    broker: logway.Broker,
) -> None:
    runner = start(broker, PER_MINUTE, max_held=3)
    feed(broker, runner, reading("a", 1), reading("b", 2), batch=2)
    feed(broker, runner, reading("c", 3), reading("d", 4), batch=2)  # 2 + 2 > 3
    assert runner.status()["held_rows"] == 2
    assert len(reasons(broker, "alerts-errors")) == 2
    assert "over its max_held (3)" in reasons(broker, "alerts-errors")[0]
    text = render(broker, [], [], [runner])
    assert 'logway_window_held_rows{window="plant.alerts"} 2' in text
    assert 'logway_window_errors_total{window="plant.alerts"} 2' in text
    feed(broker, runner, reading("e", 61))  # [0, 60) closes: its two rows are let go
    assert runner.status()["held_rows"] == 1
    assert [r["device"] for r in rows(broker, "alerts")] == ["a", "b"]


def test_values_in_the_registry_wire_format_are_read_as_rows(broker: logway.Broker) -> None:
    schema = {
        "type": "record",
        "name": "Reading",
        "fields": [
            {"name": "device", "type": "string"},
            {"name": "ts", "type": "long"},
            {"name": "temp", "type": "double"},
        ],
    }
    broker.schemas.register("readings-value", json.dumps(schema), "AVRO")
    runner = start(broker, PER_MINUTE)

    def framed(device: str, second: int, temp: float) -> bytes:
        data = {"device": device, "ts": at(second), "temp": temp}
        framed_value: bytes = broker.schemas.encode("readings-value", data)
        assert framed_value[0] == 0  # the registry's magic byte
        return framed_value

    feed(broker, runner, framed("a", 1, 10.0), framed("a", 2, 20.0), framed("a", 61, 0.0))
    assert rows(broker, "alerts") == [
        {"device": "a", "window_start": at(0), "window_end": at(60), "n": 2, "temp": 15.0}
    ]
