"""Protobuf schemas as Confluent's registry treats them: .proto text and base64
FileDescriptorProtos parsed into one model, imports from references and the well-known
files, a canonical text, and Confluent's compatibility rules (its SchemaDiff), checked
case by case and through ``SchemaRegistry``."""

from __future__ import annotations

import ast
import base64
import importlib.resources
from pathlib import Path

import pytest
from google.protobuf import descriptor_pb2
from grpc_tools import protoc

import logway
from logway.errors import IncompatibleSchemaError, InvalidSchemaError
from logway.schemas import SchemaRegistry
from logway.schemas.kinds import kind
from logway.schemas.protobuf import KIND, WELL_KNOWN, Message, ProtobufSchema

ROOT = Path(__file__).resolve().parents[2]
ARTICLE_PROTO = ROOT / "examples/microblog/proto/microblog/v1/article.proto"
ARTICLE_PB2 = ROOT / "examples/microblog/microblog/v1/article_pb2.py"
PROTOC_INCLUDE = importlib.resources.files("grpc_tools") / "_proto"


def parse(text: str, references: dict[str, str] | None = None) -> ProtobufSchema:
    return KIND.parse(text, references or {})


def p3(body: str, package: str = "") -> str:
    head = 'syntax = "proto3";\n' + (f"package {package};\n" if package else "")
    return head + body


def compiled(tmp_path: Path, files: dict[str, str]) -> dict[str, str]:
    """What confluent-kafka's ProtobufSerializer registers for each file: the base64 of
    its FileDescriptorProto, here as grpc_tools' protoc compiles it."""
    for name, text in files.items():
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_text(text)
    out = tmp_path / "descriptors.pb"
    args = [f"-I{tmp_path}", f"-I{PROTOC_INCLUDE}", f"--descriptor_set_out={out}", *files]
    assert protoc.main(["protoc", *args]) == 0
    found = descriptor_pb2.FileDescriptorSet.FromString(out.read_bytes())
    return {f.name: base64.standard_b64encode(f.SerializeToString()).decode() for f in found.file}


def generated_descriptor(pb2: Path) -> bytes:
    """A generated module's ``DESCRIPTOR.serialized_pb``, read from its source so the
    default descriptor pool is left alone."""
    for node in ast.walk(ast.parse(pb2.read_text())):
        if (
            isinstance(node, ast.Call)
            and isinstance(node.func, ast.Attribute)
            and node.func.attr == "AddSerializedFile"
            and isinstance(node.args[0], ast.Constant)
        ):
            return bytes(node.args[0].value)
    raise AssertionError(f"no serialized descriptor in {pb2}")


def message(schema: ProtobufSchema, name: str) -> Message:
    found = schema.types[name].element
    assert isinstance(found, Message)
    return found


# --- parsing -----------------------------------------------------------------------

ORDER = p3(
    """
import "google/protobuf/timestamp.proto";
import "money.proto";

option java_package = "com.shop.v1";

// An order, as the shop writes it.
message Order {
  reserved 4, 8 to 10;
  reserved "legacy";
  string id = 1 [deprecated = true];
  google.protobuf.Timestamp placed_at = 2;
  repeated Line lines = 3;
  map<string, Line> by_sku = 5;
  optional int32 priority = 6;
  oneof payment {
    string card = 7;
    money.Amount voucher = 11;
  }
  Status status = 12 [json_name = "state"];

  message Line { string sku = 1; int64 qty = 2; }
  enum Status { STATUS_UNSPECIFIED = 0; STATUS_OPEN = 1; }
}

service Orders {
  rpc Place (Order) returns (Order);
  rpc Watch (Order) returns (stream Order);
}
""",
    package="shop.v1",
)
MONEY = p3("message Amount { int64 units = 1; string currency = 2; }\n", package="money")


def test_kind_is_found_by_type_name() -> None:
    assert kind("PROTOBUF") is KIND and kind("protobuf").name == "PROTOBUF"


