"""Server-Sent Events for a subscription: one ``record`` event per record, as JSON.

An event's ``id`` is the stream's position after that record: ``partition:offset``
of the last record sent on each partition, comma-separated (``0:41`` on a
one-partition topic), so a browser reconnecting with ``Last-Event-ID`` resumes
exactly after it. A client that stops reading for ``stall_timeout`` seconds is
disconnected (the browser's EventSource then reconnects from its last id). A stream
always ends with an event saying why: ``stopping`` when the server stops, ``error``
(data ``{"error": "PermissionDeniedError", "message": …}``, say) when its permission,
token or session is taken away or its topic deleted.
"""

from __future__ import annotations

import asyncio
import base64
import json
import logging
import time
from collections.abc import AsyncIterator, Callable
from typing import Any

from starlette.responses import StreamingResponse
from starlette.types import Send

from logway import errors
from logway.broker import Broker
from logway.records import Record
from logway.server.fanout import Chunk, Subscription

SSE_HEARTBEAT_S = 15.0
MAX_EVENTS = 500  # records per write
RETRY_MS = 1000  # how soon a browser reconnects after the stream ends
log = logging.getLogger("logway.server")


def record_json(record: Record) -> dict[str, Any]:
    """A record as JSON: text when key, value and headers are UTF-8, else base64."""

    def text(data: bytes | None) -> str | None:
        return None if data is None else data.decode()

    try:
        key, value = text(record.key), text(record.value)
        headers = [(k, text(v)) for k, v in record.headers]
        encoding = "utf-8"
    except UnicodeDecodeError:

        def b64(data: bytes | None) -> str | None:
            return None if data is None else base64.b64encode(data).decode()

        key, value = b64(record.key), b64(record.value)
        headers = [(k, b64(v)) for k, v in record.headers]
        encoding = "base64"
    return {
        "topic": record.topic,
        "partition": record.partition,
        "offset": record.offset,
        "timestamp": record.timestamp,
        "key": key,
        "value": value,
        "headers": headers,
        "encoding": encoding,
    }


def parse_event_id(text: str) -> dict[int, int]:
    """``"0:41,1:7"`` -> {0: 42, 1: 8}: the offsets to resume from."""
    out = {}
    for part in text.split(","):
        p, sep, o = part.strip().partition(":")
        if not sep or not p.isdigit() or not o.lstrip("-").isdigit():
            raise errors.InvalidArgumentError(
                f"Last-Event-ID {text!r} is not a position such as 0:41 or 0:41,1:7"
            )
        out[int(p)] = int(o) + 1
    return out


def _data(chunk: Chunk) -> list[str]:
    return [json.dumps(record_json(r), separators=(",", ":")) for r in chunk.records]


def _events(chunk: Chunk) -> bytes:
    """The events of a chunk on a one-partition stream, where ids need no other cursor."""
    p = chunk.partition
    data = chunk.form("sse-data", _data)
    return "".join(
        [
            f"id: {p}:{r.offset}\nevent: record\ndata: {d}\n\n"
            for r, d in zip(chunk.records, data, strict=True)
        ]
    ).encode()


def _stopping_event(exc: errors.ServerStoppingError) -> bytes:
    """The last event of a stream whose server stops: its ``id`` is the whole position
    (the last offset sent on every partition), so that ``EventSource`` reconnects with
    a ``Last-Event-ID`` that resumes each partition exactly, and ``retry`` says when."""
    position = ",".join(f"{p}:{o - 1}" for p, o in sorted(exc.resume.items()))
    payload = json.dumps({"error": type(exc).__name__, "message": str(exc)})
    return f"id: {position}\nevent: stopping\ndata: {payload}\nretry: {RETRY_MS}\n\n".encode()


def _error_event(exc: errors.LogwayError, positions: dict[int, int]) -> bytes:
    """The last event of a stream that an error ends (its read permission or its
    session taken away, its topic deleted): ``error``, its data naming the error and
    saying why, its ``id`` the whole position, so a client allowed again resumes there."""
    position = ",".join(f"{p}:{o - 1}" for p, o in sorted(positions.items()))
    payload = json.dumps({"error": type(exc).__name__, "message": str(exc)})
    return f"id: {position}\nevent: error\ndata: {payload}\n\n".encode()


async def sse_events(
    subscription: Subscription, cursor: dict[int, int], broker: Broker
) -> AsyncIterator[bytes]:
    """The event stream of ``subscription``; ``cursor`` holds the last offset sent per
    partition (the ids' positions) and is kept up to date."""
    single = len(subscription.positions) == 1
    try:
        yield f"retry: {RETRY_MS}\n\n".encode()
        while True:
            try:
                chunks = await subscription.next(SSE_HEARTBEAT_S, MAX_EVENTS)
            except errors.ServerStoppingError as exc:
                yield _stopping_event(exc)
                return
            except errors.LogwayError as exc:
                yield _error_event(exc, subscription.positions)
                return
            if not chunks:
                ends = json.dumps(broker.end_offsets(subscription.topic))
                yield f": heartbeat {int(time.time() * 1000)} end offsets {ends}\n\n".encode()
                continue
            if single:
                yield b"".join([c.form("sse-events", _events) for c in chunks])
                continue
            out = []
            for chunk in chunks:
                for record, data in zip(chunk.records, chunk.form("sse-data", _data), strict=True):
                    cursor[record.partition] = record.offset
                    position = ",".join(f"{p}:{o}" for p, o in sorted(cursor.items()))
                    out.append(f"id: {position}\nevent: record\ndata: {data}\n\n")
            yield "".join(out).encode()
    finally:
        subscription.close()


class EventStreamResponse(StreamingResponse):
    """``text/event-stream`` that disconnects a client which stops reading."""

    def __init__(
        self,
        events: AsyncIterator[bytes],
        stall_timeout: float,
        drop: Callable[[], None] | None = None,
        closed: Callable[[], None] | None = None,
    ):
        super().__init__(
            events,
            media_type="text/event-stream",
            headers={
                "cache-control": "no-cache",
                "x-accel-buffering": "no",
                "access-control-allow-origin": "*",
            },
        )
        self.events = events
        self.stall_timeout = stall_timeout
        self.drop = drop  # closes the connection at once, unsent data and all
        self.closed = closed  # called once the stream is over, however it ended

    async def stream_response(self, send: Send) -> None:
        try:
            await send(
                {
                    "type": "http.response.start",
                    "status": self.status_code,
                    "headers": self.raw_headers,
                }
            )
            async for chunk in self.events:
                try:
                    async with asyncio.timeout(self.stall_timeout):
                        await send({"type": "http.response.body", "body": chunk, "more_body": True})
                except TimeoutError:
                    log.warning(
                        "SSE stream stalled %gs without reading; disconnected", self.stall_timeout
                    )
                    if self.drop is not None:
                        self.drop()
                    return  # without ending the body: the server closes the connection
            await send({"type": "http.response.body", "body": b"", "more_body": False})
        finally:
            try:
                await self.events.aclose()  # type: ignore[attr-defined]
            finally:
                if self.closed is not None:  # even when the events never started
                    self.closed()
