"""AuthStore is written once against ``Broker``: users, tokens and ACLs kept in
``__logway_auth`` work, and last, on every backend."""

from __future__ import annotations

import pytest

from logway.auth import AUTH_TOPIC, Acl, AuthStore
from logway.errors import InvalidArgumentError
from tests.conformance.conftest import BrokerFactory


def test_auth_state_is_kept_in_the_log(open_broker: BrokerFactory) -> None:
    broker = open_broker()
    store = AuthStore(broker, iterations=4096)
    store.add_user("ada", "pw-ada-1", ["ops"])
    token = store.create_token("ci", "ada", "1d")
    store.add_acl(Acl.of("Group:ops", "read", "topic", "orders.", "prefixed"))
    store.add_acl(Acl.of("User:ada", "read", "topic", "orders.secret", permission="deny"))
    written = broker.end_offsets(AUTH_TOPIC)[0]
    with pytest.raises(InvalidArgumentError, match="no user 'nobody'"):
        store.create_token("ci", "nobody")
    assert broker.end_offsets(AUTH_TOPIC)[0] == written

    other = AuthStore(open_broker())  # another connection: replays the topic
    assert [u.name for u in other.users()] == ["ada"]
    assert other.authenticate_password("ada", "pw-ada-1") == "User:ada"
    assert other.authenticate_password("ada", "wrong") is None
    assert other.authenticate_token(token) == "User:ada"
    assert other.authorize("User:ada", "read", "topic", "orders.eu")
    assert not other.authorize("User:ada", "read", "topic", "orders.secret")

    store.revoke_token(store.tokens()[0].id)
    store.remove_acl(Acl.of("User:ada", "read", "topic", "orders.secret", permission="deny"))
    other.refresh()
    assert other.authenticate_token(token) is None
    assert other.authorize("User:ada", "read", "topic", "orders.secret")
