"""Webhook notifications against a real HTTP server that fails, is slow and rate-limits
on purpose: exact deliveries, signatures, idempotency keys, retries and parking."""

from __future__ import annotations

import asyncio
import datetime as dt
import json
import socket
import time
from pathlib import Path

import pytest

import logway
from logway.broker import Broker
from logway.notify import runner as notify_runner
from logway.notify.signing import verify
from logway.records import TopicPartition
from tests.notify.conftest import parked, running, server_context, spec
from tests.notify.receiver import Answer, Receiver, Request, until

SECRET = "whsec-test"


def produce(broker: Broker, topic: str, n: int, partitions: int = 1) -> list[dict[str, object]]:
    if topic not in broker.list_topics():
        broker.create_topic(topic, partitions)
    values: list[dict[str, object]] = [{"id": i, "total": i * 1.5} for i in range(n)]
    for v in values:
        broker.produce(topic, json.dumps(v).encode(), key=str(v["id"]).encode())
    return values


def test_each_record_is_delivered_once_signed_with_its_own_idempotency_key(
    broker: Broker,
) -> None:
    values = produce(broker, "orders", 40, partitions=3)

    async def main() -> None:
        with Receiver() as rx:
            async with running(broker, spec("orders", to=rx.url + "/hook", secret=SECRET)) as rs:
                await until(lambda: len(rx.delivered()) >= 40, what="40 deliveries")
                await until(lambda: rs[0].stats.delivered == 40)
            got = rx.delivered()
        assert len(got) == 40
        assert sorted(json.loads(r.body)["id"] for r in got) == [v["id"] for v in values]
        keys = [r.headers["Idempotency-Key"] for r in got]
        assert len(set(keys)) == 40
        assert all(k.startswith("orders/") and k.count("/") == 2 for k in keys)
        for r in got:
            assert r.path == "/hook"
            assert r.headers["Content-Type"] == "application/json"
            sig = r.headers["Logway-Signature"]
            assert sig.startswith(f"t={r.headers['Logway-Timestamp']},v1=")
            assert verify(SECRET, r.body, sig)
            assert not verify("another secret", r.body, sig)
            assert not verify(SECRET, r.body + b" ", sig)
        ends = broker.end_offsets("orders")
        committed = broker.committed("test.n", "orders")
        assert committed == {TopicPartition("orders", p): e for p, e in ends.items()}

    asyncio.run(main())


def test_a_retry_carries_the_same_idempotency_key_and_a_fresh_signature(broker: Broker) -> None:
    produce(broker, "orders", 5)

    def flaky(request: Request, n: int) -> Answer:
        return Answer(500, body=b"try later") if n <= 2 else Answer(204, body=b"")

    async def main() -> None:
        with Receiver(flaky) as rx:
            async with running(broker, spec("orders", to=rx.url, secret=SECRET)) as rs:
                await until(lambda: rs[0].stats.delivered == 5, what="5 deliveries")
            assert len(rx.requests) == 15
            assert len(rx.delivered()) == 5
            by_key: dict[str, list[Request]] = {}
            for r in rx.requests:
                by_key.setdefault(r.headers["Idempotency-Key"], []).append(r)
            assert len(by_key) == 5
            for attempts in by_key.values():
                assert [r.headers["Logway-Attempt"] for r in attempts] == ["1", "2", "3"]
                assert len({r.body for r in attempts}) == 1
                assert all(verify(SECRET, r.body, r.headers["Logway-Signature"]) for r in attempts)
            assert rs[0].stats.retries == 10
        assert parked(broker, "orders-notify-failed") == []

    asyncio.run(main())


@pytest.mark.parametrize("how", ["seconds", "http-date"])
def test_retry_after_on_429_is_honoured(broker: Broker, how: str) -> None:
    produce(broker, "orders", 1)

    def limited(request: Request, n: int) -> Answer:
        if n == 1:
            if how == "seconds":
                after = "1"
            else:  # an HTTP date two seconds on (whole seconds: at least one second away)
                after = time.strftime("%a, %d %b %Y %H:%M:%S GMT", time.gmtime(time.time() + 2))
            return Answer(429, {"Retry-After": after}, b"slow down")
        return Answer()

    async def main() -> None:
        with Receiver(limited) as rx:
            async with running(broker, spec("orders", to=rx.url)) as rs:
                await until(lambda: rs[0].stats.delivered == 1, what="the delivery")
            first, second = rx.requests
        assert (first.status, second.status) == (429, 200)
        # the backoff alone would wait at most 50 ms
        assert second.at - first.at >= 0.95

    asyncio.run(main())


