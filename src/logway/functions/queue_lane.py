"""A function on a queue (``app.function(source, queue=True)``): ``QueueLane``.

Instead of one lane per assigned partition reading in order, each lane takes batches
from ``broker.queue(source, "<app>.<function>")``, so a function runs on as many lanes
(``max_workers``, default ``min_workers``: 1) and processes as it is given, however
many partitions its source has. A batch that succeeds is acknowledged; a failed one
is released after ``retry_backoff`` (doubling with its delivery count) and delivered
again, to any lane; a record's last attempt (``retry_attempts`` + 1, default 5
deliveries) that fails is rejected to the ``on_failure`` topic (``SOURCE-dlq`` without
one) with the error as its ``logway.reason`` header. With ``report_item_failures``
only the failed records are released (a batch spanning partitions is then invoked once
per partition, since an ``itemIdentifier`` is an offset). Order is not kept (a queue's
records go to any consumer). A batch still running when its visibility timeout
(``visibility_timeout``, default 30 s) passes goes back to the queue; its settling then
fails and is logged, and the records run again — as they do, once that timeout passes,
when the process running the function dies holding them.
"""

from __future__ import annotations

import logging
import threading
from typing import TYPE_CHECKING, Any

from logway.errors import ClosedError, DeliveryExpiredError
from logway.functions.batch import Batch
from logway.records import Record

if TYPE_CHECKING:
    from logway.functions.runner import FunctionRunner

log = logging.getLogger("logway.functions")

IDLE_WAIT_S = 0.5  # the longest a receive waits before the lane looks for a stop
DEFAULT_MAX_RECEIVES = 5


def queue_settings(runner: FunctionRunner) -> dict[str, Any]:
    """The queue a function reads: its start, attempts, visibility timeout and
    dead-letter topic."""
    s = runner.settings
    attempts = DEFAULT_MAX_RECEIVES if s.retry_attempts is None else s.retry_attempts + 1
    settings: dict[str, Any] = {
        "start": s.starting_position,
        "max_receives": attempts,
        "dead_letter": s.on_failure,
    }
    if s.visibility_timeout is not None:
        settings["visibility_timeout"] = f"{round(s.visibility_timeout * 1000)}ms"
    return settings


class QueueLane:
    """One loop taking batches from the function's queue and invoking its handler
    through the same path as a partition's lane (``Lane._invoke_now``)."""

    def __init__(self, runner: FunctionRunner, index: int):
        from logway.functions.runner import Lane

        self.runner = runner
        self.index = index
        self.settings = runner.settings
        self.stats = runner.stats
        self._stop = threading.Event()
        self.queue = runner.broker.queue(runner.spec.source, runner.group, **queue_settings(runner))
        self.state = "running"
        # the partition lane's invoke path, without a partition of its own
        self._lane = Lane.__new__(Lane)
        self._lane.runner, self._lane.settings, self._lane.stats = runner, self.settings, self.stats
        self._lane.window = None

    def stop(self) -> None:
        """Finish the batch in hand, settle it, and end."""
        self._stop.set()

    def run(self) -> None:
        try:
            while not self._stop.is_set():
                deliveries = self.queue.receive(
                    max_records=self.settings.batch_size, timeout=IDLE_WAIT_S
                )
                if deliveries and self.settings.report_item_failures:
                    # one invocation per partition: an itemIdentifier (an offset) names
                    # one record only within a partition
                    parts: dict[int, list[Any]] = {}
                    for d in deliveries:
                        parts.setdefault(d.record.partition, []).append(d)
                    for part in parts.values():
                        self._process(part)
                elif deliveries:
                    self._process(deliveries)
        except ClosedError:
            if not self._stop.is_set():
                raise
        finally:
            self.queue.close()

    def _process(self, deliveries: list[Any]) -> None:
        s = self.settings
        self.stats.records_in += len(deliveries)
        chosen = deliveries
        if s.filters:
            typed = self.runner.spec.value_type
            from logway.functions.runner import filter_event

            chosen = [d for d in deliveries if s.matcher.matches(filter_event(d.record, typed))]
            self.stats.records_filtered += len(deliveries) - len(chosen)
        failed: list[Any] = []
        error: BaseException | None = None
        if chosen:
            records = [d.record for d in chosen]
            try:
                offsets = self._invoke(records)
                failed = [d for d in chosen if _key(d.record) in offsets]
            except Exception as exc:
                failed, error = chosen, exc
        failing = {id(d) for d in failed}
        done = [d for d in deliveries if id(d) not in failing]
        try:
            if done:
                self.queue.ack(done)
            if failed:
                self._failed(failed, error)
        except DeliveryExpiredError as exc:
            log.warning(
                "%s: a batch outlived its visibility timeout; its records run again: %s",
                self.runner.group,
                exc,
            )

    def _invoke(self, records: list[Record]) -> set[tuple[int, int]]:
        """The (partition, offset) of the records the handler reported failed."""
        spec = self.runner.spec
        from logway.functions.runner import _decoded

        typed = records if spec.value_type is None else _decoded(records, spec.value_type)
        failed = self._lane._invoke_now(records, Batch(spec.name, typed))
        return {(r.partition, r.offset) for r in records if r.offset in failed}

    def _failed(self, failed: list[Any], error: BaseException | None) -> None:
        """Release for another attempt after the backoff, or reject on the last one."""
        s = self.settings
        reason = "item failure" if error is None else f"{type(error).__name__}: {error}"
        self.stats.last_error = reason
        limit = queue_settings(self.runner)["max_receives"]
        last = [d for d in failed if d.delivery_count >= limit]
        again = [d for d in failed if d.delivery_count < limit]
        log.warning(
            "%s: %d records of %s failed (deliveries %d..%d): %s",
            self.runner.group,
            len(failed),
            self.runner.spec.source,
            min(d.delivery_count for d in failed),
            max(d.delivery_count for d in failed),
            reason,
        )
        if last:
            self.queue.reject(last, reason)
            self.stats.records_dead_lettered += len(last)
        if again:
            count = max(d.delivery_count for d in again)
            self.state = "retrying"
            self._stop.wait(min(s.retry_backoff * 2 ** (count - 1), s.retry_backoff_max))
            self.queue.release(again)
            self.state = "running"


def _key(record: Record) -> tuple[int, int]:
    return (record.partition, record.offset)
