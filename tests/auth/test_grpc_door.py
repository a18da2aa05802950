"""The gRPC and gRPC-Web doors of a real ``logway serve --auth``: every credential case
gets its own status and changes nothing stored, an open subscription ends when its
read permission goes, listings show only what one may describe, and no secret reaches
the server's output."""

from __future__ import annotations

import base64
import os
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

import logway
from logway.auth import Acl, AuthStore
from logway.errors import AuthenticationError, PermissionDeniedError
from logway.v1 import log_pb2 as pb
from tests.server import grpc_web_client as web
from tests.servers import LogwayServer, logway_cli

PASSWORD = "s3cret-pass-for-tests"
TOPIC = "news"
CONTRACT = "contracts"  # a topic with a value_schema


@dataclass
class Site:
    server: LogwayServer
    data: Path
    ada_token: str
    revoked_token: str

    def admin(self) -> logway.Broker:
        """The data directory, through the server's own socket (no credentials)."""
        return logway.connect(f"file:{self.data}")

    def as_(self, **credentials: Any) -> logway.Broker:
        return logway.connect(self.server.url, **credentials)

    def ends(self) -> dict[int, int]:
        with self.admin() as broker:
            return broker.end_offsets(TOPIC)

    def total(self) -> int:
        return sum(self.ends().values())

    def secrets(self) -> list[str]:
        return [PASSWORD, self.ada_token, self.revoked_token, "wrong-password-xyz"]


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Site]:
    data = tmp_path_factory.mktemp("auth") / "data"
    server = LogwayServer(data, "--auth")
    server.start()
    try:
        with logway.connect(f"file:{data}") as broker:
            broker.create_topic(TOPIC, partitions=2)
            broker.create_topic("private")
            broker.create_topic(CONTRACT, value_schema=f"{CONTRACT}-value")
            store = AuthStore(broker, iterations=4096)
            store.add_user("ada", PASSWORD, ["authors"])
            store.add_user("bob", PASSWORD)
            store.add_acl(Acl.of("Group:authors", "all", "topic", TOPIC))
            store.add_acl(Acl.of("User:bob", "read", "topic", TOPIC))
            store.add_acl(Acl.of("User:bob", "read", "group", "bobs", "prefixed"))
            store.add_user("cy", PASSWORD)  # a producer of the contract topic
            store.add_user("dee", PASSWORD)  # who restores it
            store.add_acl(Acl.of("User:cy", "write", "topic", CONTRACT))
            store.add_acl(Acl.of("User:dee", "write", "topic", CONTRACT))
            store.add_acl(Acl.of("User:dee", "alter", "topic", CONTRACT))
            ada_token = store.create_token("ci", "ada", "1d")
            revoked = store.create_token("old", "ada")
            store.revoke_token(revoked.split("_")[1])
        yield Site(server, data, ada_token, revoked)
    finally:
        output = "".join(server.output)
        assert server.stop() == 0
        for secret in (PASSWORD, "wrong-password-xyz"):
            assert secret not in output


CASES: list[tuple[str, dict[str, Any], type[Exception] | None]] = [
    ("no credential", {}, AuthenticationError),
    ("wrong password", {"user": "ada", "password": "wrong-password-xyz"}, AuthenticationError),
    ("unknown user", {"user": "zed", "password": PASSWORD}, AuthenticationError),
    ("unknown token", {"token": "lw_0011223344556677_AAAAAAAAAAAAAAAAAAAA"}, AuthenticationError),
    ("revoked token", {"token": "REVOKED"}, AuthenticationError),
    ("valid but forbidden", {"user": "bob", "password": PASSWORD}, PermissionDeniedError),
    ("allowed by password", {"user": "ada", "password": PASSWORD}, None),
    ("allowed by token", {"token": "ADA"}, None),
]


def credentials(site: Site, given: dict[str, Any]) -> dict[str, Any]:
    token = {"REVOKED": site.revoked_token, "ADA": site.ada_token}.get(given.get("token", ""))
    return {**given, "token": token} if token else dict(given)


@pytest.mark.slow
@pytest.mark.parametrize(("case", "given", "error"), CASES, ids=[c[0] for c in CASES])
def test_producing_over_grpc(
    site: Site, case: str, given: dict[str, Any], error: type[Exception] | None
) -> None:
    before = site.ends()
    with site.as_(**credentials(site, given)) as broker:
        if error is None:
            broker.produce(TOPIC, b"allowed", key=b"k")
            assert site.total() == sum(before.values()) + 1
            return
        with pytest.raises(error):
            broker.produce(TOPIC, b"refused", key=b"k")
        with pytest.raises(error):
            broker.create_topic("made-by-" + case.replace(" ", "-"))
        with pytest.raises(error):
            broker.delete_topic(TOPIC)
    assert site.ends() == before
    with site.admin() as admin:
        assert TOPIC in admin.list_topics()
        assert not [t for t in admin.list_topics() if t.startswith("made-by-")]


