"""Reading a batch of records as rows of a continuous query's columns, with DuckDB.

``read_sql`` builds the one vectorised query that turns a batch (an Arrow table of
partitions, offsets, timestamps, keys and values) into typed columns, the pseudo
columns, the event time ``__t`` and, for a record that cannot be read as a row, the
reason in ``__error``; ``Rows`` runs it and takes the column types from the first
record when they were not declared; ``windows_of`` assigns rows to their windows.
"""

from __future__ import annotations

import datetime as dt
import decimal
import uuid
from collections.abc import Mapping
from typing import Any

from logway.errors import InvalidArgumentError
from logway.windows.sql import ContinuousQuery

# --- column types -------------------------------------------------------------------

_INT = {"TINYINT", "SMALLINT", "INTEGER", "INT", "BIGINT", "HUGEINT", "UTINYINT", "USMALLINT",
        "UINTEGER", "UBIGINT", "INT1", "INT2", "INT4", "INT8", "LONG", "SHORT"}  # fmt: skip
_FLOAT = {"DOUBLE", "FLOAT", "REAL", "FLOAT4", "FLOAT8", "DECIMAL", "NUMERIC"}
_TEXT = {"VARCHAR", "TEXT", "STRING", "CHAR", "BPCHAR"}
_TIME = {"TIMESTAMP", "TIMESTAMPTZ", "DATETIME", "DATE", "TIMESTAMP WITH TIME ZONE"}


def family(sql_type: str) -> str:
    base = sql_type.strip().upper().split("(")[0].strip()
    if base in _INT:
        return "int"
    if base in _FLOAT:
        return "float"
    if base in _TEXT:
        return "text"
    if base in ("BOOLEAN", "BOOL"):
        return "bool"
    if base in _TIME:
        return "time"
    if base == "JSON":
        return "json"
    return "other"


def inferred_type(value: Any, time_column: bool) -> str | None:
    """The column type taken from a JSON value (None for null: not known yet)."""
    if value is None:
        return None
    if isinstance(value, bool):
        return "BOOLEAN"
    if isinstance(value, int | float):
        return "BIGINT" if time_column else "DOUBLE"
    if isinstance(value, str):
        return "TIMESTAMPTZ" if time_column else "VARCHAR"
    return "JSON"