def test_parses_proto3_text_into_the_model() -> None:
    schema = parse(ORDER, {"money.proto": MONEY})
    assert schema.file.package == "shop.v1"
    assert schema.file.imports == ["google/protobuf/timestamp.proto", "money.proto"]
    order = message(schema, "shop.v1.Order")
    fields = {f.name: f for f in order.fields}
    assert (fields["id"].number, fields["id"].label, fields["id"].type) == (1, None, "string")
    assert (fields["placed_at"].type, fields["placed_at"].kind) == (
        ".google.protobuf.Timestamp",
        "message",
    )
    assert (fields["lines"].label, fields["lines"].type) == ("repeated", ".shop.v1.Order.Line")
    assert (fields["by_sku"].key, fields["by_sku"].type) == ("string", ".shop.v1.Order.Line")
    assert fields["priority"].label == "optional"  # proto3 explicit presence
    assert [f.name for f in order.fields if f.oneof == "payment"] == ["card", "voucher"]
    assert fields["voucher"].type == ".money.Amount"
    assert (fields["status"].kind, fields["status"].json_name) == ("enum", "state")
    assert order.reserved == [(4, 4), (8, 10)] and order.reserved_names == ["legacy"]
    assert [m.name for m in order.messages] == ["Line"] and order.enums[0].name == "Status"
    assert set(schema.dependencies) == {"google/protobuf/timestamp.proto", "money.proto"}
    assert schema.types["money.Amount"].source == "money.proto"


def test_parses_proto2_labels_defaults_groups_and_extensions() -> None:
    schema = parse(
        """syntax = "proto2";
        package legacy;
        message Search {
          required string query = 1 [default = "he said \\"hi\\""];
          optional int32 page = 2 [default = 0x10];
          repeated group Result = 3 { required string url = 4; }
          extensions 100 to max;
        }
        extend Search { optional string extra = 100; }
        """
    )
    search = message(schema, "legacy.Search")
    query, page, result = search.fields
    assert (query.label, query.default) == ("required", '"he said \\"hi\\""')
    assert (page.label, page.default) == ("optional", "16")
    assert (result.name, result.kind, result.type) == ("result", "group", ".legacy.Search.Result")
    assert search.extension_ranges == [(100, (1 << 29) - 1)]
    assert schema.file.extends[0].extendee == ".legacy.Search"


def test_parses_a_generated_modules_descriptor_as_its_proto_file() -> None:
    """What confluent-kafka's ProtobufSerializer registers for the microblog's
    Article: base64 of article_pb2.DESCRIPTOR.serialized_pb."""
    registered = base64.standard_b64encode(generated_descriptor(ARTICLE_PB2)).decode()
    from_descriptor = parse(registered)
    from_text = parse(ARTICLE_PROTO.read_text())
    assert from_descriptor.file.package == "microblog.v1"
    assert [m.name for m in from_descriptor.file.messages] == [
        "Article",
        "CreateArticleRequest",
        "ListArticlesRequest",
    ]
    for normalize in (False, True):
        assert KIND.canonical(from_descriptor, normalize) == KIND.canonical(from_text, normalize)
    assert KIND.problems(from_descriptor, from_text) == []


def test_text_and_protoc_descriptor_have_one_canonical_text(tmp_path: Path) -> None:
    options = """syntax = "proto3";
package shop.v1;
import "google/protobuf/descriptor.proto";
extend google.protobuf.FieldOptions {
  string pii = 50001;
  Hint hint = 50002;
}
message Hint { string doc = 1; int32 level = 2; }
"""
    order = ORDER.replace(
        'import "money.proto";', 'import "money.proto";\nimport "shop/options.proto";'
    ).replace("string card = 7;", 'string card = 7 [(pii) = "yes", (hint) = {level: 2}];')
    files = {"money.proto": MONEY, "shop/options.proto": options, "shop/order.proto": order}
    descriptors = compiled(tmp_path, files)
    text = parse(order, {"money.proto": MONEY, "shop/options.proto": options})
    # references may be in either form, too
    descriptor = parse(
        descriptors["shop/order.proto"],
        {"money.proto": descriptors["money.proto"], "shop/options.proto": options},
    )
    canonical = KIND.canonical(text, False)
    assert canonical == KIND.canonical(descriptor, False)
    assert KIND.canonical(text, True) == KIND.canonical(descriptor, True)
    assert 'string card = 7 [(shop.v1.hint) = { level: 2 }, (shop.v1.pii) = "yes"];' in canonical
    assert "map<string, .shop.v1.Order.Line> by_sku = 5;" in canonical
    assert "optional int32 priority = 6;" in canonical  # not a synthetic oneof
    assert KIND.problems(text, descriptor) == KIND.problems(descriptor, text) == []


