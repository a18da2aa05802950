"""The schema registry is written once against ``Broker``: subjects, versions, ids,
compatibility levels and deletes kept in ``__logway_schemas`` work, and last, on
every backend."""

from __future__ import annotations

import json

import pytest

from logway.errors import (
    IncompatibleSchemaError,
    InvalidSchemaError,
    SchemaNotFoundError,
    SchemaStateError,
)
from logway.schemas import SCHEMAS_TOPIC, SchemaRegistry
from tests.conformance.conftest import BrokerFactory


def record(*fields: tuple[str, str, object]) -> str:
    """An Avro record schema ``Reading`` with fields (name, type, default or ...)."""
    out = []
    for name, kind, default in fields:
        field: dict[str, object] = {"name": name, "type": kind}
        if default is not ...:
            field["default"] = default
        out.append(field)
    return json.dumps({"type": "record", "name": "Reading", "fields": out})


V1 = record(("device", "string", ...), ("temp", "double", ...))
V2 = record(("device", "string", ...), ("temp", "double", ...), ("unit", "string", "C"))
BREAKING = record(("device", "string", ...), ("temp", "double", ...), ("unit", "string", ...))


def test_versions_ids_and_compatibility_are_kept_in_the_log(open_broker: BrokerFactory) -> None:
    broker = open_broker()
    registry = SchemaRegistry(broker)
    first = registry.register("readings-value", V1)
    assert (first.version, first.id, first.schema_type) == (1, 1, "AVRO")
    spaced = json.dumps(json.loads(V1), indent=2)  # the same schema, laid out otherwise
    assert registry.register("readings-value", spaced) == first
    assert registry.register("other-value", V1).id == first.id  # one schema, one id

    written = broker.end_offsets(SCHEMAS_TOPIC)[0]
    with pytest.raises(IncompatibleSchemaError) as refused:
        registry.register("readings-value", BREAKING)  # BACKWARD: no default for "unit"
    assert refused.value.problems and "unit" in " ".join(refused.value.problems)
    with pytest.raises(InvalidSchemaError):
        registry.register("readings-value", '{"type": "record", "name": 1}')
    with pytest.raises(InvalidSchemaError):
        registry.register("readings-value", V1, schema_type="XML")
    assert broker.end_offsets(SCHEMAS_TOPIC)[0] == written  # nothing stored

    second = registry.register("readings-value", V2)
    assert (second.version, second.id) == (2, 2)

    again = SchemaRegistry(open_broker())  # another connection replays the topic
    assert again.subjects() == ["other-value", "readings-value"]
    assert again.versions("readings-value") == [1, 2]
    assert again.get("readings-value", "latest").id == 2
    assert again.by_id(1).schema == V1
    assert again.lookup("readings-value", spaced).version == 1
    assert again.uses(1) == [("other-value", 1), ("readings-value", 1)]
    assert again.compatibility("readings-value") == "BACKWARD"


def test_levels_deletes_and_modes(open_broker: BrokerFactory) -> None:
    registry = SchemaRegistry(open_broker())
    registry.register("r", V1)
    registry.set_compatibility("NONE", "r")
    assert registry.register("r", BREAKING).version == 2  # NONE asks nothing
    registry.set_compatibility("FORWARD", "r")
    assert registry.check("r", V2) == []  # readers of v2 read data written with it
    assert "unit" in " ".join(registry.check("r", V1))  # but v1 data lacks "unit"
    assert registry.compatibility() == "BACKWARD"  # the global level is untouched
    with pytest.raises(SchemaNotFoundError) as missing:
        registry.compatibility("s", default_to_global=False)
    assert missing.value.error_code == 40408

    with pytest.raises(SchemaStateError) as early:
        registry.delete_version("r", 1, permanent=True)
    assert early.value.error_code == 40407
    assert registry.delete_version("r", 1) == 1
    assert registry.versions("r") == [2]
    assert registry.versions("r", deleted=True) == [1, 2]
    assert registry.by_id(1).deleted  # a soft-deleted version's id stays readable
    registry.delete_version("r", 1, permanent=True)
    assert registry.versions("r", deleted=True) == [2]

    registry.set_mode("READONLY", "r")
    with pytest.raises(SchemaStateError) as readonly:
        registry.register("r", V2)
    assert readonly.value.error_code == 42205
    registry.set_mode("READWRITE", "r")
    assert registry.delete_subject("r") == [2]
    with pytest.raises(SchemaNotFoundError) as gone:
        registry.get("r")
    assert gone.value.error_code == 40401
    assert registry.delete_subject("r", permanent=True) == [2]
    assert registry.subjects(deleted=True) == []


