"""The RecordBatch v2 codec: round trips, C and Python agreement, damage detection."""

from __future__ import annotations

import struct

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from logway.recordbatch import codec, compression
from logway.records import Message, Record

maybe_bytes = st.none() | st.binary(max_size=300)
headers = st.lists(st.tuples(st.text(max_size=20), maybe_bytes), max_size=4).map(tuple)
messages = st.builds(
    Message,
    value=maybe_bytes,
    key=maybe_bytes,
    headers=headers,
    timestamp=st.none() | st.integers(min_value=0, max_value=2**45),
)
batches = st.lists(messages, min_size=1, max_size=40)
codecs = st.sampled_from(sorted(compression.CODEC_IDS.values()))
BASE_TS = 1_790_000_000_000


def _batch(items: list[Message], base_offset: int, codec_id: int) -> bytes:
    batch, *_ = codec.encode_batch(items, BASE_TS, 1 << 30, codec_id)
    codec.set_base_offset(batch, base_offset)
    return bytes(batch)


def _expected(items: list[Message], base_offset: int) -> list[Record]:
    return [
        Record(
            "t",
            3,
            base_offset + i,
            BASE_TS if m.timestamp is None else m.timestamp,
            m.key,
            m.value,
            m.headers,
        )
        for i, m in enumerate(items)
    ]


@given(batches, st.integers(min_value=0, max_value=2**40), codecs)
@settings(max_examples=150)
def test_any_records_round_trip(items: list[Message], base: int, codec_id: int) -> None:
    data = _batch(items, base, codec_id)
    header, records = codec.decode_batch(data, 0, "t", 3, expected_base_offset=base)
    assert records == _expected(items, base)
    assert header.record_count == len(items) and header.last_offset == base + len(items) - 1
    stamps = [BASE_TS if m.timestamp is None else m.timestamp for m in items]
    assert header.max_timestamp == max(stamps) and header.first_timestamp == stamps[0]


@given(batches)
@settings(max_examples=150)
def test_c_and_python_codecs_agree(items: list[Message]) -> None:
    if not codec.ACCELERATED:
        pytest.skip("the C codec is not built in this environment")
    fast = codec.encode_records(items, BASE_TS, 1 << 30)
    slow = codec.py_encode_records(items, BASE_TS, 1 << 30)
    assert fast == slow
    blob, count, first, _ = fast
    for start in (0, 1, len(items) // 2):
        for limit in (1, 3, 1 << 30):
            assert codec.decode_records(blob, 10, first, count, -1, "t", 3, 10 + start, limit) == (
                codec.py_decode_records(blob, 10, first, count, -1, "t", 3, 10 + start, limit)
            )


@given(batches, codecs, st.data())
@settings(max_examples=300)
def test_a_changed_byte_never_decodes_as_valid_data(
    items: list[Message], codec_id: int, data: st.DataObject
) -> None:
    """Any one-byte change is refused, except in the partition leader epoch, which no
    check covers and which carries no record data (the records stay identical)."""
    original = _batch(items, 100, codec_id)
    position = data.draw(st.integers(min_value=0, max_value=len(original) - 1))
    flip = data.draw(st.integers(min_value=1, max_value=255))
    damaged = bytearray(original)
    damaged[position] ^= flip
    try:
        _, records = codec.decode_batch(bytes(damaged), 0, "t", 3, expected_base_offset=100)
    except ValueError:
        return
    assert 12 <= position < 16, f"byte {position} changed and the batch still decoded"
    assert records == _expected(items, 100)


def test_header_layout_matches_kafka() -> None:
    """Field offsets of DefaultRecordBatch: crc at 17, attributes at 21, 61-byte header."""
    data = _batch([Message(b"v", key=b"k")], 42, compression.NONE)
    assert codec.HEADER_SIZE == 61
    base, length, _epoch, magic, crc = struct.unpack_from(">qiiBI", data, 0)
    assert (base, length, magic) == (42, len(data) - 12, 2)
    assert crc == codec.crc32c(data[21:])
    # record: length 8 (zigzag 0x10), attributes, ts delta 0, offset delta 0,
    # key length 1 (zigzag 2) 'k', value length 1 'v', no headers
    assert data[61:] == bytes([0x10, 0, 0, 0, 2]) + b"k" + bytes([2]) + b"v" + bytes([0])


def test_known_crc32c_vector() -> None:
    assert codec.crc32c(b"123456789") == 0xE3069283  # the CRC-32C check value


def test_varint_edges_round_trip() -> None:
    items = [
        Message(b"x" * n, timestamp=ts)
        for n, ts in [(0, 0), (63, 2**62), (64, 1), (8191, -(2**40)), (8192, 2**40)]
    ]
    data = _batch(items, 0, compression.NONE)
    _, records = codec.decode_batch(data)
    assert [len(r.value or b"") for r in records] == [0, 63, 64, 8191, 8192]
    assert [r.timestamp for r in records] == [0, 2**62, 1, -(2**40), 2**40]


def test_record_limit_is_enforced_by_both_codecs() -> None:
    for encode in (codec.encode_records, codec.py_encode_records):
        with pytest.raises(ValueError, match="over the limit"):
            encode([b"ok", b"x" * 100], BASE_TS, 50)


def test_snappy_reads_raw_and_xerial_framing() -> None:
    import cramjam

    data = b"hello snappy " * 10_000
    assert (
        compression.decompress(compression.SNAPPY, compression.compress(compression.SNAPPY, data))
        == data
    )
    raw = bytes(cramjam.snappy.compress_raw(data))
    assert compression.decompress(compression.SNAPPY, raw) == data
    assert compression.compress(compression.SNAPPY, data).startswith(b"\x82SNAPPY\x00")


def test_unknown_codec_name_is_refused() -> None:
    with pytest.raises(ValueError, match="brotli"):
        compression.codec_id("brotli")


offsets_with_gaps = st.lists(st.integers(min_value=1, max_value=3), min_size=1, max_size=30)


@given(batches, offsets_with_gaps, st.integers(min_value=0, max_value=2**40))
@settings(max_examples=60)
def test_wire_encoding_keeps_every_field_and_offset(
    items: list[Message], steps: list[int], first: int
) -> None:
    offsets = [first]
    for step in steps[: len(items) - 1]:
        offsets.append(offsets[-1] + step)
    records = [
        Record(
            "t", 3, o, BASE_TS if m.timestamp is None else m.timestamp, m.key, m.value, m.headers
        )
        for o, m in zip(offsets, items, strict=False)
    ]
    wire = codec.encode_wire(records)
    assert codec.decode_wire(wire, "t", 3) == records


def test_wire_decoding_names_the_damaged_batch() -> None:
    records = [Record("t", 0, o, BASE_TS, None, b"v%d" % o, ()) for o in (0, 1, 5)]
    wire = bytearray(codec.encode_wire(records))
    first = codec.read_header(wire).size
    wire[first + codec.HEADER_SIZE + 2] ^= 0xFF  # a record byte of the second batch
    with pytest.raises(ValueError, match=f"record batch 1 \\(byte {first}\\).*CRC"):
        codec.decode_wire(bytes(wire))


@given(st.lists(messages, max_size=20))
def test_records_size_agrees_between_c_and_python(items: list[Message]) -> None:
    records = [Record("t", 0, i, 0, m.key, m.value, m.headers) for i, m in enumerate(items)]
    expected = sum(
        len(r.key or b"")
        + len(r.value or b"")
        + sum(len(k.encode()) + len(v or b"") for k, v in r.headers)
        for r in records
    )
    assert codec.py_records_size(records) == expected
    assert codec.records_size(records) == expected
