"""Queues over a real ``logway serve``: the remote backend (gRPC Receive/Ack), the REST
routes, competing consumers, and consumers in other processes killed while holding
records (their records come back with a higher delivery count, none is lost, and no
acknowledged record comes back)."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import pytest

import logway
from logway.errors import DeliveryExpiredError, InvalidArgumentError
from tests.servers import DirectoryOwner, LogwayServer


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LogwayServer]:
    data: Path = tmp_path_factory.mktemp("queues") / "data"
    server = LogwayServer(data)
    server.start()
    yield server
    assert server.stop() == 0, "".join(server.output)


@pytest.fixture
def remote(server: LogwayServer) -> Iterator[logway.Broker]:
    with logway.connect(server.url) as broker:
        yield broker


def fresh_topic(broker: logway.Broker, partitions: int = 1) -> str:
    name = f"jobs-{uuid.uuid4().hex[:8]}"
    broker.create_topic(name, partitions=partitions)
    return name


def wait_until(condition: Callable[[], bool], timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"{what}: not within {timeout:g}s")
        time.sleep(0.02)


def test_remote_queue_receives_acks_releases_and_rejects(remote: logway.Broker) -> None:
    topic = fresh_topic(remote)
    queue = remote.queue(topic, "workers", start="earliest", max_receives=2)
    remote.produce_many(topic, [b"a", b"b", b"c"])
    first = queue.receive(max_records=3, timeout=5)
    assert [d.record.value for d in first] == [b"a", b"b", b"c"]
    assert [d.delivery_count for d in first] == [1, 1, 1]
    assert isinstance(first[0], logway.queues.Delivery)
    first[0].ack()
    queue.release([first[1]])
    first[2].reject("bad input")
    with pytest.raises(DeliveryExpiredError):  # acked already: nothing changed
        queue.ack([first[0]])
    again = queue.receive(max_records=10, timeout=5)
    assert [(d.record.value, d.delivery_count) for d in again] == [(b"b", 2)]
    again[0].release()  # its second delivery: max_receives reached, to the dead letters
    assert queue.receive(max_records=10, timeout=0.2) == []
    dead = remote.fetch(f"{topic}-dlq", 0, 0)
    reasons = {r.value: r.header("logway.reason") for r in dead}
    assert reasons == {b"c": b"bad input", b"b": b"max_receives"}
    status = queue.status()
    assert status["in_flight"] == 0 and status["start_offsets"] == {0: 3}


def test_remote_queue_refuses_bad_settings_and_other_settings_than_the_open_queue(
    remote: logway.Broker,
) -> None:
    topic = fresh_topic(remote)
    with pytest.raises(InvalidArgumentError):
        remote.queue(topic, "w", max_receives=0)
    remote.queue(topic, "w", visibility_timeout="10s").receive()
    with pytest.raises(InvalidArgumentError):
        remote.queue(topic, "w", visibility_timeout="20s").receive()
    remote.queue(topic, "w", visibility_timeout=10_000).receive()  # the same, in ms


def test_a_remote_delivery_not_acked_in_time_comes_back_to_another_consumer(
    remote: logway.Broker,
) -> None:
    topic = fresh_topic(remote)
    slow = remote.queue(topic, "w", start="earliest", visibility_timeout="300ms")
    other = remote.queue(topic, "w")
    remote.produce(topic, b"job")
    [held] = slow.receive(timeout=5)
    [back] = other.receive(timeout=5)  # waits on the server until the lock runs out
    assert (back.record.offset, back.delivery_count) == (held.record.offset, 2)
    with pytest.raises(DeliveryExpiredError):
        held.ack()
    back.ack()


def test_ten_remote_consumers_on_one_partition_get_distinct_records_and_all(
    server: LogwayServer,
) -> None:
    with logway.connect(server.url) as admin:
        topic = fresh_topic(admin)
        admin.produce_many(topic, [f"job-{i}".encode() for i in range(300)])
    brokers = [logway.connect(server.url) for _ in range(10)]
    got: list[list[bytes]] = [[] for _ in brokers]

    def work(i: int) -> None:
        queue = brokers[i].queue(topic, "workers", start="earliest")
        while batch := queue.receive(max_records=5, timeout=0.5):
            got[i] += [d.record.value or b"" for d in batch]
            queue.ack(batch)

    threads = [threading.Thread(target=work, args=(i,)) for i in range(10)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    for b in brokers:
        b.close()
    everything = [v for g in got for v in g]
    assert sorted(everything) == sorted(f"job-{i}".encode() for i in range(300))
    assert len(everything) == len(set(everything))
    assert sum(1 for g in got if g) >= 2


def test_rest_receive_and_ack(server: LogwayServer, remote: logway.Broker) -> None:
    topic = fresh_topic(remote)
    remote.produce_many(topic, [b"one", b"two"])
    base = f"{server.http}/v1/queues/{topic}/web"
    settings = {"start": "earliest", "visibility_timeout": "30s"}
    with httpx.Client(timeout=30) as http:
        r = http.post(f"{base}/receive", json={"max_records": 2, "settings": settings})
        assert r.status_code == 200, r.text
        deliveries = r.json()["deliveries"]
        assert [d["record"]["value"] for d in deliveries] == ["one", "two"]
        assert [d["delivery_count"] for d in deliveries] == [1, 1]
        named = [
            {k: d["record"][k] for k in ("partition", "offset")} | {"receipt": d["receipt"]}
            for d in deliveries
        ]
        r = http.post(f"{base}/ack", json={"action": "release", "deliveries": named[1:]})
        assert r.status_code == 204, r.text
        r = http.post(f"{base}/ack", json={"deliveries": named[:1]})
        assert r.status_code == 204, r.text
        r = http.post(f"{base}/ack", json={"deliveries": named[:1]})  # settled already
        assert r.status_code == 409 and r.json()["error"] == "DeliveryExpiredError"
        r = http.post(f"{base}/receive", json={"max_records": 10, "wait_ms": 2000})
        again = r.json()["deliveries"]
        assert [(d["record"]["value"], d["delivery_count"]) for d in again] == [("two", 2)]
        r = http.post(f"{base}/receive", json={"settings": {"max_receives": 0}})
        assert r.status_code == 422
        r = http.post(f"{server.http}/v1/queues/no-such-topic/web/receive", json={})
        assert r.status_code == 404


CONSUMER = """
import json, sys, logway
broker = logway.connect(sys.argv[1])
queue = broker.queue(sys.argv[2], "workers", start="earliest", visibility_timeout="1s")
acked = queue.receive(max_records=3, timeout=10)
queue.ack(acked)
held = queue.receive(max_records=4, timeout=10)
print(json.dumps({"acked": [d.record.offset for d in acked],
                  "held": [d.record.offset for d in held]}), flush=True)
