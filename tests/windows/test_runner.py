"""``App.window`` run over a real embedded log: results per key and window on the
output topic once the watermark passes, late records and unreadable ones aside with
the reason, the last window closed by idleness, and a restart from the checkpoint
that neither loses nor repeats a closed window."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from functools import partial
from pathlib import Path
from typing import Any

import pytest

import logway
from logway.server.metrics import render
from logway.windows.runner import WindowRunner, run_windows
from tests.conformance.test_functions import run_until as run_runners
from tests.servers import logway_cli, logway_process

MINUTE = 60_000
# event times an hour ago: results are stamped with them, and retention keeps them
RECENT = (int(time.time() * 1000) // MINUTE - 60) * MINUTE
DEADLINE_S = 30.0


@pytest.fixture
def broker(tmp_path: Path) -> Iterator[logway.Broker]:
    with logway.connect(f"file:{tmp_path}/data") as b:
        yield b


def run_until(
    broker: logway.Broker, app: logway.App, until: Callable[[], bool]
) -> list[WindowRunner]:
    """Run the app's windows until ``until()`` holds, then stop them as SIGTERM does."""
    return run_runners(partial(run_windows, broker, app.name, app.windows), until)


def values(broker: logway.Broker, topic: str) -> list[dict[str, Any]]:
    return [json.loads(r.value or b"") for r in broker.fetch(topic, 0, 0, max_records=10_000)]


def count(broker: logway.Broker, topic: str) -> Callable[[], int]:
    """How many records ``topic`` holds (0 before the runner creates it)."""
    return lambda: sum(broker.end_offsets(topic).values()) if topic in broker.list_topics() else 0


def reading(device: str, ts: int, temp: float) -> bytes:
    return json.dumps({"device": device, "ts": ts, "temp": temp}).encode()


def _app(idle: str = "50ms", size: str = "1m", grace: str = "10s") -> logway.App:
    app = logway.App("plant")
    app.window(
        "readings",
        to="per-minute",
        key="device",
        time="ts",
        tumbling=size,
        grace=grace,
        idle=idle,
        checkpoint="10ms",
        aggregate={"n": "count", "avg": ("mean", "temp"), "top": ("max", "temp")},
    )
    return app


def test_results_per_key_and_minute_with_late_and_bad_records_aside(
    broker: logway.Broker,
) -> None:
    broker.create_topic("readings", partitions=2)
    base = RECENT
    broker.produce_many(
        "readings",
        [
            (reading("a", base + 1_000, 20.0), b"a"),
            (reading("b", base + 2_000, 30.0), b"b"),
            (reading("a", base + 30_000, 22.0), b"a"),
            (reading("a", base + MINUTE + 5_000, 40.0), b"a"),  # next minute
            (b"not json", b"a"),
            (json.dumps({"device": "a", "temp": 1}).encode(), b"a"),  # no ts
        ],
    )
    app = _app(idle="1h")  # only event time closes windows here
    broker.produce(  # the watermark passes minute 100 (+ grace) on both partitions
        "readings", reading("a", base + 2 * MINUTE + 20_000, 0.0), b"a", partition=0
    )
    broker.produce("readings", reading("b", base + 2 * MINUTE + 20_000, 0.0), b"b", partition=1)
    run_until(broker, app, lambda: count(broker, "per-minute")() >= 3)
    got = sorted(values(broker, "per-minute"), key=lambda v: (v["window_start"], v["key"]))
    assert got[:3] == [
        {
            "key": "a",
            "window_start": base,
            "window_end": base + MINUTE,
            "n": 2,
            "avg": 21.0,
            "top": 22.0,
        },
        {
            "key": "b",
            "window_start": base,
            "window_end": base + MINUTE,
            "n": 1,
            "avg": 30.0,
            "top": 30.0,
        },
        {
            "key": "a",
            "window_start": base + MINUTE,
            "window_end": base + 2 * MINUTE,
            "n": 1,
            "avg": 40.0,
            "top": 40.0,
        },
    ]
    errors = broker.fetch("per-minute-errors", 0, 0)
    assert sorted(r.value for r in errors) == sorted(
        [b"not json", json.dumps({"device": "a", "temp": 1}).encode()]
    )
    reasons = {r.header("logway.reason") for r in errors}
    assert any(b"not JSON" in (why or b"") for why in reasons)
    assert any(b"no field 'ts'" in (why or b"") for why in reasons)

    late = reading("a", base + 5_000, 99.0)  # minute 100 has closed
    broker.produce("readings", late, b"a", partition=0)
    run_until(broker, app, lambda: count(broker, "per-minute-late")() >= 1)
    (aside,) = broker.fetch("per-minute-late", 0, 0)
    assert aside.value == late and b"watermark" in (aside.header("logway.reason") or b"")
    assert len(values(broker, "per-minute")) == 3  # the restart repeated no closed window


def test_an_idle_source_closes_its_last_window(broker: logway.Broker) -> None:
    broker.create_topic("readings")
    # event time near the wall clock: once the partition is idle, the watermark moves
    # on with the wall clock and closes the window without another record
    now = int(time.time() * 1000)
    broker.produce("readings", reading("quiet", now, 5.0), b"quiet")
    app = _app(idle="50ms", size="100ms", grace="0s")
    run_until(broker, app, lambda: count(broker, "per-minute")() >= 1)
    (only,) = values(broker, "per-minute")
    assert (only["key"], only["n"], only["avg"]) == ("quiet", 1, 5.0)


