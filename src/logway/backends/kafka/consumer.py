"""The Kafka backend's consumer: one confluent-kafka ``Consumer``, read at the
positions this consumer keeps. Without group membership the thread that polls reads
the client itself, as a bare client loop does; a group member has a reading thread
that fills a short queue, since the group's callbacks run inside its reads and must
wait for the consumer's thread.

Positions belong to the thread that uses the consumer (``BaseConsumer``); a reading
thread only fetches. Whenever they change for another reason than reading
(a seek, a new assignment, a reset), the epoch moves on: what was read ahead is
dropped and the client is assigned again at the positions, so nothing is skipped
and nothing stale is handed out.

In a group the client subscribes, and the cluster's coordinator runs Kafka's eager
rebalance. Its callbacks run on the reading thread, inside ``consume``:

- on revoke, the consumer learns it has no partitions, and the callback waits
  until it asks again (``poll``, ``assignment``), which says it no longer uses
  them (it may commit meanwhile, as the group is still its), or until
  ``REVOKE_TIMEOUT_S`` passes; only then does the client rejoin;
- on assign, the callback takes no partitions yet; once ``consume`` returns, the
  reading thread waits for the consumer to take the assignment and work out where
  each partition starts (the group's committed offset, else the start point), and
  assigns the client there. So no record read under one assignment is handed out
  under the next.

Commits go through the member's own client: a Kafka cluster takes a group's
commits only from its current members while it has any. The reading thread makes
them between two reads, so they wait at most one short read (``READ_WAIT_S``); while
its queue is full it does not read (the client's partitions are paused) and makes
them at once. Those handed over with ``commit_async`` meanwhile go as one, in order.

A member reads ahead only once it has been polled: one used only for its assignment
and commits (a function's, whose partitions are read by consumers of their own)
never fetches records nobody takes.
"""

from __future__ import annotations

import asyncio
import threading
import time
import uuid
from collections import deque
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

from confluent_kafka import Consumer, KafkaError, KafkaException
from confluent_kafka import TopicPartition as KafkaTopicPartition

from logway.backends.kafka.mapping import kafka_error, records_from_messages
from logway.broker import DEFAULT_MAX_RECORDS, Start
from logway.consumer import REVOKE_TIMEOUT_S, BaseConsumer
from logway.errors import ClosedError, InvalidArgumentError, LogwayError, OffsetOutOfRangeError
from logway.records import Record, TopicPartition

if TYPE_CHECKING:
    from logway.backends.kafka import KafkaBroker

MAX_PENDING = 4  # batches read ahead per consumer
READ_BATCH = 1000  # records per consume call of a reading thread
# records per consume call of a poll without membership (a function's lane reads
# so). Few, because a client's messages are objects the cyclic garbage collector
# tracks (Records are not): those alive when an allocation starts a collection are
# promoted, and each time a quarter of the process's objects have been promoted the
# collector makes a full pass over all of them, tens of milliseconds in a large
# process. Reads of 1,000 had up to 1,000 alive at every collection (and the Records
# made from them start collections too): with batch_size 10,000 a function paid a
# full pass every few batches. Reads of 100 promote a tenth as many, and cost no
# more per message.
FILL_READ = 100
READ_SLICE_S = 0.1  # the longest read of a poll without membership (close waits for it)
READ_WAIT_S = 0.02  # how long one consume call waits for records (and commits wait)
IDLE_WAIT_S = 0.1  # how often a member that does not read serves the group's callbacks
COMMIT_INTERVAL_S = 0.01  # commits nobody waits for go at most this often (as one)
JOIN_TIMEOUT_S = 60.0
COMMIT_TIMEOUT_S = 60.0


