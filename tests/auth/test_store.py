"""AuthStore on the embedded log: users, tokens and ACLs as records of __logway_auth,
replayed on open, refreshed from another store, and refusing bad input without
writing anything."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

import logway
from logway.auth import AUTH_TOPIC, Acl, AuthStore
from logway.auth.scram import ScramServer
from logway.errors import InvalidArgumentError

Open = Callable[[], logway.Broker]


@pytest.fixture
def open_broker(tmp_path: Path) -> Iterator[Open]:
    opened: list[logway.Broker] = []

    def factory() -> logway.Broker:
        broker = logway.connect(f"file:{tmp_path / 'data'}")
        opened.append(broker)
        return broker

    yield factory
    for broker in opened:
        broker.close()


@pytest.fixture
def store(open_broker: Open) -> AuthStore:
    return AuthStore(open_broker(), iterations=4096)


def end(store: AuthStore) -> int:
    return store.broker.end_offsets(AUTH_TOPIC)[0]


def records(store: AuthStore) -> list[tuple[str, object]]:
    fetched = store.broker.fetch(AUTH_TOPIC, 0, 0, max_records=1000)
    return [((r.key or b"").decode(), r.value and json.loads(r.value)) for r in fetched]


def test_nothing_is_written_until_the_first_change(open_broker: Open) -> None:
    broker = open_broker()
    store = AuthStore(broker)
    assert store.users() == [] and store.tokens() == [] and store.acls() == []
    assert AUTH_TOPIC not in broker.list_topics()
    store.add_user("ada", "pw-ada-1")
    info = broker.describe_topic(AUTH_TOPIC)
    assert info.partitions == 1
    assert str(info.config.get("retention_ms")) == "-1"


def test_users_passwords_and_groups(store: AuthStore) -> None:
    user = store.add_user("ada", "pw-ada-1", ["ops", "dev", "ops"])
    assert user.principal == "User:ada" and user.groups == ("dev", "ops")
    assert store.authenticate_password("ada", "pw-ada-1") == "User:ada"
    assert store.authenticate_password("ada", "pw-ada-2") is None
    assert store.authenticate_password("bob", "pw-ada-1") is None
    store.set_password("ada", "pw-ada-2")
    assert store.authenticate_password("ada", "pw-ada-1") is None
    assert store.authenticate_password("ada", "pw-ada-2") == "User:ada"
    store.set_groups("ada", ["admins"])
    assert store.groups_of("User:ada") == frozenset({"admins"})
    store.add_user("bob", "pw-bob")
    assert [u.name for u in store.users()] == ["ada", "bob"]
    store.remove_user("bob")
    assert [u.name for u in store.users()] == ["ada"]
    assert store.authenticate_password("bob", "pw-bob") is None


def test_every_change_is_one_record_and_no_password_is_stored(store: AuthStore) -> None:
    store.add_user("ada", "hunter2-secret")
    plaintext = store.create_token("ci", "ada", "1d")
    store.add_acl(Acl.of("User:ada", "read", "topic", "orders"))
    store.set_password("ada", "other-secret")
    store.remove_acl(Acl.of("User:ada", "read", "topic", "orders"))
    keys = [key for key, _ in records(store)]
    token_id = store.tokens()[0].id
    acl_key = "acl:allow|User:ada|read|topic|literal|orders"
    assert keys == ["user:ada", f"token:{token_id}", acl_key, "user:ada", acl_key]
    assert records(store)[-1] == (acl_key, None)  # a tombstone
    raw = b"".join(r.value or b"" for r in store.broker.fetch(AUTH_TOPIC, 0, 0))
    for secret in ("hunter2-secret", "other-secret", plaintext):
        assert secret.encode() not in raw
    user_record = records(store)[0][1]
    assert isinstance(user_record, dict)
    assert set(user_record["scram"]) == {"SCRAM-SHA-256", "SCRAM-SHA-512"}
    assert user_record["scram"]["SCRAM-SHA-256"]["iterations"] == 4096


def test_tokens(store: AuthStore) -> None:
    store.add_user("ada", "pw-ada-1")
    token = store.create_token("ci", "ada", "30d")
    assert token.startswith("lw_")
    assert store.authenticate_token(token) == "User:ada"
    assert store.authenticate_token(token + "x") is None
    assert store.authenticate_token("lw_0123456789abcdef_nope") is None
    assert store.authenticate_token("") is None
    (stored,) = store.tokens()
    assert stored.name == "ci" and stored.user == "ada"
    assert stored.expires is not None and stored.expires - stored.created == 30 * 86_400_000
    store.revoke_token(stored.id)
    assert store.tokens() == [] and store.authenticate_token(token) is None


def test_expired_token_does_not_authenticate(store: AuthStore) -> None:
    store.add_user("ada", "pw-ada-1")
    token = store.create_token("short", "ada", 1)  # 1 ms
    forever = store.create_token("forever", "ada", None)
    time.sleep(0.01)
    assert store.authenticate_token(token) is None
    assert store.authenticate_token(forever) == "User:ada"


def test_a_removed_users_tokens_stop_working_even_for_a_new_user_of_that_name(
    store: AuthStore,
) -> None:
    store.add_user("ada", "pw-ada-1")
    token = store.create_token("ci", "ada")
    store.remove_user("ada")
    assert store.tokens() == []
    store.add_user("ada", "pw-ada-1")
    assert store.authenticate_token(token) is None


def test_acls_decide_with_the_users_groups(store: AuthStore) -> None:
    store.add_user("ada", "pw-ada-1", ["ops"])
    assert not store.authorize("User:ada", "write", "topic", "orders")
    assert store.add_acl(Acl.of("Group:ops", "write", "topic", "ord", "prefixed"))
    assert not store.add_acl(Acl.of("Group:ops", "write", "topic", "ord", "prefixed"))
    assert store.authorize("User:ada", "write", "topic", "orders")
    assert store.authorize("User:ada", "describe", "topic", "orders")  # implied
    store.add_acl(Acl.of("User:ada", "write", "topic", "orders", permission="deny"))
    assert not store.authorize("User:ada", "write", "topic", "orders")
    store.set_groups("ada", [])
    store.remove_acl(Acl.of("User:ada", "write", "topic", "orders", permission="deny"))
    assert not store.authorize("User:ada", "write", "topic", "orders")
    assert len(store.acls()) == 1 and store.acls("User:ada") == []


def test_reopened_broker_has_the_same_state(open_broker: Open) -> None:
    first = open_broker()
    store = AuthStore(first, iterations=4096)
    store.add_user("ada", "pw-ada-1", ["ops"])
    store.add_user("bob", "pw-bob")
    token = store.create_token("ci", "ada", "1d")
    store.add_acl(Acl.of("Group:ops", "all", "group", "*"))
    store.remove_user("bob")
    before = (store.users(), store.tokens(), store.acls())
    first.close()
    again = AuthStore(open_broker())
    assert (again.users(), again.tokens(), again.acls()) == before
    assert again.authenticate_password("ada", "pw-ada-1") == "User:ada"
    assert again.authenticate_token(token) == "User:ada"
    assert again.authorize("User:ada", "read", "group", "g1")


def test_refresh_picks_up_changes_of_another_store(open_broker: Open) -> None:
    broker = open_broker()
    one, two = AuthStore(broker, iterations=4096), AuthStore(broker, iterations=4096)
    one.add_user("ada", "pw-ada-1")
    one.add_acl(Acl.of("User:ada", "read", "topic", "t"))
    assert two.users() == [] and not two.authorize("User:ada", "read", "topic", "t")
    two.refresh()
    assert [u.name for u in two.users()] == ["ada"]
    assert two.authorize("User:ada", "read", "topic", "t")  # the cache was invalidated
    one.remove_acl(Acl.of("User:ada", "read", "topic", "t"))
    two.refresh()
    assert not two.authorize("User:ada", "read", "topic", "t")
    # a change refreshes first, so it sees what the other store did
    two.set_groups("ada", ["ops"])
    one.refresh()
    assert one.groups_of("User:ada") == frozenset({"ops"})


def test_scram_exchange_against_the_store(store: AuthStore) -> None:
    store.add_user("ada", "pw-ada-1")
    server = ScramServer("SCRAM-SHA-512", store.scram_credential)
    bare = "n=ada,r=clientnonce"
    server_first = server.first(f"n,,{bare}").decode()
    attrs = dict(p.split("=", 1) for p in server_first.split(","))
    salted = hashlib.pbkdf2_hmac(
        "sha512", b"pw-ada-1", base64.b64decode(attrs["s"]), int(attrs["i"])
    )
    client_key = hmac.new(salted, b"Client Key", "sha512").digest()
    without_proof = f"c=biws,r={attrs['r']}"
    message = f"{bare},{server_first},{without_proof}".encode()
    signature = hmac.new(hashlib.sha512(client_key).digest(), message, "sha512").digest()
    proof = base64.b64encode(bytes(a ^ b for a, b in zip(client_key, signature, strict=True)))
    server.final(f"{without_proof},p={proof.decode()}")
    assert server.done and server.username == "ada"


def test_bad_input_changes_nothing(store: AuthStore) -> None:
    store.add_user("ada", "pw-ada-1")
    token = store.create_token("ci", "ada")
    store.add_acl(Acl.of("User:ada", "read", "topic", "t"))
    written = end(store)
    state = (store.users(), store.tokens(), store.acls())
    bad: list[tuple[Callable[[], object], str]] = [
        (lambda: store.add_user("", "pw"), "invalid user name"),
        (lambda: store.add_user("a b", "pw"), "invalid user name"),
        (lambda: store.add_user("ada", "pw"), "exists"),
        (lambda: store.add_user("bob", ""), "password"),
        (lambda: store.add_user("bob", "pw", ["bad group"]), "invalid group name"),
        (lambda: store.add_user("bob", "pw", "ops"), "list of names"),
        (lambda: store.set_password("bob", "pw"), "no user 'bob'"),
        (lambda: store.set_password("ada", ""), "password"),
        (lambda: store.set_groups("bob", []), "no user 'bob'"),
        (lambda: store.remove_user("bob"), "no user 'bob'"),
        (lambda: store.create_token("ci", "bob"), "no user 'bob'"),
        (lambda: store.create_token("", "ada"), "token name"),
        (lambda: store.create_token("ci", "ada", "soon"), "duration"),
        (lambda: store.create_token("ci", "ada", 0), "positive"),
        (lambda: store.revoke_token("0123456789abcdef"), "no token"),
        (lambda: store.revoke_token("nope"), "16 hex digits"),
        (lambda: store.remove_acl(Acl.of("User:ada", "write", "topic", "t")), "no ACL"),
        (lambda: store.add_acl("allow User:ada read topic t"), "must be an Acl"),  # type: ignore[arg-type]
        (lambda: AuthStore(store.broker, iterations=10), "iterations"),
    ]
    for call, message in bad:
        with pytest.raises(InvalidArgumentError, match=message):
            call()
    assert end(store) == written
    assert (store.users(), store.tokens(), store.acls()) == state
    assert store.authenticate_token(token) == "User:ada"


def test_unreadable_records_are_skipped_on_replay(open_broker: Open) -> None:
    broker = open_broker()
    store = AuthStore(broker, iterations=4096)
    store.add_user("ada", "pw-ada-1")
    broker.produce(AUTH_TOPIC, b"not json", key="user:bob")
    broker.produce(AUTH_TOPIC, b"{}", key="acl:x")
    broker.produce(AUTH_TOPIC, b"[1]", key="token:y")
    broker.produce(AUTH_TOPIC, b"{}", key="mystery:z")
    store.add_user("cy", "pw-cy-1")
    again = AuthStore(broker)
    assert [u.name for u in again.users()] == ["ada", "cy"]
    assert again.acls() == [] and again.tokens() == []