def grpc_web_produce(site: Site, headers: dict[str, str]) -> web.Reply:
    request = pb.ProduceRequest(topic=TOPIC, records=[pb.ProduceRecord(value=b"web")])
    return web.call(
        site.server.http, "logway.v1.Log/Produce", request.SerializeToString(), headers=headers
    )


@pytest.mark.slow
def test_producing_over_grpc_web(site: Site) -> None:
    before = site.ends()
    basic = "Basic " + base64.b64encode(f"bob:{PASSWORD}".encode()).decode()
    assert grpc_web_produce(site, {}).status == 16  # UNAUTHENTICATED
    assert grpc_web_produce(site, {"authorization": "Bearer lw_00_bad"}).status == 16
    assert grpc_web_produce(site, {"authorization": basic}).status == 7  # PERMISSION_DENIED
    assert site.ends() == before
    reply = grpc_web_produce(site, {"authorization": f"Bearer {site.ada_token}"})
    assert reply.status == 0, reply.message
    assert site.total() == sum(before.values()) + 1


@pytest.mark.slow
def test_listings_show_only_what_one_may_describe(site: Site) -> None:
    with site.as_(user="bob", password=PASSWORD) as bob:
        assert bob.list_topics() == [TOPIC]  # not "private", not the internal topics
        with pytest.raises(PermissionDeniedError):
            bob.describe_topic("private")
        with pytest.raises(PermissionDeniedError):
            bob.fetch("__logway_auth", 0, 0)
    with site.as_(token=site.ada_token) as ada, pytest.raises(PermissionDeniedError):
        ada.fetch("__logway_audit", 0, 0)  # internal: cluster admins only


@pytest.mark.slow
def test_a_group_needs_read_on_the_group(site: Site) -> None:
    with site.as_(user="bob", password=PASSWORD) as bob:
        with pytest.raises(PermissionDeniedError):
            bob.commit("someone-elses", {logway.TopicPartition(TOPIC, 0): 0})
        bob.commit("bobs-reader", {logway.TopicPartition(TOPIC, 0): 0})
        assert bob.committed("bobs-reader", TOPIC) == {logway.TopicPartition(TOPIC, 0): 0}


@pytest.mark.slow
def test_a_subscriber_whose_read_permission_goes_is_ended(site: Site) -> None:
    with site.admin() as admin:
        store = AuthStore(admin)
        store.add_user("carol", PASSWORD)
        grant = Acl.of("User:carol", "read", "topic", TOPIC)
        store.add_acl(grant)
        with site.as_(user="carol", password=PASSWORD) as carol:
            consumer = carol.consumer(TOPIC, start="earliest")
            assert consumer.poll(timeout=10)  # the stream is open and delivering
            store.remove_acl(grant)
            revoked_at = time.monotonic()
            with pytest.raises(PermissionDeniedError):
                while time.monotonic() - revoked_at < 30:
                    consumer.poll(timeout=1)
            assert time.monotonic() - revoked_at < 5
            consumer.close()
        store.remove_user("carol")


def test_serving_a_network_without_authentication_needs_a_word(tmp_path: Path) -> None:
    result = logway_cli(
        None, "serve", "--data", str(tmp_path / "d"), "--host", "0.0.0.0", "--kafka-port", "0"
    )
    assert result.returncode != 0
    assert "--auth" in result.stderr and "--allow-anonymous" in result.stderr
    assert not (tmp_path / "d").exists()  # refused before anything was made


@pytest.mark.slow
def test_the_command_line_presents_a_token(site: Site) -> None:
    url = site.server.url
    refused = logway_cli(None, "--url", url, "topics", "list")
    assert refused.returncode == 1
    assert "authentication failed" in refused.stderr
    by_flag = logway_cli(None, "--url", url, "--token", site.ada_token, "topics", "list")
    assert by_flag.returncode == 0, by_flag.stderr
    assert by_flag.stdout.split() == [TOPIC]
    env = {**os.environ, "LOGWAY_TOKEN": site.ada_token}
    by_env = logway_cli(env, "--url", url, "produce", TOPIC, stdin="from the shell\n")
    assert by_env.returncode == 0, by_env.stderr
    assert site.ada_token not in by_env.stdout + by_env.stderr


@pytest.mark.slow
def test_writing_at_offsets_into_a_topic_with_a_schema_asks_alter(site: Site) -> None:
    """WriteAt (restores, mirrors) stores records unchecked by the topic's schema, so
    a producer with ``write`` alone cannot go round the contract with it."""
    record = logway.Record(CONTRACT, 0, 0, 0, None, b"not in the wire format")
    with site.as_(user="cy", password=PASSWORD) as cy:
        with pytest.raises(PermissionDeniedError):
            cy.write_at(CONTRACT, 0, [record])
        with pytest.raises(logway.errors.InvalidRecordError):
            cy.produce(CONTRACT, b"not in the wire format")  # write is enough to try
    with site.admin() as admin:
        assert admin.end_offsets(CONTRACT) == {0: 0}
    with site.as_(user="dee", password=PASSWORD) as dee:
        dee.write_at(CONTRACT, 0, [record])
    with site.admin() as admin:
        assert admin.end_offsets(CONTRACT) == {0: 1}
