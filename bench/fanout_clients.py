"""Many live subscribers in one process, for the fan-out benchmark (``bench/fanout.py``).

``python bench/fanout_clients.py grpc|sse HOST PORT TOPIC COUNT CONNECTIONS``

Each subscriber reads the topic from offset 0 and checks that every record arrives once
and in order; the time each message arrives is kept per subscriber. The process prints
``ready`` once every subscriber has its first record. It then reads ``done LAST PATH``
on stdin: LAST is the last offset produced, PATH a file of float64 produce-call times
(``time.monotonic()``, indexed by offset). When every subscriber has LAST (or after a
timeout) it prints one JSON line: subscribers complete and in order, and a histogram
of produce-to-receive latencies over every (subscriber, record) pair.

The clients are lean on purpose, so that one process can hold a thousand streams on a
2-core machine next to the server: the gRPC one speaks HTTP/2 framing directly (the
gRPC protocol over HTTP/2: HEADERS and DATA frames, length-prefixed messages,
flow-control window updates) and decodes only each message's RecordBatch headers; the
SSE one is an HTTP/1.1 client that reads the ``id:`` lines. Both are real network
clients of a real ``logway serve``.
"""

from __future__ import annotations

import array
import asyncio
import json
import re
import struct
import sys
import time
from typing import Any

from logway.v1 import log_pb2 as pb

BIN_MS = 0.1  # latency histogram bin
READY_TIMEOUT_S = 120.0
DONE_TIMEOUT_S = 60.0


class Subscriber:
    """Arrivals of one stream: what came, in which order, and when."""

    __slots__ = ("error", "expected", "firsts", "lasts", "times")

    def __init__(self) -> None:
        self.expected = 0
        self.error: str | None = None
        self.firsts = array.array("q")
        self.lasts = array.array("q")
        self.times = array.array("d")

    def arrived(self, first: int, last: int, at: float) -> None:
        if first != self.expected and self.error is None:
            self.error = f"expected offset {self.expected}, got {first}"
        self.expected = last + 1
        self.firsts.append(first)
        self.lasts.append(last)
        self.times.append(at)


# --- gRPC over HTTP/2 ------------------------------------------------------------------

PREFACE = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"
FRAME = struct.Struct(">IBI")  # length (24 bits) and type | flags | stream id
DATA, HEADERS, RST_STREAM, SETTINGS, PING, GOAWAY, WINDOW_UPDATE = 0, 1, 3, 4, 6, 7, 8
END_STREAM, ACK, END_HEADERS, PADDED = 0x1, 0x1, 0x4, 0x8
MAX_WINDOW = (1 << 31) - 1


def frame(kind: int, flags: int, stream: int, payload: bytes = b"") -> bytes:
    return struct.pack(">I", len(payload))[1:] + bytes((kind, flags)) + stream.to_bytes(4) + payload


def _literal(name: bytes, value: bytes) -> bytes:
    """HPACK literal header field without indexing, new name, no Huffman (RFC 7541 6.2.2)."""
    assert len(name) < 127 and len(value) < 127
    return b"\x00" + bytes((len(name),)) + name + bytes((len(value),)) + value


def batch_ranges(message: bytes) -> tuple[int, int] | None:
    """First and last offset in a SubscribeResponse (None for a heartbeat)."""
    response = pb.SubscribeResponse.FromString(message)
    first = last = -1
    for batches in response.batches:
        data, pos = batches.data, 0
        while pos < len(data):
            base, length = struct.unpack_from(">qi", data, pos)
            delta = struct.unpack_from(">i", data, pos + 23)[0]
            if first < 0:
                first = base
            last = base + delta
            pos += 12 + length
    return None if first < 0 else (first, last)


