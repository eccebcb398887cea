"""Durations as users write them: "250ms", "10s", "15m", "6h", "1d", compound ("1h30m",
"1m30s"), timedelta, or int ms."""
from __future__ import annotations

import datetime
import re

_UNITS_MS = {"ms": 1, "s": 1000, "m": 60_000, "min": 60_000, "h": 3_600_000, "d": 86_400_000}
_PART = re.compile(r"\s*(\d+(?:\.\d+)?)\s*(ms|min|s|m|h|d)")  # one "<number><unit>"
_PATTERN = re.compile(r"^(?:\s*\d+(?:\.\d+)?\s*(?:ms|min|s|m|h|d))+\s*$")
# The engine's bound on durations (core/time_arithmetic.h kMaxDurationMs): any time plus a few
# durations stays inside int64.
MAX_DURATION_MS = 1 << 61


def to_ms(value, what: str = "duration") -> int:
    """Milliseconds of a duration.

    >>> to_ms("250ms"), to_ms("10s"), to_ms("15m"), to_ms("1d"), to_ms(1500)
    (250, 10000, 900000, 86400000, 1500)
    >>> to_ms("1h30m"), to_ms("1m 30s"), to_ms("1d12h"), to_ms("1.5h")
    (5400000, 90000, 129600000, 5400000)
    """
    if isinstance(value, bool):
        raise TypeError(f"{what}: expected a duration, got {value!r}")
    milliseconds = _read_ms(value)
    if milliseconds is None:
        raise ValueError(f"{what}: cannot read duration {value!r}; write e.g. '250ms', '10s', "
                         "'15m', '6h', '1d', '1h30m', a datetime.timedelta or an int of "
                         "milliseconds")
    if abs(milliseconds) > MAX_DURATION_MS:
        raise ValueError(f"{what}: the duration {value!r} ({milliseconds} ms) is beyond the "
                         f"durations the engine represents (at most 2**61 = {MAX_DURATION_MS} ms, "
                         "~73 million years)")
    return milliseconds


def _read_ms(value) -> int | None:
    if isinstance(value, int):
        return value
    if isinstance(value, datetime.timedelta):
        return int(value / datetime.timedelta(milliseconds=1))
    if isinstance(value, str) and _PATTERN.match(value):
        return int(round(sum(float(number) * _UNITS_MS[unit]
                             for number, unit in _PART.findall(value))))
    return None
