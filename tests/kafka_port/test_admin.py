"""Kafka's admin APIs on ``logway serve``'s Kafka port, with Kafka's own admin clients
(confluent-kafka's AdminClient, kafka-python's KafkaAdminClient and logway's own
Kafka backend): what they create, describe, grow and delete is what logway's API
sees; bad input gets Kafka's error code and changes nothing stored."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from typing import Any

import pytest
from confluent_kafka import KafkaError, KafkaException
from confluent_kafka.admin import (  # type: ignore[attr-defined]
    AdminClient,
    ConfigResource,
    NewPartitions,
    NewTopic,
)
from kafka.admin import ConfigResource as KpConfigResource  # type: ignore[import-untyped]
from kafka.admin import ConfigResourceType, KafkaAdminClient

import logway
from logway.broker import Broker

pytestmark = pytest.mark.slow  # a server process and Kafka clients

WEEK_MS = str(7 * 86_400_000)
DYNAMIC, DEFAULT = 1, 5  # Kafka's config sources


@pytest.fixture
def admin(bootstrap: str) -> AdminClient:
    return AdminClient({"bootstrap.servers": bootstrap})


@pytest.fixture
def kp_admin(bootstrap: str) -> Iterator[KafkaAdminClient]:
    client = KafkaAdminClient(bootstrap_servers=bootstrap, request_timeout_ms=10_000)
    try:
        yield client
    finally:
        client.close()


def _result(futures: dict[Any, Any]) -> None:
    for future in futures.values():
        future.result(10)


def _error(futures: dict[Any, Any]) -> KafkaError:
    """The one future's error (it must fail)."""
    (future,) = futures.values()
    with pytest.raises(KafkaException) as failed:
        future.result(10)
    error: KafkaError = failed.value.args[0]
    return error


def _describe(admin: AdminClient, kind: Any, name: str) -> dict[str, Any]:
    resource = ConfigResource(kind, name)
    entries: dict[str, Any] = admin.describe_configs([resource])[resource].result(10)
    return entries


def _stored(broker: Broker) -> dict[str, tuple[int, dict[str, Any]]]:
    """Every topic's partition count and settings, to show nothing changed."""
    out = {}
    for name in broker.list_topics():
        info = broker.describe_topic(name)
        out[name] = (info.partitions, info.config)
    return out


# --- CreateTopics ---------------------------------------------------------------------


def test_confluent_creates_a_topic_with_kafka_settings(
    admin: AdminClient, broker: Broker, topic_name: str
) -> None:
    settings = {
        "retention.ms": "3600000",
        "retention.bytes": "1048576",
        "compression.type": "gzip",
        "segment.bytes": "16777216",
        "max.message.bytes": "2097152",
        "cleanup.policy": "delete",
        "min.insync.replicas": "1",
    }
    _result(admin.create_topics([NewTopic(topic_name, 3, 1, config=settings)]))
    info = broker.describe_topic(topic_name)
    assert info.partitions == 3
    assert info.config["retention_ms"] == 3_600_000
    assert info.config["retention_bytes"] == 1 << 20
    assert info.config["compression"] == "gzip"
    assert info.config["segment_bytes"] == 16 << 20
    assert info.config["max_record_bytes"] == 2 << 20
    assert topic_name in admin.list_topics(timeout=10).topics


def test_defaults_are_one_partition_and_logways_settings(
    admin: AdminClient, broker: Broker, topic_name: str
) -> None:
    _result(admin.create_topics([NewTopic(topic_name)]))  # -1 and -1: the defaults
    assert broker.describe_topic(topic_name).partitions == 1
    entries = _describe(admin, ConfigResource.Type.TOPIC, topic_name)
    # a topic created with no settings: every one is logway's default (this also
    # checks the Kafka port's table of defaults against the log's own)
    assert {name: e.source for name, e in entries.items()} == dict.fromkeys(entries, DEFAULT)
    assert entries["retention.ms"].value == WEEK_MS
    assert entries["compression.type"].value == "producer"


