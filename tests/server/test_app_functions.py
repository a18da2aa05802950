"""``logway serve --app`` runs the app's functions inside the server, over its log."""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

import logway
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
