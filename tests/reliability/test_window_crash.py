"""A window's results survive SIGKILL: ``logway run`` is killed at random points, 20
times, while it aggregates records already in the log (with ``app.window``, and with
the same windows as a continuous query, ``app.sql``), and restarted each time; in the
end every window's result is on the output topic exactly once, with the value a single
uninterrupted pass computes."""

from __future__ import annotations

import json
import os
import random
import signal
import subprocess
import time
from collections import defaultdict
from pathlib import Path

import pytest

import logway
from tests.servers import logway_process

pytestmark = pytest.mark.slow

KILLS = 20
SECONDS = 2000  # one-second windows of event time, in the last hour
DEVICES = 5
APP = """
import logway

app = logway.App("plant")
app.window(
    "readings", to="per-second", key="device", time="ts", tumbling="1s",
    idle="1h", checkpoint="20ms", aggregate={"n": "count", "total": ("sum", "v")},
)
"""
SQL_APP = """
import logway

app = logway.App("plant")
app.sql(
    "INSERT INTO per-second SELECT device AS key, window_start, count(*) AS n, "
    "sum(v) AS total FROM TUMBLE(readings, DESCRIPTOR(ts), INTERVAL '1' SECOND) "
    "GROUP BY device, window_start, window_end",
    key="key", idle="1h", checkpoint="20ms",
    columns={"device": "VARCHAR", "ts": "BIGINT", "v": "BIGINT"},
)
"""


@pytest.mark.parametrize("app", [APP, SQL_APP], ids=["window", "sql"])
def test_every_window_result_once_and_right_after_20_kills(tmp_path: Path, app: str) -> None:
    (tmp_path / "plantapp.py").write_text(app)
    url = f"file:{tmp_path / 'data'}"
    env = {**os.environ, "LOGWAY_URL": url, "PYTHONPATH": str(tmp_path)}
    rng = random.Random(7)
    first = int(time.time()) - SECONDS - 60  # recent: results are kept by retention
    expected: dict[tuple[str, int], tuple[int, int]] = defaultdict(lambda: (0, 0))
    rows = []
    for second in range(SECONDS):
        for i in range(3):
            device, value = f"d{rng.randrange(DEVICES)}", rng.randrange(100)
            ts = (first + second) * 1000 + i
            rows.append((device.encode(), json.dumps({"device": device, "ts": ts, "v": value})))
            if second < SECONDS - 1:  # the last second's windows stay open
                n, total = expected[(device, (first + second) * 1000)]
                expected[(device, (first + second) * 1000)] = (n + 1, total + value)
    with logway.connect(url) as broker:
        broker.create_topic("readings")
        broker.create_topic("per-second", partitions=3)
    chunks = [
        rows[len(rows) * i // (KILLS + 1) : len(rows) * (i + 1) // (KILLS + 1)]
        for i in range(KILLS + 1)
    ]

    def feed(chunk: list[tuple[bytes, str]]) -> None:
        with logway.connect(url) as broker:  # through the running owner, if any
            for at in range(0, len(chunk), 20):  # many appends: many places to stop at
                broker.produce_many("readings", [(v.encode(), k) for k, v in chunk[at : at + 20]])

    def start() -> subprocess.Popen[str]:
        process = logway_process(env, "run", "plantapp:app")
        assert process.stdout is not None
        assert "per-second <- readings" in process.stdout.readline()
        return process

    def held() -> int:
        with logway.connect(url) as broker:
            return sum(broker.end_offsets("per-second").values())

    interrupted = 0
    for k in range(KILLS):
        before = held()
        process = start()
        feed(chunks[k])
        deadline = time.monotonic() + 60
        while held() == before:  # kill it once it has begun producing results
            assert process.poll() is None and time.monotonic() < deadline
            time.sleep(0.002)  # the run works meanwhile
        time.sleep(rng.uniform(0.0, 0.02))  # a random point of its emitting
        process.send_signal(signal.SIGKILL)
        process.communicate(timeout=60)
        interrupted += held() < len(expected)
    feed(chunks[KILLS])
    process = start()
    try:
        deadline = time.monotonic() + 120
        while held() < len(expected):
            assert process.poll() is None, process.communicate()[1]
            assert time.monotonic() < deadline, f"{held()} of {len(expected)} results"
            time.sleep(0.05)  # the run works meanwhile
    finally:
        process.send_signal(signal.SIGTERM)
        _, err = process.communicate(timeout=60)
    assert process.returncode == 0, err
    assert interrupted >= KILLS // 2, f"only {interrupted} kills came before the end"
    with logway.connect(url) as broker:
        got = [
            json.loads(r.value or b"")
            for p in range(3)
            for r in broker.fetch("per-second", p, 0, max_records=100_000)
        ]
    seen = [(g["key"], g["window_start"]) for g in got]
    assert len(seen) == len(set(seen)), "a window's result was produced twice"
    assert {(g["key"], g["window_start"]): (g["n"], g["total"]) for g in got} == dict(expected)
