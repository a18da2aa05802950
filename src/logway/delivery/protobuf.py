"""Parquet columns from a Protobuf message type: each field a column of the matching
Arrow type (messages as structs, repeated fields as lists, maps as maps, enums by
name), so the lake's schema is the contract's, not a guess from the first records.

Well-known types read as what they hold: ``Timestamp`` as a UTC timestamp,
``Duration`` as a duration, the wrappers (``Int32Value``…) as their nullable scalar,
and ``Struct``/``Value``/``ListValue`` as JSON text. A field with presence (a message,
``optional``, a member of a ``oneof``) is null when unset; a field of plain proto3
scalar type holds its default. Parquet has no recursive types: a message found
inside itself is kept as JSON text there, and a message with no fields (which
Parquet cannot store as a struct) is a null column.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Callable
from typing import Any

import pyarrow as pa
from google.protobuf.descriptor import FieldDescriptor
from google.protobuf.json_format import MessageToDict

_F = FieldDescriptor
_SCALARS = {
    _F.TYPE_DOUBLE: pa.float64(),
    _F.TYPE_FLOAT: pa.float32(),
    _F.TYPE_INT64: pa.int64(),
    _F.TYPE_SINT64: pa.int64(),
    _F.TYPE_SFIXED64: pa.int64(),
    _F.TYPE_UINT64: pa.uint64(),
    _F.TYPE_FIXED64: pa.uint64(),
    _F.TYPE_INT32: pa.int32(),
    _F.TYPE_SINT32: pa.int32(),
    _F.TYPE_SFIXED32: pa.int32(),
    _F.TYPE_UINT32: pa.uint32(),
    _F.TYPE_FIXED32: pa.uint32(),
    _F.TYPE_BOOL: pa.bool_(),
    _F.TYPE_STRING: pa.string(),
    _F.TYPE_BYTES: pa.binary(),
}
_WRAPPERS = {
    f"google.protobuf.{name}Value": arrow
    for name, arrow in (
        ("Double", pa.float64()),
        ("Float", pa.float32()),
        ("Int64", pa.int64()),
        ("UInt64", pa.uint64()),
        ("Int32", pa.int32()),
        ("UInt32", pa.uint32()),
        ("Bool", pa.bool_()),
        ("String", pa.string()),
        ("Bytes", pa.binary()),
    )
}
_JSON_TYPES = {"google.protobuf.Struct", "google.protobuf.Value", "google.protobuf.ListValue"}
_EPOCH = dt.datetime(1970, 1, 1, tzinfo=dt.UTC)

Convert = Callable[[Any], Any]  # a decoded value to what Arrow takes for its column
Row = Callable[[Any], dict[str, Any]]  # a message to a row of its columns


def message_columns(descriptor: Any) -> tuple[pa.Schema, Row]:
    """The Arrow schema of a message type's columns, and its messages as rows."""
    fields, row = _message(descriptor, frozenset())
    return pa.schema(fields), row


def _message(descriptor: Any, outer: frozenset[str]) -> tuple[list[pa.Field], Row]:
    inside = outer | {descriptor.full_name}
    columns = [(f.name, *_field(f, inside)) for f in descriptor.fields]

    def row(message: Any) -> dict[str, Any]:
        return {name: get(message) for name, _, get in columns}

    return [pa.field(name, arrow) for name, arrow, _ in columns], row


def _field(field: Any, inside: frozenset[str]) -> tuple[pa.DataType, Convert]:
    """A field's Arrow type, and how to read its value from the message holding it."""
    name = field.name
    if _is_map(field):
        key_type, _ = _single(field.message_type.fields_by_name["key"], inside)
        value_type, value = _single(field.message_type.fields_by_name["value"], inside)
        return pa.map_(key_type, value_type), lambda m: [
            (k, value(v)) for k, v in getattr(m, name).items()
        ]
    arrow, convert = _single(field, inside)
    if field.is_repeated:
        return pa.list_(arrow), lambda m: [convert(v) for v in getattr(m, name)]
    if field.has_presence:
        return arrow, lambda m: convert(getattr(m, name)) if m.HasField(name) else None
    return arrow, lambda m: convert(getattr(m, name))


def _single(field: Any, inside: frozenset[str]) -> tuple[pa.DataType, Convert]:
    """The Arrow type of one value of ``field`` (an element, if it is repeated)."""
    if field.type == _F.TYPE_ENUM:
        names = {v.number: v.name for v in field.enum_type.values}
        return pa.string(), lambda n: names.get(n) or str(n)
    if field.type != _F.TYPE_MESSAGE and field.type != _F.TYPE_GROUP:
        return _SCALARS[field.type], _same
    message = field.message_type
    name = message.full_name
    if name == "google.protobuf.Timestamp":
        return pa.timestamp("us", tz="UTC"), _timestamp
    if name == "google.protobuf.Duration":
        return pa.duration("us"), _duration
    if name in _WRAPPERS:
        return _WRAPPERS[name], _wrapped
    if name in _JSON_TYPES or name in inside:
        return pa.string(), _json
    if not message.fields:
        return pa.null(), _nothing
    fields, row = _message(message, inside)
    return pa.struct(fields), row


def _is_map(field: Any) -> bool:
    return bool(
        field.type == _F.TYPE_MESSAGE
        and field.is_repeated
        and field.message_type.GetOptions().map_entry
    )


def _same(value: Any) -> Any:
    return value


def _nothing(value: Any) -> None:
    return None


def _timestamp(value: Any) -> dt.datetime:
    return _EPOCH + dt.timedelta(seconds=value.seconds, microseconds=value.nanos // 1000)


def _duration(value: Any) -> dt.timedelta:
    return dt.timedelta(seconds=value.seconds, microseconds=int(value.nanos / 1000))


def _wrapped(value: Any) -> Any:
    return value.value


def _json(value: Any) -> str:
    """A message as compact JSON text (Protobuf's JSON mapping, the schema's names),
    keys sorted: a ``Struct``'s order on the wire is any order."""
    data = MessageToDict(value, preserving_proto_field_name=True)
    return json.dumps(data, separators=(",", ":"), ensure_ascii=False, sort_keys=True)