def _sql_str(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def ident(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def read_sql(columns: Mapping[str, str], time_column: str | None) -> str:
    """DuckDB's query reading a batch (``__i, __p, __o, __ts, __k, __v``) as rows: the
    typed columns, the pseudo columns, ``__t`` (event time in ms) and ``__error``."""
    names = list(columns)
    paths = ", ".join(_sql_str('$."' + n.replace('"', '\\"') + '"') for n in names)
    values, oks, checks = [], [], []
    for i, name in enumerate(names, start=1):
        sql_type = columns[name]
        j = f"__f[{i}]"
        kind = family(sql_type)
        cast = f"TRY_CAST({j} AS {sql_type})"
        if kind == "int":
            ok = f"json_type({j}) IN ('BIGINT', 'UBIGINT') AND {cast} IS NOT NULL"
            value = f"TRY_CAST({j} AS {sql_type})"
        elif kind == "float":
            ok = f"json_type({j}) IN ('BIGINT', 'UBIGINT', 'DOUBLE') AND {cast} IS NOT NULL"
            value = f"TRY_CAST({j} AS {sql_type})"
        elif kind == "text":
            ok = f"json_type({j}) = 'VARCHAR'"
            value = f"({j} ->> '$')"
        elif kind == "bool":
            ok = f"json_type({j}) = 'BOOLEAN'"
            value = f"TRY_CAST({j} AS BOOLEAN)"
        elif kind == "time":
            ok = (
                f"(json_type({j}) = 'VARCHAR' AND TRY_CAST({j} ->> '$' AS {sql_type}) IS NOT NULL) "
                f"OR json_type({j}) IN ('BIGINT', 'UBIGINT')"
            )
            value = (
                f"CASE WHEN json_type({j}) IN ('BIGINT', 'UBIGINT') "
                f"THEN TRY_CAST(epoch_ms(TRY_CAST({j} AS BIGINT)) AS {sql_type}) "
                f"ELSE TRY_CAST({j} ->> '$' AS {sql_type}) END"
            )
        elif kind == "json":
            ok = "TRUE"
            value = j
        else:
            ok = f"TRY_CAST({j} AS {sql_type}) IS NOT NULL"
            value = f"TRY_CAST({j} AS {sql_type})"
        values.append(
            f"CASE WHEN json_type({j}) = 'NULL' THEN NULL ELSE {value} END AS {ident(name)}"
        )
        oks.append(f"(json_type({j}) = 'NULL' OR ({ok})) AS __ok{i}")
        label = _sql_str(f'column "{name}" ')
        checks.append(f"WHEN __f[{i}] IS NULL THEN {_sql_str(f'it has no column {name!r}')}")
        checks.append(
            f"WHEN NOT __ok{i} THEN {label} || 'is ' || left(CAST(__f[{i}] AS VARCHAR), 60) "
            f"|| ', not {sql_type}'"
        )
    if time_column is None or time_column == "_timestamp":
        event_time = "__ts"
    else:
        kind = family(columns[time_column])
        column = ident(time_column)
        event_time = {
            "int": f"CAST({column} AS BIGINT)",
            "float": f"CAST(floor({column}) AS BIGINT)",
            "time": f"epoch_ms({column})",
            "text": f"epoch_ms(TRY_CAST({column} AS TIMESTAMPTZ))",
        }.get(kind, f"epoch_ms(TRY_CAST({column} AS TIMESTAMPTZ))")
    if time_column not in (None, "_timestamp"):
        checks.append(
            f"WHEN __t IS NULL THEN {_sql_str(f'its time column {time_column!r} is null')}"
        )
    extract = f"json_extract(__s, [{paths}])" if names else "[]::JSON[]"
    return f"""
WITH src AS (
  SELECT __i, __p, __o, __ts, __k, __v, TRY(decode(__v)) AS __s FROM __batch
), parsed AS (
  SELECT *, json_valid(__s) AS __json,
    CASE WHEN json_valid(__s) AND json_type(__s) = 'OBJECT' THEN {extract} END AS __f
  FROM src
), typed AS (
  SELECT *, {", ".join(values + oks) if names else "1 AS __none"} FROM parsed
), timed AS (
  SELECT *, {event_time} AS __t FROM typed
)
SELECT __i,
  CASE WHEN __v IS NULL THEN 'it has no value'
    WHEN __s IS NULL THEN 'its value is not UTF-8 text'
    WHEN NOT __json THEN 'its value is not JSON'
    WHEN json_type(__s) <> 'OBJECT'
      THEN 'its value is a JSON ' || lower(json_type(__s)) || ', not an object'
    {" ".join(checks)}
  END AS __error,
  {"".join(f"{ident(n)}, " for n in names)}
  TRY(decode(__k)) AS _key, __p AS _partition, __o AS _offset, epoch_ms(__ts) AS _timestamp,
  __t
FROM timed
"""


# --- reading records as rows ---------------------------------------------------------


class Rows:
    """Reads batches of records as rows of the query's columns, with DuckDB."""

    def __init__(self, query: ContinuousQuery, columns: Mapping[str, str] | None = None):
        import duckdb

        self.query = query
        self.columns: dict[str, str] | None = dict(columns) if columns is not None else None
        self.con = duckdb.connect()
        self.con.execute("SET TimeZone = 'UTC'")
        self._sql = ""

    def infer(self, values: list[Any]) -> bool:
        """Take the column types from the first value (a decoded JSON object) that has
        every column the query needs; False when none has."""
        q = self.query
        for obj in values:
            if not isinstance(obj, dict):
                continue
            needed = [c for c in q.columns_used if c in obj or c not in q.aliases]
            if q.star:
                needed += [c for c in obj if c not in needed]
            types = {c: inferred_type(obj.get(c), c == q.time_column) for c in needed}
            if all(t is not None for t in types.values()):
                self.columns = {c: t for c, t in types.items() if t is not None}
                self.check()
                return True
        return False

    def check(self) -> None:
        """Run the query over no rows: a column it names that the rows lack, or a type
        error, is refused now rather than at every window."""
        import duckdb
        import pyarrow as pa

        empty = self.read(pa.table(batch_columns([], [], [], [], [])))
        table = add_window_columns(empty, 0, 0) if self.query.windowed else empty
        self.con.register(self.query.source, table)
        try:
            self.con.sql(self.query.select).fetchall()
        except duckdb.Error as exc:
            columns = ", ".join(f"{k} {v}" for k, v in (self.columns or {}).items())
            raise InvalidArgumentError(
                f"the continuous query cannot run over rows of ({columns}): {exc}"
            ) from None
        finally:
            self.con.unregister(self.query.source)

    def read(self, batch: Any) -> Any:
        """The rows of a batch (an Arrow table of ``batch_columns``) with ``__error``."""
        if not self._sql:
            assert self.columns is not None
            self._sql = read_sql(self.columns, self.query.time_column)
        self.con.register("__batch", batch)
        try:
            return self.con.sql(self._sql).to_arrow_table()
        finally:
            self.con.unregister("__batch")


def batch_columns(
    partitions: list[int],
    offsets: list[int],
    timestamps: list[int],
    keys: list[bytes | None],
    values: list[bytes | None],
) -> dict[str, Any]:
    import pyarrow as pa

    return {
        "__i": pa.array(range(len(values)), pa.int32()),
        "__p": pa.array(partitions, pa.int32()),
        "__o": pa.array(offsets, pa.int64()),
        "__ts": pa.array(timestamps, pa.int64()),
        "__k": pa.array(keys, pa.binary()),
        "__v": pa.array(values, pa.binary()),
    }


def add_window_columns(table: Any, start_ms: Any, end_ms: Any) -> Any:
    """``table`` with window_start, window_end and window_time (TIMESTAMPs in UTC)
    from millisecond starts and ends (arrays or one int each)."""
    import numpy as np
    import pyarrow as pa

    n = table.num_rows
    starts = np.broadcast_to(np.asarray(start_ms, dtype=np.int64), (n,))
    ends = np.broadcast_to(np.asarray(end_ms, dtype=np.int64), (n,))
    ms = pa.timestamp("ms")
    return (
        table.append_column("window_start", pa.array(starts, ms))
        .append_column("window_end", pa.array(ends, ms))
        .append_column("window_time", pa.array(ends - 1, ms))
    )


def json_default(value: Any) -> Any:
    if isinstance(value, dt.datetime):
        if value.tzinfo is None:
            value = value.replace(tzinfo=dt.UTC)
        return int(value.timestamp() * 1000)
    if isinstance(value, dt.date | dt.time):
        return value.isoformat()
    if isinstance(value, dt.timedelta):
        return int(value.total_seconds() * 1000)
    if isinstance(value, decimal.Decimal):
        return float(value)
    if isinstance(value, bytes):
        return value.decode(errors="replace")
    if isinstance(value, uuid.UUID):
        return str(value)
    return str(value)


def max_per_partition(table: Any) -> tuple[Any, Any]:
    grouped = table.group_by("_partition").aggregate([("__t", "max")])
    return grouped["_partition"], grouped["__t_max"]


def windows_of(table: Any, t: Any, q: ContinuousQuery, wm: int) -> list[tuple[Any, int, Any]]:
    """(window starts, window end, rows) per window end of the rows of ``table`` (event
    times ``t``), leaving out windows already closed at ``wm``."""
    import numpy as np
    import pyarrow as pa

    size, step, off = q.size_ms, q.step_ms, q.offset_ms
    parts: list[tuple[Any, Any, Any]] = []  # (row indices or None for all, starts, ends)
    if q.kind == "tumble":
        starts = t - (t - off) % size
        parts.append((None, starts, starts + size))
    elif q.kind == "hop":
        base = t - (t - off) % step
        for k in range(size // step):
            parts.append((None, base - k * step, base - k * step + size))
    else:  # cumulate: [start, start + j * step) for each end after the event time
        base = t - (t - off) % size
        for j in range(1, size // step + 1):
            index = np.nonzero(base + j * step > t)[0]
            parts.append((index, base[index], base[index] + j * step))
    out = []
    for index, s, e in parts:
        rows = table if index is None else table.take(pa.array(index))
        open_ = e > wm
        if not open_.all():
            rows = rows.filter(pa.array(open_))
            s, e = s[open_], e[open_]
        if len(e) == 0:
            continue
        for end in np.unique(e):
            mask = e == end
            if mask.all():
                out.append((s, int(end), rows))
            else:
                out.append((s[mask], int(end), rows.filter(pa.array(mask))))
    return out
