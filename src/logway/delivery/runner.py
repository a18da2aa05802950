"""Run delivery streams over a ``Broker``: records into files, exactly once.

Each delivery is the consumer group ``<app>.<delivery>``; a ``PartitionDelivery`` per
assigned partition buffers records until the first of ``buffer_size`` (bytes of
values) or ``buffer_interval`` is reached, then flushes them: transform, convert,
write one object per prefix, commit.

Exactly once, across crashes, rests on three things:
- an object's name is a function of the records in it: topic, partition, first and
  last offset, and a hash of the source records (a topic recreated under the same
  name never overwrites an older delivery's objects);
- before writing a flush, its offset range is recorded in the destination
  (``_logway/state/<group>/<topic>+<partition>.json``), and the position is
  committed only after every object of it is durably written;
- a restart whose committed position is the first offset of the recorded range
  rebuilds exactly that range, whatever the buffer settings or the clock say, so
  it rewrites the same names with the same records: an object written before a crash
  is replaced, never duplicated, and nothing is skipped.
The transform should therefore be deterministic (a record routed by it to another
prefix on the second try would be delivered twice). What a killed run wrote and never
published is removed by a later run (see ``logway.delivery.staging``).
"""

from __future__ import annotations

import asyncio
import functools
import json
import logging
import operator
import threading
import time
from collections import defaultdict
from collections.abc import Callable, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, TypeVar

import pyarrow as pa
import pyarrow.compute as pc

from logway.broker import Broker, Consumer, group_position
from logway.delivery import convert
from logway.delivery.prefix import Prefix
from logway.delivery.settings import REGISTRY, DeliverySpec
from logway.delivery.staging import Staging
from logway.delivery.transform import Dropped, Ok, check_results, data_bytes
from logway.errors import ClosedError, LogwayError
from logway.objectstore import ObjectMissingError, ObjectStore, UnpublishedObject, open_store
from logway.recordbatch import codec
from logway.records import Record, TopicPartition

if TYPE_CHECKING:
    from logway.delivery.typed import RegistryTables

log = logging.getLogger("logway.delivery")
T = TypeVar("T")

ASSIGNMENT_CHECK_S = 0.5  # how often a runner looks at its membership
FIRST_ASSIGNMENT_CHECK_S = 0.02  # how often while it has no partitions yet
RESTART_DELAY_S = 1.0  # the least time between a partition's thread dying and its restart
IDLE_POLL_S = 0.5  # the longest a partition waits for records before looking again
MAX_POLL_RECORDS = 10_000
TRANSFORM_ATTEMPTS = 3  # then the records go under the error prefix
TRANSFORM_BACKOFF_S = 0.5  # doubling between attempts
WRITE_BACKOFF_S, WRITE_BACKOFF_MAX_S = 0.5, 30.0  # an unreachable destination: retry


@dataclass
class DeliveryStats:
    state: str = "starting"
    records_in: int = 0
    buffered: int = 0  # records read and not yet flushed
    records_delivered: int = 0
    records_dropped: int = 0
    records_failed: int = 0
    objects: int = 0
    bytes: int = 0
    last_error: str | None = None


