"""Records through ``logway serve``'s Kafka port, with Kafka's own clients: what they
produce is what logway's API, gRPC and SSE read (same bytes, offsets, timestamps and
partitions), and the other way round."""

from __future__ import annotations

import asyncio
import base64
import json
import socket
import struct
import time
import uuid
from pathlib import Path
from typing import Any

import httpx
import pytest
from confluent_kafka import Consumer, KafkaError, KafkaException, Producer
from confluent_kafka import TopicPartition as KafkaTP
from confluent_kafka.admin import AdminClient

import logway
from logway.broker import Broker
from logway.partitioner import partition_for_key
from logway.records import Record
from tests.servers import LogwayServer

pytestmark = pytest.mark.slow  # a server process and Kafka clients

CODECS = ["none", "gzip", "snappy", "lz4", "zstd"]


def _records(n: int, tag: str) -> list[tuple[bytes, bytes, list[tuple[str, bytes]]]]:
    """Keys, binary values and headers (one with a null value)."""
    return [
        (
            f"key-{i % 7}".encode(),
            f"{tag}-{i}-".encode() + bytes(range(i % 256)),
            [("seq", str(i).encode()), ("empty", b""), ("null", None)],  # type: ignore[list-item]
        )
        for i in range(n)
    ]


def _consume(bootstrap: str, tps: list[KafkaTP], count: int, **extra: Any) -> list[Any]:
    consumer = Consumer(
        {
            "bootstrap.servers": bootstrap,
            "group.id": f"reader-{uuid.uuid4().hex[:8]}",
            "enable.auto.commit": False,
            **extra,
        }
    )
    consumer.assign(tps)
    got: list[Any] = []
    deadline = time.monotonic() + 60
    try:
        while len(got) < count and time.monotonic() < deadline:
            for m in consumer.consume(count - len(got), timeout=1):
                if m.error():
                    raise KafkaException(m.error())
                got.append(m)
    finally:
        consumer.close()
    assert len(got) == count, f"read {len(got)} of {count} records"
    return got


@pytest.mark.parametrize("codec", CODECS)
def test_an_idempotent_producer_with_acks_all_stores_what_it_sent(
    bootstrap: str, broker: Broker, topic_name: str, codec: str
) -> None:
    broker.create_topic(topic_name, partitions=3)
    sent = _records(300, codec)
    acked: list[Any] = []
    producer = Producer(
        {
            "bootstrap.servers": bootstrap,
            "acks": "all",
            "enable.idempotence": True,
            "compression.type": codec,
            "partitioner": "murmur2_random",  # Kafka's Java partitioner, as logway's
            "linger.ms": 5,
        }
    )
    for key, value, headers in sent:
        producer.produce(
            topic_name, value, key, headers=headers, on_delivery=lambda e, m: acked.append((e, m))
        )
    assert producer.flush(30) == 0
    assert [e for e, _ in acked if e is not None] == []
    assert sum(broker.end_offsets(topic_name).values()) == len(sent)
    by_position = {(m.partition(), m.offset()): m for _, m in acked}
    headers_of = {value: headers for _key, value, headers in sent}
    for p in range(3):
        for r in broker.fetch(topic_name, p, 0, max_records=1000):
            m = by_position[(r.partition, r.offset)]
            assert (r.key, r.value) == (m.key(), m.value())
            assert list(r.headers) == headers_of[r.value]
            assert r.timestamp == m.timestamp()[1]
            assert r.partition == partition_for_key(r.key, 3)


