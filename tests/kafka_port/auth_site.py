"""A real ``logway serve --auth`` with users and ACLs for the Kafka port's tests, and a
bare Kafka-protocol client (kio's classes, a SCRAM client side) for what no library
lets a test send: a SASL handshake v0 with bare tokens, requests out of turn.

Users and ACLs (made before the server starts, so every door sees them at once):

- ``alice``: every operation on topics and groups whose names begin ``a.``;
- ``bob``: READ on topics ``a.*`` (so DESCRIBE too), DESCRIBE on groups ``b.*`` (so
  FindCoordinator answers him, JoinGroup and OffsetCommit do not);
- ``carol``: no ACL at all.

Topics ``s.*`` (secret) are allowed to no one.
"""

from __future__ import annotations

import base64
import dataclasses
import hashlib
import hmac
import io
import secrets
import socket
import struct
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from kio.serial import entity_reader, entity_writer

import logway
from logway.auth import Acl, AuthStore
from logway.server.kafka import versions, wire
from tests.servers import LogwayServer

PASSWORD = "Kafka-port-pass-7"  # every user's (never in the server's output)
WRONG = "not-the-password-3"
USERS = ("alice", "bob", "carol")
SECRETS = (PASSWORD, WRONG)


@dataclass
class Site:
    server: LogwayServer
    data: Path

    @property
    def kafka(self) -> str:
        return self.server.kafka

    @contextmanager
    def admin(self) -> Iterator[logway.Broker]:
        """The data directory through the server's own socket: no ACLs, to set up a test
        and to see what a Kafka client changed."""
        with logway.connect(f"file:{self.data}") as broker:
            yield broker

    def topic(self, prefix: str, partitions: int = 1) -> str:
        name = f"{prefix}{uuid.uuid4().hex[:10]}"
        with self.admin() as broker:
            broker.create_topic(name, partitions=partitions)
        return name

    def stored(self, topic: str) -> int:
        """How many records ``topic`` holds."""
        with self.admin() as broker:
            ends, starts = broker.end_offsets(topic), broker.start_offsets(topic)
        return sum(ends[p] - starts[p] for p in ends)

    def conf(
        self, user: str, mechanism: str = "SCRAM-SHA-256", password: str = PASSWORD, **extra: Any
    ) -> dict[str, Any]:
        """confluent-kafka settings for ``user`` over SASL_PLAINTEXT."""
        return {
            "bootstrap.servers": self.kafka,
            "security.protocol": "SASL_PLAINTEXT",
            "sasl.mechanism": mechanism,
            "sasl.username": user,
            "sasl.password": password,
            **extra,
        }


def prepare(data: Path) -> None:
    """Users, ACLs and a secret topic, in the data directory before the server runs."""
    with logway.connect(f"file:{data}") as broker:
        broker.create_topic("s.secret")
        store = AuthStore(broker, iterations=4096)
        for user in USERS:
            store.add_user(user, PASSWORD)
        for kind in ("topic", "group"):
            store.add_acl(Acl.of("User:alice", "all", kind, "a.", "prefixed"))
        store.add_acl(Acl.of("User:bob", "read", "topic", "a.", "prefixed"))
        store.add_acl(Acl.of("User:bob", "describe", "group", "b.", "prefixed"))


@contextmanager
def running(data: Path, *extra: str) -> Iterator[Site]:
    """The server, stopped after; no secret may have reached its output."""
    prepare(data)
    server = LogwayServer(data, "--auth", *extra)
    server.start()
    try:
        yield Site(server, data)
    finally:
        code = server.stop()
        output = "".join(server.output)
        assert code == 0, output[-3000:]
        for secret in SECRETS:
            assert secret not in output


# --- a bare Kafka client ---------------------------------------------------------------


