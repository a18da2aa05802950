"""The HTTP port of a real ``logway serve``: REST, Server-Sent Events, gRPC-Web."""

from __future__ import annotations

import base64
import json
import uuid

import httpx
import pytest

import logway
from logway.v1 import log_pb2 as pb
from tests.server import grpc_web_client as web
from tests.servers import LogwayServer

pytestmark = pytest.mark.slow  # a server process


@pytest.fixture
def topic(server: LogwayServer) -> str:
    name = f"h-{uuid.uuid4().hex[:8]}"
    r = httpx.post(f"{server.http}/v1/topics", json={"name": name, "partitions": 1})
    assert r.status_code == 201, r.text
    return name


def test_rest_round_trip(server: LogwayServer, topic: str) -> None:
    r = httpx.post(
        f"{server.http}/v1/topics/{topic}/records",
        json={"records": [{"value": "not base64!"}], "encoding": "base64"},
    )
    assert r.status_code == 400 and "base64" in r.json()["message"]
    r = httpx.post(
        f"{server.http}/v1/topics/{topic}/records",
        json={"records": [{"value": base64.b64encode(b"\xff\x00").decode()}], "encoding": "base64"},
    )
    assert r.status_code == 200 and r.json()["records"][0]["offset"] == 0
    r = httpx.post(
        f"{server.http}/v1/topics/{topic}/records",
        json={"records": [{"value": "hello", "key": "k", "headers": {"h": "v"}}]},
    )
    assert r.json()["records"][0]["offset"] == 1
    got = httpx.get(f"{server.http}/v1/topics/{topic}/partitions/0/records?offset=0").json()
    first, second = got["records"]
    assert first["encoding"] == "base64" and base64.b64decode(first["value"]) == b"\xff\x00"
    assert (second["value"], second["key"], second["headers"]) == ("hello", "k", [["h", "v"]])
    described = httpx.get(f"{server.http}/v1/topics/{topic}").json()
    assert described["end_offsets"] == {"0": 2}
    assert topic in httpx.get(f"{server.http}/v1/topics").json()["topics"]
    with logway.connect(server.url) as broker:  # the same log over gRPC
        assert broker.fetch(topic, 0, 1)[0].value == b"hello"
        broker.commit("web-readers", {logway.TopicPartition(topic, 0): 1})
    lag = httpx.get(f"{server.http}/v1/groups/web-readers/lag").json()
    assert lag["partitions"][0]["lag"] == 1


@pytest.mark.parametrize(
    ("method", "path", "body", "status"),
    [
        ("get", "/v1/topics/nope", None, 404),
        ("post", "/v1/topics", {"name": "bad name"}, 422),
        ("post", "/v1/topics", {"name": "ok", "config": {"retention_ms": "soon"}}, 400),
        ("post", "/v1/topics", {"name": "x", "partitions": 0}, 422),
        ("post", "/v1/topics/nope/records", {"records": [{"value": "x"}]}, 404),
        ("post", "/v1/topics/{topic}/records", {"records": []}, 422),
        ("post", "/v1/topics/{topic}/records", {"records": [{"value": "x", "partition": 7}]}, 400),
        ("get", "/v1/topics/{topic}/partitions/0/records?offset=99", None, 416),
        ("get", "/v1/groups/nobody/lag", None, 404),
        ("post", "/v1/topics/{topic}", {"x": 1}, 405),
    ],
)
def test_rest_errors(
    server: LogwayServer, topic: str, method: str, path: str, body: dict | None, status: int
) -> None:
    r = httpx.request(method.upper(), server.http + path.format(topic=topic), json=body)
    assert r.status_code == status, r.text
    if status in (400, 404, 416):
        assert r.json()["message"]
    assert httpx.get(f"{server.http}/v1/topics/{topic}").json()["end_offsets"] == {"0": 0}


def test_rest_refuses_the_wrong_content_type(server: LogwayServer, topic: str) -> None:
    r = httpx.post(
        f"{server.http}/v1/topics/{topic}/records",
        content=b"value",
        headers={"content-type": "text/plain"},
    )
    assert r.status_code == 422


def test_openapi_document(server: LogwayServer) -> None:
    doc = httpx.get(f"{server.http}/openapi.json").json()
    assert doc["openapi"].startswith("3.")
    assert "/v1/topics/{topic}/records" in doc["paths"]
    assert "/v1/topics/{topic}/stream" in doc["paths"]


def test_the_root_page_lists_the_doors(server: LogwayServer) -> None:
    r = httpx.get(f"{server.http}/")
    assert r.status_code == 200
    assert r.headers["content-type"].startswith("text/html")
    for door in ("/v1/topics", "/openapi.json", "/v1/topics/{topic}/stream", "/metrics"):
        assert door in r.text
    assert f"127.0.0.1:{server.grpc_port}" in r.text  # where gRPC clients connect
    assert f"127.0.0.1:{server.kafka_port} (bootstrap.servers)" in r.text  # and Kafka's


def _sse_events(server: LogwayServer, topic: str, count: int, **headers: str) -> list[dict]:
    events: list[dict] = []
    current: dict = {}
    with httpx.stream(
        "GET", f"{server.http}/v1/topics/{topic}/stream", headers=headers, timeout=30
    ) as response:
        assert response.headers["content-type"].startswith("text/event-stream")
        for line in response.iter_lines():
            if line.startswith("id: "):
                current["id"] = line[4:]
            elif line.startswith("event: "):
                current["event"] = line[7:]
            elif line.startswith("data: "):
                current["data"] = json.loads(line[6:])
            elif line == "" and current:
                events.append(current)
                current = {}
                if len(events) == count:
                    break
    return events