def test_records_logway_produces_read_the_same_through_kafka_grpc_and_sse(
    logway_kafka: LogwayServer, bootstrap: str, topic_name: str
) -> None:
    with logway.connect(logway_kafka.url) as broker:
        broker.create_topic(topic_name, partitions=2)
        for key, value, headers in _records(50, "api"):
            broker.produce(topic_name, value, key=key, headers=headers)
        stored: list[Record] = [
            r for p in range(2) for r in broker.fetch(topic_name, p, 0, max_records=100)
        ]
    got = _consume(bootstrap, [KafkaTP(topic_name, p, 0) for p in range(2)], len(stored))
    kafka = {(m.partition(), m.offset()): m for m in got}
    for r in stored:
        m = kafka[(r.partition, r.offset)]
        assert (m.key(), m.value(), m.timestamp()[1]) == (r.key, r.value, r.timestamp)
        assert [(k, v) for k, v in m.headers()] == list(r.headers)
        assert r.partition == partition_for_key(r.key, 2)  # the key's partition, as Kafka's
    # the same records through SSE (base64 where not UTF-8)
    events: list[dict[str, Any]] = []
    with httpx.stream(
        "GET", f"{logway_kafka.http}/v1/topics/{topic_name}/stream?from=earliest", timeout=30
    ) as response:
        for line in response.iter_lines():
            if line.startswith("data: "):
                events.append(json.loads(line[6:]))
                if len(events) == len(stored):
                    break
    for event in events:
        m = kafka[(event["partition"], event["offset"])]
        decode = base64.b64decode if event["encoding"] == "base64" else str.encode
        assert decode(event["value"]) == m.value() and decode(event["key"]) == m.key()
        assert event["timestamp"] == m.timestamp()[1]


def test_a_consumer_starting_inside_a_batch_gets_the_records_from_its_offset(
    bootstrap: str, broker: Broker, topic_name: str
) -> None:
    broker.create_topic(topic_name)
    broker.produce_many(topic_name, [f"v{i}" for i in range(100)])  # one batch
    got = _consume(bootstrap, [KafkaTP(topic_name, 0, 37)], 63)
    assert [m.offset() for m in got] == list(range(37, 100))
    assert got[0].value() == b"v37"


def test_a_waiting_consumer_is_woken_by_an_append(
    bootstrap: str, broker: Broker, topic_name: str
) -> None:
    broker.create_topic(topic_name)
    consumer = Consumer(
        {
            "bootstrap.servers": bootstrap,
            "group.id": "waiting",
            "fetch.wait.max.ms": 20000,  # far longer than the test takes to fail
            "enable.auto.commit": False,
        }
    )
    consumer.assign([KafkaTP(topic_name, 0, 0)])
    try:
        assert consumer.poll(1) is None  # caught up: a fetch is now waiting
        broker.produce(topic_name, b"news")
        message = consumer.poll(15)
        assert message is not None and message.value() == b"news"
    finally:
        consumer.close()


def test_offsets_by_time_earliest_and_latest(
    bootstrap: str, broker: Broker, topic_name: str
) -> None:
    broker.create_topic(topic_name)
    base = int(time.time() * 1000) - 60_000  # recent: retention keeps 7 days
    broker.produce_many(topic_name, [(f"v{i}", None, None, None, base + i) for i in range(10)])
    consumer = Consumer({"bootstrap.servers": bootstrap, "group.id": "times"})
    try:
        assert consumer.get_watermark_offsets(KafkaTP(topic_name, 0), timeout=10) == (0, 10)
        found = consumer.offsets_for_times([KafkaTP(topic_name, 0, base + 4)], timeout=10)
        assert found[0].offset == 4
        late = consumer.offsets_for_times([KafkaTP(topic_name, 0, base + 60_000_000)], timeout=10)
        assert late[0].offset == -1  # nothing at or after that time: the end (OFFSET_END)
    finally:
        consumer.close()