class Wire:
    """One connection speaking the Kafka protocol with kio's request classes."""

    def __init__(self, address: str, timeout: float = 10.0):
        host, _, port = address.rpartition(":")
        self.sock = socket.create_connection((host, int(port)), timeout=timeout)
        self.correlation = 0

    def close(self) -> None:
        self.sock.close()

    def __enter__(self) -> Wire:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def send(self, api_key: int, version: int, **values: Any) -> int:
        """Send a request built from ``values``; its correlation id."""
        self.correlation += 1
        cls = wire.request_type(api_key, version)
        assert cls is not None
        given = {f.name: values[f.name] for f in dataclasses.fields(cls)}  # each field
        buf = io.BytesIO()
        entity_writer(cls)(buf, cls(**given))
        header = struct.pack(">hhih", api_key, version, self.correlation, 4) + b"test"
        if cls.__flexible__:
            header += b"\0"
        self.send_bare(header + buf.getvalue())
        return self.correlation

    def send_bare(self, payload: bytes) -> None:
        self.sock.sendall(struct.pack(">i", len(payload)) + payload)

    def receive_bare(self) -> bytes:
        """One size-prefixed frame; b"" once the server has closed the connection."""
        head = self._exactly(4)
        if len(head) < 4:
            return b""
        return self._exactly(struct.unpack(">i", head)[0])

    def _exactly(self, n: int) -> bytes:
        data = b""
        while len(data) < n:
            chunk = self.sock.recv(n - len(data))
            if not chunk:
                return data
            data += chunk
        return data

    def receive(self, api_key: int, version: int) -> Any:
        """The response to the last request (kio's object)."""
        frame = self.receive_bare()
        assert frame, "the server closed the connection"
        (correlation,) = struct.unpack_from(">i", frame)
        assert correlation == self.correlation
        cls = response_class(api_key, version)
        pos = 4 + (1 if wire.response_flexible(api_key, version) else 0)
        entity, _ = entity_reader(cls)(frame, pos)
        return entity

    def ask(self, api_key: int, version: int, **values: Any) -> Any:
        self.send(api_key, version, **values)
        return self.receive(api_key, version)

    def closed(self) -> bool:
        """Whether the server closes the connection (waits up to the socket timeout)."""
        try:
            return self.sock.recv(1) == b""
        except ConnectionResetError:
            return True


def response_class(api_key: int, version: int) -> Any:
    """kio's response class of an API version."""
    return getattr(wire.response_module(api_key, version), versions.NAMES[api_key] + "Response")


class ScramClient:
    """The client side of SCRAM (RFC 5802), to drive a server by hand."""

    def __init__(self, mechanism: str, user: str, password: str):
        self.hash = {"SCRAM-SHA-256": "sha256", "SCRAM-SHA-512": "sha512"}[mechanism]
        self.user, self.password = user, password
        self.nonce = secrets.token_urlsafe(18)
        self.bare = f"n={user},r={self.nonce}"
        self.server_signature = b""

    def first(self) -> bytes:
        return f"n,,{self.bare}".encode()

    def final(self, server_first: bytes) -> bytes:
        text = server_first.decode()
        attrs = dict(part.split("=", 1) for part in text.split(","))
        assert attrs["r"].startswith(self.nonce)
        salted = hashlib.pbkdf2_hmac(
            self.hash, self.password.encode(), base64.b64decode(attrs["s"]), int(attrs["i"])
        )
        client_key = hmac.new(salted, b"Client Key", self.hash).digest()
        stored = hashlib.new(self.hash, client_key).digest()
        without_proof = f"c={base64.b64encode(b'n,,').decode()},r={attrs['r']}"
        message = f"{self.bare},{text},{without_proof}".encode()
        signature = hmac.new(stored, message, self.hash).digest()
        proof = bytes(a ^ b for a, b in zip(client_key, signature, strict=True))
        server_key = hmac.new(salted, b"Server Key", self.hash).digest()
        self.server_signature = hmac.new(server_key, message, self.hash).digest()
        return f"{without_proof},p={base64.b64encode(proof).decode()}".encode()

    def check(self, server_final: bytes) -> bool:
        return server_final == b"v=" + base64.b64encode(self.server_signature)