def test_proto2_text_and_protoc_descriptor_have_one_canonical_text(tmp_path: Path) -> None:
    legacy = """syntax = "proto2";
package legacy;
message Search {
  required string query = 1 [default = "a\\tb"];
  optional double ratio = 2 [default = -inf];
  optional bytes blob = 3 [default = "\\001\\002xyz"];
  optional Corpus corpus = 4 [default = WEB];
  repeated group Result = 5 { required string url = 6; }
  optional bool flag = 7 [default = true, json_name = "FLAG"];
  oneof pick { int32 a = 8; string b = 9; }
  extensions 100 to 199, 500 to max;
  enum Corpus { UNIVERSAL = 0; WEB = 1; }
}
extend Search { optional string extra = 100; }
"""
    text = parse(legacy)
    descriptor = parse(compiled(tmp_path, {"legacy.proto": legacy})["legacy.proto"])
    assert KIND.canonical(text, False) == KIND.canonical(descriptor, False)
    assert "repeated group Result = 5 {" in KIND.canonical(text, False)


@pytest.mark.parametrize("path", sorted(WELL_KNOWN))
def test_well_known_files_read_alike_as_text_and_descriptor(path: str, tmp_path: Path) -> None:
    text = (PROTOC_INCLUDE / path).read_text()
    out = tmp_path / "well-known.pb"
    assert protoc.main(["protoc", f"-I{PROTOC_INCLUDE}", f"--descriptor_set_out={out}", path]) == 0
    proto = descriptor_pb2.FileDescriptorSet.FromString(out.read_bytes()).file[0]
    descriptor = base64.standard_b64encode(proto.SerializeToString()).decode()
    assert KIND.canonical(parse(text), False) == KIND.canonical(parse(descriptor), False)


def test_imports_resolve_from_references_transitively_and_through_public_imports() -> None:
    references = {
        "common/units.proto": p3("enum Unit { UNIT_UNSPECIFIED = 0; CELSIUS = 1; }", "common"),
        "common/all.proto": p3('import public "common/units.proto";', "common"),
    }
    schema = parse(
        p3(
            'import "common/all.proto";\nmessage Reading { common.Unit unit = 1; }',
            "sensors",
        ),
        references,
    )
    assert message(schema, "sensors.Reading").fields[0].type == ".common.Unit"
    assert set(schema.dependencies) == set(references)

    hidden = {  # a plain import of an import is not visible, as in protoc
        "a.proto": p3('import "b.proto";'),
        "b.proto": p3("message B {}"),
    }
    with pytest.raises(InvalidSchemaError, match="type 'B' is not defined"):
        parse(p3('import "a.proto";\nmessage M { B b = 1; }'), hidden)


def test_well_known_imports_need_no_reference() -> None:
    schema = parse(
        p3(
            """import "google/protobuf/any.proto";
import "google/protobuf/duration.proto";
import "google/protobuf/empty.proto";
import "google/protobuf/struct.proto";
import "google/protobuf/wrappers.proto";
import "google/protobuf/field_mask.proto";
import "google/protobuf/timestamp.proto";
message Everything {
  google.protobuf.Any any = 1;
  google.protobuf.Duration took = 2;
  google.protobuf.Empty nothing = 3;
  google.protobuf.Struct doc = 4;
  google.protobuf.StringValue name = 5;
  google.protobuf.FieldMask mask = 6;
  google.protobuf.Timestamp at = 7;
}"""
        )
    )
    assert [f.type for f in message(schema, "Everything").fields] == [
        ".google.protobuf.Any",
        ".google.protobuf.Duration",
        ".google.protobuf.Empty",
        ".google.protobuf.Struct",
        ".google.protobuf.StringValue",
        ".google.protobuf.FieldMask",
        ".google.protobuf.Timestamp",
    ]


