"""Windowed aggregation over event time, as Flink SQL's window table functions and
watermarks define it: a pure core (no broker, no I/O) and ``runner.py``, which feeds
it from a topic and produces its results (``App.window``).

- ``spec.py``: ``Windowing``, the window kind (tumbling, hopping, sliding, session) and
  durations.
- ``aggregates.py``: ``compile_aggregations`` and ``Custom``: count, sum, min, max, mean,
  first, last, distinct_count, percentile, compiled to one add function per window state.
- ``fields.py``: reading a record's field by key, dotted path or callable.
- ``sketch.py``: ``QuantileSketch``, the mergeable DDSketch-style sketch of percentiles.
- ``engine.py``: ``WindowEngine``: assigns records to windows, closes them at the
  watermark, reports late records, snapshots and restores its state.
- ``sliding.py``: ``SlidingWindows``, Kafka Streams' sliding windows over each key's
  buffered records.
- ``keys.py``: window keys in JSON snapshots.
- ``watermark.py``: ``Watermarks``, max event time - grace per partition, min across
  partitions, with idleness.
- ``runner.py``: ``WindowRunner``: reads a topic, produces results, late and
  unreadable records aside, checkpoints into ``__logway_windows``.
- ``sql.py``: ``ContinuousQuery``: a continuous SQL statement's target, source, window
  table function and columns; ``sqlrows.py`` reads batches of records as its rows with
  DuckDB; ``sqlrun.py``: ``SqlRunner`` runs it (``App.sql``, ``logway sql``).
- ``output.py``: ``NumberedOutput``: final results stored exactly once across restarts
  (one process at a time runs each window or query: ``logway.jobs``).
"""

from logway.windows.aggregates import Aggregations, Custom, compile_aggregations
from logway.windows.engine import Late, WindowEngine, WindowResult
from logway.windows.sketch import QuantileSketch
from logway.windows.spec import Windowing
from logway.windows.watermark import Watermarks

__all__ = [
    "Aggregations",
    "Custom",
    "Late",
    "QuantileSketch",
    "Watermarks",
    "WindowEngine",
    "WindowResult",
    "Windowing",
    "compile_aggregations",
]
