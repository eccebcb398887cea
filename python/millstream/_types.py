"""millstream's column types: thin names for Arrow types."""
from __future__ import annotations

import pyarrow as pa


class DataType:
    """A column type; ``ms.int64.arrow`` is the Arrow type it maps onto one to one.

    >>> import millstream as ms
    >>> ms.float64.arrow
    DataType(double)
    >>> ms.timestamp("ms", tz="UTC").arrow
    TimestampType(timestamp[ms, tz=UTC])
    """

    def __init__(self, arrow_type: pa.DataType):
        self.arrow = arrow_type

    def __repr__(self) -> str:
        return f"ms.{_name_of(self.arrow)}"

    def __eq__(self, other) -> bool:
        return isinstance(other, DataType) and self.arrow == other.arrow

    def __hash__(self) -> int:
        return hash(str(self.arrow))


class TimestampType(DataType):
    """``ms.timestamp`` is microseconds without time zone; call it for another unit or a zone."""

    def __call__(self, unit: str = "us", tz: str | None = None) -> "TimestampType":
        return TimestampType(pa.timestamp(unit, tz=tz))


def _name_of(arrow_type: pa.DataType) -> str:
    names = {pa.int64(): "int64", pa.float64(): "float64", pa.bool_(): "bool_", pa.string(): "string"}
    return names.get(arrow_type, str(arrow_type))


int64 = DataType(pa.int64())
float64 = DataType(pa.float64())
bool_ = DataType(pa.bool_())
string = DataType(pa.string())
timestamp = TimestampType(pa.timestamp("us"))


def to_arrow_type(value) -> pa.DataType:
    """Accepts ms types, pyarrow types and type names ("int64", "timestamp[ms]")."""
    if isinstance(value, DataType):
        return value.arrow
    if isinstance(value, pa.DataType):
        return value
    if isinstance(value, str):
        aliases = {"int": pa.int64(), "int64": pa.int64(), "float": pa.float64(),
                   "float64": pa.float64(), "bool": pa.bool_(), "str": pa.string(),
                   "string": pa.string(), "timestamp": pa.timestamp("us")}
        if value in aliases:
            return aliases[value]
        if value.startswith("timestamp["):
            inner = value[len("timestamp["):-1].split(",")
            tz = inner[1].strip()[3:] if len(inner) > 1 else None
            return pa.timestamp(inner[0].strip(), tz=tz)
    raise TypeError(f"not a millstream type: {value!r} (use ms.int64, ms.float64, ms.bool_, "
                    "ms.string, ms.timestamp or a pyarrow type)")


def type_spec(arrow_type: pa.DataType) -> str:
    """The spelling the engine reads (Arrow's)."""
    if arrow_type == pa.float64():
        return "float64"
    if arrow_type == pa.string():
        return "string"
    if arrow_type == pa.bool_():
        return "bool"
    return str(arrow_type)


def to_arrow_schema(schema) -> pa.Schema | None:
    """``{name: type}`` in column order, or a ``pyarrow.Schema`` (``nullable=False``: required)."""
    if schema is None:
        return None
    if isinstance(schema, pa.Schema):
        return schema
    if isinstance(schema, dict):
        return pa.schema([pa.field(name, to_arrow_type(kind)) for name, kind in schema.items()])
    raise TypeError("schema must be a dict {name: type} or a pyarrow.Schema, got "
                    f"{type(schema).__name__}")
