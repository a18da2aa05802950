"""Reading by offset and by time, start and end offsets."""

from __future__ import annotations

import datetime as dt

import pytest

import logway
from logway import Message
from tests.conformance.conftest import BrokerLimit


def test_fetch_from_any_offset(broker: logway.Broker, topic: str) -> None:
    broker.create_topic(topic)
    for chunk in range(10):
        broker.produce_many(topic, [f"{chunk}-{i}" for i in range(100)])
    for offset in (0, 1, 99, 100, 101, 555, 999):
        (record,) = broker.fetch(topic, 0, offset, max_records=1)
        assert record.offset == offset
        assert record.value == f"{offset // 100}-{offset % 100}".encode()
    records = broker.fetch(topic, 0, 250, max_records=300)
    assert [r.offset for r in records] == list(range(250, 550))


def test_fetch_limits(broker: logway.Broker, topic: str) -> None:
    broker.create_topic(topic)
    broker.produce_many(topic, [b"x" * 1000 for _ in range(50)])
    assert len(broker.fetch(topic, 0, 0, max_records=7)) == 7
    assert len(broker.fetch(topic, 0, 0, max_records=1000)) == 50
    # max_bytes is a soft limit: at least one record always comes back
    assert len(broker.fetch(topic, 0, 0, max_bytes=1)) >= 1
    for _ in range(20):
        broker.produce(topic, b"y" * 1000)
    few = broker.fetch(topic, 0, 50, max_records=1000, max_bytes=3000)
    assert 1 <= len(few) < 20


def test_fetch_at_end_is_empty_and_beyond_is_an_error(broker: logway.Broker, topic: str) -> None:
    broker.create_topic(topic)
    broker.produce_many(topic, [b"a", b"b"])
    assert broker.fetch(topic, 0, 2) == []
    with pytest.raises(logway.OffsetOutOfRangeError, match="0 to 2"):
        broker.fetch(topic, 0, 3)
    with pytest.raises(logway.OffsetOutOfRangeError):
        broker.fetch(topic, 0, -1)


@pytest.mark.parametrize(
    "kwargs", [{"offset": "1"}, {"offset": 1.0}, {"max_records": 0}, {"max_bytes": 0}]
)
def test_bad_fetch_arguments(broker: logway.Broker, topic: str, kwargs: dict) -> None:
    broker.create_topic(topic)
    broker.produce(topic, b"a")
    args = {"offset": 0, **kwargs}
    with pytest.raises(logway.InvalidArgumentError):
        broker.fetch(topic, 0, **args)


def test_fetch_unknown_partition(broker: logway.Broker, topic: str) -> None:
    broker.create_topic(topic, partitions=2)
    with pytest.raises(logway.UnknownTopicError, match="partition"):
        broker.fetch(topic, 2, 0)


def test_start_and_end_offsets(broker: logway.Broker, topic: str) -> None:
    broker.create_topic(topic, partitions=3)
    broker.produce_many(topic, [b"a", b"b", b"c"], partition=1)
    broker.produce(topic, b"d", partition=2)
    assert broker.start_offsets(topic) == {0: 0, 1: 0, 2: 0}
    assert broker.end_offsets(topic) == {0: 0, 1: 3, 2: 1}


def test_offset_for_time(broker: logway.Broker, topic: str, broker_limit: BrokerLimit) -> None:
    broker.create_topic(topic)
    stamps = [1_000, 2_000, 2_000, 3_000, 2_500, 5_000]  # not monotonic, as Kafka allows
    broker.produce_many(topic, [Message(f"v{i}", timestamp=t) for i, t in enumerate(stamps)])
    assert broker.offset_for_time(topic, 0, 0) == 0
    assert broker.offset_for_time(topic, 0, 1_000) == 0
    with broker_limit("time_index"):
        assert broker.offset_for_time(topic, 0, 1_001) == 1
        assert broker.offset_for_time(topic, 0, 2_400) == 3
        assert broker.offset_for_time(topic, 0, 3_001) == 5
        assert broker.offset_for_time(topic, 0, 5_001) is None
        when = dt.datetime.fromtimestamp(2.0, tz=dt.UTC)
        assert broker.offset_for_time(topic, 0, when) == 1


def test_offset_for_time_across_many_batches(
    broker: logway.Broker, topic: str, broker_limit: BrokerLimit
) -> None:
    broker.create_topic(topic, retention_ms=-1)  # old timestamps: kept, not retention's
    for batch in range(50):
        broker.produce_many(
            topic, [Message(b"x" * 200, timestamp=10_000 + batch * 100 + i) for i in range(20)]
        )
    with broker_limit("time_index"):
        _check_times(broker, topic)


def _check_times(broker: logway.Broker, topic: str) -> None:
    for target in (10_000, 10_055, 12_345, 14_919):
        offset = broker.offset_for_time(topic, 0, target)
        assert offset is not None
        (record,) = broker.fetch(topic, 0, offset, max_records=1)
        assert record.timestamp >= target
        if offset > 0:
            (before,) = broker.fetch(topic, 0, offset - 1, max_records=1)
            assert before.timestamp < target
