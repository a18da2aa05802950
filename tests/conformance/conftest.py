"""The conformance suite runs against every backend listed here.

A backend entry is a function that takes a scratch directory and returns a
factory; each call of the factory opens a new ``Broker`` on the same storage,
so tests can close a broker and reopen it to check what was kept. Later
backends (a logway server, a Kafka cluster) join by adding an entry.
``LOGWAY_TEST_BACKENDS=embedded,...`` narrows the run.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

import logway
from tests.servers import LogwayServer

BrokerFactory = Callable[[], logway.Broker]


def embedded(tmp: Path) -> BrokerFactory:
    return lambda: logway.connect(f"file:{tmp / 'data'}")


def remote(tmp: Path) -> BrokerFactory:
    """A real ``logway serve`` process; each factory call is a new client connection."""
    server = LogwayServer(tmp / "data")
    server.start()
    _servers.append(server)
    return lambda: logway.connect(server.url)


_servers: list[LogwayServer] = []
BACKENDS: dict[str, Callable[[Path], BrokerFactory]] = {"embedded": embedded, "remote": remote}
SLOW_BACKENDS = {"remote"}  # a server process per test: left out of make test-fast


def _selected() -> list[str]:
    wanted = os.environ.get("LOGWAY_TEST_BACKENDS")
    names = [n.strip() for n in wanted.split(",")] if wanted else list(BACKENDS)
    unknown = [n for n in names if n not in BACKENDS]
    if unknown:
        raise pytest.UsageError(f"unknown backends {unknown}; known: {sorted(BACKENDS)}")
    return names


@pytest.fixture(
    params=[
        pytest.param(name, marks=[pytest.mark.slow] if name in SLOW_BACKENDS else [])
        for name in _selected()
    ]
)
def open_broker(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[BrokerFactory]:
    make = BACKENDS[request.param](tmp_path)
    opened: list[logway.Broker] = []

    def factory() -> logway.Broker:
        broker = make()
        opened.append(broker)
        return broker

    yield factory
    for broker in opened:
        broker.close()
    while _servers:
        _servers.pop().stop()


@pytest.fixture
def broker(open_broker: BrokerFactory) -> logway.Broker:
    return open_broker()


@pytest.fixture
def topic() -> str:
    """A fresh topic name, so backends shared between tests never collide."""
    return f"t-{uuid.uuid4().hex[:10]}"
