"""The settings of an event source mapping, checked when the app is declared.

Names are Pythonic; meanings, defaults and limits are AWS Lambda's for Kafka and
Kinesis event source mappings (``BatchSize``, ``MaximumBatchingWindowInSeconds``,
``StartingPosition``, ``MaximumRetryAttempts``, ``MaximumRecordAgeInSeconds``,
``BisectBatchOnFunctionError``, ``FunctionResponseTypes``, ``DestinationConfig``,
``ParallelizationFactor``, ``TumblingWindowInSeconds``, ``FilterCriteria``).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Any, Literal

from logway.broker import check_starting_position
from logway.errors import InvalidArgumentError
from logway.functions.patterns import Filter, compile_filters
from logway.names import validate_topic_name
from logway.units import parse_seconds, parse_size

StartingPosition = Literal["latest", "earliest"] | dt.datetime | int

MAX_BATCH_SIZE = 10_000
MAX_WINDOW_S = 300.0
MAX_BATCH_BYTES = 6 * 1024 * 1024  # Lambda's invocation payload limit
MAX_RETRIES = 10_000
MIN_RECORD_AGE_S, MAX_RECORD_AGE_S = 60.0, 604_800.0
MAX_PARALLELIZATION = 10
MAX_FILTERS = 10
MAX_WORKERS = 1000
MAX_TUMBLING_WINDOW_S = 900.0
MIN_VISIBILITY_S, MAX_VISIBILITY_S = 0.001, 43_200.0  # SQS: up to 12 hours


@dataclass(frozen=True)
class FunctionSettings:
    starting_position: StartingPosition = "latest"
    batch_size: int = 100
    batching_window: float = 0.0  # seconds
    max_batch_bytes: int = MAX_BATCH_BYTES
    filters: tuple[Any, ...] = ()
    retry_attempts: int | None = None  # None: until success or the record expires
    max_record_age: float | None = None  # seconds; None: records never expire
    retry_backoff: float = 1.0  # seconds before the first retry, doubling
    retry_backoff_max: float = 60.0
    bisect_on_error: bool = False
    report_item_failures: bool = False
    on_failure: str | None = None  # a topic for records that exhausted their retries
    parallelization_factor: int = 1
    tumbling_window: float | None = None  # seconds
    enabled: bool = True
    workers: Literal["thread", "process"] = "thread"  # where sync handlers run
    min_workers: int = 1  # handler invocations at once across partitions, scaled with lag
    max_workers: int | None = None  # None: one per partition
    queue: bool = False  # records from broker.queue(source, group): see functions/queue_lane.py
    visibility_timeout: float | None = None  # seconds a queue's batch is held; None: 30 s
    matcher: Filter = field(default=compile_filters([]), compare=False, repr=False)

    @classmethod
    def build(cls, **options: Any) -> FunctionSettings:
        """Check every option and convert sizes and durations; ``InvalidArgumentError``
        names the option, the value and the allowed range."""
        known = set(cls.__dataclass_fields__) - {"matcher"}
        unknown = sorted(set(options) - known)
        if unknown:
            raise InvalidArgumentError(
                f"unknown function settings {unknown}; known: {', '.join(sorted(known))}"
            )
        o = dict(options)
        check_starting_position(o.get("starting_position", "latest"))
        o["batch_size"] = _int(o, "batch_size", 100, 1, MAX_BATCH_SIZE)
        o["batching_window"] = _seconds(o, "batching_window", 0.0, 0.0, MAX_WINDOW_S)
        size = o.get("max_batch_bytes", MAX_BATCH_BYTES)
        o["max_batch_bytes"] = parse_size(size, "max_batch_bytes")
        if not 1 <= o["max_batch_bytes"] <= MAX_BATCH_BYTES:
            raise InvalidArgumentError(
                f"max_batch_bytes must be 1 B to 6 MB (Lambda's payload limit), not {size!r}"
            )
        filters = o.get("filters") or ()
        if isinstance(filters, dict | str):
            filters = (filters,)
        if len(filters) > MAX_FILTERS:
            raise InvalidArgumentError(f"at most {MAX_FILTERS} filters, not {len(filters)}")
        o["filters"] = tuple(filters)
        o["matcher"] = compile_filters(list(filters))
        if o.get("retry_attempts") is not None:
            o["retry_attempts"] = _int(o, "retry_attempts", 0, 0, MAX_RETRIES)
        if o.get("max_record_age") is not None:
            o["max_record_age"] = _seconds(
                o, "max_record_age", 0.0, MIN_RECORD_AGE_S, MAX_RECORD_AGE_S
            )
        o["retry_backoff"] = _seconds(o, "retry_backoff", 1.0, 0.0, 3600.0)
        o["retry_backoff_max"] = _seconds(o, "retry_backoff_max", 60.0, 0.0, 3600.0)
        for flag in ("bisect_on_error", "report_item_failures", "enabled"):
            if flag in o and not isinstance(o[flag], bool):
                raise InvalidArgumentError(f"{flag} must be True or False, not {o[flag]!r}")
        if o.get("workers", "thread") not in ("thread", "process"):
            raise InvalidArgumentError(
                f"workers must be 'thread' or 'process', not {o['workers']!r}"
            )
        o["min_workers"] = _int(o, "min_workers", 1, 1, MAX_WORKERS)
        if o.get("max_workers") is not None:
            o["max_workers"] = _int(o, "max_workers", 1, o["min_workers"], MAX_WORKERS)
        if o.get("on_failure") is not None:
            validate_topic_name(o["on_failure"])
        o["parallelization_factor"] = _int(o, "parallelization_factor", 1, 1, MAX_PARALLELIZATION)
        if o.get("tumbling_window") is not None:
            o["tumbling_window"] = _seconds(o, "tumbling_window", 0.0, 1.0, MAX_TUMBLING_WINDOW_S)
            if o.get("report_item_failures") or o.get("parallelization_factor", 1) > 1:
                raise InvalidArgumentError(
                    "tumbling_window carries one state through a window's batches in order; "
                    "it does not combine with report_item_failures or parallelization_factor"
                )
        if o.get("queue", False) not in (True, False):
            raise InvalidArgumentError(f"queue must be True or False, not {o['queue']!r}")
        if o.get("visibility_timeout") is not None:
            if not o.get("queue"):
                raise InvalidArgumentError(
                    "visibility_timeout is how long a queue holds a batch; it needs queue=True"
                )
            o["visibility_timeout"] = _seconds(
                o, "visibility_timeout", 30.0, MIN_VISIBILITY_S, MAX_VISIBILITY_S
            )
        if o.get("queue"):
            _check_queue(o)
        return cls(**o)


def _check_queue(o: dict[str, Any]) -> None:
    """A function on a queue takes records in any order from any partition: settings
    that need a partition's order or a position in it do not apply."""
    if o.get("starting_position", "latest") not in ("earliest", "latest"):
        raise InvalidArgumentError(
            "a function on a queue starts at 'earliest' or 'latest', not "
            f"{o['starting_position']!r}"
        )
    for name in ("tumbling_window", "max_record_age"):
        if o.get(name) is not None:
            raise InvalidArgumentError(f"{name} needs a partition's order; not with queue=True")
    for flag in ("bisect_on_error",):
        if o.get(flag):
            raise InvalidArgumentError(f"{flag} does not combine with queue=True")
    if o.get("parallelization_factor", 1) > 1:
        raise InvalidArgumentError(
            "with queue=True, max_workers says how many batches run at once, not "
            "parallelization_factor"
        )


def _int(o: dict[str, Any], name: str, default: int, low: int, high: int) -> int:
    value = o.get(name, default)
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        raise InvalidArgumentError(f"{name} must be an integer from {low} to {high}, not {value!r}")
    return value


def _seconds(o: dict[str, Any], name: str, default: float, low: float, high: float) -> float:
    """A duration given as seconds (int/float) or text ("500ms", "5s", "2m")."""
    return parse_seconds(o.get(name, default), name, low, high)
