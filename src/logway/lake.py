"""SQL over the data lake that delivery streams write, with DuckDB.

A lake root (a directory, ``file:PATH`` or ``s3://bucket/prefix``) holds a folder per
delivery, and in it Hive-style partitions (``year=2026/month=11/...``) of Parquet or
JSONL files. Two table macros name a delivery's records::

    SELECT title, count(*) FROM lake('articles') WHERE year = 2026 GROUP BY title
    SELECT * FROM lake_json('clicks') LIMIT 10

``lake(name)`` reads every ``.parquet`` file under the delivery, with the partition
keys as columns and the columns of all files united by name (a field added later is
NULL in older files). The time keys (``year``, ``month``, ``day``, ``hour``,
``minute``) are always BIGINT, whether their folders are zero-padded or not (DuckDB
alone would make ``day=03`` text and ``year=2026`` a number); other keys are typed
from their values. A filter on partition keys skips the data of the other
partitions; their footers are still read, for the united schema. ``lake_json(name)`` reads
the ``.jsonl``, ``.jsonl.gz`` and ``.jsonl.zst`` files inside the partitions, so an
``errors/`` prefix beside them is not mixed in.

S3 roots are read through pyarrow's S3 filesystem, handed to DuckDB through fsspec:
DuckDB's own httpfs extension is a download away, and pyarrow already knows the
endpoint and credentials the way logway's object store reads them. Objects are read
as stored: a ``.jsonl.gz`` object is gzip once, as DuckDB and other tools expect.
"""

from __future__ import annotations

import io
import os
import re
import threading
from dataclasses import dataclass
from types import TracebackType
from typing import Any

import duckdb
from fsspec.implementations.arrow import ArrowFSWrapper

from logway.delivery.prefix import TIME_FIELDS
from logway.errors import InvalidArgumentError, StorageError
from logway.objectstore import ObjectStore, open_store

# The file patterns of a delivery folder, after ROOT/NAME.
PARQUET_FILES = "/**/*.parquet"
JSON_FILES = "/*=*/**/*.jsonl*"  # only under partitions: skips an errors/ prefix

_NO_FILES = re.compile(r'No files found that match the pattern "([^"]*)"')


@dataclass(frozen=True)
class QueryResult:
    """What a query returned: column names, DuckDB type names and rows of Python values."""

    columns: list[str]
    types: list[str]
    rows: list[tuple[Any, ...]]


