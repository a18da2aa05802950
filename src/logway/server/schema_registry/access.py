"""Who may do what in the schema registry under ``logway serve --auth``: operations on
the ``schema_subject`` resource (Kafka's ACL model, as Confluent's RBAC does for
subjects), on the cluster for the global settings, and the rule for reads by id.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from fastapi import Depends, Request

from logway import errors
from logway.auth.acls import CLUSTER_NAME
from logway.schemas.registry import SchemaRegistry
from logway.server.access import Access, Identity
from logway.server.sessions import address

SUBJECT, CLUSTER = "schema_subject", "cluster"


class Guard:
    """The checks the routes ask before they act; ``registry`` is the app's one
    registry, ``identified`` the dependency that says who sent a request."""

    def __init__(
        self, access: Access, registry: Callable[[], SchemaRegistry], identified: Any
    ) -> None:
        self.access = access
        self.registry = registry
        self.identified = identified

    def may(self, operation: str, on_subject: bool = True) -> Any:
        """A route's dependency: ``operation`` on the path's subject, or on the cluster
        for the global settings (``/config``, and ``/config/`` whose empty subject the
        registry reads as the global one, as Confluent reads its default context)."""
        access, identified = self.access, self.identified

        async def allowed(request: Request, who: Identity = identified) -> None:
            name = request.path_params["subject"] if on_subject else ""
            where = SUBJECT if name else CLUSTER
            access.check(who, operation, where, name or CLUSTER_NAME, "http", address(request))

        return Depends(allowed)

    def may_test(self) -> Any:
        """A compatibility test's dependency: write or read on the subject."""
        access, identified = self.access, self.identified

        async def may_test(request: Request, who: Identity = identified) -> None:
            subject = request.path_params["subject"]
            asks = [("write", SUBJECT, subject), ("read", SUBJECT, subject)]
            access.check_any(who, asks, "http", address(request))

        return Depends(may_test)

    def by_id_allowed(self, request: Request, who: Identity, schema_id: int) -> None:
        """Read on a subject holding the id (live, or the one it was first registered
        under), or describe on the cluster."""
        access = self.access
        if access.allowed(who, "describe", CLUSTER, CLUSTER_NAME):
            return
        reg = self.registry()
        try:
            holders = {s for s, _ in reg.uses(schema_id)} | {reg.by_id(schema_id).subject}
        except errors.SchemaNotFoundError:
            holders = set()
        if any(access.allowed(who, "read", SUBJECT, s) for s in holders):
            return
        access.check(who, "describe", CLUSTER, CLUSTER_NAME, "http", address(request))
