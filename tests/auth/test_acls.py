"""ACLs and the Authorizer: Kafka's rules (default deny, deny wins, ``all``, implied
operations, literal/prefixed/wildcard names, user/group/every-user principals), the
decision cache and its invalidation."""

from __future__ import annotations

import pytest

from logway.auth.acls import Acl, Authorizer, Operation
from logway.errors import InvalidArgumentError

ADA = "User:ada"
NONE: frozenset[str] = frozenset()


def allow(principal: str, op: str, kind: str, name: str, pattern: str = "literal") -> Acl:
    return Acl.of(principal, op, kind, name, pattern, "allow")


def deny(principal: str, op: str, kind: str, name: str, pattern: str = "literal") -> Acl:
    return Acl.of(principal, op, kind, name, pattern, "deny")


def test_nothing_is_allowed_without_an_acl() -> None:
    decision = Authorizer().authorize(ADA, NONE, "read", "topic", "orders")
    assert not decision.allowed and not decision
    assert "no ACL allows User:ada read on topic 'orders'" in decision.reason


def test_literal_acl_allows_only_its_name_operation_and_type() -> None:
    auth = Authorizer([allow(ADA, "write", "topic", "orders")])
    yes = auth.authorize(ADA, NONE, "write", "topic", "orders")
    assert yes.allowed and "allowed by ACL: allow User:ada write on topic 'orders'" in yes.reason
    assert not auth.authorize(ADA, NONE, "write", "topic", "orders2")
    assert not auth.authorize(ADA, NONE, "read", "topic", "orders")
    assert not auth.authorize(ADA, NONE, "write", "group", "orders")
    assert not auth.authorize("User:bob", NONE, "write", "topic", "orders")


def test_prefixed_and_wildcard_names() -> None:
    auth = Authorizer(
        [allow(ADA, "read", "topic", "sales.", "prefixed"), allow(ADA, "read", "group", "*")]
    )
    assert auth.authorize(ADA, NONE, "read", "topic", "sales.eu")
    assert auth.authorize(ADA, NONE, "read", "topic", "sales.")
    assert not auth.authorize(ADA, NONE, "read", "topic", "sales")
    assert not auth.authorize(ADA, NONE, "read", "topic", "presales.eu")
    assert auth.authorize(ADA, NONE, "read", "group", "any-group")
    # a prefixed '*' is a prefix like any other, not a wildcard
    star = Authorizer([allow(ADA, "read", "topic", "*", "prefixed")])
    assert not star.authorize(ADA, NONE, "read", "topic", "orders")
    assert star.authorize(ADA, NONE, "read", "topic", "*x")


def test_deny_wins_over_allow() -> None:
    auth = Authorizer(
        [
            allow("User:*", "all", "topic", "*"),
            deny("Group:interns", "write", "topic", "prod.", "prefixed"),
        ]
    )
    assert auth.authorize(ADA, NONE, "write", "topic", "prod.orders")
    decision = auth.authorize(ADA, frozenset({"interns"}), "write", "topic", "prod.orders")
    assert not decision.allowed
    assert "denied by ACL: deny Group:interns write on topic 'prod.'" in decision.reason
    assert auth.authorize(ADA, frozenset({"interns"}), "read", "topic", "prod.orders")


def test_deny_all_denies_every_operation() -> None:
    auth = Authorizer([allow(ADA, "all", "topic", "t"), deny(ADA, "all", "topic", "t")])
    for op in Operation:
        if op is not Operation.ALL:
            assert not auth.authorize(ADA, NONE, op, "topic", "t"), op


def test_allow_all_allows_every_operation() -> None:
    auth = Authorizer([allow(ADA, "all", "cluster", "cluster")])
    for op in Operation:
        if op is not Operation.ALL:
            assert auth.authorize(ADA, NONE, op, "cluster", "cluster"), op


@pytest.mark.parametrize("granting", ["read", "write", "delete", "alter", "describe"])
def test_operations_that_imply_describe(granting: str) -> None:
    auth = Authorizer([allow(ADA, granting, "topic", "t")])
    assert auth.authorize(ADA, NONE, "describe", "topic", "t")
    assert not auth.authorize(ADA, NONE, "describe_configs", "topic", "t")


@pytest.mark.parametrize("granting", ["create", "describe_configs"])
def test_operations_that_do_not_imply_describe(granting: str) -> None:
    auth = Authorizer([allow(ADA, granting, "topic", "t")])
    assert not auth.authorize(ADA, NONE, "describe", "topic", "t")


