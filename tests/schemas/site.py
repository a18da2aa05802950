"""A real ``logway serve`` for the schema registry's tests: the registry's REST API at
``/schemas`` on its HTTP port, its Kafka port for Confluent's serializers, and its data
directory through the server's own socket (``admin``) to set up and to check."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from confluent_kafka.schema_registry import SchemaRegistryClient

import logway
from logway.broker import Broker
from tests.servers import LogwayServer


@dataclass
class Site:
    server: LogwayServer
    admin: Broker  # the data directory through the server's socket: no HTTP, no checks

    @property
    def url(self) -> str:
        return f"{self.server.http}/schemas"

    def registry(self, **conf: Any) -> SchemaRegistryClient:
        return SchemaRegistryClient({"url": self.url, "max.retries": 0, **conf})


@contextmanager
def running(data: Path) -> Iterator[Site]:
    """The server on ``data``, stopped after (it must stop cleanly)."""
    server = LogwayServer(data)
    server.start()
    admin = logway.connect(f"file:{data}")
    try:
        yield Site(server, admin)
    finally:
        admin.close()
        assert server.stop() == 0, "".join(server.output)
