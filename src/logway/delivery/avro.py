"""Parquet columns from an Avro schema (as the ``avro`` package parses it): a record's
fields as columns of the matching Arrow type, so the lake's schema is the
contract's, not a guess from the first records.

Records are structs, arrays lists, maps maps with string keys, enums their symbol,
``fixed`` fixed-size binary; a union of null and one type is that type, nullable.
Logical types as Avro's reader returns them: ``date`` a date, ``time-millis`` /
``time-micros`` times, ``timestamp-millis`` / ``timestamp-micros`` UTC timestamps,
``local-timestamp-*`` timestamps without a zone, ``decimal`` a decimal of its
precision and scale, ``uuid`` text. Parquet has neither unions nor recursive types:
a union of several types, and a record found inside itself, are kept as JSON text.
A schema that is not a record is one column, ``value``.
"""

from __future__ import annotations

import datetime as dt
import decimal
import json
from collections.abc import Callable
from typing import Any

import avro.schema as s
import pyarrow as pa

Convert = Callable[[Any], Any]  # a decoded datum to what Arrow takes for its column
Row = Callable[[Any], dict[str, Any]]  # a decoded datum to a row of the columns

_PRIMITIVES = {
    "null": pa.null(),
    "boolean": pa.bool_(),
    "int": pa.int32(),
    "long": pa.int64(),
    "float": pa.float32(),
    "double": pa.float64(),
    "bytes": pa.binary(),
    "string": pa.string(),
}
_LOCAL_TIMESTAMPS = {"local-timestamp-millis": "ms", "local-timestamp-micros": "us"}


def avro_columns(schema: s.Schema) -> tuple[pa.Schema, Row]:
    """The Arrow schema of an Avro schema's columns, and its decoded data as rows."""
    if isinstance(schema, s.RecordSchema) and schema.fields:
        fields, row = _record(schema, frozenset())
        return pa.schema(fields), row
    arrow, convert = _type(schema, frozenset())
    return pa.schema([pa.field("value", arrow)]), lambda datum: {"value": convert(datum)}


def _record(schema: s.RecordSchema, outer: frozenset[str]) -> tuple[list[pa.Field], Row]:
    inside = outer | {schema.fullname}
    columns = [(f.name, *_type(f.type, inside)) for f in schema.fields]

    def row(datum: dict[str, Any]) -> dict[str, Any]:
        return {name: convert(datum.get(name)) for name, _, convert in columns}

    return [pa.field(name, arrow) for name, arrow, _ in columns], row


def _type(schema: s.Schema, inside: frozenset[str]) -> tuple[pa.DataType, Convert]:
    """The Arrow type of data of ``schema``, and how to convert a decoded datum (or
    None, which any of them may be inside a union with null)."""
    # logical types first: their classes are also the primitive or fixed ones
    if isinstance(schema, s.DecimalLogicalSchema):
        precision = int(schema.get_prop("precision"))  # type: ignore[call-overload]
        scale = int(schema.get_prop("scale") or 0)  # type: ignore[call-overload]
        made = pa.decimal128 if precision <= 38 else pa.decimal256
        return made(precision, scale), _same
    if isinstance(schema, s.DateSchema):
        return pa.date32(), _same
    if isinstance(schema, s.TimeMillisSchema):
        return pa.time32("ms"), _same
    if isinstance(schema, s.TimeMicrosSchema):
        return pa.time64("us"), _same
    if isinstance(schema, s.TimestampMillisSchema):
        return pa.timestamp("ms", tz="UTC"), _same
    if isinstance(schema, s.TimestampMicrosSchema):
        return pa.timestamp("us", tz="UTC"), _same
    if isinstance(schema, s.RecordSchema):
        if schema.fullname in inside:
            return pa.string(), _nullable(json_text)
        if not schema.fields:
            return pa.null(), _nothing
        fields, row = _record(schema, inside)
        return pa.struct(fields), _nullable(row)
    if isinstance(schema, s.UnionSchema):
        others = [b for b in schema.schemas if b.type != "null"]
        if not others:
            return pa.null(), _nothing
        if len(others) == 1:
            return _type(others[0], inside)
        return pa.string(), _nullable(json_text)
    if isinstance(schema, s.ArraySchema):
        arrow, convert = _type(schema.items, inside)
        return pa.list_(arrow), _nullable(lambda items: [convert(i) for i in items])
    if isinstance(schema, s.MapSchema):
        arrow, convert = _type(schema.values, inside)
        return pa.map_(pa.string(), arrow), _nullable(
            lambda pairs: [(k, convert(v)) for k, v in pairs.items()]
        )
    if isinstance(schema, s.EnumSchema):
        return pa.string(), _same
    if isinstance(schema, s.FixedSchema):
        return pa.binary(schema.size), _same
    unit = _LOCAL_TIMESTAMPS.get(str(schema.get_prop("logicalType") or ""))
    if unit is not None and schema.type == "long":
        return pa.timestamp(unit), _same  # the reader gives its number, which Arrow takes
    return _PRIMITIVES.get(schema.type, pa.string()), _same


def _nullable(convert: Convert) -> Convert:
    """``convert`` for a value that may be null (a union with null)."""
    return lambda value: None if value is None else convert(value)


def _same(value: Any) -> Any:
    return value


def _nothing(value: Any) -> None:
    return None


def json_text(value: Any) -> str:
    """A decoded datum as compact JSON text: bytes as Avro's JSON encoding writes them
    (each byte a code point), decimals, times and UUIDs as text."""
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False, default=_json_default)


def _json_default(value: Any) -> Any:
    if isinstance(value, bytes | bytearray):
        return value.decode("latin-1")
    if isinstance(value, dt.date | dt.time):
        return value.isoformat()
    if isinstance(value, decimal.Decimal):
        return str(value)
    return str(value)
