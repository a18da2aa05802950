"""Schedules: EventBridge Scheduler expressions (``rate``, ``cron``, ``at``) in an IANA
time zone, and when their ticks fall. A pure core (no broker, no I/O) that a runner
publishing time events builds on.

- ``expressions.py``: ``parse_schedule`` and ``Schedule`` (``next_after``, ``ticks``,
  ``delay``), rate anchoring, start and end, flexible windows and daylight saving time.
- ``cron.py``: the six-field cron syntax, its special characters and calendar matching.
"""

from logway.schedules.expressions import Schedule, parse_schedule, wall_to_instant

__all__ = ["Schedule", "parse_schedule", "wall_to_instant"]
