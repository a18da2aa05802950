"""``GET /metrics``: the server's figures in the Prometheus text format (0.0.4):
the functions it runs (invocations, errors, records, durations, lag), its delivery
streams (records, objects, bytes, what is buffered, lag), windows and continuous queries,
schedules (ticks published and skipped, last and next tick), notifications (sent, failed,
retries, in flight, lag), the queues it holds (for its clients and for queue functions:
deliveries, acknowledged and dead-lettered records, in flight, available again, lag) and
the end offset of every topic.

With ``logway serve --auth`` a scrape needs credentials allowed ``describe`` on the
cluster (``logway acls add --allow User:prometheus -o describe --cluster``), best an API
token (``logway tokens create -u prometheus -n scrape``) sent as ``Authorization: Bearer
lw_…``; in Prometheus's scrape config::

    authorization:
      credentials_file: /etc/prometheus/logway-token   # or credentials: lw_…
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from logway.broker import Broker
from logway.delivery.runner import DeliveryRunner
from logway.errors import LogwayError
from logway.functions.runner import FunctionRunner

COUNTERS = (
    ("invocations", "handler invocations"),
    ("errors", "handler invocations that raised"),
    ("records_in", "records read"),
    ("records_filtered", "records no filter matched (skipped and committed)"),
    ("records_dead_lettered", "records written to the on_failure topic"),
)
DELIVERY_COUNTERS = (
    ("records_in", "records flushed"),
    ("records_delivered", "records written to the destination"),
    ("records_dropped", "records the transform dropped"),
    ("records_failed", "records written under the error prefix"),
    ("objects", "objects written"),
    ("bytes", "bytes of objects written"),
)


def _labels(**labels: Any) -> str:
    def escape(value: Any) -> str:
        return str(value).replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")

    return "{" + ",".join(f'{k}="{escape(v)}"' for k, v in labels.items()) + "}"


def _lags(broker: Broker, kind: str, groups: list[tuple[str, str]]) -> list[str]:
    """``logway_<kind>_lag`` lines of each (group, topic), per partition."""
    lines = []
    for group, topic in groups:
        try:
            lags = broker.lag(group, topic)
        except LogwayError:
            continue
        for x in lags:
            labels = _labels(**{kind: group}, topic=x.topic, partition=x.partition)
            lines.append(f"logway_{kind}_lag{labels} {x.lag}")
    return lines


WINDOW_COUNTERS = [
    ("records_in", "records a window read"),
    ("results", "window results produced"),
    ("late", "records too late for any open window, sent to the late topic"),
    ("errors", "records that could not be read as rows, sent to the error topic"),
]
WINDOW_GAUGES = [
    ("open_windows", "windows open in memory (for sliding windows: records kept)"),
    ("open_keys", "keys with an open window"),
    ("held_rows", "rows a continuous query holds in open windows (bounded by its max_held)"),
]
NOTIFY_COUNTERS = [  # (metric field, status field, help)
    ("sent", "delivered", "records the target accepted"),
    ("failed", "failed", "records that could not be sent, parked on the on_failure topic"),
    ("retries", "retries", "attempts made again after a retryable failure"),
    ("skipped", "skipped", "records no filter matched, or that shape turned into None"),
]
QUEUE_COUNTERS = [  # (metric field, status field, help)
    ("deliveries", "delivered", "records delivered to a consumer (each redelivery counts)"),
    ("records_acked", "acked", "records acknowledged: never delivered again"),
    ("records_dead_lettered", "dead_lettered", "records sent to the dead-letter topic"),
]
QUEUE_GAUGES = [
    ("records_in_flight", "in_flight", "records delivered and not yet settled"),
    ("records_available_again", "available_again", "records delivered before, back in the queue"),
]


def _epoch(t: datetime | None) -> str | None:
    """Seconds since the epoch, exactly (``:g`` would round to six digits)."""
    return None if t is None else f"{t.timestamp():.17g}"


def render(
    broker: Broker,
    runners: Sequence[FunctionRunner],
    deliveries: Sequence[DeliveryRunner] = (),
    windows: Sequence[Any] = (),
    *,
    schedules: Sequence[Any] = (),
    notifications: Sequence[Any] = (),
) -> str:
    """The figures of ``runners`` (functions), ``deliveries``, ``windows`` (WindowRunner,
    SqlRunner), ``schedules`` (ScheduleRunner), ``notifications`` (NotifyRunner), the
    queues ``broker`` holds in this process, and every topic's end offsets."""
    out: list[str] = []

    def family(name: str, kind: str, help_text: str) -> None:
        out.append(f"# HELP {name} {help_text}")
        out.append(f"# TYPE {name} {kind}")

    statuses = [r.status() for r in runners]
    for field, help_text in COUNTERS:
        family(f"logway_function_{field}_total", "counter", help_text)
        for s in statuses:
            out.append(f"logway_function_{field}_total{_labels(function=s['function'])} {s[field]}")
    family("logway_function_enabled", "gauge", "1 when the function is switched on")
    for s in statuses:
        out.append(f"logway_function_enabled{_labels(function=s['function'])} {int(s['enabled'])}")
    family("logway_function_duration_seconds", "summary", "handler duration, recent invocations")
    for s in statuses:
        for q, key in (("0.5", "duration_ms_p50"), ("0.99", "duration_ms_p99")):
            if s[key] is not None:
                labels = _labels(function=s["function"], quantile=q)
                out.append(f"logway_function_duration_seconds{labels} {s[key] / 1000:g}")
    family("logway_function_lag", "gauge", "records not yet committed, per partition")
    out += _lags(broker, "function", [(r.group, r.spec.source) for r in runners])
    deliveries_now = [d.status() for d in deliveries]
    for field, help_text in DELIVERY_COUNTERS:
        family(f"logway_delivery_{field}_total", "counter", help_text)
        for d in deliveries_now:
            labels = _labels(delivery=d["delivery"])
            out.append(f"logway_delivery_{field}_total{labels} {d[field]}")
    family("logway_delivery_records_buffered", "gauge", "records read and not yet flushed")
    for d in deliveries_now:
        out.append(
            f"logway_delivery_records_buffered{_labels(delivery=d['delivery'])} {d['buffered']}"
        )
    family("logway_delivery_lag", "gauge", "records not yet delivered, per partition")
    out += _lags(broker, "delivery", [(d.group, d.spec.source) for d in deliveries])
    window_states = [w.status() for w in windows]  # WindowRunner, SqlRunner
    for field, help_text in WINDOW_COUNTERS:
        family(f"logway_window_{field}_total", "counter", help_text)
        for w in window_states:
            out.append(f"logway_window_{field}_total{_labels(window=w['window'])} {w[field]}")
    for field, help_text in WINDOW_GAUGES:
        family(f"logway_window_{field}", "gauge", help_text)
        for w in window_states:
            if field in w:  # a window has open keys, a continuous query held rows
                out.append(f"logway_window_{field}{_labels(window=w['window'])} {w[field]}")
    family("logway_window_lag", "gauge", "records not yet checkpointed, per partition")
    out += _lags(broker, "window", [(w.group, w.spec.source) for w in windows])
    _schedules(out, schedules)
    _notifications(out, broker, notifications)
    _queues(out, broker)
    family("logway_topic_end_offset", "gauge", "the offset the next record will get")
    for topic in broker.list_topics():
        try:
            ends = broker.end_offsets(topic)
        except LogwayError:  # deleted meanwhile
            continue
        for p, end in sorted(ends.items()):
            out.append(f"logway_topic_end_offset{_labels(topic=topic, partition=p)} {end}")
    return "\n".join(out) + "\n"