class DeliveryRunner:
    def __init__(self, broker: Broker, app_name: str, spec: DeliverySpec, until_end: bool = False):
        self.broker = broker
        self.until_end = until_end  # stop once every partition is delivered to its end
        self.spec = spec
        self.settings = spec.settings
        self.group = f"{app_name}.{spec.name}"
        self.store: ObjectStore = open_store(spec.settings.to)
        self.stats = DeliveryStats()
        self.member: Consumer | None = None
        self._lanes: dict[TopicPartition, tuple[threading.Thread, PartitionDelivery]] = {}
        self._lock = threading.Lock()  # stats are updated from the partitions' threads
        self._died: dict[TopicPartition, float] = {}  # when a partition's thread last died
        self._registry_tables: RegistryTables | None = None

    async def run(self, stopping: asyncio.Event) -> None:
        """Follow the group's assignment until ``stopping`` is set, then flush every
        partition's buffer and commit."""
        member = self.member = self.broker.consumer(self.spec.source, group=self.group)
        self.stats.state = "running"
        self._loop = asyncio.get_running_loop()
        self._changed = asyncio.Event()  # a partition finished or died: look at once
        try:
            while not stopping.is_set():
                self._changed.clear()
                assigned = set(member.assignment())
                now = time.monotonic()
                for tp in sorted(assigned - set(self._lanes)):
                    if now - self._died.get(tp, -RESTART_DELAY_S) >= RESTART_DELAY_S:
                        self._start(tp)
                for tp in set(self._lanes) - assigned:
                    await self._stop(tp)
                finished = 0
                for tp, (thread, lane) in list(self._lanes.items()):
                    if lane.finished:
                        finished += 1
                    elif not thread.is_alive():  # it died: its error is logged; start again
                        del self._lanes[tp]
                        self._died[tp] = now
                if self.until_end and assigned and finished == len(assigned):
                    break
                # until the first assignment comes, look often
                wait = ASSIGNMENT_CHECK_S if assigned else FIRST_ASSIGNMENT_CHECK_S
                await _first(stopping, self._changed, timeout=wait)
        finally:
            for tp in list(self._lanes):
                await self._stop(tp)
            member.close()
            self.stats.state = "stopped"

    def _start(self, tp: TopicPartition) -> None:
        lane = PartitionDelivery(self, tp)
        name = f"logway-delivery {self.group} {tp.topic}/{tp.partition}"
        loop, changed = self._loop, self._changed

        def run() -> None:
            try:
                lane.run()
            finally:
                loop.call_soon_threadsafe(changed.set)

        thread = threading.Thread(target=run, name=name, daemon=True)
        self._lanes[tp] = (thread, lane)
        thread.start()

    async def _stop(self, tp: TopicPartition) -> None:
        thread, lane = self._lanes.pop(tp)
        lane.stop()
        await asyncio.to_thread(thread.join)

    def registry_tables(self) -> RegistryTables | None:
        """What makes tables of values in the schema registry's wire format, when this
        delivery's values are: ``schema="registry"``, or a Parquet delivery without a
        ``schema`` of a topic with a ``value_schema``. None: they are not."""
        s = self.settings
        if s.format != "parquet" or (s.schema is not None and s.schema != REGISTRY):
            return None
        if s.schema is None and not self.broker.describe_topic(self.spec.source).config.get(
            "value_schema"
        ):
            return None
        with self._lock:
            if self._registry_tables is None:
                from logway.delivery.typed import RegistryTables

                self._registry_tables = RegistryTables(self.broker.schemas)
            return self._registry_tables

    def registry_values(self) -> bool:
        """Whether the values are in the schema registry's wire format: ``schema=
        "registry"``, or no ``schema`` and a topic with a ``value_schema``."""
        s = self.settings
        if s.schema is not None:
            return bool(s.schema == REGISTRY)
        config = self.broker.describe_topic(self.spec.source).config
        return bool(config.get("value_schema"))

    def commit(self, offsets: dict[TopicPartition, int]) -> None:
        """Commit through the group's member (a Kafka cluster wants its members')."""
        assert self.member is not None
        self.member.commit(offsets)

    def count(self, **figures: int) -> None:
        with self._lock:
            for name, n in figures.items():
                setattr(self.stats, name, getattr(self.stats, name) + n)

    def status(self) -> dict[str, Any]:
        s = self.stats
        return {
            "delivery": self.group,
            "source": self.spec.source,
            "to": self.store.url,
            "state": s.state,
            "partitions": sorted(tp.partition for tp in self._lanes),
            "records_in": s.records_in,
            "buffered": s.buffered,
            "records_delivered": s.records_delivered,
            "records_dropped": s.records_dropped,
            "records_failed": s.records_failed,
            "objects": s.objects,
            "bytes": s.bytes,
            "last_error": s.last_error,
        }


def _outcome(pending: Future[None] | None) -> None:
    """Wait for ``pending``, if any; its error is raised."""
    if pending is not None:
        pending.result()


async def _first(*events: asyncio.Event, timeout: float) -> None:
    """Wait until one of ``events`` is set, or ``timeout`` seconds."""
    waiters = [asyncio.ensure_future(e.wait()) for e in events]
    try:
        await asyncio.wait(waiters, timeout=timeout, return_when=asyncio.FIRST_COMPLETED)
    finally:
        for w in waiters:
            w.cancel()


