"""Slow subscribers against a real ``logway serve --stall-timeout``: one that stops
reading is cut off with a clear status (gRPC) or a dropped connection (SSE), the
others keep being served, and the one cut off resumes from its offset.

No sleeps: every step waits, with a generous timeout, for something it can observe
(a line in the server's log, a stream ending, a socket reaching EOF).
"""

from __future__ import annotations

import json
import socket
import threading
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import grpc
import httpx
import pytest

import logway
from logway.v1 import log_pb2 as pb
from logway.v1 import log_pb2_grpc
from tests.servers import LogwayServer

pytestmark = pytest.mark.slow  # a server process, tens of MB through it

STALL_S = 1  # the server's --stall-timeout
WAIT_S = 15.0  # how long any one observable step may take before the test fails
END_S = 5.0  # how long a stalled call, once read, may take to hand over its end
SIZE = 64 << 10  # bytes per record
BATCH = 16  # records per produce_many, so per stored batch (fetches return whole batches)
STORED = 384  # records produced before subscribing: 24 MiB
LIVE = 64  # records produced after the stall was reported


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LogwayServer]:
    data: Path = tmp_path_factory.mktemp("slow") / "data"
    server = LogwayServer(data, "--stall-timeout", f"{STALL_S}s")
    server.start()
    yield server
    assert server.stop() == 0, "".join(server.output)


@pytest.fixture
def topic(server: LogwayServer) -> str:
    name = f"slow-{uuid.uuid4().hex[:8]}"
    with logway.connect(server.url) as broker:
        broker.create_topic(name, partitions=1)
    return name


def value(offset: int) -> bytes:
    """Record ``offset``'s value: its number, padded to SIZE (ASCII, so SSE sends it as text)."""
    return b"%08d" % offset + b"." * (SIZE - 8)


def produce(server: LogwayServer, topic: str, first: int, count: int) -> None:
    with logway.connect(server.url) as broker:
        for start in range(first, first + count, BATCH):
            end = min(start + BATCH, first + count)
            broker.produce_many(topic, [value(i) for i in range(start, end)])
        assert broker.end_offsets(topic) == {0: first + count}


# --- gRPC ------------------------------------------------------------------------------

# Requests ask for BATCH records a message (1 MiB); the limit is the server's, to be safe.
BIG_MESSAGES = [("grpc.max_receive_message_length", 64 << 20)]
STALLED_CHANNELS = {
    # grpcio's defaults: BDP probes grow the flow-control windows, the client's transport
    # takes a few messages (4 to 16 MiB) before the server's next write blocks
    "stalls-after-some-messages": BIG_MESSAGES,
    # windows that stay at 64 KiB: the server's very first write (1 MiB) blocks
    "stalls-on-first-message": [*BIG_MESSAGES, ("grpc.http2.bdp_probe", 0)],
}


def _subscribe(
    channel: grpc.Channel, topic: str, offset: int | None = None, timeout: float | None = None
) -> Any:
    """A Subscribe call (iterate it for its messages) from earliest or from ``offset``."""
    if offset is None:
        request = pb.SubscribeRequest(topic=topic, position=pb.POSITION_EARLIEST, max_batch=BATCH)
    else:
        request = pb.SubscribeRequest(topic=topic, offset=offset, max_batch=BATCH)
    return log_pb2_grpc.LogStub(channel).Subscribe(request, timeout=timeout)


def _read_records(
    call: Any, until: int, got: list[tuple[int, bytes]], errors: list[BaseException]
) -> None:
    """Append (offset, value prefix) of the call's records to ``got`` until offset
    ``until`` - 1 has come, then cancel the call; an error goes to ``errors``."""
    try:
        for message in call:
            got.extend((r.offset, r.value[:8]) for r in message.records)
            if got and got[-1][0] >= until - 1:
                break
    except BaseException as exc:
        errors.append(exc)
    finally:
        call.cancel()


def _expected(first: int, end: int) -> list[tuple[int, bytes]]:
    return [(i, value(i)[:8]) for i in range(first, end)]


