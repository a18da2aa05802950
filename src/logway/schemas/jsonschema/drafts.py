"""The JSON Schema drafts Confluent knows (4, 6, 7, 2019-09, 2020-12), each with its
``jsonschema`` validator and ``referencing`` specification, and which one a schema's
``$schema`` names (draft 7 when none or an unknown one, as Confluent).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

import jsonschema.validators as jsonschema_validators
import referencing
import referencing.jsonschema

_Resolver = Any  # referencing's Resolver, which the package does not export


@dataclass(frozen=True)
class _Draft:
    name: str
    year: int  # 4, 6, 7, 2019, 2020: ordered
    validator: Any  # the jsonschema Validator class
    spec: referencing.Specification[Any]


_DRAFTS = {  # $schema without scheme or "#" -> draft
    f"json-schema.org/{path}/schema": _Draft(
        name,
        year,
        getattr(jsonschema_validators, f"Draft{suffix}Validator"),
        getattr(referencing.jsonschema, f"DRAFT{suffix}"),
    )
    for path, name, year, suffix in (
        ("draft-04", "draft-04", 4, "4"),
        ("draft-06", "draft-06", 6, "6"),
        ("draft-07", "draft-07", 7, "7"),
        ("draft/2019-09", "2019-09", 2019, "201909"),
        ("draft/2020-12", "2020-12", 2020, "202012"),
    )
}
_DRAFT7 = _DRAFTS["json-schema.org/draft-07/schema"]


def _draft(document: Any, default: _Draft) -> _Draft:
    """The draft ``$schema`` names (http or https, with or without ``#``), as Confluent."""
    named = document.get("$schema") if isinstance(document, dict) else None
    if not isinstance(named, str):
        return default
    return _DRAFTS.get(re.sub(r"^https?://|#$", "", named.strip()), _DRAFT7)
