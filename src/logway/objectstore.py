"""Where deliveries and backups put their files: a local directory or an S3 bucket,
behind one small interface (``put`` is atomic and durable, ``get``, ``list``, ``delete``).

    store = open_store("file:./lake")          # or a bare path
    store = open_store("s3://bucket/prefix")   # AWS_ENDPOINT_URL[_S3], AWS_REGION,
                                               # AWS_ACCESS_KEY_ID/... as the AWS tools read them

S3 goes through ``pyarrow.fs``, the same filesystem pyarrow writes Parquet with. An
object is either whole or absent: a local file is written beside its name, synced and
renamed over it; an S3 object appears only when its upload completes.
"""

from __future__ import annotations

import os
import re
import uuid
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from logway.errors import InvalidArgumentError, LogwayError, StorageError


class ObjectMissingError(LogwayError, KeyError):
    """The object asked for is not in the store."""

    def __str__(self) -> str:
        return str(self.args[0]) if self.args else ""


@dataclass(frozen=True)
class ObjectInfo:
    path: str  # relative to the store's root, with "/" separators
    size: int


class ObjectStore:
    """A root (directory or bucket prefix) holding objects named by relative paths."""

    def __init__(self, url: str, fs: Any, root: str, scheme: str):
        self.url = url
        self.fs = fs  # a pyarrow.fs.FileSystem
        self.root = root.rstrip("/")  # the root as the filesystem names it
        self.scheme = scheme  # "file" or "s3"

    def __repr__(self) -> str:
        return f"ObjectStore({self.url!r})"

    def full_path(self, path: str) -> str:
        """The name the filesystem knows ``path`` by."""
        _check_path(path)
        return f"{self.root}/{path}" if path else self.root

    def uri(self, path: str = "") -> str:
        """``path`` as a URI other tools (DuckDB, pyarrow) open: a local path or s3://."""
        full = self.full_path(path)
        return f"s3://{full}" if self.scheme == "s3" else full

    def put(self, path: str, data: bytes | bytearray | memoryview | Iterable[bytes]) -> None:
        """Write ``path`` whole, or not at all, and make it durable before returning."""
        chunks = [data] if isinstance(data, bytes | bytearray | memoryview) else data
        full = self.full_path(path)
        try:
            if self.scheme == "file":
                _put_local(full, chunks)
            else:
                # compression=None: pyarrow would otherwise gzip a name ending in .gz again
                with self.fs.open_output_stream(full, compression=None) as out:
                    for chunk in chunks:
                        out.write(chunk)
        except OSError as exc:
            raise StorageError(f"could not write {self.uri(path)}: {exc}") from exc

    def unpublished(self, path: str) -> UnpublishedObject:
        """An object to write now (``.stream``, a pyarrow output stream, so that
        pyarrow's writers go straight to a file) and to publish later, durably and
        whole, with ``.publish()``; until then it is invisible, and ``.discard()``
        drops it."""
        return UnpublishedObject(self, path)

    def get(self, path: str) -> bytes:
        full = self.full_path(path)
        with self._reading(path), self.fs.open_input_stream(full, compression=None) as f:
            data: bytes = f.read()
            return data

    def get_view(self, path: str) -> memoryview:
        """``get`` as a read-only buffer, read in one piece and not copied into ``bytes``:
        several times faster for large objects (a backup's)."""
        with self._reading(path), self.fs.open_input_file(self.full_path(path)) as f:
            return memoryview(f.read_buffer()).cast("B").toreadonly()

    @contextmanager
    def _reading(self, path: str) -> Iterator[None]:
        """Reading ``path``: a missing object is ``ObjectMissingError``, another failure
        ``StorageError``, each naming it."""
        try:
            yield
        except FileNotFoundError:
            raise ObjectMissingError(f"{self.uri(path)} does not exist") from None
        except OSError as exc:
            if "does not exist" in str(exc) or "NoSuchKey" in str(exc):
                raise ObjectMissingError(f"{self.uri(path)} does not exist") from None
            raise StorageError(f"could not read {self.uri(path)}: {exc}") from exc

    def exists(self, path: str) -> bool:
        from pyarrow import fs as pafs

        info = self.fs.get_file_info(self.full_path(path))
        return bool(info.type == pafs.FileType.File)

    def list(self, prefix: str = "") -> list[ObjectInfo]:
        """Every object under ``prefix`` (a directory-like path), sorted by path."""
        from pyarrow import fs as pafs

        base = self.full_path(prefix.rstrip("/"))
        try:
            infos = self.fs.get_file_info(pafs.FileSelector(base, recursive=True))
        except FileNotFoundError:
            return []
        except OSError as exc:
            raise StorageError(f"could not list {self.uri(prefix)}: {exc}") from exc
        cut = len(self.root) + 1 if self.root else 0
        out = [
            ObjectInfo(i.path[cut:], i.size)
            for i in infos
            if i.type == pafs.FileType.File and not os.path.basename(i.path).startswith(".tmp-")
        ]
        return sorted(out, key=lambda o: o.path)

    def delete(self, path: str) -> None:
        try:
            self.fs.delete_file(self.full_path(path))
        except FileNotFoundError:
            pass
        except OSError as exc:
            if "does not exist" not in str(exc):
                raise StorageError(f"could not delete {self.uri(path)}: {exc}") from exc


