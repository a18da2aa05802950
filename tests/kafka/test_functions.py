"""Functions on a Kafka-API broker: a function's batches commit in the background, and a
partition still moves between two runners only once its owner has committed and let
it go, so that a hand-over repeats no record. On the test broker (tansu) and on
``logway serve``'s own Kafka port."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

import logway
from logway.functions import control
from tests.kafka_broker import TEST_QUERY
from tests.servers import LogwayServer

pytestmark = pytest.mark.slow  # a broker and two runner processes

APP = """
import os
import time

import logway

app = logway.App({app!r})


@app.function({topic!r}, starting_position="earliest", batch_size=10)
def take(batch):
    with open({out!r}, "a") as f:
        f.writelines(f"{{os.getpid()}} {{r.partition}} {{r.offset}}\\n" for r in batch)
    time.sleep(0.005)  # busy enough that a hand-over finds batches in flight
"""


# Kafka's shortest session timeout (group.min.session.timeout.ms), which logway's port keeps
PORT_QUERY = "session.timeout.ms=6000&heartbeat.interval.ms=200"


@pytest.fixture(params=["tansu", "logway"])
def kafka(request: pytest.FixtureRequest, kafka_servers: str, tmp_path: Path) -> Iterator[str]:
    """A ``kafka://`` URL: the test broker, or a ``logway serve`` of its own."""
    if request.param == "tansu":
        yield f"kafka://{kafka_servers}?{TEST_QUERY}"
        return
    server = LogwayServer(tmp_path / "served")
    server.start()
    try:
        yield f"kafka://{server.kafka}?{PORT_QUERY}"
    finally:
        assert server.stop() == 0


def _wait_for(condition: Callable[[], bool], what: str) -> None:
    deadline = time.monotonic() + 60
    while not condition():
        assert time.monotonic() < deadline, what
        time.sleep(0.05)  # the runners work meanwhile


def test_two_runners_hand_partitions_over_without_repeating_a_record(
    kafka: str, tmp_path: Path
) -> None:
    app, topic = f"pool{uuid.uuid4().hex[:6]}", f"jobs-{uuid.uuid4().hex[:6]}"
    out = tmp_path / "taken.txt"
    (tmp_path / "poolapp.py").write_text(APP.format(app=app, topic=topic, out=str(out)))
    url = kafka
    env = {**os.environ, "PYTHONPATH": str(tmp_path), "LOGWAY_URL": url}
    command = [sys.executable, "-m", "logway.cli.main", "run", "poolapp:app"]
    runners: list[subprocess.Popen[str]] = []

    def taken() -> list[tuple[int, int, int]]:
        if not out.exists():
            return []
        return [tuple(map(int, line.split())) for line in out.read_text().splitlines()]  # type: ignore[misc]

    def start() -> None:
        runner = subprocess.Popen(command, env=env, stdout=subprocess.PIPE, text=True)
        runners.append(runner)
        assert runner.stdout is not None
        assert f"logway running {app}" in runner.stdout.readline()

    # one record per produce: tansu's end offsets count batches (see test_backend)
    def produce(broker: logway.Broker, value: bytes, count: int) -> None:
        broker.produce_many(
            topic, [logway.Message(value, partition=p) for p in range(4) for _ in range(count)]
        )

    try:
        with logway.connect(url) as broker:
            broker.create_topic(topic, partitions=4)

            def shares() -> list[int]:
                statuses = control.latest_status(broker)
                mine = [s for (name, _), s in statuses.items() if name == f"{app}.take"]
                return sorted(len(s["partitions"]) for s in mine if s["state"] != "stopped")

            start()
            _wait_for(lambda: shares() == [4], "the first runner to take every partition")
            produce(broker, b"j", 200)
            start()  # joins while the first is busy: partitions move only once let go
            _wait_for(lambda: shares() == [2, 2], "the two runners to share the partitions")
            produce(broker, b"k", 20)
            _wait_for(lambda: len({(p, o) for _, p, o in taken()}) == 880, "every job")
            runners[0].send_signal(signal.SIGTERM)  # one leaves: the other takes over
            assert runners[0].wait(60) == 0
            produce(broker, b"l", 20)
            _wait_for(lambda: len({(p, o) for _, p, o in taken()}) == 960, "the last jobs")
            runners[1].send_signal(signal.SIGTERM)
            assert runners[1].wait(60) == 0
            committed = broker.committed(f"{app}.take", topic)
        jobs = taken()
        assert len(jobs) == 960  # handed over cleanly: no job was handled twice
        for p in range(4):
            assert [o for _, q, o in jobs if q == p] == list(range(240))  # in order
        assert {pid for pid, _, _ in jobs} == {runners[0].pid, runners[1].pid}
        assert {pid for pid, _, o in jobs if o >= 220} == {runners[1].pid}
        # every batch's commit was made before its runner stopped
        assert {tp.partition: o for tp, o in committed.items()} == {p: 240 for p in range(4)}
    finally:
        for runner in runners:
            if runner.poll() is None:
                runner.terminate()
                runner.wait(30)


def test_background_commits_go_in_order_and_report_a_failure(kafka: str) -> None:
    topic, group = f"k-{uuid.uuid4().hex[:10]}", f"g-{uuid.uuid4().hex[:8]}"
    with logway.connect(kafka) as broker:
        broker.create_topic(topic)
        broker.produce_many(topic, [logway.Message(b"x", partition=0)] * 5)
        tp = logway.TopicPartition(topic, 0)
        consumer = broker.consumer(topic, group=group)
        commit_async = consumer.commit_async  # type: ignore[attr-defined]
        flush_commits = consumer.flush_commits  # type: ignore[attr-defined]
        for offset in range(1, 6):  # handed over without waiting, made in order
            commit_async({tp: offset})
        flush_commits()
        assert broker.committed(group, topic) == {tp: 5}
        commit_async({logway.TopicPartition(f"{topic}-none", 0): 1})
        with pytest.raises(logway.LogwayError, match="cannot commit"):
            flush_commits()
        commit_async({tp: 3})  # the failure was reported once; commits go on
        flush_commits()
        assert broker.committed(group, topic) == {tp: 3}
        consumer.close()
        with pytest.raises(logway.ClosedError):
            commit_async({tp: 4})
        assert broker.committed(group, topic) == {tp: 3}
