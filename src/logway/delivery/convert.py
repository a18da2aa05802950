"""Records to files: JSON values (or Protobuf ones) to Arrow tables and Parquet, with
the record's topic, partition, offset, timestamp and key as columns; values as JSON
lines; failed records as Firehose-style error lines."""

from __future__ import annotations

import base64
import io
import json
import operator
from collections.abc import Sequence
from typing import Any

import pyarrow as pa
import pyarrow.json as pa_json
import pyarrow.parquet as pq

from logway.records import Record

METADATA_COLUMNS = ("_topic", "_partition", "_offset", "_timestamp", "_key")


Failure = tuple[int, str, str]  # index of the record, error type, message


def table_from_json(
    records: Sequence[Record],
    datas: Sequence[bytes | dict[str, Any]],
    joined: bytes | None = None,
) -> tuple[pa.Table | None, list[int], list[Failure]]:
    """A table of the JSON objects in ``datas`` (one per record), the indexes of the
    records its rows came from, and the records that are not JSON objects.

    The fast path hands every value to Arrow's JSON reader at once; values with a
    line break inside, non-objects or types that change between records fall back
    to Python's parser, record by record, where each failure can be told apart.
    ``joined`` is ``datas`` joined with line breaks, when the caller has it already
    and no value holds a line break."""
    if datas and all(isinstance(d, bytes) for d in datas):
        if joined is None and not any(b"\n" in d for d in datas):
            joined = b"\n".join(datas)  # type: ignore[arg-type]
        if joined is not None:
            try:
                table = pa_json.read_json(io.BytesIO(joined))
            except (pa.ArrowInvalid, pa.ArrowTypeError):
                table = None
            if table is not None and table.num_rows == len(datas):
                return with_metadata(table, records, None), list(range(len(records))), []
    rows: list[dict[str, Any]] = []
    kept: list[int] = []
    failures: list[Failure] = []
    for i, data in enumerate(datas):
        if isinstance(data, dict):
            rows.append(data)
            kept.append(i)
            continue
        try:
            row = json.loads(data)
        except ValueError as exc:
            failures.append((i, "format-conversion-failed", f"the value is not JSON: {exc}"))
            continue
        if not isinstance(row, dict):
            failures.append(
                (
                    i,
                    "format-conversion-failed",
                    f"Parquet rows come from JSON objects, not {type(row).__name__} values",
                )
            )
            continue
        rows.append(row)
        kept.append(i)
    if not rows:
        return None, [], failures
    table = _table_from_rows(rows)
    return with_metadata(table, records, kept), kept, failures


def _table_from_rows(rows: list[dict[str, Any]]) -> pa.Table:
    """Rows whose fields keep one type become typed columns; a field whose type
    changes from record to record is kept as JSON text."""
    try:
        return pa.Table.from_pylist(rows)
    except (pa.ArrowInvalid, pa.ArrowTypeError):
        pass
    names: dict[str, None] = {}
    for row in rows:
        names.update(dict.fromkeys(row))
    columns = {}
    for name in names:
        values = [row.get(name) for row in rows]
        try:
            columns[name] = pa.array(values)
        except (pa.ArrowInvalid, pa.ArrowTypeError):
            columns[name] = pa.array(
                [None if v is None else json.dumps(v, separators=(",", ":")) for v in values],
                pa.string(),
            )
    return pa.table(columns)


def table_from_protobuf(
    records: Sequence[Record], datas: Sequence[bytes], message: Any
) -> tuple[pa.Table | None, list[int], list[Failure]]:
    """A table of Protobuf values of the type ``message``, typed from its descriptor."""
    from logway.delivery.protobuf import message_columns

    schema, message_row = message_columns(message.DESCRIPTOR)
    rows: list[dict[str, Any]] = []
    kept: list[int] = []
    failures: list[Failure] = []
    for i, data in enumerate(datas):
        try:
            rows.append(message_row(message.FromString(data)))
        except Exception as exc:
            failures.append(
                (
                    i,
                    "format-conversion-failed",
                    f"the value is not a {message.DESCRIPTOR.full_name}: {exc}",
                )
            )
            continue
        kept.append(i)
    if not rows:
        return None, [], failures
    table = pa.Table.from_pylist(rows, schema=schema)
    return with_metadata(table, records, kept), kept, failures


