"""Run functions over a ``Broker``: AWS Lambda's event source mapping semantics.

Each function is its own consumer group, ``<app>.<function>``: two functions read a
topic independently, and two processes running the same app share its partitions.
A ``Lane`` per assigned partition reads at its own cursor, builds batches (size,
batching window, payload bytes), drops records no filter matches, invokes the
handler, and commits only once the batch succeeded or its failed records went to
the ``on_failure`` topic: at-least-once, in order per partition. A failing batch is
retried with exponential backoff, split in halves with ``bisect_on_error``, or
resumed from the lowest failed offset with ``report_item_failures``; without an
``on_failure`` topic a partition whose retries are exhausted stays blocked, retrying,
rather than break its order.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import inspect
import json
import logging
import multiprocessing
import os
import threading
import time
import traceback
from collections import deque
from collections.abc import Callable, Iterable
from concurrent.futures import ProcessPoolExecutor, ThreadPoolExecutor
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any

from google.protobuf.json_format import MessageToDict

from logway.broker import Broker, Consumer, ensure_topic, group_position
from logway.errors import ClosedError, InvalidArgumentError, InvalidRecordError, LogwayError
from logway.functions import control
from logway.functions.batch import Batch, Window
from logway.functions.settings import MAX_WORKERS, FunctionSettings
from logway.partitioner import partition_for_key
from logway.recordbatch import codec
from logway.records import Message, Record, TopicPartition

log = logging.getLogger("logway.functions")

ASSIGNMENT_CHECK_S = 0.5  # how often a runner looks at its membership and its switch
SCALE_CHECK_S = 1.0  # how often it weighs its workers against the lag
IDLE_POLL_S = 0.5  # the longest a lane waits for records before checking for a stop
COMMIT_EVERY_S = 0.005  # a lane reading full batches hands its commits over this often
READ_AHEAD = 100  # the fewest records a lane asks its consumer for at once


@dataclass
class FunctionSpec:
    """A function of an app: its handler, the topic it reads and its settings."""

    name: str
    source: str
    handler: Callable[[Batch], Any]
    settings: FunctionSettings
    # a generated Protobuf message class: the handler gets records whose values are
    # decoded (``App.topic(..., value=Article)``); None: values as stored (bytes)
    value_type: Any = None

    @cached_property
    def is_async(self) -> bool:  # asked at every invocation
        return inspect.iscoroutinefunction(self.handler)


@dataclass
class FunctionStats:
    """What a running function has done, for status and metrics."""

    state: str = "starting"
    invocations: int = 0
    errors: int = 0
    records_in: int = 0
    records_filtered: int = 0
    records_dead_lettered: int = 0
    last_error: str | None = None
    durations: deque[float] = field(default_factory=lambda: deque(maxlen=1000))


class Workers:
    """How many handler invocations may run at once across a function's partitions:
    between ``min_workers`` and ``max_workers``, raised while the lag grows (as
    Lambda scales a Kafka mapping's pollers) and lowered once it is gone."""

    def __init__(self, low: int, high: int):
        self.low, self.high, self.limit = low, high, low
        self.active = 0
        self._changed = threading.Condition()

    def __enter__(self) -> None:
        with self._changed:
            while self.active >= self.limit:
                self._changed.wait()
            self.active += 1

    def __exit__(self, *exc: object) -> None:
        with self._changed:
            self.active -= 1
            self._changed.notify()

    def scale(self, lag: int, batch_size: int) -> None:
        with self._changed:
            if lag > self.limit * batch_size and self.limit < self.high:
                self.limit += 1
                self._changed.notify_all()
            elif lag < batch_size and self.limit > self.low:
                self.limit -= 1


class _Stopped(Exception):
    """The runner is stopping: leave the batch uncommitted, to be read again."""


class FunctionRunner:
    def __init__(self, broker: Broker, app_name: str, spec: FunctionSpec):
        self.broker = broker
        self.spec = spec
        self.settings = spec.settings
        self.group = f"{app_name}.{spec.name}"
        self.stats = FunctionStats()
        self._lanes: dict[TopicPartition, tuple[asyncio.Future[None], Lane]] = {}
        self.loop: asyncio.AbstractEventLoop | None = None
        self.enabled = spec.settings.enabled
        self.member: Consumer | None = None  # the group's member, for the assignment
        self._control_offset = 0
        self.processes: ProcessPoolExecutor | None = None  # workers="process"
        s = spec.settings
        self.workers = (
            Workers(s.min_workers, s.max_workers or MAX_WORKERS)
            if (s.max_workers is not None or s.min_workers > 1) and not s.queue
            else None
        )

    async def run(self, stopping: asyncio.Event) -> None:
        """Follow the group's assignment (and the function's on/off switch) until
        ``stopping`` is set, then let every lane finish its batch in flight and commit."""
        if self.settings.on_failure:
            ensure_topic(self.broker, self.settings.on_failure)
        control.ensure_topics(self.broker)
        self._follow_switch(starting=True)  # every command so far: the latest one stands
        self.loop = asyncio.get_running_loop()
        if self.settings.workers == "process":
            self.processes = ProcessPoolExecutor(mp_context=multiprocessing.get_context("spawn"))
        if self.settings.queue:
            await self._run_queue(stopping)
            return
        member = self.member = self.broker.consumer(self.spec.source, group=self.group)
        published, scaled = 0.0, time.monotonic()
        reported: tuple[Any, ...] = ()
        try:
            while not stopping.is_set():
                self._follow_switch()
                assigned = set(member.assignment()) if self.enabled else set()
                for tp in sorted(assigned - set(self._lanes)):
                    self._lanes[tp] = self._start_lane(tp)
                for tp in set(self._lanes) - assigned:
                    await self._stop_lane(tp)
                for tp, (task, _stop) in list(self._lanes.items()):
                    if task.done():  # a lane died: report and restart it
                        del self._lanes[tp]
                        if not task.cancelled() and task.exception() is not None:
                            self._failed("lane stopped", task.exception())
                if self.workers is not None and time.monotonic() - scaled >= SCALE_CHECK_S:
                    self._scale()
                    scaled = time.monotonic()
                self.stats.state = self._state()
                now = (self.stats.state, self.enabled, tuple(sorted(self._lanes)))
                changed = now != reported
                if changed or time.monotonic() - published >= control.STATUS_INTERVAL_S:
                    self.publish_status()
                    published, reported = time.monotonic(), now
                try:
                    await asyncio.wait_for(stopping.wait(), ASSIGNMENT_CHECK_S)
                except TimeoutError:
                    pass
        finally:
            for tp in list(self._lanes):
                await self._stop_lane(tp)
            member.close()
            if self.processes is not None:
                await asyncio.to_thread(self.processes.shutdown)
            self.stats.state = "stopped"
            self.publish_status()

    async def _run_queue(self, stopping: asyncio.Event) -> None:
        """``queue=True``: ``max_workers`` (else ``min_workers``) lanes on the function's
        queue while it is enabled (``logway.functions.queue_lane``)."""
        from logway.functions.queue_lane import QueueLane

        count = self.settings.max_workers or self.settings.min_workers
        lanes: dict[int, tuple[asyncio.Future[None], Any]] = {}
        published = 0.0
        try:
            while not stopping.is_set():
                self._follow_switch()
                for i in range(count if self.enabled else 0):
                    if i not in lanes:
                        lane = QueueLane(self, i)
                        lanes[i] = (self._run_lane(lane, f"logway-fn {self.group} queue {i}"), lane)
                for i, (task, lane) in list(lanes.items()):
                    if not self.enabled or task.done():
                        lane.stop()
                        del lanes[i]
                        try:
                            await task
                        except Exception as exc:
                            self._failed("lane stopped", exc)
                states = {lane.state for _, lane in lanes.values()}
                running = "retrying" if "retrying" in states else "running"
                self.stats.state = running if self.enabled else "disabled"
                if time.monotonic() - published >= control.STATUS_INTERVAL_S:
                    self.publish_status()
                    published = time.monotonic()
                try:
                    await asyncio.wait_for(stopping.wait(), ASSIGNMENT_CHECK_S)
                except TimeoutError:
                    pass
        finally:
            for _, lane in lanes.values():
                lane.stop()
            for task, _ in lanes.values():
                try:
                    await task
                except Exception as exc:
                    self._failed("lane stopped", exc)
            if self.processes is not None:
                await asyncio.to_thread(self.processes.shutdown)
            self.stats.state = "stopped"
            self.publish_status()

    def _state(self) -> str:
        """What the function does now: disabled, else the worst of its lanes
        (blocked, retrying), else running."""
        if not self.enabled:
            return "disabled"
        lanes = {lane.state for _, lane in self._lanes.values()}
        return next((s for s in ("blocked", "retrying") if s in lanes), "running")

    def _scale(self) -> None:
        assert self.workers is not None
        try:
            lag = sum(x.lag for x in self.broker.lag(self.group, self.spec.source))
        except LogwayError as exc:
            log.warning("%s: could not read its lag to scale: %s", self.group, exc)
            return
        before = self.workers.limit
        self.workers.scale(lag, self.settings.batch_size)
        if self.workers.limit != before:
            log.info("%s: %d workers (lag %d)", self.group, self.workers.limit, lag)

    def _follow_switch(self, starting: bool = False) -> None:
        """Apply the latest ``logway functions enable|disable`` command given since the
        last look; log the state it starts in, then each change."""
        commands, self._control_offset = control.read_all(
            self.broker, control.CONTROL_TOPIC, self._control_offset
        )
        enabled = self.enabled
        for key, command in commands:
            if key == self.group:
                enabled = bool(command.get("enabled", True))
        if starting and not enabled:
            log.info("%s: disabled; logway functions enable %s starts it", self.group, self.group)
        elif starting or enabled != self.enabled:
            log.info("%s: %s", self.group, "enabled" if enabled else "disabled")
        self.enabled = enabled

    def status(self) -> dict[str, Any]:
        """What this process's runner of the function has done so far."""
        s = self.stats
        durations = sorted(s.durations)

        def pct(q: float) -> float | None:
            if not durations:
                return None
            return round(durations[min(len(durations) - 1, int(len(durations) * q))] * 1000, 3)

        return {
            "function": self.group,
            "source": self.spec.source,
            "process": control.PROCESS,
            "state": s.state,
            "enabled": self.enabled,
            "partitions": sorted(tp.partition for tp in self._lanes),
            "workers": None if self.workers is None else self.workers.limit,
            "invocations": s.invocations,
            "errors": s.errors,
            "records_in": s.records_in,
            "records_filtered": s.records_filtered,
            "records_dead_lettered": s.records_dead_lettered,
            "last_error": s.last_error,
            "duration_ms_p50": pct(0.5),
            "duration_ms_p99": pct(0.99),
            "updated": int(time.time() * 1000),
        }

    def publish_status(self) -> None:
        try:
            self.broker.produce(control.STATUS_TOPIC, json.dumps(self.status()), key=self.group)
        except Exception as exc:  # figures are best effort; the function goes on
            log.warning("%s: could not publish its status: %s", self.group, exc)

    def _start_lane(self, tp: TopicPartition) -> tuple[asyncio.Future[None], Lane]:
        lane = Lane(self, tp)
        return self._run_lane(lane, f"logway-fn {self.group} {tp.topic}/{tp.partition}"), lane

    def _run_lane(self, lane: Any, name: str) -> asyncio.Future[None]:
        """``lane.run()`` in a thread of its own; the future ends with it."""
        assert self.loop is not None
        loop = self.loop
        finished: asyncio.Future[None] = loop.create_future()

        def run() -> None:
            try:
                lane.run()
            except BaseException as exc:
                loop.call_soon_threadsafe(_settle, finished, exc)
            else:
                loop.call_soon_threadsafe(_settle, finished, None)

        threading.Thread(target=run, name=name, daemon=True).start()
        return finished

    async def _stop_lane(self, tp: TopicPartition) -> None:
        task, lane = self._lanes.pop(tp)
        lane.stop()
        try:
            await task
        except Exception as exc:
            self._failed("lane stopped", exc)

    def _failed(self, what: str, exc: BaseException | None) -> None:
        self.stats.last_error = f"{type(exc).__name__}: {exc}"
        log.error("%s: %s: %s", self.group, what, self.stats.last_error)

    # --- starting positions -------------------------------------------------------

    def start_offset(self, tp: TopicPartition) -> int:
        """The group's committed offset, else ``starting_position``."""
        return group_position(
            self.broker, self.group, tp, self.settings.starting_position, self.commit
        )

    def commit(self, offsets: dict[TopicPartition, int]) -> None:
        """Commit through the group's member: a Kafka cluster takes a group's commits
        only from its members while it has any."""
        assert self.member is not None
        self.member.commit(offsets)

    def commit_soon(self, offsets: dict[TopicPartition, int]) -> None:
        """A batch's commit: without waiting for the cluster where the member can
        (a Kafka member commits in order, in the background), so that the next batch
        need not wait for it; a lane ends only once its commits are made."""
        assert self.member is not None
        commit_async = getattr(self.member, "commit_async", None)
        if commit_async is None:
            self.member.commit(offsets)
        else:
            commit_async(offsets)

    def flush_commits(self) -> None:
        flush = getattr(self.member, "flush_commits", None)
        if flush is not None:
            flush()


class Lane:
    """One partition of a function: read, batch, filter, invoke, retry, commit."""

    def __init__(self, runner: FunctionRunner, tp: TopicPartition):
        self.runner = runner
        self.tp = tp
        self.settings = runner.settings
        self.stats = runner.stats
        self.committed = -1
        self._pool: ThreadPoolExecutor | None = None  # with a parallelization factor
        self._stop = threading.Event()
        self._consumer = runner.broker.consumer(tp.topic, partitions=[tp], start="earliest")
        self.window: Window | None = None  # with tumbling_window: the open one
        self._troubles: dict[object, str] = {}  # deliveries retrying or blocked, now
        self._window_from = 0  # the offset its first record had
        self._next = 0  # the offset after the last record taken
        self._handed_at = 0.0  # when a commit was last handed over
        self._unsent = False  # committed holds an offset not handed over yet

    def stop(self) -> None:
        """Finish the batch in hand, commit it, and end (a waiting read ends at once)."""
        self._stop.set()
        self._consumer.close()

    def run(self) -> None:
        """The lane's thread: the same loop as a hand-written consume-and-commit one, so a
        batch costs no hop between threads (async handlers go to the runner's loop)."""
        consumer, stop = self._consumer, self._stop
        try:
            self.committed = self.runner.start_offset(self.tp)
            consumer.seek(self.tp, self.committed)
            pending: list[Record] = []
            while not stop.is_set():
                records, pending = self._next_batch(consumer, pending, stop)
                if records:
                    self._next = records[-1].offset + 1
                    full = len(records) >= self.settings.batch_size
                    done = self._process(records, stop)
                    # let the batch go before the next is read, not after: the next
                    # then reuses its memory, still in the CPU's caches, rather than
                    # new memory (two batches of 10,000 records do not fit there)
                    records = []
                    self._commit(done, more=full)
                    if not full:
                        self._hand_over_unsent()
                    continue
                self._hand_over_unsent()
                if self.window is not None and time.time() * 1000 >= self.window.end:
                    self._close_window(stop)  # nothing came to close it: time did
                    self._commit(self._next)
        except _Stopped:
            pass
        except ClosedError:
            if not stop.is_set():
                raise
        finally:
            try:
                self._hand_over_unsent()
                self.runner.flush_commits()
            finally:
                consumer.close()
                if self._pool is not None:
                    self._pool.shutdown()

    def _next_batch(
        self, consumer: Consumer, pending: list[Record], stop: threading.Event
    ) -> tuple[list[Record], list[Record]]:
        """A batch when the first of batch size, batching window or payload bytes is
        reached; never an empty one. Returns (batch, records left for the next). Small
        batches come from reads of ``READ_AHEAD`` records, the rest kept for the next
        batches: a read costs more than cutting a list (records read ahead and not
        handled are not committed, so a stop reads them again)."""
        s = self.settings
        wanted, most = s.batch_size, s.max_batch_bytes
        records = pending or consumer.poll(timeout=IDLE_POLL_S, max_records=max(wanted, READ_AHEAD))
        if not records:
            return [], []
        rest: list[Record] = []
        if len(records) > wanted:
            records, rest = records[:wanted], records[wanted:]
        size = codec.records_size(records)
        if len(records) < wanted and size < most:
            deadline = time.monotonic() + s.batching_window
            while len(records) < wanted and size < most:
                remaining = deadline - time.monotonic()
                if remaining <= 0 or stop.is_set():
                    break
                more = consumer.poll(
                    timeout=min(remaining, IDLE_POLL_S), max_records=wanted - len(records)
                )
                records += more
                size += codec.records_size(more)
        if size <= most:
            return records, rest
        take, size = 0, 0
        for r in records:
            n = codec.records_size([r])
            if take and size + n > most:
                break
            size += n
            take += 1
        return records[:take], records[take:] + rest

    def _process(self, records: list[Record], stop: threading.Event) -> int:
        """Handle a batch; returns the offset to commit once it is done."""
        s = self.settings
        self.stats.records_in += len(records)
        chosen = records
        if s.filters:
            typed = self.runner.spec.value_type
            chosen = [r for r in records if s.matcher.matches(filter_event(r, typed))]
            self.stats.records_filtered += len(records) - len(chosen)
        if s.tumbling_window is not None:
            return self._process_windows(records, chosen, stop)
        if chosen:
            if s.parallelization_factor > 1:
                lanes = _by_key(chosen, s.parallelization_factor)
                if self._pool is None:
                    self._pool = ThreadPoolExecutor(s.parallelization_factor)
                pool = self._pool
                for done in [pool.submit(self._deliver, lane, stop, False) for lane in lanes]:
                    done.result()
            else:
                self._deliver(chosen, stop, True)
        return records[-1].offset + 1

    def _process_windows(
        self, records: list[Record], chosen: list[Record], stop: threading.Event
    ) -> int:
        """Tumbling windows: invoke per window in order, carrying its state; close a
        window when a later one begins. Offsets are committed only up to the open
        window, so after a restart its records are read again and its state rebuilt."""
        assert self.settings.tumbling_window is not None
        size = int(self.settings.tumbling_window * 1000)
        if self.window is None:
            self._window_from = records[0].offset
        taken: dict[int, list[Record]] = {}
        wanted = {r.offset for r in chosen}
        for r in records:
            floor = self.window.start if self.window is not None else 0
            start = max(r.timestamp, floor) // size * size  # late records join the open one
            if self.window is None or start >= self.window.end:
                self._deliver_window(taken, stop)
                if self.window is not None:
                    self._close_window(stop)
                self.window = Window(start, start + size)
                self._window_from = r.offset
            if r.offset in wanted:
                taken.setdefault(self.window.start, []).append(r)
        self._deliver_window(taken, stop)
        return self._window_from

    def _deliver_window(self, taken: dict[int, list[Record]], stop: threading.Event) -> None:
        if self.window is not None and taken.get(self.window.start):
            self._deliver(taken.pop(self.window.start), stop, False)

    def _close_window(self, stop: threading.Event) -> None:
        """The final invocation of the open window (it may hold no records)."""
        assert self.window is not None
        self.window.is_final = True
        self._deliver([], stop, False)
        self.window = None

    @property
    def state(self) -> str:
        """blocked or retrying while one of its deliveries is, else running."""
        troubles = set(self._troubles.values())
        return next((s for s in ("blocked", "retrying") if s in troubles), "running")

    def _commit(self, offset: int, more: bool = False) -> None:
        """Hand a batch's commit over; with ``more`` (a full batch: the next is likely
        right behind it) at most every ``COMMIT_EVERY_S``, the rest with the next one
        (each hand-over costs the threads of a shared member a lock)."""
        if offset <= self.committed:
            return
        self.committed = offset
        now = time.monotonic()
        if more and now - self._handed_at < COMMIT_EVERY_S:
            self._unsent = True
            return
        self._handed_at, self._unsent = now, False
        self.runner.commit_soon({self.tp: offset})

    def _hand_over_unsent(self) -> None:
        if self._unsent:
            self._unsent = False
            self.runner.commit_soon({self.tp: self.committed})

    # --- invoking and retrying ----------------------------------------------------

    def _deliver(
        self,
        records: list[Record],
        stop: threading.Event,
        checkpoint: bool,
        traced: set[object] | None = None,
    ) -> None:
        """Hand ``records`` to the handler until they succeed or are dead-lettered.
        ``traced``: where the errors whose traceback was logged were raised, shared
        by the halves of a bisected batch, so that each traceback is logged once."""
        trouble = object()  # this delivery's key in the lane's troubles while it has one
        try:
            self._deliver_until_done(records, stop, checkpoint, trouble, traced or set())
        finally:
            self._troubles.pop(trouble, None)

    def _deliver_until_done(
        self,
        records: list[Record],
        stop: threading.Event,
        checkpoint: bool,
        trouble: object,
        traced: set[object],
    ) -> None:
        s = self.settings
        attempts = 0
        while True:
            error: BaseException
            try:
                failed, raised = self._invoke(records), None
            except Exception as exc:
                failed, raised = set(), exc
            # outside the except clause: a half's error must not chain this one
            if raised is not None:
                error = raised
                if s.bisect_on_error and len(records) > 1:
                    half = len(records) // 2
                    first, second = records[:half], records[half:]
                    then = (
                        f"; split into {first[0].offset}..{first[-1].offset} "
                        f"and {second[0].offset}..{second[-1].offset}"
                    )
                    self._log_failure(records, attempts + 1, error, traced, then)
                    self._deliver(records[:half], stop, checkpoint, traced)
                    self._deliver(records[half:], stop, checkpoint, traced)
                    return
                self._log_failure(records, attempts + 1, error, traced)
            elif not failed:
                return
            else:
                lowest = min(failed)
                if checkpoint:  # resume just before the lowest failed record
                    self._commit(lowest)
                records = [r for r in records if r.offset >= lowest]
                error = ItemFailures(sorted(failed))
                self._log_failure(records, attempts + 1, error, traced)
            attempts += 1
            if self._exhausted(records, attempts):
                if s.on_failure:
                    self._dead_letter(records, error, attempts)
                    return
                if self._troubles.get(trouble) != "blocked":
                    log.error(
                        "%s: %s/%d %s: retries exhausted and no on_failure topic; the "
                        "partition stays here, retrying, so that its order is kept",
                        self.runner.group,
                        self.tp.topic,
                        self.tp.partition,
                        _span(records),
                    )
                self._troubles[trouble] = "blocked"
            else:
                self._troubles[trouble] = "retrying"
            self._backoff(attempts, stop)

    def _invoke(self, records: list[Record]) -> set[int]:
        spec = self.runner.spec
        typed = records if spec.value_type is None else _decoded(records, spec.value_type)
        batch = Batch(spec.name, typed, self.tp, self.window)
        workers = self.runner.workers
        if workers is None:
            return self._invoke_now(records, batch)
        with workers:
            return self._invoke_now(records, batch)

    def _invoke_now(self, records: list[Record], batch: Batch) -> set[int]:
        spec = self.runner.spec
        started = time.perf_counter()
        self.stats.invocations += 1
        try:
            if spec.is_async:
                loop = self.runner.loop
                assert loop is not None
                running = asyncio.run_coroutine_threadsafe(spec.handler(batch), loop)
                result = running.result()
            elif self.runner.processes is not None:
                result = self.runner.processes.submit(spec.handler, batch).result()
            else:
                result = spec.handler(batch)
        except Exception:
            self.stats.errors += 1
            raise
        finally:
            self.stats.durations.append(time.perf_counter() - started)
        if self.window is not None and isinstance(result, dict):
            self.window.state = result  # what the next invocation of the window gets
        if not self.settings.report_item_failures or not result:
            return set()
        return _failed_offsets(result, records)

    def _exhausted(self, records: list[Record], attempts: int) -> bool:
        s = self.settings
        if s.retry_attempts is not None and attempts > s.retry_attempts:
            return True
        if s.max_record_age is not None and records:
            oldest = min(r.timestamp for r in records)
            return time.time() * 1000 - oldest > s.max_record_age * 1000
        return False

    def _backoff(self, attempts: int, stop: threading.Event) -> None:
        s = self.settings
        if stop.wait(min(s.retry_backoff * 2 ** (attempts - 1), s.retry_backoff_max)):
            raise _Stopped()

    def _log_failure(
        self,
        records: list[Record],
        attempt: int,
        exc: BaseException,
        traced: set[object],
        then: str = "",
    ) -> None:
        """One log line per failed attempt, never one per record; the first failure
        raised at a place also gets its traceback (the handler's frames)."""
        self.stats.last_error = f"{type(exc).__name__}: {exc}"
        trace = ""
        where = _raised_at(exc)
        if not isinstance(exc, ItemFailures) and where not in traced:
            traced.add(where)
            trace = "\n" + _handler_traceback(exc)
        log.warning(
            "%s: %s/%d %s failed (attempt %d): %s%s%s",
            self.runner.group,
            self.tp.topic,
            self.tp.partition,
            _span(records),
            attempt,
            self.stats.last_error,
            then,
            trace,
        )

    def _dead_letter(self, records: list[Record], error: BaseException, attempts: int) -> None:
        """Write the failed records to ``on_failure`` with where they came from and why."""
        topic = self.settings.on_failure
        assert topic is not None
        if not records:  # a window's final invocation: nothing to keep, the window ends
            log.warning("%s: gave up on the final invocation of a window", self.runner.group)
            return
        reason = (
            ("logway.error.type", type(error).__name__),
            ("logway.error.message", str(error)),
            ("logway.attempts", str(attempts)),
            ("logway.function", self.runner.group),
        )
        messages = [
            Message(
                r.value,
                r.key,
                (
                    *r.headers,
                    ("logway.source.topic", r.topic),
                    ("logway.source.partition", str(r.partition)),
                    ("logway.source.offset", str(r.offset)),
                    ("logway.source.timestamp", str(r.timestamp)),
                    *reason,
                ),
                None,
                r.timestamp,
            )
            for r in records
        ]
        self.runner.broker.produce_many(topic, messages)
        self.stats.records_dead_lettered += len(records)
        log.warning(
            "%s: %d records of %s/%d (offsets %d..%d) went to %s after %d attempts",
            self.runner.group,
            len(records),
            self.tp.topic,
            self.tp.partition,
            records[0].offset,
            records[-1].offset,
            topic,
            attempts,
        )


def _span(records: list[Record]) -> str:
    if not records:
        return "the final invocation of a window"
    return f"offsets {records[0].offset}..{records[-1].offset}"


def _raised_at(exc: BaseException) -> tuple[str, str, int | None]:
    """The exception's type and the line that raised it: what makes two failures
    the same one."""
    frames = traceback.extract_tb(exc.__traceback__)
    last = frames[-1] if frames else None
    return type(exc).__qualname__, last.filename if last else "", last.lineno if last else None


_CALLING_FILES = (__file__, os.path.dirname(concurrent.futures.__file__))


def _handler_traceback(exc: BaseException) -> str:
    """The traceback of ``exc`` without the frames that called the handler (this
    runner's, and a future's that waited on it)."""
    tb = exc.__traceback__
    while tb is not None and tb.tb_next is not None:
        if not tb.tb_frame.f_code.co_filename.startswith(_CALLING_FILES):
            break
        tb = tb.tb_next
    return "".join(traceback.format_exception(type(exc), exc, tb)).rstrip()


def _settle(future: asyncio.Future[None], exc: BaseException | None) -> None:
    if future.done():
        return
    if exc is None:
        future.set_result(None)
    else:
        future.set_exception(exc)


class ItemFailures(Exception):
    """The handler reported some records of its batch as failed."""

    def __init__(self, offsets: list[int]):
        super().__init__(f"the handler reported offsets {offsets} as failed")
        self.offsets = offsets


def _decoded(records: list[Record], value_type: Any) -> list[Record]:
    """The records with their values decoded as ``value_type`` (in the schema
    registry's wire format or not). One that does not decode fails the invocation
    (``InvalidRecordError``): retried, bisected and sent to ``on_failure`` as stored,
    as any failing record is."""
    out = []
    for r in records:
        try:
            value = None if r.value is None else r.decode(value_type)
        except Exception as exc:
            raise InvalidRecordError(
                f"{r.topic}/{r.partition}@{r.offset} does not decode as "
                f"{getattr(value_type, '__name__', value_type)}: {exc}"
            ) from None
        out.append(r._replace(value=value))
    return out


def filter_event(record: Record, value_type: Any = None) -> dict[str, Any]:
    """What filters match: the record's metadata, and ``value`` when it is JSON (as
    Lambda's Kafka filtering nests the value; a non-JSON value never matches) or, for
    a typed topic, the decoded message as a dict (field names as in the schema); a
    value that does not decode is matched as a record without one."""
    event: dict[str, Any] = {
        "topic": record.topic,
        "partition": record.partition,
        "offset": record.offset,
        "timestamp": record.timestamp,
        "headers": {k: _text(v) for k, v in record.headers},
    }
    if record.key is not None:
        event["key"] = _text(record.key)
    if record.value is not None and value_type is not None:
        try:
            event["value"] = MessageToDict(
                record.decode(value_type), preserving_proto_field_name=True
            )
        except Exception:
            pass
    elif record.value is not None:
        try:
            event["value"] = json.loads(record.value)
        except ValueError:
            pass
    return event


def _text(data: bytes | None) -> str | None:
    if data is None:
        return None
    try:
        return data.decode()
    except UnicodeDecodeError:
        return None


def _failed_offsets(result: Any, records: list[Record]) -> set[int]:
    """The offsets a handler reported as failed: offsets, records, or Lambda's
    ``{"batchItemFailures": [{"itemIdentifier": offset}]}``."""
    if isinstance(result, dict):
        result = [item.get("itemIdentifier") for item in result.get("batchItemFailures", [])]
    if not isinstance(result, Iterable) or isinstance(result, str | bytes):
        raise InvalidArgumentError(
            f"with report_item_failures the handler returns the failed offsets, not {result!r}"
        )
    offsets = {r.offset for r in records}
    failed = set()
    for item in result:
        offset = item.offset if isinstance(item, Record) else item
        if isinstance(offset, str) and offset.isdigit():
            offset = int(offset)
        if offset not in offsets:
            raise InvalidArgumentError(
                f"the handler reported {item!r} as failed, which is not an offset of its batch"
            )
        failed.add(offset)
    return failed


def _by_key(records: list[Record], lanes: int) -> list[list[Record]]:
    """Records split into ``lanes`` by key (Kafka's partitioner), keyless ones spread
    by offset: the order of each key is kept within its lane."""
    out: list[list[Record]] = [[] for _ in range(lanes)]
    for r in records:
        i = r.offset % lanes if r.key is None else partition_for_key(r.key, lanes)
        out[i].append(r)
    return [lane for lane in out if lane]


async def run_functions(
    broker: Broker, app_name: str, specs: list[FunctionSpec], stopping: asyncio.Event
) -> list[FunctionRunner]:
    """Run every function until ``stopping`` is set; a disabled one waits for
    ``logway functions enable``."""
    runners = [FunctionRunner(broker, app_name, s) for s in specs]
    await asyncio.gather(*(r.run(stopping) for r in runners))
    return runners