def _family(out: list[str], name: str, kind: str, help_text: str) -> None:
    out.append(f"# HELP {name} {help_text}")
    out.append(f"# TYPE {name} {kind}")


def _schedules(out: list[str], schedules: Sequence[Any]) -> None:
    """A schedule's ticks published and skipped (``catch_up``) by this process, and
    its last and next tick (known once this process has held it)."""
    states = [(s.group, s.status(), s.last, s.next) for s in schedules]
    _family(out, "logway_schedule_ticks_total", "counter", "ticks published")
    for name, st, _, _ in states:
        out.append(f"logway_schedule_ticks_total{_labels(schedule=name)} {st['ticks']}")
    metric = "logway_schedule_ticks_skipped_total"
    _family(out, metric, "counter", "ticks missed while nothing ran, skipped by catch_up")
    for name, st, _, _ in states:
        out.append(f"{metric}{_labels(schedule=name)} {st['skipped']}")
    for which, i in (("last", 2), ("next", 3)):
        metric = f"logway_schedule_{which}_tick_timestamp_seconds"
        _family(out, metric, "gauge", f"the {which} tick's scheduled time (Unix seconds)")
        for state in states:
            value = _epoch(state[i])
            if value is not None:
                out.append(f"{metric}{_labels(schedule=state[0])} {value}")


def _notifications(out: list[str], broker: Broker, notifications: Sequence[Any]) -> None:
    states = [n.status() for n in notifications]
    for field, key, help_text in NOTIFY_COUNTERS:
        metric = f"logway_notification_{field}_total"
        _family(out, metric, "counter", help_text)
        for st in states:
            out.append(f"{metric}{_labels(notification=st['notify'])} {st[key]}")
    metric = "logway_notification_in_flight"
    _family(out, metric, "gauge", "records being sent now")
    for st in states:
        out.append(f"{metric}{_labels(notification=st['notify'])} {st['in_flight']}")
    _family(out, "logway_notification_lag", "gauge", "records not yet committed, per partition")
    out += _lags(broker, "notification", [(n.group, n.spec.source) for n in notifications])


def _queues(out: list[str], broker: Broker) -> None:
    """The queues this process holds: a server's for its clients, queue functions'."""
    open_queues = getattr(broker, "open_queues", None)
    states = [q.status() for q in (open_queues() if open_queues is not None else [])]
    for field, key, help_text in QUEUE_COUNTERS:
        metric = f"logway_queue_{field}_total"
        _family(out, metric, "counter", help_text)
        for st in states:
            out.append(f"{metric}{_labels(queue=st['queue'], topic=st['topic'])} {st[key]}")
    for field, key, help_text in QUEUE_GAUGES:
        metric = f"logway_queue_{field}"
        _family(out, metric, "gauge", help_text)
        for st in states:
            out.append(f"{metric}{_labels(queue=st['queue'], topic=st['topic'])} {st[key]}")
    _family(
        out,
        "logway_queue_lag",
        "gauge",
        "records from the queue's start offset (all below it are settled) to the end offset, "
        "per partition",
    )
    for st in states:
        try:
            ends = broker.end_offsets(st["topic"])
        except LogwayError:  # deleted meanwhile
            continue
        for p, start in sorted(st["start_offsets"].items()):
            labels = _labels(queue=st["queue"], topic=st["topic"], partition=p)
            out.append(f"logway_queue_lag{labels} {max(0, ends.get(p, start) - start)}")
