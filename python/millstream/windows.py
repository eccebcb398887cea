"""Window kinds and aggregations for ``key_by(...).window(...).agg(...)``."""
from __future__ import annotations

from dataclasses import dataclass

from ._durations import to_ms
from .expr import Expr


@dataclass(frozen=True)
class Window:
    """A window kind; build with :func:`tumbling`, :func:`sliding` or :func:`session`."""

    kind: str
    size_ms: int = 0
    slide_ms: int = 0
    offset_ms: int = 0
    gap_ms: int = 0
    time: str = "event"

    def spec(self) -> dict:
        return {"kind": self.kind, "size_ms": self.size_ms, "slide_ms": self.slide_ms,
                "offset_ms": self.offset_ms, "gap_ms": self.gap_ms, "time": self.time}


def _check_time(time: str) -> str:
    if time not in ("event", "processing"):
        raise ValueError(f"time must be 'event' or 'processing', got {time!r}")
    return time


def tumbling(size, offset=0, time: str = "event") -> Window:
    """Fixed, non-overlapping windows ``[start, start + size)`` aligned to the epoch + offset.

    >>> tumbling("10s")
    Window(kind='tumbling', size_ms=10000, slide_ms=10000, offset_ms=0, gap_ms=0, time='event')
    """
    size_ms = to_ms(size, "tumbling size")
    if size_ms <= 0:
        raise ValueError(f"tumbling: size must be positive, got {size!r}")
    return Window("tumbling", size_ms, size_ms, to_ms(offset, "tumbling offset") % size_ms, 0,
                  _check_time(time))


def sliding(size, every, offset=0) -> Window:
    """Overlapping windows of ``size`` starting every ``every``: a row is in size/every windows.

    >>> import millstream as ms
    >>> s = ms.Pipeline(parallelism=1).from_records([{"k": "a", "ts": 0}, {"k": "a", "ts": 7_000}])
    >>> w = s.with_watermark("ts").key_by("k").window(ms.sliding("10s", every="5s"))
    >>> [(r["window_start"], r["n"]) for r in w.agg(n=ms.count()).collect(ordered=True).to_pylist()]
    [(-5000, 1), (0, 2), (5000, 1)]
    """
    size_ms, slide_ms = to_ms(size, "sliding size"), to_ms(every, "sliding every")
    if size_ms <= 0 or slide_ms <= 0 or slide_ms > size_ms:
        raise ValueError(f"sliding: need 0 < every <= size, got size={size!r}, every={every!r}")
    return Window("sliding", size_ms, slide_ms, to_ms(offset, "sliding offset") % slide_ms)


def session(gap) -> Window:
    """Sessions of a key: rows at most ``gap`` apart belong together (two rows exactly ``gap``
    apart are one session, as in Flink); a session ends at its last row's time + gap.

    >>> import millstream as ms
    >>> s = ms.Pipeline(parallelism=1).from_records(
    ...     [{"user": "ann", "ts": t} for t in (0, 20_000, 50_000, 200_000)])
    >>> w = s.with_watermark("ts").key_by("user").window(ms.session("30s"))
    >>> [(r["window_start"], r["window_end"], r["clicks"])
    ...  for r in w.agg(clicks=ms.count()).collect(ordered=True).to_pylist()]
    [(0, 80000, 3), (200000, 230000, 1)]
    """
    gap_ms = to_ms(gap, "session gap")
    if gap_ms <= 0:
        raise ValueError(f"session: gap must be positive, got {gap!r}")
    return Window("session", gap_ms=gap_ms)


@dataclass(frozen=True)
class Aggregation:
    """One aggregate of a window or a running aggregation, e.g. ``ms.sum("x")``, or of an
    expression, ``ms.sum(col("price") * col("qty"))``: the engine computes the expression per
    row (the pipeline adds it as a hidden column before the keyed exchange) and aggregates it."""

    kind: str
    column: str | None = None
    expr: object = None  # an Expr aggregated instead of a column (then column is None)

    def spec(self, name: str, column: str | None = None) -> dict:
        """The plan's form; ``column`` names the hidden column that holds ``expr``."""
        return {"kind": self.kind, "column": column or self.column or "", "name": name}


def _aggregation(kind: str, target) -> Aggregation:
    """An aggregation of a column name or an expression (a bare ``col("x")`` is the column)."""
    if target is None or isinstance(target, str):
        return Aggregation(kind, target)
    if isinstance(target, Expr):
        node = target.node
        if set(node) == {"col"}:
            return Aggregation(kind, node["col"])
        return Aggregation(kind, None, target)
    raise TypeError(f"ms.{kind}(...) takes a column name or an expression such as "
                    f"col('price') * col('qty'), got {target!r}")


