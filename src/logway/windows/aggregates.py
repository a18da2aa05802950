"""Aggregations over a window's records, compiled to one tight add function.

``compile_aggregations({"n": "count", "avg": ("mean", "ms"), ...})`` returns an
``Aggregations`` whose window state is a flat list of slots. Its ``add`` is generated
Python source: every field is read once, checked, and only then are the slots updated,
so a bad record (``InvalidRecordError``) never leaves a state half-changed.

Kinds: ``count``, ``sum``, ``min``, ``max``, ``mean``, ``first``/``last`` (by event time;
ties keep arrival order: first keeps the earlier, last takes the later), ``distinct_count``
(exact; values must be hashable, and JSON scalars for snapshots), ``percentile`` (a
``QuantileSketch`` within 1 %), and ``Custom``. ``sum``, ``min``, ``max``, ``mean`` and
``percentile`` need numbers (int or float, not bool).
"""

from __future__ import annotations

import copy
import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from logway.errors import InvalidArgumentError, InvalidRecordError
from logway.windows import fields
from logway.windows.sketch import QuantileSketch

State = list[Any]
_NUMERIC = ("sum", "min", "max", "mean", "percentile")
_KINDS = ("count", *_NUMERIC, "first", "last", "distinct_count")


@dataclass(frozen=True)
class Custom:
    """A user aggregation, like Flink's AggregateFunction: ``initial`` (a value, copied
    per window, or a zero-argument callable), ``reduce(acc, value) -> acc``,
    ``merge(a, b) -> acc`` (needed by session windows, which merge) and
    ``result(acc) -> Any``. Accumulators must be JSON-serialisable for snapshots."""

    initial: Any
    reduce: Callable[[Any, Any], Any]
    merge: Callable[[Any, Any], Any] | None = None
    result: Callable[[Any], Any] | None = None


@dataclass(frozen=True)
class _Agg:
    name: str
    kind: str
    slot: int
    field: fields.Field | None = None
    q: float = 0.0
    custom: Custom | None = None


class Aggregations:
    """Compiled aggregations: ``initial``, ``add``, ``merge``, ``results`` and the JSON
    codec of their state (a list)."""

    def __init__(self, aggs: list[_Agg]):
        self.aggs = aggs
        self.names = [a.name for a in aggs]
        self.mergeable = all(a.custom is None or a.custom.merge is not None for a in aggs)
        self.custom = any(a.custom is not None for a in aggs)
        self.add: Callable[[State, Any, int], None] = _compile_add(aggs)
        self._template: list[Any] = []
        self._fresh: list[tuple[int, Callable[[], Any]]] = []
        for a in aggs:
            if a.kind == "distinct_count":
                self._template.append(None)
                self._fresh.append((a.slot, set))
            elif a.kind == "percentile":
                self._template.append(None)
                self._fresh.append((a.slot, QuantileSketch))
            elif a.custom is not None:
                self._template.append(None)
                self._fresh.append((a.slot, _initial_of(a.custom)))
            elif a.kind == "count" or a.kind == "sum":
                self._template.append(0)
            elif a.kind == "mean":
                self._template += [0, 0]
            elif a.kind in ("first", "last"):
                self._template += [None, None]
            else:  # min, max
                self._template.append(None)

    def initial(self) -> State:
        """A new, empty window state."""
        state = self._template.copy()
        for slot, make in self._fresh:
            state[slot] = make()
        return state

    def merge(self, a: State, b: State) -> State:
        """The state of both windows' records (``a`` and ``b`` may be changed; on equal
        event times ``first`` keeps ``a``'s and ``last`` takes ``b``'s)."""
        for agg in self.aggs:
            i, kind = agg.slot, agg.kind
            if kind in ("count", "sum"):
                a[i] += b[i]
            elif kind == "mean":
                a[i] += b[i]
                a[i + 1] += b[i + 1]
            elif kind in ("min", "max"):
                if a[i] is None or (b[i] is not None and (b[i] < a[i]) == (kind == "min")):
                    a[i] = b[i]
            elif kind == "first":
                if a[i] is None or (b[i] is not None and b[i] < a[i]):
                    a[i], a[i + 1] = b[i], b[i + 1]
            elif kind == "last":
                if a[i] is None or (b[i] is not None and b[i] >= a[i]):
                    a[i], a[i + 1] = b[i], b[i + 1]
            elif kind == "distinct_count":
                a[i] |= b[i]
            elif kind == "percentile":
                a[i].merge(b[i])
            else:
                merge = agg.custom.merge if agg.custom else None
                if merge is None:
                    raise InvalidArgumentError(
                        f"aggregation {agg.name!r}: Custom(...) needs merge= to merge windows"
                    )
                a[i] = merge(a[i], b[i])
        return a

    def results(self, state: State) -> dict[str, Any]:
        """Output name -> value (None for an empty mean, min, max, first, last or
        percentile)."""
        out: dict[str, Any] = {}
        for agg in self.aggs:
            i, kind = agg.slot, agg.kind
            if kind == "mean":
                out[agg.name] = state[i] / state[i + 1] if state[i + 1] else None
            elif kind in ("first", "last"):
                out[agg.name] = state[i + 1]
            elif kind == "distinct_count":
                out[agg.name] = len(state[i])
            elif kind == "percentile":
                out[agg.name] = state[i].quantile(agg.q)
            elif agg.custom is not None:
                result = agg.custom.result
                out[agg.name] = result(state[i]) if result else state[i]
            else:
                out[agg.name] = state[i]
        return out

    def to_json(self, state: State) -> list[Any]:
        """The state as JSON-serialisable data."""
        out = list(state)
        for agg in self.aggs:
            if agg.kind == "distinct_count":
                out[agg.slot] = sorted(state[agg.slot], key=repr)
            elif agg.kind == "percentile":
                out[agg.slot] = state[agg.slot].to_json()
        return out

    def from_json(self, obj: list[Any]) -> State:
        """The state ``to_json`` described."""
        if not isinstance(obj, list) or len(obj) != len(self._template):
            raise InvalidArgumentError(
                "a window state in the snapshot does not fit these aggregations: restore with "
                "the aggregations the snapshot was taken with"
            )
        state = list(obj)
        for agg in self.aggs:
            if agg.kind == "distinct_count":
                state[agg.slot] = set(obj[agg.slot])
            elif agg.kind == "percentile":
                state[agg.slot] = QuantileSketch.from_json(obj[agg.slot])
        return state


