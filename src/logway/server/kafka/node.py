"""Who the listener says it is: one node, the leader of every partition and the
coordinator of every group, with a node id and a cluster id that stay the same
across restarts of the same log, and a stable id per topic (Metadata v10+)."""

from __future__ import annotations

import base64
import hashlib
import uuid
from dataclasses import dataclass, field

NODE_ID = 1
_TOPIC_IDS = uuid.UUID("6c6f6777-6179-4b61-8a6b-61746f706963")  # a namespace of logway's


def cluster_id_for(identity: str) -> str:
    """A Kafka-style cluster id (22 url-safe base64 characters of 16 bytes) derived
    from what identifies the log (its data directory or URL), so it is stable."""
    digest = hashlib.sha256(identity.encode()).digest()[:16]
    return base64.urlsafe_b64encode(digest).decode().rstrip("=")


@dataclass
class Node:
    host: str
    port: int
    cluster_id: str
    node_id: int = NODE_ID
    _ids: dict[str, uuid.UUID] = field(default_factory=dict)

    def topic_id(self, name: str) -> uuid.UUID:
        found = self._ids.get(name)
        if found is None:
            found = self._ids[name] = uuid.uuid5(_TOPIC_IDS, f"{self.cluster_id}/{name}")
        return found
