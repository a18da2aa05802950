"""Schedules: EventBridge Scheduler expressions (``rate``, ``cron``, ``at``) in an IANA
time zone, when their ticks fall, and the runner that publishes each tick to a topic
(``App.schedule``, ``logway clock``).

- ``expressions.py``: ``parse_schedule`` and ``Schedule`` (``next_after``, ``ticks``,
  ``delay``), rate anchoring, start and end, flexible windows and daylight saving time.
- ``cron.py``: the six-field cron syntax, its special characters and calendar matching.
- ``runner.py``: ``ScheduleSpec`` and ``ScheduleRunner``, which publishes the ticks
  exactly once under the schedule's lease, with ``catch_up`` for ticks missed.

``expressions.py`` and ``cron.py`` are pure (no broker, no I/O); ``runner.py`` uses
only the ``Broker`` protocol.
"""

from logway.schedules.expressions import Schedule, parse_schedule, wall_to_instant

__all__ = ["Schedule", "parse_schedule", "wall_to_instant"]
