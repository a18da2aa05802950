"""What the Kafka listener's handlers share: the broker, the node, idempotent
producers, the group coordinator, and waiting for appends (Fetch's long poll).

Broker calls block (files, fsync), so handlers run them in worker threads and the
event loop stays free for other connections.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Iterable
from typing import Any, TypeVar

from logway.broker import Broker, BrokerBase
from logway.records import TopicPartition
from logway.server.kafka.node import Node
from logway.server.kafka.producers import ProducerTable

T = TypeVar("T")
POLL_S = 0.05  # how often a long poll looks again on a backend that cannot tell of appends


class Door:
    def __init__(self, broker: Broker, node: Node, *, auto_create_topics: bool = False):
        self.broker = broker
        self.node = node
        self.auto_create_topics = auto_create_topics
        self.producers = ProducerTable()
        from logway.server.kafka.groups import GroupCoordinator

        self.groups = GroupCoordinator(broker)
        self.stopping = asyncio.Event()

    async def run(self, fn: Callable[..., T], *args: Any) -> T:
        """``fn(*args)`` in a worker thread."""
        return await asyncio.to_thread(fn, *args)

    async def wait_for_append(self, partitions: Iterable[TopicPartition], timeout: float) -> None:
        """Return after an append to one of ``partitions``, or after ``timeout`` s."""
        if timeout <= 0:
            return
        loop = asyncio.get_running_loop()
        woken = asyncio.Event()

        def wake() -> None:
            loop.call_soon_threadsafe(woken.set)

        unwatch: list[Callable[[], None]] = []
        watch = getattr(self.broker, "watch", None) if isinstance(self.broker, BrokerBase) else None
        try:
            for tp in partitions:
                stop = watch(tp.topic, tp.partition, wake) if watch is not None else None
                if stop is None:
                    timeout = min(timeout, POLL_S)
                    break
                unwatch.append(stop)
            try:
                await asyncio.wait_for(woken.wait(), timeout)
            except TimeoutError:
                pass
        finally:
            for stop in unwatch:
                stop()
