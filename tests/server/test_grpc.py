"""The gRPC port of a real ``logway serve``: Subscribe semantics and shutdown."""

from __future__ import annotations

import threading
import uuid
from pathlib import Path

import grpc
import pytest

import logway
from logway.recordbatch import codec
from logway.v1 import convert, log_pb2_grpc
from logway.v1 import log_pb2 as pb
from tests.servers import LogwayServer

pytestmark = pytest.mark.slow  # a server process


def _stub(server: LogwayServer) -> log_pb2_grpc.LogStub:
    return log_pb2_grpc.LogStub(grpc.insecure_channel(f"127.0.0.1:{server.grpc_port}"))


@pytest.fixture
def topic(server: LogwayServer) -> str:
    name = f"g-{uuid.uuid4().hex[:8]}"
    with logway.connect(server.url) as broker:
        broker.create_topic(name, partitions=2)
    return name


def test_subscribe_replays_then_tails_with_heartbeats(server: LogwayServer, topic: str) -> None:
    with logway.connect(server.url) as broker:
        broker.produce_many(topic, [b"a", b"b"], partition=1)
        stream = _stub(server).Subscribe(
            pb.SubscribeRequest(topic=topic, position=pb.POSITION_EARLIEST, heartbeat_ms=100)
        )
        first = next(stream)
        assert [(r.partition, r.offset, r.value) for r in first.records] == [
            (1, 0, b"a"),
            (1, 1, b"b"),
        ]
        beat = next(stream)
        assert not beat.records and dict(beat.heartbeat.end_offsets) == {0: 0, 1: 2}
        assert beat.heartbeat.server_time > 0
        broker.produce(topic, b"live", partition=0)
        live = next(r for r in stream if r.records)
        assert [(r.topic, r.partition, r.offset, r.value) for r in live.records] == [
            (topic, 0, 0, b"live")
        ]
        assert live.records[0].timestamp > 0
        stream.cancel()


def test_batches_on_the_wire_carry_the_same_records(server: LogwayServer, topic: str) -> None:
    """Produce, Fetch and Subscribe in RecordBatch v2, as the remote backend uses them."""
    stub = _stub(server)
    items = [
        logway.Message(b"v%d" % i, key=b"k", headers={"h": b"x"}, timestamp=7) for i in range(3)
    ]
    data = bytes(codec.encode_batch(items, 0, 1 << 20)[0])
    produced = stub.Produce(
        pb.ProduceRequest(topic=topic, batches=[pb.RecordBatches(partition=1, data=data)])
    )
    assert [(r.partition, r.base_offset, list(r.indexes)) for r in produced.ranges] == [(1, 0, [])]
    expected = [logway.Record(topic, 1, i, 7, b"k", b"v%d" % i, (("h", b"x"),)) for i in range(3)]
    fetched = stub.Fetch(pb.FetchRequest(topic=topic, partition=1, offset=1, record_batches=True))
    assert convert.records_from_batches(topic, fetched.batches) == expected[1:]
    stream = stub.Subscribe(
        pb.SubscribeRequest(topic=topic, partitions=[1], offset=0, record_batches=True)
    )
    assert convert.records_from_batches(topic, next(stream).batches) == expected
    stream.cancel()


def test_a_damaged_batch_is_refused_and_nothing_is_stored(server: LogwayServer, topic: str) -> None:
    stub = _stub(server)
    good = bytes(codec.encode_batch([b"fine"], 0, 1 << 20)[0])
    bad = bytearray(good)
    bad[-1] ^= 0x01
    request = pb.ProduceRequest(
        topic=topic,
        batches=[pb.RecordBatches(partition=0, data=good), pb.RecordBatches(data=bytes(bad))],
    )
    with pytest.raises(grpc.RpcError) as caught:
        stub.Produce(request)
    assert caught.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert "batch 1 of the request" in (caught.value.details() or "")
    assert "CRC" in (caught.value.details() or "")
    wrong = pb.ProduceRequest(topic=topic, batches=[pb.RecordBatches(partition=9, data=good)])
    with pytest.raises(grpc.RpcError) as caught:
        stub.Produce(wrong)
    assert caught.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert "partition 9" in (caught.value.details() or "")
    with logway.connect(server.url) as broker:
        assert broker.end_offsets(topic) == {0: 0, 1: 0}


