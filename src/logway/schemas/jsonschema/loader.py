"""Reading schema JSON into the model as Everit's loader does, draft by draft: which
keywords make which kind of node; ``$ref`` targets are read after the tree, so that
recursive schemas are fine.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import referencing.exceptions

from logway.schemas.jsonschema.drafts import _Draft, _draft, _Resolver
from logway.schemas.jsonschema.model import (
    _Array,
    _Boolean,
    _Combined,
    _Conditional,
    _Const,
    _Empty,
    _Enum,
    _False,
    _Node,
    _Not,
    _Null,
    _Number,
    _Object,
    _Ref,
    _String,
)

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
