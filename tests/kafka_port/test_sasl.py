"""The SASL exchange on the Kafka port, request by request, as Kafka's
``SaslServerAuthenticator`` runs it: handshake v1 with SaslAuthenticate and v0 with
bare tokens, Kafka's answers to a failed proof and to requests out of turn, PLAIN only
with TLS (the listener's hook), anonymous callers with ``--allow-anonymous``, a removed
user's connection closed, and SaslHandshake on a listener without authentication.
A listener in this process, over an embedded log with a real ``Access``."""

from __future__ import annotations

import asyncio
import json
import socket
import struct
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, TypeVar

import pytest
from confluent_kafka import KafkaError, Producer
from kio.schema.errors import ErrorCode

import logway
from logway.auth import Acl, AuthStore
from logway.broker import Broker
from logway.server.access import AUDIT_TOPIC, FIRST_PENALTY_S, Access
from logway.server.kafka import sasl, wire
from tests.kafka_port.auth_site import PASSWORD, WRONG, ScramClient, Wire
from tests.kafka_port.test_bad_input import InProcess

T = TypeVar("T")
API_VERSIONS, METADATA, PRODUCE = 18, 3, 0
HANDSHAKE, AUTHENTICATE = sasl.SASL_HANDSHAKE, sasl.SASL_AUTHENTICATE
SCRAM = ("SCRAM-SHA-256", "SCRAM-SHA-512")


class Served(InProcess):
    access: Access

    @property
    def bootstrap(self) -> str:
        return f"127.0.0.1:{self.address[1]}"

    def in_loop(self, fn: Callable[[], T]) -> T:
        """``fn()`` on the listener's event loop (where ``Access`` is used)."""

        async def call() -> T:
            return fn()

        return asyncio.run_coroutine_threadsafe(call(), self.loop).result(30)


def _serve(broker: Broker, allow_anonymous: bool = False) -> Served:
    checks = Access(broker, enabled=True, allow_anonymous=allow_anonymous)
    served = Served(broker, access=checks)
    served.access = checks
    served.start()
    return served


@pytest.fixture
def broker(tmp_path: Path) -> Iterator[Broker]:
    with logway.connect(f"file:{tmp_path / 'data'}") as broker:
        broker.create_topic("a.data", partitions=2)
        broker.create_topic("s.secret")
        store = AuthStore(broker, iterations=4096)
        for user in ("alice", "bob"):
            store.add_user(user, PASSWORD)
        store.add_acl(Acl.of("User:alice", "all", "topic", "a.", "prefixed"))
        store.add_acl(Acl.of("User:bob", "read", "topic", "a.", "prefixed"))
        yield broker


@pytest.fixture
def served(broker: Broker) -> Iterator[Served]:
    door = _serve(broker)
    try:
        yield door
    finally:
        door.stop()


def _versions(conn: Wire) -> Any:
    return conn.ask(API_VERSIONS, 3, client_software_name="t", client_software_version="1")


def _sign_in(conn: Wire, user: str, password: str = PASSWORD, mechanism: str = SCRAM[0]) -> Any:
    """ApiVersions, handshake v1, SCRAM over SaslAuthenticate v2; the last answer."""
    _versions(conn)
    shook = conn.ask(HANDSHAKE, 1, mechanism=mechanism)
    assert shook.error_code == ErrorCode.none
    client = ScramClient(mechanism, user, password)
    first = conn.ask(AUTHENTICATE, 2, auth_bytes=client.first())
    assert first.error_code == ErrorCode.none and first.session_lifetime.total_seconds() == 0
    final = conn.ask(AUTHENTICATE, 2, auth_bytes=client.final(first.auth_bytes))
    if final.error_code == ErrorCode.none:
        assert client.check(final.auth_bytes)  # the server knew the password's verifier
    return final


def _topics(conn: Wire, *names: str) -> dict[str, ErrorCode]:
    """Metadata v4: each topic's error, all of them when no name is given."""
    module = sys.modules[wire.request_type(METADATA, 4).__module__]
    asked = tuple(module.MetadataRequestTopic(name=n) for n in names) if names else None
    found = conn.ask(METADATA, 4, topics=asked, allow_auto_topic_creation=False)
    return {t.name: t.error_code for t in found.topics}


def _audit(broker: Broker) -> list[dict[str, Any]]:
    if AUDIT_TOPIC not in broker.list_topics():
        return []
    return [json.loads(r.value or b"{}") for r in broker.fetch(AUDIT_TOPIC, 0, 0, 1000)]


# --- signing in ---------------------------------------------------------------------------


