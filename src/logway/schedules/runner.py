"""Publishing a schedule's ticks to a topic (``App.schedule``, ``logway clock``):
``ScheduleSpec`` and ``ScheduleRunner``.

- Each tick is one record on the topic: its timestamp is the scheduled time (ms), its
  headers ``logway.schedule`` (the schedule's name, ``<app>.<name>``) and
  ``logway.schedule.time`` (the scheduled time, ISO 8601 UTC), its key and value as
  declared. Without a value the body is JSON naming the schedule and the scheduled
  time, as EventBridge Scheduler's context attributes do.
- A tick is published at its time plus ``Schedule.delay`` (the flexible window), in
  order: a tick whose delay would carry it past the next one's goes out first.
- Exactly once, whatever runs: one process at a time runs a schedule (``run_leased``,
  the lease ``<app>.<name>.lease``), and a runner that takes over reads the newest tick
  the topic holds from this schedule (``newest``) and goes on after it, so a restart in
  the middle of a tick, or a SIGKILL right after producing one, never publishes it
  twice. The topic is the only state.
- Ticks that came due while no process ran the schedule (the newest published one is
  older) follow ``catch_up``: ``"none"`` skips them all, ``"latest"`` publishes only
  the most recent, ``"all"`` publishes every one, in order. A schedule whose topic
  holds none of its ticks starts from now: nothing before the first run is caught up.
- The clock (``now``) and the wait (``wait(stop, seconds)``) are arguments, so tests
  move time themselves; the runner waits in steps of at most ``CHECK_S`` and checks
  that it still holds the lease after each.
"""

from __future__ import annotations

import asyncio
import json
import logging
import threading
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from logway.broker import Broker, ensure_topic
from logway.errors import InvalidArgumentError
from logway.jobs import newest, run_in_thread, run_leased
from logway.names import validate_group, validate_topic_name
from logway.records import Record
from logway.schedules.expressions import EPOCH, Schedule, parse_schedule

log = logging.getLogger("logway.schedules")
SCHEDULE_HEADER = "logway.schedule"
TIME_HEADER = "logway.schedule.time"
CATCH_UP = ("none", "latest", "all")
CHECK_S = 0.2  # the longest wait between two checks of the lease

Now = Callable[[], datetime]
Wait = Callable[[threading.Event, float], Any]
Body = Callable[[datetime], bytes]
HeadersIn = Mapping[str, bytes | str | None] | Iterable[tuple[str, bytes | str | None]] | None


def iso(t: datetime) -> str:
    """``t`` in UTC as ISO 8601 with a ``Z``; microseconds only when it has some, so the
    text reads back to the same instant."""
    t = t.astimezone(UTC)
    return t.strftime("%Y-%m-%dT%H:%M:%S.%fZ" if t.microsecond else "%Y-%m-%dT%H:%M:%SZ")


def millis(t: datetime) -> int:
    return (t - EPOCH) // timedelta(milliseconds=1)


# --- the spec -----------------------------------------------------------------------


@dataclass
class ScheduleSpec:
    """A schedule of an app, checked when declared: its ticks go to ``topic``."""

    name: str  # within the app; the schedule's full name is <app>.<name>
    full_name: str
    schedule: Schedule
    topic: str
    body: Body
    key: bytes | None
    headers: tuple[tuple[str, bytes | None], ...]
    catch_up: str

    @property
    def expression(self) -> str:
        return self.schedule.expression

    @property
    def source(self) -> str:  # the topic, for what lists an app's jobs by topic
        return self.topic

    @property
    def to(self) -> str:
        return self.topic

    def make_runner(self, broker: Broker, app_name: str = "") -> ScheduleRunner:
        return ScheduleRunner(broker, self)


