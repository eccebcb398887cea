"""The interval join (issue 16): millstream's outer join of A and B events within 15 minutes
against DuckDB and polars doing the same join as a batch query.

Input (generated here, fixed seed, cached under benchmarks/data/): `--rows` events (default
2 M; the issue's size is 20 M), half A and half B, columns key (int64), ts (int64 epoch ms),
side (int64: 0 = A, 1 = B), val (int64). Pairs come at a fixed rate so that `--live-keys`
(default rows / 20; 1 M at 20 M rows) keys are within 15 minutes of the watermark at any time;
of each pair's B, 70% are within 15 minutes of its A, 20% 1-6 hours away, 10% never come (then
half the time the A does not come either but the B does). Rows arrive ordered by time plus a
random delay under 5 s (out of order within the watermark's max_delay).

The query: every pair of an A and a B of equal key with b.ts - a.ts in [-15 min, +15 min], plus
the A and the B rows without any such partner, with nulls for the other side (an outer interval
join):
  millstream  a.join(b, on="key", within="15m", how="outer") over the events filtered by side,
              each side with_watermark("ts", max_delay="5s"); memory backend, and rocksdb with
              state_memory a quarter of the estimated live state (--state-scale 4)
  duckdb      the inner interval join (a.key = b.key AND b.ts BETWEEN a.ts - 15 min AND a.ts +
              15 min) UNION ALL the two anti-joins (NOT EXISTS a partner) for the unmatched
  polars      an equi-join on key filtered to the interval, and anti-joins on row ids for the
              unmatched

    .venv/bin/python benchmarks/join.py                          # 2 M events
    .venv/bin/python benchmarks/join.py --rows 20000000          # the issue's size
    .venv/bin/python benchmarks/join.py --engines millstream/memory,duckdb --parallelism 1,2
"""
from __future__ import annotations

import os

import harness
from harness import exact_sum

CASES = ("outer",)
MILLSTREAM_ENGINES = ("millstream/memory", "millstream/rocksdb")
ENGINES = MILLSTREAM_ENGINES + ("duckdb", "polars")
REFERENCE_ENGINES = ("duckdb",)
WITHIN_MS = 15 * 60_000
MAX_DELAY_MS = 5_000
START_MS = 1_700_000_000_000
# The hot bytes of a buffered row (ops/interval_join_state.cpp: a BufferedRow of 48 bytes, its
# 36 encoded bytes on the heap, the key's slot and its timer): an estimate for --state-scale.
ROW_HOT_BYTES = 150

DATA_DIR = os.path.join(os.path.dirname(os.path.abspath(__file__)), "data")


def ensure_join_parquet(rows: int, live_keys: int) -> str:
    """The events, generated once per (rows, live_keys) with numpy from a fixed seed."""
    import numpy as np
    import pyarrow as pa
    import pyarrow.parquet as pq

    path = os.path.join(DATA_DIR, f"join_{rows}_{live_keys}.parquet")
    if os.path.exists(path):
        return path
    os.makedirs(DATA_DIR, exist_ok=True)
    rng = np.random.default_rng(16)
    pairs = rows // 2
    step_ms = WITHIN_MS / live_keys  # pairs per 15 minutes = live keys
    ts_a = START_MS + (np.arange(pairs) * step_ms).astype(np.int64)
    fate = rng.random(pairs)
    near = rng.integers(-WITHIN_MS, WITHIN_MS + 1, pairs)
    far = rng.integers(3_600_000, 6 * 3_600_000, pairs) * rng.choice([-1, 1], pairs)
    ts_b = ts_a + np.where(fate < 0.7, near, far)
    missing_b = fate >= 0.9
    only_b = missing_b & (rng.random(pairs) < 0.5)  # then the B comes, at the A's time, alone
    ts_b = np.where(only_b, ts_a, ts_b)
    keys = rng.permutation(pairs).astype(np.int64)
    has_a = ~only_b
    has_b = ~missing_b | only_b
    key = np.concatenate([keys[has_a], keys[has_b]])
    ts = np.concatenate([ts_a[has_a], ts_b[has_b]])
    side = np.concatenate([np.zeros(has_a.sum(), np.int64), np.ones(has_b.sum(), np.int64)])
    val = rng.integers(0, 1_000_000, len(key))
    order = np.argsort(ts + rng.integers(0, MAX_DELAY_MS, len(ts)), kind="stable")
    table = pa.table({"key": key[order], "ts": ts[order], "side": side[order], "val": val[order]})
    pq.write_table(table, path + ".tmp", row_group_size=1 << 20)
    os.replace(path + ".tmp", path)
    return path


def live_state_bytes(table) -> int:
    """Rows live at once (those within 15 minutes + the delay of the watermark) times their
    hot bytes."""
    import pyarrow.compute as pc

    span_ms = pc.max(table["ts"]).as_py() - pc.min(table["ts"]).as_py()
    live_rows = table.num_rows * (WITHIN_MS + MAX_DELAY_MS) / max(span_ms, 1)
    return int(live_rows * ROW_HOT_BYTES)


# ---------------------------------------------------------------------------------------------
# the child: one engine, one case, one parallelism


