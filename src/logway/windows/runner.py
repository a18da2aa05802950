"""Running a window (``App.window``) over a topic: read every partition, aggregate
in a ``WindowEngine`` by event time, and produce each window's result to a topic.

- Event time is the record's timestamp or a field of its value; the key is the
  record's key, a field, or a function of the record. Values are JSON, or in the
  schema registry's wire format (decoded with the schema their id names; Protobuf
  messages as dicts with the schema's field names).
- The watermark is ``Watermarks``' (per partition, the least of them, advanced by
  wall-clock time while a partition is idle), so the last window of a quiet key
  closes without new data.
- Results are JSON objects ``{"key", "window_start", "window_end", ...aggregates}``
  keyed by the window's key; records too late for any open window go to the late
  topic, and records that cannot be read as rows (not JSON, a missing field, a type
  error) or that the state has no room for (``max_open``) to the error topic, each
  with the reason in headers — never dropped.
- State is checkpointed every ``checkpoint`` into the changelog topic
  ``__logway_windows`` (the engine's snapshot, the watermarks and the input
  positions, keyed by the window's group) and the group's offsets are committed
  after it; a restart restores the last checkpoint and reads on from its positions.
- Final results are exactly once: each is numbered in the order produced (the next
  number is in the checkpoint), and after a restart the results up to the highest
  number the output topic already holds are not produced again — replaying from the
  checkpoint makes the same results in the same order when the records are read in
  the same order (one partition, or event time that closes windows without relying
  on idleness). Updates (``emit="update"``), late and error records are at least
  once. One process runs a window: it reads every partition of the source.
"""

from __future__ import annotations

import asyncio
import json
import logging
import math
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import orjson

from logway.broker import Broker, ensure_topic
from logway.errors import InvalidArgumentError, InvalidRecordError, WindowStateFullError
from logway.jobs import newest, run_in_thread, run_leased
from logway.records import Record, TopicPartition
from logway.schemas.codecs import plain
from logway.units import parse_duration_ms
from logway.windows import fields
from logway.windows.aggregates import Aggregations, compile_aggregations
from logway.windows.engine import Late, WindowEngine, WindowResult
from logway.windows.output import NumberedOutput, aside
from logway.windows.spec import Windowing
from logway.windows.watermark import Watermarks

log = logging.getLogger("logway.windows")
CHANGELOG_TOPIC = "__logway_windows"
POLL_S = 0.2


@dataclass
class WindowSpec:
    """A window of an app, checked when declared."""

    name: str
    source: str
    to: str
    windowing: Windowing
    aggregate: Mapping[str, Any]
    key: str | Callable[[Record], Any] | None = None
    time: str | Callable[[Record], int] | None = None
    emit: str = "final"
    idle_ms: int = 10_000
    checkpoint_ms: int = 5_000
    starting_position: str = "earliest"
    late_topic: str = ""
    error_topic: str = ""
    aggregations: Aggregations = field(init=False)

    def __post_init__(self) -> None:
        if self.emit not in ("final", "update"):
            raise InvalidArgumentError(f"emit is 'final' or 'update', not {self.emit!r}")
        if self.starting_position not in ("earliest", "latest"):
            raise InvalidArgumentError(
                f"starting_position is 'earliest' or 'latest', not {self.starting_position!r}"
            )
        self.aggregations = compile_aggregations(self.aggregate)
        self.late_topic = self.late_topic or f"{self.to}-late"
        self.error_topic = self.error_topic or f"{self.to}-errors"

    def make_runner(self, broker: Broker, app_name: str) -> WindowRunner:
        return WindowRunner(broker, app_name, self)


# _take parses with orjson (strict RFC 8259, from bytes; integers past 64 bits come out as
# floats); what it refuses (NaN, a lone surrogate, ...) _row reads with json.loads or
# refuses with json's reason
_loads = orjson.loads
# one encoder for every result (json.dumps with default= builds one per call)
_dumps = json.JSONEncoder(default=str).encode
# what makes _take leave a record to _row: no value, not UTF-8, not one JSON value
# alone, a missing field, a value that is not an object, a time that is not a number
_NOT_INLINE = (ValueError, *fields.LOOKUP_ERRORS)
_NONE = -math.inf  # below every event time


def _top_level(field: object) -> str | None:
    """``field`` if it names a top-level field of the value (no dotted path)."""
    return field if isinstance(field, str) and "." not in field else None


def _field(value: Any, path: str) -> Any:
    """``fields.read``, a missing field refused as a row that cannot be read."""
    try:
        return fields.read(path, value)
    except fields.LOOKUP_ERRORS:
        raise InvalidRecordError(f"its value has no field {path!r}") from None


