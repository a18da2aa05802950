"""Growing a topic's partition count (``BrokerBase.add_partitions``, Kafka's
CreatePartitions): records stay where they are, the new partitions take records,
the count survives a reopen, a group's consumers get the new partitions; a count not
above the current one is refused and changes nothing.

A logway server's clients ask the server (gRPC AddPartitions); the suite's
Kafka-API test broker (tansu) has no CreatePartitions."""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager

import pytest

import logway
from logway.broker import add_partitions, can_add_partitions
from tests.conformance.conftest import BrokerFactory


def _backend(request: pytest.FixtureRequest) -> str:
    return str(request.node.callspec.params["open_broker"])


@contextmanager
def _grows(request: pytest.FixtureRequest, broker: logway.Broker, topic: str) -> Iterator[bool]:
    """Around growing ``topic``: yields whether the backend grows it; where it cannot,
    the call must fail with the backend's stated refusal and leave the count as it was."""
    backend = _backend(request)
    before = broker.describe_topic(topic).partitions
    if backend == "kafka" and not os.environ.get("LOGWAY_TEST_KAFKA"):
        with pytest.raises(logway.LogwayError, match=r"CreatePartitions .* not supported"):
            yield False
        assert broker.describe_topic(topic).partitions == before
    else:
        assert can_add_partitions(broker)
        yield True


def test_partitions_are_added(
    request: pytest.FixtureRequest, open_broker: BrokerFactory, topic: str
) -> None:
    broker = open_broker()
    broker.create_topic(topic, partitions=2, retention_ms="1d")
    broker.produce(topic, b"p0", partition=0)
    broker.produce(topic, b"p1", partition=1)
    with _grows(request, broker, topic) as grows:
        add_partitions(broker, topic, 5)
    if not grows:
        return
    info = broker.describe_topic(topic)
    assert info.partitions == 5
    assert info.config.get("retention_ms") == 86_400_000
    assert broker.end_offsets(topic) == {0: 1, 1: 1, 2: 0, 3: 0, 4: 0}
    assert broker.produce(topic, b"p4", partition=4).offset == 0
    assert [r.value for r in broker.fetch(topic, 4, 0)] == [b"p4"]
    assert [r.value for r in broker.fetch(topic, 0, 0)] == [b"p0"]
    broker.close()
    reopened = open_broker()
    assert reopened.describe_topic(topic).partitions == 5
    assert reopened.end_offsets(topic) == {0: 1, 1: 1, 2: 0, 3: 0, 4: 1}
    assert [r.value for r in reopened.fetch(topic, 4, 0)] == [b"p4"]


def test_a_count_not_above_the_current_one_is_refused(broker: logway.Broker, topic: str) -> None:
    broker.create_topic(topic, partitions=3)
    for total in (3, 2, 0):
        with pytest.raises(logway.InvalidArgumentError):
            add_partitions(broker, topic, total)
    assert broker.describe_topic(topic).partitions == 3
    assert broker.end_offsets(topic) == {0: 0, 1: 0, 2: 0}


def test_an_unknown_topic_is_refused(request: pytest.FixtureRequest, broker: logway.Broker) -> None:
    backend = _backend(request)
    tansu = backend == "kafka" and not os.environ.get("LOGWAY_TEST_KAFKA")
    with pytest.raises(logway.LogwayError if tansu else logway.UnknownTopicError):
        add_partitions(broker, "no-such-topic", 4)
    assert "no-such-topic" not in broker.list_topics()


def test_a_group_gets_the_new_partitions(
    request: pytest.FixtureRequest, broker: logway.Broker, topic: str
) -> None:
    if _backend(request) != "embedded":
        pytest.skip("a group's members learn of new partitions as their backend refreshes")
    broker.create_topic(topic, partitions=1)
    broker.produce(topic, b"first")
    with broker.consumer(topic, group="g", idle_timeout=0) as consumer:
        assert [r.value for r in consumer.poll(1.0)] == [b"first"]
        consumer.commit()
        add_partitions(broker, topic, 3)
        broker.produce(topic, b"new", partition=2)
        got = consumer.poll(1.0)
        assert [(r.partition, r.value) for r in got] == [(2, b"new")]
        assert sorted(tp.partition for tp in consumer.assignment()) == [0, 1, 2]
