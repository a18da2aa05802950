"""From a pattern to its $or-free branches: each a tree of fields with their leaves.

A key "a.b" names the field b of a. $or alternatives multiply into branches (at
most 1024); a field named twice in one branch is refused.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, Final

from logway.functions.patterns.addresses import parse_ip
from logway.functions.patterns.complexity import check_complexity, term_of
from logway.functions.patterns.errors import PatternError
from logway.functions.patterns.json_text import json_type, show
from logway.functions.patterns.numbers import finite, num_key
from logway.functions.patterns.operators import RESERVED_IN_OR, parse_operator
from logway.functions.patterns.tree import Branch, Leaf, Path, Tree, dotted_path

MAX_BRANCHES: Final = 1024  # $or combinations one pattern may expand to


def parse_branches(source: Mapping[str, Any]) -> list[Tree]:
    """The $or-free branches of a pattern as trees, once its wildcards are found simple enough."""
    branches = parse_object(source, (), (), in_or=False)
    check_complexity(branches)
    trees = []
    for branch in branches:
        tree = Tree()
        for path, leaf in branch.items():
            node = tree
            for name in path:
                node = node.children.setdefault(name, Tree())
            node.leaf = leaf
        trees.append(tree)
    return trees


def parse_object(
    obj: Mapping[str, Any], prefix: Path, where: tuple[str, ...], in_or: bool
) -> list[Branch]:
    if not obj:
        raise PatternError(
            "empty objects are not allowed; give at least one field", dotted_path(where)
        )
    branches: list[Branch] = [{}]
    for key, value in obj.items():
        if not isinstance(key, str):
            raise PatternError(f"field names must be strings, not {key!r}", dotted_path(where))
        here = (*where, key)
        if key == "$or":
            alternatives = parse_or(value, prefix, here)
            branches = combine(branches, alternatives, here)
        elif in_or and key in RESERVED_IN_OR:
            raise PatternError(
                f"{key!r} is an operator name and cannot be a field name inside $or; "
                "each $or object maps field names to value lists, "
                f'e.g. {{"price": [{{"{key}": ...}}]}}',
                dotted_path(here),
            )
        elif isinstance(value, Mapping):
            sub = parse_object(value, (*prefix, *key.split(".")), here, in_or)
            branches = combine(branches, sub, here)
        elif isinstance(value, (list, tuple)):
            leaf = parse_leaf(value, dotted_path(here))
            path = (*prefix, *key.split("."))  # "a.b" is the field b of a
            for branch in branches:
                if path in branch:  # set by a $or listed earlier in this object
                    raise twice(path, dotted_path(where))
                branch[path] = leaf
        else:
            raise PatternError(
                f"a field must hold an object or an array of values, not {json_type(value)} "
                f"({show(value)}); write [{show(value)}] to match that value",
                dotted_path(here),
            )
    return branches


def parse_or(value: Any, prefix: Path, where: tuple[str, ...]) -> list[Branch]:
    if not isinstance(value, (list, tuple)):
        raise PatternError(
            f"$or must be an array of at least two objects, not {json_type(value)}",
            dotted_path(where),
        )
    if len(value) < 2:
        raise PatternError(
            f"$or must list at least two objects, got {len(value)}", dotted_path(where)
        )
    alternatives: list[Branch] = []
    for i, alternative in enumerate(value):
        here = (*where[:-1], f"$or[{i}]")
        if not isinstance(alternative, Mapping):
            raise PatternError(
                f"every element of $or must be an object, not {json_type(alternative)}",
                dotted_path(here),
            )
        alternatives.extend(parse_object(alternative, prefix, here, in_or=True))
    return alternatives


def combine(left: list[Branch], right: list[Branch], where: tuple[str, ...]) -> list[Branch]:
    """Every branch of ``left`` AND-ed with every branch of ``right``."""
    if len(left) * len(right) > MAX_BRANCHES:
        raise PatternError(
            f"the $or operators expand to more than {MAX_BRANCHES} combinations; "
            "simplify the pattern or split it into several filter patterns",
            dotted_path(where),
        )
    combined = []
    for a in left:
        for b in right:
            clash = a.keys() & b.keys()
            if clash:
                raise twice(min(clash), dotted_path(where))
            combined.append({**a, **b})
    return combined


def twice(path: Path, where: str) -> PatternError:
    return PatternError(
        f"the field `{dotted_path(path)}` is given twice (by a dotted key and nested objects, "
        "or inside and beside $or); event-ruler would let one silently override the other, "
        "so list all its alternatives in one place",
        where,
    )


def parse_leaf(values: Sequence[Any], where: str) -> Leaf:
    if not values:
        raise PatternError(
            "empty arrays are not allowed; list at least one value or operator", where
        )
    leaf = Leaf()
    for value in values:
        parse_value(value, leaf, where)
        leaf.terms.append(term_of(value))
    return leaf


def parse_value(value: Any, leaf: Leaf, where: str) -> None:
    if value is None or isinstance(value, bool):
        leaf.consts.add(value)
    elif isinstance(value, str):
        leaf.strs.add(value)
        ip = parse_ip(value)
        if ip is not None:
            leaf.ips.append((ip[0], ip[1], ip[1]))
    elif isinstance(value, (int, float)):
        leaf.nums.add(num_key(finite(value, where, "a value")))
    elif isinstance(value, Mapping):
        parse_operator(value, leaf, where)
    elif isinstance(value, (list, tuple)):
        raise PatternError(
            f"arrays cannot be nested in a value list ({show(value)}); "
            "list the alternatives directly",
            where,
        )
    else:
        raise PatternError(f"{json_type(value)} is not a JSON value", where)
