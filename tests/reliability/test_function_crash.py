"""Functions survive SIGKILL: ``logway run`` is killed at random points while its handler
notes every record it sees; after restarts every record was handled at least once,
none was skipped, and records handled twice are only those of batches in flight
(not yet committed) when a kill came. The run is seeded: ``LOGWAY_CRASH_SEED``."""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

import pytest

import logway

pytestmark = pytest.mark.slow  # real processes, killed

PARTITIONS = 2
RECORDS = 3_000
BATCH = 50
KILLS = 6

APP = """
import os
import time

import logway

app = logway.App("crash")


@app.function("events", batch_size={batch}, starting_position="earliest")
def note(batch):
    lines = "".join(f"{{r.partition}}:{{r.offset}}\\n" for r in batch)
    fd = os.open({out!r}, os.O_WRONLY | os.O_APPEND | os.O_CREAT)
    try:
        os.write(fd, lines.encode())  # in the page cache: survives the process being killed
    finally:
        os.close(fd)
    time.sleep(0.01)  # some work per batch, so that kills land mid-run
"""


def _seen(out: Path) -> list[tuple[int, int]]:
    if not out.exists():
        return []
    pairs = []
    for line in out.read_text().splitlines():
        p, o = line.split(":")
        pairs.append((int(p), int(o)))
    return pairs


def test_killed_function_runner_never_skips_a_record(tmp_path: Path) -> None:
    seed = int(os.environ.get("LOGWAY_CRASH_SEED", random.randrange(1 << 30)))
    rng = random.Random(seed)
    out = tmp_path / "seen.txt"
    (tmp_path / "crashapp.py").write_text(APP.format(batch=BATCH, out=str(out)))
    url = f"file:{tmp_path / 'data'}"
    with logway.connect(url) as broker:
        broker.create_topic("events", partitions=PARTITIONS)
        for start in range(0, RECORDS, 500):
            broker.produce_many(
                "events", [logway.Message(b"x", key=str(i)) for i in range(start, start + 500)]
            )
    env = {**os.environ, "LOGWAY_URL": url, "PYTHONPATH": str(tmp_path)}
    command = [sys.executable, "-m", "logway.cli.main", "run", "crashapp:app"]
    kills = 0
    finished = False
    while not finished:
        runner = subprocess.Popen(
            command, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
        )
        target = len(_seen(out)) + rng.randrange(1, RECORDS // (2 * KILLS)) if kills < KILLS else -1
        deadline = time.monotonic() + 60
        try:
            while True:
                seen = _seen(out)
                if len({*seen}) == RECORDS:  # all handled: stop it as an operator would
                    assert runner.stdout is not None
                    assert "logway running crash" in runner.stdout.readline()
                    runner.send_signal(signal.SIGTERM)
                    _, err = runner.communicate(timeout=30)
                    assert runner.returncode == 0, err
                    finished = True
                    break
                if 0 <= target <= len(seen):
                    runner.send_signal(signal.SIGKILL)
                    runner.wait(30)
                    kills += 1
                    break
                assert runner.poll() is None, runner.communicate()[1]
                assert time.monotonic() < deadline, f"seed {seed}: no progress"
                time.sleep(0.005)  # the runner process works meanwhile
        finally:
            if runner.poll() is None:
                runner.kill()
                runner.wait()
    assert kills == KILLS, f"seed {seed}: everything was handled before the kills"
    seen = _seen(out)
    counts = Counter(seen)
    with logway.connect(url) as broker:
        ends = broker.end_offsets("events")
        assert set(counts) == {(p, o) for p in range(PARTITIONS) for o in range(ends[p])}, seed
        assert broker.committed("crash.note", "events") == {
            logway.TopicPartition("events", p): ends[p] for p in range(PARTITIONS)
        }
    duplicates = sum(n - 1 for n in counts.values())
    # per kill, at most the batch in flight on each partition is handled again
    assert duplicates <= KILLS * PARTITIONS * BATCH, f"seed {seed}: {duplicates} duplicates"
    for p in range(PARTITIONS):
        firsts: list[int] = []
        for q, o in seen:
            if q == p and (not firsts or o > firsts[-1]):
                firsts.append(o)
        assert firsts == list(range(ends[p])), f"seed {seed}: partition {p} out of order"
