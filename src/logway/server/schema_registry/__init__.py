"""Confluent Schema Registry's REST API over ``logway.schemas.SchemaRegistry``, served
under ``/schemas`` on the HTTP port, so Confluent's clients and serializers use it
unchanged: ``SchemaRegistryClient({"url": "http://HOST:PORT/schemas"})``.

The paths, query parameters, bodies and answers are Confluent's (its API reference and
``confluent-kafka-python``'s ``schema_registry_client.py``): answers are
``application/vnd.schemaregistry.v1+json``; a schema's ``schemaType`` is left out for
AVRO and its ``references`` when it has none; errors are ``{"error_code", "message"}``
with Confluent's codes (``logway.errors.SchemaRegistryError``), 401 and 403 carrying
40101 and 40301. The registry's own paths follow the client's base URL, so the schema
by id is ``/schemas/schemas/ids/{id}``. Subjects may hold ``/`` (a Protobuf import path
names its reference's subject): the client sends it as ``%2F``.

With ``logway serve --auth`` a request asks ``Access`` first, for operations on the
``schema_subject`` resource (Kafka's ACL model, as Confluent's RBAC does for subjects):

- listing a subject's versions, its references, a lookup of a schema the caller
  holds: ``describe``; reading a version's schema: ``read``; registering: ``write``
  (and ``read`` on the subjects its references name); a compatibility test: ``read``
  or ``write``; deleting: ``delete``;
- a subject's compatibility level or mode: ``describe_configs`` to read,
  ``alter_configs`` to change; the global ones the same on the cluster;
- a schema by id: ``read`` on a subject holding it, or ``describe`` on the cluster
  (an id no subject the caller may read holds is refused, not found);
- the subject list shows what the caller may describe.

A module per concept: ``answers`` (bodies and answers, for validation and the OpenAPI
document), ``responses`` (Confluent's media type and error shape), ``shared`` (the
registry, made when first needed; a schema as Confluent writes it; paging),
``access`` (the checks above), and the routes: ``by_id`` (schemas by id, types),
``subjects`` (subjects and versions), ``compatibility`` (compatibility tests) and
``settings`` (compatibility levels and modes).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import Response

from logway.broker import Broker
from logway.server.access import Access
from logway.server.schema_registry.access import Guard
from logway.server.schema_registry.by_id import add_by_id_routes
from logway.server.schema_registry.compatibility import add_compatibility_routes
from logway.server.schema_registry.responses import RegistryResponse, RegistryRoute
from logway.server.schema_registry.settings import add_settings_routes
from logway.server.schema_registry.shared import LazyRegistry
from logway.server.schema_registry.subjects import add_subject_routes

TAG = "schema registry"
SERVED = ("GET", "HEAD", "POST", "PUT", "DELETE")
UNSERVED = ("PATCH", "OPTIONS", "TRACE")


def schema_registry_router(broker: Broker, access: Access, caller: Callable[..., Any]) -> APIRouter:
    """The routes, to include under ``/schemas``; ``caller`` is the app's dependency
    that says who sent a request (``Identity``)."""
    registry = LazyRegistry(broker)
    identified = Depends(caller)  # who sent the request (in the document: how to say it)
    router = APIRouter(
        tags=[TAG],
        route_class=RegistryRoute,
        default_response_class=RegistryResponse,
        strict_content_type=False,  # a body without Content-Type is JSON, as Confluent reads it
    )
    guard = Guard(access, registry, identified)
    # in this order: a subject in a path may hold "/", so the first route that matches
    # answers (POST .../versions registers; it is not a lookup of subject ".../versions")
    add_by_id_routes(router, guard)
    add_subject_routes(router, guard)
    add_compatibility_routes(router, guard)
    add_settings_routes(router, guard)

    @router.api_route(
        "/{rest:schema_subject}", methods=[*SERVED, *UNSERVED], include_in_schema=False
    )
    def elsewhere(request: Request, rest: str) -> Response:
        """Nothing here: in Confluent's shape (the clients read its code), not the app's."""
        if request.method in SERVED:
            return RegistryResponse({"error_code": 404, "message": "HTTP 404 Not Found"}, 404)
        allow = {"Allow": ", ".join(SERVED)}
        return RegistryResponse(
            {"error_code": 405, "message": "HTTP 405 Method Not Allowed"}, 405, allow
        )

    return router


__all__ = ["schema_registry_router"]
