import math

from hypothesis import given, settings
from hypothesis import strategies as st

from logway.windows import QuantileSketch

values = st.lists(
    st.one_of(
        st.floats(min_value=-1e6, max_value=1e6, allow_nan=False),
        st.integers(min_value=-(10**6), max_value=10**6),
    ),
    min_size=1,
    max_size=300,
)
quantiles = st.floats(min_value=0, max_value=1)


def exact(xs: list[float], q: float) -> float:
    return sorted(xs)[math.floor(q * (len(xs) - 1))]


def close(estimate: float | None, want: float) -> bool:
    assert estimate is not None
    return abs(estimate - want) <= 0.01 * abs(want) + 1e-9


@settings(max_examples=200, deadline=None)
@given(values, quantiles)
def test_quantile_within_one_percent(xs: list[float], q: float) -> None:
    sketch = QuantileSketch()
    for x in xs:
        sketch.add(x)
    assert close(sketch.quantile(q), exact(xs, q))


@settings(max_examples=100, deadline=None)
@given(values, values, quantiles)
def test_merge_is_as_good_as_one_sketch(xs: list[float], ys: list[float], q: float) -> None:
    a, b = QuantileSketch(), QuantileSketch()
    for x in xs:
        a.add(x)
    for y in ys:
        b.add(y)
    b = QuantileSketch.from_json(b.to_json())
    assert close(a.merge(b).quantile(q), exact(xs + ys, q))


def test_buckets_are_capped() -> None:
    sketch = QuantileSketch(max_buckets=100)
    for i in range(10_000):
        sketch.add(1.01**i)
    assert len(sketch.pos) <= 100
    assert close(sketch.quantile(0.99), exact([1.01**i for i in range(10_000)], 0.99))
    assert sketch.quantile(1.0) == 1.01**9999
    assert QuantileSketch().quantile(0.5) is None


def test_collapsed_buckets_stay_capped_when_lower_values_keep_coming() -> None:
    a, b = QuantileSketch(max_buckets=50), QuantileSketch(max_buckets=50)
    xs = [1.05**-i for i in range(2_000)]
    for x in xs:
        a.add(x)
        b.add(-x)
    assert len(a.pos) <= 50 and len(b.neg) <= 50
    assert close(a.quantile(0.99), exact(xs, 0.99))
    merged = QuantileSketch.from_json(a.to_json()).merge(QuantileSketch.from_json(a.to_json()))
    assert len(merged.pos) <= 50
    assert close(merged.quantile(0.995), exact(xs + xs, 0.995))
    assert close(b.quantile(0.01), exact([-x for x in xs], 0.01))