class Lake:
    """A DuckDB connection (in memory) over one lake root, with ``lake()`` and
    ``lake_json()`` defined. Timestamps are shown in UTC."""

    def __init__(self, url: str):
        self.store: ObjectStore = open_store(url)
        self.url = url
        self.root = self.store.uri()
        # the extensions this needs are built in; never try to download one
        self.con = duckdb.connect(
            ":memory:",
            config={"autoinstall_known_extensions": False, "autoload_known_extensions": False},
        )
        try:
            self.con.execute("SET TimeZone = 'UTC'")
            if self.store.scheme == "s3":
                self.con.register_filesystem(S3ArrowFileSystem(self.store.fs))
                # the cache reads whole objects from a Python filesystem, even those a
                # partition filter skips; without it only their footers are read
                self.con.execute("SET enable_external_file_cache = false")
            root = _sql_string(self.root)
            self.con.execute(
                "CREATE MACRO lake(name) AS TABLE "
                + _time_keys_as_integers(
                    "read_parquet", f"{root} || '/' || name || '{PARQUET_FILES}'"
                )
            )
            self.con.execute(
                "CREATE MACRO lake_json(name) AS TABLE "
                + _time_keys_as_integers(
                    "read_json_auto", f"{root} || '/' || name || '{JSON_FILES}'"
                )
            )
        except BaseException:
            self.con.close()
            raise

    def __repr__(self) -> str:
        return f"Lake({self.url!r})"

    def __enter__(self) -> Lake:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def close(self) -> None:
        self.con.close()

    def query(self, sql: str) -> QueryResult:
        """Run ``sql`` (one statement or several; the last one's rows are returned)."""
        _check_sql(sql)
        try:
            relation = self.con.sql(sql)
            if relation is None:  # the last statement returns nothing
                return QueryResult([], [], [])
            types = [str(t) for t in relation.types]
            # through Arrow: it turns TIMESTAMPTZ into datetimes without pytz
            table = relation.to_arrow_table()
        except duckdb.Error as exc:
            raise self._error(exc) from None
        columns = [column.to_pylist() for column in table.columns]
        return QueryResult(list(table.column_names), types, list(zip(*columns, strict=True)))

    def explain(self, sql: str) -> str:
        """Run the last statement of ``sql`` under ``EXPLAIN ANALYZE`` (the ones before it
        run as usual) and return DuckDB's profile: operators, rows, time, files read."""
        _check_sql(sql)
        try:
            statements = self.con.extract_statements(sql)
            if not statements:
                raise InvalidArgumentError("the SQL holds no statement")
            for statement in statements[:-1]:
                self.con.execute(statement.query)
            rows = self.con.sql(f"EXPLAIN ANALYZE {statements[-1].query}").fetchall()
        except duckdb.Error as exc:
            raise self._error(exc) from None
        return "\n".join(str(row[-1]) for row in rows)

    def deliveries(self) -> list[str]:
        """The folders at the lake root, sorted: one per delivery."""
        from pyarrow import fs as pafs

        try:
            infos = self.store.fs.get_file_info(pafs.FileSelector(self.store.root))
        except FileNotFoundError:
            return []
        except OSError as exc:
            raise StorageError(f"could not list the lake {self.root}: {exc}") from exc
        return sorted(
            i.base_name
            for i in infos
            if i.type == pafs.FileType.Directory and not i.base_name.startswith(".")
        )

    def _error(self, exc: duckdb.Error) -> Exception:
        """``exc`` as a logway error whose message says what to fix."""
        message = _first_lines(str(exc))
        missing = _NO_FILES.search(str(exc))
        if missing is not None:
            return InvalidArgumentError(self._no_files(missing.group(1)))
        if isinstance(exc, duckdb.IOException):
            return StorageError(f"could not read the lake {self.root}: {message}")
        if isinstance(
            exc, duckdb.ParserException | duckdb.BinderException | duckdb.CatalogException
        ):
            return InvalidArgumentError(f"invalid SQL: {message}")
        return InvalidArgumentError(f"the query failed: {message}")

    def _no_files(self, pattern: str) -> str:
        prefix = self.root + "/"
        if not pattern.startswith(prefix):
            return f"no files match {pattern}"
        if pattern.endswith(PARQUET_FILES):
            macro, other, name = "lake", "lake_json", pattern[len(prefix) : -len(PARQUET_FILES)]
            found, instead = "Parquet", "JSONL"
        elif pattern.endswith(JSON_FILES):
            macro, other, name = "lake_json", "lake", pattern[len(prefix) : -len(JSON_FILES)]
            found, instead = "JSONL", "Parquet"
        else:
            return f"no files match {pattern}"
        if self.store.scheme == "file" and not os.path.isdir(self.store.root):
            return f"there is no lake at {self.root}: the directory does not exist"
        deliveries = self.deliveries()
        if name in deliveries:
            return (
                f"{macro}({name!r}) found no {found} files under {self.root}/{name}; "
                f"if the delivery writes {instead}, use {other}({name!r})"
            )
        if deliveries:
            known = ", ".join(deliveries)
            return f"the lake {self.root} has no delivery {name!r}; it has: {known}"
        return (
            f"the lake {self.root} has no delivery {name!r}: it holds no deliveries "
            "(is it the destination of a delivery stream?)"
        )


def open_lake(url: str) -> Lake:
    """A :class:`Lake` over ``url``: a directory, ``file:PATH`` or ``s3://bucket/prefix``."""
    return Lake(url)


def query(sql: str, lake_url: str) -> QueryResult:
    """Run ``sql`` over the lake at ``lake_url`` and return its result."""
    with Lake(lake_url) as lake:
        return lake.query(sql)


def explain(sql: str, lake_url: str) -> str:
    """DuckDB's ``EXPLAIN ANALYZE`` of ``sql`` over the lake at ``lake_url``."""
    with Lake(lake_url) as lake:
        return lake.explain(sql)