def schedule_spec(
    app_name: str,
    expression: str,
    *,
    topic: str,
    value: Any = None,
    key: bytes | str | None = None,
    headers: Mapping[str, bytes | str | None]
    | Iterable[tuple[str, bytes | str | None]]
    | None = None,
    timezone: str = "UTC",
    start: datetime | str | None = None,
    end: datetime | str | None = None,
    flexible_window: int | str | None = None,
    catch_up: str = "latest",
    name: str | None = None,
) -> ScheduleSpec:
    """Check a schedule's settings and build its spec; bad ones raise
    ``InvalidArgumentError`` saying what to change."""
    validate_topic_name(topic)
    sname = topic if name is None else name
    if not isinstance(sname, str) or not sname:
        raise InvalidArgumentError(f"a schedule's name is a non-empty string, not {sname!r}")
    full_name = f"{app_name}.{sname}" if app_name else sname
    validate_group(f"{full_name}.lease")
    if catch_up not in CATCH_UP:
        raise InvalidArgumentError(
            f"catch_up is 'none', 'latest' or 'all' (what to publish of the ticks missed "
            f"while nothing ran), not {catch_up!r}"
        )
    schedule = parse_schedule(
        expression,
        timezone=timezone,
        start=start,
        end=end,
        flexible_window=flexible_window,
        id=full_name,
    )
    return ScheduleSpec(
        name=sname,
        full_name=full_name,
        schedule=schedule,
        topic=topic,
        body=_body(value, full_name),
        key=_bytes("key", key),
        headers=_headers(headers),
        catch_up=catch_up,
    )


def _bytes(what: str, value: object) -> bytes | None:
    if value is None or isinstance(value, bytes):
        return value
    if isinstance(value, str):
        return value.encode()
    raise InvalidArgumentError(f"a schedule's {what} is bytes, a string or None, not {value!r}")


def _encode(value: object, full_name: str, tick: datetime) -> bytes:
    if value is None:
        return json.dumps({"schedule": full_name, "scheduled_time": iso(tick)}).encode()
    if isinstance(value, (dict, list)):
        return json.dumps(value).encode()
    encoded = _bytes("value", value)
    assert encoded is not None
    return encoded


def _body(value: Any, full_name: str) -> Body:
    """The tick's value: fixed bytes, a string, a JSON object (or list), the default
    JSON body (None), or ``value(tick)`` returning one of those."""
    if callable(value):
        return lambda tick: _encode(value(tick), full_name, tick)
    if value is not None and not isinstance(value, (bytes, str, dict, list)):
        raise InvalidArgumentError(
            "a schedule's value is bytes, a string, a dict (sent as JSON), a function of "
            f"the tick's time, or None (a JSON body naming the schedule and time), not {value!r}"
        )
    if isinstance(value, (dict, list)):
        try:
            fixed = json.dumps(value).encode()
        except (TypeError, ValueError) as exc:
            raise InvalidArgumentError(f"a schedule's value cannot be JSON: {exc}") from None
        return lambda tick: fixed
    if value is None:
        return lambda tick: _encode(None, full_name, tick)
    fixed_bytes = _encode(value, full_name, EPOCH)
    return lambda tick: fixed_bytes


def _headers(headers: HeadersIn) -> tuple[tuple[str, bytes | None], ...]:
    if headers is None:
        return ()
    pairs = headers.items() if isinstance(headers, Mapping) else headers
    out = []
    for pair in pairs:
        if not (isinstance(pair, tuple) and len(pair) == 2 and isinstance(pair[0], str)):
            raise InvalidArgumentError(
                f"a schedule's headers are a dict of names to values, not {headers!r}"
            )
        name, value = pair
        if name in (SCHEDULE_HEADER, TIME_HEADER):
            raise InvalidArgumentError(f"the header {name!r} is the schedule's own; pick another")
        out.append((name, _bytes(f"header {name!r}", value)))
    return tuple(out)


# --- the runner ---------------------------------------------------------------------


def tick_of(record: Record) -> datetime:
    """The scheduled time of a tick record (its header; else its timestamp)."""
    text = record.header(TIME_HEADER)
    if text:
        try:
            return datetime.fromisoformat(text.decode()).astimezone(UTC)
        except (UnicodeDecodeError, ValueError):
            pass
    return EPOCH + timedelta(milliseconds=record.timestamp)


def last_tick(broker: Broker, topic: str, full_name: str) -> datetime | None:
    """The newest tick of the schedule ``full_name`` that ``topic`` holds, if any."""
    if topic not in broker.list_topics():
        return None
    name = full_name.encode()
    found = newest(broker, topic, lambda r: r.header(SCHEDULE_HEADER) == name)
    return max((tick_of(r) for _, r in found), default=None)


def _system_wait(stop: threading.Event, seconds: float) -> None:
    stop.wait(seconds)


