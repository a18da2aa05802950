"""The model the compatibility rules compare: schemas as Everit reads them (Confluent's
model), a node per kind of schema. One schema object with keywords of several kinds is
an allOf of nodes, a list of types an anyOf; a ``$ref`` is a node pointing at its target.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


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
