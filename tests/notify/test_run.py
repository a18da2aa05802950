"""``logway run`` runs an app's notifications: a SIGKILL with a record in flight sends
again only from that record on, and SIGTERM exits 0 having committed what is settled."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import time
from collections.abc import Callable
from pathlib import Path

import pytest

import logway
from logway.notify import verify
from logway.records import TopicPartition
from tests.notify.receiver import Answer, Receiver, Request
from tests.servers import LogwayServer, logway_process

APP = """
import os
import logway

app = logway.App("shop")
app.topic("orders")
app.notify("orders", to=os.environ["HOOK_URL"], secret="s", backoff=("10ms", "50ms"),
           max_attempts=100, starting_position="earliest")
"""


def wait_for(condition: Callable[[], bool], timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.02)


def test_logway_run_sends_again_only_what_was_in_flight_after_a_sigkill(tmp_path: Path) -> None:
    (tmp_path / "shopapp.py").write_text(APP)
    release = False

    def stuck(request: Request, n: int) -> Answer:
        if json.loads(request.body)["id"] == 3 and not release:
            return Answer(503)
        return Answer()

    with Receiver(stuck) as rx:
        env = {
            **os.environ,
            "LOGWAY_URL": f"file:{tmp_path / 'data'}",
            "PYTHONPATH": str(tmp_path),
            "HOOK_URL": rx.url,
        }
        tp = TopicPartition("orders", 0)

        def start() -> subprocess.Popen[str]:
            process = logway_process(env, "run", "shopapp:app")
            assert process.stdout is not None
            line = process.stdout.readline()
            assert f"orders-notify <- orders -> {rx.url}" in line, line
            return process

        def delivered_ids() -> list[int]:
            return [json.loads(r.body)["id"] for r in rx.delivered()]

        process = start()
        try:
            with logway.connect(env["LOGWAY_URL"]) as broker:
                for i in range(10):
                    broker.produce("orders", json.dumps({"id": i}).encode())
                wait_for(lambda: len(rx.delivered()) == 9)
                wait_for(lambda: broker.committed("shop.orders-notify", "orders").get(tp) == 3)
        finally:
            process.kill()  # SIGKILL, record 3 still being retried
            process.wait(30)
        release = True
        process = start()
        try:
            wait_for(lambda: 3 in delivered_ids())
            with logway.connect(env["LOGWAY_URL"]) as broker:
                wait_for(lambda: broker.committed("shop.orders-notify", "orders").get(tp) == 10)
        finally:
            process.send_signal(signal.SIGTERM)
            _, err = process.communicate(timeout=60)
        assert process.returncode == 0, err
        ids = delivered_ids()
        assert sorted(set(ids)) == list(range(10))  # every record, at least once
        assert [ids.count(i) for i in range(3)] == [1, 1, 1]  # settled before the kill: once


def test_logway_serve_runs_the_apps_notifications(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "shopapp.py").write_text(APP)
    with Receiver() as rx:
        monkeypatch.setenv("PYTHONPATH", str(tmp_path))
        monkeypatch.setenv("HOOK_URL", rx.url)
        server = LogwayServer(tmp_path / "data", "--app", "shopapp:app")
        server.start()
        try:
            with logway.connect(server.url) as broker:
                for i in range(5):
                    broker.produce("orders", json.dumps({"id": i}).encode())
                wait_for(lambda: len(rx.delivered()) == 5)
        finally:
            assert server.stop() == 0
        got = rx.delivered()
    assert sorted(json.loads(r.body)["id"] for r in got) == list(range(5))
    assert all(verify("s", r.body, r.headers["Logway-Signature"]) for r in got)