def with_metadata(table: pa.Table, records: Sequence[Record], kept: list[int] | None) -> pa.Table:
    """``table`` with the columns of its records' topic, partition, offset, timestamp
    and key (``kept``: the records its rows came from, in order; None: all)."""
    chosen = records if kept is None else [records[i] for i in kept]
    for name in METADATA_COLUMNS:
        if name in table.column_names:  # the record's own fields win over a value's
            table = table.drop_columns([name])
    n = len(chosen)
    if not n:
        return table
    first, last = chosen[0].offset, chosen[-1].offset
    # one partition per flush; offsets usually without holes: no list built for them
    offsets = (
        pa.array(range(first, last + 1), pa.int64())
        if last - first + 1 == n
        else pa.array(list(map(_OFFSET, chosen)), pa.int64())
    )
    return (
        table.append_column("_topic", pa.repeat(pa.scalar(chosen[0].topic), n))
        .append_column("_partition", pa.repeat(pa.scalar(chosen[0].partition, pa.int32()), n))
        .append_column("_offset", offsets)
        .append_column(
            "_timestamp",
            pa.array(list(map(_TIMESTAMP, chosen)), pa.timestamp("ms", tz="UTC")),
        )
        .append_column("_key", _keys(chosen))
    )


_OFFSET, _TIMESTAMP, _KEY = (operator.itemgetter(i) for i in (2, 3, 4))  # of a Record


def _keys(records: Sequence[Record]) -> pa.Array:
    """The keys as text: checked as UTF-8 by Arrow at once, decoded one by one (with
    escapes for bytes that are not UTF-8) only when some are not."""
    raw = pa.array(list(map(_KEY, records)), pa.binary())
    try:
        return raw.cast(pa.string())
    except pa.ArrowInvalid:
        return pa.array(
            [None if k is None else k.decode("utf-8", "backslashreplace") for k in raw.to_pylist()],
            pa.string(),
        )


def write_parquet(table: pa.Table, out: Any, compression: str) -> None:
    """Write ``table`` as Parquet to the output stream ``out``."""
    pq.write_table(table, out, compression=None if compression == "none" else compression)


def compress(data: bytes, compression: str) -> bytes:
    import cramjam

    if compression == "gzip":
        return bytes(cramjam.gzip.compress(data))
    if compression == "zstd":
        return bytes(cramjam.zstd.compress(data))
    return data


JSONL_SUFFIX = {"none": ".jsonl", "gzip": ".jsonl.gz", "zstd": ".jsonl.zst"}

# Arrow's JSON reader with no fields to keep: it checks each line's JSON and builds nothing
_CHECK_ONLY = pa_json.ParseOptions(
    explicit_schema=pa.schema([]), unexpected_field_behavior="ignore"
)


def not_json_objects(lines: Sequence[bytes], joined: bytes | None = None) -> list[Failure]:
    """The lines that are not one JSON object each in UTF-8, as a lake's JSON-lines
    reader needs every line to be (one bad line fails every query of the lake).

    All lines are checked at once: each starts with ``{``, the whole is UTF-8, and
    Arrow's JSON reader finds one object per line. Only when that fails is each line
    parsed on its own, to name the ones at fault. ``joined`` is ``lines`` joined with
    line breaks, when the caller has it and no line holds one."""
    if not lines:
        return []
    if joined is None and not any(b"\n" in line for line in lines):
        joined = b"\n".join(lines)
    if joined is not None and _all_json_objects(lines, joined):
        return []
    failures: list[Failure] = []
    for i, line in enumerate(lines):
        fault = _json_object_fault(line)
        if fault is not None:
            failures.append((i, "format-conversion-failed", fault))
    return failures


