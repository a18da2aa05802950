"""Producing: metadata, dense offsets, record contents, partitioning, refusals."""

from __future__ import annotations

import datetime as dt
import time

import pytest

import logway
from logway import Message, TopicPartition
from tests.conformance.conftest import BrokerLimit
from tests.kafka_vectors import JAVA_MURMUR2


def test_produce_returns_metadata_and_dense_offsets(broker: logway.Broker, topic: str) -> None:
    broker.create_topic(topic)
    before = int(time.time() * 1000)
    metas = [broker.produce(topic, f"v{i}".encode()) for i in range(5)]
    after = int(time.time() * 1000)
    assert [m.offset for m in metas] == [0, 1, 2, 3, 4]
    assert all(m.topic == topic and m.partition == 0 for m in metas)
    assert all(before <= m.timestamp <= after for m in metas)
    assert broker.end_offsets(topic) == {0: 5}


def test_record_contents_round_trip(broker: logway.Broker, topic: str) -> None:
    broker.create_topic(topic)
    when = dt.datetime(2026, 1, 2, 3, 4, 5, 678000, tzinfo=dt.UTC)
    broker.produce(
        topic, b"\x00\xffbinary", key=b"k\x00", headers=[("a", b"1"), ("a", None)], timestamp=when
    )
    broker.produce(topic, "text ✓", key="clé", headers={"h": "v"}, timestamp=1_700_000_000_123)
    broker.produce(topic, None, key=b"tombstone")
    broker.produce(topic, b"", key=None)
    r = broker.fetch(topic, 0, 0)
    assert (r[0].key, r[0].value, r[0].headers) == (
        b"k\x00",
        b"\x00\xffbinary",
        (("a", b"1"), ("a", None)),
    )
    assert r[0].timestamp == int(when.timestamp() * 1000) and r[0].datetime == when
    assert r[0].header("a") is None and r[0].header("missing", b"d") == b"d"
    assert (r[1].key, r[1].value, r[1].headers) == (
        "clé".encode(),
        "text ✓".encode(),
        (("h", b"v"),),
    )
    assert r[1].timestamp == 1_700_000_000_123
    assert r[2].value is None and r[2].key == b"tombstone"
    assert r[3].value == b"" and r[3].key is None


def test_keys_land_where_kafka_puts_them(broker: logway.Broker, topic: str) -> None:
    """partition = toPositive(murmur2(key)) % partitions, from Kafka's own vectors."""
    for count in (3, 7, 50):
        name = f"{topic}-{count}"
        broker.create_topic(name, partitions=count)
        for key, java_hash in JAVA_MURMUR2.items():
            expected = (java_hash & 0x7FFFFFFF) % count
            assert broker.produce(name, b"v", key=key).partition == expected, (key, count)
    assert broker.produce(f"{topic}-50", b"v", key=b"foobar").partition == 16


def test_same_key_same_partition_in_batches(broker: logway.Broker, topic: str) -> None:
    broker.create_topic(topic, partitions=4)
    single = {k: broker.produce(topic, b"x", key=k).partition for k in ("a", "b", "c", "d", "e")}
    batch = broker.produce_many(topic, [Message(b"y", key=k) for k in single])
    assert {m.partition for m in batch} <= set(range(4))
    assert [m.partition for m in batch] == list(single.values())


def test_keyless_records_spread_over_partitions(broker: logway.Broker, topic: str) -> None:
    broker.create_topic(topic, partitions=3)
    used = {broker.produce(topic, b"x").partition for _ in range(30)}
    assert used == {0, 1, 2}


def test_explicit_partition(broker: logway.Broker, topic: str) -> None:
    broker.create_topic(topic, partitions=3)
    assert broker.produce(topic, b"x", key="a", partition=2).partition == 2
    batch = broker.produce_many(topic, [b"a", b"b"], partition=1)
    assert [(m.partition, m.offset) for m in batch] == [(1, 0), (1, 1)]
    mixed = broker.produce_many(topic, [Message(b"p0", partition=0), Message(b"p2", partition=2)])
    assert [(m.partition, m.offset) for m in mixed] == [(0, 0), (2, 1)]


@pytest.mark.parametrize("partition", [3, -1, "0"])
def test_bad_partition_is_refused_and_nothing_stored(
    broker: logway.Broker, topic: str, partition: object
) -> None:
    broker.create_topic(topic, partitions=3)
    with pytest.raises((logway.UnknownTopicError, logway.InvalidArgumentError)):
        broker.produce(topic, b"x", partition=partition)  # type: ignore[arg-type]
    with pytest.raises((logway.UnknownTopicError, logway.InvalidArgumentError)):
        broker.produce_many(topic, [Message(b"ok"), Message(b"x", partition=partition)])  # type: ignore[arg-type]
    assert broker.end_offsets(topic) == {0: 0, 1: 0, 2: 0}


def test_bad_partition_on_a_single_partition_topic(broker: logway.Broker, topic: str) -> None:
    broker.create_topic(topic)
    with pytest.raises((logway.UnknownTopicError, logway.InvalidArgumentError)):
        broker.produce_many(topic, [Message(b"x", partition=7)])
    with pytest.raises((logway.UnknownTopicError, logway.InvalidArgumentError)):
        broker.produce(topic, b"x", partition=1)
    assert broker.end_offsets(topic) == {0: 0}


