"""Confluent Schema Registry's REST API at ``/schemas`` on a real ``logway serve``:
confluent-kafka's ``SchemaRegistryClient`` for every call it has, Avro records
serialized by Confluent's serializers through the Kafka port and read back through
logway's own API (and the other way round), raw HTTP for Confluent's error shapes and
codes, and ``--auth``: a caller without an ACL on the subject is refused and stores
nothing."""

from __future__ import annotations

import base64
import json
import sys
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from confluent_kafka import Consumer, KafkaException, Producer
from confluent_kafka import TopicPartition as KafkaTP
from confluent_kafka.schema_registry import (
    Schema,
    SchemaReference,
    SchemaRegistryClient,
    SchemaRegistryError,
)
from confluent_kafka.schema_registry.avro import AvroDeserializer, AvroSerializer
from confluent_kafka.schema_registry.schema_registry_client import (
    ConfigCompatibilityLevel,
    ServerConfig,
)
from confluent_kafka.serialization import MessageField, SerializationContext
from google.protobuf import descriptor_pb2, descriptor_pool

import logway
from logway.auth import Acl, AuthStore
from logway.broker import Broker
from logway.schemas import SchemaRegistry
from tests.auth.http_clients import client
from tests.schemas.site import Site, running
from tests.servers import LogwayServer

ROOT = Path(__file__).resolve().parents[2]

pytestmark = pytest.mark.slow  # server processes

MEDIA_TYPE = "application/vnd.schemaregistry.v1+json"
READING = {
    "type": "record",
    "name": "Reading",
    "namespace": "sensors",
    "fields": [{"name": "sensor", "type": "string"}, {"name": "temp", "type": "double"}],
}
READING_V2 = {  # BACKWARD compatible: a new field with a default
    **READING,
    "fields": [*READING["fields"], {"name": "unit", "type": "string", "default": "C"}],
}
BREAKING = {**READING, "fields": [{"name": "sensor", "type": "long"}, READING["fields"][1]]}


def _avro(value: dict[str, Any]) -> Schema:
    return Schema(json.dumps(value), "AVRO")


def _subject() -> str:
    return f"s-{uuid.uuid4().hex[:10]}"


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Site]:
    with running(tmp_path_factory.mktemp("registry-http") / "data") as site:
        yield site


# --- the client, call by call ----------------------------------------------------------


def test_the_client_registers_reads_and_deletes(site: Site) -> None:
    sr = site.registry()
    subject, other = _subject(), _subject()
    assert "AVRO" in sr.get_schema_types()

    schema_id = sr.register_schema(subject, _avro(READING))
    again = sr.register_schema_full_response(subject, _avro(READING))
    assert (again.schema_id, again.subject) == (schema_id, subject)
    assert sr.register_schema(other, _avro(READING)) == schema_id  # one id across subjects
    v2 = sr.register_schema_full_response(subject, _avro(READING_V2))
    assert v2.version == 2 and v2.schema_id != schema_id

    found = sr.lookup_schema(subject, _avro(READING))
    assert (found.schema_id, found.version, found.subject) == (schema_id, 1, subject)
    assert json.loads(sr.get_schema(schema_id).schema_str) == READING
    latest = sr.get_latest_version(subject)
    assert (latest.version, latest.schema_id, latest.schema.schema_type) == (
        2,
        v2.schema_id,
        "AVRO",
    )
    first = sr.get_version(subject, 1)
    assert json.loads(first.schema.schema_str) == READING and first.schema_id == schema_id
    assert sr.get_versions(subject) == [1, 2]
    assert {subject, other} <= set(sr.get_subjects())
    assert sr.get_subjects(subject_prefix=subject) == [subject]
    assert sorted(sr.get_subjects_by_schema_id(schema_id)) == sorted([subject, other])
    pairs = {(p.subject, p.version) for p in sr.get_schema_versions(schema_id)}
    assert pairs == {(subject, 1), (other, 1)}
    assert sr.get_referenced_by(subject, 1) == []

    # soft delete: hidden, its id still readable; then permanently
    assert sr.delete_version(subject, 1) == 1
    assert sr.get_versions(subject) == [2]
    assert sr.get_versions(subject, deleted=True) == [1, 2]
    assert sr.get_versions(subject, deleted_only=True) == [1]
    assert sr.get_version(subject, 1, deleted=True).schema_id == schema_id
    with pytest.raises(SchemaRegistryError) as gone:
        site.registry().get_version(subject, 1)
    assert (gone.value.http_status_code, gone.value.error_code) == (404, 40402)
    assert json.loads(site.registry().get_schema(schema_id).schema_str) == READING
    assert sr.delete_version(subject, 1, permanent=True) == 1
    assert sr.get_versions(subject, deleted=True) == [2]

    assert sr.delete_subject(other) == [1]
    assert other not in sr.get_subjects()
    assert other in sr.get_subjects(deleted=True)
    assert other in sr.get_subjects(deleted_only=True)
    assert sr.delete_subject(other, permanent=True) == [1]
    assert other not in sr.get_subjects(deleted=True)
    with pytest.raises(SchemaRegistryError) as missing:
        sr.get_versions(other)
    assert (missing.value.http_status_code, missing.value.error_code) == (404, 40401)

    # what the HTTP API did is in the log: logway's own registry reads it
    stored = SchemaRegistry(site.admin)
    assert stored.versions(subject) == [2]
    assert stored.get(subject, 2).id == v2.schema_id