def test_kafka_python_and_aiokafka_produce_and_read(
    bootstrap: str, broker: Broker, topic_name: str
) -> None:
    import aiokafka

    import kafka

    broker.create_topic(topic_name, partitions=2)
    producer = kafka.KafkaProducer(bootstrap_servers=bootstrap, acks="all")
    for i in range(20):
        producer.send(topic_name, key=b"kp", value=f"kafka-python {i}".encode())
    producer.flush(30)
    producer.close()

    async def with_aiokafka() -> list[bytes]:
        out = aiokafka.AIOKafkaProducer(bootstrap_servers=bootstrap, compression_type="gzip")
        await out.start()
        try:
            for i in range(20):
                await out.send_and_wait(topic_name, f"aiokafka {i}".encode(), key=b"ak")
        finally:
            await out.stop()
        reader = aiokafka.AIOKafkaConsumer(bootstrap_servers=bootstrap, enable_auto_commit=False)
        reader.assign([aiokafka.TopicPartition(topic_name, p) for p in range(2)])
        await reader.start()
        try:
            for p in range(2):
                reader.seek(aiokafka.TopicPartition(topic_name, p), 0)
            values: list[bytes] = []
            while len(values) < 40:
                batch = await reader.getmany(timeout_ms=10_000)
                assert batch, "aiokafka read nothing in 10 s"
                values += [m.value for ms in batch.values() for m in ms]
            return values
        finally:
            await reader.stop()

    values = asyncio.run(with_aiokafka())
    assert sorted(values) == sorted(
        [f"kafka-python {i}".encode() for i in range(20)]
        + [f"aiokafka {i}".encode() for i in range(20)]
    )
    stored = [r for p in range(2) for r in broker.fetch(topic_name, p, 0, max_records=100)]
    assert sorted(r.value for r in stored) == sorted(values)
    for r in stored:
        assert r.partition == partition_for_key(r.key, 2)  # both clients hash like Java's

    reader = kafka.KafkaConsumer(bootstrap_servers=bootstrap, consumer_timeout_ms=10_000)
    reader.assign([kafka.TopicPartition(topic_name, p) for p in range(2)])
    reader.seek_to_beginning()
    read = [m.value for _, m in zip(range(40), reader, strict=False)]
    reader.close()
    assert sorted(read) == sorted(values)


def test_acks_zero_is_not_answered_and_still_stored(
    bootstrap: str, broker: Broker, topic_name: str
) -> None:
    broker.create_topic(topic_name)
    producer = Producer({"bootstrap.servers": bootstrap, "acks": 0})
    for i in range(10):
        producer.produce(topic_name, f"fire {i}".encode())
    assert producer.flush(30) == 0
    deadline = time.monotonic() + 30
    while broker.end_offsets(topic_name)[0] < 10 and time.monotonic() < deadline:
        time.sleep(0.05)  # acks=0: nothing tells when the broker has the records
    assert [r.value for r in broker.fetch(topic_name, 0, 0)] == [
        f"fire {i}".encode() for i in range(10)
    ]


def test_a_transactional_producer_is_refused_with_a_clear_error(bootstrap: str) -> None:
    producer = Producer(
        {"bootstrap.servers": bootstrap, "transactional.id": "tx-1", "transaction.timeout.ms": 5000}
    )
    with pytest.raises(KafkaException) as raised:
        producer.init_transactions(10)
    error = raised.value.args[0]
    assert error.code() != KafkaError.NO_ERROR


def test_metadata_does_not_create_topics_unless_told(bootstrap: str, broker: Broker) -> None:
    name = f"never-{uuid.uuid4().hex[:8]}"
    producer = Producer({"bootstrap.servers": bootstrap, "message.timeout.ms": 3000})
    errors: list[Any] = []
    producer.produce(name, b"x", on_delivery=lambda e, m: errors.append(e))
    producer.flush(10)
    assert errors and errors[0] is not None
    assert name not in broker.list_topics()


# --- idempotence, on the wire ---------------------------------------------------------


def _produce_request(topic: str, batch: bytes, version: int = 9) -> bytes:
    import io

    from kio.schema.produce.v9.request import (
        PartitionProduceData,
        ProduceRequest,
        TopicProduceData,
    )
    from kio.serial import entity_writer
    from kio.static.primitive import Records, i16, i32

    request = ProduceRequest(
        acks=i16(-1),
        timeout=__import__("datetime").timedelta(seconds=5),
        topic_data=(
            TopicProduceData(
                name=topic,
                partition_data=(PartitionProduceData(index=i32(0), records=Records(batch)),),
            ),
        ),
    )
    body = io.BytesIO()
    entity_writer(ProduceRequest)(body, request)
    header = struct.pack(">hhih", 0, version, 7, 4) + b"test" + b"\0"
    frame = header + body.getvalue()
    return struct.pack(">i", len(frame)) + frame


