"""A function on a queue (``app.function(..., queue=True)``) run by a real ``logway run``
process: several workers share a one-partition topic whose records another process
produces, each record is handled once, and when the process is SIGKILLed holding
records in flight and started again, those records are handled again — at once when
``logway run`` owned the data directory (the queue's state comes back from the log
with its holders gone), after the visibility timeout when another process owns it
(the owner keeps the lock of the consumer that died) — and none is lost."""

from __future__ import annotations

import os
import signal
import subprocess
import time
from collections import Counter
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

import logway
from tests.servers import DirectoryOwner, logway_cli, logway_process

VISIBILITY_S = 3.0
JOBS = 60
HELD = 4

APP = """
import os
import threading
import time

import logway

app = logway.App("qapp")
app.topic("jobs", partitions=1)
both_busy = threading.Barrier(2, timeout=10)  # two workers at once, on one partition
first_batches = iter(range(2))


def note(lines):
    fd = os.open({out!r}, os.O_WRONLY | os.O_APPEND | os.O_CREAT)
    try:
        os.write(fd, "".join(lines).encode())  # in the page cache: survives a SIGKILL
    finally:
        os.close(fd)


@app.function(
    "jobs",
    queue=True,
    max_workers=4,
    batch_size=3,
    starting_position="earliest",
    visibility_timeout="{visibility}s",
)
def handle(batch):
    pid, now = os.getpid(), time.time()
    worker = threading.current_thread().name.replace(" ", "_")
    values = [r.value.decode() for r in batch]
    note(f"start {{v}} {{pid}} {{now}}\\n" for v in values)
    if next(first_batches, None) is not None:
        try:
            both_busy.wait()
        except threading.BrokenBarrierError:
            pass
    if os.environ.get("QAPP_HOLD") and any(v.startswith("held") for v in values):
        threading.Event().wait()  # holds its records until the process is killed
    note(f"done {{v}} {{pid}} {{worker}}\\n" for v in values)
"""


class Run:
    """``logway run qapp:app`` in a process of its own."""

    def __init__(self, env: dict[str, str]):
        self.process = logway_process(env, "run", "qapp:app", stderr=subprocess.STDOUT)
        assert self.process.stdout is not None
        line = self.process.stdout.readline()
        assert "logway running qapp" in line, line + self.process.stdout.read()

    def kill(self) -> None:
        self.process.send_signal(signal.SIGKILL)
        self.process.wait(30)
        assert self.process.stdout is not None
        self.process.stdout.close()

    def stop(self) -> tuple[int, str]:
        """SIGTERM; the exit code and the rest of its output."""
        self.process.send_signal(signal.SIGTERM)
        out, _ = self.process.communicate(timeout=60)
        return self.process.returncode, out


def lines(out: Path, kind: str) -> list[list[str]]:
    """The ``kind`` ("start" or "done") lines the handler wrote, split into fields."""
    if not out.exists():
        return []
    return [line.split() for line in out.read_text().splitlines() if line.startswith(kind)]


def wait_until(condition: Callable[[], bool], what: str, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, f"{what}: not within {timeout:g}s"
        time.sleep(0.02)  # polling the handler's file for a condition


def produce(env: dict[str, str], values: list[str]) -> None:
    done = logway_cli(env, "produce", "jobs", stdin="".join(f"{v}\n" for v in values))
    assert done.returncode == 0, done.stderr


def queue_status(url: str) -> dict[str, object]:
    """The function's queue as seen by another client of the directory's owner."""
    with logway.connect(url) as broker:
        status: dict[str, object] = broker.queue("jobs", "qapp.handle").status()
        return status


@pytest.fixture(
    params=[
        "run-owns-the-data",
        # waits out the visibility timeout
        pytest.param("another-process-owns-the-data", marks=pytest.mark.slow),
    ]
)
def owner(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[DirectoryOwner | None]:
    if request.param == "run-owns-the-data":
        yield None
        return
    owner = DirectoryOwner(tmp_path / "data").start()
    try:
        yield owner
    finally:
        assert owner.stop() == 0


def test_queue_function_handles_each_record_once_and_again_after_a_kill(
    tmp_path: Path, owner: DirectoryOwner | None
) -> None:
    out = tmp_path / "handled.txt"
    (tmp_path / "qapp.py").write_text(APP.format(out=str(out), visibility=VISIBILITY_S))
    url = f"file:{tmp_path / 'data'}"
    env = {**os.environ, "LOGWAY_URL": url, "PYTHONPATH": str(tmp_path), "PYTHONUNBUFFERED": "1"}
    run = Run({**env, "QAPP_HOLD": "1"})
    restarted: Run | None = None
    try:
        # every record handled once, by competing workers, produced by another process
        jobs = [f"job-{i}" for i in range(JOBS)]
        produce(env, jobs)
        wait_until(lambda: len(lines(out, "done")) >= JOBS, "the jobs handled")
        done = lines(out, "done")
        assert sorted(v for _, v, _, _ in done) == sorted(jobs)  # each once, none missing
        assert len({worker for *_, worker in done}) >= 2  # more workers than partitions
        assert queue_status(url)["in_flight"] == 0

        # killed holding records: none of them acknowledged
        held = [f"held-{i}" for i in range(HELD)]
        produce(env, held)

        def started() -> dict[str, float]:
            return {f[1]: float(f[3]) for f in lines(out, "start") if f[1] in held}

        wait_until(lambda: len(started()) == HELD, "the held records in the handler")
        assert queue_status(url)["in_flight"] == HELD
        first_start = started()
        run.kill()
        killed_pid = run.process.pid
        if owner is not None:  # the owner holds them for the consumer that died ...
            assert queue_status(url)["in_flight"] == HELD
        after = [f"after-{i}" for i in range(5)]
        if owner is not None:
            produce(env, after)  # ... and takes records while nothing runs the function

        restarted = Run(env)
        if owner is None:
            produce(env, after)
        expected = [*jobs, *held, *after]
        wait_until(lambda: len(lines(out, "done")) >= len(expected), "every record handled")
        code, output = restarted.stop()
        restarted = None
        assert code == 0, output
    finally:
        for process in (run, restarted):
            if process is not None and process.process.poll() is None:
                process.kill()

    done_counts = Counter(v for _, v, _, _ in lines(out, "done"))
    assert done_counts == Counter(expected)  # none lost, none handled twice to the end
    starts = Counter(v for _, v, _, _ in lines(out, "start"))
    assert starts == Counter([*jobs, *after, *held, *held])  # only the held ones again
    again = {
        f[1]: float(f[3]) for f in lines(out, "start") if f[1] in held and f[2] != str(killed_pid)
    }
    assert set(again) == set(held)  # by the restarted process
    if owner is not None:  # not before their lock ran out
        for value, at in again.items():
            assert at >= first_start[value] + VISIBILITY_S - 0.5, (value, at, first_start[value])
    status = queue_status(url)  # owner None: this process owns the directory now
    assert status["in_flight"] == 0
    assert status["start_offsets"] == {0: len(expected)}  # every record acknowledged