def test_a_permanent_400_is_parked_at_once_with_the_answer(broker: Broker) -> None:
    produce(broker, "orders", 3)
    broker.produce("orders", b'{"id": "bad"}', key=b"k", headers={"trace": "abc"})

    def picky(request: Request, n: int) -> Answer:
        if json.loads(request.body)["id"] == "bad":
            return Answer(400, body=b"x" * 3000)
        return Answer()

    async def main() -> None:
        with Receiver(picky) as rx:
            notify = spec("orders", to=rx.url, on_failure="orders-dead", max_attempts=5)
            async with running(broker, notify) as rs:
                await until(lambda: rs[0].stats.failed == 1 and rs[0].stats.delivered == 3)
            assert len(rx.requests) == 4  # the 400 was not tried again
        (dead,) = parked(broker, "orders-dead")
        assert dead.value == b'{"id": "bad"}' and dead.key == b"k"
        h = {k: v for k, v in dead.headers}
        assert h["trace"] == b"abc"
        assert h["logway.notify.status"] == b"400"
        assert h["logway.notify.response"] == b"x" * 1024
        assert h["logway.attempts"] == b"1"
        assert h["logway.error.type"] == b"SendError"
        assert b"HTTP 400" in h["logway.error.message"]
        assert h["logway.source.topic"] == b"orders"
        assert h["logway.source.offset"] == b"3"
        assert h["logway.notify"] == b"test.n"

    asyncio.run(main())


def test_a_failing_target_is_parked_after_max_attempts(broker: Broker) -> None:
    produce(broker, "orders", 2)

    async def main() -> None:
        with Receiver(lambda r, n: Answer(503, body=b"down")) as rx:
            async with running(broker, spec("orders", to=rx.url, max_attempts=3)) as rs:
                await until(lambda: rs[0].stats.failed == 2, what="2 parked")
            assert len(rx.requests) == 6
        dead = parked(broker, "orders-notify-failed")
        assert sorted(d.value for d in dead) == sorted(
            json.dumps({"id": i, "total": i * 1.5}).encode() for i in range(2)
        )
        for d in dead:
            h = dict(d.headers)
            assert (h["logway.attempts"], h["logway.notify.status"]) == (b"3", b"503")
            assert h["logway.notify.response"] == b"down"
        committed = broker.committed("test.n", "orders")
        assert committed == {TopicPartition("orders", 0): 2}  # parked counts as settled

    asyncio.run(main())


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_a_dead_target_holds_back_only_its_own_notification(
    broker: Broker, monkeypatch: pytest.MonkeyPatch
) -> None:
    produce(broker, "orders", 30)
    monkeypatch.setattr(notify_runner, "STOP_GRACE_S", 0.05)
    dead_url = f"http://127.0.0.1:{_closed_port()}/"

    async def main() -> None:
        with Receiver() as rx:
            dead = spec("orders", name="dead", to=dead_url, max_attempts=100, in_flight=5)
            live = spec("orders", name="live", to=rx.url, in_flight=5)
            async with running(broker, dead, live) as (d, lv):
                await until(lambda: lv.stats.delivered == 30, what="the live target's 30")
                assert d.stats.delivered == 0 and d.stats.in_flight == 5
                assert d.stats.retries > 0
            assert len(rx.delivered()) == 30
        assert broker.committed("test.dead", "orders") == {TopicPartition("orders", 0): 0}

    asyncio.run(main())


