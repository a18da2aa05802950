"""The remote backend: ``Broker`` over a logway server's gRPC service (``logway://host:port``)."""

from __future__ import annotations

import datetime as dt
import threading
import time
from collections.abc import Iterable, Mapping, Sequence
from typing import Any, cast

import grpc

from logway.backends.remote.consumer import RemoteConsumer
from logway.backends.remote.credentials import authorization, open_channel
from logway.backends.remote.queue import RemoteQueue
from logway.broker import (
    BULK_RECORDS,
    DEFAULT_MAX_BYTES,
    DEFAULT_MAX_RECORDS,
    BrokerBase,
    ProduceItem,
    ResetTo,
    Start,
    check_fetch,
    consumer_arguments,
)
from logway.errors import ClosedError, InvalidArgumentError, LogwayError, ServerStoppingError
from logway.recordbatch import codec
from logway.records import (
    PartitionLag,
    ProducedBatch,
    Record,
    RecordMetadata,
    TopicInfo,
    TopicPartition,
    check_own_offsets,
    to_millis,
)
from logway.v1 import convert, log_pb2_grpc
from logway.v1 import log_pb2 as pb
from logway.v1.status import ERROR_KEY, RESUME_KEY, error_from, parse_resume

DEFAULT_PORT = 7070
CONNECTION_OPTIONS = {"token", "user", "password", "tls", "ca_file", "cert_file", "key_file"}
CONNECTION_OPTIONS |= {"timeout"}  # seconds a call may take
CONNECTION_OPTIONS |= {"schema_registry_url"}  # the server's /schemas, for broker.schemas
WRITE_AT_BYTES = 16 << 20  # per WriteAt request, well under the 64 MiB message limit


def open_url(url: str, **options: Any) -> RemoteBroker:
    rest = url.split(":", 1)[1]
    target = rest[2:] if rest.startswith("//") else rest
    target = target.rstrip("/")
    if not target:
        raise InvalidArgumentError(f"{url!r} names no server; use logway://HOST:PORT")
    if ":" not in target.rsplit("]", 1)[-1]:
        target = f"{target}:{DEFAULT_PORT}"
    unknown = sorted(set(options) - CONNECTION_OPTIONS)
    if unknown:
        raise InvalidArgumentError(
            f"logway:// takes only {', '.join(sorted(CONNECTION_OPTIONS))}, not "
            f"{', '.join(unknown)}; topic settings go to create_topic"
        )
    return RemoteBroker(target, url=url, **options)


def _explicit_partitions(items: Sequence[Any]) -> dict[int | None, list[int] | None]:
    """Indexes of the records per partition named in them (None: routed by the server)."""
    groups: dict[int | None, list[int]] = {}
    for i, item in enumerate(items):
        p = item[3] if isinstance(item, tuple) and len(item) > 3 else None
        if p is not None and (isinstance(p, bool) or not isinstance(p, int)):
            raise InvalidArgumentError(f"record {i} asks for partition {p!r}; use an integer")
        groups.setdefault(p, []).append(i)
    if len(groups) == 1:
        return {next(iter(groups)): None}
    return dict(groups)


def raise_rpc_error(exc: BaseException) -> None:
    """Raise the logway error a failed call stands for."""
    call = cast(grpc.Call, exc)
    code = call.code()
    details = call.details() or ""
    trailers = {key: str(value) for key, value in call.trailing_metadata() or ()}
    name = trailers.get(ERROR_KEY)
    if code in (grpc.StatusCode.UNAVAILABLE, grpc.StatusCode.DEADLINE_EXCEEDED) and name is None:
        raise LogwayError(f"logway server unavailable: {details}") from None
    error = error_from(code, details, name)
    if isinstance(error, ServerStoppingError):
        error.resume = parse_resume(trailers.get(RESUME_KEY, ""))
    raise error from None


