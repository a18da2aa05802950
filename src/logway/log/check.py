"""``logway check``: verify every batch of every segment (framing, CRC-32C,
compression, record encoding) and report damage by file and byte position."""

from __future__ import annotations

from collections.abc import Iterator
from typing import NamedTuple

from logway.log.log import Log
from logway.recordbatch import codec


class Problem(NamedTuple):
    path: str
    position: int
    offset: int
    reason: str


class CheckReport(NamedTuple):
    segments: int
    batches: int
    records: int
    truncated_bytes: int
    problems: list[Problem]


def check_log(log: Log) -> CheckReport:
    segments = batches = records = truncated = 0
    problems: list[Problem] = []
    for topic in sorted(log.topics):
        for part in log.topics[topic]:
            truncated += part.truncated_bytes
            with part.lock:
                segs = list(part.segments)
            for seg in segs:
                segments += 1
                for b, r, problem in _check_segment(seg):
                    batches += b
                    records += r
                    if problem:
                        problems.append(problem)
    return CheckReport(segments, batches, records, truncated, problems)


def _check_segment(seg: object) -> Iterator[tuple[int, int, Problem | None]]:
    from logway.log.segment import Segment

    assert isinstance(seg, Segment)
    expected = seg.base_offset
    for pos, header, ok in seg.scan(0, verify_crc=True):
        if header.base_offset < 0:
            yield 0, 0, Problem(seg.path, pos, expected, "unreadable batch header")
            return
        if not ok:
            why = (
                "batch runs past the end of the file"
                if pos + header.size > seg.size
                else "CRC-32C mismatch"
            )
            yield 1, 0, Problem(seg.path, pos, header.base_offset, why)
            expected = header.next_offset
            continue
        if header.base_offset != expected:
            yield (
                1,
                0,
                Problem(seg.path, pos, header.base_offset, f"expected base offset {expected}"),
            )
        try:
            recs = codec.decode_payload(
                codec.records_payload(seg.read(pos, header.size), 0, header), header
            )
        except ValueError as exc:
            yield 1, 0, Problem(seg.path, pos, header.base_offset, f"records do not decode: {exc}")
        else:
            yield 1, len(recs), None
        expected = header.next_offset