class KafkaConsumer(BaseConsumer):
    def __init__(
        self,
        broker: KafkaBroker,
        topics: Sequence[str],
        counts: dict[str, int],
        group: str | None,
        start: Start,
        idle_timeout: float | None,
        assignor: str,
        manual: list[TopicPartition] | None,
        auto_reset: bool,
    ):
        super().__init__(broker, topics, group, start, idle_timeout, manual, auto_reset)
        self._kafka = broker
        self._member = group is not None and manual is None
        self._client = Consumer(
            {
                **broker._client_config("consumer"),
                "group.id": group if self._member else f"logway-reader-{uuid.uuid4().hex[:12]}",
                "enable.auto.commit": False,
                "enable.auto.offset.store": False,
                "auto.offset.reset": "error",
                "partition.assignment.strategy": assignor,  # logway's names are Kafka's
            }
        )
        self._cond = threading.Condition()
        # records read ahead, in chunks (or the failure met there), by epoch
        self._pending: deque[tuple[int, list[Record] | BaseException]] = deque()
        self._at = 0  # how much of the first chunk was handed out
        self._epoch = 0
        self._wanted: tuple[int, dict[TopicPartition, int]] | None = None
        self._membership: tuple[int, list[TopicPartition]] | None = None
        self._offered = 0  # generations the coordinator has given (reading thread)
        self._generation = -1  # the one this consumer took
        self._acked = -1  # the last one it asked again after taking
        self._to_assign = False  # an assignment came: assign once the consumer took it
        self._failure: BaseException | None = None
        # commits for the reading thread to make; ``None`` for those nobody waits for
        self._commits: deque[tuple[dict[TopicPartition, int], list[BaseException | None] | None]]
        self._commits = deque()
        self._commit_failure: BaseException | None = None  # of one nobody waited for
        self._committed_at = 0.0  # when the reading thread last made commits
        self._polled = False  # a member reads ahead only once it has been polled
        self._stopped = False  # the reading thread ended
        alone = self._member and not broker._group_active(group or "")
        if self._member:
            self._client.subscribe(
                list(self._topics),
                on_assign=self._on_assign,
                on_revoke=self._on_revoke,
                on_lost=self._on_lost,
            )
        else:
            self._set_assignment(
                manual or [TopicPartition(t, p) for t in self._topics for p in range(counts[t])]
            )
        self._using = threading.Lock()  # held while a poll uses the client (no thread)
        self._thread: threading.Thread | None = None
        if self._member:
            self._thread = threading.Thread(
                target=self._read, daemon=True, name="logway-kafka-read"
            )
            self._thread.start()
        if alone:  # else its partitions come once the others let them go
            self._wait_for_membership()

    # --- membership (callbacks run on the reading thread, inside consume) --------------

    def _wait_for_membership(self) -> None:
        deadline = time.monotonic() + JOIN_TIMEOUT_S
        with self._cond:
            while self._membership is None and self._failure is None:
                left = deadline - time.monotonic()
                if left <= 0:
                    self.close()
                    raise LogwayError(
                        f"no assignment for group {self._group!r} within {JOIN_TIMEOUT_S:g}s"
                    )
                self._cond.wait(left)
        self._refresh_assignment()

    def _offer(self, partitions: list[TopicPartition]) -> int:
        with self._cond:
            self._offered += 1
            self._membership = (self._offered, partitions)
            self._epoch += 1
            self._pending.clear()
            self._at = 0
            self._cond.notify_all()
        self._notify()
        return self._offered

    def _on_assign(self, client: Consumer, partitions: list[KafkaTopicPartition]) -> None:
        self._to_assign = True
        self._offer([TopicPartition(p.topic, p.partition) for p in partitions])
        client.assign([])  # the reading thread assigns, at the consumer's positions

    def _on_revoke(self, client: Consumer, partitions: list[KafkaTopicPartition]) -> None:
        generation = self._offer([])
        deadline = time.monotonic() + REVOKE_TIMEOUT_S
        while True:  # until the consumer asks again after learning of it
            self._serve_commits()  # the group is still this member's: its commits count
            with self._cond:
                left = deadline - time.monotonic()
                if self._acked >= generation or self._closed or left <= 0:
                    break
                if not self._commits:
                    self._cond.wait(left)
        client.unassign()

    def _on_lost(self, client: Consumer, partitions: list[KafkaTopicPartition]) -> None:
        self._offer([])  # already someone else's: nothing to wait for
        client.unassign()

    def _refresh_assignment(self) -> None:
        with self._cond:
            if self._generation > self._acked:
                self._acked = self._generation  # asked again since it took that one
                self._cond.notify_all()
            membership = self._membership
        if membership is not None and membership[0] != self._generation:
            self._generation = membership[0]
            self._set_assignment(membership[1])

    def _set_assignment(self, assigned: list[TopicPartition]) -> None:
        self._assign(assigned)
        self._reposition()

    def _reposition(self) -> None:
        """Drop what was read ahead; the reading thread assigns the client at the
        current positions."""
        with self._cond:
            self._epoch += 1
            self._pending.clear()
            self._at = 0
            self._wanted = (self._epoch, dict(self._positions))
            self._cond.notify_all()

    # --- the reading thread ---------------------------------------------------------

    def _read(self) -> None:
        """Consume into the queue; also the only thread that calls the client (a
        confluent-kafka client does not take calls from two threads at once)."""
        client = self._client
        # what this thread paused (a pause outlives assign and unassign in librdkafka)
        paused: list[KafkaTopicPartition] = []
        try:
            while True:
                with self._cond:
                    while (
                        not self._closed
                        and self._wanted is None
                        and not self._commits
                        and self._to_assign
                    ):
                        self._cond.wait()
                    if self._closed:
                        break
                    wanted, self._wanted = self._wanted, None
                    epoch = self._epoch
                    idle = not self._polled or len(self._pending) >= MAX_PENDING
                    due = self._commit_due()
                if due:
                    self._serve_commits()
                if wanted is not None:
                    self._to_assign = False
                    epoch, positions = wanted
                    if paused:
                        client.resume(paused)
                        paused = []
                    self._assign_client(positions)
                if idle and not paused:  # fetch nothing more until there is room
                    paused = client.assignment()
                    client.pause(paused)
                elif not idle and paused:
                    client.resume(paused)  # from the last message consumed on
                    paused = []
                # paused, a read only serves the group's callbacks: wait for work here
                messages = client.consume(READ_BATCH, 0 if idle else READ_WAIT_S)
                if not messages:
                    if idle:
                        with self._cond:
                            self._cond.wait_for(self._has_work, self._idle_wait())
                    continue
                chunks = _chunks(epoch, messages)
                with self._cond:
                    if epoch != self._epoch:
                        continue  # positions moved meanwhile: read again from them
                    self._pending.extend(chunks)
                self._notify()
            self._serve_commits()  # those handed over before the close are made
        except BaseException as exc:
            with self._cond:
                self._failure = exc
                self._cond.notify_all()
            self._notify()
        finally:
            with self._cond:
                self._stopped = True
                self._cond.notify_all()
            self._serve_commits()  # fails those still waiting

    def _has_work(self) -> bool:
        """Whether an idle reading thread has something to do (lock held)."""
        return (
            self._closed
            or self._wanted is not None
            or self._commit_due()
            or (self._polled and len(self._pending) < MAX_PENDING)
        )

    def _commit_due(self) -> bool:
        """Whether to make the commits handed over: at once when someone waits for
        them, else ``COMMIT_INTERVAL_S`` after the last (lock held)."""
        if not self._commits:
            return False
        if any(done is not None for _offsets, done in self._commits):
            return True
        return time.monotonic() - self._committed_at >= COMMIT_INTERVAL_S

    def _idle_wait(self) -> float:
        """How long an idle reading thread waits: until commits are due (lock held)."""
        if not self._commits:
            return IDLE_WAIT_S
        return max(0.0, self._committed_at + COMMIT_INTERVAL_S - time.monotonic())

    def _serve_commits(self) -> None:
        """Make the commits handed over so far as one (a later offset of a partition
        replaces an earlier one; they were handed over in order)."""
        while True:
            with self._cond:
                if not self._commits:
                    return
                requests = list(self._commits)
                self._commits.clear()
            self._committed_at = time.monotonic()
            offsets: dict[TopicPartition, int] = {}
            for wanted, _done in requests:
                offsets.update(wanted)
            failure: BaseException | None = None
            try:
                if self._stopped:
                    raise ClosedError("the consumer is closed")
                if offsets:
                    listed = [KafkaTopicPartition(t, p, o) for (t, p), o in offsets.items()]
                    self._client.commit(offsets=listed, asynchronous=False)
            except BaseException as exc:
                failure = exc
            with self._cond:
                waited = [done for _wanted, done in requests if done is not None]
                for done in waited:
                    done.append(failure)
                if failure is not None and not waited and self._commit_failure is None:
                    self._commit_failure = failure  # for the next who hands one over
                self._cond.notify_all()

    # --- without a group: the polling thread reads ------------------------------------

    def poll(
        self, timeout: float | None = 0.0, max_records: int = DEFAULT_MAX_RECORDS
    ) -> list[Record]:
        """A group member's records come from its reading thread; a consumer without
        membership reads in the thread that polls, as a bare client loop does."""
        if self._member:
            return super().poll(timeout, max_records)
        self._check_open()
        if max_records < 1:
            raise InvalidArgumentError(f"max_records must be at least 1, not {max_records}")
        if self._pending:  # read ahead already: the common case, kept short
            records = self._take_available(max_records)
            if records:
                return records
        deadline = None if timeout is None else time.monotonic() + timeout
        while True:
            left = READ_SLICE_S if deadline is None else deadline - time.monotonic()
            self._fill(max_records, max(0.0, min(left, READ_SLICE_S)))
            records = self._take_available(max_records)
            if records or self._closed:
                return records
            if deadline is not None and time.monotonic() >= deadline:
                return []

    async def apoll(
        self, timeout: float | None = 0.0, max_records: int = DEFAULT_MAX_RECORDS
    ) -> list[Record]:
        if self._member:
            return await super().apoll(timeout, max_records)
        return await asyncio.to_thread(self.poll, timeout, max_records)

    def _fill(self, max_records: int, wait: float) -> None:
        """Read into the queue, unless it holds records already: what the client has
        fetched, up to ``max_records`` (a read of ``n`` would wait until it has ``n``),
        else the first to arrive within ``wait`` and what came with it. Reads of at
        most ``FILL_READ``, each made Records at once (see there) and added to one
        list, so that a poll hands a large batch out without copying it."""
        with self._using:
            if self._closed or self._pending:
                return
            wanted, self._wanted = self._wanted, None
            if wanted is not None:
                self._assign_client(wanted[1])
            consume, pending, epoch = self._client.consume, self._pending, self._epoch
            got = 0
            while got < max_records:
                messages = consume(FILL_READ, 0)
                if not messages:
                    if got or wait <= 0:
                        break
                    messages = consume(1, wait)  # nothing fetched yet: the first to come
                    wait = 0
                    if not messages:
                        break
                for chunk in _chunks(epoch, messages):
                    last = pending[-1][1] if pending else None
                    if isinstance(last, list) and isinstance(chunk[1], list):
                        last += chunk[1]
                    else:
                        pending.append(chunk)
                got += len(messages)

    def _assign_client(self, positions: dict[TopicPartition, int]) -> None:
        if positions:
            self._client.assign([KafkaTopicPartition(t, p, o) for (t, p), o in positions.items()])
        else:
            self._client.unassign()

    def _take_available(self, max_records: int) -> list[Record]:
        if self._failure is not None and not self._closed:
            raise _error(self._failure)
        if not self._polled:
            with self._cond:
                self._polled = True  # from now on the reading thread reads ahead
                self._cond.notify_all()
        out: list[Record] = []
        failure: BaseException | None = None
        with self._cond:
            pending = self._pending
            while pending:
                head = pending[0][1]
                if isinstance(head, BaseException):
                    if not out:  # else hand out what came before it first
                        pending.popleft()
                        failure = head
                    break
                at = self._at
                end = at + max_records - len(out)
                if end < len(head):
                    part = head[at:end]
                    self._at = end
                else:
                    part = head[at:] if at else head
                    self._at = 0
                    pending.popleft()
                if out:
                    out += part
                else:
                    out = part
                if len(out) >= max_records:
                    break
            if self._member:
                self._cond.notify_all()  # room for the reading thread
        if out:
            _advance(self._positions, out)
        if failure is not None:
            self._handle_failure(failure)
        return out

    def _handle_failure(self, failure: BaseException) -> None:
        if not isinstance(failure, OffsetOutOfRangeError) or not self._auto_reset:
            self._reposition()  # so that the next poll tries again
            raise failure
        for tp in self._assigned:  # Kafka's auto.offset.reset: below start -> start
            low, high = self._kafka._watermarks(tp.topic, tp.partition)
            pos = self._positions[tp]
            self._positions[tp] = low if pos < low else min(pos, high)
        self._reposition()

    def _seek(self, tp: TopicPartition, offset: int) -> None:
        low, high = self._kafka._watermarks(tp.topic, tp.partition)
        OffsetOutOfRangeError.check(tp.topic, tp.partition, offset, low, high)
        self._positions[tp] = offset
        self._reposition()

    def _commit_offsets(self, offsets: dict[TopicPartition, int]) -> None:
        """A member commits through its own client, so on the reading thread: between
        two reads, or while it waits to let partitions go in a rebalance."""
        if not self._member:
            super()._commit_offsets(offsets)
            return
        done: list[BaseException | None] = []
        with self._cond:
            if self._stopped:
                raise ClosedError("the consumer is closed")
            self._commits.append((dict(offsets), done))
            self._cond.notify_all()
            if not self._cond.wait_for(lambda: done, COMMIT_TIMEOUT_S):
                raise LogwayError(
                    f"the commit for group {self._group!r} took over {COMMIT_TIMEOUT_S:g}s"
                )
        if done[0] is not None:
            raise _error(done[0], f"cannot commit for group {self._group!r}")

    def commit_async(self, offsets: Mapping[TopicPartition, int]) -> None:
        """Commit ``offsets`` for the group without waiting for the cluster: commits
        are made in the order they are handed over, those handed over meanwhile as
        one; a failure is raised by the next ``commit_async`` or ``flush_commits``.
        Without membership, the same as ``commit``."""
        self._check_open()
        if not self._member:
            self.commit(offsets)
            return
        commits = self._commits
        with self._cond:
            if self._commit_failure is not None or self._stopped:
                self._raise_commit_failure()
                raise ClosedError("the consumer is closed")
            if commits and commits[-1][1] is None:
                commits[-1][0].update(offsets)  # not taken yet: goes with it
            else:
                commits.append((dict(offsets), None))
                self._cond.notify_all()
        if self._committed:  # a later commit() of the same offset must not be skipped
            for tp in offsets:
                self._committed.pop(tp, None)

    def flush_commits(self) -> None:
        """Wait until the commits handed over with ``commit_async`` are made; raises
        the failure of any."""
        if self._member:
            self._commit_offsets({})  # made after every one handed over before it
            with self._cond:
                self._raise_commit_failure()

    def _raise_commit_failure(self) -> None:
        failure, self._commit_failure = self._commit_failure, None  # lock held
        if failure is not None:
            raise _error(failure, f"cannot commit for group {self._group!r}")

    def _close(self) -> None:
        with self._cond:
            self._cond.notify_all()
        if self._thread is not None:
            self._thread.join()
        try:
            with self._using:  # a poll in another thread ends its read first
                self._client.close()  # leaves a group at once, so the others rebalance
        finally:
            self._kafka._forget(self)


