"""The Produce response, encoded by hand: the one message a busy producer gets for
every request, where building kio's objects and running its generic writer cost more
than the append itself (measured: a third of the event loop at 5,000 requests/s).
``tests/kafka_port/test_wire.py`` checks it byte for byte against kio's encoding of
every served version.

Layout (ProduceResponse.json): per topic its name and per partition index, error
code, base offset, log append time (v2+), log start offset (v5+), record errors and
an error message (v8+); the throttle time last. From v9 arrays and strings are
compact and every struct ends with its (here empty) tagged fields.
"""

from __future__ import annotations

import struct
from collections.abc import Sequence

_PART = struct.Struct(">ihq")  # index, error code, base offset
_Q = struct.Struct(">q")
_I = struct.Struct(">i")
_H = struct.Struct(">h")
FLEXIBLE_FROM = 9


def _uvarint(n: int) -> bytes:
    out = bytearray()
    while n >= 0x80:
        out.append((n & 0x7F) | 0x80)
        n >>= 7
    out.append(n)
    return bytes(out)


def _string(text: str | None, flexible: bool) -> bytes:
    if text is None:
        return b"\0" if flexible else _H.pack(-1)
    data = text.encode()
    return (_uvarint(len(data) + 1) if flexible else _H.pack(len(data))) + data


def _count(n: int, flexible: bool) -> bytes:
    return _uvarint(n + 1) if flexible else _I.pack(n)


Partition = tuple[int, int, int, int, str]  # index, error, base offset, append time, message


def encode(version: int, topics: Sequence[tuple[str, Sequence[Partition]]]) -> bytes:
    """The response body (without the response header) of ``version``."""
    flexible = version >= FLEXIBLE_FROM
    out = [_count(len(topics), flexible)]
    for name, parts in topics:
        out.append(_string(name, flexible))
        out.append(_count(len(parts), flexible))
        for index, error, offset, append_time, message in parts:
            out.append(_PART.pack(index, error, offset))
            if version >= 2:
                out.append(_Q.pack(append_time))
            if version >= 5:
                out.append(_Q.pack(-1))  # log start offset: not told
            if version >= 8:
                out.append(_count(0, flexible))  # record errors
                out.append(_string(message or None, flexible))
            if flexible:
                out.append(b"\0")
        if flexible:
            out.append(b"\0")
    out.append(_I.pack(0))  # throttle time
    if flexible:
        out.append(b"\0")
    return b"".join(out)
