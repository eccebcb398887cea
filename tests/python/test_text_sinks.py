"""write_jsonl / write_csv round trips: random tables with float, int, string, timestamp and
null values written by millstream and read back by millstream's own readers (schema inferred),
pandas and DuckDB give the same values and the same types (a float column stays float: 35.0 is
written 35.0, not 35). JSON has no NaN or infinity: write_jsonl writes them as null, as pandas'
to_json does; CSV keeps them as nan / inf."""
import math

import duckdb
import numpy as np
import pandas as pd
import pyarrow as pa
import pytest

import millstream as ms

KINDS = ["jsonl", "csv"]
SPECIAL_FLOATS = [35.0, 0.0, -0.0, 1e20, 1e-7, 0.1, 2.5e-300, 1.7976931348623157e308, -3.0, 1e16]


def random_table(rows, seed):
    rng = np.random.default_rng(seed)
    floats = np.where(rng.random(rows) < 0.4, np.round(rng.uniform(-1e6, 1e6, rows)),  # whole
                      rng.standard_normal(rows) * 10.0 ** rng.integers(-30, 30, rows))
    floats[: len(SPECIAL_FLOATS)] = SPECIAL_FLOATS
    times_ms = rng.integers(0, 4_000_000_000_000, rows)
    # no newline inside a string: read_csv does not take quoted fields across lines (README)
    words = np.array(["ann", "", "a,b", 'say "hi"', "çé", "35", "1.5"])

    def with_nulls(values):
        return pa.array(values, mask=rng.random(rows) < 0.15)

    return pa.table({
        "id": pa.array(rng.permutation(rows)),  # out of order; the key rows are compared by
        "price": with_nulls(floats),
        "whole": pa.array(np.round(rng.uniform(-100, 100, rows)), pa.float64()),  # every value whole
        "qty": with_nulls(rng.integers(-10**12, 10**12, rows)),
        "name": with_nulls(rng.choice(words, rows)),
        "at": pa.array(times_ms, pa.timestamp("ms", "UTC"), mask=rng.random(rows) < 0.15),
    })


def write(table, kind, path, parallelism):
    p = ms.Pipeline(parallelism=parallelism)
    getattr(p.from_arrow(table), "write_" + kind)(path)
    p.run()


def comparable(table):
    """Rows in id order with timestamps in microseconds (ISO text is read back as microseconds
    by every reader here, as polars and DuckDB infer it)."""
    frame = table.to_pandas()
    frame["at"] = pd.to_datetime(frame["at"], utc=True).astype("datetime64[us, UTC]")
    return frame.sort_values("id").reset_index(drop=True)


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("parallelism", [1, 2, 4])
def test_round_trip_keeps_values_and_types(tmp_path, kind, parallelism):
    table = random_table(2000, seed=parallelism)
    path = tmp_path / f"out.{kind}"
    write(table, kind, path, parallelism)

    reader = ms.Pipeline(parallelism=1)
    back = getattr(reader, "read_" + kind)(str(path)).collect()
    assert back.schema.field("price").type == pa.float64()
    assert back.schema.field("whole").type == pa.float64()
    assert back.schema.field("qty").type == pa.int64()
    assert back.schema.field("name").type == pa.string()
    assert pa.types.is_timestamp(back.schema.field("at").type)
    pd.testing.assert_frame_equal(comparable(back), comparable(table))

    # DuckDB reads a quoted empty CSV field as null unless told: "" is the empty string here
    scan = f"read_csv('{path}', allow_quoted_nulls=false)" if kind == "csv" else f"'{path}'"
    duckdb_types = {row[0]: row[1] for row in duckdb.sql(f"describe select * from {scan}").fetchall()}
    assert duckdb_types["price"] == "DOUBLE" and duckdb_types["whole"] == "DOUBLE"
    assert duckdb_types["qty"] in ("BIGINT", "HUGEINT")  # an integer either way
    assert duckdb_types["at"].startswith("TIMESTAMP")
    from_duckdb = duckdb.sql(f"select * from {scan}").to_arrow_table()
    pd.testing.assert_frame_equal(comparable(from_duckdb.cast(back.schema)), comparable(table))

    if kind == "jsonl":
        from_pandas = pd.read_json(path, lines=True, engine="pyarrow")  # ujson rejects 2.5e-300
    else:
        from_pandas = pd.read_csv(path, keep_default_na=False, na_values=[""])
    assert from_pandas["price"].dtype == np.float64
    assert from_pandas["whole"].dtype == np.float64
    expected = table.to_pandas()
    np.testing.assert_array_equal(np.sort(from_pandas["whole"]), np.sort(expected["whole"]))
    got_prices = np.sort(from_pandas["price"].dropna().to_numpy())
    np.testing.assert_array_equal(got_prices, np.sort(expected["price"].dropna().to_numpy()))


def test_whole_floats_are_written_as_floats(tmp_path):
    table = pa.table({"t": pa.array([35.0, -2.0, 0.0, 1e20, 0.5], pa.float64()),
                      "f32": pa.array([35.0, -2.0, 0.0, 1e20, 0.5], pa.float32())})
    write(table, "jsonl", tmp_path / "out.jsonl", 1)
    write(table, "csv", tmp_path / "out.csv", 1)
    lines = (tmp_path / "out.jsonl").read_text().splitlines()
    assert lines[0] == '{"t":35.0,"f32":35.0}'
    assert lines[1] == '{"t":-2.0,"f32":-2.0}'
    assert lines[2] == '{"t":0.0,"f32":0.0}'
    assert lines[3] == '{"t":1e+20,"f32":1e+20}'
    assert lines[4] == '{"t":0.5,"f32":0.5}'
    assert (tmp_path / "out.csv").read_text().splitlines()[1] == "35.0,35.0"


def test_nan_and_infinity(tmp_path):
    """JSON Lines: null (JSON has neither; pandas' to_json writes null too). CSV: nan / inf,
    which millstream, pandas and DuckDB read back as the same floats."""
    values = [1.0, math.nan, math.inf, -math.inf, None]
    # an id column too: a one-column CSV row holding a null is an empty line, which readers skip
    table = pa.table({"id": list(range(5)), "x": pa.array(values, pa.float64())})
    write(table, "jsonl", tmp_path / "out.jsonl", 1)
    write(table, "csv", tmp_path / "out.csv", 1)

    lines = (tmp_path / "out.jsonl").read_text().splitlines()
    assert lines == ['{"id":0,"x":1.0}'] + [f'{{"id":{i},"x":null}}' for i in range(1, 5)]
    back = ms.Pipeline(parallelism=1).read_jsonl(str(tmp_path / "out.jsonl")).collect()
    assert back.column("x").to_pylist() == [1.0, None, None, None, None]

    csv_path = str(tmp_path / "out.csv")
    back = ms.Pipeline(parallelism=1).read_csv(csv_path).collect().column("x").to_pylist()
    from_duckdb = duckdb.sql(f"select x from '{csv_path}'").to_arrow_table().column("x").to_pylist()
    from_pandas = pd.read_csv(csv_path)["x"].tolist()
    for got in (back, from_duckdb):
        assert got[0] == 1.0 and math.isnan(got[1]) and got[2:4] == [math.inf, -math.inf]
        assert got[4] is None
    assert from_pandas[0] == 1.0 and math.isnan(from_pandas[1])
    assert from_pandas[2:4] == [math.inf, -math.inf] and math.isnan(from_pandas[4])