def compile_aggregations(spec: Mapping[str, Any]) -> Aggregations:
    """Compile ``{output name: aggregation}``; see the module docstring for the kinds."""
    if not isinstance(spec, Mapping) or not spec:
        raise InvalidArgumentError(
            "aggregations must be a non-empty mapping such as {'n': 'count', "
            "'avg': ('mean', 'latency_ms')}"
        )
    aggs: list[_Agg] = []
    slot = 0
    for name, item in spec.items():
        if not isinstance(name, str) or not name:
            raise InvalidArgumentError(f"aggregation names must be non-empty strings, not {name!r}")
        agg = _parse(name, item, slot)
        aggs.append(agg)
        slot += 2 if agg.kind in ("mean", "first", "last") else 1
    return Aggregations(aggs)


def _parse(name: str, item: Any, slot: int) -> _Agg:
    if isinstance(item, Custom):
        if not callable(item.reduce):
            raise InvalidArgumentError(f"aggregation {name!r}: Custom reduce must be callable")
        return _Agg(name, "custom", slot, custom=item)
    if item == "count" or (isinstance(item, tuple | list) and list(item) == ["count"]):
        return _Agg(name, "count", slot)
    usage = (
        f"aggregation {name!r} must be 'count', (KIND, FIELD) with KIND one of "
        f"{', '.join(_KINDS[1:])}, ('percentile', FIELD, q) or Custom(...), not {item!r}"
    )
    if not isinstance(item, tuple | list) or not item or item[0] not in _KINDS:
        raise InvalidArgumentError(usage)
    kind = item[0]
    if kind == "percentile":
        if len(item) != 3:
            raise InvalidArgumentError(usage)
        q = item[2]
        if isinstance(q, bool) or not isinstance(q, int | float) or not 0 <= q <= 1:
            raise InvalidArgumentError(
                f"aggregation {name!r}: the percentile must be a number from 0 to 1 "
                f"(0.99 for p99), not {q!r}"
            )
        return _Agg(name, kind, slot, fields.check(item[1], name), q=float(q))
    if len(item) != 2 or kind == "count":
        raise InvalidArgumentError(usage)
    return _Agg(name, kind, slot, fields.check(item[1], name))


def _initial_of(custom: Custom) -> Callable[[], Any]:
    initial = custom.initial
    if callable(initial):
        return initial  # type: ignore[no-any-return]
    if initial is None or isinstance(initial, int | float | str | bool):
        return lambda: initial
    return lambda: copy.deepcopy(initial)


