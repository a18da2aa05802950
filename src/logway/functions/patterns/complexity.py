"""Wildcards too complex for EventBridge, by event-ruler's measure.

EventBridge refuses a pattern whose wildcards are "too complex": it builds
event-ruler's matching machine for the pattern's $or branches that hold a
wildcard and measures it with event-ruler's MachineComplexityEvaluator, which
finds the most wildcard-pattern prefixes that one value can be matching at
once (for "*a*", the value "a" keeps "*", "*a" and "*a*" matching). Over 10
is refused. Values are matched as their JSON text, byte by byte, quotes
included; the alternatives of one field are measured together, and so are
those of the same field in $or branches that reach it through the same values.
"""

from __future__ import annotations

import json
from collections.abc import Hashable, Iterable, Mapping, Sequence
from typing import Any, Final, TypeAlias

from logway.functions.patterns.errors import PatternError
from logway.functions.patterns.numbers import num_key
from logway.functions.patterns.text import parse_wildcard
from logway.functions.patterns.tree import Branch, Path, Term, dotted_path


def term_of(value: Any) -> Term:
    """An alternative as event-ruler tells it apart from others, with its wildcards."""
    if isinstance(value, Mapping):
        ((op, arg),) = value.items()
        if op == "wildcard":
            return ("wildcard", arg), (arg,)
        if op == "anything-but" and isinstance(arg, Mapping) and "wildcard" in arg:
            texts = arg["wildcard"]
            unique = tuple(sorted(set(texts))) if isinstance(texts, (list, tuple)) else (texts,)
            return ("anything-but wildcard", unique), unique
        return (op, json.dumps(arg, sort_keys=True, default=repr)), ()
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return ("number", num_key(value)), ()
    return ("value", type(value).__name__, value), ()


MAX_WILDCARD_COMPLEXITY: Final = 10

STAR: Final = -1  # a '*' among the bytes of a wildcard pattern


ABSENT_TERM: Final = term_of({"exists": False})


class NameState:
    """Where matching stands after some fields: event-ruler's NameState."""

    __slots__ = ("fields",)

    def __init__(self) -> None:
        self.fields: dict[Path, FieldMachine] = {}


class FieldMachine:
    """The alternatives of one field at one NameState, and where each leads."""

    __slots__ = ("next", "reached", "terms")

    def __init__(self) -> None:
        self.terms: dict[Hashable, tuple[str, ...]] = {}
        self.next: dict[Hashable, NameState] = {}
        self.reached: list[NameState] = []  # through a value, not through exists: false


def check_complexity(branches: Sequence[Branch]) -> None:
    """Refuse the pattern if a field's wildcards are too complex for EventBridge."""
    with_wildcards = [
        branch
        for branch in branches
        if any(wildcards for leaf in branch.values() for _, wildcards in leaf.terms)
    ]
    if not with_wildcards:
        return
    root = NameState()
    for branch in with_wildcards:
        states = [root]
        for path in sorted(branch, key=dotted_path):  # event-ruler adds fields by name
            following: dict[int, NameState] = {}
            for state in states:
                machine = state.fields.setdefault(path, FieldMachine())
                added: NameState | None = None
                for identity, wildcards in branch[path].terms:
                    machine.terms.setdefault(identity, wildcards)
                    step = machine.next.get(identity)
                    if step is None:
                        step = added = added or NameState()
                        machine.next[identity] = step
                        if identity != ABSENT_TERM:
                            machine.reached.append(step)
                    following[id(step)] = step
            states = list(following.values())
    seen: set[int] = set()
    pending = [root]
    while pending:
        state = pending.pop()
        if id(state) in seen:
            continue
        seen.add(id(state))
        for path, machine in state.fields.items():
            texts = [wildcards for wildcards in machine.terms.values() if wildcards]
            complexity = wildcard_complexity(
                [[wildcard_bytes(text) for text in wildcards] for wildcards in texts]
            )
            if complexity > MAX_WILDCARD_COMPLEXITY:
                raise PatternError(
                    "the wildcard patterns of this field are too complex for EventBridge: "
                    f"one value can keep {complexity} of their prefixes matching at once, "
                    f"and at most {MAX_WILDCARD_COMPLEXITY} are allowed; use fewer '*', "
                    "fewer repeated characters after a '*', or fewer wildcard patterns",
                    dotted_path(path),
                )
            pending.extend(machine.reached)


def wildcard_bytes(text: str) -> tuple[int, ...]:
    """The bytes a wildcard pattern matches, '*' as STAR, between JSON quotes."""
    out = [ord('"')]
    for i, segment in enumerate(parse_wildcard(text, "")):
        if i:
            out.append(STAR)
        out.extend(segment.encode())
    out.append(ord('"'))
    return tuple(out)


Prefix: TypeAlias = tuple[int, int, int]  # (pattern, path of the pattern, bytes matched)


def wildcard_complexity(
    patterns: Sequence[Sequence[tuple[int, ...]]], limit: int = MAX_WILDCARD_COMPLEXITY
) -> int:
    """The most prefixes of ``patterns`` one input can be matching at once.

    Each pattern is one or more paths of bytes (an anything-but wildcard lists
    several). A prefix counts once per pattern however many paths share it up
    to their first star, as they share that state in event-ruler's machine.
    The search stops as soon as it finds more than ``limit``.
    """
    if not patterns:
        return 0

    def closure(prefixes: Iterable[Prefix]) -> frozenset[Prefix]:
        out = set()
        for p, q, n in prefixes:
            path = patterns[p][q]
            out.add((p, q, n))
            while n < len(path) and path[n] == STAR:  # a star can match nothing
                n += 1
                out.add((p, q, n))
        return frozenset(out)

    def count(prefixes: frozenset[Prefix]) -> int:
        seen = set()
        for p, q, n in prefixes:
            path = patterns[p][q]
            first_star = path.index(STAR) if STAR in path else len(path)
            seen.add((p, path[:n]) if n <= first_star + 1 else (p, q, n))
        return len(seen)

    literals = {b for paths in patterns for path in paths for b in path if b != STAR}
    other = next(b for b in range(256) if b not in literals) if len(literals) < 256 else None
    start = closure((p, q, 0) for p, paths in enumerate(patterns) for q in range(len(paths)))
    seen_states = {start}
    pending = [start]
    worst = 0
    while pending:
        state = pending.pop()
        following = {patterns[p][q][n] for p, q, n in state if n < len(patterns[p][q])}
        following.discard(STAR)
        if other is not None:
            following.add(other)  # stands for every byte no pattern names here
        for byte in following:
            step = closure(
                (p, q, m)
                for p, q, n in state
                for m in (n + 1, n)
                if (m > n and n < len(patterns[p][q]) and patterns[p][q][n] == byte)
                or (m == n and n > 0 and patterns[p][q][n - 1] == STAR)
            )
            if not step:
                continue
            worst = max(worst, count(step))
            if worst > limit:
                return worst
            if step not in seen_states:
                seen_states.add(step)
                pending.append(step)
    return worst
