"""Running a notification: read its topic as the group ``<app>.<name>``, send each
selected record to the target (``in_flight`` at once, paced by ``rate``, retried with
backoff), and park what cannot be delivered on the ``on_failure`` topic.

At least once: a partition's committed offset never passes its lowest record not yet
settled (delivered, skipped or parked), so a crash sends again at most what was in
flight. Each notification has its own reader, client, bucket and limit on sends in
flight: a slow or dead target holds back only its own records.
"""

from __future__ import annotations

import asyncio
import dataclasses
import logging
import time
from dataclasses import dataclass
from typing import Any

from logway.broker import Broker, Consumer, ensure_topic, group_position
from logway.errors import LogwayError
from logway.notify.ratelimit import TokenBucket
from logway.notify.render import RenderError, render
from logway.notify.settings import NotifySettings
from logway.notify.targets import EXCERPT_BYTES, SendError, Target, record_id
from logway.records import Record, TopicPartition

log = logging.getLogger("logway.notify")

ASSIGNMENT_CHECK_S = 0.5
COMMIT_INTERVAL_S = 1.0
POLL_RECORDS = 500
STOP_GRACE_S = 5.0  # on stop, sends in flight get this long to settle; the rest are sent again


@dataclass
class NotifySpec:
    """A declared notification: ``app.notify(source, to=..., ...)``."""

    name: str
    source: str
    settings: NotifySettings

    @property
    def to(self) -> str:
        """The target without credentials or secret parts, for logs and listings."""
        return self.settings.target.describe()

    def make_runner(self, broker: Broker, app_name: str) -> NotifyRunner:
        return NotifyRunner(broker, app_name, self)


@dataclass
class NotifyStats:
    state: str = "starting"
    delivered: int = 0
    skipped: int = 0
    retries: int = 0
    failed: int = 0  # parked on the on_failure topic
    in_flight: int = 0