def test_soft_deleted_versions_in_lookups_latest_deletes_and_uses(
    open_broker: BrokerFactory,
) -> None:
    """As Confluent: a subject whose versions are all soft-deleted is not found by a
    lookup (40401) unless it asks for deleted ones; "latest" (and -1) in a delete is
    the latest *live* version; ``uses(deleted=True)`` lists soft-deleted holders too."""
    registry = SchemaRegistry(open_broker())
    registry.register("gone", V1)
    registry.delete_subject("gone")
    with pytest.raises(SchemaNotFoundError) as missing:
        registry.lookup("gone", V1)
    assert missing.value.error_code == 40401
    assert registry.lookup("gone", V1, deleted=True).version == 1
    registry.register("live", V2)
    with pytest.raises(SchemaNotFoundError) as other:
        registry.lookup("live", V1)  # the subject is there: the schema is not
    assert other.value.error_code == 40403

    registry.set_compatibility("NONE", "r")
    for schema in (V1, V2, BREAKING):
        registry.register("r", schema)
    assert registry.delete_version("r", 3) == 3
    assert registry.delete_version("r", "latest") == 2  # not 3, soft-deleted already
    assert registry.delete_version("r", -1) == 1
    assert registry.versions("r", deleted=True) == [1, 2, 3]
    for latest in ("latest", -1, "-1"):
        with pytest.raises(SchemaNotFoundError) as none_live:
            registry.delete_version("r", latest)
        assert none_live.value.error_code == 40402  # versions, none of them live
    with pytest.raises(SchemaNotFoundError) as no_subject:
        registry.delete_version("nothing", "latest")
    assert no_subject.value.error_code == 40401

    v1 = registry.by_id(1)
    assert v1.schema == V1
    assert registry.uses(1) == []  # "gone" and "r" hold it, soft-deleted
    assert registry.uses(1, deleted=True) == [("gone", 1), ("r", 1)]
    assert registry.uses(registry.get("live", 1).id, deleted=True) == [("live", 1), ("r", 2)]
    assert registry.uses(registry.get("live", 1).id) == [("live", 1)]
    with pytest.raises(SchemaNotFoundError) as unknown:
        registry.uses(999, deleted=True)
    assert unknown.value.error_code == 40403


def test_latest_with_deleted_is_the_latest_live_version(open_broker: BrokerFactory) -> None:
    """As Confluent's ``get(subject, -1, true)``: "latest" (and -1) is the latest *live*
    version even when soft-deleted ones are asked for; 40402 when none is live."""
    registry = SchemaRegistry(open_broker())
    registry.set_compatibility("NONE", "r")
    for schema in (V1, V2, BREAKING):
        registry.register("r", schema)
    registry.delete_version("r", 3)
    for latest in ("latest", -1, "-1"):
        assert registry.get("r", latest, deleted=True).version == 2
        assert registry.get("r", latest).version == 2
    assert registry.get("r", 3, deleted=True).deleted  # a number still finds it
    registry.delete_version("r", 2)
    registry.delete_version("r", 1)
    for latest in ("latest", -1, "-1"):
        with pytest.raises(SchemaNotFoundError) as none_live:
            registry.get("r", latest, deleted=True)
        assert none_live.value.error_code == 40402
    with pytest.raises(SchemaNotFoundError) as no_subject:
        registry.get("nothing", "latest", deleted=True)
    assert no_subject.value.error_code == 40401
