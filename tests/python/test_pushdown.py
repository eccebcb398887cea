"""Projection pushdown (python/millstream/_pushdown.py, Source::WithColumns): file sources read
only the columns the plan uses, and results never change: each query over random files (CSV,
JSONL, Parquet of several row groups, with nulls, out of order) is compared with the same
pipeline with pushdown off (MILLSTREAM_PUSHDOWN=0) and with DuckDB."""
import datetime
import json

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

import millstream as ms
from millstream import _pushdown, col

duckdb = pytest.importorskip("duckdb")

ROWS = 5000
SCHEMA = {"auction": ms.int64, "bidder": ms.int64, "price": ms.float64, "channel": ms.string,
          "date_time": ms.int64, "extra": ms.string}


def random_bids(seed=7) -> pd.DataFrame:
    """Bids with a few hot auctions, nulls in price and channel, date_time out of order."""
    rng = np.random.default_rng(seed)
    date_time = 1_000_000 + np.arange(ROWS) * 20 + rng.integers(0, 2000, ROWS)
    price = rng.uniform(1, 1000, ROWS).round(2)
    frame = pd.DataFrame({
        "auction": rng.choice([1, 2, 3, 1000, 1001], ROWS) + rng.integers(0, 2, ROWS) * 7,
        "bidder": rng.integers(0, 10_000, ROWS),
        "price": pd.array(np.where(rng.random(ROWS) < 0.05, np.nan, price), dtype="Float64"),
        "channel": pd.array(np.where(rng.random(ROWS) < 0.05, None,
                                     rng.choice(["web", "app", "b,q"], ROWS)), dtype="string"),
        "date_time": date_time,
        "extra": rng.choice(["x" * 30, "y" * 12], ROWS),
    })
    return frame


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    directory = tmp_path_factory.mktemp("pushdown")
    frame = random_bids()
    paths = {"csv": directory / "bids.csv", "jsonl": directory / "bids.jsonl",
             "parquet": directory / "bids.parquet"}
    frame.to_csv(paths["csv"], index=False)
    frame.to_json(paths["jsonl"], orient="records", lines=True)
    pq.write_table(pa.Table.from_pandas(frame, preserve_index=False), paths["parquet"],
                   row_group_size=700)  # 8 row groups
    return frame, paths


def read(p: ms.Pipeline, kind: str, path):
    if kind == "csv":
        return p.read_csv(str(path), schema=SCHEMA)
    if kind == "jsonl":
        return p.read_jsonl(str(path), schema=SCHEMA)
    return p.read_parquet(str(path))


# Each query: (millstream pipeline on a source stream, the same in DuckDB's SQL over `bids`).
QUERIES = {
    "filter_two_columns": (
        lambda s: s.filter(col("auction") % 7 == 1).select("auction", "price"),
        "SELECT auction, price FROM bids WHERE auction % 7 = 1"),
    "map_four_columns": (
        lambda s: s.with_columns(price=col("price") * 0.908).select(
            "auction", "bidder", "price", "date_time"),
        "SELECT auction, bidder, price * 0.908 AS price, date_time FROM bids"),
    "with_columns_then_drop": (
        lambda s: s.filter(col("channel").is_null() | (col("bidder") > 5000))
        .with_columns(cents=col("price") * 100).drop("extra", "channel"),
        "SELECT auction, bidder, price, date_time, price * 100 AS cents "
        "FROM bids WHERE channel IS NULL OR bidder > 5000"),
    "tumbling_window": (
        lambda s: s.with_watermark("date_time", max_delay="2s").key_by("auction")
        .window(ms.tumbling("10s")).agg(n=ms.count(), top=ms.max("price")),
        "SELECT auction, date_time // 10000 * 10000 AS window_start, "
        "date_time // 10000 * 10000 + 10000 AS window_end, count(*) AS n, max(price) AS top "
        "FROM bids GROUP BY ALL"),
    "running_count": (
        lambda s: s.key_by("channel").agg(emit="final", n=ms.count()),
        "SELECT channel, count(*) AS n FROM bids GROUP BY channel"),
}


def canonical(table) -> list:
    """The rows of an Arrow table or stream, floats rounded (NaN and null kept apart), sorted."""
    if isinstance(table, pa.RecordBatchReader):
        table = table.read_all()
    def value_of(value):
        if isinstance(value, float):
            return round(value, 6) if value == value else "NaN"  # NaN != NaN
        return value
    rows = [{name: value_of(value) for name, value in row.items()} for row in table.to_pylist()]
    return sorted(rows, key=lambda row: repr(list(row.items())))


