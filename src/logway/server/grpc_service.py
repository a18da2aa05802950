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
import time
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

import grpc

from logway import errors
from logway.broker import Broker, ResetTo, Start
from logway.records import TopicPartition
from logway.v1 import convert, log_pb2_grpc
from logway.v1 import log_pb2 as pb
from logway.v1.status import ERROR_KEY, code_for

T = TypeVar("T")
Handler = Callable[..., Awaitable[T]]

DEFAULT_HEARTBEAT_MS = 15_000
DEFAULT_MAX_BATCH = 500
MAX_BATCH = 10_000


async def abort(context: grpc.aio.ServicerContext[Any, Any], exc: Exception) -> None:
    """End the call with the status for ``exc``; never returns."""
    if isinstance(exc, errors.LogwayError):
        context.set_trailing_metadata(((ERROR_KEY, type(exc).__name__),))
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


def _position(value: int) -> Start:
    return "latest" if value == pb.POSITION_LATEST else "earliest"


class LogService(log_pb2_grpc.LogServicer):
    def __init__(self, broker: Broker, *, stall_timeout: float = 30.0):
        self.broker = broker
        self.stall_timeout = stall_timeout

    # --- topics ---------------------------------------------------------------------

    @unary
    async def CreateTopic(self, request: pb.CreateTopicRequest, context: Any) -> pb.TopicInfo:
        info = self.broker.create_topic(
            request.name, request.partitions or 1, **dict(request.config)
        )
        return convert.topic_info_to_pb(info)

    @unary
    async def ListTopics(
        self, request: pb.ListTopicsRequest, context: Any
    ) -> pb.ListTopicsResponse:
        return pb.ListTopicsResponse(names=self.broker.list_topics())

    @unary
    async def DescribeTopic(self, request: pb.DescribeTopicRequest, context: Any) -> pb.TopicInfo:
        return convert.topic_info_to_pb(self.broker.describe_topic(request.name))

    @unary
    async def DeleteTopic(
        self, request: pb.DeleteTopicRequest, context: Any
    ) -> pb.DeleteTopicResponse:
        self.broker.delete_topic(request.name)
        return pb.DeleteTopicResponse()

    # --- records --------------------------------------------------------------------

    @unary
    async def Produce(self, request: pb.ProduceRequest, context: Any) -> pb.ProduceResponse:
        items = [convert.produce_item_from_pb(r) for r in request.records]
        partition = request.partition if request.HasField("partition") else None
        produced = self.broker.produce_many(request.topic, items, partition=partition)
        return pb.ProduceResponse(records=[convert.metadata_to_pb(m) for m in produced])

    @unary
    async def Fetch(self, request: pb.FetchRequest, context: Any) -> pb.FetchResponse:
        records = self.broker.fetch(
            request.topic,
            request.partition,
            request.offset,
            max_records=request.max_records or DEFAULT_MAX_BATCH,
            max_bytes=request.max_bytes or (1 << 20),
        )
        return pb.FetchResponse(records=[convert.record_to_pb(r) for r in records])

    @unary
    async def Offsets(self, request: pb.OffsetsRequest, context: Any) -> pb.OffsetsResponse:
        return pb.OffsetsResponse(
            start=self.broker.start_offsets(request.topic),
            end=self.broker.end_offsets(request.topic),
        )

    @unary
    async def OffsetForTime(
        self, request: pb.OffsetForTimeRequest, context: Any
    ) -> pb.OffsetForTimeResponse:
        found = self.broker.offset_for_time(request.topic, request.partition, request.timestamp)
        return (
            pb.OffsetForTimeResponse() if found is None else pb.OffsetForTimeResponse(offset=found)
        )

    # --- groups ---------------------------------------------------------------------

    @unary
    async def Commit(self, request: pb.CommitRequest, context: Any) -> pb.CommitResponse:
        self.broker.commit(request.group, convert.offsets_from_pb(request.offsets))
        return pb.CommitResponse()

    @unary
    async def Committed(self, request: pb.CommittedRequest, context: Any) -> pb.CommittedResponse:
        topic = request.topic if request.HasField("topic") else None
        return pb.CommittedResponse(
            offsets=convert.offsets_to_pb(self.broker.committed(request.group, topic))
        )

    @unary
    async def ListGroups(
        self, request: pb.ListGroupsRequest, context: Any
    ) -> pb.ListGroupsResponse:
        return pb.ListGroupsResponse(groups=self.broker.list_groups())

    @unary
    async def Lag(self, request: pb.LagRequest, context: Any) -> pb.LagResponse:
        topic = request.topic if request.HasField("topic") else None
        return pb.LagResponse(
            partitions=[convert.lag_to_pb(x) for x in self.broker.lag(request.group, topic)]
        )

    @unary
    async def ResetGroup(
        self, request: pb.ResetGroupRequest, context: Any
    ) -> pb.ResetGroupResponse:
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
            consumer, heartbeat_s, max_batch = self._open_subscription(request)
        except (errors.LogwayError, TypeError, ValueError) as exc:
            await abort(context, exc)
            return
        try:
            while True:
                try:
                    records = await consumer.apoll(timeout=heartbeat_s, max_records=max_batch)
                except errors.LogwayError as exc:
                    await abort(context, exc)
                    return
                if records:
                    message = pb.SubscribeResponse(
                        records=[convert.record_to_pb(r) for r in records]
                    )
                else:
                    message = pb.SubscribeResponse(
                        heartbeat=pb.Heartbeat(
                            end_offsets=self.broker.end_offsets(request.topic),
                            server_time=int(time.time() * 1000),
                        )
                    )
                try:
                    await asyncio.wait_for(context.write(message), self.stall_timeout)
                except TimeoutError:
                    await context.abort(
                        grpc.StatusCode.RESOURCE_EXHAUSTED,
                        f"subscriber stalled for {self.stall_timeout:g}s without reading; "
                        "resubscribe from the offset after the last record received",
                    )
        finally:
            consumer.close()

    def _open_subscription(self, request: pb.SubscribeRequest) -> tuple[Any, float, int]:
        topic = request.topic
        count = self.broker.describe_topic(topic).partitions
        numbers = list(request.partitions) or list(range(count))
        for p in numbers:
            if not 0 <= p < count:
                raise errors.UnknownTopicError(
                    f"topic {topic!r} has partitions 0 to {count - 1}; there is no partition {p}"
                )
        which = request.WhichOneof("start")
        start: Start = "earliest"
        if which == "position":
            start = _position(request.position)
        elif which == "timestamp":
            start = convert.to_datetime(request.timestamp)
        tps = [TopicPartition(topic, p) for p in numbers]
        consumer = self.broker.consumer(topic, start=start, partitions=tps, auto_reset=False)
        try:
            seeks: dict[TopicPartition, int] = {}
            if which == "offset":
                seeks = {tp: request.offset for tp in tps}
            elif which == "group":
                committed = self.broker.committed(request.group, topic)
                seeks = {tp: committed[tp] for tp in tps if tp in committed}
            for p, offset in request.offsets.items():
                seeks[TopicPartition(topic, p)] = offset
            for tp, offset in seeks.items():
                consumer.seek(tp, offset)
        except BaseException:
            consumer.close()
            raise
        heartbeat = (request.heartbeat_ms or DEFAULT_HEARTBEAT_MS) / 1000
        max_batch = min(request.max_batch or DEFAULT_MAX_BATCH, MAX_BATCH)
        return consumer, heartbeat, max_batch

    async def JoinGroup(  # type: ignore[override]  # streams with context.write
        self, request: pb.JoinGroupRequest, context: grpc.aio.ServicerContext[Any, Any]
    ) -> None:
        """Hold a group membership for a remote consumer while the stream is open."""
        try:
            member = self.broker.consumer(
                list(request.topics), group=request.group, assignor=request.assignor or "range"
            )
        except (errors.LogwayError, TypeError, ValueError) as exc:
            await abort(context, exc)
            return
        member_id = f"{context.peer()}/{id(member):x}"
        generation = 0
        try:
            last: list[TopicPartition] | None = None
            while True:
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
                await asyncio.sleep(0.2)  # membership changes are rare; checking is cheap
        finally:
            member.close()
