"""JSON Schema as Confluent Schema Registry treats it: checked by the ``jsonschema``
library, compared by Confluent's rules (``io.confluent.kafka.schemaregistry.json.diff``).

Parsing. The text is JSON whose root is an object or true/false, and a valid schema of
the draft its ``$schema`` names: 4, 6, 7, 2019-09 or 2020-12; draft 7 when it names
none or one Confluent does not know. Every ``$ref`` must resolve: within the schema, to
a meta-schema, or to one of its references (other registered schemas, by reference
name: "address.json" or a URL, taken relative to the schema's ``$id`` as Confluent
does). The parsed schema validates data through them (``ParsedJsonSchema.validator``).

Canonical text: the JSON with sorted keys and no whitespace. Confluent's normalization
sorts object keys and nothing else (arrays such as ``required`` and ``enum`` keep their
order), so the normalized text is the same text.

Compatibility. Confluent diffs an *original* schema against an *update* and accepts the
update when it accepts all the original did: BACKWARD diffs the latest version
(original) against the new schema (update). ``problems(reader, writer)`` is that diff
with original = ``writer``, update = ``reader``: data valid under the writer's schema
must stay valid under the reader's. Schemas are read as Everit reads them (Confluent's
model): ``{"type": "string", "enum": [...]}`` is all of (enum, string), a list of types
is any of them, ``$ref`` is compared through. With Confluent's default STRICT policy:

- a different type is incompatible, except that ``true``/``{}`` read anything and
  ``false`` is read by anything; integer -> number widens, number -> integer narrows;
  a writer's type read by an anyOf/oneOf with a compatible branch is fine, and so is a
  writer's allOf with one part compatible with the reader;
- combined schemas: anyOf/oneOf may gain branches but not lose them, allOf may lose
  parts but not gain them, the criterion may only widen (to anyOf, between
  singletons), and each writer subschema must match its own compatible reader
  subschema (a maximum matching);
- limits only loosen: maxLength, maximum, exclusiveMaximum, maxItems, maxProperties,
  maxContains may grow or go; their min* counterparts may shrink or go; a pattern may
  go but not come or change; multipleOf may go or become a divisor of the writer's;
  uniqueItems may go; enum values may be added, not removed; const may not change;
  ``not`` may exclude less;
- objects: an *open* content model (additionalProperties absent or true, no
  patternProperties, unevaluatedProperties absent or true) may carry any property, a
  *closed* one (false) none but its own, a *partially open* one (a schema in
  additionalProperties, patternProperties or unevaluatedProperties) those it covers.
  A property the reader drops is fine if the reader is open, or covers it with a
  compatible schema, or the writer's was ``false``. A property the reader adds is
  incompatible in a writer's open model (the writer's data may carry it with any
  value) unless its schema is ``true``/``{}``; in a partially open model the writer's
  covering schema must be compatible with it; in any but an open model it may be
  optional or required with a default. A property both have may become optional,
  and required only with a default. additionalProperties may open, not close or
  narrow; a dependency may go, not come, and its array may lose names, not gain them;
- arrays: items, additionalItems, unevaluatedItems and tuple items (items as a list,
  prefixItems) follow the same content model rules; adding ``items`` where there was
  none is incompatible.

LENIENT (``JsonSchemaKind(lenient=True)``) also accepts adding optional properties to
an open model, removing properties from a closed one, properties not covered by a
partially open model, and additionalProperties/unevaluatedProperties that close or
narrow. As in Confluent, titles, descriptions, defaults, ``$id``, format, contains,
propertyNames and if/then/else are not compared (if/then/else only as present or not).

Each problem is a line ``<where>: <what> (<Confluent's difference type>)``; ``where``
is the path Confluent reports (``#/properties/address/properties/zip``; tuple items are
``items/N`` in every draft), without the allOf/anyOf Everit makes of one schema object
(keywords of several kinds, a list of types). Where a subschema of a combined schema
matches none of the other side's and one of them is of its kind, the problem is what
keeps the two apart rather than Confluent's bare COMBINED_TYPE_SUBSCHEMAS_CHANGED; and
``items``/``unevaluated*`` of ``true``/``{}`` count as absent (Confluent would call
adding them a change). Verdicts agree with Confluent's own diff test cases.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from typing import Any
from urllib.parse import urldefrag, urljoin

import jsonschema.validators as jsonschema_validators  # type: ignore[import-untyped]
import referencing
import referencing.exceptions
import referencing.jsonschema
from jsonschema.exceptions import SchemaError  # type: ignore[import-untyped]
from jsonschema_specifications import REGISTRY as META_SCHEMAS  # type: ignore[import-untyped]

from logway.errors import InvalidSchemaError
from logway.schemas.kinds import JSON

_Resolver = Any  # referencing's Resolver, which the package does not export

# --- drafts -----------------------------------------------------------------------


@dataclass(frozen=True)
class _Draft:
    name: str
    year: int  # 4, 6, 7, 2019, 2020: ordered
    validator: Any  # the jsonschema Validator class
    spec: referencing.Specification[Any]


_DRAFTS = {  # $schema without scheme or "#" -> draft
    f"json-schema.org/{path}/schema": _Draft(
        name,
        year,
        getattr(jsonschema_validators, f"Draft{suffix}Validator"),
        getattr(referencing.jsonschema, f"DRAFT{suffix}"),
    )
    for path, name, year, suffix in (
        ("draft-04", "draft-04", 4, "4"),
        ("draft-06", "draft-06", 6, "6"),
        ("draft-07", "draft-07", 7, "7"),
        ("draft/2019-09", "2019-09", 2019, "201909"),
        ("draft/2020-12", "2020-12", 2020, "202012"),
    )
}
_DRAFT7 = _DRAFTS["json-schema.org/draft-07/schema"]


def _draft(document: Any, default: _Draft) -> _Draft:
    """The draft ``$schema`` names (http or https, with or without ``#``), as Confluent."""
    named = document.get("$schema") if isinstance(document, dict) else None
    if not isinstance(named, str):
        return default
    return _DRAFTS.get(re.sub(r"^https?://|#$", "", named.strip()), _DRAFT7)


# --- parsing ----------------------------------------------------------------------


@dataclass(eq=False)
class ParsedJsonSchema:
    """A parsed schema: its JSON, draft, references (name -> JSON), a validator for
    data that resolves them, and the model the compatibility rules compare."""

    document: Any
    draft: str
    references: dict[str, Any]
    registry: referencing.Registry[Any]
    validator: Any
    root: _Node = field(repr=False)


def _refuse_constant(name: str) -> Any:
    raise ValueError(f"{name} is not a JSON number")


def _load_json(text: str, label: str) -> Any:
    try:
        value = json.loads(text, parse_constant=_refuse_constant)
    except (ValueError, RecursionError) as exc:
        raise InvalidSchemaError(f"{label} is not JSON: {exc}") from None
    if not isinstance(value, dict | bool):
        root = {list: "an array", str: "a string", type(None): "null"}.get(type(value), "a number")
        raise InvalidSchemaError(
            f"{label} is not a JSON Schema: its root is {root}; a schema is a JSON object or "
            "true/false"
        )
    return value


def _check(document: Any, draft: _Draft, label: str) -> None:
    try:
        draft.validator.check_schema(document)
    except SchemaError as exc:
        where = "#" + "".join(f"/{_escape(p)}" for p in exc.path)
        raise InvalidSchemaError(
            f"{label} is not a valid JSON Schema ({draft.name}): at {where}, {exc.message}"
        ) from None


def _escape(part: object) -> str:
    return str(part).replace("~", "~0").replace("/", "~1")


def _pointers(document: Any) -> dict[int, str]:
    """Where each object of ``document`` is, as a JSON pointer fragment."""
    found: dict[int, str] = {}
    stack: list[tuple[Any, str]] = [(document, "#")]
    while stack:
        value, where = stack.pop()
        if isinstance(value, dict):
            found[id(value)] = where
            stack.extend((v, f"{where}/{_escape(k)}") for k, v in value.items())
        elif isinstance(value, list):
            stack.extend((v, f"{where}/{i}") for i, v in enumerate(value))
    return found


def _check_refs(document: Any, draft: _Draft, resolver: _Resolver, label: str, names: str) -> None:
    """Every ``$ref`` in ``document`` (in any subschema, definitions too) resolves."""
    where = _pointers(document)
    stack = [(draft.spec.create_resource(document), resolver)]
    while stack:
        resource, parent = stack.pop()
        inner = parent.in_subresource(resource)
        ref = resource.contents.get("$ref") if isinstance(resource.contents, dict) else None
        if isinstance(ref, str):
            try:
                inner.lookup(ref)
            except referencing.exceptions.Unresolvable:
                at = f"{label}: $ref {ref!r} at {where.get(id(resource.contents), '#')}"
                document_name = urldefrag(ref).url
                if not document_name:
                    raise InvalidSchemaError(f"{at} points to nothing in the schema") from None
                raise InvalidSchemaError(
                    f"{at} resolves to nothing: not the schema, a meta-schema or one of its "
                    f"references ({names}); register the schema it names and pass it as a "
                    f"reference named {document_name!r}"
                ) from None
        stack.extend((sub, inner) for sub in resource.subresources())


class JsonSchemaKind:
    """The JSON kind (see the module's docstring); ``lenient`` is Confluent's LENIENT
    compatibility policy, STRICT by default."""

    name = JSON

    def __init__(self, lenient: bool = False) -> None:
        self.compatible = _COMPATIBLE_LENIENT if lenient else _COMPATIBLE_STRICT

    def parse(self, text: str, references: Mapping[str, str]) -> ParsedJsonSchema:
        document = _load_json(text, "the schema")
        draft = _draft(document, _DRAFT7)
        _check(document, draft, "the schema")
        docs = {name: _load_json(t, f"reference {name!r}") for name, t in references.items()}
        for name, doc in docs.items():
            _check(doc, _draft(doc, draft), f"reference {name!r}")
        root_id = draft.spec.id_of(document) if isinstance(document, dict) else None
        pairs: list[tuple[str, referencing.Resource[Any]]] = []
        for name, doc in docs.items():
            resource = _draft(doc, draft).spec.create_resource(doc)
            pairs.append((name, resource))
            if root_id:  # Confluent registers a reference relative to the schema's $id
                pairs.append((urljoin(root_id, name), resource))
        pairs.append((root_id or "", draft.spec.create_resource(document)))
        registry: referencing.Registry[Any] = META_SCHEMAS.combine(
            referencing.Registry().with_resources(pairs)
        )
        names = ", ".join(repr(n) for n in docs) or "none given"
        _check_refs(document, draft, registry.resolver(), "the schema", names)
        for name, doc in docs.items():
            _check_refs(
                doc, _draft(doc, draft), registry.resolver(name), f"reference {name!r}", names
            )
        loader = _Loader()
        try:
            root = loader.load(document, registry.resolver(), draft)
            loader.resolve_refs()
        except referencing.exceptions.Unresolvable as exc:  # _check_refs found them all
            raise InvalidSchemaError(f"the schema: $ref {exc.ref!r} resolves to nothing") from None
        validator = draft.validator(document, registry=registry)
        return ParsedJsonSchema(document, draft.name, docs, registry, validator, root)

    def canonical(self, parsed: ParsedJsonSchema, normalize: bool) -> str:
        """Sorted keys, no whitespace; ``normalize`` adds nothing (see the module)."""
        return json.dumps(
            parsed.document, sort_keys=True, separators=(",", ":"), ensure_ascii=False
        )

    def problems(self, reader: ParsedJsonSchema, writer: ParsedJsonSchema) -> list[str]:
        """Confluent's diff with original = ``writer``, update = ``reader``: each
        difference its policy does not accept, as ``where: what (TYPE)``."""
        lines: list[str] = []
        for d in _diff(self.compatible, writer.root, reader.root):
            if d.type not in self.compatible:
                line = f"{_path(d.path)}: {d.detail or d.type.lower().replace('_', ' ')} ({d.type})"
                if line not in lines:
                    lines.append(line)
        return lines


# --- the model: schemas as Everit reads them -----------------------------------------


@dataclass(eq=False, kw_only=True)
class _Node:
    source: Any
    has_default: bool = False
    label = "schema"


class _Empty(_Node):
    label = "any value"


class _False(_Node):
    label = "no value"


class _Boolean(_Node):
    label = "boolean"


class _Null(_Node):
    label = "null"


class _Conditional(_Node):
    label = "if/then/else"


@dataclass(eq=False, kw_only=True)
class _Ref(_Node):
    ref: str
    target: _Node | None = None
    label = "$ref"


@dataclass(eq=False, kw_only=True)
class _String(_Node):
    min_length: int | None = None
    max_length: int | None = None
    pattern: str | None = None
    label = "string"


@dataclass(eq=False, kw_only=True)
class _Number(_Node):
    integer: bool = False
    minimum: float | None = None
    maximum: float | None = None
    exclusive_minimum: float | None = None
    exclusive_maximum: float | None = None
    multiple_of: float | None = None
    label = "number"


@dataclass(eq=False, kw_only=True)
class _Enum(_Node):
    values: list[Any]
    label = "enum"


@dataclass(eq=False, kw_only=True)
class _Const(_Node):
    value: Any
    label = "const"


@dataclass(eq=False, kw_only=True)
class _Not(_Node):
    inner: _Node
    label = "not"


@dataclass(eq=False, kw_only=True)
class _Combined(_Node):
    criterion: str  # allOf, anyOf, oneOf
    subschemas: list[_Node]
    synthetic: bool = False  # made of one schema object (keywords of several kinds, a type list)
    label = "combined"


@dataclass(eq=False, kw_only=True)
class _Object(_Node):
    properties: dict[str, _Node] = field(default_factory=dict)
    required: set[str] = field(default_factory=set)
    additional: bool = True
    additional_schema: _Node | None = None
    patterns: dict[str, _Node] = field(default_factory=dict)
    dependent_required: dict[str, set[str]] = field(default_factory=dict)
    dependent_schemas: dict[str, _Node] = field(default_factory=dict)
    min_properties: int | None = None
    max_properties: int | None = None
    unevaluated: _Node | None = None
    label = "object"


@dataclass(eq=False, kw_only=True)
class _Array(_Node):
    items: _Node | None = None
    prefix: list[_Node] = field(default_factory=list)  # tuple items
    additional: bool = True
    additional_schema: _Node | None = None
    unevaluated: _Node | None = None
    min_items: int | None = None
    max_items: int | None = None
    unique: bool = False
    min_contains: int | None = None
    max_contains: int | None = None
    label = "array"


_NUMBER_WORDS = ("minimum", "maximum", "exclusiveMinimum", "exclusiveMaximum", "multipleOf")
_STRING_WORDS = ("minLength", "maxLength", "pattern", "format")
_ARRAY_WORDS = ("items", "additionalItems", "minItems", "maxItems", "uniqueItems", "contains")
_OBJECT_WORDS = (
    "properties",
    "required",
    "minProperties",
    "maxProperties",
    "dependencies",
    "patternProperties",
    "additionalProperties",
    "propertyNames",
)
_ARRAY_WORDS_2019 = ("prefixItems", "unevaluatedItems", "minContains", "maxContains")
_OBJECT_WORDS_2019 = ("dependentRequired", "dependentSchemas", "unevaluatedProperties")
_COMBINERS = ("allOf", "anyOf", "oneOf")


class _Loader:
    """Reads schema JSON into nodes the way Everit's loader does (the model Confluent's
    diff walks); ``$ref`` targets are read after the tree, so cycles are fine."""

    def __init__(self) -> None:
        self._nodes: dict[int, _Node] = {}
        self._pending: list[tuple[_Ref, _Resolver, _Draft]] = []

    def load(self, raw: Any, resolver: _Resolver, draft: _Draft) -> _Node:
        if isinstance(raw, bool) or not isinstance(raw, dict):
            return _Empty(source=raw) if raw is not False else _False(source=raw)
        node = self._nodes.get(id(raw))
        if node is None:
            inner = resolver.in_subresource(draft.spec.create_resource(raw))
            node = self._nodes[id(raw)] = self._schema(raw, inner, draft)
            node.has_default = "default" in raw
        return node

    def resolve_refs(self) -> None:
        while self._pending:
            ref, resolver, draft = self._pending.pop()
            found = resolver.lookup(ref.ref)
            try:
                home = found.resolver.lookup("").contents  # the document it is in
            except referencing.exceptions.Unresolvable:
                home = None
            ref.target = self.load(found.contents, found.resolver, _draft(home, draft))

    def _schema(self, raw: dict[str, Any], resolver: _Resolver, d: _Draft) -> _Node:
        def child(value: Any) -> _Node:
            return self.load(value, resolver, d)

        parts: list[_Node] = []
        if isinstance(raw.get("$ref"), str):
            ref = _Ref(source=raw, ref=raw["$ref"])
            self._pending.append((ref, resolver, d))
            if d.year < 2019:  # before 2019-09, $ref's siblings are ignored
                return ref
            parts.append(ref)
        if isinstance(raw.get("enum"), list):
            parts.append(_Enum(source=raw, values=raw["enum"]))
        for word in _COMBINERS:
            if isinstance(raw.get(word), list):
                subs = [child(s) for s in raw[word]]
                parts.append(_Combined(source=raw[word], criterion=word, subschemas=subs))
        if "not" in raw:
            parts.append(_Not(source=raw, inner=child(raw["not"])))
        if "const" in raw and d.year > 4:
            parts.append(_Const(source=raw, value=raw["const"]))
        typed: set[str] = set()
        kinds = raw.get("type")
        if isinstance(kinds, str | list):
            names = [kinds] if isinstance(kinds, str) else [k for k in kinds if isinstance(k, str)]
            typed = set(names)
            made = [self._typed(raw, name, child, d) for name in names]
            if isinstance(kinds, str):
                parts.extend(made)
            else:
                parts.append(
                    _Combined(source=raw, criterion="anyOf", subschemas=made, synthetic=True)
                )
        array_words = _ARRAY_WORDS + (_ARRAY_WORDS_2019 if d.year >= 2019 else ())
        object_words = _OBJECT_WORDS + (_OBJECT_WORDS_2019 if d.year >= 2019 else ())
        sniffed = (  # keywords of a type the schema does not name, as Everit reads them
            ("array", array_words),
            ("object", object_words),
            ("number", _NUMBER_WORDS),
            ("string", _STRING_WORDS),
        )
        for name, words in sniffed:
            consumed = name in typed or (name == "number" and "integer" in typed)
            if not consumed and any(w in raw for w in words):
                parts.append(self._typed(raw, name, child, d))
        if d.year >= 7 and any(w in raw for w in ("if", "then", "else")):
            parts.append(_Conditional(source=raw))
        if not parts:
            return _Empty(source=raw)
        if len(parts) == 1:
            return parts[0]
        return _Combined(source=raw, criterion="allOf", subschemas=parts, synthetic=True)

    def _typed(
        self, raw: dict[str, Any], name: str, child: Callable[[Any], _Node], d: _Draft
    ) -> _Node:
        if name == "string":
            return _String(
                source=raw,
                min_length=raw.get("minLength"),
                max_length=raw.get("maxLength"),
                pattern=raw.get("pattern"),
            )
        if name in ("number", "integer"):
            modern = d.year > 4  # draft 4's exclusive limits are flags on minimum/maximum
            return _Number(
                source=raw,
                integer=name == "integer",
                minimum=raw.get("minimum"),
                maximum=raw.get("maximum"),
                exclusive_minimum=raw.get("exclusiveMinimum") if modern else None,
                exclusive_maximum=raw.get("exclusiveMaximum") if modern else None,
                multiple_of=raw.get("multipleOf"),
            )
        if name == "object":
            return self._object(raw, child, d)
        if name == "array":
            return self._array(raw, child, d)
        return _Boolean(source=raw) if name == "boolean" else _Null(source=raw)

    def _object(self, raw: dict[str, Any], child: Callable[[Any], _Node], d: _Draft) -> _Object:
        node = _Object(
            source=raw,
            properties={k: child(v) for k, v in (raw.get("properties") or {}).items()},
            required=set(raw.get("required") or ()),
            patterns={k: child(v) for k, v in (raw.get("patternProperties") or {}).items()},
            min_properties=raw.get("minProperties"),
            max_properties=raw.get("maxProperties"),
        )
        extra = raw.get("additionalProperties", True)
        if isinstance(extra, bool):
            node.additional = extra
        else:
            node.additional_schema = child(extra)
        dependencies = {**(raw.get("dependencies") or {})}
        if d.year >= 2019:
            dependencies.update(raw.get("dependentRequired") or {})
            dependencies.update(raw.get("dependentSchemas") or {})
            node.unevaluated = _unless_empty(raw, "unevaluatedProperties", child)
        for key, value in dependencies.items():
            if isinstance(value, list):
                node.dependent_required[key] = set(value)
            else:
                node.dependent_schemas[key] = child(value)
        return node

    def _array(self, raw: dict[str, Any], child: Callable[[Any], _Node], d: _Draft) -> _Array:
        node = _Array(
            source=raw,
            min_items=raw.get("minItems"),
            max_items=raw.get("maxItems"),
            unique=raw.get("uniqueItems") is True,
        )
        items = raw.get("items")
        if d.year >= 2020:  # prefixItems are the tuple, items what follows them
            node.prefix = [child(s) for s in raw.get("prefixItems") or ()]
            if items is False:
                node.additional = False
            elif items is not None and items is not True:
                if node.prefix:
                    node.additional_schema = child(items)
                else:
                    node.items = child(items)
        else:
            if isinstance(items, list):
                node.prefix = [child(s) for s in items]
            elif items is not None:
                node.items = child(items)
            extra = raw.get("additionalItems", True)
            if isinstance(extra, bool):
                node.additional = extra
            else:
                node.additional_schema = child(extra)
        if isinstance(node.items, _Empty):  # items: true/{} constrains nothing
            node.items = None
        if d.year >= 2019:
            node.unevaluated = _unless_empty(raw, "unevaluatedItems", child)
            node.min_contains, node.max_contains = raw.get("minContains"), raw.get("maxContains")
        return node


def _unless_empty(raw: dict[str, Any], word: str, child: Callable[[Any], _Node]) -> _Node | None:
    """The subschema at ``word``; None when absent or true/{}, which constrain nothing."""
    if word not in raw:
        return None
    node = child(raw[word])
    return None if isinstance(node, _Empty) else node


def _deref(node: _Node) -> _Node:
    for _ in range(64):  # a $ref to a $ref ...; a loop of bare $refs accepts anything
        if not isinstance(node, _Ref):
            return node
        if node.target is None:
            break
        node = node.target
    return _ANYTHING


_ANYTHING = _Empty(source=True)


def _describe(node: _Node) -> str:
    node = _deref(node)
    if isinstance(node, _Number):
        return "integer" if node.integer else "number"
    if isinstance(node, _Combined):
        inner = ", ".join(_deref(s).label for s in node.subschemas)
        return f"({inner})" if node.synthetic else f"{node.criterion} ({inner})"
    return node.label


# --- the diff (Confluent's SchemaDiff and its per-type diffs) ------------------------


def _names(text: str) -> frozenset[str]:
    return frozenset(text.split())


_COMPATIBLE_STRICT = _names(
    """
    ID_CHANGED DESCRIPTION_CHANGED TITLE_CHANGED DEFAULT_CHANGED SCHEMA_REMOVED TYPE_EXTENDED
    MAX_LENGTH_INCREASED MAX_LENGTH_REMOVED MIN_LENGTH_DECREASED MIN_LENGTH_REMOVED
    PATTERN_REMOVED MAXIMUM_INCREASED MAXIMUM_REMOVED MINIMUM_DECREASED MINIMUM_REMOVED
    EXCLUSIVE_MAXIMUM_INCREASED EXCLUSIVE_MAXIMUM_REMOVED EXCLUSIVE_MINIMUM_DECREASED
    EXCLUSIVE_MINIMUM_REMOVED MULTIPLE_OF_REDUCED MULTIPLE_OF_REMOVED
    REQUIRED_ATTRIBUTE_WITH_DEFAULT_ADDED REQUIRED_ATTRIBUTE_REMOVED DEPENDENCY_ARRAY_NARROWED
    DEPENDENCY_ARRAY_REMOVED DEPENDENCY_SCHEMA_REMOVED MAX_PROPERTIES_INCREASED
    MAX_PROPERTIES_REMOVED MIN_PROPERTIES_DECREASED MIN_PROPERTIES_REMOVED
    ADDITIONAL_PROPERTIES_ADDED ADDITIONAL_PROPERTIES_EXTENDED UNEVALUATED_PROPERTIES_ADDED
    UNEVALUATED_PROPERTIES_EXTENDED PROPERTY_WITH_EMPTY_SCHEMA_ADDED_TO_OPEN_CONTENT_MODEL
    REQUIRED_PROPERTY_WITH_DEFAULT_ADDED_TO_UNOPEN_CONTENT_MODEL
    OPTIONAL_PROPERTY_ADDED_TO_UNOPEN_CONTENT_MODEL
    PROPERTY_WITH_FALSE_REMOVED_FROM_CLOSED_CONTENT_MODEL PROPERTY_REMOVED_FROM_OPEN_CONTENT_MODEL
    PROPERTY_ADDED_IS_COVERED_BY_PARTIALLY_OPEN_CONTENT_MODEL
    PROPERTY_REMOVED_IS_COVERED_BY_PARTIALLY_OPEN_CONTENT_MODEL MAX_ITEMS_INCREASED
    MAX_ITEMS_REMOVED MIN_ITEMS_DECREASED MIN_ITEMS_REMOVED MAX_CONTAINS_INCREASED
    MAX_CONTAINS_REMOVED MIN_CONTAINS_DECREASED MIN_CONTAINS_REMOVED UNIQUE_ITEMS_REMOVED
    ADDITIONAL_ITEMS_ADDED ADDITIONAL_ITEMS_EXTENDED UNEVALUATED_ITEMS_ADDED
    UNEVALUATED_ITEMS_EXTENDED ITEM_WITH_EMPTY_SCHEMA_ADDED_TO_OPEN_CONTENT_MODEL
    ITEM_ADDED_TO_CLOSED_CONTENT_MODEL ITEM_WITH_FALSE_REMOVED_FROM_CLOSED_CONTENT_MODEL
    ITEM_REMOVED_FROM_OPEN_CONTENT_MODEL ITEM_ADDED_IS_COVERED_BY_PARTIALLY_OPEN_CONTENT_MODEL
    ITEM_REMOVED_IS_COVERED_BY_PARTIALLY_OPEN_CONTENT_MODEL ENUM_ARRAY_EXTENDED
    COMBINED_TYPE_EXTENDED PRODUCT_TYPE_NARROWED SUM_TYPE_EXTENDED NOT_TYPE_NARROWED
    """
)
_COMPATIBLE_LENIENT = _COMPATIBLE_STRICT | _names(
    """
    ADDITIONAL_PROPERTIES_NARROWED ADDITIONAL_PROPERTIES_REMOVED UNEVALUATED_PROPERTIES_NARROWED
    UNEVALUATED_PROPERTIES_REMOVED REQUIRED_PROPERTY_WITH_DEFAULT_ADDED_TO_OPEN_CONTENT_MODEL
    OPTIONAL_PROPERTY_ADDED_TO_OPEN_CONTENT_MODEL PROPERTY_REMOVED_FROM_CLOSED_CONTENT_MODEL
    PROPERTY_ADDED_NOT_COVERED_BY_PARTIALLY_OPEN_CONTENT_MODEL
    PROPERTY_REMOVED_NOT_COVERED_BY_PARTIALLY_OPEN_CONTENT_MODEL
    """
)

_Pair = tuple[int, int]


@dataclass(frozen=True)
class _Difference:
    type: str
    path: tuple[str, ...]
    detail: str = ""


def _path(path: tuple[str, ...]) -> str:
    return "#/" + "/".join(_escape(p) for p in path)


@dataclass
class _Shared:
    """What one diff's contexts share: results per pair of nodes, pairs in progress
    (met again: a cycle, assumed compatible), and pairs a previous pass found
    incompatible (so a cycle into them is not assumed compatible), as Confluent's."""

    compatible: frozenset[str]
    seed: dict[_Pair, tuple[_Difference, ...]]
    memo: dict[_Pair, tuple[_Difference, ...]] = field(default_factory=dict)
    in_progress: set[_Pair] = field(default_factory=set)
    assumed: bool = False


class _Context:
    def __init__(self, shared: _Shared, path: tuple[str, ...] = ()) -> None:
        self.shared = shared
        self.path = list(path)
        self.diffs: list[_Difference] = []

    def sub(self) -> _Context:
        return _Context(self.shared, tuple(self.path))

    def add(self, type_: str, *where: str, detail: str = "") -> None:
        self.diffs.append(_Difference(type_, (*self.path, *where), detail))

    @contextmanager
    def at(self, *where: str) -> Iterator[None]:
        self.path.extend(where)
        try:
            yield
        finally:
            if where:
                del self.path[-len(where) :]

    def compatible(self) -> bool:
        return all(d.type in self.shared.compatible for d in self.diffs)


def _diff(compatible: frozenset[str], original: _Node, update: _Node) -> list[_Difference]:
    """Iterated until the pairs found incompatible stop growing, so that a cycle
    assumed compatible never hides a change (Confluent's fixpoint)."""
    seed: dict[_Pair, tuple[_Difference, ...]] = {}
    for _ in range(64):  # it grows monotonically; the bound is only a safety net
        shared = _Shared(compatible, seed)
        ctx = _Context(shared)
        _compare(ctx, original, update)
        found = {k: v for k, v in shared.memo.items() if any(d.type not in compatible for d in v)}
        if not shared.assumed or found.keys() == seed.keys():
            break
        seed = found
    return ctx.diffs


def _compare(ctx: _Context, original: _Node | None, update: _Node | None) -> None:
    if original is None or update is None:
        if update is not None:
            ctx.add("SCHEMA_ADDED", detail=f"the reader adds a schema ({_describe(update)})")
        elif original is not None:
            ctx.add("SCHEMA_REMOVED")
        return
    o, u = _deref(original), _deref(update)
    key = (id(o), id(u))
    shared = ctx.shared
    found = shared.memo.get(key)
    if found is None:
        if key in shared.in_progress:
            found = shared.seed.get(key)
            if found is None:
                shared.assumed = True
                return
        else:
            shared.in_progress.add(key)
            try:
                fresh = _Context(shared)
                _compare_types(fresh, o, u)
                found = shared.memo[key] = tuple(fresh.diffs)
            finally:
                shared.in_progress.discard(key)
    prefix = tuple(ctx.path)
    ctx.diffs.extend(_Difference(d.type, prefix + d.path, d.detail) for d in found)


def _compare_types(ctx: _Context, o: _Node, u: _Node) -> None:
    if isinstance(u, _Combined) and not isinstance(o, _Combined):
        options = u.subschemas if len(u.subschemas) == 1 or u.criterion != "allOf" else []
        for option in options:
            sub = ctx.sub()
            _compare(sub, o, option)
            if sub.compatible():
                ctx.diffs.extend(sub.diffs)
                if len(u.subschemas) > 1:
                    ctx.add("SUM_TYPE_EXTENDED")
                return
    elif isinstance(o, _Combined) and not isinstance(u, _Combined):
        parts = o.subschemas if len(o.subschemas) == 1 or o.criterion == "allOf" else []
        for part in parts:
            sub = ctx.sub()
            _compare(sub, part, u)
            if sub.compatible():
                ctx.diffs.extend(sub.diffs)
                if len(o.subschemas) > 1:
                    ctx.add("PRODUCT_TYPE_NARROWED")
                return
    if type(o) is not type(u):
        bytes_ = all(
            isinstance(n.source, dict) and n.source.get("connect.type") == "bytes" for n in (o, u)
        )
        if not (isinstance(o, _False) or isinstance(u, _Empty) or bytes_):
            ctx.add("TYPE_CHANGED", detail=f"the writer's {_describe(o)} is read as {_describe(u)}")
        return
    compare = _BY_TYPE.get(type(o))
    if compare is not None:
        compare(ctx, o, u)


def _limit(ctx: _Context, word: str, family: str, old: Any, new: Any) -> None:
    """A bound (maxLength, minimum, ...): added, removed, increased or decreased."""
    if old == new:
        return
    if old is None:
        ctx.add(f"{family}_ADDED", word, detail=f"the reader adds {word} {new}")
    elif new is None:
        ctx.add(f"{family}_REMOVED", word, detail=f"the reader drops {word} {old}")
    else:
        change = "INCREASED" if new > old else "DECREASED"
        ctx.add(f"{family}_{change}", word, detail=f"{word} goes from {old} to {new}")


def _compare_string(ctx: _Context, o: _String, u: _String) -> None:
    _limit(ctx, "maxLength", "MAX_LENGTH", o.max_length, u.max_length)
    _limit(ctx, "minLength", "MIN_LENGTH", o.min_length, u.min_length)
    if o.pattern != u.pattern:
        if o.pattern is None:
            ctx.add("PATTERN_ADDED", "pattern", detail=f"the reader adds pattern {u.pattern!r}")
        elif u.pattern is None:
            ctx.add("PATTERN_REMOVED", "pattern")
        else:
            ctx.add(
                "PATTERN_CHANGED", "pattern", detail=f"pattern {o.pattern!r} becomes {u.pattern!r}"
            )


def _decimal(value: Any) -> Decimal | None:
    try:
        return None if value is None else Decimal(str(value))
    except InvalidOperation:
        return None


def _compare_number(ctx: _Context, o: _Number, u: _Number) -> None:
    _limit(ctx, "maximum", "MAXIMUM", o.maximum, u.maximum)
    _limit(ctx, "minimum", "MINIMUM", o.minimum, u.minimum)
    _limit(ctx, "exclusiveMaximum", "EXCLUSIVE_MAXIMUM", o.exclusive_maximum, u.exclusive_maximum)
    _limit(ctx, "exclusiveMinimum", "EXCLUSIVE_MINIMUM", o.exclusive_minimum, u.exclusive_minimum)
    old, new = _decimal(o.multiple_of), _decimal(u.multiple_of)
    if old != new:
        detail = f"multipleOf {o.multiple_of} becomes {u.multiple_of}"
        if old is None:
            ctx.add(
                "MULTIPLE_OF_ADDED",
                "multipleOf",
                detail=f"the reader adds multipleOf {u.multiple_of}",
            )
        elif new is None:
            ctx.add("MULTIPLE_OF_REMOVED", "multipleOf")
        elif old != 0 and new % old == 0:
            ctx.add("MULTIPLE_OF_EXPANDED", "multipleOf", detail=detail)
        elif new != 0 and old % new == 0:
            ctx.add("MULTIPLE_OF_REDUCED", "multipleOf")
        else:
            ctx.add("MULTIPLE_OF_CHANGED", "multipleOf", detail=detail)
    if o.integer != u.integer:
        if o.integer:
            ctx.add("TYPE_EXTENDED")
        else:
            ctx.add("TYPE_NARROWED", detail="the writer's number is read as integer")


def _json_text(value: Any) -> str:
    return json.dumps(value, sort_keys=True, separators=(",", ":"))


def _compare_enum(ctx: _Context, o: _Enum, u: _Enum) -> None:
    old, new = {_json_text(v) for v in o.values}, {_json_text(v) for v in u.values}
    if old == new:
        return
    if new >= old:
        ctx.add("ENUM_ARRAY_EXTENDED", "enum")
        return
    lost = ", ".join(sorted(old - new))
    ctx.add(
        "ENUM_ARRAY_NARROWED" if old >= new else "ENUM_ARRAY_CHANGED",
        "enum",
        detail=f"the reader's enum lacks {lost}",
    )


def _compare_const(ctx: _Context, o: _Const, u: _Const) -> None:
    if _json_text(o.value) != _json_text(u.value):
        detail = f"const {_json_text(o.value)} becomes {_json_text(u.value)}"
        ctx.add("ENUM_ARRAY_CHANGED", "const", detail=detail)


def _compare_not(ctx: _Context, o: _Not, u: _Not) -> None:
    with ctx.at("not"):
        sub = ctx.sub()
        _compare(sub, u.inner, o.inner)  # reversed: the reader may exclude less
        if sub.compatible():
            ctx.add("NOT_TYPE_NARROWED")
        else:
            ctx.add("NOT_TYPE_EXTENDED", detail="the reader's not excludes more than the writer's")


def _distinct(nodes: list[_Node]) -> list[_Node]:
    seen: dict[tuple[str, str], _Node] = {}
    for node in nodes:  # synthetic parts share a source: their kinds tell them apart
        seen.setdefault((_describe(node), _json_text(node.source)), node)
    return list(seen.values())


def _matching(edges: dict[int, dict[int, list[_Difference]]]) -> dict[int, int]:
    """A maximum matching of writer subschemas to compatible reader ones (Kuhn's)."""
    owner: dict[int, int] = {}

    def augment(i: int, seen: set[int]) -> bool:
        for j in edges.get(i, {}):
            if j not in seen:
                seen.add(j)
                if j not in owner or augment(owner[j], seen):
                    owner[j] = i
                    return True
        return False

    for i in edges:
        augment(i, set())
    return {i: j for j, i in owner.items()}


def _compare_combined(ctx: _Context, o: _Combined, u: _Combined) -> None:
    if o.criterion != u.criterion:
        one_old, one_new = len(o.subschemas) == 1, len(u.subschemas) == 1
        if not (
            u.criterion == "anyOf"
            or (one_old and (one_new or u.criterion == "oneOf"))
            or (one_new and o.criterion == "allOf")
        ):
            ctx.add(
                "COMBINED_TYPE_CHANGED",
                detail=f"the writer's {o.criterion} is read as {u.criterion}",
            )
            return
        ctx.add("COMBINED_TYPE_EXTENDED")
    olds, news = _distinct(o.subschemas), _distinct(u.subschemas)
    sizes = f"the reader's {u.criterion} has {len(news)} subschemas, the writer's {len(olds)}"
    if len(olds) < len(news):
        many = "PRODUCT_TYPE_EXTENDED" if u.criterion == "allOf" else "SUM_TYPE_EXTENDED"
        ctx.add(many, detail=sizes)
    elif len(olds) > len(news):
        fewer = "PRODUCT_TYPE_NARROWED" if o.criterion == "allOf" else "SUM_TYPE_NARROWED"
        ctx.add(fewer, detail=sizes)
    edges: dict[int, dict[int, list[_Difference]]] = {}
    where = {i: () if o.synthetic else (o.criterion, str(i)) for i in range(len(olds))}
    for i, old in enumerate(olds):
        with ctx.at(*where[i]):
            for j, new in enumerate(news):
                sub = ctx.sub()
                _compare(sub, old, new)
                if sub.compatible():
                    edges.setdefault(i, {})[j] = sub.diffs
    match = _matching(edges)
    for i, j in match.items():
        ctx.diffs.extend(edges[i][j])
    if len(match) >= min(len(olds), len(news)):
        return
    free = [j for j in range(len(news)) if j not in match.values()]
    for i in (i for i in range(len(olds)) if i not in match):
        alike = [j for j in free if type(_deref(news[j])) is type(_deref(olds[i]))]
        why: list[_Difference] = []
        if len(alike) == 1:  # say what keeps it from its one counterpart
            with ctx.at(*where[i]):
                sub = ctx.sub()
                _compare(sub, olds[i], news[alike[0]])
            why = [d for d in sub.diffs if d.type not in ctx.shared.compatible]
        ctx.diffs.extend(why)
        if not why:
            name = (
                _describe(olds[i]) if o.synthetic else f"{o.criterion}/{i} ({_describe(olds[i])})"
            )
            ctx.add(
                "COMBINED_TYPE_SUBSCHEMAS_CHANGED",
                detail=f"the writer's {name} matches none of the reader's subschemas",
            )


def _cover(node: _Object, name: str) -> _Node | None:
    """The schema a partially open object gives an undeclared property, if any."""
    for pattern, schema in node.patterns.items():
        try:
            if re.search(pattern, name):
                return schema
        except re.error:
            continue
    if node.additional_schema is not None:
        return node.additional_schema
    if (
        node.additional
        and node.unevaluated is not None
        and not isinstance(node.unevaluated, _False)
    ):
        return node.unevaluated
    return None


def _open(node: _Object | _Array) -> bool:
    if not node.additional or node.additional_schema is not None or node.unevaluated is not None:
        return False
    return not (isinstance(node, _Object) and node.patterns)


def _compare_object(ctx: _Context, o: _Object, u: _Object) -> None:
    for name in o.properties:
        if name in u.properties and (name in o.required) != (name in u.required):
            if name in o.required:
                ctx.add("REQUIRED_ATTRIBUTE_REMOVED", "required", name)
            elif u.properties[name].has_default:
                ctx.add("REQUIRED_ATTRIBUTE_WITH_DEFAULT_ADDED", "required", name)
            else:
                detail = f"the reader requires {name!r}, which the writer's data may lack"
                ctx.add("REQUIRED_ATTRIBUTE_ADDED", "required", name, detail=detail)
    names = [*o.properties, *(n for n in u.properties if n not in o.properties)]
    for name in names:
        with ctx.at("properties", name):
            _compare_member(ctx, o, u, o.properties.get(name), u.properties.get(name), name)
    with ctx.at("dependencies"):
        for key in [
            *o.dependent_required,
            *(k for k in u.dependent_required if k not in o.dependent_required),
        ]:
            old, new = o.dependent_required.get(key), u.dependent_required.get(key)
            if new is None:
                ctx.add("DEPENDENCY_ARRAY_REMOVED", key)
            elif old is None:
                ctx.add(
                    "DEPENDENCY_ARRAY_ADDED", key, detail=f"the reader adds a dependency on {key!r}"
                )
            elif old != new:
                change = "EXTENDED" if new > old else "NARROWED" if new < old else "CHANGED"
                detail = f"{key!r} requires {sorted(new)}, not {sorted(old)}"
                ctx.add(f"DEPENDENCY_ARRAY_{change}", key, detail=detail)
        for key in [
            *o.dependent_schemas,
            *(k for k in u.dependent_schemas if k not in o.dependent_schemas),
        ]:
            old_schema, new_schema = o.dependent_schemas.get(key), u.dependent_schemas.get(key)
            if new_schema is None:
                ctx.add("DEPENDENCY_SCHEMA_REMOVED", key)
            elif old_schema is None:
                detail = f"the reader adds a dependent schema for {key!r}"
                ctx.add("DEPENDENCY_SCHEMA_ADDED", key, detail=detail)
            else:
                with ctx.at(key):
                    _compare(ctx, old_schema, new_schema)
    _compare_extra(ctx, "additionalProperties", "ADDITIONAL_PROPERTIES", o, u)
    _compare_unevaluated(
        ctx, "unevaluatedProperties", "UNEVALUATED_PROPERTIES", o.unevaluated, u.unevaluated
    )
    _limit(ctx, "maxProperties", "MAX_PROPERTIES", o.max_properties, u.max_properties)
    _limit(ctx, "minProperties", "MIN_PROPERTIES", o.min_properties, u.min_properties)


def _compare_member(
    ctx: _Context,
    o: _Object | _Array,
    u: _Object | _Array,
    old: _Node | None,
    new: _Node | None,
    name: str | None,
) -> None:
    """A property (``name``) or a tuple item (``name`` None) one side may lack."""
    what = "PROPERTY" if name is not None else "ITEM"

    def covered(old: _Node, new: _Node, verb: str) -> None:
        sub = ctx.sub()
        _compare(sub, old, new)
        ctx.diffs.extend(sub.diffs)
        if sub.compatible():
            ctx.add(f"{what}_{verb}_IS_COVERED_BY_PARTIALLY_OPEN_CONTENT_MODEL")
        else:
            side = "reader" if verb == "REMOVED" else "writer"
            detail = (
                f"the {side}'s partially open content model covers it with an incompatible schema"
            )
            ctx.add(f"{what}_{verb}_NOT_COVERED_BY_PARTIALLY_OPEN_CONTENT_MODEL", detail=detail)

    def cover(node: _Object | _Array) -> _Node | None:
        if isinstance(node, _Object):
            return _cover(node, name or "")
        if node.additional_schema is not None:
            return node.additional_schema
        if (
            node.additional
            and node.unevaluated is not None
            and not isinstance(node.unevaluated, _False)
        ):
            return node.unevaluated
        return None

    if old is not None and new is not None:
        _compare(ctx, old, new)
    elif old is not None:  # the reader lacks it
        reader_cover = cover(u)
        if _open(u):
            ctx.add(f"{what}_REMOVED_FROM_OPEN_CONTENT_MODEL")
        elif reader_cover is not None:
            covered(old, reader_cover, "REMOVED")
        elif isinstance(old, _False):
            ctx.add(f"{what}_WITH_FALSE_REMOVED_FROM_CLOSED_CONTENT_MODEL")
        else:
            detail = "the writer's data may hold it; the reader's closed content model refuses it"
            ctx.add(f"{what}_REMOVED_FROM_CLOSED_CONTENT_MODEL", detail=detail)
    elif new is not None:  # the writer lacks it
        required = isinstance(u, _Object) and name in u.required
        if _open(o):
            if isinstance(new, _Empty):
                ctx.add(f"{what}_WITH_EMPTY_SCHEMA_ADDED_TO_OPEN_CONTENT_MODEL")
                return
            if name is None:
                kind = "ITEM"
            elif required:
                kind = "REQUIRED_PROPERTY_WITH_DEFAULT" if new.has_default else "REQUIRED_PROPERTY"
            else:
                kind = "OPTIONAL_PROPERTY"
            detail = (
                "the writer's open content model may hold it with any value; the reader wants "
                + _describe(new)
            )
            ctx.add(f"{kind}_ADDED_TO_OPEN_CONTENT_MODEL", detail=detail)
            return
        writer_cover = cover(o)
        if writer_cover is not None:
            covered(writer_cover, new, "ADDED")
        if name is None:
            if writer_cover is None:
                ctx.add("ITEM_ADDED_TO_CLOSED_CONTENT_MODEL")
        elif required and not new.has_default:
            detail = f"the reader requires {name!r}, which the writer's data lacks"
            ctx.add("REQUIRED_PROPERTY_ADDED_TO_UNOPEN_CONTENT_MODEL", detail=detail)
        else:
            optional = "REQUIRED_PROPERTY_WITH_DEFAULT" if required else "OPTIONAL_PROPERTY"
            ctx.add(f"{optional}_ADDED_TO_UNOPEN_CONTENT_MODEL")


def _compare_extra(
    ctx: _Context, word: str, family: str, o: _Object | _Array, u: _Object | _Array
) -> None:
    """additionalProperties or additionalItems: true/false or a schema."""
    with ctx.at(word):
        if o.additional != u.additional:
            if u.additional:
                ctx.add(f"{family}_ADDED")
            else:
                ctx.add(
                    f"{family}_REMOVED", detail=f"the reader closes {word}, which the writer allows"
                )
        elif o.additional_schema is None and u.additional_schema is not None:
            detail = f"the reader narrows {word} to {_describe(u.additional_schema)}"
            ctx.add(f"{family}_NARROWED", detail=detail)
        elif u.additional_schema is None and o.additional_schema is not None:
            ctx.add(f"{family}_EXTENDED")
        else:
            _compare(ctx, o.additional_schema, u.additional_schema)


def _compare_unevaluated(
    ctx: _Context, word: str, family: str, o: _Node | None, u: _Node | None
) -> None:
    if o is None and u is None:
        return
    with ctx.at(word):
        if o is None or u is None:
            closes = u is not None and isinstance(u, _False)
            if o is None:
                change = "REMOVED" if closes else "NARROWED"
            else:
                change = "ADDED" if isinstance(o, _False) else "EXTENDED"
        elif isinstance(o, _False) != isinstance(u, _False):
            change = "ADDED" if isinstance(o, _False) else "REMOVED"
        else:
            _compare(ctx, o, u)
            return
        detail = "" if change in ("ADDED", "EXTENDED") else f"the reader narrows {word}"
        ctx.add(f"{family}_{change}", detail=detail)


def _compare_array(ctx: _Context, o: _Array, u: _Array) -> None:
    with ctx.at("items"):
        _compare(ctx, o.items, u.items)
    for i in range(max(len(o.prefix), len(u.prefix))):
        old = o.prefix[i] if i < len(o.prefix) else None
        new = u.prefix[i] if i < len(u.prefix) else None
        with ctx.at("items", str(i)):
            _compare_member(ctx, o, u, old, new, None)
    _compare_extra(ctx, "additionalItems", "ADDITIONAL_ITEMS", o, u)
    _compare_unevaluated(ctx, "unevaluatedItems", "UNEVALUATED_ITEMS", o.unevaluated, u.unevaluated)
    _limit(ctx, "maxItems", "MAX_ITEMS", o.max_items, u.max_items)
    _limit(ctx, "minItems", "MIN_ITEMS", o.min_items, u.min_items)
    if o.unique != u.unique:
        if o.unique:
            ctx.add("UNIQUE_ITEMS_REMOVED", "uniqueItems")
        else:
            ctx.add("UNIQUE_ITEMS_ADDED", "uniqueItems", detail="the reader adds uniqueItems")
    _limit(ctx, "maxContains", "MAX_CONTAINS", o.max_contains, u.max_contains)
    _limit(ctx, "minContains", "MIN_CONTAINS", o.min_contains, u.min_contains)


_BY_TYPE: dict[type, Callable[[_Context, Any, Any], None]] = {
    _String: _compare_string,
    _Number: _compare_number,
    _Enum: _compare_enum,
    _Const: _compare_const,
    _Not: _compare_not,
    _Combined: _compare_combined,
    _Object: _compare_object,
    _Array: _compare_array,
}

KIND = JsonSchemaKind()
