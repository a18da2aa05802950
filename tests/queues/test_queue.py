"""Queues over a real embedded log: each record to one consumer at a time, ack,
release and reject, the visibility timeout, the dead-letter topic after max_receives,
durable state across a reopen, and bad input refused with nothing changed."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

import logway
from logway.errors import DeliveryExpiredError, InvalidArgumentError, UnknownTopicError


@pytest.fixture
def data(tmp_path: Path) -> str:
    return f"file:{tmp_path}/data"


@pytest.fixture
def broker(data: str) -> Iterator[logway.Broker]:
    with logway.connect(data) as b:
        b.create_topic("jobs", partitions=1)
        yield b


def values(deliveries: list[logway.queues.Delivery]) -> list[bytes]:
    return [d.record.value or b"" for d in deliveries]


def test_ten_consumers_on_one_partition_get_distinct_records_and_all_of_them(
    broker: logway.Broker,
) -> None:
    consumers = [broker.queue("jobs", "workers", start="earliest") for _ in range(10)]
    broker.produce_many("jobs", [f"job-{i}".encode() for i in range(500)])
    got: list[list[bytes]] = [[] for _ in consumers]
    # each holds its first batch until all ten hold one: records in flight go to no
    # one else, so every consumer gets some whatever the threads' scheduling
    first = threading.Barrier(10, timeout=30)

    def work(i: int) -> None:
        held = True
        while True:
            batch = consumers[i].receive(max_records=7, timeout=0.2)
            if held:
                first.wait()
                held = False
            if not batch:
                return
            got[i] += values(batch)
            consumers[i].ack(batch)

    threads = [threading.Thread(target=work, args=(i,)) for i in range(10)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    everything = [v for g in got for v in g]
    assert sorted(everything) == sorted(f"job-{i}".encode() for i in range(500))
    assert len(everything) == len(set(everything))  # each to one consumer
    assert all(got)  # shared: every consumer got records of its own


def test_release_redelivers_with_a_higher_count_and_ack_settles(broker: logway.Broker) -> None:
    q = broker.queue("jobs", "w", start="earliest")
    broker.produce_many("jobs", [b"a", b"b"])
    first = q.receive(max_records=10)
    assert values(first) == [b"a", b"b"] and [d.delivery_count for d in first] == [1, 1]
    assert q.receive(max_records=10) == []  # in flight: not delivered twice
    first[0].release()
    again = q.receive(max_records=10)
    assert values(again) == [b"a"] and again[0].delivery_count == 2
    q.ack([again[0], first[1]])
    assert q.receive(max_records=10) == []
    assert q.status()["start_offsets"] == {0: 2}
    with pytest.raises(DeliveryExpiredError, match="no longer held"):
        again[0].ack()  # settled already


def test_the_visibility_timeout_puts_a_record_back(broker: logway.Broker) -> None:
    q = broker.queue("jobs", "w", start="earliest", visibility_timeout="100ms")
    other = broker.queue("jobs", "w")
    broker.produce("jobs", b"slow")
    held = q.receive()
    assert values(held) == [b"slow"]
    later = other.receive(timeout=5.0)  # waits until the timeout passes
    assert values(later) == [b"slow"] and later[0].delivery_count == 2
    with pytest.raises(DeliveryExpiredError, match="visibility timeout"):
        held[0].ack()  # too late: nothing changed
    later[0].ack()
    assert other.receive() == []


def test_a_poison_record_reaches_the_dead_letter_topic_after_max_receives(
    broker: logway.Broker,
) -> None:
    q = broker.queue("jobs", "w", start="earliest", max_receives=3)
    broker.produce_many("jobs", [b"poison", b"fine"])
    counts = []
    while True:
        batch = q.receive(max_records=10)
        if not batch:
            break
        for d in batch:
            if d.record.value == b"poison":
                counts.append(d.delivery_count)
                d.release()
            else:
                d.ack()
    assert counts == [1, 2, 3]
    dead = broker.fetch("jobs-dlq", 0, 0)
    assert [r.value for r in dead] == [b"poison"]
    assert dead[0].header("logway.queue.delivery_count") == b"3"
    assert dead[0].header("logway.reason") == b"max_receives"
    assert dead[0].header("logway.source.offset") == b"0"
    assert q.status()["start_offsets"] == {0: 2}


def test_reject_sends_to_the_dead_letter_topic_with_the_reason(broker: logway.Broker) -> None:
    q = broker.queue("jobs", "w", start="earliest", dead_letter="bad-jobs")
    broker.produce("jobs", b"unparseable", key=b"k")
    q.reject(q.receive(), reason="not JSON")
    dead = broker.fetch("bad-jobs", 0, 0)
    assert [(r.key, r.value) for r in dead] == [(b"k", b"unparseable")]
    assert dead[0].header("logway.reason") == b"not JSON"
    assert q.receive() == []


def test_state_survives_reopening_the_data_directory(data: str) -> None:
    with logway.connect(data) as b:
        b.create_topic("jobs", partitions=2)
        b.produce_many("jobs", [f"{i}".encode() for i in range(20)])
        q = b.queue("jobs", "w", start="earliest")
        first = q.receive(max_records=8)
        q.ack(first[:5])  # three stay in flight, and go away with this process
        acked = values(first[:5])
        in_flight = values(first[5:])
    with logway.connect(data) as b:
        q = b.queue("jobs", "w")
        rest = q.receive(max_records=100)
        got = values(rest)
        assert not set(got) & set(acked)  # acknowledged: never again
        assert sorted(got + acked) == sorted(f"{i}".encode() for i in range(20))
        counts = {d.record.value: d.delivery_count for d in rest}
        assert all(counts[v] == 2 for v in in_flight)  # the count survived
        assert all(counts[v] == 1 for v in got if v not in in_flight)


def test_bad_input_is_refused_and_changes_nothing(broker: logway.Broker) -> None:
    with pytest.raises(UnknownTopicError):
        broker.queue("nope", "w")
    for bad in (
        {"visibility_timeout": "0s"},
        {"max_receives": 0},
        {"start": "middle"},
    ):
        with pytest.raises(InvalidArgumentError):
            broker.queue("jobs", "w", **bad)
    q = broker.queue("jobs", "w", start="earliest")
    with pytest.raises(InvalidArgumentError, match="same settings"):
        broker.queue("jobs", "w", max_receives=9)
    with pytest.raises(InvalidArgumentError, match="max_records"):
        q.receive(max_records=0)
    broker.produce("jobs", b"x")
    assert values(q.receive()) == [b"x"]
    assert "nope-dlq" not in broker.list_topics()


def test_a_waiting_receive_gets_a_record_produced_meanwhile(broker: logway.Broker) -> None:
    q = broker.queue("jobs", "w")
    timer = threading.Timer(0.1, lambda: broker.produce("jobs", b"late"))
    timer.start()
    started = time.monotonic()
    got = q.receive(timeout=10.0)
    timer.join()
    assert values(got) == [b"late"] and time.monotonic() - started < 5.0
