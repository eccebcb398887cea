"""The testing kit (millstream.testing): events with given watermarks reach the engine as such
(checked against a plain-Python reference on random out-of-order input, over parallelism, state
backend and batch size), its errors name the item, and assert_rows_equal's diffs."""
import datetime
import json
import random

import pandas as pd
import polars as pl
import pytest

import millstream as ms
from millstream import _core
from millstream.testing import assert_rows_equal, events, watermark


def random_items(seed, rows=400):
    """Rows of 5 keys with times mostly advancing, one in 4 up to 8 s behind, and watermark
    markers (non-decreasing, sometimes ahead of every row so far) between them."""
    rng = random.Random(seed)
    items, now, mark = [], 0, None
    for i in range(rows):
        now += rng.randint(0, 400)
        items.append({"k": f"k{rng.randint(0, 4)}", "x": i,
                      "ts": now - (rng.randint(0, 8000) if rng.random() < 0.25 else 0)})
        if rng.random() < 0.1:
            mark = max(mark or 0, now - rng.randint(-2000, 3000))
            items.append(watermark(mark))
    return items


def tumbling_reference(items, size_ms):
    """Windows (count, sum x) of the rows not late, and the late rows: a row is late when its
    window's end is at or before the last watermark placed before it."""
    windows, late, current = {}, [], None
    for item in items:
        if isinstance(item, ms.testing.Watermark):
            current = item.time_ms
            continue
        start = item["ts"] // size_ms * size_ms
        if current is not None and start + size_ms <= current:
            late.append(item)
            continue
        n, total = windows.get((item["k"], start), (0, 0))
        windows[(item["k"], start)] = (n + 1, total + item["x"])
    return ([{"k": k, "window_start": s, "window_end": s + size_ms, "n": n, "total": t}
             for (k, s), (n, t) in windows.items()], late)


@pytest.mark.parametrize("state", ["memory", "rocksdb"])
@pytest.mark.parametrize("batch_size", [1, 7, None])
@pytest.mark.parametrize("seed", [1, 2])
def test_given_watermarks_decide_lateness(parallelism, state, batch_size, seed, tmp_path):
    items = random_items(seed)
    p = ms.Pipeline(parallelism=parallelism, state=state, batch_size=batch_size,
                    state_dir=str(tmp_path / "state") if state == "rocksdb" else None)
    windowed = events(p, items, time_column="ts").key_by("k").window(ms.tumbling("2s"))
    got, late = p.collect(windowed.agg(n=ms.count(), total=ms.sum("x")), windowed.late())
    expected_windows, expected_late = tumbling_reference(items, 2000)
    assert expected_late, "the input should have late rows"
    assert_rows_equal(got, expected_windows)
    assert_rows_equal(late, expected_late)


def test_given_watermarks_match_derived_ones():
    """Markers at the watermark with_watermark derives (largest time so far - max_delay) give
    what with_watermark gives."""
    items = [item for item in random_items(3) if isinstance(item, dict)]
    marked, largest = [], None
    for row in items:
        if largest is not None:
            marked.append(watermark(largest - 1000))
        marked.append(row)
        largest = row["ts"] if largest is None else max(largest, row["ts"])
    results = []
    for given in (True, False):
        p = ms.Pipeline(parallelism=2)
        stream = (events(p, marked, time_column="ts") if given
                  else events(p, items).with_watermark("ts", max_delay="1s"))
        windowed = stream.key_by("k").window(ms.sliding("3s", "1s"))
        results.append(p.collect(windowed.agg(n=ms.count()), windowed.late()))
    assert results[0][1].num_rows > 0
    assert_rows_equal(results[0][0], results[1][0])
    assert_rows_equal(results[0][1], results[1][1])


def test_events_keep_their_order_in_one_split():
    p = ms.Pipeline(parallelism=4, batch_size=2)
    rows = [{"i": i} for i in range(50)]
    assert events(p, rows).collect().to_pylist() == rows


