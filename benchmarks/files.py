"""Queries over files as a new user runs them: millstream against DuckDB and polars (pandas
optional) on the same Nexmark-shaped bids, as CSV, JSONL and Parquet (row groups of 1 M rows).

Bids: auction (int64, a few hot values), bidder (int64), price (int64), channel (string),
date_time (int64 epoch ms, 10 ms apart with up to 2 s of disorder). Queries:
  q1   price * 0.908, four columns out, collected
  q2   auction % 123 == 0, two columns out
  q2r  one hour of date_time (Parquet statistics can rule row groups out), two columns out
  qw   10 s tumbling count + max(price) per auction (millstream: with_watermark max_delay 2 s)
Cases are <query>_<format>. Each measurement is a fresh process: "1st run s" is the first run in
it (what a script run once sees), "seconds" the best of the warm runs after it (harness.py).
Every result is checked against DuckDB's (row count and exact sums).

    .venv/bin/python benchmarks/files.py --parallelism 1,2            # 2 M rows
    .venv/bin/python benchmarks/files.py --rows 20000000 --cases q2_parquet,qw_parquet
"""
from __future__ import annotations

import os

import harness
from harness import exact_sum, float_sum

QUERIES = ("q1", "q2", "q2r", "qw")
FORMATS = ("csv", "jsonl", "parquet")
CASES = tuple(f"{query}_{fmt}" for query in QUERIES for fmt in FORMATS)
ENGINES = ("millstream", "duckdb", "polars", "pandas")
SINGLE_THREADED = {"pandas"}
REFERENCE_ENGINES = ("duckdb", "polars", "millstream", "pandas")
START_MS = 1_700_000_000_000
STEP_MS = 10
HOUR_FROM_MS, HOUR_TO_MS = START_MS + 3_600_000, START_MS + 7_200_000
DUCKDB_COLUMNS = ("{'auction': 'BIGINT', 'bidder': 'BIGINT', 'price': 'BIGINT', "
                  "'channel': 'VARCHAR', 'date_time': 'BIGINT'}")
SQL = {
    "q1": "SELECT auction, bidder, price * 0.908 AS price, date_time FROM {src}",
    "q2": "SELECT auction, price FROM {src} WHERE auction % 123 = 0",
    "q2r": f"SELECT auction, price FROM {{src}} WHERE date_time >= {HOUR_FROM_MS} "
           f"AND date_time < {HOUR_TO_MS}",
    "qw": "SELECT auction, date_time // 10000 * 10000 AS window_start, "
          "date_time // 10000 * 10000 + 10000 AS window_end, count(*) AS bids, "
          "max(price) AS top FROM {src} GROUP BY ALL",
}


# ---------------------------------------------------------------------------------------------
# data


def ensure_files(rows: int) -> dict:
    """The bids as CSV, JSONL and Parquet under benchmarks/data (made once per row count)."""
    import numpy as np
    import pyarrow as pa
    import pyarrow.csv as pa_csv
    import pyarrow.parquet as pq

    os.makedirs(harness.DATA_DIR, exist_ok=True)
    paths = {fmt: os.path.join(harness.DATA_DIR, f"files_bids_{rows}.{fmt}") for fmt in FORMATS}
    if all(os.path.exists(path) for path in paths.values()):
        return paths
    rng = np.random.default_rng(42)
    hot = rng.random(rows) < 0.5
    auction = np.where(hot, rng.choice([1000, 1001, 1002, 1007, 1230], rows),
                       rng.integers(1000, 200_000, rows))
    table = pa.table({
        "auction": pa.array(auction, pa.int64()),
        "bidder": pa.array(rng.integers(1, 1_000_000, rows), pa.int64()),
        "price": pa.array(rng.integers(1, 100_000, rows), pa.int64()),
        "channel": pa.array(rng.choice(["web", "app", "partner-a", "partner-b"], rows)),
        "date_time": pa.array(START_MS + np.arange(rows) * STEP_MS + rng.integers(0, 2000, rows),
                              pa.int64()),
    })
    pq.write_table(table, paths["parquet"] + ".tmp", row_group_size=1_000_000)
    pa_csv.write_csv(table, paths["csv"] + ".tmp",
                     pa_csv.WriteOptions(quoting_style="none"))
    with open(paths["jsonl"] + ".tmp", "w") as out:
        for batch in table.to_batches(max_chunksize=200_000):
            columns = batch.to_pydict()
            out.writelines(
                f'{{"auction": {a}, "bidder": {b}, "price": {p}, "channel": "{c}", '
                f'"date_time": {d}}}\n'
                for a, b, p, c, d in zip(columns["auction"], columns["bidder"], columns["price"],
                                         columns["channel"], columns["date_time"]))
    for path in paths.values():
        os.replace(path + ".tmp", path)
    return paths


