import pytest

from logway.errors import InvalidArgumentError
from logway.windows import Windowing


def test_build_each_kind() -> None:
    assert Windowing.build(tumbling="1m") == Windowing("tumbling", 60_000, 60_000, 0)
    assert Windowing.build(hopping=("1m", "10s"), grace="5s") == Windowing(
        "hopping", 60_000, 10_000, 5_000
    )
    assert Windowing.build(sliding=500) == Windowing("sliding", 500, 0, 0)
    assert Windowing.build(session="30s") == Windowing("session", 30_000, 0, 0)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({}, "exactly one"),
        ({"tumbling": "1m", "session": "1m"}, "exactly one"),
        ({"tumbling": 0}, "positive"),
        ({"tumbling": "soon"}, "duration"),
        ({"hopping": "1m"}, r"\(size, step\)"),
        ({"hopping": ("1m", "7s")}, "multiple of the step"),
        ({"hopping": ("10s", "1m")}, "multiple of the step"),
        ({"tumbling": "1m", "grace": -1}, "negative"),
    ],
)
def test_bad_windowing_is_refused(kwargs: dict[str, object], message: str) -> None:
    with pytest.raises(InvalidArgumentError, match=message):
        Windowing.build(**kwargs)


@pytest.mark.parametrize(
    "fields",
    [("weekly", 10, 10), ("tumbling", 0, 0), ("tumbling", 10, 5), ("hopping", 10, 3)],
)
def test_direct_construction_is_checked(fields: tuple[str, int, int]) -> None:
    with pytest.raises(InvalidArgumentError, match=r"Windowing\.build"):
        Windowing(*fields)
