"""Appending records that keep their own offsets (the broker's ``write_at``), as a
restore or a replica does: the records are checked, then cut into batches that chain
from the partition's end offset.

Offsets may skip (retention or compaction upstream left holes). Batches of one
segment still chain, each based where the previous one ends, which is how recovery
and readers vouch for a base offset (the CRC does not cover it). So a hole becomes a
batch based at the end offset whose one record sits further on (its offset delta is
not 0), as Kafka's compacted batches look; runs of consecutive offsets are encoded
in C like any produced batch.
"""

from __future__ import annotations

from collections.abc import Sequence

from logway.errors import InvalidArgumentError, RecordTooLargeError
from logway.log.segment import Placed
from logway.recordbatch import codec, compression
from logway.records import Record

BATCH_BYTES = 1 << 20  # runs of records are cut into batches of about this size


def encode_records(
    records: Sequence[Record],
    expect: int,
    max_record_bytes: int,
    codec_id: int,
    where: str,
) -> list[Placed]:
    """Batches for checked ``records`` chaining from offset ``expect`` (<= the first
    record's offset)."""
    out: list[Placed] = []
    n, i = len(records), 0
    try:
        while i < n:
            first = records[i]
            if first.offset > expect:  # a hole before this record
                data = codec.encode_batch_at([first], expect, max_record_bytes, codec_id)
                out.append(Placed(data, expect, first.offset + 1, first.timestamp))
                expect, i = first.offset + 1, i + 1
                continue
            j, size = i + 1, _size(first)
            while j < n and records[j].offset == records[j - 1].offset + 1 and size < BATCH_BYTES:
                size += _size(records[j])
                j += 1
            items = [(r.value, r.key, r.headers, None, r.timestamp) for r in records[i:j]]
            batch, count, _first_ts, max_ts = codec.encode_batch(
                items, 0, max_record_bytes, codec_id
            )
            codec.set_base_offset(batch, first.offset)
            out.append(Placed(batch, first.offset, first.offset + count, max_ts))
            expect, i = first.offset + count, j
    except ValueError as exc:
        if "over the limit" in str(exc):
            raise RecordTooLargeError(
                f"{exc} (max_record_bytes of {where}); nothing was written"
            ) from None
        raise InvalidArgumentError(f"cannot write to {where}: {exc}; nothing was written") from None
    except TypeError as exc:
        raise InvalidArgumentError(f"cannot write to {where}: {exc}; nothing was written") from None
    return out


def _size(r: Record) -> int:
    return len(r.value or b"") + len(r.key or b"") + 16


def check_batches(
    data: bytes | bytearray | memoryview, where: str, ordered: bool = True
) -> list[codec.BatchHeader]:
    """Headers of whole RecordBatch v2 batches laid back to back, each CRC-checked, with
    offsets that increase (unless not ``ordered``: a producer's batches get their
    offsets on append); ``InvalidArgumentError`` says which batch is not."""
    try:
        found = codec.scan_batches(data)
    except ValueError as exc:
        raise InvalidArgumentError(f"batches for {where}: {exc}; nothing was written") from None
    previous = -1
    headers = []
    for i, (_pos, h) in enumerate(found):
        if h.attributes & (codec.CONTROL | codec.TRANSACTIONAL):
            raise InvalidArgumentError(
                f"batch {i} for {where} is transactional; logway stores no transactions"
            )
        if h.compression not in compression.CODEC_NAMES:
            raise InvalidArgumentError(f"batch {i} for {where} has unknown compression")
        if ordered and h.base_offset <= previous:
            raise InvalidArgumentError(
                f"batch {i} for {where} begins at offset {h.base_offset}, not above the "
                f"offset before it ({previous}): batches must come in increasing offset order"
            )
        previous = h.last_offset
        headers.append(h)
    return headers
