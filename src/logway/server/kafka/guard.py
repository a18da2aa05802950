"""Check a request's declared lengths before kio's native reader sees it.

kio's reader trusts the lengths a request declares: an array that claims two
billion elements makes it reserve memory for them, and a failed allocation aborts
the whole process. So every request body is walked first, by the same schema (the
``kafka_type`` of each field), and refused if a string, byte array, array or tagged
field claims more than the bytes that are left. The walk builds nothing; a Produce
request's records are one length check.
"""

from __future__ import annotations

import struct
from dataclasses import fields, is_dataclass
from functools import cache
from types import NoneType, UnionType
from typing import Any, Union, get_args, get_origin

_FIXED = {
    "bool": 1,
    "int8": 1,
    "int16": 2,
    "uint16": 2,
    "error_code": 2,
    "int32": 4,
    "timedelta_i32": 4,
    "int64": 8,
    "timedelta_i64": 8,
    "datetime_i64": 8,
    "float64": 8,
    "uuid": 16,
}
_I16 = struct.Struct(">h")
_I32 = struct.Struct(">i")


class Malformed(ValueError):
    pass


def uvarint(buf: bytes, pos: int) -> tuple[int, int]:
    """An unsigned varint at ``pos``: its value and where the next field begins."""
    shift = value = 0
    while True:
        if pos >= len(buf) or shift > 63:
            raise Malformed("a malformed varint")
        b = buf[pos]
        pos += 1
        value |= (b & 0x7F) << shift
        if not b & 0x80:
            return value, pos
        shift += 7


def _unwrap(kind: Any) -> tuple[Any, bool, bool]:
    """(inner type, is an array, is nullable)."""
    nullable = False
    if get_origin(kind) in (UnionType, Union):
        args = [a for a in get_args(kind) if a is not NoneType]
        nullable, kind = True, args[0]
    if get_origin(kind) is tuple:
        inner = get_args(kind)[0]
        if get_origin(inner) in (UnionType, Union):
            inner = next(a for a in get_args(inner) if a is not NoneType)
        return inner, True, nullable
    return kind, False, nullable


@cache
def _plan(
    cls: type[Any],
) -> tuple[list[tuple[str, Any, bool, bool]], dict[int, tuple[str, Any, bool, bool]]]:
    """The fields in wire order, and the tagged ones by tag: (kafka type, inner
    dataclass or None, is an array, is nullable)."""
    plain, tagged = [], {}
    for f in fields(cls):
        inner, array, nullable = _unwrap(f.type)
        entry = (
            f.metadata.get("kafka_type", ""),
            inner if is_dataclass(inner) else None,
            array,
            nullable,
        )
        if "tag" in f.metadata:
            tagged[int(f.metadata["tag"])] = entry
        else:
            plain.append(entry)
    return plain, tagged


def check(cls: type[Any], buf: bytes, pos: int) -> None:
    """Raise ``Malformed`` if the body of ``cls`` at ``pos`` declares more than ``buf``
    holds."""
    end = _entity(cls, buf, pos, len(buf))
    if end > len(buf):
        raise Malformed("the request ends early")


def _entity(cls: type[Any], buf: bytes, pos: int, end: int) -> int:
    flexible = bool(cls.__flexible__)
    plain, tagged = _plan(cls)  # type: ignore[arg-type]
    for entry in plain:
        pos = _field(entry, flexible, buf, pos, end)
    if flexible:
        count, pos = uvarint(buf, pos)
        if count > end - pos:
            raise Malformed("more tagged fields than bytes")
        for _ in range(count):
            tag, pos = uvarint(buf, pos)
            size, pos = uvarint(buf, pos)
            if size > end - pos:
                raise Malformed("a tagged field runs past the request")
            known = tagged.get(tag)
            if known is not None:
                _field(known, flexible, buf, pos, pos + size)
            pos += size
    return pos


def _length(flexible: bool, wide: bool, buf: bytes, pos: int, end: int) -> tuple[int, int]:
    """A length (or array count) and where its content begins; -1 for null."""
    if flexible:
        n, pos = uvarint(buf, pos)
        return n - 1, pos
    if wide:
        if pos + 4 > end:
            raise Malformed("the request ends early")
        return _I32.unpack_from(buf, pos)[0], pos + 4
    if pos + 2 > end:
        raise Malformed("the request ends early")
    return _I16.unpack_from(buf, pos)[0], pos + 2


def _field(
    entry: tuple[str, Any, bool, bool], flexible: bool, buf: bytes, pos: int, end: int
) -> int:
    kind, entity, array, nullable = entry
    if array:
        count, pos = _length(flexible, True, buf, pos, end)
        if count < 0:
            return pos
        if count > end - pos:
            raise Malformed(f"an array of {count} elements in {end - pos} bytes")
        for _ in range(count):
            pos = _one(kind, entity, False, flexible, buf, pos, end)
        return pos
    return _one(kind, entity, nullable, flexible, buf, pos, end)


def _one(
    kind: str, entity: Any, nullable: bool, flexible: bool, buf: bytes, pos: int, end: int
) -> int:
    if entity is not None:
        if nullable:  # KIP-893: an int8 marker before a nullable struct
            if pos >= end:
                raise Malformed("the request ends early")
            if buf[pos] == 0xFF:
                return pos + 1
            pos += 1
        return _entity(entity, buf, pos, end)
    size = _FIXED.get(kind)
    if size is None:  # string, bytes, records
        n, pos = _length(flexible, kind != "string", buf, pos, end)
        size = max(n, 0)
    if size > end - pos:
        raise Malformed(f"a {kind} of {size} bytes runs past the request")
    return pos + size