class PartitionDelivery:
    """One partition of a delivery: read, buffer, flush, commit."""

    def __init__(self, runner: DeliveryRunner, tp: TopicPartition):
        self.runner = runner
        self.tp = tp
        self.settings = runner.settings
        self.store = runner.store
        self._stop = threading.Event()
        self.finished = False  # with until_end: delivered up to the end it saw at start
        self._converter = ThreadPoolExecutor(1, thread_name_prefix="logway-delivery-convert")
        self._publisher = ThreadPoolExecutor(1, thread_name_prefix="logway-delivery-publish")
        self._converting: Future[None] | None = None
        self._publishing: Future[None] | None = None
        self.state_path = f"_logway/state/{runner.group}/{tp.topic}+{tp.partition}.json"
        self.staging = Staging(runner.store, runner.group, tp)
        self.registry_tables: RegistryTables | None = None  # values in the wire format

    def stop(self) -> None:
        """Flush the buffer, commit, and end (within one poll)."""
        self._stop.set()

    def run(self) -> None:
        try:
            self._run()
        except ClosedError:
            if not self._stop.is_set():
                log.exception("%s: %s/%d stopped", self.runner.group, *self.tp)
        except Exception as exc:
            self.runner.stats.last_error = f"{type(exc).__name__}: {exc}"
            log.exception("%s: %s/%d stopped", self.runner.group, *self.tp)

    def _run(self) -> None:
        s, stop = self.settings, self._stop
        position = group_position(
            self.runner.broker, self.runner.group, self.tp, s.starting_position, self.runner.commit
        )
        redo = self._unfinished(position)
        self.registry_tables = self.runner.registry_tables()
        self.registry_json = s.format != "parquet" and self.runner.registry_values()
        self.staging.start(position)  # what killed runs left unpublished below it goes
        consumer = self.runner.broker.consumer(self.tp.topic, partitions=[self.tp])
        try:
            consumer.seek(self.tp, position)
            buffered: list[Record] = []
            size, opened = 0, 0.0
            end = 0
            if self.runner.until_end:  # the end it delivers up to: the one there is now
                end = self.runner.broker.end_offsets(self.tp.topic)[self.tp.partition]
            while not stop.is_set():
                if self.runner.until_end and redo is None:
                    read = buffered[-1].offset + 1 if buffered else consumer.position()[self.tp]
                    if read >= end:
                        if buffered:
                            self._hand_over(buffered)
                            buffered = []
                        self._drain()
                        self.finished = True
                        return
                timeout = IDLE_POLL_S
                if buffered and redo is None:
                    timeout = max(0.0, min(timeout, opened + s.buffer_interval - time.monotonic()))
                records = consumer.poll(timeout=timeout, max_records=MAX_POLL_RECORDS)
                if records:
                    if not buffered:
                        opened = time.monotonic()
                        log.info(
                            "%s: %s/%d: buffering from offset %d",
                            self.runner.group,
                            *self.tp,
                            records[0].offset,
                        )
                    buffered += records
                    size += _values_size(records)
                    self.runner.count(buffered=len(records))
                if redo is not None:  # the range a crash may have half written, exactly
                    if buffered and buffered[-1].offset >= redo:
                        cut = next(
                            (i for i, r in enumerate(buffered) if r.offset > redo), len(buffered)
                        )
                        self._hand_over(buffered[:cut])
                        buffered, redo = buffered[cut:], None
                        size = _values_size(buffered)
                        opened = time.monotonic()
                    continue
                if buffered and (
                    size >= s.buffer_size or time.monotonic() - opened >= s.buffer_interval
                ):
                    self._hand_over(buffered)
                    buffered, size = [], 0
            if buffered and redo is None:
                self._hand_over(buffered)  # on shutdown, what is buffered goes out
        finally:
            try:
                self._drain()
            finally:
                consumer.close()
                self._converter.shutdown()
                self._publisher.shutdown()

    def _hand_over(self, records: list[Record]) -> None:
        """Flush ``records`` in the background while the next buffer fills: one thread
        converts and writes a flush's objects unpublished (mostly outside the GIL),
        another publishes them (sync, rename, commit), so that one flush's syncing
        overlaps the next one's converting. Flushes publish one at a time, in order:
        each commits before the next one records its range."""
        prepared = _prepare(records)  # here: the converting thread has enough to do
        converting, self._converting = self._converting, None
        _outcome(converting)
        self._converting = self._converter.submit(self._convert_then_publish, records, prepared)

    def _convert_then_publish(self, records: list[Record], prepared: _Prepared) -> None:
        flush = self.build(records, prepared)
        publishing, self._publishing = self._publishing, None
        try:
            _outcome(publishing)
        except BaseException:
            flush.discard()
            raise
        self._publishing = self._publisher.submit(self.publish, flush)

    def _drain(self) -> None:
        """Wait until every flush handed over is published; the first error is raised."""
        converting, self._converting = self._converting, None
        try:
            _outcome(converting)
        finally:
            publishing, self._publishing = self._publishing, None
            _outcome(publishing)

    def _unfinished(self, position: int) -> int | None:
        """The last offset of a flush recorded as begun at ``position`` and not
        committed: a crash came between its first write and its commit."""
        try:
            state = json.loads(self.store.get(self.state_path))
        except ObjectMissingError:
            return None
        if state.get("first") == position and isinstance(state.get("last"), int):
            log.info(
                "%s: %s/%d: rewriting offsets %d..%d, whose delivery was not committed",
                self.runner.group,
                *self.tp,
                position,
                state["last"],
            )
            return int(state["last"])
        return None

    # --- a flush ----------------------------------------------------------------------

    def build(self, records: list[Record], prepared: _Prepared) -> _Flush:
        """Transform and convert ``records`` (one partition, in offset order), and write
        their objects, unpublished."""
        values, joinable = prepared
        joined = b"\n".join(values) if joinable else None
        tag = _source_hash(values, joined)
        flush = _Flush(records[0].offset, records[-1].offset, len(records))
        try:
            self._convert(flush, records, values, joined, tag)
        except BaseException:
            flush.discard()
            raise
        return flush

    def _convert(
        self,
        flush: _Flush,
        records: list[Record],
        values: list[bytes],
        joined: bytes | None,
        tag: str,
    ) -> None:
        s = self.settings
        if s.backup_source is not None:
            lines = [convert.record_line(r) for r in records]
            self._put_grouped(flush, s.backup_source, records, lines, tag, ".jsonl.gz", "gzip")
        kept: list[Record] = records
        datas: list[Any] = values
        failures: list[convert.Failure] = []
        if s.transform is not None:
            kept, datas, failures, flush.dropped = self._transform(records)
        failed = {i for i, _, _ in failures}
        todo = [i for i in range(len(kept)) if i not in failed]
        chosen = [kept[i] for i in todo]
        if s.format == "parquet":
            as_is = joined if datas is values else None
            flush.delivered, more = self._put_parquet(
                flush, chosen, [datas[i] for i in todo], tag, as_is
            )
        else:
            lines = [data_bytes(datas[i]) for i in todo]
            decoded: list[convert.Failure] = []
            if self.registry_json:  # JSON lines of the decoded values
                lines, decoded = convert.registry_json(lines, self.runner.broker.schemas)
                joined = None
            # a line that is not a JSON object would fail every query of the lake
            undecoded = {i for i, _, _ in decoded}
            more = decoded + [
                f
                for f in convert.not_json_objects(lines, joined if datas is values else None)
                if f[0] not in undecoded
            ]
            good: Sequence[int] = range(len(lines))
            if more:
                bad = {i for i, _, _ in more}
                good = [i for i in good if i not in bad]
                chosen, lines = [chosen[i] for i in good], [lines[i] for i in good]
            suffix = convert.JSONL_SUFFIX[s.compression]
            unplaced = self._put_grouped(flush, s.prefix, chosen, lines, tag, suffix, s.compression)
            more += [(good[i], error_type, message) for i, error_type, message in unplaced]
            flush.delivered = len(lines) - len(unplaced)
        failures += [(todo[i], error_type, message) for i, error_type, message in more]
        flush.failed = len(failures)
        if failures:
            self._put_failures(flush, kept, failures, tag)

    def publish(self, flush: _Flush) -> None:
        """Record the flush's range, publish its objects, then commit after it."""
        try:
            intent = json.dumps({"first": flush.first, "last": flush.last}).encode()
            self._retrying(lambda: self._put(flush, self.state_path, intent))
            while flush.objects:
                size = self._retrying(flush.objects[0].publish)
                flush.objects.pop(0)
                self.runner.count(objects=1, bytes=size)
        except BaseException:
            flush.discard()
            raise
        self.runner.commit({self.tp: flush.last + 1})
        self.staging.committed(flush.last + 1)
        self.runner.count(
            records_in=flush.records,
            records_delivered=flush.delivered,
            records_failed=flush.failed,
            records_dropped=flush.dropped,
            buffered=-flush.records,
        )
        log.info(
            "%s: %s/%d: delivered offsets %d..%d (%d records, %d failed)",
            self.runner.group,
            *self.tp,
            flush.first,
            flush.last,
            flush.delivered,
            flush.failed,
        )

    def _transform(
        self, records: list[Record]
    ) -> tuple[list[Record], list[Any], list[convert.Failure], int]:
        """Records the transform kept with their new data, the failed ones (indexes into
        the kept list, which includes them), and how many it dropped."""
        transform = self.settings.transform
        assert transform is not None
        error: Exception | None = None
        for attempt in range(TRANSFORM_ATTEMPTS):
            try:
                results = check_results(transform(list(records)), records)
                break
            except Exception as exc:
                error = exc
                log.warning(
                    "%s: %s/%d: the transform failed (attempt %d): %s",
                    self.runner.group,
                    *self.tp,
                    attempt + 1,
                    exc,
                )
                if attempt + 1 < TRANSFORM_ATTEMPTS:
                    self._stop.wait(TRANSFORM_BACKOFF_S * 2**attempt)
        else:
            message = f"the transform failed {TRANSFORM_ATTEMPTS} times: {error}"
            every = [(i, "processing-failed", message) for i in range(len(records))]
            return records, [None] * len(records), every, 0
        kept: list[Record] = []
        datas: list[Any] = []
        failures: list[convert.Failure] = []
        dropped = 0
        for record, result in zip(records, results, strict=True):
            if isinstance(result, Dropped):
                dropped += 1
                continue
            if isinstance(result, Ok):
                data = result.data
                datas.append(data if isinstance(data, dict) else data_bytes(data))
            else:
                failures.append((len(kept), "processing-failed", result.error))
                datas.append(None)
            kept.append(record)
        return kept, datas, failures, dropped

    def _put_parquet(
        self,
        flush: _Flush,
        records: list[Record],
        datas: list[Any],
        tag: str,
        joined: bytes | None,
    ) -> tuple[int, list[convert.Failure]]:
        """Write the records' Parquet objects; returns how many rows went out and the
        records that could not be converted or placed under a prefix."""
        s = self.settings
        if not records:
            return 0, []
        if self.registry_tables is not None:
            tables, failures = self.registry_tables.tables(records, datas)
        else:
            if s.schema is not None:
                table, kept, failures = convert.table_from_protobuf(records, datas, s.schema)
            else:
                table, kept, failures = convert.table_from_json(records, datas, joined)
            tables = [] if table is None else [(table, kept)]
        out = list(failures)
        rows = 0
        for table, kept in tables:  # several when a flush's schemas do not unite
            groups, unplaced = _split_table(table, s.prefix)
            out += [(kept[i], "partitioning-failed", m) for i, m in unplaced]
            for prefix, part in groups:
                offsets = part.column("_offset")
                first, last = offsets[0].as_py(), offsets[-1].as_py()
                name = self._name(prefix, first, last, tag, ".parquet")
                write = functools.partial(convert.write_parquet, part, compression=s.compression)
                self._stage(flush, name, write)
                rows += part.num_rows
        return rows, out

    def _put_grouped(
        self,
        flush: _Flush,
        prefix: Prefix,
        records: Sequence[Record],
        lines: list[bytes],
        tag: str,
        suffix: str,
        compression: str,
    ) -> list[convert.Failure]:
        """Write ``lines`` (one per record) as JSON-lines objects, one per prefix."""
        groups: dict[str, list[int]] = defaultdict(list)
        failures: list[convert.Failure] = []
        if not prefix.needs_record:  # time folders only: one prefix per span of time
            unit = prefix.time_unit_ms
            spans: dict[int, list[int]] = defaultdict(list)
            for i, record in enumerate(records):
                spans[record.timestamp // unit if unit else 0].append(i)
            groups.update(
                (prefix.render(span * (unit or 0)), index) for span, index in spans.items()
            )
        else:
            for i, record in enumerate(records):
                try:
                    groups[_record_prefix(prefix, record, lines[i])].append(i)
                except _Unplaced as exc:
                    failures.append((i, "partitioning-failed", str(exc)))
        for name_prefix, index in groups.items():
            name = self._name(
                name_prefix, records[index[0]].offset, records[index[-1]].offset, tag, suffix
            )
            self._stage(flush, name, convert.jsonl_bytes([lines[i] for i in index], compression))
        return failures

    def _put_failures(
        self, flush: _Flush, records: list[Record], failures: list[convert.Failure], tag: str
    ) -> None:
        by_prefix: dict[str, list[tuple[int, str, str]]] = defaultdict(list)
        prefix = self.settings.error_prefix
        for i, error_type, message in sorted(failures):
            record = records[i]
            # a failed record may lack what the prefix reads: that folder says so
            values = _placeholders(prefix, record, None, missing=MISSING)
            values["error_type"] = error_type
            by_prefix[prefix.render(record.timestamp, values)].append((i, error_type, message))
        for where, items in by_prefix.items():
            lines = [
                convert.record_line(records[i], errorCode=error_type, errorMessage=message)
                for i, error_type, message in items
            ]
            first, last = records[items[0][0]].offset, records[items[-1][0]].offset
            name = self._name(where, first, last, tag, ".jsonl")
            self._stage(flush, name, convert.jsonl_bytes(lines, "none"))
        log.warning(
            "%s: %s/%d: %d records went under the error prefix (first: offset %d, %s)",
            self.runner.group,
            *self.tp,
            len(failures),
            records[failures[0][0]].offset,
            failures[0][2],
        )

    def _name(self, prefix: str, first: int, last: int, tag: str, suffix: str) -> str:
        return f"{prefix}{self.tp.topic}+{self.tp.partition}+{first:020d}+{last:020d}+{tag}{suffix}"

    def _stage(self, flush: _Flush, name: str, data: bytes | Callable[[Any], None]) -> None:
        """Write an object of ``flush`` (``data``, or what ``data(stream)`` writes),
        unpublished."""
        obj = self.staging.unpublished(name, flush.first, flush.last)
        flush.objects.append(obj)
        if callable(data):
            data(obj.stream)
        else:
            obj.stream.write(data)
        obj.close()

    def _put(self, flush: _Flush, path: str, data: bytes) -> None:
        """Write ``path`` whole and durably, staged as the objects of ``flush`` are."""
        obj = self.staging.unpublished(path, flush.first, flush.last)
        try:
            obj.stream.write(data)
            obj.publish()
        except BaseException:
            obj.discard()
            raise

    def _retrying(self, attempt: Callable[[], T]) -> T:
        """``attempt()``, again while the destination fails: the records wait in the
        log, and nothing is committed until they are written."""
        delay = WRITE_BACKOFF_S
        while True:
            try:
                return attempt()
            except LogwayError as exc:
                self.runner.stats.last_error = str(exc)
                log.warning("%s: %s; retrying in %.1f s", self.runner.group, exc, delay)
                if self._stop.wait(delay):
                    raise
                delay = min(delay * 2, WRITE_BACKOFF_MAX_S)


@dataclass
class _Flush:
    """A flush between converting and publishing: its range, its objects (written,
    not yet published) and its figures."""

    first: int
    last: int
    records: int
    delivered: int = 0
    failed: int = 0
    dropped: int = 0
    objects: list[UnpublishedObject] = field(default_factory=list)

    def discard(self) -> None:
        for obj in self.objects:
            obj.discard()
        self.objects.clear()


_Prepared = tuple[list[bytes], bool]


def _prepare(records: list[Record]) -> _Prepared:
    """The records' values, and whether they can be joined by line breaks as Arrow's
    JSON reader takes them: when none holds one (then each line is one value, and a
    reader that finds as many rows as values has kept them aligned)."""
    values = [b"" if r.value is None else r.value for r in records]
    return values, not any(b"\n" in v for v in values)


def _source_hash(values: list[bytes], joined: bytes | None) -> str:
    """The short hash of a flush's records that its object names carry."""
    return f"{codec.crc32c(b''.join(values) if joined is None else joined):08x}"


def _values_size(records: list[Record]) -> int:
    """Bytes of the records' values (what buffer_size counts)."""
    return sum(map(len, filter(None, map(_VALUE, records))))


_VALUE = operator.itemgetter(5)  # Record.value


class _Unplaced(Exception):
    """A record lacks what its prefix needs (a value field, a key)."""


MISSING = "__MISSING__"  # an error prefix's folder for what a failed record lacks


def _placeholders(
    prefix: Prefix, record: Record, value: Any, missing: str | None = None
) -> dict[str, str]:
    """The record's values for the prefix's placeholders other than time. What the
    record lacks raises ``_Unplaced``, or is ``missing`` when that is given."""
    out: dict[str, str] = {}
    for name in prefix.fields:
        try:
            if name == "topic":
                out[name] = record.topic
            elif name == "partition":
                out[name] = str(record.partition)
            elif name == "key":
                out[name] = _key_text(record)
            elif name.startswith("value."):
                if value is None:
                    value = _json_value(record, name)
                out[name] = _field_text(value, name)
        except _Unplaced:
            if missing is None:
                raise
            out[name] = missing
    return out


def _key_text(record: Record) -> str:
    if record.key is None:
        raise _Unplaced("the prefix uses {key} and the record has none")
    return record.key.decode("utf-8", "backslashreplace")


def _json_value(record: Record, name: str) -> Any:
    try:
        return json.loads(record.value or b"")
    except ValueError:
        raise _Unplaced(f"the prefix uses {{{name}}} and the value is not JSON") from None


def _field_text(value: Any, name: str) -> str:
    """The field ``name`` ("value.a.b") of a JSON value, as a folder name's text."""
    found: Any = value
    for part in name.split(".")[1:]:
        found = found.get(part) if isinstance(found, dict) else None
    if found is None or isinstance(found, dict | list):
        raise _Unplaced(f"the prefix uses {{{name}}}, which the value does not have")
    return json.dumps(found) if isinstance(found, bool) else str(found)


def _record_prefix(prefix: Prefix, record: Record, data: bytes) -> str:
    value = None
    if prefix.value_fields:
        try:
            value = json.loads(data)
        except ValueError:
            raise _Unplaced("the prefix uses a value field and the data is not JSON") from None
    return prefix.render(record.timestamp, _placeholders(prefix, record, value))


def _split_table(table: Any, prefix: Prefix) -> tuple[list[tuple[str, Any]], list[tuple[int, str]]]:
    """The table's rows grouped by prefix, in offset order within each, and the rows
    (by position) that could not be placed."""
    stamps = table.column("_timestamp").cast(pa.int64())
    if not prefix.needs_record:
        unit = prefix.time_unit_ms
        if unit is None:
            return [(prefix.render(0), table)], []
        buckets = (
            pc.divide(stamps, unit)
            if pc.min(stamps).as_py() >= 0
            else pc.floor(pc.divide(stamps.cast(pa.float64()), unit)).cast(pa.int64())
        )
        unique = pc.unique(buckets).to_pylist()
        if len(unique) == 1:
            return [(prefix.render(unique[0] * unit), table)], []
        return [
            (prefix.render(b * unit), table.filter(pc.equal(buckets, b))) for b in sorted(unique)
        ], []
    # placeholders from the record or its value: row by row
    records = _rows_for_prefix(table, prefix)
    groups: dict[str, list[int]] = defaultdict(list)
    unplaced: list[tuple[int, str]] = []
    for i, (record, value) in enumerate(records):
        try:
            groups[prefix.render(record.timestamp, _placeholders(prefix, record, value))].append(i)
        except _Unplaced as exc:
            unplaced.append((i, str(exc)))
    return [(p, table.take(pa.array(index))) for p, index in groups.items()], unplaced


def _rows_for_prefix(table: Any, prefix: Prefix) -> list[tuple[Record, dict[str, Any]]]:
    """Per row, a record with the metadata the prefix reads and the value's fields
    it reads, taken from the table's columns."""
    n = table.num_rows
    cols = {
        name: table.column(name).to_pylist() for name in ("_topic", "_partition", "_offset", "_key")
    }
    stamps = table.column("_timestamp").cast("int64").to_pylist()
    roots = {f.split(".")[1] for f in prefix.value_fields}
    values: list[dict[str, Any]] = [{} for _ in range(n)]
    for root in roots:
        if root in table.column_names:
            for i, v in enumerate(table.column(root).to_pylist()):
                values[i][root] = v
    out = []
    for i in range(n):
        key = cols["_key"][i]
        record = Record(
            cols["_topic"][i],
            cols["_partition"][i],
            cols["_offset"][i],
            stamps[i],
            None if key is None else key.encode(),
            None,
        )
        out.append((record, values[i]))
    return out


async def run_deliveries(
    broker: Broker, app_name: str, specs: list[DeliverySpec], stopping: asyncio.Event
) -> list[DeliveryRunner]:
    """Run every delivery until ``stopping`` is set; then flush and commit."""
    runners = [DeliveryRunner(broker, app_name, s) for s in specs]
    await asyncio.gather(*(r.run(stopping) for r in runners))
    return runners
