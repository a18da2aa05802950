"""``logway queues receive|status``, run as a user runs them: a real process per
command, over a data directory, a ``logway serve`` and a Kafka-API broker."""

from __future__ import annotations

import json
import os
import subprocess
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.kafka_broker import KafkaServer
from tests.servers import LogwayServer, logway_cli

pytestmark = pytest.mark.slow  # a real process per command

Cli = Callable[..., subprocess.CompletedProcess[str]]


@pytest.fixture(scope="module")
def kafka_url() -> Iterator[str]:
    server = KafkaServer().start()
    try:
        yield server.url
    finally:
        server.stop()


def _runner(url: str) -> Cli:
    env = {**os.environ, "LOGWAY_URL": url}

    def cli(*args: str, stdin: str | None = None, ok: bool = True) -> Any:
        result = logway_cli(env, *args, stdin=stdin)
        if ok:
            assert result.returncode == 0, result.stderr
        return result

    return cli


@pytest.fixture(params=["file", "logway", "kafka"])
def cli(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Cli]:
    if request.param == "file":
        yield _runner(f"file:{tmp_path / 'data'}")
    elif request.param == "logway":
        server = LogwayServer(tmp_path / "server")
        server.start()
        try:
            yield _runner(server.url)
        finally:
            assert server.stop() == 0
    else:
        yield _runner(request.getfixturevalue("kafka_url"))


@pytest.fixture
def topic() -> str:
    """A name of its own: the Kafka-API broker lasts the module."""
    return f"jobs-{uuid.uuid4().hex[:8]}"


def _deliveries(result: subprocess.CompletedProcess[str]) -> list[dict[str, Any]]:
    return [json.loads(line) for line in result.stdout.splitlines()]


def _status(cli: Cli, topic: str, group: str) -> dict[str, Any]:
    status: dict[str, Any] = json.loads(
        cli("queues", "status", topic, group, "--format", "json").stdout
    )
    return status


def test_receive_and_ack_moves_the_queues_frontier(cli: Cli, topic: str) -> None:
    cli("topics", "create", topic, "-p", "1")
    cli("produce", topic, "-K", ":", stdin="".join(f"k{i}:job {i}\n" for i in range(5)))

    first = cli(
        "queues", "receive", topic, "workers", "--start", "earliest", "-n", "2", "--wait", "10",
        "--ack", "--format", "json",
    )  # fmt: skip
    got = _deliveries(first)
    assert [(d["offset"], d["key"], d["value"]) for d in got] == [
        (0, "k0", "job 0"),
        (1, "k1", "job 1"),
    ]
    assert [d["delivery_count"] for d in got] == [1, 1]
    assert "acknowledged 2 record(s)" in first.stderr
    status = _status(cli, topic, "workers")
    assert status["start_offsets"] == {"0": 2} and status["end_offsets"] == {"0": 5}
    assert status["in_flight"] == 0 and status["available_again"] == 0

    rest = cli("queues", "receive", topic, "workers", "-n", "10", "--wait", "10", "--ack")
    assert rest.stdout.splitlines() == ["job 2", "job 3", "job 4"]
    assert _status(cli, topic, "workers")["start_offsets"] == {"0": 5}
    table = cli("queues", "status", topic, "workers").stdout.splitlines()
    assert table[1:3] == ["in flight: 0", "available again: 0"]
    assert table[-1].split() == ["0", "5", "5", "0"]  # PARTITION START END NOT DONE

    empty = cli("queues", "receive", topic, "workers")
    assert empty.stdout == ""
    assert f"no records available in the queue workers over {topic}" in empty.stderr


def test_reject_puts_the_record_on_the_dead_letter_topic(cli: Cli, topic: str) -> None:
    cli("topics", "create", topic, "-p", "1")
    cli("produce", topic, stdin="spam\nwelcome\n")
    failed = f"{topic}-failed"
    rejected = cli(
        "queues", "receive", topic, "senders", "--start", "earliest", "--wait", "10",
        "--dead-letter", failed, "--reject", "not sending that",
    )  # fmt: skip
    assert rejected.stdout.splitlines() == ["spam"]
    assert f"rejected 1 record(s) to {failed}" in rejected.stderr
    dead = _deliveries(cli("consume", failed, "--from-beginning", "--format", "json"))
    assert [d["value"] for d in dead] == ["spam"]
    headers = dict(dead[0]["headers"])
    assert headers["logway.reason"] == "not sending that"
    assert headers["logway.source.topic"] == topic and headers["logway.source.offset"] == "0"
    assert headers["logway.queue.delivery_count"] == "1"
    # dead-lettered is done: the frontier passed it, the next record comes next
    assert _status(cli, topic, "senders")["start_offsets"] == {"0": 1}
    nxt = cli("queues", "receive", topic, "senders", "--wait", "10", "--format", "json")
    assert [(d["offset"], d["value"]) for d in _deliveries(nxt)] == [(1, "welcome")]