def test_compatibility_config_and_mode_through_the_client(site: Site) -> None:
    sr = site.registry()
    subject = _subject()
    sr.register_schema(subject, _avro(READING))
    assert sr.get_compatibility() == "BACKWARD"
    assert sr.test_compatibility(subject, _avro(READING_V2)) is True
    assert sr.test_compatibility(subject, _avro(BREAKING), version=1) is False
    assert sr.test_compatibility_all_versions(subject, _avro(BREAKING)) is False
    assert sr.test_compatibility(_subject(), _avro(BREAKING)) is True  # nothing to follow

    assert sr.set_compatibility(subject, "NONE") == {"compatibility": "NONE"}
    assert sr.get_compatibility(subject) == "NONE"
    assert sr.test_compatibility_all_versions(subject, _avro(BREAKING)) is True
    assert sr.get_config(subject).compatibility_level.value == "NONE"
    level = ServerConfig(compatibility=ConfigCompatibilityLevel.FULL_TRANSITIVE)
    assert sr.set_config(subject, level) == {"compatibility": "FULL_TRANSITIVE"}
    assert sr.delete_config(subject).compatibility_level.value == "FULL_TRANSITIVE"
    with pytest.raises(SchemaRegistryError) as unset:
        sr.get_config(subject)
    assert unset.value.error_code == 40408

    try:  # the global level, put back after
        assert sr.set_compatibility(level="FORWARD") == {"compatibility": "FORWARD"}
        assert sr.get_config().compatibility_level.value == "FORWARD"
        follows = httpx.get(f"{site.url}/config/{subject}", params={"defaultToGlobal": True})
        assert follows.json() == {"compatibilityLevel": "FORWARD"}  # the subject follows it
    finally:
        assert sr.delete_config().compatibility_level.value == "FORWARD"
    assert sr.get_compatibility() == "BACKWARD"

    assert sr.get_global_mode() == "READWRITE"
    assert sr.update_mode(subject, "READONLY") == "READONLY"
    assert sr.get_mode(subject) == "READONLY"
    with pytest.raises(SchemaRegistryError) as readonly:
        sr.register_schema(subject, _avro(READING_V2))
    assert (readonly.value.http_status_code, readonly.value.error_code) == (422, 42205)
    assert sr.delete_mode(subject) == "READONLY"
    assert sr.register_schema_full_response(subject, _avro(READING_V2)).version == 2


