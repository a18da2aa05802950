"""The Kafka-API broker for ``tests/kafka``: one for the session (see
``tests/kafka_broker.py``)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.kafka_broker import KafkaServer


@pytest.fixture(scope="session")
def kafka_servers() -> Iterator[str]:
    server = KafkaServer().start()
    try:
        yield server.servers
    finally:
        server.stop()


@pytest.fixture
def kafka_url(kafka_servers: str) -> str:
    return f"kafka://{kafka_servers}"
