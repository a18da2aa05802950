"""Live subscriptions fanned out from one reader per partition.

A subscriber is a cursor: the next offset on each of its partitions, a few bytes.
One that is behind reads the log at its cursor with ``fetch``. One that has caught
up takes the newest records from its partition's ``Tail``, which reads each record
from the log once, keeps the last few thousand, and caches every chunk in the forms
subscribers send (a serialized gRPC message, SSE text). A thousand live subscribers
so cost one read and one encoding per chunk, and a subscriber that falls behind
costs no memory: it drops back to reading the log at its own pace.
"""

from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import Callable, Mapping
from typing import Any, TypeVar

from logway.broker import Broker, Start, offset_for_start
from logway.errors import OffsetOutOfRangeError, ServerStoppingError, UnknownTopicError
from logway.recordbatch import codec
from logway.records import Record, TopicPartition
from logway.v1.status import format_resume

T = TypeVar("T")

TAIL_RECORDS = 4096  # the newest records a tail keeps for subscribers that caught up
CHUNK_RECORDS = 500  # records a tail reads at a time
CHUNK_BYTES = 1 << 20  # and bytes per chunk (a single larger record makes its own)
FETCH_BYTES = 1 << 20
MESSAGE_BYTES = 1 << 20  # what a subscriber takes at once, beyond its first chunk
TAIL_POLL_S = 5.0


class Chunk:
    """Consecutive records of one partition, with their encodings cached by name."""

    __slots__ = ("_forms", "first", "nbytes", "next", "partition", "records")

    def __init__(self, partition: int, records: list[Record], nbytes: int | None = None):
        self.partition = partition
        self.records = records
        self.first = records[0].offset
        self.next = records[-1].offset + 1
        self.nbytes = _size(records) if nbytes is None else nbytes
        self._forms: dict[str, Any] = {}

    def form(self, name: str, build: Callable[[Chunk], T]) -> T:
        try:
            return self._forms[name]  # type: ignore[no-any-return]
        except KeyError:
            value = self._forms[name] = build(self)
            return value

    def since(self, offset: int) -> Chunk:
        """This chunk from ``offset`` on (itself, when it starts there)."""
        if offset <= self.first:
            return self
        return Chunk(self.partition, [r for r in self.records if r.offset >= offset])

    def head(self, count: int) -> Chunk:
        return self if count >= len(self.records) else Chunk(self.partition, self.records[:count])


def _size(records: list[Record]) -> int:
    """Their keys, values and headers, and 20 bytes each for the rest of a record."""
    return codec.records_size(records) + 20 * len(records)


def split(partition: int, records: list[Record]) -> list[Chunk]:
    """Records as chunks of at most ``CHUNK_BYTES`` (at least one record each)."""
    total = _size(records)
    if total <= CHUNK_BYTES:  # the usual case: one look, in C
        return [Chunk(partition, records, total)]
    out: list[Chunk] = []
    start, size = 0, 0
    for i, record in enumerate(records):
        n = _size([record])
        if size and size + n > CHUNK_BYTES:
            out.append(Chunk(partition, records[start:i]))
            start, size = i, 0
        size += n
    out.append(Chunk(partition, records[start:] if start else records))
    return out


class Tail:
    """The newest records of one partition, read once for every caught-up subscriber."""

    def __init__(self, broker: Broker, tp: TopicPartition):
        self.tp = tp
        self.chunks: deque[Chunk] = deque()
        self.kept = 0
        self.wakers: set[asyncio.Event] = set()
        self.error: Exception | None = None
        self._consumer = broker.consumer(
            tp.topic, start="latest", partitions=[tp], auto_reset=False
        )
        self.start = self.end = self._consumer.position()[tp]
        self._task = asyncio.get_running_loop().create_task(self._pump())

    async def _pump(self) -> None:
        try:
            while True:
                records = await self._consumer.apoll(timeout=TAIL_POLL_S, max_records=CHUNK_RECORDS)
                if not records:
                    continue
                for chunk in split(self.tp.partition, records):
                    self.chunks.append(chunk)
                    self.kept += len(chunk.records)
                while len(self.chunks) > 1 and (
                    self.kept - len(self.chunks[0].records) >= TAIL_RECORDS
                ):
                    self.kept -= len(self.chunks.popleft().records)
                self.start = self.chunks[0].first
                self.end = self.chunks[-1].next
                for waker in self.wakers:
                    waker.set()
        except asyncio.CancelledError:
            raise
        except Exception as exc:  # the topic was deleted, the log closed, ...
            self.error = exc
            for waker in self.wakers:
                waker.set()

    def take(self, offset: int) -> list[Chunk] | None:
        """The chunks from ``offset`` on, or None when ``offset`` is older than the tail."""
        if self.error is not None:
            raise self.error
        if offset < self.start:
            return None
        if offset >= self.end:
            return []
        out = []
        for chunk in reversed(self.chunks):
            if chunk.next <= offset:
                break
            out.append(chunk)
        out.reverse()
        out[0] = out[0].since(offset)
        return out

    def close(self) -> None:
        self._task.cancel()
        self._consumer.close()