class GrpcConnection(asyncio.Protocol):
    """One HTTP/2 connection carrying many Subscribe streams."""

    def __init__(self, host: str, port: int, topic: str, subs: list[Subscriber]):
        self.host, self.port, self.topic = host, port, topic
        self.streams: dict[int, Subscriber] = {}
        self.buffers: dict[int, bytearray] = {}
        self.subs = subs
        self.pending = bytearray()
        self.credit = 0
        self.transport: asyncio.Transport | None = None
        self.closed = asyncio.get_running_loop().create_future()

    def connection_made(self, transport: Any) -> None:
        self.transport = transport
        settings = struct.pack(">HIHI", 0x2, 0, 0x4, MAX_WINDOW)  # no push; big windows
        out = [PREFACE, frame(SETTINGS, 0, 0, settings)]
        out.append(frame(WINDOW_UPDATE, 0, 0, struct.pack(">I", MAX_WINDOW - 65535)))
        request = pb.SubscribeRequest(topic=self.topic, offset=0, record_batches=True)
        body = request.SerializeToString()
        message = b"\x00" + struct.pack(">I", len(body)) + body
        block = b"".join(
            _literal(n, v)
            for n, v in (
                (b":method", b"POST"),
                (b":scheme", b"http"),
                (b":path", b"/logway.v1.Log/Subscribe"),
                (b":authority", f"{self.host}:{self.port}".encode()),
                (b"content-type", b"application/grpc"),
                (b"te", b"trailers"),
            )
        )
        for i, sub in enumerate(self.subs):
            sid = 2 * i + 1
            self.streams[sid] = sub
            self.buffers[sid] = bytearray()
            out.append(frame(HEADERS, END_HEADERS, sid, block))
            out.append(frame(DATA, END_STREAM, sid, message))
        transport.write(b"".join(out))

    def data_received(self, data: bytes) -> None:
        now = time.monotonic()
        buf = self.pending
        buf += data
        pos = 0
        end = len(buf)
        replies = []
        while end - pos >= 9:
            word, flags, sid = FRAME.unpack_from(buf, pos)
            length, kind, sid = word >> 8, word & 0xFF, sid & 0x7FFFFFFF
            if end - pos - 9 < length:
                break
            payload = bytes(buf[pos + 9 : pos + 9 + length])
            pos += 9 + length
            if kind == DATA:
                if flags & PADDED:
                    payload = payload[1 : len(payload) - payload[0]]
                self.credit += length
                self._messages(sid, payload, now)
            elif kind == SETTINGS and not flags & ACK:
                replies.append(frame(SETTINGS, ACK, 0))
            elif kind == PING and not flags & ACK:
                replies.append(frame(PING, ACK, 0, payload))
            elif kind in (RST_STREAM, GOAWAY) or (kind == HEADERS and flags & END_STREAM):
                sub = self.streams.get(sid)
                if sub is not None and sub.error is None:
                    sub.error = f"stream ended (frame type {kind})"
                elif kind == GOAWAY:
                    for s in self.streams.values():
                        s.error = s.error or "connection closed by GOAWAY"
        del buf[:pos]
        if self.credit >= 1 << 20:  # give the connection window back
            replies.append(frame(WINDOW_UPDATE, 0, 0, struct.pack(">I", self.credit)))
            self.credit = 0
        if replies and self.transport is not None:
            self.transport.write(b"".join(replies))

    def _messages(self, sid: int, payload: bytes, now: float) -> None:
        buf = self.buffers[sid]
        buf += payload
        pos = 0
        while len(buf) - pos >= 5:
            size = int.from_bytes(buf[pos + 1 : pos + 5])
            if len(buf) - pos - 5 < size:
                break
            found = batch_ranges(bytes(buf[pos + 5 : pos + 5 + size]))
            if found is not None:
                self.streams[sid].arrived(found[0], found[1], now)
            pos += 5 + size
        del buf[:pos]

    def connection_lost(self, exc: Exception | None) -> None:
        for sub in self.streams.values():
            sub.error = sub.error or f"connection lost: {exc}"
        if not self.closed.done():
            self.closed.set_result(None)


# --- Server-Sent Events over HTTP/1.1 --------------------------------------------------

