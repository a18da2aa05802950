"""ACLs in Kafka's model, and the ``Authorizer`` that decides with them.

An ACL says that a principal (``User:NAME``, ``Group:NAME``, or ``User:*`` for every
user) is allowed or denied an operation on resources of a type whose names match a
pattern: ``literal`` (the name itself; the literal name ``*`` matches every name) or
``prefixed`` (every name that begins with it). As in Kafka's authorizer:

- nothing is allowed unless an ACL allows it, and a matching deny wins over any allow;
- ``all`` stands for every operation, in allows and denies alike;
- allowing ``read``, ``write``, ``delete`` or ``alter`` also allows ``describe``, and
  allowing ``alter_configs`` also allows ``describe_configs``; denies imply nothing
  (denying ``read`` does not deny ``describe``).

A user's principal matches ACLs of ``User:NAME``, ``User:*`` and ``Group:G`` for each
of the user's groups.
"""

from __future__ import annotations

import enum
import re
from collections.abc import Collection, Iterable
from dataclasses import dataclass
from typing import Any, TypeVar

from logway.errors import InvalidArgumentError


class ResourceType(enum.StrEnum):
    TOPIC = "topic"
    GROUP = "group"
    CLUSTER = "cluster"
    FUNCTION = "function"
    DELIVERY = "delivery"
    SCHEMA_SUBJECT = "schema_subject"


class PatternType(enum.StrEnum):
    LITERAL = "literal"
    PREFIXED = "prefixed"


class Operation(enum.StrEnum):
    READ = "read"
    WRITE = "write"
    CREATE = "create"
    DELETE = "delete"
    ALTER = "alter"
    DESCRIBE = "describe"
    DESCRIBE_CONFIGS = "describe_configs"
    ALTER_CONFIGS = "alter_configs"
    ALL = "all"


class Permission(enum.StrEnum):
    ALLOW = "allow"
    DENY = "deny"


E = TypeVar("E", bound=enum.StrEnum)
_Question = tuple[str, Collection[str], str, str, str]
CLUSTER_NAME = "cluster"  # the one resource of type cluster (Kafka's "kafka-cluster")
WILDCARD = "*"
MAX_RESOURCE_NAME = 249
# user and group names: a letter or digit, then letters, digits and . _ @ + -
NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._@+-]{0,127}$")

# operation asked -> the allowed operations that grant it (Kafka's implied operations)
_GRANTED_BY: dict[Operation, frozenset[Operation]] = {
    op: frozenset({op, Operation.ALL}) for op in Operation
}
_GRANTED_BY[Operation.DESCRIBE] = frozenset(
    {Operation.DESCRIBE, Operation.READ, Operation.WRITE, Operation.DELETE, Operation.ALTER}
    | {Operation.ALL}
)
_GRANTED_BY[Operation.DESCRIBE_CONFIGS] = frozenset(
    {Operation.DESCRIBE_CONFIGS, Operation.ALTER_CONFIGS, Operation.ALL}
)


def _enum(kind: type[E], value: object, what: str) -> E:
    try:
        return kind(value)  # type: ignore[arg-type]  # a wrong type is refused below
    except (ValueError, TypeError):
        known = ", ".join(m.value for m in kind)
        raise InvalidArgumentError(f"unknown {what} {value!r}; use one of: {known}") from None


def check_name(name: object, what: str = "user") -> str:
    """Refuse a user or group name that is empty or has characters outside
    letters, digits and ``. _ @ + -`` (at most 128, beginning with a letter or digit)."""
    if not isinstance(name, str) or not NAME.match(name):
        raise InvalidArgumentError(
            f"invalid {what} name {name!r}: use 1 to 128 letters, digits, '.', '_', '@', '+' "
            "or '-', beginning with a letter or digit"
        )
    return name


def check_principal(principal: object) -> str:
    """``User:NAME``, ``Group:NAME`` or ``User:*``."""
    if isinstance(principal, str):
        kind, sep, name = principal.partition(":")
        if sep and kind == "User" and name == WILDCARD:
            return principal
        if sep and kind in ("User", "Group"):
            check_name(name, kind.lower())
            return principal
    raise InvalidArgumentError(
        f"invalid principal {principal!r}: use User:NAME, Group:NAME or User:* (every user)"
    )


def check_resource_name(resource_type: ResourceType, name: object) -> str:
    if resource_type is ResourceType.CLUSTER and name != CLUSTER_NAME:
        raise InvalidArgumentError(f"the cluster resource is named {CLUSTER_NAME!r}, not {name!r}")
    if not isinstance(name, str) or not name or len(name) > MAX_RESOURCE_NAME or "\0" in name:
        raise InvalidArgumentError(
            f"a {resource_type} name must be a non-empty string of at most "
            f"{MAX_RESOURCE_NAME} characters, not {name!r}"
        )
    return name


