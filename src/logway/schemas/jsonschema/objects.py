"""Confluent's rules for objects: properties (through the content model), required
(only with a default), dependencies (may go, not come; their arrays may lose names),
additionalProperties, unevaluatedProperties and min/maxProperties.
"""

from __future__ import annotations

from logway.schemas.jsonschema.compare import _compare, _Context, _limit
from logway.schemas.jsonschema.content_model import (
    _compare_extra,
    _compare_member,
    _compare_unevaluated,
)
from logway.schemas.jsonschema.model import _Object


def _compare_object(ctx: _Context, o: _Object, u: _Object) -> None:
    for name in o.properties:
        if name in u.properties and (name in o.required) != (name in u.required):
            if name in o.required:
                ctx.add("REQUIRED_ATTRIBUTE_REMOVED", "required", name)
            elif u.properties[name].has_default:
                ctx.add("REQUIRED_ATTRIBUTE_WITH_DEFAULT_ADDED", "required", name)
            else:
                detail = f"the reader requires {name!r}, which the writer's data may lack"
                ctx.add("REQUIRED_ATTRIBUTE_ADDED", "required", name, detail=detail)
    names = [*o.properties, *(n for n in u.properties if n not in o.properties)]
    for name in names:
        with ctx.at("properties", name):
            _compare_member(ctx, o, u, o.properties.get(name), u.properties.get(name), name)
    with ctx.at("dependencies"):
        for key in [
            *o.dependent_required,
            *(k for k in u.dependent_required if k not in o.dependent_required),
        ]:
            old, new = o.dependent_required.get(key), u.dependent_required.get(key)
            if new is None:
                ctx.add("DEPENDENCY_ARRAY_REMOVED", key)
            elif old is None:
                ctx.add(
                    "DEPENDENCY_ARRAY_ADDED", key, detail=f"the reader adds a dependency on {key!r}"
                )
            elif old != new:
                change = "EXTENDED" if new > old else "NARROWED" if new < old else "CHANGED"
                detail = f"{key!r} requires {sorted(new)}, not {sorted(old)}"
                ctx.add(f"DEPENDENCY_ARRAY_{change}", key, detail=detail)
        for key in [
            *o.dependent_schemas,
            *(k for k in u.dependent_schemas if k not in o.dependent_schemas),
        ]:
            old_schema, new_schema = o.dependent_schemas.get(key), u.dependent_schemas.get(key)
            if new_schema is None:
                ctx.add("DEPENDENCY_SCHEMA_REMOVED", key)
            elif old_schema is None:
                detail = f"the reader adds a dependent schema for {key!r}"
                ctx.add("DEPENDENCY_SCHEMA_ADDED", key, detail=detail)
            else:
                with ctx.at(key):
                    _compare(ctx, old_schema, new_schema)
    _compare_extra(ctx, "additionalProperties", "ADDITIONAL_PROPERTIES", o, u)
    _compare_unevaluated(
        ctx, "unevaluatedProperties", "UNEVALUATED_PROPERTIES", o.unevaluated, u.unevaluated
    )
    _limit(ctx, "maxProperties", "MAX_PROPERTIES", o.max_properties, u.max_properties)
    _limit(ctx, "minProperties", "MIN_PROPERTIES", o.min_properties, u.min_properties)
