"""Expressions: thin handles on the engine's vectorised expressions.

An expression is a description (a small tree sent to C++ as JSON); the engine resolves its
types when the pipeline is built and evaluates it over whole batches.

>>> from millstream import col, lit
>>> (col("price") * 0.9 + 1).alias("net")
((col("price") * lit(0.9)) + lit(1)).alias("net")
"""
from __future__ import annotations

import datetime
import json
import math

import pyarrow as pa

from . import _times
from ._types import to_arrow_type, type_spec
from ._durations import to_ms

_SYMBOLS = {"add": "+", "sub": "-", "mul": "*", "truediv": "/", "floordiv": "//", "mod": "%",
            "eq": "==", "ne": "!=", "lt": "<", "le": "<=", "gt": ">", "ge": ">=",
            "and": "&", "or": "|"}


class Expr:
    """A column expression. Build with :func:`col`, :func:`lit` and operators: arithmetic
    (``+ - * / // %``, unary ``-``), comparisons (``== != < <= > >=``; a timestamp column
    compares with ISO-8601 text, ``col("ts") > "2026-12-01"``) and logic (``&``, ``|``, ``~``:
    use parentheses, ``(col("a") > 1) & (col("b") < 2)``). Python numbers, strings, bools and
    datetimes on either side become literals. Nulls propagate, as in SQL: a comparison with a
    null is null, which ``filter`` counts as false.

    >>> import millstream as ms
    >>> s = ms.Pipeline(parallelism=1).from_records([{"a": 7, "b": 2}, {"a": 1, "b": None}])
    >>> s.select((ms.col("a") // ms.col("b")).alias("q"), (~(ms.col("a") > 5)).alias("small"),
    ...          ms.col("b").is_null().alias("missing")).collect().to_pylist()
    [{'q': 3, 'small': False, 'missing': False}, {'q': None, 'small': True, 'missing': True}]
    """

    __slots__ = ("node",)

    def __init__(self, node: dict):
        self.node = node

    # arithmetic and comparison
    def _call(self, fn, *args, **options) -> "Expr":
        return Expr({"fn": fn, "args": [self.node] + [_to_node(a) for a in args], **options})

    def _rcall(self, fn, other) -> "Expr":
        return Expr({"fn": fn, "args": [_to_node(other), self.node]})

    def __add__(self, other): return self._call("add", other)
    def __radd__(self, other): return self._rcall("add", other)
    def __sub__(self, other): return self._call("sub", other)
    def __rsub__(self, other): return self._rcall("sub", other)
    def __mul__(self, other): return self._call("mul", other)
    def __rmul__(self, other): return self._rcall("mul", other)
    def __truediv__(self, other): return self._call("truediv", other)
    def __rtruediv__(self, other): return self._rcall("truediv", other)
    def __floordiv__(self, other): return self._call("floordiv", other)
    def __rfloordiv__(self, other): return self._rcall("floordiv", other)
    def __mod__(self, other): return self._call("mod", other)
    def __rmod__(self, other): return self._rcall("mod", other)
    def __neg__(self): return self._call("neg")
    def __eq__(self, other): return self._call("eq", other)  # type: ignore[override]
    def __ne__(self, other): return self._call("ne", other)  # type: ignore[override]
    def __lt__(self, other): return self._call("lt", other)
    def __le__(self, other): return self._call("le", other)
    def __gt__(self, other): return self._call("gt", other)
    def __ge__(self, other): return self._call("ge", other)
    def __and__(self, other): return self._call("and", other)
    def __rand__(self, other): return self._rcall("and", other)
    def __or__(self, other): return self._call("or", other)
    def __ror__(self, other): return self._rcall("or", other)
    def __invert__(self): return self._call("not")

    __hash__ = None  # type: ignore[assignment]

    def __bool__(self):
        raise TypeError(
            f"the truth value of an expression ({self!r}) is ambiguous: it is evaluated per row "
            "by the engine. Combine conditions with & (and), | (or), ~ (not), with parentheses: "
            "(col('a') > 1) & (col('b') < 2)")

    # null handling, types, names
    def is_null(self) -> "Expr":
        """True where the value is null (never null itself)."""
        return self._call("is_null")

    def is_not_null(self) -> "Expr":
        """True where the value is not null (never null itself)."""
        return self._call("is_not_null")

    def fill_null(self, value) -> "Expr":
        """The value, or ``value`` (an expression or a constant) where it is null.

        >>> import millstream as ms
        >>> s = ms.Pipeline(parallelism=1).from_records([{"x": 1.5}, {"x": None}])
        >>> s.select(ms.col("x").fill_null(0.0)).collect().column("x").to_pylist()
        [1.5, 0.0]
        """
        return self._call("fill_null", value)

    def cast(self, to) -> "Expr":
        """Converts to another type: ``col("n").cast(ms.float64)``; text to numbers or (ISO-8601)
        to timestamps.

        >>> import millstream as ms
        >>> s = ms.Pipeline(parallelism=1).from_records([{"n": 7, "s": "12"}])
        >>> s.select(ms.col("n").cast(ms.float64), ms.col("s").cast(ms.int64).alias("parsed"),
        ...          (ms.col("n") / 2).alias("half")).collect().to_pylist()
        [{'n': 7.0, 'parsed': 12, 'half': 3.5}]
        """
        return self._call("cast", type=type_spec(to_arrow_type(to)))

    def alias(self, name: str) -> "Expr":
        """Names the output column."""
        return Expr({"alias": name, "expr": self.node})

    @property
    def str(self) -> "StringFunctions":
        """String functions: ``col("name").str.upper()``."""
        return StringFunctions(self)

    @property
    def dt(self) -> "TimeFunctions":
        """Timestamp functions: ``col("ts").dt.hour()``."""
        return TimeFunctions(self)

    def to_json(self) -> str:
        """The expression as the plan's JSON (the form the engine reads; see ``_plan.py``)."""
        return json.dumps(self.node, separators=(",", ":"))

    def __repr__(self) -> str:
        return _format(self.node)