def test_filter_and_template(broker: Broker) -> None:
    broker.create_topic("orders")
    for v in [
        {"status": "paid", "total": 12.5, "customer": {"name": "Ada"}},
        {"status": "open", "total": 3, "customer": {"name": "Bob"}},
        {"status": "paid", "total": 99, "customer": {"name": "Cy"}},
    ]:
        broker.produce("orders", json.dumps(v).encode())
    broker.produce("orders", b"not json")

    async def main() -> None:
        with Receiver() as rx:
            notify = spec(
                "orders",
                to=rx.url,
                filter={"status": ["paid"]},
                template='{{"msg": "{customer.name} paid {total:.2f}", "at": {_offset}}}',
            )
            async with running(broker, notify) as rs:
                await until(lambda: rs[0].stats.delivered == 2 and rs[0].stats.skipped == 2)
                await until(
                    lambda: broker.committed("test.n", "orders")[TopicPartition("orders", 0)] == 4,
                    5,
                )
            bodies = [json.loads(r.body) for r in rx.delivered()]
        assert sorted(bodies, key=lambda b: b["at"]) == [
            {"msg": "Ada paid 12.50", "at": 0},
            {"msg": "Cy paid 99.00", "at": 2},
        ]

    asyncio.run(main())


def test_shape_and_slack_body(broker: Broker) -> None:
    produce(broker, "orders", 2)

    async def main() -> None:
        with Receiver() as rx:
            slack = spec(
                "orders",
                name="slack",
                to="slack+" + rx.url + "/services/T/B/X",
                template="order {id}: {total}",
            )
            shaped = spec(
                "orders",
                name="shaped",
                to=rx.url + "/shaped",
                shape=lambda r: {"n": r.json()["id"] * 10} if r.offset else None,
            )
            async with running(broker, slack, shaped) as (s, sh):
                await until(lambda: s.stats.delivered == 2 and sh.stats.delivered == 1)
                assert sh.stats.skipped == 1
            to_slack = sorted(r.body for r in rx.delivered() if r.path.startswith("/services"))
            to_shaped = [r.body for r in rx.delivered() if r.path == "/shaped"]
        assert [json.loads(b) for b in to_slack] == [
            {"text": "order 0: 0.0"},
            {"text": "order 1: 1.5"},
        ]
        assert to_shaped == [b'{"n":10}']

    asyncio.run(main())


def test_slow_target_times_out_and_in_flight_bounds_concurrency(broker: Broker) -> None:
    produce(broker, "orders", 40)

    def slow(request: Request, n: int) -> Answer:
        if json.loads(request.body)["id"] == 0 and n == 1:
            return Answer(delay=1.0)  # longer than the timeout: the client gives up
        return Answer(delay=0.05)

    async def main() -> None:
        with Receiver(slow) as rx:
            notify = spec("orders", to=rx.url, timeout="300ms", in_flight=8)
            async with running(broker, notify) as rs:
                await until(lambda: rs[0].stats.delivered == 40, what="40 deliveries")
            assert rs[0].stats.retries == 1
            # 8 in flight, and the request the client gave up on still open on the server
            assert 2 <= rx.most_active <= 9
            assert rx.seen["orders/0/0"] == 2

    asyncio.run(main())


def test_rate_limits_sends(broker: Broker) -> None:
    produce(broker, "orders", 60)

    async def main() -> None:
        with Receiver() as rx:
            async with running(broker, spec("orders", to=rx.url, rate="40/s")) as rs:
                await until(lambda: rs[0].stats.delivered == 60, what="60 deliveries")
            got = rx.delivered()
        # a burst of 40, then 20 more at 40 a second: the last comes >= 0.5 s after the first
        span = got[-1].at - got[0].at
        assert span >= 0.45

    asyncio.run(main())


def test_a_stop_commits_only_below_what_is_in_flight_and_it_is_sent_again(
    broker: Broker, monkeypatch: pytest.MonkeyPatch
) -> None:
    produce(broker, "orders", 10)
    monkeypatch.setattr(notify_runner, "STOP_GRACE_S", 0.1)
    release = False

    def stuck(request: Request, n: int) -> Answer:
        if json.loads(request.body)["id"] == 3 and not release:
            return Answer(503)  # record 3 keeps failing, retried until the stop
        return Answer()

    async def main() -> None:
        nonlocal release
        with Receiver(stuck) as rx:
            notify = spec("orders", to=rx.url, max_attempts=100)
            async with running(broker, notify) as rs:
                await until(lambda: rs[0].stats.delivered == 9 and rs[0].stats.retries >= 2)
            tp = TopicPartition("orders", 0)
            assert broker.committed("test.n", "orders") == {tp: 3}
            release = True
            async with running(broker, notify) as rs:
                await until(lambda: rs[0].stats.delivered == 7, what="3..9 again")
            assert broker.committed("test.n", "orders") == {tp: 10}
            ids = [json.loads(r.body)["id"] for r in rx.delivered()]
        assert sorted(ids) == sorted([0, 1, 2, *range(4, 10), *range(3, 10)])

    asyncio.run(main())