def _chunks(epoch: int, messages: list[Any]) -> list[tuple[int, list[Record] | BaseException]]:
    """A client's messages as Records, and a failure where a message has an error."""
    out: list[tuple[int, list[Record] | BaseException]] = []
    while messages:
        records, first = records_from_messages(messages)
        if records:
            out.append((epoch, records))
        if first < 0:
            break
        out.append((epoch, _failure(messages[first], messages[first].error())))
        messages = messages[first + 1 :]
    return out


def _advance(positions: dict[TopicPartition, int], records: list[Record]) -> None:
    """Each partition's position to after its last record: from the end, until every
    partition of the consumer has been seen (at once for one partition). A plain tuple
    key equals the TopicPartition key already there, which stays."""
    left = len(positions)
    seen: set[tuple[str, int]] = set()
    for r in reversed(records):
        tp = (r[0], r[1])
        if tp not in seen:
            seen.add(tp)
            positions[tp] = r[2] + 1  # type: ignore[index]
            if len(seen) >= left:
                return


def _failure(m: Any, error: KafkaError) -> BaseException:
    where = f"{m.topic()}/{m.partition()}" if m.topic() else "the consumer"
    if error.code() in (KafkaError._AUTO_OFFSET_RESET, KafkaError.OFFSET_OUT_OF_RANGE):
        return OffsetOutOfRangeError(f"the position of {where} is out of range: {error.str()}")
    return kafka_error(KafkaException(error), f"cannot read {where}")


def _error(exc: BaseException, what: str = "the consumer failed") -> LogwayError:
    return exc if isinstance(exc, LogwayError) else kafka_error(exc, what)
