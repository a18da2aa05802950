"""The ``logway.v1.Log`` gRPC service over any ``Broker``.

Unary calls map one to one onto the Broker protocol. ``Subscribe`` gives each
subscriber its own consumer (its own cursor in the log: memory per subscriber
stays bounded), replays from the start point and then waits for appends; a
subscriber that does not take a message within ``stall_timeout`` seconds is
cut off with RESOURCE_EXHAUSTED and can resume from its last offset.
"""

from __future__ import annotations

import asyncio
import functools
import logging
import time
from collections.abc import Awaitable, Callable, Sequence
from typing import Any, TypeVar

import grpc

from logway import errors
from logway.broker import Broker, ResetTo, Start, add_partitions, write_batches
from logway.recordbatch import codec
from logway.records import ProducedBatch, RecordMetadata, TopicPartition
from logway.server.access import OPEN, Access, Check, Identity
from logway.server.fanout import Chunk, Hub
from logway.server.grpc_web import HandlerCapture
from logway.v1 import convert, log_pb2_grpc
from logway.v1 import log_pb2 as pb
from logway.v1.status import ERROR_KEY, RESUME_KEY, code_for, format_resume

T = TypeVar("T")
SERVICE = "logway.v1.Log"
log = logging.getLogger("logway.server")
Handler = Callable[..., Awaitable[T]]

DEFAULT_HEARTBEAT_MS = 15_000
DEFAULT_MAX_BATCH = 500
MAX_BATCH = 10_000
MAX_QUEUE_WAIT_MS = 20_000  # a Receive waits at most this long (SQS: 20 s)
ACTIONS = {pb.ACK: "ack", pb.RELEASE: "release", pb.REJECT: "reject"}


async def abort(context: grpc.aio.ServicerContext[Any, Any], exc: Exception) -> None:
    """End the call with the status for ``exc``; never returns."""
    if isinstance(exc, errors.LogwayError):
        trailers = [(ERROR_KEY, type(exc).__name__)]
        if isinstance(exc, errors.ServerStoppingError) and exc.resume:
            trailers.append((RESUME_KEY, format_resume(exc.resume)))
        context.set_trailing_metadata(tuple(trailers))
        await context.abort(code_for(exc), str(exc))
    await context.abort(grpc.StatusCode.INVALID_ARGUMENT, str(exc))


def unary(method: Handler[T]) -> Handler[T]:
    """Turn logway errors (and bad arguments) into gRPC statuses."""

    @functools.wraps(method)
    async def wrapper(
        self: LogService, request: Any, context: grpc.aio.ServicerContext[Any, Any]
    ) -> T:
        try:
            return await method(self, request, context)
        except (errors.LogwayError, TypeError, ValueError) as exc:
            await abort(context, exc)
            raise AssertionError("unreachable") from exc

    return wrapper


def _parts(produced: Sequence[RecordMetadata]) -> list[tuple[int, int, list[int] | None]]:
    """Where a ``produce_many`` put its records, as (partition, base offset, indexes)."""
    if isinstance(produced, ProducedBatch):
        return produced.parts
    return [(m.partition, m.offset, [i]) for i, m in enumerate(produced)]


class _Acks:
    """The last assignment generation a remote member has applied."""

    def __init__(self, principal: str) -> None:
        self.principal = principal  # who joined: only they may acknowledge
        self.generation = 0
        self.changed = asyncio.Event()
        self.error: Exception | None = None

    def revoke(self, error: Exception) -> None:
        """The member may no longer be in the group: its stream ends with ``error``."""
        self.error = error
        self.changed.set()


def _batches_message(chunk: Chunk) -> bytes:
    data = codec.encode_wire(chunk.records)
    batch = pb.RecordBatches(partition=chunk.partition, data=data)
    return pb.SubscribeResponse(batches=[batch]).SerializeToString()


def _records_message(chunk: Chunk) -> bytes:
    records = [convert.record_to_pb(r) for r in chunk.records]
    return pb.SubscribeResponse(records=records).SerializeToString()


def _pass_bytes(message: Any) -> bytes:
    """Subscribe writes messages serialized once for every subscriber."""
    return message if isinstance(message, bytes) else message.SerializeToString()


def add_log_service(servicer: LogService, server: Any) -> None:
    """Register ``logway.v1.Log`` (as the generated code does), with Subscribe
    sending bytes that are already serialized."""
    found = HandlerCapture()
    log_pb2_grpc.add_LogServicer_to_server(servicer, found)  # type: ignore[arg-type]
    handlers = found.services[SERVICE]
    handlers["Subscribe"] = handlers["Subscribe"]._replace(response_serializer=_pass_bytes)
    server.add_generic_rpc_handlers((grpc.method_handlers_generic_handler(SERVICE, handlers),))
    server.add_registered_method_handlers(SERVICE, handlers)


