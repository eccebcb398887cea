"""``ms.testing.assert_rows_equal``: results compared as a multiset of rows, or per key in
order, with a diff that says which rows are missing, unexpected or out of place."""
from __future__ import annotations

import math
from collections import defaultdict

import pyarrow as pa

_SHOWN = 20  # rows listed per kind of difference


def rows_of(data) -> list[dict]:
    """Rows as dicts of Python values, from a Stream (run), a pyarrow Table / RecordBatch, a
    pandas or polars DataFrame, or a list of dicts."""
    if isinstance(data, list):
        return [dict(row) for row in data]
    if hasattr(data, "collect") and hasattr(data, "schema") and hasattr(data, "_pipeline"):
        data = data.collect()
    if isinstance(data, (pa.Table, pa.RecordBatch)):
        return data.to_pylist()
    module = type(data).__module__
    if module.startswith("pandas"):
        return pa.Table.from_pandas(data, preserve_index=False).to_pylist()
    if module.startswith("polars"):
        return pa.table(data).to_pylist()
    if hasattr(data, "__arrow_c_stream__"):
        return pa.table(data).to_pylist()
    raise TypeError(f"cannot compare rows of a {type(data).__name__}; give a Stream, a pyarrow "
                    "Table, a pandas or polars DataFrame, or a list of dicts")


def assert_rows_equal(actual, expected, by_key=None, rel_tol: float = 1e-9,
                      abs_tol: float = 0.0) -> None:
    """Asserts that ``actual`` and ``expected`` hold the same rows.

    Without ``by_key``, as multisets: the order of rows does not matter (a parallel run emits
    keys in any order), each row must appear as often in both. With ``by_key`` (a column or a
    list of columns), per key in order: for each key, its rows must come in the same order in
    both (what a keyed stream guarantees, e.g. a running aggregation's updates or a key's
    windows); keys may interleave in any way. Floats match within ``rel_tol`` / ``abs_tol``
    (``math.isclose``); NaN matches NaN. Both sides may be a Stream (it is run), a pyarrow
    Table, a pandas or polars DataFrame or a list of dicts. An AssertionError lists the
    missing and unexpected rows (multisets) or each key's first difference.

    >>> assert_rows_equal([{"k": "a", "n": 1}, {"k": "b", "n": 2.0000000001}],
    ...                   [{"k": "b", "n": 2}, {"k": "a", "n": 1}])
    >>> assert_rows_equal([{"k": "a", "n": 1}], [{"k": "a", "n": 2}])
    Traceback (most recent call last):
    AssertionError: rows differ (compared as multisets): 1 expected row missing, 1 unexpected
      missing (expected, not in actual):
        {'k': 'a', 'n': 2}
      unexpected (in actual, not expected):
        {'k': 'a', 'n': 1}
    """
    got, want = rows_of(actual), rows_of(expected)
    _check_columns(got, want)
    if by_key is None:
        _assert_same_multiset(got, want, rel_tol, abs_tol)
    else:
        keys = [by_key] if isinstance(by_key, str) else list(by_key)
        _assert_same_per_key(got, want, keys, rel_tol, abs_tol)


def _check_columns(got: list[dict], want: list[dict]) -> None:
    got_columns = list(got[0]) if got else None
    want_columns = list(want[0]) if want else None
    if got_columns is None or want_columns is None or set(got_columns) == set(want_columns):
        return
    missing = [c for c in want_columns if c not in got_columns]
    unexpected = [c for c in got_columns if c not in want_columns]
    raise AssertionError(f"columns differ: expected {want_columns}, got {got_columns} "
                         f"(missing {missing}, unexpected {unexpected})")


def _values_match(a, b, rel_tol: float, abs_tol: float) -> bool:
    if isinstance(a, float) or isinstance(b, float):
        if isinstance(a, bool) or isinstance(b, bool) or \
                not isinstance(a, (int, float)) or not isinstance(b, (int, float)):
            return False
        if math.isnan(a) or math.isnan(b):
            return math.isnan(a) and math.isnan(b)
        return math.isclose(a, b, rel_tol=rel_tol, abs_tol=abs_tol)
    if isinstance(a, (list, tuple)) and isinstance(b, (list, tuple)):
        return len(a) == len(b) and all(_values_match(x, y, rel_tol, abs_tol) for x, y in zip(a, b))
    if isinstance(a, dict) and isinstance(b, dict):
        return a.keys() == b.keys() and all(_values_match(a[k], b[k], rel_tol, abs_tol) for k in a)
    if isinstance(a, bool) or isinstance(b, bool):  # True == 1 in Python, not in a column
        return type(a) is type(b) and a == b
    return a == b


def _rows_match(a: dict, b: dict, rel_tol: float, abs_tol: float) -> bool:
    return all(_values_match(a[name], b.get(name), rel_tol, abs_tol) for name in a)


