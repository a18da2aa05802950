"""Access on the embedded log: who a header stands for, what they may do, and what
happens after users, tokens or ACLs change (identities and open streams looked at
again), with every refusal in the audit topic and no secret in it."""

from __future__ import annotations

import asyncio
import base64
import json
import time
from collections.abc import Coroutine, Iterator
from typing import Any, TypeVar

import pytest

import logway
import logway.auth.store
import logway.server.access
from logway.auth import Acl, AuthStore
from logway.errors import AuthenticationError, PermissionDeniedError
from logway.server.access import (
    ANONYMOUS,
    AUDIT_TOPIC,
    OPEN,
    Access,
)

PASSWORD = "correct horse battery"
T = TypeVar("T")


def basic(name: str, password: str) -> str:
    return "Basic " + base64.b64encode(f"{name}:{password}".encode()).decode()


def run(coroutine: Coroutine[Any, Any, T]) -> T:
    return asyncio.run(coroutine)


@pytest.fixture
def broker() -> Iterator[logway.Broker]:
    with logway.connect("memory:") as b:
        yield b


@pytest.fixture
def store(broker: logway.Broker) -> AuthStore:
    s = AuthStore(broker, iterations=4096)
    s.add_user("ada", PASSWORD, ["authors"])
    s.add_user("bob", PASSWORD)
    s.add_acl(Acl.of("Group:authors", "write", "topic", "news"))
    s.add_acl(Acl.of("User:bob", "read", "topic", "news"))
    return s


@pytest.fixture
def access(broker: logway.Broker, store: AuthStore) -> Access:
    return Access(broker, enabled=True, store=store)


def audit(broker: logway.Broker) -> list[dict[str, object]]:
    if AUDIT_TOPIC not in broker.list_topics():
        return []
    return [json.loads(r.value or b"") for r in broker.fetch(AUDIT_TOPIC, 0, 0, 1000)]


def test_authentication_off_lets_everyone_do_everything(broker: logway.Broker) -> None:
    access = Access(broker)
    who = run(access.identify(None))
    assert who is OPEN
    access.check(OPEN, "delete", "topic", "anything", "grpc")  # no error
    assert access.allowed(OPEN, "alter", "cluster", "cluster")
    assert access.store is None  # nothing read, nothing written
    assert AUDIT_TOPIC not in broker.list_topics()


def test_a_password_and_a_token_name_their_user(access: Access, store: AuthStore) -> None:
    who = run(access.identify(basic("ada", PASSWORD)))
    assert (who.principal, who.via) == ("User:ada", "password")
    token = store.create_token("ci", "bob", "1d")
    who = run(access.identify(f"Bearer {token}"))
    assert (who.principal, who.via) == ("User:bob", "token")
    assert who.expires_ms is not None


@pytest.mark.parametrize(
    "header",
    [
        None,
        basic("ada", "wrong password"),
        basic("nobody", PASSWORD),
        "Bearer lw_0123456789abcdef_notthesecret",
        "Bearer eyJhbGciOiJIUzI1NiJ9.e30.sig",
        "Basic not-base64!",
        "Basic " + base64.b64encode(b"no colon").decode(),
        "Digest username=ada",
    ],
)
def test_what_proves_nothing_is_refused_and_audited(
    access: Access, broker: logway.Broker, header: str | None
) -> None:
    with pytest.raises(AuthenticationError) as refused:
        run(access.identify(header))
    assert "authentication failed" in str(refused.value)
    entries = audit(broker)
    assert [e["operation"] for e in entries] == ["authenticate"]
    text = json.dumps(entries)
    assert PASSWORD not in text and "wrong password" not in text and "notthesecret" not in text


def test_anonymous_callers_get_what_acls_give_user_anonymous(
    broker: logway.Broker, store: AuthStore
) -> None:
    access = Access(broker, enabled=True, allow_anonymous=True, store=store)
    who = run(access.identify(None))
    assert who.principal == ANONYMOUS
    with pytest.raises(PermissionDeniedError):
        access.check(who, "read", "topic", "news", "grpc")
    store.add_acl(Acl.of(ANONYMOUS, "read", "topic", "news"))
    access.refresh()
    access.check(who, "read", "topic", "news", "grpc")
    with pytest.raises(PermissionDeniedError):
        access.check(who, "write", "topic", "news", "grpc")


