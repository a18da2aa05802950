"""A token bucket that paces a notification's sends to its target's rate limit."""

from __future__ import annotations

import asyncio
import time


class TokenBucket:
    """``rate`` sends a second, in bursts of at most ``burst``.

    ``take()`` reserves a token and sleeps until it is due: the bucket may go below
    zero, so waiting senders are served in the order they came, each at its slot.
    """

    def __init__(self, rate: float, burst: float | None = None) -> None:
        self.rate = rate
        self.burst = max(1.0, rate if burst is None else burst)
        self.tokens = self.burst
        self.stamp = time.monotonic()

    def reserve(self) -> float:
        """Take a token; the seconds until it may be used (0 when it is there)."""
        now = time.monotonic()
        self.tokens = min(self.burst, self.tokens + (now - self.stamp) * self.rate)
        self.stamp = now
        self.tokens -= 1
        return 0.0 if self.tokens >= 0 else -self.tokens / self.rate

    async def take(self) -> None:
        wait = self.reserve()
        if wait > 0:
            await asyncio.sleep(wait)
