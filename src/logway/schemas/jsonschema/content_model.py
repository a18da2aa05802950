"""Open, closed and partially open content models, shared by objects and arrays: what
becomes of a property or tuple item one side has and the other lacks, and of
additionalProperties/additionalItems and unevaluated*, which may open but not close.
"""

from __future__ import annotations

import re

from logway.schemas.jsonschema.compare import _compare, _Context
from logway.schemas.jsonschema.model import _Array, _describe, _Empty, _False, _Node, _Object


def _cover(node: _Object | _Array, name: str) -> _Node | None:
    """The schema a partially open object gives an undeclared property (``name``), or a
    partially open array an item past its tuple, if any."""
    if isinstance(node, _Object):
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

    if old is not None and new is not None:
        _compare(ctx, old, new)
    elif old is not None:  # the reader lacks it
        reader_cover = _cover(u, name or "")
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
        writer_cover = _cover(o, name or "")
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
