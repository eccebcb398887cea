"""Polars on one core over the data and pipeline of benchmarks/cpp/expr_bench.cpp.

filter a < 500 (about 50%) -> with_columns x = a*2+1, y = b*1.5, z = b/a, u = s.upper()
over 20 M rows, so the two can be compared on the same machine:

    POLARS_MAX_THREADS=1 .venv/bin/python benchmarks/expr_vs_polars.py

Both print the row count and checksums sum(x), sum(y) of the result, which must match.
"""
import os
import time

os.environ.setdefault("POLARS_MAX_THREADS", "1")

import numpy as np  # noqa: E402
import polars as pl  # noqa: E402
import pyarrow as pa  # noqa: E402
import pyarrow.compute as pc  # noqa: E402

TOTAL_ROWS = 20_000_000


def make_table(rows: int) -> pa.Table:
    i = np.arange(rows, dtype=np.uint64)
    h = i * np.uint64(2654435761) % np.uint64(4294967296)
    a = (h % np.uint64(1000)).astype(np.int64)
    b = (h % np.uint64(10007)).astype(np.float64) / 7.0
    s = pc.binary_join_element_wise("user_", pa.array(h % np.uint64(5003)).cast(pa.string()), "")
    return pa.table({"a": a, "b": b, "s": s})


def main() -> None:
    table = make_table(TOTAL_ROWS)
    print(f"polars {pl.__version__}, threads {pl.thread_pool_size()}, rows {TOTAL_ROWS}")
    for run in range(3):
        start = time.perf_counter()
        df = pl.from_arrow(table)
        loaded = time.perf_counter()
        cpu_start = time.process_time()
        out = (df.lazy()
               .filter(pl.col("a") < 500)
               .with_columns(x=pl.col("a") * 2 + 1, y=pl.col("b") * 1.5, z=pl.col("b") / pl.col("a"),
                             u=pl.col("s").str.to_uppercase())
               .collect())
        done = time.perf_counter()
        cpu = time.process_time() - cpu_start
        print(f"run {run}: {done - start:.3f} s (from_arrow {loaded - start:.3f} s, "
              f"filter+with_columns {done - loaded:.3f} s wall, {cpu:.3f} s cpu), "
              f"{TOTAL_ROWS / (done - loaded) / 1e6:.1f} M rows/s in, {out.height} rows out")
    print(f"checksums: sum(x) = {out['x'].sum()}, sum(y) = {out['y'].sum():.6e}")
    # without the string column (polars' str.to_uppercase is full Unicode; ours has an ASCII fast path)
    numeric = table.select(["a", "b"])
    for run in range(3):
        df = pl.from_arrow(numeric)
        start = time.perf_counter()
        cpu_start = time.process_time()
        out = (df.lazy().filter(pl.col("a") < 500)
               .with_columns(x=pl.col("a") * 2 + 1, y=pl.col("b") * 1.5, z=pl.col("b") / pl.col("a"))
               .collect())
        done = time.perf_counter()
        cpu = time.process_time() - cpu_start
        print(f"numeric only, run {run}: filter+with_columns {done - start:.3f} s wall, {cpu:.3f} s cpu, "
              f"{out.height} rows out")
    # filter alone and with_columns alone, for the split
    df = pl.from_arrow(table)
    start = time.perf_counter()
    kept = df.filter(pl.col("a") < 500)
    filtered = time.perf_counter()
    kept.with_columns(x=pl.col("a") * 2 + 1, y=pl.col("b") * 1.5, z=pl.col("b") / pl.col("a"),
                      u=pl.col("s").str.to_uppercase())
    done = time.perf_counter()
    print(f"eager: filter {filtered - start:.3f} s, with_columns {done - filtered:.3f} s")


if __name__ == "__main__":
    main()