@pytest.mark.parametrize(
    ("text", "references", "says"),
    [
        (p3("message A {\n  int32 x = 1\n}"), {}, "line 4, column 1: mismatched input '}'"),
        (p3('import "other.proto";\nmessage A {}'), {}, "import 'other.proto' is neither"),
        (p3("message A { Missing x = 1; }", "p"), {}, "message p.A, field x: type 'Missing'"),
        (p3("message A { int32 x = 1; string y = 1; }"), {}, "x and y both have number 1"),
        (p3("message A { int32 x = 1; string x = 2; }"), {}, "two fields are named x"),
        (p3("message A { reserved 2; int32 x = 2; }"), {}, "uses reserved number 2"),
        (p3("message A { int32 x = 0; }"), {}, "has number 0"),
        (p3("message A { required int32 x = 1; }"), {}, "required fields are not allowed"),
        (p3("enum E { A = 1; }"), {}, "first value of a proto3 enum must be 0"),
        (p3("enum E { A = 0; B = 0; }"), {}, "allow_alias"),
        (p3("message A {}\nmessage A {}"), {}, "A is defined twice"),
        ('syntax = "proto2";\nmessage A { int32 x = 1; }', {}, "needs a label"),
        ('syntax = "proto4";\nmessage A {}', {}, 'unknown syntax "proto4"'),
        ("AAAA////", {}, "nor is it the base64 of a serialized FileDescriptorProto"),
        (p3('import "b.proto";'), {"b.proto": "message B {"}, "reference 'b.proto'"),
        (p3('import "b.proto";'), {"b.proto": 'import "b.proto";'}, "imports loop"),
        (p3("enum E { A = 0; }\nservice S { rpc X (E) returns (E); }"), {}, "not a message"),
        ("  \n", {}, "empty"),
    ],
    ids=[
        "syntax error",
        "unknown import",
        "undefined type",
        "duplicate number",
        "duplicate name",
        "reserved number",
        "number 0",
        "proto3 required",
        "proto3 enum start",
        "enum alias",
        "message twice",
        "proto2 label",
        "unknown syntax",
        "not base64 either",
        "bad reference",
        "import loop",
        "rpc of an enum",
        "empty",
    ],
)
def test_bad_input_is_refused_saying_what_and_where(
    text: str, references: dict[str, str], says: str
) -> None:
    with pytest.raises(InvalidSchemaError) as refused:
        parse(text, references)
    assert says in str(refused.value)


# --- canonical text ----------------------------------------------------------------


def test_canonical_text_ignores_layout_comments_and_name_qualification() -> None:
    one = parse(p3("message A { B b = 1; int32 n = 2; message B { string s = 1; } }", "p"))
    other = parse(
        p3(
            """
            // the same, written otherwise
            message A {
              .p.A.B b = 1;   /* qualified */
              int32 n = 2 [json_name = "n"];
              message B {
                string s = 1;
              }
            }""",
            "p",
        )
    )
    assert KIND.canonical(one, False) == KIND.canonical(other, False)
    assert KIND.canonical(one, False) != KIND.canonical(parse(p3("message A {}", "p")), False)


def test_normalize_orders_fields_oneofs_values_and_imports_but_keeps_message_order() -> None:
    refs = {"a.proto": p3("message X {}", "a"), "b.proto": p3("message Y {}", "b")}
    one = parse(
        p3(
            """import "b.proto";
import "a.proto";
message First { int32 z = 3; oneof o { string b = 5; string a = 4; } int32 y = 1; }
message Second { a.X x = 1; b.Y y = 2; }
enum E { ZERO = 0; TWO = 2; ONE = 1; }"""
        ),
        refs,
    )
    other = parse(
        p3(
            """import "a.proto";
import "b.proto";
message First { int32 y = 1; int32 z = 3; oneof o { string a = 4; string b = 5; } }
message Second { b.Y y = 2; a.X x = 1; }
enum E { ZERO = 0; ONE = 1; TWO = 2; }"""
        ),
        refs,
    )
    assert KIND.canonical(one, False) != KIND.canonical(other, False)
    normalized = KIND.canonical(one, True)
    assert normalized == KIND.canonical(other, True)
    assert normalized.index("int32 y = 1;") < normalized.index("int32 z = 3;")
    assert normalized.index('import "a.proto";') < normalized.index('import "b.proto";')
    swapped = parse(p3("message Second {}\nmessage First {}"))
    assert KIND.canonical(swapped, True).index("Second") < KIND.canonical(swapped, True).index(
        "First"
    )  # message indexes name messages by position: never reordered
    again = parse(normalized, refs)  # the registry stores the normalized text: it parses
    assert KIND.canonical(again, True) == normalized


