"""The walk over two models, original (the writer's) against update (the reader's): a
difference and its path, the context comparisons add them to, and ``_compare``, which
follows ``$ref``s, remembers each pair of nodes (one met again is a cycle) and hands
nodes of one kind to that kind's rules; ``_limit`` compares a bound of any kind.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

from logway.schemas.jsonschema.model import _Combined, _deref, _describe, _Empty, _False, _Node
from logway.schemas.jsonschema.parse import _escape

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
    incompatible (so a cycle into them is not assumed compatible), as Confluent's;
    and the rules for each type of node (``diff`` puts them together)."""

    compatible: frozenset[str]
    seed: dict[_Pair, tuple[_Difference, ...]]
    by_type: Mapping[type, Callable[[_Context, Any, Any], None]]
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
    compare = ctx.shared.by_type.get(type(o))
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
