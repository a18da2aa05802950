"""SASL and ACLs on the Kafka port of a real ``logway serve --auth``, with Kafka's own
clients (confluent-kafka, Debian's kcat): SCRAM-SHA-256 and -512 sign-ins, Kafka's
error code for every refusal, nothing stored by a refused request, no secret in the
server's output (``auth_site.running`` checks it when the server stops)."""

from __future__ import annotations

import os
import shutil
import subprocess
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from confluent_kafka import Consumer, KafkaError, KafkaException, Producer, TopicPartition
from confluent_kafka.admin import (  # type: ignore[attr-defined]
    AdminClient,
    ConfigResource,
    NewPartitions,
    NewTopic,
)

from logway.auth import AuthStore
from tests.kafka_port.auth_site import PASSWORD, WRONG, Site, running
from tests.kcat import FORMAT, Kcat, parse
from tests.servers import LogwayServer

pytestmark = pytest.mark.slow  # a server process and Kafka clients
WAIT_S = 20.0  # the longest a client event is waited for
# a client refused at sign-in tries again only after the test is over
ONE_ATTEMPT: dict[str, Any] = {"reconnect.backoff.ms": 10_000, "reconnect.backoff.max.ms": 10_000}
IDEMPOTENT: dict[str, Any] = {"enable.idempotence": True}


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Site]:
    with running(Path(tmp_path_factory.mktemp("kafka-auth")) / "data") as site:
        yield site


class Errors:
    """A client's error callback, and waiting for its first error."""

    def __init__(self) -> None:
        self.seen: list[KafkaError] = []

    def __call__(self, error: KafkaError) -> None:
        self.seen.append(error)

    def first(self, client: Producer | Consumer) -> KafkaError:
        deadline = time.monotonic() + WAIT_S
        while not self.seen and time.monotonic() < deadline:
            try:
                client.poll(0.1)
            except KafkaException as exc:  # a fatal error is raised by poll too
                self.seen.append(exc.args[0])
        assert self.seen, "the client reported no error"
        return self.seen[0]


def _produce(producer: Producer, topic: str, values: list[bytes]) -> list[KafkaError | None]:
    reports: list[KafkaError | None] = []
    for value in values:
        producer.produce(topic, value, on_delivery=lambda error, _msg: reports.append(error))
    assert producer.flush(WAIT_S) == 0
    return reports


def _consume(consumer: Consumer, count: int) -> list[Any]:
    """``count`` messages, or the first error event."""
    got: list[Any] = []
    deadline = time.monotonic() + WAIT_S
    while len(got) < count and time.monotonic() < deadline:
        message = consumer.poll(0.2)
        if message is None:
            continue
        if message.error() is not None:
            return [message]
        got.append(message)
    return got


def _stop_failed_producer(producer: Producer) -> None:
    producer.purge()
    producer.flush(0)


# --- signing in -------------------------------------------------------------------------


@pytest.mark.parametrize("mechanism", ["SCRAM-SHA-256", "SCRAM-SHA-512"])
def test_a_user_produces_and_consumes_with_scram(site: Site, mechanism: str) -> None:
    topic = site.topic("a.", partitions=2)
    group = f"a.g-{uuid.uuid4().hex[:8]}"
    producer = Producer(site.conf("alice", mechanism))
    values = [f"record {i}".encode() for i in range(5)]
    assert _produce(producer, topic, values) == [None] * 5
    assert site.stored(topic) == 5

    consumer = Consumer(
        site.conf("alice", mechanism, **{"group.id": group, "auto.offset.reset": "earliest"})
    )
    try:
        consumer.subscribe([topic])
        got = _consume(consumer, 5)
        assert sorted(m.value() for m in got) == sorted(values)
        consumer.commit(asynchronous=False)
    finally:
        consumer.close()
    with site.admin() as broker:
        assert sum(broker.committed(group).values()) == 5


def _bearer(token: str) -> dict[str, Any]:
    return {
        "sasl.mechanism": "OAUTHBEARER",
        "oauth_cb": lambda _config: (token, time.time() + 3600),
    }


