"""``logway schemas``: the schema registry (``logway.schemas``) from the command line,
on any ``--url``: register, list, show, check, delete, and the compatibility level and
mode of a subject or of the registry.

A schema file's type follows its name: ``.avsc`` is Avro, ``.proto`` Protobuf,
``.json`` JSON Schema (``--type`` says otherwise). ``check`` exits 1 when the schema is
incompatible, so it can guard a build.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from logway.cli.common import open_broker, table
from logway.errors import InvalidArgumentError, InvalidSchemaError
from logway.schemas import LEVELS, MODES, SchemaRegistry
from logway.schemas.kinds import AVRO, JSON, PROTOBUF, TYPES

BY_SUFFIX = {".avsc": AVRO, ".proto": PROTOBUF, ".json": JSON}


def add_parser(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    schemas = sub.add_parser("schemas", help="the schema registry: subjects, versions, rules")
    ssub = schemas.add_subparsers(dest="action", required=True, metavar="ACTION")

    register = ssub.add_parser("register", help="register a schema under a subject")
    _schema_arguments(register)
    register.add_argument(
        "--normalize", action="store_true", help="store the normalized form (one id for equals)"
    )
    register.set_defaults(run=register_schema)

    listing = ssub.add_parser("list", help="subjects, their versions and latest ids")
    listing.add_argument("--deleted", action="store_true", help="soft-deleted ones too")
    listing.add_argument("--prefix", default="", help="only subjects that begin with PREFIX")
    listing.set_defaults(run=list_subjects)

    show = ssub.add_parser("show", help="a subject's version (the latest), or a schema by id")
    target = show.add_mutually_exclusive_group(required=True)
    target.add_argument("subject", nargs="?", help="the subject")
    target.add_argument("--id", type=int, help="the schema with this id")
    show.add_argument("-v", "--version", default="latest", help="a version (default latest)")
    show.set_defaults(run=show_schema)

    check = ssub.add_parser("check", help="is a schema compatible with a subject? (exit 1 if not)")
    _schema_arguments(check)
    check.add_argument(
        "-v",
        "--version",
        default=None,
        help="check against this version only (default: the versions the subject's "
        "compatibility level names)",
    )
    check.set_defaults(run=check_schema)

    delete = ssub.add_parser("delete", help="delete a subject or one version (soft first)")
    delete.add_argument("subject")
    delete.add_argument("-v", "--version", default=None, help="only this version")
    delete.add_argument(
        "--permanent", action="store_true", help="remove what was soft-deleted, for good"
    )
    delete.set_defaults(run=delete_schemas)

    config = ssub.add_parser("config", help="show or set a compatibility level")
    config.add_argument("subject", nargs="?", help="a subject (default: the global level)")
    config.add_argument("--set", metavar="LEVEL", help=f"one of {', '.join(LEVELS)}")
    config.add_argument(
        "--delete", action="store_true", help="forget the subject's own level (global again)"
    )
    config.set_defaults(run=configure)

    mode = ssub.add_parser("mode", help="show or set a mode (READWRITE, READONLY, IMPORT)")
    mode.add_argument("subject", nargs="?", help="a subject (default: the global mode)")
    mode.add_argument("--set", metavar="MODE", help=f"one of {', '.join(MODES)}")
    mode.set_defaults(run=set_mode)


def _schema_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("subject", help="the subject, e.g. TOPIC-value")
    parser.add_argument("file", help="the schema file (- for stdin)")
    parser.add_argument(
        "-t", "--type", choices=TYPES, type=str.upper, help="AVRO, PROTOBUF or JSON"
    )
    parser.add_argument(
        "-r",
        "--reference",
        action="append",
        default=[],
        metavar="NAME=SUBJECT:VERSION",
        help="a schema this one uses (an import path, a full name, a $ref), repeatable",
    )


def _read(args: argparse.Namespace) -> tuple[str, str, list[dict[str, Any]]]:
    """The schema text, its type and its references."""
    if args.file == "-":
        text, schema_type = sys.stdin.read(), args.type or AVRO
    else:
        path = Path(args.file)
        try:
            text = path.read_text()
        except OSError as exc:
            raise InvalidArgumentError(f"cannot read {args.file}: {exc.strerror}") from None
        schema_type = args.type or BY_SUFFIX.get(path.suffix.lower(), "")
        if not schema_type:
            raise InvalidArgumentError(
                f"which type is {args.file}? name it .avsc, .proto or .json, or give --type"
            )
    references = []
    for given in args.reference:
        name, eq, rest = given.partition("=")
        subject, colon, version = rest.rpartition(":")
        if not (eq and colon and name and subject and version.isdigit()):
            raise InvalidArgumentError(f"a reference is NAME=SUBJECT:VERSION, not {given!r}")
        references.append({"name": name, "subject": subject, "version": int(version)})
    return text, schema_type, references


def register_schema(args: argparse.Namespace) -> int:
    text, schema_type, references = _read(args)
    with open_broker(args) as broker:
        made = SchemaRegistry(broker).register(
            args.subject, text, schema_type, references, normalize=args.normalize
        )
    print(f"{args.subject} version {made.version}: schema id {made.id} ({made.schema_type})")
    return 0


def list_subjects(args: argparse.Namespace) -> int:
    with open_broker(args) as broker:
        registry = SchemaRegistry(broker)
        rows = []
        for subject in registry.subjects(deleted=args.deleted, prefix=args.prefix):
            versions = registry.versions(subject, deleted=args.deleted)
            latest = registry.get(subject, versions[-1], deleted=args.deleted)
            rows.append(
                [
                    subject,
                    ",".join(map(str, versions)),
                    latest.id,
                    latest.schema_type,
                    registry.compatibility(subject),
                ]
            )
    if rows:
        print(table(rows, ["SUBJECT", "VERSIONS", "LATEST ID", "TYPE", "COMPATIBILITY"]))
    return 0


def show_schema(args: argparse.Namespace) -> int:
    with open_broker(args) as broker:
        registry = SchemaRegistry(broker)
        found = (
            registry.by_id(args.id)
            if args.id is not None
            else registry.get(args.subject, args.version)
        )
    print(
        f"# {found.subject} version {found.version}, id {found.id}, {found.schema_type}"
        + (" (deleted)" if found.deleted else ""),
        file=sys.stderr,
    )
    for ref in found.references:
        print(f"# uses {ref.name} = {ref.subject} version {ref.version}", file=sys.stderr)
    print(found.schema)
    return 0


def check_schema(args: argparse.Namespace) -> int:
    text, schema_type, references = _read(args)
    with open_broker(args) as broker:
        registry = SchemaRegistry(broker)
        problems = registry.check(args.subject, text, schema_type, references, args.version)
        level = registry.compatibility(args.subject)
    if not problems:
        print(f"compatible with {args.subject} ({level})")
        return 0
    print(f"incompatible with {args.subject} ({level}):")
    for problem in problems:
        print(f"  - {problem}")
    return 1


def delete_schemas(args: argparse.Namespace) -> int:
    how = "permanently deleted" if args.permanent else "soft-deleted"
    with open_broker(args) as broker:
        registry = SchemaRegistry(broker)
        if args.version is not None:
            gone = [registry.delete_version(args.subject, args.version, args.permanent)]
        else:
            gone = registry.delete_subject(args.subject, args.permanent)
    print(f"{how} {args.subject} version(s) {', '.join(map(str, gone))}")
    return 0


def configure(args: argparse.Namespace) -> int:
    where = args.subject or "the registry"
    with open_broker(args) as broker:
        registry = SchemaRegistry(broker)
        if args.set and args.delete:
            raise InvalidArgumentError("give --set or --delete, not both")
        if args.set:
            print(f"{where}: {registry.set_compatibility(args.set, args.subject)}")
        elif args.delete:
            if not args.subject:
                raise InvalidSchemaError("--delete forgets a subject's own level: name one")
            was = registry.delete_compatibility(args.subject)
            print(f"{where}: was {was}, follows {registry.compatibility()} again")
        else:
            print(json.dumps({"compatibilityLevel": registry.compatibility(args.subject)}))
    return 0


def set_mode(args: argparse.Namespace) -> int:
    where = args.subject or "the registry"
    with open_broker(args) as broker:
        registry = SchemaRegistry(broker)
        if args.set:
            print(f"{where}: {registry.set_mode(args.set, args.subject)}")
        else:
            print(json.dumps({"mode": registry.mode(args.subject)}))
    return 0
