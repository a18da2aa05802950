"""The Kafka backend against a real Kafka-API broker: topics, producing with keys,
headers and timestamps, fetching, offsets, and group commits."""

from __future__ import annotations

import logging
import os
import socket
import subprocess
import sys
import time
import uuid

import pytest

import logway
from logway.partitioner import partition_for_key

pytestmark = pytest.mark.slow  # a broker process


@pytest.fixture
def topic() -> str:
    return f"k-{uuid.uuid4().hex[:10]}"


def test_topics_produce_and_fetch(kafka_url: str, topic: str) -> None:
    with logway.connect(kafka_url) as broker:
        info = broker.create_topic(topic, partitions=3, retention_ms="1d")
        assert info.partitions == 3 and info.config["retention.ms"] == "86400000"
        assert topic in broker.list_topics()
        assert broker.describe_topic(topic).partitions == 3
        with pytest.raises(logway.TopicExistsError):
            broker.create_topic(topic)
        # one record per call: see test_the_test_brokers_end_offset_limit
        produced = [
            broker.produce(
                topic, b"v0", key=b"a", headers={"h": b"1"}, timestamp=1_700_000_000_000
            ),
            broker.produce(topic, b"v1", partition=2),
            broker.produce(topic, b"v2", partition=1),
        ]
        assert [m.partition for m in produced][1:] == [2, 1]
        assert produced[0].timestamp == 1_700_000_000_000
        first = produced[0]
        (record,) = broker.fetch(topic, first.partition, first.offset, max_records=1)
        assert (record.key, record.value, record.headers) == (b"a", b"v0", (("h", b"1"),))
        assert record.timestamp == 1_700_000_000_000
        ends = broker.end_offsets(topic)
        assert sum(ends.values()) == 3 and broker.start_offsets(topic) == {0: 0, 1: 0, 2: 0}
        with pytest.raises(logway.OffsetOutOfRangeError):
            broker.fetch(topic, 2, ends[2] + 1)
        assert broker.fetch(topic, 2, ends[2]) == []
        broker.delete_topic(topic)
        assert topic not in broker.list_topics()


def test_keys_land_on_the_same_partitions_as_in_the_embedded_log(
    kafka_url: str, topic: str, tmp_path: object
) -> None:
    keys = [f"user-{i}".encode() for i in range(40)]
    with logway.connect(kafka_url) as broker:
        broker.create_topic(topic, partitions=7)
        produced = broker.produce_many(topic, [logway.Message(b"x", key=k) for k in keys])
    assert [m.partition for m in produced] == [partition_for_key(k, 7) for k in keys]
    with logway.connect("memory:") as embedded:
        embedded.create_topic(topic, partitions=7)
        local = embedded.produce_many(topic, [logway.Message(b"x", key=k) for k in keys])
    assert [m.partition for m in local] == [m.partition for m in produced]


def test_group_commits_and_lag(kafka_url: str, topic: str) -> None:
    group = f"g-{uuid.uuid4().hex[:8]}"
    with logway.connect(kafka_url) as broker:
        broker.create_topic(topic)
        for value in (b"a", b"b", b"c"):  # one per call: see the end offset limit below
            broker.produce(topic, value)
        with pytest.raises(logway.UnknownGroupError):
            broker.lag(group)
        broker.commit(group, {logway.TopicPartition(topic, 0): 2})
        assert broker.committed(group, topic) == {logway.TopicPartition(topic, 0): 2}
        (lag,) = broker.lag(group, topic)
        assert (lag.committed, lag.end_offset, lag.lag) == (2, 3, 1)
        assert group in broker.list_groups()
        assert broker.reset_group(group, topic, "earliest") == {logway.TopicPartition(topic, 0): 0}


