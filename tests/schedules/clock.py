"""A clock for schedule runners that moves only when a runner waits, so tests go
through hours of ticks at once without waiting for the wall clock."""

from __future__ import annotations

import threading
from collections.abc import Callable
from datetime import datetime, timedelta


class FakeClock:
    """Time that moves only when a runner waits."""

    def __init__(self, start: datetime):
        self.t = start
        self.lock = threading.Lock()

    def now(self) -> datetime:
        with self.lock:
            return self.t

    def set(self, t: datetime) -> None:
        with self.lock:
            self.t = t

    def waiter(self, limit: datetime) -> Callable[[threading.Event, float], None]:
        """A wait that moves the time on by what was asked, and stops the runner once
        the time is past ``limit`` (a tick at ``limit`` is still published)."""

        def wait(stop: threading.Event, seconds: float) -> None:
            with self.lock:
                self.t += timedelta(seconds=seconds)
                past = self.t > limit
            if past:
                stop.set()

        return wait
