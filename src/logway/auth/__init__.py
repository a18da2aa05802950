"""Identities and permissions: users with SCRAM passwords, API tokens, and ACLs in
Kafka's model, stored in the log (``store.py``) so every backend has them.

- ``scram``: password verifiers and the server side of a SCRAM exchange
- ``tokens``: API tokens, shown once and stored as hashes
- ``acls``: ACLs and the ``Authorizer`` that decides with them
- ``store``: ``AuthStore``, all of it kept in the topic ``__logway_auth``
"""

from __future__ import annotations

from logway.auth.acls import (
    Acl,
    Authorizer,
    Decision,
    Operation,
    PatternType,
    Permission,
    ResourceType,
)
from logway.auth.scram import ScramCredential, ScramServer, make_credential, verify
from logway.auth.store import AUTH_TOPIC, AuthStore, User
from logway.auth.tokens import ApiToken

__all__ = [
    "AUTH_TOPIC",
    "Acl",
    "ApiToken",
    "AuthStore",
    "Authorizer",
    "Decision",
    "Operation",
    "PatternType",
    "Permission",
    "ResourceType",
    "ScramCredential",
    "ScramServer",
    "User",
    "make_credential",
    "verify",
]
