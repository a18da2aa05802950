"""What the Kafka listener's handlers share: the broker, the node, who may do what
(``access``), idempotent producers, the group coordinator, and waiting for appends
(Fetch's long poll).

Broker calls block (files, fsync), so handlers run them in worker threads and the
event loop stays free for other connections.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Coroutine, Iterable
from typing import Any, TypeVar

from logway.broker import Broker, BrokerBase
from logway.records import TopicPartition
from logway.server.access import Access
from logway.server.kafka.node import Node
from logway.server.kafka.producers import ProducerTable

T = TypeVar("T")
POLL_S = 0.05  # how often a long poll looks again on a backend that cannot tell of appends


class _Syncs:
    """Group commit for one partition: how many waits were asked for, how many a
    finished sync covers, and the sync running now."""

    __slots__ = ("asked", "covered", "running")

    def __init__(self) -> None:
        self.asked = 0
        self.covered = 0
        self.running: asyncio.Task[None] | None = None


class Deferred:
    """A response that is ready later (a produce waiting for its fsync): the connection
    goes on reading requests meanwhile, and writes responses in request order."""

    __slots__ = ("correlation_id", "task")

    def __init__(self, work: Coroutine[Any, Any, Any]):
        self.task = asyncio.ensure_future(work)
        self.correlation_id = 0  # the listener's, for the response header


class Watch:
    """Appends to some partitions, noted as they happen until ``close``: ``wait``
    returns at once when one came since the last ``wait`` began, else at the next one
    or after ``timeout`` s. On a backend that cannot tell of appends it returns every
    ``POLL_S`` so the caller looks again."""

    def __init__(self, broker: Broker, partitions: Iterable[TopicPartition]):
        self._loop = asyncio.get_running_loop()
        self._woken = asyncio.Event()
        self._stops: list[Callable[[], None]] = []
        self.polling = False
        watch = broker.watch if isinstance(broker, BrokerBase) else None
        try:
            for tp in partitions:
                stop = watch(tp.topic, tp.partition, self._wake) if watch is not None else None
                if stop is None:
                    self.polling = True
                    break
                self._stops.append(stop)
        except BaseException:
            self.close()
            raise

    def _wake(self) -> None:  # from the appending thread
        self._loop.call_soon_threadsafe(self._woken.set)

    async def wait(self, timeout: float) -> None:
        if self.polling:
            timeout = min(timeout, POLL_S)
        if timeout > 0:
            try:
                await asyncio.wait_for(self._woken.wait(), timeout)
            except TimeoutError:
                pass
        self._woken.clear()

    def close(self) -> None:
        for stop in self._stops:
            stop()
        self._stops = []


class Door:
    def __init__(
        self,
        broker: Broker,
        node: Node,
        *,
        auto_create_topics: bool = False,
        access: Access | None = None,
    ):
        self.broker = broker
        self.node = node
        self.access = access or Access(broker)
        # whether handlers check ACLs (``permissions``): off, they do nothing more
        self.secured = self.access.enabled
        self.auto_create_topics = auto_create_topics
        self.producers = ProducerTable()
        # appends that only reach the page cache (the fsync comes after) are quicker
        # than a hop to a worker thread
        self.quick_appends = bool(getattr(broker, "quick_appends", False))
        self._syncs: dict[TopicPartition, _Syncs] = {}
        from logway.server.kafka.groups import GroupCoordinator

        self.groups = GroupCoordinator(broker)
        self.stopping = asyncio.Event()

    async def run(self, fn: Callable[..., T], *args: Any) -> T:
        """``fn(*args)`` in a worker thread."""
        return await asyncio.to_thread(fn, *args)

    async def durable(self, tp: TopicPartition) -> None:
        """Return once what was appended to ``tp`` before this call is as durable as
        its topic asks: a sync that began after the call finished. Waits that come
        while a sync runs share the next one, so one fsync serves many produces."""
        state = self._syncs.setdefault(tp, _Syncs())
        state.asked += 1
        mine = state.asked
        while state.covered < mine:
            if state.running is None:
                state.running = asyncio.ensure_future(self._sync(tp, state, state.asked))
            await asyncio.shield(state.running)

    async def _sync(self, tp: TopicPartition, state: _Syncs, target: int) -> None:
        try:
            await self.run(self._sync_now, tp)
            state.covered = max(state.covered, target)
        finally:
            state.running = None

    def _sync_now(self, tp: TopicPartition) -> None:
        if isinstance(self.broker, BrokerBase):
            self.broker.sync(tp.topic, tp.partition)

    def watch(self, partitions: Iterable[TopicPartition]) -> Watch:
        """Note appends to ``partitions`` from now on (before reading, so that one
        made between a read and the wait is not missed)."""
        return Watch(self.broker, partitions)
