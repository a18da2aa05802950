"""Functions' switches and figures, kept in two topics of the log itself, so that they
reach every process running an app, on every backend:

- ``__logway_functions``: commands keyed by function (``<app>.<function>``), JSON
  ``{"enabled": false}``; the latest for a function wins, and runners follow it.
- ``__logway_function_status``: what each running function has done, published every
  few seconds by each process (keyed ``<app>.<function>``); ``logway functions list``
  shows the latest per function and process still running. A process that stops
  cleanly publishes ``"state": "stopped"`` last, which takes it off the list; one
  that was killed stops publishing: it shows as silent, then expires.
"""

from __future__ import annotations

import json
import os
import socket
import time
from typing import Any

from logway.broker import Broker, ensure_topic

CONTROL_TOPIC = "__logway_functions"
STATUS_TOPIC = "__logway_function_status"
STATUS_RETENTION = "1d"
STATUS_INTERVAL_S = 5.0  # how often a running function publishes its status
SILENT_AFTER_S = 3 * STATUS_INTERVAL_S  # no status since: the process stopped reporting
EXPIRED_AFTER_S = 300.0  # no status since: the process is gone (killed), off the list
PROCESS = f"{socket.gethostname()}:{os.getpid()}"


def ensure_topics(broker: Broker) -> None:
    ensure_topic(broker, CONTROL_TOPIC)
    ensure_topic(broker, STATUS_TOPIC, retention_ms=STATUS_RETENTION)


def set_enabled(broker: Broker, function: str, enabled: bool) -> None:
    """Switch a function on or off in every process that runs it; its position stays."""
    ensure_topics(broker)
    command = {"enabled": enabled, "at": int(time.time() * 1000), "by": PROCESS}
    broker.produce(CONTROL_TOPIC, json.dumps(command), key=function)


def read_all(broker: Broker, topic: str, start: int = 0) -> tuple[list[tuple[str, Any]], int]:
    """Every (key, JSON value) of a one-partition topic from ``start`` on, and the
    offset after them. Records that are not JSON are skipped."""
    if topic not in broker.list_topics():
        return [], start
    first = broker.start_offsets(topic)[0]
    offset = max(start, first)
    end = broker.end_offsets(topic)[0]
    out: list[tuple[str, Any]] = []
    while offset < end:
        records = broker.fetch(topic, 0, offset, max_records=1000)
        if not records:
            break
        for r in records:
            try:
                out.append(((r.key or b"").decode(), json.loads(r.value or b"")))
            except ValueError:
                pass
        offset = records[-1].offset + 1
    return out, offset


def latest_commands(broker: Broker) -> dict[str, bool]:
    """The latest enabled/disabled command of each function."""
    commands, _ = read_all(broker, CONTROL_TOPIC)
    return {key: bool(value.get("enabled", True)) for key, value in commands}


def latest_status(broker: Broker) -> dict[tuple[str, str], dict[str, Any]]:
    """The latest status of each (function, process)."""
    statuses, _ = read_all(broker, STATUS_TOPIC)
    return {(key, value.get("process", "")): value for key, value in statuses}


def running_status(broker: Broker, now_ms: int) -> dict[tuple[str, str], dict[str, Any]]:
    """The latest status of each (function, process) that still runs: not stopped,
    and heard from within ``EXPIRED_AFTER_S``."""
    return {
        key: status
        for key, status in latest_status(broker).items()
        if status.get("state") != "stopped" and not is_expired(status, now_ms)
    }


def silent_for(status: dict[str, Any], now_ms: int) -> float:
    """Seconds since the process published ``status``."""
    return max(0.0, (now_ms - int(status.get("updated", 0))) / 1000)


def is_expired(status: dict[str, Any], now_ms: int) -> bool:
    return silent_for(status, now_ms) > EXPIRED_AFTER_S