def test_a_manual_assignment_on_node_1_is_taken(
    admin: AdminClient, broker: Broker, topic_name: str
) -> None:
    _result(admin.create_topics([NewTopic(topic_name, 2, replica_assignment=[[1], [1]])]))
    assert broker.describe_topic(topic_name).partitions == 2


BAD_TOPICS = [
    pytest.param("bad name!", 1, 1, {}, KafkaError.TOPIC_EXCEPTION, "contains", id="name"),
    pytest.param("x" * 250, 1, 1, {}, KafkaError.TOPIC_EXCEPTION, "250", id="long-name"),
    pytest.param(None, 1, 3, {}, KafkaError.INVALID_REPLICATION_FACTOR, "one node", id="rf3"),
    pytest.param(None, 0, 1, {}, KafkaError.INVALID_PARTITIONS, "at least 1", id="0-parts"),
    pytest.param(
        None, 1, 1, {"no.such.setting": "1"}, KafkaError.INVALID_CONFIG, "unknown", id="unknown"
    ),
    pytest.param(
        None, 1, 1, {"retention.ms": "soon"}, KafkaError.INVALID_CONFIG, "retention", id="value"
    ),
    pytest.param(
        None, 1, 1, {"segment.bytes": "10"}, KafkaError.INVALID_CONFIG, "segment", id="small"
    ),
    pytest.param(
        None, 1, 1, {"compression.type": "brotli"}, KafkaError.INVALID_CONFIG, "brotli", id="codec"
    ),
    pytest.param(
        None,
        1,
        1,
        {"cleanup.policy": "compact"},
        KafkaError.INVALID_CONFIG,
        "compact",
        id="compact",
    ),
    pytest.param(
        None, 1, 1, {"min.insync.replicas": "2"}, KafkaError.INVALID_CONFIG, "one", id="isr"
    ),
]


@pytest.mark.parametrize(("name", "partitions", "rf", "config", "code", "says"), BAD_TOPICS)
@pytest.mark.parametrize("validate_only", [False, True])
def test_bad_topics_get_kafkas_error_and_change_nothing(
    admin: AdminClient,
    broker: Broker,
    topic_name: str,
    name: str | None,
    partitions: int,
    rf: int,
    config: dict[str, str],
    code: int,
    says: str,
    validate_only: bool,
) -> None:
    name = name or topic_name
    before = _stored(broker)
    topic = NewTopic(name, partitions, rf, config=config)
    error = _error(admin.create_topics([topic], validate_only=validate_only))
    assert error.code() == code
    assert says in error.str()
    assert _stored(broker) == before


def test_a_second_assignment_node_is_refused(
    admin: AdminClient, broker: Broker, topic_name: str
) -> None:
    before = _stored(broker)
    error = _error(admin.create_topics([NewTopic(topic_name, 1, replica_assignment=[[1, 2]])]))
    assert error.code() == KafkaError.INVALID_REPLICA_ASSIGNMENT
    assert "one node" in error.str()
    assert _stored(broker) == before


def test_creating_an_existing_topic_is_refused(
    admin: AdminClient, broker: Broker, topic_name: str
) -> None:
    broker.create_topic(topic_name, partitions=2, retention_ms=60_000)
    broker.produce(topic_name, b"kept", partition=1)
    before = _stored(broker)
    for validate_only in (False, True):
        topic = NewTopic(topic_name, 5, 1, config={"retention.ms": "1000"})
        error = _error(admin.create_topics([topic], validate_only=validate_only))
        assert error.code() == KafkaError.TOPIC_ALREADY_EXISTS
    assert _stored(broker) == before
    assert broker.end_offsets(topic_name) == {0: 0, 1: 1}


def test_validate_only_checks_and_creates_nothing(
    admin: AdminClient, broker: Broker, topic_name: str
) -> None:
    topic = NewTopic(topic_name, 4, 1, config={"retention.ms": "1000"})
    _result(admin.create_topics([topic], validate_only=True))
    assert topic_name not in broker.list_topics()


