"""Deterministic input of the window benchmark: skewed keys, out-of-order event times.

Columns:
  key      int64, 100 k distinct values, Zipf-distributed (s = 1.0: the hottest key has about
           8% of the rows; keys past the ~8 300 hottest appear less than once a second, so many
           keys are absent from a given 10 s window). The key ids are a random permutation of
           0 .. 99 999, so hot keys are not the small numbers.
  value    float64, uniform 0 .. 1000 in cents (>= 0, so a running sum never decreases).
  ts       int64 epoch milliseconds: a clock advancing at EVENTS_PER_SECOND minus a jitter
           uniform in [0, 4 s): out of order by up to 4 s, never later than max_delay="4s"
           allows, so no row is late and a batch engine's answer is the streaming answer.
  key_big  int64 for the running aggregation: rows / 5 distinct values (10 M at 50 M rows),
           each appearing 5 times in random order.
Written once as Parquet under benchmarks/data/ (loading it is not timed).
"""
from __future__ import annotations

import os
import time

import numpy as np
import pyarrow as pa

from harness import DATA_DIR

SEED = 20_240_612
DISTINCT_KEYS = 100_000
ZIPF_EXPONENT = 1.0
EVENTS_PER_SECOND = 100_000     # 50 M rows span 500 s: 50 tumbling 10 s windows
JITTER_MS = 4_000
ROWS_PER_BIG_KEY = 5
START_MS = 1_700_000_000_000    # 2023-11-14, any epoch-ms value far from 0 would do
SCHEMA = pa.schema([("key", pa.int64()), ("value", pa.float64()), ("ts", pa.int64()),
                    ("key_big", pa.int64())])


def windows_table(rows: int, seed: int = SEED) -> pa.Table:
    """`rows` rows of the benchmark input; the same rows for the same (rows, seed)."""
    rng = np.random.default_rng(seed)
    weights = 1.0 / np.arange(1, DISTINCT_KEYS + 1, dtype=np.float64) ** ZIPF_EXPONENT
    cumulative = np.cumsum(weights / weights.sum())
    # inverse-CDF sampling: the same as rng.choice(p=...), without its per-call checks and copies
    ranks = np.searchsorted(cumulative, rng.random(rows), side="right")
    np.minimum(ranks, DISTINCT_KEYS - 1, out=ranks)
    key = rng.permutation(DISTINCT_KEYS).astype(np.int64)[ranks]
    del ranks
    value = rng.integers(0, 100_000, rows, dtype=np.int64) / 100.0
    clock_ms = START_MS + np.arange(rows, dtype=np.int64) * 1000 // EVENTS_PER_SECOND
    ts = clock_ms - rng.integers(0, JITTER_MS, rows, dtype=np.int64)
    del clock_ms
    big_keys = max(1, rows // ROWS_PER_BIG_KEY)
    key_big = rng.permutation(rows).astype(np.int64) % big_keys
    return pa.table([pa.array(key), pa.array(value), pa.array(ts), pa.array(key_big)], schema=SCHEMA)


def ensure_windows_parquet(rows: int) -> str:
    import pyarrow.parquet as pq

    os.makedirs(DATA_DIR, exist_ok=True)
    path = os.path.join(DATA_DIR, f"windows_{rows}.parquet")
    if not os.path.exists(path):
        started = time.perf_counter()
        pq.write_table(windows_table(rows), path + ".partial", compression="zstd", row_group_size=1_000_000)
        os.replace(path + ".partial", path)
        print(f"generated {os.path.relpath(path)} ({os.path.getsize(path) / 2**20:,.0f} MiB) "
              f"in {time.perf_counter() - started:.1f} s", flush=True)
    return path