def test_subscribe_from_group_offsets_and_timestamps(server: LogwayServer, topic: str) -> None:
    with logway.connect(server.url) as broker:
        broker.produce_many(
            topic, [logway.Message(f"v{i}", timestamp=1000 * i) for i in range(6)], partition=0
        )
        broker.commit("subs", {logway.TopicPartition(topic, 0): 4})
    stub = _stub(server)
    by_group = next(stub.Subscribe(pb.SubscribeRequest(topic=topic, group="subs", partitions=[0])))
    assert [r.offset for r in by_group.records] == [4, 5]
    by_time = next(stub.Subscribe(pb.SubscribeRequest(topic=topic, timestamp=2500, partitions=[0])))
    assert [r.offset for r in by_time.records] == [3, 4, 5]
    resumed = next(stub.Subscribe(pb.SubscribeRequest(topic=topic, offsets={0: 5}, partitions=[0])))
    assert [r.offset for r in resumed.records] == [5]


def test_subscribe_out_of_range_is_an_explicit_error(server: LogwayServer, topic: str) -> None:
    with pytest.raises(grpc.RpcError) as err:
        next(_stub(server).Subscribe(pb.SubscribeRequest(topic=topic, offset=10)))
    assert err.value.code() == grpc.StatusCode.OUT_OF_RANGE
    assert "out of range" in err.value.details()
    with pytest.raises(grpc.RpcError) as err:
        next(_stub(server).Subscribe(pb.SubscribeRequest(topic="nope")))
    assert err.value.code() == grpc.StatusCode.NOT_FOUND


def test_sigterm_ends_streams_with_a_status_and_keeps_acknowledged_records(tmp_path: Path) -> None:
    server = LogwayServer(tmp_path / "data")
    server.start()
    with logway.connect(server.url) as broker:
        broker.create_topic("t")
        acked = [m.offset for m in broker.produce_many("t", [f"r{i}" for i in range(100)])]
        stream = _stub(server).Subscribe(pb.SubscribeRequest(topic="t", heartbeat_ms=50))
        assert len(next(stream).records) == 100
        ended: list[grpc.StatusCode] = []

        def drain() -> None:
            try:
                for _ in stream:
                    pass
            except grpc.RpcError as exc:
                ended.append(exc.code())

        reader = threading.Thread(target=drain)
        reader.start()
        assert server.stop() == 0, "".join(server.output)
        reader.join(30)
        assert not reader.is_alive()
        assert ended and ended[0] in (
            grpc.StatusCode.UNAVAILABLE,
            grpc.StatusCode.CANCELLED,
            grpc.StatusCode.ABORTED,
        )
    server.start()
    try:
        with logway.connect(server.url) as broker:
            records = broker.fetch("t", 0, 0, max_records=1000)
            assert [r.offset for r in records] == acked
    finally:
        assert server.stop() == 0


def test_a_topic_deleted_and_created_again_streams_its_new_records(
    server: LogwayServer,
) -> None:
    name = f"again-{uuid.uuid4().hex[:8]}"
    stub = _stub(server)
    with logway.connect(server.url) as broker:
        broker.create_topic(name)
        broker.produce(name, b"first life")
        old = stub.Subscribe(pb.SubscribeRequest(topic=name, offset=0, heartbeat_ms=100))
        assert [r.value for r in next(old).records] == [b"first life"]
        broker.delete_topic(name)
        with pytest.raises(grpc.RpcError) as ended:
            for _ in old:  # heartbeats until the stream learns the topic is gone
                pass
        assert ended.value.code() == grpc.StatusCode.NOT_FOUND
        broker.create_topic(name)
        new = stub.Subscribe(pb.SubscribeRequest(topic=name, offset=0))
        broker.produce(name, b"second life")
        assert [r.value for r in next(new).records] == [b"second life"]
        new.cancel()
