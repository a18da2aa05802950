"""Consumers: start positions, iteration, waiting, groups, rebalancing, async."""

from __future__ import annotations

import asyncio
import datetime as dt
import threading

import pytest

import logway
from logway import Message, TopicPartition
from tests.conformance.conftest import BrokerLimit
from tests.conformance.reading import drain, settle, take


def _values(records: list[logway.Record]) -> list[bytes | None]:
    return [r.value for r in records]


def test_consumer_without_group_reads_every_partition(broker: logway.Broker, topic: str) -> None:
    broker.create_topic(topic, partitions=3)
    broker.produce_many(topic, [Message(f"v{i}", key=f"k{i}") for i in range(60)])
    with broker.consumer(topic) as consumer:
        records = drain(consumer, broker)
        assert sorted(_values(records)) == sorted(f"v{i}".encode() for i in range(60))
        assert len(consumer.assignment()) == 3
        for p in range(3):
            offsets = [r.offset for r in records if r.partition == p]
            assert offsets == sorted(offsets) == list(range(len(offsets)))


def test_start_latest_and_at_time(
    broker: logway.Broker, topic: str, broker_limit: BrokerLimit
) -> None:
    broker.create_topic(topic, retention_ms=-1)  # old timestamps: kept, not retention's
    broker.produce_many(topic, [Message(b"old", timestamp=1_000), Message(b"mid", timestamp=2_000)])
    with broker.consumer(topic, start="latest") as latest:
        assert latest.poll(timeout=0) == []
        broker.produce(topic, b"new")
        assert _values(latest.poll(timeout=5)) == [b"new"]
    at = dt.datetime.fromtimestamp(1.5, tz=dt.UTC)
    with broker.consumer(topic, start=at) as since, broker_limit("time_index"):
        assert _values(drain(since, broker)) == [b"mid", b"new"]


@pytest.mark.parametrize("start", ["beginning", 5, None])
def test_bad_start_is_refused(broker: logway.Broker, topic: str, start: object) -> None:
    broker.create_topic(topic)
    with pytest.raises(logway.InvalidArgumentError):
        broker.consumer(topic, start=start)  # type: ignore[arg-type]


def test_iteration_ends_after_idle_timeout(broker: logway.Broker, topic: str) -> None:
    broker.create_topic(topic)
    broker.produce_many(topic, [b"a", b"b", b"c"])
    with broker.consumer(topic, idle_timeout=0.2) as consumer:
        assert [r.value for r in consumer] == [b"a", b"b", b"c"]


def test_poll_wakes_when_a_record_arrives(broker: logway.Broker, topic: str) -> None:
    broker.create_topic(topic)
    got: list[logway.Record] = []
    with broker.consumer(topic, start="latest") as consumer:
        consumer.assignment()  # assignment and positions are settled
        waiter = threading.Thread(target=lambda: got.extend(consumer.poll(timeout=30)))
        waiter.start()
        broker.produce(topic, b"wake up")
        waiter.join(timeout=30)
    assert not waiter.is_alive()
    assert _values(got) == [b"wake up"]


def test_blocking_iteration_is_ended_by_close(broker: logway.Broker, topic: str) -> None:
    broker.create_topic(topic)
    consumer = broker.consumer(topic)
    seen: list[bytes | None] = []
    first = threading.Event()

    def read() -> None:
        for record in consumer:
            seen.append(record.value)
            first.set()

    reader = threading.Thread(target=read)
    reader.start()
    broker.produce(topic, b"one")
    assert first.wait(30)
    consumer.close()
    reader.join(timeout=30)
    assert not reader.is_alive()
    assert seen == [b"one"]


def test_async_iteration_and_apoll(broker: logway.Broker, topic: str) -> None:
    broker.create_topic(topic, partitions=2)

    async def main() -> list[bytes | None]:
        consumer = broker.consumer(topic, start="latest", idle_timeout=0.5)
        try:
            assert await consumer.apoll(timeout=0) == []
            loop = asyncio.get_running_loop()
            pending = asyncio.ensure_future(consumer.apoll(timeout=30))
            await loop.run_in_executor(None, lambda: broker.produce(topic, b"first", partition=1))
            first = await pending
            await loop.run_in_executor(
                None, lambda: broker.produce_many(topic, [b"x", b"y"], partition=0)
            )
            rest = [r.value async for r in consumer]
            return _values(first) + rest
        finally:
            consumer.close()

    assert asyncio.run(main()) == [b"first", b"x", b"y"]