class WindowRunner:
    def __init__(self, broker: Broker, app_name: str, spec: WindowSpec):
        self.broker = broker
        self.spec = spec
        self.group = f"{app_name}.{spec.name}"
        self.stats = {"records_in": 0, "results": 0, "late": 0, "errors": 0}
        self._reset()

    def _reset(self) -> None:
        """The state of a runner that has read nothing yet."""
        spec = self.spec
        self.engine = WindowEngine(spec.windowing, spec.aggregations, spec.emit)
        self.watermarks = Watermarks(spec.windowing.grace_ms, spec.idle_ms)
        self.positions: dict[int, int] = {}
        self.output = NumberedOutput(self.broker, spec.to, self.group)

    def status(self) -> dict[str, Any]:
        """What ``/metrics`` shows of this window."""
        return {
            "window": self.group,
            **self.stats,
            "open_windows": self.engine.open_windows,
            "open_keys": self.engine.open_keys,
        }

    # --- reading a record -----------------------------------------------------------

    def _row(self, record: Record) -> tuple[Any, int, Any]:
        """(key, event time, value) of a record, or InvalidRecordError saying why not."""
        data = record.value
        if data is not None and len(data) >= 5 and data[0] == 0:  # the registry's wire format
            value = plain(self.broker.schemas.decode(data))
        else:
            try:
                value = json.loads(data) if data is not None else None
            except ValueError as exc:
                raise InvalidRecordError(f"its value is not JSON: {exc}") from None
        spec = self.spec
        if spec.key is None:
            key: Any = None if record.key is None else record.key.decode(errors="replace")
        elif callable(spec.key):
            key = spec.key(record)
        else:
            key = _field(value, spec.key)
        if spec.time is None:
            event_time = record.timestamp
        elif callable(spec.time):
            event_time = int(spec.time(record))
        else:
            raw = _field(value, spec.time)
            if isinstance(raw, bool) or not isinstance(raw, int | float):
                raise InvalidRecordError(
                    f"its time field {spec.time!r} is {raw!r}, not milliseconds since the epoch"
                )
            event_time = int(raw)
        return key, event_time, value

    # --- the loop -------------------------------------------------------------------

    async def run(self, stopping: asyncio.Event) -> None:
        await run_in_thread(self.run_until, stopping)

    def run_until(self, stop: threading.Event) -> None:
        """Run until ``stop``, while this process holds the window's lease (``lease.py``)."""
        run_leased(self.broker, self.group, stop, lambda lost: self._run(stop, lost))

    def _run(self, stop: threading.Event, lost: Callable[[], bool]) -> None:
        for topic in (self.spec.to, self.spec.late_topic, self.spec.error_topic):
            ensure_topic(self.broker, topic)
        ensure_topic(self.broker, CHANGELOG_TOPIC, retention_ms="7d")
        self._reset()
        source = self.spec.source
        count = len(self.broker.start_offsets(source))
        partitions = [TopicPartition(source, p) for p in range(count)]
        self._restore(count)
        self.output.start()
        self.watermarks.assign(list(range(count)), int(time.time() * 1000))
        with self.broker.consumer(source, partitions=partitions) as consumer:
            for p, offset in self.positions.items():
                consumer.seek(TopicPartition(source, p), offset)
            last_checkpoint = time.monotonic()
            # wait for records no longer than idleness takes to count, so a short idle
            # closes the windows of a stream that stopped when it says, not a poll later
            wait_s = min(POLL_S, max(0.005, self.spec.idle_ms / 1000))
            while not stop.is_set():
                records = consumer.poll(timeout=wait_s, max_records=5000)
                if lost():
                    log.info("%s: another process runs it now", self.group)
                    return
                now = int(time.time() * 1000)
                out: list[WindowResult] = []
                if records:
                    self._take(records, now, out)
                self.watermarks.idle(now)
                out.extend(self.engine.advance(self.watermarks.current))
                self._emit(out)
                if time.monotonic() - last_checkpoint >= self.spec.checkpoint_ms / 1000:
                    self._checkpoint()
                    last_checkpoint = time.monotonic()
            self._checkpoint()

    def _take(self, records: list[Record], now: int, out: list[WindowResult]) -> None:
        """Add a poll's records to their windows (results of ``emit="update"`` into
        ``out``), the late and unreadable ones set aside with the reason. The common
        record, a JSON value whose key and time are the record's own or top-level
        fields, is read here inline; any other (the registry's wire format, a function
        or dotted path, JSON that only ``json.loads`` reads, an error) by ``_row``."""
        self.stats["records_in"] += len(records)
        spec = self.spec
        key_name = _top_level(spec.key)
        time_name = _top_level(spec.time)
        inline = (spec.key is None or key_name is not None) and (
            spec.time is None or time_name is not None
        )
        positions = self.positions
        add = self.engine.add
        row = self._row
        loads = _loads
        highest: dict[int, float] = {}  # partition -> highest event time added
        # the partition of the records in hand (a poll's come in runs of one partition),
        # its highest event time added (_NONE: none yet) and its position after them
        current, position = -1, 0
        high: float = _NONE
        for record in records:
            _, partition, offset, timestamp, record_key, data, _ = record
            if partition != current:
                if current >= 0:
                    positions[current] = position
                    if high is not _NONE:
                        highest[current] = high
                current, high = partition, highest.get(partition, _NONE)
            position = offset + 1
            try:
                try:
                    if not inline or data[0] == 0:  # type: ignore[index]  # 0: registry framing
                        raise ValueError("not read inline")
                    value = loads(data)  # type: ignore[arg-type]  # None: TypeError above
                    if key_name is not None:
                        key = value[key_name]
                    else:
                        key = None if record_key is None else record_key.decode(errors="replace")
                    if time_name is None:
                        event_time = timestamp
                    else:
                        raw = value[time_name]
                        if raw.__class__ is int:
                            event_time = raw
                        elif raw.__class__ is float:
                            event_time = int(raw)
                        else:
                            raise ValueError("not a number")
                except _NOT_INLINE:
                    key, event_time, value = row(record)
                results, late = add(key, event_time, value)
            except (InvalidRecordError, WindowStateFullError) as exc:
                self._aside(spec.error_topic, record, str(exc), "errors")
                continue
            if event_time > high:
                high = event_time
            if results:
                out.extend(results)
            if late is not None:
                self._late(record, late)
        if current >= 0:
            positions[current] = position
            if high is not _NONE:
                highest[current] = high
        observe = self.watermarks.observe
        for partition, latest in highest.items():
            observe(partition, int(latest), now)

    def _late(self, record: Record, late: Late) -> None:
        reason = f"{late.reason} (event time {late.event_time}, watermark {late.watermark})"
        self._aside(self.spec.late_topic, record, reason, "late")

    def _aside(self, topic: str, record: Record, reason: str, counter: str) -> None:
        self.stats[counter] += 1
        aside(self.broker, topic, record, reason, self.group)

    def _emit(self, results: list[WindowResult]) -> None:
        """Produce results in order, final ones numbered (``NumberedOutput``)."""
        if not results:
            return
        inclusive = self.spec.windowing.kind == "sliding"  # Kafka Streams' inclusive ends
        out = []
        for r in results:
            row = {"key": r.key, "window_start": r.start, "window_end": r.end, **r.values}
            if not r.final:
                row["final"] = False
            out.append(
                (
                    None if r.key is None else str(r.key).encode(),
                    _dumps(row).encode(),
                    r.end if inclusive else max(r.start, r.end - 1),  # in the window
                    r.final,
                )
            )
        self.stats["results"] += self.output.emit(out)

    # --- checkpoints ----------------------------------------------------------------

    def _checkpoint(self) -> None:
        snapshot = {
            "engine": self.engine.snapshot(),
            "positions": {str(p): o for p, o in self.positions.items()},
            "seq": self.output.seq,
        }
        self.broker.produce(CHANGELOG_TOPIC, json.dumps(snapshot).encode(), self.group.encode())
        if self.positions:
            tps = {TopicPartition(self.spec.source, p): o for p, o in self.positions.items()}
            self.broker.commit(self.group, tps)

    def _restore(self, count: int) -> None:
        """The last checkpoint of this window, if any; else the group's committed
        offsets or the starting position."""
        found = self._last_checkpoint()
        if found is not None:
            snapshot = json.loads(found)
            self.engine = WindowEngine.restore(
                self.spec.windowing, self.spec.aggregations, self.spec.emit, snapshot["engine"]
            )
            self.positions = {int(p): int(o) for p, o in snapshot["positions"].items()}
            self.output.seq = int(snapshot.get("seq", 0))
            log.info("%s: restored from its checkpoint at %s", self.group, self.positions)
            return
        source = self.spec.source
        committed = self.broker.committed(self.group, source)
        starts = self.broker.start_offsets(source)
        ends = self.broker.end_offsets(source)
        for p in range(count):
            done = committed.get(TopicPartition(source, p))
            if done is not None:
                self.positions[p] = done
            else:
                self.positions[p] = (
                    starts[p] if self.spec.starting_position == "earliest" else ends[p]
                )

    def _last_checkpoint(self) -> bytes | None:
        """The newest checkpoint of this window in the changelog (which holds every
        window's checkpoints)."""
        key = self.group.encode()
        found = newest(self.broker, CHANGELOG_TOPIC, lambda r: r.key == key and r.value is not None)
        return found[0][1].value if found else None


async def run_windows(
    broker: Broker, app_name: str, specs: list[Any], stopping: asyncio.Event
) -> list[Any]:
    """Run an app's windows and continuous queries (``WindowSpec``s and ``SqlSpec``s)."""
    runners = [spec.make_runner(broker, app_name) for spec in specs]
    await asyncio.gather(*(r.run(stopping) for r in runners))
    return runners


def window_spec(
    name: str,
    source: str,
    to: str,
    *,
    aggregate: Mapping[str, Any],
    tumbling: Any = None,
    hopping: Any = None,
    sliding: Any = None,
    session: Any = None,
    grace: Any = 0,
    idle: Any = "10s",
    checkpoint: Any = "5s",
    **options: Any,
) -> WindowSpec:
    windowing = Windowing.build(
        tumbling=tumbling, hopping=hopping, sliding=sliding, session=session, grace=grace
    )
    return WindowSpec(
        name,
        source,
        to,
        windowing,
        aggregate,
        idle_ms=parse_duration_ms(idle, "idle"),
        checkpoint_ms=max(1, parse_duration_ms(checkpoint, "checkpoint")),
        **options,
    )