@pytest.mark.parametrize("kind", ["csv", "jsonl", "parquet"])
@pytest.mark.parametrize("query", list(QUERIES))
def test_pushdown_changes_no_result(files, kind, query, parallelism, monkeypatch):
    frame, paths = files
    build, sql = QUERIES[query]
    results = {}
    for setting in ("1", "0"):
        monkeypatch.setenv("MILLSTREAM_PUSHDOWN", setting)
        p = ms.Pipeline(parallelism=parallelism, batch_size=512)
        results[setting] = canonical(build(read(p, kind, paths[kind])).collect())
    bids = frame  # noqa: F841 (read by DuckDB's replacement scan)
    expected = canonical(duckdb.sql(sql).arrow())
    assert results["1"] == results["0"]
    assert results["1"] == expected


def test_the_plan_says_what_each_source_reads(files):
    _, paths = files
    p = ms.Pipeline(parallelism=2)
    s = read(p, "parquet", paths["parquet"]).filter(col("auction") % 7 == 1).select("auction", "price")
    assert "only auction, price of 6 columns" in s._explain_text()
    sink = p._add(ms._plan.collect_sink_node(), [s._node], [s.schema])
    sources = [n for n in json.loads(p._plan_json([sink]))["nodes"] if n["op"] == "source"]
    assert sources[0]["columns"] == ["auction", "price"]
    # a whole stream collected reads every column
    assert "only" not in read(p, "parquet", paths["parquet"])._explain_text()


def test_the_module_examples_run():
    import doctest
    assert doctest.testmod(_pushdown).failed == 0


def test_projections_keep_only_the_expressions_someone_reads():
    names = {0: ["a", "b"], 1: ["a", "b", "c"], 2: ["c"], 3: ["c"]}
    nodes = [{"id": 0, "op": "source", "inputs": [], "label": "s", "handle": 0},
             {"id": 1, "op": "project", "inputs": [0], "label": "p",
              "expressions": [{"col": "a"}, {"col": "b"},
                              {"alias": "c", "expr": {"fn": "add", "args": [{"col": "a"},
                                                                           {"lit": 1}]}}]},
             {"id": 2, "op": "project", "inputs": [1], "label": "q", "expressions": [{"col": "c"}]},
             {"id": 3, "op": "sink", "inputs": [2], "label": "collect", "sink": "collect"}]
    rewritten = _pushdown.rewrite(nodes, names, {0})
    assert rewritten[0]["columns"] == ["a"]
    assert rewritten[1]["expressions"] == [nodes[1]["expressions"][2]]
    assert "columns" not in nodes[0] and len(nodes[1]["expressions"]) == 3  # inputs unchanged


@pytest.mark.parametrize("on_error", ["skip", "dead_letter"])
def test_sources_that_judge_rows_on_every_field_read_every_column(files, on_error):
    _, paths = files
    p = ms.Pipeline(parallelism=1)
    s = p.read_csv(str(paths["csv"]), schema=SCHEMA, on_error=on_error).select("auction")
    assert "only" not in s._explain_text()


def test_parquet_reads_fewer_bytes_with_pushdown(files, monkeypatch):
    _, paths = files
    read_bytes = {}
    for setting in ("1", "0"):
        monkeypatch.setenv("MILLSTREAM_PUSHDOWN", setting)
        p = ms.Pipeline(parallelism=2)
        read(p, "parquet", paths["parquet"]).select("auction").for_each_batch(lambda batch: None)
        read_bytes[setting] = p.run().operator("read_parquet")["bytes_read"]
    metadata = pq.ParquetFile(paths["parquet"]).metadata
    auction_bytes = sum(metadata.row_group(g).column(0).total_compressed_size
                        for g in range(metadata.num_row_groups))
    assert read_bytes["1"] == auction_bytes
    assert read_bytes["0"] > 3 * auction_bytes


# ----- predicate pushdown into Parquet ------------------------------------------------------

GROUP_ROWS = 500