def _compile_add(aggs: list[_Agg]) -> Callable[[State, Any, int], None]:
    """Generate ``add(state, value, t)``: read every field, check it, then update."""
    env: dict[str, Any] = {
        "_LOOKUP": fields.LOOKUP_ERRORS,
        "_missing": _missing,
        "_number": _number,
        "_hashable": _hashable,
        "_int": int,
        "_float": float,
    }
    reads: list[str] = []
    checks: list[str] = []
    updates: list[str] = []
    customs: list[str] = []
    var_of: dict[Any, str] = {}
    numeric_vars: set[str] = set()
    field_list: list[fields.Field] = []

    def var(field: fields.Field) -> str:
        key = field if isinstance(field, str) else ("callable", id(field))
        if key not in var_of:
            v = var_of[key] = f"v{len(var_of)}"
            env[f"f_{v}"] = field
            field_list.append(field)
            reads.append(f"        {v} = {fields.source(field, 'value', f'f_{v}')}")
        return var_of[key]

    for agg in aggs:
        i = agg.slot
        v = var(agg.field) if agg.field is not None else ""
        label = fields.describe(agg.field) if agg.field is not None else ""
        if agg.kind in _NUMERIC and v not in numeric_vars:
            numeric_vars.add(v)
            checks.append(
                f"    if {v}.__class__ is not _int and {v}.__class__ is not _float:\n"
                f"        {v} = _number({v}, {label!r})"
            )
        if agg.kind == "count":
            updates.append(f"    state[{i}] += 1")
        elif agg.kind == "sum":
            updates.append(f"    state[{i}] += {v}")
        elif agg.kind == "mean":
            updates.append(f"    state[{i}] += {v}\n    state[{i + 1}] += 1")
        elif agg.kind in ("min", "max"):
            op = "<" if agg.kind == "min" else ">"
            updates.append(
                f"    x = state[{i}]\n    if x is None or {v} {op} x:\n        state[{i}] = {v}"
            )
        elif agg.kind in ("first", "last"):
            op = "<" if agg.kind == "first" else ">="
            updates.append(
                f"    x = state[{i}]\n    if x is None or t {op} x:\n"
                f"        state[{i}] = t\n        state[{i + 1}] = {v}"
            )
        elif agg.kind == "distinct_count":
            checks.append(f"    _hashable({v}, {label!r})")
            updates.append(f"    state[{i}].add({v})")
        elif agg.kind == "percentile":
            checks.append(f"    if not -_INF < {v} < _INF:\n        _not_finite({v}, {label!r})")
            updates.append(f"    state[{i}].add({v})")
        else:
            assert agg.custom is not None
            env[f"reduce{i}"] = agg.custom.reduce
            customs.append(f"    c{i} = reduce{i}(state[{i}], value)")
            updates.append(f"    state[{i}] = c{i}")
    env["_INF"] = math.inf
    env["_not_finite"] = _not_finite
    env["_fields"] = field_list
    lines = ["def add(state, value, t):"]
    if reads:
        lines += [
            "    try:",
            *reads,
            "    except _LOOKUP as e:",
            "        _missing(_fields, value, e)",
        ]
    lines += checks + customs + updates
    exec(compile("\n".join(lines) + "\n", "<logway.windows aggregations>", "exec"), env)
    add: Callable[[State, Any, int], None] = env["add"]
    return add


def _missing(field_list: list[fields.Field], value: Any, error: BaseException) -> None:
    for field in field_list:
        try:
            fields.read(field, value)
        except fields.LOOKUP_ERRORS:
            raise InvalidRecordError(
                f"the record has no field {fields.describe(field)!r} (value: {_short(value)})"
            ) from None
    raise InvalidRecordError(f"a field of the record could not be read: {error!r}") from None


def _number(v: Any, field: str) -> float:
    if isinstance(v, bool) or not isinstance(v, int | float):
        raise InvalidRecordError(f"field {field!r} must be a number, got {_short(v)}")
    return v


def _not_finite(v: Any, field: str) -> None:
    raise InvalidRecordError(f"field {field!r} must be a finite number, got {_short(v)}")


def _hashable(v: Any, field: str) -> None:
    try:
        hash(v)
    except TypeError:
        raise InvalidRecordError(
            f"field {field!r} must be a string, number or other hashable value to count "
            f"distinct values, got {_short(v)}"
        ) from None


def _short(v: Any) -> str:
    text = repr(v)
    return text if len(text) <= 80 else text[:77] + "..."