def run_one(spec: dict) -> dict:
    engine, parallelism = spec["engine"], int(spec["parallelism"])
    ms = harness.import_millstream() if engine.startswith("millstream") else None  # fail fast
    import pyarrow.parquet as pq

    harness.limit_arrow_threads(parallelism)
    table = pq.read_table(spec["path"])
    if engine.startswith("millstream"):
        backend = engine.split("/", 1)[1]
        state_memory = None
        if backend == "rocksdb":
            state_memory = max(live_state_bytes(table) // int(spec["state_scale"]), 1 << 20)
        query = _millstream_query(ms, table, parallelism, backend, state_memory)
    elif engine == "duckdb":
        query = _duckdb_query(table, parallelism)
        del table
    elif engine == "polars":
        query = _polars_query(table)
        del table
    else:
        raise ValueError(f"unknown engine {engine!r}")
    return harness.timed_result(query, spec, checksum)


def _millstream_query(ms, table, parallelism: int, backend: str, state_memory):
    col = ms.col

    def query():
        p = ms.Pipeline(parallelism=parallelism, state=backend, state_memory=state_memory)
        events = p.from_arrow(table)
        a = events.filter(col("side") == 0).with_watermark("ts", max_delay=MAX_DELAY_MS)
        b = events.filter(col("side") == 1).with_watermark("ts", max_delay=MAX_DELAY_MS)
        return a.join(b, on="key", within=WITHIN_MS, how="outer").collect()
    return query


DUCKDB_SQL = f"""
WITH a AS (SELECT key, ts, side, val FROM events WHERE side = 0),
     b AS (SELECT key, ts, side, val FROM events WHERE side = 1)
SELECT a.key, a.ts, a.side, a.val, b.ts AS ts_right, b.side AS side_right, b.val AS val_right
  FROM a JOIN b ON a.key = b.key AND b.ts BETWEEN a.ts - {WITHIN_MS} AND a.ts + {WITHIN_MS}
UNION ALL
SELECT a.key, a.ts, a.side, a.val, NULL, NULL, NULL FROM a
 WHERE NOT EXISTS (SELECT 1 FROM b WHERE b.key = a.key
                   AND b.ts BETWEEN a.ts - {WITHIN_MS} AND a.ts + {WITHIN_MS})
UNION ALL
SELECT b.key, NULL, NULL, NULL, b.ts, b.side, b.val FROM b
 WHERE NOT EXISTS (SELECT 1 FROM a WHERE a.key = b.key
                   AND b.ts BETWEEN a.ts - {WITHIN_MS} AND a.ts + {WITHIN_MS})
"""


def _duckdb_query(table, parallelism: int):
    connection = harness.duckdb_connection(parallelism, {"events": table})
    return lambda: connection.sql(DUCKDB_SQL).to_arrow_table()


def _polars_query(table):
    import polars as pl

    frame = pl.from_arrow(table).with_row_index("row")
    a = frame.lazy().filter(pl.col("side") == 0)
    b = frame.lazy().filter(pl.col("side") == 1)

    def query():
        pairs = (a.join(b, on="key", suffix="_right")
                 .filter((pl.col("ts_right") - pl.col("ts")).abs() <= WITHIN_MS)).collect()
        lone_a = a.join(pairs.lazy().select("row"), on="row", how="anti")
        lone_b = b.join(pairs.lazy().select(pl.col("row_right").alias("row")), on="row", how="anti")
        right_names = {"ts": "ts_right", "side": "side_right", "val": "val_right"}
        return pl.concat([
            pairs.lazy().drop("row", "row_right"),
            lone_a.drop("row").with_columns(ts_right=None, side_right=None, val_right=None),
            lone_b.drop("row").rename(right_names).with_columns(ts=None, side=None, val=None),
        ], how="diagonal_relaxed").collect()
    return query


def checksum(table, case: str) -> dict:
    """Row counts and exact sums that any difference in the result would change."""
    import pyarrow.compute as pc

    matched = pc.and_(pc.is_valid(table["ts"]), pc.is_valid(table["ts_right"]))
    return {"rows": table.num_rows, "matched": pc.sum(matched).as_py() or 0,
            **{f"{name}_sum": exact_sum(table[name])
               for name in ("key", "ts", "val", "ts_right", "val_right")}}


# ---------------------------------------------------------------------------------------------
# the parent


def measure_and_report(args) -> None:
    path = harness.in_fresh_process(ensure_join_parquet, args.rows, args.live_keys or args.rows // 20)
    print(f"input: {args.rows:,} events from {os.path.relpath(path)}; "
          f"{(args.live_keys or args.rows // 20):,} live keys; millstream/rocksdb's live state "
          f"~{args.state_scale:g}x its state_memory")
    measurements = harness.measure_all(os.path.abspath(__file__), args,
                                       {case: (path, args.rows) for case in args.cases},
                                       extra_spec={"state_scale": args.state_scale})
    harness.print_report(
        measurements, args, millstream_engines=[e for e in MILLSTREAM_ENGINES if e in args.engines],
        reference_engines=REFERENCE_ENGINES,
        title=f"Interval join ({args.rows:,} events, repeat={args.repeat}, best run; "
              "millstream/<backend>/peer = millstream events/s / peer events/s at the same P)")


def parse_args():
    parser = harness.argument_parser(__doc__, CASES, ENGINES, default_repeat=2)
    parser.add_argument("--rows", type=int, default=2_000_000, help="A and B events together")
    parser.add_argument("--live-keys", type=int, default=None,
                        help="keys within 15 minutes of the watermark (default rows / 20)")
    parser.add_argument("--state-scale", type=float, default=4.0,
                        help="millstream/rocksdb: state_memory = estimated live state / this")
    return parser.parse_args()


if __name__ == "__main__":
    harness.script_main(run_one, parse_args, measure_and_report)
