"""Interoperability with kcat, the command-line Kafka client: records logway's Kafka
backend produces, kcat reads with the same keys, values, headers, partitions and
timestamps; records kcat produces, logway reads with the same keys, values, headers
and partitions.

kcat is Debian's (``make test`` installs it). Debian links it with librdkafka 2.0.2,
which cannot talk to the broker the suite starts (tansu): every connection fails with
"ApiVersionRequest failed: Read underflow". The newer librdkafka that the
confluent-kafka wheel ships can, so kcat runs on that one: ``LD_LIBRARY_PATH`` points
at a directory, built per test in ``tmp_path``, holding a ``librdkafka.so.1`` symlink
to the wheel's library. The same is used against ``LOGWAY_TEST_KAFKA``, where a
newer librdkafka works too.
"""

from __future__ import annotations

import glob
import os
import shutil
import uuid
from pathlib import Path

import confluent_kafka
import pytest

import logway
from logway.partitioner import partition_for_key
from tests.kcat import FORMAT, PARTITIONS, RECORDS, Kcat, parse

pytestmark = pytest.mark.slow  # a broker process and a client process


@pytest.fixture
def kcat(tmp_path: Path, kafka_servers: str) -> Kcat:
    path = shutil.which("kcat")
    if path is None:
        pytest.fail("kcat is not installed; make test installs it (apt-get install kcat)")
    package = os.path.dirname(os.path.abspath(confluent_kafka.__file__))
    libs = os.path.join(os.path.dirname(package), "confluent_kafka.libs")
    found = sorted(glob.glob(os.path.join(libs, "librdkafka-*.so.1")))
    if not found:
        pytest.fail(f"no librdkafka-*.so.1 in {libs}; the confluent-kafka wheel ships one")
    shim = tmp_path / "kcat-lib"
    shim.mkdir()
    (shim / "librdkafka.so.1").symlink_to(found[0])
    return Kcat(path, kafka_servers, {**os.environ, "LD_LIBRARY_PATH": str(shim)})


def topic_name() -> str:
    return f"kcat-{uuid.uuid4().hex[:10]}"


def test_the_records_spread_over_the_partitions() -> None:
    """The keys are chosen so that both directions use every partition."""
    assert {partition_for_key(key, PARTITIONS) for key, _, _ in RECORDS} == set(range(PARTITIONS))


def test_kcat_reads_what_logway_produces(kafka_url: str, kcat: Kcat) -> None:
    topic = topic_name()
    timestamp = 1_700_000_000_000
    with logway.connect(kafka_url) as broker:
        broker.create_topic(topic, partitions=PARTITIONS)
        produced = broker.produce_many(
            topic,
            [
                logway.Message(value, key=key, headers=list(headers), timestamp=timestamp + i)
                for i, (key, value, headers) in enumerate(RECORDS)
            ],
        )
    count = str(len(RECORDS))  # -e exits at the end, -c once all are read: no waiting
    output = kcat("-C", "-t", topic, "-o", "beginning", "-e", "-c", count, "-q", "-f", FORMAT)
    reads = {(r.partition, r.offset): r for r in parse(output)}
    assert len(reads) == len(RECORDS)
    for i, ((key, value, headers), meta) in enumerate(zip(RECORDS, produced, strict=True)):
        read = reads[(meta.partition, meta.offset)]
        assert (read.key, read.value, read.headers) == (key, value, headers)
        assert read.timestamp == timestamp + i
        assert read.partition == partition_for_key(key, PARTITIONS)


def test_logway_reads_what_kcat_produces(kafka_url: str, kcat: Kcat) -> None:
    topic = topic_name()
    with logway.connect(kafka_url) as broker:
        broker.create_topic(topic, partitions=PARTITIONS)
        # one kcat per record: its own key and headers, and a batch of its own (so the
        # end offset the test broker reports is exact: see test_backend.py)
        for key, value, headers in RECORDS:
            args = ["-P", "-t", topic, "-k", key.decode(), "-X", "partitioner=murmur2_random"]
            for name, header in headers:
                args += ["-H", f"{name}={header.decode()}"]
            kcat(*args, stdin=value + b"\n")
        read: dict[int, list[logway.Record]] = {
            p: broker.fetch(topic, p, 0) for p in range(PARTITIONS)
        }
    expected: dict[int, list[tuple[bytes, bytes, tuple[tuple[str, bytes], ...]]]] = {
        p: [] for p in range(PARTITIONS)
    }
    for key, value, headers in RECORDS:  # Kafka's murmur2, as logway places keys
        expected[partition_for_key(key, PARTITIONS)].append((key, value, headers))
    for p in range(PARTITIONS):
        assert [r.offset for r in read[p]] == list(range(len(expected[p])))
        assert [(r.key, r.value, r.headers) for r in read[p]] == expected[p]
        assert all(r.topic == topic and r.partition == p for r in read[p])
