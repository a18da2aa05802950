"""Queues (``broker.queue``) on every backend: competing consumers on one partition,
release and redelivery, the dead-letter topic after ``max_receives``, and the queue's
state (kept in ``__logway_queues``) across closing and reopening the broker."""

from __future__ import annotations

import time
from typing import Any

import pytest

import logway
from tests.conformance.conftest import BrokerFactory

DEADLINE = 30.0


def values(deliveries: list[Any]) -> list[bytes]:
    return [d.record.value or b"" for d in deliveries]


def test_consumers_on_one_partition_get_distinct_records_and_together_all(
    broker: logway.Broker, topic: str
) -> None:
    """Each consumer takes records while the others still hold theirs: none is given a
    record another holds, and between them they get every record."""
    broker.create_topic(topic, partitions=1)
    consumers = [broker.queue(topic, "workers", start="earliest") for _ in range(4)]
    sent = [f"job-{i}".encode() for i in range(50)]
    broker.produce_many(topic, sent)
    got: list[list[bytes]] = [[] for _ in consumers]
    end = time.monotonic() + DEADLINE
    while sum(len(g) for g in got) < len(sent):
        assert time.monotonic() < end, f"only {sum(len(g) for g in got)} records delivered"
        held = []
        for i, q in enumerate(consumers):  # each takes some while the others hold theirs
            batch = q.receive(max_records=4, timeout=0.1)
            got[i] += values(batch)
            held.append((q, batch))
        for q, batch in held:
            if batch:
                q.ack(batch)
    everything = [v for g in got for v in g]
    assert sorted(everything) == sorted(sent)  # together, all of them, each once
    assert all(got)  # every consumer had a share
    assert all(q.receive(max_records=10) == [] for q in consumers)
    assert consumers[0].status()["start_offsets"] == {0: len(sent)}


def test_release_redelivers_with_a_higher_delivery_count(broker: logway.Broker, topic: str) -> None:
    broker.create_topic(topic, partitions=1)
    q = broker.queue(topic, "w", start="earliest")
    other = broker.queue(topic, "w")
    broker.produce_many(topic, [b"a", b"b"])
    first = q.receive(max_records=10, timeout=5.0)
    assert values(first) == [b"a", b"b"]
    assert [d.delivery_count for d in first] == [1, 1]
    assert other.receive(max_records=10) == []  # both in flight: given to no one else
    first[0].release()
    again = other.receive(max_records=10, timeout=5.0)
    assert values(again) == [b"a"] and again[0].delivery_count == 2
    other.ack(again)
    q.ack(first[1:])
    assert q.receive(max_records=10) == [] and other.receive(max_records=10) == []
    assert q.status()["start_offsets"] == {0: 2}
    with pytest.raises(logway.errors.DeliveryExpiredError, match="no longer held"):
        again[0].ack()  # settled already


def test_a_poison_record_reaches_the_dead_letter_topic_after_max_receives(
    broker: logway.Broker, topic: str
) -> None:
    broker.create_topic(topic, partitions=1)
    q = broker.queue(topic, "w", start="earliest", max_receives=3)
    broker.produce_many(topic, [logway.Message(b"poison", key=b"p", headers={"trace": b"t1"})])
    broker.produce(topic, b"fine")
    counts: list[int] = []
    fine: list[bytes] = []
    end = time.monotonic() + DEADLINE
    while len(counts) < 3 or not fine:
        assert time.monotonic() < end, f"poison delivered {counts}, fine {fine}"
        for d in q.receive(max_records=10, timeout=0.5):
            if d.record.value == b"poison":
                counts.append(d.delivery_count)
                d.release()
            else:
                fine.append(d.record.value)
                d.ack()
    assert counts == [1, 2, 3] and fine == [b"fine"]
    assert q.receive(max_records=10) == []  # the third release sent it away
    dead = broker.fetch(f"{topic}-dlq", 0, 0)
    assert [(r.key, r.value) for r in dead] == [(b"p", b"poison")]
    assert dead[0].header("trace") == b"t1"
    assert dead[0].header("logway.queue.delivery_count") == b"3"
    assert dead[0].header("logway.reason") == b"max_receives"
    assert dead[0].header("logway.source.topic") == topic.encode()
    assert dead[0].header("logway.source.offset") == b"0"
    assert dead[0].header("logway.queue") == b"w"
    assert q.status()["start_offsets"] == {0: 2}


def test_state_survives_closing_and_reopening_the_broker(
    open_broker: BrokerFactory, topic: str
) -> None:
    """Acknowledged records never come again; those in flight when the broker closed
    come again (once their visibility timeout passes where a server holds the queue),
    with the delivery count they had, plus one."""
    settings = {"start": "earliest", "visibility_timeout": "2s"}
    first = open_broker()
    first.create_topic(topic, partitions=2)
    sent = {f"{p}-{i}".encode() for p in (0, 1) for i in range(10)}
    for p in (0, 1):
        first.produce_many(topic, [f"{p}-{i}".encode() for i in range(10)], partition=p)
    q = first.queue(topic, "w", **settings)
    taken = q.receive(max_records=8, timeout=5.0)
    assert len(taken) == 8
    q.ack(taken[:5])  # three stay in flight, and go away with this broker
    acked, in_flight = set(values(taken[:5])), set(values(taken[5:]))
    first.close()

    second = open_broker()
    q = second.queue(topic, "w", **settings)
    counts: dict[bytes, int] = {}
    end = time.monotonic() + DEADLINE
    while len(counts) < len(sent) - len(acked):
        assert time.monotonic() < end, f"only {sorted(counts)} delivered after reopening"
        batch = q.receive(max_records=100, timeout=0.5)
        for d in batch:
            assert d.record.value not in counts, f"{d.record.value!r} delivered twice"
            counts[d.record.value or b""] = d.delivery_count
        if batch:
            q.ack(batch)
    assert not set(counts) & acked  # acknowledged: never again
    assert set(counts) | acked == sent
    assert {v: counts[v] for v in in_flight} == {v: 2 for v in in_flight}  # count kept
    assert {c for v, c in counts.items() if v not in in_flight} == {1}
    assert q.receive(max_records=100) == []
    assert q.status()["start_offsets"] == {0: 10, 1: 10}