def test_oauthbearer_carries_an_api_token(site: Site) -> None:
    """OAUTHBEARER (KIP-255) with a logway API token: checked as at every door."""
    with site.admin() as broker:
        token = AuthStore(broker).create_token("kafka", "alice", "1d")
    topic = site.topic("a.")
    base = {"bootstrap.servers": site.kafka, "security.protocol": "SASL_PLAINTEXT"}
    producer = Producer({**base, **_bearer(token)})
    assert _produce(producer, topic, [b"by bearer"]) == [None]
    assert site.stored(topic) == 1
    errors = Errors()
    forged = Producer({**base, **_bearer(token[:-4] + "AAAA"), "error_cb": errors})
    forged.produce(topic, b"refused")
    error = errors.first(forged)
    _stop_failed_producer(forged)
    assert error.code() == KafkaError._AUTHENTICATION
    assert site.stored(topic) == 1


@pytest.mark.parametrize("user", ["alice", "nobody"])
def test_a_wrong_password_is_an_authentication_error_and_stores_nothing(
    site: Site, user: str
) -> None:
    topic = site.topic("a.")
    errors = Errors()
    producer = Producer(
        site.conf(
            user,
            password=WRONG,
            error_cb=errors,
            **ONE_ATTEMPT,
        )
    )
    producer.produce(topic, b"must not be stored")
    error = errors.first(producer)
    _stop_failed_producer(producer)
    assert error.code() == KafkaError._AUTHENTICATION
    # Kafka's words, the same for a wrong password and an unknown user
    assert "Authentication failed during authentication due to invalid credentials" in str(error)
    assert user not in str(error)
    assert site.stored(topic) == 0


def test_a_client_without_sasl_is_refused_and_stores_nothing(site: Site) -> None:
    topic = site.topic("a.")
    mark = site.server.mark()
    errors = Errors()
    producer = Producer({"bootstrap.servers": site.kafka, "error_cb": errors})
    producer.produce(topic, b"must not be stored")
    errors.first(producer)
    _stop_failed_producer(producer)
    site.server.wait_for_line("before authenticating: this port takes SASL first", mark)
    assert site.stored(topic) == 0


def test_plain_is_refused_without_tls_with_the_mechanisms_offered(site: Site) -> None:
    errors = Errors()
    producer = Producer(site.conf("alice", "PLAIN", error_cb=errors))
    producer.produce("a.whatever", b"x")
    error = errors.first(producer)
    _stop_failed_producer(producer)
    assert error.code() == KafkaError._AUTHENTICATION
    assert "Unsupported SASL mechanism" in str(error)
    assert "SCRAM-SHA-256,SCRAM-SHA-512" in str(error)


# --- what a signed-in user may do --------------------------------------------------------


def test_produce_without_write_is_topic_authorization_failed(site: Site) -> None:
    topic = site.topic("a.")
    producer = Producer(site.conf("bob"))  # bob may read a.*, not write
    (error,) = _produce(producer, topic, [b"must not be stored"])
    assert error is not None and error.code() == KafkaError.TOPIC_AUTHORIZATION_FAILED
    assert site.stored(topic) == 0


def test_an_idempotent_producer_needs_write_on_some_topic(site: Site) -> None:
    topic = site.topic("a.")
    assert _produce(Producer(site.conf("alice", **IDEMPOTENT)), topic, [b"one"]) == [None]
    assert site.stored(topic) == 1

    errors = Errors()
    producer = Producer(site.conf("carol", error_cb=errors, **IDEMPOTENT))  # no ACL at all
    producer.produce(topic, b"must not be stored")
    error = errors.first(producer)
    _stop_failed_producer(producer)
    assert error.code() == KafkaError.CLUSTER_AUTHORIZATION_FAILED
    assert site.stored(topic) == 1