def count(column=None) -> Aggregation:
    """Rows in the window (non-null values of ``column`` when given). Every aggregation takes a
    column name or an expression (``ms.sum(col("price") * col("qty"))``); ``count`` of an
    expression counts its non-null values, as pandas and polars do, so ``count(col("x") > 3)``
    counts rows where x is not null: the rows where it holds are
    ``ms.sum((col("x") > 3).cast(ms.int64))``. The statistics below follow pandas: ``stddev`` and ``var`` are sample ones (null for a single value), and
    ``first`` / ``last`` go by event time.

    >>> import millstream as ms
    >>> s = ms.Pipeline(parallelism=1).from_records(
    ...     [{"k": "a", "ts": 0, "x": 1.0}, {"k": "a", "ts": 9_000, "x": 3.0},
    ...      {"k": "a", "ts": 4_000, "x": 3.0}])
    >>> w = s.with_watermark("ts", max_delay="5s").key_by("k").window(ms.tumbling("10s"))
    >>> w.agg(n=ms.count(), first=ms.first("x"), last=ms.last("x"), distinct=ms.count_distinct("x"),
    ...       var=ms.var("x"), xs=ms.collect_list("x")).collect().to_pylist()
    [{'k': 'a', 'window_start': 0, 'window_end': 10000, 'n': 3, 'first': 1.0, 'last': 3.0, 'distinct': 2, 'var': 1.3333333333333333, 'xs': [1.0, 3.0, 3.0]}]
    """
    return _aggregation("count", column)


def sum(column) -> Aggregation:  # noqa: A001 - the name users expect
    """Sum of the non-null values (int64 for integers, float64 for floats); null when there
    are none, as SQL's SUM.

    >>> import millstream as ms
    >>> s = ms.Pipeline(parallelism=1).from_records(
    ...     [{"k": "a", "x": 1}, {"k": "a", "x": None}, {"k": "a", "x": 4}])
    >>> s.key_by("k").agg(emit="final", total=ms.sum("x"), low=ms.min("x"), avg=ms.mean("x"),
    ...                   rows=ms.count(), values=ms.count("x")).collect().to_pylist()
    [{'k': 'a', 'total': 5, 'low': 1, 'avg': 2.5, 'rows': 3, 'values': 2}]

    Over an expression, computed by the engine per row (the output is named by the keyword):

    >>> from millstream import col
    >>> s = ms.Pipeline(parallelism=1).from_records(
    ...     [{"k": "a", "price": 2.5, "qty": 4}, {"k": "a", "price": 1.0, "qty": 3}])
    >>> s.key_by("k").agg(emit="final", revenue=ms.sum(col("price") * col("qty")),
    ...                   big=ms.sum((col("qty") > 3).cast(ms.int64))).collect().to_pylist()
    [{'k': 'a', 'revenue': 13.0, 'big': 1}]
    """
    return _aggregation("sum", column)


def min(column) -> Aggregation:  # noqa: A001
    """Smallest non-null value (numbers, strings, timestamps); null when there are none."""
    return _aggregation("min", column)


def max(column) -> Aggregation:  # noqa: A001
    """Largest non-null value (numbers, strings, timestamps); null when there are none."""
    return _aggregation("max", column)


def mean(column) -> Aggregation:
    """Arithmetic mean of the non-null values, as float64; null when there are none."""
    return _aggregation("mean", column)


def first(column) -> Aggregation:
    """The value of the row with the earliest event time (the smallest value among rows with that
    time, so the result does not depend on arrival order); by arrival without event time."""
    return _aggregation("first", column)


def last(column) -> Aggregation:
    """The value of the row with the latest event time (the largest value among rows with that
    time); by arrival without event time."""
    return _aggregation("last", column)


def count_distinct(column) -> Aggregation:
    """Exact number of distinct non-null values."""
    return _aggregation("count_distinct", column)


def stddev(column) -> Aggregation:
    """Sample standard deviation (ddof=1, as pandas)."""
    return _aggregation("stddev", column)


def var(column) -> Aggregation:
    """Sample variance (ddof=1, as pandas)."""
    return _aggregation("var", column)


def collect_list(column) -> Aggregation:
    """All non-null values, in arrival order."""
    return _aggregation("collect_list", column)
