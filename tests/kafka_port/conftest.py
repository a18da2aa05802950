"""One ``logway serve`` process for the session, with its Kafka port on: the tests
here talk to it with Kafka's own clients (confluent-kafka, kafka-python, aiokafka,
kcat) and check what they did through logway's API."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

import logway
from logway.broker import Broker
from tests.servers import LogwayServer


@pytest.fixture(scope="session")
def logway_kafka(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LogwayServer]:
    server = LogwayServer(Path(tmp_path_factory.mktemp("kafka-port")) / "data")
    server.start()
    try:
        yield server
    finally:
        assert server.stop() == 0


@pytest.fixture
def bootstrap(logway_kafka: LogwayServer) -> str:
    """bootstrap.servers of the server's Kafka port."""
    return logway_kafka.kafka


@pytest.fixture
def broker(logway_kafka: LogwayServer) -> Iterator[Broker]:
    """The same server through logway's own client, to check what Kafka clients did."""
    with logway.connect(logway_kafka.url) as b:
        yield b


@pytest.fixture
def topic_name() -> str:
    return f"t-{uuid.uuid4().hex[:10]}"
