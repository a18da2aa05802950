"""``GET /metrics``: the server's figures in the Prometheus text format (0.0.4):
the functions it runs (invocations, errors, records, durations, lag), its delivery
streams (records, objects, bytes, what is buffered, lag) and the end offset of every
topic.

With ``logway serve --auth`` a scrape needs credentials allowed ``describe`` on the
cluster (``logway acls add --allow User:prometheus -o describe --cluster``), best an API
token (``logway tokens create -u prometheus -n scrape``) sent as ``Authorization: Bearer
lw_…``; in Prometheus's scrape config::

    authorization:
      credentials_file: /etc/prometheus/logway-token   # or credentials: lw_…
"""

from __future__ import annotations

from collections.abc import Sequence
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


def render(
    broker: Broker,
    runners: Sequence[FunctionRunner],
    deliveries: Sequence[DeliveryRunner] = (),
    windows: Sequence[Any] = (),
) -> str:
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
    family("logway_topic_end_offset", "gauge", "the offset the next record will get")
    for topic in broker.list_topics():
        try:
            ends = broker.end_offsets(topic)
        except LogwayError:  # deleted meanwhile
            continue
        for p, end in sorted(ends.items()):
            out.append(f"logway_topic_end_offset{_labels(topic=topic, partition=p)} {end}")
    return "\n".join(out) + "\n"