def test_bad_input_gets_logway_errors(kafka_url: str, topic: str) -> None:
    with logway.connect(kafka_url) as broker:
        with pytest.raises(logway.UnknownTopicError):
            broker.produce(topic, b"nowhere")
        broker.create_topic(topic, partitions=2)
        with pytest.raises(logway.InvalidArgumentError, match="partition 5"):
            broker.produce(topic, b"x", partition=5)
        with pytest.raises(logway.InvalidArgumentError, match="fsync"):
            broker.create_topic(topic + "-x", fsync="always")
        with pytest.raises(logway.InvalidArgumentError):
            broker.create_topic("bad name!")
        assert broker.end_offsets(topic) == {0: 0, 1: 0}


def test_secrets_stay_out_of_the_url(kafka_servers: str) -> None:
    url = f"kafka://{kafka_servers}?sasl.password=hunter2&client.id=me"
    with logway.connect(url, security_protocol="PLAINTEXT") as broker:
        assert "hunter2" not in repr(broker) and "client.id=me" in repr(broker)


def test_a_cluster_down_is_a_logway_error_without_secrets(monkeypatch: pytest.MonkeyPatch) -> None:
    port = _closed_port()
    monkeypatch.setenv("LOGWAY_KAFKA_SASL_PASSWORD", "from-env-secret")
    url = (
        f"kafka://127.0.0.1:{port}?security.protocol=SASL_PLAINTEXT&sasl.mechanism=PLAIN"
        "&sasl.username=svc&sasl.password=hunter2&timeout=1"
    )
    with logway.connect(url) as broker:
        calls = (broker.list_topics, lambda: broker.produce("t", b"x"), broker.list_groups)
        for call in (*calls, lambda: broker.create_topic("t")):
            with pytest.raises(logway.LogwayError) as err:
                call()
            message = str(err.value)
            assert "the cluster at kafka://127.0.0.1" in message
            assert "hunter2" not in message and "from-env-secret" not in message
    with pytest.raises(logway.InvalidArgumentError, match="timeout"):
        logway.connect(f"kafka://127.0.0.1:{port}?timeout=soon")


