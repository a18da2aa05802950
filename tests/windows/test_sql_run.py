"""Continuous SQL as a user runs it: ``app.sql`` in a real ``logway run`` fed by
``logway produce`` from another process, and ``logway sql`` printing rows as windows
close."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import time
from pathlib import Path

import pytest

import logway
from logway.log.lock import read_owner
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


MOVING_APP = """
import logway

app = logway.App("plant")
app.sql(
    "INSERT INTO per-second SELECT device AS key, window_start, count(*) AS n, sum(v) AS total "
    "FROM TUMBLE(readings, DESCRIPTOR(ts), INTERVAL '1' SECOND) "
    "GROUP BY device, window_start, window_end",
    idle="1h", checkpoint="20ms",
    columns={"device": "VARCHAR", "ts": "BIGINT", "v": "BIGINT"},
)
"""
MOVING_WINDOW_APP = """
import logway

app = logway.App("plant")
app.window(
    "readings", to="per-second", key="device", time="ts", tumbling="1s",
    idle="1h", checkpoint="20ms", aggregate={"n": "count", "total": ("sum", "v")},
)
"""


@pytest.mark.slow
@pytest.mark.parametrize("app", [MOVING_APP, MOVING_WINDOW_APP], ids=["sql", "window"])
def test_two_processes_run_a_query_and_it_moves_when_one_is_killed(
    tmp_path: Path, app: str
) -> None:
    """Two ``logway run`` of one app: one runs the query (or window), the other waits;
    SIGKILL one of them (the data directory's owner or not, running it or not) six
    times, starting it again each time: every window's result is stored once, right."""
    (tmp_path / "movingapp.py").write_text(app)
    url = f"file:{tmp_path / 'data'}"
    env = {**os.environ, "LOGWAY_URL": url, "PYTHONPATH": str(tmp_path)}
    assert logway_cli(env, "topics", "create", "readings").returncode == 0
    first_s = int(time.time()) - 600
    expected: dict[tuple[str, int], tuple[int, int]] = {}
    chunks = []
    for k in range(7):
        lines_ = []
        for second in range(k * 20, (k + 1) * 20):
            for i in range(3):
                device, v = f"d{(second + i) % 4}", second * 3 + i
                ts = (first_s + second) * 1000 + i
                lines_.append(json.dumps({"device": device, "ts": ts, "v": v}) + "\n")
                if second < 7 * 20 - 1:  # the last second's windows stay open
                    n, total = expected.get((device, (first_s + second) * 1000), (0, 0))
                    expected[(device, (first_s + second) * 1000)] = (n + 1, total + v)
        chunks.append("".join(lines_))

    def start() -> subprocess.Popen[str]:
        process = logway_process(env, "run", "movingapp:app")
        assert process.stdout is not None
        assert "per-second <- readings" in process.stdout.readline()
        return process

    def held() -> int:
        with logway.connect(url) as broker:
            if "per-second" not in broker.list_topics():
                return 0
            return sum(broker.end_offsets("per-second").values())

    processes = [start(), start()]
    try:
        for k, chunk in enumerate(chunks):
            done = logway_cli(env, "produce", "readings", stdin=chunk)
            assert done.returncode == 0, done.stderr
            want = sum(1 for (_, ws) in expected if ws < (first_s + (k + 1) * 20 - 1) * 1000)
            deadline = time.monotonic() + DEADLINE_S
            while held() < want:
                assert time.monotonic() < deadline, f"{held()} of {want} results"
                time.sleep(0.05)  # the processes work meanwhile
            if k < len(chunks) - 1:
                victim = processes[k % 2]
                victim.send_signal(signal.SIGKILL)
                victim.communicate(timeout=60)
                processes[k % 2] = start()
    finally:
        # the one that does not own the data directory first: it talks to the owner
        owner = read_owner(str(tmp_path / "data"))[0]
        processes.sort(key=lambda p: str(p.pid) == owner)
        errors = []
        for process in processes:
            process.send_signal(signal.SIGTERM)
            errors.append(process.communicate(timeout=60)[1])
    assert [p.returncode for p in processes] == [0, 0], errors
    with logway.connect(url) as broker:
        got = [json.loads(r.value or b"") for r in broker.fetch("per-second", 0, 0, 100_000)]
    seen = [(g["key"], g["window_start"]) for g in got]
    assert len(seen) == len(set(seen)), "a window's result was produced twice"
    assert {(g["key"], g["window_start"]): (g["n"], g["total"]) for g in got} == expected