def _is_number(value) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _exact_part(row: dict) -> tuple:
    """What must be equal for two rows to match: numbers are compared with a tolerance (an
    expected 2 matches 2.0000000001) and nested values element-wise, so they are left out."""
    return tuple((name, value) for name, value in sorted(row.items())
                 if not _is_number(value) and not isinstance(value, (list, tuple, dict)))


def _number_order(row: dict) -> tuple:
    """Sorts rows by their numbers, so that rows that match pair up in one pass."""
    return tuple((0, 0.0) if math.isnan(value) else (1, float(value))
                 for _, value in sorted(row.items()) if _is_number(value))


def _assert_same_multiset(got: list[dict], want: list[dict], rel_tol: float,
                          abs_tol: float) -> None:
    # Rows group by their exact part; in a group, both sides sorted by their numbers pair up
    # when they match (n log n), and only the rows left over are matched pairwise.
    got_groups: dict[tuple, list[dict]] = defaultdict(list)
    want_groups: dict[tuple, list[dict]] = defaultdict(list)
    for row in got:
        got_groups[_exact_part(row)].append(row)
    for row in want:
        want_groups[_exact_part(row)].append(row)
    missing, candidates = [], {}
    for part, want_rows in want_groups.items():
        got_rows = sorted(got_groups.get(part, []), key=_number_order)
        want_rows = sorted(want_rows, key=_number_order)
        if len(got_rows) == len(want_rows) and all(
                _rows_match(b, a, rel_tol, abs_tol) for a, b in zip(got_rows, want_rows)):
            candidates[part] = []
            continue
        left = list(got_rows)
        for row in want_rows:
            for position, candidate in enumerate(left):
                if _rows_match(row, candidate, rel_tol, abs_tol):
                    del left[position]
                    break
            else:
                missing.append(row)
        candidates[part] = left
    for part, got_rows in got_groups.items():
        candidates.setdefault(part, got_rows)
    unexpected = [row for group in candidates.values() for row in group]
    if not missing and not unexpected:
        return
    lines = [f"rows differ (compared as multisets): {_count(missing, 'expected row')} missing, "
             f"{len(unexpected)} unexpected"]
    if len(got) != len(want):
        lines[0] += f"; actual has {len(got)} rows, expected {len(want)}"
    for title, rows in (("missing (expected, not in actual)", missing),
                        ("unexpected (in actual, not expected)", unexpected)):
        if rows:
            lines.append(f"  {title}:")
            lines += [f"    {row!r}" for row in rows[:_SHOWN]]
            if len(rows) > _SHOWN:
                lines.append(f"    ... and {len(rows) - _SHOWN} more")
    raise AssertionError("\n".join(lines))


def _assert_same_per_key(got: list[dict], want: list[dict], keys: list[str], rel_tol: float,
                         abs_tol: float) -> None:
    for side, rows in (("actual", got), ("expected", want)):
        for name in keys:
            if rows and name not in rows[0]:
                raise AssertionError(f"by_key: column '{name}' is not in the {side} rows; "
                                     f"columns: {list(rows[0])}")
    got_by_key, want_by_key = _group(got, keys), _group(want, keys)
    problems = []
    for key in want_by_key.keys() - got_by_key.keys():
        problems.append(f"  key {key!r}: missing ({_count(want_by_key[key], 'row')} expected)")
    for key in got_by_key.keys() - want_by_key.keys():
        problems.append(f"  key {key!r}: unexpected ({_count(got_by_key[key], 'row')} in actual)")
    for key in want_by_key.keys() & got_by_key.keys():
        got_rows, want_rows = got_by_key[key], want_by_key[key]
        for position, (a, b) in enumerate(zip(got_rows, want_rows)):
            if not _rows_match(b, a, rel_tol, abs_tol):
                problems.append(f"  key {key!r}: row {position} of the key differs:\n"
                                f"    expected {b!r}\n    actual   {a!r}")
                break
        else:
            if len(got_rows) != len(want_rows):
                shorter = min(len(got_rows), len(want_rows))
                extra = (got_rows if len(got_rows) > shorter else want_rows)[shorter]
                problems.append(f"  key {key!r}: {len(got_rows)} rows in actual, "
                                f"{len(want_rows)} expected; the first "
                                f"{'unexpected' if len(got_rows) > shorter else 'missing'} "
                                f"(row {shorter}): {extra!r}")
    if problems:
        problems.sort()
        shown = problems[:_SHOWN] + ([f"  ... and {len(problems) - _SHOWN} more keys"]
                                     if len(problems) > _SHOWN else [])
        raise AssertionError(f"rows differ (compared per key {keys} in order) for "
                             f"{_count(problems, 'key')}:\n" + "\n".join(shown))


def _group(rows: list[dict], keys: list[str]) -> dict[tuple, list[dict]]:
    groups: dict[tuple, list[dict]] = defaultdict(list)
    for row in rows:
        groups[tuple(row[name] for name in keys)].append(row)
    return groups


def _count(items, noun: str) -> str:
    return f"{len(items)} {noun}{'' if len(items) == 1 else 's'}"
