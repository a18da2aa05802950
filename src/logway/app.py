"""``logway.App``: an application — the topics it needs, the functions it runs on
their records, its own gRPC services (served over gRPC and gRPC-Web), static files.

    app = logway.App("microblog", url="file:./logway-data")
    app.topic("articles", partitions=1)
    app.service(add_MicroblogServicer_to_server, MicroblogService)  # factory(broker)
    app.static("/", "static/")

    @app.function("articles", batch_size=100, filters=[{"value": {"author": ["ada"]}}])
    def index(batch): ...

    app.delivery("articles", to="file:./lake/articles", buffer_interval="60s")

``logway run module:app`` runs the functions and deliveries; ``logway serve --app module:app``
creates the missing topics, serves the rest and runs the functions too.
"""

from __future__ import annotations

import importlib
import inspect
import os
import pickle
import sys
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, TypeVar

from logway.broker import Broker, ensure_topic, schema_subject
from logway.delivery.settings import DeliverySettings, DeliverySpec
from logway.errors import InvalidArgumentError
from logway.functions.runner import FunctionSpec
from logway.functions.settings import FunctionSettings
from logway.names import validate_group, validate_topic_name

H = TypeVar("H", bound=Callable[..., Any])


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
    def __init__(self, name: str, url: str | None = None):
        validate_group(name)
        self.name = name
        self.url = url  # where ``logway run`` connects (else --url, $LOGWAY_URL, the default)
        self.topics: list[TopicSpec] = []
        self.services: list[ServiceSpec] = []
        self.statics: list[tuple[str, str]] = []
        self.functions: list[FunctionSpec] = []
        self.deliveries: list[DeliverySpec] = []
        self.value_types: dict[str, Any] = {}  # typed topics: name -> message class
        self.windows: list[Any] = []  # logway.windows.runner.WindowSpec
        self.notifications: list[Any] = []  # logway.notify.runner.NotifySpec
        self.schedules: list[Any] = []  # logway.schedules.runner.ScheduleSpec

    def function(
        self, source: str, *, name: str | None = None, **settings: Any
    ) -> Callable[[H], H]:
        """Run the decorated ``handler(batch)`` (or ``async def``) on the records of
        ``source``, as an event source mapping with ``settings`` (see
        ``logway.functions.settings``); each function is the consumer group
        ``<app>.<function>``. Bad settings are refused here, with the reason."""
        validate_topic_name(source)
        checked = FunctionSettings.build(**settings)

        def register(handler: H) -> H:
            if not callable(handler):
                raise InvalidArgumentError(f"@app.function decorates a function, not {handler!r}")
            fname: str = name or str(getattr(handler, "__name__", ""))
            validate_group(f"{self.name}.{fname}")
            if checked.workers == "process":
                _check_process_handler(handler)
            if any(f.name == fname for f in self.functions):
                raise InvalidArgumentError(f"app {self.name!r} already has a function {fname!r}")
            value_type = self.value_types.get(source)
            self.functions.append(FunctionSpec(fname, source, handler, checked, value_type))
            return handler

        return register

    def delivery(self, source: str, *, to: str, name: str | None = None, **settings: Any) -> str:
        """Deliver the records of ``source`` into files at ``to`` (a directory,
        ``file:PATH`` or ``s3://bucket/prefix``), as a Firehose delivery stream with
        ``settings`` (see ``logway.delivery.settings``); each delivery is the consumer
        group ``<app>.<name>`` (``name`` defaults to the source topic). Bad settings
        are refused here, with the reason. Returns the name."""
        validate_topic_name(source)
        checked = DeliverySettings.build(to, **settings)
        dname = name or source
        validate_group(f"{self.name}.{dname}")
        if any(d.name == dname for d in self.deliveries):
            raise InvalidArgumentError(
                f"app {self.name!r} already has a delivery {dname!r}; give this one a name="
            )
        self.deliveries.append(DeliverySpec(dname, source, checked))
        return dname

    def window(
        self,
        source: str,
        *,
        to: str,
        aggregate: Mapping[str, Any],
        name: str | None = None,
        **settings: Any,
    ) -> str:
        """Aggregate the records of ``source`` in windows of event time and produce
        each window's result to ``to`` (see ``logway.windows.runner``): ``tumbling=``,
        ``hopping=(size, step)``, ``sliding=`` or ``session=`` (a gap), ``grace=``,
        ``key=`` (a value field or a function; default the record key), ``time=`` (a
        value field in ms; default the record timestamp), ``aggregate={"n": "count",
        "avg": ("mean", "temp")}``, ``emit="final"|"update"``, ``idle=``. Each window
        is the consumer group ``<app>.<name>`` (``name`` defaults to ``to``). Bad
        settings are refused here, with the reason. Returns the name."""
        from logway.windows.runner import window_spec

        validate_topic_name(source)
        validate_topic_name(to)
        wname = name or to
        validate_group(f"{self.name}.{wname}")
        if any(w.name == wname for w in self.windows):
            raise InvalidArgumentError(
                f"app {self.name!r} already has a window {wname!r}; give this one a name="
            )
        self.windows.append(window_spec(wname, source, to, aggregate=aggregate, **settings))
        return wname

    def sql(self, statement: str, *, name: str | None = None, **settings: Any) -> str:
        """Run a continuous query (``logway.windows.sqlrun``): ``INSERT INTO alerts
        SELECT … FROM TUMBLE(readings, DESCRIPTOR(ts), INTERVAL '1' MINUTE) GROUP BY …,
        window_start, window_end`` (HOP, CUMULATE and SESSION too), or a filter and
        projection ``FROM readings`` without a window; ``key=`` (the result column
        that keys results), ``columns={"temp": "DOUBLE"}`` (else taken from the first
        record), ``grace=``, ``idle=``, ``starting_position=``. Unreadable records go
        to ``<target>-errors`` and late ones to ``<target>-late``. It runs as the
        consumer group ``<app>.<name>`` (``name`` defaults to the target). Bad
        statements and settings are refused here, with the reason. Returns the name."""
        from logway.windows.sqlrun import sql_spec

        spec = sql_spec(statement, name=name, **settings)
        validate_topic_name(spec.source)
        validate_topic_name(spec.to)
        validate_group(f"{self.name}.{spec.name}")
        if any(w.name == spec.name for w in self.windows):
            raise InvalidArgumentError(
                f"app {self.name!r} already has a window or query {spec.name!r}; give this "
                "one a name="
            )
        self.windows.append(spec)
        return spec.name

    def schedule(
        self,
        expression: str,
        *,
        topic: str,
        value: Any = None,
        key: bytes | str | None = None,
        headers: Mapping[str, bytes | str | None] | None = None,
        timezone: str = "UTC",
        start: Any = None,
        end: Any = None,
        flexible_window: int | str | None = None,
        catch_up: str = "latest",
        name: str | None = None,
    ) -> str:
        """Publish a record to ``topic`` at each tick of an EventBridge Scheduler
        expression (``rate(5 minutes)``, ``cron(0 9 ? * MON-FRI *)``, ``at(...)``) in
        ``timezone``, between ``start`` and ``end``, each up to ``flexible_window``
        minutes late (see ``logway.schedules.runner``): timestamped with the scheduled
        time, with ``key``, ``headers`` and ``value`` (bytes, str, a dict sent as JSON,
        a function of the tick's time, or None for a JSON body naming the schedule and
        the time). ``catch_up`` ("none", "latest", "all") says what to publish of the
        ticks missed while nothing ran. Exactly once, whichever processes run the app.
        The schedule is ``<app>.<name>`` (``name`` defaults to the topic). Bad settings
        are refused here, with the reason. Returns the name."""
        from logway.schedules.runner import schedule_spec

        spec = schedule_spec(
            self.name,
            expression,
            topic=topic,
            value=value,
            key=key,
            headers=headers,
            timezone=timezone,
            start=start,
            end=end,
            flexible_window=flexible_window,
            catch_up=catch_up,
            name=name,
        )
        if any(s.name == spec.name for s in self.schedules):
            raise InvalidArgumentError(
                f"app {self.name!r} already has a schedule {spec.name!r}; give this one a name="
            )
        self.schedules.append(spec)
        return spec.name

    def notify(self, source: str, *, to: str, name: str | None = None, **settings: Any) -> str:
        """Send each record of ``source`` (filtered, shaped) to ``to``: a webhook
        (``https://…``), Slack (``slack+https://hooks.slack.com/…``) or e-mail
        (``smtp://user:pass@host:587?from=…&to=…&starttls=1``), at least once, with
        retries, parking what cannot be delivered on ``on_failure`` (see
        ``logway.notify.settings``). Each notification is the consumer group
        ``<app>.<name>`` (``name`` defaults to ``<source>-notify``). Bad settings are
        refused here, with the reason. Returns the name."""
        from logway.notify.runner import NotifySpec
        from logway.notify.settings import NotifySettings

        validate_topic_name(source)
        checked = NotifySettings.build(source, to=to, **settings)
        nname = name or f"{source}-notify"
        validate_group(f"{self.name}.{nname}")
        if any(n.name == nname for n in self.notifications):
            raise InvalidArgumentError(
                f"app {self.name!r} already has a notification {nname!r}; give this one a name="
            )
        self.notifications.append(NotifySpec(nname, source, checked))
        return nname

    def topic(self, name: str, partitions: int = 1, *, value: Any = None, **config: Any) -> str:
        """Declare a topic the app needs; created with these settings when missing.

        ``value``, a generated Protobuf message class, makes it a typed topic: its
        values must be that message in the schema registry's wire format (the topic
        gets ``value_schema``, ``NAME-value`` unless given, where the message's file is
        registered when the app starts), and the app's functions on it receive
        records whose values are decoded messages."""
        if value is not None:
            if not (isinstance(value, type) and hasattr(value, "DESCRIPTOR")):
                raise InvalidArgumentError(
                    f"value= takes a generated Protobuf message class, not {value!r}"
                )
            config.setdefault("value_schema", f"{name}-value")
            self.value_types[name] = value
            for spec in self.functions:  # declared before the topic
                if spec.source == name:
                    spec.value_type = value
        self.topics.append(TopicSpec(name, partitions, config))
        return name

    def service(
        self, register: Callable[[Any, Any], None], factory: Callable[[Broker], Any]
    ) -> None:
        """Serve a gRPC service (over gRPC and gRPC-Web) built by ``factory(broker)``,
        or ``factory(broker, access=...)`` when it takes ``access``: the server's
        ``logway.server.access.Access``, whose ``caller(context)`` says who is calling
        and ``allowed``/``check`` what they may do (with ``--auth``)."""
        self.services.append(ServiceSpec(register, factory))

    def static(self, path: str, directory: str) -> None:
        """Serve the files of ``directory`` (relative to the app's module) under ``path``."""
        self.statics.append((path, directory))

    def ensure_topics(self, broker: Broker) -> None:
        """Create the missing topics and register the typed ones' message schemas
        (a compatible change becomes a new version; a breaking one is refused here)."""
        for spec in self.topics:
            ensure_topic(broker, spec.name, spec.partitions, **spec.config)
            value_type = self.value_types.get(spec.name)
            if value_type is not None:
                # encoding registers the message's file in the subject when it is new
                broker.schemas.encode(schema_subject(broker, spec.name), value_type())


def _check_process_handler(handler: Any) -> None:
    """``workers="process"`` sends the handler to other processes by name."""
    if inspect.iscoroutinefunction(handler):
        raise InvalidArgumentError("workers='process' runs plain functions, not async ones")
    try:
        pickle.dumps(handler)
    except Exception:
        raise InvalidArgumentError(
            f"workers='process' needs a function defined at the top of a module, so that "
            f"other processes can import it; {handler!r} is not"
        ) from None


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