@pytest.mark.parametrize("group", ["b.readers", "x.unknown"], ids=["describe-only", "no-acl"])
def test_subscribing_without_group_read_is_group_authorization_failed(
    site: Site, group: str
) -> None:
    """b.*: FindCoordinator answers bob (DESCRIBE), JoinGroup does not (READ); x.*:
    FindCoordinator already refuses."""
    topic = site.topic("a.")
    with site.admin() as broker:
        broker.produce(topic, b"a record bob may read")
    consumer = Consumer(site.conf("bob", **{"group.id": group, "auto.offset.reset": "earliest"}))
    try:
        consumer.subscribe([topic])
        (message,) = _consume(consumer, 1)
        assert message.error().code() == KafkaError.GROUP_AUTHORIZATION_FAILED
    finally:
        consumer.close()
    with site.admin() as broker:
        assert broker.committed(group) == {}


def test_committing_without_group_read_is_group_authorization_failed(site: Site) -> None:
    topic = site.topic("a.")
    group = f"b.commits-{uuid.uuid4().hex[:6]}"
    with site.admin() as broker:
        broker.produce_many(topic, [b"one", b"two"])
    manual: dict[str, Any] = {"group.id": group, "enable.auto.commit": False}
    consumer = Consumer(site.conf("bob", **manual))
    try:
        consumer.assign([TopicPartition(topic, 0, 0)])
        assert [m.value() for m in _consume(consumer, 2)] == [b"one", b"two"]  # READ topic
        with pytest.raises(KafkaException) as refused:
            consumer.commit(offsets=[TopicPartition(topic, 0, 2)], asynchronous=False)
        assert refused.value.args[0].code() == KafkaError.GROUP_AUTHORIZATION_FAILED
    finally:
        consumer.close()
    with site.admin() as broker:
        assert broker.committed(group) == {}


def test_metadata_shows_only_the_topics_one_may_describe(site: Site) -> None:
    mine = site.topic("a.")
    secret = site.topic("s.")
    admin = AdminClient(site.conf("alice"))
    listed = admin.list_topics(timeout=WAIT_S).topics
    assert mine in listed
    assert not any(name.startswith(("s.", "__")) for name in listed)  # not even named
    # asked by name: refused, whether the topic exists or not (existence is not told)
    for name in (secret, "s.absent"):
        error = admin.list_topics(name, timeout=WAIT_S).topics[name].error
        assert error is not None and error.code() == KafkaError.TOPIC_AUTHORIZATION_FAILED
    error = admin.list_topics("a.absent", timeout=WAIT_S).topics["a.absent"].error
    assert error is not None and error.code() == KafkaError.UNKNOWN_TOPIC_OR_PART
    carol = AdminClient(site.conf("carol")).list_topics(timeout=WAIT_S).topics
    assert not carol


def _outcome(future: Any) -> int:
    """0 if the admin operation succeeded, else its Kafka error code."""
    try:
        future.result(WAIT_S)
    except KafkaException as exc:
        return int(exc.args[0].code())
    return 0


def test_the_admin_client_creates_and_deletes_what_acls_allow(site: Site) -> None:
    alice, bob = AdminClient(site.conf("alice")), AdminClient(site.conf("bob"))
    name = f"a.made-{uuid.uuid4().hex[:8]}"
    secret = f"s.made-{uuid.uuid4().hex[:8]}"
    denied = KafkaError.TOPIC_AUTHORIZATION_FAILED

    made = alice.create_topics([NewTopic(name, 2), NewTopic(secret, 1)])
    assert (_outcome(made[name]), _outcome(made[secret])) == (0, denied)
    bobs = f"a.bobs-{uuid.uuid4().hex[:8]}"
    assert _outcome(bob.create_topics([NewTopic(bobs, 1)])[bobs]) == denied
    with site.admin() as broker:
        assert name in broker.list_topics() and secret not in broker.list_topics()

    # CreatePartitions: ALTER on the topic
    assert _outcome(bob.create_partitions([NewPartitions(name, 3)])[name]) == denied
    assert _outcome(alice.create_partitions([NewPartitions(name, 3)])[name]) == 0
    # DescribeConfigs: DESCRIBE_CONFIGS on the topic, or on the cluster for the node
    topic_configs = ConfigResource(ConfigResource.Type.TOPIC, name)
    assert _outcome(bob.describe_configs([topic_configs])[topic_configs]) == denied
    assert _outcome(alice.describe_configs([topic_configs])[topic_configs]) == 0
    node = ConfigResource(ConfigResource.Type.BROKER, "1")
    cluster_denied = KafkaError.CLUSTER_AUTHORIZATION_FAILED
    assert _outcome(alice.describe_configs([node])[node]) == cluster_denied

    # DeleteTopics: bob may describe a.* but not delete; no one may touch s.*
    assert _outcome(bob.delete_topics([name])[name]) == denied
    assert _outcome(alice.delete_topics(["s.secret"])["s.secret"]) == denied
    with site.admin() as broker:
        assert name in broker.list_topics() and "s.secret" in broker.list_topics()
        assert broker.describe_topic(name).partitions == 3
    assert _outcome(alice.delete_topics([name])[name]) == 0
    with site.admin() as broker:
        assert name not in broker.list_topics()


