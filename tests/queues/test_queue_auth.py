"""Queues behind a real ``logway serve --auth``: Receive and Ack (gRPC, and REST's
``/v1/queues/{topic}/{group}/receive|ack``) need read on the topic and read on the
group, QueueStatus describe on both. A caller without them is refused and changes
nothing — no record is taken, none settled, none dead-lettered — and a caller with
them receives, acks and rejects: rejecting needs no write on the dead-letter topic,
since the server, not the caller, moves the record there (as SQS's redrive and
Kafka's share groups do)."""

from __future__ import annotations

import base64
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

import logway
from logway.auth import Acl, AuthStore
from logway.errors import PermissionDeniedError
from tests.auth.http_clients import client
from tests.servers import LogwayServer

PASSWORD = "qu3ue-secret-pw"
GROUP = "senders"
SETTINGS = {"start": "earliest", "visibility_timeout": "60s"}
# who may do what; each user is named for what its ACLs leave out
USERS: dict[str, list[tuple[str, str, str]]] = {
    "worker": [("read", "topic", "jobs."), ("read", "group", GROUP)],
    "no-group": [("read", "topic", "jobs.")],
    "no-topic": [("read", "group", GROUP)],
    "watcher": [("describe", "topic", "jobs."), ("describe", "group", GROUP)],
    "writer": [("write", "topic", "jobs."), ("describe", "group", GROUP)],
    "nobody": [],
}
REFUSED = ("no-group", "no-topic", "watcher", "writer", "nobody")


@dataclass
class Site:
    server: LogwayServer
    admin: logway.Broker  # the data directory through the server's socket: no checks

    def as_(self, user: str) -> logway.Broker:
        return logway.connect(self.server.url, user=user, password=PASSWORD)

    def topic(self, records: int) -> str:
        """A fresh topic of ``records`` records, and the worker's queue over it opened."""
        name = f"jobs.{uuid.uuid4().hex[:8]}"
        self.admin.create_topic(name, partitions=1)
        self.admin.produce_many(name, [f"job-{i}".encode() for i in range(records)])
        return name

    def state(self, topic: str) -> tuple[dict[str, Any], dict[str, int]]:
        """The queue's status and the end offsets of the topic and its dead letters, as
        the server holds them."""
        status = self.admin.queue(topic, GROUP).status()
        ends = {t: self.admin.end_offsets(t)[0] for t in (topic, f"{topic}-dlq")}
        return {k: status[k] for k in ("in_flight", "available_again", "start_offsets")}, ends


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Site]:
    data: Path = tmp_path_factory.mktemp("queue-auth") / "data"
    server = LogwayServer(data, "--auth")
    server.start()
    admin = logway.connect(f"file:{data}")
    try:
        store = AuthStore(admin, iterations=4096)
        for user, acls in USERS.items():
            store.add_user(user, PASSWORD)
            for operation, kind, name in acls:
                pattern = "prefixed" if name.endswith(".") else "literal"
                store.add_acl(Acl.of(f"User:{user}", operation, kind, name, pattern))
        yield Site(server, admin)
    finally:
        admin.close()
        output = "".join(server.output)
        assert server.stop() == 0, output
        assert PASSWORD not in output


def basic(user: str) -> dict[str, str]:
    return {"authorization": "Basic " + base64.b64encode(f"{user}:{PASSWORD}".encode()).decode()}


@pytest.mark.parametrize("user", REFUSED)
def test_grpc_refuses_a_caller_without_read_on_topic_and_group(site: Site, user: str) -> None:
    topic = site.topic(3)
    with site.as_("worker") as worker_broker:
        worker = worker_broker.queue(topic, GROUP, **SETTINGS)
        [held] = worker.receive(max_records=1, timeout=5)
        before = site.state(topic)
        assert before[0]["in_flight"] == 1
        with site.as_(user) as broker:
            theirs = broker.queue(topic, GROUP, **SETTINGS)
            with pytest.raises(PermissionDeniedError):
                theirs.receive(max_records=10, timeout=0)
            for settle in (theirs.ack, theirs.release):
                with pytest.raises(PermissionDeniedError):
                    settle([held])
            with pytest.raises(PermissionDeniedError):
                theirs.reject([held], "not mine")
            if user == "watcher":  # describe is enough to look
                assert theirs.status()["in_flight"] == 1
            elif user != "writer":  # writer may describe the group but not the topic
                with pytest.raises(PermissionDeniedError):
                    theirs.status()
        assert site.state(topic) == before  # nothing taken, settled or dead-lettered
        held.ack()  # still the worker's to settle
        assert site.state(topic)[0]["start_offsets"] == {0: 1}


