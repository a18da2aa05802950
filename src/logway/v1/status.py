"""logway errors <-> gRPC status codes, the same table on both ends.

The server aborts a call with the code for the error's class and names the class
in the ``logway-error`` trailing metadata; the remote backend raises that same
class again, so code written against the embedded backend sees the same errors.
"""

from __future__ import annotations

import grpc

from logway import errors

ERROR_KEY = "logway-error"
# with ServerStoppingError: where the stream resumes, "partition:next offset,..."
RESUME_KEY = "logway-resume"

CODES: dict[type[errors.LogwayError], grpc.StatusCode] = {
    errors.UnknownTopicError: grpc.StatusCode.NOT_FOUND,
    errors.UnknownGroupError: grpc.StatusCode.NOT_FOUND,
    errors.TopicExistsError: grpc.StatusCode.ALREADY_EXISTS,
    errors.OffsetOutOfRangeError: grpc.StatusCode.OUT_OF_RANGE,
    errors.InvalidTopicNameError: grpc.StatusCode.INVALID_ARGUMENT,
    errors.RecordTooLargeError: grpc.StatusCode.INVALID_ARGUMENT,
    errors.UnknownSchemeError: grpc.StatusCode.INVALID_ARGUMENT,
    errors.InvalidRecordError: grpc.StatusCode.INVALID_ARGUMENT,
    errors.InvalidArgumentError: grpc.StatusCode.INVALID_ARGUMENT,
    errors.CorruptRecordError: grpc.StatusCode.DATA_LOSS,
    errors.StorageError: grpc.StatusCode.UNAVAILABLE,
    errors.ClosedError: grpc.StatusCode.UNAVAILABLE,
    errors.ServerStoppingError: grpc.StatusCode.UNAVAILABLE,
    errors.DataDirLockedError: grpc.StatusCode.FAILED_PRECONDITION,
    errors.DeliveryExpiredError: grpc.StatusCode.FAILED_PRECONDITION,
    errors.AuthenticationError: grpc.StatusCode.UNAUTHENTICATED,
    errors.PermissionDeniedError: grpc.StatusCode.PERMISSION_DENIED,
}
_BY_NAME = {cls.__name__: cls for cls in CODES} | {"LogwayError": errors.LogwayError}


def code_for(exc: errors.LogwayError) -> grpc.StatusCode:
    for cls in type(exc).__mro__:
        if cls in CODES:
            return CODES[cls]
    return grpc.StatusCode.UNKNOWN


def error_from(code: grpc.StatusCode, details: str, name: str | None) -> errors.LogwayError:
    """The logway error a failed call stands for."""
    cls = _BY_NAME.get(name or "")
    if cls is None:
        fallback = {
            grpc.StatusCode.NOT_FOUND: errors.UnknownTopicError,
            grpc.StatusCode.ALREADY_EXISTS: errors.TopicExistsError,
            grpc.StatusCode.OUT_OF_RANGE: errors.OffsetOutOfRangeError,
            grpc.StatusCode.INVALID_ARGUMENT: errors.InvalidArgumentError,
            grpc.StatusCode.DATA_LOSS: errors.CorruptRecordError,
            grpc.StatusCode.UNAUTHENTICATED: errors.AuthenticationError,
            grpc.StatusCode.PERMISSION_DENIED: errors.PermissionDeniedError,
        }
        cls = fallback.get(code, errors.LogwayError)
    return cls(details)


def format_resume(positions: dict[int, int]) -> str:
    """{0: 42, 1: 7} -> "0:42,1:7": the next offset to read on each partition."""
    return ",".join(f"{p}:{o}" for p, o in sorted(positions.items()))


def parse_resume(text: str) -> dict[int, int]:
    """The inverse of ``format_resume``; {} for text that is not such a position."""
    out: dict[int, int] = {}
    for part in text.split(","):
        p, sep, o = part.partition(":")
        if not (sep and p.isdigit() and o.isdigit()):
            return {}
        out[int(p)] = int(o)
    return out
