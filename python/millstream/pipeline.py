"""Pipelines and streams: the declared plan, validated as it is built, run by the C++ engine."""
from __future__ import annotations

import datetime
import operator
import os
import sys
import tempfile
import warnings
from dataclasses import dataclass, field
from typing import Callable

import pyarrow as pa

from . import _core, _explain, _plan, _progress, _pushdown, _types
from ._durations import to_ms
from ._types import to_arrow_schema
from .expr import Expr, _to_expr, bind_text_times, col, lit
from .job import Job, forget_ended_jobs
from .windows import Aggregation, Window

_ON_ERROR = ("raise", "skip", "dead_letter")


def _schema_of(capsule) -> pa.Schema:
    return pa.Schema._import_from_c_capsule(capsule)


def _batch_of(schema_capsule, array_capsule) -> pa.RecordBatch:
    return pa.RecordBatch._import_from_c_capsule(schema_capsule, array_capsule)


def _in_defined_order(table: pa.Table) -> pa.Table:
    """The rows sorted by window (window_start, window_end) and then every other column that
    sorts (numbers, strings, times, bools), nulls last: an order that does not depend on how
    the subtasks of a keyed operator interleaved their outputs. Rows equal in every sortable
    column keep their arrival order."""
    first = [name for name in ("window_start", "window_end") if name in table.column_names]
    rest = [field.name for field in table.schema
            if field.name not in first and not pa.types.is_nested(field.type)
            and not pa.types.is_dictionary(field.type)]
    keys = [(name, "ascending", "at_end") for name in first + rest]
    return table.sort_by(keys) if keys else table


def _machine_memory_bytes() -> int:
    """Physical memory, or the container's memory limit (cgroup v2 or v1) when that is lower."""
    total = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    for limit_file in ("/sys/fs/cgroup/memory.max", "/sys/fs/cgroup/memory/memory.limit_in_bytes"):
        try:
            with open(limit_file) as f:
                text = f.read().strip()
        except OSError:
            continue
        if text.isdigit():
            total = min(total, int(text))
    return total