class ScheduleRunner:
    """Publishes one schedule's ticks (see the module's docstring)."""

    def __init__(
        self,
        broker: Broker,
        spec: ScheduleSpec,
        *,
        now: Now | None = None,
        wait: Wait | None = None,
        published: Callable[[datetime], None] | None = None,
        check_s: float = CHECK_S,
    ):
        self.broker = broker
        self.spec = spec
        self.group = spec.full_name
        self.now: Now = now or (lambda: datetime.now(UTC))
        self.wait: Wait = wait or _system_wait
        self.published = published
        self.check_s = check_s
        self.stats = {"ticks": 0, "skipped": 0}
        self.last: datetime | None = None
        self.next: datetime | None = None

    def status(self) -> dict[str, Any]:
        return {
            "schedule": self.group,
            **self.stats,
            "last_tick": self.last and iso(self.last),
            "next_tick": self.next and iso(self.next),
        }

    async def run(self, stopping: asyncio.Event) -> None:
        await run_in_thread(self.run_until, stopping)

    def run_until(self, stop: threading.Event) -> None:
        """Publish ticks while this process holds the schedule's lease, until ``stop``."""
        run_leased(self.broker, self.group, stop, lambda lost: self.run_held(stop, lost))

    def run_held(self, stop: threading.Event, lost: Callable[[], bool]) -> None:
        """Publish ticks until ``stop`` or ``lost()``; what a lease holder runs."""
        ensure_topic(self.broker, self.spec.topic)
        cursor = self._take_over(stop, lost)
        if cursor is None:
            return
        schedule = self.spec.schedule
        while True:
            tick = schedule.next_after(cursor)
            self.next = tick
            if tick is None:  # past its end: nothing more to publish
                while not stop.is_set() and not lost():
                    self.wait(stop, self.check_s)
                return
            if not self._wait_until(tick + schedule.delay(tick), stop, lost):
                return
            self._publish(tick)
            cursor = tick

    def _take_over(self, stop: threading.Event, lost: Callable[[], bool]) -> datetime | None:
        """Where to go on from: after the newest published tick, once the ticks missed
        since are dealt with as ``catch_up`` says; from now when there is none. None
        when stopped or the lease is lost meanwhile."""
        last = last_tick(self.broker, self.spec.topic, self.group)
        self.last = last
        now = self.now()
        if last is None:
            log.info("%s: no tick published yet; starting from %s", self.group, iso(now))
            return now
        schedule, policy = self.spec.schedule, self.spec.catch_up
        window = timedelta(minutes=schedule.flexible_window or 0)
        missed: datetime | None = None
        skipped = 0
        for tick in schedule.ticks(last, now):
            if tick + window > now and tick + schedule.delay(tick) > now:
                break  # not due yet, nor any after it
            if policy == "all":
                if stop.is_set() or lost():
                    return None
                self._publish(tick)
            elif missed is not None:
                skipped += 1
            missed = tick
        if policy == "none" and missed is not None:
            skipped += 1
        elif policy == "latest" and missed is not None:
            if stop.is_set() or lost():
                return None
            self._publish(missed)
        if skipped:
            self.stats["skipped"] += skipped
            log.info(
                "%s: skipped %d tick(s) missed since %s (catch_up=%r)",
                self.group,
                skipped,
                iso(last),
                policy,
            )
        return missed or last

    def _wait_until(self, due: datetime, stop: threading.Event, lost: Callable[[], bool]) -> bool:
        """Wait until ``due`` (True), checking the lease every ``check_s``; False when
        stopped or the lease is lost first."""
        while True:
            if stop.is_set() or lost():
                return False
            left = (due - self.now()).total_seconds()
            if left <= 0:
                return True
            self.wait(stop, min(left, self.check_s))

    def _publish(self, tick: datetime) -> None:
        spec = self.spec
        headers = (
            *spec.headers,
            (SCHEDULE_HEADER, self.group.encode()),
            (TIME_HEADER, iso(tick).encode()),
        )
        self.broker.produce(spec.topic, spec.body(tick), spec.key, headers, timestamp=millis(tick))
        self.last = tick
        self.stats["ticks"] += 1
        log.debug("%s: published the tick of %s", self.group, iso(tick))
        if self.published is not None:
            self.published(tick)


async def run_schedules(
    broker: Broker, app_name: str, specs: list[ScheduleSpec], stopping: asyncio.Event
) -> list[ScheduleRunner]:
    """Run an app's schedules until ``stopping``."""
    runners = [spec.make_runner(broker, app_name) for spec in specs]
    await asyncio.gather(*(r.run(stopping) for r in runners))
    return runners
