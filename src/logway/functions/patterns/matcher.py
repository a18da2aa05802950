"""Compiling a parsed branch into one test of a whole event.

Objects test their fields in turn (unrolled for up to five); arrays of objects
keep array consistency; sub-patterns with exists: false use a three-way test.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from logway.functions.patterns.dotted import dotted_view, with_dotted_keys
from logway.functions.patterns.errors import PatternError
from logway.functions.patterns.leaves import (
    ABSENT,
    MISSING,
    NO,
    VALUE,
    Tri,
    compile_leaf,
    compile_leaf_tri,
)
from logway.functions.patterns.parser import parse_branches
from logway.functions.patterns.tree import Predicate, Tree


def compile_branches(source: Mapping[str, Any]) -> list[Predicate]:
    """One event test per $or-free branch of the pattern."""
    try:
        return [compile_branch(tree) for tree in parse_branches(source)]
    except RecursionError:
        raise PatternError("the pattern is nested too deeply") from None


def compile_branch(tree: Tree) -> Predicate:
    """Test of a whole event; an event that is not a JSON object never matches."""
    if not tree.has_absence():
        fields = tuple((name, compile_node(child)) for name, child in ordered(tree))
        on_object = with_dotted_keys(tree, object_test(fields))

        def root(event: Any) -> bool:
            if type(event) is dict or isinstance(event, Mapping):
                return on_object(event)
            return False

        return root
    tri = compile_node_tri(tree)
    return lambda event: isinstance(event, Mapping) and tri(event) != NO


def ordered(tree: Tree) -> list[tuple[str, Tree]]:
    # Plain fields first: they are cheaper than descending into objects.
    return sorted(tree.children.items(), key=lambda item: bool(item[1].children))


def compile_node(tree: Tree) -> Predicate:
    """Boolean test of the value at a position, for a sub-pattern without ``exists: false``."""
    if not tree.children:
        assert tree.leaf is not None
        return compile_leaf(tree.leaf)
    fields = tuple((name, compile_node(child)) for name, child in ordered(tree))
    on_object = with_dotted_keys(tree, object_test(fields))

    def node(w: Any) -> bool:
        t = type(w)
        if t is dict:
            return on_object(w)
        if t is list:
            # The whole sub-pattern must hold in one element (array consistency).
            for item in w:  # noqa: SIM110 - any() over a generator allocates per call
                if node(item):
                    return True
            return False
        if isinstance(w, Mapping):
            return on_object(w)
        if isinstance(w, tuple):
            return any(node(item) for item in w)
        return False

    if tree.leaf is None:
        return node
    own = compile_leaf(tree.leaf)  # the pattern tests this field both as a value and as an object
    return lambda w: own(w) and node(w)


def object_test(fields: tuple[tuple[str, Predicate], ...]) -> Predicate:
    """All fields hold; unrolled for up to five fields (``d.get`` per field allocates nothing)."""
    missing = MISSING
    if len(fields) == 1:
        ((name, test),) = fields
        return lambda d: test(d.get(name, missing))
    if len(fields) == 2:
        (name0, test0), (name1, test1) = fields

        def two(d: Any) -> bool:
            return test0(d.get(name0, missing)) and test1(d.get(name1, missing))

        return two
    if len(fields) == 3:
        (name0, test0), (name1, test1), (name2, test2) = fields

        def three(d: Any) -> bool:
            return (
                test0(d.get(name0, missing))
                and test1(d.get(name1, missing))
                and test2(d.get(name2, missing))
            )

        return three
    if len(fields) == 4:
        (name0, test0), (name1, test1), (name2, test2), (name3, test3) = fields

        def four(d: Any) -> bool:
            return (
                test0(d.get(name0, missing))
                and test1(d.get(name1, missing))
                and test2(d.get(name2, missing))
                and test3(d.get(name3, missing))
            )

        return four
    if len(fields) == 5:
        (name0, test0), (name1, test1), (name2, test2), (name3, test3), (name4, test4) = fields

        def five(d: Any) -> bool:
            return (
                test0(d.get(name0, missing))
                and test1(d.get(name1, missing))
                and test2(d.get(name2, missing))
                and test3(d.get(name3, missing))
                and test4(d.get(name4, missing))
            )

        return five

    def every(d: Any) -> bool:
        for name, test in fields:  # noqa: SIM110 - all() over a generator allocates per call
            if not test(d.get(name, missing)):
                return False
        return True

    return every


def compile_node_tri(tree: Tree) -> Tri:
    """Three-way test of the value at a position, for a sub-pattern with ``exists: false``.

    In an array, the sub-pattern matches with a value if it does so in one
    element; it matches by absence only if it does so in every element (so the
    absent fields are absent from the whole array).
    """
    if not tree.has_absence():
        test = compile_node(tree)
        return lambda w: VALUE if test(w) else NO
    if not tree.children:
        assert tree.leaf is not None
        return compile_leaf_tri(tree.leaf)
    fields = tuple((name, compile_node_tri(child)) for name, child in ordered(tree))
    view = dotted_view(tree)

    def on_object(d: Mapping[str, Any]) -> int:
        if view is not None:
            d = view(d)
        result = ABSENT
        for name, test in fields:
            outcome = test(d.get(name, MISSING))
            if outcome == NO:
                return NO
            if outcome == VALUE:
                result = VALUE
        return result

    when_missing = on_object({})  # a missing field or a scalar has no sub-fields

    def node_tri(w: Any) -> int:
        if isinstance(w, Mapping):
            return on_object(w)
        if isinstance(w, (list, tuple)):
            every_absent = True
            for item in w:
                outcome = node_tri(item)
                if outcome == VALUE:
                    return VALUE
                if outcome == NO:
                    every_absent = False
            # Absent from every element (vacuously so for []) counts only if the
            # sub-pattern can hold by absence alone, as on a missing field.
            return when_missing if every_absent else NO
        return when_missing

    if tree.leaf is None:
        return node_tri
    own = compile_leaf_tri(tree.leaf)

    def both(w: Any) -> int:
        first, second = own(w), node_tri(w)
        if first == NO or second == NO:
            return NO
        return max(first, second)

    return both
