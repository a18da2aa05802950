"""``logway functions list|status``: what runs now, from the statuses running functions
publish; a real ``logway run`` process and a real data directory."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

import logway
from logway.functions import control
from tests.servers import logway_cli, logway_process

pytestmark = pytest.mark.slow  # real processes

APP = """
import logway

app = logway.App("shop")


@app.function("orders", starting_position="earliest")
def record(batch):
    with open({out!r}, "a") as f:
        f.writelines(f"{{r.offset}}\\n" for r in batch)
"""


def _cli(
    env: dict[str, str], *args: str, stdin: str | None = None
) -> subprocess.CompletedProcess[str]:
    result = logway_cli(env, *args, stdin=stdin)
    assert result.returncode == 0, result.stderr
    return result


def test_a_process_that_stopped_cleanly_leaves_the_list(tmp_path: Path) -> None:
    out = tmp_path / "handled.txt"
    (tmp_path / "shopapp.py").write_text(APP.format(out=str(out)))
    path = os.pathsep.join(p for p in (str(tmp_path), os.environ.get("PYTHONPATH")) if p)
    env = {**os.environ, "LOGWAY_URL": f"file:{tmp_path / 'data'}", "PYTHONPATH": path}
    _cli(env, "topics", "create", "orders")
    _cli(env, "produce", "orders", stdin="a\nb\n")
    runner = logway_process(env, "run", "shopapp:app")
    try:
        deadline = time.monotonic() + 30
        while not out.exists() or len(out.read_text().split()) < 2:
            assert runner.poll() is None, runner.communicate()
            assert time.monotonic() < deadline, "the function did not handle the records"
            time.sleep(0.05)  # the runner process works meanwhile
        runner.send_signal(signal.SIGTERM)
        _, err = runner.communicate(timeout=30)
    finally:
        if runner.poll() is None:
            runner.kill()
    assert runner.returncode == 0, err
    with logway.connect(env["LOGWAY_URL"]) as broker:  # it reported, and said it stopped
        (status,) = [s for (name, _), s in control.latest_status(broker).items()]
        assert status["function"] == "shop.record" and status["state"] == "stopped"
    assert _cli(env, "functions", "list").stdout == "no function is running\n"
    status_out = _cli(env, "functions", "status", "shop.record").stdout
    assert "no process runs it now" in status_out
    assert "LAG" in status_out and "orders" in status_out


def _publish(broker: logway.Broker, function: str, process: str, state: str, age_s: float) -> None:
    status = {
        "function": function,
        "process": process,
        "state": state,
        "enabled": True,
        "partitions": [0],
        "updated": int((time.time() - age_s) * 1000),
    }
    broker.produce(control.STATUS_TOPIC, json.dumps(status), key=function)


def test_a_silent_process_shows_as_silent_then_expires(tmp_path: Path) -> None:
    url = f"file:{tmp_path / 'data'}"
    with logway.connect(url) as broker:
        control.ensure_topics(broker)
        _publish(broker, "shop.fresh", "host:1", "running", 1)
        _publish(broker, "shop.killed", "host:2", "running", 60)  # silent after 15 s
        _publish(broker, "shop.long_gone", "host:3", "running", 3600)  # gone after 5 min
        _publish(broker, "shop.done", "host:4", "running", 20)
        _publish(broker, "shop.done", "host:4", "stopped", 10)
    env = {**os.environ, "LOGWAY_URL": url}
    rows = _cli(env, "functions", "list").stdout.splitlines()
    assert rows[0].split()[:2] == ["FUNCTION", "STATE"]
    states = {row.split()[0]: " ".join(row.split()[1:3]) for row in rows[1:]}
    assert set(states) == {"shop.fresh", "shop.killed"}
    assert states["shop.fresh"].startswith("running")
    assert states["shop.killed"].startswith("silent ")
    gone = _cli(env, "functions", "status", "shop.long_gone").stdout
    assert "no process runs it now" in gone and "nothing committed yet" in gone
    unknown = subprocess.run(
        [sys.executable, "-m", "logway.cli.main", "functions", "status", "shop.never"],
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
    )
    assert unknown.returncode == 1 and "no function 'shop.never' has reported" in unknown.stderr