class RemoteBroker(BrokerBase):
    """A ``Broker`` whose log lives in a ``logway serve`` process."""

    def __init__(
        self, target: str, *, url: str | None = None, timeout: float = 60.0, **credentials: Any
    ):
        """``credentials``: ``token``, or ``user`` and ``password``, and TLS options
        (``tls``, ``ca_file``, ``cert_file``, ``key_file``); see ``credentials``."""
        self.target = target
        self.url = url or f"logway://{target}"
        self.timeout = timeout
        # broker.schemas over the server's REST API (e.g. http://host:8080/schemas), as
        # the same caller, rather than over its __logway_schemas topic
        self.schema_registry_url = credentials.pop("schema_registry_url", None)
        self.schema_registry_credentials = {
            k: credentials[k] for k in ("token", "user", "password", "ca_file") if k in credentials
        }
        header = authorization(
            credentials.pop("token", None),
            credentials.pop("user", None),
            credentials.pop("password", None),
        )
        # sent with every call (streams too); passed per call, it costs nothing more
        self.metadata = (("authorization", header),) if header else None
        self._channel = open_channel(target, **credentials)
        self.stub = log_pb2_grpc.LogStub(self._channel)
        self._consumers: set[RemoteConsumer] = set()
        self._closed = False
        self._lock = threading.Lock()

    def call(self, method: str, request: Any) -> Any:
        """Call ``method`` of the Log service, its failure raised as a logway error."""
        self._check_open()
        try:
            return getattr(self.stub, method)(request, timeout=self.timeout, metadata=self.metadata)
        except grpc.RpcError as exc:
            raise_rpc_error(exc)
            raise

    def recover(self, failure: BaseException, stub: Any) -> bool:
        """Whether a stream opened on ``stub`` that failed with ``failure`` may be
        opened again (on ``self.stub``); a server at a fixed address says no."""
        return False

    # --- topics ---------------------------------------------------------------------

    def create_topic(self, name: str, partitions: int = 1, **config: Any) -> TopicInfo:
        if isinstance(partitions, bool) or not isinstance(partitions, int) or partitions < 1:
            raise InvalidArgumentError(f"partitions must be an integer >= 1, not {partitions!r}")
        if not isinstance(name, str):
            raise InvalidArgumentError(f"a topic name must be a string, not {name!r}")
        request = pb.CreateTopicRequest(
            name=name, partitions=partitions, config={k: _setting(v) for k, v in config.items()}
        )
        return convert.topic_info_from_pb(self.call("CreateTopic", request))

    def list_topics(self) -> list[str]:
        return list(self.call("ListTopics", pb.ListTopicsRequest()).names)

    def describe_topic(self, name: str) -> TopicInfo:
        return convert.topic_info_from_pb(
            self.call("DescribeTopic", pb.DescribeTopicRequest(name=name))
        )

    def delete_topic(self, name: str) -> None:
        self.call("DeleteTopic", pb.DeleteTopicRequest(name=name))

    def add_partitions(self, topic: str, total: int) -> None:
        """Asks the server's backend (the embedded log grows, others may refuse)."""
        if isinstance(total, bool) or not isinstance(total, int) or not 0 <= total < 1 << 31:
            raise InvalidArgumentError(f"a partition count must be an integer, not {total!r}")
        self.call("AddPartitions", pb.AddPartitionsRequest(name=topic, total=total))

    # --- producing ------------------------------------------------------------------

    def produce_many(
        self,
        topic: str,
        records: Iterable[ProduceItem],
        partition: int | None = None,
    ) -> Sequence[RecordMetadata]:
        """Encode the records as RecordBatch v2 here (in C), one batch per partition
        the caller names; the server routes the rest by key, as the embedded log does."""
        items = records if isinstance(records, list | tuple) else list(records)
        default_ts = int(time.time() * 1000)
        result = ProducedBatch(topic, items, default_ts)
        if not items:
            return result
        groups = _explicit_partitions(items) if partition is None else {partition: None}
        order: list[int] = []
        request = pb.ProduceRequest(topic=topic)
        try:
            for p, indexes in groups.items():
                chosen = items if indexes is None else [items[i] for i in indexes]
                data = codec.encode_batch(chosen, default_ts, codec.WIRE_RECORD_LIMIT)[0]
                batch = request.batches.add(data=bytes(data))
                if p is not None:
                    batch.partition = p
                order.extend(range(len(items)) if indexes is None else indexes)
        except (TypeError, ValueError) as exc:
            raise InvalidArgumentError(str(exc)) from None
        response = self.call("Produce", request)
        identity = len(groups) == 1
        for r in response.ranges:
            if r.log_append_time:
                result.stamp(r.log_append_time)
            where = None
            if r.indexes:
                where = list(r.indexes) if identity else [order[i] for i in r.indexes]
            result.add(r.partition, r.base_offset, where)
        return result

    def write_at(self, topic: str, partition: int, records: Sequence[Record]) -> None:
        """Sent as RecordBatch v2 carrying the offsets, in requests of at most
        ``WRITE_AT_BYTES``; each is stored whole or not at all."""
        check_own_offsets(records)
        start = 0
        while start < len(records):
            end, size = start, 0
            while end < len(records) and (end == start or size < WRITE_AT_BYTES):
                r = records[end]
                size += len(r.value or b"") + len(r.key or b"") + 32
                end += 1
            try:
                data = codec.encode_wire(records[start:end])
            except (TypeError, ValueError) as exc:
                raise InvalidArgumentError(f"cannot write to {topic}/{partition}: {exc}") from None
            self._write_at(topic, partition, data)
            start = end

    def write_batches(
        self, topic: str, partition: int, data: bytes | bytearray | memoryview
    ) -> None:
        """Sent as they are, cut at batch boundaries into requests of at most
        ``WRITE_AT_BYTES`` (the server checks them)."""
        view = memoryview(data)
        try:
            found = codec.scan_batches(view, verify_crc=False)
        except ValueError as exc:
            raise InvalidArgumentError(f"batches for {topic}/{partition}: {exc}") from None
        start = 0
        for pos, header in found:
            if pos > start and pos + header.size - start > WRITE_AT_BYTES:
                self._write_at(topic, partition, view[start:pos])
                start = pos
        if start < len(view):
            self._write_at(topic, partition, view[start:])

    def _write_at(self, topic: str, partition: int, data: bytes | memoryview) -> None:
        request = pb.WriteAtRequest(topic=topic, partition=partition, data=bytes(data))
        self.call("WriteAt", request)

    # --- reading --------------------------------------------------------------------

    def fetch(
        self,
        topic: str,
        partition: int,
        offset: int,
        max_records: int = DEFAULT_MAX_RECORDS,
        max_bytes: int = DEFAULT_MAX_BYTES,
    ) -> list[Record]:
        check_fetch(offset, max_records, max_bytes)
        request = pb.FetchRequest(
            topic=topic,
            partition=partition,
            offset=offset,
            max_records=max_records,
            max_bytes=min(max_bytes, 1 << 30),
        )
        request.record_batches = True
        response = self.call("Fetch", request)
        return convert.records_from_batches(topic, response.batches)

    def read_batches(
        self,
        topic: str,
        partition: int,
        offset: int,
        max_bytes: int = DEFAULT_MAX_BYTES,
        whole: bool = False,
    ) -> bytes:
        """The server's batches as they arrive, not decoded here (cut to ``offset``)."""
        check_fetch(offset, 1, max_bytes)
        request = pb.FetchRequest(
            topic=topic,
            partition=partition,
            offset=offset,
            max_records=BULK_RECORDS,
            max_bytes=min(max_bytes, 1 << 30),
            record_batches=True,
        )
        response = self.call("Fetch", request)
        return b"".join(b.data for b in response.batches)

    def _offsets(self, topic: str) -> pb.OffsetsResponse:
        response: pb.OffsetsResponse = self.call("Offsets", pb.OffsetsRequest(topic=topic))
        return response

    def start_offsets(self, topic: str) -> dict[int, int]:
        return dict(self._offsets(topic).start)

    def end_offsets(self, topic: str) -> dict[int, int]:
        return dict(self._offsets(topic).end)

    def offset_for_time(
        self, topic: str, partition: int, timestamp: int | dt.datetime
    ) -> int | None:
        ms = to_millis(timestamp)
        assert ms is not None
        response = self.call(
            "OffsetForTime",
            pb.OffsetForTimeRequest(topic=topic, partition=partition, timestamp=ms),
        )
        return response.offset if response.HasField("offset") else None

    # --- consumers and groups -------------------------------------------------------

    def consumer(
        self,
        topics: str | Sequence[str],
        group: str | None = None,
        start: Start = "earliest",
        *,
        idle_timeout: float | None = None,
        assignor: str = "range",
        partitions: Sequence[TopicPartition] | None = None,
        auto_reset: bool = True,
    ) -> RemoteConsumer:
        self._check_open()
        names, counts, manual = consumer_arguments(
            topics, group, start, assignor, partitions, lambda t: self.describe_topic(t).partitions
        )
        consumer = RemoteConsumer(
            self,
            names,
            counts,
            group,
            start,
            idle_timeout,
            assignor,
            manual,
            auto_reset,
        )
        with self._lock:
            self._consumers.add(consumer)
        return consumer

    def queue(self, topic: str, group: str, **settings: Any) -> RemoteQueue:
        """A consumer of the queue ``group`` over ``topic`` held by the server (see
        ``logway.queues``); the settings apply when the server first opens the queue."""
        self._check_open()
        return RemoteQueue(self, topic, group, settings)

    def commit(self, group: str, offsets: Mapping[TopicPartition, int]) -> None:
        items = []
        for tp, offset in offsets.items():
            topic, partition = tp
            if isinstance(offset, bool) or not isinstance(offset, int) or offset < 0:
                raise InvalidArgumentError(
                    f"offset to commit must be an integer >= 0, not {offset!r}"
                )
            items.append(pb.PartitionOffset(topic=topic, partition=partition, offset=offset))
        self.call("Commit", pb.CommitRequest(group=group, offsets=items))

    def committed(self, group: str, topic: str | None = None) -> dict[TopicPartition, int]:
        request = pb.CommittedRequest(group=group)
        if topic is not None:
            request.topic = topic
        return convert.offsets_from_pb(self.call("Committed", request).offsets)

    def list_groups(self) -> list[str]:
        return list(self.call("ListGroups", pb.ListGroupsRequest()).groups)

    def lag(self, group: str, topic: str | None = None) -> list[PartitionLag]:
        request = pb.LagRequest(group=group)
        if topic is not None:
            request.topic = topic
        return [convert.lag_from_pb(x) for x in self.call("Lag", request).partitions]

    def reset_group(self, group: str, topic: str, to: ResetTo) -> dict[TopicPartition, int]:
        request = pb.ResetGroupRequest(group=group, topic=topic)
        if isinstance(to, bool):
            raise InvalidArgumentError(f"cannot reset a group to {to!r}")
        if isinstance(to, int):
            request.offset = to
        elif isinstance(to, dt.datetime):
            request.timestamp = to_millis(to) or 0
        elif to in ("earliest", "latest"):
            request.position = pb.POSITION_LATEST if to == "latest" else pb.POSITION_EARLIEST
        else:
            raise InvalidArgumentError(
                f"reset to 'earliest', 'latest', an offset or a datetime, not {to!r}"
            )
        return convert.offsets_from_pb(self.call("ResetGroup", request).offsets)

    # --- lifecycle ------------------------------------------------------------------

    def _check_open(self) -> None:
        if self._closed:
            raise ClosedError(f"the broker at {self.url} is closed")

    def _forget(self, consumer: RemoteConsumer) -> None:
        with self._lock:
            self._consumers.discard(consumer)

    def close(self) -> None:
        with self._lock:
            if self._closed:
                return
            self._closed = True
            consumers = list(self._consumers)
        for consumer in consumers:
            consumer.close()
        self._channel.close()

    def __repr__(self) -> str:
        return f"RemoteBroker({self.url!r})"


def _setting(value: Any) -> str:
    if isinstance(value, bool) or value is None:
        raise InvalidArgumentError(f"topic settings are numbers or strings, not {value!r}")
    return str(value)
