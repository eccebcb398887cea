"""Stateless operators against pandas, over parallelism and batch size."""
import numpy as np
import pandas as pd
import pyarrow as pa
import pytest

import millstream as ms
from millstream import col, lit


def random_frame(rows=5000, seed=1):
    rng = np.random.default_rng(seed)
    frame = pd.DataFrame({
        "id": np.arange(rows, dtype=np.int64),
        "price": rng.uniform(0, 100, rows),
        "qty": rng.integers(0, 20, rows),
        "cat": rng.choice(["a", "bb", "ccc", "dddd"], rows),
    })
    frame.loc[rng.random(rows) < 0.1, "price"] = np.nan  # nulls (pyarrow maps NaN from pandas to null)
    return frame


@pytest.mark.parametrize("batch_size", [1, 100, 4096, 65536])
def test_filter_with_columns_matches_pandas(parallelism, batch_size):
    frame = random_frame(rows=3000 if batch_size == 1 else 20000)
    p = ms.Pipeline(parallelism=parallelism, batch_size=batch_size)
    got = (p.from_pandas(frame)
           .filter((col("price") > 30) & (col("qty") != 3))
           .with_columns(total=col("price") * col("qty"), net=col("price") * 0.9,
                         qty=col("qty") + 1, cat_len=col("cat").str.len())
           .to_pandas())
    ref = frame[(frame.price > 30) & (frame.qty != 3)].copy()
    ref["total"] = ref.price * ref.qty
    ref["net"] = ref.price * 0.9
    ref["qty"] = ref.qty + 1
    ref["cat_len"] = ref.cat.str.len()
    ref = ref.reset_index(drop=True)
    # order within one source is preserved (the sink restores it at any parallelism)
    assert list(got.columns) == ["id", "price", "qty", "cat", "total", "net", "cat_len"]
    pd.testing.assert_frame_equal(got, ref, check_dtype=False)


def test_select_drop_rename(parallelism):
    frame = random_frame(1000)
    p = ms.Pipeline(parallelism=parallelism)
    s = p.from_pandas(frame)
    assert s.select("cat", "id").columns == ["cat", "id"]
    assert s.drop("price").columns == ["id", "qty", "cat"]
    renamed = s.rename({"qty": "quantity"})
    assert renamed.columns == ["id", "price", "quantity", "cat"]
    got = s.select(col("id"), (col("qty") * 2).alias("q2")).to_pandas()
    assert got["q2"].tolist() == (frame.qty * 2).tolist()
    assert renamed.to_pandas()["quantity"].tolist() == frame.qty.tolist()


def test_union_keeps_all_rows(parallelism):
    a = pd.DataFrame({"x": np.arange(100, dtype=np.int64)})
    b = pd.DataFrame({"x": np.arange(100, 250, dtype=np.int64)})
    p = ms.Pipeline(parallelism=parallelism)
    got = p.from_pandas(a).union(p.from_pandas(b)).filter(col("x") % 2 == 0).to_pandas()
    assert sorted(got.x) == [v for v in range(250) if v % 2 == 0]


def test_union_needs_same_schema():
    p = ms.Pipeline(parallelism=1)
    with pytest.raises(TypeError, match="same columns"):
        p.from_records([{"x": 1}]).union(p.from_records([{"y": 1}]))


def test_map_batches_gets_whole_batches(parallelism):
    frame = random_frame(10000)
    calls = []

    def add_rank(batch: pa.RecordBatch) -> pd.DataFrame:
        calls.append(batch.num_rows)
        df = batch.to_pandas()
        df["double_qty"] = df["qty"] * 2
        return df

    p = ms.Pipeline(parallelism=parallelism, batch_size=1000)
    got = p.from_pandas(frame).map_batches(add_rank).to_pandas()
    assert got["double_qty"].tolist() == (frame.qty * 2).tolist()
    assert max(calls) > 1  # batches, not rows


def test_map_batches_exception_surfaces_with_traceback():
    def broken(batch):
        if batch.num_rows:
            raise ZeroDivisionError("boom in user code")
        return batch

    p = ms.Pipeline(parallelism=2)
    s = p.from_pandas(random_frame(100)).map_batches(broken)
    with pytest.raises(ZeroDivisionError, match="boom in user code") as error:
        s.collect()
    assert any(entry.name == "broken" for entry in error.traceback)


def test_map_batches_schema_mismatch_is_an_error():
    p = ms.Pipeline(parallelism=1)
    s = p.from_records([{"x": 1}]).map_batches(lambda b: b, schema={"y": ms.int64})
    with pytest.raises(ValueError, match="declared schema"):
        s.collect()


def test_from_arrow_accepts_streams_and_records():
    table = pa.table({"x": [1, 2, 3]})
    p = ms.Pipeline(parallelism=1)
    assert p.from_arrow(table.to_reader()).collect().equals(table)
    assert p.from_records([{"x": 1}, {"x": None}], schema={"x": ms.int64}).collect().column("x").to_pylist() == [1, None]


def test_results_cross_to_other_engines_without_copies():
    import duckdb
    import polars as pl
    result = ms.Pipeline(parallelism=2).from_records([{"x": i} for i in range(10)]).collect()
    assert pl.from_arrow(result)["x"].sum() == 45
    assert duckdb.sql("select sum(x) as s from result").fetchall()[0][0] == 45
    stream = ms.Pipeline(parallelism=2).from_records([{"x": i} for i in range(10)]).filter(col("x") > 4)
    assert pa.table(stream).num_rows == 5  # a Stream speaks the Arrow PyCapsule protocol itself
    assert pl.DataFrame(stream)["x"].to_list() == [5, 6, 7, 8, 9]


def test_empty_input():
    p = ms.Pipeline(parallelism=4)
    got = p.from_arrow(pa.table({"x": pa.array([], pa.int64())})).filter(col("x") > 1).collect()
    assert got.num_rows == 0 and got.schema.names == ["x"]
