"""Bad input on the Kafka port: malformed frames, unknown APIs and versions, requests
over the size limit, silent clients, many connections and random bytes after valid
headers. Each gets Kafka's error code or a closed connection, logged once; the
listener carries on for everyone else and nothing stored changes."""

from __future__ import annotations

import asyncio
import logging
import random
import resource
import socket
import struct
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

import logway
from logway.broker import Broker
from logway.server.kafka import KafkaListener, versions, wire

MAX_REQUEST = 64 * 1024


class InProcess:
    """A Kafka listener over an embedded log, in a thread of this process."""

    def __init__(self, broker: Broker, **options: object):
        self.broker = broker
        self.options = options
        self.loop = asyncio.new_event_loop()
        self.listener: KafkaListener | None = None
        self._thread = threading.Thread(target=self.loop.run_forever, daemon=True)

    def start(self) -> InProcess:
        self._thread.start()

        async def start() -> KafkaListener:
            listener = KafkaListener(self.broker, port=0, **self.options)  # type: ignore[arg-type]
            await listener.start()
            return listener

        self.listener = asyncio.run_coroutine_threadsafe(start(), self.loop).result(30)
        return self

    @property
    def address(self) -> tuple[str, int]:
        assert self.listener is not None
        return ("127.0.0.1", self.listener.port)

    def stop(self) -> None:
        assert self.listener is not None
        asyncio.run_coroutine_threadsafe(self.listener.stop(), self.loop).result(30)
        self.loop.call_soon_threadsafe(self.loop.stop)
        self._thread.join(30)


@pytest.fixture
def served(tmp_path: Path) -> Iterator[InProcess]:
    with logway.connect(f"file:{tmp_path / 'data'}") as broker:
        broker.create_topic("kept", partitions=2)
        broker.produce_many("kept", [b"one", b"two", b"three"])
        door = InProcess(broker, max_request_bytes=MAX_REQUEST, idle_timeout=2.0).start()
        try:
            yield door
        finally:
            door.stop()


def _frame(api_key: int, version: int, body: bytes = b"", correlation: int = 1) -> bytes:
    flexible = wire.is_flexible(api_key, version)
    header = struct.pack(">hhih", api_key, version, correlation, 4) + b"fuzz"
    if flexible:
        header += b"\0"
    data = header + body
    return struct.pack(">i", len(data)) + data


def _recv_exact(s: socket.socket, n: int) -> bytes | None:
    out = b""
    while len(out) < n:
        chunk = s.recv(n - len(out))
        if not chunk:
            return None
        out += chunk
    return out


def _exchange(address: tuple[str, int], data: bytes) -> bytes | None:
    """Send ``data``; the response frame, or None when the server closed."""
    with socket.create_connection(address, timeout=30) as s:
        s.sendall(data)
        head = _recv_exact(s, 4)
        if head is None:
            return None
        return _recv_exact(s, struct.unpack(">i", head)[0])


def _api_versions_ok(address: tuple[str, int]) -> bool:
    answer = _exchange(address, _frame(18, 0))
    return answer is not None and struct.unpack_from(">ih", answer)[1] == 0


def _stored(broker: Broker) -> tuple[list[str], dict[int, int]]:
    return sorted(broker.list_topics()), broker.end_offsets("kept")


def test_api_versions_of_an_unknown_version_is_answered_in_v0_with_error_35(
    served: InProcess,
) -> None:
    answer = _exchange(served.address, _frame(18, 99, correlation=42))
    assert answer is not None
    correlation, error = struct.unpack_from(">ih", answer)
    assert (correlation, error) == (42, 35)
    (count,) = struct.unpack_from(">i", answer, 6)  # v0: a plain array of api keys follows
    keys = [struct.unpack_from(">hhh", answer, 10 + 6 * i) for i in range(count)]
    assert (18, 0, versions.SERVED[18]) in keys
    assert all(low == 0 for _key, low, _high in keys)  # ranges start at 0 (librdkafka)


def test_every_served_range_starts_at_zero_and_covers_old_librdkafka(served: InProcess) -> None:
    answer = _exchange(served.address, _frame(18, 3, b"\x05kcat\x061.0.0\x00"))
    assert answer is not None
    assert struct.unpack_from(">h", answer, 4)[0] == 0
    # what Debian's kcat (librdkafka 2.0.2) asks for at most
    needs = {0: 7, 1: 11, 3: 4, 2: 2, 10: 2, 11: 5, 14: 3, 12: 3, 13: 1, 8: 7, 9: 7, 22: 4}
    for key, top in needs.items():
        assert versions.SERVED[key] >= top


