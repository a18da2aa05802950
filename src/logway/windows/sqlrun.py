"""Running a continuous query over a topic (``App.sql``, ``logway sql``): ``SqlRunner``.

- Records are read in batches; DuckDB reads each batch's JSON values as rows of typed
  columns in one vectorised pass (values in the schema registry's wire format are
  decoded first). A record that cannot be read as a row — no value, not JSON, not an
  object, a missing column, a value of the wrong type, no event time — goes to the error
  topic with the reason in its ``logway.reason`` header, as Kinesis Data Analytics'
  error stream does, and the query carries on.
- The columns are those the query names (every field of the records for ``SELECT *``).
  Their types are given with ``columns={"temp": "DOUBLE", …}`` (any DuckDB type), or
  taken from the first record that has them all: JSON numbers as DOUBLE (the time
  column's as BIGINT milliseconds), strings as VARCHAR (the time column's as
  TIMESTAMPTZ), booleans as BOOLEAN, objects and arrays as JSON.
- Windowed queries: each row is assigned to its windows (``window_start``/``window_end``
  as TIMESTAMPs, aligned to the epoch plus the offset) and held until the watermark
  (the least over partitions of max event time - ``grace``, advanced by the wall clock
  while partitions are idle, as ``Watermarks`` computes it after each batch) passes the
  window's end; then the query runs over that window's rows and its rows are produced.
  A record every window of which has closed goes to the late topic. A query that fails
  over one window (a division by zero, a cast) puts the window's error on the error
  topic and carries on.
- Queries without a window run over each batch of records as it is read.
- Results are JSON objects of the result's columns (TIMESTAMPs as milliseconds since
  the epoch), keyed by the result column ``key=`` names (else no key), stamped with
  their window's last millisecond (the batch's newest record timestamp without a
  window). Each window's rows are sorted, so a replay makes them in the same order.
- Exactly once: the held rows are not snapshotted; a checkpoint (every ``checkpoint``,
  in ``__logway_windows``) keeps, per partition, the offset of the oldest record still
  held and the position read up to, with the watermark and the next result number
  (``NumberedOutput``). A restart reads again from the oldest held record, takes the
  records it had read before back into their windows without sending anything aside
  again, and skips results the output already holds.
"""

from __future__ import annotations

import asyncio
import json
import logging
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from logway.broker import Broker, ensure_topic
from logway.errors import InvalidArgumentError
from logway.jobs import newest, run_in_thread, run_leased
from logway.records import Record, TopicPartition
from logway.schemas.codecs import plain
from logway.units import parse_duration_ms
from logway.windows.output import NumberedOutput, aside
from logway.windows.sql import PSEUDO_COLUMNS, ContinuousQuery
from logway.windows.sqlrows import (
    Rows,
    add_window_columns,
    batch_columns,
    ident,
    json_default,
    max_per_partition,
    windows_of,
)
from logway.windows.watermark import Watermarks

log = logging.getLogger("logway.sql")
CHANGELOG_TOPIC = "__logway_windows"
POLL_S = 0.2
BATCH = 10_000

# --- the spec -----------------------------------------------------------------------


@dataclass
class SqlSpec:
    """A continuous query of an app, checked when declared."""

    name: str
    query: ContinuousQuery
    key: str | None = None
    columns: dict[str, str] | None = None
    grace_ms: int = 0
    idle_ms: int = 10_000
    checkpoint_ms: int = 5_000
    starting_position: str = "earliest"
    late_topic: str = ""
    error_topic: str = ""
    max_held: int = 5_000_000  # rows held in open windows; more go to the error topic

    @property
    def source(self) -> str:
        return self.query.source

    @property
    def to(self) -> str:
        return self.query.target or ""

    def __post_init__(self) -> None:
        if self.starting_position not in ("earliest", "latest"):
            raise InvalidArgumentError(
                f"starting_position is 'earliest' or 'latest', not {self.starting_position!r}"
            )
        target = self.query.target or self.name
        self.late_topic = self.late_topic or f"{target}-late"
        self.error_topic = self.error_topic or f"{target}-errors"
        if self.columns is not None:
            self.columns = {str(k): str(v) for k, v in self.columns.items()}
            time_column = self.query.time_column
            known = (*PSEUDO_COLUMNS, *self.columns)
            if time_column and time_column not in known:
                raise InvalidArgumentError(
                    f"the time column {time_column!r} is not among columns= "
                    f"({', '.join(self.columns)})"
                )
            Rows(self.query, self.columns).check()

    def make_runner(self, broker: Broker, app_name: str) -> SqlRunner:
        return SqlRunner(broker, f"{app_name}.{self.name}", self)