def _all_json_objects(lines: Sequence[bytes], joined: bytes) -> bool:
    """Whether each of ``lines`` (``joined`` by line breaks) is one JSON object."""
    # every line starts with "{": none is empty, blank or another kind of value, so
    # each yields at least one row, and as many rows as lines means one object each
    if not all(line[:1] == b"{" for line in lines):
        return False
    if not joined.isascii():
        offsets = pa.array([0, len(joined)], pa.int64()).buffers()[1]
        text = pa.Array.from_buffers(pa.large_string(), 1, [None, offsets, pa.py_buffer(joined)])
        try:
            text.validate(full=True)  # UTF-8, checked without a copy
        except pa.ArrowInvalid:
            return False
    try:
        table = pa_json.read_json(io.BytesIO(joined), parse_options=_CHECK_ONLY)
    except (pa.ArrowInvalid, pa.ArrowTypeError):
        return False
    return bool(table.num_rows == len(lines))


def _json_object_fault(line: bytes) -> str | None:
    """Why ``line`` is not a JSON object in UTF-8, or None when it is one."""
    try:
        value = json.loads(line.decode("utf-8"))  # strict UTF-8; a byte order mark fails
    except UnicodeDecodeError as exc:
        return f"the value is not UTF-8: {exc}"
    except ValueError as exc:
        return f"the value is not JSON: {exc}"
    if not isinstance(value, dict):
        return f"JSON lines are JSON objects, not {_kind(value)} values"
    if b"\\u" in line:  # an escaped lone surrogate is no character: readers refuse it
        try:
            json.dumps(value, ensure_ascii=False).encode("utf-8")
        except UnicodeEncodeError:
            return "the value is not JSON: it escapes a lone UTF-16 surrogate"
    return None


def _kind(value: Any) -> str:
    """The JSON name of a parsed value's kind."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, list):
        return "array"
    return "string" if isinstance(value, str) else "number"


def registry_json(lines: Sequence[bytes], schemas: Any) -> tuple[list[bytes], list[Failure]]:
    """Values in the schema registry's wire format as JSON text (Protobuf messages as
    objects of their fields by name), and the ones that do not decode as failures
    (their line left as it was, for the failure's record)."""
    from logway.schemas.codecs import plain

    out: list[bytes] = []
    failures: list[Failure] = []
    for i, data in enumerate(lines):
        try:
            value = plain(schemas.decode(data))
            out.append(json.dumps(value, default=str, separators=(",", ":")).encode())
        except Exception as exc:  # not framed, an unknown id, bytes that do not decode
            failures.append((i, "format-conversion-failed", f"the value does not decode: {exc}"))
            out.append(data)
    return out, failures


def jsonl_bytes(datas: Sequence[bytes], compression: str) -> bytes:
    """One value per line, each as it is (a line break inside a value is escaped by
    writing that value as compact JSON)."""
    lines = [d if b"\n" not in d else _one_line(d) for d in datas]
    lines.append(b"")
    return compress(b"\n".join(lines), compression)


def _one_line(data: bytes) -> bytes:
    try:
        return json.dumps(json.loads(data), separators=(",", ":")).encode()
    except ValueError:
        return json.dumps(data.decode("utf-8", "backslashreplace")).encode()


def record_line(record: Record, **extra: Any) -> bytes:
    """A record as one JSON line, its value as ``rawData`` (base64), as Firehose keeps
    records in error and source-backup output."""
    line: dict[str, Any] = {
        "topic": record.topic,
        "partition": record.partition,
        "offset": record.offset,
        "timestamp": record.timestamp,
        "key": None if record.key is None else record.key.decode("utf-8", "backslashreplace"),
        "headers": [
            [k, v.decode("utf-8", "backslashreplace") if v is not None else None]
            for k, v in record.headers
        ],
        "rawData": None if record.value is None else base64.b64encode(record.value).decode(),
    }
    line.update(extra)
    return json.dumps(line, separators=(",", ":")).encode()