class UnpublishedObject:
    """An object being written: a hidden file beside its name on a local disk, a
    buffer in memory for S3 (whose uploads cannot be abandoned half done)."""

    def __init__(self, store: ObjectStore, path: str):
        import pyarrow as pa

        self.store, self.path = store, path
        self.full = store.full_path(path)
        self.tmp: str | None = None
        self.size = 0
        if store.scheme == "file":
            directory = os.path.dirname(self.full)
            self.tmp = os.path.join(directory, f".tmp-{uuid.uuid4().hex}")
            try:
                os.makedirs(directory, exist_ok=True)
                self.stream: Any = pa.OSFile(self.tmp, "wb")
            except OSError as exc:
                raise StorageError(f"could not write {store.uri(path)}: {exc}") from exc
        else:
            self.stream = pa.BufferOutputStream()

    def close(self) -> None:
        """The writing is done (``publish`` comes later, maybe in another thread)."""
        if not self.stream.closed:
            self.size = self.stream.tell()
            if self.tmp is None:
                self._buffer = self.stream.getvalue()
            self.stream.close()

    def publish(self) -> int:
        """Make the object durable and visible under its name; returns its size. On a
        failure it stays unpublished, and ``publish`` may be tried again."""
        self.close()
        if self.tmp is None:
            self.store.put(self.path, memoryview(self._buffer))
            return self.size
        try:
            _sync_and_rename(self.tmp, self.full)
        except OSError as exc:
            raise StorageError(f"could not write {self.store.uri(self.path)}: {exc}") from exc
        return self.size

    def discard(self) -> None:
        if not self.stream.closed:
            self.stream.close()
        if self.tmp is not None:
            _discard(self.tmp)


def _check_path(path: str) -> None:
    if path.startswith("/") or any(part in ("..", ".") for part in path.split("/")):
        raise InvalidArgumentError(f"object paths are relative, without . or ..: {path!r}")


def _put_local(full: str, chunks: Iterable[bytes | bytearray | memoryview]) -> None:
    directory = os.path.dirname(full)
    os.makedirs(directory, exist_ok=True)
    tmp = os.path.join(directory, f".tmp-{uuid.uuid4().hex}")
    try:
        with open(tmp, "wb") as f:
            for chunk in chunks:
                f.write(chunk)
        _sync_and_rename(tmp, full)
    except BaseException:
        _discard(tmp)
        raise


def _sync_and_rename(tmp: str, full: str) -> None:
    """Make ``tmp`` durable, then give it its name, durably."""
    fd = os.open(tmp, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
    os.replace(tmp, full)
    fd = os.open(os.path.dirname(full), os.O_RDONLY)
    try:
        os.fsync(fd)  # the rename itself survives a crash
    finally:
        os.close(fd)


def _discard(tmp: str) -> None:
    try:
        os.unlink(tmp)
    except FileNotFoundError:
        pass


_S3_URL = re.compile(r"^s3://([a-z0-9][a-z0-9.\-]{1,61}[a-z0-9])(/.*)?$")


def open_store(url: str) -> ObjectStore:
    """The store at ``url``: ``file:PATH``, a bare path, or ``s3://bucket[/prefix]``."""
    if not isinstance(url, str) or not url.strip():
        raise InvalidArgumentError("a destination is a directory, file:PATH or s3://bucket/prefix")
    if url.startswith("s3://"):
        return _open_s3(url)
    if "://" in url and not url.startswith("file://"):
        scheme = urlsplit(url).scheme
        raise InvalidArgumentError(
            f"unknown destination scheme {scheme!r} in {url!r}: use a directory, "
            "file:PATH or s3://bucket/prefix"
        )
    from pyarrow import fs as pafs

    path = url.removeprefix("file://") if url.startswith("file://") else url.removeprefix("file:")
    root = os.path.abspath(path)
    if os.path.exists(root) and not os.path.isdir(root):
        raise InvalidArgumentError(f"{url!r} is a file, not a directory")
    return ObjectStore(url, pafs.LocalFileSystem(), root, "file")


def _open_s3(url: str) -> ObjectStore:
    from pyarrow import fs as pafs

    match = _S3_URL.match(url)
    if match is None:
        raise InvalidArgumentError(f"{url!r} is not s3://bucket/prefix with a valid bucket name")
    bucket, prefix = match.group(1), (match.group(2) or "").strip("/")
    options: dict[str, Any] = {}
    endpoint = os.environ.get("AWS_ENDPOINT_URL_S3") or os.environ.get("AWS_ENDPOINT_URL")
    if endpoint:
        parts = urlsplit(endpoint)
        options["endpoint_override"] = parts.netloc or endpoint
        options["scheme"] = parts.scheme or "https"
    region = os.environ.get("AWS_REGION") or os.environ.get("AWS_DEFAULT_REGION")
    if region:
        options["region"] = region
    try:
        fs = pafs.S3FileSystem(**options)
        info = fs.get_file_info(bucket)
    except OSError as exc:
        raise StorageError(f"could not reach {url}: {exc}") from exc
    if info.type == pafs.FileType.NotFound:
        raise InvalidArgumentError(f"bucket {bucket!r} of {url} does not exist; create it first")
    return ObjectStore(url, fs, f"{bucket}/{prefix}" if prefix else bucket, "s3")
