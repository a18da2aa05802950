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

BrokerFactory = Callable[[], logway.Broker]


def embedded(tmp: Path) -> BrokerFactory:
    return lambda: logway.connect(f"file:{tmp / 'data'}")


BACKENDS: dict[str, Callable[[Path], BrokerFactory]] = {"embedded": embedded}


def _selected() -> list[str]:
    wanted = os.environ.get("LOGWAY_TEST_BACKENDS")
    names = [n.strip() for n in wanted.split(",")] if wanted else list(BACKENDS)
    unknown = [n for n in names if n not in BACKENDS]
    if unknown:
        raise pytest.UsageError(f"unknown backends {unknown}; known: {sorted(BACKENDS)}")
    return names


@pytest.fixture(params=_selected())
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


@pytest.fixture
def broker(open_broker: BrokerFactory) -> logway.Broker:
    return open_broker()


@pytest.fixture
def topic() -> str:
    """A fresh topic name, so backends shared between tests never collide."""
    return f"t-{uuid.uuid4().hex[:10]}"
