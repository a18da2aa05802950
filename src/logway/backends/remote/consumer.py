"""The remote backend's consumer: one ``Subscribe`` stream per topic from exact
positions, read by a thread into a short queue (gRPC flow control holds the rest
back), and, with a group, a ``JoinGroup`` stream that carries the assignment."""

from __future__ import annotations

import threading
from collections import deque
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any, cast

import grpc

from logway.broker import Start
from logway.consumer import BaseConsumer
from logway.errors import LogwayError, OffsetOutOfRangeError
from logway.records import Record, TopicPartition
from logway.v1 import convert
from logway.v1 import log_pb2 as pb

if TYPE_CHECKING:
    from logway.backends.remote import RemoteBroker

MAX_PENDING = 4  # messages read ahead per consumer
JOIN_TIMEOUT = 30.0


class RemoteConsumer(BaseConsumer):
    def __init__(
        self,
        broker: RemoteBroker,
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
        self._remote = broker
        self._counts = counts
        self._space = threading.Condition()
        self._pending: deque[tuple[int, list[Record] | BaseException]] = deque()
        self._epoch = 0
        self._calls: list[Any] = []
        self._restart = True
        self._membership: tuple[int, list[TopicPartition]] | None = None
        self._membership_error: BaseException | None = None
        self._generation = -1
        self._acked = 0  # the last generation it told the server it had applied
        self._member_id = ""
        self._join_call: Any = None
        self._join_stub: Any = None
        self._stream_stub: Any = None
        self._assignor = assignor
        if group is not None and manual is None:
            self._join(assignor)
        else:
            self._set_assignment(
                manual or [TopicPartition(t, p) for t in self._topics for p in range(counts[t])]
            )

    # --- membership -------------------------------------------------------------------

    def _join(self, assignor: str) -> None:
        assert self._group is not None
        request = pb.JoinGroupRequest(group=self._group, topics=self._topics, assignor=assignor)
        self._join_stub = self._remote.stub
        self._join_call = self._join_stub.JoinGroup(request, metadata=self._remote.metadata)
        first = threading.Event()
        threading.Thread(
            target=self._follow_membership,
            args=(self._join_call, first),
            daemon=True,
            name=f"logway-join {self._group}",
        ).start()
        if not first.wait(JOIN_TIMEOUT):
            self._join_call.cancel()
            raise LogwayError(f"no assignment for group {self._group!r} within {JOIN_TIMEOUT:g}s")
        if self._membership_error is not None:
            self._join_call.cancel()
            from logway.backends.remote import raise_rpc_error

            raise_rpc_error(self._membership_error)
        self._refresh_assignment()

    def _rejoin(self) -> None:
        """A new membership after the connection was lost: partitions start again
        from the group's committed offsets (at least once)."""
        self._cancel_streams()
        self._membership = None
        self._generation = -1
        self._acked = 0
        self._positions = {}
        self._join(self._assignor)

    def _follow_membership(self, call: Any, first: threading.Event) -> None:
        try:
            for assignment in call:
                parts = [TopicPartition(p.topic, p.partition) for p in assignment.partitions]
                self._member_id = assignment.member_id
                self._membership = (assignment.generation, parts)
                first.set()
                self._notify()
        except grpc.RpcError as exc:
            if not self._closed:
                self._membership_error = exc
        finally:
            first.set()
            self._notify()

    def _refresh_assignment(self) -> None:
        if self._generation > self._acked and not self._closed:
            # asked again since it applied that assignment: it no longer uses what it lost
            self._acked = self._generation
            request = pb.AcknowledgeAssignmentRequest(
                member_id=self._member_id, generation=self._generation
            )
            try:
                self._remote.stub.AcknowledgeAssignment(
                    request, timeout=self._remote.timeout, metadata=self._remote.metadata
                )
            except grpc.RpcError as exc:
                if self._membership_error is None:
                    self._membership_error = exc
        membership = self._membership
        if membership is not None and membership[0] != self._generation:
            self._generation = membership[0]
            self._set_assignment(membership[1])
        if self._membership_error is not None and not self._closed:
            from logway.backends.remote import raise_rpc_error

            failure, self._membership_error = self._membership_error, None
            if self._remote.recover(failure, self._join_stub):  # join the group again
                self._rejoin()
                return
            raise_rpc_error(failure)
        if self._restart:
            self._open_streams()

    def _set_assignment(self, assigned: list[TopicPartition]) -> None:
        self._assign(assigned)
        self._restart = True

    # --- streams ----------------------------------------------------------------------

    def _cancel_streams(self) -> None:
        with self._space:
            self._epoch += 1
            self._pending.clear()
            calls, self._calls = self._calls, []
            self._space.notify_all()
        for call in calls:
            call.cancel()

    def _open_streams(self) -> None:
        self._cancel_streams()
        self._restart = False
        epoch = self._epoch
        by_topic: dict[str, dict[int, int]] = {}
        for tp in self._assigned:
            by_topic.setdefault(tp.topic, {})[tp.partition] = self._positions[tp]
        self._stream_stub = self._remote.stub
        for topic, offsets in by_topic.items():
            request = pb.SubscribeRequest(
                topic=topic,
                partitions=sorted(offsets),
                offsets=offsets,
                max_batch=500,
                record_batches=True,
            )
            call = self._stream_stub.Subscribe(request, metadata=self._remote.metadata)
            self._calls.append(call)
            threading.Thread(
                target=self._read,
                args=(epoch, call, topic),
                daemon=True,
                name=f"logway-subscribe {topic}",
            ).start()

    def _read(self, epoch: int, call: Any, call_topic: str) -> None:
        try:
            topic = call_topic
            for response in call:
                if response.batches:
                    records = convert.records_from_batches(topic, response.batches)
                elif response.records:
                    records = [convert.record_from_pb(r) for r in response.records]
                else:
                    continue  # a heartbeat
                with self._space:
                    while len(self._pending) >= MAX_PENDING and epoch == self._epoch:
                        self._space.wait()
                    if epoch != self._epoch:
                        return
                    self._pending.append((epoch, records))
                self._notify()
        except (grpc.RpcError, LogwayError) as exc:
            if isinstance(exc, grpc.RpcError) and (
                cast(grpc.Call, exc).code() == grpc.StatusCode.CANCELLED
            ):
                return
            with self._space:
                if epoch == self._epoch:
                    self._pending.append((epoch, exc))
            self._notify()

    def _take_available(self, max_records: int) -> list[Record]:
        out: list[Record] = []
        failure: BaseException | None = None
        with self._space:
            while self._pending and len(out) < max_records:
                epoch, item = self._pending[0]
                if epoch != self._epoch:
                    self._pending.popleft()
                    continue
                if isinstance(item, BaseException):
                    self._pending.popleft()
                    failure = item
                    break
                take = item[: max_records - len(out)]
                if len(take) < len(item):
                    self._pending[0] = (epoch, item[len(take) :])
                else:
                    self._pending.popleft()
                for record in take:
                    tp = TopicPartition(record.topic, record.partition)
                    if record.offset >= self._positions.get(tp, 1 << 62):
                        out.append(record)
                        self._positions[tp] = record.offset + 1
            self._space.notify_all()
        if failure is not None and not out:
            self._handle_failure(failure)
        elif failure is not None:
            with self._space:
                self._pending.appendleft((self._epoch, failure))
        return out

    def _handle_failure(self, failure: BaseException) -> None:
        from logway.backends.remote import raise_rpc_error

        if isinstance(failure, LogwayError):
            raise failure
        if self._remote.recover(failure, self._stream_stub):  # reopen from our positions
            self._restart = True
            return
        try:
            raise_rpc_error(failure)
        except OffsetOutOfRangeError:
            if not self._auto_reset:
                raise
            for tp in self._assigned:  # Kafka's auto.offset.reset: below start -> start
                start = self._broker.start_offsets(tp.topic)[tp.partition]
                end = self._broker.end_offsets(tp.topic)[tp.partition]
                pos = self._positions[tp]
                self._positions[tp] = start if pos < start else min(pos, end)
            self._restart = True

    def _seek(self, tp: TopicPartition, offset: int) -> None:
        start = self._broker.start_offsets(tp.topic)[tp.partition]
        end = self._broker.end_offsets(tp.topic)[tp.partition]
        OffsetOutOfRangeError.check(tp.topic, tp.partition, offset, start, end)
        self._restart = True

    def _close(self) -> None:
        self._cancel_streams()
        if self._join_call is not None:
            self._join_call.cancel()
        self._remote._forget(self)