def test_references_and_subjects_with_a_slash(site: Site) -> None:
    """A reference's subject may be a path (as Protobuf imports name them): the client
    sends its ``/`` as ``%2F``."""
    sr = site.registry()
    tag = uuid.uuid4().hex[:8]
    location = {
        "type": "record",
        "name": "Location",
        "namespace": f"geo{tag}",
        "fields": [
            {"name": "lat", "type": "double"},
            {"name": "lon", "type": "double"},
        ],
    }
    ref_subject = f"geo{tag}/location.avsc"
    ref_id = sr.register_schema(ref_subject, _avro(location))
    assert ref_subject in sr.get_subjects()
    station = {
        "type": "record",
        "name": "Station",
        "fields": [{"name": "at", "type": f"geo{tag}.Location"}],
    }
    uses = [SchemaReference(f"geo{tag}.Location", ref_subject, 1)]
    subject = _subject()
    station_id = sr.register_schema(subject, Schema(json.dumps(station), "AVRO", uses))
    got = sr.get_version(subject, 1)
    assert [(r.name, r.subject, r.version) for r in got.schema.references] == [
        (f"geo{tag}.Location", ref_subject, 1)
    ]
    assert sr.get_referenced_by(ref_subject, 1) == [station_id]
    with pytest.raises(SchemaRegistryError) as used:
        sr.delete_version(ref_subject, 1)
    assert (used.value.http_status_code, used.value.error_code) == (422, 42206)
    assert sr.get_schema(ref_id).schema_type == "AVRO"
    raw = httpx.get(f"{site.url}/schemas/ids/{station_id}").json()
    assert raw["references"] == [
        {"name": f"geo{tag}.Location", "subject": ref_subject, "version": 1}
    ]


# --- serializers: the Kafka port one way, logway's API the other -----------------------


def _consume(bootstrap: str, topic: str, count: int) -> list[Any]:
    consumer = Consumer({"bootstrap.servers": bootstrap, "group.id": f"g-{uuid.uuid4().hex[:8]}"})
    consumer.assign([KafkaTP(topic, 0, 0)])
    got: list[Any] = []
    deadline = time.monotonic() + 60
    try:
        while len(got) < count and time.monotonic() < deadline:
            for message in consumer.consume(count - len(got), timeout=1):
                if message.error():
                    raise KafkaException(message.error())
                got.append(message)
    finally:
        consumer.close()
    assert len(got) == count, f"read {len(got)} of {count} records"
    return got


def test_avro_records_through_the_kafka_port_read_back_through_logway(site: Site) -> None:
    topic = f"readings-{uuid.uuid4().hex[:8]}"
    site.admin.create_topic(topic, 1)
    sr = site.registry()
    ctx = SerializationContext(topic, MessageField.VALUE)
    v1 = AvroSerializer(sr, json.dumps(READING))
    v2 = AvroSerializer(site.registry(), json.dumps(READING_V2))  # evolves the subject
    sent = [{"sensor": f"s{i}", "temp": 20.0 + i} for i in range(3)]
    sent2 = [{"sensor": "s9", "temp": 9.5, "unit": "F"}]
    producer = Producer({"bootstrap.servers": site.server.kafka})
    for value in sent:
        producer.produce(topic, v1(value, ctx), key=value["sensor"].encode())
    producer.produce(topic, v2(sent2[0], ctx))
    assert producer.flush(30) == 0

    records = site.admin.fetch(topic, 0, 0, 10)
    assert len(records) == 4
    ids = {int.from_bytes(r.value[1:5], "big") for r in records if r.value}
    assert ids == {sr.get_version(f"{topic}-value", n).schema_id for n in (1, 2)}
    reader = AvroDeserializer(site.registry())
    assert [reader(r.value, ctx) for r in records] == [*sent, *sent2]


def test_avro_records_written_through_logway_read_through_the_kafka_port(site: Site) -> None:
    topic = f"readings-{uuid.uuid4().hex[:8]}"
    site.admin.create_topic(topic, 1)
    ctx = SerializationContext(topic, MessageField.VALUE)
    writer = AvroSerializer(site.registry(), json.dumps(READING))
    sent = [{"sensor": f"s{i}", "temp": i / 4} for i in range(5)]
    for value in sent:
        site.admin.produce(topic, writer(value, ctx))
    reader = AvroDeserializer(site.registry())
    got = _consume(site.server.kafka, topic, len(sent))
    assert [reader(m.value(), ctx) for m in got] == sent
    assert site.registry().get_versions(f"{topic}-value") == [1]


