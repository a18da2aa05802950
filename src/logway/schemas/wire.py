"""Confluent's wire format for a record's key or value: a zero magic byte, the
schema's id as a big-endian 32-bit integer, then the encoded data. For Protobuf the
data starts with the *message indexes*, the path to the message type in its file: a
count and that many indexes, each a zigzag varint, where the common path ``[0]``
(the file's first message) is written as the single byte ``0``.
"""

from __future__ import annotations

from logway.errors import InvalidRecordError

MAGIC = 0
HEADER = 5  # magic byte and schema id
FIRST_MESSAGE = (0,)


def frame(schema_id: int, data: bytes, indexes: tuple[int, ...] | None = None) -> bytes:
    """``data`` in the wire format of schema ``schema_id`` (``indexes`` for Protobuf)."""
    head = bytes((MAGIC,)) + schema_id.to_bytes(4, "big")
    if indexes is None:
        return head + data
    if indexes == FIRST_MESSAGE:
        return head + b"\x00" + data
    path = _zigzag(len(indexes)) + b"".join(_zigzag(i) for i in indexes)
    return head + path + data


def schema_id_of(data: bytes | memoryview | None) -> int:
    """The schema id ``data`` is framed with; InvalidRecordError when it is not in
    the wire format."""
    if data is None or len(data) < HEADER:
        got = "no bytes" if data is None else f"{len(data)} bytes"
        raise InvalidRecordError(
            f"is not in the schema registry's wire format (a zero byte and a 4-byte "
            f"schema id before the data): it has {got}"
        )
    if data[0] != MAGIC:
        raise InvalidRecordError(
            f"is not in the schema registry's wire format: its first byte is {data[0]}, "
            "not the magic byte 0 (was it written by a schema-aware serializer?)"
        )
    return int.from_bytes(data[1:HEADER], "big")


def message_indexes(data: bytes | memoryview, pos: int = HEADER) -> tuple[tuple[int, ...], int]:
    """The Protobuf message indexes at ``pos`` and where the message starts."""
    count, pos = _read_zigzag(data, pos)
    if count == 0:
        return FIRST_MESSAGE, pos
    if count < 0 or count > 64:
        raise InvalidRecordError(f"has corrupt Protobuf message indexes (count {count})")
    path = []
    for _ in range(count):
        index, pos = _read_zigzag(data, pos)
        if index < 0:
            raise InvalidRecordError(f"has corrupt Protobuf message indexes (index {index})")
        path.append(index)
    return tuple(path), pos


def uvarint(n: int) -> bytes:
    """``n`` >= 0 as a Protobuf varint."""
    out = bytearray()
    while n > 0x7F:
        out.append((n & 0x7F) | 0x80)
        n >>= 7
    out.append(n)
    return bytes(out)


def _zigzag(n: int) -> bytes:
    return uvarint((n << 1) ^ (n >> 63))


def _read_zigzag(data: bytes | memoryview, pos: int) -> tuple[int, int]:
    shift = result = 0
    while True:
        if pos >= len(data) or shift > 63:
            raise InvalidRecordError("has Protobuf message indexes cut short or corrupt")
        byte = data[pos]
        pos += 1
        result |= (byte & 0x7F) << shift
        if not byte & 0x80:
            break
        shift += 7
    return (result >> 1) ^ -(result & 1), pos