def _idempotent_batch(producer_id: int, sequence: int, values: list[bytes]) -> bytes:
    from logway.recordbatch import codec

    batch, *_ = codec.encode_batch(values, int(time.time() * 1000), 1 << 20)
    # producer id, epoch and base sequence sit at bytes 43..57 of the header (in the CRC)
    struct.pack_into(">qhi", batch, 43, producer_id, 0, sequence)
    crc = codec.crc32c(memoryview(batch)[codec.CRC_START :])
    struct.pack_into(">I", batch, 17, crc)
    return bytes(batch)


def _call(bootstrap: str, frame: bytes) -> bytes:
    host, port = bootstrap.split(":")
    with socket.create_connection((host, int(port)), timeout=30) as s:
        s.sendall(frame)
        size = struct.unpack(">i", _read(s, 4))[0]
        return _read(s, size)


def _read(s: socket.socket, n: int) -> bytes:
    out = b""
    while len(out) < n:
        chunk = s.recv(n - len(out))
        assert chunk, "the server closed the connection"
        out += chunk
    return out


def _produce_result(response: bytes) -> tuple[int, int]:
    from kio.schema.produce.v9.response import ProduceResponse
    from kio.serial import entity_reader

    # response header v1: correlation id + tagged fields
    parsed, _ = entity_reader(ProduceResponse)(response, 5)
    part = parsed.responses[0].partition_responses[0]
    return int(part.error_code), int(part.base_offset)


def test_a_retried_batch_is_stored_once_and_a_gap_in_sequences_is_refused(
    bootstrap: str, broker: Broker, topic_name: str
) -> None:
    broker.create_topic(topic_name)
    pid = 9_000_000 + uuid.uuid4().int % 1_000_000
    first = _idempotent_batch(pid, 0, [b"a", b"b"])
    assert _produce_result(_call(bootstrap, _produce_request(topic_name, first))) == (0, 0)
    # the client did not see the answer and sends the same batch again
    assert _produce_result(_call(bootstrap, _produce_request(topic_name, first))) == (0, 0)
    assert broker.end_offsets(topic_name)[0] == 2
    gap = _idempotent_batch(pid, 5, [b"c"])
    error, _ = _produce_result(_call(bootstrap, _produce_request(topic_name, gap)))
    assert error == 45  # OUT_OF_ORDER_SEQUENCE_NUMBER
    following = _idempotent_batch(pid, 2, [b"c"])
    assert _produce_result(_call(bootstrap, _produce_request(topic_name, following))) == (0, 2)
    assert [r.value for r in broker.fetch(topic_name, 0, 0)] == [b"a", b"b", b"c"]


def test_a_batch_with_a_bad_crc_is_refused_and_nothing_is_stored(
    bootstrap: str, broker: Broker, topic_name: str
) -> None:
    broker.create_topic(topic_name)
    batch = bytearray(_idempotent_batch(-1, -1, [b"x"]))
    batch[-1] ^= 0xFF
    error, _ = _produce_result(_call(bootstrap, _produce_request(topic_name, bytes(batch))))
    assert error == 2  # CORRUPT_MESSAGE
    assert broker.end_offsets(topic_name)[0] == 0


def test_the_port_is_one_broker_with_a_kafka_style_cluster_id(bootstrap: str) -> None:
    admin = AdminClient({"bootstrap.servers": bootstrap})
    metadata = admin.list_topics(timeout=10)
    assert list(metadata.brokers) == [1]
    assert metadata.cluster_id and len(metadata.cluster_id) == 22


def test_the_node_and_cluster_ids_stay_across_a_restart(tmp_path: Path) -> None:
    def ids(server: LogwayServer) -> tuple[str, list[int]]:
        metadata = AdminClient({"bootstrap.servers": server.kafka}).list_topics(timeout=10)
        return str(metadata.cluster_id), sorted(metadata.brokers)

    first = LogwayServer(tmp_path / "data")
    first.start()
    try:
        before = ids(first)
    finally:
        assert first.stop() == 0
    again = LogwayServer(tmp_path / "data")
    again.start()
    try:
        assert ids(again) == before
    finally:
        assert again.stop() == 0
    other = LogwayServer(tmp_path / "other")
    other.start()
    try:
        assert ids(other)[0] != before[0]  # another log, another cluster
    finally:
        assert other.stop() == 0
