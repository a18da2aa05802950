"""``logway run module:app``: a real process runs an app's functions until SIGTERM."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.servers import logway_cli as _cli
from tests.servers import logway_process

pytestmark = pytest.mark.slow  # real processes

APP = """
import logway

app = logway.App("shop")
app.topic("orders", partitions=2)


@app.function("orders", starting_position="earliest", batch_size=7{extra})
def record(batch):
    with open({out!r}, "a") as f:
        for r in batch:
            f.write(f"{{r.partition}}:{{r.offset}}:{{r.value.decode()}}\\n")
"""


def _setup(tmp_path: Path, extra: str = "") -> tuple[dict[str, str], Path]:
    out = tmp_path / "handled.txt"
    (tmp_path / "shopapp.py").write_text(APP.format(out=str(out), extra=extra))
    env = {
        **os.environ,
        "LOGWAY_URL": f"file:{tmp_path / 'data'}",
        "PYTHONPATH": str(tmp_path),
    }
    return env, out


def test_run_handles_every_record_then_stops_cleanly_on_sigterm(tmp_path: Path) -> None:
    env, out = _setup(tmp_path)
    assert _cli(env, "topics", "create", "orders", "--partitions", "2").returncode == 0
    lines = "".join(f"k{i}:v{i}\n" for i in range(30))
    produced = subprocess.run(
        [sys.executable, "-m", "logway.cli.main", "produce", "orders", "--key-separator", ":"],
        input=lines,
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
    )
    assert produced.returncode == 0, produced.stderr
    runner = logway_process(env, "run", "shopapp:app", cwd=tmp_path)
    try:
        assert runner.stdout is not None
        assert "logway running shop: record <- orders" in runner.stdout.readline()
        deadline = time.monotonic() + 30
        while not out.exists() or len(out.read_text().splitlines()) < 30:
            assert runner.poll() is None, runner.communicate()
            assert time.monotonic() < deadline, "the function did not handle every record"
            time.sleep(0.05)  # the runner process works meanwhile
        runner.send_signal(signal.SIGTERM)
        _, err = runner.communicate(timeout=30)
    finally:
        if runner.poll() is None:
            runner.kill()
    assert runner.returncode == 0, err
    assert "logway stopped shop" in err
    handled = out.read_text().splitlines()
    assert sorted(line.split(":", 2)[2] for line in handled) == sorted(f"v{i}" for i in range(30))
    for p in ("0", "1"):
        mine = [int(line.split(":")[1]) for line in handled if line.startswith(p + ":")]
        assert mine == list(range(len(mine)))  # in order, once each
    described = _cli(env, "groups", "describe", "shop.record")
    assert described.returncode == 0, described.stderr
    assert "total lag: 0" in described.stdout  # every record committed


def test_run_refuses_an_app_with_a_malformed_filter(tmp_path: Path) -> None:
    bad = ', filters=[{"value": {"n": [{"numeric": [">"]}]}}]'
    env, _ = _setup(tmp_path, extra=bad)
    result = _cli(env, "run", "shopapp:app")
    assert result.returncode == 1
    assert "numeric" in result.stderr and "logway: error:" in result.stderr
    assert not (tmp_path / "data").exists()  # refused before touching the log


def test_run_refuses_an_app_without_functions(tmp_path: Path) -> None:
    (tmp_path / "empty.py").write_text("import logway\napp = logway.App('empty')\n")
    env = {**os.environ, "LOGWAY_URL": f"file:{tmp_path / 'data'}", "PYTHONPATH": str(tmp_path)}
    result = _cli(env, "run", "empty:app")
    assert result.returncode == 1
    assert "declares no functions" in result.stderr
