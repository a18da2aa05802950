"""``logway schemas`` on a data directory: register, check (exit 1 when
incompatible), list, show, delete, config and mode, and bad input that stores
nothing."""

from __future__ import annotations

import json
from pathlib import Path

import logway
from logway.schemas import SCHEMAS_TOPIC
from tests.servers import logway_cli

V1 = {"type": "record", "name": "Reading", "fields": [{"name": "temp", "type": "double"}]}
V2 = {**V1, "fields": [*V1["fields"], {"name": "unit", "type": "string", "default": "C"}]}
BREAKING = {**V1, "fields": [{"name": "temp", "type": "string"}]}


def _write(tmp_path: Path, name: str, value: object) -> str:
    path = tmp_path / name
    path.write_text(json.dumps(value))
    return str(path)


def test_the_schema_commands(tmp_path: Path) -> None:
    url = ("--url", f"file:{tmp_path / 'data'}")

    def ok(*args: str) -> str:
        done = logway_cli(None, *url, "schemas", *args)
        assert done.returncode == 0, done.stderr
        return done.stdout

    v1, v2 = _write(tmp_path, "v1.avsc", V1), _write(tmp_path, "v2.avsc", V2)
    breaking = _write(tmp_path, "breaking.avsc", BREAKING)
    assert "version 1: schema id 1 (AVRO)" in ok("register", "readings-value", v1)
    assert "compatible with readings-value (BACKWARD)" in ok("check", "readings-value", v2)
    refused = logway_cli(None, *url, "schemas", "check", "readings-value", breaking)
    assert refused.returncode == 1 and "temp" in refused.stdout
    assert "version 2: schema id 2" in ok("register", "readings-value", v2)
    listed = ok("list")
    assert "readings-value" in listed and "1,2" in listed
    assert json.loads(ok("show", "readings-value", "--version", "1")) == V1
    assert json.loads(ok("show", "--id", "2")) == V2
    assert json.loads(ok("config")) == {"compatibilityLevel": "BACKWARD"}
    assert "FULL" in ok("config", "readings-value", "--set", "full")
    assert "soft-deleted readings-value version(s) 1" in ok("delete", "readings-value", "-v", "1")
    assert "READONLY" in ok("mode", "readings-value", "--set", "READONLY")


def test_bad_input_stores_nothing(tmp_path: Path) -> None:
    url = ("--url", f"file:{tmp_path / 'data'}")
    good = _write(tmp_path, "v1.avsc", V1)
    assert logway_cli(None, *url, "schemas", "register", "r", good).returncode == 0
    with logway.connect(f"file:{tmp_path / 'data'}") as broker:
        written = broker.end_offsets(SCHEMAS_TOPIC)[0]
    bad_json = tmp_path / "bad.avsc"
    bad_json.write_text('{"type": "record", "name": "R", "fields": [{"name": 1}]}')
    unknown = _write(tmp_path, "schema.txt", V1)
    for args, message in (
        (("register", "r", str(bad_json)), "invalid Avro schema"),
        (("register", "r", unknown), "name it .avsc, .proto or .json"),
        (("register", "r", str(tmp_path / "missing.avsc")), "cannot read"),
        (("register", "r", good, "-r", "nonsense"), "NAME=SUBJECT:VERSION"),
        (("register", "r", good, "-r", "x=nobody:1"), "not registered"),
        (("config", "r", "--set", "SOMETIMES"), "unknown compatibility level"),
        (("register", "r", _write(tmp_path, "breaking.avsc", BREAKING)), "incompatible"),
        (("delete", "r", "--permanent"), "soft-deleted before"),
    ):
        done = logway_cli(None, *url, "schemas", *args)
        assert done.returncode == 1 and message in done.stderr, (args, done.stderr)
    with logway.connect(f"file:{tmp_path / 'data'}") as broker:
        assert broker.end_offsets(SCHEMAS_TOPIC)[0] == written


def test_produce_with_a_schema_and_consume_decoded(tmp_path: Path) -> None:
    """``logway produce --schema`` writes JSON lines in the wire format of the
    subject's latest schema into an enforcing topic; a line that does not fit stores
    nothing; ``logway consume --decode`` prints the decoded data."""
    url = ("--url", f"file:{tmp_path / 'data'}")
    v1 = _write(tmp_path, "v1.avsc", V1)
    registered = logway_cli(None, *url, "schemas", "register", "readings-value", v1)
    assert registered.returncode == 0, registered.stderr
    made = logway_cli(
        None, *url, "topics", "create", "readings", "--config", "value_schema=readings-value"
    )
    assert made.returncode == 0, made.stderr
    raw = logway_cli(None, *url, "produce", "readings", stdin='{"temp": 1.5}\n')
    assert raw.returncode != 0 and "not the magic byte 0" in raw.stderr
    lines = '{"temp": 1.5}\n{"temp": 2}\n'
    done = logway_cli(None, *url, "produce", "readings", "--schema", stdin=lines)
    assert done.returncode == 0, done.stderr
    lines = '{"temp": 3}\n{"temp": "hot"}\n'
    bad = logway_cli(None, *url, "produce", "readings", "--schema", stdin=lines)
    assert bad.returncode != 0 and "line 2 does not fit 'readings-value' version 1" in bad.stderr
    shown = logway_cli(None, *url, "consume", "readings", "--from-beginning", "--decode")
    assert shown.returncode == 0, shown.stderr
    assert [json.loads(line) for line in shown.stdout.splitlines()] == [
        {"temp": 1.5},
        {"temp": 2.0},
    ]