# --- compatibility -----------------------------------------------------------------

READING = "message Reading {\n  string device = 1;\n  double temp = 2;\n}\n"


def r3(body: str) -> str:
    return p3(body, "sensors")


CASES: list[tuple[str, str, str, list[str]]] = [
    # (id, writer's schema = the old one, reader's schema = the new one, problems)
    ("field added", r3(READING), r3(READING.replace("}", "  int32 battery = 3;\n}")), []),
    ("field removed", r3(READING), r3("message Reading { string device = 1; }"), []),
    ("field renamed", r3(READING), r3(READING.replace("temp", "celsius")), []),
    (
        "int32 to int64",
        r3("message M { int32 n = 1; }"),
        r3("message M { int64 n = 1; }"),
        [],
    ),
    ("uint64 to bool", r3("message M { uint64 n = 1; }"), r3("message M { bool n = 1; }"), []),
    ("sint32 to sint64", r3("message M { sint32 n = 1; }"), r3("message M { sint64 n = 1; }"), []),
    (
        "fixed32 to sfixed32",
        r3("message M { fixed32 n = 1; }"),
        r3("message M { sfixed32 n = 1; }"),
        [],
    ),
    (
        "fixed64 to sfixed64",
        r3("message M { fixed64 n = 1; }"),
        r3("message M { sfixed64 n = 1; }"),
        [],
    ),
    ("string to bytes", r3("message M { string s = 1; }"), r3("message M { bytes s = 1; }"), []),
    (
        "int32 to enum",
        r3("message M { int32 s = 1; }"),
        r3("message M { S s = 1; }\nenum S { S_UNSPECIFIED = 0; }"),
        [],
    ),
    (
        "enum value added and one removed",
        r3("message M { S s = 1; }\nenum S { A = 0; B = 1; }"),
        r3("message M { S s = 1; }\nenum S { A = 0; C = 2; }"),
        [],
    ),
    ("message added", r3(READING), r3(READING + "message Alert { string why = 1; }"), []),
    (
        "messages reordered",
        r3("message A {}\nmessage B {}"),
        r3("message B {}\nmessage A {}"),
        [],
    ),
    (
        "optional string to repeated",
        r3("message M { optional string s = 1; }"),
        r3("message M { repeated string s = 1; }"),
        [],
    ),
    (
        "message field optional to repeated",
        r3("message M { optional N n = 1; }\nmessage N {}"),
        r3("message M { repeated N n = 1; }\nmessage N {}"),
        [],
    ),
    (
        "one field moved into a new oneof",
        r3("message M { string a = 1; string b = 2; }"),
        r3("message M { string a = 1; oneof o { string b = 2; int32 c = 3; } }"),
        [],
    ),
    (
        "field moved out of its oneof",
        r3("message M { oneof o { int32 a = 1; int32 b = 2; } }"),
        r3("message M { oneof o { int32 a = 1; } int32 b = 2; }"),
        [],
    ),
    (
        "oneof renamed",
        r3("message M { oneof o { int32 a = 1; int32 b = 2; } }"),
        r3("message M { oneof p { int32 a = 1; int32 b = 2; } }"),
        [],
    ),
    (
        "name qualification",
        r3("message M { N n = 1; map<string, N> m = 2; message N {} }"),
        r3("message M { .sensors.M.N n = 1; map<string, M.N> m = 2; message N {} }"),
        [],
    ),
    (
        "proto2 optional field added",
        'syntax = "proto2";\nmessage M { optional int32 a = 1; }',
        'syntax = "proto2";\nmessage M { optional int32 a = 1; optional string b = 2; }',
        [],
    ),
    (
        "double to string",
        r3(READING),
        r3(READING.replace("double temp", "string temp")),
        ["Reading.temp (field 2): type changed from double to string"],
    ),
    (
        "int32 to sint32",
        r3("message M { int32 n = 1; }"),
        r3("message M { sint32 n = 1; }"),
        ["M.n (field 1): type changed from int32 to sint32"],
    ),
    (
        "int32 to fixed32",
        r3("message M { int32 n = 1; }"),
        r3("message M { fixed32 n = 1; }"),
        ["M.n (field 1): type changed from int32 to fixed32"],
    ),
    (
        "float to double",
        r3("message M { float n = 1; }"),
        r3("message M { double n = 1; }"),
        ["M.n (field 1): type changed from float to double"],
    ),
    (
        "enum to string",
        r3("message M { S s = 1; }\nenum S { A = 0; }"),
        r3("message M { string s = 1; }\nenum S { A = 0; }"),
        ["M.s (field 1): type changed from .sensors.S to string"],
    ),
    (
        "scalar to message",
        r3("message M { int32 n = 1; }"),
        r3("message M { N n = 1; }\nmessage N {}"),
        ["M.n (field 1): type changed from int32 to .sensors.N (scalar to message)"],
    ),
    (
        "message type changed",
        r3("message M { N n = 1; }\nmessage N {}\nmessage O {}"),
        r3("message M { O n = 1; }\nmessage N {}\nmessage O {}"),
        ["M.n (field 1): message type changed from .sensors.N to .sensors.O"],
    ),
    (
        "message removed",
        r3(READING + "message Alert {}"),
        r3(READING),
        ["message Alert: the writer's schema has it, the reader's does not (removed or renamed)"],
    ),
    (
        "message renamed",
        r3(READING),
        r3(READING.replace("Reading", "Measurement")),
        ["message Reading: the writer's schema has it, the reader's does not (removed or renamed)"],
    ),
    (
        "package changed",
        r3(READING),
        p3(READING, "telemetry"),
        ["package changed from sensors to telemetry"],
    ),
    (
        "required field added",
        'syntax = "proto2";\nmessage M { optional int32 a = 1; }',
        'syntax = "proto2";\nmessage M { optional int32 a = 1; required string b = 2; }',
        ["M.b (field 2): required by the reader's schema, missing from the writer's"],
    ),
    (
        "required field removed",
        'syntax = "proto2";\nmessage M { optional int32 a = 1; required string b = 2; }',
        'syntax = "proto2";\nmessage M { optional int32 a = 1; }',
        ["M.b (field 2): required in the writer's schema, missing from the reader's"],
    ),
    (
        "oneof member removed",
        r3("message M { oneof o { int32 a = 1; int32 b = 2; } }"),
        r3("message M { oneof o { int32 a = 1; } }"),
        ["M.b (field 2): a member of oneof o in the writer's schema, missing from the reader's"],
    ),
    (
        "two fields moved into a oneof",
        r3("message M { int32 a = 1; int32 b = 2; }"),
        r3("message M { oneof o { int32 a = 1; int32 b = 2; } }"),
        [
            "M oneof o: fields 1, 2, outside any oneof in the writer's schema, are moved "
            "into one oneof (data that sets more than one keeps only one)"
        ],
    ),
    (
        "field moved into an existing oneof",
        r3("message M { int32 a = 1; oneof o { int32 b = 2; int32 c = 3; } }"),
        r3("message M { oneof o { int32 a = 1; int32 b = 2; int32 c = 3; } }"),
        [
            "M oneof o: fields 1, 2, 3 were not members of one oneof in the writer's "
            "schema (data that sets more than one keeps only one)"
        ],
    ),
    (
        "numeric optional to repeated",
        r3("message M { optional int32 n = 1; }"),
        r3("message M { repeated int32 n = 1; }"),
        [
            "M.n (field 1): label changed from optional to repeated (a numeric field's "
            "label must stay)"
        ],
    ),
    (
        "map value type changed",
        r3("message M { map<string, int32> m = 1; }"),
        r3("message M { map<string, string> m = 1; }"),
        ["M.m (field 1): map value type changed from int32 to string"],
    ),
    (
        "map key type changed",
        r3("message M { map<int32, string> m = 1; }"),
        r3("message M { map<string, string> m = 1; }"),
        ["M.m (field 1): map key type changed from int32 to string"],
    ),
    (
        "map to repeated message",
        r3("message M { map<string, N> m = 1; }\nmessage N {}"),
        r3("message M { repeated N m = 1; }\nmessage N {}"),
        ["M.m (field 1): type changed from map<string, .sensors.N> to .sensors.N (map to message)"],
    ),
    (
        "nested message field changed",
        r3("message Outer { message Inner { int32 x = 1; } Inner i = 1; }"),
        r3("message Outer { message Inner { string x = 1; } Inner i = 1; }"),
        ["Outer.Inner.x (field 1): type changed from int32 to string"],
    ),
    (
        "type changed inside a renamed oneof",
        r3("message M { oneof o { float f = 1; int32 n = 2; } }"),
        r3("message M { oneof p { float f = 1; string n = 2; } }"),
        ["M.n (field 2): type changed from int32 to string"],
    ),
]


