"""The embedded backend's consumer: positions per partition, fetches from the log,
and waits for appends through partition listeners (no polling)."""

from __future__ import annotations

import asyncio
import threading
import time
import uuid
from collections.abc import AsyncIterator, Callable, Iterator, Mapping, Sequence
from typing import TYPE_CHECKING

from logway.broker import DEFAULT_MAX_BYTES, DEFAULT_MAX_RECORDS, Start
from logway.errors import ClosedError, InvalidArgumentError, OffsetOutOfRangeError
from logway.records import Record, TopicPartition

if TYPE_CHECKING:
    from logway.backends.embedded import EmbeddedBroker


class EmbeddedConsumer:
    def __init__(
        self,
        broker: EmbeddedBroker,
        topics: Sequence[str],
        group: str | None,
        start: Start,
        idle_timeout: float | None,
        assignor: str,
        manual: list[TopicPartition] | None = None,
    ):
        self._broker = broker
        self._topics = tuple(topics)
        self._group = group
        self._start = start
        self._idle_timeout = idle_timeout
        self._member = f"consumer-{uuid.uuid4().hex[:12]}"
        self._positions: dict[TopicPartition, int] = {}
        self._committed: dict[TopicPartition, int] = {}
        self._assigned: list[TopicPartition] = []
        self._generation = -1
        self._next = 0  # round-robin start among partitions, for fairness
        self._buffer: list[Record] = []
        self._closed = False
        self._wake = threading.Event()
        self._async_waiters: list[tuple[asyncio.AbstractEventLoop, asyncio.Future[None]]] = []
        self._listening: list[TopicPartition] = []
        self._manual = manual
        if group is not None and manual is None:
            broker._coordinator.join(group, self._member, self._topics, assignor)
        self._refresh_assignment()

    # --- assignment -----------------------------------------------------------------

    def _refresh_assignment(self) -> None:
        if self._group is None or self._manual is not None:
            if self._generation >= 0:
                return
            assigned = self._manual or [
                TopicPartition(t, p) for t in self._topics for p in range(self._broker._count(t))
            ]
            generation = 0
        else:
            generation, assigned = self._broker._coordinator.assignment(self._group, self._member)
            if generation == self._generation:
                return
        committed = self._broker.committed(self._group) if self._group else {}
        positions = {}
        for tp in assigned:
            if tp in self._positions and (self._group is None or self._manual is not None):
                positions[tp] = self._positions[tp]
            elif tp in committed:
                positions[tp] = committed[tp]
            else:
                positions[tp] = self._broker._start_position(tp, self._start)
        self._committed = {tp: committed[tp] for tp in assigned if tp in committed}
        self._positions = positions
        self._assigned = assigned
        self._generation = generation
        self._buffer = [
            r for r in self._buffer if TopicPartition(r.topic, r.partition) in positions
        ]
        self._listen(assigned)

    def _listen(self, assigned: list[TopicPartition]) -> None:
        for tp in self._listening:
            self._broker._remove_listener(tp, self._notify)
        self._listening = []
        for tp in assigned:
            self._broker._add_listener(tp, self._notify)
            self._listening.append(tp)

    def _notify(self) -> None:
        self._wake.set()
        for loop, fut in list(self._async_waiters):
            loop.call_soon_threadsafe(_resolve, fut)

    def assignment(self) -> list[TopicPartition]:
        self._check_open()
        self._refresh_assignment()
        return list(self._assigned)

    # --- reading --------------------------------------------------------------------

    def _fetch_available(self, max_records: int) -> list[Record]:
        self._refresh_assignment()
        out: list[Record] = []
        n = len(self._assigned)
        for k in range(n):
            if len(out) >= max_records:
                break
            tp = self._assigned[(self._next + k) % n]
            pos = self._positions[tp]
            try:
                records = self._broker.fetch(
                    tp.topic, tp.partition, pos, max_records - len(out), DEFAULT_MAX_BYTES
                )
            except OffsetOutOfRangeError:
                self._positions[tp] = self._broker._reset_position(tp, pos, self._start)
                continue
            if records:
                out.extend(records)
                self._positions[tp] = records[-1].offset + 1
        self._next = (self._next + 1) % max(n, 1)
        return out

    def poll(
        self, timeout: float | None = 0.0, max_records: int = DEFAULT_MAX_RECORDS
    ) -> list[Record]:
        """Records available now, or the first to arrive within ``timeout`` seconds
        (``None`` waits until there are some or the consumer is closed)."""
        self._check_open()
        if max_records < 1:
            raise InvalidArgumentError(f"max_records must be at least 1, not {max_records}")
        deadline = None if timeout is None else time.monotonic() + timeout
        while True:
            self._wake.clear()
            records = self._fetch_available(max_records)
            if records or self._closed:
                return records
            remaining = None if deadline is None else deadline - time.monotonic()
            if remaining is not None and remaining <= 0:
                return []
            self._wake.wait(remaining if remaining is not None else 1.0)
            if self._closed:
                return []

    async def apoll(
        self, timeout: float | None = 0.0, max_records: int = DEFAULT_MAX_RECORDS
    ) -> list[Record]:
        """``poll`` for asyncio: waits on the event loop, never blocks it."""
        self._check_open()
        loop = asyncio.get_running_loop()
        deadline = None if timeout is None else loop.time() + timeout
        while True:
            fut: asyncio.Future[None] = loop.create_future()
            waiter = (loop, fut)
            self._async_waiters.append(waiter)
            try:
                records = self._fetch_available(max_records)
                if records or self._closed:
                    return records
                remaining = None if deadline is None else deadline - loop.time()
                if remaining is not None and remaining <= 0:
                    return []
                try:
                    await asyncio.wait_for(fut, remaining)
                except TimeoutError:
                    return []
            finally:
                self._async_waiters.remove(waiter)
            if self._closed:
                return []

    def __iter__(self) -> Iterator[Record]:
        while not self._closed:
            if not self._buffer:
                self._buffer = self.poll(self._idle_timeout, DEFAULT_MAX_RECORDS)
                if not self._buffer:
                    return
            batch, self._buffer = self._buffer, []
            for i, record in enumerate(batch):
                if self._closed:
                    return
                self._buffer = batch[i + 1 :] if i + 1 < len(batch) else []
                yield record

    def __aiter__(self) -> AsyncIterator[Record]:
        return self._aiter()

    async def _aiter(self) -> AsyncIterator[Record]:
        while not self._closed:
            records = await self.apoll(self._idle_timeout, DEFAULT_MAX_RECORDS)
            if not records:
                return
            for record in records:
                yield record

    # --- positions ------------------------------------------------------------------

    def position(self) -> dict[TopicPartition, int]:
        """The offset of the next record to be returned, per assigned partition."""
        self._check_open()
        self._refresh_assignment()
        positions = dict(self._positions)
        for record in self._buffer:  # read ahead by the iterator but not handed out yet
            tp = TopicPartition(record.topic, record.partition)
            positions[tp] = min(positions[tp], record.offset)
        return positions

    def seek(self, partition: TopicPartition, offset: int) -> None:
        self._check_open()
        tp = TopicPartition(*partition)
        self._refresh_assignment()
        if tp not in self._positions:
            raise InvalidArgumentError(
                f"{tp.topic}/{tp.partition} is not assigned to this consumer"
            )
        self._broker._log.partition(tp.topic, tp.partition).check_offset(offset)
        self._positions[tp] = offset
        self._buffer = [r for r in self._buffer if (r.topic, r.partition) != tp]

    def commit(self, offsets: Mapping[TopicPartition, int] | None = None) -> None:
        """Commit ``offsets`` (default: the current positions) for the group."""
        self._check_open()
        if self._group is None:
            raise InvalidArgumentError("commit() needs a consumer created with a group")
        chosen = dict(self.position() if offsets is None else offsets)
        changed = {tp: off for tp, off in chosen.items() if self._committed.get(tp) != off}
        if changed:
            self._broker.commit(self._group, changed)
            self._committed.update(changed)

    def lag(self) -> dict[TopicPartition, int]:
        """Records this consumer has yet to read: end offset - position."""
        positions = self.position()
        return {
            tp: self._broker._log.partition(tp.topic, tp.partition).end_offset - pos
            for tp, pos in positions.items()
        }

    # --- lifecycle ------------------------------------------------------------------

    def _check_open(self) -> None:
        if self._closed:
            raise ClosedError("the consumer is closed")

    def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        for tp in self._listening:
            self._broker._remove_listener(tp, self._notify)
        self._listening = []
        if self._group is not None and self._manual is None:
            self._broker._coordinator.leave(self._group, self._member)
        self._broker._consumers.discard(self)
        self._notify()

    def __enter__(self) -> EmbeddedConsumer:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _resolve(fut: asyncio.Future[None]) -> None:
    if not fut.done():
        fut.set_result(None)


Listener = Callable[[], None]
