"""A topic's ``value_schema`` at every door of a real ``logway serve``: gRPC (the remote
backend), REST, gRPC-Web and the Kafka port (Confluent's ProtobufSerializer, raw
bytes, CreateTopics with ``value.schema.subject``). At each, a record in the registry's
wire format under the topic's subject is stored and reads back as the message sent; a
batch with a record that is not is refused with the record and the reason, and none of
it is stored."""

from __future__ import annotations

import base64
import sys
import urllib.parse
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from confluent_kafka import KafkaError, Producer
from confluent_kafka.admin import (  # type: ignore[attr-defined]
    AdminClient,
    ConfigResource,
    NewTopic,
)
from confluent_kafka.schema_registry.protobuf import ProtobufSerializer
from confluent_kafka.serialization import MessageField, SerializationContext

import logway
from kafka import KafkaProducer  # type: ignore[import-untyped]
from kafka import errors as kafka_errors
from logway.broker import ProduceItem
from logway.errors import InvalidArgumentError, InvalidRecordError
from logway.records import Message
from logway.schemas.wire import frame, schema_id_of
from logway.v1 import log_pb2 as pb
from tests.schemas.site import Site, running
from tests.server import grpc_web_client as web

sys.path.insert(0, str(Path(__file__).parents[2] / "examples" / "microblog"))
from microblog.v1 import article_pb2 as article_pb

pytestmark = pytest.mark.slow  # a server process and Kafka clients

INVALID_ARGUMENT = 3  # gRPC's status code
DYNAMIC, DEFAULT = 1, 5  # Kafka's config sources
REFUSED = "nothing of the batch was stored"
READING = {"type": "record", "name": "Reading", "fields": [{"name": "device", "type": "string"}]}


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Site]:
    with running(tmp_path_factory.mktemp("enforcement-doors") / "data") as site:
        yield site


@pytest.fixture(scope="module")
def remote(site: Site) -> Iterator[logway.Broker]:
    """The server through gRPC: logway's remote backend."""
    with logway.connect(site.server.url) as broker:
        yield broker


def _topic(site: Site, partitions: int = 1) -> tuple[str, bytes]:
    """A new topic whose values must be Articles under ``TOPIC-value``, and one such
    value in the wire format."""
    name = f"articles-{uuid.uuid4().hex[:8]}"
    site.admin.create_topic(name, partitions, value_schema=f"{name}-value")
    return name, site.admin.schemas.encode(f"{name}-value", _article(name))


def _article(title: str) -> article_pb.Article:
    return article_pb.Article(id="a1", title=title, content="body", author="ada")


def _undecodable(good: bytes) -> bytes:
    """Framed with the subject's own schema id, but not an Article's bytes."""
    return frame(schema_id_of(good), b"\x00\xff\xff\xff\xff")


# --- gRPC: the remote backend ---------------------------------------------------------


def test_grpc_refuses_with_invalid_record_error(site: Site, remote: logway.Broker) -> None:
    topic, good = _topic(site, partitions=2)
    remote.produce(topic, good, partition=0)
    (stored,) = remote.fetch(topic, 0, 0)
    assert stored.decode(article_pb.Article) == _article(topic)

    # one batch over both partitions: the bad record refuses the good one too
    batch: list[ProduceItem] = [Message(good, partition=0), Message(b"bad", partition=1), good]
    with pytest.raises(InvalidRecordError) as caught:
        remote.produce_many(topic, batch)
    message = str(caught.value)
    assert f"record 1 of the batch for topic {topic!r}" in message
    assert "not in the schema registry's wire format" in message and REFUSED in message
    assert isinstance(caught.value, InvalidArgumentError)
    with pytest.raises(InvalidRecordError, match="schema id 999, which is not a version"):
        remote.produce(topic, frame(999, b"\x00"))
    assert remote.end_offsets(topic) == {0: 1, 1: 0}


# --- REST -----------------------------------------------------------------------------


def test_rest_refuses_with_400_and_the_reason(site: Site) -> None:
    topic, good = _topic(site)
    url = f"{site.server.http}/v1/topics/{topic}"

    def post(*values: bytes) -> httpx.Response:
        records = [{"value": base64.b64encode(v).decode()} for v in values]
        return httpx.post(f"{url}/records", json={"records": records, "encoding": "base64"})

    refused = post(good, _undecodable(good))
    assert refused.status_code == 400, refused.text
    assert refused.json()["error"] == "InvalidRecordError"
    message = refused.json()["message"]
    assert f"record 1 of the batch for topic {topic!r}" in message
    assert "does not decode as microblog.v1.Article" in message and REFUSED in message
    assert site.admin.end_offsets(topic) == {0: 0}

    accepted = post(good)
    assert accepted.status_code == 200, accepted.text
    assert [r["offset"] for r in accepted.json()["records"]] == [0]
    (record,) = httpx.get(f"{url}/partitions/0/records").json()["records"]
    text = record["value"]
    value = base64.b64decode(text) if record["encoding"] == "base64" else text.encode()
    assert value == good
    assert site.admin.fetch(topic, 0, 0)[0].decode(article_pb.Article) == _article(topic)


# --- gRPC-Web -------------------------------------------------------------------------


