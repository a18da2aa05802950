"""Continuous SQL statements: what a query reads, how it windows, what it writes.

``ContinuousQuery.parse(text)`` takes a statement in the style of Flink SQL's window
table functions and returns what ``sqlrun.py`` needs to run it over a topic:

- ``INSERT INTO target`` (optional) names the topic results are produced to.
- ``FROM TUMBLE(readings, DESCRIPTOR(ts), INTERVAL '1' MINUTE)`` (also Flink's
  ``FROM TABLE(TUMBLE(TABLE readings, …))``) reads the topic ``readings`` in windows of
  event time. The table functions and their arguments are Flink's:
  ``TUMBLE(data, DESCRIPTOR(time), size [, offset])``,
  ``HOP(data, DESCRIPTOR(time), slide, size [, offset])``,
  ``CUMULATE(data, DESCRIPTOR(time), step, size [, offset])`` and
  ``SESSION(data [PARTITION BY col[, …]], DESCRIPTOR(time), gap)``. Each row gains the
  columns ``window_start``, ``window_end`` and ``window_time`` (``window_end`` minus 1 ms),
  as TIMESTAMPs in UTC. HOP's size must be a multiple of its slide and CUMULATE's of its
  step, as Flink's window aggregations require.
- ``FROM readings`` without a window table function filters and projects record by
  record; an aggregation there is refused (it would never finish over an endless topic).
- Every row also has ``_key`` (the record key as text), ``_partition``, ``_offset`` and
  ``_timestamp`` (the record timestamp, a TIMESTAMP); ``DESCRIPTOR(_timestamp)`` takes the
  record timestamp as event time.

The rest of the statement is DuckDB SQL, run as written over the rows of each closed
window (or of each batch of records) under the topic's name: DuckDB parses it here,
so a statement DuckDB cannot parse is refused when declared, with DuckDB's message.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Any

from logway.errors import InvalidArgumentError

KINDS = ("tumble", "hop", "cumulate", "session")
WINDOW_COLUMNS = ("window_start", "window_end", "window_time")
PSEUDO_COLUMNS = ("_key", "_partition", "_offset", "_timestamp")
_INSERT = re.compile(r"^\s*INSERT\s+INTO\s+(\"(?:[^\"]|\"\")+\"|[A-Za-z0-9_.\-]+)\s+", re.I)
_TVF = re.compile(r"\b(TABLE\s*\(\s*)?(TUMBLE|HOP|CUMULATE|SESSION)\s*\(", re.I)


@dataclass(frozen=True)
class ContinuousQuery:
    """A parsed continuous statement (see the module's docstring)."""

    text: str  # as written
    target: str | None  # INSERT INTO this topic; None: rows are only returned
    source: str  # the topic read
    select: str  # the SELECT run by DuckDB, reading the relation named ``source``
    kind: str | None = None  # "tumble" | "hop" | "cumulate" | "session"; None: no window
    time_column: str | None = None  # DESCRIPTOR(...)
    size_ms: int = 0  # TUMBLE/HOP/CUMULATE size; SESSION gap
    step_ms: int = 0  # HOP slide, CUMULATE step (size for TUMBLE)
    offset_ms: int = 0  # the windows' offset from the epoch
    partition_by: tuple[str, ...] = ()  # SESSION's PARTITION BY
    columns_used: tuple[str, ...] = ()  # the column names the query uses (may be aliases)
    aliases: tuple[str, ...] = ()  # the select list's aliases
    star: bool = False  # SELECT * (every column of the records)
    grouped_by_window: bool = False
    aggregates: bool = False  # the query calls an aggregate function or groups
    ordered: bool = False  # the query has an ORDER BY of its own

    @property
    def windowed(self) -> bool:
        return self.kind is not None

    @classmethod
    def parse(cls, text: str) -> ContinuousQuery:
        if not isinstance(text, str) or not text.strip():
            raise InvalidArgumentError("a continuous query is a SQL statement, not empty")
        body = text.strip().rstrip(";").strip()
        target = None
        match = _INSERT.match(body)
        if match:
            target = _unquote(match.group(1))
            body = body[match.end() :]
        window: dict[str, Any] = {}
        tvf = _find_tvf(body)
        if tvf is not None:
            start, end, name, args = tvf
            window = _window_arguments(name, args)
            body = body[:start] + _quote(window["source"]) + body[end:]
        ast = _serialize(body)
        source = _single_table(ast, window.get("source"))
        refs, aliases, star = _columns(ast)
        groups = {
            g["column_names"][-1].lower()
            for g in ast.get("group_expressions", [])
            if g.get("class") == "COLUMN_REF"
        }
        used = sorted(refs - set(WINDOW_COLUMNS) - set(PSEUDO_COLUMNS))
        if window:
            time_column = window["time_column"]
            if time_column not in PSEUDO_COLUMNS and time_column not in used:
                used.append(time_column)
            for column in window.get("partition_by", ()):
                if column not in used:
                    used.append(column)
        elif refs & set(WINDOW_COLUMNS):
            raise InvalidArgumentError(
                "window_start and window_end come from a window table function: read "
                f"FROM TUMBLE({source}, DESCRIPTOR(ts), INTERVAL '1' MINUTE) (or HOP, CUMULATE, "
                "SESSION)"
            )
        aggregates = bool(groups) or bool(_functions(ast) & _aggregate_names())
        if not window and aggregates:
            raise InvalidArgumentError(
                "without a window a continuous query filters and projects record by record; "
                f"aggregate over windows: FROM TUMBLE({source}, DESCRIPTOR(ts), "
                "INTERVAL '1' MINUTE) … GROUP BY …, window_start, window_end"
            )
        ordered = any(m.get("type") == "ORDER_MODIFIER" for m in ast.get("modifiers", []))
        return cls(
            text=text,
            aggregates=aggregates,
            ordered=ordered,
            target=target,
            source=source,
            select=body,
            kind=window.get("kind"),
            time_column=window.get("time_column"),
            size_ms=window.get("size_ms", 0),
            step_ms=window.get("step_ms", 0),
            offset_ms=window.get("offset_ms", 0),
            partition_by=tuple(window.get("partition_by", ())),
            columns_used=tuple(used),
            aliases=tuple(sorted(aliases)),
            star=star,
            grouped_by_window={"window_start", "window_end"} <= groups,
        )


def _quote(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def _unquote(name: str) -> str:
    name = name.strip()
    if name.startswith('"') and name.endswith('"') and len(name) >= 2:
        return name[1:-1].replace('""', '"')
    return name


def _outside_strings(text: str) -> list[bool]:
    """For each character, whether it is outside '…' literals, "…" identifiers and comments."""
    out = [True] * len(text)
    i = 0
    while i < len(text):
        c = text[i]
        if c in "'\"":
            j = i + 1
            while j < len(text):
                if text[j] == c:
                    if j + 1 < len(text) and text[j + 1] == c:
                        j += 2
                        continue
                    break
                j += 1
            for k in range(i, min(j + 1, len(text))):
                out[k] = False
            i = j + 1
        elif text.startswith("--", i):
            j = text.find("\n", i)
            j = len(text) if j < 0 else j
            for k in range(i, j):
                out[k] = False
            i = j
        else:
            i += 1
    return out


def _find_tvf(body: str) -> tuple[int, int, str, list[str]] | None:
    """(start, end, name, arguments) of the window table function call, if any."""
    plain = _outside_strings(body)
    found = [m for m in _TVF.finditer(body) if plain[m.start()]]
    if not found:
        return None
    if len(found) > 1:
        raise InvalidArgumentError("a continuous query reads one window table function")
    m = found[0]
    args, end = _arguments(body, m.end(), plain)
    if m.group(1):  # TABLE( TUMBLE(...) ): the wrapper's closing parenthesis
        rest = body[end:]
        close = len(rest) - len(rest.lstrip())
        if not rest[close:].startswith(")"):
            raise InvalidArgumentError(f"TABLE({m.group(2)}(…) is missing its closing ')'")
        end += close + 1
    return m.start(), end, m.group(2).lower(), args


def _arguments(body: str, i: int, plain: list[bool]) -> tuple[list[str], int]:
    """The top-level comma-separated arguments of a call whose '(' ends before ``i``, and
    the index after its ')'."""
    depth, start, args = 0, i, []
    while i < len(body):
        c = body[i]
        if plain[i]:
            if c == "(":
                depth += 1
            elif c == ")":
                if depth == 0:
                    args.append(body[start:i].strip())
                    return args, i + 1
                depth -= 1
            elif c == "," and depth == 0:
                args.append(body[start:i].strip())
                start = i + 1
        i += 1
    raise InvalidArgumentError("a window table function is missing its closing ')'")


_DESCRIPTOR = re.compile(
    r"^DESCRIPTOR\s*\(\s*(\"(?:[^\"]|\"\")+\"|[A-Za-z_][A-Za-z0-9_]*)\s*\)$", re.I
)
_DATA = re.compile(
    r"^(?:TABLE\s+)?(\"(?:[^\"]|\"\")+\"|[A-Za-z0-9_.\-]+)"
    r"(?:\s+PARTITION\s+BY\s+(.+))?$",
    re.I | re.S,
)
_USAGE = {
    "tumble": "TUMBLE(topic, DESCRIPTOR(time), size [, offset])",
    "hop": "HOP(topic, DESCRIPTOR(time), slide, size [, offset])",
    "cumulate": "CUMULATE(topic, DESCRIPTOR(time), step, size [, offset])",
    "session": "SESSION(topic [PARTITION BY column], DESCRIPTOR(time), gap)",
}


def _window_arguments(kind: str, args: list[str]) -> dict[str, Any]:
    usage = _USAGE[kind]
    counts = {"tumble": (3, 4), "hop": (4, 5), "cumulate": (4, 5), "session": (3, 3)}[kind]
    if not counts[0] <= len(args) <= counts[1]:
        raise InvalidArgumentError(f"{kind.upper()} takes {usage}, not {len(args)} arguments")
    data = _DATA.match(args[0])
    if not data:
        raise InvalidArgumentError(f"{kind.upper()}'s first argument is a topic: {usage}")
    out: dict[str, Any] = {"kind": kind, "source": _unquote(data.group(1))}
    if data.group(2):
        if kind != "session":
            raise InvalidArgumentError(f"only SESSION takes PARTITION BY: {usage}")
        keys = data.group(2).strip()
        if keys.startswith("(") and keys.endswith(")"):
            keys = keys[1:-1]
        out["partition_by"] = [_unquote(k) for k in keys.split(",") if k.strip()]
    descriptor = _DESCRIPTOR.match(args[1])
    if not descriptor:
        raise InvalidArgumentError(
            f"{kind.upper()}'s second argument names the time column as DESCRIPTOR(ts), "
            f"not {args[1]!r}: {usage}"
        )
    out["time_column"] = _unquote(descriptor.group(1))
    durations = [_interval_ms(a, kind) for a in args[2:]]
    sizes = durations[:1] if kind in ("tumble", "session") else durations[:2]
    if any(d <= 0 for d in sizes):
        raise InvalidArgumentError(f"{kind.upper()}'s durations are positive: {usage}")
    if kind == "tumble":
        out["size_ms"] = out["step_ms"] = durations[0]
    elif kind == "session":
        out["size_ms"] = durations[0]
    else:
        step, size = durations[0], durations[1]
        what = "slide" if kind == "hop" else "step"
        if size % step:
            raise InvalidArgumentError(
                f"{kind.upper()}'s size ({size} ms) must be a multiple of its {what} "
                f"({step} ms), as in Flink's window aggregation"
            )
        out["size_ms"], out["step_ms"] = size, step
    extra = {"tumble": 1, "hop": 2, "cumulate": 2}.get(kind)
    if extra is not None and len(durations) > extra:
        offset = durations[extra]
        if abs(offset) >= out["size_ms"]:
            raise InvalidArgumentError(f"{kind.upper()}'s offset must be less than its size")
        out["offset_ms"] = offset
    return out


def _interval_ms(text: str, kind: str) -> int:
    """Milliseconds of an INTERVAL literal, evaluated by DuckDB."""
    import duckdb

    if not re.match(r"^INTERVAL\b", text, re.I):
        raise InvalidArgumentError(
            f"{kind.upper()} takes durations as INTERVAL '1' MINUTE, not {text!r}"
        )
    try:
        with duckdb.connect() as con:
            rows = con.sql(f"SELECT epoch_ms(TIMESTAMP '1970-01-01' + {text})").fetchall()
    except duckdb.Error as exc:
        raise InvalidArgumentError(f"not an interval: {text!r}: {exc}") from None
    return int(rows[0][0])


def _serialize(body: str) -> dict[str, Any]:
    """DuckDB's parse tree of a SELECT, or InvalidArgumentError with DuckDB's message."""
    import duckdb

    with duckdb.connect() as con:
        rows = con.sql("SELECT json_serialize_sql(?)", params=[body]).fetchall()
    tree = json.loads(rows[0][0])
    if tree.get("error"):
        raise InvalidArgumentError(
            f"not a SELECT that can run continuously: {tree.get('error_message')} in {body!r}"
        )
    statements = tree["statements"]
    if len(statements) != 1:
        raise InvalidArgumentError("a continuous query is one statement")
    node: dict[str, Any] = statements[0]["node"]
    if node.get("type") != "SELECT_NODE":
        raise InvalidArgumentError(
            "a continuous query is one SELECT (no UNION, INTERSECT or EXCEPT) reading one topic"
        )
    return node


def _single_table(node: dict[str, Any], expected: str | None) -> str:
    table = node.get("from_table") or {}
    if table.get("type") != "BASE_TABLE":
        raise InvalidArgumentError(
            "a continuous query reads one topic: FROM topic or FROM TUMBLE(topic, …), "
            "without joins or subqueries in FROM"
        )
    name = str(table["table_name"])
    if expected is not None and name != expected:
        raise InvalidArgumentError(f"a continuous query reads one topic, not {name!r}")
    return name


def _columns(node: Any) -> tuple[set[str], set[str], bool]:
    """(column names referenced, select-list aliases, whether there is a SELECT *)."""
    refs: set[str] = set()
    aliases: set[str] = set()
    star = False

    def walk(n: Any, top: bool) -> None:
        nonlocal star
        if isinstance(n, dict):
            cls = n.get("class")
            if cls == "COLUMN_REF":
                refs.add(n["column_names"][-1])
            elif cls == "STAR":
                star = True
            for key, value in n.items():
                if key == "select_list" and top:
                    for item in value:
                        if item.get("alias"):
                            aliases.add(item["alias"])
                walk(value, top and key not in ("from_table",))
        elif isinstance(n, list):
            for item in n:
                walk(item, top)

    walk(node, True)
    return refs, aliases, star


def _functions(node: Any) -> set[str]:
    """Names of the plain function calls in a parse tree (not window functions)."""
    found: set[str] = set()
    if isinstance(node, dict):
        if node.get("class") == "FUNCTION":
            found.add(str(node.get("function_name", "")).lower())
        for value in node.values():
            found |= _functions(value)
    elif isinstance(node, list):
        for item in node:
            found |= _functions(item)
    return found


_AGGREGATES: set[str] = set()


def _aggregate_names() -> set[str]:
    """DuckDB's aggregate functions."""
    if not _AGGREGATES:
        import duckdb

        with duckdb.connect() as con:
            rows = con.sql(
                "SELECT DISTINCT lower(function_name) FROM duckdb_functions() "
                "WHERE function_type = 'aggregate'"
            ).fetchall()
        _AGGREGATES.update(r[0] for r in rows)
    return _AGGREGATES
