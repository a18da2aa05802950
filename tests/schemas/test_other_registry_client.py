"""``python-schema-registry-client`` (a registry client logway did not write) against a
real ``logway serve``'s ``/schemas``: registering, reading by id and by version,
compatibility, deletes, and its Avro and JSON serializers' records read by logway
(and logway's read by them) through a topic that enforces its schema."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from schema_registry.client import SchemaRegistryClient, schema
from schema_registry.serializers import AvroMessageSerializer, JsonMessageSerializer

from logway.errors import InvalidRecordError
from tests.schemas.site import Site, running

pytestmark = pytest.mark.slow

READING = {
    "type": "record",
    "name": "Reading",
    "fields": [{"name": "device", "type": "string"}, {"name": "temp", "type": "double"}],
}
READING_V2 = {
    **READING,
    "fields": [*READING["fields"], {"name": "unit", "type": "string", "default": "C"}],
}
BREAKING = {**READING, "fields": [{"name": "device", "type": "long"}]}
ORDER = {
    "$schema": "http://json-schema.org/draft-07/schema#",
    "type": "object",
    "properties": {"id": {"type": "integer"}},
    "required": ["id"],
}


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Site]:
    with running(tmp_path_factory.mktemp("other-client") / "data") as site:
        yield site


def test_the_client_registers_reads_checks_and_deletes(site: Site) -> None:
    client = SchemaRegistryClient(site.url)
    first = client.register("psrc-value", schema.AvroSchema(READING))
    assert client.register("psrc-value", schema.AvroSchema(READING)) == first  # same id
    assert client.get_by_id(first).schema == schema.AvroSchema(READING).schema
    assert client.test_compatibility("psrc-value", schema.AvroSchema(READING_V2)) is True
    assert client.test_compatibility("psrc-value", schema.AvroSchema(BREAKING)) is False
    second = client.register("psrc-value", schema.AvroSchema(READING_V2))
    assert second != first
    assert client.get_versions("psrc-value") == [1, 2]
    latest = client.get_schema("psrc-value")
    assert latest is not None and latest.version == 2 and latest.schema_id == second
    assert client.get_compatibility() == "BACKWARD"
    assert "psrc-value" in client.get_subjects()
    assert client.delete_version("psrc-value", 2) == 2
    assert client.get_versions("psrc-value") == [1]
    assert site.admin.schemas.versions("psrc-value") == [1]  # the registry in the log


def test_its_serializers_and_logway_read_each_others_records(site: Site) -> None:
    client = SchemaRegistryClient(site.url)
    admin = site.admin
    admin.create_topic("psrc-readings", value_schema="psrc-readings-value")
    admin.create_topic("psrc-orders", value_schema="psrc-orders-value")
    avro = AvroMessageSerializer(client)
    framed = avro.encode_record_with_schema(
        "psrc-readings-value", schema.AvroSchema(READING), {"device": "d1", "temp": 20.5}
    )
    admin.produce("psrc-readings", framed)  # enforced: accepted as data of the subject
    (record,) = admin.fetch("psrc-readings", 0, 0)
    assert record.decode(schemas=admin.schemas) == {"device": "d1", "temp": 20.5}
    ours = admin.schemas.encode("psrc-readings-value", {"device": "d2", "temp": 1.0})
    assert avro.decode_message(ours) == {"device": "d2", "temp": 1.0}

    as_json = JsonMessageSerializer(client)
    order = as_json.encode_record_with_schema(
        "psrc-orders-value", schema.JsonSchema(ORDER), {"id": 7}
    )
    admin.produce("psrc-orders", order)
    assert admin.schemas.decode(admin.fetch("psrc-orders", 0, 0)[0].value) == {"id": 7}
    with pytest.raises(InvalidRecordError, match="does not match the JSON schema"):
        admin.produce("psrc-orders", order[:5] + b'{"id": "seven"}')
    assert admin.end_offsets("psrc-orders") == {0: 1}
