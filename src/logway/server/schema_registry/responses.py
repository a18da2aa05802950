"""How the schema registry answers: Confluent's media type, and every error in
Confluent's shape (``{"error_code", "message"}`` with the HTTP status Confluent gives
the case), its routes' dependencies' errors too, since Confluent's clients read the
code."""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from fastapi import Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from fastapi.routing import APIRoute
from starlette.exceptions import HTTPException

from logway import errors
from logway.server.sessions import challenge

log = logging.getLogger("logway.server.schema_registry")

MEDIA_TYPE = "application/vnd.schemaregistry.v1+json"
UNAUTHORIZED, FORBIDDEN, UNPROCESSABLE, STORE_ERROR = 40101, 40301, 422, 50001


class RegistryResponse(JSONResponse):
    media_type = MEDIA_TYPE


def error_response(request: Request, exc: Exception) -> Response:
    """``{"error_code", "message"}`` with the HTTP status Confluent gives the case."""
    headers = None
    if isinstance(exc, errors.SchemaRegistryError):
        status, code = exc.http_status, exc.error_code
    elif isinstance(exc, errors.AuthenticationError):
        status, code = 401, UNAUTHORIZED
        headers = {"WWW-Authenticate": challenge(request)}
    elif isinstance(exc, errors.PermissionDeniedError):
        status, code = 403, FORBIDDEN
    elif isinstance(exc, errors.InvalidArgumentError):
        status, code = 422, UNPROCESSABLE
    elif isinstance(exc, RequestValidationError):
        status, code = 422, UNPROCESSABLE
        exc = ValueError(_validation_message(exc))
    elif isinstance(exc, HTTPException):
        status, code = exc.status_code, exc.status_code
        exc = ValueError(exc.detail)
    else:
        if not isinstance(exc, errors.LogwayError):
            log.exception("schema registry request %s %s failed", request.method, request.url.path)
        status, code = 500, STORE_ERROR
    return RegistryResponse({"error_code": code, "message": str(exc)}, status, headers)


def _validation_message(exc: RequestValidationError) -> str:
    parts = []
    for error in exc.errors():
        where = ".".join(str(x) for x in error.get("loc", ()) if x != "body")
        parts.append(f"{where}: {error.get('msg', 'invalid')}" if where else error.get("msg", ""))
    return "invalid request: " + "; ".join(parts)


class RegistryRoute(APIRoute):
    """A route whose errors (its dependencies' too: authentication, permissions,
    validation) are answered in Confluent's shape, not the app's."""

    def get_route_handler(self) -> Callable[[Request], Any]:
        handler = super().get_route_handler()

        async def handle(request: Request) -> Response:
            try:
                response: Response = await handler(request)
            except Exception as exc:  # every error: Confluent's clients read its code
                return error_response(request, exc)
            return response

        return handle