def test_kafka_python_creates_v5_with_the_topics_settings(
    kp_admin: KafkaAdminClient, broker: Broker, topic_name: str
) -> None:
    """kafka-python speaks CreateTopics v5, whose answer holds the topic's settings."""
    checked = kp_admin.create_topics(
        {topic_name: {"num_partitions": 2, "configs": {"retention.ms": "60000"}}},
        validate_only=True,
    )
    assert topic_name not in broker.list_topics()
    (answer,) = checked["topics"]
    assert answer["error_code"] == 0 and answer["num_partitions"] == 2
    assert answer["configs"]["retention.ms"]["value"] == "60000"
    created = kp_admin.create_topics(
        {topic_name: {"num_partitions": 2, "configs": {"retention.ms": "60000"}}}
    )
    (answer,) = created["topics"]
    assert answer["error_code"] == 0
    assert answer["num_partitions"] == 2 and answer["replication_factor"] == 1
    configs = answer["configs"]
    assert configs["retention.ms"]["value"] == "60000"
    assert configs["retention.ms"]["config_source"] == "DYNAMIC_TOPIC_CONFIG"
    assert configs["segment.bytes"]["config_source"] == "DEFAULT_CONFIG"
    assert broker.describe_topic(topic_name).config["retention_ms"] == 60_000
    again = kp_admin.create_topics({topic_name: {"num_partitions": 1}}, raise_errors=False)
    assert again["topics"][0]["error_code"] == KafkaError.TOPIC_ALREADY_EXISTS
    assert broker.describe_topic(topic_name).partitions == 2


def test_a_topic_named_twice_in_one_request_is_refused(
    kp_admin: KafkaAdminClient, broker: Broker, topic_name: str
) -> None:
    from kafka.admin import NewTopic as KpNewTopic

    answer = kp_admin.create_topics(
        [KpNewTopic(topic_name, 1, 1), KpNewTopic(topic_name, 2, 1)], raise_errors=False
    )
    assert [t["error_code"] for t in answer["topics"]] == [KafkaError.INVALID_REQUEST]
    assert topic_name not in broker.list_topics()


# --- DescribeConfigs ------------------------------------------------------------------


def test_topic_settings_in_kafkas_names_with_their_source(
    admin: AdminClient, broker: Broker, topic_name: str
) -> None:
    broker.create_topic(topic_name, retention_ms="2h", compression="zstd")
    entries = _describe(admin, ConfigResource.Type.TOPIC, topic_name)
    assert {
        "cleanup.policy",
        "compression.type",
        "max.message.bytes",
        "message.timestamp.type",
        "min.insync.replicas",
        "retention.bytes",
        "retention.ms",
        "segment.bytes",
        "segment.ms",
    } <= entries.keys()
    assert entries["retention.ms"].value == str(2 * 3_600_000)
    assert entries["retention.ms"].source == DYNAMIC
    assert entries["compression.type"].value == "zstd"
    assert entries["compression.type"].source == DYNAMIC
    assert entries["segment.ms"].value == WEEK_MS and entries["segment.ms"].source == DEFAULT
    assert entries["cleanup.policy"].value == "delete"
    assert entries["message.timestamp.type"].value == "CreateTime"
    assert entries["min.insync.replicas"].value == "1"
    assert entries["cleanup.policy"].is_read_only
    assert not entries["retention.ms"].is_read_only
    assert not any(e.is_sensitive for e in entries.values())
    # synonyms: the topic's own value, then the broker default it overrides
    assert list(entries["retention.ms"].synonyms) == ["retention.ms", "log.retention.ms"]
    assert list(entries["segment.ms"].synonyms) == ["log.roll.ms"]