def default_state_memory() -> int:
    """``state_memory`` when none is given: a quarter of the machine's (or container's) memory,
    at least 64 MB. Keyed state that fits stays in hash maps with either backend; RocksDB holds
    what does not (DuckDB likewise takes 80% of memory unless told otherwise)."""
    return max(_machine_memory_bytes() // 4, 64 << 20)


def _parse_bytes(value) -> int:
    if value is None:
        return default_state_memory()
    if isinstance(value, int):
        return value
    units = {"KB": 1 << 10, "MB": 1 << 20, "GB": 1 << 30}
    text = str(value).strip().upper()
    for unit, factor in units.items():
        if text.endswith(unit):
            return int(float(text[: -len(unit)]) * factor)
    raise ValueError(f"state_memory: cannot read {value!r}; write e.g. '256MB'")


@dataclass
class RunResult:
    """What ``Pipeline.run()`` returns: metrics per operator and the run's wall time.

    Each operator's metrics are a dict: ``operator`` (its name), ``rows_in``, ``rows_out``,
    ``rows_skipped`` and ``rows_dead_letter`` (bad input), ``rows_late``,
    ``window_contributions_dropped`` (a sliding-window row's contributions to its windows that
    had closed when it came, while others were open: see README, Lateness), ``bytes_read``,
    ``row_groups_pruned``, ``rows_pruned`` and ``bytes_pruned`` (Parquet row groups a filter's
    statistics ruled out, their rows, and the compressed bytes of column chunks left unread:
    columns nobody reads, row groups ruled out),
    ``state_entries`` (live keyed-state entries: windows, keys), ``state_entries_peak``
    (the most there were after an input batch), ``state_reads`` and ``state_writes`` (keys
    looked up in and entries written to the state backend: state beyond the hot budget).
    """

    metrics: list = field(default_factory=list)
    seconds: float = 0.0

    def operator(self, name_prefix: str) -> dict:
        """The metrics of the first operator whose name starts with ``name_prefix``."""
        for entry in self.metrics:
            if entry["operator"].startswith(name_prefix):
                return entry
        raise KeyError(f"no operator named {name_prefix!r}; operators: "
                       f"{[m['operator'] for m in self.metrics]}")

    @property
    def rows_skipped(self) -> int:
        """Bad input rows skipped by every source with ``on_error="skip"``."""
        return builtins_sum(m["rows_skipped"] for m in self.metrics)

    @property
    def rows_late(self) -> int:
        """Rows that came behind the watermark, over every operator."""
        return builtins_sum(m["rows_late"] for m in self.metrics)


builtins_sum = sum


class Pipeline:
    """A dataflow: sources, operators and sinks, declared in Python and run by the engine.

    ``progress``: how runs (``collect``, ``run``, ``to_pandas``...) show their progress: None
    (default) shows a progress bar (stderr, in a terminal) or a live display (in a notebook)
    once a run takes more than a second: rows and bytes read of the total where known, rows/s,
    the watermark, state entries; True shows it from the start, False never. Each run may
    override it (``collect(progress=False)``). Ctrl-C or the kernel's interrupt stops a run.

    ``parallelism``: subtasks per operator (None: all cores). ``state``: ``"memory"`` or
    ``"rocksdb"`` (the default when ``state_dir`` is given); ``state_memory`` (``"2GB"``): what
    keyed state may hold in memory (None: ``default_state_memory()``); ``batch_size``: rows per
    batch; ``max_parallelism``: key groups (the most subtasks a keyed operator can have).

    Checkpoints (docs/design-notes.md, "Checkpoints"): with ``checkpoint_dir`` a run takes one
    every ``checkpoint_interval`` (a duration: "10s", "500ms"...; None: only on
    ``job.checkpoint()``) and keeps the last ``checkpoints_kept``. Running the same script
    again with the same ``checkpoint_dir`` restores the latest complete checkpoint there and
    continues: what is collected or written is then exactly what an uninterrupted run gives. A
    damaged checkpoint (a missing MANIFEST, a file that does not match it) is skipped with a
    warning naming it, and the one before is used. A plan that no longer matches the
    checkpoint is refused with an error naming the operator that differs. A bounded run that
    reaches its end removes its checkpoints (as Flink discards a finished job's), so running it
    again starts afresh. ``restore_from``: a savepoint (``job.savepoint(path)``), a checkpoint
    directory or a ``checkpoint_dir`` to start from when ``checkpoint_dir`` holds no complete
    checkpoint (at any ``parallelism``: key groups are redistributed). ``job.stop()`` on an
    unbounded run with a ``checkpoint_dir`` takes a final checkpoint without firing open
    windows, so that a restart continues from it.

    >>> import millstream as ms
    >>> p = ms.Pipeline(parallelism=2)
    >>> s = p.from_records([{"x": 1}, {"x": 5}, {"x": 7}])
    >>> s.filter(ms.col("x") > 2).collect().column("x").to_pylist()
    [5, 7]
    """

    def __init__(self, parallelism: int | None = None, state: str | None = None,
                 state_dir: str | None = None, batch_size: int | None = None,
                 state_memory=None, max_parallelism: int = 128, progress=None,
                 checkpoint_dir: str | os.PathLike | None = None, checkpoint_interval=None,
                 checkpoints_kept: int = 3, restore_from: str | os.PathLike | None = None):
        self.parallelism = (os.cpu_count() or 1) if parallelism is None else \
            _positive_int(parallelism, "parallelism", "None for all cores")
        if state is None:
            state = "rocksdb" if state_dir else "memory"
        if state not in ("memory", "rocksdb"):
            raise ValueError(f"state must be 'memory' or 'rocksdb', got {state!r}")
        self.state = state
        self.state_dir = state_dir
        self.state_memory_bytes = _parse_bytes(state_memory)
        self.batch_size = 65536 if batch_size is None else \
            _positive_int(batch_size, "batch_size", "None for 65,536 rows")
        self.max_parallelism = max_parallelism
        self._nodes: dict[int, dict] = {}  # id -> the node in the plan format (_plan.py)
        self._schemas: dict[int, list[pa.Schema]] = {}  # id -> output schema per port
        self._sources: list = []
        self._functions: list = []
        self._sink_callbacks: list = []
        self._kafka_sinks: list = []
        self._pending_sinks: list[int] = []
        self._sinks_run = False  # whether a run took declared sinks (so none is left to run)
        self._dead_letter_sources: dict[int, str] = {}
        self._source_info: dict[int, _explain.SourceInfo] = {}  # what each source reads
        # The runs' progress display (millstream/_progress.py): None after ~1 s, True, False.
        self.progress = progress
        self._unbounded_sources: dict[int, str] = {}  # node id -> label (read_kafka(stop=None))
        # File sources that can read fewer columns (projection pushdown, _pushdown.py).
        self._narrowable: set[int] = set()
        self._filterable: set[int] = set()  # Parquet sources: a filter after them skips row groups
        self.checkpoint_dir = None if checkpoint_dir is None else os.fspath(checkpoint_dir)
        self.checkpoint_interval_ms = 0 if checkpoint_interval is None else \
            to_ms(checkpoint_interval, "checkpoint_interval")
        if checkpoint_interval is not None and self.checkpoint_interval_ms <= 0:
            raise ValueError(f"checkpoint_interval must be positive, got {checkpoint_interval!r}")
        if checkpoint_interval is not None and self.checkpoint_dir is None:
            raise ValueError("checkpoint_interval needs a checkpoint_dir to write the checkpoints to")
        self.checkpoints_kept = _positive_int(checkpoints_kept, "checkpoints_kept", "3 by default")
        self.restore_from = None if restore_from is None else os.fspath(restore_from)

    # ----- sources -------------------------------------------------------------------------
    def from_arrow(self, data, name: str = "from_arrow") -> "Stream":
        """Rows of a ``pyarrow.Table``, ``RecordBatchReader`` or any ``__arrow_c_stream__`` object
        (a polars DataFrame among them), read without copies.

        >>> import millstream as ms, pyarrow as pa
        >>> s = ms.Pipeline(parallelism=1).from_arrow(pa.table({"x": [1, 2]}))
        >>> s.select("x", (ms.col("x") * 10).alias("y")).collect().to_pylist()
        [{'x': 1, 'y': 10}, {'x': 2, 'y': 20}]
        """
        if isinstance(data, pa.RecordBatch):
            data = pa.Table.from_batches([data])
        if not hasattr(data, "__arrow_c_stream__"):
            raise TypeError(f"{name}: expected an Arrow table or stream, got {type(data).__name__}")
        rows = data.num_rows if isinstance(data, pa.Table) else None
        source = _core.table_source(data.__arrow_c_stream__(), name, self.batch_size)
        return self._source(source, name,
                            info=_explain.in_memory_info(rows, self._splits_text()))

    def from_pandas(self, df, name: str = "from_pandas") -> "Stream":
        """Rows of a pandas DataFrame (its index is not a column), or of a named pandas Series
        (one column). A polars DataFrame goes to ``from_arrow`` (without copies).

        >>> import millstream as ms, pandas as pd
        >>> ms.Pipeline(parallelism=1).from_pandas(pd.DataFrame({"x": [1, 2]})).collect().num_rows
        2
        """
        module = type(df).__module__
        if module.startswith("polars"):
            raise TypeError(f"{name}: got a polars {type(df).__name__}; pass it to "
                            "p.from_arrow(df), which takes polars frames without copies")
        if type(df).__name__ == "Series" and module.startswith("pandas"):
            df = df.to_frame(name=df.name if df.name is not None else "value")
        if not hasattr(df, "columns") or not module.startswith("pandas"):
            raise TypeError(f"{name}: expected a pandas DataFrame or Series, got "
                            f"{type(df).__name__}; for Arrow data or polars use p.from_arrow, "
                            "for a list of dicts p.from_records")
        return self.from_arrow(pa.Table.from_pandas(df, preserve_index=False), name)

    def from_records(self, records: list, schema=None, name: str = "from_records") -> "Stream":
        """Rows from a list of dicts; ``schema`` (``{name: type}``) when the types inferred from
        the values (by pyarrow) are not the ones wanted. Text stays text here (the file readers
        infer ISO-8601 times): cast it, ``col("ts").cast(ms.timestamp("us", tz="UTC"))``.

        >>> import millstream as ms
        >>> s = ms.Pipeline(parallelism=1).from_records([{"a": 1, "b": "u"}],
        ...                                             schema={"a": ms.float64, "b": ms.string})
        >>> s.drop("b").rename({"a": "z"}).collect().to_pylist()
        [{'z': 1.0}]
        """
        arrow_schema = to_arrow_schema(schema)
        return self.from_arrow(pa.Table.from_pylist(list(records), schema=arrow_schema), name)

    def read_jsonl(self, path: str, schema=None, on_error: str = "raise") -> "Stream":
        """Newline-delimited JSON; a glob reads many files. Without a ``schema`` one is inferred
        from the first rows (ISO-8601 date-and-time text as timestamps). Bad rows: see
        ``on_error`` (``"raise"``, ``"skip"``, ``"dead_letter"``: :meth:`Stream.dead_letters`).

        >>> import os, tempfile, millstream as ms
        >>> folder = tempfile.mkdtemp()
        >>> with open(os.path.join(folder, "e.jsonl"), "w") as f:
        ...     _ = f.write('{"user": "ann", "n": 1}\\n{"user": "bob", "n": 2}\\n')
        >>> p = ms.Pipeline(parallelism=1)
        >>> s = p.read_jsonl(os.path.join(folder, "*.jsonl"))
        >>> s.columns, s.filter(ms.col("n") > 1).collect().to_pylist()
        (['user', 'n'], [{'user': 'bob', 'n': 2}])
        """
        _check_on_error(on_error)
        source = _core.jsonl_source(str(path), _text_schema_capsule(schema), on_error,
                                    self.batch_size)
        return self._source(source, f"read_jsonl({path})", on_error,
                            _explain.files_info(path, self._splits_text()), narrowable=True)

    def read_csv(self, path: str, schema=None, on_error: str = "raise", delimiter: str = ",",
                 header: bool = True) -> "Stream":
        """CSV with a header row (``header=False``: columns by position, named by ``schema``);
        a glob reads many files. Without a ``schema`` one is inferred from the first rows
        (ISO-8601 date-and-time text as timestamps). Bad rows: see ``on_error`` and
        :meth:`read_jsonl`; an unquoted empty field is null.

        >>> import os, tempfile, millstream as ms
        >>> path = os.path.join(tempfile.mkdtemp(), "in.csv")
        >>> with open(path, "w") as f:
        ...     _ = f.write("k;x\\na;1.5\\nb;\\n")
        >>> ms.Pipeline(parallelism=1).read_csv(path, delimiter=";").collect().to_pylist()
        [{'k': 'a', 'x': 1.5}, {'k': 'b', 'x': None}]
        """
        _check_on_error(on_error)
        source = _core.csv_source(str(path), _text_schema_capsule(schema), on_error, self.batch_size,
                                  delimiter, header)
        return self._source(source, f"read_csv({path})", on_error,
                            _explain.files_info(path, self._splits_text()), narrowable=True)

    def read_kafka(self, topics, brokers: str, group: str | None = None, format: str = "json",
                   schema=None, start="earliest", stop="end", on_error: str = "raise",
                   metadata=(), config: dict | None = None,
                   dead_letter_topic: str | None = None, join_group: bool = False,
                   csv: dict | None = None) -> "Stream":
        """Messages of Kafka topics, decoded in C++ into columns: ``format="json"`` (a flat
        object a message; ``schema`` names its fields), ``"csv"`` (a message is one CSV record
        without a header, its fields the ``schema``'s in order, parsed as ``read_csv`` parses
        a row: quoting, an unquoted empty field is null; ``csv={"delimiter": ";"}``),
        ``"string"`` or ``"raw"`` (one column, ``value``). ``metadata``: any of ``"key"``, ``"partition"``, ``"offset"``,
        ``"timestamp"`` (the Kafka timestamp), ``"headers"`` (a list of ``{"name", "value"}``
        in the message's order) as extra columns of those names.

        ``start``: ``"earliest"``, ``"latest"``, ``"committed"`` (the group's offsets, else
        earliest) or a time (``datetime`` or epoch milliseconds: the first message at or after
        it). ``stop="end"``: the run reads up to the end offsets the partitions had when it
        began, ends with the final watermark (every window closes) and then commits the offsets
        read to ``group``. ``stop=None``: unbounded; run it with ``start()`` into ``write_*`` or
        ``for_each_batch`` sinks, which get rows as they come (a window when the watermark
        passes it); ``job.metrics()`` shows each partition's offset and lag; ``job.stop()``
        ends it: what was read drains to the sinks, open windows close as at an end of input,
        and the offsets read are committed to ``group``. Each partition is a split with its own
        watermark; ``with_watermark(..., idle_timeout=)`` leaves a silent partition out of the
        minimum. Bad messages
        follow ``on_error``, named ``topic[partition]@offset``; with ``on_error="dead_letter"``,
        ``dead_letter_topic`` also sends each one, its key and raw bytes, to that topic with
        headers ``millstream.reason``, ``millstream.topic``, ``millstream.partition`` and
        ``millstream.offset`` (delivered before the offsets are committed). ``config``: librdkafka
        properties (e.g. ``{"security.protocol": "ssl"}``). ``join_group=True`` (with ``group``
        and ``stop=None``): the run joins ``group`` as a member and shares the partitions with
        the group's other processes (cooperative-sticky assignor); a partition assigned to it
        starts at the group's committed offset, else at ``start``. Without it a run reads every
        partition itself.

        >>> import millstream as ms
        >>> from millstream.testing import MockKafka
        >>> with MockKafka() as kafka:
        ...     kafka.create_topic("bids", partitions=2)
        ...     kafka.produce("bids", [{"id": i, "price": 1.5 * i} for i in range(4)], key="id")
        ...     p = ms.Pipeline(parallelism=2)
        ...     s = p.read_kafka("bids", brokers=kafka.bootstrap_servers, group="demo",
        ...                      schema={"id": "int64", "price": "float64"})
        ...     sorted(s.collect().column("id").to_pylist())
        [0, 1, 2, 3]
        """
        _check_on_error(on_error)
        topics = [topics] if isinstance(topics, str) else list(topics)
        label = f"read_kafka({', '.join(topics)})"
        if stop not in ("end", None):
            raise ValueError(f"{label}: stop must be 'end' or None (unbounded), got {stop!r}")
        start_timestamp_ms = 0
        if isinstance(start, (datetime.datetime, int)) and not isinstance(start, bool):
            start_timestamp_ms = (int(start.timestamp() * 1000)
                                  if isinstance(start, datetime.datetime) else int(start))
            start = "timestamp"
        elif start not in ("earliest", "latest", "committed"):
            raise ValueError(f"{label}: start must be 'earliest', 'latest', 'committed', a "
                             f"datetime or epoch milliseconds, got {start!r}")
        if join_group and (not group or stop is not None):
            raise ValueError(f"{label}: join_group=True shares the partitions of a group among "
                             "the processes of an unbounded run: pass group=... and stop=None")
        if isinstance(metadata, str):
            metadata = [metadata]
        csv = dict(csv or {})
        if csv and format != "csv":
            raise ValueError(f"{label}: csv= options are for format='csv', got format={format!r}")
        unknown = sorted(set(csv) - {"delimiter"})
        if unknown:
            raise ValueError(f"{label}: unknown csv option(s) {', '.join(map(repr, unknown))}; "
                             "the one option is 'delimiter'")
        source = _core.kafka_source(topics, brokers, group or "", format, _schema_capsule(schema),
                                    start, start_timestamp_ms, list(metadata),
                                    _kafka_config(config),
                                    on_error, self.batch_size, stop == "end",
                                    dead_letter_topic or "", join_group,
                                    str(csv.get("delimiter", ",")))
        stream = self._source(source, label, on_error, _explain.SourceInfo(
            f"Kafka {', '.join(topics)} at {brokers}", "a split per partition"))
        if stop is None:
            self._unbounded_sources[stream._node] = label
        return stream

    def read_parquet(self, path: str) -> "Stream":
        """Parquet files (a glob reads many), streamed by row group.

        >>> import os, tempfile, millstream as ms, pyarrow as pa, pyarrow.parquet as pq
        >>> path = os.path.join(tempfile.mkdtemp(), "x.parquet")
        >>> pq.write_table(pa.table({"x": [1, 2, 3]}), path)
        >>> ms.Pipeline(parallelism=1).read_parquet(path).collect().column("x").to_pylist()
        [1, 2, 3]
        """
        source = _core.parquet_source(str(path), "raise", self.batch_size)
        stream = self._source(source, f"read_parquet({path})",
                              info=_explain.files_info(path, self._splits_text()), narrowable=True)
        self._filterable.add(stream._node)
        return stream

    def _splits_text(self) -> str:
        return f"up to {self.parallelism} split{'s' if self.parallelism > 1 else ''}"

    def _source(self, source, label: str, on_error: str = "raise",
                info: _explain.SourceInfo | None = None, narrowable: bool = False) -> "Stream":
        """``narrowable``: the source can read only the columns the plan uses (``_pushdown``),
        which it does only with ``on_error="raise"``."""
        handle = len(self._sources)
        self._sources.append(source)
        schemas = [_schema_of(source.schema_capsule()), _schema_of(_core.dead_letter_schema())]
        node = self._add(_plan.source_node(handle, label), [], schemas)
        if on_error == "dead_letter":
            self._dead_letter_sources[node] = label
        if narrowable and on_error == "raise":
            self._narrowable.add(node)
        if info is not None:
            self._source_info[node] = info
        return Stream(self, node, schemas[0])

    # ----- running -------------------------------------------------------------------------
    def run(self, progress=None) -> RunResult:
        """Runs every sink declared on the pipeline (write_*, for_each_batch) to the end.
        ``progress``: see :class:`Pipeline` (None: the pipeline's setting). Ctrl-C stops the
        run; its sinks stay declared, so ``run()`` can be called again.

        >>> import os, tempfile, millstream as ms
        >>> path = os.path.join(tempfile.mkdtemp(), "out.csv")
        >>> p = ms.Pipeline(parallelism=1)
        >>> p.from_records([{"user": "ann", "n": 1}, {"user": "bob", "n": 2}]).write_csv(path)
        >>> result = p.run(progress=False)
        >>> print(open(path).read(), end="")
        user,n
        ann,1
        bob,2
        >>> result.operator("from_records")["rows_out"]
        2
        """
        self._check_pending_sinks("run()")
        self._check_bounded(self._pending_sinks, "run()")
        sinks, sinks_run = list(self._pending_sinks), self._sinks_run
        job = self._start(sinks)
        try:
            self._wait(job, sinks, progress)
        except KeyboardInterrupt:
            self._pending_sinks, self._sinks_run = sinks + self._pending_sinks, sinks_run
            raise
        return job.result_summary()

    def _wait(self, job: "Job", sinks: list[int], progress) -> None:
        """Waits for the run of these sinks, with the progress display (``_progress.py``)."""
        nodes = [self._nodes[i] for i in sorted(self._ancestors(sinks))]
        _progress.wait(job, nodes, self._source_info,
                       self.progress if progress is None else progress)

    def explain(self) -> None:
        """Prints the plan of every node declared: see :meth:`Stream.explain`."""
        print(self._explain_text())

    def _title(self) -> str:
        return (f"Pipeline: parallelism {self.parallelism}, state {self.state}, "
                f"{len(self._sources)} source{'s' if len(self._sources) != 1 else ''}, "
                f"{len(self._pending_sinks)} sink{'s' if len(self._pending_sinks) != 1 else ''} "
                "declared")

    def _explain_text(self) -> str:
        return _explain.explain_text(self._title(), _explain.plan_steps(self, list(self._nodes)))

    def __repr__(self) -> str:
        return self._explain_text() if self._nodes else self._title()

    def _repr_html_(self) -> str:
        return _explain.explain_html(self._title(), _explain.plan_steps(self, list(self._nodes)))

    def collect(self, *streams: "Stream", ordered: bool = False, progress=None) -> list:
        """Runs once and returns a ``pyarrow.Table`` for each stream: the windows of an
        aggregation and its late rows come from the same run.

        Rows of stateless pipelines come in the input's order. Those of keyed operators come as
        their subtasks emit them, which varies from run to run at parallelism > 1; with
        ``ordered=True`` each table is sorted by window (``window_start``, ``window_end``) and
        then by every other column, so that two runs compare equal row for row.

        >>> import millstream as ms
        >>> p = ms.Pipeline(parallelism=1)
        >>> s = p.from_records([{"x": 1}, {"x": 2}])
        >>> [t.num_rows for t in p.collect(s, s.filter(ms.col("x") > 1))]
        [2, 1]
        """
        for stream in streams:
            if stream._pipeline is not self:
                raise ValueError("collect: every stream must belong to this Pipeline")
        self._check_bounded([stream._node for stream in streams], "collect()")
        sinks = [self._add(_plan.collect_sink_node(), [stream._node], [stream.schema])
                 for stream in streams]
        if not isinstance(ordered, bool):
            raise ValueError(f"collect(ordered={ordered!r}): ordered must be True or False")
        all_sinks, sinks_run = sinks + self._pending_sinks, self._sinks_run
        job = self._start(all_sinks)
        try:
            self._wait(job, all_sinks, progress)
        except KeyboardInterrupt:
            self._pending_sinks = all_sinks[len(sinks):] + self._pending_sinks
            self._sinks_run = sinks_run
            raise
        tables = [job.table(sink) for sink in sinks]
        return [_in_defined_order(table) for table in tables] if ordered else tables

    def start(self) -> "Job":
        """Runs every declared sink in background threads; returns a :class:`Job`, which runs
        to its end or until stopped whether or not it is kept (see :class:`Job`)."""
        self._check_pending_sinks("start()")
        return self._start(self._pending_sinks)

    def _check_bounded(self, nodes: list[int], caller: str) -> None:
        unbounded = [label for node, label in self._unbounded_sources.items()
                     if node in self._ancestors(nodes)]
        if unbounded:
            raise ValueError(
                f"{caller}: {', '.join(unbounded)} is unbounded (stop=None) and never ends; "
                "pass stop='end' to read up to the end offsets and get a table, or send the "
                "stream to write_* / for_each_batch and run it with job = p.start() ... "
                "job.stop()")

    def _check_pending_sinks(self, caller: str) -> None:
        if self._pending_sinks:
            return
        if self._sinks_run:
            raise ValueError(f"{caller}: every sink of this pipeline was already run (by an "
                             "earlier run(), start() or collect()); declare the sinks again "
                             "(write_*, for_each_batch) to run them once more")
        raise ValueError(f"{caller}: the pipeline has no sink; add write_csv/write_jsonl/"
                         "write_parquet/for_each_batch, or call collect() on a stream")

    def _start(self, sinks: list[int]) -> "Job":
        plan = self._plan_json(sinks)
        self._sinks_run = self._sinks_run or any(s in self._pending_sinks for s in sinks)
        self._pending_sinks = [s for s in self._pending_sinks if s not in sinks]
        forget_ended_jobs()
        return Job(_core.Job(plan, self._sources, self._functions, self._sink_callbacks,
                             self._kafka_sinks, self._checkpoint_options()))

    def _checkpoint_options(self):
        """Where the run writes checkpoints and which one it starts from: ``restore_from``, else
        the latest complete checkpoint in ``checkpoint_dir`` (damaged ones skipped, with a
        warning each), else ``restore_from``."""
        restore = ""
        # checkpoint_dir first: a script started from a savepoint that crashed later goes on
        # from its own latest checkpoint, not from the savepoint again.
        for where in (self.checkpoint_dir, self.restore_from):
            if where is None:
                continue
            found, skipped = _core.find_latest_checkpoint(where)
            for reason in skipped:
                warnings.warn(f"skipping damaged checkpoint {reason}", RuntimeWarning,
                              stacklevel=_caller_stacklevel())
            if found:
                restore = found
                break
            if where == self.restore_from:
                raise ValueError(f"restore_from={self.restore_from!r}: no complete checkpoint or "
                                 "savepoint there" + (" (damaged ones were skipped)" if skipped else ""))
        return _core.CheckpointOptions(directory=self.checkpoint_dir or "",
                                       interval_ms=self.checkpoint_interval_ms,
                                       kept=self.checkpoints_kept, restore_from=restore)

    def _plan_json(self, sinks: list[int]) -> str:
        """The plan (format: ``_plan.py``) of the nodes these sinks need."""
        needed = self._ancestors(sinks)
        self._warn_unread_dead_letters(needed)
        nodes = [self._nodes[i] for i in sorted(needed)]
        if _pushdown.enabled():
            nodes = _pushdown.rewrite(nodes, self._output_names(needed), self._narrowable,
                                      self._filterable)
        return _plan.plan_json(nodes, self.parallelism,
                               self.max_parallelism, self.state, self.state_dir,
                               self.state_memory_bytes)

    def _output_names(self, node_ids) -> dict[int, list[str]]:
        """Per node, the names of its output columns (port 0)."""
        return {i: self._schemas[i][0].names for i in node_ids}

    def _ancestors(self, node_ids) -> set[int]:
        seen: set[int] = set()
        todo = list(node_ids)
        while todo:
            node = todo.pop()
            if node not in seen:
                seen.add(node)
                todo.extend(self._nodes[node]["inputs"])
        return seen

    def _warn_unread_dead_letters(self, needed: set[int]) -> None:
        read = {n["inputs"][0] for i, n in self._nodes.items()
                if i in needed and n["op"] == "port" and n["port"] == 1}
        for node, label in self._dead_letter_sources.items():
            if node in needed and node not in read:
                warnings.warn(f"{label} sends bad rows to dead letters, but nothing reads "
                              "s.dead_letters(): they are only counted in the metrics",
                              stacklevel=3)

    def _add(self, node: _plan.Node, inputs: list[int],
             schemas: list[pa.Schema] | None = None) -> int:
        """Adds a node; its output schemas are resolved by the engine unless given."""
        node_id = len(self._nodes)
        if schemas is None:
            schemas = self._resolve(node, node_id, inputs)
        self._nodes[node_id] = node.to_dict(node_id, inputs)
        self._schemas[node_id] = schemas
        return node_id

    def _resolve(self, node: _plan.Node, node_id: int, inputs: list[int]) -> list[pa.Schema]:
        """The node's output schemas: raises the errors a run would, before any data is read."""
        capsules = [self._schemas[i][node.consumed_port].__arrow_c_schema__() for i in inputs]
        document = _plan.node_document_json(node.to_dict(node_id, inputs))
        return [_schema_of(c) for c in _core.resolve(document, capsules)]


class Stream:
    """A stream of rows with a known schema. Operators return new streams; nothing runs until
    a sink runs (``collect()``, ``to_pandas()``, ``Pipeline.run()``)."""

    def __init__(self, pipeline: Pipeline, node: int, schema: pa.Schema, time_column: str | None = None):
        self._pipeline = pipeline
        self._node = node
        self.schema = schema
        self.time_column = time_column

    def __repr__(self) -> str:
        return self._explain_text()

    def _title(self) -> str:
        time = f", event time {self.time_column}" if self.time_column else ""
        return (f"Stream of {len(self.schema)} column{'s' if len(self.schema) != 1 else ''}"
                f"{time} (parallelism {self._pipeline.parallelism}, state "
                f"{self._pipeline.state})")

    def _explain_text(self) -> str:
        return _explain.explain_text(self._title(), _explain.plan_steps(self._pipeline, [self._node]))

    def explain(self) -> None:
        """Prints the plan that computes this stream: each operator with its parallelism, its
        output columns and, for sources, what they read (a notebook shows it as a graph).

        >>> import millstream as ms
        >>> p = ms.Pipeline(parallelism=2)
        >>> p.from_records([{"k": "a", "x": 1}]).filter(ms.col("x") > 0).explain()
        Stream of 2 columns (parallelism 2, state memory)
          #0 source: from_records
              [up to 2 splits] reads 1 row in memory
              -> k: string, x: int64
          #1 filter: filter((col("x") > lit(0)))
              [fused into its input]
              -> k: string, x: int64
        """
        print(self._explain_text())

    def _repr_html_(self) -> str:
        return _explain.explain_html(self._title(), _explain.plan_steps(self._pipeline, [self._node]))

    @property
    def columns(self) -> list[str]:
        """The column names, in order (``schema`` has their types)."""
        return self.schema.names

    def _then(self, node: dict, inputs=None, time_column="keep", port: int | None = None) -> "Stream":
        node_id = self._pipeline._add(node, inputs if inputs is not None else [self._node])
        schema = self._pipeline._schemas[node_id][0]
        if time_column == "keep":
            time_column = self.time_column if self.time_column in schema.names else None
        return Stream(self._pipeline, node_id, schema, time_column)

    # ----- stateless operators -----------------------------------------------------------------
    def filter(self, predicate: Expr) -> "Stream":
        """Keeps the rows where ``predicate`` is true (null counts as false).

        >>> import millstream as ms
        >>> s = ms.Pipeline(parallelism=1).from_records([{"x": 1}, {"x": None}, {"x": 5}])
        >>> s.filter((ms.col("x") > 0) & (ms.col("x") < 3)).collect().to_pylist()
        [{'x': 1}]
        """
        if not isinstance(predicate, Expr):
            raise TypeError(f"filter() takes an expression such as col('x') > 1, got {predicate!r}")
        return self._then(_plan.filter_node(bind_text_times(predicate.node, self.schema),
                                            f"filter({predicate!r})"))

    def select(self, *columns) -> "Stream":
        """Keeps the given columns or expressions, in that order."""
        exprs = [_to_expr(c) for c in _flatten(columns)]
        return self._project(exprs, f"select({', '.join(map(repr, exprs))})")

    def with_columns(self, *exprs: Expr, **named: Expr) -> "Stream":
        """Adds columns (keyword order); a column of an existing name is replaced in place.

        >>> import millstream as ms
        >>> s = ms.Pipeline(parallelism=1).from_records([{"a": 1, "b": 2}])
        >>> s.with_columns(c=ms.col("a") + ms.col("b"), a=ms.lit(0)).collect().to_pylist()
        [{'a': 0, 'b': 2, 'c': 3}]
        """
        new = [e if isinstance(e, Expr) else _to_expr(e) for e in exprs]
        new_names = self._names_of(new)
        replacements = dict(zip(new_names, new))
        for name, expr in named.items():
            replacements[name] = (expr if isinstance(expr, Expr) else _to_expr(expr)).alias(name)
        out = [replacements.pop(name).alias(name) if name in replacements else col(name)
               for name in self.schema.names]
        out += [expr.alias(name) for name, expr in replacements.items()]
        return self._project(out, f"with_columns({', '.join(list(named) + new_names)})")

    def drop(self, *names: str) -> "Stream":
        """All columns but these."""
        names = _flatten(names)
        for name in names:
            if name not in self.schema.names:
                raise ValueError(f"drop: unknown column '{name}'; columns: {', '.join(self.schema.names)}")
        return self._project([col(n) for n in self.schema.names if n not in names],
                             f"drop({', '.join(names)})")

    def rename(self, mapping: dict) -> "Stream":
        """Renames columns: ``rename({"old": "new"})``."""
        for name in mapping:
            if name not in self.schema.names:
                raise ValueError(f"rename: unknown column '{name}'; columns: {', '.join(self.schema.names)}")
        exprs = [col(n).alias(mapping[n]) if n in mapping else col(n) for n in self.schema.names]
        stream = self._project(exprs, f"rename({mapping})")
        if self.time_column in mapping:
            stream.time_column = mapping[self.time_column]
        return stream

    def union(self, *others: "Stream") -> "Stream":
        """The rows of this stream and the others (same columns and types).

        >>> import millstream as ms
        >>> p = ms.Pipeline(parallelism=1)
        >>> a, b = p.from_records([{"x": 1}]), p.from_records([{"x": 2}])
        >>> sorted(a.union(b).collect().column("x").to_pylist())
        [1, 2]
        """
        for other in others:
            if other._pipeline is not self._pipeline:
                raise ValueError("union: streams must belong to the same Pipeline")
        inputs = [self._node] + [o._node for o in others]
        return self._then(_plan.union_node(), inputs)

    def map_batches(self, fn: Callable, schema=None) -> "Stream":
        """Calls ``fn(pyarrow.RecordBatch) -> RecordBatch | Table | pandas.DataFrame`` once per
        batch (the escape hatch for Python code; it holds the GIL while it runs).
        ``schema``: the output's columns; without it, ``fn`` is called on an empty batch to learn them.

        >>> import millstream as ms
        >>> s = ms.Pipeline(parallelism=1).from_records([{"x": 1}, {"x": 2}])
        >>> s.map_batches(lambda batch: batch.to_pandas().assign(y=lambda df: df.x * 2)
        ...               ).collect().to_pylist()
        [{'x': 1, 'y': 2}, {'x': 2, 'y': 4}]
        """
        arrow_schema = to_arrow_schema(schema)
        if arrow_schema is None:
            empty = pa.RecordBatch.from_pylist([], schema=self.schema)
            arrow_schema = _to_batch(fn(empty), None).schema
        name = getattr(fn, "__name__", "fn")
        label = f"map_batches({name})"
        wrapped = _batch_function(fn, arrow_schema, label)
        handle = len(self._pipeline._functions)
        self._pipeline._functions.append(wrapped)
        node = _plan.map_batches_node(handle, arrow_schema, label)
        node_id = self._pipeline._add(node, [self._node], [arrow_schema])
        return Stream(self._pipeline, node_id, arrow_schema,
                      self.time_column if self.time_column in arrow_schema.names else None)

    def dead_letters(self) -> "Stream":
        """Bad input rows of this source (with ``on_error="dead_letter"``): source, line,
        field, reason, raw."""
        node = self._pipeline._nodes[self._node]
        if node["op"] != "source":
            raise ValueError("dead_letters() is a stream of a source (read_csv/read_jsonl/read_kafka)")
        return self._then(_plan.port_node(1, f"dead_letters({node['label']})"), time_column=None)

    def _project(self, exprs: list[Expr], label: str) -> "Stream":
        return self._then(_plan.project_node([bind_text_times(e.node, self.schema) for e in exprs],
                                             label))

    def _names_of(self, exprs: list[Expr]) -> list[str]:
        if not exprs:
            return []
        node = _plan.project_node([e.node for e in exprs], "with_columns")
        return self._pipeline._resolve(node, -1, [self._node])[0].names

    # ----- event time, keys, windows ---------------------------------------------------------------
    def with_watermark(self, column: str, max_delay="0s", idle_timeout=None) -> "Stream":
        """Event time from ``column`` (a timestamp, or int64 epoch milliseconds) with bounded
        out-of-orderness: the watermark is the largest time seen minus ``max_delay``. Each split
        of a source (a file range, a Kafka partition) has its own; the stream's is their
        minimum, leaving out a split that has had no row for ``idle_timeout`` (None: never).
        Windows and joins need it; rows behind it are late.

        >>> import millstream as ms
        >>> p = ms.Pipeline(parallelism=1)
        >>> s = p.from_records([{"ts": 1_000}, {"ts": 30_000}, {"ts": 2_000}])
        >>> w = s.with_watermark("ts", max_delay="10s").window(ms.tumbling("10s"))
        >>> counts, late = p.collect(w.agg(n=ms.count()), w.late())
        >>> counts.to_pylist(), late.to_pylist()
        ([{'window_start': 0, 'window_end': 10000, 'n': 1}, {'window_start': 30000, 'window_end': 40000, 'n': 1}], [{'ts': 2000}])
        """
        label = f"with_watermark({column}, max_delay={max_delay})"
        self._check_no_given_watermarks("with_watermark")
        if column in self.schema.names and pa.types.is_string(self.schema.field(column).type):
            raise TypeError(
                f"{label}: column '{column}' holds text, not a time; parse it first: "
                f".with_columns({column}=ms.col('{column}').cast(ms.timestamp('us', tz='UTC'))), "
                f"or declare it in the reader's schema as ms.timestamp('us', tz='UTC') (ISO-8601 "
                "text is read as a timestamp; read_csv / read_jsonl infer it when every value "
                "is one)")
        node = _plan.watermark_node(
            column, to_ms(max_delay, "max_delay"),
            None if idle_timeout is None else to_ms(idle_timeout, "idle_timeout"), label)
        return self._then(node, time_column=column)

    def _check_no_given_watermarks(self, caller: str) -> None:
        """A stream of ``ms.testing.events(..., time_column=...)`` has its watermarks given:
        a derived one would replace them silently."""
        nodes = self._pipeline._nodes
        for node_id in self._pipeline._ancestors([self._node]):
            if nodes[node_id]["op"] == "explicit_watermark":
                raise ValueError(
                    f"{caller}: this stream's watermarks are given by ms.testing.events(..., "
                    f"time_column='{nodes[node_id]['time_column']}'), which this would replace; "
                    "test the part of the pipeline after with_watermark on it, or pass the rows "
                    "without watermark markers and without time_column")

    def key_by(self, *columns: str) -> "KeyedStream":
        """Partitions by key: each key's rows are processed in order by one subtask."""
        columns = _flatten(columns)
        for name in columns:
            if name not in self.schema.names:
                raise ValueError(f"key_by: unknown column '{name}'; columns: {', '.join(self.schema.names)}")
        if not columns:
            raise ValueError("key_by needs at least one column")
        return KeyedStream(self, list(columns))

    def window(self, window: Window, allowed_lateness=0) -> "WindowedStream":
        """Windows over the whole stream (one global key)."""
        return KeyedStream(self, []).window(window, allowed_lateness)

    def join(self, other: "Stream", on=None, within=None, how: str = "inner", *,
             left_on=None, right_on=None, suffix: str = "_right") -> "Stream":
        """Interval join: rows of this stream (left) and ``other`` (right) with equal keys and
        ``right.ts - left.ts`` within ``within`` (a duration ``d``: ``[-d, d]``; or a pair
        ``(lower, upper)``), bounds inclusive. The times are each side's ``with_watermark``
        column. ``how``: ``"inner"``, ``"left"``, ``"right"`` or ``"outer"``.

        A pair is emitted as soon as its second row arrives. A row of an outer side that found
        no partner is emitted once, with nulls for the other side, when the watermark passes
        the last time a partner could have (left: ts + upper; right: ts - lower); its state is
        dropped then too. Rows behind the watermark on arrival are late (``rows_late``), join
        nothing and go to ``late("left")`` / ``late("right")`` of the result; null keys never
        match. Columns: the left's, then the right's, a key named in
        ``on`` once (coalesced in outer joins), a clashing right name with ``suffix``. The
        output's watermark is the inputs' minus the larger bound, so windows can follow.

        >>> import millstream as ms
        >>> p = ms.Pipeline(parallelism=1)
        >>> a = p.from_records([{"k": 1, "ts": 0}, {"k": 2, "ts": 0}]).with_watermark("ts")
        >>> b = p.from_records([{"k": 1, "ts": 60_000, "v": "x"}]).with_watermark("ts")
        >>> a.join(b, on="k", within="15m", how="left").collect().to_pylist()
        [{'k': 1, 'ts': 0, 'ts_right': 60000, 'v': 'x'}, {'k': 2, 'ts': 0, 'ts_right': None, 'v': None}]
        """
        if not isinstance(other, Stream) or other._pipeline is not self._pipeline:
            raise ValueError("join: the other stream must be a Stream of the same Pipeline")
        if how not in ("inner", "left", "right", "outer"):
            raise ValueError(f"join: how must be 'inner', 'left', 'right' or 'outer', got {how!r}")
        if on is not None and (left_on is not None or right_on is not None):
            raise ValueError("join: pass either on= or left_on= and right_on=, not both")
        if on is not None:
            left_keys = right_keys = _flatten([on])
        elif left_on is not None and right_on is not None:
            left_keys, right_keys = _flatten([left_on]), _flatten([right_on])
            if len(left_keys) != len(right_keys):
                raise ValueError(f"join: left_on names {len(left_keys)} columns and right_on "
                                 f"{len(right_keys)}; they pair up one to one")
        else:
            raise ValueError("join: name the key with on='k' (or left_on= and right_on=)")
        if not left_keys:
            raise ValueError("join: needs at least one key column")
        for side, stream, keys in (("left", self, left_keys), ("right", other, right_keys)):
            for name in keys:
                if name not in stream.schema.names:
                    raise ValueError(f"join: the {side} stream has no column '{name}'; columns: "
                                     f"{', '.join(stream.schema.names)}")
            if stream.time_column is None:
                raise ValueError(f"join: the {side} stream has no event time; call "
                                 "with_watermark('ts', max_delay=...) on it before the join")
        if within is None:
            raise ValueError("join: within= is required: a duration ('15m') or a pair "
                             "(lower, upper) for right.ts - left.ts")
        if isinstance(within, (tuple, list)):
            if len(within) != 2:
                raise ValueError(f"join: within as a pair is (lower, upper), got {within!r}")
            lower_ms, upper_ms = _signed_ms(within[0]), _signed_ms(within[1])
        else:
            upper_ms = to_ms(within, "within")
            if upper_ms < 0:
                raise ValueError(f"join: within={within!r} is negative; pass a duration, or a "
                                 "pair (lower, upper) for an interval that excludes 0")
            lower_ms = -upper_ms
        if lower_ms > upper_ms:
            raise ValueError(f"join: within=({within[0]!r}, {within[1]!r}) has lower > upper")
        label = (f"join({how}, on={', '.join(left_keys)}" +
                 ("" if on is not None else f" = {', '.join(right_keys)}") +
                 f", within=[{lower_ms} ms, {upper_ms} ms])")
        node = _plan.join_node(left_keys, right_keys, self.time_column, other.time_column,
                               lower_ms, upper_ms, how, suffix, on is not None, label)
        joined = self._then(node, [self._node, other._node])
        return JoinedStream(self._pipeline, joined._node, joined.schema, joined.time_column)

    # ----- sinks -----------------------------------------------------------------------------------
    def collect(self, ordered: bool = False, progress=None) -> pa.Table:
        """Runs the pipeline (bounded input) and returns the rows as a ``pyarrow.Table``
        (with any sinks declared but not yet run); ``ordered=True`` sorts them by window and
        then every column (see :meth:`Pipeline.collect`). ``progress``: see :class:`Pipeline`.

        >>> import millstream as ms
        >>> p = ms.Pipeline(parallelism=2)
        >>> s = p.from_records([{"k": k, "v": 0.1 * k} for k in (3, 1, 2, 1)])
        >>> s.key_by("k").agg(total=ms.sum("v")).collect(ordered=True)["k"].to_pylist()
        [1, 2, 3]
        """
        return self._pipeline.collect(self, ordered=ordered, progress=progress)[0]

    def to_pandas(self, ordered: bool = False, progress=None):
        """``collect(ordered=ordered).to_pandas()`` (a copy into pandas' own layout where they
        differ)."""
        return self.collect(ordered=ordered, progress=progress).to_pandas()

    def to_polars(self, ordered: bool = False, progress=None):
        """``polars.from_arrow(collect(ordered=ordered))``: polars takes the Arrow columns
        without copying.

        >>> import millstream as ms
        >>> ms.Pipeline(parallelism=1).from_records([{"x": 1}]).to_polars().shape
        (1, 1)
        """
        import polars
        return polars.from_arrow(self.collect(ordered=ordered, progress=progress))

    def __arrow_c_stream__(self, requested_schema=None):
        """The Arrow PyCapsule protocol: ``polars.from_arrow(stream)``, ``duckdb.sql("... from
        stream")`` or ``pyarrow.table(stream)`` run the pipeline and take its rows without copies."""
        return self.collect().__arrow_c_stream__(requested_schema)

    def _file_sink(self, kind: str, path) -> None:
        path = os.fspath(path)
        directory = os.path.dirname(os.path.abspath(path))
        if not os.path.isdir(directory):
            raise ValueError(f"write_{kind}: directory {directory} does not exist")
        sink = self._pipeline._add(_plan.file_sink_node(kind, path, f"write_{kind}({path})"),
                                   [self._node], [self.schema])
        self._pipeline._pending_sinks.append(sink)

    def write_csv(self, path) -> None:
        """Declares a CSV file sink (written when the pipeline runs; renamed into place at the end)."""
        self._file_sink("csv", path)

    def write_jsonl(self, path) -> None:
        """Declares a JSONL file sink."""
        self._file_sink("jsonl", path)

    def write_parquet(self, path) -> None:
        """Declares a Parquet file sink."""
        self._file_sink("parquet", path)

    def write_kafka(self, topic: str, brokers: str, format: str = "json", key: str | None = None,
                    config: dict | None = None) -> None:
        """Declares a Kafka sink: a message a row, its value the row as a JSON object, its key
        the text of column ``key``. The producer is idempotent and partitions keys with murmur2
        as Java's client does. A bounded run returns once the brokers acknowledged every
        message; a message that cannot be delivered fails the run. ``config``: librdkafka
        properties (e.g. ``{"compression.type": "lz4", "linger.ms": 20}``).

        >>> import millstream as ms
        >>> from millstream.testing import MockKafka
        >>> with MockKafka() as kafka:
        ...     kafka.create_topic("out", partitions=2)
        ...     p = ms.Pipeline(parallelism=1)
        ...     p.from_records([{"user": "a", "n": 1}]).write_kafka(
        ...         "out", brokers=kafka.bootstrap_servers, key="user")
        ...     _ = p.run()
        ...     [(r.key, r.json()) for r in kafka.consume("out")]
        [(b'a', {'user': 'a', 'n': 1})]
        """
        if key is not None and key not in self.schema.names:
            raise ValueError(f"write_kafka: key column '{key}' is not in the stream; columns: "
                             f"{', '.join(self.schema.names)}")
        options = _core.KafkaSinkOptions(topic, brokers, format, key or "", _kafka_config(config))
        handle = len(self._pipeline._kafka_sinks)
        self._pipeline._kafka_sinks.append(options)
        sink = self._pipeline._add(_plan.kafka_sink_node(handle, f"write_kafka({topic})"),
                                   [self._node], [self.schema])
        self._pipeline._pending_sinks.append(sink)

    def for_each_batch(self, fn: Callable) -> None:
        """Declares a sink that calls ``fn(pyarrow.RecordBatch)`` for every batch (GIL held).

        >>> import millstream as ms
        >>> p = ms.Pipeline(parallelism=1)
        >>> seen = []
        >>> p.from_records([{"x": 1}, {"x": 2}]).for_each_batch(
        ...     lambda batch: seen.extend(batch["x"].to_pylist()))
        >>> _ = p.run(progress=False)
        >>> seen
        [1, 2]
        """
        def call(schema_capsule, array_capsule):
            fn(_batch_of(schema_capsule, array_capsule))
        handle = len(self._pipeline._sink_callbacks)
        self._pipeline._sink_callbacks.append(call)
        label = f"for_each_batch({getattr(fn, '__name__', 'fn')})"
        sink = self._pipeline._add(_plan.callback_sink_node(handle, label), [self._node],
                                   [self.schema])
        self._pipeline._pending_sinks.append(sink)


class JoinedStream(Stream):
    """The output of ``join``: a Stream, plus the late rows of each side."""

    def late(self, side: str) -> Stream:
        """The rows of the ``"left"`` or ``"right"`` input that came behind the watermark
        (they joined nothing; counted in ``rows_late``), with that input's columns."""
        if side not in ("left", "right"):
            raise ValueError(f"late(): side must be 'left' or 'right', got {side!r}")
        port = 1 if side == "left" else 2
        node_id = self._pipeline._add(_plan.port_node(port, f"late({side})"), [self._node])
        return Stream(self._pipeline, node_id, self._pipeline._schemas[node_id][0], None)


class KeyedStream:
    """A stream partitioned by key: ``window(...)`` or a running ``agg(...)``."""

    def __init__(self, stream: Stream, keys: list[str]):
        self._stream = stream
        self.keys = keys

    def window(self, window: Window, allowed_lateness=0) -> "WindowedStream":
        """Windows of each key: ``ms.tumbling``, ``ms.sliding`` or ``ms.session``, in event time
        (the stream needs ``with_watermark``) unless the window says ``time="processing"``.
        ``allowed_lateness`` (a duration): a window's state is kept that much longer after the
        watermark passed its end, and a row that comes in that time updates it (the window is
        emitted again, ``is_update`` true); rows after that go to ``late()``."""
        if not isinstance(window, Window):
            raise TypeError("window() takes ms.tumbling(...), ms.sliding(...) or ms.session(...)")
        return WindowedStream(self._stream, self.keys, window,
                              to_ms(allowed_lateness, "allowed_lateness"))

    def agg(self, emit: str = "changelog", **aggregations: Aggregation) -> Stream:
        """Aggregation over all time. ``emit="changelog"`` (default): after each batch, the new
        values of the keys it changed (a changelog: the last row of a key is its final value;
        how many rows come before depends on the batches). ``emit="final"``: one row per key,
        its values at the end of the (bounded) input, as a SQL GROUP BY gives them.

        >>> import millstream as ms
        >>> s = ms.Pipeline(parallelism=2).from_records([{"k": "a", "x": 1}, {"k": "a", "x": 2}])
        >>> s.key_by("k").agg(emit="final", total=ms.sum("x")).collect().to_pylist()
        [{'k': 'a', 'total': 3}]
        """
        if emit == "final":
            return self._final_agg(aggregations)
        if emit != "changelog":
            raise ValueError(f"agg(emit={emit!r}): emit must be 'changelog' (an update per key "
                             "per batch) or 'final' (one row per key at the end of the input)")
        stream, specs = _aggregate_inputs(self._stream, aggregations)
        node = _plan.running_agg_node(self.keys, specs, f"agg(by {', '.join(self.keys)})")
        return stream._then(node, time_column=None)

    # One window per key that closes only at the end of input: every row gets the same event
    # time (0) and nothing moves the watermark until the final one, so a tumbling window of
    # 2**60 ms from 0 fires once per key, when the input ends, with the values over all rows.
    _FINAL_TIME = "__millstream_final_time"
    _FINAL_WINDOW_MS = 1 << 60

    def _final_agg(self, aggregations: dict) -> Stream:
        for name, aggregation in aggregations.items():
            if isinstance(aggregation, Aggregation) and aggregation.kind in ("first", "last"):
                raise ValueError(f"agg({name}=ms.{aggregation.kind}(...), emit='final'): first "
                                 "and last are not supported with emit='final' yet; use the "
                                 "changelog's last row per key, or a window")
        stream, specs = _aggregate_inputs(self._stream, aggregations)
        label = f"agg(by {', '.join(self.keys)}, emit=final)"
        timed = stream._project([col(n) for n in stream.schema.names] +
                                [lit(0).alias(self._FINAL_TIME)], "end-of-input time")
        timed = timed._then(_plan.watermark_node(self._FINAL_TIME, 0, None, "end-of-input time"),
                            time_column=self._FINAL_TIME)
        window = Window("tumbling", self._FINAL_WINDOW_MS, self._FINAL_WINDOW_MS)
        windowed = timed._then(_plan.window_node(self.keys, self._FINAL_TIME, window.spec(), 0,
                                                 specs, label), time_column=None)
        return windowed._project([col(n) for n in windowed.schema.names
                                  if n not in ("window_start", "window_end")], label)


class WindowedStream:
    """A keyed, windowed stream: ``agg(...)`` gives one row per key and window."""

    def __init__(self, stream: Stream, keys: list[str], window: Window, allowed_lateness_ms: int):
        self._stream = stream
        self.keys = keys
        self.window = window
        self.allowed_lateness_ms = allowed_lateness_ms
        self._node: int | None = None

    def agg(self, **aggregations: Aggregation) -> Stream:
        """Aggregates per key and window; columns: keys, window_start, window_end, aggregates
        (and ``is_update`` when allowed_lateness > 0)."""
        time_column = self._stream.time_column
        if self.window.time == "event" and time_column is None:
            raise ValueError("window(): the stream has no event time; call "
                             "with_watermark('ts', max_delay=...) first, or use a processing-time "
                             "window (ms.tumbling('10s', time='processing'))")
        stream, specs = _aggregate_inputs(self._stream, aggregations)
        node = _plan.window_node(self.keys, time_column, self.window.spec(),
                                 self.allowed_lateness_ms, specs,
                                 f"window({self.window.kind}, by {', '.join(self.keys) or 'all'})")
        stream = stream._then(node, time_column="window_end")
        self._node = stream._node
        return stream

    def late(self) -> Stream:
        """The input rows that came after their window closed (plus allowed lateness)."""
        if self._node is None:
            raise ValueError("late(): call agg(...) on this windowed stream first; late() is the "
                             "side output of that aggregation")
        node_id = self._stream._pipeline._add(_plan.port_node(1, "late"), [self._node])
        schema = self._stream._pipeline._schemas[node_id][0]
        late = Stream(self._stream._pipeline, node_id, schema, None)
        if any(name.startswith(_AGGREGATE_INPUT) for name in schema.names):
            # the input rows as the user's stream has them, without the aggregated expressions
            late = late._project([col(name) for name in self._stream.schema.names], "late rows")
        return late


# Hidden columns that hold the expressions aggregations take (ms.sum(col("p") * col("q"))).
_AGGREGATE_INPUT = "__millstream_agg_"


def _aggregate_inputs(stream: Stream, aggregations: dict) -> tuple[Stream, list[dict]]:
    """The stream the aggregating operator reads and its aggregation specs. An aggregation of an
    expression reads a hidden column that a project adds before the keyed exchange (one per
    aggregation, named after its output), so the engine evaluates the expression per batch; the
    aggregating operator's output has only keys and aggregates, so nothing has to drop them."""
    if not aggregations:
        raise ValueError("agg() needs at least one aggregation, e.g. agg(n=ms.count())")
    for name, aggregation in aggregations.items():
        if not isinstance(aggregation, Aggregation):
            raise TypeError(f"agg({name}=...): expected an aggregation such as ms.sum('x') or "
                            f"ms.sum(col('price') * col('qty')), got {aggregation!r}")
    hidden = {name: _AGGREGATE_INPUT + name for name, aggregation in aggregations.items()
              if aggregation.expr is not None}
    specs = [aggregation.spec(name, hidden.get(name)) for name, aggregation in aggregations.items()]
    if not hidden:
        return stream, specs
    inputs = [aggregations[name].expr.alias(column) for name, column in hidden.items()]
    label = "aggregate inputs: " + ", ".join(
        f"{name} = {aggregations[name].kind}({aggregations[name].expr!r})" for name in hidden)
    return stream._project([col(n) for n in stream.schema.names] + inputs, label), specs


def _caller_stacklevel() -> int:
    """The ``stacklevel`` of ``warnings.warn``, called by this function's caller, that names the
    first frame outside the millstream package (the user's line)."""
    package = os.path.dirname(os.path.abspath(__file__))
    frame, level = sys._getframe(1), 1
    while frame is not None and os.path.abspath(frame.f_code.co_filename).startswith(package):
        frame, level = frame.f_back, level + 1
    return level


def _positive_int(value, name: str, default_hint: str) -> int:
    """`value` as an int of at least 1; anything else (0, 1.5, "2", True) is a ValueError that
    says what to pass, where it used to become all cores, 1 or the default silently."""
    try:
        number = None if isinstance(value, bool) else operator.index(value)
    except TypeError:
        number = None
    if number is None or number < 1:
        raise ValueError(f"Pipeline({name}={value!r}): {name} must be a whole number of at least "
                         f"1 ({default_hint})")
    return number


def _signed_ms(value) -> int:
    """A bound of a join's interval: a duration, negative with a leading '-' ("-15m")."""
    if isinstance(value, str) and value.strip().startswith("-"):
        return -to_ms(value.strip()[1:], "within")
    if isinstance(value, datetime.timedelta):
        return int(value / datetime.timedelta(milliseconds=1))
    return to_ms(value, "within")


def _check_on_error(on_error: str) -> None:
    if on_error not in _ON_ERROR:
        raise ValueError(f"on_error must be one of {_ON_ERROR}, got {on_error!r}")


def _kafka_config(config) -> dict:
    """librdkafka properties as strings (booleans as true/false)."""
    return {str(k): (str(v).lower() if isinstance(v, bool) else str(v))
            for k, v in (config or {}).items()}


def _text_schema_capsule(schema):
    """A text file's schema for the engine: a timestamp declared as the bare ``ms.timestamp``
    (no unit) is marked, so that an integer there is an error naming the fix instead of being
    read as microseconds (1,000x off for epoch milliseconds)."""
    arrow_schema = to_arrow_schema(schema)
    if arrow_schema is None:
        return None
    if isinstance(schema, dict):
        unit_not_given = {name for name, kind in schema.items()
                          if kind is _types.timestamp or kind == "timestamp"}
        arrow_schema = pa.schema([
            field.with_metadata({_UNIT_NOT_GIVEN: "1"}) if field.name in unit_not_given else field
            for field in arrow_schema])
    return arrow_schema.__arrow_c_schema__()


# The field metadata key the engine reads (formats/column_buffers.h, kUnitNotGivenKey).
_UNIT_NOT_GIVEN = "millstream.timestamp_unit_not_given"


def _schema_capsule(schema):
    arrow_schema = to_arrow_schema(schema)
    return None if arrow_schema is None else arrow_schema.__arrow_c_schema__()


def _flatten(items) -> list:
    out = []
    for item in items:
        if isinstance(item, (list, tuple)):
            out.extend(item)
        else:
            out.append(item)
    return out


def _to_batch(result, schema: pa.Schema | None, label: str = "map_batches") -> pa.RecordBatch:
    if isinstance(result, pa.RecordBatch):
        batch = result
    elif isinstance(result, pa.Table):
        batch = result.combine_chunks().to_batches()[0] if result.num_rows else \
            pa.RecordBatch.from_pylist([], schema=result.schema)
    elif hasattr(result, "__dataframe__") or result.__class__.__name__ == "DataFrame":
        batch = pa.RecordBatch.from_pandas(result, preserve_index=False)
    else:
        raise TypeError("map_batches: the function must return a pyarrow.RecordBatch, a "
                        f"pyarrow.Table or a pandas.DataFrame, got {type(result).__name__}")
    if schema is not None and batch.schema != schema and batch.schema.names == schema.names:
        try:
            batch = batch.cast(schema)
        except (pa.ArrowInvalid, pa.ArrowTypeError, pa.ArrowNotImplementedError) as error:
            got = ", ".join(f"{f.name}: {f.type}" for f in batch.schema)
            raise ValueError(f"{label}: the function returned columns ({got}) that do not cast to "
                             f"the declared schema ({error}); return those types, or declare "
                             "the schema the function returns") from error
    return batch


def _batch_function(fn: Callable, schema: pa.Schema, label: str):
    def call(schema_capsule, array_capsule):
        result = fn(_batch_of(schema_capsule, array_capsule))
        if result is None:
            return None
        return _to_batch(result, schema, label).__arrow_c_array__()
    return call