def test_alter_configs_implies_describe_configs_only() -> None:
    auth = Authorizer([allow(ADA, "alter_configs", "topic", "t")])
    assert auth.authorize(ADA, NONE, "describe_configs", "topic", "t")
    assert not auth.authorize(ADA, NONE, "describe", "topic", "t")
    assert not auth.authorize(ADA, NONE, "alter", "topic", "t")


def test_a_deny_implies_nothing() -> None:
    auth = Authorizer([allow(ADA, "describe", "topic", "t"), deny(ADA, "read", "topic", "t")])
    assert auth.authorize(ADA, NONE, "describe", "topic", "t")
    assert not auth.authorize(ADA, NONE, "read", "topic", "t")


def test_principals_user_group_and_every_user() -> None:
    auth = Authorizer(
        [allow("Group:ops", "alter", "function", "billing"), allow("User:*", "read", "topic", "p")]
    )
    assert auth.authorize(ADA, frozenset({"ops"}), "alter", "function", "billing")
    assert not auth.authorize(ADA, frozenset({"dev"}), "alter", "function", "billing")
    assert auth.authorize("User:bob", NONE, "read", "topic", "p")
    # a group principal asking is not a user: User:* does not cover it
    assert not auth.authorize("Group:ops", NONE, "read", "topic", "p")


def test_cache_answers_again_and_is_forgotten_when_acls_change() -> None:
    auth = Authorizer([allow(ADA, "read", "topic", "t")])
    first = auth.authorize(ADA, NONE, "read", "topic", "t")
    assert auth.authorize(ADA, NONE, "read", "topic", "t") is first  # from the cache
    auth.set_acls([deny(ADA, "read", "topic", "t"), allow(ADA, "read", "topic", "t")])
    assert not auth.authorize(ADA, NONE, "read", "topic", "t")
    auth.set_acls([])
    assert not auth.authorize(ADA, NONE, "read", "topic", "t")
    auth.set_acls([allow(ADA, "read", "topic", "t")])
    assert auth.authorize(ADA, NONE, "read", "topic", "t")


def test_groups_are_part_of_the_cached_question() -> None:
    auth = Authorizer([allow("Group:ops", "read", "topic", "t")])
    assert not auth.authorize(ADA, NONE, "read", "topic", "t")
    assert auth.authorize(ADA, frozenset({"ops"}), "read", "topic", "t")


def test_cache_is_bounded() -> None:
    auth = Authorizer([allow(ADA, "read", "topic", "*")])
    auth.MAX_CACHED = 10
    for i in range(25):
        assert auth.authorize(ADA, NONE, "read", "topic", f"t{i}")
    assert len(auth._cache) <= 10


@pytest.mark.parametrize(
    ("principal", "op", "kind", "name", "pattern", "permission", "message"),
    [
        ("ada", "read", "topic", "t", "literal", "allow", "invalid principal"),
        ("User:", "read", "topic", "t", "literal", "allow", "invalid user name"),
        ("Group:*", "read", "topic", "t", "literal", "allow", "invalid group name"),
        ("User:a|b", "read", "topic", "t", "literal", "allow", "invalid user name"),
        ("Role:x", "read", "topic", "t", "literal", "allow", "invalid principal"),
        ("User:ada", "fly", "topic", "t", "literal", "allow", "unknown operation"),
        ("User:ada", "read", "table", "t", "literal", "allow", "unknown resource type"),
        ("User:ada", "read", "topic", "", "literal", "allow", "non-empty"),
        ("User:ada", "read", "topic", "t", "regex", "allow", "unknown pattern type"),
        ("User:ada", "read", "topic", "t", "literal", "maybe", "unknown permission"),
        ("User:ada", "alter", "cluster", "c1", "literal", "allow", "cluster resource"),
    ],
)
def test_bad_acls_are_refused(
    principal: str, op: str, kind: str, name: str, pattern: str, permission: str, message: str
) -> None:
    with pytest.raises(InvalidArgumentError, match=message):
        Acl.of(principal, op, kind, name, pattern, permission)


def test_asking_about_all_or_an_unknown_operation_is_refused() -> None:
    auth = Authorizer()
    with pytest.raises(InvalidArgumentError, match="not 'all'"):
        auth.authorize(ADA, NONE, "all", "topic", "t")
    with pytest.raises(InvalidArgumentError, match="unknown operation"):
        auth.authorize(ADA, NONE, "fly", "topic", "t")


def test_canonical_form_names_one_acl() -> None:
    acl = Acl.of("User:ada", "read", "group", "a|b", "prefixed", "deny")
    assert acl.canonical() == "deny|User:ada|read|group|prefixed|a|b"
    assert Acl.from_json(acl.to_json()) == acl
    assert acl.canonical() != Acl.of("User:ada", "read", "group", "a|b", "literal").canonical()
