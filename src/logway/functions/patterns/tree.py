"""The parsed form of a pattern: per $or-free branch, a tree of field names whose
leaves group the alternatives of a value list by the JSON type they test.
"""

from __future__ import annotations

from collections.abc import Callable, Hashable, Sequence
from typing import Any, TypeAlias

#: A compiled test of one JSON value (or of the event itself).
Predicate: TypeAlias = Callable[[Any], bool]

NumKey: TypeAlias = int | float | tuple[str, int]  # an exact number, see num_key


# One alternative of a value list: what tells it apart from others, and the
# wildcard patterns it holds (for the complexity limit, see check_complexity).
Term: TypeAlias = tuple[Hashable, tuple[str, ...]]


def always(event: Any) -> bool:
    return True


def never(value: Any) -> bool:
    return False


class Leaf:
    """The alternatives listed for one field, grouped by the JSON type they test."""

    __slots__ = (
        "absent",
        "ci_ascii",
        "const_always",
        "consts",
        "ips",
        "num_always",
        "num_preds",
        "nums",
        "prefixes",
        "ranges",
        "str_always",
        "str_preds",
        "strs",
        "suffixes",
        "terms",
    )

    def __init__(self) -> None:
        self.terms: list[Term] = []  # the alternatives one by one, see term_of
        self.strs: set[str] = set()
        self.prefixes: list[str] = []
        self.suffixes: list[str] = []
        self.ci_ascii: set[str] = set()  # lower-cased ASCII equals-ignore-case values
        self.ips: list[tuple[int, int, int]] = []  # (version, low, high)
        self.str_preds: list[Predicate] = []
        self.str_always = False
        self.nums: set[NumKey] = set()  # see num_key
        self.ranges: list[tuple[float, float]] = []  # closed bounds, see closed_range
        self.num_preds: list[Predicate] = []
        self.num_always = False
        self.consts: set[bool | None] = set()
        self.const_always = False
        self.absent = False  # {"exists": false} is one of the alternatives


class Tree:
    """One $or-free branch of a pattern, as nested field names."""

    __slots__ = ("children", "leaf")

    def __init__(self) -> None:
        self.children: dict[str, Tree] = {}
        self.leaf: Leaf | None = None

    def has_absence(self) -> bool:
        if self.leaf is not None and self.leaf.absent:
            return True
        return any(child.has_absence() for child in self.children.values())


Path: TypeAlias = tuple[str, ...]

Branch: TypeAlias = dict[Path, Leaf]


def dotted_path(where: Sequence[str]) -> str:
    return ".".join(where)
