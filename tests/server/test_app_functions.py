"""``logway serve --app`` runs the app's functions inside the server, over its log."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import httpx
import pytest

import logway
from logway.functions import control
from tests.servers import LogwayServer

pytestmark = pytest.mark.slow  # a server process

APP = """
import logway

app = logway.App("served")
app.topic("clicks", partitions=2)


@app.function("clicks", starting_position="earliest", filters=[{{"value": {{"ok": [True]}}}}])
def count(batch):
    with open({out!r}, "a") as f:
        f.writelines(f"{{r.partition}}:{{r.offset}}:{{r.json()['n']}}\\n" for r in batch)
"""


def _cli(server: LogwayServer, *args: str) -> str:
    result = subprocess.run(
        [sys.executable, "-m", "logway.cli.main", "--url", server.url, *args],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    return result.stdout


def test_served_app_runs_its_functions_and_commits_on_sigterm(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    out = tmp_path / "counted.txt"
    (tmp_path / "servedapp.py").write_text(APP.format(out=str(out)))
    monkeypatch.setenv("PYTHONPATH", str(tmp_path))
    server = LogwayServer(tmp_path / "data", "--app", "servedapp:app")
    server.start()
    try:
        with logway.connect(server.url) as broker:
            assert broker.describe_topic("clicks").partitions == 2  # the app's topic
            broker.produce_many(
                "clicks", [f'{{"n": {i}, "ok": {str(i % 2 == 0).lower()}}}' for i in range(20)]
            )
            deadline = time.monotonic() + 30
            while not out.exists() or len(out.read_text().splitlines()) < 10:
                assert time.monotonic() < deadline, "the served function did not run"
                time.sleep(0.05)  # the server works meanwhile
        metrics = httpx.get(f"{server.http}/metrics").text
        assert 'logway_function_records_in_total{function="served.count"}' in metrics
        assert "# TYPE logway_function_lag gauge" in metrics
        ends = {
            line.split("partition=")[1]: int(line.rsplit(" ", 1)[1])
            for line in metrics.splitlines()
            if line.startswith('logway_topic_end_offset{topic="clicks"')
        }
        assert sum(ends.values()) == 20
        listed = _cli(server, "functions", "list")
        assert "served.count" in listed and "running" in listed
        assert _cli(server, "functions", "disable", "served.count").startswith(
            "served.count disabled"
        )
        deadline = time.monotonic() + 30
        while "disabled" not in (status := _cli(server, "functions", "status", "served.count")):
            assert time.monotonic() < deadline, status
            time.sleep(0.05)  # the server applies the switch meanwhile
        assert "switch off" in status and "TOPIC" in status
        _cli(server, "functions", "enable", "served.count")
    finally:
        assert server.stop() == 0, "".join(server.output)
    numbers = sorted(int(line.split(":")[2]) for line in out.read_text().splitlines())
    assert numbers == list(range(0, 20, 2))  # the filter let the even ones through
    with logway.connect(f"file:{tmp_path / 'data'}") as broker:
        ends = broker.end_offsets("clicks")
        committed = broker.committed("served.count", "clicks")
        assert {tp.partition: o for tp, o in committed.items()} == ends


COMPETING = """
import os
import logway

app = logway.App("pool")


@app.function("jobs", starting_position="earliest", batch_size=10)
def take(batch):
    with open({out!r}, "a") as f:
        f.writelines(f"{{os.getpid()}} {{r.partition}} {{r.offset}}\\n" for r in batch)
"""


def test_two_runners_of_one_app_share_partitions_and_one_takes_over(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    out = tmp_path / "taken.txt"
    (tmp_path / "poolapp.py").write_text(COMPETING.format(out=str(out)))
    server = LogwayServer(tmp_path / "data")
    server.start()
    env = {**os.environ, "PYTHONPATH": str(tmp_path), "LOGWAY_URL": server.url}
    command = [sys.executable, "-m", "logway.cli.main", "run", "poolapp:app"]
    runners: list[subprocess.Popen[str]] = []

    def taken() -> list[tuple[int, int, int]]:
        if not out.exists():
            return []
        return [tuple(map(int, line.split())) for line in out.read_text().splitlines()]  # type: ignore[misc]

    def wait_for(condition: Any, what: str) -> None:
        deadline = time.monotonic() + 30
        while not condition():
            assert time.monotonic() < deadline, what
            time.sleep(0.05)  # the runners work meanwhile

    try:
        with logway.connect(server.url) as broker:
            broker.create_topic("jobs", partitions=4)

            def start() -> None:
                runner = subprocess.Popen(command, env=env, stdout=subprocess.PIPE, text=True)
                runners.append(runner)
                assert runner.stdout is not None
                assert "logway running pool" in runner.stdout.readline()

            def shares() -> list[int]:
                statuses = control.latest_status(broker)
                mine = [s for (name, _), s in statuses.items() if name == "pool.take"]
                return sorted(len(s["partitions"]) for s in mine if s["state"] != "stopped")

            start()
            wait_for(lambda: shares() == [4], "the first runner to take every partition")
            for p in range(4):
                broker.produce_many("jobs", [b"j"] * 100, partition=p)
            start()  # joins while the first is busy: partitions move only once let go
            wait_for(lambda: shares() == [2, 2], "the two runners to share the partitions")
            for p in range(4):
                broker.produce_many("jobs", [b"k"] * 20, partition=p)
            wait_for(lambda: len({(p, o) for _, p, o in taken()}) == 480, "every job")
            runners[0].send_signal(signal.SIGTERM)  # one leaves: the other takes over
            assert runners[0].wait(30) == 0
            for p in range(4):
                broker.produce_many("jobs", [b"l"] * 20, partition=p)
            wait_for(lambda: len({(p, o) for _, p, o in taken()}) == 560, "the last jobs")
        jobs = taken()
        assert len(jobs) == 560  # handed over cleanly: no job was handled twice
        for p in range(4):
            assert [o for _, q, o in jobs if q == p] == list(range(140))  # in order
        pids = {pid for pid, _, o in jobs if 100 <= o < 120}
        assert pids == {runners[0].pid, runners[1].pid}
        assert {pid for pid, _, o in jobs if o >= 120} == {runners[1].pid}
    finally:
        for runner in runners:
            if runner.poll() is None:
                runner.terminate()
                runner.wait(30)
        assert server.stop() == 0, "".join(server.output)
