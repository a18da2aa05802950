"""The schema registry's settings: compatibility levels (``/config``) and modes
(``/mode``), global (changed on the cluster) and per subject."""

from __future__ import annotations

from fastapi import APIRouter, Query
from fastapi.responses import Response

from logway.server.schema_registry.access import Guard
from logway.server.schema_registry.answers import (
    ConfigIn,
    ConfigOut,
    ConfigSet,
    ModeIn,
    ModeOut,
    error_answers,
)
from logway.server.schema_registry.responses import RegistryResponse


def add_settings_routes(router: APIRouter, guard: Guard) -> None:
    """``/config[/{subject}]`` and ``/mode[/{subject}]``."""
    registry, may = guard.registry, guard.may

    @router.get(
        "/config",
        response_model=ConfigOut,
        responses=error_answers(),
        dependencies=[may("describe_configs", on_subject=False)],
    )
    def get_global_config(defaultToGlobal: bool = False) -> Response:
        """The global compatibility level."""
        return RegistryResponse({"compatibilityLevel": registry().compatibility()})

    @router.put(
        "/config",
        response_model=ConfigSet,
        responses=error_answers(),
        dependencies=[may("alter_configs", on_subject=False)],
    )
    def set_global_config(body: ConfigIn) -> Response:
        return RegistryResponse({"compatibility": registry().set_compatibility(body.compatibility)})

    @router.delete(
        "/config",
        response_model=ConfigOut,
        responses=error_answers(),
        dependencies=[may("alter_configs", on_subject=False)],
    )
    def delete_global_config() -> Response:
        """Back to the default level (BACKWARD); the level it had."""
        return RegistryResponse({"compatibilityLevel": registry().delete_compatibility()})

    @router.get(
        "/config/{subject:schema_subject}",
        response_model=ConfigOut,
        responses=error_answers(404),
        dependencies=[may("describe_configs")],
    )
    def get_config(
        subject: str,
        defaultToGlobal: bool = Query(False, description="the global level when it has none"),
    ) -> Response:
        """The subject's own level (40408 when it has none, unless defaultToGlobal)."""
        level = registry().compatibility(subject, default_to_global=defaultToGlobal)
        return RegistryResponse({"compatibilityLevel": level})

    @router.put(
        "/config/{subject:schema_subject}",
        response_model=ConfigSet,
        responses=error_answers(),
        dependencies=[may("alter_configs")],
    )
    def set_config(subject: str, body: ConfigIn) -> Response:
        level = registry().set_compatibility(body.compatibility, subject)
        return RegistryResponse({"compatibility": level})

    @router.delete(
        "/config/{subject:schema_subject}",
        response_model=ConfigOut,
        responses=error_answers(404),
        dependencies=[may("alter_configs")],
    )
    def delete_config(subject: str) -> Response:
        """The subject follows the global level again; the level it had."""
        return RegistryResponse({"compatibilityLevel": registry().delete_compatibility(subject)})

    @router.get(
        "/mode",
        response_model=ModeOut,
        responses=error_answers(),
        dependencies=[may("describe_configs", on_subject=False)],
    )
    def get_global_mode(defaultToGlobal: bool = False) -> Response:
        return RegistryResponse({"mode": registry().mode()})

    @router.put(
        "/mode",
        response_model=ModeOut,
        responses=error_answers(),
        dependencies=[may("alter_configs", on_subject=False)],
    )
    def set_global_mode(body: ModeIn, force: bool = False) -> Response:
        return RegistryResponse({"mode": registry().set_mode(body.mode)})

    @router.delete(
        "/mode",
        response_model=ModeOut,
        responses=error_answers(),
        dependencies=[may("alter_configs", on_subject=False)],
    )
    def delete_global_mode() -> Response:
        """Back to READWRITE; the mode it had."""
        return RegistryResponse({"mode": registry().delete_mode("")})

    @router.get(
        "/mode/{subject:schema_subject}",
        response_model=ModeOut,
        responses=error_answers(404),
        dependencies=[may("describe_configs")],
    )
    def get_mode(
        subject: str,
        defaultToGlobal: bool = Query(False, description="the global mode when it has none"),
    ) -> Response:
        """The subject's own mode (40409 when it has none, unless defaultToGlobal)."""
        return RegistryResponse({"mode": registry().mode(subject, defaultToGlobal)})

    @router.put(
        "/mode/{subject:schema_subject}",
        response_model=ModeOut,
        responses=error_answers(),
        dependencies=[may("alter_configs")],
    )
    def set_mode(subject: str, body: ModeIn, force: bool = False) -> Response:
        return RegistryResponse({"mode": registry().set_mode(body.mode, subject)})

    @router.delete(
        "/mode/{subject:schema_subject}",
        response_model=ModeOut,
        responses=error_answers(404),
        dependencies=[may("alter_configs")],
    )
    def delete_mode(subject: str) -> Response:
        """The subject follows the global mode again; the mode it had."""
        return RegistryResponse({"mode": registry().delete_mode(subject)})
