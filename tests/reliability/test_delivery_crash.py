"""Delivery survives SIGKILL with exactly-once files: ``logway deliver`` is killed at
random points, mostly just after an object of a flush appeared (between the flush's
first write and its commit); after restarts every record is in the lake exactly once,
none missing and none twice, and nothing the killed runs left unpublished stays.
The run is seeded: ``LOGWAY_CRASH_SEED``."""

from __future__ import annotations

import json
import os
import random
import signal
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

import pyarrow.parquet as pq
import pytest

import logway

pytestmark = pytest.mark.slow  # real processes, killed

PARTITIONS = 2
RECORDS = 20_000
KILLS = 6
HOUR_MS = 3_600_000
T0 = 1_795_000_000_000


def _objects(lake: Path) -> list[Path]:
    return sorted(p for p in lake.rglob("*.parquet") if "_logway" not in p.parts)


def _unpublished(lake: Path) -> list[Path]:
    """Objects written and never published: staged, or hidden beside their names."""
    return sorted(
        p
        for p in lake.rglob("*")
        if p.is_file() and ("staging" in p.parts or p.name.startswith(".tmp-"))
    )


def _offsets(lake: Path) -> Counter[tuple[int, int]]:
    seen: Counter[tuple[int, int]] = Counter()
    for path in _objects(lake):
        table = pq.read_table(path, columns=["_partition", "_offset"])
        seen.update(zip(table["_partition"].to_pylist(), table["_offset"].to_pylist(), strict=True))
    return seen


def test_killed_delivery_writes_every_record_exactly_once(tmp_path: Path) -> None:
    seed = int(os.environ.get("LOGWAY_CRASH_SEED", random.randrange(1 << 30)))
    rng = random.Random(seed)
    url = f"file:{tmp_path / 'data'}"
    lake = tmp_path / "lake" / "events"
    pad = "x" * 1000
    with logway.connect(url) as broker:
        broker.create_topic("events", partitions=PARTITIONS)
        for start in range(0, RECORDS, 1000):
            broker.produce_many(
                "events",
                [  # four hours of records: each flush writes objects under four prefixes
                    logway.Message(
                        json.dumps({"n": i, "pad": pad}).encode(),
                        str(i).encode(),
                        timestamp=T0 + (i % 4) * HOUR_MS,
                    )
                    for i in range(start, start + 1000)
                ],
            )
    env = {**os.environ, "LOGWAY_URL": url}
    command = [
        sys.executable,
        "-m",
        "logway.cli.main",
        "deliver",
        "events",
        str(lake),
        "--buffer-size",
        "1MB",
        "--buffer-interval",
        "0s",
    ]
    kills = rewritten = 0
    while kills < KILLS:
        process = subprocess.Popen(
            command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True
        )
        target = len(_objects(lake)) + rng.randrange(1, 6)
        deadline = time.monotonic() + 60
        try:
            while len(_objects(lake)) < target:
                assert process.poll() is None, process.communicate()[1]
                assert time.monotonic() < deadline, f"seed {seed}: no progress"
                time.sleep(0.002)  # the delivery works meanwhile; look again
            process.send_signal(signal.SIGKILL)
            process.wait(30)
            kills += 1
        finally:
            if process.poll() is None:
                process.kill()
                process.wait()
        with logway.connect(url) as broker:
            committed = broker.committed("logway-deliver.events", "events")
        seen = _offsets(lake)
        for p in range(PARTITIONS):
            done = committed.get(logway.TopicPartition("events", p), 0)
            if any(q == p and o >= done for q, o in seen):
                rewritten += 1  # this kill came between a flush's writes and its commit
    left = len(_unpublished(lake))  # by the killed runs, for the next one to remove
    finished = subprocess.run(
        [*command, "--once"], env=env, capture_output=True, text=True, timeout=120
    )
    assert finished.returncode == 0, finished.stderr
    seen = _offsets(lake)
    with logway.connect(url) as broker:
        ends = broker.end_offsets("events")
        expected = {(p, o) for p in range(PARTITIONS) for o in range(ends[p])}
        assert set(seen) == expected, f"seed {seed}: missing {len(expected - set(seen))}"
        twice = {k: n for k, n in seen.items() if n > 1}
        assert not twice, f"seed {seed}: {len(twice)} records delivered more than once"
        assert broker.committed("logway-deliver.events", "events") == {
            logway.TopicPartition("events", p): ends[p] for p in range(PARTITIONS)
        }
    assert _unpublished(lake) == [], f"seed {seed}: unpublished objects stay"
    print(
        f"seed {seed}: {kills} kills, {rewritten} between a flush's writes and its commit; "
        f"{left} unpublished objects left, removed by the last run"
    )
