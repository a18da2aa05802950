"""The object store under deliveries and backups: a directory and a real S3 server
behave alike, a put is whole or absent, bad URLs are refused."""

from __future__ import annotations

import os

import pytest

from logway.errors import InvalidArgumentError
from logway.objectstore import ObjectMissingError, open_store


@pytest.fixture(params=["file", "s3"])
def store_url(request: pytest.FixtureRequest, tmp_path: object) -> str:
    if request.param == "file":
        return f"file:{tmp_path}/store"
    bucket = request.getfixturevalue("s3_bucket")
    return f"s3://{bucket}/some/prefix"


def test_put_get_list_delete(store_url: str) -> None:
    store = open_store(store_url)
    assert store.list() == []
    store.put("a/year=2026/one.bin", b"hello")
    store.put("a/two.bin", [b"wor", b"ld"])
    store.put("b.bin", b"")
    assert store.get("a/year=2026/one.bin") == b"hello"
    assert store.get("a/two.bin") == b"world"
    assert [(o.path, o.size) for o in store.list()] == [
        ("a/two.bin", 5),
        ("a/year=2026/one.bin", 5),
        ("b.bin", 0),
    ]
    assert [o.path for o in store.list("a/")] == ["a/two.bin", "a/year=2026/one.bin"]
    assert store.exists("b.bin") and not store.exists("c.bin")
    store.put("b.bin", b"replaced")
    assert store.get("b.bin") == b"replaced"
    store.delete("b.bin")
    store.delete("b.bin")  # deleting what is gone is no error
    assert not store.exists("b.bin")
    with pytest.raises(ObjectMissingError, match=r"c\.bin does not exist"):
        store.get("c.bin")


def test_a_failed_local_put_leaves_nothing(tmp_path: object) -> None:
    store = open_store(f"file:{tmp_path}/store")
    store.put("x.bin", b"old")

    def chunks() -> object:
        yield b"half"
        raise RuntimeError("writer died")

    with pytest.raises(RuntimeError):
        store.put("x.bin", chunks())  # type: ignore[arg-type]
    assert store.get("x.bin") == b"old"
    assert sorted(os.listdir(f"{tmp_path}/store")) == ["x.bin"]


@pytest.mark.parametrize(
    "url, message",
    [
        ("", "a destination is"),
        ("ftp://host/x", "unknown destination scheme 'ftp'"),
        ("s3://Bad_Bucket/x", "valid bucket name"),
    ],
)
def test_bad_urls_are_refused(url: str, message: str) -> None:
    with pytest.raises(InvalidArgumentError, match=message):
        open_store(url)


def test_paths_stay_inside_the_root(tmp_path: object) -> None:
    store = open_store(str(tmp_path))
    for bad in ("../escape", "/abs", "a/./b"):
        with pytest.raises(InvalidArgumentError, match="relative"):
            store.put(bad, b"x")
    assert os.listdir(str(tmp_path)) == []


def test_a_missing_bucket_is_named(s3_bucket: str) -> None:
    with pytest.raises(InvalidArgumentError, match=r"bucket 'no-such-bucket-here' .* does not"):
        open_store("s3://no-such-bucket-here/x")


def test_compressed_names_are_stored_byte_for_byte(store_url: str) -> None:
    """A name ending in .gz or .zst holds exactly the bytes put there (pyarrow would
    compress it again by its name unless told not to)."""
    import gzip

    store = open_store(store_url)
    data = gzip.compress(b"a line\n")
    store.put("x.jsonl.gz", data)
    store.put("y.jsonl.zst", b"not really zstd")
    assert store.get("x.jsonl.gz") == data
    assert store.get("y.jsonl.zst") == b"not really zstd"
    assert {o.path: o.size for o in store.list()} == {"x.jsonl.gz": len(data), "y.jsonl.zst": 15}


def test_an_unpublished_object_is_invisible_until_published(store_url: str) -> None:
    store = open_store(store_url)
    obj = store.unpublished("lake/a.bin")
    obj.stream.write(b"hello ")
    obj.stream.write(b"world")
    obj.close()
    assert store.list() == [] and not store.exists("lake/a.bin")
    assert obj.publish() == 11
    assert store.get("lake/a.bin") == b"hello world"
    dropped = store.unpublished("lake/b.bin")
    dropped.stream.write(b"never")
    dropped.discard()
    assert [o.path for o in store.list()] == ["lake/a.bin"]
