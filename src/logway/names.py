"""Rules for the names users give: topics (Kafka's rules) and consumer groups."""

from __future__ import annotations

import re

from logway.errors import InvalidArgumentError, InvalidTopicNameError

# Kafka: "Legal characters are [a-zA-Z0-9._-]", at most 249 characters, not "." or "..".
_TOPIC_NAME = re.compile(r"^[a-zA-Z0-9._-]+$")
MAX_TOPIC_NAME = 249


def validate_topic_name(name: object) -> str:
    if not isinstance(name, str) or not name:
        raise InvalidTopicNameError(f"a topic name must be a non-empty string, not {name!r}")
    if name in (".", ".."):
        raise InvalidTopicNameError(f"a topic cannot be named {name!r}")
    if len(name) > MAX_TOPIC_NAME:
        raise InvalidTopicNameError(
            f"topic name is {len(name)} characters long; the limit is {MAX_TOPIC_NAME}"
        )
    if not _TOPIC_NAME.match(name):
        bad = sorted({c for c in name if not re.match(r"[a-zA-Z0-9._-]", c)})
        raise InvalidTopicNameError(
            f"topic name {name!r} contains {''.join(bad)!r}; use only letters, digits, '.', '_' "
            "and '-'"
        )
    return name


def validate_group(group: object) -> str:
    if not isinstance(group, str) or not group or len(group) > 249 or "\0" in group:
        raise InvalidArgumentError(
            f"a consumer group name must be a non-empty string of at most 249 characters, "
            f"not {group!r}"
        )
    return group