@pytest.mark.parametrize(
    ("writer", "reader", "expected"), [c[1:] for c in CASES], ids=[c[0] for c in CASES]
)
def test_compatibility_follows_confluents_rules(
    writer: str, reader: str, expected: list[str]
) -> None:
    assert KIND.problems(parse(reader), parse(writer)) == expected


def test_problems_take_the_reader_first() -> None:
    """BACKWARD asks problems(new, old), FORWARD problems(old, new)."""
    old = parse('syntax = "proto2";\nmessage M { optional int32 a = 1; }')
    new = parse('syntax = "proto2";\nmessage M { optional int32 a = 1; required int32 b = 2; }')
    assert KIND.problems(new, old) == [
        "M.b (field 2): required by the reader's schema, missing from the writer's"
    ]
    assert KIND.problems(old, new) == [
        "M.b (field 2): required in the writer's schema, missing from the reader's"
    ]
    added = parse(p3("message M {}\nmessage N {}"))
    assert KIND.problems(added, parse(p3("message M {}"))) == []  # backward: fine
    assert KIND.problems(parse(p3("message M {}")), added) != []  # forward: N unknown


def test_an_imported_message_type_is_compared_across_versions_of_its_reference() -> None:
    home_v1 = p3("message Home { int32 device = 1; bool on = 2; }", "smart")
    home_v2 = p3("message Home { int32 device = 1; bool on = 2; string room = 3; }", "smart")
    home_v3 = p3("message Home { string device = 1; bool on = 2; }", "smart")
    schema = p3('import "home.proto";\nmessage Event { smart.Home home = 1; }')
    v1 = parse(schema, {"home.proto": home_v1})
    assert KIND.problems(parse(schema, {"home.proto": home_v2}), v1) == []
    assert KIND.problems(parse(schema, {"home.proto": home_v3}), v1) == [
        "Home.device (field 1): type changed from int32 to string",
        "Event.home (field 1): its message type .smart.Home changed incompatibly",
    ]
    # moving a type out of an import into the schema is fine; the other way not
    local = p3("message Event { Home home = 1; }\nmessage Home { int32 device = 1; bool on = 2; }")
    assert KIND.problems(parse(local), v1) == []
    assert KIND.problems(v1, parse(local)) == [
        "message Home: the writer's schema has it, the reader's does not (removed or renamed)",
    ]