# --- kcat ---------------------------------------------------------------------------------


def _kcat(site: Site) -> Kcat:
    """Debian's kcat, with Debian's librdkafka."""
    path = shutil.which("kcat")
    if path is None:
        pytest.fail("kcat is not installed; make test installs it (apt-get install kcat)")
    return Kcat(path, site.kafka, dict(os.environ))


def _sasl(user: str, mechanism: str = "SCRAM-SHA-256", password: str = PASSWORD) -> list[str]:
    settings = {
        "security.protocol": "SASL_PLAINTEXT",
        "sasl.mechanisms": mechanism,
        "sasl.username": user,
        "sasl.password": password,
    }
    return [arg for key, value in settings.items() for arg in ("-X", f"{key}={value}")]


@pytest.mark.parametrize("mechanism", ["SCRAM-SHA-256", "SCRAM-SHA-512"])
def test_debians_kcat_produces_and_consumes_with_scram(site: Site, mechanism: str) -> None:
    """Debian's librdkafka (2.0) sends its SCRAM nonce in the pre-2.6.1 form
    (confluentinc/librdkafka#4895), which logway takes as Kafka 3.8.1-3.9 did."""
    kcat = _kcat(site)
    topic = site.topic("a.")
    sasl = _sasl("alice", mechanism)
    kcat("-P", "-t", topic, "-k", "key", *sasl, stdin=b"one\ntwo\nthree\n")
    assert site.stored(topic) == 3
    output = kcat("-C", "-t", topic, "-o", "beginning", "-e", "-c", "3", "-q", "-f", FORMAT, *sasl)
    assert [r.value for r in parse(output)] == [b"one", b"two", b"three"]
    assert {r.key for r in parse(output)} == {b"key"}


def test_debians_kcat_with_a_wrong_password_is_refused(site: Site) -> None:
    kcat = _kcat(site)
    topic = site.topic("a.")
    done = subprocess.run(
        [kcat.path, "-b", site.kafka, "-P", "-t", topic, *_sasl("alice", password="wrong")],
        input=b"refused\n",
        capture_output=True,
        env=kcat.env,
        timeout=60,
    )
    assert done.returncode != 0
    assert b"Authentication failed" in done.stderr
    assert site.stored(topic) == 0


# --- a server without --auth ----------------------------------------------------------------


def test_a_sasl_client_against_a_server_without_auth_fails_clearly(
    logway_kafka: LogwayServer,
) -> None:
    """As Kafka's PLAINTEXT listener answers: ILLEGAL_SASL_STATE to the handshake."""
    mark = logway_kafka.mark()
    errors = Errors()
    producer = Producer(
        {
            "bootstrap.servers": logway_kafka.kafka,
            "security.protocol": "SASL_PLAINTEXT",
            "sasl.mechanism": "SCRAM-SHA-256",
            "sasl.username": "alice",
            "sasl.password": "whatever-it-is",
            "error_cb": errors,
        }
    )
    producer.produce("never-made", b"x")
    error = errors.first(producer)
    _stop_failed_producer(producer)
    assert error.code() == KafkaError._AUTHENTICATION
    assert "Request not valid in current SASL state" in str(error)
    logway_kafka.wait_for_line("asked for SASL .* without --auth", mark)
