"""``kafka://...?schema.registry.url=URL``: ``broker.schemas`` is the registry at that
URL over Confluent's REST API — here a real ``logway serve``, whose Kafka port is the
cluster and whose ``/schemas`` is the registry — with the same API and errors as the
registry in the log: typed produce registers there, records decode by the id they
carry, and what Confluent's own client reads is what was registered."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import quote

import pytest

import logway
from logway.errors import IncompatibleSchemaError, InvalidSchemaError, SchemaNotFoundError
from logway.schemas.typed import RemoteSchemas
from tests.schemas.site import Site, running

sys.path.insert(0, str(Path(__file__).parents[2] / "examples" / "microblog"))
from microblog.v1 import article_pb2 as pb

pytestmark = pytest.mark.slow

READING = '{"type": "record", "name": "R", "fields": [{"name": "t", "type": "double"}]}'
BREAKING = '{"type": "record", "name": "R", "fields": [{"name": "t", "type": "string"}]}'


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Site]:
    with running(tmp_path_factory.mktemp("registry-url") / "data") as site:
        yield site


@pytest.fixture
def kafka(site: Site) -> Iterator[logway.Broker]:
    url = f"kafka://{site.server.kafka}?schema.registry.url={quote(site.url, safe='')}"
    with logway.connect(url, session_timeout_ms=6000) as broker:
        yield broker


def test_typed_records_on_kafka_use_the_registry_at_the_url(
    site: Site, kafka: logway.Broker
) -> None:
    assert isinstance(kafka.schemas, RemoteSchemas)
    kafka.create_topic("articles-k")
    kafka.produce("articles-k", pb.Article(id="a1", title="hello", author="ada"))
    kafka.produce("articles-k", pb.Article(id="a2", title="again", author="ada"))
    registered = site.registry().get_latest_version("articles-k-value")
    assert registered.version == 1  # the second produce found the first's version
    assert site.admin.schemas.get("articles-k-value").id == registered.schema_id
    records = kafka.fetch("articles-k", 0, 0)
    assert [r.decode(pb.Article).title for r in records] == ["hello", "again"]
    assert kafka.schemas.decode(records[0].value).id == "a1"  # by the id it carries


def test_the_api_and_its_errors_are_the_logs_registrys(kafka: logway.Broker) -> None:
    registry = kafka.schemas
    made = registry.register("readings-url", READING, "AVRO")
    assert registry.versions("readings-url") == [1]
    assert registry.get("readings-url").id == made.id
    assert registry.by_id(made.id).schema_type == "AVRO"
    assert registry.check("readings-url", BREAKING, "AVRO")
    with pytest.raises(IncompatibleSchemaError):
        registry.register("readings-url", BREAKING, "AVRO")
    with pytest.raises(InvalidSchemaError):
        registry.register("readings-url", "{not a schema", "AVRO")
    with pytest.raises(SchemaNotFoundError):
        registry.get("no-such-subject")
    assert registry.versions("readings-url") == [1]
    data = registry.encode("readings-url", {"t": 1.5})
    assert registry.decode(data) == {"t": 1.5}
    assert registry.set_compatibility("NONE", "readings-url") == "NONE"
    assert registry.compatibility("readings-url") == "NONE"


def test_the_remote_backend_uses_the_servers_registry_api_when_told(site: Site) -> None:
    with logway.connect(site.server.url, schema_registry_url=site.url) as remote:
        assert isinstance(remote.schemas, RemoteSchemas)
        remote.create_topic("articles-r", value_schema="articles-r-value")
        remote.produce("articles-r", pb.Article(id="r1", title="over grpc"))
        with pytest.raises(logway.errors.InvalidRecordError):
            remote.produce("articles-r", b"raw")
        (record,) = remote.fetch("articles-r", 0, 0)
        assert record.decode(pb.Article).title == "over grpc"
    assert site.admin.schemas.versions("articles-r-value") == [1]