def test_watermarks_on_a_timestamp_column_take_datetimes_and_iso_strings():
    p = ms.Pipeline(parallelism=2)
    t0 = datetime.datetime(2026, 12, 1, 8, 0)
    stream = events(p, [
        {"user": "a", "ts": t0},
        watermark("2026-12-01T08:01:00Z"),
        {"user": "a", "ts": t0 + datetime.timedelta(seconds=30)},   # late
        watermark(datetime.datetime(2026, 12, 1, 8, 1, 30)),
        {"user": "a", "ts": t0 + datetime.timedelta(seconds=75)},
    ], time_column="ts")
    windowed = stream.key_by("user").window(ms.tumbling("1m"))
    got, late = p.collect(windowed.agg(n=ms.count()), windowed.late())
    assert got.column("n").to_pylist() == [1, 1]
    assert late.column("ts").to_pylist() == [t0 + datetime.timedelta(seconds=30)]


def test_a_watermark_before_the_first_row_holds_for_it():
    p = ms.Pipeline(parallelism=1)
    windowed = events(p, [watermark(5_000), {"k": 1, "ts": 1_000}, {"k": 1, "ts": 6_000}],
                      time_column="ts").key_by("k").window(ms.tumbling("1s"))
    got, late = p.collect(windowed.agg(n=ms.count()), windowed.late())
    assert late.to_pylist() == [{"k": 1, "ts": 1_000}]
    assert got.to_pylist() == [{"k": 1, "window_start": 6_000, "window_end": 7_000, "n": 1}]


def test_event_errors_name_the_item():
    p = ms.Pipeline(parallelism=1)
    with pytest.raises(ValueError, match=r"item 3 \(watermark\(10\)\) goes back from 20 \(item 1\)"):
        events(p, [{"ts": 1}, watermark(20), {"ts": 2}, watermark(10)], time_column="ts")
    with pytest.raises(ValueError, match="watermarks were given but no time_column"):
        events(p, [{"ts": 1}, watermark(20)])
    with pytest.raises(TypeError, match="item 1 is tuple"):
        events(p, [{"ts": 1}, (2,)])
    with pytest.raises(ValueError, match="time_column 'time' is not a column; columns: ts"):
        events(p, [{"ts": 1}], time_column="time")
    with pytest.raises(ValueError, match="no rows to infer the columns from"):
        events(p, [watermark(1)], time_column="ts")
    with pytest.raises(ValueError, match=r"watermarks are given by ms.testing.events"):
        events(p, [{"ts": 1}], time_column="ts").filter(ms.col("ts") > 0).with_watermark("ts")
    source = p.from_records([{"ts": 1, "wm": "x"}])
    with pytest.raises(TypeError, match="the watermark column 'wm' must be an int64 column"):
        source._then(ms._plan.explicit_watermark_node("ts", "wm", "given"))


def test_no_rows_with_a_schema_is_an_empty_stream():
    p = ms.Pipeline(parallelism=2)
    stream = events(p, [watermark(10)], time_column="ts", schema={"k": ms.string, "ts": ms.int64})
    assert stream.key_by("k").window(ms.tumbling("1s")).agg(n=ms.count()).collect().num_rows == 0


def test_the_explicit_watermark_node_survives_the_round_trip():
    p = ms.Pipeline(parallelism=1)
    stream = events(p, [{"ts": 1}, watermark(5)], time_column="ts")
    sink = p._add(ms._plan.collect_sink_node(), [stream._node], [stream.schema])
    sent = p._plan_json([sink])
    assert "explicit_watermark" in {node["op"] for node in json.loads(sent)["nodes"]}
    assert json.loads(_core.plan_round_trip(sent)) == json.loads(sent)