sys.stdin.read()  # holds its records until killed
"""


def consumer_killed_holding_records(url: str, topic: str) -> tuple[list[int], list[int]]:
    """A consumer process acks 3 records, receives 4 more and is SIGKILLed holding them."""
    process = subprocess.Popen(
        [sys.executable, "-c", CONSUMER, url, topic],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    assert process.stdout is not None
    try:
        line = process.stdout.readline()
        assert line, "the consumer process ended before receiving"
        seen = json.loads(line)
    finally:
        process.send_signal(signal.SIGKILL)
        process.wait(10)
    return seen["acked"], seen["held"]


def drain(queue: logway.queues.Queue, expected: int, timeout: float) -> list[tuple[int, int]]:
    """(offset, delivery count) of every record received and acked until ``expected``."""
    got: list[tuple[int, int]] = []
    deadline = time.monotonic() + timeout
    while len(got) < expected and time.monotonic() < deadline:
        batch = queue.receive(max_records=100, timeout=0.5)
        got += [(d.record.offset, d.delivery_count) for d in batch]
        queue.ack(batch)
    assert queue.receive(max_records=100, timeout=1.5) == []  # nothing more, none twice
    return got


def check_redelivered(got: list[tuple[int, int]], acked: list[int], held: list[int]) -> None:
    counts = dict(got)
    assert len(got) == len(counts) == 10 - len(acked)
    assert sorted(counts) == sorted(set(range(10)) - set(acked))  # none lost
    assert not set(acked) & set(counts)  # no acked record comes back
    assert {o: counts[o] for o in held} == {o: 2 for o in held}
    assert all(c == 1 for o, c in counts.items() if o not in held)


@pytest.mark.slow
def test_a_consumer_killed_holding_records_over_the_server(server: LogwayServer) -> None:
    with logway.connect(server.url) as broker:
        topic = fresh_topic(broker)
        broker.produce_many(topic, [f"job-{i}".encode() for i in range(10)])
        acked, held = consumer_killed_holding_records(server.url, topic)
        assert (acked, held) == ([0, 1, 2], [3, 4, 5, 6])
        queue = broker.queue(topic, "workers", start="earliest", visibility_timeout="1s")
        check_redelivered(drain(queue, 7, 20), acked, held)


@pytest.mark.slow
def test_a_consumer_killed_holding_records_of_a_shared_data_directory(tmp_path: Path) -> None:
    owner = DirectoryOwner(tmp_path / "data").start()
    try:
        with logway.connect(owner.url) as broker:  # a client of the owning process
            topic = fresh_topic(broker)
            broker.produce_many(topic, [f"job-{i}".encode() for i in range(10)])
            acked, held = consumer_killed_holding_records(owner.url, topic)
            queue = broker.queue(topic, "workers", start="earliest", visibility_timeout="1s")
            check_redelivered(drain(queue, 10 - len(acked), 20), acked, held)
    finally:
        assert owner.stop() == 0
