"""JSON Schema as Confluent Schema Registry treats it: checked by the ``jsonschema``
library, compared by Confluent's rules (``io.confluent.kafka.schemaregistry.json.diff``).

Parsing. The text is JSON whose root is an object or true/false, and a valid schema of
the draft its ``$schema`` names: 4, 6, 7, 2019-09 or 2020-12; draft 7 when it names
none or one Confluent does not know. Every ``$ref`` must resolve: within the schema, to
a meta-schema, or to one of its references (other registered schemas, by reference
name: "address.json" or a URL, taken relative to the schema's ``$id`` as Confluent
does). The parsed schema validates data through them (``ParsedJsonSchema.validator``).

Canonical text: the JSON with sorted keys and no whitespace. Confluent's normalization
sorts object keys and nothing else (arrays such as ``required`` and ``enum`` keep their
order), so the normalized text is the same text.

Compatibility. Confluent diffs an *original* schema against an *update* and accepts the
update when it accepts all the original did: BACKWARD diffs the latest version
(original) against the new schema (update). ``problems(reader, writer)`` is that diff
with original = ``writer``, update = ``reader``: data valid under the writer's schema
must stay valid under the reader's. Schemas are read as Everit reads them (Confluent's
model): ``{"type": "string", "enum": [...]}`` is all of (enum, string), a list of types
is any of them, ``$ref`` is compared through. With Confluent's default STRICT policy:

- a different type is incompatible, except that ``true``/``{}`` read anything and
  ``false`` is read by anything; integer -> number widens, number -> integer narrows;
  a writer's type read by an anyOf/oneOf with a compatible branch is fine, and so is a
  writer's allOf with one part compatible with the reader;
- combined schemas: anyOf/oneOf may gain branches but not lose them, allOf may lose
  parts but not gain them, the criterion may only widen (to anyOf, between
  singletons), and each writer subschema must match its own compatible reader
  subschema (a maximum matching);
- limits only loosen: maxLength, maximum, exclusiveMaximum, maxItems, maxProperties,
  maxContains may grow or go; their min* counterparts may shrink or go; a pattern may
  go but not come or change; multipleOf may go or become a divisor of the writer's;
  uniqueItems may go; enum values may be added, not removed; const may not change;
  ``not`` may exclude less;
- objects: an *open* content model (additionalProperties absent or true, no
  patternProperties, unevaluatedProperties absent or true) may carry any property, a
  *closed* one (false) none but its own, a *partially open* one (a schema in
  additionalProperties, patternProperties or unevaluatedProperties) those it covers.
  A property the reader drops is fine if the reader is open, or covers it with a
  compatible schema, or the writer's was ``false``. A property the reader adds is
  incompatible in a writer's open model (the writer's data may carry it with any
  value) unless its schema is ``true``/``{}``; in a partially open model the writer's
  covering schema must be compatible with it; in any but an open model it may be
  optional or required with a default. A property both have may become optional,
  and required only with a default. additionalProperties may open, not close or
  narrow; a dependency may go, not come, and its array may lose names, not gain them;
- arrays: items, additionalItems, unevaluatedItems and tuple items (items as a list,
  prefixItems) follow the same content model rules; adding ``items`` where there was
  none is incompatible.

LENIENT (``JsonSchemaKind(lenient=True)``) also accepts adding optional properties to
an open model, removing properties from a closed one, properties not covered by a
partially open model, and additionalProperties/unevaluatedProperties that close or
narrow. As in Confluent, titles, descriptions, defaults, ``$id``, format, contains,
propertyNames and if/then/else are not compared (if/then/else only as present or not).

Each problem is a line ``<where>: <what> (<Confluent's difference type>)``; ``where``
is the path Confluent reports (``#/properties/address/properties/zip``; tuple items are
``items/N`` in every draft), without the allOf/anyOf Everit makes of one schema object
(keywords of several kinds, a list of types). Where a subschema of a combined schema
matches none of the other side's and one of them is of its kind, the problem is what
keeps the two apart rather than Confluent's bare COMBINED_TYPE_SUBSCHEMAS_CHANGED; and
``items``/``unevaluated*`` of ``true``/``{}`` count as absent (Confluent would call
adding them a change). Verdicts agree with Confluent's own diff test cases.
"""

from logway.schemas.jsonschema.kind import KIND, JsonSchemaKind
from logway.schemas.jsonschema.parse import ParsedJsonSchema

__all__ = ["KIND", "JsonSchemaKind", "ParsedJsonSchema"]