def _closed_port() -> int:
    with socket.socket() as s:  # a port nothing listens on once it is closed
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_the_cli_on_a_cluster_down_prints_one_error_within_its_timeout() -> None:
    url = f"kafka://127.0.0.1:{_closed_port()}?timeout=2"
    started = time.monotonic()
    done = subprocess.run(
        [sys.executable, "-m", "logway.cli.main", "--url", url, "topics", "list"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    elapsed = time.monotonic() - started
    assert done.returncode != 0
    lines = done.stderr.strip().splitlines()
    assert len(lines) <= 3, done.stderr  # not librdkafka's line per retry
    assert url in done.stderr and "Connection refused" in done.stderr
    assert elapsed < 2 + 5, f"took {elapsed:.1f}s with timeout=2"


def test_requests_share_the_timeout_while_the_cluster_does_not_answer() -> None:
    with logway.connect(f"kafka://127.0.0.1:{_closed_port()}?timeout=3") as broker:
        started = time.monotonic()
        for call in (broker.list_topics, broker.list_groups, broker.list_topics):
            with pytest.raises(logway.LogwayError, match="did not answer within 3s"):
                call()
        elapsed = time.monotonic() - started
    # each on its own would wait 3 s: 9 s; shared, 3 s and a short look for the others
    assert elapsed < 7, f"three requests took {elapsed:.1f}s"


def test_librdkafka_lines_go_to_logging_once_each(
    caplog: pytest.LogCaptureFixture, capfd: pytest.CaptureFixture[str]
) -> None:
    caplog.set_level(logging.DEBUG, logger="logway.kafka")
    with logway.connect(f"kafka://127.0.0.1:{_closed_port()}?timeout=1") as broker:
        for _ in range(3):  # librdkafka retries the connection many times meanwhile
            with pytest.raises(logway.LogwayError):
                broker.list_topics()
    lines = [r.getMessage() for r in caplog.records if r.name == "logway.kafka"]
    refused = [line for line in lines if "Connection refused" in line]
    assert refused and len(refused) == len(set(refused)), lines
    assert "rdkafka" not in capfd.readouterr().err  # nothing straight to stderr


def test_the_test_brokers_end_offset_limit(kafka_url: str, topic: str) -> None:
    """States a limit of the broker the suite starts, so that it cannot pass silently:
    tansu reports a partition's end offset as its last batch's base offset + 1, not
    the offset after its last record. A real Kafka cluster (LOGWAY_TEST_KAFKA) does
    not, so there the end offset is the exact one."""
    # the records wait up to 1 s to share a batch (produce_many's flush sends them at
    # once): with logway's 1 ms linger a busy machine could send them one by one
    with logway.connect(f"{kafka_url}?linger.ms=1000") as broker:
        broker.create_topic(topic)
        broker.produce_many(topic, [b"a", b"b", b"c"])  # one batch of three
        assert [r.value for r in broker.fetch(topic, 0, 0)][:1] == [b"a"]
        expected = 3 if os.environ.get("LOGWAY_TEST_KAFKA") else 1
        assert broker.end_offsets(topic) == {0: expected}


def test_records_from_messages_in_c_and_in_python_agree(kafka_servers: str, topic: str) -> None:
    """The consumer turns a client's messages into Records in C when it is built; the
    pure-Python twin must give the same, up to the same first message with an error."""
    from confluent_kafka import Consumer
    from confluent_kafka import TopicPartition as KafkaTopicPartition

    from logway import _speedups
    from logway.backends.kafka.mapping import py_records_from_messages

    with logway.connect(f"kafka://{kafka_servers}") as broker:
        broker.create_topic(topic)
        broker.produce_many(
            topic,
            [
                logway.Message(b"v0", key=b"k0", headers=[("h", b"1"), ("h", None)], timestamp=5),
                logway.Message(None, key=None),
                logway.Message(b"", key=b"", headers={"x": "y"}),
            ],
        )
    client = Consumer(
        {"bootstrap.servers": kafka_servers, "group.id": "agree", "enable.partition.eof": True}
    )
    try:
        client.assign([KafkaTopicPartition(topic, 0, 0)])
        messages: list[object] = []
        while not messages or messages[-1].error() is None:  # type: ignore[attr-defined]
            messages += client.consume(10, 0.2)  # ends with the partition's end event
    finally:
        client.close()
    in_c, in_python = _speedups.records_from_messages(messages), py_records_from_messages(messages)
    assert in_c == in_python
    records, first_error = in_c
    assert first_error == len(messages) - 1 == 3
    assert [(r.key, r.value, r.headers) for r in records] == [
        (b"k0", b"v0", (("h", b"1"), ("h", None))),
        (None, None, ()),
        (b"", b"", (("x", b"y"),)),
    ]
    assert records[0].timestamp == 5 and all(type(r) is logway.Record for r in records)


def test_a_poll_without_membership_hands_out_what_several_reads_fetched(
    kafka_url: str, topic: str
) -> None:
    """A consumer of chosen partitions (a function's lane) reads the client in small
    reads (``FILL_READ``: few of the client's messages alive at once for the garbage
    collector) yet hands out up to ``max_records`` in one poll, in order, and no more
    than asked."""
    from logway.backends.kafka.consumer import FILL_READ

    total = FILL_READ * 4 + 50
    with logway.connect(kafka_url) as broker:
        broker.create_topic(topic)
        broker.produce_many(topic, [str(i).encode() for i in range(total)])
        tp = logway.TopicPartition(topic, 0)
        with broker.consumer(topic, partitions=[tp], start="earliest") as consumer:
            polls: list[list[logway.Record]] = []
            deadline = time.monotonic() + 30
            while sum(map(len, polls)) < total and time.monotonic() < deadline:
                records = consumer.poll(timeout=1, max_records=FILL_READ * 3)
                if records:
                    polls.append(records)
    values = [r.value for records in polls for r in records]
    assert values == [str(i).encode() for i in range(total)]
    assert all(len(records) <= FILL_READ * 3 for records in polls)
    assert max(map(len, polls)) > FILL_READ  # several reads, one poll