def test_protobuf_records_through_the_kafka_port_read_back_through_logway(site: Site) -> None:
    from confluent_kafka.schema_registry.protobuf import ProtobufDeserializer, ProtobufSerializer

    sys.path.insert(0, str(ROOT / "examples" / "microblog"))
    from microblog.v1 import article_pb2 as pb

    topic = f"articles-{uuid.uuid4().hex[:8]}"
    site.admin.create_topic(topic, 1)
    ctx = SerializationContext(topic, MessageField.VALUE)
    writer = ProtobufSerializer(pb.Article, site.registry(), {"use.deprecated.format": False})
    sent = [pb.Article(id=str(i), title=f"t{i}", author="ada", created_at=i) for i in range(3)]
    producer = Producer({"bootstrap.servers": site.server.kafka})
    for article in sent:
        producer.produce(topic, writer(article, ctx))
    assert producer.flush(30) == 0

    records = site.admin.fetch(topic, 0, 0, 10)
    reader = ProtobufDeserializer(pb.Article, {"use.deprecated.format": False}, site.registry())
    assert [reader(r.value, ctx) for r in records] == sent
    registered = site.registry().get_latest_version(f"{topic}-value")
    assert registered.schema.schema_type == "PROTOBUF"
    assert "PROTOBUF" in httpx.get(f"{site.url}/schemas/types").json()


def test_json_schema_records_written_through_logway_read_through_the_kafka_port(
    site: Site,
) -> None:
    from confluent_kafka.schema_registry.json_schema import JSONDeserializer, JSONSerializer

    topic = f"orders-{uuid.uuid4().hex[:8]}"
    site.admin.create_topic(topic, 1)
    ctx = SerializationContext(topic, MessageField.VALUE)
    order = {
        "$schema": "http://json-schema.org/draft-07/schema#",
        "title": "Order",
        "type": "object",
        "properties": {"id": {"type": "integer"}, "item": {"type": "string"}},
        "required": ["id"],
    }
    writer = JSONSerializer(json.dumps(order), site.registry())
    sent = [{"id": i, "item": f"thing {i}"} for i in range(4)]
    for value in sent:
        site.admin.produce(topic, writer(value, ctx))
    reader = JSONDeserializer(None, schema_registry_client=site.registry())
    assert [reader(m.value(), ctx) for m in _consume(site.server.kafka, topic, 4)] == sent
    registered = site.registry().get_latest_version(f"{topic}-value")
    assert registered.schema.schema_type == "JSON"
    assert json.loads(registered.schema.schema_str) == order


# --- raw HTTP: Confluent's shapes and codes --------------------------------------------


def test_answers_are_confluents_json(site: Site) -> None:
    subject = _subject()
    url = site.url
    body = {"schema": json.dumps(READING)}
    for content_type in (MEDIA_TYPE, "application/json"):
        made = httpx.post(
            f"{url}/subjects/{subject}/versions",
            content=json.dumps(body),
            headers={"content-type": content_type},
        )
        assert made.status_code == 200, made.text
        assert made.headers["content-type"] == MEDIA_TYPE
        assert made.json()["id"] >= 1 and made.json()["version"] == 1
    got = httpx.get(f"{url}/subjects/{subject}/versions/latest").json()
    assert set(got) == {"subject", "version", "id", "schema"}  # no schemaType for AVRO
    by_id = httpx.get(f"{url}/schemas/ids/{got['id']}").json()
    assert set(by_id) == {"schema"} and json.loads(by_id["schema"]) == READING
    text = httpx.get(f"{url}/subjects/{subject}/versions/1/schema")
    assert text.headers["content-type"] == MEDIA_TYPE and json.loads(text.text) == READING
    assert json.loads(httpx.get(f"{url}/schemas/ids/{got['id']}/schema").text) == READING
    assert httpx.get(f"{url}/config").json() == {"compatibilityLevel": "BACKWARD"}
    assert httpx.get(f"{url}/mode").json() == {"mode": "READWRITE"}
    checked = httpx.post(f"{url}/compatibility/subjects/{subject}/versions/latest", json=body)
    assert checked.json() == {"is_compatible": True}
    doc = httpx.get(f"{site.server.http}/openapi.json").json()
    register = doc["paths"]["/schemas/subjects/{subject}/versions"]["post"]
    assert register["tags"] == ["schema registry"]
    assert MEDIA_TYPE in register["responses"]["409"]["content"]