_FILE_COLUMN = "_logway_file"


def _time_keys_as_integers(reader: str, files: str) -> str:
    """A query of ``reader`` over ``files`` (hive partitions, columns united by name)
    whose time keys are BIGINT, with the filters on them still choosing the files read.

    DuckDB types a partition key from its values: ``year=2026`` a number, ``day=03``
    text (a leading zero), ``month`` either, depending on the months there are. The
    keys a delivery has depend on its prefix, so they are picked out by name; the
    file name column joins them so that the set is never empty (DuckDB refuses an
    empty one), and is dropped after."""
    keys = "[" + ", ".join(_sql_string(k) for k in TIME_FIELDS) + "]"
    extra = _sql_string(_FILE_COLUMN)
    arrow = _lambda("c")
    return (
        f"SELECT * EXCLUDE ({_FILE_COLUMN}) FROM (SELECT "
        f"COLUMNS({arrow} NOT list_contains({keys}, c) AND c <> {extra}), "
        f"TRY_CAST(COLUMNS({arrow} list_contains({keys}, c) OR c = {extra}) AS BIGINT) "
        f"FROM {reader}({files}, hive_partitioning = true, union_by_name = true, "
        f"filename = {extra}))"
    )


def _lambda(name: str) -> str:
    """The start of a one-argument lambda: DuckDB 1.3 brought ``lambda x: ...``, and
    later versions refuse the older ``x -> ...``."""
    version = tuple(int(p) for p in re.findall(r"\d+", duckdb.__version__)[:2])
    return f"lambda {name}:" if version >= (1, 3) else f"{name} ->"


def _check_sql(sql: str) -> None:
    if not isinstance(sql, str) or not sql.strip():
        raise InvalidArgumentError("the SQL is empty; give a query such as SELECT 1")


def _sql_string(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def _first_lines(message: str) -> str:
    """DuckDB's message without the echo of the query and its caret, on one line."""
    kept = []
    for line in message.splitlines():
        if line.startswith("LINE "):
            break
        if line.strip():
            kept.append(line.strip())
    return " ".join(kept)


class S3ArrowFileSystem(ArrowFSWrapper):  # type: ignore[misc]
    """A ``pyarrow.fs.S3FileSystem`` as the fsspec filesystem DuckDB opens ``s3://`` with;
    files are read with a position per thread (see :class:`PositionalFile`)."""

    protocol = "s3"
    cachable = False  # one per lake, not kept alive by fsspec's cache of instances

    def _open(self, path: str, mode: str = "rb", *args: Any, **kwargs: Any) -> Any:
        if mode != "rb":
            return super()._open(path, mode, *args, **kwargs)
        return PositionalFile(self.fs.open_input_file(path))


class PositionalFile:
    """A file DuckDB's threads share, each with a position of its own.

    DuckDB reads a Python file as ``seek(offset)`` then ``read(n)``, from several threads
    at once on one file object; with one shared position another thread's ``seek`` can
    land between the two and the read returns the wrong bytes. Here each thread keeps its
    own position and reads with ``read_at``, which pyarrow makes safe to call concurrently.
    """

    def __init__(self, file: Any):
        self._file = file  # a pyarrow.NativeFile opened for random access
        self.size: int = file.size()
        self._local = threading.local()

    @property
    def _position(self) -> int:
        position: int = getattr(self._local, "position", 0)
        return position

    def seek(self, offset: int, whence: int = io.SEEK_SET) -> int:
        base = {io.SEEK_SET: 0, io.SEEK_CUR: self._position, io.SEEK_END: self.size}[whence]
        self._local.position = base + offset
        return self._local.position  # type: ignore[no-any-return]

    def tell(self) -> int:
        return self._position

    def read(self, n: int = -1) -> bytes:
        position = self._position
        if n is None or n < 0:
            n = self.size - position
        data: bytes = self._file.read_at(max(0, min(n, self.size - position)), position)
        self._local.position = position + len(data)
        return data

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return True

    def writable(self) -> bool:
        return False

    @property
    def closed(self) -> bool:
        return bool(self._file.closed)

    def close(self) -> None:
        self._file.close()

    def __enter__(self) -> PositionalFile:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