@pytest.mark.parametrize(
    "data, why",
    [
        (struct.pack(">i", -5), "a negative size"),
        (struct.pack(">i", MAX_REQUEST + 1), "a size over the limit"),
        (struct.pack(">i", 3) + b"abc", "shorter than a request header"),
        (struct.pack(">i", 10) + struct.pack(">hhih", 3, 1, 1, 200), "a client id past the end"),
        (_frame(999, 0), "an unknown API key"),
        (_frame(3, 400), "an unknown version"),
        (_frame(0, 1), "a version too old to serve"),
    ],
)
def test_a_request_that_cannot_be_answered_closes_its_connection_only(
    served: InProcess, data: bytes, why: str, caplog: pytest.LogCaptureFixture
) -> None:
    before = _stored(served.broker)
    with caplog.at_level(logging.WARNING, logger="logway.server.kafka"):
        assert _exchange(served.address, data) is None, why
        assert _api_versions_ok(served.address)
    assert len([r for r in caplog.records if "closing the Kafka connection" in r.message]) == 1
    assert _stored(served.broker) == before


def test_a_silent_client_is_closed_after_the_idle_timeout_and_others_carry_on(
    served: InProcess,
) -> None:
    with socket.create_connection(served.address, timeout=30) as silent:
        assert _api_versions_ok(served.address)
        assert silent.recv(1) == b""  # closed by the server after idle_timeout (2 s)


def test_a_thousand_connections_at_once(served: InProcess) -> None:
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < 2500:
        resource.setrlimit(resource.RLIMIT_NOFILE, (min(hard, 4096), hard))
    sockets = [socket.create_connection(served.address, timeout=30) for _ in range(1000)]
    try:
        request = _frame(18, 0)
        for s in sockets:
            s.sendall(request)
        for s in sockets:
            head = _recv_exact(s, 4)
            assert head is not None
            answer = _recv_exact(s, struct.unpack(">i", head)[0])
            assert answer is not None and struct.unpack_from(">h", answer, 4)[0] == 0
    finally:
        for s in sockets:
            s.close()
    assert _api_versions_ok(served.address)


def test_random_bytes_after_valid_headers_change_nothing(
    served: InProcess, caplog: pytest.LogCaptureFixture
) -> None:
    before = _stored(served.broker)
    rng = random.Random(20261203)
    sent = 0
    with caplog.at_level(logging.WARNING, logger="logway.server.kafka"):
        for key, top in sorted(versions.SERVED.items()):
            for version in range(top + 1):
                if wire.request_type(key, version) is None:
                    continue
                for _ in range(8):
                    body = rng.randbytes(rng.choice([0, 1, 7, 40, 300]))
                    _exchange(served.address, _frame(key, version, body))
                    sent += 1
    assert sent > 500
    assert _api_versions_ok(served.address)
    assert _stored(served.broker) == before
    crashes = [r for r in caplog.records if r.exc_info]
    assert crashes == [], f"{len(crashes)} requests raised: {crashes[0].getMessage()}"


def _valid_bodies() -> list[tuple[type, bytes]]:
    import datetime as dt
    import io
    import uuid

    from kio.schema.fetch.v12 import request as fetch
    from kio.schema.metadata.v12 import request as metadata
    from kio.schema.produce.v9 import request as produce
    from kio.serial import entity_writer
    from kio.static.primitive import Records, i16, i32, i64

    requests = [
        produce.ProduceRequest(
            acks=i16(-1),
            timeout=dt.timedelta(seconds=1),
            topic_data=(
                produce.TopicProduceData(
                    name="t",
                    partition_data=(
                        produce.PartitionProduceData(index=i32(0), records=Records(b"x" * 64)),
                    ),
                ),
            ),
        ),
        metadata.MetadataRequest(
            topics=(metadata.MetadataRequestTopic(topic_id=uuid.uuid4(), name="abc"),),
            allow_auto_topic_creation=True,
            include_topic_authorized_operations=False,
        ),
        fetch.FetchRequest(
            max_wait=dt.timedelta(milliseconds=100),
            min_bytes=i32(1),
            topics=(
                fetch.FetchTopic(
                    topic="t",
                    partitions=(
                        fetch.FetchPartition(
                            partition=i32(0),
                            fetch_offset=i64(0),
                            partition_max_bytes=i32(1 << 20),
                        ),
                    ),
                ),
            ),
            forgotten_topics_data=(),
            rack_id="",
        ),
    ]
    out = []
    for request in requests:
        buf = io.BytesIO()
        entity_writer(type(request))(buf, request)
        out.append((type(request), buf.getvalue()))
    return out


def test_valid_requests_with_damaged_bytes_parse_or_are_refused_never_crash() -> None:
    """Each damaged body either parses or raises ``FrameError``; a length that claims
    more than the request holds never reaches the native reader (which would abort)."""
    rng = random.Random(3)
    refused = 0
    for cls, body in _valid_bodies():
        for _ in range(3000):
            damaged = bytearray(body)
            for _ in range(rng.randint(1, 3)):
                damaged[rng.randrange(len(damaged))] = rng.randrange(256)
            try:
                wire.parse(cls, bytes(damaged), 0)
            except wire.FrameError:
                refused += 1
    assert refused > 0
