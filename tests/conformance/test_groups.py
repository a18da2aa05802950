"""Committed offsets, lag and resets of consumer groups."""

from __future__ import annotations

import datetime as dt

import pytest

import logway
from logway import Message, TopicPartition
from tests.conformance.conftest import BrokerLimit
from tests.conformance.reading import take


def test_commit_committed_and_lag(open_broker, topic: str) -> None:  # type: ignore[no-untyped-def]
    broker = open_broker()
    broker.create_topic(topic, partitions=2)
    broker.produce_many(topic, [b"a", b"b", b"c"], partition=0)
    broker.produce_many(topic, [b"d"], partition=1)
    broker.commit("g1", {TopicPartition(topic, 0): 2})
    assert broker.committed("g1") == {TopicPartition(topic, 0): 2}
    assert "g1" in broker.list_groups()
    lags = {x.partition: x for x in broker.lag("g1", topic)}
    assert (lags[0].committed, lags[0].end_offset, lags[0].lag) == (2, 3, 1)
    assert (lags[1].committed, lags[1].lag) == (None, 1)
    broker.close()
    broker = open_broker()
    assert broker.committed("g1") == {TopicPartition(topic, 0): 2}


def test_commits_are_atomic_and_validated(broker: logway.Broker, topic: str) -> None:
    broker.create_topic(topic, partitions=2)
    broker.produce(topic, b"a", partition=0)
    with pytest.raises(logway.OffsetOutOfRangeError):
        broker.commit("g", {TopicPartition(topic, 0): 1, TopicPartition(topic, 1): 5})
    with pytest.raises(logway.UnknownTopicError):
        broker.commit("g", {TopicPartition(topic, 0): 1, TopicPartition(topic, 9): 0})
    with pytest.raises(logway.InvalidArgumentError):
        broker.commit("g", {TopicPartition(topic, 0): -1})
    with pytest.raises(logway.InvalidArgumentError):
        broker.commit("", {TopicPartition(topic, 0): 1})
    assert broker.committed("g") == {}


def test_lag_of_unknown_group(broker: logway.Broker) -> None:
    with pytest.raises(logway.UnknownGroupError):
        broker.lag("nobody")


def test_reset_group(broker: logway.Broker, topic: str, broker_limit: BrokerLimit) -> None:
    broker.create_topic(topic, retention_ms=-1)  # old timestamps: kept, not retention's
    broker.produce_many(topic, [Message(f"v{i}", timestamp=1_000 * (i + 1)) for i in range(10)])
    tp = TopicPartition(topic, 0)
    assert broker.reset_group("g", topic, "latest") == {tp: 10}
    assert broker.reset_group("g", topic, "earliest") == {tp: 0}
    assert broker.reset_group("g", topic, 4) == {tp: 4}
    when = dt.datetime.fromtimestamp(6.5, tz=dt.UTC)
    with broker_limit("time_index"):
        assert broker.reset_group("g", topic, when) == {tp: 6}
    broker.reset_group("g", topic, 6)
    with broker.consumer(topic, group="g") as consumer:
        assert take(consumer, 1)[0].value == b"v6"
    for bad in (11, -3):
        with pytest.raises(logway.OffsetOutOfRangeError):
            broker.reset_group("g", topic, bad)
    with pytest.raises(logway.InvalidArgumentError):
        broker.reset_group("g", topic, "yesterday")  # type: ignore[arg-type]
    assert broker.committed("g") == {tp: 6}


def test_reset_refused_while_members_are_active(broker: logway.Broker, topic: str) -> None:
    broker.create_topic(topic)
    with (
        broker.consumer(topic, group="busy"),
        pytest.raises(logway.InvalidArgumentError, match="active"),
    ):
        broker.reset_group("busy", topic, "earliest")
    broker.reset_group("busy", topic, "earliest")


def test_groups_are_independent(broker: logway.Broker, topic: str) -> None:
    broker.create_topic(topic)
    broker.produce_many(topic, [b"1", b"2", b"3"])
    with broker.consumer(topic, group="a") as a:
        assert len(take(a, 3)) == 3
        a.commit()
    with broker.consumer(topic, group="b") as b:
        assert len(take(b, 3)) == 3
    assert broker.committed("a") == {TopicPartition(topic, 0): 3}
    assert broker.committed("b") == {}