def test_values_only_pythons_json_reads_are_rows_as_the_others(broker: logway.Broker) -> None:
    """The runner's fast parser is strict JSON; a value Python's json reads beyond it
    (NaN) is read by json.loads and aggregated like any other. An integer past 64 bits
    is read as a float (as the README says)."""
    broker.create_topic("readings")
    base = RECENT
    broker.produce_many(
        "readings",
        [
            (b'{"device": "a", "ts": %d, "temp": 10.0, "note": NaN}' % (base + 1), b"a"),
            (b'{"device": "a", "ts": %d, "temp": 1%s}' % (base + 2, b"0" * 200), b"a"),
            (b'{"device": "a", "ts": %d, "temp": 20.0}' % (base + 3), b"a"),
            (reading("a", base + 2 * MINUTE, 0.0), b"a"),  # closes the first minute
        ],
    )
    run_until(broker, _app(idle="1h"), lambda: count(broker, "per-minute")() >= 1)
    (first,) = values(broker, "per-minute")
    assert (first["n"], first["top"]) == (3, 1e200)
    assert broker.end_offsets("per-minute-errors") == {0: 0}


def test_bad_settings_are_refused_when_declared() -> None:
    app = logway.App("plant")
    with pytest.raises(logway.errors.InvalidArgumentError):
        app.window("readings", to="out", aggregate={"n": "count"})  # no window kind
    with pytest.raises(logway.errors.InvalidArgumentError):
        app.window("readings", to="out", tumbling="1m", aggregate={"n": ("nope", "x")})
    with pytest.raises(logway.errors.InvalidArgumentError):
        app.window("readings", to="out", tumbling="1m", aggregate={"n": "count"}, emit="later")
    assert app.windows == []


APP = """
import logway

app = logway.App("plant")
app.topic("readings", partitions=2)
app.window(
    "readings", to="per-second", key="device", time="ts", tumbling="1s", grace="0s",
    idle="100ms", aggregate={"n": "count", "avg": ("mean", "temp")},
)
"""


@pytest.mark.slow
def test_logway_run_runs_the_windows_and_a_restart_repeats_no_result(tmp_path: Path) -> None:
    (tmp_path / "plantapp.py").write_text(APP)
    env = {**os.environ, "LOGWAY_URL": f"file:{tmp_path / 'data'}", "PYTHONPATH": str(tmp_path)}

    def start() -> subprocess.Popen[str]:
        process = logway_process(env, "run", "plantapp:app")
        assert process.stdout is not None
        assert "per-second <- readings -> per-second" in process.stdout.readline()
        return process

    def stop(process: subprocess.Popen[str]) -> None:
        process.send_signal(signal.SIGTERM)
        _, err = process.communicate(timeout=60)
        assert process.returncode == 0, err

    def produce(first_second: int) -> None:
        lines = "".join(
            json.dumps({"device": f"d{i % 2}", "ts": (first_second + i // 4) * 1000 + i, "temp": i})
            + "\n"
            for i in range(8)
        )
        keyed = "".join(f"d{i % 2}|{line}\n" for i, line in enumerate(lines.splitlines()))
        done = logway_cli(env, "produce", "readings", "-K", "|", stdin=keyed, timeout=60)
        assert done.returncode == 0, done.stderr

    now_s = int(time.time())
    for first_second, total in ((now_s, 4), (now_s + 10, 8)):  # a second run goes on
        process = start()
        try:
            produce(first_second)  # two seconds of two devices: four windows
            with logway.connect(env["LOGWAY_URL"]) as broker:
                wait_for(lambda n=total: count(broker, "per-second")() >= n)
        except BaseException:
            process.kill()
            raise
        stop(process)
    with logway.connect(env["LOGWAY_URL"]) as broker:
        got = values(broker, "per-second")
    windows = [(v["key"], v["window_start"]) for v in got]
    assert len(windows) == len(set(windows)) == 8  # each window once
    assert all(v["n"] == 2 for v in got)


def wait_for(condition: Callable[[], bool]) -> None:
    end = time.monotonic() + DEADLINE_S
    while not condition():
        assert time.monotonic() < end, "the condition did not hold in time"
        time.sleep(0.02)  # the other process works meanwhile


def test_values_in_the_registry_wire_format_are_rows_too(broker: logway.Broker) -> None:
    """Protobuf articles counted per author per minute by their int64 created_at."""
    sys.path.insert(0, str(Path(__file__).parents[2] / "examples" / "microblog"))
    from microblog.v1 import article_pb2 as pb

    broker.create_topic("articles", value_schema="articles-value")
    base = RECENT + 10 * MINUTE
    for author, at in (
        ("ada", base + 1),
        ("ada", base + 2),
        ("bob", base + 3),
        ("ada", base + 2 * MINUTE),
    ):
        broker.produce("articles", pb.Article(author=author, created_at=at))
    app = logway.App("blog")
    app.window(
        "articles",
        to="per-author",
        key="author",
        time="created_at",
        tumbling="1m",
        idle="1h",
        aggregate={"n": "count", "first": ("min", "created_at")},
    )
    (runner,) = run_until(broker, app, lambda: count(broker, "per-author")() >= 2)
    got = sorted((v["key"], v["n"], v["first"]) for v in values(broker, "per-author"))
    assert got == [("ada", 2, base + 1), ("bob", 1, base + 3)]
    assert count(broker, "per-author-errors")() == 0
    metrics = render(broker, [], [], [runner])  # what /metrics shows of it
    assert 'logway_window_records_in_total{window="blog.per-author"} 4' in metrics
    assert 'logway_window_results_total{window="blog.per-author"} 2' in metrics
    assert 'logway_window_open_windows{window="blog.per-author"} 1' in metrics  # ada's third
    assert 'logway_window_open_keys{window="blog.per-author"} 1' in metrics
