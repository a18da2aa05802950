"""``logway.App``: what an application adds to a logway server — the topics it
needs, its own gRPC services (served over gRPC and gRPC-Web), and static files.

    app = logway.App("microblog")
    app.topic("articles", partitions=1)
    app.service(add_MicroblogServicer_to_server, MicroblogService)  # factory(broker)
    app.static("/", "static/")

``logway serve --app module:app`` creates the missing topics and serves the rest.
"""

from __future__ import annotations

import importlib
import os
import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from logway.broker import Broker
from logway.errors import InvalidArgumentError, TopicExistsError


@dataclass
class TopicSpec:
    name: str
    partitions: int = 1
    config: dict[str, Any] = field(default_factory=dict)


@dataclass
class ServiceSpec:
    register: Callable[[Any, Any], None]  # a generated add_XServicer_to_server
    factory: Callable[[Broker], Any]  # builds the servicer over the broker


class App:
    def __init__(self, name: str):
        self.name = name
        self.topics: list[TopicSpec] = []
        self.services: list[ServiceSpec] = []
        self.statics: list[tuple[str, str]] = []

    def topic(self, name: str, partitions: int = 1, **config: Any) -> str:
        """Declare a topic the app needs; created with these settings when missing."""
        self.topics.append(TopicSpec(name, partitions, config))
        return name

    def service(
        self, register: Callable[[Any, Any], None], factory: Callable[[Broker], Any]
    ) -> None:
        """Serve a gRPC service (over gRPC and gRPC-Web) built by ``factory(broker)``."""
        self.services.append(ServiceSpec(register, factory))

    def static(self, path: str, directory: str) -> None:
        """Serve the files of ``directory`` (relative to the app's module) under ``path``."""
        self.statics.append((path, directory))

    def ensure_topics(self, broker: Broker) -> None:
        existing = set(broker.list_topics())
        for spec in self.topics:
            if spec.name in existing:
                continue
            try:
                broker.create_topic(spec.name, spec.partitions, **spec.config)
            except TopicExistsError:
                pass  # created meanwhile by another process


def load_app(target: str) -> App:
    """Import ``module:attribute`` (attribute defaults to ``app``), as uvicorn does,
    with the working directory importable."""
    module_name, _, attribute = target.partition(":")
    if not module_name:
        raise InvalidArgumentError(f"--app wants module:attribute, not {target!r}")
    if os.getcwd() not in sys.path:
        sys.path.insert(0, os.getcwd())
    try:
        module = importlib.import_module(module_name)
    except ModuleNotFoundError as exc:
        raise InvalidArgumentError(f"cannot import app module {module_name!r}: {exc}") from None
    app = getattr(module, attribute or "app", None)
    if not isinstance(app, App):
        raise InvalidArgumentError(f"{target!r} is not a logway.App")
    app.base_dir = os.path.dirname(os.path.abspath(module.__file__ or "."))  # type: ignore[attr-defined]
    return app