# ---- assert_rows_equal ------------------------------------------------------------------------
def test_multisets_ignore_order_and_count_repeats():
    assert_rows_equal([{"a": 1}, {"a": 2}, {"a": 1}], [{"a": 2}, {"a": 1}, {"a": 1}])
    with pytest.raises(AssertionError) as error:
        assert_rows_equal([{"a": 1}, {"a": 2}], [{"a": 2}, {"a": 1}, {"a": 1}])
    assert str(error.value) == ("rows differ (compared as multisets): 1 expected row missing, 0 "
                                "unexpected; actual has 2 rows, expected 3\n"
                                "  missing (expected, not in actual):\n    {'a': 1}")


def test_floats_match_within_the_tolerance_and_nan_matches_nan():
    assert_rows_equal([{"k": "a", "v": 0.1 + 0.2}, {"k": "b", "v": float("nan")}],
                      [{"k": "b", "v": float("nan")}, {"k": "a", "v": 0.3}])
    with pytest.raises(AssertionError, match="1 expected row missing"):
        assert_rows_equal([{"v": 1.0}], [{"v": 1.001}])
    assert_rows_equal([{"v": 1.0}], [{"v": 1.001}], rel_tol=1e-2)
    assert_rows_equal([{"v": [1.0, 2.0]}], [{"v": [1.0, 2.0 + 1e-12]}])
    with pytest.raises(AssertionError):
        assert_rows_equal([{"v": True}], [{"v": 1}])  # a bool column is not an int column


def test_many_rows_that_differ_only_in_numbers_compare_fast():
    rng = random.Random(5)
    rows = [{"k": "same", "v": rng.random(), "n": i} for i in range(20_000)]
    shuffled = rows[:]
    rng.shuffle(shuffled)
    assert_rows_equal(rows, shuffled)


def test_per_key_order_reports_each_keys_first_difference():
    expected = [{"k": "a", "v": 1}, {"k": "b", "v": 1}, {"k": "a", "v": 2}, {"k": "c", "v": 0}]
    assert_rows_equal([{"k": "b", "v": 1}, {"k": "a", "v": 1}, {"k": "a", "v": 2},
                       {"k": "c", "v": 0}], expected, by_key="k")
    with pytest.raises(AssertionError) as error:
        assert_rows_equal([{"k": "a", "v": 2}, {"k": "a", "v": 1}, {"k": "b", "v": 1},
                           {"k": "b", "v": 5}, {"k": "d", "v": 0}], expected, by_key=["k"])
    message = str(error.value)
    assert message.startswith("rows differ (compared per key ['k'] in order) for 4 keys:")
    assert "key ('a',): row 0 of the key differs:\n    expected {'k': 'a', 'v': 1}\n" \
           "    actual   {'k': 'a', 'v': 2}" in message
    assert "key ('b',): 2 rows in actual, 1 expected; the first unexpected (row 1): " \
           "{'k': 'b', 'v': 5}" in message
    assert "key ('c',): missing (1 row expected)" in message
    assert "key ('d',): unexpected (1 row in actual)" in message


def test_columns_must_match():
    with pytest.raises(AssertionError, match=r"columns differ: expected \['a', 'b'\], got \['a'\] "
                                             r"\(missing \['b'\], unexpected \[\]\)"):
        assert_rows_equal([{"a": 1}], [{"a": 1, "b": 2}])


def test_rows_come_from_streams_tables_and_data_frames():
    p = ms.Pipeline(parallelism=2)
    stream = p.from_records([{"a": 1, "b": "x"}, {"a": 2, "b": "y"}])
    table = stream.collect()
    for expected in (table, table.to_pandas(), pl.from_arrow(table),
                     [{"a": 2, "b": "y"}, {"a": 1, "b": "x"}], pd.DataFrame({"a": [2, 1], "b": ["y", "x"]})):
        assert_rows_equal(stream.filter(ms.col("a") > 0), expected)
    with pytest.raises(TypeError, match="cannot compare rows of a int"):
        assert_rows_equal(5, [])