def test_an_invalid_schema_is_refused_and_registers_nothing(site: Site) -> None:
    subject = _subject()
    site.registry().register_schema(_subject(), _avro(READING))  # the registry's topic is there
    written = site.admin.end_offsets("__logway_schemas")[0]
    for body, code in (
        ({"schema": '{"type": "record", "name": "R", "fields": [{"name": 1}]}'}, 42201),
        ({"schema": "{not json"}, 42201),
        ({"schema": json.dumps(READING), "schemaType": "XML"}, 42201),
        ({"schema": 5}, 422),
        ({}, 422),
    ):
        refused = httpx.post(f"{site.url}/subjects/{subject}/versions", json=body)
        assert refused.status_code == 422, refused.text
        assert refused.headers["content-type"] == MEDIA_TYPE
        assert refused.json()["error_code"] == code and refused.json()["message"]
    assert site.admin.end_offsets("__logway_schemas")[0] == written
    missing = httpx.get(f"{site.url}/subjects/{subject}/versions")
    assert (missing.status_code, missing.json()["error_code"]) == (404, 40401)


def test_an_incompatible_schema_is_refused_with_its_problems(site: Site) -> None:
    subject = _subject()
    url = site.url
    assert httpx.post(f"{url}/subjects/{subject}/versions", json={"schema": json.dumps(READING)})
    breaking = {"schema": json.dumps(BREAKING)}
    refused = httpx.post(f"{url}/subjects/{subject}/versions", json=breaking)
    assert refused.status_code == 409
    assert refused.json()["error_code"] == 409 and "sensor" in refused.json()["message"]
    assert httpx.get(f"{url}/subjects/{subject}/versions").json() == [1]

    for path in ("versions/latest", "versions/1", "versions"):
        told = httpx.post(
            f"{url}/compatibility/subjects/{subject}/{path}?verbose=true", json=breaking
        )
        assert told.status_code == 200, told.text
        assert told.json()["is_compatible"] is False
        assert any("sensor" in m for m in told.json()["messages"]), told.json()
        quiet = httpx.post(f"{url}/compatibility/subjects/{subject}/{path}", json=breaking)
        assert quiet.json() == {"is_compatible": False}
    invalid = {"schema": "{not json"}
    told = httpx.post(f"{url}/compatibility/subjects/{subject}/versions?verbose=true", json=invalid)
    assert told.json()["is_compatible"] is False and told.json()["messages"]
    refused = httpx.post(f"{url}/compatibility/subjects/{subject}/versions", json=invalid)
    assert (refused.status_code, refused.json()["error_code"]) == (422, 42201)


def test_not_found_and_invalid_requests_carry_confluents_codes(site: Site) -> None:
    subject = _subject()
    url = site.url
    schema = {"schema": json.dumps(READING)}
    registered = httpx.post(f"{url}/subjects/{subject}/versions", json=schema).json()

    def code(response: httpx.Response) -> tuple[int, int]:
        assert response.headers["content-type"] == MEDIA_TYPE, response.text
        return response.status_code, response.json()["error_code"]

    assert code(httpx.get(f"{url}/subjects/{_subject()}/versions/1")) == (404, 40401)
    assert code(httpx.get(f"{url}/subjects/{subject}/versions/7")) == (404, 40402)
    assert code(httpx.get(f"{url}/schemas/ids/999999")) == (404, 40403)
    assert code(httpx.post(f"{url}/subjects/{_subject()}", json=schema)) == (404, 40401)
    other = {"schema": json.dumps(READING_V2)}
    assert code(httpx.post(f"{url}/subjects/{subject}", json=other)) == (404, 40403)
    assert code(httpx.get(f"{url}/subjects/{subject}/versions/0")) == (422, 42202)
    assert code(httpx.get(f"{url}/subjects/{subject}/versions/one")) == (422, 42202)
    assert code(httpx.delete(f"{url}/subjects/{subject}/versions/1?permanent=true")) == (
        404,
        40407,
    )
    assert httpx.delete(f"{url}/subjects/{subject}/versions/1").json() == 1
    assert code(httpx.delete(f"{url}/subjects/{subject}/versions/1")) == (404, 40406)
    looked = httpx.post(f"{url}/subjects/{subject}?deleted=true", json=schema).json()
    assert looked["id"] == registered["id"] and looked["version"] == 1
    assert code(httpx.delete(f"{url}/subjects/{subject}")) == (404, 40404)  # nothing live
    assert code(httpx.get(f"{url}/config/{subject}")) == (404, 40408)
    assert httpx.get(f"{url}/config/{subject}?defaultToGlobal=true").json() == {
        "compatibilityLevel": "BACKWARD"
    }
    assert code(httpx.get(f"{url}/mode/{subject}")) == (404, 40409)
    assert code(httpx.put(f"{url}/config/{subject}", json={"compatibility": "SOMETIMES"})) == (
        422,
        42203,
    )
    assert code(httpx.put(f"{url}/mode/{subject}", json={"mode": "SLEEPY"})) == (422, 42204)
    assert code(httpx.get(f"{url}/subjects/{subject}/versions?deleted=maybe")) == (422, 422)
    assert code(httpx.get(f"{url}/no/such/thing")) == (404, 404)
    assert code(httpx.patch(f"{url}/subjects")) == (405, 405)


