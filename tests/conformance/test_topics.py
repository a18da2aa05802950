"""Topic administration: create, list, describe, delete, and refusals."""

from __future__ import annotations

import pytest

import logway
from tests.conformance.conftest import BrokerFactory, BrokerLimit


def test_create_list_describe_delete(
    broker: logway.Broker, topic: str, broker_limit: BrokerLimit
) -> None:
    info = broker.create_topic(topic, partitions=3, retention_ms="1d")
    assert info.name == topic and info.partitions == 3
    assert topic in broker.list_topics()
    described = broker.describe_topic(topic)
    assert described.partitions == 3
    with broker_limit("topic_settings"):
        assert described.config.get("retention_ms") == 86_400_000
    assert broker.end_offsets(topic) == {0: 0, 1: 0, 2: 0}
    broker.delete_topic(topic)
    assert topic not in broker.list_topics()
    with pytest.raises(logway.UnknownTopicError):
        broker.describe_topic(topic)


def test_kafka_setting_names_are_accepted(
    broker: logway.Broker, topic: str, broker_limit: BrokerLimit
) -> None:
    broker.create_topic(topic, **{"retention.ms": 3_600_000, "segment.bytes": "1MB"})
    config = broker.describe_topic(topic).config
    with broker_limit("topic_settings"):
        assert config.get("retention_ms") == 3_600_000
        assert config["segment_bytes"] == 1 << 20


def test_create_twice_is_refused(broker: logway.Broker, topic: str) -> None:
    broker.create_topic(topic, partitions=2)
    with pytest.raises(logway.TopicExistsError):
        broker.create_topic(topic, partitions=5)
    assert broker.describe_topic(topic).partitions == 2


@pytest.mark.parametrize("name", ["", "has space", "a/b", ".", "..", "x" * 250, "é"])
def test_invalid_names_are_refused(broker: logway.Broker, name: str) -> None:
    before = broker.list_topics()
    with pytest.raises(logway.InvalidTopicNameError):
        broker.create_topic(name)
    assert broker.list_topics() == before


def test_longest_legal_name(broker: logway.Broker) -> None:
    name = "a.b_c-" + "x" * 243
    broker.create_topic(name)
    assert name in broker.list_topics()


@pytest.mark.parametrize("partitions", [0, -1, 1.5, "2", True])
def test_bad_partition_counts_are_refused(
    broker: logway.Broker, topic: str, partitions: object
) -> None:
    with pytest.raises(logway.InvalidArgumentError):
        broker.create_topic(topic, partitions=partitions)  # type: ignore[arg-type]
    assert topic not in broker.list_topics()


@pytest.mark.parametrize(
    "setting",
    [
        {"retention_ms": "soon"},
        {"no_such_setting": 1},
        {"compression": "brotli"},
        {"fsync": "sometimes"},
        {"segment_bytes": 10},
        {"max_record_bytes": "-1"},
    ],
)
def test_bad_settings_are_refused(broker: logway.Broker, topic: str, setting: dict) -> None:
    with pytest.raises(logway.InvalidArgumentError) as err:
        broker.create_topic(topic, **setting)
    assert str(err.value)
    assert topic not in broker.list_topics()


def test_unknown_topic_errors(broker: logway.Broker, topic: str) -> None:
    with pytest.raises(logway.UnknownTopicError, match=topic):
        broker.produce(topic, b"x")
    with pytest.raises(logway.UnknownTopicError):
        broker.fetch(topic, 0, 0)
    with pytest.raises(logway.UnknownTopicError):
        broker.delete_topic(topic)
    with pytest.raises(logway.UnknownTopicError):
        broker.end_offsets(topic)
    with pytest.raises(logway.UnknownTopicError):
        broker.consumer(topic)


def test_topics_survive_reopen(
    open_broker: BrokerFactory, topic: str, broker_limit: BrokerLimit
) -> None:
    first = open_broker()
    first.create_topic(topic, partitions=4, compression="gzip")
    first.close()
    second = open_broker()
    info = second.describe_topic(topic)
    assert info.partitions == 4
    with broker_limit("topic_settings"):
        assert info.config.get("compression") == "gzip"


def test_recreated_topic_starts_empty(broker: logway.Broker, topic: str) -> None:
    broker.create_topic(topic)
    broker.produce(topic, b"old")
    broker.commit("g", {logway.TopicPartition(topic, 0): 1})
    broker.delete_topic(topic)
    broker.create_topic(topic)
    assert broker.end_offsets(topic) == {0: 0}
    assert broker.committed("g", topic) == {}