class NotifyRunner:
    """One process's runner of a notification (``async run(stopping)``)."""

    def __init__(self, broker: Broker, app_name: str, spec: NotifySpec) -> None:
        self.broker = broker
        self.spec = spec
        self.settings = spec.settings
        self.group = f"{app_name}.{spec.name}"
        self.stats = NotifyStats()
        self.target: Target = dataclasses.replace(spec.settings.target)  # a client of its own
        rate = spec.settings.rate
        self.bucket = None if rate is None else TokenBucket(rate)
        self.member: Consumer | None = None
        self._lanes: dict[TopicPartition, Lane] = {}
        self._slots: asyncio.Semaphore | None = None

    def status(self) -> dict[str, Any]:
        s = self.stats
        return {
            "notify": self.group,
            "source": self.spec.source,
            "target": self.target.describe(),
            "state": s.state,
            "partitions": sorted(tp.partition for tp in self._lanes),
            "delivered": s.delivered,
            "skipped": s.skipped,
            "retries": s.retries,
            "failed": s.failed,
            "in_flight": s.in_flight,
        }

    async def run(self, stopping: asyncio.Event) -> None:
        """Follow the group's assignment until ``stopping`` is set, then give the sends
        in flight a moment to settle and commit what is settled."""
        ensure_topic(self.broker, self.settings.on_failure)
        self._slots = asyncio.Semaphore(self.settings.in_flight)
        await self.target.open()
        member = self.member = self.broker.consumer(self.spec.source, group=self.group)
        self.stats.state = "running"
        try:
            while not stopping.is_set():
                assigned = set(member.assignment())
                for tp in sorted(assigned - set(self._lanes)):
                    self._lanes[tp] = Lane(self, tp)
                for tp in set(self._lanes) - assigned:
                    await self._lanes.pop(tp).stop()
                for tp, lane in list(self._lanes.items()):
                    if lane.task.done():  # it died: log it and start again
                        if not lane.task.cancelled() and lane.task.exception() is not None:
                            log.error(
                                "%s: %s/%d stopped: %r; starting it again",
                                self.group,
                                tp.topic,
                                tp.partition,
                                lane.task.exception(),
                            )
                        await self._lanes.pop(tp).stop()
                try:
                    await asyncio.wait_for(stopping.wait(), ASSIGNMENT_CHECK_S)
                except TimeoutError:
                    pass
        finally:
            await asyncio.gather(*(lane.stop() for lane in self._lanes.values()))
            self._lanes.clear()
            member.close()
            await self.target.close()
            self.stats.state = "stopped"

    def commit(self, offsets: dict[TopicPartition, int]) -> None:
        assert self.member is not None
        self.member.commit(offsets)

    def content(self, record: Record) -> Any:
        """What to send for ``record``; None to skip it (filtered out, or shaped away).
        ``RenderError`` when it cannot be made."""
        s = self.settings
        value: Any = None
        if s.matcher is not None or s.template is not None:
            try:
                value = record.json()
            except ValueError:
                if s.matcher is not None:
                    return None  # not JSON: no pattern matches it
                raise RenderError(
                    "the value is not JSON, so the template cannot be filled"
                ) from None
            if s.matcher is not None and not s.matcher.matches(value):
                return None
        return render(record, value, s.template, s.shape)

    async def settle(self, record: Record) -> None:
        """Deliver ``record``, retrying, or park it on the failure topic."""
        s = self.settings
        try:
            content = self.content(record)
        except RenderError as exc:
            await self.park(record, exc, None, 0)
            return
        if content is None:
            self.stats.skipped += 1
            return
        attempt = 0
        while True:
            attempt += 1
            if self.bucket is not None:
                await self.bucket.take()
            try:
                await self.target.send(content, record, attempt)
            except SendError as exc:
                if not exc.retryable or attempt >= s.max_attempts:
                    await self.park(record, exc, exc, attempt)
                    return
                self.stats.retries += 1
                log.debug("%s: %s attempt %d: %s", self.group, record_id(record), attempt, exc)
                await asyncio.sleep(s.backoff.delay(attempt, exc.retry_after))
            except Exception as exc:  # the record cannot be sent as it is (say, its encoding)
                log.exception("%s: sending %s failed", self.group, record_id(record))
                await self.park(record, exc, None, attempt)
                return
            else:
                self.stats.delivered += 1
                return

    async def park(
        self, record: Record, error: Exception, answer: SendError | None, attempts: int
    ) -> None:
        """Produce ``record`` to the failure topic with where it came from and why it
        was not delivered; retried until the topic takes it."""
        headers = [
            *record.headers,
            ("logway.source.topic", record.topic),
            ("logway.source.partition", str(record.partition)),
            ("logway.source.offset", str(record.offset)),
            ("logway.source.timestamp", str(record.timestamp)),
            ("logway.notify", self.group),
            ("logway.notify.target", self.target.describe()),
            ("logway.error.type", type(error).__name__),
            ("logway.error.message", str(error)[:EXCERPT_BYTES]),
            ("logway.attempts", str(attempts)),
        ]
        if answer is not None and answer.status is not None:
            headers.append(("logway.notify.status", str(answer.status)))
            headers.append(("logway.notify.response", answer.body[:EXCERPT_BYTES]))
        log.warning(
            "%s: %s/%d/%d not delivered after %d attempt(s): %s; it goes to %s",
            self.group,
            record.topic,
            record.partition,
            record.offset,
            attempts,
            error,
            self.settings.on_failure,
        )
        wait = 0.1
        while True:
            try:
                await asyncio.to_thread(
                    self.broker.produce,
                    self.settings.on_failure,
                    record.value,
                    record.key,
                    headers=headers,
                )
                break
            except LogwayError as exc:
                log.warning("%s: could not park a record (%s); trying again", self.group, exc)
                await asyncio.sleep(wait)
                wait = min(wait * 2, 10.0)
        self.stats.failed += 1


