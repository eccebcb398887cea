"""Aggregations over expressions (ms.sum(col("price") * col("qty")), ms.max(col("a") - col("b")),
ms.count(col("qty") > 3)) in windows and running aggregations, against pandas on random,
out-of-order input with nulls, over parallelism and both state backends. count of an
expression counts its non-null values, as pandas' and polars' count do (a comparison is null
where its input is)."""
import math

import numpy as np
import pandas as pd
import pyarrow as pa
import pytest

import millstream as ms
from millstream import col

BACKENDS = ["memory", "rocksdb"]
SIZE_MS = 10_000


def random_table(rows=3000, seed=0):
    rng = np.random.default_rng(seed)
    ts = 1_700_000_000_000 + np.arange(rows) * 41 + rng.integers(-4000, 4000, rows)  # out of order
    return pa.table({
        "key": pa.array(rng.choice([f"k{i}" for i in range(15)], rows)),
        "price": pa.array(np.round(rng.uniform(0, 100, rows), 2), mask=rng.random(rows) < 0.05),
        "qty": pa.array(rng.integers(-2, 9, rows), mask=rng.random(rows) < 0.1),
        "ts": pa.array(ts),
    })


def aggregations():
    return {"revenue": ms.sum(col("price") * col("qty")),
            "spread": ms.max(col("price") - col("qty")),
            "big": ms.count(col("qty") > 3),
            "low": ms.min(col("qty") * 2 + 1),
            "avg": ms.mean(col("price") / 2),
            "n": ms.count()}


def pandas_reference(table, by):
    frame = table.to_pandas()  # qty with nulls becomes float64 with NaN: pandas skips them
    frame = frame.assign(revenue=frame.price * frame.qty, spread=frame.price - frame.qty,
                         big=(frame.qty > 3).where(frame.qty.notna()), low=frame.qty * 2 + 1,
                         avg=frame.price / 2)
    grouped = frame.groupby(by)
    reference = pd.DataFrame({"revenue": grouped.revenue.sum(min_count=1),
                              "spread": grouped.spread.max(), "big": grouped.big.count(),
                              "low": grouped.low.min(), "avg": grouped.avg.mean(),
                              "n": grouped.size()})
    return {key if isinstance(key, tuple) else (key,): row
            for key, row in reference.to_dict("index").items()}


def assert_matches(got_rows, reference, by):
    got = {tuple(row[name] for name in by): row for row in got_rows}
    assert len(got) == len(got_rows), "a key (or window) emitted twice"
    assert got.keys() == reference.keys()
    for key, expected in reference.items():
        row = got[key]
        for name, value in expected.items():
            if value is None or (isinstance(value, float) and math.isnan(value)):
                assert row[name] is None, (key, name, row[name])
            else:
                assert math.isclose(row[name], value, rel_tol=1e-9, abs_tol=1e-9), \
                    (key, name, row[name], value)


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("window", ["tumbling", "sliding"])
def test_window_aggregates_of_expressions_match_pandas(window, backend, parallelism):
    table = random_table(seed=parallelism)
    p = ms.Pipeline(parallelism=parallelism, state=backend, batch_size=256)
    kind = ms.tumbling(SIZE_MS) if window == "tumbling" else ms.sliding(SIZE_MS, every=SIZE_MS // 2)
    windowed = p.from_arrow(table).with_watermark("ts", max_delay="10s").key_by("key").window(kind)
    out = windowed.agg(**aggregations())
    late = windowed.late()
    got, late_rows = p.collect(out, late)
    assert late_rows.num_rows == 0  # max_delay covers the disorder: every row is in its windows
    assert late_rows.schema.names == table.schema.names  # the hidden inputs are not in late()
    assert [name for name in got.schema.names if name.startswith("__")] == []

    frame = table.to_pandas()
    starts = frame.ts // SIZE_MS * SIZE_MS
    if window == "tumbling":
        copies = [frame.assign(window_start=starts)]
    else:  # every row is in two sliding windows: [start, start+10s) and the one 5 s before
        half = SIZE_MS // 2
        first = frame.ts // half * half
        copies = [frame.assign(window_start=first), frame.assign(window_start=first - half)]
    expanded = pa.Table.from_pandas(pd.concat(copies, ignore_index=True), preserve_index=False)
    reference = pandas_reference(expanded, ["key", "window_start"])
    assert_matches(got.to_pylist(), reference, ["key", "window_start"])
    assert all(row["window_end"] - row["window_start"] == SIZE_MS for row in got.to_pylist())


@pytest.mark.parametrize("backend", BACKENDS)
def test_running_aggregates_of_expressions_match_pandas(backend, parallelism):
    table = random_table(seed=10 + parallelism)
    reference = pandas_reference(table, ["key"])

    p = ms.Pipeline(parallelism=parallelism, state=backend, batch_size=256)
    final = p.from_arrow(table).key_by("key").agg(emit="final", **aggregations()).collect()
    assert_matches(final.to_pylist(), reference, ["key"])

    # the changelog: a key's last row is its value over all its rows. In the order collect()
    # gives without ordered=True: a key's updates come from one subtask, in the order it emitted
    # them (ordered=True sorts by every column, so its last row of a key is its largest update)
    p = ms.Pipeline(parallelism=parallelism, state=backend, batch_size=256)
    changelog = p.from_arrow(table).key_by("key").agg(**aggregations()).collect()
    last = {}
    for row in changelog.to_pylist():
        last[row["key"]] = row
    assert_matches(list(last.values()), reference, ["key"])


def test_output_names_types_and_explain():
    s = ms.Pipeline(parallelism=2).from_records([{"k": "a", "p": 2.0, "q": 3},
                                                 {"k": "a", "p": 1.5, "q": None},
                                                 {"k": "b", "p": 1.0, "q": 5}])
    out = s.key_by("k").agg(emit="final", revenue=ms.sum(col("p") * col("q")),
                            big=ms.count(col("q") > 3), plain=ms.sum(col("q")))
    assert out.schema.names == ["k", "revenue", "big", "plain"]
    assert out.schema.field("revenue").type == pa.float64()
    assert out.schema.field("big").type == pa.int64()
    assert sorted(out.collect().to_pylist(), key=lambda r: r["k"]) == [
        {"k": "a", "revenue": 6.0, "big": 1, "plain": 3},
        {"k": "b", "revenue": 5.0, "big": 1, "plain": 5}]


def test_explain_shows_the_aggregated_expressions(capsys):
    s = ms.Pipeline(parallelism=1).from_records([{"k": "a", "p": 2.0, "q": 3}])
    s.key_by("k").agg(revenue=ms.sum(col("p") * col("q"))).explain()
    shown = capsys.readouterr().out
    assert 'aggregate inputs: revenue = sum(' in shown and 'col("p") * col("q")' in shown


def test_a_bad_argument_names_the_fix():
    with pytest.raises(TypeError, match=r"ms.sum\(...\) takes a column name or an expression"):
        ms.sum(3)
