"""Debian's kcat, with the librdkafka Debian links it with (2.0.2, no shim), against
``logway serve``'s Kafka port: metadata, producing with keys, headers and every
compression codec, consuming from the beginning, from an offset, from a time, and as
a consumer group."""

from __future__ import annotations

import os
import shutil
import subprocess
import time

import pytest

from logway.broker import Broker
from logway.partitioner import partition_for_key
from tests.kcat import FORMAT, PARTITIONS, RECORDS, Kcat, parse
from tests.servers import LogwayServer

pytestmark = pytest.mark.slow  # a server process and kcat processes


@pytest.fixture
def kcat(logway_kafka: LogwayServer) -> Kcat:
    path = shutil.which("kcat")
    if path is None:
        pytest.fail("kcat is not installed; make test installs it (apt-get install kcat)")
    env = {k: v for k, v in os.environ.items() if k != "LD_LIBRARY_PATH"}
    return Kcat(path, logway_kafka.kafka, env)


def _produce_all(kcat: Kcat, topic: str, *extra: str) -> None:
    for key, value, headers in RECORDS:  # one kcat per record: its own key and headers
        args = ["-P", "-t", topic, "-k", key.decode(), "-X", "partitioner=murmur2_random"]
        for name, header in headers:
            args += ["-H", f"{name}={header.decode()}"]
        kcat(*args, *extra, stdin=value + b"\n")


def test_kcat_lists_the_topics_and_the_one_broker(
    kcat: Kcat, broker: Broker, topic_name: str
) -> None:
    broker.create_topic(topic_name, partitions=3)
    listing = kcat("-L", "-t", topic_name).decode()
    assert "1 brokers:" in listing and "broker 1 at" in listing
    assert f'topic "{topic_name}" with 3 partitions' in listing
    assert listing.count("leader 1, replicas: 1, isrs: 1") == 3


@pytest.mark.parametrize("codec", ["none", "gzip", "snappy", "lz4", "zstd"])
def test_kcat_produces_with_each_codec_and_reads_it_back(
    kcat: Kcat, broker: Broker, topic_name: str, codec: str
) -> None:
    broker.create_topic(topic_name, partitions=PARTITIONS)
    _produce_all(kcat, topic_name, "-X", f"compression.codec={codec}")
    expected: dict[int, list[tuple[bytes, bytes, tuple[tuple[str, bytes], ...]]]] = {
        p: [] for p in range(PARTITIONS)
    }
    for key, value, headers in RECORDS:
        expected[partition_for_key(key, PARTITIONS)].append((key, value, headers))
    for p in range(PARTITIONS):  # logway reads what kcat wrote, on the key's partition
        stored = broker.fetch(topic_name, p, 0)
        assert [(r.key, r.value, r.headers) for r in stored] == expected[p]
    output = kcat(
        "-C", "-t", topic_name, "-o", "beginning", "-e", "-c", str(len(RECORDS)), "-q", "-f", FORMAT
    )
    reads = parse(output)
    assert sorted((r.key, r.value, r.headers) for r in reads) == sorted(RECORDS)
    for r in reads:
        assert r.partition == partition_for_key(r.key or b"", PARTITIONS)


def test_kcat_consumes_from_an_offset_and_from_a_time(
    kcat: Kcat, broker: Broker, topic_name: str
) -> None:
    broker.create_topic(topic_name)
    base = int(time.time() * 1000) - 60_000  # recent: retention keeps 7 days
    broker.produce_many(
        topic_name, [(f"r{i}".encode(), None, None, None, base + 1000 * i) for i in range(10)]
    )
    tail = parse(kcat("-C", "-t", topic_name, "-p", "0", "-o", "6", "-e", "-q", "-f", FORMAT))
    assert [r.offset for r in tail] == [6, 7, 8, 9]
    assert tail[0].value == b"r6"
    timed = parse(
        kcat(
            "-C",
            "-t",
            topic_name,
            "-p",
            "0",
            "-o",
            f"s@{base + 3500}",
            "-e",
            "-f",
            FORMAT,
            "-d",
            "protocol",
        )
    )
    assert [r.offset for r in timed] == [4, 5, 6, 7, 8, 9]
    assert [r.timestamp for r in timed] == [base + 1000 * i for i in range(4, 10)]
    logway_written = parse(
        kcat("-C", "-t", topic_name, "-o", "beginning", "-e", "-q", "-f", FORMAT)
    )
    assert [r.value for r in logway_written] == [f"r{i}".encode() for i in range(10)]


def test_kcat_consumes_as_a_group_and_commits(kcat: Kcat, broker: Broker, topic_name: str) -> None:
    broker.create_topic(topic_name, partitions=PARTITIONS)
    _produce_all(kcat, topic_name)
    group = f"kcat-{topic_name}"
    # -G: a balanced consumer group; -e ends at the end of every partition
    done = subprocess.run(
        [
            kcat.path,
            "-b",
            kcat.servers,
            "-G",
            group,
            "-X",
            "auto.offset.reset=earliest",
            "-X",
            "enable.auto.commit=false",
            "-e",
            "-q",
            "-f",
            FORMAT,
            topic_name,
        ],
        capture_output=True,
        env=kcat.env,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr.decode()
    reads = parse(done.stdout)
    assert sorted((r.key, r.value, r.headers) for r in reads) == sorted(RECORDS)
    # kcat -G commits what it read when it leaves (its offset store, committed on close)
    committed = broker.committed(group, topic_name)
    ends = broker.end_offsets(topic_name)
    assert {tp.partition: offset for tp, offset in committed.items()} == {
        p: end for p, end in ends.items() if end > 0
    }