def test_group_commit_and_resume(open_broker, topic: str) -> None:  # type: ignore[no-untyped-def]
    broker = open_broker()
    broker.create_topic(topic, partitions=2)
    broker.produce_many(topic, [Message(f"v{i}", key=f"k{i}") for i in range(20)])
    with broker.consumer(topic, group="billing") as consumer:
        first = take(consumer, 7)
        consumer.commit()
        committed = broker.committed("billing", topic)
        assert sum(committed.values()) == 7
        assert consumer.position() == {
            TopicPartition(topic, p): committed.get(TopicPartition(topic, p), 0) for p in (0, 1)
        }
    broker.close()
    broker = open_broker()
    with broker.consumer(topic, group="billing") as consumer:
        rest = drain(consumer, broker)
    assert sorted(_values(first + rest)) == sorted(f"v{i}".encode() for i in range(20))
    assert len(rest) == 13


def test_commit_needs_a_group(broker: logway.Broker, topic: str) -> None:
    broker.create_topic(topic)
    with broker.consumer(topic) as consumer, pytest.raises(logway.InvalidArgumentError):
        consumer.commit()


def test_group_members_share_partitions_and_rebalance(broker: logway.Broker, topic: str) -> None:
    broker.create_topic(topic, partitions=4)
    a = broker.consumer(topic, group="g")
    assert len(a.assignment()) == 4
    b = broker.consumer(topic, group="g")

    def split() -> bool:
        pa, pb = set(a.assignment()), set(b.assignment())
        # a partition reaches b only once a has let it go, which a's asking again says
        assert pa.isdisjoint(pb), (pa, pb)
        return len(pa) == len(pb) == 2

    settle(split)
    pa, pb = set(a.assignment()), set(b.assignment())
    assert len(pa) == len(pb) == 2 and pa.isdisjoint(pb)
    assert pa | pb == {TopicPartition(topic, p) for p in range(4)}
    broker.produce_many(topic, [Message(f"v{i}", key=f"k{i}") for i in range(40)])
    got_a, got_b = drain(a, broker), drain(b, broker)
    assert {(r.topic, r.partition) for r in got_a} <= pa
    assert {(r.topic, r.partition) for r in got_b} <= pb
    assert len(got_a) + len(got_b) == 40
    a.commit()
    b.close()
    settle(lambda: set(a.assignment()) == {TopicPartition(topic, p) for p in range(4)})
    # b's partitions come back from the committed offsets: b never committed, so from 0
    redelivered = drain(a, broker)
    assert sorted(_values(redelivered)) == sorted(_values(got_b))
    a.close()


def test_round_robin_assignor(broker: logway.Broker, topic: str) -> None:
    broker.create_topic(topic, partitions=3)
    other = topic + "-b"
    broker.create_topic(other, partitions=3)
    members = [broker.consumer([topic, other], group="rr", assignor="roundrobin") for _ in range(2)]
    settle(lambda: all(len(m.assignment()) == 3 for m in members))
    sizes = sorted(len(m.assignment()) for m in members)
    assert sizes == [3, 3]
    union = set(members[0].assignment()) | set(members[1].assignment())
    assert len(union) == 6
    for m in members:
        m.close()
    with pytest.raises(logway.InvalidArgumentError):
        broker.consumer(topic, group="x", assignor="sticky-ish")


def test_position_seek_and_lag(broker: logway.Broker, topic: str) -> None:
    broker.create_topic(topic)
    broker.produce_many(topic, [f"v{i}" for i in range(10)])
    tp = TopicPartition(topic, 0)
    with broker.consumer(topic, group="g") as consumer:
        assert consumer.position() == {tp: 0}
        assert consumer.lag() == {tp: 10}
        take(consumer, 4)
        assert consumer.position() == {tp: 4}
        assert consumer.lag() == {tp: 6}
        consumer.seek(tp, 8)
        assert _values(take(consumer, 2)) == [b"v8", b"v9"]
        with pytest.raises(logway.OffsetOutOfRangeError):
            consumer.seek(tp, 11)
        with pytest.raises(logway.InvalidArgumentError):
            consumer.seek(TopicPartition(topic, 5), 0)


def test_manual_assignment(broker: logway.Broker, topic: str) -> None:
    broker.create_topic(topic, partitions=3)
    for p in range(3):
        broker.produce(topic, f"p{p}", partition=p)
    with broker.consumer(topic, partitions=[TopicPartition(topic, 2)]) as consumer:
        assert consumer.assignment() == [TopicPartition(topic, 2)]
        assert _values(drain(consumer, broker)) == [b"p2"]


def test_closed_consumer_and_broker_refuse_use(open_broker, topic: str) -> None:  # type: ignore[no-untyped-def]
    broker = open_broker()
    broker.create_topic(topic)
    consumer = broker.consumer(topic)
    consumer.close()
    with pytest.raises(logway.ClosedError):
        consumer.poll()
    broker.close()
    with pytest.raises(logway.ClosedError):
        broker.list_topics()
    with pytest.raises(logway.ClosedError):
        broker.produce(topic, b"x")
