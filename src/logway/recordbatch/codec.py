"""Kafka RecordBatch v2: the on-disk and wire format of logway's log.

Layout (KIP-98, ``DefaultRecordBatch`` in Kafka's clients)::

    baseOffset int64 | batchLength int32 | partitionLeaderEpoch int32 | magic int8 (2)
    crc uint32 (CRC-32C of everything after it) | attributes int16 | lastOffsetDelta int32
    baseTimestamp int64 | maxTimestamp int64 | producerId int64 | producerEpoch int16
    baseSequence int32 | recordCount int32 | records...

Each record: length varint | attributes int8 | timestampDelta varlong |
offsetDelta varint | key (varint length, -1 = null) | value (same) |
header count varint | headers (key varint-length string, value nullable bytes).
Varints are zigzag-encoded, as in protobuf's sint32/sint64.

The record loops run in C (``logway._speedups``) when it is built, else in the
pure-Python functions below; both produce identical bytes.
"""

from __future__ import annotations

import os
import struct
from collections.abc import Callable, Sequence
from typing import Any, NamedTuple

import crc32c as _crc32c

from logway.recordbatch import compression
from logway.records import Record, normalize_headers, to_bytes, to_millis

HEADER = struct.Struct(">qiiBIhiqqqhii")
HEADER_SIZE = HEADER.size  # 61
LENGTH_PREFIX = 12  # baseOffset + batchLength: batchLength counts the bytes after them
CRC_START = 21  # the CRC covers attributes .. end of batch
MAGIC = 2
COMPRESSION_MASK = 0x07
TIMESTAMP_TYPE_LOG_APPEND = 0x08
TRANSACTIONAL = 0x10
CONTROL = 0x20
NO_PRODUCER_ID = -1
MAX_OFFSET_DELTA = (1 << 31) - 1  # lastOffsetDelta is an int32


def crc32c(data: bytes | memoryview) -> int:
    return int(_crc32c.crc32c(data))


class BatchHeader(NamedTuple):
    base_offset: int
    batch_length: int
    leader_epoch: int
    magic: int
    crc: int
    attributes: int
    last_offset_delta: int
    first_timestamp: int
    max_timestamp: int
    producer_id: int
    producer_epoch: int
    base_sequence: int
    record_count: int

    @property
    def size(self) -> int:
        """Bytes the whole batch takes in the file."""
        return LENGTH_PREFIX + self.batch_length

    @property
    def last_offset(self) -> int:
        return self.base_offset + self.last_offset_delta

    @property
    def next_offset(self) -> int:
        return self.base_offset + self.last_offset_delta + 1

    @property
    def compression(self) -> int:
        return self.attributes & COMPRESSION_MASK


def read_header(buf: bytes | memoryview, pos: int = 0) -> BatchHeader:
    """Parse a batch header; ``ValueError`` if it is not a plausible v2 header."""
    if len(buf) - pos < HEADER_SIZE:
        raise ValueError("truncated batch header")
    header = BatchHeader._make(HEADER.unpack_from(buf, pos))
    if header.magic != MAGIC:
        raise ValueError(f"unsupported record batch magic {header.magic} (logway reads v2)")
    if header.batch_length < HEADER_SIZE - LENGTH_PREFIX:
        raise ValueError(f"batch length {header.batch_length} is shorter than a batch header")
    if header.record_count < 0 or header.last_offset_delta < 0:
        raise ValueError("negative record count or offset delta")
    return header


def crc_ok(buf: bytes | memoryview, pos: int, header: BatchHeader) -> bool:
    end = pos + header.size
    if end > len(buf):
        return False
    return crc32c(memoryview(buf)[pos + CRC_START : end]) == header.crc


def records_payload(buf: bytes | memoryview, pos: int, header: BatchHeader) -> bytes:
    """A batch's record bytes, CRC-verified and decompressed; ``ValueError`` if damaged."""
    end = pos + header.size
    if end > len(buf):
        raise ValueError("batch runs past the end of the data")
    if crc32c(memoryview(buf)[pos + CRC_START : end]) != header.crc:
        raise ValueError("CRC-32C mismatch")
    payload = bytes(buf[pos + HEADER_SIZE : end])
    return compression.decompress(header.compression, payload)