def test_recursive_message_types_are_compared_once() -> None:
    tree = r3("message Node { string name = 1; repeated Node children = 2; }")
    changed = r3("message Node { int64 name = 1; repeated Node children = 2; }")
    assert KIND.problems(parse(tree), parse(tree)) == []
    assert KIND.problems(parse(changed), parse(tree)) == [
        "Node.name (field 1): type changed from string to int64"
    ]


# --- through the registry ----------------------------------------------------------


@pytest.fixture
def registry() -> SchemaRegistry:
    return SchemaRegistry(logway.connect("memory:"))


V1 = r3(READING)
V2 = r3(READING.replace("}", "  int32 battery = 3;\n}"))


def test_registry_backward_accepts_a_new_field_and_refuses_a_changed_type(
    registry: SchemaRegistry,
) -> None:
    first = registry.register("readings-value", V1, schema_type="PROTOBUF")
    assert (first.version, first.schema_type) == (1, "PROTOBUF")
    relaid = "// the same\n" + V1.replace("\n", "\n\n")
    assert registry.register("readings-value", relaid, schema_type="PROTOBUF") == first
    second = registry.register("readings-value", V2, schema_type="PROTOBUF")
    assert second.version == 2 and second.id != first.id
    with pytest.raises(IncompatibleSchemaError) as refused:
        registry.register(
            "readings-value", V2.replace("double temp", "string temp"), schema_type="PROTOBUF"
        )
    assert refused.value.problems == [
        "version 2, reading its data (backward): "
        "Reading.temp (field 2): type changed from double to string"
    ]
    assert registry.versions("readings-value") == [1, 2]


