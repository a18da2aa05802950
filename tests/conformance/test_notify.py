"""Notifications (``app.notify``) on every backend, to a real HTTP receiver on this
machine (``tests/notify/receiver.py``): each record delivered signed, with its
idempotency key, and committed; a record its target keeps refusing retried and then
parked on the ``on_failure`` topic with the target's answer in its headers."""

from __future__ import annotations

import json
from collections.abc import Callable
from functools import partial

import logway
from logway.notify.runner import NotifyRunner, run_notifications
from logway.notify.signing import verify
from tests.conformance.test_functions import run_until
from tests.notify.conftest import parked
from tests.notify.receiver import Answer, Receiver, Request

SECRET = "whsec-conformance"
QUICK = {"backoff": ("10ms", "50ms"), "rate": None, "starting_position": "earliest"}


def run_app(
    broker: logway.Broker, app: logway.App, until: Callable[[], bool]
) -> list[NotifyRunner]:
    """Run the app's notifications until ``until()`` holds, then stop them."""
    return run_until(partial(run_notifications, broker, app.name, app.notifications), until)


def test_records_arrive_signed_with_their_idempotency_key_and_are_committed(
    broker: logway.Broker, topic: str
) -> None:
    broker.create_topic(topic, partitions=2)
    app = logway.App("alerts")
    sent = [{"id": i} for i in range(6)]
    for v in sent:
        broker.produce(topic, json.dumps(v), key=str(v["id"]))
    with Receiver() as rx:
        app.notify(topic, to=rx.url + "/hook", secret=SECRET, name="hook", **QUICK)
        (runner,) = run_app(broker, app, until=lambda: len(rx.delivered()) >= len(sent))
        got = rx.delivered()
    assert sorted(json.loads(r.body)["id"] for r in got) == [v["id"] for v in sent]
    assert runner.stats.delivered == len(sent) and runner.stats.failed == 0
    records = {
        json.loads(r.value or b"")["id"]: r
        for p in (0, 1)
        for r in broker.fetch(topic, p, 0, max_records=100)
    }
    for r in got:
        record = records[json.loads(r.body)["id"]]
        assert r.path == "/hook"
        assert r.headers["Idempotency-Key"] == f"{topic}/{record.partition}/{record.offset}"
        assert r.headers["Logway-Attempt"] == "1"
        signature = r.headers["Logway-Signature"]
        assert signature.startswith(f"t={r.headers['Logway-Timestamp']},v1=")
        assert verify(SECRET, r.body, signature)
        assert not verify("another secret", r.body, signature)
    ends = broker.end_offsets(topic)
    assert broker.committed("alerts.hook", topic) == {
        logway.TopicPartition(topic, p): end for p, end in ends.items()
    }


def test_a_record_its_target_refuses_is_retried_then_parked_with_the_answer(
    broker: logway.Broker, topic: str
) -> None:
    broker.create_topic(topic)
    app = logway.App("alerts")
    for i in range(4):
        broker.produce(topic, json.dumps({"id": i}), headers={"trace": f"t{i}"})
    failed = f"{topic}-failed"

    def refuse_two(request: Request, n: int) -> Answer:
        if json.loads(request.body)["id"] == 2:
            return Answer(500, body=b"cannot take id 2")
        return Answer(204, body=b"")

    with Receiver(refuse_two) as rx:
        app.notify(topic, to=rx.url, on_failure=failed, max_attempts=3, name="hook", **QUICK)
        (runner,) = run_app(
            broker, app, until=lambda: len(rx.delivered()) == 3 and len(parked(broker, failed)) == 1
        )
        tries = [r for r in rx.requests if r.headers["Idempotency-Key"] == f"{topic}/0/2"]
    assert [(r.status, r.headers["Logway-Attempt"]) for r in tries] == [
        (500, "1"),
        (500, "2"),
        (500, "3"),
    ]
    assert (runner.stats.delivered, runner.stats.failed, runner.stats.retries) == (3, 1, 2)
    (dead,) = parked(broker, failed)
    assert json.loads(dead.value or b"") == {"id": 2}
    headers = dict(dead.headers)
    assert headers["trace"] == b"t2"
    assert headers["logway.notify.status"] == b"500"
    assert headers["logway.notify.response"] == b"cannot take id 2"
    assert headers["logway.attempts"] == b"3"
    assert headers["logway.error.type"] == b"SendError"
    assert headers["logway.source.topic"] == topic.encode()
    assert headers["logway.source.offset"] == b"2"
    assert headers["logway.notify"] == b"alerts.hook"
    # parked counts as settled: the group's position is past every record
    assert broker.committed("alerts.hook", topic) == {logway.TopicPartition(topic, 0): 4}