@dataclass(frozen=True)
class Acl:
    """One ACL; build it with ``Acl.of`` to have every part checked."""

    principal: str
    permission: Permission
    operation: Operation
    resource_type: ResourceType
    pattern_type: PatternType
    name: str

    @classmethod
    def of(
        cls,
        principal: str,
        operation: str,
        resource_type: str,
        name: str,
        pattern_type: str = "literal",
        permission: str = "allow",
    ) -> Acl:
        """An ACL from plain strings, each checked (``InvalidArgumentError``)."""
        kind = _enum(ResourceType, resource_type, "resource type")
        return cls(
            check_principal(principal),
            _enum(Permission, permission, "permission"),
            _enum(Operation, operation, "operation"),
            kind,
            _enum(PatternType, pattern_type, "pattern type"),
            check_resource_name(kind, name),
        )

    def canonical(self) -> str:
        """A text that names this ACL and no other: the name comes last, so it may hold
        any character (principals cannot hold ``|``)."""
        parts = (self.permission, self.principal, self.operation)
        return "|".join((*parts, self.resource_type, self.pattern_type, self.name))

    def describe(self) -> str:
        """Kafka-like words: ``allow User:ada write on topic orders (literal)``."""
        return (
            f"{self.permission} {self.principal} {self.operation} on {self.resource_type} "
            f"{self.name!r} ({self.pattern_type})"
        )

    def to_json(self) -> dict[str, Any]:
        return {
            "principal": self.principal,
            "permission": str(self.permission),
            "operation": str(self.operation),
            "resource_type": str(self.resource_type),
            "pattern_type": str(self.pattern_type),
            "name": self.name,
        }

    @classmethod
    def from_json(cls, value: dict[str, Any]) -> Acl:
        try:
            return cls.of(
                value["principal"],
                value["operation"],
                value["resource_type"],
                value["name"],
                value["pattern_type"],
                value["permission"],
            )
        except (KeyError, TypeError) as exc:
            raise InvalidArgumentError(f"malformed ACL record: missing {exc}") from None

    def matches_name(self, name: str) -> bool:
        if self.pattern_type is PatternType.PREFIXED:
            return name.startswith(self.name)
        return self.name == name or self.name == WILDCARD


@dataclass(frozen=True)
class Decision:
    """An authorizer's answer, with the reason (the ACL that decided, or why none did)."""

    allowed: bool
    reason: str

    def __bool__(self) -> bool:
        return self.allowed


class Authorizer:
    """Decides ``(principal, groups, operation, resource_type, name)`` with a set of
    ACLs. A decision is remembered: asking again costs one dict lookup, until
    ``set_acls`` replaces the ACLs (which forgets every decision)."""

    MAX_CACHED = 100_000  # decisions kept; past this the cache starts again

    def __init__(self, acls: Iterable[Acl] = ()) -> None:
        self.set_acls(acls)

    def set_acls(self, acls: Iterable[Acl]) -> None:
        by_type: dict[ResourceType, list[Acl]] = {}
        for acl in acls:
            by_type.setdefault(acl.resource_type, []).append(acl)
        # the ACLs and the decisions made with them are swapped together, so a decision
        # made with the old ACLs while they change is never kept for the new ones
        self._cache: dict[_Question, Decision] = {}
        self._state = (by_type, self._cache)

    def authorize(
        self,
        principal: str,
        groups: frozenset[str] | tuple[str, ...],
        operation: str,
        resource_type: str,
        name: str,
    ) -> Decision:
        """Whether ``principal`` (a member of ``groups``, plain group names) may do
        ``operation`` on the resource. Pass groups as a frozenset or a tuple (hashable)."""
        key = (principal, groups, operation, resource_type, name)
        found = self._cache.get(key)
        if found is not None:
            return found
        by_type, cache = self._state
        decision = self._decide(by_type, principal, groups, operation, resource_type, name)
        if len(cache) >= self.MAX_CACHED:
            cache.clear()
        cache[key] = decision
        return decision

    def _decide(
        self,
        by_type: dict[ResourceType, list[Acl]],
        principal: str,
        groups: Iterable[str],
        operation: str,
        resource_type: str,
        name: str,
    ) -> Decision:
        op = _enum(Operation, operation, "operation")
        if op is Operation.ALL:
            raise InvalidArgumentError("ask about one operation, not 'all'")
        kind = _enum(ResourceType, resource_type, "resource type")
        principals = {principal, *(f"Group:{g}" for g in groups)}
        if principal.startswith("User:"):
            principals.add("User:*")
        candidates = [
            acl
            for acl in by_type.get(kind, ())
            if acl.principal in principals and acl.matches_name(name)
        ]
        for acl in candidates:
            if acl.permission is Permission.DENY and acl.operation in (op, Operation.ALL):
                return Decision(False, f"denied by ACL: {acl.describe()}")
        granted_by = _GRANTED_BY[op]
        for acl in candidates:
            if acl.permission is Permission.ALLOW and acl.operation in granted_by:
                return Decision(True, f"allowed by ACL: {acl.describe()}")
        return Decision(
            False, f"no ACL allows {principal} {op} on {kind} {name!r} (nothing is by default)"
        )