def _code(response: httpx.Response) -> tuple[int, int]:
    assert response.headers["content-type"] == MEDIA_TYPE, response.text
    return response.status_code, response.json()["error_code"]


def test_soft_deleted_versions_in_deletes_lookups_and_lists_by_id(site: Site) -> None:
    """As Confluent: ``latest`` in a delete is the latest live version; a lookup under
    a subject with no live version is 40401 (its versions with ``deleted=true``); the
    lists by id show soft-deleted holders with ``deleted=true``."""
    subject, other = _subject(), _subject()
    url = site.url
    name = f"R{uuid.uuid4().hex[:8]}"  # a schema no other test registers
    body = {"schema": json.dumps({**READING, "name": name})}
    schema_id = httpx.post(f"{url}/subjects/{subject}/versions", json=body).json()["id"]
    assert httpx.post(f"{url}/subjects/{other}/versions", json=body).json()["id"] == schema_id
    v2 = {"schema": json.dumps({**READING_V2, "name": name})}
    assert httpx.post(f"{url}/subjects/{subject}/versions", json=v2).json()["version"] == 2

    assert httpx.delete(f"{url}/subjects/{subject}/versions/2").json() == 2
    assert httpx.delete(f"{url}/subjects/{subject}/versions/latest").json() == 1  # not 2
    assert _code(httpx.delete(f"{url}/subjects/{subject}/versions/-1")) == (404, 40402)
    assert httpx.get(f"{url}/subjects/{subject}/versions?deleted=true").json() == [1, 2]

    assert _code(httpx.post(f"{url}/subjects/{subject}", json=body)) == (404, 40401)
    looked = httpx.post(f"{url}/subjects/{subject}?deleted=true", json=body).json()
    assert (looked["id"], looked["version"]) == (schema_id, 1)

    ids = f"{url}/schemas/ids/{schema_id}"
    assert httpx.get(f"{ids}/versions").json() == [{"subject": other, "version": 1}]
    assert httpx.get(f"{ids}/subjects").json() == [other]
    both = sorted([subject, other])
    listed = httpx.get(f"{ids}/versions", params={"deleted": "true"}).json()
    assert listed == [{"subject": s, "version": 1} for s in both]
    assert httpx.get(f"{ids}/subjects", params={"deleted": "true"}).json() == both
    only = httpx.get(f"{ids}/versions", params={"deleted": "true", "subject": subject}).json()
    assert only == [{"subject": subject, "version": 1}]
    assert _code(httpx.get(f"{url}/schemas/ids/999999/versions?deleted=true")) == (404, 40403)


ORDER_PROTO = """syntax = "proto3";
package shop.v1;

// An order, with its items by id.
message Order {
  string id = 1;
  map<string, Item> items_by_id = 2;
  optional string note = 3;

  message Item {
    string sku = 1;
  }
}

message Refund {
  string order_id = 1;
}
"""


