"""Independent references for windowed results: plain Python over rows, no millstream code."""
from collections import defaultdict

import numpy as np


def tumbling_start(ts, size, offset=0):
    return (ts - offset) // size * size + offset


def rows_with_watermark(rows, max_delay):
    """Yields (row, watermark before the row) in input order: one split, as at parallelism 1."""
    max_seen = None
    for row in rows:
        yield row, (None if max_seen is None else max_seen - max_delay)
        max_seen = row["ts"] if max_seen is None else max(max_seen, row["ts"])


def aggregate(values_with_ts, kind):
    values = [v for v, _ in values_with_ts if v is not None]
    if kind == "count_rows":
        return len(values_with_ts)
    if kind == "count":
        return len(values)
    if kind == "count_distinct":
        return len(set(values))
    if not values:  # SQL: an aggregate over no (non-null) value is null; count is 0
        return None
        return None
    if kind == "collect_list":
        return values
    if kind == "sum":
        return sum(values)
    if kind == "min":
        return min(values)
    if kind == "max":
        return max(values)
    if kind == "mean":
        return sum(values) / len(values)
    if kind in ("var", "stddev"):
        if len(values) < 2:
            return None
        var = float(np.var(values, ddof=1))
        return var if kind == "var" else var ** 0.5
    # by event time; among equal times first takes the smallest value, last the largest
    present = [(ts, v) for v, ts in values_with_ts if v is not None]
    if kind == "first":
        return min(present)[1]
    if kind == "last":
        return max(present)[1]
    raise ValueError(kind)


def windows_of(ts, window):
    kind = window["kind"]
    if kind == "tumbling":
        start = tumbling_start(ts, window["size"], window.get("offset", 0))
        return [(start, start + window["size"])]
    if kind == "sliding":
        size, slide = window["size"], window["slide"]
        last_start = tumbling_start(ts, slide)
        return [(s, s + size) for s in range(last_start - size + slide, last_start + 1, slide)
                if s <= ts < s + size]
    raise ValueError(kind)


def window_reference(rows, window, aggs, max_delay=None, allowed_lateness=0):
    """Final value per (key, window) and the late rows, for tumbling / sliding windows.
    aggs: {name: (kind, column)}; with max_delay=None nothing is late."""
    groups = defaultdict(list)
    late = []
    source = rows_with_watermark(rows, max_delay) if max_delay is not None else ((r, None) for r in rows)
    for row, watermark in source:
        wins = windows_of(row["ts"], window)
        open_wins = [w for w in wins if watermark is None or w[1] + allowed_lateness > watermark]
        if not open_wins:
            late.append(row)
        for w in open_wins:
            groups[(row["key"], w)].append(row)
    out = {}
    for (key, (start, end)), members in groups.items():
        out[(key, start, end)] = {
            name: aggregate([(m.get(col) if col else 1, m["ts"]) for m in members],
                            "count_rows" if (kind == "count" and col is None) else kind)
            for name, (kind, col) in aggs.items()}
    return out, late


def session_reference(rows, gap):
    """Sessions per key over all rows (nothing late): {(key, start, end): count}."""
    by_key = defaultdict(list)
    for row in rows:
        by_key[row["key"]].append(row["ts"])
    out = {}
    for key, times in by_key.items():
        times.sort()
        start = prev = times[0]
        count = 1
        for ts in times[1:]:
            if ts <= prev + gap:  # sessions that touch merge (as in Flink)
                count += 1
            else:
                out[(key, start, prev + gap)] = count
                start, count = ts, 1
            prev = max(prev, ts)
        out[(key, start, prev + gap)] = count
    return out