def test_produce_many_keeps_order_and_metadata(broker: logway.Broker, topic: str) -> None:
    broker.create_topic(topic, partitions=2, retention_ms=-1)  # timestamp 5: kept
    items = [b"bytes", "str", Message(b"msg", key="k", headers={"x": b"1"}, timestamp=5), None]
    metas = broker.produce_many(topic, items, partition=1)
    assert len(metas) == 4
    assert [m.offset for m in metas] == [0, 1, 2, 3]
    assert metas[2].timestamp == 5 and metas[-1].offset == 3
    records = broker.fetch(topic, 1, 0)
    assert [r.value for r in records] == [b"bytes", b"str", b"msg", None]
    assert records[2].headers == (("x", b"1"),) and records[2].timestamp == 5


def test_produce_many_accepts_generators_and_empty(broker: logway.Broker, topic: str) -> None:
    broker.create_topic(topic)
    assert len(broker.produce_many(topic, [])) == 0
    metas = broker.produce_many(topic, (f"g{i}" for i in range(100)))
    assert [m.offset for m in metas] == list(range(100))


def test_record_size_limit(broker: logway.Broker, topic: str) -> None:
    broker.create_topic(topic, max_record_bytes="1KB")
    broker.produce(topic, b"x" * 900)
    with pytest.raises(logway.RecordTooLargeError, match="1024"):
        broker.produce(topic, b"x" * 2000)
    with pytest.raises(logway.RecordTooLargeError):
        broker.produce_many(topic, [b"fine", b"y" * 5000, b"fine too"])
    assert broker.end_offsets(topic) == {0: 1}


def test_default_record_limit_is_one_mebibyte(broker: logway.Broker, topic: str) -> None:
    broker.create_topic(topic)
    broker.produce(topic, b"x" * 1_000_000)
    with pytest.raises(logway.RecordTooLargeError):
        broker.produce(topic, b"x" * (1 << 20))
    assert broker.end_offsets(topic) == {0: 1}


@pytest.mark.parametrize(
    "bad",
    [
        [12345],
        [object()],
        [Message(b"v", key=3.5)],
        [Message(b"v", headers={1: b"x"})],
        [Message(b"v", headers=[("h",)])],
        [Message(b"v", timestamp="yesterday")],
    ],
)
def test_bad_records_are_refused_and_nothing_stored(
    broker: logway.Broker, topic: str, bad: list
) -> None:
    broker.create_topic(topic)
    with pytest.raises(logway.InvalidArgumentError):
        broker.produce_many(topic, [b"good", *bad])
    assert broker.end_offsets(topic) == {0: 0}


@pytest.mark.parametrize("codec", ["none", "gzip", "snappy", "lz4", "zstd"])
def test_every_compression_codec_round_trips(broker: logway.Broker, topic: str, codec: str) -> None:
    broker.create_topic(topic, compression=codec)
    values = [(f"record {i} " * (i % 7)).encode() for i in range(300)]
    broker.produce_many(topic, [Message(v, key=str(i)) for i, v in enumerate(values)])
    records = broker.fetch(topic, 0, 0, max_records=1000)
    assert [r.value for r in records] == values
    assert [r.key for r in records] == [str(i).encode() for i in range(300)]
    assert broker.fetch(topic, 0, 123, max_records=2)[0].value == values[123]


def test_records_and_offsets_survive_reopen(open_broker, topic: str) -> None:  # type: ignore[no-untyped-def]
    first = open_broker()
    first.create_topic(topic, partitions=2)
    first.produce_many(topic, [Message(f"v{i}", key=f"k{i}") for i in range(50)])
    before = {p: first.fetch(topic, p, 0, max_records=100) for p in (0, 1)}
    first.close()
    second = open_broker()
    assert {p: second.fetch(topic, p, 0, max_records=100) for p in (0, 1)} == before
    ends = second.end_offsets(topic)
    meta = second.produce(topic, b"next", partition=0)
    assert meta.offset == ends[0]


def test_metadata_of_a_keyed_batch(broker: logway.Broker, topic: str) -> None:
    broker.create_topic(topic, partitions=3)
    metas = broker.produce_many(topic, [Message(f"v{i}", key=f"k{i % 5}") for i in range(40)])
    for i, meta in enumerate(metas):
        (record,) = broker.fetch(topic, meta.partition, meta.offset, max_records=1)
        assert record.value == f"v{i}".encode()
    assert metas[-1] == metas[39] and metas[1:3] == [metas[1], metas[2]]
    assert TopicPartition(topic, metas[0].partition) in {TopicPartition(topic, p) for p in range(3)}


def test_a_log_append_time_topic_stamps_records_as_it_stores_them(
    broker: logway.Broker, topic: str, broker_limit: BrokerLimit
) -> None:
    """Kafka's message.timestamp.type=LogAppendTime: the producer's timestamps give way
    to the time the log appended each batch, in the metadata returned and on reading."""
    broker.create_topic(topic, **{"message.timestamp.type": "LogAppendTime"})
    before = int(time.time() * 1000)
    produced = broker.produce_many(topic, [(b"old", None, None, None, 1_000), b"now"])
    after = int(time.time() * 1000)
    stored = broker.fetch(topic, 0, 0)
    assert [r.value for r in stored] == [b"old", b"now"]
    with broker_limit("log_append_time"):
        assert broker.describe_topic(topic).config.get("timestamp_type") == "log_append"
        for meta, record in zip(produced, stored, strict=True):
            assert before <= record.timestamp <= after
            assert meta.timestamp == record.timestamp