def test_a_protobuf_schema_registered_as_text_is_served_serialized(site: Site) -> None:
    """``format=serialized`` (Confluent's ``formattedString``) gives a Protobuf schema
    as the base64 of its FileDescriptorProto though it was registered as .proto text;
    no format, or one the type does not have, gives the text as registered."""
    subject = _subject()
    url = site.url
    body = {"schema": ORDER_PROTO, "schemaType": "PROTOBUF"}
    made = httpx.post(f"{url}/subjects/{subject}/versions", json=body)
    assert made.status_code == 200, made.text
    schema_id = made.json()["id"]

    served = httpx.get(f"{url}/schemas/ids/{schema_id}", params={"format": "serialized"})
    assert served.status_code == 200, served.text
    assert served.json()["schemaType"] == "PROTOBUF"
    encoded = served.json()["schema"]
    proto = descriptor_pb2.FileDescriptorProto.FromString(base64.b64decode(encoded))
    assert (proto.package, proto.syntax) == ("shop.v1", "proto3")
    assert [m.name for m in proto.message_type] == ["Order", "Refund"]
    order = proto.message_type[0]
    assert [f.name for f in order.field] == ["id", "items_by_id", "note"]
    assert sorted(m.name for m in order.nested_type) == ["Item", "ItemsByIdEntry"]
    items = order.field[1]
    assert items.type_name == ".shop.v1.Order.ItemsByIdEntry"
    assert items.label == descriptor_pb2.FieldDescriptorProto.LABEL_REPEATED
    assert order.field[2].proto3_optional and [o.name for o in order.oneof_decl] == ["_note"]
    # protobuf itself builds it
    pool = descriptor_pool.DescriptorPool()
    pool.Add(proto)
    assert pool.FindMessageTypeByName("shop.v1.Order.Item").fields_by_name["sku"].number == 1

    version = httpx.get(f"{url}/subjects/{subject}/versions/1", params={"format": "serialized"})
    assert version.json()["schema"] == encoded
    text = httpx.get(f"{url}/schemas/ids/{schema_id}/schema", params={"format": "SERIALIZED"})
    assert text.text == encoded
    for fmt in ("", "default", "no-such-format"):
        plain = httpx.get(f"{url}/schemas/ids/{schema_id}", params={"format": fmt})
        assert plain.json()["schema"] == ORDER_PROTO, fmt
    # the serialized form is the same schema: a lookup with it finds the version
    found = site.registry().lookup_schema(subject, Schema(encoded, "PROTOBUF"))
    assert (found.schema_id, found.version) == (schema_id, 1)


# --- with --auth -------------------------------------------------------------------


PASSWORD = "Sup3r-secret-pw"


@dataclass
class Door:
    server: LogwayServer
    admin: Broker
    tokens: dict[str, str]

    @property
    def url(self) -> str:
        return f"{self.server.http}/schemas"

    def registry(self, user: str | None) -> SchemaRegistryClient:
        conf: dict[str, Any] = {"url": self.url, "max.retries": 0}
        if user is not None:
            conf["basic.auth.user.info"] = f"{user}:{PASSWORD}"
        return SchemaRegistryClient(conf)

    def stored(self) -> SchemaRegistry:
        return SchemaRegistry(self.admin)


@pytest.fixture(scope="module")
def door(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Door]:
    data: Path = tmp_path_factory.mktemp("registry-auth") / "data"
    # users and ACLs stored before the server starts: it reads them all as it starts
    # (a sign-in racing the server's periodic re-read of new users can be refused)
    with logway.connect(f"file:{data}") as setup:
        store = AuthStore(setup)
        for user in ("ada", "bob", "carol", "ops", "eve"):
            store.add_user(user, PASSWORD)
        # ada produces orders: writes and reads their subjects, changes their level
        for op in ("write", "read", "alter_configs"):
            store.add_acl(Acl.of("User:ada", op, "schema_subject", "orders-", "prefixed"))
        store.add_acl(Acl.of("User:carol", "read", "schema_subject", "orders-", "prefixed"))
        store.add_acl(Acl.of("User:ops", "describe", "cluster", "cluster"))
        store.add_acl(Acl.of("User:ops", "alter_configs", "cluster", "cluster"))
        store.add_acl(Acl.of("User:eve", "alter_configs", "schema_subject", "*"))  # every subject
        tokens = {"bob": store.create_token("ci", "bob")}
    server = LogwayServer(data, "--auth")
    server.start()
    admin = logway.connect(f"file:{data}")
    try:
        yield Door(server, admin, tokens)
    finally:
        admin.close()
        assert server.stop() == 0, "".join(server.output)