@pytest.mark.parametrize("options", STALLED_CHANNELS.values(), ids=STALLED_CHANNELS.keys())
def test_grpc_subscriber_that_stops_reading_is_cut_off_and_resumes(
    server: LogwayServer, topic: str, options: list[tuple[str, int]]
) -> None:
    total = STORED + LIVE
    produce(server, topic, 0, STORED)
    since = server.mark()
    healthy_channel = grpc.insecure_channel(f"127.0.0.1:{server.grpc_port}", options=BIG_MESSAGES)
    stalled_channel = grpc.insecure_channel(f"127.0.0.1:{server.grpc_port}", options=options)
    try:
        healthy: list[tuple[int, bytes]] = []
        healthy_errors: list[BaseException] = []
        healthy_call = _subscribe(healthy_channel, topic, timeout=4 * WAIT_S)
        reader = threading.Thread(
            target=_read_records, args=(healthy_call, total, healthy, healthy_errors)
        )
        reader.start()
        # Subscribed, and then not read: the client's transport takes what its windows
        # allow, then the server's write blocks. The deadline only bounds a server that
        # never ends the call.
        stalled = _subscribe(stalled_channel, topic, timeout=4 * WAIT_S)

        warning = server.wait_for_line(rf"Subscribe {topic} from \S+: stalled", since, WAIT_S)
        assert f"stalled {STALL_S}s without reading; disconnected" in warning
        assert "logway.server" in warning

        # the rest of the server carries on: new records reach the healthy subscriber
        produce(server, topic, STORED, LIVE)
        reader.join(2 * WAIT_S)
        assert not reader.is_alive(), f"the healthy subscriber got {len(healthy)} of {total}"
        assert not healthy_errors, f"the healthy subscriber's call failed: {healthy_errors}"
        assert healthy == _expected(0, total)
        assert len(server.lines(rf"Subscribe {topic} from .*stalled", since)) == 1  # that one

        # the stalled call hands over what its transport took, then ends with a clear status
        # (the server ended it right after logging the warning: reading it now ends at
        # once; if it does not, the timer cancels it so that the test fails, not hangs)
        received: list[tuple[int, bytes]] = []
        timer = threading.Timer(END_S, stalled.cancel)
        timer.start()
        with pytest.raises(grpc.RpcError) as ended:
            for message in stalled:
                received.extend((r.offset, r.value[:8]) for r in message.records)
        timer.cancel()
        error: Any = ended.value  # the call itself
        assert error.code() == grpc.StatusCode.RESOURCE_EXHAUSTED, (
            f"the stalled call ended with {error.code()} {error.details()!r} "
            f"after {len(received)} records, not RESOURCE_EXHAUSTED"
        )
        assert "stalled" in error.details()
        assert "resubscribe from the offset after the last record received" in error.details()
        assert len(received) < STORED
        assert received == _expected(0, len(received))

        # resubscribing from the offset after the last record received delivers the rest
        after = received[-1][0] + 1 if received else 0
        rest: list[tuple[int, bytes]] = []
        errors: list[BaseException] = []
        resumed = _subscribe(stalled_channel, topic, offset=after, timeout=WAIT_S)
        _read_records(resumed, total, rest, errors)
        assert not errors, f"the resumed call failed: {errors}"
        assert rest == _expected(after, total)
    finally:
        healthy_channel.close()
        stalled_channel.close()


# --- Server-Sent Events ----------------------------------------------------------------


def _dechunk(body: bytes) -> bytes:
    """The data of a chunked HTTP body, including what came of a cut-off last chunk."""
    out = bytearray()
    while body:
        line, sep, rest = body.partition(b"\r\n")
        if not sep:
            break
        size = int(line.split(b";")[0], 16)
        if size == 0:
            break
        out += rest[:size]
        body = rest[size + 2 :]
    return bytes(out)


