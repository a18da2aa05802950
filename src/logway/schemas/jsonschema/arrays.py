"""Confluent's rules for arrays: items and tuple items (items as a list, prefixItems)
through the content model, additionalItems, unevaluatedItems, uniqueItems and the
item and contains limits.
"""

from __future__ import annotations

from logway.schemas.jsonschema.compare import _compare, _Context, _limit
from logway.schemas.jsonschema.content_model import (
    _compare_extra,
    _compare_member,
    _compare_unevaluated,
)
from logway.schemas.jsonschema.model import _Array


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