class StringFunctions:
    """Functions over UTF-8 strings (characters, not bytes)."""

    def __init__(self, expr: Expr):
        self._expr = expr

    def contains(self, pattern: str, literal: bool = True) -> Expr:
        """True where the string contains ``pattern`` (a regex with ``literal=False``).

        >>> import millstream as ms
        >>> s = ms.Pipeline(parallelism=1).from_records([{"s": "hello world"}, {"s": "bye"}])
        >>> s.select(ms.col("s").str.contains("o w"), ms.col("s").str.slice(-3).alias("end"),
        ...          ms.col("s").str.starts_with("he").alias("he")).collect().to_pylist()
        [{'s': True, 'end': 'rld', 'he': True}, {'s': False, 'end': 'bye', 'he': False}]
        """
        return self._expr._call("str.contains", pattern=pattern, literal=literal)

    def starts_with(self, prefix: str) -> Expr:
        """True where the string begins with ``prefix``."""
        return self._expr._call("str.starts_with", pattern=prefix)

    def ends_with(self, suffix: str) -> Expr:
        """True where the string ends with ``suffix``."""
        return self._expr._call("str.ends_with", pattern=suffix)

    def lower(self) -> Expr:
        """The string in lower case (Unicode case mapping).

        >>> import millstream as ms
        >>> s = ms.Pipeline(parallelism=1).from_records([{"name": "Ärger"}])
        >>> s.select(ms.col("name").str.lower(), ms.col("name").str.len().alias("n")).collect().to_pylist()
        [{'name': 'ärger', 'n': 5}]
        """
        return self._expr._call("str.lower")

    def upper(self) -> Expr:
        """The string in upper case (Unicode case mapping)."""
        return self._expr._call("str.upper")

    def len(self) -> Expr:
        """The number of characters (code points, not bytes), as int64."""
        return self._expr._call("str.len")

    def slice(self, start: int, length: int | None = None) -> Expr:
        """Characters from ``start`` (negative: from the end), ``length`` of them (None: all)."""
        return self._expr._call("str.slice", start=start, length=length)


