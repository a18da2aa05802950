"""The one exception tree of logway.

Every error a user can see is a ``LogwayError``; the message says what was
wrong and what to do about it. Errors about bad input also derive from
``ValueError`` so generic code can catch them the usual way.
"""

from __future__ import annotations


class LogwayError(Exception):
    """Base of every error logway raises."""


class InvalidArgumentError(LogwayError, ValueError):
    """An argument or configuration value was refused; nothing was changed."""


class UnknownSchemeError(InvalidArgumentError):
    """A broker URL uses a scheme no backend is registered for."""


class InvalidTopicNameError(InvalidArgumentError):
    """A topic name breaks Kafka's naming rules."""


class RecordTooLargeError(InvalidArgumentError):
    """A record is larger than the topic's ``max_record_bytes``."""


class UnknownTopicError(LogwayError, KeyError):
    """The topic (or partition) does not exist."""

    def __str__(self) -> str:  # KeyError would quote the message
        return str(self.args[0]) if self.args else "unknown topic"


class TopicExistsError(LogwayError):
    """``create_topic`` was asked for a topic that already exists."""


class OffsetOutOfRangeError(LogwayError):
    """An offset lies outside ``[start offset, end offset]`` of a partition."""

    @classmethod
    def check(cls, topic: str, partition: int, offset: int, start: int, end: int) -> None:
        """Raise unless ``start <= offset <= end``."""
        if not start <= offset <= end:
            raise cls(
                f"offset {offset} is out of range for {topic}/{partition}: valid offsets "
                f"are {start} to {end} (start offset to end offset)"
            )


class UnknownGroupError(LogwayError, KeyError):
    """The consumer group has never committed an offset."""

    def __str__(self) -> str:
        return str(self.args[0]) if self.args else "unknown group"


class CorruptRecordError(LogwayError):
    """Stored data failed its checksum or framing; it is never served as records."""

    def __init__(self, message: str, path: str | None = None, position: int | None = None):
        super().__init__(message)
        self.path = path
        self.position = position


class StorageError(LogwayError):
    """The file system refused a write (disk full, file too large, I/O error)."""


class DataDirLockedError(LogwayError):
    """Another process owns the data directory: ``owner`` is its pid, ``address``
    where it serves the directory to other processes ("" when it does not)."""

    def __init__(self, message: str, owner: str = "", address: str = ""):
        super().__init__(message)
        self.owner = owner
        self.address = address


class ClosedError(LogwayError):
    """The broker or consumer was used after ``close()``."""


class ServerStoppingError(LogwayError):
    """The server is shutting down; a stream ends with where to resume on the next one.

    ``resume`` maps each partition of the stream to the next offset to read."""

    def __init__(self, message: str, resume: dict[int, int] | None = None):
        super().__init__(message)
        self.resume = dict(resume or {})


class AuthenticationError(LogwayError):
    """Who is asking could not be established: an unknown user, a wrong password or
    proof, an unknown, revoked or expired token. The message never says which, so it
    cannot be used to find out which users exist."""


class PermissionDeniedError(LogwayError):
    """An authenticated principal asked for an operation no ACL allows it (or one
    denies it)."""


class SchemaRegistryError(LogwayError):
    """A schema registry request could not be done. ``error_code`` and ``http_status``
    are Confluent Schema Registry's for the case, so its clients understand them."""

    error_code = 50001
    http_status = 500


class SchemaNotFoundError(SchemaRegistryError):
    """No such subject, version or schema (``error_code`` says which)."""

    error_code = 40403
    http_status = 404

    def __init__(self, message: str, error_code: int = 40403):
        super().__init__(message)
        self.error_code = error_code


class InvalidSchemaError(SchemaRegistryError, InvalidArgumentError):
    """A schema that does not parse, names an unknown reference, or a bad request
    (a version, compatibility level or mode that does not exist); nothing is stored."""

    error_code = 42201
    http_status = 422

    def __init__(self, message: str, error_code: int = 42201):
        super().__init__(message)
        self.error_code = error_code


class IncompatibleSchemaError(SchemaRegistryError, InvalidArgumentError):
    """A schema the subject's compatibility level refuses; ``problems`` lists every
    incompatibility found. Nothing is stored."""

    error_code = 409
    http_status = 409

    def __init__(self, message: str, problems: list[str] | None = None):
        super().__init__(message)
        self.problems = list(problems or [])


class SchemaStateError(SchemaRegistryError):
    """A request that the subject's state does not allow: a permanent delete before a
    soft one, a write in READONLY mode (``error_code`` says which)."""

    error_code = 40405
    http_status = 404

    def __init__(self, message: str, error_code: int = 40405, http_status: int = 404):
        super().__init__(message)
        self.error_code = error_code
        self.http_status = http_status


class InvalidRecordError(InvalidArgumentError):
    """A record a topic's schema setting (``value_schema``, ``key_schema``) refuses: not
    in the registry's wire format, framed with a schema id of another subject, or not
    decodable with that schema. Nothing of its batch is stored (Kafka's
    INVALID_RECORD)."""


class WindowStateFullError(LogwayError):
    """A windowed aggregation holds as many open windows as its ``max_open`` allows; the
    record was not added. Raise the limit, or use a coarser key or a shorter window."""


class DeliveryExpiredError(LogwayError):
    """A queue consumer settled a record it no longer holds: its visibility timeout
    passed and the record went back to the queue (or it was settled already). Nothing
    was changed; the record may be delivered to another consumer."""
