"""A map of keys to JSON objects kept in a one-partition topic of the log, so that
every process and every backend sees the same state, and backups, restores and
mirrors carry it (users and ACLs, schemas).

Each change is one record: its key names what changes, its value is the new state
as JSON, or null (a tombstone) when the thing is removed. ``KeyedTopic`` replays the
topic through an ``apply(key, value, offset)`` callback and ``refresh()`` applies what
any process wrote since; ``write`` makes the topic on the first change, appends the
record and reads it (and whatever came before it) back.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from typing import Any

from logway.broker import Broker, ensure_topic
from logway.errors import UnknownTopicError

FETCH_RECORDS = 1000
_log = logging.getLogger("logway.keyed_topic")

# apply(key, value or None, offset) -> whether something that matters to the owner
# changed; raise ValueError for a record that cannot be read (it is skipped, logged)
Apply = Callable[[str, dict[str, Any] | None, int], bool]


class KeyedTopic:
    """The records of ``topic`` (partition 0) applied in order; not thread-safe on its
    own: owners hold their lock around ``refresh`` and ``write``."""

    def __init__(
        self,
        broker: Broker,
        topic: str,
        apply: Apply,
        reset: Callable[[], None],
        **topic_config: Any,
    ) -> None:
        """``reset`` forgets the state (the topic was deleted and made again);
        ``topic_config`` is what the topic is made with."""
        self.broker = broker
        self.topic = topic
        self._apply = apply
        self._reset = reset
        self._config = topic_config
        self.offset = 0
        self.version = 0  # counts the records read: owners look again when it moves
        self.ready = False

    def refresh(self) -> bool:
        """Apply the records written since the last refresh (by any process); whether
        one of them returned True."""
        try:
            end = self.broker.end_offsets(self.topic)[0]
        except UnknownTopicError:
            return False
        self.ready = True
        changed = False
        if end < self.offset:  # the topic was deleted and made again
            self._reset()
            self.offset = 0
            self.version += 1
            changed = True
        while self.offset < end:
            records = self.broker.fetch(self.topic, 0, self.offset, FETCH_RECORDS)
            if not records:
                break
            for record in records:
                key = (record.key or b"").decode(errors="replace")
                try:
                    value = None if record.value is None else json.loads(record.value)
                    if value is not None and not isinstance(value, dict):
                        raise ValueError("the value is not a JSON object")
                    changed |= self._apply(key, value, record.offset)
                except ValueError as exc:  # a record that cannot be read never stops a replay
                    _log.warning("%s offset %d: record skipped: %s", self.topic, record.offset, exc)
            self.offset = records[-1].offset + 1
            self.version += 1
        return changed

    def write(self, key: str, value: dict[str, Any] | None) -> bool:
        """Append one change and read it (and whatever came before it) back; what
        ``refresh`` returns."""
        if not self.ready:
            ensure_topic(self.broker, self.topic, 1, **self._config)
            self.ready = True
        data = None if value is None else json.dumps(value, separators=(",", ":"))
        self.broker.produce(self.topic, data, key=key, partition=0)
        return self.refresh()