def test_registry_text_and_descriptor_forms_are_one_schema(
    registry: SchemaRegistry, tmp_path: Path
) -> None:
    text = registry.register("articles-value", ARTICLE_PROTO.read_text(), schema_type="PROTOBUF")
    registered = base64.standard_b64encode(generated_descriptor(ARTICLE_PB2)).decode()
    assert registry.register("articles-value", registered, schema_type="PROTOBUF") == text
    assert registry.lookup("articles-value", registered, schema_type="PROTOBUF") == text
    normalized = registry.register(
        "normalized-value", registered, schema_type="PROTOBUF", normalize=True
    )
    assert normalized.schema.startswith('syntax = "proto3";\npackage microblog.v1;')
    assert normalized.id == text.id  # one canonical text, one id


def test_registry_references_with_imports_register_and_resolve(registry: SchemaRegistry) -> None:
    money = registry.register("money.proto", MONEY, schema_type="PROTOBUF")
    refs = [{"name": "money.proto", "subject": "money.proto", "version": money.version}]
    order = p3(
        'import "money.proto";\nimport "google/protobuf/timestamp.proto";\n'
        "message Payment { money.Amount amount = 1; google.protobuf.Timestamp at = 2; }",
        "shop",
    )
    made = registry.register("payments-value", order, schema_type="PROTOBUF", references=refs)
    assert [r.subject for r in made.references] == ["money.proto"]
    parsed = registry.parsed(made.id)
    assert message(parsed, "shop.Payment").fields[0].type == ".money.Amount"
    assert parsed.types["money.Amount"].source == "money.proto"
    with pytest.raises(InvalidSchemaError, match=r"import 'money\.proto' is neither"):
        registry.register("orphans-value", order, schema_type="PROTOBUF")

    # a new version of the reference that changes Amount incompatibly is caught
    money_v2 = MONEY.replace("int64 units", "string units")
    registry.set_compatibility("NONE", "money.proto")
    changed = registry.register("money.proto", money_v2, schema_type="PROTOBUF")
    refs_v2 = [{"name": "money.proto", "subject": "money.proto", "version": changed.version}]
    with pytest.raises(IncompatibleSchemaError) as refused:
        registry.register("payments-value", order, schema_type="PROTOBUF", references=refs_v2)
    assert any("Amount.units (field 1)" in p for p in refused.value.problems)


def test_registry_backward_transitive_checks_every_version(registry: SchemaRegistry) -> None:
    v1 = r3("message M { string id = 1; int32 count = 2; }")
    v2 = r3("message M { string id = 1; }")  # count removed: compatible
    v3 = r3("message M { string id = 1; string count = 2; }")  # field 2 again, as a string
    registry.set_compatibility("BACKWARD_TRANSITIVE", "m-value")
    registry.register("m-value", v1, schema_type="PROTOBUF")
    registry.register("m-value", v2, schema_type="PROTOBUF")
    assert registry.check("m-value", v3, schema_type="PROTOBUF") == []  # the latest is fine
    with pytest.raises(IncompatibleSchemaError) as refused:
        registry.register("m-value", v3, schema_type="PROTOBUF")
    assert refused.value.problems == [
        "version 1, reading its data (backward): "
        "M.count (field 2): type changed from int32 to string"
    ]
    registry.set_compatibility("BACKWARD", "m-value")
    assert registry.register("m-value", v3, schema_type="PROTOBUF").version == 3