@pytest.mark.parametrize("mechanism", SCRAM)
def test_scram_in_sasl_authenticate_then_every_api_is_served(
    served: Served, mechanism: str
) -> None:
    with Wire(served.bootstrap) as conn:
        keys = {k.api_key: k.max_version for k in _versions(conn).api_keys}
        assert keys[HANDSHAKE] == 1 and keys[AUTHENTICATE] == 2
        shook = conn.ask(HANDSHAKE, 1, mechanism=mechanism)
        assert shook.error_code == ErrorCode.none
        assert shook.mechanisms == (*SCRAM, "OAUTHBEARER")  # no PLAIN without TLS
        client = ScramClient(mechanism, "alice", PASSWORD)
        first = conn.ask(AUTHENTICATE, 2, auth_bytes=client.first())
        final = conn.ask(AUTHENTICATE, 2, auth_bytes=client.final(first.auth_bytes))
        assert final.error_code == ErrorCode.none and final.error_message is None
        assert client.check(final.auth_bytes)
        assert final.session_lifetime.total_seconds() == 0  # no re-authentication asked
        # signed in: served, as alice (s.* is not hers to see)
        assert _topics(conn) == {"a.data": ErrorCode.none}
        # a second handshake is out of turn, as Kafka's KafkaApis answers it
        again = conn.ask(HANDSHAKE, 1, mechanism=mechanism)
        assert again.error_code == ErrorCode.illegal_sasl_state
        token = conn.ask(AUTHENTICATE, 2, auth_bytes=b"n,,n=bob,r=x")
        assert token.error_code == ErrorCode.illegal_sasl_state
        assert token.error_message == (
            "SaslAuthenticate request received after successful authentication"
        )
        assert _topics(conn, "a.data") == {"a.data": ErrorCode.none}  # still open


def test_handshake_v0_takes_bare_tokens(served: Served) -> None:
    with Wire(served.bootstrap) as conn:
        assert conn.ask(HANDSHAKE, 0, mechanism="SCRAM-SHA-512").error_code == ErrorCode.none
        client = ScramClient("SCRAM-SHA-512", "bob", PASSWORD)
        conn.send_bare(client.first())
        server_first = conn.receive_bare()
        conn.send_bare(client.final(server_first))
        assert client.check(conn.receive_bare())
        # bob may describe a.* (READ implies it), not s.*
        found = _topics(conn, "a.data", "s.secret")
        assert found == {
            "a.data": ErrorCode.none,
            "s.secret": ErrorCode.topic_authorization_failed,
        }


@pytest.mark.parametrize("user", ["alice", "nobody"])
def test_a_wrong_proof_is_sasl_authentication_failed_then_the_connection_closes(
    served: Served, broker: Broker, user: str
) -> None:
    with Wire(served.bootstrap) as conn:
        refused = _sign_in(conn, user, WRONG)
        assert refused.error_code == ErrorCode.sasl_authentication_failed
        # Kafka's words: no user name (it would tell who exists), no secret
        assert refused.error_message == sasl.failure_message("SCRAM-SHA-256")
        assert conn.closed()
    (entry,) = [e for e in _audit(broker) if e["door"] == "sign-in"]
    assert entry["principal"] == f"User:{user}" and entry["address"] == "127.0.0.1"
    assert WRONG not in json.dumps(entry) and PASSWORD not in json.dumps(entry)


def test_failed_proofs_slow_the_next_attempt(served: Served) -> None:
    for _ in range(2):
        with Wire(served.bootstrap) as conn:
            assert _sign_in(conn, "alice", WRONG).error_code != ErrorCode.none
    with Wire(served.bootstrap) as conn:
        _versions(conn)
        conn.ask(HANDSHAKE, 1, mechanism=SCRAM[0])
        began = time.monotonic()
        conn.ask(AUTHENTICATE, 2, auth_bytes=ScramClient(SCRAM[0], "alice", PASSWORD).first())
        assert time.monotonic() - began >= 2 * FIRST_PENALTY_S  # doubled by the second


def test_requests_out_of_turn_close_the_connection(served: Served) -> None:
    with Wire(served.bootstrap) as conn:  # no SASL at all: Kafka closes, unanswered
        conn.send(METADATA, 4, topics=None, allow_auto_topic_creation=False)
        assert conn.closed()
    with Wire(served.bootstrap) as conn:  # ApiVersions once, then the handshake
        _versions(conn)
        conn.send(API_VERSIONS, 3, client_software_name="t", client_software_version="1")
        assert conn.closed()
    with Wire(served.bootstrap) as conn:  # during the exchange, only SaslAuthenticate
        conn.ask(HANDSHAKE, 1, mechanism=SCRAM[0])
        conn.send_bare(struct.pack(">hhih", PRODUCE, 3, 9, -1))
        assert conn.closed()
    with Wire(served.bootstrap) as conn:  # a frame over Kafka's 512 KiB before sign-in
        conn.send_bare(b"\0" * (sasl.MAX_RECEIVE + 1))
        assert conn.closed()


@pytest.mark.parametrize("mechanism", ["PLAIN", "GSSAPI", "SCRAM-SHA-1"])
def test_a_mechanism_not_offered_is_unsupported_with_the_list(
    served: Served, mechanism: str
) -> None:
    with Wire(served.bootstrap) as conn:
        _versions(conn)
        refused = conn.ask(HANDSHAKE, 1, mechanism=mechanism)
        assert refused.error_code == ErrorCode.unsupported_sasl_mechanism
        assert refused.mechanisms == (*SCRAM, "OAUTHBEARER")
        assert conn.closed()