def sql_spec(
    statement: str,
    *,
    name: str | None = None,
    key: str | None = None,
    columns: Mapping[str, str] | None = None,
    grace: Any = 0,
    idle: Any = "10s",
    checkpoint: Any = "5s",
    starting_position: str = "earliest",
    late_topic: str = "",
    error_topic: str = "",
    max_held: int = 5_000_000,
) -> SqlSpec:
    query = ContinuousQuery.parse(statement)
    if query.target is None:
        raise InvalidArgumentError(
            "an app's continuous query produces its rows to a topic: INSERT INTO topic SELECT …"
        )
    return SqlSpec(
        name or query.target,
        query,
        key=key,
        columns=dict(columns) if columns is not None else None,
        grace_ms=parse_duration_ms(grace, "grace"),
        idle_ms=parse_duration_ms(idle, "idle"),
        checkpoint_ms=max(1, parse_duration_ms(checkpoint, "checkpoint")),
        starting_position=starting_position,
        late_topic=late_topic,
        error_topic=error_topic,
        max_held=max_held,
    )


# --- the runner ---------------------------------------------------------------------

Output = Callable[[list[dict[str, Any]]], None]


class SqlRunner:
    """Runs one continuous query (see the module's docstring). With ``sink`` (for
    ``logway sql``) rows go to it instead of a topic, unreadable and late records are
    reported to ``report``, and nothing is checkpointed."""

    def __init__(
        self,
        broker: Broker,
        group: str,
        spec: SqlSpec,
        sink: Output | None = None,
        report: Callable[[str], None] | None = None,
    ):
        self.broker = broker
        self.group = group
        self.spec = spec
        self.query = spec.query
        self.sink = sink
        self.report = report or (lambda text: log.warning("%s: %s", group, text))
        self.stats = {"records_in": 0, "results": 0, "late": 0, "errors": 0}
        self._reset()

    def _reset(self) -> None:
        """The state of a runner that has read nothing yet."""
        spec, broker, group = self.spec, self.broker, self.group
        self.rows = Rows(spec.query, spec.columns)
        self.watermarks = Watermarks(spec.grace_ms, spec.idle_ms)
        self.positions: dict[int, int] = {}  # read up to, per partition
        self.replay_upto: dict[int, int] = {}  # records below were read before a restart
        self.replay_from: dict[int, int] = {}  # the oldest held record at the checkpoint
        self.pending: dict[int, list[Any]] = {}  # window end -> Arrow tables of its rows
        self.sessions: list[Any] = []  # SESSION: the rows of open sessions
        self.held = 0  # rows in pending and sessions
        self.output = (
            NumberedOutput(broker, spec.to, group) if self.sink is None and spec.to else None
        )

    def status(self) -> dict[str, Any]:
        """What ``/metrics`` shows of this query."""
        return {
            "window": self.group,
            **self.stats,
            "open_windows": len(self.pending),
            "held_rows": self.held,
        }

    # --- the loop -------------------------------------------------------------------

    async def run(self, stopping: asyncio.Event) -> None:
        await run_in_thread(self.run_until, stopping)

    def open(self) -> dict[int, int]:
        """Restore the checkpoint and look at the output; returns where to read each
        partition from."""
        if self.sink is None:
            for topic in (self.spec.to, self.spec.late_topic, self.spec.error_topic):
                ensure_topic(self.broker, topic)
            ensure_topic(self.broker, CHANGELOG_TOPIC, retention_ms="7d")
        count = len(self.broker.start_offsets(self.query.source))
        now = int(time.time() * 1000)
        self._restore(count, now)
        if self.output is not None:
            self.output.start()
        self.watermarks.assign(list(range(count)), now)
        return self._resume_from()

    def step(self, records: list[Record]) -> None:
        """Take a batch of records (maybe none), then close the windows the watermark
        passed."""
        if records:
            self.take(records)
        self.watermarks.idle(int(time.time() * 1000))
        self.close_windows()

    def run_until(self, stop: threading.Event) -> None:
        """Run until ``stop``: while this process holds the query's lease (``lease.py``);
        at once with a ``sink``."""
        if self.sink is not None:
            self._run_once(stop, lambda: False)
        else:
            run_leased(self.broker, self.group, stop, lambda lost: self._run_once(stop, lost))

    def _run_once(self, stop: threading.Event, lost: Callable[[], bool]) -> None:
        self._reset()
        source = self.query.source
        start = self.open()
        count = len(self.broker.start_offsets(source))
        partitions = [TopicPartition(source, p) for p in range(count)]
        with self.broker.consumer(source, partitions=partitions) as consumer:
            for p, offset in start.items():
                consumer.seek(TopicPartition(source, p), offset)
            last_checkpoint = time.monotonic()
            while not stop.is_set():
                records = consumer.poll(timeout=POLL_S, max_records=BATCH)
                if lost():
                    log.info("%s: another process runs it now", self.group)
                    return
                self.step(records)
                if time.monotonic() - last_checkpoint >= self.spec.checkpoint_ms / 1000:
                    self.checkpoint()
                    last_checkpoint = time.monotonic()
            self.checkpoint()

    # --- a batch --------------------------------------------------------------------

    def take(self, records: list[Record]) -> None:
        """Read a batch of records into rows, held in their windows (or run at once
        without a window)."""
        import pyarrow as pa
        import pyarrow.compute as pc

        self.stats["records_in"] += len(records)
        values = [r.value for r in records]
        for i, v in enumerate(values):
            if v is not None and len(v) >= 5 and v[0] == 0:  # the registry's wire format
                values[i] = self._registry_json(v)
        if self.rows.columns is None and not self.rows.infer(self._objects(values)):
            for r in records:
                reason = "no record yet has every column the query names"
                self._aside(r, self.spec.error_topic, reason, "errors")
            self._advance_positions(records)
            return
        batch = batch_columns(
            [r.partition for r in records],
            [r.offset for r in records],
            [r.timestamp for r in records],
            [r.key for r in records],
            values,
        )
        table = self.rows.read(pa.table(batch))
        failed = pc.is_valid(table["__error"])
        if pc.any(failed).as_py():
            for i, reason in zip(
                table.filter(failed)["__i"].to_pylist(),
                table.filter(failed)["__error"].to_pylist(),
                strict=True,
            ):
                self._aside(records[i], self.spec.error_topic, reason, "errors")
            table = table.filter(pc.invert(failed))
        self._advance_positions(records)
        if table.num_rows == 0:
            return
        if not self.query.windowed:
            self._run_rows(table)
            return
        wm = self.watermarks.current
        t = table["__t"].to_numpy()
        q = self.query
        size, step, off = q.size_ms, q.step_ms, q.offset_ms
        if q.kind == "session":
            last_end = t + size
        elif q.kind == "hop":
            last_end = t - (t - off) % step + size
        else:  # tumble, cumulate
            last_end = t - (t - off) % size + size
        late = last_end <= wm
        if late.any():
            for i, event_time in zip(
                table["__i"].to_numpy()[late].tolist(), t[late].tolist(), strict=True
            ):
                reason = f"every window of its event time {event_time} has closed (watermark {wm})"
                self._aside(records[i], self.spec.late_topic, reason, "late")
            table = table.filter(pa.array(~late))
            t = t[~late]
        windows = [] if q.kind == "session" else windows_of(table, t, q, wm)
        adding = table.num_rows if q.kind == "session" else sum(w[2].num_rows for w in windows)
        if self.held + adding > self.spec.max_held:
            reason = (
                f"the query holds {self.held:,} rows in open windows and this batch would add "
                f"{adding:,}, over its max_held ({self.spec.max_held:,}): raise max_held, or "
                "use shorter windows or less grace"
            )
            for i in table["__i"].to_pylist():
                self._aside(records[i], self.spec.error_topic, reason, "errors")
            return
        self.held += adding
        for p, m in zip(*(c.to_pylist() for c in max_per_partition(table)), strict=True):
            self.watermarks.observe(p, m, int(time.time() * 1000))
        if q.kind == "session":
            self.sessions.append(table)
            return
        for start, end, rows in windows:
            self.pending.setdefault(end, []).append(add_window_columns(rows, start, end))

    def _objects(self, values: list[bytes | None]) -> list[Any]:
        out = []
        for v in values:
            try:
                out.append(json.loads(v) if v is not None else None)
            except ValueError:
                out.append(None)
        return out

    def _registry_json(self, data: bytes) -> bytes:
        try:
            return json.dumps(plain(self.broker.schemas.decode(data)), default=str).encode()
        except Exception:  # not decodable: left for the reader to refuse as not JSON
            return data

    def _advance_positions(self, records: list[Record]) -> None:
        for r in records:
            self.positions[r.partition] = r.offset + 1

    def _aside(self, record: Record, topic: str, reason: str, counter: str) -> None:
        if record.offset < self.replay_upto.get(record.partition, -1):
            return  # sent aside before the restart
        self.stats[counter] += 1
        if self.sink is not None:
            what = "cannot be read as a row" if counter == "errors" else "is late"
            self.report(
                f"record {record.topic}/{record.partition}@{record.offset} {what}: {reason}"
            )
            return
        aside(self.broker, topic, record, reason, self.group)

    # --- results --------------------------------------------------------------------

    def close_windows(self) -> None:
        """Run the query over every window the watermark has passed, oldest first."""
        wm = self.watermarks.current
        if self.query.kind == "session":
            self._close_sessions(wm)
            return
        import pyarrow as pa

        for end in sorted(e for e in self.pending if e <= wm):
            rows = pa.concat_tables(self.pending.pop(end))
            self.held -= rows.num_rows
            self._emit_query(rows, end - 1, sort=True)

    def _close_sessions(self, wm: int) -> None:
        import pyarrow as pa
        import pyarrow.compute as pc

        if not self.sessions:
            return
        rows = pa.concat_tables(self.sessions)
        t = rows["__t"].to_numpy()
        if int(t.min()) + self.query.size_ms > wm:
            return  # no session can have closed yet
        keys = ", ".join(ident(k) for k in self.query.partition_by)
        part = f"PARTITION BY {keys} " if keys else ""
        by = f"PARTITION BY __sid, {keys}" if keys else "PARTITION BY __sid"
        gap = self.query.size_ms
        con = self.rows.con
        con.register("__held", rows)
        try:
            marked = con.sql(
                f"""
                WITH b AS (
                  SELECT *, CASE WHEN __t - lag(__t) OVER w < {gap} THEN 0 ELSE 1 END AS __b
                  FROM __held WINDOW w AS ({part}ORDER BY __t, _partition, _offset)
                ), s AS (
                  SELECT *, sum(__b) OVER ({part}ORDER BY __t, _partition, _offset
                    ROWS UNBOUNDED PRECEDING) AS __sid FROM b
                )
                SELECT * EXCLUDE (__b), min(__t) OVER ({by}) AS __ws,
                  max(__t) OVER ({by}) + {gap} AS __we
                FROM s ORDER BY __t, _partition, _offset
                """
            ).to_arrow_table()
        finally:
            con.unregister("__held")
        closed = pc.less_equal(marked["__we"], wm)
        done = marked.filter(closed)
        keep = marked.filter(pc.invert(closed)).drop_columns(["__sid", "__ws", "__we"])
        self.sessions = [keep] if keep.num_rows else []
        self.held = keep.num_rows
        if done.num_rows:
            ws, we = done["__ws"].to_numpy(), done["__we"].to_numpy()
            done = add_window_columns(done.drop_columns(["__sid", "__ws", "__we"]), ws, we)
            self._emit_query(done, int(we.max()) - 1, sort=True)

    def _run_rows(self, table: Any) -> None:
        stamp = int(max(table["_timestamp"].cast("int64").to_numpy().max(), 0))
        self._emit_query(table, stamp, sort=False)

    def _emit_query(self, rows: Any, timestamp: int, *, sort: bool) -> None:
        import duckdb

        con = self.rows.con
        con.register(self.query.source, rows)
        try:
            relation = con.sql(self.query.select)
            names = relation.columns
            result = relation.fetchall()
        except duckdb.Error as exc:
            self._query_failed(rows, str(exc))
            return
        finally:
            con.unregister(self.query.source)
        out = [dict(zip(names, row, strict=True)) for row in result]
        encoded = [json.dumps(row, default=json_default) for row in out]
        if sort and not self.query.ordered:
            order = sorted(range(len(out)), key=encoded.__getitem__)
            out = [out[i] for i in order]
            encoded = [encoded[i] for i in order]
        self.stats["results"] += len(out)
        if self.sink is not None:
            self.sink(out)
            return
        if self.output is None:
            return
        key_column = self.spec.key
        results = []
        for row, text in zip(out, encoded, strict=True):
            key = row.get(key_column) if key_column else None
            kb = None if key is None else (key if isinstance(key, bytes) else str(key).encode())
            results.append((kb, text.encode(), timestamp, True))
        self.output.emit(results)

    def _query_failed(self, rows: Any, error: str) -> None:
        self.stats["errors"] += 1
        detail: dict[str, Any] = {"error": error, "rows": rows.num_rows, "query": self.query.text}
        if "window_start" in rows.column_names and rows.num_rows:
            detail["window_start"] = json_default(rows["window_start"][0].as_py())
            detail["window_end"] = json_default(rows["window_end"][0].as_py())
        text = f"the query failed over {rows.num_rows} rows: {error}"
        if self.sink is not None:
            self.report(text)
            return
        headers = (("logway.reason", text.encode()), ("logway.window", self.group.encode()))
        self.broker.produce(self.spec.error_topic, json.dumps(detail).encode(), None, headers)

    # --- checkpoints ----------------------------------------------------------------

    def _held_from(self) -> dict[int, int]:
        """Per partition, the offset of the oldest record whose rows are held."""
        import pyarrow as pa

        tables = [t for ts in self.pending.values() for t in ts] + self.sessions
        if not tables:
            return {}
        held = pa.concat_tables([t.select(["_partition", "_offset"]) for t in tables])
        grouped = held.group_by("_partition").aggregate([("_offset", "min")])
        return dict(
            zip(grouped["_partition"].to_pylist(), grouped["_offset_min"].to_pylist(), strict=True)
        )

    def _resume_from(self) -> dict[int, int]:
        """Where to read from: the oldest held record's offset, else the position."""
        out = dict(self.positions)
        for p, offset in self.replay_from.items():
            out[p] = min(out.get(p, offset), offset)
        return out

    def checkpoint(self) -> None:
        if self.sink is not None:
            return
        snapshot = {
            "sql": 1,
            "query": self.query.text,
            "columns": self.rows.columns,
            "positions": {str(p): o for p, o in self.positions.items()},
            "held_from": {str(p): o for p, o in self._held_from().items()},
            "watermarks": self.watermarks.snapshot(),
            "seq": self.output.seq if self.output is not None else 0,
        }
        self.broker.produce(CHANGELOG_TOPIC, json.dumps(snapshot).encode(), self.group.encode())
        if self.positions:
            tps = {TopicPartition(self.query.source, p): o for p, o in self.positions.items()}
            self.broker.commit(self.group, tps)

    def _restore(self, count: int, now: int) -> None:
        """The last checkpoint of this query, if any; else the starting position."""
        self.replay_from = {}
        source = self.query.source
        if self.sink is None:
            key = self.group.encode()
            found = newest(
                self.broker, CHANGELOG_TOPIC, lambda r: r.key == key and r.value is not None
            )
            if found:
                snapshot = json.loads(found[0][1].value or b"{}")
                if snapshot.get("query") not in (None, self.query.text):
                    log.warning(
                        "%s: the query changed since its checkpoint; going on from its positions",
                        self.group,
                    )
                if snapshot.get("columns") and self.spec.columns is None:
                    self.rows.columns = dict(snapshot["columns"])
                self.positions = {int(p): int(o) for p, o in snapshot["positions"].items()}
                self.replay_upto = dict(self.positions)
                self.replay_from = {int(p): int(o) for p, o in snapshot["held_from"].items()}
                self.watermarks.restore(snapshot.get("watermarks") or {}, now)
                if self.output is not None:
                    self.output.seq = int(snapshot.get("seq", 0))
                log.info("%s: restored from its checkpoint at %s", self.group, self.positions)
                return
        starts = self.broker.start_offsets(source)
        ends = self.broker.end_offsets(source)
        for p in range(count):
            self.positions[p] = starts[p] if self.spec.starting_position == "earliest" else ends[p]


async def run_queries(
    broker: Broker, app_name: str, specs: list[SqlSpec], stopping: asyncio.Event
) -> list[SqlRunner]:
    runners = [spec.make_runner(broker, app_name) for spec in specs]
    await asyncio.gather(*(r.run(stopping) for r in runners))
    return runners