@pytest.fixture(scope="module")
def filter_file(tmp_path_factory):
    """12 row groups: t rises with disorder (groups cover ~500 ms each), ts the same as a
    timestamp[us], k all null in the third group, x with NaN and nulls, s strings with nulls."""
    rng = np.random.default_rng(11)
    rows = 12 * GROUP_ROWS
    t = np.arange(rows) + rng.integers(-40, 40, rows)
    k = rng.integers(0, 20, rows).astype(object)
    k[2 * GROUP_ROWS:3 * GROUP_ROWS] = None
    x = rng.random(rows)
    x[rng.random(rows) < 0.05] = np.nan
    x_list = [None if i % 97 == 0 else float(v) for i, v in enumerate(x)]
    s = [None if i % 89 == 0 else "abcdefghij"[i * 10 // rows] + str(i % 7) for i in range(rows)]
    table = pa.table({"t": pa.array(t, pa.int64()),
                      "ts": pa.array(t * 1000, pa.timestamp("us")),
                      "k": pa.array(list(k), pa.int64()),
                      "x": pa.array(x_list, pa.float64()),
                      "s": pa.array(s, pa.string())})
    path = tmp_path_factory.mktemp("filters") / "rows.parquet"
    pq.write_table(table, path, row_group_size=GROUP_ROWS)
    return table, path


# (millstream predicate, the same in DuckDB with IEEE NaN comparisons, row groups it can skip)
FILTERS = {
    "nothing": (col("t") < -1000, "t < -1000", 12),
    "everything": (col("t") >= -1000, "t >= -1000", 0),
    "a_few_groups": ((col("t") >= 2600) & (col("t") < 3300), "t >= 2600 AND t < 3300", 10),
    "timestamps": (col("ts") >= datetime.datetime(1970, 1, 1, 0, 0, 5),
                   "epoch_us(ts) >= 5000000", 9),
    "either_end": ((col("t") < 300) | (col("t") > 5800), "t < 300 OR t > 5800", 10),
    "is_null": (col("k").is_null(), "k IS NULL", 11),
    "null_group_compare": (col("k") == 3, "k = 3", 1),
    "float_with_nan": (col("x") > 0.5, "x > 0.5 AND NOT isnan(x)", 0),
    "float_not_equal": (col("x") != 0.25, "x != 0.25 OR isnan(x)", 0),
    "strings": ((col("s") == "c3") | (col("s") > "i"), "s = 'c3' OR s > 'i'", 7),
    "literal_left": (ms.lit(3300) > col("t"), "t < 3300", 5),
}


@pytest.mark.parametrize("name", list(FILTERS))
def test_filters_skip_row_groups_and_change_no_result(filter_file, name, parallelism, monkeypatch):
    table, path = filter_file
    predicate, sql, skippable_groups = FILTERS[name]
    results, metrics = {}, {}
    for setting in ("1", "0"):
        monkeypatch.setenv("MILLSTREAM_PUSHDOWN", setting)
        p = ms.Pipeline(parallelism=parallelism, batch_size=200)
        tables = []
        p.read_parquet(str(path)).filter(predicate).select("t", "k", "x", "s").for_each_batch(
            lambda batch: tables.append(batch))
        metrics[setting] = p.run().operator("read_parquet")
        results[setting] = canonical(pa.Table.from_batches(tables, schema=pa.schema(
            [table.schema.field(n) for n in ("t", "k", "x", "s")])))
    rows = table  # noqa: F841 (read by DuckDB's replacement scan)
    expected = canonical(duckdb.sql(f"SELECT t, k, x, s FROM rows WHERE {sql}").arrow())
    assert results["1"] == results["0"]
    assert results["1"] == expected
    assert metrics["1"]["row_groups_pruned"] == skippable_groups
    assert metrics["1"]["rows_pruned"] == skippable_groups * GROUP_ROWS
    assert metrics["0"]["row_groups_pruned"] == 0 and metrics["0"]["rows_pruned"] == 0
    # what was read and what was skipped make up the file's column chunks
    metadata = pq.ParquetFile(path).metadata
    file_bytes = sum(metadata.row_group(g).column(c).total_compressed_size
                     for g in range(12) for c in range(metadata.num_columns))
    assert metrics["1"]["bytes_read"] + metrics["1"]["bytes_pruned"] == file_bytes
    assert metrics["0"]["bytes_read"] == file_bytes and metrics["0"]["bytes_pruned"] == 0


def test_a_source_read_by_more_than_its_filter_keeps_every_row_group(filter_file):
    _, path = filter_file
    p = ms.Pipeline(parallelism=2)
    s = p.read_parquet(str(path))
    everything, some = p.collect(s, s.filter(col("t") < -1000))
    assert everything.num_rows == 12 * GROUP_ROWS and some.num_rows == 0
    s2 = ms.Pipeline(parallelism=1).read_parquet(str(path))
    assert "skips the row groups" in s2.filter(col("t") < 0)._explain_text()
    assert "skips the row groups" not in s2._explain_text()