class Lane:
    """One assigned partition: read it, start a send per record, commit what is settled."""

    def __init__(self, runner: NotifyRunner, tp: TopicPartition) -> None:
        self.runner = runner
        self.tp = tp
        self.pending: set[int] = set()  # offsets whose sends are in flight
        self.sends: set[asyncio.Task[None]] = set()
        self.next = -1  # the offset after the last record started or skipped
        self.committed = -1
        self.stopping = asyncio.Event()
        self.task = asyncio.ensure_future(self.run())

    def settled_up_to(self) -> int:
        """The offset to commit: the lowest still in flight, else the next to read."""
        return min(self.pending) if self.pending else self.next

    def commit(self) -> None:
        point = self.settled_up_to()
        if point > self.committed:
            self.runner.commit({self.tp: point})
            self.committed = point

    async def run(self) -> None:
        r = self.runner
        start = r.settings.starting_position
        moved: list[dict[TopicPartition, int]] = []  # commits go through the member, here
        self.next = self.committed = await asyncio.to_thread(
            group_position, r.broker, r.group, self.tp, start, moved.append
        )
        for offsets in moved:
            r.commit(offsets)
        consumer = r.broker.consumer(self.tp.topic, partitions=[self.tp], start="earliest")
        try:
            consumer.seek(self.tp, self.next)
            committed_at = time.monotonic()
            while not self.stopping.is_set():
                records = await consumer.apoll(timeout=0.2, max_records=POLL_RECORDS)
                for record in records:
                    if not await self._start(record):
                        break
                if time.monotonic() - committed_at >= COMMIT_INTERVAL_S:
                    self.commit()
                    committed_at = time.monotonic()
        finally:
            consumer.close()

    async def _start(self, record: Record) -> bool:
        """Start sending ``record`` once a slot is free; False if stopped meanwhile."""
        r = self.runner
        assert r._slots is not None
        if r._slots.locked():  # wait for a slot, or the stop
            slot = asyncio.ensure_future(r._slots.acquire())
            stop = asyncio.ensure_future(self.stopping.wait())
            await asyncio.wait((slot, stop), return_when=asyncio.FIRST_COMPLETED)
            stop.cancel()
            if not slot.done() or slot.cancelled():
                slot.cancel()
                return False
        else:
            await r._slots.acquire()
        self.pending.add(record.offset)
        self.next = record.offset + 1
        r.stats.in_flight += 1
        task = asyncio.ensure_future(self._send(record))
        self.sends.add(task)
        task.add_done_callback(self.sends.discard)
        return True

    async def _send(self, record: Record) -> None:
        r = self.runner
        assert r._slots is not None
        try:
            await r.settle(record)
            self.pending.discard(record.offset)  # only once settled: a cancelled send stays
        except Exception:
            log.exception("%s: sending %s/%d failed", r.group, record.topic, record.offset)
        finally:
            r.stats.in_flight -= 1
            r._slots.release()

    async def stop(self) -> None:
        """Stop reading, give the sends in flight ``STOP_GRACE_S`` to settle, cancel the
        rest (they are sent again by whoever reads the partition next) and commit."""
        self.stopping.set()
        try:
            await self.task
        except Exception:  # logged by the runner when it noticed; nothing more to do
            pass
        if self.sends:
            await asyncio.wait(list(self.sends), timeout=STOP_GRACE_S)
        for task in list(self.sends):
            task.cancel()
        if self.sends:
            await asyncio.wait(list(self.sends))
        if self.next >= 0:
            try:
                self.commit()
            except LogwayError as exc:
                log.warning("%s: could not commit on stop: %s", self.runner.group, exc)


async def run_notifications(
    broker: Broker, app_name: str, specs: list[NotifySpec], stopping: asyncio.Event
) -> list[NotifyRunner]:
    """Run an app's notifications until ``stopping`` is set."""
    runners = [spec.make_runner(broker, app_name) for spec in specs]
    await asyncio.gather(*(r.run(stopping) for r in runners))
    return runners
