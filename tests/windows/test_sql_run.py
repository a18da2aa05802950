"""Continuous SQL as a user runs it: ``app.sql`` in a real ``logway run`` fed by
``logway produce`` from another process, and ``logway sql`` printing rows as windows
close."""

from __future__ import annotations

import json
import os
import signal
import time
from pathlib import Path

import pytest

import logway
from tests.servers import logway_cli, logway_process

MINUTE = 60_000
BASE = (int(time.time() * 1000) // MINUTE - 30) * MINUTE  # recent: retention keeps results
DEADLINE_S = 60.0

APP = """
import logway

app = logway.App("plant")
app.sql(
    "INSERT INTO alerts SELECT device, window_start, window_end, avg(temp) AS temp "
    "FROM TUMBLE(readings, DESCRIPTOR(ts), INTERVAL '1' MINUTE) "
    "GROUP BY device, window_start, window_end HAVING avg(temp) > 30",
    key="device",
    idle="200ms",
    checkpoint="50ms",
)
app.sql("INSERT INTO hot SELECT device, temp FROM readings WHERE temp > 40")
"""


def lines(readings: list[tuple[str, int, float]]) -> str:
    return "".join(
        json.dumps({"device": d, "ts": BASE + ms, "temp": t}) + "\n" for d, ms, t in readings
    )


def wait_for_records(url: str, topic: str, count: int) -> list[logway.Record]:
    end = time.monotonic() + DEADLINE_S
    with logway.connect(url) as broker:
        while True:
            if topic in broker.list_topics():
                got = broker.fetch(topic, 0, 0, max_records=1000)
                if len(got) >= count:
                    return got
            assert time.monotonic() < end, f"{topic} did not get {count} records in time"
            time.sleep(0.05)  # logway run works meanwhile, in its own process


@pytest.mark.slow
def test_logway_run_produces_alerts_from_the_issue_query(tmp_path: Path) -> None:
    (tmp_path / "plantapp.py").write_text(APP)
    url = f"file:{tmp_path / 'data'}"
    env = {**os.environ, "LOGWAY_URL": url, "PYTHONPATH": str(tmp_path)}
    made = logway_cli(env, "topics", "create", "readings")
    assert made.returncode == 0, made.stderr
    process = logway_process(env, "run", "plantapp:app")
    try:
        assert process.stdout is not None
        assert "alerts <- readings -> alerts" in process.stdout.readline()
        readings = [("a", 1_000, 31.0), ("a", 2_000, 35.0), ("b", 3_000, 20.0)]
        readings += [("b", 61_000, 45.0), ("b", 62_000, 41.0), ("a", 63_000, 10.0)]
        readings += [("c", 125_000, 0.0)]  # event time passes the second minute's end
        done = logway_cli(env, "produce", "readings", stdin=lines(readings) + "not json\n")
        assert done.returncode == 0, done.stderr
        alerts = wait_for_records(url, "alerts", 2)
        hot = wait_for_records(url, "hot", 2)
        errors = wait_for_records(url, "alerts-errors", 1)
    finally:
        process.send_signal(signal.SIGTERM)
        _, err = process.communicate(timeout=60)
    assert process.returncode == 0, err
    assert [json.loads(r.value or b"") for r in alerts] == [
        {"device": "a", "window_start": BASE, "window_end": BASE + MINUTE, "temp": 33.0},
        {"device": "b", "window_start": BASE + MINUTE, "window_end": BASE + 2 * MINUTE,
         "temp": 43.0},
    ]  # fmt: skip
    assert [r.key for r in alerts] == [b"a", b"b"]
    assert [json.loads(r.value or b"")["temp"] for r in hot] == [45.0, 41.0]
    assert errors[0].value == b"not json"
    assert errors[0].header("logway.reason") == b"its value is not JSON"


@pytest.mark.slow
def test_logway_sql_prints_rows_as_windows_close(tmp_path: Path) -> None:
    url = f"file:{tmp_path / 'data'}"
    env = {**os.environ, "LOGWAY_URL": url}
    assert logway_cli(env, "topics", "create", "readings").returncode == 0
    readings = [("a", 1_000, 10.0), ("b", 2_000, 20.0), ("a", 3_000, 30.0)]
    readings += [("z", MINUTE + 1_000, 0.0)]  # event time passes the first minute's end
    assert logway_cli(env, "produce", "readings", stdin=lines(readings)).returncode == 0
    query = (
        "SELECT device, window_start, count(*) AS n, max(temp) AS top FROM "
        "TUMBLE(readings, DESCRIPTOR(ts), INTERVAL '1' MINUTE) "
        "GROUP BY device, window_start, window_end ORDER BY device"
    )
    process = logway_process(env, "sql", "--from-beginning", query)
    try:
        assert process.stdout is not None
        first = [json.loads(process.stdout.readline()) for _ in range(2)]
        assert first == [
            {"device": "a", "window_start": BASE, "n": 2, "top": 30.0},
            {"device": "b", "window_start": BASE, "n": 1, "top": 20.0},
        ]
        more = [("a", MINUTE + 5_000, 1.0), ("z", 2 * MINUTE + 1_000, 2.0)]
        assert logway_cli(env, "produce", "readings", stdin=lines(more)).returncode == 0
        second = [json.loads(process.stdout.readline()) for _ in range(2)]  # live
        assert [(r["device"], r["n"]) for r in second] == [("a", 1), ("z", 1)]
    finally:
        process.send_signal(signal.SIGINT)
        process.communicate(timeout=60)
    assert process.returncode == 0


def test_logway_sql_refuses_insert_and_bad_statements(tmp_path: Path) -> None:
    env = {**os.environ, "LOGWAY_URL": f"file:{tmp_path / 'data'}"}
    done = logway_cli(env, "sql", "INSERT INTO x SELECT * FROM readings")
    assert done.returncode != 0 and "app.sql" in done.stderr
    done = logway_cli(env, "sql", "SELECT count(*) FROM readings")
    assert done.returncode != 0 and "aggregate over windows" in done.stderr
    done = logway_cli(env, "sql", "SELECT * FROM readings")
    assert done.returncode != 0 and "unknown topic 'readings'" in done.stderr