class Hub:
    """The tails of one broker, each alive while someone subscribes to its partition."""

    def __init__(self, broker: Broker):
        self.broker = broker
        self._tails: dict[TopicPartition, Tail] = {}
        self.stopping = False

    def stop(self) -> None:
        """The server is stopping: every subscription ends now with
        ``ServerStoppingError`` carrying its position, and no new one starts."""
        self.stopping = True
        for tail in list(self._tails.values()):
            for waker in tail.wakers:
                waker.set()

    def tail(self, tp: TopicPartition, waker: asyncio.Event) -> Tail:
        tail = self._tails.get(tp)
        if tail is not None and tail.error is not None:  # say, the topic was deleted
            tail.close()  # its subscribers have their error; newcomers get a new tail
            tail = None
        if tail is None:
            tail = self._tails[tp] = Tail(self.broker, tp)
        tail.wakers.add(waker)
        return tail

    def release(self, tp: TopicPartition, waker: asyncio.Event) -> None:
        tail = self._tails.get(tp)
        if tail is None or waker not in tail.wakers:  # it was on a tail replaced since
            return
        tail.wakers.discard(waker)
        if not tail.wakers:
            del self._tails[tp]
            tail.close()

    def positions(
        self,
        topic: str,
        partitions: list[int] | None,
        start: Start | int | Mapping[int, int] = "earliest",
        overrides: Mapping[int, int] | None = None,
    ) -> dict[int, int]:
        """Where a subscription starts on each partition: ``start`` is "earliest",
        "latest", a datetime, one offset for all, or offsets per partition (earliest
        where missing);
        ``overrides`` win. Every position must lie in the log."""
        count = self.broker.describe_topic(topic).partitions
        numbers = list(range(count)) if partitions is None else partitions
        for p in numbers:
            if not 0 <= p < count:
                raise UnknownTopicError(
                    f"topic {topic!r} has partitions 0 to {count - 1}; there is no partition {p}"
                )
        first = self.broker.start_offsets(topic)
        end = self.broker.end_offsets(topic)
        out: dict[int, int] = {}
        for p in numbers:
            if isinstance(start, Mapping):
                out[p] = start.get(p, first[p])
            elif isinstance(start, int) and not isinstance(start, bool):
                out[p] = start
            else:
                out[p] = offset_for_start(self.broker, TopicPartition(topic, p), start)
        for p, offset in (overrides or {}).items():
            if p in out:
                out[p] = offset
        for p, offset in out.items():
            OffsetOutOfRangeError.check(topic, p, offset, first[p], end[p])
        return out

    def subscribe(self, topic: str, positions: Mapping[int, int]) -> Subscription:
        if self.stopping:
            raise ServerStoppingError(
                "the logway server is stopping; subscribe again on the next one",
                dict(positions),
            )
        return Subscription(self, topic, positions)


class Subscription:
    """One subscriber's cursor over some partitions of a topic."""

    def __init__(self, hub: Hub, topic: str, positions: Mapping[int, int]):
        self.hub = hub
        self.topic = topic
        self.positions = dict(positions)
        self.waker = asyncio.Event()
        self.failure: Exception | None = None
        self._tails: dict[int, Tail] = {}
        try:
            for p in self.positions:
                self._tails[p] = hub.tail(TopicPartition(topic, p), self.waker)
        except BaseException:
            self.close()
            raise

    async def next(self, timeout: float, max_records: int) -> list[Chunk]:
        """The next records (at most ``max_records``), waiting up to ``timeout``
        seconds; [] when none came (time for a heartbeat)."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while True:
            self.waker.clear()
            if self.failure is not None:
                raise self.failure
            if self.hub.stopping:
                raise ServerStoppingError(
                    "the logway server is stopping; resume on the next one from offsets "
                    + format_resume(self.positions),
                    self.positions,
                )
            out = self._available(max_records)
            if out:
                return out
            remaining = deadline - loop.time()
            if remaining <= 0:
                return []
            try:
                async with asyncio.timeout(remaining):
                    await self.waker.wait()
            except TimeoutError:
                return []

    def revoke(self, failure: Exception) -> None:
        """End the subscription: its next ``next`` raises ``failure`` (say, its read
        permission was taken away)."""
        self.failure = failure
        self.waker.set()

    def _available(self, budget: int) -> list[Chunk]:
        out: list[Chunk] = []
        nbytes = 0
        for p, tail in self._tails.items():
            position = self.positions[p]
            chunks = tail.take(position)
            if chunks is None:  # behind the tail: read the log at our own cursor
                records = self.hub.broker.fetch(
                    self.topic, p, position, max_records=budget, max_bytes=FETCH_BYTES
                )
                chunks = split(p, records) if records else []
            for chunk in chunks:
                if budget <= 0 or (out and nbytes + chunk.nbytes > MESSAGE_BYTES):
                    return out
                chunk = chunk.head(budget)
                out.append(chunk)
                budget -= len(chunk.records)
                nbytes += chunk.nbytes
                self.positions[p] = chunk.next
        return out

    def close(self) -> None:
        for p in list(self._tails):
            self.hub.release(TopicPartition(self.topic, p), self.waker)
        self._tails.clear()