def _position(value: int) -> Start:
    return "latest" if value == pb.POSITION_LATEST else "earliest"


TOPIC, GROUP, CLUSTER = "topic", "group", "cluster"


class LogService(log_pb2_grpc.LogServicer):
    """Every call is checked by ``access`` before it touches the log (see
    ``logway.server.access``); with authentication off the checks cost nothing."""

    def __init__(
        self,
        broker: Broker,
        *,
        stall_timeout: float = 30.0,
        hub: Hub | None = None,
        access: Access | None = None,
    ):
        self.broker = broker
        self.stall_timeout = stall_timeout
        self.hub = hub or Hub(broker)
        self.access = access or Access(broker)
        self._acks: dict[str, _Acks] = {}  # JoinGroup members: what they have applied

    async def _caller(self, context: Any) -> Identity:
        if not self.access.enabled:
            return OPEN
        return await self.access.caller(context)

    async def _allow(self, context: Any, *checks: Check) -> Identity:
        """The caller, if it may do every one of ``checks``."""
        who = await self._caller(context)
        if who is not OPEN:
            door = getattr(context, "door", "grpc")
            for operation, resource_type, name in checks:
                self.access.check(who, operation, resource_type, name, door, context.peer())
        return who

    def stop(self) -> None:
        """The server is stopping: every open stream ends now with a status."""
        self.hub.stop()
        for acked in self._acks.values():
            acked.changed.set()

    # --- topics ---------------------------------------------------------------------

    @unary
    async def CreateTopic(self, request: pb.CreateTopicRequest, context: Any) -> pb.TopicInfo:
        who = await self._caller(context)
        if who is not OPEN:  # as Kafka: create on the cluster, or on the topic
            self.access.check_any(
                who,
                [("create", CLUSTER, "cluster"), ("create", TOPIC, request.name)],
                getattr(context, "door", "grpc"),
                context.peer(),
            )
        info = self.broker.create_topic(
            request.name, request.partitions or 1, **dict(request.config)
        )
        return convert.topic_info_to_pb(info)

    @unary
    async def ListTopics(
        self, request: pb.ListTopicsRequest, context: Any
    ) -> pb.ListTopicsResponse:
        who = await self._caller(context)
        names = self.broker.list_topics()
        if who is not OPEN:
            names = [n for n in names if self.access.allowed(who, "describe", TOPIC, n)]
        return pb.ListTopicsResponse(names=names)

    @unary
    async def DescribeTopic(self, request: pb.DescribeTopicRequest, context: Any) -> pb.TopicInfo:
        await self._allow(context, ("describe", TOPIC, request.name))
        return convert.topic_info_to_pb(self.broker.describe_topic(request.name))

    @unary
    async def AddPartitions(self, request: pb.AddPartitionsRequest, context: Any) -> pb.TopicInfo:
        await self._allow(context, ("alter", TOPIC, request.name))
        add_partitions(self.broker, request.name, request.total)
        return convert.topic_info_to_pb(self.broker.describe_topic(request.name))

    @unary
    async def DeleteTopic(
        self, request: pb.DeleteTopicRequest, context: Any
    ) -> pb.DeleteTopicResponse:
        await self._allow(context, ("delete", TOPIC, request.name))
        self.broker.delete_topic(request.name)
        return pb.DeleteTopicResponse()

    # --- records --------------------------------------------------------------------

    @unary
    async def Produce(self, request: pb.ProduceRequest, context: Any) -> pb.ProduceResponse:
        await self._allow(context, ("write", TOPIC, request.topic))
        partition = request.partition if request.HasField("partition") else None
        if request.batches:
            return self._produce_batches(request, partition)
        items = [convert.produce_item_from_pb(r) for r in request.records]
        produced = self.broker.produce_many(request.topic, items, partition=partition)
        return pb.ProduceResponse(records=[convert.metadata_to_pb(m) for m in produced])

    def _produce_batches(
        self, request: pb.ProduceRequest, partition: int | None
    ) -> pb.ProduceResponse:
        """Decode (and so verify) every batch before anything is appended."""
        if request.records:
            raise errors.InvalidArgumentError("a produce request carries records or batches")
        groups: list[tuple[int | None, list[Any]]] = []
        for i, b in enumerate(request.batches):
            try:
                records = codec.decode_wire(b.data)
            except ValueError as exc:
                raise errors.InvalidArgumentError(f"batch {i} of the request: {exc}") from None
            p = b.partition if b.HasField("partition") else partition
            groups.append((p, [(r.value, r.key, r.headers, None, r.timestamp) for r in records]))
        named = {p for p, _ in groups if p is not None}
        if named:
            count = self.broker.describe_topic(request.topic).partitions
            for p in sorted(named):
                if not 0 <= p < count:
                    raise errors.InvalidArgumentError(
                        f"records ask for partition {p}; topic {request.topic!r} has "
                        f"partitions 0 to {count - 1}"
                    )
        if len(groups) > 1:
            # one produce_many for the whole request, each record naming its partition:
            # the backend refuses (a topic's schemas, say) all of it or stores all of it,
            # and an error's record number is the caller's
            groups = [(None, [(*item[:3], p, item[4]) for p, items in groups for item in items])]
        response = pb.ProduceResponse()
        whole = len(groups) == 1
        first = 0
        for p, items in groups:
            produced = self.broker.produce_many(request.topic, items, partition=p)
            stamp = getattr(produced, "log_append_time", None) or 0
            for part, base, indexes in _parts(produced):
                r = response.ranges.add(partition=part, base_offset=base, log_append_time=stamp)
                if indexes is not None:
                    r.indexes.extend([first + i for i in indexes])
                elif not whole:
                    r.indexes.extend(range(first, first + len(items)))
            first += len(items)
        return response

    @unary
    async def Fetch(self, request: pb.FetchRequest, context: Any) -> pb.FetchResponse:
        await self._allow(context, ("read", TOPIC, request.topic))
        records = self.broker.fetch(
            request.topic,
            request.partition,
            request.offset,
            max_records=request.max_records or DEFAULT_MAX_BATCH,
            max_bytes=request.max_bytes or (1 << 20),
        )
        if request.record_batches:
            batch = pb.RecordBatches(partition=request.partition, data=codec.encode_wire(records))
            return pb.FetchResponse(batches=[batch])
        return pb.FetchResponse(records=[convert.record_to_pb(r) for r in records])

    @unary
    async def WriteAt(self, request: pb.WriteAtRequest, context: Any) -> pb.WriteAtResponse:
        """The backend checks the batches (and may store them as they are). Records
        written at their offsets (restores, mirrors) are not checked against a
        topic's schemas, so under --auth such a topic asks ``alter`` besides
        ``write``: a producer cannot go round its contract this way."""
        await self._allow(context, ("write", TOPIC, request.topic))
        config = self.broker.describe_topic(request.topic).config
        if config.get("value_schema") or config.get("key_schema"):
            await self._allow(context, ("alter", TOPIC, request.topic))
        write_batches(self.broker, request.topic, request.partition, request.data)
        return pb.WriteAtResponse()

    @unary
    async def Offsets(self, request: pb.OffsetsRequest, context: Any) -> pb.OffsetsResponse:
        await self._allow(context, ("describe", TOPIC, request.topic))
        return pb.OffsetsResponse(
            start=self.broker.start_offsets(request.topic),
            end=self.broker.end_offsets(request.topic),
        )

    @unary
    async def OffsetForTime(
        self, request: pb.OffsetForTimeRequest, context: Any
    ) -> pb.OffsetForTimeResponse:
        await self._allow(context, ("describe", TOPIC, request.topic))
        found = self.broker.offset_for_time(request.topic, request.partition, request.timestamp)
        return (
            pb.OffsetForTimeResponse() if found is None else pb.OffsetForTimeResponse(offset=found)
        )

    # --- groups ---------------------------------------------------------------------

    @unary
    async def Commit(self, request: pb.CommitRequest, context: Any) -> pb.CommitResponse:
        offsets = convert.offsets_from_pb(request.offsets)
        topics = sorted({tp.topic for tp in offsets})  # as Kafka: read on group and topics
        await self._allow(
            context, ("read", GROUP, request.group), *[("read", TOPIC, t) for t in topics]
        )
        self.broker.commit(request.group, offsets)
        return pb.CommitResponse()

    @unary
    async def Committed(self, request: pb.CommittedRequest, context: Any) -> pb.CommittedResponse:
        topic = request.topic if request.HasField("topic") else None
        await self._allow(context, ("describe", GROUP, request.group))
        return pb.CommittedResponse(
            offsets=convert.offsets_to_pb(self.broker.committed(request.group, topic))
        )

    @unary
    async def ListGroups(
        self, request: pb.ListGroupsRequest, context: Any
    ) -> pb.ListGroupsResponse:
        who = await self._caller(context)
        groups = self.broker.list_groups()
        if who is not OPEN:
            groups = [g for g in groups if self.access.allowed(who, "describe", GROUP, g)]
        return pb.ListGroupsResponse(groups=groups)

    @unary
    async def Lag(self, request: pb.LagRequest, context: Any) -> pb.LagResponse:
        topic = request.topic if request.HasField("topic") else None
        await self._allow(context, ("describe", GROUP, request.group))
        return pb.LagResponse(
            partitions=[convert.lag_to_pb(x) for x in self.broker.lag(request.group, topic)]
        )

    @unary
    async def ResetGroup(
        self, request: pb.ResetGroupRequest, context: Any
    ) -> pb.ResetGroupResponse:
        await self._allow(context, ("read", GROUP, request.group), ("read", TOPIC, request.topic))
        which = request.WhichOneof("to")
        to: ResetTo
        if which == "offset":
            to = request.offset
        elif which == "timestamp":
            to = convert.to_datetime(request.timestamp)
        else:
            to = _position(request.position)
        offsets = self.broker.reset_group(request.group, request.topic, to)
        return pb.ResetGroupResponse(offsets=convert.offsets_to_pb(offsets))

    # --- streams --------------------------------------------------------------------

    async def Subscribe(  # type: ignore[override]  # streams with context.write
        self, request: pb.SubscribeRequest, context: grpc.aio.ServicerContext[Any, Any]
    ) -> None:
        try:
            checks: list[Check] = [("read", TOPIC, request.topic)]
            if request.WhichOneof("start") == "group":
                checks.append(("read", GROUP, request.group))
            who = await self._allow(context, *checks)
            positions = self._start_positions(request)
            subscription = self.hub.subscribe(request.topic, positions)
        except (errors.LogwayError, TypeError, ValueError) as exc:
            await abort(context, exc)
            return
        release = self.access.hold(who, checks, subscription.revoke)
        heartbeat_s = (request.heartbeat_ms or DEFAULT_HEARTBEAT_MS) / 1000
        max_batch = min(request.max_batch or DEFAULT_MAX_BATCH, MAX_BATCH)
        form, build = (
            ("pb-batches", _batches_message)
            if request.record_batches
            else ("pb-records", _records_message)
        )
        try:
            # sent now, so a first write that stalls can still end with a status
            await context.send_initial_metadata(())
            while True:
                try:
                    chunks = await subscription.next(heartbeat_s, max_batch)
                except errors.LogwayError as exc:
                    await abort(context, exc)
                    return
                if chunks:  # serialized messages concatenate into one (repeated fields merge)
                    message = b"".join([c.form(form, build) for c in chunks])
                else:
                    message = pb.SubscribeResponse(
                        heartbeat=pb.Heartbeat(
                            end_offsets=self.broker.end_offsets(request.topic),
                            server_time=int(time.time() * 1000),
                        )
                    ).SerializeToString()
                try:
                    async with asyncio.timeout(self.stall_timeout):
                        await context.write(message)
                except TimeoutError:
                    log.warning(
                        "Subscribe %s from %s: stalled %gs without reading; disconnected",
                        request.topic,
                        context.peer(),
                        self.stall_timeout,
                    )
                    await context.abort(
                        grpc.StatusCode.RESOURCE_EXHAUSTED,
                        f"subscriber stalled for {self.stall_timeout:g}s without reading; "
                        "resubscribe from the offset after the last record received",
                    )
        finally:
            release()
            subscription.close()

    def _start_positions(self, request: pb.SubscribeRequest) -> dict[int, int]:
        which = request.WhichOneof("start")
        start: Start | int | dict[int, int] = "earliest"
        if which == "position":
            start = _position(request.position)
        elif which == "timestamp":
            start = convert.to_datetime(request.timestamp)
        elif which == "offset":
            start = request.offset
        elif which == "group":
            committed = self.broker.committed(request.group, request.topic)
            start = {tp.partition: offset for tp, offset in committed.items()}
        return self.hub.positions(
            request.topic, list(request.partitions) or None, start, dict(request.offsets)
        )

    async def JoinGroup(  # type: ignore[override]  # streams with context.write
        self, request: pb.JoinGroupRequest, context: grpc.aio.ServicerContext[Any, Any]
    ) -> None:
        """Hold a group membership for a remote consumer while the stream is open."""
        try:
            checks: list[Check] = [("read", GROUP, request.group)]
            checks += [("read", TOPIC, t) for t in request.topics]
            who = await self._allow(context, *checks)
            member = self.broker.consumer(
                list(request.topics), group=request.group, assignor=request.assignor or "range"
            )
        except (errors.LogwayError, TypeError, ValueError) as exc:
            await abort(context, exc)
            return
        member_id = f"{context.peer()}/{id(member):x}"
        acked = self._acks[member_id] = _Acks(who.principal)
        release = self.access.hold(who, checks, acked.revoke)
        generation = 0
        try:
            last: list[TopicPartition] | None = None
            while True:
                if acked.error is not None:
                    await abort(context, acked.error)
                if self.hub.stopping:
                    await abort(
                        context,
                        errors.ServerStoppingError(
                            "the logway server is stopping; join the group on the next one"
                        ),
                    )
                if acked.generation >= generation:  # it let go of what it no longer has
                    assigned = member.assignment()
                    if assigned != last:
                        generation += 1
                        last = assigned
                        await context.write(
                            pb.Assignment(
                                member_id=member_id,
                                generation=generation,
                                partitions=[
                                    pb.TopicPartition(topic=t.topic, partition=t.partition)
                                    for t in assigned
                                ],
                            )
                        )
                acked.changed.clear()
                try:  # membership changes are rare: a look every 0.2 s, or at an ack
                    async with asyncio.timeout(0.2):
                        await acked.changed.wait()
                except TimeoutError:
                    pass
        finally:
            release()
            self._acks.pop(member_id, None)
            member.close()

    @unary
    async def AcknowledgeAssignment(
        self, request: pb.AcknowledgeAssignmentRequest, context: Any
    ) -> pb.AcknowledgeAssignmentResponse:
        who = await self._caller(context)
        acked = self._acks.get(request.member_id)
        if acked is None or (who is not OPEN and who.principal != acked.principal):
            raise errors.UnknownGroupError(
                f"no member {request.member_id!r}: its JoinGroup stream has ended"
            )
        acked.generation = max(acked.generation, request.generation)
        acked.changed.set()
        return pb.AcknowledgeAssignmentResponse()

    # --- queues -----------------------------------------------------------------------

    def _queue(self, topic: str, group: str, settings: pb.QueueSettings) -> Any:
        """The server's consumer of the queue ``group`` over ``topic``; every client's
        deliveries are held in its one ``QueueGroup``."""
        return self.broker.queue(topic, group, **convert.queue_settings_from_pb(settings))

    @unary
    async def Receive(self, request: pb.ReceiveRequest, context: Any) -> pb.ReceiveResponse:
        await self._allow(context, ("read", TOPIC, request.topic), ("read", GROUP, request.group))
        if request.max_records < 0 or request.wait_ms < 0:
            raise errors.InvalidArgumentError("max_records and wait_ms must not be negative")
        queue = await asyncio.to_thread(self._queue, request.topic, request.group, request.settings)
        holder = request.consumer or context.peer()
        wait_s = min(request.wait_ms, MAX_QUEUE_WAIT_MS) / 1000
        count = min(request.max_records or 1, MAX_BATCH)
        got = await asyncio.to_thread(queue.shared.receive, holder, queue, count, wait_s)
        return pb.ReceiveResponse(
            deliveries=[
                pb.Delivery(
                    record=convert.record_to_pb(d.record),
                    delivery_count=d.delivery_count,
                    receipt=d.receipt,
                )
                for d in got
            ]
        )

    @unary
    async def Ack(self, request: pb.AckRequest, context: Any) -> pb.AckResponse:
        await self._allow(context, ("read", TOPIC, request.topic), ("read", GROUP, request.group))
        how = ACTIONS.get(request.action)
        if how is None:
            raise errors.InvalidArgumentError("an Ack names its action: ACK, RELEASE or REJECT")
        items = [(d.partition, d.offset, d.receipt) for d in request.deliveries]
        queue = await asyncio.to_thread(self._queue, request.topic, request.group, request.settings)
        await asyncio.to_thread(queue.shared.settle, items, how, request.reason)
        return pb.AckResponse()

    @unary
    async def QueueStatus(
        self, request: pb.QueueStatusRequest, context: Any
    ) -> pb.QueueStatusResponse:
        await self._allow(
            context, ("describe", TOPIC, request.topic), ("describe", GROUP, request.group)
        )
        queue = await asyncio.to_thread(self._queue, request.topic, request.group, request.settings)
        status = await asyncio.to_thread(queue.status)
        return pb.QueueStatusResponse(
            in_flight=status["in_flight"],
            available_again=status["available_again"],
            start_offsets=status["start_offsets"],
        )