def test_connections_closed_by_the_server_and_chunked_answers(broker: Broker) -> None:
    produce(broker, "orders", 20)

    def closing(request: Request, n: int) -> Answer:
        if json.loads(request.body)["id"] % 2:
            return Answer(headers={"Connection": "close"})
        return Answer(422, {"Transfer-Encoding": "chunked"}, b"5\r\nnope!\r\n0\r\n\r\n")

    async def main() -> None:
        with Receiver(closing) as rx:
            async with running(broker, spec("orders", to=rx.url, in_flight=4)) as rs:
                await until(lambda: rs[0].stats.delivered == 10 and rs[0].stats.failed == 10)
            assert len(rx.requests) == 20
        dead = parked(broker, "orders-notify-failed")
        assert {dict(d.headers)["logway.notify.response"] for d in dead} == {b"nope!"}
        assert {dict(d.headers)["logway.notify.status"] for d in dead} == {b"422"}

    asyncio.run(main())


def test_a_record_the_template_cannot_fill_is_parked_without_an_attempt(broker: Broker) -> None:
    broker.create_topic("orders")
    broker.produce("orders", b'{"id": 1, "who": "Ada"}')
    broker.produce("orders", b'{"id": 2}')  # no "who"
    broker.produce("orders", b"not json")

    async def main() -> None:
        with Receiver() as rx:
            async with running(broker, spec("orders", to=rx.url, template="{who} #{id}")) as rs:
                await until(lambda: rs[0].stats.delivered == 1 and rs[0].stats.failed == 2)
            assert [r.body for r in rx.delivered()] == [b"Ada #1"]
        dead = parked(broker, "orders-notify-failed")
        assert [d.value for d in dead] == [b'{"id": 2}', b"not json"]
        assert [dict(d.headers)["logway.attempts"] for d in dead] == [b"0", b"0"]
        messages = [dict(d.headers)["logway.error.message"] for d in dead]
        assert b"'who'" in messages[0] and b"not JSON" in messages[1]
        assert all(b"logway.notify.status" not in dict(d.headers) for d in dead)

    asyncio.run(main())


def test_a_shape_whose_result_cannot_be_sent_parks_the_record(broker: Broker) -> None:
    produce(broker, "orders", 2)

    def shape(record: logway.Record) -> dict[str, object]:
        value = record.json()
        return {"id": value["id"], "at": dt.datetime.now()} if value["id"] else value

    async def main() -> None:
        with Receiver() as rx:
            async with running(broker, spec("orders", to=rx.url, shape=shape)) as rs:
                await until(lambda: rs[0].stats.delivered == 1 and rs[0].stats.failed == 1)
            assert len(rx.requests) == 1
        (dead,) = parked(broker, "orders-notify-failed")
        h = dict(dead.headers)
        assert (h["logway.error.type"], h["logway.source.offset"]) == (b"TypeError", b"1")

    asyncio.run(main())


def test_https_webhook_trusting_a_private_ca(
    broker: Broker, certificate: tuple[Path, Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    produce(broker, "orders", 3)
    monkeypatch.setenv("SSL_CERT_FILE", str(certificate[0]))

    async def main() -> None:
        with Receiver(tls=server_context(certificate)) as rx:
            url = rx.url.replace("http://127.0.0.1", "https://localhost")
            async with running(broker, spec("orders", to=url, secret=SECRET)) as rs:
                await until(lambda: rs[0].stats.delivered == 3, what="3 deliveries")
            got = rx.delivered()
        assert sorted(json.loads(r.body)["id"] for r in got) == [0, 1, 2]
        assert all(verify(SECRET, r.body, r.headers["Logway-Signature"]) for r in got)

    asyncio.run(main())