def test_without_an_acl_on_the_subject_nothing_is_registered(door: Door) -> None:
    subject = f"orders-{uuid.uuid4().hex[:8]}-value"
    schema = _avro(READING)
    for user in ("bob", "carol"):  # carol may read orders' subjects, not write them
        with pytest.raises(SchemaRegistryError) as refused:
            door.registry(user).register_schema(subject, schema)
        assert (refused.value.http_status_code, refused.value.error_code) == (403, 40301)
    with client(door.server.http) as http:
        nobody = http.post(f"/schemas/subjects/{subject}/versions", json={"schema": "{}"})
        assert nobody.status_code == 401 and nobody.json()["error_code"] == 40101
        assert "Bearer" in nobody.headers["www-authenticate"]
        bearer = {"authorization": f"Bearer {door.tokens['bob']}"}
        token = http.post(
            f"/schemas/subjects/{subject}/versions",
            json={"schema": json.dumps(READING)},
            headers=bearer,
        )
        assert token.status_code == 403 and token.json()["error_code"] == 40301
        assert token.headers["content-type"] == MEDIA_TYPE
    assert subject not in door.stored().subjects(deleted=True)

    # allowed: ada registers through her serializer; carol, a reader, deserializes
    ctx = SerializationContext(subject.removesuffix("-value"), MessageField.VALUE)
    data = AvroSerializer(door.registry("ada"), json.dumps(READING))(
        {"sensor": "a", "temp": 1.0}, ctx
    )
    assert door.stored().get(subject).id == int.from_bytes(data[1:5], "big")
    assert AvroDeserializer(door.registry("carol"))(data, ctx) == {"sensor": "a", "temp": 1.0}


def test_reads_lists_and_settings_follow_the_acls(door: Door) -> None:
    tag = uuid.uuid4().hex[:8]
    hidden, key = f"payments-{tag}-value", f"orders-{tag}-key"
    hidden_id = door.stored().register(hidden, json.dumps(READING_V2)).id
    ada, bob, carol, ops = (door.registry(u) for u in ("ada", "bob", "carol", "ops"))
    key_id = ada.register_schema(key, Schema('"string"', "AVRO"))

    assert hidden not in ada.get_subjects() and key in ada.get_subjects()
    assert hidden not in ops.get_subjects()  # the list: subjects one may describe
    assert bob.get_subjects() == []
    assert ops.get_schema(hidden_id).schema_type == "AVRO"  # describe on the cluster
    assert carol.get_schema(key_id).schema_str == '"string"'  # read on a subject holding it
    for who, schema_id in ((ada, hidden_id), (bob, key_id), (carol, 999_999)):
        with pytest.raises(SchemaRegistryError) as refused:
            who.get_schema(schema_id)
        assert refused.value.http_status_code == 403  # an unknown id too: not "not found"
    with pytest.raises(SchemaRegistryError) as reading:
        bob.get_latest_version(key)
    assert reading.value.http_status_code == 403
    assert carol.get_latest_version(key).schema_id == key_id

    assert ada.set_compatibility(key, "NONE") == {"compatibility": "NONE"}
    with pytest.raises(SchemaRegistryError) as global_level:
        ada.set_compatibility(level="NONE")
    assert global_level.value.http_status_code == 403
    with pytest.raises(SchemaRegistryError) as subject_level:
        carol.set_compatibility(key, "FULL")
    assert subject_level.value.http_status_code == 403
    assert ops.set_compatibility(level="FULL") == {"compatibility": "FULL"}
    assert ops.delete_config().compatibility_level.value == "FULL"
    # the empty subject is the global one (Confluent's default context): the cluster's
    eve = door.registry("eve")
    assert eve.set_compatibility(key, "FORWARD") == {"compatibility": "FORWARD"}
    with client(door.server.http) as http:
        for path in ("config", "config/", "mode/"):
            body = {"compatibility": "NONE", "mode": "READONLY"}
            refused = http.put(f"/schemas/{path}", json=body, auth=("eve", PASSWORD))
            assert (refused.status_code, refused.json()["error_code"]) == (403, 40301), path
    assert door.stored().compatibility() == "BACKWARD" and door.stored().mode() == "READWRITE"

    with pytest.raises(SchemaRegistryError) as deleting:
        ada.delete_subject(key)
    assert deleting.value.http_status_code == 403
    assert door.stored().versions(key) == [1]
