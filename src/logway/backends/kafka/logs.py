"""librdkafka's log lines through Python logging, and what they say when a call fails.

librdkafka logs each retry of a connection it cannot make (hundreds of lines a
minute while a cluster is down), to stderr unless told otherwise. Every client of a
``KafkaBroker`` hands its lines to one ``ClientLog`` (confluent-kafka's ``logger``
option), which passes each distinct line to the ``logway.kafka`` logger at most once
per ``LOG_INTERVAL_S``, saying how many like it it held back, and keeps the latest
warning or error so that an error for a cluster that does not answer can give the
reason (connection refused, a failed TLS handshake, bad credentials).

``logway.kafka`` has a ``NullHandler``: as with any library, nothing reaches stderr
unless the application configures logging.
"""

from __future__ import annotations

import logging
import re
import threading
import time
from typing import Any

LOG_INTERVAL_S = 60.0  # each distinct line at most once per this long
MAX_KEPT = 1000  # distinct lines remembered before the oldest are forgotten

log = logging.getLogger("logway.kafka")
log.addHandler(logging.NullHandler())

# what varies between repeats of one line: the client's name, its thread, timings
_THREAD = re.compile(r"^\[thrd:[^\]]*\]:\s*")
_TIMING = re.compile(r"\s*\(after \d+ms[^)]*\)|\b\d+ms\b")


class ClientLog:
    """The ``logger`` of a broker's librdkafka clients (any thread may call it)."""

    def __init__(self, interval: float = LOG_INTERVAL_S):
        self.interval = interval
        self._lock = threading.Lock()
        self._seen: dict[str, tuple[float, int]] = {}  # line -> (logged at, held back since)
        self._problem: tuple[float, str] | None = None  # the latest warning or error

    def log(self, level: int, fmt: str, *args: Any) -> None:
        """What confluent-kafka calls: ``log(level, "%s [%s] %s", facility, client, text)``."""
        text = str(args[-1]) if args else fmt
        text = _THREAD.sub("", text)
        facility = str(args[0]) if len(args) == 3 else ""
        key = f"{facility} {_TIMING.sub('', text)}"
        now = time.monotonic()
        with self._lock:
            if level >= logging.WARNING:
                self._problem = (now, text)
            seen = self._seen.get(key)
            if seen is not None and now - seen[0] < self.interval:
                self._seen[key] = (seen[0], seen[1] + 1)
                return
            held_back = seen[1] if seen is not None else 0
            if len(self._seen) >= MAX_KEPT:
                self._forget(now)
            self._seen[key] = (now, 0)
        if held_back:
            log.log(level, "%s: %s (and %d more like it)", facility, text, held_back)
        else:
            log.log(level, "%s: %s", facility, text)

    def _forget(self, now: float) -> None:
        """Drop lines not seen for an interval, else the oldest half (lock held)."""
        stale = [k for k, (at, _) in self._seen.items() if now - at >= self.interval]
        if not stale:
            by_age = sorted(self._seen, key=lambda k: self._seen[k][0])
            stale = by_age[: len(by_age) // 2]
        for key in stale:
            del self._seen[key]

    def problem_since(self, since: float) -> str | None:
        """The latest warning or error logged at or after ``since`` (monotonic)."""
        with self._lock:
            if self._problem is None or self._problem[0] < since:
                return None
            return self._problem[1]
