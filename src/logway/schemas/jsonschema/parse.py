"""Reading a schema's text: JSON whose root is an object or true/false, valid under its
draft's meta-schema, every ``$ref`` resolving (within the schema, to a meta-schema or to
one of its references) or refused saying where; and ``ParsedJsonSchema``, what it gives.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urldefrag

import referencing
import referencing.exceptions
from jsonschema.exceptions import SchemaError

from logway.errors import InvalidSchemaError
from logway.schemas.jsonschema.drafts import _Draft, _Resolver
from logway.schemas.jsonschema.model import _Node


@dataclass(eq=False)
class ParsedJsonSchema:
    """A parsed schema: its JSON, draft, references (name -> JSON), a validator for
    data that resolves them, and the model the compatibility rules compare."""

    document: Any
    draft: str
    references: dict[str, Any]
    registry: referencing.Registry[Any]
    validator: Any
    root: _Node = field(repr=False)


def _refuse_constant(name: str) -> Any:
    raise ValueError(f"{name} is not a JSON number")


def _load_json(text: str, label: str) -> Any:
    try:
        value = json.loads(text, parse_constant=_refuse_constant)
    except (ValueError, RecursionError) as exc:
        raise InvalidSchemaError(f"{label} is not JSON: {exc}") from None
    if not isinstance(value, dict | bool):
        root = {list: "an array", str: "a string", type(None): "null"}.get(type(value), "a number")
        raise InvalidSchemaError(
            f"{label} is not a JSON Schema: its root is {root}; a schema is a JSON object or "
            "true/false"
        )
    return value


def _check(document: Any, draft: _Draft, label: str) -> None:
    try:
        draft.validator.check_schema(document)
    except SchemaError as exc:
        where = "#" + "".join(f"/{_escape(p)}" for p in exc.path)
        raise InvalidSchemaError(
            f"{label} is not a valid JSON Schema ({draft.name}): at {where}, {exc.message}"
        ) from None


def _escape(part: object) -> str:
    return str(part).replace("~", "~0").replace("/", "~1")


def _pointers(document: Any) -> dict[int, str]:
    """Where each object of ``document`` is, as a JSON pointer fragment."""
    found: dict[int, str] = {}
    stack: list[tuple[Any, str]] = [(document, "#")]
    while stack:
        value, where = stack.pop()
        if isinstance(value, dict):
            found[id(value)] = where
            stack.extend((v, f"{where}/{_escape(k)}") for k, v in value.items())
        elif isinstance(value, list):
            stack.extend((v, f"{where}/{i}") for i, v in enumerate(value))
    return found


def _check_refs(document: Any, draft: _Draft, resolver: _Resolver, label: str, names: str) -> None:
    """Every ``$ref`` in ``document`` (in any subschema, definitions too) resolves."""
    where = _pointers(document)
    stack = [(draft.spec.create_resource(document), resolver)]
    while stack:
        resource, parent = stack.pop()
        inner = parent.in_subresource(resource)
        ref = resource.contents.get("$ref") if isinstance(resource.contents, dict) else None
        if isinstance(ref, str):
            try:
                inner.lookup(ref)
            except referencing.exceptions.Unresolvable:
                at = f"{label}: $ref {ref!r} at {where.get(id(resource.contents), '#')}"
                document_name = urldefrag(ref).url
                if not document_name:
                    raise InvalidSchemaError(f"{at} points to nothing in the schema") from None
                raise InvalidSchemaError(
                    f"{at} resolves to nothing: not the schema, a meta-schema or one of its "
                    f"references ({names}); register the schema it names and pass it as a "
                    f"reference named {document_name!r}"
                ) from None
        stack.extend((sub, inner) for sub in resource.subresources())
