"""JSON Schema in the registry (``logway.schemas.jsonschema``): parsing with the
jsonschema library, canonical text, and Confluent Schema Registry's compatibility
rules for JSON Schema, case by case and through ``SchemaRegistry``."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from typing import Any

import pytest

import logway
from logway.errors import IncompatibleSchemaError, InvalidSchemaError
from logway.schemas import SchemaRegistry
from logway.schemas.jsonschema import KIND, JsonSchemaKind, ParsedJsonSchema


def parse(schema: Any, references: dict[str, Any] | None = None) -> ParsedJsonSchema:
    text = schema if isinstance(schema, str) else json.dumps(schema)
    return KIND.parse(text, {k: json.dumps(v) for k, v in (references or {}).items()})


def backward(old: Any, new: Any, kind: JsonSchemaKind = KIND) -> list[str]:
    """What keeps readers of ``new`` from data written with ``old`` (BACKWARD)."""
    return kind.problems(parse(new), parse(old))


def found(problems: list[str]) -> set[str]:
    """Each problem line as "<path> <TYPE>"."""
    out = set()
    for line in problems:
        match = re.fullmatch(r"(#/\S*): .+ \(([A-Z_]+)\)", line)
        assert match, line
        out.add(f"{match[1]} {match[2]}")
    return out


# --- parsing ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("schema", "draft"),
    [
        ({"type": "object", "properties": {"a": {"type": "string"}}}, "draft-07"),
        (True, "draft-07"),
        (
            {
                "$schema": "http://json-schema.org/draft-04/schema#",
                "maximum": 3,
                "exclusiveMaximum": True,
            },
            "draft-04",
        ),
        ({"$schema": "http://json-schema.org/draft-06/schema#", "const": 1}, "draft-06"),
        ({"$schema": "https://json-schema.org/draft-07/schema#", "type": "string"}, "draft-07"),
        ({"$schema": "https://json-schema.org/draft/2019-09/schema", "minContains": 1}, "2019-09"),
        (
            {"$schema": "https://json-schema.org/draft/2020-12/schema", "prefixItems": [{}]},
            "2020-12",
        ),
        ({"$schema": "http://example.com/unknown", "type": "string"}, "draft-07"),
    ],
)
def test_a_schema_parses_under_the_draft_it_names(schema: Any, draft: str) -> None:
    assert parse(schema).draft == draft


@pytest.mark.parametrize(
    ("text", "says"),
    [
        ('{"type": "object",', "is not JSON"),
        ('{"maximum": NaN}', "is not JSON"),
        ("[]", "its root is an array"),
        ('"string"', "its root is a string"),
        ('{"type": 12}', "at #/type"),
        ('{"properties": {"a": {"minLength": -1}}}', "at #/properties/a/minLength"),
        ('{"exclusiveMaximum": true}', "(draft-07): at #/exclusiveMaximum"),  # a number since 6
        ('{"pattern": "("}', "at #/pattern"),
        ('{"required": "a"}', "at #/required"),
    ],
)
def test_text_that_is_not_a_schema_is_refused_saying_where(text: str, says: str) -> None:
    with pytest.raises(InvalidSchemaError) as refused:
        KIND.parse(text, {})
    assert says in str(refused.value)
    assert refused.value.error_code == 42201


def test_a_ref_that_resolves_to_nothing_is_refused() -> None:
    with pytest.raises(InvalidSchemaError) as refused:
        parse({"properties": {"a": {"$ref": "address.json"}}})
    message = str(refused.value)
    assert "'address.json' at #/properties/a" in message and "reference named" in message
    with pytest.raises(InvalidSchemaError) as refused:
        parse({"definitions": {"a": {"$ref": "#/definitions/b"}}})  # unused definitions too
    assert "'#/definitions/b' at #/definitions/a points to nothing" in str(refused.value)
    with pytest.raises(InvalidSchemaError) as refused:
        parse(
            {"$ref": "address.json"},
            {"address.json": {"properties": {"c": {"$ref": "other.json"}}}},
        )
    assert "reference 'address.json': $ref 'other.json' at #/properties/c" in str(refused.value)


def test_references_resolve_by_name_for_validation_and_comparison() -> None:
    address = {
        "type": "object",
        "properties": {"country": {"$ref": "country.json#/definitions/code"}},
    }
    country = {"definitions": {"code": {"type": "string", "maxLength": 2}}}
    customer = {"type": "object", "properties": {"address": {"$ref": "address.json"}}}
    parsed = parse(customer, {"address.json": address, "country.json": country})
    assert parsed.validator.is_valid({"address": {"country": "NL"}})
    assert not parsed.validator.is_valid({"address": {"country": "NLD"}})
    # a schema with an $id names its references relative to it, as Confluent registers them
    with_id = {"$id": "https://example.com/schemas/customer.json", **customer}
    assert parse(with_id, {"address.json": address, "country.json": country}).validator.is_valid(
        {"address": {"country": "NL"}}
    )
    # a meta-schema needs no reference
    assert parse({"$ref": "http://json-schema.org/draft-07/schema#"}).validator.is_valid(
        {"type": "string"}
    )


# --- canonical text ------------------------------------------------------------------


def test_canonical_text_ignores_layout_and_key_order() -> None:
    one = KIND.canonical(
        parse('{"type": "object", "properties": {"b": {}, "a": {"type": "string"}}}'), False
    )
    other = KIND.canonical(
        parse('{\n  "properties": {"a": {"type": "string"}, "b": {}},\n  "type": "object"\n}'),
        False,
    )
    assert one == other == '{"properties":{"a":{"type":"string"},"b":{}},"type":"object"}'
    assert KIND.canonical(parse(one), True) == one  # Confluent normalizes only key order
    # arrays keep their order, as in Confluent: these are two schemas
    first = KIND.canonical(parse({"required": ["a", "b"]}), True)
    assert first != KIND.canonical(parse({"required": ["b", "a"]}), True)
    assert KIND.canonical(parse({"title": "café"}), False) == '{"title":"café"}'


# --- compatibility, case by case -------------------------------------------------------

STRING = {"type": "string"}
OPEN = {"type": "object", "properties": {"a": STRING}}
CLOSED = {**OPEN, "additionalProperties": False}


def obj(
    closed: bool | dict[str, Any] = False, required: tuple[str, ...] = (), **props: Any
) -> dict[str, Any]:
    schema: dict[str, Any] = {"type": "object", "properties": props}
    if closed is not False:
        schema["additionalProperties"] = False if closed is True else closed
    if required:
        schema["required"] = list(required)
    return schema


def prop(schema: dict[str, Any], **props: Any) -> dict[str, Any]:
    return obj(**{"a": schema}, **props)


ARRAY = {"type": "array"}
ONE_OF = {"oneOf": [{"type": "string"}, {"type": "number"}]}

CASES: list[tuple[str, Any, Any, set[str]]] = [
    # types
    ("same type", STRING, STRING, set()),
    ("type changed", STRING, {"type": "number"}, {"#/ TYPE_CHANGED"}),
    ("integer widened to number", {"type": "integer"}, {"type": "number"}, set()),
    ("number narrowed to integer", {"type": "number"}, {"type": "integer"}, {"#/ TYPE_NARROWED"}),
    ("string may become nullable", prop(STRING), prop({"type": ["string", "null"]}), set()),
    (
        "nullable may not lose null",
        prop({"type": ["string", "null"]}),
        prop(STRING),
        {"#/properties/a TYPE_CHANGED"},
    ),
    ("anything reads as {}", OPEN, {}, set()),
    ("{} does not read as a type", {}, STRING, {"#/ TYPE_CHANGED"}),
    # required
    (
        "property becomes required",
        OPEN,
        {**OPEN, "required": ["a"]},
        {"#/required/a REQUIRED_ATTRIBUTE_ADDED"},
    ),
    (
        "required with a default",
        OPEN,
        prop({"type": "string", "default": ""}, required=("a",)),
        set(),
    ),
    ("property no longer required", {**OPEN, "required": ["a"]}, OPEN, set()),
    # properties under open, closed and partially open content models
    (
        "open model: optional property added",
        OPEN,
        obj(a=STRING, b={"type": "integer"}),
        {"#/properties/b OPTIONAL_PROPERTY_ADDED_TO_OPEN_CONTENT_MODEL"},
    ),
    ("open model: property with {} added", OPEN, obj(a=STRING, b={}), set()),
    ("open model: property removed", OPEN, obj(), set()),
    ("closed model: optional property added", CLOSED, obj(True, a=STRING, b=STRING), set()),
    (
        "closed model: required property added",
        CLOSED,
        obj(True, ("b",), a=STRING, b=STRING),
        {"#/properties/b REQUIRED_PROPERTY_ADDED_TO_UNOPEN_CONTENT_MODEL"},
    ),
    (
        "closed model: required property with a default added",
        CLOSED,
        obj(True, ("b",), a=STRING, b={"type": "string", "default": "x"}),
        set(),
    ),
    (
        "closed model: property removed",
        CLOSED,
        obj(True),
        {"#/properties/a PROPERTY_REMOVED_FROM_CLOSED_CONTENT_MODEL"},
    ),
    (
        "partially open: property it covers added",
        obj(STRING, a=STRING),
        obj(STRING, a=STRING, b=STRING),
        set(),
    ),
    (
        "partially open: property it does not cover added",
        obj(STRING, a=STRING),
        obj(STRING, a=STRING, b={"type": "number"}),
        {
            "#/properties/b TYPE_CHANGED",
            "#/properties/b PROPERTY_ADDED_NOT_COVERED_BY_PARTIALLY_OPEN_CONTENT_MODEL",
        },
    ),
    (
        "patternProperties cover a removed property",
        obj(True, I_1={"type": "integer"}),
        {**obj(True), "patternProperties": {"^I_": {"type": "number"}}},
        set(),
    ),
    (
        "additionalProperties closed",
        obj(),
        obj(True),
        {"#/additionalProperties ADDITIONAL_PROPERTIES_REMOVED"},
    ),
    ("additionalProperties opened", obj(True), obj(), set()),
    (
        "additionalProperties narrowed to a schema",
        obj(),
        obj({"type": "number"}),
        {"#/additionalProperties ADDITIONAL_PROPERTIES_NARROWED"},
    ),
    (
        "dependency added",
        obj(a=STRING, b=STRING),
        {**obj(a=STRING, b=STRING), "dependencies": {"a": ["b"]}},
        {"#/dependencies/a DEPENDENCY_ARRAY_ADDED"},
    ),
    # enum and const
    (
        "enum value added",
        prop({"type": "string", "enum": ["x"]}),
        prop({"type": "string", "enum": ["x", "y"]}),
        set(),
    ),
    (
        "enum value removed",
        prop({"type": "string", "enum": ["x", "y"]}),
        prop({"type": "string", "enum": ["x"]}),
        {"#/properties/a/enum ENUM_ARRAY_NARROWED"},
    ),
    ("enum dropped", prop({"type": "string", "enum": ["x"]}), prop(STRING), set()),
    (
        "const changed",
        prop({"const": "x"}),
        prop({"const": "y"}),
        {"#/properties/a/const ENUM_ARRAY_CHANGED"},
    ),
    # strings
    (
        "maxLength increased",
        {"type": "string", "maxLength": 5},
        {"type": "string", "maxLength": 9},
        set(),
    ),
    (
        "maxLength decreased",
        prop({"type": "string", "maxLength": 9}),
        prop({"type": "string", "maxLength": 5}),
        {"#/properties/a/maxLength MAX_LENGTH_DECREASED"},
    ),
    (
        "minLength added",
        STRING,
        {"type": "string", "minLength": 1},
        {"#/minLength MIN_LENGTH_ADDED"},
    ),
    (
        "minLength decreased",
        {"type": "string", "minLength": 3},
        {"type": "string", "minLength": 1},
        set(),
    ),
    ("pattern added", STRING, {"type": "string", "pattern": "^a"}, {"#/pattern PATTERN_ADDED"}),
    ("pattern removed", {"type": "string", "pattern": "^a"}, STRING, set()),
    (
        "pattern changed",
        {"type": "string", "pattern": "^a"},
        {"type": "string", "pattern": "^b"},
        {"#/pattern PATTERN_CHANGED"},
    ),
    # numbers
    (
        "maximum increased",
        {"type": "number", "maximum": 5},
        {"type": "number", "maximum": 9},
        set(),
    ),
    (
        "maximum decreased",
        {"type": "number", "maximum": 9},
        {"type": "number", "maximum": 5},
        {"#/maximum MAXIMUM_DECREASED"},
    ),
    (
        "minimum increased",
        {"type": "number", "minimum": 0},
        {"type": "number", "minimum": 1},
        {"#/minimum MINIMUM_INCREASED"},
    ),
    ("minimum removed", {"type": "number", "minimum": 0}, {"type": "number"}, set()),
    (
        "exclusiveMinimum added",
        {"type": "number"},
        {"type": "number", "exclusiveMinimum": 0},
        {"#/exclusiveMinimum EXCLUSIVE_MINIMUM_ADDED"},
    ),
    (
        "multipleOf a divisor",
        {"type": "number", "multipleOf": 10},
        {"type": "number", "multipleOf": 2.5},
        set(),
    ),
    (
        "multipleOf a multiple",
        {"type": "number", "multipleOf": 5},
        {"type": "number", "multipleOf": 10},
        {"#/multipleOf MULTIPLE_OF_EXPANDED"},
    ),
    (
        "multipleOf otherwise",
        {"type": "number", "multipleOf": 10},
        {"type": "number", "multipleOf": 3},
        {"#/multipleOf MULTIPLE_OF_CHANGED"},
    ),
    # arrays
    ("items added", ARRAY, {**ARRAY, "items": STRING}, {"#/items SCHEMA_ADDED"}),
    ("items removed", {**ARRAY, "items": STRING}, ARRAY, set()),
    (
        "items changed",
        {**ARRAY, "items": STRING},
        {**ARRAY, "items": {"type": "boolean"}},
        {"#/items TYPE_CHANGED"},
    ),
    (
        "maxItems decreased",
        {**ARRAY, "maxItems": 3},
        {**ARRAY, "maxItems": 2},
        {"#/maxItems MAX_ITEMS_DECREASED"},
    ),
    ("minItems decreased", {**ARRAY, "minItems": 3}, {**ARRAY, "minItems": 2}, set()),
    (
        "uniqueItems added",
        ARRAY,
        {**ARRAY, "uniqueItems": True},
        {"#/uniqueItems UNIQUE_ITEMS_ADDED"},
    ),
    ("uniqueItems removed", {**ARRAY, "uniqueItems": True}, ARRAY, set()),
    (
        "tuple item added to a closed tuple",
        {**ARRAY, "items": [STRING], "additionalItems": False},
        {**ARRAY, "items": [STRING, STRING], "additionalItems": False},
        set(),
    ),
    (
        "tuple item removed from a closed tuple",
        {**ARRAY, "items": [STRING, STRING], "additionalItems": False},
        {**ARRAY, "items": [STRING], "additionalItems": False},
        {"#/items/1 ITEM_REMOVED_FROM_CLOSED_CONTENT_MODEL"},
    ),
    (
        "prefixItems item added to an open tuple (2020-12)",
        {
            "$schema": "https://json-schema.org/draft/2020-12/schema",
            **ARRAY,
            "prefixItems": [STRING],
        },
        {
            "$schema": "https://json-schema.org/draft/2020-12/schema",
            **ARRAY,
            "prefixItems": [STRING, STRING],
        },
        {"#/items/1 ITEM_ADDED_TO_OPEN_CONTENT_MODEL"},
    ),
    # combined schemas
    ("oneOf gains a branch", {"oneOf": [STRING]}, ONE_OF, set()),
    ("oneOf loses a branch", ONE_OF, {"oneOf": [STRING]}, {"#/ SUM_TYPE_NARROWED"}),
    (
        "allOf gains a part",
        {"allOf": [STRING]},
        {"allOf": [STRING, {"maxLength": 3}]},
        {"#/ PRODUCT_TYPE_EXTENDED"},
    ),
    ("allOf loses a part", {"allOf": [STRING, {"maxLength": 3}]}, {"allOf": [STRING]}, set()),
    ("oneOf becomes anyOf", ONE_OF, {"anyOf": ONE_OF["oneOf"]}, set()),
    ("anyOf becomes oneOf", {"anyOf": ONE_OF["oneOf"]}, ONE_OF, {"#/ COMBINED_TYPE_CHANGED"}),
    ("a type becomes a oneOf with it", STRING, ONE_OF, set()),
    (
        "a oneOf branch changes",
        {"oneOf": [obj(a=STRING), {"type": "null"}]},
        {"oneOf": [obj(a={"type": "number"}), {"type": "null"}]},
        {"#/oneOf/0/properties/a TYPE_CHANGED"},
    ),
    (
        "a oneOf branch changes kind",
        {"oneOf": [STRING, {"type": "null"}]},
        {"oneOf": [{"type": "boolean"}, {"type": "null"}]},
        {"#/ COMBINED_TYPE_SUBSCHEMAS_CHANGED"},
    ),
    # not
    ("not excludes less", {"not": {"type": "number"}}, {"not": {"type": "integer"}}, set()),
    (
        "not excludes more",
        {"not": {"type": "integer"}},
        {"not": {"type": "number"}},
        {"#/not NOT_TYPE_EXTENDED"},
    ),
    # $ref
    (
        "a definition changes under a $ref",
        {**ARRAY, "items": {"$ref": "#/definitions/x"}, "definitions": {"x": STRING}},
        {**ARRAY, "items": {"$ref": "#/definitions/x"}, "definitions": {"x": {"type": "number"}}},
        {"#/items TYPE_CHANGED"},
    ),
    ("inline to $ref", STRING, {"$ref": "#/definitions/x", "definitions": {"x": STRING}}, set()),
    ("$ref to inline", {"$ref": "#/definitions/x", "definitions": {"x": STRING}}, STRING, set()),
]


@pytest.mark.parametrize(
    ("old", "new", "expected"), [c[1:] for c in CASES], ids=[c[0] for c in CASES]
)
def test_compatibility(old: Any, new: Any, expected: set[str]) -> None:
    assert found(backward(old, new)) == expected


def test_lenient_accepts_what_strict_refuses_in_open_and_closed_models() -> None:
    lenient = JsonSchemaKind(lenient=True)
    added = (OPEN, obj(a=STRING, b={"type": "integer"}))
    removed = (CLOSED, obj(True))
    assert backward(*added) and backward(*removed)
    assert backward(*added, kind=lenient) == backward(*removed, kind=lenient) == []
    assert backward(STRING, {"type": "number"}, kind=lenient)  # a type change stays refused


def tree(value: str) -> dict[str, Any]:
    """A recursive schema: a node is null or an object with a value and child nodes."""
    node = {
        "type": "object",
        "properties": {
            "v": {"type": value},
            "kids": {"type": "array", "items": {"$ref": "#/definitions/node"}},
        },
    }
    return {
        "definitions": {"node": {"oneOf": [{"type": "null"}, node]}},
        "$ref": "#/definitions/node",
    }


def test_recursive_schemas_end_and_changes_deep_inside_them_show() -> None:
    assert backward(tree("integer"), tree("integer")) == []
    assert backward(tree("integer"), tree("number")) == []
    assert "#/oneOf/1/properties/v TYPE_NARROWED" in found(
        backward(tree("number"), tree("integer"))
    )


def test_a_change_in_a_referenced_schema_shows_at_its_place() -> None:
    customer = {"type": "object", "properties": {"address": {"$ref": "address.json"}}}
    old = parse(customer, {"address.json": obj(zip=STRING)})
    new = parse(customer, {"address.json": obj(zip={"type": "integer"})})
    assert found(KIND.problems(new, old)) == {"#/properties/address/properties/zip TYPE_CHANGED"}
    assert KIND.problems(old, old) == []


# --- through the registry --------------------------------------------------------------


@pytest.fixture
def registry() -> Iterator[SchemaRegistry]:
    with logway.connect("memory:") as broker:
        yield SchemaRegistry(broker)


def register(registry: SchemaRegistry, subject: str, schema: Any, **kw: Any) -> int:
    return registry.register(subject, json.dumps(schema), schema_type="JSON", **kw).version


def test_backward_follows_the_content_model(registry: SchemaRegistry) -> None:
    # closed: a new optional property is fine (old data never has it), dropping one is not
    assert register(registry, "closed", CLOSED) == 1
    assert register(registry, "closed", obj(True, a=STRING, b=STRING)) == 2
    with pytest.raises(IncompatibleSchemaError) as refused:
        register(registry, "closed", obj(True, b=STRING))
    assert found([p.split(": ", 1)[1] for p in refused.value.problems]) == {
        "#/properties/a PROPERTY_REMOVED_FROM_CLOSED_CONTENT_MODEL"
    }
    # open: dropping a property is fine, a new typed one is not (old data may hold it)
    assert register(registry, "open", OPEN) == 1
    assert register(registry, "open", obj()) == 2
    problems = registry.check("open", json.dumps(obj(b=STRING)), schema_type="JSON")
    assert len(problems) == 1 and "OPTIONAL_PROPERTY_ADDED_TO_OPEN_CONTENT_MODEL" in problems[0]
    # the same schema laid out otherwise is the same version
    spaced = json.dumps(obj(), indent=2, sort_keys=True)
    assert registry.register("open", spaced, schema_type="JSON").version == 2


def test_full_transitive_checks_every_version(registry: SchemaRegistry) -> None:
    def counter(maximum: int, **extra: Any) -> dict[str, Any]:
        return obj(n={"type": "integer", "maximum": maximum}, **extra)

    registry.set_compatibility("NONE", "counts")
    register(registry, "counts", counter(100))
    register(registry, "counts", counter(200))
    third = json.dumps(counter(200, note={}))  # both ways compatible with version 2
    registry.set_compatibility("FULL", "counts")
    assert registry.check("counts", third, schema_type="JSON", version=None) == []
    registry.set_compatibility("FULL_TRANSITIVE", "counts")
    problems = registry.check("counts", third, schema_type="JSON", version=None)
    assert len(problems) == 1  # version 1 cannot read values up to 200
    assert problems[0].startswith("version 1, read with it (forward): #/properties/n/maximum")
    assert "MAXIMUM_DECREASED" in problems[0]
    with pytest.raises(IncompatibleSchemaError):
        registry.register("counts", third, schema_type="JSON")


def test_a_ref_to_another_subject(registry: SchemaRegistry) -> None:
    customer = {"type": "object", "properties": {"address": {"$ref": "address.json"}}}
    register(registry, "address", obj(zip=STRING))
    ref = {"name": "address.json", "subject": "address", "version": 1}
    assert register(registry, "customer", customer, references=[ref]) == 1
    with pytest.raises(InvalidSchemaError) as unresolved:
        register(registry, "customer", customer)  # without the reference
    assert "'address.json' at #/properties/address" in str(unresolved.value)

    registry.set_compatibility("NONE", "address")
    assert register(registry, "address", obj(zip={"type": "integer"})) == 2
    with pytest.raises(IncompatibleSchemaError) as refused:
        register(registry, "customer", customer, references=[{**ref, "version": 2}])
    assert "#/properties/address/properties/zip" in refused.value.problems[0]
    assert "TYPE_CHANGED" in refused.value.problems[0]