ID = re.compile(rb"\nid: \d+:(\d+)\n")


class SseConnection(asyncio.Protocol):
    def __init__(self, host: str, port: int, topic: str, sub: Subscriber):
        self.request = (
            f"GET /v1/topics/{topic}/stream?offset=0 HTTP/1.1\r\nhost: {host}:{port}\r\n"
            "accept: text/event-stream\r\n\r\n"
        ).encode()
        self.sub = sub
        self.rest = b"\n"

    def connection_made(self, transport: Any) -> None:
        transport.write(self.request)

    def data_received(self, data: bytes) -> None:
        now = time.monotonic()
        text = self.rest + data
        cut = text.rfind(b"\n\n")
        if cut < 0:
            self.rest = text
            return
        self.rest = text[cut + 1 :]
        ids = ID.findall(text, 0, cut + 2)
        if not ids:
            return
        first, last = int(ids[0]), int(ids[-1])
        if last - first + 1 != len(ids) and self.sub.error is None:
            self.sub.error = f"ids {first}..{last} arrived with gaps or repeats"
        self.sub.arrived(first, last, now)

    def connection_lost(self, exc: Exception | None) -> None:
        self.sub.error = self.sub.error or f"connection lost: {exc}"


# --- the run ---------------------------------------------------------------------------


async def main(kind: str, host: str, port: int, topic: str, count: int, conns: int) -> None:
    loop = asyncio.get_running_loop()
    subs = [Subscriber() for _ in range(count)]
    if kind == "grpc":
        per = -(-count // conns)
        for i in range(0, count, per):
            group = subs[i : i + per]
            await loop.create_connection(
                lambda g=group: GrpcConnection(host, port, topic, g), host, port
            )
    else:
        for sub in subs:
            await loop.create_connection(
                lambda s=sub: SseConnection(host, port, topic, s), host, port
            )
    deadline = time.monotonic() + READY_TIMEOUT_S
    while any(s.expected == 0 for s in subs) and time.monotonic() < deadline:
        await asyncio.sleep(0.05)  # polling the client's own state, not synchronising
    waiting = sum(s.expected == 0 for s in subs)
    print("ready" if not waiting else f"not ready: {waiting} subscribers", flush=True)
    line = await loop.run_in_executor(None, sys.stdin.readline)
    _, last_text, path = line.split()
    last = int(last_text)
    deadline = time.monotonic() + DONE_TIMEOUT_S
    while any(s.expected <= last and s.error is None for s in subs):
        if time.monotonic() > deadline:
            break
        await asyncio.sleep(0.05)
    sent = array.array("d")
    with open(path, "rb") as f:
        sent.frombytes(f.read())
    print(json.dumps(summarize(subs, sent, last)), flush=True)
    # the streams stay open until told (the server's shutdown with them open is measured)
    await loop.run_in_executor(None, sys.stdin.readline)


def summarize(subs: list[Subscriber], sent: array.array[float], last: int) -> dict[str, Any]:
    histogram: dict[int, int] = {}
    complete = 0
    errors: list[str] = []
    for sub in subs:
        if sub.error is None and sub.expected > last:
            complete += 1
        elif sub.error is not None:
            errors.append(sub.error)
        else:
            errors.append(f"stopped at offset {sub.expected - 1} of {last}")
        for first, end, at in zip(sub.firsts, sub.lasts, sub.times, strict=True):
            for offset in range(max(first, 1), min(end, last) + 1):  # offset 0: the warm-up
                b = int((at - sent[offset]) * 1000 / BIN_MS)
                histogram[b] = histogram.get(b, 0) + 1
    return {
        "subscribers": len(subs),
        "complete": complete,
        "errors": errors[:5],
        "histogram": histogram,
        "messages": sum(len(sub.times) for sub in subs),
    }


if __name__ == "__main__":
    kind, host, port, topic, count, conns = sys.argv[1:7]
    asyncio.run(main(kind, host, int(port), topic, int(count), int(conns)))