# ---------------------------------------------------------------------------------------------
# the child: one engine, one case, one parallelism


def run_one(spec: dict) -> dict:
    engine, parallelism = spec["engine"], int(spec["parallelism"])
    query, fmt = spec["case"].split("_")
    ms = harness.import_millstream() if engine == "millstream" else None
    harness.limit_arrow_threads(parallelism)
    build = {"millstream": _millstream, "duckdb": _duckdb, "polars": _polars, "pandas": _pandas}
    return harness.timed_result(build[engine](query, fmt, spec["path"], parallelism, ms), spec,
                                checksum)


def _millstream(query: str, fmt: str, path: str, parallelism: int, ms):
    schema = {"auction": ms.int64, "bidder": ms.int64, "price": ms.int64, "channel": ms.string,
              "date_time": ms.int64}
    col = ms.col

    def run():
        p = ms.Pipeline(parallelism=parallelism)
        bids = (p.read_parquet(path) if fmt == "parquet" else
                p.read_csv(path, schema=schema) if fmt == "csv" else p.read_jsonl(path, schema=schema))
        if query == "q1":
            out = bids.with_columns(price=col("price") * 0.908).select(
                "auction", "bidder", "price", "date_time")
        elif query == "q2":
            out = bids.filter(col("auction") % 123 == 0).select("auction", "price")
        elif query == "q2r":
            out = bids.filter((col("date_time") >= HOUR_FROM_MS) & (col("date_time") < HOUR_TO_MS)) \
                .select("auction", "price")
        else:
            out = (bids.with_watermark("date_time", max_delay="2s").key_by("auction")
                   .window(ms.tumbling("10s")).agg(bids=ms.count(), top=ms.max("price")))
        return out.collect()
    return run


def _duckdb(query: str, fmt: str, path: str, parallelism: int, ms):
    connection = harness.duckdb_connection(parallelism)
    src = (f"read_parquet('{path}')" if fmt == "parquet" else
           f"read_csv('{path}', header = true, columns = {DUCKDB_COLUMNS})" if fmt == "csv" else
           f"read_json('{path}', format = 'newline_delimited', columns = {DUCKDB_COLUMNS})")
    sql = SQL[query].format(src=src)
    return lambda: connection.sql(sql).to_arrow_table()


def _polars(query: str, fmt: str, path: str, parallelism: int, ms):
    import polars as pl

    schema = pl.Schema({"auction": pl.Int64, "bidder": pl.Int64, "price": pl.Int64,
                        "channel": pl.String, "date_time": pl.Int64})

    def run():
        bids = (pl.scan_parquet(path) if fmt == "parquet" else
                pl.scan_csv(path, schema=schema) if fmt == "csv" else pl.scan_ndjson(path, schema=schema))
        return _frame_query(query, bids, pl.col, lambda frame: frame.collect())
    return run


