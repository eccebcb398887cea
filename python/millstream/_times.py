"""Points in time as users write them, as epoch milliseconds (UTC)."""
from __future__ import annotations

import datetime

import pyarrow as pa


def to_epoch_ms(value, what: str = "time") -> int:
    """Epoch milliseconds of ``value``: an int (already epoch ms), a ``datetime`` (naive: UTC, as
    Arrow reads naive timestamps), a pandas/numpy timestamp or an ISO-8601 string (``Z`` or an
    offset: converted to UTC).

    >>> to_epoch_ms(1500), to_epoch_ms("1970-01-01T00:00:02Z"), to_epoch_ms("1970-01-01 01:00:00+01:00")
    (1500, 2000, 0)
    >>> import datetime
    >>> to_epoch_ms(datetime.datetime(1970, 1, 1, 0, 0, 3))
    3000
    """
    if isinstance(value, bool):
        raise TypeError(f"{what}: expected a time, got {value!r}")
    if isinstance(value, int):
        return value
    if isinstance(value, str):
        value = parse_iso(value, what)
    if type(value).__name__ == "datetime64":  # numpy's; its unit is in its dtype
        return int(value.astype("datetime64[ms]").astype("int64"))
    try:
        scalar = pa.scalar(value, type=pa.timestamp("ms", tz="UTC") if _is_aware(value)
                           else pa.timestamp("ms"))
    except (pa.ArrowInvalid, pa.ArrowTypeError, pa.ArrowNotImplementedError, TypeError):
        raise TypeError(f"{what}: expected a time (epoch ms int, datetime, ISO-8601 string), got "
                        f"{value!r} ({type(value).__name__})") from None
    return scalar.cast(pa.int64()).as_py()


def parse_iso(text: str, what: str = "time") -> datetime.datetime:
    """An ISO-8601 date or date and time (``Z`` or an offset: an aware datetime).

    >>> parse_iso("2026-12-01"), parse_iso("2026-12-01T08:30:00Z").tzinfo
    (datetime.datetime(2026, 12, 1, 0, 0), datetime.timezone.utc)
    """
    stripped = text.strip()
    try:
        return datetime.datetime.fromisoformat(stripped[:-1] + "+00:00" if stripped.endswith("Z")
                                               else stripped)
    except ValueError:
        raise ValueError(f"{what}: cannot read {text!r} as a time; write an ISO-8601 time such "
                         "as '2026-12-01T08:30:00Z', a datetime or epoch milliseconds") from None


def time_literal(text: str, arrow_type: pa.DataType, what: str) -> dict:
    """An expression literal of the timestamp type ``arrow_type`` from ISO-8601 text: a text
    without an offset is UTC, as the readers read it (formats/iso_timestamp.h)."""
    moment = parse_iso(text, what)
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=datetime.timezone.utc)
    value = pa.scalar(moment, type=pa.timestamp(arrow_type.unit, tz="UTC")).cast(pa.int64()).as_py()
    return {"lit": value, "type": str(arrow_type)}


def _is_aware(value) -> bool:
    return isinstance(value, datetime.datetime) and value.tzinfo is not None