def decode_payload(
    payload: bytes,
    header: BatchHeader,
    topic: str = "",
    partition: int = 0,
    min_offset: int = 0,
    max_count: int = 1 << 62,
) -> list[Record]:
    """Records of a verified payload from ``min_offset`` on; when the whole batch is
    decoded, its record count and last offset must match the header."""
    if header.attributes & CONTROL:
        return []  # transaction markers carry no user records
    records = decode_records(
        payload,
        header.base_offset,
        header.first_timestamp,
        header.record_count,
        header.max_timestamp if header.attributes & TIMESTAMP_TYPE_LOG_APPEND else -1,
        topic,
        partition,
        min_offset,
        max_count,
    )
    whole = min_offset <= header.base_offset and max_count >= header.record_count
    if whole and (
        len(records) != header.record_count
        or (records and records[-1].offset != header.last_offset)
    ):
        raise ValueError("the records do not match the batch header's count and offsets")
    return records


def decode_batch(
    buf: bytes | memoryview,
    pos: int = 0,
    topic: str = "",
    partition: int = 0,
    expected_base_offset: int | None = None,
) -> tuple[BatchHeader, list[Record]]:
    """Parse, verify and decode one whole batch; ``ValueError`` on any damage. The base
    offset is not covered by the CRC, so readers pass the offset they expect."""
    header = read_header(buf, pos)
    if expected_base_offset is not None and header.base_offset != expected_base_offset:
        raise ValueError(
            f"batch says base offset {header.base_offset}, expected {expected_base_offset}"
        )
    return header, decode_payload(records_payload(buf, pos, header), header, topic, partition)


_TAIL = struct.Struct(">hiqqqhii")  # attributes .. record count
_HEAD = struct.Struct(">qiiBI")  # base offset .. crc


def encode_batch(
    items: Sequence[Any],
    default_timestamp: int,
    max_record_bytes: int,
    codec: int = compression.NONE,
    partitions: int = 0,
) -> tuple[bytearray, int, int, int]:
    """Encode ``items`` as one whole batch: ``(batch, count, first ts, max ts)``.

    The records are encoded straight into the batch's buffer behind room for the
    header, which is then filled in place: no copy of the payload when uncompressed.
    The base offset is 0; ``set_base_offset`` patches it at append time (the CRC
    does not cover it). ``partitions`` > 0 refuses records naming another partition."""
    buf, count, first, last = encode_records(
        items, default_timestamp, max_record_bytes, to_millis, HEADER_SIZE, partitions
    )
    if codec != compression.NONE:
        payload = compression.compress(codec, bytes(memoryview(buf)[HEADER_SIZE:]))
        buf = bytearray(HEADER_SIZE) + payload
    attributes = codec & COMPRESSION_MASK
    _TAIL.pack_into(
        buf, CRC_START, attributes, count - 1, first, last, NO_PRODUCER_ID, -1, -1, count
    )
    crc = crc32c(memoryview(buf)[CRC_START:])
    _HEAD.pack_into(buf, 0, 0, len(buf) - LENGTH_PREFIX, 0, MAGIC, crc)
    return buf, count, first, last


_BASE_OFFSET = struct.Struct(">q")


def set_base_offset(batch: bytearray, base_offset: int, pos: int = 0) -> None:
    """Write the base offset of the batch at ``pos`` (outside the CRC's cover)."""
    _BASE_OFFSET.pack_into(batch, pos, base_offset)


_ATTRIBUTES = struct.Struct(">h")
_TIMESTAMP = struct.Struct(">q")
_CRC = struct.Struct(">I")


