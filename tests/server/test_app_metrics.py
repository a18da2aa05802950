"""``/metrics`` of ``logway serve --app`` shows the app's schedules (ticks published
and skipped, last and next tick), notifications (sent, failed, retries, in flight, lag)
and the queues the server holds, for its clients and for queue functions (deliveries,
acknowledged and dead-lettered records, in flight, available again, lag)."""

from __future__ import annotations

import json
import re
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import httpx
import pytest

import logway
from logway.queues import Delivery
from logway.schedules.runner import SCHEDULE_HEADER, TIME_HEADER, iso, millis, tick_of
from tests.notify.receiver import Answer, Receiver, Request
from tests.servers import LogwayServer

pytestmark = pytest.mark.slow  # a server process

APP = """
import os
import logway
from logway.functions.batch import Batch

app = logway.App("served")
app.topic("orders")
app.topic("jobs")
app.topic("tasks")
app.schedule("cron(* * * * ? *)", topic="ticks", catch_up="latest")
app.notify("orders", to=os.environ["HOOK_URL"], backoff=("10ms", "50ms"), rate=None,
           starting_position="earliest")


@app.function("tasks", queue=True, batch_size=1, retry_attempts=1, retry_backoff=0.01,
              starting_position="earliest", on_failure="tasks-failed")
def work(batch: Batch) -> None:
    if any(r.value == b"bad" for r in batch):
        raise ValueError("cannot do it")
"""
DEADLINE_S = 30.0
LINE = re.compile(r"^(?P<name>[a-z_]+)(?:\{(?P<labels>.*)\})? (?P<value>\S+)$")
LABEL = re.compile(r'(\w+)="((?:[^"\\]|\\.)*)"')


@dataclass
class Served:
    server: LogwayServer
    receiver: Receiver
    hold: threading.Event  # the webhook answers the order with id 3 once set
    seeded_tick: datetime  # the tick the schedule's topic held before the server started

    def metrics(self) -> str:
        return httpx.get(f"{self.server.http}/metrics").text


def sample(text: str, name: str, **labels: object) -> float | None:
    """The value of the sample ``name`` whose labels include ``labels``; None without one."""
    want = {k: str(v) for k, v in labels.items()}
    for line in text.splitlines():
        m = LINE.match(line)
        if m is None or m["name"] != name:
            continue
        got = dict(LABEL.findall(m["labels"] or ""))
        if want.items() <= got.items():
            return float(m["value"])
    return None


def wait_for_metrics(served: Served, condition: Callable[[str], bool]) -> str:
    """Scrape until ``condition`` holds of the text; the text it held of."""
    deadline = time.monotonic() + DEADLINE_S
    while not condition(text := served.metrics()):
        assert time.monotonic() < deadline, f"/metrics never got there:\n{text}"
        time.sleep(0.05)  # the server works meanwhile
    return text


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    tmp = tmp_path_factory.mktemp("metrics")
    (tmp / "metricsapp.py").write_text(APP)
    # the schedule's topic holds a tick ten minutes old: taking over, catch_up="latest"
    # publishes the newest tick due and skips those in between
    now = datetime.now(UTC).replace(second=0, microsecond=0)
    seeded = now - timedelta(minutes=10)
    with logway.connect(f"file:{tmp / 'data'}") as broker:
        broker.create_topic("ticks")
        headers = [(SCHEDULE_HEADER, b"served.ticks"), (TIME_HEADER, iso(seeded).encode())]
        broker.produce("ticks", b"{}", None, headers, timestamp=millis(seeded))
    hold = threading.Event()

    def script(request: Request, n: int) -> Answer:
        order = json.loads(request.body)["id"]
        if order == 1 and n == 1:
            return Answer(503)  # retried
        if order == 2:
            return Answer(400)  # final: parked on orders-notify-failed
        if order == 3:
            hold.wait(DEADLINE_S)  # in flight until the test lets it go
        return Answer()

    with Receiver(script) as rx, pytest.MonkeyPatch.context() as mp:
        mp.setenv("PYTHONPATH", str(tmp))
        mp.setenv("HOOK_URL", rx.url)
        server = LogwayServer(tmp / "data", "--app", "metricsapp:app")
        server.start()
        try:
            yield Served(server, rx, hold, seeded)
        finally:
            hold.set()
            assert server.stop() == 0


