from collections.abc import Callable, Sequence
from typing import Any

def init(
    record_type: type,
    to_millis: Callable[[Any], int | None],
    normalize_headers: Callable[[Any], Any],
) -> None: ...
def encode_records(
    items: Sequence[Any],
    default_timestamp: int,
    max_record_bytes: int,
    to_ms: Callable[[Any], int | None] | None = ...,
    prefix: int = ...,
    partitions: int = ...,
) -> tuple[bytearray, int, int, int]: ...
def decode_records(
    blob: bytes,
    base_offset: int,
    first_timestamp: int,
    count: int,
    append_time: int,
    topic: str,
    partition: int,
    min_offset: int,
    max_count: int,
) -> list[Any]: ...
def murmur2(data: bytes) -> int: ...
def records_size(records: list[Any]) -> int: ...
def records_from_messages(messages: Sequence[Any]) -> tuple[list[Any], int]: ...