def set_log_append_time(batch: bytearray, now: int, pos: int = 0) -> None:
    """Stamp the batch at ``pos`` with the time the log appends it (Kafka's
    LogAppendTime): the timestamp-type attribute and the max timestamp are set, which
    every record's timestamp then reads as, and the CRC is computed again."""
    attributes = _ATTRIBUTES.unpack_from(batch, pos + CRC_START)[0]
    _ATTRIBUTES.pack_into(batch, pos + CRC_START, attributes | TIMESTAMP_TYPE_LOG_APPEND)
    _TIMESTAMP.pack_into(batch, pos + 35, now)  # maxTimestamp
    size = LENGTH_PREFIX + _LENGTH.unpack_from(batch, pos + 8)[0]
    crc = crc32c(memoryview(batch)[pos + CRC_START : pos + size])
    _CRC.pack_into(batch, pos + 17, crc)


_LENGTH = struct.Struct(">i")


def encode_batch_at(
    records: Sequence[Record],
    base_offset: int,
    max_record_bytes: int,
    codec: int = compression.NONE,
) -> bytearray:
    """One batch based at ``base_offset`` holding ``records`` at their own offsets, which
    may leave holes (the first above the base, gaps between), as batches look after
    Kafka's compaction. Pure Python: for the rare batch that spans a gap in offsets;
    runs of consecutive offsets go through ``encode_batch``."""
    if not records:
        raise ValueError("cannot encode an empty batch")
    first_ts = records[0].timestamp
    parts = []
    last = base_offset - 1
    for i, r in enumerate(records):
        if r.offset <= last:
            raise ValueError(f"record {i} has offset {r.offset}, not above {last}")
        last = r.offset
        body = [
            b"\x00",
            _varint(r.timestamp - first_ts),
            _varint(r.offset - base_offset),
            _nullable(r.key),
            _nullable(r.value),
            _varint(len(r.headers)),
        ]
        for name, hvalue in r.headers:
            raw = name.encode()
            body.append(_varint(len(raw)) + raw)
            body.append(_nullable(hvalue))
        encoded = b"".join(body)
        if len(encoded) > max_record_bytes:
            raise ValueError(
                f"record {i} is {len(encoded)} bytes encoded, over the limit of {max_record_bytes}"
            )
        parts.append(_varint(len(encoded)))
        parts.append(encoded)
    if last - base_offset > MAX_OFFSET_DELTA:
        raise ValueError(
            f"offsets {base_offset} to {last} are too far apart for one batch (a batch spans "
            f"at most {MAX_OFFSET_DELTA} offsets)"
        )
    payload = b"".join(parts)
    if codec != compression.NONE:
        payload = compression.compress(codec, payload)
    buf = bytearray(HEADER_SIZE) + payload
    stamps = [r.timestamp for r in records]
    _TAIL.pack_into(
        buf,
        CRC_START,
        codec & COMPRESSION_MASK,
        last - base_offset,
        first_ts,
        max(stamps),
        NO_PRODUCER_ID,
        -1,
        -1,
        len(records),
    )
    crc = crc32c(memoryview(buf)[CRC_START:])
    _HEAD.pack_into(buf, 0, base_offset, len(buf) - LENGTH_PREFIX, 0, MAGIC, crc)
    return buf


def scan_batches(
    data: bytes | bytearray | memoryview, verify_crc: bool = True
) -> list[tuple[int, BatchHeader]]:
    """``(position, header)`` of each whole batch of ``data`` (batches laid back to back),
    with each CRC checked; ``ValueError`` names the first batch that is not sound."""
    out: list[tuple[int, BatchHeader]] = []
    view = memoryview(data)
    pos = 0
    while pos < len(view):
        try:
            header = read_header(view, pos)
        except ValueError as exc:
            raise ValueError(f"record batch {len(out)} (byte {pos}): {exc}") from None
        if pos + header.size > len(view):
            raise ValueError(f"record batch {len(out)} (byte {pos}) runs past the end of the data")
        if verify_crc and not crc_ok(view, pos, header):
            raise ValueError(f"record batch {len(out)} (byte {pos}): CRC-32C mismatch")
        out.append((pos, header))
        pos += header.size
    return out


