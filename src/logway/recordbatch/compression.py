"""Compression codecs of Kafka record batches (attributes bits 0-2).

Codec ids and framings follow Kafka: gzip (RFC 1952), snappy in the xerial
block framing the Java client writes (raw snappy is also read, as librdkafka
may send it), LZ4 frame format, and zstd frames. The work is done by ``cramjam``.
"""

from __future__ import annotations

import struct
from collections.abc import Callable

import cramjam

from logway.errors import InvalidArgumentError

NONE, GZIP, SNAPPY, LZ4, ZSTD = 0, 1, 2, 3, 4
CODEC_IDS = {"none": NONE, "gzip": GZIP, "snappy": SNAPPY, "lz4": LZ4, "zstd": ZSTD}
CODEC_NAMES = {v: k for k, v in CODEC_IDS.items()}

_XERIAL_MAGIC = b"\x82SNAPPY\x00"
_XERIAL_HEADER = _XERIAL_MAGIC + struct.pack(">ii", 1, 1)
_XERIAL_BLOCK = 32 * 1024  # the Java client's default block size
_BLOCK_LEN = struct.Struct(">i")


def codec_id(name: str | int) -> int:
    """The attribute bits for a codec name (``"zstd"``) or id; refuses unknown ones."""
    if isinstance(name, int) and name in CODEC_NAMES:
        return name
    try:
        return CODEC_IDS[str(name).lower()]
    except KeyError:
        raise InvalidArgumentError(
            f"unknown compression {name!r}; use one of {', '.join(CODEC_IDS)}"
        ) from None


def _snappy_compress(data: bytes) -> bytes:
    parts = [_XERIAL_HEADER]
    for start in range(0, len(data), _XERIAL_BLOCK):
        block = bytes(cramjam.snappy.compress_raw(data[start : start + _XERIAL_BLOCK]))
        parts.append(_BLOCK_LEN.pack(len(block)))
        parts.append(block)
    return b"".join(parts)


def _snappy_decompress(data: bytes) -> bytes:
    if not data.startswith(_XERIAL_MAGIC):
        return bytes(cramjam.snappy.decompress_raw(data))
    pos, out = len(_XERIAL_HEADER), []
    while pos < len(data):
        if pos + 4 > len(data):
            raise ValueError("truncated xerial snappy block length")
        (length,) = _BLOCK_LEN.unpack_from(data, pos)
        pos += 4
        if length < 0 or pos + length > len(data):
            raise ValueError("xerial snappy block runs past the end of the data")
        out.append(bytes(cramjam.snappy.decompress_raw(data[pos : pos + length])))
        pos += length
    return b"".join(out)


_COMPRESS: dict[int, Callable[[bytes], bytes]] = {
    GZIP: lambda b: bytes(cramjam.gzip.compress(b)),
    SNAPPY: _snappy_compress,
    LZ4: lambda b: bytes(cramjam.lz4.compress(b)),
    ZSTD: lambda b: bytes(cramjam.zstd.compress(b)),
}
_DECOMPRESS: dict[int, Callable[[bytes], bytes]] = {
    GZIP: lambda b: bytes(cramjam.gzip.decompress(b)),
    SNAPPY: _snappy_decompress,
    LZ4: lambda b: bytes(cramjam.lz4.decompress(b)),
    ZSTD: lambda b: bytes(cramjam.zstd.decompress(b)),
}


def compress(codec: int, data: bytes) -> bytes:
    return data if codec == NONE else _COMPRESS[codec](data)


def decompress(codec: int, data: bytes) -> bytes:
    """Decompress a batch's records; any failure is a ``ValueError``."""
    if codec == NONE:
        return data
    try:
        fn = _DECOMPRESS[codec]
    except KeyError:
        raise ValueError(f"unknown compression codec id {codec}") from None
    try:
        return fn(data)
    except ValueError:
        raise
    except Exception as exc:  # cramjam raises its own DecompressionError
        raise ValueError(f"{CODEC_NAMES[codec]} data does not decompress: {exc}") from exc
