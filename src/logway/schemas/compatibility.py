"""Compatibility between a new schema and a subject's versions, as Confluent's levels
ask it: which versions a level checks (the latest live one, or every live one for
``_TRANSITIVE``), and in which direction (BACKWARD: the new schema reads their data;
FORWARD: they read the new one's; FULL: both; NONE: nothing).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from logway.schemas.kinds import kind
from logway.schemas.model import Parsed, Schema


def compared(level: str, versions: Mapping[int, Schema]) -> list[Schema]:
    """The versions a new one is checked against under ``level``: the live ones, in
    order, every one for a ``_TRANSITIVE`` level, else the latest alone."""
    ordered = [versions[n] for n in sorted(versions) if not versions[n].deleted]
    return ordered if level.endswith("_TRANSITIVE") else ordered[-1:]


def problems(
    level: str,
    candidate: Parsed,
    against: list[Schema],
    parsed_of: Callable[[Schema], Any],
) -> list[str]:
    """What keeps ``candidate`` from being compatible with ``against`` under ``level``,
    one line each ([] when compatible); ``parsed_of`` gives a version's parsed form."""
    if level == "NONE":
        return []
    backward = level.startswith(("BACKWARD", "FULL"))
    forward = level.startswith(("FORWARD", "FULL"))
    found_kind = kind(candidate.schema_type)
    found: list[str] = []
    for old in against:
        if old.schema_type != candidate.schema_type:
            found.append(
                f"version {old.version}: the schema type changes from {old.schema_type} "
                f"to {candidate.schema_type}"
            )
            continue
        old_parsed = parsed_of(old)
        if backward:
            found += [
                f"version {old.version}, reading its data (backward): {p}"
                for p in found_kind.problems(candidate.parsed, old_parsed)
            ]
        if forward:
            found += [
                f"version {old.version}, read with it (forward): {p}"
                for p in found_kind.problems(old_parsed, candidate.parsed)
            ]
    return found