def test_the_node_describes_a_few_broker_settings(admin: AdminClient) -> None:
    entries = _describe(admin, ConfigResource.Type.BROKER, "1")
    values = {name: e.value for name, e in entries.items()}
    assert values["num.partitions"] == "1"
    assert values["default.replication.factor"] == "1"
    assert values["auto.create.topics.enable"] == "false"
    assert values["message.max.bytes"] == str(1 << 20)
    assert values["log.retention.ms"] == WEEK_MS
    assert all(e.is_read_only for e in entries.values())


def test_kafka_python_filters_by_key_and_reads_the_node(
    kp_admin: KafkaAdminClient, broker: Broker, topic_name: str
) -> None:
    broker.create_topic(topic_name, retention_ms=120_000)
    found = kp_admin.describe_configs(
        [
            KpConfigResource(ConfigResourceType.TOPIC, topic_name, {"retention.ms": None}),
            KpConfigResource(ConfigResourceType.BROKER, "1"),
        ],
        include_synonyms=True,
        config_filter="all",
    )
    topic = found["topic"][topic_name]
    assert list(topic) == ["retention.ms"]
    assert topic["retention.ms"]["value"] == "120000"
    assert [s["name"] for s in topic["retention.ms"]["synonyms"]] == [
        "retention.ms",
        "log.retention.ms",
    ]
    assert found["broker"]["1"]["num.partitions"]["value"] == "1"
    modified = kp_admin.describe_configs([KpConfigResource(ConfigResourceType.TOPIC, topic_name)])
    assert list(modified["topic"][topic_name]) == ["retention.ms"]


def test_describe_errors(admin: AdminClient, broker: Broker, topic_name: str) -> None:
    with pytest.raises(KafkaException) as unknown:
        _describe(admin, ConfigResource.Type.TOPIC, topic_name)
    assert unknown.value.args[0].code() == KafkaError.UNKNOWN_TOPIC_OR_PART
    with pytest.raises(KafkaException) as bad_name:
        _describe(admin, ConfigResource.Type.TOPIC, "bad name!")
    assert bad_name.value.args[0].code() == KafkaError.TOPIC_EXCEPTION
    with pytest.raises(KafkaException) as group:
        _describe(admin, ConfigResource.Type.GROUP, "some-group")
    assert group.value.args[0].code() == KafkaError.INVALID_REQUEST
    assert topic_name not in broker.list_topics()


# --- DeleteTopics ---------------------------------------------------------------------


def test_confluent_deletes_topics_and_missing_ones_are_unknown(
    admin: AdminClient, broker: Broker, topic_name: str
) -> None:
    broker.create_topic(topic_name, partitions=2)
    broker.produce(topic_name, b"gone")
    missing = f"missing-{uuid.uuid4().hex[:8]}"
    futures = admin.delete_topics([topic_name, missing])
    futures[topic_name].result(10)
    with pytest.raises(KafkaException) as failed:
        futures[missing].result(10)
    assert failed.value.args[0].code() == KafkaError.UNKNOWN_TOPIC_OR_PART
    assert topic_name not in broker.list_topics()
    broker.create_topic(topic_name)  # the name is free again, and the topic empty
    assert broker.end_offsets(topic_name) == {0: 0}


def test_kafka_python_deletes_a_topic(
    kp_admin: KafkaAdminClient, broker: Broker, topic_name: str
) -> None:
    broker.create_topic(topic_name)
    answer = kp_admin.delete_topics([topic_name])
    assert [t["error_code"] for t in answer["topics"]] == [0]
    assert topic_name not in broker.list_topics()
    again = kp_admin.delete_topics([topic_name], raise_errors=False)
    assert [t["error_code"] for t in again["topics"]] == [KafkaError.UNKNOWN_TOPIC_OR_PART]


# --- CreatePartitions -----------------------------------------------------------------


