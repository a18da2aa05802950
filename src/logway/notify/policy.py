"""When to try a notification again: exponential backoff with full jitter, the
``Retry-After`` a target asks for, and which answers are worth another attempt.

Full jitter is AWS's ("Exponential Backoff and Jitter"): the n-th wait is drawn
uniformly from 0 to ``min(cap, base * 2**(n-1))``. A ``Retry-After`` (seconds or an
HTTP date, RFC 9110 §10.2.3) on a 429 or 503 is a floor under that wait.
"""

from __future__ import annotations

import email.utils
import random
import time
from dataclasses import dataclass

MAX_RETRY_AFTER_S = 3600.0  # a target asking for more than an hour is not obeyed past it


@dataclass(frozen=True)
class Backoff:
    """Exponential backoff with full jitter, from ``base`` up to ``cap`` seconds."""

    base: float
    cap: float

    def delay(self, attempt: int, retry_after: float | None = None) -> float:
        """Seconds to wait after failed attempt number ``attempt`` (1 for the first)."""
        ceiling = min(self.cap, self.base * 2 ** min(attempt - 1, 62))
        wait = random.uniform(0, ceiling)
        if retry_after is not None:
            wait = max(wait, min(retry_after, MAX_RETRY_AFTER_S))
        return wait


def retryable_status(status: int) -> bool:
    """Whether an HTTP status is worth another attempt: 408, 429 and 5xx are; every
    other 4xx (a request the target will never accept) and 3xx are not."""
    return status in (408, 425, 429) or status >= 500


def parse_retry_after(value: str | None, now: float | None = None) -> float | None:
    """Seconds a ``Retry-After`` header asks to wait (delay-seconds or an HTTP date);
    None when absent or unreadable."""
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        return None
    if when is None:
        return None
    return max(0.0, when.timestamp() - (time.time() if now is None else now))