def test_an_unsettled_record_comes_back_after_its_visibility_timeout(tmp_path: Path) -> None:
    server = LogwayServer(tmp_path / "server")
    server.start()
    try:
        cli = _runner(server.url)
        cli("topics", "create", "jobs")
        cli("produce", "jobs", stdin="resize photo\n")
        began = time.monotonic()
        held = cli(
            "queues", "receive", "jobs", "resizers", "--start", "earliest",
            "--visibility-timeout", "4s", "--wait", "10", "--format", "json",
        )  # fmt: skip
        (first,) = _deliveries(held)
        assert first["value"] == "resize photo" and first["delivery_count"] == 1
        assert "left 1 record(s) in flight" in held.stderr
        assert "visibility timeout" in held.stderr
        status = _status(cli, "jobs", "resizers")  # the server holds it meanwhile
        assert status["in_flight"] == 1 and status["start_offsets"] == {"0": 0}

        again = cli("queues", "receive", "jobs", "resizers", "--wait", "30", "--ack", "-K", "|")
        assert time.monotonic() - began >= 4.0  # not before its timeout passed
        assert again.stdout.splitlines() == ["|resize photo"]
        assert _status(cli, "jobs", "resizers")["start_offsets"] == {"0": 1}
    finally:
        assert server.stop() == 0


def test_a_queue_held_by_the_command_itself_gives_unsettled_records_to_the_next_receive(
    tmp_path: Path,
) -> None:
    cli = _runner(f"file:{tmp_path / 'data'}")
    cli("topics", "create", "jobs")
    cli("produce", "jobs", stdin="a\n")
    held = cli("queues", "receive", "jobs", "w", "--start", "earliest")
    assert held.stdout == "a\n" and "the next receive delivers them again" in held.stderr
    status = _status(cli, "jobs", "w")
    assert status["available_again"] == 1 and status["in_flight"] == 0
    again = _deliveries(cli("queues", "receive", "jobs", "w", "--release", "--format", "json"))
    assert [(d["value"], d["delivery_count"]) for d in again] == [("a", 2)]


def test_a_new_queue_at_the_end_says_why_it_received_nothing(tmp_path: Path) -> None:
    cli = _runner(f"file:{tmp_path / 'data'}")
    cli("topics", "create", "jobs")
    cli("produce", "jobs", stdin="a\nb\n")
    result = cli("queues", "receive", "jobs", "late")
    assert result.stdout == ""
    assert "the 2 record(s) already there are not in it" in result.stderr
    assert "--start earliest" in result.stderr


def _stored(cli: Cli) -> tuple[str, str, str]:
    """Everything bad input must leave as it was: the topics, the queues' stored state,
    a queue's status."""
    return (
        cli("topics", "list").stdout,
        cli("consume", "__logway_queues", "--from-beginning", "--format", "json").stdout,
        cli("queues", "status", "jobs", "w", "--format", "json").stdout,
    )


@pytest.fixture(scope="module")
def settled(tmp_path_factory: pytest.TempPathFactory) -> tuple[Cli, tuple[str, str, str]]:
    """A data directory with a queue that acknowledged a record and holds one in flight,
    and what it stores: each bad command below must leave that as it is."""
    cli = _runner(f"file:{tmp_path_factory.mktemp('bad') / 'data'}")
    cli("topics", "create", "jobs")
    cli("produce", "jobs", stdin="a\nb\nc\n")
    cli("queues", "receive", "jobs", "w", "--start", "earliest", "--ack")
    cli("queues", "receive", "jobs", "w")  # b, left in flight
    return cli, _stored(cli)


@pytest.mark.parametrize(
    ("args", "error"),
    [
        (("receive", "nope", "w", "--dead-letter", "nope-dlq"), "unknown topic 'nope'"),
        (("receive", "jobs", "w", "-n", "-1"), "-n/--max-records must be at least 1, not -1"),
        (("receive", "jobs", "w", "-n", "0", "--ack"), "must be at least 1, not 0"),
        (("receive", "jobs", "w", "--visibility-timeout", "5x", "--ack"), "--visibility-timeout"),
        (("receive", "jobs", "w", "--visibility-timeout", "0s"), "positive duration"),
        (("receive", "jobs", "w", "--wait", "-1"), "--wait must not be negative"),
        (("receive", "jobs", "w", "--wait", "soon"), "--wait takes seconds"),
        (("receive", "jobs", "w", "--max-receives", "0"), "--max-receives must be at least 1"),
        (("receive", "jobs", "w", "--dead-letter", ""), "--dead-letter names a topic"),
        (("status", "jobs", "nobody"), "no queue 'nobody' over 'jobs'"),
        (("status", "nope", "w"), "unknown topic 'nope'"),
    ],
)
def test_bad_input_is_refused_and_changes_nothing(
    settled: tuple[Cli, tuple[str, str, str]], args: tuple[str, ...], error: str
) -> None:
    cli, before = settled
    result = cli("queues", *args, ok=False)
    assert result.returncode != 0
    assert result.stderr.startswith("logway: error: ") and error in result.stderr
    assert result.stdout == ""
    assert _stored(cli) == before
