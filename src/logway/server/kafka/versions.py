"""Which Kafka APIs and versions the listener serves, and the ApiVersions answer.

Ranges are advertised from version 0 even where the oldest versions are answered
with an error: librdkafka before 2.11.1 turns on record batches, compression and
groups only when the broker's ranges include particular old versions (Produce 0 and
3, Fetch 4, JoinGroup 0, ...). Maxima stop before versions that need what logway
does not keep (topic ids in Fetch 13+ and Produce 13, the new consumer protocol).
"""

from __future__ import annotations

from typing import Any

from kio.schema.errors import ErrorCode

from logway.server.kafka import wire

# api key -> highest version served (the lowest advertised is always 0)
SERVED: dict[int, int] = {
    0: 11,  # Produce
    1: 12,  # Fetch
    2: 7,  # ListOffsets
    3: 12,  # Metadata
    8: 8,  # OffsetCommit
    9: 7,  # OffsetFetch
    10: 4,  # FindCoordinator
    11: 7,  # JoinGroup
    12: 4,  # Heartbeat
    13: 4,  # LeaveGroup
    14: 5,  # SyncGroup
    15: 5,  # DescribeGroups
    16: 4,  # ListGroups
    17: 1,  # SaslHandshake
    18: 3,  # ApiVersions
    19: 5,  # CreateTopics
    20: 4,  # DeleteTopics
    22: 4,  # InitProducerId
    32: 4,  # DescribeConfigs
    36: 2,  # SaslAuthenticate
    37: 3,  # CreatePartitions
    42: 2,  # DeleteGroups
}

NAMES = {
    0: "Produce",
    1: "Fetch",
    2: "ListOffsets",
    3: "Metadata",
    8: "OffsetCommit",
    9: "OffsetFetch",
    10: "FindCoordinator",
    11: "JoinGroup",
    12: "Heartbeat",
    13: "LeaveGroup",
    14: "SyncGroup",
    15: "DescribeGroups",
    16: "ListGroups",
    17: "SaslHandshake",
    18: "ApiVersions",
    19: "CreateTopics",
    20: "DeleteTopics",
    22: "InitProducerId",
    32: "DescribeConfigs",
    36: "SaslAuthenticate",
    37: "CreatePartitions",
    42: "DeleteGroups",
}


def served(api_key: int, version: int) -> bool:
    top = SERVED.get(api_key)
    return (
        top is not None and 0 <= version <= top and wire.request_type(api_key, version) is not None
    )


def api_versions(version: int, error: ErrorCode = ErrorCode.none) -> Any:
    """The ApiVersions response of ``version`` (v0's body when the asked version is not
    served, as Kafka answers so the client can retry with one it shares)."""
    k = wire.API_VERSIONS
    keys = tuple(
        wire.make(k, version, "ApiVersion", api_key=key, min_version=0, max_version=top)
        for key, top in sorted(SERVED.items())
    )
    return wire.make(
        k,
        version,
        "ApiVersionsResponse",
        error_code=error,
        api_keys=keys,
        throttle_time=wire.NO_THROTTLE,
        supported_features=(),
        finalized_features_epoch=-1,
        finalized_features=(),
        zk_migration_ready=False,
    )