def test_decisions_follow_acls_and_groups_and_refusals_are_audited(
    access: Access, broker: logway.Broker, store: AuthStore
) -> None:
    ada = run(access.identify(basic("ada", PASSWORD)))
    bob = run(access.identify(basic("bob", PASSWORD)))
    access.check(ada, "write", "topic", "news", "grpc")
    access.check(bob, "read", "topic", "news", "grpc")
    with pytest.raises(PermissionDeniedError) as denied:
        access.check(bob, "write", "topic", "news", "rest", "10.0.0.7")
    assert "User:bob may not write topic 'news'" in str(denied.value)
    [entry] = audit(broker)
    assert entry["principal"] == "User:bob" and entry["door"] == "rest"
    assert (entry["operation"], entry["resource_type"], entry["resource"]) == (
        "write",
        "topic",
        "news",
    )
    assert entry["address"] == "10.0.0.7" and "no ACL allows" in str(entry["reason"])
    # a group change applies at the next decision, no new sign-in needed
    store.set_groups("bob", ["authors"])
    access.refresh()
    access.check(bob, "write", "topic", "news", "grpc")


def test_internal_topics_need_alter_on_the_cluster(access: Access, store: AuthStore) -> None:
    store.add_acl(Acl.of("User:bob", "all", "topic", "*"))
    access.refresh()
    bob = run(access.identify(basic("bob", PASSWORD)))
    access.check(bob, "read", "topic", "anything", "grpc")
    for topic in ("__logway_auth", AUDIT_TOPIC):
        assert not access.allowed(bob, "read", "topic", topic)
    store.add_acl(Acl.of("User:bob", "alter", "cluster", "cluster"))
    access.refresh()
    assert access.allowed(bob, "read", "topic", "__logway_auth")


def test_a_revoked_token_and_a_removed_user_stop_working(access: Access, store: AuthStore) -> None:
    token = store.create_token("ci", "bob")
    header = f"Bearer {token}"
    bob = run(access.identify(header))
    access.check(bob, "read", "topic", "news", "kafka")
    store.revoke_token(token.split("_")[1])
    access.refresh()
    with pytest.raises(AuthenticationError):
        run(access.identify(header))
    with pytest.raises(AuthenticationError):  # a connection that signed in earlier
        access.check(bob, "read", "topic", "news", "kafka")
    ada = run(access.identify(basic("ada", PASSWORD)))
    store.remove_user("ada")
    access.refresh()
    with pytest.raises(AuthenticationError):
        access.check(ada, "write", "topic", "news", "grpc")
    with pytest.raises(AuthenticationError):
        run(access.identify(basic("ada", PASSWORD)))


def test_an_expired_token_is_refused(
    access: Access, store: AuthStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    token = store.create_token("short", "bob", "1h")
    bob = run(access.identify(f"Bearer {token}"))
    later = int(time.time() * 1000) + 2 * 3600 * 1000
    for module in (logway.auth.store, logway.server.access):
        monkeypatch.setattr(module, "_now_ms", lambda: later)
    with pytest.raises(AuthenticationError):
        run(access.identify(f"Bearer {token}"))
    with pytest.raises(AuthenticationError):  # a connection that signed in before
        access.check(bob, "read", "topic", "news", "kafka")


def test_open_streams_end_when_their_permission_goes(access: Access, store: AuthStore) -> None:
    bob = run(access.identify(basic("bob", PASSWORD)))
    ended: list[Exception] = []
    release = access.hold(bob, [("read", "topic", "news")], ended.append)
    other: list[Exception] = []
    access.hold(bob, [("read", "topic", "news")], other.append)
    store.add_acl(Acl.of("User:ada", "read", "topic", "news"))  # unrelated change
    access.refresh()
    assert ended == [] and other == []
    release()
    store.remove_acl(Acl.of("User:bob", "read", "topic", "news"))
    access.refresh()
    assert ended == []  # released before the change
    assert len(other) == 1 and isinstance(other[0], PermissionDeniedError)
    access.refresh()
    assert len(other) == 1  # told once


def test_a_password_is_checked_once_until_something_changes(
    access: Access, store: AuthStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    calls: list[str] = []
    real = store.authenticate_password

    def counting(name: str, password: str) -> str | None:
        calls.append(name)
        return real(name, password)

    monkeypatch.setattr(store, "authenticate_password", counting)
    header = basic("ada", PASSWORD)
    for _ in range(5):
        run(access.identify(header))
    assert calls == ["ada"]
    store.set_password("ada", "a new password!")
    access.refresh()
    with pytest.raises(AuthenticationError):
        run(access.identify(header))


def test_failed_sign_ins_are_slowed_per_name_and_address(access: Access) -> None:
    assert access._penalty("user:ada") == 0.0
    for _ in range(3):
        with pytest.raises(AuthenticationError):
            run(access.sign_in("ada", "wrong", "10.0.0.9"))
    assert access._penalty("user:ada") == pytest.approx(0.2)
    assert access._penalty("address:10.0.0.9") == pytest.approx(0.2)
    assert access._penalty("user:bob") == 0.0
    run(access.sign_in("ada", PASSWORD, "10.0.0.10"))  # success forgets the name's failures
    assert access._penalty("user:ada") == 0.0
