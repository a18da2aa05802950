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
import subprocess
import uuid
from dataclasses import dataclass
from pathlib import Path

import confluent_kafka
import pytest

import logway
from logway.partitioner import partition_for_key

pytestmark = pytest.mark.slow  # a broker process and a client process

KCAT_TIMEOUT_S = 60
# kcat's -f: a line of lengths and headers, then exactly %K key bytes and %S value bytes
FORMAT = r"%p %o %T %K %S %h\n%k%s\n"
PARTITIONS = 2
# (key, value, headers): values are binary, but not empty and without newlines (kcat -P
# splits its input on newlines and skips empty messages); header values hold no ","
# or "=" (kcat's %h prints headers as n=v CSV)
RECORDS: list[tuple[bytes, bytes, tuple[tuple[str, bytes], ...]]] = [
    (b"alice", b"\x00\x01\x02 binary \xff\xfe\r\t end", (("source", b"web"),)),
    (b"bob", "caf\u00e9 \u043a\u043b\u044e\u0447 \u2713".encode(), (("a", b"1"), ("b", b"2"))),
    (
        "\u043a\u043b\u044e\u0447-7".encode(),
        bytes(range(11, 256)),
        (("trace", b"t-1"), ("trace", b"t-2"), ("\u0436", "\u00fc".encode())),
    ),
    (b"carol", b'{"total": 42}', (("content-type", b"application/json"),)),
    (b"dave", b" ", (("empty", b""), ("x", b"y"))),
    (b"erin", b"last one", ()),
]


@dataclass(frozen=True)
class Read:
    """One record as kcat printed it."""

    partition: int
    offset: int
    timestamp: int
    key: bytes | None
    value: bytes | None
    headers: tuple[tuple[str, bytes], ...]


@dataclass(frozen=True)
class Kcat:
    """kcat for the test broker, run on the librdkafka shim (see the module's docstring)."""

    path: str
    servers: str
    env: dict[str, str]

    def __call__(self, *args: str, stdin: bytes = b"") -> bytes:
        """Its stdout; a failure with its stderr if it does not exit 0."""
        done = subprocess.run(
            [self.path, "-b", self.servers, *args],
            input=stdin,
            capture_output=True,
            env=self.env,
            timeout=KCAT_TIMEOUT_S,
        )
        assert done.returncode == 0, f"kcat {' '.join(args)} failed:\n{done.stderr.decode()}"
        return done.stdout


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


def parse(output: bytes) -> list[Read]:
    """kcat's ``FORMAT`` output, binary-safe: lengths first, then the bytes."""
    reads, at = [], 0
    while at < len(output):
        end = output.index(b"\n", at)
        partition, offset, timestamp, klen, vlen, *rest = output[at:end].split(b" ", 5)
        at = end + 1
        headers = (
            tuple(
                (name.decode(), value)
                for name, _, value in (h.partition(b"=") for h in rest[0].split(b",") if h)
            )
            if rest
            else ()
        )
        key = None if int(klen) < 0 else output[at : at + int(klen)]
        at += max(0, int(klen))
        value = None if int(vlen) < 0 else output[at : at + int(vlen)]
        at += max(0, int(vlen))
        assert output[at : at + 1] == b"\n", "kcat's output is not in the expected format"
        at += 1
        reads.append(Read(int(partition), int(offset), int(timestamp), key, value, headers))
    return reads


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
