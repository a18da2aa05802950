"""The Kafka wire protocol's framing and message codec, over kio's classes generated
from Kafka's own message schemas (clients/src/main/resources/common/message/*.json).

A request is ``int32 size`` + header + body. The header is v1 (api key, version,
correlation id, nullable client id) or, for flexible versions, v2 (v1 + tagged
fields); the response header is v0 (correlation id) or v1 (+ tagged fields).
ApiVersions is the exception: its response header is always v0, so a client can
read the answer whatever version it asked for (KIP-511).
"""

from __future__ import annotations

import datetime as dt
import io
import struct
import sys
from dataclasses import fields
from functools import cache
from types import ModuleType
from typing import Any, NamedTuple

from kio.index import load_request_schema, load_response_schema
from kio.serial import entity_reader, entity_writer

from logway.server.kafka import guard

API_VERSIONS = 18
NO_THROTTLE = dt.timedelta(0)
_HEAD = struct.Struct(">hhi")  # api key, api version, correlation id
_SIZE = struct.Struct(">i")
_I16 = struct.Struct(">h")


class RequestHeader:
    """What every request begins with; ``body`` is where its payload starts."""

    __slots__ = ("api_key", "api_version", "body", "client_id", "correlation_id")

    def __init__(
        self, api_key: int, api_version: int, correlation_id: int, client_id: str | None, body: int
    ):
        self.api_key = api_key
        self.api_version = api_version
        self.correlation_id = correlation_id
        self.client_id = client_id
        self.body = body


class FrameError(ValueError):
    """A request that cannot be read at all: the connection is closed."""


def read_header(frame: bytes, flexible: bool) -> RequestHeader:
    """Parse the request header of ``frame`` (without its size prefix)."""
    if len(frame) < _HEAD.size + 2:
        raise FrameError(f"a request of {len(frame)} bytes is shorter than a request header")
    api_key, api_version, correlation_id = _HEAD.unpack_from(frame, 0)
    (n,) = _I16.unpack_from(frame, _HEAD.size)
    pos = _HEAD.size + 2
    client_id = None
    if n >= 0:
        if pos + n > len(frame):
            raise FrameError("the request header's client id runs past the request")
        client_id = frame[pos : pos + n].decode("utf-8", "replace")
        pos += n
    if flexible:
        pos = _skip_tagged_fields(frame, pos)
    return RequestHeader(api_key, api_version, correlation_id, client_id, pos)


def peek_header(frame: bytes) -> tuple[int, int, int]:
    """Api key, api version and correlation id, enough to answer any request."""
    if len(frame) < _HEAD.size:
        raise FrameError(f"a request of {len(frame)} bytes is shorter than a request header")
    api_key, api_version, correlation_id = _HEAD.unpack_from(frame, 0)
    return api_key, api_version, correlation_id


def _skip_tagged_fields(buf: bytes, pos: int) -> int:
    try:
        count, pos = guard.uvarint(buf, pos)
        for _ in range(count):
            _tag, pos = guard.uvarint(buf, pos)
            size, pos = guard.uvarint(buf, pos)
            pos += size
            if pos > len(buf):
                raise FrameError("a tagged field runs past the request header")
    except guard.Malformed as exc:
        raise FrameError(f"the request header: {exc}") from None
    return pos


@cache
def request_type(api_key: int, version: int) -> type[Any] | None:
    """kio's class for a request, or None when kio has no schema for that version."""
    try:
        return load_request_schema(api_key, version)
    except Exception:
        return None


@cache
def response_module(api_key: int, version: int) -> ModuleType:
    """The module holding a response's class and its nested classes."""
    return sys.modules[load_response_schema(api_key, version).__module__]


@cache
def _reader(cls: type[Any]) -> Any:
    return entity_reader(cls)


@cache
def _writer(cls: type[Any]) -> Any:
    return entity_writer(cls)


@cache
def _field_names(cls: type[Any]) -> frozenset[str]:
    return frozenset(f.name for f in fields(cls))


@cache
def response_flexible(api_key: int, version: int) -> bool:
    """Whether the response has header v1 (tagged fields): flexible, not ApiVersions."""
    cls = load_response_schema(api_key, version)
    return bool(cls.__flexible__) and api_key != API_VERSIONS


def is_flexible(api_key: int, version: int) -> bool:
    cls = request_type(api_key, version)
    return bool(cls is not None and cls.__flexible__)


def parse(cls: type[Any], frame: bytes, pos: int) -> Any:
    """The request body at ``pos``; ``FrameError`` if it does not parse."""
    try:
        guard.check(cls, frame, pos)  # kio's reader trusts declared lengths
        entity, _size = _reader(cls)(frame, pos)  # type: ignore[arg-type]
    except Exception as exc:
        raise FrameError(f"{cls.__name__} v{cls.__version__} does not parse: {exc}") from None
    return entity


def make(api_key: int, version: int, name: str, /, **values: Any) -> Any:
    """An instance of the response class (or its nested class ``name``) of this version,
    from the values its schema has at this version (others are dropped): one handler
    builds every version of its response."""
    cls = getattr(response_module(api_key, version), name)
    allowed = _field_names(cls)
    return cls(**{k: v for k, v in values.items() if k in allowed})


def has_field(api_key: int, version: int, name: str, field: str) -> bool:
    return field in _field_names(getattr(response_module(api_key, version), name))


class Body(NamedTuple):
    """A response body already encoded (a hot path written by hand)."""

    api_key: int
    version: int
    data: bytes


def encode_response(correlation_id: int, response: Any) -> bytes:
    """The whole response frame: size, response header, body."""
    if isinstance(response, Body):
        flexible = response_flexible(response.api_key, response.version)
        head = _SIZE.pack(correlation_id) + (b"\0" if flexible else b"")
        return _SIZE.pack(len(head) + len(response.data)) + head + response.data
    cls = type(response)
    buf = io.BytesIO()
    buf.write(b"\0\0\0\0")
    buf.write(_SIZE.pack(correlation_id))
    if cls.__flexible__ and cls.__api_key__ != API_VERSIONS:
        buf.write(b"\0")  # no tagged fields in the response header
    _writer(cls)(buf, response)  # type: ignore[arg-type]
    data = buf.getbuffer()
    _SIZE.pack_into(data, 0, len(data) - 4)
    out = bytes(data)
    data.release()
    return out