# --- on the wire -------------------------------------------------------------------

WIRE_RECORD_LIMIT = (1 << 31) - 1  # records on the wire were checked by whoever stored them


def encode_wire(records: Sequence[Record]) -> bytes:
    """Records of one partition as RecordBatch v2 carrying their own offsets: one
    uncompressed batch per run of consecutive offsets."""
    out = bytearray()
    start, n = 0, len(records)
    while start < n:
        end = n
        if records[-1].offset - records[start].offset != n - 1 - start:
            end = start + 1
            while end < n and records[end].offset == records[end - 1].offset + 1:
                end += 1
        items = [(r.value, r.key, r.headers, None, r.timestamp) for r in records[start:end]]
        batch = encode_batch(items, 0, WIRE_RECORD_LIMIT)[0]
        set_base_offset(batch, records[start].offset)
        out += batch
        start = end
    return bytes(out)


def decode_wire(data: bytes, topic: str = "", partition: int = 0) -> list[Record]:
    """Every record of whole batches laid back to back; ``ValueError`` names the first
    damaged batch."""
    out: list[Record] = []
    pos = index = 0
    while pos < len(data):
        try:
            header, records = decode_batch(data, pos, topic, partition)
        except ValueError as exc:
            raise ValueError(f"record batch {index} (byte {pos}): {exc}") from None
        out.extend(records)
        pos += header.size
        index += 1
    return out


# --- pure-Python record loops (reference implementation) ----------------------------


def _varint(n: int) -> bytes:
    z = (n << 1) ^ (n >> 63)
    out = bytearray()
    while z > 0x7F:
        out.append((z & 0x7F) | 0x80)
        z >>= 7
    out.append(z)
    return bytes(out)


def _nullable(b: bytes | None) -> bytes:
    return b"\x01" if b is None else _varint(len(b)) + b


def _item_fields(item: Any, to_ms: Callable[[Any], int | None]) -> tuple[Any, Any, Any, Any]:
    if isinstance(item, bytes | bytearray | memoryview | str) or item is None:
        return to_bytes(item), None, (), None
    if not isinstance(item, tuple) or not 1 <= len(item) <= 5:
        raise TypeError(
            f"records must be bytes, str or Message(value, key, headers, partition, timestamp), "
            f"not {type(item).__name__}"
        )
    fields = (*item, None, None, None, None)
    value, key, headers, _partition, ts = fields[:5]
    ts_ms = ts if type(ts) is int or ts is None else to_ms(ts)
    return to_bytes(value), to_bytes(key, "key"), normalize_headers(headers), ts_ms


def py_encode_records(
    items: Sequence[Any],
    default_timestamp: int,
    max_record_bytes: int,
    to_ms: Callable[[Any], int | None] = to_millis,
    prefix: int = 0,
    partitions: int = 0,
) -> tuple[bytearray, int, int, int]:
    """Encode records behind ``prefix`` zero bytes; returns ``(buffer, count,
    first_timestamp, max_timestamp)``. ``partitions`` > 0 refuses records that name
    a partition outside ``0 .. partitions - 1``."""
    if partitions > 0:
        for i, item in enumerate(items):
            want = item[3] if isinstance(item, tuple) and len(item) > 3 else None
            if want is not None and (type(want) is not int or not 0 <= want < partitions):
                raise ValueError(
                    f"record {i} asks for partition {want!r}; the topic has partitions "
                    f"0 to {partitions - 1}"
                )
    fields = [_item_fields(item, to_ms) for item in items]
    if not fields:
        raise ValueError("cannot encode an empty batch")
    stamps = [default_timestamp if f[3] is None else f[3] for f in fields]
    first_ts = stamps[0]
    out = []
    for i, ((value, key, headers, _), ts) in enumerate(zip(fields, stamps, strict=True)):
        parts = [
            b"\x00",
            _varint(ts - first_ts),
            _varint(i),
            _nullable(key),
            _nullable(value),
            _varint(len(headers)),
        ]
        for name, hvalue in headers:
            raw = name.encode()
            parts.append(_varint(len(raw)) + raw)
            parts.append(_nullable(hvalue))
        body = b"".join(parts)
        if len(body) > max_record_bytes:
            raise ValueError(
                f"record {i} is {len(body)} bytes encoded, over the limit of {max_record_bytes}"
            )
        out.append(_varint(len(body)))
        out.append(body)
    return bytearray(prefix) + b"".join(out), len(fields), first_ts, max(stamps)


