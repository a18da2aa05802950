"""``RegistryClient``: a schema registry over Confluent Schema Registry's REST API —
``logway serve``'s ``/schemas`` or a Confluent registry — with the reading and
registering methods of ``SchemaRegistry``, so ``broker.schemas`` on ``kafka://`` can
use the registry its URL names (``?schema.registry.url=...``).

Answers are Confluent's JSON; errors come back as the ``logway.errors`` class for
their ``error_code``. Schemas by id never change, so they are kept once fetched;
what a subject holds is asked each time (``subject_ids`` is cached by ``Schemas``).
"""

from __future__ import annotations

import base64
import json
import ssl
import threading
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Iterable
from typing import Any

from logway.errors import (
    IncompatibleSchemaError,
    InvalidSchemaError,
    SchemaNotFoundError,
    SchemaRegistryError,
    SchemaStateError,
)
from logway.schemas.kinds import kind
from logway.schemas.model import Reference, Schema

CONTENT_TYPE = "application/vnd.schemaregistry.v1+json"


class RegistryClient:
    """The registry at ``url`` (e.g. ``http://host:8080/schemas``), as a user with a
    password, a bearer token, or no credentials."""

    def __init__(
        self,
        url: str,
        *,
        user: str | None = None,
        password: str | None = None,
        token: str | None = None,
        ca_file: str | None = None,
        timeout: float = 10.0,
    ) -> None:
        """``ca_file``: the certificates an ``https`` registry's is checked against
        (else the system's)."""
        self.url = url.rstrip("/")
        self.timeout = timeout
        self._tls = ssl.create_default_context(cafile=ca_file) if ca_file else None
        self._headers = {"Accept": CONTENT_TYPE, "Content-Type": CONTENT_TYPE}
        if token:
            self._headers["Authorization"] = f"Bearer {token}"
        elif user is not None:
            pair = base64.b64encode(f"{user}:{password or ''}".encode()).decode()
            self._headers["Authorization"] = f"Basic {pair}"
        self._lock = threading.RLock()
        self._by_id: dict[int, Schema] = {}
        self._parsed: dict[int, Any] = {}
        self.generation = 0  # what is kept never changes: ids name one schema for good

    # --- requests -------------------------------------------------------------------

    def _call(self, method: str, path: str, body: Any = None, **query: Any) -> Any:
        params = {k: str(v).lower() if isinstance(v, bool) else v for k, v in query.items()}
        target = self.url + path + (f"?{urllib.parse.urlencode(params)}" if params else "")
        data = None if body is None else json.dumps(body).encode()
        request = urllib.request.Request(target, data, self._headers, method=method)
        try:
            with urllib.request.urlopen(request, timeout=self.timeout, context=self._tls) as answer:
                return json.loads(answer.read() or b"null")
        except urllib.error.HTTPError as exc:
            raise _error(exc.code, exc.read()) from None
        except (urllib.error.URLError, OSError) as exc:
            raise SchemaRegistryError(
                f"the schema registry at {self.url} cannot be reached: {exc}"
            ) from None

    @staticmethod
    def _subject(subject: str) -> str:
        return urllib.parse.quote(subject, safe="")

    # --- reading --------------------------------------------------------------------

    def subjects(self, deleted: bool = False, prefix: str = "") -> list[str]:
        found = self._call("GET", "/subjects", deleted=deleted, subjectPrefix=prefix)
        return sorted(found)

    def versions(self, subject: str, deleted: bool = False) -> list[int]:
        return sorted(
            self._call("GET", f"/subjects/{self._subject(subject)}/versions", deleted=deleted)
        )

    def get(self, subject: str, version: int | str = "latest", deleted: bool = False) -> Schema:
        path = f"/subjects/{self._subject(subject)}/versions/{version}"
        return _schema(self._call("GET", path, deleted=deleted))

    def by_id(self, schema_id: int) -> Schema:
        found = self._by_id.get(schema_id)
        if found is None:
            answer = self._call("GET", f"/schemas/ids/{schema_id}")
            uses = self._call("GET", f"/schemas/ids/{schema_id}/versions", deleted=True)
            subject, version = (uses[0]["subject"], uses[0]["version"]) if uses else ("", 0)
            found = Schema(
                subject,
                int(version),
                schema_id,
                str(answer.get("schemaType") or "AVRO"),
                str(answer["schema"]),
                tuple(Reference.of(r) for r in answer.get("references") or ()),
            )
            self._by_id[schema_id] = found
        return found

    def parsed(self, schema_id: int) -> Any:
        """The parsed form of a schema by id, its references fetched and parsed too."""
        found = self._parsed.get(schema_id)
        if found is None:
            schema = self.by_id(schema_id)
            texts = self._texts(schema.references, frozenset())
            found = self._parsed[schema_id] = kind(schema.schema_type).parse(schema.schema, texts)
        return found

    def _texts(self, references: Iterable[Reference], seen: frozenset[str]) -> dict[str, str]:
        texts: dict[str, str] = {}
        for ref in references:
            key = f"{ref.subject}:{ref.version}"
            if key in seen:
                raise InvalidSchemaError(f"references loop through {ref.subject} v{ref.version}")
            target = self.get(ref.subject, ref.version, deleted=True)
            texts.update(self._texts(target.references, seen | {key}))
            texts[ref.name] = target.schema
        return texts

    def subject_versions(self, subject: str) -> list[Schema]:
        """Every version of ``subject``, soft-deleted ones too."""
        try:
            numbers = self.versions(subject, deleted=True)
        except SchemaNotFoundError:
            return []
        return [self.get(subject, n, deleted=True) for n in numbers]

    def uses(self, schema_id: int, deleted: bool = False) -> list[tuple[str, int]]:
        found = self._call("GET", f"/schemas/ids/{schema_id}/versions", deleted=deleted)
        return sorted((u["subject"], int(u["version"])) for u in found)

    def compatibility(self, subject: str | None = None, default_to_global: bool = True) -> str:
        path = "/config" if subject is None else f"/config/{self._subject(subject)}"
        answer = self._call("GET", path, defaultToGlobal=default_to_global)
        return str(answer.get("compatibilityLevel") or answer.get("compatibility"))

    def mode(self, subject: str | None = None, default_to_global: bool = True) -> str:
        path = "/mode" if subject is None else f"/mode/{self._subject(subject)}"
        return str(self._call("GET", path, defaultToGlobal=default_to_global)["mode"])

    # --- writing --------------------------------------------------------------------

    @staticmethod
    def _body(schema: str, schema_type: str | None, references: Iterable[Any]) -> dict[str, Any]:
        body: dict[str, Any] = {"schema": schema}
        if schema_type:
            body["schemaType"] = schema_type
        refs = [Reference.of(r).to_json() for r in references or ()]
        if refs:
            body["references"] = refs
        return body

    def lookup(
        self,
        subject: str,
        schema: str,
        schema_type: str | None = None,
        references: Iterable[Any] = (),
        normalize: bool = False,
        deleted: bool = False,
    ) -> Schema:
        path = f"/subjects/{self._subject(subject)}"
        body = self._body(schema, schema_type, references)
        return _schema(self._call("POST", path, body, normalize=normalize, deleted=deleted))

    def register(
        self,
        subject: str,
        schema: str,
        schema_type: str | None = None,
        references: Iterable[Any] = (),
        normalize: bool = False,
    ) -> Schema:
        path = f"/subjects/{self._subject(subject)}/versions"
        body = self._body(schema, schema_type, references)
        self._call("POST", path, body, normalize=normalize)
        return self.lookup(subject, schema, schema_type, references, normalize)

    def check(
        self,
        subject: str,
        schema: str,
        schema_type: str | None = None,
        references: Iterable[Any] = (),
        version: int | str | None = "latest",
        normalize: bool = False,
    ) -> list[str]:
        which = "versions" if version is None else f"versions/{version}"
        path = f"/compatibility/subjects/{self._subject(subject)}/{which}"
        body = self._body(schema, schema_type, references)
        answer = self._call("POST", path, body, verbose=True, normalize=normalize)
        return (
            [] if answer.get("is_compatible") else list(answer.get("messages") or ["incompatible"])
        )

    def set_compatibility(self, level: str, subject: str | None = None) -> str:
        path = "/config" if subject is None else f"/config/{self._subject(subject)}"
        return str(self._call("PUT", path, {"compatibility": level})["compatibility"])

    def set_mode(self, mode: str, subject: str | None = None) -> str:
        path = "/mode" if subject is None else f"/mode/{self._subject(subject)}"
        return str(self._call("PUT", path, {"mode": mode})["mode"])

    def delete_version(self, subject: str, version: int | str, permanent: bool = False) -> int:
        path = f"/subjects/{self._subject(subject)}/versions/{version}"
        return int(self._call("DELETE", path, permanent=permanent))

    def delete_subject(self, subject: str, permanent: bool = False) -> list[int]:
        found = self._call("DELETE", f"/subjects/{self._subject(subject)}", permanent=permanent)
        return [int(v) for v in found]

    def refresh(self) -> None:
        """Nothing to read again: every request asks the registry."""

    def types(self) -> list[str]:
        return list(self._call("GET", "/schemas/types"))


def _schema(answer: dict[str, Any]) -> Schema:
    return Schema(
        str(answer["subject"]),
        int(answer["version"]),
        int(answer["id"]),
        str(answer.get("schemaType") or "AVRO"),
        str(answer.get("schema", "")),
        tuple(Reference.of(r) for r in answer.get("references") or ()),
        bool(answer.get("deleted", False)),
    )


def _error(status: int, body: bytes) -> SchemaRegistryError:
    """The logway error for a registry's error answer (Confluent's codes)."""
    try:
        answer = json.loads(body)
        code, message = int(answer["error_code"]), str(answer["message"])
    except (ValueError, KeyError, TypeError):
        code, message = status, body.decode(errors="replace")[:200] or f"HTTP {status}"
    if status == 409 and code == 409:
        return IncompatibleSchemaError(message)
    if status == 404 and code in (40401, 40402, 40403):
        return SchemaNotFoundError(message, code)
    if status == 422:
        return InvalidSchemaError(message, code)
    if status in (401, 403):
        return SchemaRegistryError(f"the schema registry refused: {message}")
    state = SchemaStateError(message, code, status)
    return state
