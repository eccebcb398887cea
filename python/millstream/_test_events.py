"""``ms.testing.events``: a source built from rows with the watermarks placed between them, for
unit tests with deterministic time and no broker (what Kafka Streams' TopologyTestDriver and
Bytewax's TestingSource give their users)."""
from __future__ import annotations

from dataclasses import dataclass

import pyarrow as pa

from . import _core, _explain, _plan
from ._times import to_epoch_ms
from ._types import to_arrow_schema

# The column that carries the watermarks to the engine; dropped there (ExplicitWatermarkNode).
WATERMARK_COLUMN = "__millstream_watermark_ms"


@dataclass(frozen=True)
class Watermark:
    """A watermark placed between the rows of :func:`events`; make it with :func:`watermark`."""

    time_ms: int

    def __repr__(self) -> str:
        return f"watermark({self.time_ms})"


def watermark(time) -> Watermark:
    """A watermark to place between the rows given to :func:`events`: from there on, every
    window ending at or before ``time`` has fired and a row of such a window is late.
    ``time``: epoch milliseconds, a ``datetime`` or an ISO-8601 string.

    >>> watermark("1970-01-01T00:00:10Z")
    watermark(10000)
    """
    return Watermark(to_epoch_ms(time, "watermark"))


def events(pipeline, items, time_column: str | None = None, schema=None,
           name: str = "events"):
    """A stream of ``items``: row dicts, with :func:`watermark` markers between them.

    The rows come in the order given, as one split whatever the pipeline's parallelism.
    With ``time_column`` the stream has event time, and its watermarks are exactly the
    markers (none before the first; the end of input is the final one): call ``key_by`` /
    ``window`` on it directly. ``with_watermark`` on such a stream is an error, as it would
    replace them. Without ``time_column`` (and no markers) it is a plain source for the
    pipeline's own ``with_watermark``. ``schema``: as for ``from_records`` (needed when there
    are no rows).

    >>> import millstream as ms
    >>> from millstream.testing import events, watermark
    >>> p = ms.Pipeline(parallelism=2)
    >>> clicks = events(p, [{"user": "a", "ts": 1_000}, watermark(10_000),
    ...                     {"user": "a", "ts": 2_000}, {"user": "a", "ts": 12_000}],
    ...                 time_column="ts")
    >>> w = clicks.key_by("user").window(ms.tumbling("10s"))
    >>> windows, late = p.collect(w.agg(n=ms.count()), w.late())
    >>> windows.to_pylist(), late.to_pylist()
    ([{'user': 'a', 'window_start': 0, 'window_end': 10000, 'n': 1}, {'user': 'a', 'window_start': 10000, 'window_end': 20000, 'n': 1}], [{'user': 'a', 'ts': 2000}])
    """
    items = list(items)
    rows, watermark_ms = [], []
    pending = None  # the watermark placed before the next row
    last = None  # (item index, watermark) of the last marker seen
    for index, item in enumerate(items):
        if isinstance(item, Watermark):
            if last is not None and item.time_ms < last[1]:
                raise ValueError(f"{name}: item {index} ({item!r}) goes back from {last[1]} "
                                 f"(item {last[0]}): watermarks never go back; give them in "
                                 "non-decreasing order")
            last = (index, item.time_ms)
            pending = item.time_ms
        elif isinstance(item, dict):
            rows.append(item)
            watermark_ms.append(pending)
            pending = None
        else:
            raise TypeError(f"{name}: item {index} is {type(item).__name__}; give row dicts and "
                            "ms.testing.watermark(time) markers")
    if last is not None and time_column is None:
        raise ValueError(f"{name}: watermarks were given but no time_column; pass "
                         "time_column='...' naming the event time they refer to")
    arrow_schema = to_arrow_schema(schema)
    if not rows and arrow_schema is None:
        raise ValueError(f"{name}: no rows to infer the columns from; pass schema={{name: type}}")
    table = pa.Table.from_pylist(rows, schema=arrow_schema)
    if time_column is not None and time_column not in table.column_names:
        raise ValueError(f"{name}: time_column '{time_column}' is not a column; columns: "
                         f"{', '.join(table.column_names)}")
    markers = sum(isinstance(item, Watermark) for item in items)
    label = (f"{name}({len(rows)} row{'s' if len(rows) != 1 else ''}, "
             f"{markers} watermark{'s' if markers != 1 else ''})")
    if time_column is None:
        source = _core.table_source(table.__arrow_c_stream__(), label, pipeline.batch_size, True)
        return pipeline._source(source, label, info=_explain.in_memory_info(len(rows), "1 split"))
    table = table.append_column(WATERMARK_COLUMN, pa.array(watermark_ms, type=pa.int64()))
    source = _core.table_source(table.__arrow_c_stream__(), label, pipeline.batch_size, True)
    stream = pipeline._source(source, label, info=_explain.in_memory_info(len(rows), "1 split"))
    node = _plan.explicit_watermark_node(time_column, WATERMARK_COLUMN,
                                         f"watermarks({time_column}, given)")
    return stream._then(node, time_column=time_column)
