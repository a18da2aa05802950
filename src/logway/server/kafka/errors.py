"""logway's exceptions as Kafka error codes (clients act on the code: retry, refresh
metadata, give up), with the message kept for the fields that carry one."""

from __future__ import annotations

from kio.schema.errors import ErrorCode

from logway import errors

_CODES: list[tuple[type[Exception], ErrorCode]] = [
    (errors.UnknownTopicError, ErrorCode.unknown_topic_or_partition),
    (errors.InvalidTopicNameError, ErrorCode.invalid_topic_exception),
    (errors.OffsetOutOfRangeError, ErrorCode.offset_out_of_range),
    (errors.RecordTooLargeError, ErrorCode.message_too_large),
    (errors.InvalidRecordError, ErrorCode.invalid_record),
    (errors.TopicExistsError, ErrorCode.topic_already_exists),
    (errors.UnknownGroupError, ErrorCode.group_id_not_found),
    (errors.InvalidArgumentError, ErrorCode.invalid_request),
]


def code_for(exc: BaseException) -> ErrorCode:
    for kind, code in _CODES:
        if isinstance(exc, kind):
            return code
    return ErrorCode.unknown_server_error