class TimeFunctions:
    """Functions over timestamps (in the column's time zone, else UTC)."""

    def __init__(self, expr: Expr):
        self._expr = expr

    def truncate(self, every) -> Expr:
        """Floors to a multiple of ``every`` since the epoch: ``col("ts").dt.truncate("1h")``.

        >>> import datetime, millstream as ms
        >>> t = datetime.datetime(2026, 12, 3, 17, 45, 9, tzinfo=datetime.timezone.utc)
        >>> s = ms.Pipeline(parallelism=1).from_records([{"ts": t}])
        >>> row = s.select(ms.col("ts").dt.truncate("15m").alias("quarter"),
        ...                ms.col("ts").dt.epoch("s").alias("epoch_s")).collect().to_pylist()[0]
        >>> row["quarter"].isoformat(), row["epoch_s"]
        ('2026-12-03T17:45:00+00:00', 1796319909)
        """
        return self._expr._call("dt.truncate", every_ms=to_ms(every, "dt.truncate"))

    def year(self) -> Expr:
        """The year, as int64.

        >>> import datetime, millstream as ms
        >>> t = datetime.datetime(2026, 12, 3, 17, 45, 9, tzinfo=datetime.timezone.utc)
        >>> s = ms.Pipeline(parallelism=1).from_records([{"ts": t}])
        >>> s.select(ms.col("ts").dt.year().alias("y"),
        ...          ms.col("ts").dt.hour().alias("h")).collect().to_pylist()
        [{'y': 2026, 'h': 17}]
        """
        return self._expr._call("dt.year")

    def month(self) -> Expr:
        """The month, 1 to 12."""
        return self._expr._call("dt.month")

    def day(self) -> Expr:
        """The day of the month, 1 to 31."""
        return self._expr._call("dt.day")

    def hour(self) -> Expr:
        """The hour, 0 to 23."""
        return self._expr._call("dt.hour")

    def minute(self) -> Expr:
        """The minute, 0 to 59."""
        return self._expr._call("dt.minute")

    def second(self) -> Expr:
        """The second, 0 to 59 (fractions dropped)."""
        return self._expr._call("dt.second")

    def epoch(self, unit: str = "ms") -> Expr:
        """The timestamp as an int64 count of ``unit`` since 1970-01-01."""
        return self._expr._call("dt.epoch", unit=unit)


def col(name: str) -> Expr:
    """A column of the input by name.

    >>> col("x") > 3
    (col("x") > lit(3))
    """
    if not isinstance(name, str):
        raise TypeError(f"col() takes a column name, got {name!r}")
    return Expr({"col": name})


def lit(value, type=None) -> Expr:
    """A constant, broadcast to every row; ``type`` (an ms or pyarrow type) when Python's own
    (int64, float64, string, bool, timestamp for a datetime) is not the one wanted.

    >>> import millstream as ms
    >>> s = ms.Pipeline(parallelism=1).from_records([{"x": 1}])
    >>> s.with_columns(source=ms.lit("sensor-7"), w=ms.lit(2, type=ms.float64)).collect().to_pylist()
    [{'x': 1, 'source': 'sensor-7', 'w': 2.0}]
    """
    return Expr(_literal(value, type))


def from_epoch(expr, unit: str = "ms") -> Expr:
    """An int64 count of ``unit`` since the epoch as a timestamp: ``ms.from_epoch(col("t"), "s")``.

    >>> import millstream as ms
    >>> s = ms.Pipeline(parallelism=1).from_records([{"t": 1_700_000_000_000}])
    >>> s.select(ms.from_epoch(ms.col("t")).alias("t")).collect().column("t").to_pylist()
    [datetime.datetime(2023, 11, 14, 22, 13, 20)]
    """
    return _to_expr(expr)._call("from_epoch", unit=unit)


class When:
    """``ms.when(cond).then(a).when(cond2).then(b).otherwise(c)``."""

    def __init__(self, branches, condition):
        self._branches = branches
        self._condition = condition

    def then(self, value) -> "Then":
        """The value where this condition is the first true one."""
        return Then(self._branches + [(_to_node(self._condition), _to_node(value))])


class Then:
    """``when(...).then(...)``: another ``when`` or the final ``otherwise``."""

    def __init__(self, branches):
        self._branches = branches

    def when(self, condition) -> When:
        """A further condition, tried when the earlier ones were not true."""
        return When(self._branches, condition)

    def otherwise(self, value) -> Expr:
        """The value where no condition is true; ends the expression."""
        args = [node for branch in self._branches for node in branch] + [_to_node(value)]
        return Expr({"fn": "when", "args": args})


def when(condition) -> When:
    """Conditional values, evaluated per row; a null condition counts as false.

    >>> when(col("x") > 0).then(lit("pos")).otherwise(lit("neg"))
    when((col("x") > lit(0)), lit("pos"), lit("neg"))
    """
    return When([], condition)


