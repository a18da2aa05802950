"""The conformance suite runs against every backend listed here.

A backend entry is a function that takes a scratch directory and returns a
factory; each call of the factory opens a new ``Broker`` on the same storage,
so tests can close a broker and reopen it to check what was kept: the embedded
log, a data directory another process owns, a logway server, a Kafka cluster.
``LOGWAY_TEST_BACKENDS=embedded,...`` narrows the run.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager
from pathlib import Path

import pytest

import logway
from tests.kafka_broker import KafkaServer
from tests.servers import DirectoryOwner, LogwayServer

BrokerFactory = Callable[[], logway.Broker]


def embedded(tmp: Path) -> BrokerFactory:
    return lambda: logway.connect(f"file:{tmp / 'data'}")


def remote(tmp: Path) -> BrokerFactory:
    """A real ``logway serve`` process; each factory call is a new client connection."""
    server = LogwayServer(tmp / "data")
    server.start()
    _servers.append(server)
    return lambda: logway.connect(server.url)


def remote_auth(tmp: Path) -> BrokerFactory:
    """``logway serve --auth``, each client presenting an OpenID Connect token (signed
    here, checked against a JWKS file) for ``User:suite``, whose ACLs allow everything:
    the suite through authentication and permission checks, with no user or token of
    its own in the store the suite's tests look at."""
    import json
    import time

    import jwt
    from cryptography.hazmat.primitives.asymmetric import ec

    from logway.auth import AUTH_TOPIC, Acl, AuthStore

    key = ec.generate_private_key(ec.SECP256R1())
    public = json.loads(jwt.algorithms.ECAlgorithm.to_jwk(key.public_key()))
    (tmp / "jwks.json").write_text(json.dumps({"keys": [{**public, "kid": "suite"}]}))
    issuer = "https://issuer.test/suite"
    server = LogwayServer(
        tmp / "data",
        *("--auth", "--oidc-issuer", issuer, "--oidc-jwks-file", str(tmp / "jwks.json")),
    )
    server.start()
    _servers.append(server)
    with logway.connect(f"file:{tmp / 'data'}") as admin:  # the server's own socket
        store = AuthStore(admin, iterations=4096)
        for kind, name in (("topic", "*"), ("group", "*"), ("cluster", "cluster")):
            store.add_acl(Acl.of("User:suite", "all", kind, name))
    claims = {"iss": issuer, "sub": "suite", "exp": int(time.time()) + 3600}
    token = jwt.encode(claims, key, algorithm="ES256", headers={"kid": "suite"})
    with logway.connect(server.url, token=token) as suite:
        # a checked request the new ACLs allow: the server reads them before it would
        # refuse, so from here on listings (which filter, never refuse) see them too
        suite.describe_topic(AUTH_TOPIC)
    return lambda: logway.connect(server.url, token=token)


def directory(tmp: Path) -> BrokerFactory:
    """Another process owns the data directory; each factory call opens it here, and
    so talks to that owner over its Unix socket."""
    owner = DirectoryOwner(tmp / "data").start()
    _servers.append(owner)
    return lambda: logway.connect(owner.url)


def kafka(tmp: Path) -> BrokerFactory:
    """A Kafka-API broker of its own per test (``tests/kafka_broker.py``), so that
    group names and topics never leak between tests."""
    server = KafkaServer().start()
    _servers.append(server)
    if server.external:
        _clear(server.servers)
    return lambda: logway.connect(server.url)


def kafka_port(tmp: Path) -> BrokerFactory:
    """logway's ``kafka://`` backend on ``logway serve``'s own Kafka port: Kafka's
    protocol end to end, on the embedded log."""
    server = LogwayServer(tmp / "data")
    server.start()
    _servers.append(server)
    return lambda: logway.connect(f"kafka://{server.kafka}?{KAFKA_PORT_QUERY}")


# short group timeouts keep the group tests quick, as on the test broker
KAFKA_PORT_QUERY = "session.timeout.ms=6000&heartbeat.interval.ms=200"


def _clear(servers: str) -> None:
    """Delete every topic and group of a shared scratch cluster."""
    from confluent_kafka.admin import AdminClient

    admin = AdminClient({"bootstrap.servers": servers})
    topics = [t for t in admin.list_topics(timeout=30).topics if not t.startswith("__")]
    for future in admin.delete_topics(topics).values() if topics else ():
        future.result(30)
    groups = [g.group_id for g in admin.list_consumer_groups().result(30).valid]
    for future in admin.delete_consumer_groups(groups).values() if groups else ():
        future.result(30)


_servers: list[LogwayServer | KafkaServer | DirectoryOwner] = []
BACKENDS: dict[str, Callable[[Path], BrokerFactory]] = {
    "embedded": embedded,
    "directory": directory,
    "remote": remote,
    "remote-auth": remote_auth,
    "kafka": kafka,
    "kafka-port": kafka_port,
}
# logway's Kafka backend, on the test broker or on logway serve's own Kafka port
KAFKA_BACKENDS = {"kafka", "kafka-port"}
# a server or owner process per test: left out of make test-fast
SLOW_BACKENDS = {"directory", "remote", "remote-auth", "kafka", "kafka-port"}


def _selected() -> list[str]:
    wanted = os.environ.get("LOGWAY_TEST_BACKENDS")
    names = [n.strip() for n in wanted.split(",")] if wanted else list(BACKENDS)
    unknown = [n for n in names if n not in BACKENDS]
    if unknown:
        raise pytest.UsageError(f"unknown backends {unknown}; known: {sorted(BACKENDS)}")
    return names


@pytest.fixture(
    params=[
        pytest.param(name, marks=[pytest.mark.slow] if name in SLOW_BACKENDS else [])
        for name in _selected()
    ]
)
def open_broker(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[BrokerFactory]:
    make = BACKENDS[request.param](tmp_path)
    opened: list[logway.Broker] = []

    def factory() -> logway.Broker:
        broker = make()
        opened.append(broker)
        return broker

    yield factory
    for broker in opened:
        broker.close()
    while _servers:
        _servers.pop().stop()


# What the Kafka-API broker that the suite starts (tansu) does differently from Kafka.
# A test wraps the part that meets one in ``with broker_limit(name):``; under tansu
# that part must fail as stated (were the limit gone, the test would fail and say
# so), and on any other backend, or a real cluster, it runs as it is.
TEST_BROKER_LIMITS = {
    "time_index": "tansu answers every offset-for-time question with the start offset",
    "log_append_time": "tansu neither reports message.timestamp.type nor stamps records of "
    "a LogAppendTime topic",
    "topic_settings": "tansu reports the settings a topic was created with as defaults, so "
    "describe_topic cannot tell them from Kafka's defaults",
}
BrokerLimit = Callable[[str], AbstractContextManager[None]]


@pytest.fixture
def broker_limit(request: pytest.FixtureRequest) -> BrokerLimit:
    backend = request.node.callspec.params.get("open_broker")
    applies = backend == "kafka" and not os.environ.get("LOGWAY_TEST_KAFKA")

    @contextmanager
    def meets(limit: str) -> Iterator[None]:
        reason = TEST_BROKER_LIMITS[limit]
        if not applies:
            yield
            return
        try:
            yield
        except AssertionError:
            return  # the limit, as stated
        raise AssertionError(f"this no longer meets the test broker's limit: {reason}")

    return meets


@pytest.fixture
def broker(open_broker: BrokerFactory) -> logway.Broker:
    return open_broker()


@pytest.fixture
def topic() -> str:
    """A fresh topic name, so backends shared between tests never collide."""
    return f"t-{uuid.uuid4().hex[:10]}"
