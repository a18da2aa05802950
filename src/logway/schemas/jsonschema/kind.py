"""``JsonSchemaKind``, the registry's interface to JSON Schema (``logway.schemas.kinds``):
parsing, canonical text and compatibility problems, made of the modules beside it;
``KIND`` is the one the registry uses (Confluent's default STRICT policy).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any
from urllib.parse import urljoin

import referencing
import referencing.exceptions
from jsonschema_specifications import REGISTRY as META_SCHEMAS

from logway.errors import InvalidSchemaError
from logway.schemas.jsonschema.compare import _path
from logway.schemas.jsonschema.diff import _diff
from logway.schemas.jsonschema.drafts import _DRAFT7, _draft
from logway.schemas.jsonschema.loader import _Loader
from logway.schemas.jsonschema.parse import ParsedJsonSchema, _check, _check_refs, _load_json
from logway.schemas.jsonschema.policies import _COMPATIBLE_LENIENT, _COMPATIBLE_STRICT
from logway.schemas.kinds import JSON


class JsonSchemaKind:
    """The JSON kind (see the package's docstring); ``lenient`` is Confluent's LENIENT
    compatibility policy, STRICT by default."""

    name = JSON

    def __init__(self, lenient: bool = False) -> None:
        self.compatible = _COMPATIBLE_LENIENT if lenient else _COMPATIBLE_STRICT

    def parse(self, text: str, references: Mapping[str, str]) -> ParsedJsonSchema:
        document = _load_json(text, "the schema")
        draft = _draft(document, _DRAFT7)
        _check(document, draft, "the schema")
        docs = {name: _load_json(t, f"reference {name!r}") for name, t in references.items()}
        for name, doc in docs.items():
            _check(doc, _draft(doc, draft), f"reference {name!r}")
        root_id = draft.spec.id_of(document) if isinstance(document, dict) else None
        pairs: list[tuple[str, referencing.Resource[Any]]] = []
        for name, doc in docs.items():
            resource = _draft(doc, draft).spec.create_resource(doc)
            pairs.append((name, resource))
            if root_id:  # Confluent registers a reference relative to the schema's $id
                pairs.append((urljoin(root_id, name), resource))
        pairs.append((root_id or "", draft.spec.create_resource(document)))
        registry: referencing.Registry[Any] = META_SCHEMAS.combine(
            referencing.Registry().with_resources(pairs)
        )
        names = ", ".join(repr(n) for n in docs) or "none given"
        _check_refs(document, draft, registry.resolver(), "the schema", names)
        for name, doc in docs.items():
            _check_refs(
                doc, _draft(doc, draft), registry.resolver(name), f"reference {name!r}", names
            )
        loader = _Loader()
        try:
            root = loader.load(document, registry.resolver(), draft)
            loader.resolve_refs()
        except referencing.exceptions.Unresolvable as exc:  # _check_refs found them all
            raise InvalidSchemaError(f"the schema: $ref {exc.ref!r} resolves to nothing") from None
        validator = draft.validator(document, registry=registry)
        return ParsedJsonSchema(document, draft.name, docs, registry, validator, root)

    def canonical(self, parsed: ParsedJsonSchema, normalize: bool) -> str:
        """Sorted keys, no whitespace; ``normalize`` adds nothing (see the package)."""
        return json.dumps(
            parsed.document, sort_keys=True, separators=(",", ":"), ensure_ascii=False
        )

    def problems(self, reader: ParsedJsonSchema, writer: ParsedJsonSchema) -> list[str]:
        """Confluent's diff with original = ``writer``, update = ``reader``: each
        difference its policy does not accept, as ``where: what (TYPE)``."""
        lines: list[str] = []
        for d in _diff(self.compatible, writer.root, reader.root):
            if d.type not in self.compatible:
                line = f"{_path(d.path)}: {d.detail or d.type.lower().replace('_', ' ')} ({d.type})"
                if line not in lines:
                    lines.append(line)
        return lines


KIND = JsonSchemaKind()