_INT64_MIN, _INT64_MAX = -(1 << 63), (1 << 63) - 1


def _literal(value, type=None) -> dict:
    node = _literal_node(value, type)
    literal = node["lit"]
    # JSON, in which plans travel, has no NaN or infinity; int64 holds what integers compute in.
    if isinstance(literal, float) and not math.isfinite(literal):
        raise ValueError(f"lit({value!r}): NaN and infinite literals are not supported; compute "
                         "them in a column (e.g. with map_batches) or test with is_null()")
    if isinstance(literal, int) and not isinstance(literal, bool) and \
            not _INT64_MIN <= literal <= _INT64_MAX:
        raise ValueError(f"lit({value!r}): integers are int64, which holds -2**63 to 2**63-1; "
                         f"use a float literal (lit({float(value)!r})) for a value this large")
    return node


def _literal_node(value, type=None) -> dict:
    if type is not None:
        arrow_type = to_arrow_type(type)
        return {"lit": _json_value(value, arrow_type), "type": type_spec(arrow_type)}
    if value is None:
        return {"lit": None, "type": "null"}
    if isinstance(value, bool):
        return {"lit": value, "type": "bool"}
    if isinstance(value, int):
        return {"lit": value, "type": "int64"}
    if isinstance(value, float):
        return {"lit": value, "type": "float64"}
    if isinstance(value, str):
        return {"lit": value, "type": "string"}
    if isinstance(value, datetime.datetime):
        arrow_type = pa.timestamp("us", tz=str(value.tzinfo) if value.tzinfo else None)
        return {"lit": _json_value(value, arrow_type), "type": type_spec(arrow_type)}
    raise TypeError(f"cannot use {value!r} ({value.__class__.__name__}) as a literal")


def _json_value(value, arrow_type: pa.DataType):
    if value is None:
        return None
    if pa.types.is_timestamp(arrow_type):
        return pa.scalar(value, type=arrow_type).cast(pa.int64()).as_py()
    return pa.scalar(value, type=arrow_type).as_py()


_COMPARISONS = ("eq", "ne", "lt", "le", "gt", "ge")


def bind_text_times(node: dict, schema: pa.Schema) -> dict:
    """``node`` with ISO-8601 text compared with a timestamp column read as a time of the
    column's type, as pandas and Spark compare them: ``col("ts") > "2026-12-01"`` (a text
    without an offset is UTC, as the readers read it). Other nodes are left as they are.

    >>> schema = pa.schema([("ts", pa.timestamp("ms", tz="UTC"))])
    >>> bind_text_times((col("ts") >= "1970-01-01T00:00:01+01:00").node, schema)["args"][1]
    {'lit': -3599000, 'type': 'timestamp[ms, tz=UTC]'}
    """
    if "alias" in node:
        return {**node, "expr": bind_text_times(node["expr"], schema)}
    if "fn" not in node:
        return node
    args = [bind_text_times(arg, schema) for arg in node["args"]]
    if node["fn"] in _COMPARISONS and len(args) == 2:
        for column, text in ((0, 1), (1, 0)):
            name = args[column].get("col")
            literal = args[text]
            if name in schema.names and pa.types.is_timestamp(schema.field(name).type) and \
                    literal.get("type") == "string" and literal.get("lit") is not None:
                args[text] = _times.time_literal(
                    literal["lit"], schema.field(name).type,
                    f"comparing timestamp column '{name}' with {literal['lit']!r}")
    return {**node, "args": args}


def _to_node(value) -> dict:
    if isinstance(value, Expr):
        return value.node
    return _literal(value)


def _to_expr(value) -> Expr:
    if isinstance(value, Expr):
        return value
    if isinstance(value, str):
        return col(value)
    return lit(value)


def _format(node: dict) -> str:
    if "col" in node:
        return f'col("{node["col"]}")'
    if "lit" in node:
        return f"lit({json.dumps(node['lit'])})"
    if "alias" in node:
        return f'{_format(node["expr"])}.alias("{node["alias"]}")'
    fn, args = node["fn"], [_format(a) for a in node["args"]]
    if fn in _SYMBOLS and len(args) == 2:
        return f"({args[0]} {_SYMBOLS[fn]} {args[1]})"
    options = [f"{k}={v!r}" for k, v in node.items() if k not in ("fn", "args")]
    return f"{fn}({', '.join(args + options)})"