def _read_varint(buf: bytes, pos: int, end: int) -> tuple[int, int]:
    z = shift = 0
    while True:
        if pos >= end:
            raise ValueError("varint runs past the end of the record")
        b = buf[pos]
        pos += 1
        z |= (b & 0x7F) << shift
        if not b & 0x80:
            return (z >> 1) ^ -(z & 1), pos
        shift += 7
        if shift > 63:
            raise ValueError("varint is longer than 10 bytes")


def _read_nullable(buf: bytes, pos: int, end: int) -> tuple[bytes | None, int]:
    n, pos = _read_varint(buf, pos, end)
    if n < 0:
        if n != -1:
            raise ValueError(f"negative length {n}")
        return None, pos
    if pos + n > end:
        raise ValueError("field runs past the end of the record")
    return buf[pos : pos + n], pos + n


def py_decode_records(
    blob: bytes,
    base_offset: int,
    first_timestamp: int,
    count: int,
    append_time: int,
    topic: str,
    partition: int,
    min_offset: int,
    max_count: int,
) -> list[Record]:
    """Decode a batch's records with offset >= ``min_offset``, at most ``max_count``.

    ``append_time`` >= 0 replaces every timestamp (LogAppendTime batches)."""
    out: list[Record] = []
    pos, size = 0, len(blob)
    for _ in range(count):
        if len(out) >= max_count:
            break
        length, pos = _read_varint(blob, pos, size)
        end = pos + length
        if length < 1 or end > size:
            raise ValueError("record length runs past the end of the batch")
        p = pos + 1  # attributes, unused in v2
        ts_delta, p = _read_varint(blob, p, end)
        off_delta, p = _read_varint(blob, p, end)
        offset = base_offset + off_delta
        if offset < min_offset:
            pos = end
            continue
        key, p = _read_nullable(blob, p, end)
        value, p = _read_nullable(blob, p, end)
        n_headers, p = _read_varint(blob, p, end)
        if n_headers < 0:
            raise ValueError("negative header count")
        headers = []
        for _h in range(n_headers):
            raw, p = _read_nullable(blob, p, end)
            if raw is None:
                raise ValueError("null header key")
            hvalue, p = _read_nullable(blob, p, end)
            headers.append((raw.decode("utf-8", "replace"), hvalue))
        if p != end:
            raise ValueError("record length does not match its fields")
        ts = append_time if append_time >= 0 else first_timestamp + ts_delta
        out.append(Record(topic, partition, offset, ts, key, value, tuple(headers)))
        pos = end
    return out


def py_records_size(records: list[Record]) -> int:
    """Bytes of the records' keys, values and headers (header names in UTF-8)."""
    total = 0
    for r in records:
        total += len(r.key or b"") + len(r.value or b"")
        for name, value in r.headers:
            total += len(name.encode()) + len(value or b"")
    return total


records_size: Callable[[list[Record]], int] = py_records_size
encode_records: Callable[..., tuple[bytearray, int, int, int]] = py_encode_records
decode_records: Callable[..., list[Record]] = py_decode_records
ACCELERATED = False

if not os.environ.get("LOGWAY_PURE_PYTHON"):
    try:
        from logway import _speedups
    except ImportError:  # no compiler at install time: the pure-Python loops serve
        pass
    else:
        _speedups.init(Record, to_millis, normalize_headers)
        encode_records = _speedups.encode_records
        decode_records = _speedups.decode_records
        records_size = _speedups.records_size
        ACCELERATED = True
