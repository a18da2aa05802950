"""Backup and restore are written against the Broker protocol: the same calls on a
logway server (gRPC: Fetch in batches, WriteAt) and on Kafka, where records keep
their offsets only from 0 without holes, and anything else is refused clearly."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

import logway
from logway import Record
from logway.backup import backup, marker_topic, restore
from tests.backup.records import RECENT, assert_same, produce
from tests.kafka_broker import KafkaServer
from tests.servers import LogwayServer

pytestmark = pytest.mark.slow  # a server process per test


@pytest.fixture
def server(tmp_path: Path) -> Iterator[LogwayServer]:
    s = LogwayServer(tmp_path / "served")
    s.start()
    yield s
    s.stop()


@pytest.fixture
def kafka() -> Iterator[KafkaServer]:
    s = KafkaServer().start()
    yield s
    s.stop()


def test_from_and_to_a_logway_server(server: LogwayServer, tmp_path: Path) -> None:
    with (
        logway.connect(server.url) as remote,
        logway.connect(f"file:{tmp_path / 'local'}") as local,
    ):
        remote.create_topic("t", partitions=3, retention_ms="30d")
        produce(remote, "t", 2000)
        end = remote.end_offsets("t")[1]
        remote.write_at("t", 1, [Record("t", 1, o, RECENT, b"k", b"v") for o in (end + 4, 99_999)])
        dest = str(tmp_path / "b")
        result = backup(remote, "t", dest, object_bytes="8KB")
        assert result.records == 2002
        restore(remote, dest, "t2")  # WriteAt over gRPC
        assert_same(remote, "t", "t2")
        restore(local, dest, "t3")
        assert_same(remote, "t", "t3", local)
        assert marker_topic("t2") not in remote.list_topics()


def test_on_kafka(kafka: KafkaServer, tmp_path: Path) -> None:
    with (
        logway.connect(kafka.url) as cluster,
        logway.connect(f"file:{tmp_path / 'local'}") as local,
    ):
        cluster.create_topic("t", partitions=2)
        produce(cluster, "t", 300)
        dest = str(tmp_path / "b")
        assert backup(cluster, "t", dest, object_bytes="4KB").records == 300
        restore(cluster, dest, "t2")
        assert_same(cluster, "t", "t2")
        restore(local, dest, "t3")
        assert_same(cluster, "t", "t3", local)


def test_kafka_refuses_offsets_it_cannot_keep(kafka: KafkaServer, tmp_path: Path) -> None:
    """A backup of a topic that starts past 0 cannot keep its offsets on Kafka: the
    restore says why and leaves no topic behind."""
    with (
        logway.connect(kafka.url) as cluster,
        logway.connect(f"file:{tmp_path / 'local'}") as local,
    ):
        local.create_topic("t")
        local.write_at("t", 0, [Record("t", 0, o, RECENT, b"k", b"v") for o in range(50, 60)])
        dest = str(tmp_path / "b")
        backup(local, "t", dest)
        with pytest.raises(logway.InvalidArgumentError, match="numbers records itself"):
            restore(cluster, dest, "t2")
        assert "t2" not in cluster.list_topics()
        assert marker_topic("t2") not in cluster.list_topics()
