"""``logway.mirror`` between the embedded log and a real Kafka-API broker, both ways."""

from __future__ import annotations

import os
import time
import uuid
from pathlib import Path

import pytest
from confluent_kafka.admin import AdminClient, ConfigResource  # type: ignore[attr-defined]

import logway
from logway.mirror import default_group, mirror
from logway.records import Message, Record, TopicPartition

pytestmark = pytest.mark.slow  # a broker process

# an hour ago, well inside the topics' retention: older records could be deleted by
# the embedded log's background retention check while a test runs
T0 = (int(time.time()) - 3600) * 1000
EXACT_END_OFFSETS = bool(os.environ.get("LOGWAY_TEST_KAFKA"))  # see test_backend.py


def read_all(broker: logway.Broker, topic: str) -> dict[int, list[Record]]:
    """Per partition, the records up to its end offset."""
    out: dict[int, list[Record]] = {}
    starts = broker.start_offsets(topic)
    for p, end in sorted(broker.end_offsets(topic).items()):
        out[p] = []
        offset = starts[p]
        while offset < end:
            batch = broker.fetch(topic, p, offset)
            assert batch, f"{topic}/{p} returned nothing at {offset} below its end {end}"
            out[p].extend(batch)
            offset = batch[-1].offset + 1
    return out


def fill(broker: logway.Broker, topic: str, n: int = 20) -> dict[int, list[Record]]:
    broker.create_topic(topic, partitions=3, retention_ms="1d", compression="gzip")
    broker.produce_many(
        topic,
        [
            Message(
                None if i == 7 else f"v{i}",  # one tombstone
                key=None if i % 5 == 0 else f"k{i}",
                headers=[("h", b"x"), ("h", f"{i}".encode()), ("none", None)],
                partition=i % 3,
                timestamp=T0 + (i * 37) % 11,  # not in offset order
            )
            for i in range(n)
        ],
    )
    return read_all(broker, topic)


@pytest.fixture
def topic() -> str:
    return f"m-{uuid.uuid4().hex[:10]}"


def test_embedded_to_kafka_and_back(
    kafka_url: str, kafka_servers: str, topic: str, tmp_path: Path
) -> None:
    """One record per batch on the way in (max_records=1), so that the test broker's
    end offsets are exact (see test_the_test_brokers_end_offset_limit)."""
    group = f"g-{topic}"
    with (
        logway.connect(f"file:{tmp_path / 'src'}") as src,
        logway.connect(kafka_url) as kafka,
        logway.connect(f"file:{tmp_path / 'back'}") as back,
    ):
        original = fill(src, topic)
        into = mirror(src, kafka, [topic], group, max_records=1)
        assert into.copied == 20 and into.topics[topic].created
        assert kafka.describe_topic(topic).partitions == 3
        assert _kafka_settings(kafka_servers, topic) >= {
            ("retention.ms", "86400000"),
            ("compression.type", "gzip"),
        }
        assert read_all(kafka, topic) == original  # every field, offsets too

        out = mirror(kafka, back, [topic], group)
        assert out.copied == 20
        assert read_all(back, topic) == original
        assert kafka.committed(group, topic) == {
            TopicPartition(topic, p): len(records) for p, records in original.items()
        }
        assert mirror(kafka, back, [topic], group).copied == 0

        kafka.produce(topic, b"late", key=b"k", headers={"n": b"1"}, partition=2, timestamp=T0)
        again = mirror(kafka, back, [topic], group)
        assert again.copied == 1
        (late,) = back.fetch(topic, 2, len(original[2]))
        assert (late.key, late.value, late.headers, late.timestamp) == (
            b"k",
            b"late",
            (("n", b"1"),),
            T0,
        )


def test_batched_copies_into_kafka_meet_the_test_brokers_end_offsets(
    kafka_url: str, topic: str, tmp_path: Path
) -> None:
    """The mirror produces a whole batch at once, which Kafka stores as one record
    batch. The test broker (tansu) reports a partition's end offset as its last batch's
    base offset + 1, so reading back stops there: a limit of that broker, stated here
    so that it cannot pass silently; a real cluster gives every record back."""
    group = f"g-{topic}"
    with (
        logway.connect(f"file:{tmp_path / 'src'}") as src,
        logway.connect(kafka_url) as kafka,
        logway.connect(f"file:{tmp_path / 'back'}") as back,
    ):
        original = fill(src, topic)
        assert mirror(src, kafka, [topic], group).copied == 20
        assert mirror(src, kafka, [topic], group).copied == 0
        ends = kafka.end_offsets(topic)
        if EXACT_END_OFFSETS:
            assert ends == {p: len(records) for p, records in original.items()}
        else:
            assert sum(ends.values()) < 20, f"the end offsets are exact now: {ends}"

        result = mirror(kafka, back, [topic], group)
        assert result.copied == sum(ends.values())
        copied = read_all(back, topic)
        for p, records in original.items():  # what was readable came back intact
            assert copied[p] == records[: ends[p]]


def test_default_groups_are_one_per_destination(
    kafka_url: str, kafka_servers: str, topic: str, tmp_path: Path
) -> None:
    """Into Kafka, the group on the source names the cluster (credentials and options
    left out); from Kafka, the cluster keeps a group per destination, each named by a
    directory's path (':', '/' and '@' are fine in a Kafka group id)."""
    with (
        logway.connect(f"file:{tmp_path / 'src'}") as src,
        logway.connect(f"{kafka_url}?sasl.password=hunter2&timeout=30") as kafka,
        logway.connect(f"file:{tmp_path / 'a'}") as a,
        logway.connect(f"file:{tmp_path / 'b'}") as b,
    ):
        original = fill(src, topic)
        into = mirror(src, kafka, [topic], max_records=1)  # exact end offsets (see above)
        assert into.copied == 20
        assert into.group == default_group(kafka_url) == f"logway-mirror@{kafka_url}"
        assert src.list_groups() == [into.group]
        for dest in (a, b):
            out = mirror(kafka, dest, [topic])
            assert out.copied == 20 and out.group == default_group(dest.url)
            assert read_all(dest, topic) == original
            assert kafka.committed(out.group, topic) == {
                TopicPartition(topic, p): len(records) for p, records in original.items()
            }
        assert mirror(kafka, a, [topic]).copied == 0


def _kafka_settings(servers: str, topic: str) -> set[tuple[str, str]]:
    """The topic's settings as the broker reports them, defaults included (the test
    broker marks the ones set at creation as defaults too)."""
    admin = AdminClient({"bootstrap.servers": servers})
    resource = ConfigResource(ConfigResource.Type.TOPIC, topic)
    entries = admin.describe_configs([resource])[resource].result(30)
    return {(name, entry.value) for name, entry in entries.items()}
