"""Confluent's rules for combined schemas (allOf, anyOf, oneOf) and ``not``: the
criterion may only widen, anyOf/oneOf may gain branches and allOf lose parts, and each
writer subschema must match its own compatible reader subschema; ``not`` may exclude less.
"""

from __future__ import annotations

from logway.schemas.jsonschema.compare import _compare, _Context, _Difference
from logway.schemas.jsonschema.model import _Combined, _deref, _describe, _Node, _Not
from logway.schemas.jsonschema.scalars import _json_text


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