# --- PLAIN with TLS, anonymous callers, removed users --------------------------------------


def test_plain_is_offered_once_the_listener_has_tls(served: Served, broker: Broker) -> None:
    """The hook for TLS on the port: with ``listener.tls`` set, PLAIN is offered and
    signs in as a password would."""
    assert served.listener is not None
    served.listener.tls = True  # what TLS on the port will set (the bytes stay clear here)
    base = {
        "bootstrap.servers": served.bootstrap,
        "security.protocol": "SASL_PLAINTEXT",
        "sasl.mechanism": "PLAIN",
        "sasl.username": "alice",
    }
    producer = Producer({**base, "sasl.password": PASSWORD})
    producer.produce("a.data", b"over PLAIN", partition=0)
    assert producer.flush(20) == 0
    assert [r.value for r in broker.fetch("a.data", 0, 0)] == [b"over PLAIN"]

    errors: list[KafkaError] = []
    refused = Producer({**base, "sasl.password": WRONG, "error_cb": errors.append})
    refused.produce("a.data", b"must not be stored", partition=0)
    deadline = time.monotonic() + 20
    while not errors and time.monotonic() < deadline:
        refused.poll(0.1)
    refused.purge()
    refused.flush(0)
    assert errors and errors[0].code() == KafkaError._AUTHENTICATION
    assert sasl.failure_message("PLAIN") in str(errors[0])
    assert broker.end_offsets("a.data")[0] == 1
    with Wire(served.bootstrap) as conn:
        _versions(conn)
        assert conn.ask(HANDSHAKE, 1, mechanism="PLAIN").mechanisms == (
            *SCRAM,
            "OAUTHBEARER",
            "PLAIN",
        )


def test_with_anonymous_allowed_a_client_without_sasl_is_user_anonymous(
    broker: Broker,
) -> None:
    AuthStore(broker).add_acl(Acl.of("User:ANONYMOUS", "write", "topic", "a.data"))
    door = _serve(broker, allow_anonymous=True)
    try:
        producer = Producer({"bootstrap.servers": door.bootstrap})
        reports: dict[str, int] = {}

        def report(error: KafkaError | None, message: Any) -> None:
            reports[message.topic()] = 0 if error is None else error.code()

        for topic in ("a.data", "s.secret"):
            producer.produce(topic, b"anon", partition=0, on_delivery=report)
        assert producer.flush(20) == 0
        assert reports == {"a.data": 0, "s.secret": KafkaError.TOPIC_AUTHORIZATION_FAILED}
        assert broker.end_offsets("a.data")[0] == 1 and broker.end_offsets("s.secret")[0] == 0
        with Wire(door.bootstrap) as conn:  # SASL still works beside
            assert _sign_in(conn, "alice").error_code == ErrorCode.none
    finally:
        door.stop()


def test_a_removed_users_connection_is_closed(served: Served, broker: Broker) -> None:
    store = AuthStore(broker, iterations=4096)
    store.add_user("dave", PASSWORD)  # made after the listener started: found at once
    with Wire(served.bootstrap) as conn:
        assert _sign_in(conn, "dave").error_code == ErrorCode.none
        assert _topics(conn) == {}  # dave may see nothing, but is served
        store.remove_user("dave")
        served.in_loop(served.access.refresh)  # what the server does every 0.25 s
        assert conn.closed()
    with Wire(served.bootstrap) as conn:
        assert _sign_in(conn, "dave").error_code == ErrorCode.sasl_authentication_failed


# --- without authentication ---------------------------------------------------------------


def test_sasl_on_a_listener_without_authentication_is_illegal_sasl_state(
    broker: Broker,
) -> None:
    """As Kafka's PLAINTEXT listener (KafkaApis): ILLEGAL_SASL_STATE, no mechanisms; the
    connection stays usable."""
    door = InProcess(broker).start()
    try:
        with Wire(f"127.0.0.1:{door.address[1]}") as conn:
            shook = conn.ask(HANDSHAKE, 1, mechanism="SCRAM-SHA-256")
            assert shook.error_code == ErrorCode.illegal_sasl_state and shook.mechanisms == ()
            assert conn.ask(AUTHENTICATE, 1, auth_bytes=b"x").error_code == (
                ErrorCode.illegal_sasl_state
            )
            assert _topics(conn)["s.secret"] == ErrorCode.none  # no checks at all
    finally:
        door.stop()


def test_a_silent_peer_before_sign_in_is_closed_at_the_idle_timeout(broker: Broker) -> None:
    checks = Access(broker, enabled=True)
    door = InProcess(broker, access=checks, idle_timeout=0.3).start()
    try:
        with socket.create_connection(("127.0.0.1", door.address[1]), timeout=10) as sock:
            assert sock.recv(1) == b""
    finally:
        door.stop()