def test_schedule_metrics_show_ticks_published_skipped_and_the_next(served: Served) -> None:
    s = {"schedule": "served.ticks"}

    def caught_up(text: str) -> bool:
        last = sample(text, "logway_schedule_last_tick_timestamp_seconds", **s)
        following = sample(text, "logway_schedule_next_tick_timestamp_seconds", **s)
        return (
            (sample(text, "logway_schedule_ticks_total", **s) or 0) >= 1
            and last is not None
            and following == last + 60
        )

    text = wait_for_metrics(served, caught_up)
    # ten minutes missed: the newest due is published, at least the eight before skipped
    assert (sample(text, "logway_schedule_ticks_skipped_total", **s) or 0) >= 8
    last = sample(text, "logway_schedule_last_tick_timestamp_seconds", **s)
    assert last is not None and last >= (served.seeded_tick + timedelta(minutes=9)).timestamp()
    with logway.connect(served.server.url) as broker:
        ticks = broker.fetch("ticks", 0, 0, max_records=100)
    assert datetime.fromtimestamp(last, UTC) in {tick_of(r) for r in ticks}  # what was published


def test_notification_metrics_count_sends_failures_retries_and_in_flight(
    served: Served,
) -> None:
    n = {"notification": "served.orders-notify"}
    lag = {**n, "topic": "orders", "partition": "0"}
    with logway.connect(served.server.url) as broker:
        for i in range(5):
            broker.produce("orders", json.dumps({"id": i}).encode())

    def held(text: str) -> bool:  # 0, 1 (after a retry) and 4 sent, 2 parked, 3 in flight
        return (
            sample(text, "logway_notification_sent_total", **n) == 3
            and sample(text, "logway_notification_failed_total", **n) == 1
            and sample(text, "logway_notification_in_flight", **n) == 1
            and sample(text, "logway_notification_lag", **lag) == 2  # committed up to 3
        )

    text = wait_for_metrics(served, held)
    assert (sample(text, "logway_notification_retries_total", **n) or 0) >= 1
    assert sample(text, "logway_notification_skipped_total", **n) == 0
    served.hold.set()

    def settled(text: str) -> bool:
        return (
            sample(text, "logway_notification_sent_total", **n) == 4
            and sample(text, "logway_notification_in_flight", **n) == 0
            and sample(text, "logway_notification_lag", **lag) == 0
        )

    wait_for_metrics(served, settled)


def test_queue_metrics_follow_a_served_queues_deliveries(served: Served) -> None:
    q = {"queue": "workers", "topic": "jobs"}
    with logway.connect(served.server.url) as broker:
        broker.produce_many("jobs", [b"a", b"b", b"c", b"d"])
        queue = broker.queue("jobs", "workers", start="earliest", visibility_timeout="60s")
        got: list[Delivery] = []
        deadline = time.monotonic() + DEADLINE_S
        while len(got) < 4:
            assert time.monotonic() < deadline, got
            got += queue.receive(max_records=4 - len(got), timeout=1.0)
        text = served.metrics()
        assert sample(text, "logway_queue_deliveries_total", **q) == 4
        assert sample(text, "logway_queue_records_in_flight", **q) == 4
        assert sample(text, "logway_queue_lag", **q, partition=0) == 4
        a, b, c, d = sorted(got, key=lambda x: x.record.offset)
        queue.release([a])
        queue.reject([b], "no")
        queue.ack([c, d])
        text = served.metrics()
        assert sample(text, "logway_queue_records_in_flight", **q) == 0
        assert sample(text, "logway_queue_records_available_again", **q) == 1
        assert sample(text, "logway_queue_records_dead_lettered_total", **q) == 1
        assert sample(text, "logway_queue_records_acked_total", **q) == 2
        assert sample(text, "logway_queue_lag", **q, partition=0) == 4  # a is not settled
        [again] = queue.receive(max_records=1, timeout=5.0)
        assert again.delivery_count == 2
        queue.ack([again])
        text = served.metrics()
        assert sample(text, "logway_queue_deliveries_total", **q) == 5
        assert sample(text, "logway_queue_records_available_again", **q) == 0
        assert sample(text, "logway_queue_lag", **q, partition=0) == 0


def test_queue_metrics_show_a_queue_functions_queue(served: Served) -> None:
    q = {"queue": "served.work", "topic": "tasks"}
    with logway.connect(served.server.url) as broker:
        broker.produce_many("tasks", [b"ok", b"bad", b"ok", b"ok"])

    def done(text: str) -> bool:
        return (
            sample(text, "logway_queue_records_acked_total", **q) == 3
            and sample(text, "logway_queue_records_dead_lettered_total", **q) == 1
        )

    text = wait_for_metrics(served, done)
    assert sample(text, "logway_queue_deliveries_total", **q) == 5  # "bad" twice
    assert sample(text, "logway_queue_records_in_flight", **q) == 0
    assert sample(text, "logway_queue_lag", **q, partition=0) == 0