def test_grpc_a_caller_with_read_receives_acks_and_rejects_without_write_on_the_dlq(
    site: Site,
) -> None:
    topic = site.topic(3)
    with site.as_("worker") as broker:
        queue = broker.queue(topic, GROUP, **SETTINGS)
        got = queue.receive(max_records=3, timeout=5)
        assert [d.record.value for d in got] == [b"job-0", b"job-1", b"job-2"]
        assert queue.status()["in_flight"] == 3  # read implies describe
        queue.ack(got[:2])
        got[2].reject("cannot send")  # the server moves it: no write on the dlq needed
        with pytest.raises(PermissionDeniedError):  # which the worker does not have
            broker.produce(f"{topic}-dlq", b"by hand")
    status, ends = site.state(topic)
    assert status["in_flight"] == 0 and status["start_offsets"] == {0: 3}
    [dead] = site.admin.fetch(f"{topic}-dlq", 0, 0)
    assert (dead.value, dead.header("logway.reason")) == (b"job-2", b"cannot send")
    assert ends[f"{topic}-dlq"] == 1


@pytest.mark.parametrize("user", REFUSED)
def test_rest_refuses_a_caller_without_read_on_topic_and_group(site: Site, user: str) -> None:
    topic = site.topic(3)
    base = f"/v1/queues/{topic}/{GROUP}"
    with client(site.server.http, basic("worker")) as worker:
        r = worker.post(f"{base}/receive", json={"max_records": 1, "settings": SETTINGS})
        assert r.status_code == 200, r.text
        [held] = r.json()["deliveries"]
        named = [{"partition": 0, "offset": held["record"]["offset"], "receipt": held["receipt"]}]
        before = site.state(topic)
        assert before[0]["in_flight"] == 1
        with client(site.server.http, basic(user)) as http:
            r = http.post(f"{base}/receive", json={"max_records": 10, "settings": SETTINGS})
            assert r.status_code == 403, r.text
            assert r.json()["error"] == "PermissionDeniedError"
            for action in ("ack", "release", "reject"):
                r = http.post(f"{base}/ack", json={"action": action, "deliveries": named})
                assert r.status_code == 403, (action, r.text)
        assert site.state(topic) == before  # nothing taken, settled or dead-lettered
        r = worker.post(f"{base}/ack", json={"deliveries": named})  # still the worker's
        assert r.status_code == 204, r.text
    assert site.state(topic)[0]["start_offsets"] == {0: 1}


def test_rest_a_caller_with_read_receives_acks_and_rejects(site: Site) -> None:
    topic = site.topic(3)
    base = f"/v1/queues/{topic}/{GROUP}"
    with client(site.server.http, basic("worker")) as http:
        r = http.post(f"{base}/receive", json={"max_records": 3, "settings": SETTINGS})
        assert r.status_code == 200, r.text
        deliveries = r.json()["deliveries"]
        assert [d["record"]["value"] for d in deliveries] == ["job-0", "job-1", "job-2"]
        named = [
            {"partition": 0, "offset": d["record"]["offset"], "receipt": d["receipt"]}
            for d in deliveries
        ]
        r = http.post(f"{base}/ack", json={"deliveries": named[:2]})
        assert r.status_code == 204, r.text
        r = http.post(
            f"{base}/ack", json={"action": "reject", "deliveries": named[2:], "reason": "spam"}
        )
        assert r.status_code == 204, r.text
        r = http.post(f"/v1/topics/{topic}-dlq/records", json={"records": [{"value": "x"}]})
        assert r.status_code == 403, r.text  # no write on the dead-letter topic
    status, ends = site.state(topic)
    assert status["in_flight"] == 0 and status["start_offsets"] == {0: 3}
    [dead] = site.admin.fetch(f"{topic}-dlq", 0, 0)
    assert (dead.value, dead.header("logway.reason")) == (b"job-2", b"spam")
    assert ends[f"{topic}-dlq"] == 1
