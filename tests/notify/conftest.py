"""Fixtures for notification tests: a broker in a temporary directory, and running
notifications until a condition holds."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Iterator
from typing import Any

import pytest

import logway
from logway.broker import Broker
from logway.notify.runner import NotifyRunner, NotifySpec
from logway.notify.settings import NotifySettings


@pytest.fixture
def broker() -> Iterator[Broker]:
    with logway.connect("memory:") as b:
        yield b


def spec(source: str, name: str = "n", **settings: Any) -> NotifySpec:
    settings.setdefault("backoff", ("10ms", "50ms"))
    settings.setdefault("starting_position", "earliest")
    settings.setdefault("rate", None)
    return NotifySpec(name, source, NotifySettings.build(source, **settings))


@contextlib.asynccontextmanager
async def running(broker: Broker, *specs: NotifySpec) -> AsyncIterator[list[NotifyRunner]]:
    """Run ``specs`` as the app ``test`` while the block runs; stop them after it."""
    stopping = asyncio.Event()
    runners = [s.make_runner(broker, "test") for s in specs]
    tasks = [asyncio.ensure_future(r.run(stopping)) for r in runners]
    try:
        yield runners
    finally:
        stopping.set()
        await asyncio.wait_for(asyncio.gather(*tasks), 30)


def parked(broker: Broker, topic: str) -> list[logway.Record]:
    """Every record on the failure topic ``topic``."""
    out: list[logway.Record] = []
    for p, end in broker.end_offsets(topic).items():
        if end:
            out += broker.fetch(topic, p, broker.start_offsets(topic)[p], max_records=10_000)
    return out