def test_confluent_adds_partitions(admin: AdminClient, broker: Broker, topic_name: str) -> None:
    broker.create_topic(topic_name, partitions=2, retention_ms=60_000)
    broker.produce(topic_name, b"first", partition=1)
    _result(admin.create_partitions([NewPartitions(topic_name, 5)]))
    info = broker.describe_topic(topic_name)
    assert info.partitions == 5 and info.config["retention_ms"] == 60_000
    assert broker.end_offsets(topic_name) == {0: 0, 1: 1, 2: 0, 3: 0, 4: 0}
    assert broker.produce(topic_name, b"new", partition=4).offset == 0
    metadata = admin.list_topics(topic_name, timeout=10).topics[topic_name]
    assert sorted(metadata.partitions) == [0, 1, 2, 3, 4]


@pytest.mark.parametrize(
    ("total", "assignment", "code"),
    [
        (1, None, KafkaError.INVALID_PARTITIONS),
        (2, None, KafkaError.INVALID_PARTITIONS),
        (3, [[2]], KafkaError.INVALID_REPLICA_ASSIGNMENT),
        (3, [[1, 2]], KafkaError.INVALID_REPLICA_ASSIGNMENT),
    ],
)
def test_bad_partition_counts_change_nothing(
    admin: AdminClient,
    broker: Broker,
    topic_name: str,
    total: int,
    assignment: list[list[int]] | None,
    code: int,
) -> None:
    broker.create_topic(topic_name, partitions=2)
    before = _stored(broker)
    grow = NewPartitions(topic_name, total, *([assignment] if assignment else []))
    error = _error(admin.create_partitions([grow]))
    assert error.code() == code
    assert _stored(broker) == before


def test_partitions_validate_only_and_unknown_topics(
    admin: AdminClient, broker: Broker, topic_name: str
) -> None:
    broker.create_topic(topic_name, partitions=2)
    _result(admin.create_partitions([NewPartitions(topic_name, 4)], validate_only=True))
    assert broker.describe_topic(topic_name).partitions == 2
    _result(admin.create_partitions([NewPartitions(topic_name, 3, [[1]])]))
    assert broker.describe_topic(topic_name).partitions == 3
    missing = f"missing-{uuid.uuid4().hex[:8]}"
    error = _error(admin.create_partitions([NewPartitions(missing, 3)]))
    assert error.code() == KafkaError.UNKNOWN_TOPIC_OR_PART
    assert missing not in broker.list_topics()


def test_kafka_python_adds_partitions(
    kp_admin: KafkaAdminClient, broker: Broker, topic_name: str
) -> None:
    broker.create_topic(topic_name, partitions=1)
    answer = kp_admin.create_partitions({topic_name: 3})
    assert [r.error_code for r in answer.results] == [0]
    assert broker.describe_topic(topic_name).partitions == 3
    fewer = kp_admin.create_partitions({topic_name: 2}, raise_errors=False)
    assert [r.error_code for r in fewer.results] == [KafkaError.INVALID_PARTITIONS]
    assert broker.describe_topic(topic_name).partitions == 3


# --- logway's own Kafka backend, on the port ------------------------------------------


def test_logways_kafka_backend_administers_topics_through_the_port(
    bootstrap: str, broker: Broker, topic_name: str
) -> None:
    """``kafka://`` on logway's Kafka port: create_topic, describe_topic (whose settings
    are those DescribeConfigs does not call defaults), add_partitions, delete_topic."""
    with logway.connect(f"kafka://{bootstrap}") as kafka:
        kafka.create_topic(topic_name, 2, retention_ms=5000, compression="lz4")
        described = kafka.describe_topic(topic_name)
        assert described.partitions == 2
        assert described.config == {"retention_ms": 5000, "compression": "lz4"}
        kafka.add_partitions(topic_name, 4)  # type: ignore[attr-defined]
        assert broker.describe_topic(topic_name).partitions == 4
        with pytest.raises(logway.InvalidArgumentError):
            kafka.add_partitions(topic_name, 3)  # type: ignore[attr-defined]
        kafka.delete_topic(topic_name)
    assert topic_name not in broker.list_topics()
