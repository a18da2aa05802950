"""The settings of a notification, checked when it is declared (``app.notify``)."""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from logway.broker import Start, check_starting_position
from logway.errors import InvalidArgumentError
from logway.functions.patterns import Filter, compile_filters
from logway.names import validate_topic_name
from logway.notify.policy import Backoff
from logway.notify.render import Template, check_template
from logway.notify.targets import Target, make_target
from logway.records import Record
from logway.units import parse_seconds

MAX_ATTEMPTS = 100
MAX_IN_FLIGHT = 10_000
MAX_FILTERS = 5
_RATE = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*/\s*(s|sec|second|m|min|minute|h|hour)\s*$", re.I)
_PER = {"s": 1.0, "sec": 1.0, "second": 1.0, "m": 60.0, "min": 60.0, "minute": 60.0}
_PER |= {"h": 3600.0, "hour": 3600.0}


def parse_rate(rate: object) -> float | None:
    """Sends per second from ``"100/s"``, ``"30/m"``, ``"500/h"`` or a number; None: no limit."""
    if rate is None:
        return None
    if isinstance(rate, int | float) and not isinstance(rate, bool) and rate > 0:
        return float(rate)
    match = _RATE.match(rate) if isinstance(rate, str) else None
    if match is None or float(match.group(1)) <= 0:
        raise InvalidArgumentError(
            f"rate must be sends per unit of time such as '100/s', '30/m' or '500/h' "
            f"(or None for no limit), not {rate!r}"
        )
    return float(match.group(1)) / _PER[match.group(2).lower()]


def _int(value: object, name: str, low: int, high: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        raise InvalidArgumentError(f"{name} must be an integer from {low} to {high}, not {value!r}")
    return value


@dataclass(frozen=True)
class NotifySettings:
    """A notification's checked settings; ``build`` makes them from keyword arguments."""

    to: str = field(repr=False)  # may hold a password
    target: Target = field(compare=False, repr=False)
    matcher: Filter | None = field(compare=False, repr=False)
    template: Template | None = None
    shape: Callable[[Record], Any] | None = None
    timeout: float = 10.0
    max_attempts: int = 8
    backoff: Backoff = field(default_factory=lambda: Backoff(0.2, 60.0))
    rate: float | None = 100.0
    in_flight: int = 50
    on_failure: str = ""
    starting_position: Start | int = "latest"

    @classmethod
    def build(
        cls,
        source: str,
        *,
        to: object,
        filter: Mapping[str, Any] | str | Sequence[Mapping[str, Any] | str] | None = None,
        template: object = None,
        shape: object = None,
        secret: str | bytes | None = None,
        headers: Mapping[str, str] | None = None,
        timeout: object = "10s",
        max_attempts: object = 8,
        backoff: object = ("200ms", "60s"),
        rate: object = "100/s",
        in_flight: object = 50,
        on_failure: str | None = None,
        starting_position: Any = "latest",
    ) -> NotifySettings:
        """Check every setting; ``InvalidArgumentError`` names the first bad one."""
        if template is not None and shape is not None:
            raise InvalidArgumentError("give template= or shape=, not both")
        if shape is not None and not callable(shape):
            raise InvalidArgumentError(
                f"shape must be a function record -> dict|str, not {shape!r}"
            )
        checked_template = check_template(template)
        matcher = None
        if filter is not None:
            patterns = [filter] if isinstance(filter, Mapping | str) else list(filter)
            if not 1 <= len(patterns) <= MAX_FILTERS:
                raise InvalidArgumentError(f"filter takes 1 to {MAX_FILTERS} event patterns")
            matcher = compile_filters(patterns)
        if isinstance(secret, str):
            secret = secret.encode()
        if secret is not None and (not isinstance(secret, bytes) or not secret):
            raise InvalidArgumentError("secret must be a non-empty str or bytes")
        headers = dict(headers or {})
        for k, v in headers.items():
            if not isinstance(k, str) or not isinstance(v, str) or "\n" in k + v:
                raise InvalidArgumentError(f"headers must map str to str, not {k!r}: {v!r}")
            try:
                (k + v).encode("latin-1")
            except UnicodeEncodeError:
                raise InvalidArgumentError(
                    f"header {k!r} must be Latin-1 text, as HTTP/1.1 sends headers"
                ) from None
        seconds = parse_seconds(timeout, "timeout", 0.001, 300.0)
        attempts = _int(max_attempts, "max_attempts", 1, MAX_ATTEMPTS)
        if not isinstance(backoff, tuple | list) or len(backoff) != 2:
            raise InvalidArgumentError(
                f"backoff must be (first, longest) waits such as ('200ms', '60s'), not {backoff!r}"
            )
        base = parse_seconds(backoff[0], "backoff[0]", 0.0, 3600.0)
        cap = parse_seconds(backoff[1], "backoff[1]", 0.0, 3600.0)
        if base > cap:
            raise InvalidArgumentError(f"backoff {backoff!r}: the first wait is above the longest")
        flight = _int(in_flight, "in_flight", 1, MAX_IN_FLIGHT)
        target = make_target(to, secret=secret, headers=headers, timeout=seconds, in_flight=flight)
        failures = on_failure if on_failure is not None else f"{source}-notify-failed"
        validate_topic_name(failures)
        if failures == source:
            raise InvalidArgumentError("on_failure must be another topic than the source")
        check_starting_position(starting_position)
        return cls(
            to=str(to),
            target=target,
            matcher=matcher,
            template=checked_template,
            shape=shape,
            timeout=seconds,
            max_attempts=attempts,
            backoff=Backoff(base, cap),
            rate=parse_rate(rate),
            in_flight=flight,
            on_failure=failures,
            starting_position=starting_position,
        )
