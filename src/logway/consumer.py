"""What every backend's consumer shares: positions, buffering, waiting without
polling (a threading event for ``poll``, loop futures for ``apoll``), iteration,
commits and lag. A backend supplies how to get the assignment, how to take the
records available now, and how to seek."""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import AsyncIterator, Iterator, Mapping, Sequence

from logway.broker import DEFAULT_MAX_RECORDS, Broker, Start, offset_for_start
from logway.errors import ClosedError, InvalidArgumentError
from logway.records import Record, TopicPartition

# how long a group member may take to let go of partitions it lost in a rebalance
REVOKE_TIMEOUT_S = 30.0


class BaseConsumer:
    def __init__(
        self,
        broker: Broker,
        topics: Sequence[str],
        group: str | None,
        start: Start,
        idle_timeout: float | None,
        manual: list[TopicPartition] | None,
        auto_reset: bool,
    ):
        self._broker = broker
        self._topics = tuple(topics)
        self._group = group
        self._start = start
        self._idle_timeout = idle_timeout
        self._manual = manual
        self._auto_reset = auto_reset
        self._positions: dict[TopicPartition, int] = {}
        self._committed: dict[TopicPartition, int] = {}
        self._assigned: list[TopicPartition] = []
        self._buffer: list[Record] = []
        self._closed = False
        self._wake = threading.Event()
        self._async_waiters: list[tuple[asyncio.AbstractEventLoop, asyncio.Future[None]]] = []

    # --- what a backend supplies ------------------------------------------------------

    def _refresh_assignment(self) -> None:
        """Pick up a new assignment (after a rebalance) and its start positions."""
        raise NotImplementedError

    def _take_available(self, max_records: int) -> list[Record]:
        """Records available now, without waiting; advances ``_positions``."""
        raise NotImplementedError

    def _seek(self, tp: TopicPartition, offset: int) -> None:
        """Validate ``offset`` for ``tp`` and move there."""
        raise NotImplementedError

    def _close(self) -> None:
        """Release the backend's resources (listeners, streams, membership)."""

    def _commit_offsets(self, offsets: dict[TopicPartition, int]) -> None:
        """Store the group's offsets; a backend whose brokers take commits only from
        the group's members commits through its membership."""
        assert self._group is not None
        self._broker.commit(self._group, offsets)

    # --- assignment -------------------------------------------------------------------

    def _assign(self, assigned: list[TopicPartition]) -> None:
        """Take a new assignment. Without group membership positions carry over;
        in a group each partition starts at the group's committed offset, else at
        the consumer's start point."""
        committed = self._broker.committed(self._group) if self._group else {}
        keep = self._group is None or self._manual is not None
        positions = {}
        for tp in assigned:
            if keep and tp in self._positions:
                positions[tp] = self._positions[tp]
            elif tp in committed:
                positions[tp] = committed[tp]
            else:
                positions[tp] = self._start_position(tp)
        self._committed = {tp: committed[tp] for tp in assigned if tp in committed}
        self._positions = positions
        self._assigned = list(assigned)
        self._buffer = [r for r in self._buffer if (r.topic, r.partition) in positions]

    def _start_position(self, tp: TopicPartition) -> int:
        return offset_for_start(self._broker, tp, self._start)

    # --- waking -----------------------------------------------------------------------

    def _notify(self) -> None:
        """Called (from any thread) when records may have become available."""
        self._wake.set()
        for loop, fut in list(self._async_waiters):
            try:
                running = asyncio.get_running_loop()
            except RuntimeError:
                running = None
            if running is loop:
                _resolve(fut)
            else:
                loop.call_soon_threadsafe(_resolve, fut)

    # --- reading ----------------------------------------------------------------------

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
            self._refresh_assignment()
            records = self._take_available(max_records)
            if records or self._closed:
                return records
            remaining = None if deadline is None else deadline - time.monotonic()
            if remaining is not None and remaining <= 0:
                return []
            # a bounded wait only so that rebalances are picked up without a record
            self._wake.wait(1.0 if remaining is None else min(remaining, 1.0))
            if self._closed:
                return []

    async def apoll(
        self, timeout: float | None = 0.0, max_records: int = DEFAULT_MAX_RECORDS
    ) -> list[Record]:
        """``poll`` for asyncio: waits on the event loop, never blocks it."""
        self._check_open()
        if max_records < 1:
            raise InvalidArgumentError(f"max_records must be at least 1, not {max_records}")
        loop = asyncio.get_running_loop()
        deadline = None if timeout is None else loop.time() + timeout
        while True:
            fut: asyncio.Future[None] = loop.create_future()
            waiter = (loop, fut)
            self._async_waiters.append(waiter)
            try:
                self._refresh_assignment()
                records = self._take_available(max_records)
                if records or self._closed:
                    return records
                remaining = None if deadline is None else deadline - loop.time()
                if remaining is not None and remaining <= 0:
                    return []
                wait = 1.0 if remaining is None else min(remaining, 1.0)
                try:
                    await asyncio.wait_for(fut, wait)
                except TimeoutError:
                    pass
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
                self._buffer = batch[i + 1 :]
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

    # --- positions --------------------------------------------------------------------

    def assignment(self) -> list[TopicPartition]:
        self._check_open()
        self._refresh_assignment()
        return list(self._assigned)

    def position(self) -> dict[TopicPartition, int]:
        """The offset of the next record to be handed out, per assigned partition."""
        self._check_open()
        self._refresh_assignment()
        positions = dict(self._positions)
        for record in self._buffer:  # read ahead by the iterator but not handed out yet
            tp = TopicPartition(record.topic, record.partition)
            if tp in positions:
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
        self._seek(tp, offset)
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
            self._commit_offsets(changed)
            self._committed.update(changed)

    def lag(self) -> dict[TopicPartition, int]:
        """Records this consumer has yet to read: end offset - position."""
        positions = self.position()
        ends = {t: self._broker.end_offsets(t) for t in {tp.topic for tp in positions}}
        return {tp: ends[tp.topic][tp.partition] - pos for tp, pos in positions.items()}

    # --- lifecycle --------------------------------------------------------------------

    def _check_open(self) -> None:
        if self._closed:
            raise ClosedError("the consumer is closed")

    def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        self._close()
        self._notify()

    def __enter__(self) -> BaseConsumer:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _resolve(fut: asyncio.Future[None]) -> None:
    if not fut.done():
        fut.set_result(None)
