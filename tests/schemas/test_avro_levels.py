"""Avro under every compatibility level, on three-version chains where a transitive
level differs from its plain one: the new version is compatible with the latest but
not with the first. Registering goes through or is refused naming the field."""

from __future__ import annotations

import json
from collections.abc import Iterator

import pytest

import logway
from logway.errors import IncompatibleSchemaError
from logway.schemas import SchemaRegistry


def _record(*fields: dict[str, object]) -> str:
    return json.dumps({"type": "record", "name": "R", "fields": list(fields)})


A = {"name": "a", "type": "string"}
B_DEFAULT = {"name": "b", "type": "int", "default": 0}
B = {"name": "b", "type": "int"}
C = {"name": "c", "type": "int"}
C_DEFAULT = {"name": "c", "type": "int", "default": 0}
# new readers need a default for b to read v1's data: fine against v2, not against v1
BACKWARD_CHAIN = (_record(A), _record(A, B_DEFAULT), _record(A, B))
# v1's readers need c, which v3 drops: fine for v2's readers (a default), not for v1's
FORWARD_CHAIN = (_record(A, C), _record(A, C_DEFAULT), _record(A))
V1_NEEDS_B = "version 1, reading its data (backward): R.b"
V1_NEEDS_C = "version 1, read with it (forward): R.c"


@pytest.fixture
def registry() -> Iterator[SchemaRegistry]:
    with logway.connect("memory:") as broker:
        yield SchemaRegistry(broker)


@pytest.mark.parametrize(
    ("level", "chain", "accepted", "named"),
    [
        ("NONE", BACKWARD_CHAIN, True, ""),
        ("BACKWARD", BACKWARD_CHAIN, True, ""),
        ("BACKWARD_TRANSITIVE", BACKWARD_CHAIN, False, V1_NEEDS_B),
        ("FULL", BACKWARD_CHAIN, True, ""),
        ("FULL_TRANSITIVE", BACKWARD_CHAIN, False, V1_NEEDS_B),
        ("FORWARD", FORWARD_CHAIN, True, ""),
        ("FORWARD_TRANSITIVE", FORWARD_CHAIN, False, V1_NEEDS_C),
        ("BACKWARD", FORWARD_CHAIN, True, ""),
        ("FORWARD", BACKWARD_CHAIN, True, ""),
    ],
)
def test_transitive_levels_check_every_version(
    registry: SchemaRegistry, level: str, chain: tuple[str, str, str], accepted: bool, named: str
) -> None:
    v1, v2, v3 = chain
    registry.set_compatibility("NONE", "s")
    registry.register("s", v1, "AVRO")
    registry.register("s", v2, "AVRO")
    registry.set_compatibility(level, "s")
    if accepted:
        assert registry.register("s", v3, "AVRO").version == 3
        return
    with pytest.raises(IncompatibleSchemaError) as refused:
        registry.register("s", v3, "AVRO")
    assert any(p.startswith(named) for p in refused.value.problems), refused.value.problems
    assert registry.versions("s") == [1, 2]
