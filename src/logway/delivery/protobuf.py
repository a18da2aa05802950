"""Parquet columns from a Protobuf message type: each field a column of the matching
Arrow type (messages as structs, repeated fields as lists, maps as maps, enums by
name, ``google.protobuf.Timestamp`` as a timestamp), so the lake's schema is the
contract's, not a guess from the first records."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pyarrow as pa
from google.protobuf.descriptor import FieldDescriptor

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
    _F.TYPE_ENUM: pa.string(),
}
_TIMESTAMP = "google.protobuf.Timestamp"


def _is_map(field: Any) -> bool:
    return bool(
        field.type == _F.TYPE_MESSAGE
        and field.message_type.GetOptions().map_entry
        and _repeated(field)
    )


def _repeated(field: Any) -> bool:
    return bool(field.is_repeated)


def _single_type(field: Any) -> pa.DataType:
    if field.type == _F.TYPE_MESSAGE:
        if field.message_type.full_name == _TIMESTAMP:
            return pa.timestamp("us", tz="UTC")
        return pa.struct(_fields(field.message_type))
    return _SCALARS[field.type]


def _field_type(field: Any) -> pa.DataType:
    if _is_map(field):
        entry = field.message_type
        return pa.map_(
            _single_type(entry.fields_by_name["key"]), _single_type(entry.fields_by_name["value"])
        )
    if _repeated(field):
        return pa.list_(_single_type(field))
    return _single_type(field)


def _fields(descriptor: Any) -> list[pa.Field]:
    return [pa.field(f.name, _field_type(f)) for f in descriptor.fields]


def arrow_schema(descriptor: Any) -> pa.Schema:
    return pa.schema(_fields(descriptor))


def _single_value(field: Any, value: Any) -> Any:
    if field.type == _F.TYPE_ENUM:
        known = field.enum_type.values_by_number.get(value)
        return known.name if known is not None else str(value)
    if field.type == _F.TYPE_MESSAGE:
        if field.message_type.full_name == _TIMESTAMP:
            return dt.datetime.fromtimestamp(value.seconds, dt.UTC) + dt.timedelta(
                microseconds=value.nanos // 1000
            )
        return message_row(value)
    return value


def message_row(message: Any) -> dict[str, Any]:
    """A message as a row for ``arrow_schema``; unset message fields are nulls."""
    row: dict[str, Any] = {}
    for field in message.DESCRIPTOR.fields:
        value = getattr(message, field.name)
        if _is_map(field):
            value_field = field.message_type.fields_by_name["value"]
            row[field.name] = [(k, _single_value(value_field, v)) for k, v in value.items()]
        elif _repeated(field):
            row[field.name] = [_single_value(field, v) for v in value]
        elif field.type == _F.TYPE_MESSAGE and not message.HasField(field.name):
            row[field.name] = None
        else:
            row[field.name] = _single_value(field, value)
    return row
