"""``logway users|tokens|acls``: identities and permissions, kept in the log
(``logway.auth.store``), so they work on any ``--url``.

A password is read from stdin (``--password-stdin``) or asked for on the terminal,
never taken from the command line (where ``ps`` and shell history would keep it);
a new token is printed once, alone on stdout, and never again.
"""

from __future__ import annotations

import argparse
import datetime as dt
import getpass
import sys

from logway.auth.acls import CLUSTER_NAME, Acl, Operation, ResourceType
from logway.auth.store import AuthStore
from logway.cli.common import open_broker, table
from logway.errors import InvalidArgumentError

OPERATIONS = ", ".join(op.value for op in Operation)


def add_parser(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    _users(sub)
    _tokens(sub)
    _acls(sub)


def _users(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    users = sub.add_parser("users", help="users and their passwords and groups")
    usub = users.add_subparsers(dest="action", required=True, metavar="ACTION")
    add = usub.add_parser("add", help="add a user with a password")
    add.add_argument("name", help="the user's name (User:NAME in ACLs)")
    add.add_argument(
        "-g", "--group", action="append", default=[], help="a group of the user (repeatable)"
    )
    _password_option(add)
    add.set_defaults(run=add_user)
    passwd = usub.add_parser("passwd", help="change a user's password")
    passwd.add_argument("name", help="the user")
    _password_option(passwd)
    passwd.set_defaults(run=change_password)
    groups = usub.add_parser("groups", help="set a user's groups (none given: no group)")
    groups.add_argument("name", help="the user")
    groups.add_argument("groups", nargs="*", metavar="GROUP", help="the user's groups")
    groups.set_defaults(run=set_groups)
    remove = usub.add_parser("remove", help="remove a user; its tokens stop working")
    remove.add_argument("name", help="the user")
    remove.set_defaults(run=remove_user)
    usub.add_parser("list", help="list users and their groups").set_defaults(run=list_users)


def _password_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--password-stdin",
        action="store_true",
        help="read the password from the first line of stdin (else it is asked for on the "
        "terminal); it is never given on the command line",
    )


def _tokens(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    tokens = sub.add_parser("tokens", help="API tokens: create (shown once), list, revoke")
    tsub = tokens.add_subparsers(dest="action", required=True, metavar="ACTION")
    create = tsub.add_parser("create", help="create a token and print it, once")
    create.add_argument("-u", "--user", required=True, help="the user the token acts for")
    create.add_argument("-n", "--name", required=True, help="what the token is for, e.g. ci")
    create.add_argument(
        "--expires",
        default="90d",
        metavar="DURATION",
        help="how long the token works: e.g. 1h, 30d (default 90d), or never",
    )
    create.set_defaults(run=create_token)
    listing = tsub.add_parser("list", help="list tokens (never their secrets)")
    listing.add_argument("-u", "--user", help="only this user's tokens")
    listing.set_defaults(run=list_tokens)
    revoke = tsub.add_parser("revoke", help="revoke a token by its id")
    revoke.add_argument("id", help="the token's id, as tokens list shows it")
    revoke.set_defaults(run=revoke_token)


# option -> (resource type, pattern type): --topic, --topic-prefix, --group, ...
_RESOURCE_OPTIONS: dict[str, tuple[ResourceType, str]] = {
    flag + suffix: (kind, pattern)
    for kind in ResourceType
    if kind is not ResourceType.CLUSTER
    for flag in [kind.value.replace("_", "-")]
    for suffix, pattern in (("", "literal"), ("-prefix", "prefixed"))
}


def _acl_options(parser: argparse.ArgumentParser, listing: bool = False) -> None:
    if listing:
        parser.add_argument("-p", "--principal", help="only ACLs of this principal")
        return
    parser.add_argument(
        "--allow",
        action="append",
        default=[],
        metavar="PRINCIPAL",
        help="allow this principal: User:NAME, Group:NAME or User:* (repeatable)",
    )
    parser.add_argument(
        "--deny",
        action="append",
        default=[],
        metavar="PRINCIPAL",
        help="deny this principal (a deny wins over any allow; repeatable)",
    )
    parser.add_argument(
        "-o",
        "--operation",
        action="append",
        required=True,
        metavar="OPERATION",
        help=f"one of {OPERATIONS} (repeatable)",
    )
    resource = parser.add_mutually_exclusive_group(required=True)
    for flag, (kind, pattern) in _RESOURCE_OPTIONS.items():
        what = kind.value.replace("_", " ")
        resource.add_argument(
            f"--{flag}",
            metavar="PREFIX" if pattern == "prefixed" else "NAME",
            help=f"every {what} whose name begins with PREFIX"
            if pattern == "prefixed"
            else f"the {what} NAME (* for every {what})",
        )
    resource.add_argument("--cluster", action="store_true", help="the cluster itself")


def _acls(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    acls = sub.add_parser("acls", help="access control lists (Kafka's model)")
    asub = acls.add_subparsers(dest="action", required=True, metavar="ACTION")
    add = asub.add_parser("add", help="allow or deny principals operations on resources")
    _acl_options(add)
    add.set_defaults(run=add_acls)
    remove = asub.add_parser("remove", help="remove ACLs given as for add")
    _acl_options(remove)
    remove.set_defaults(run=remove_acls)
    listing = asub.add_parser("list", help="list ACLs")
    _acl_options(listing, listing=True)
    listing.set_defaults(run=list_acls)


def _time(ms: int | None) -> str:
    if ms is None:
        return "never"
    return dt.datetime.fromtimestamp(ms / 1000, dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def read_password(args: argparse.Namespace) -> str:
    """The password from stdin's first line, or asked twice on the terminal."""
    if args.password_stdin:
        password = sys.stdin.readline().rstrip("\r\n")
        if not password:
            raise InvalidArgumentError("no password on stdin; nothing was changed")
        return password
    if not sys.stdin.isatty():
        raise InvalidArgumentError(
            "no terminal to ask for the password on; pipe it in with --password-stdin"
        )
    password = getpass.getpass(f"password for {args.name}: ")
    if getpass.getpass("the same again: ") != password:
        raise InvalidArgumentError("the two passwords differ; nothing was changed")
    return password


def add_user(args: argparse.Namespace) -> int:
    password = read_password(args)
    with open_broker(args) as broker:
        user = AuthStore(broker).add_user(args.name, password, args.group)
    groups = f" in groups {', '.join(user.groups)}" if user.groups else ""
    print(f"added user {user.name}{groups}")
    return 0


def change_password(args: argparse.Namespace) -> int:
    password = read_password(args)
    with open_broker(args) as broker:
        AuthStore(broker).set_password(args.name, password)
    print(f"changed the password of user {args.name}")
    return 0


def set_groups(args: argparse.Namespace) -> int:
    with open_broker(args) as broker:
        store = AuthStore(broker)
        store.set_groups(args.name, args.groups)
        user = store.user(args.name)
    groups = ", ".join(user.groups) if user and user.groups else "no group"
    print(f"user {args.name}: {groups}")
    return 0


def remove_user(args: argparse.Namespace) -> int:
    with open_broker(args) as broker:
        AuthStore(broker).remove_user(args.name)
    print(f"removed user {args.name}")
    return 0


def list_users(args: argparse.Namespace) -> int:
    with open_broker(args) as broker:
        users = AuthStore(broker).users()
    rows = [
        [u.name, ",".join(u.groups), ",".join(sorted(u.credentials)), _time(u.updated)]
        for u in users
    ]
    print(table(rows, ["USER", "GROUPS", "MECHANISMS", "UPDATED"]))
    return 0


def create_token(args: argparse.Namespace) -> int:
    expires = None if args.expires.lower() == "never" else args.expires
    with open_broker(args) as broker:
        store = AuthStore(broker)
        token = store.create_token(args.name, args.user, expires)
        stored = max(store.tokens(args.user), key=lambda t: t.created)
    print(token)
    print(
        f"created token {stored.id} ({stored.name}) for User:{stored.user}, expires "
        f"{_time(stored.expires)}; store it now: it is not shown again",
        file=sys.stderr,
    )
    return 0


def list_tokens(args: argparse.Namespace) -> int:
    now = int(dt.datetime.now(dt.UTC).timestamp() * 1000)
    with open_broker(args) as broker:
        tokens = AuthStore(broker).tokens(args.user)
    rows = [
        [
            t.id,
            t.name,
            t.user,
            _time(t.created),
            _time(t.expires),
            "expired" if t.expired(now) else "active",
        ]
        for t in tokens
    ]
    print(table(rows, ["ID", "NAME", "USER", "CREATED", "EXPIRES", "STATE"]))
    return 0


def revoke_token(args: argparse.Namespace) -> int:
    with open_broker(args) as broker:
        AuthStore(broker).revoke_token(args.id)
    print(f"revoked token {args.id}")
    return 0


def acls_of(args: argparse.Namespace) -> list[Acl]:
    """The ACLs the options name: each principal times each operation."""
    if not args.allow and not args.deny:
        raise InvalidArgumentError("name a principal with --allow PRINCIPAL or --deny PRINCIPAL")
    chosen = [
        (kind, pattern, getattr(args, flag.replace("-", "_")))
        for flag, (kind, pattern) in _RESOURCE_OPTIONS.items()
        if getattr(args, flag.replace("-", "_")) is not None
    ]
    kind, pattern, name = chosen[0] if chosen else (ResourceType.CLUSTER, "literal", CLUSTER_NAME)
    principals = [(p, "allow") for p in args.allow] + [(p, "deny") for p in args.deny]
    return [
        Acl.of(principal, op, kind, name, pattern, permission)
        for principal, permission in principals
        for op in args.operation
    ]


def add_acls(args: argparse.Namespace) -> int:
    acls = acls_of(args)  # all checked before any is written
    with open_broker(args) as broker:
        store = AuthStore(broker)
        for acl in acls:
            added = store.add_acl(acl)
            print(f"{'added' if added else 'already there'}: {acl.describe()}")
    return 0


def remove_acls(args: argparse.Namespace) -> int:
    acls = acls_of(args)
    with open_broker(args) as broker:
        store = AuthStore(broker)
        present = {a.canonical() for a in store.acls()}
        missing = [a.describe() for a in acls if a.canonical() not in present]
        if missing:
            raise InvalidArgumentError(
                f"there is no ACL {'; '.join(missing)}; nothing was removed (logway acls list)"
            )
        for acl in acls:
            store.remove_acl(acl)
            print(f"removed: {acl.describe()}")
    return 0


def list_acls(args: argparse.Namespace) -> int:
    with open_broker(args) as broker:
        acls = AuthStore(broker).acls(args.principal)
    rows = [
        [a.permission, a.principal, a.operation, a.resource_type, a.pattern_type, a.name]
        for a in acls
    ]
    print(table(rows, ["PERMISSION", "PRINCIPAL", "OPERATION", "RESOURCE", "PATTERN", "NAME"]))
    return 0