def _events(text: str) -> list[dict[str, str]]:
    """The complete events (ended by a blank line) of an SSE stream's text, as fields."""
    events = []
    for block in text.split("\n\n")[:-1]:  # the last piece is unterminated
        fields = {}
        for line in block.split("\n"):
            name, _, content = line.partition(": ")
            fields[name] = content
        if "event" in fields:
            events.append(fields)
    return events


def _sse_ids(server: LogwayServer, topic: str, until: int, **headers: str) -> list[str]:
    """The event ids of a stream from earliest (or ``Last-Event-ID``), read with httpx
    until the event of offset ``until`` - 1."""
    ids = []
    url = f"{server.http}/v1/topics/{topic}/stream?from=earliest"
    with httpx.stream("GET", url, headers=headers, timeout=WAIT_S) as response:
        assert response.status_code == 200, response.read()
        for line in response.iter_lines():
            if line.startswith("id: "):
                ids.append(line[4:])
                if line == f"id: 0:{until - 1}":
                    break
    return ids


def test_sse_client_that_stops_reading_is_dropped_and_resumes_after_last_id(
    server: LogwayServer, topic: str
) -> None:
    total = STORED + LIVE
    produce(server, topic, 0, STORED)
    since = server.mark()
    healthy: list[str] = []
    healthy_errors: list[BaseException] = []

    def read_all() -> None:
        try:
            healthy.extend(_sse_ids(server, topic, total))
        except BaseException as exc:
            healthy_errors.append(exc)

    reader = threading.Thread(target=read_all)
    reader.start()
    stalled = socket.socket()
    try:
        stalled.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)  # before connecting
        stalled.settimeout(WAIT_S)
        stalled.connect(("127.0.0.1", server.http_port))
        stalled.sendall(
            f"GET /v1/topics/{topic}/stream?from=earliest HTTP/1.1\r\n"
            f"Host: 127.0.0.1:{server.http_port}\r\nAccept: text/event-stream\r\n\r\n".encode()
        )
        # ... and nothing read: the server's buffers fill up, its write blocks
        server.wait_for_line(
            rf"SSE stream stalled {STALL_S}s without reading; disconnected", since, WAIT_S
        )

        # the rest of the server carries on: new records reach the healthy reader
        produce(server, topic, STORED, LIVE)
        reader.join(2 * WAIT_S)
        assert not reader.is_alive(), f"the healthy SSE reader got {len(healthy)} of {total}"
        assert not healthy_errors, f"the healthy SSE reader failed: {healthy_errors}"
        assert healthy == [f"0:{i}" for i in range(total)]
        assert len(server.lines(r"SSE stream stalled", since)) == 1  # only that one

        # reading now: what reached this socket, then EOF or a reset (the server dropped it)
        raw = bytearray()
        deadline = time.monotonic() + 2 * WAIT_S
        try:
            while data := stalled.recv(1 << 16):
                raw += data
                assert time.monotonic() < deadline, f"no EOF after {len(raw)} bytes"
        except ConnectionResetError:
            pass  # the server aborts a stalled connection rather than waiting for it to drain
        except TimeoutError:
            pytest.fail(f"the server sent nothing more for {WAIT_S:g}s after {len(raw)} bytes")
    finally:
        stalled.close()
    head, _, body = bytes(raw).partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 200"), head
    assert b"transfer-encoding: chunked" in head.lower(), head
    assert not body.endswith(b"0\r\n\r\n"), "the stream was ended, not dropped"
    events = _events(_dechunk(body).decode())
    assert 0 < len(events) < STORED, f"{len(events)} events"
    assert [e["id"] for e in events] == [f"0:{i}" for i in range(len(events))]
    assert all(json.loads(e["data"])["value"] == value(int(e["id"][2:])).decode() for e in events)
    last = events[-1]["id"]

    # a new request with Last-Event-ID set to the last complete event resumes just after it
    resumed = _sse_ids(server, topic, total, **{"Last-Event-ID": last})
    assert resumed[0] == f"0:{len(events)}"
    assert resumed == [f"0:{i}" for i in range(len(events), total)]