def _pandas(query: str, fmt: str, path: str, parallelism: int, ms):
    import pandas as pd

    def run():
        frame = (pd.read_parquet(path) if fmt == "parquet" else
                 pd.read_csv(path) if fmt == "csv" else pd.read_json(path, lines=True))
        if query == "q1":
            return frame.assign(price=frame.price * 0.908)[["auction", "bidder", "price", "date_time"]]
        if query == "q2":
            return frame[frame.auction % 123 == 0][["auction", "price"]]
        if query == "q2r":
            keep = (frame.date_time >= HOUR_FROM_MS) & (frame.date_time < HOUR_TO_MS)
            return frame[keep][["auction", "price"]]
        start = frame.date_time // 10000 * 10000
        out = frame.assign(window_start=start).groupby(["auction", "window_start"]).agg(
            bids=("price", "size"), top=("price", "max")).reset_index()
        return out.assign(window_end=out.window_start + 10000)
    return run


def _frame_query(query: str, bids, col, collect):
    if query == "q1":
        return collect(bids.select("auction", "bidder", (col("price") * 0.908).alias("price"), "date_time"))
    if query == "q2":
        return collect(bids.filter(col("auction") % 123 == 0).select("auction", "price"))
    if query == "q2r":
        return collect(bids.filter((col("date_time") >= HOUR_FROM_MS) & (col("date_time") < HOUR_TO_MS))
                       .select("auction", "price"))
    start = col("date_time") // 10000 * 10000
    return collect(bids.group_by(col("auction"), start.alias("window_start"))
                   .agg(col("price").count().alias("bids"), col("price").max().alias("top"))
                   .with_columns((col("window_start") + 10000).alias("window_end")))


def checksum(table, case: str) -> dict:
    """Row count and sums any difference in the rows would change."""
    summary = {"rows": table.num_rows, "auction_sum": exact_sum(table["auction"])}
    if case.startswith("q1"):
        summary.update(bidder_sum=exact_sum(table["bidder"]), price_sum=float_sum(table["price"]),
                       date_time_sum=exact_sum(table["date_time"]))
    elif case.startswith("qw"):
        summary.update(bids_sum=exact_sum(table["bids"]), top_sum=exact_sum(table["top"]),
                       window_start_sum=exact_sum(table["window_start"]))
    else:
        summary.update(price_sum=exact_sum(table["price"]))
    return summary


# ---------------------------------------------------------------------------------------------
# the parent


def measure_and_report(args) -> None:
    paths = harness.in_fresh_process(ensure_files, args.rows)
    inputs = {case: (paths[case.split("_")[1]], args.rows) for case in args.cases}
    for fmt, path in paths.items():
        print(f"{fmt}: {args.rows:,} rows, {os.path.relpath(path)} ({os.path.getsize(path) / 2**20:,.0f} MiB)")
    measurements = harness.measure_all(os.path.abspath(__file__), args, inputs, SINGLE_THREADED)
    harness.print_report(
        measurements, args, millstream_engines=["millstream"], reference_engines=REFERENCE_ENGINES,
        title=f"Files (repeat={args.repeat}: '1st run s' is the first run in a fresh process, "
              "'seconds' the best run; input rows count for rows/s; millstream/peer at the same P)",
        targets=target_lines(measurements, args.cases))


def target_lines(measurements: list, cases) -> list[str]:
    find, line = harness.find, harness.target_line
    lines = []
    for case in cases:
        peer = "polars" if case.endswith("_csv") else "duckdb"
        lines.append(line(f"{case}: millstream P=1 / {peer} P=1", find(measurements, case, "millstream", 1),
                          find(measurements, case, peer, 1), 1.0))
        lines.append(line(f"{case}: millstream speed-up P=1 -> P=2", find(measurements, case, "millstream", 2),
                          find(measurements, case, "millstream", 1), 1.8))
    return lines


def parse_args():
    parser = harness.argument_parser(__doc__, CASES, ENGINES, default_repeat=3)
    parser.set_defaults(engines=["millstream", "duckdb", "polars"])
    parser.add_argument("--rows", type=int, default=2_000_000, help="bids in each file")
    return parser.parse_args()


if __name__ == "__main__":
    harness.script_main(run_one, parse_args, measure_and_report)