def test_sse_replays_and_resumes_after_last_event_id(server: LogwayServer, topic: str) -> None:
    with logway.connect(server.url) as broker:
        broker.produce_many(topic, [f"a{i}" for i in range(5)])
    events = _sse_events(server, topic, 3)
    assert [e["id"] for e in events] == ["0:0", "0:1", "0:2"]
    assert [e["data"]["value"] for e in events] == ["a0", "a1", "a2"]
    assert all(e["event"] == "record" for e in events)
    resumed = _sse_events(server, topic, 2, **{"Last-Event-ID": events[-1]["id"]})
    assert [e["data"]["offset"] for e in resumed] == [3, 4]


def test_sse_pushes_new_records_live(server: LogwayServer, topic: str) -> None:
    import threading

    got: list[dict] = []
    reader = threading.Thread(target=lambda: got.extend(_sse_events(server, topic, 1)))
    reader.start()
    with logway.connect(server.url) as broker:
        broker.produce(topic, "live")
    reader.join(30)
    assert [e["data"]["value"] for e in got] == ["live"]


def test_sse_bad_last_event_id(server: LogwayServer, topic: str) -> None:
    r = httpx.get(f"{server.http}/v1/topics/{topic}/stream", headers={"Last-Event-ID": "zz"})
    assert r.status_code == 400 and "Last-Event-ID" in r.json()["message"]


@pytest.mark.parametrize("text", [False, True])
def test_grpc_web_unary_and_stream(server: LogwayServer, topic: str, text: bool) -> None:
    request = pb.ProduceRequest(
        topic=topic,
        records=[pb.ProduceRecord(value=b"w1"), pb.ProduceRecord(value=b"w2", key=b"k")],
    )
    reply = web.call(server.http, "logway.v1.Log/Produce", request.SerializeToString(), text=text)
    assert reply.status == 0, reply
    produced = pb.ProduceResponse.FromString(reply.messages[0])
    assert [m.offset for m in produced.records] == [0, 1]
    sub = pb.SubscribeRequest(topic=topic, position=pb.POSITION_EARLIEST)
    streamed = web.stream(
        server.http, "logway.v1.Log/Subscribe", sub.SerializeToString(), until=1, text=text
    )
    assert streamed.http_status == 200
    records = pb.SubscribeResponse.FromString(streamed.messages[0]).records
    assert [(r.offset, r.value) for r in records] == [(0, b"w1"), (1, b"w2")]
    assert records[1].topic == topic and records[1].timestamp > 0


def test_grpc_web_errors_carry_grpc_statuses(server: LogwayServer, topic: str) -> None:
    missing = pb.FetchRequest(topic="nope", partition=0, offset=0).SerializeToString()
    reply = web.call(server.http, "logway.v1.Log/Fetch", missing)
    assert reply.status == 5 and "unknown topic" in reply.message  # NOT_FOUND
    bad_offset = pb.FetchRequest(topic=topic, partition=0, offset=99).SerializeToString()
    assert web.call(server.http, "logway.v1.Log/Fetch", bad_offset).status == 11  # OUT_OF_RANGE
    stream = web.stream(
        server.http,
        "logway.v1.Log/Subscribe",
        pb.SubscribeRequest(topic=topic, offset=50).SerializeToString(),
        until=1,
    )
    assert stream.status == 11


@pytest.mark.parametrize(
    ("body", "content_type", "http_status", "grpc_status"),
    [
        (b"\x00\x00\x00\x00\x09abc", None, 200, 3),  # length says 9, 3 bytes follow
        (b"\x00\x00", None, 200, 3),  # not even a frame header
        (web.frame(b"\xff\xff\xff"), None, 200, 13),  # not a protobuf message: INTERNAL
        (b"!!!not base64!!!", "application/grpc-web-text", 200, 3),
        (web.frame(b"", flag=1), None, 200, 12),  # compressed: UNIMPLEMENTED
        (web.frame(b"x" * (5 << 20)), None, 200, 8),  # over 4 MiB: RESOURCE_EXHAUSTED
        (web.frame(b""), "application/json", 415, None),
    ],
)
def test_grpc_web_bad_requests(
    server: LogwayServer,
    body: bytes,
    content_type: str | None,
    http_status: int,
    grpc_status: int | None,
) -> None:
    reply = web.call(
        server.http, "logway.v1.Log/ListTopics", b"", raw_body=body, content_type=content_type
    )
    assert reply.http_status == http_status
    assert reply.status == grpc_status
    # the server keeps serving everyone else
    ok = web.call(
        server.http, "logway.v1.Log/ListTopics", pb.ListTopicsRequest().SerializeToString()
    )
    assert ok.status == 0


def test_cors_preflight(server: LogwayServer) -> None:
    for path in ("/logway.v1.Log/Subscribe", "/v1/topics"):
        r = httpx.options(
            server.http + path,
            headers={
                "Origin": "http://example.test",
                "Access-Control-Request-Method": "POST",
                "Access-Control-Request-Headers": "content-type,x-grpc-web",
            },
        )
        assert r.status_code == 204
        assert r.headers["access-control-allow-origin"] == "*"
        assert "x-grpc-web" in r.headers["access-control-allow-headers"]
