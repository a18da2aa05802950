"""Signed webhook requests, so a receiver can tell they came from logway and are fresh.

The scheme is Stripe's: the sender puts the Unix time in ``Logway-Timestamp`` and
``Logway-Signature: t=<time>,v1=<hex>``, where ``hex`` is HMAC-SHA256 with the shared
secret over ``"<time>." + body``. A receiver recomputes it (``verify``) and refuses a
mismatch, and a time too far from its own clock (a replayed request).
"""

from __future__ import annotations

import hashlib
import hmac
import time

SIGNATURE_HEADER = "Logway-Signature"
TIMESTAMP_HEADER = "Logway-Timestamp"
DEFAULT_TOLERANCE_S = 300


def signature(secret: bytes, timestamp: int, body: bytes) -> str:
    """The hex HMAC-SHA256 of ``"<timestamp>." + body`` with ``secret``."""
    return hmac.new(secret, b"%d." % timestamp + body, hashlib.sha256).hexdigest()


def sign(secret: bytes, body: bytes, timestamp: int | None = None) -> dict[str, str]:
    """The headers that sign ``body``: ``Logway-Timestamp`` and ``Logway-Signature``."""
    t = int(time.time()) if timestamp is None else timestamp
    return {
        TIMESTAMP_HEADER: str(t),
        SIGNATURE_HEADER: f"t={t},v1={signature(secret, t, body)}",
    }


def verify(
    secret: bytes | str,
    body: bytes,
    header: str,
    tolerance: float = DEFAULT_TOLERANCE_S,
    now: float | None = None,
) -> bool:
    """Whether ``header`` (a ``Logway-Signature`` value) signs ``body`` with ``secret``
    at a time within ``tolerance`` seconds of ``now`` (default: the clock)."""
    key = secret.encode() if isinstance(secret, str) else secret
    parts: dict[str, list[str]] = {}
    for item in header.split(","):
        name, _, value = item.strip().partition("=")
        parts.setdefault(name, []).append(value)
    try:
        t = int(parts["t"][0])
    except (KeyError, ValueError):
        return False
    if abs((time.time() if now is None else now) - t) > tolerance:
        return False
    expected = signature(key, t, body)
    return any(hmac.compare_digest(expected, v) for v in parts.get("v1", ()))