def test_grpc_web_refuses_with_invalid_argument(site: Site) -> None:
    topic, good = _topic(site)
    other = site.admin.schemas.encode(f"{topic}-readings", {"device": "d1"}, READING)

    def produce(*values: bytes) -> web.Reply:
        request = pb.ProduceRequest(
            topic=topic, records=[pb.ProduceRecord(value=v) for v in values]
        )
        return web.call(site.server.http, "logway.v1.Log/Produce", request.SerializeToString())

    refused = produce(good, other)
    assert refused.status == INVALID_ARGUMENT, refused
    assert refused.headers["logway-error"] == "InvalidRecordError"
    message = urllib.parse.unquote(refused.message)
    assert f"record 1 of the batch for topic {topic!r}" in message
    assert f"not a version of subject '{topic}-value'" in message and REFUSED in message
    assert site.admin.end_offsets(topic) == {0: 0}

    accepted = produce(good)
    assert accepted.status == 0, accepted
    assert [m.offset for m in pb.ProduceResponse.FromString(accepted.messages[0]).records] == [0]
    fetch = pb.FetchRequest(topic=topic, partition=0, offset=0).SerializeToString()
    fetched = web.call(site.server.http, "logway.v1.Log/Fetch", fetch)
    (record,) = pb.FetchResponse.FromString(fetched.messages[0]).records
    assert record.value == good
    assert site.admin.fetch(topic, 0, 0)[0].decode(article_pb.Article) == _article(topic)


# --- the Kafka port -------------------------------------------------------------------


def _send(site: Site, topic: str, *values: bytes) -> list[KafkaError | None]:
    """Each value's delivery report error, the values sent as one batch (a long linger:
    ``flush`` sends everything queued at once) with acks=all. INVALID_RECORD is not
    retriable, so the reports come at once; a short message timeout bounds a bug."""
    producer = Producer(
        {
            "bootstrap.servers": site.server.kafka,
            "acks": "all",
            "linger.ms": 5000,
            "message.timeout.ms": 10_000,
        }
    )
    reports: list[KafkaError | None] = [None] * len(values)
    done: list[int] = []

    def report(i: int) -> Any:
        def delivered(error: KafkaError | None, _message: Any) -> None:
            reports[i] = error
            done.append(i)

        return delivered

    try:
        for i, value in enumerate(values):
            producer.produce(topic, value, partition=0, on_delivery=report(i))
        assert producer.flush(15) == 0
    finally:
        producer.close()
    assert sorted(done) == list(range(len(values)))
    return reports


def test_kafka_port_takes_confluents_protobuf_serializer(site: Site, remote: logway.Broker) -> None:
    topic = f"articles-{uuid.uuid4().hex[:8]}"
    site.admin.create_topic(topic, value_schema=f"{topic}-value")
    ctx = SerializationContext(topic, MessageField.VALUE)
    writer = ProtobufSerializer(
        article_pb.Article, site.registry(), {"use.deprecated.format": False}
    )
    sent = [_article(f"t{i}") for i in range(3)]
    assert _send(site, topic, *(writer(a, ctx) for a in sent)) == [None] * 3
    records = remote.fetch(topic, 0, 0)
    assert [r.decode(article_pb.Article) for r in records] == sent
    assert {schema_id_of(r.value) for r in records} == {
        site.registry().get_latest_version(f"{topic}-value").schema_id
    }


def test_kafka_port_refuses_raw_bytes_with_invalid_record(site: Site) -> None:
    topic, good = _topic(site)
    errors = _send(site, topic, good, b"raw bytes")  # one batch: refused whole
    for error in errors:
        assert error is not None and error.code() == KafkaError.INVALID_RECORD == 87, errors
        assert not error.retriable()
    assert site.admin.end_offsets(topic) == {0: 0}

    # the reason travels in the response's error message (confluent-kafka shows only
    # the code's description; kafka-python raises with the message)
    producer = KafkaProducer(bootstrap_servers=site.server.kafka, acks="all", retries=0)
    try:
        with pytest.raises(kafka_errors.InvalidRecordError) as caught:
            producer.send(topic, b"raw bytes", partition=0).get(timeout=15)
    finally:
        producer.close(timeout=5)
    assert f"record 0 of the batch for topic {topic!r}" in str(caught.value)
    assert "not in the schema registry's wire format" in str(caught.value)
    assert site.admin.end_offsets(topic) == {0: 0}

    assert _send(site, topic, good) == [None]
    assert site.admin.end_offsets(topic) == {0: 1}


def test_a_topic_created_through_the_kafka_port_enforces_its_subject(
    site: Site, remote: logway.Broker
) -> None:
    topic = f"created-{uuid.uuid4().hex[:8]}"
    admin = AdminClient({"bootstrap.servers": site.server.kafka})
    config = {"value.schema.subject": f"{topic}-value"}
    for future in admin.create_topics([NewTopic(topic, 1, config=config)]).values():
        future.result(10)
    assert remote.describe_topic(topic).config["value_schema"] == f"{topic}-value"
    resource = ConfigResource(ConfigResource.Type.TOPIC, topic)
    entries = admin.describe_configs([resource])[resource].result(10)
    described = entries["value.schema.subject"]
    assert (described.value, described.source) == (f"{topic}-value", DYNAMIC)
    assert not described.is_read_only
    assert (entries["key.schema.subject"].value, entries["key.schema.subject"].source) == (
        None,
        DEFAULT,
    )
    with logway.connect(f"kafka://{site.server.kafka}") as kafka:  # reads DescribeConfigs
        assert kafka.describe_topic(topic).config["value_schema"] == f"{topic}-value"

    good = remote.schemas.encode(f"{topic}-value", _article(topic))
    (error,) = _send(site, topic, b"raw bytes")
    assert error is not None and error.code() == KafkaError.INVALID_RECORD
    with pytest.raises(InvalidRecordError, match=f"the topic's value_schema is '{topic}-value'"):
        remote.produce(topic, b"raw bytes")
    assert remote.end_offsets(topic) == {0: 0}
    assert _send(site, topic, good) == [None]
    assert remote.fetch(topic, 0, 0)[0].decode(article_pb.Article) == _article(topic)
