"""Dotted keys in events: "a.b" names the field b of the object at a.

event-ruler names a field by its path joined with dots, so an event's "a.b" key
and the "b" key inside its "a" object are one field. A compiled object test sees
the object with such keys nested, looked up only when they name a pattern field.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from logway.functions.patterns.leaves import MISSING
from logway.functions.patterns.tree import Path, Predicate, Tree


def dotted_view(tree: Tree) -> Callable[[Mapping[str, Any]], Mapping[str, Any]] | None:
    """What an object looks like to ``tree`` once its dotted keys are nested, or None.

    Only keys naming a field of the sub-pattern count ("a.b" when it has a → b),
    so they are looked up directly: an object without any allocates nothing.
    None when the sub-pattern is one level deep (no key can then reach a field).
    """
    dotted = tuple((".".join(path), path) for path in descendant_paths(tree))
    if not dotted:
        return None
    missing = MISSING

    def view(d: Mapping[str, Any]) -> Mapping[str, Any]:
        found: list[tuple[Path, Any]] | None = None
        for key, path in dotted:
            value = d.get(key, missing)
            if value is not missing:
                if found is None:
                    found = []
                found.append((path, value))
        return d if found is None else nest_dotted(d, found)

    return view


def with_dotted_keys(tree: Tree, on_object: Predicate) -> Predicate:
    view = dotted_view(tree)
    if view is None:
        return on_object
    keys = tuple(".".join(path) for path in descendant_paths(tree))
    if len(keys) == 1:
        (key,) = keys
        return lambda d: on_object(view(d) if key in d else d)
    if len(keys) == 2:
        key0, key1 = keys
        return lambda d: on_object(view(d) if key0 in d or key1 in d else d)

    def dotted_keys(d: Any) -> bool:
        for key in keys:
            if key in d:
                return on_object(view(d))
        return on_object(d)

    return dotted_keys


def descendant_paths(tree: Tree) -> list[Path]:
    """The paths of two names or more from ``tree`` to its sub-patterns."""
    paths: list[Path] = []

    def collect(node: Tree, path: Path) -> None:
        for name, child in node.children.items():
            here = (*path, name)
            if len(here) > 1:
                paths.append(here)
            collect(child, here)

    collect(tree, ())
    return paths


def nest_dotted(d: Mapping[str, Any], found: list[tuple[Path, Any]]) -> dict[str, Any]:
    """A copy of ``d`` where each dotted key's value is also found at its nested path."""
    out = dict(d)
    for path, value in found:
        for name in reversed(path[1:]):
            value = {name: value}
        out[path[0]] = merge(out.get(path[0], MISSING), value)
    return out


def merge(x: Any, y: Any) -> Any:
    """One value holding both ``x`` and ``y``, found at the same path by different keys.

    Objects merge field by field. An array keeps its array consistency: the
    other value's fields join each of its objects (they hold whichever element
    is chosen). Values with no fields to share become the elements of a list,
    where a field matches if any of them does.
    """
    if x is MISSING:
        return y
    if isinstance(x, Mapping) and isinstance(y, Mapping):
        out = dict(x)
        for key, value in y.items():
            out[key] = merge(out.get(key, MISSING), value)
        return out
    if isinstance(y, (list, tuple)) and not isinstance(x, (list, tuple)):
        x, y = y, x
    if isinstance(x, (list, tuple)):
        if holds_object(x) and holds_object(y):
            return [merge(item, y) if holds_object(item) else item for item in x]
        return [*x, y]
    return [x, y]


def holds_object(w: Any) -> bool:
    if isinstance(w, Mapping):
        return True
    return isinstance(w, (list, tuple)) and any(holds_object(item) for item in w)
