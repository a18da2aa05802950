"""Confluent's diff of an original schema against an update: the rules of each kind of
node put together, iterated to a fixpoint so that a cycle assumed compatible never
hides a change.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from logway.schemas.jsonschema.arrays import _compare_array
from logway.schemas.jsonschema.combined import _compare_combined, _compare_not
from logway.schemas.jsonschema.compare import _compare, _Context, _Difference, _Pair, _Shared
from logway.schemas.jsonschema.model import (
    _Array,
    _Combined,
    _Const,
    _Enum,
    _Node,
    _Not,
    _Number,
    _Object,
    _String,
)
from logway.schemas.jsonschema.objects import _compare_object
from logway.schemas.jsonschema.scalars import (
    _compare_const,
    _compare_enum,
    _compare_number,
    _compare_string,
)

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


def _diff(compatible: frozenset[str], original: _Node, update: _Node) -> list[_Difference]:
    """Iterated until the pairs found incompatible stop growing, so that a cycle
    assumed compatible never hides a change (Confluent's fixpoint)."""
    seed: dict[_Pair, tuple[_Difference, ...]] = {}
    for _ in range(64):  # it grows monotonically; the bound is only a safety net
        shared = _Shared(compatible, seed, _BY_TYPE)
        ctx = _Context(shared)
        _compare(ctx, original, update)
        found = {k: v for k, v in shared.memo.items() if any(d.type not in compatible for d in v)}
        if not shared.assumed or found.keys() == seed.keys():
            break
        seed = found
    return ctx.diffs
