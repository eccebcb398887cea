"""Keyed windows and running aggregation: millstream against DuckDB and polars as batch queries.

Input (windows_data.py): 50 M rows of int64 key (100 k distinct, Zipf-skewed), float64 value,
int64 epoch-ms ts out of order by up to 4 s, and key_big (10 M distinct) — in memory for every
engine (a pyarrow Table for millstream; a native DuckDB table; a polars DataFrame; the
conversions happen before the clock starts).

Cases (input rows count for rows/s):
  tumbling      10 s tumbling windows per key: count, sum(value), max(value).
  sliding_top1  10 s windows every 2 s, count per key, then the key with the highest count per
                window (ties: the smallest key) — the shape of Nexmark q5.
  session       sessions per key with a 10 s gap, count per session — the shape of Nexmark q11.
                A new session starts when a key's next row is > 10 s after its previous one
                (sessions that touch merge, as in Flink).
  running       count and sum(value) per key_big over all time (10 M keys). millstream emits a
                changelog (an update per key per batch); its last value per key is compared.

Peers compute the same result as a batch query. Sliding windows are computed by both peers the
way a careful SQL user would: counts per 2 s pane, each pane added to its 5 windows.

    .venv/bin/python benchmarks/windows.py                   # 50 M rows
    .venv/bin/python benchmarks/windows.py --rows 2000000    # a quick run
    .venv/bin/python benchmarks/windows.py --cases running --engines millstream/rocksdb --state-memory 256MB
                                                             # keyed state ~4x beyond its budget
    .venv/bin/python benchmarks/windows.py --disorder --rows 2000000 --parallelism 1,2
                                                             # late-heavy input (millstream only)
    .venv/bin/python benchmarks/windows.py --rows 2000000 --cases running,sliding_top1,session \
        --engines millstream/rocksdb --state-scale 4,20        # live state 4x and 20x state_memory

--disorder measures millstream's tumbling case (memory backend, late() collected too) on the
input as it is, on the input followed by the same rows again (a day replayed: every replayed row
is late) and on the input with every 200th row moved back 60 s (late), and prints each as rows/s
and as a fraction of the in-order rate. Each result is checked: the replay gives the in-order
windows and puts every other row in late(); no row is lost (window counts + late rows = rows).

With --state-scale, state_memory is set per case so that the live keyed state is that many times
state_memory (LIVE_STATE_BYTES: the peak entries of the case times an estimate of an entry's hot
bytes, from the operators' own accounting), one table per scale.
"""
from __future__ import annotations

import os

import harness
from harness import exact_sum, float_sum

CASES = ("tumbling", "sliding_top1", "session", "running")
ENGINES = ("millstream/memory", "millstream/rocksdb", "duckdb", "polars")
MILLSTREAM_ENGINES = ["millstream/memory", "millstream/rocksdb"]
REFERENCE_ENGINES = ("duckdb", "polars", "millstream/memory", "millstream/rocksdb")
WINDOW_MS, SLIDE_MS, GAP_MS = 10_000, 2_000, 10_000
MAX_DELAY = "4s"
# q5's second stage packs (count, key) into one int64 so that max() picks the highest count and,
# among equal counts, the smallest key: score = n * KEY_SPAN + (KEY_SPAN - 1 - key)
KEY_SPAN = 1 << 17  # > 100 000 distinct keys (ids 0 .. 99 999)


def live_state_bytes(case: str, rows: int) -> int:
    """The keyed state a case holds at its peak, in hot bytes (approximate). Peak entries: running
    has one per key_big (rows / 5); the windows' peaks do not grow with the rows (event time runs
    at a fixed rate): 245 K sliding panes, 88 K sessions, ~100 K tumbling groups (state_entries_peak
    of benchmarks/warm_runs.py at P=1). Bytes an entry: accumulator row, side tables and its share
    of the key table, as the operators count them against their hot budget."""
    entries, bytes_each = {"running": (rows // 5, 128), "sliding_top1": (245_000, 96),
                           "session": (88_000, 112), "tumbling": (100_000, 120)}[case]
    return entries * bytes_each


def state_memory_for(case: str, rows: int, scale: float) -> int:
    return max(1 << 20, int(live_state_bytes(case, rows) / scale))

DUCKDB_SQL = {
    "tumbling": f"""
        SELECT key, ts // {WINDOW_MS} * {WINDOW_MS} AS window_start,
               ts // {WINDOW_MS} * {WINDOW_MS} + {WINDOW_MS} AS window_end,
               count(*) AS n, sum(value) AS total, max(value) AS hi
        FROM events GROUP BY ALL""",
    "sliding_top1": f"""
        WITH panes AS (
            SELECT key, ts // {SLIDE_MS} AS pane, count(*) AS c FROM events GROUP BY key, pane),
        counts AS (
            SELECT key, (pane - k) * {SLIDE_MS} + {WINDOW_MS} AS sliding_end, sum(c) AS n
            FROM panes CROSS JOIN range({WINDOW_MS // SLIDE_MS}) AS r(k)
            GROUP BY key, sliding_end)
        SELECT sliding_end, key, n FROM counts
        QUALIFY row_number() OVER (PARTITION BY sliding_end ORDER BY n DESC, key ASC) = 1""",
    "session": f"""
        WITH flagged AS (
            SELECT key, ts,
                   CASE WHEN ts - lag(ts) OVER by_key <= {GAP_MS} THEN 0 ELSE 1 END AS starts_session
            FROM events WINDOW by_key AS (PARTITION BY key ORDER BY ts)),
        numbered AS (
            SELECT key, ts, sum(starts_session) OVER (PARTITION BY key ORDER BY ts
                                                      ROWS UNBOUNDED PRECEDING) AS session_number
            FROM flagged)
        SELECT key, min(ts) AS window_start, max(ts) + {GAP_MS} AS window_end, count(*) AS n
        FROM numbered GROUP BY key, session_number""",
    "running": "SELECT key_big, count(*) AS n, sum(value) AS total FROM events GROUP BY key_big",
}


# ---------------------------------------------------------------------------------------------
# the child: one engine, one case, one parallelism


def run_one(spec: dict) -> dict:
    engine, case, parallelism = spec["engine"], spec["case"], int(spec["parallelism"])
    ms = harness.import_millstream() if engine.startswith("millstream") else None  # fail fast
    import pyarrow.parquet as pq

    harness.limit_arrow_threads(parallelism)
    table = pq.read_table(spec["path"])
    if engine.startswith("millstream"):
        state_memory = spec.get("state_memory")
        if spec.get("state_scale"):
            state_memory = state_memory_for(case, table.num_rows, float(spec["state_scale"]))
        query = _millstream_query(ms, case, table, parallelism, backend=engine.split("/", 1)[1],
                                  state_memory=state_memory)
    elif engine == "duckdb":
        query = _duckdb_query(case, table, parallelism)
        del table
    elif engine == "polars":
        query = _polars_query(case, table)
        del table
    else:
        raise ValueError(f"unknown engine {engine!r}")
    return harness.timed_result(query, spec, checksum)


def _millstream_query(ms, case: str, table, parallelism: int, backend: str, state_memory=None,
                      **pipeline_options):
    """`pipeline_options`: more Pipeline arguments (benchmarks/checkpoints.py: checkpoints)."""
    col = ms.col

    def query():
        # only the columns the case reads: the peers prune unread columns by themselves
        pipeline = ms.Pipeline(parallelism=parallelism, state=backend, state_memory=state_memory,
                               **pipeline_options)
        if case == "running":
            source = pipeline.from_arrow(table.select(["key_big", "value"]))
            return source.key_by("key_big").agg(n=ms.count(), total=ms.sum("value")).collect()
        source = pipeline.from_arrow(table.select(["key", "value", "ts"]))
        by_key = source.with_watermark("ts", max_delay=MAX_DELAY).key_by("key")
        if case == "tumbling":
            return (by_key.window(ms.tumbling(WINDOW_MS))
                    .agg(n=ms.count(), total=ms.sum("value"), hi=ms.max("value")).collect())
        if case == "session":
            return by_key.window(ms.session(GAP_MS)).agg(n=ms.count()).collect()
        if case == "sliding_top1":
            counts = by_key.window(ms.sliding(WINDOW_MS, SLIDE_MS)).agg(n=ms.count())
            # the window's output carries event time (window_end) and the watermark onwards: a
            # global tumbling window of one slide holds exactly one sliding window's counts
            top = (counts.with_columns(score=col("n") * KEY_SPAN + (KEY_SPAN - 1 - col("key")))
                   .window(ms.tumbling(SLIDE_MS)).agg(top=ms.max("score")))
            return top.select(col("window_start").alias("sliding_end"),
                              (KEY_SPAN - 1 - col("top") % KEY_SPAN).alias("key"),
                              (col("top") // KEY_SPAN).alias("n")).collect()
        raise ValueError(f"unknown case {case!r}")
    return query


def _duckdb_query(case: str, table, parallelism: int):
    connection = harness.duckdb_connection(parallelism, {"events": table})
    return lambda: connection.sql(DUCKDB_SQL[case]).to_arrow_table()


def _polars_query(case: str, table):
    import polars as pl

    frame = pl.from_arrow(table)
    if case == "tumbling":
        window_start = pl.col("ts") // WINDOW_MS * WINDOW_MS
        plan = (frame.lazy().group_by("key", window_start.alias("window_start"))
                .agg(n=pl.len(), total=pl.col("value").sum(), hi=pl.col("value").max())
                .with_columns(window_end=pl.col("window_start") + WINDOW_MS))
    elif case == "sliding_top1":
        offsets = pl.LazyFrame({"k": list(range(WINDOW_MS // SLIDE_MS))}, schema={"k": pl.Int64})
        counts = (frame.lazy().group_by("key", (pl.col("ts") // SLIDE_MS).alias("pane")).agg(c=pl.len())
                  .join(offsets, how="cross")
                  .group_by("key", ((pl.col("pane") - pl.col("k")) * SLIDE_MS + WINDOW_MS).alias("sliding_end"))
                  .agg(n=pl.col("c").sum()))
        plan = (counts.filter(pl.col("n") == pl.col("n").max().over("sliding_end"))
                .group_by("sliding_end").agg(key=pl.col("key").min(), n=pl.col("n").first()))
    elif case == "session":
        starts_session = ((pl.col("key") != pl.col("key").shift(1)) |
                          (pl.col("ts") - pl.col("ts").shift(1) > GAP_MS)).fill_null(True)
        plan = (frame.lazy().select("key", "ts").sort("key", "ts")
                .with_columns(session_id=starts_session.cum_sum())
                .group_by("session_id")
                .agg(key=pl.col("key").first(), window_start=pl.col("ts").min(),
                     window_end=pl.col("ts").max() + GAP_MS, n=pl.len()))
    elif case == "running":
        plan = frame.lazy().group_by("key_big").agg(n=pl.len(), total=pl.col("value").sum())
    else:
        raise ValueError(f"unknown case {case!r}")
    return plan.collect


def checksum(table, case: str) -> dict:
    """Row count and sums that any difference in the result would change."""
    if case == "running":
        # millstream's changelog has several rows per key; counts and sums of values >= 0 only
        # grow, so the largest is the final one (a peer's single row per key reduces to itself)
        table = table.group_by("key_big").aggregate([("n", "max"), ("total", "max")]).rename_columns(
            ["key_big", "n", "total"])
        return {"keys": table.num_rows, "key_sum": exact_sum(table["key_big"]),
                "n_sum": exact_sum(table["n"]), "total_sum": float_sum(table["total"])}
    summary = {"rows": table.num_rows, "key_sum": exact_sum(table["key"]), "n_sum": exact_sum(table["n"])}
    if case == "sliding_top1":
        summary["sliding_end_sum"] = exact_sum(table["sliding_end"])
        # which key won which window, not only how many (one row per window: few rows)
        summary["key_times_end_sum"] = sum(key * end for key, end in zip(
            table["key"].to_pylist(), table["sliding_end"].to_pylist()))
        return summary
    summary["window_start_sum"] = exact_sum(table["window_start"])
    summary["window_end_sum"] = exact_sum(table["window_end"])
    if case == "tumbling":
        summary["total_sum"] = float_sum(table["total"])
        summary["hi_sum"] = float_sum(table["hi"])
    return summary


# ---------------------------------------------------------------------------------------------
# the parent


def measure_and_report(args) -> None:
    from windows_data import ensure_windows_parquet

    path = harness.in_fresh_process(ensure_windows_parquet, args.rows)
    print(f"input: {args.rows:,} rows from {os.path.relpath(path)} ({os.path.getsize(path) / 2**20:,.0f} MiB)")
    for scale in args.state_scale or [None]:
        measurements = harness.measure_all(os.path.abspath(__file__), args,
                                           {case: (path, args.rows) for case in args.cases},
                                           extra_spec={"state_memory": args.state_memory, "state_scale": scale})
        if args.state_memory:
            print(f"millstream state_memory: {args.state_memory}")
        scaled = ""
        if scale:
            memories = ", ".join(f"{case} {state_memory_for(case, args.rows, scale) / 2**20:.1f} MiB"
                                 for case in args.cases)
            scaled = f"; live state {scale:g}x state_memory ({memories})"
            print(f"millstream state_memory{scaled}")
        harness.print_report(
            measurements, args, millstream_engines=[e for e in MILLSTREAM_ENGINES if e in args.engines],
            reference_engines=REFERENCE_ENGINES,
            title=f"Windows ({args.rows:,} rows, repeat={args.repeat}, processes={args.processes}, best run; "
                  f"millstream/<backend>/peer = millstream rows/s / peer rows/s at the same P{scaled})")


def measure_disorder(args) -> None:
    """Late-heavy input against in-order input (see the module docstring, --disorder)."""
    import time

    import pyarrow as pa
    import pyarrow.compute as pc
    import pyarrow.parquet as pq
    from windows_data import ensure_windows_parquet

    ms = harness.import_millstream()
    path = harness.in_fresh_process(ensure_windows_parquet, args.rows)
    table = pq.read_table(path, columns=["key", "value", "ts"])
    late_mask = pa.array([i % 200 == 199 for i in range(table.num_rows)])
    one_in_200 = table.set_column(2, "ts", pc.if_else(late_mask, pc.subtract(table["ts"], 60_000), table["ts"]))
    inputs = {"in order": table, "replayed": pa.concat_tables([table, table]),
              "1 late in 200": one_in_200}

    def run(data, parallelism):
        pipeline = ms.Pipeline(parallelism=parallelism, state="memory")
        windows = (pipeline.from_arrow(data).with_watermark("ts", max_delay=MAX_DELAY).key_by("key")
                   .window(ms.tumbling(WINDOW_MS)))
        out = windows.agg(n=ms.count(), total=ms.sum("value"), hi=ms.max("value"))
        started = time.perf_counter()
        result, late = pipeline.collect(out, windows.late())
        seconds = time.perf_counter() - started
        assert exact_sum(result["n"]) + late.num_rows == data.num_rows, "rows lost"
        return seconds, result, late

    print(f"disorder: tumbling {WINDOW_MS} ms windows, max_delay {MAX_DELAY}, {args.rows:,} input rows, "
          f"best of {args.repeat}")
    print(f"{'input':<16}{'P':>3}{'rows':>12}{'late rows':>12}{'seconds':>9}{'rows/s':>13}{'x in order':>11}")
    for parallelism in args.parallelism:
        in_order_rate = None
        for name, data in inputs.items():
            runs = [run(data, parallelism) for _ in range(args.repeat)]
            seconds, result, late = min(runs, key=lambda r: r[0])
            if name == "replayed":
                assert late.num_rows > 0, "the replayed rows should be late"
            rate = data.num_rows / seconds
            in_order_rate = in_order_rate or rate
            print(f"{name:<16}{parallelism:>3}{data.num_rows:>12,}{late.num_rows:>12,}{seconds:>9.3f}"
                  f"{rate:>13,.0f}{rate / in_order_rate:>11.2f}")


def parse_args():
    parser = harness.argument_parser(__doc__, CASES, ENGINES, default_repeat=2)
    parser.add_argument("--rows", type=int, default=50_000_000, help="input rows")
    parser.add_argument("--state-memory", default=None,
                        help="millstream's state_memory, e.g. 256MB (default: the engine's, a quarter of RAM)")
    parser.add_argument("--disorder", action="store_true",
                        help="late-heavy input against in-order input (millstream only)")
    parser.add_argument("--state-scale", type=lambda text: [float(x) for x in text.split(",")], default=None,
                        help="e.g. 4,20: state_memory per case so that the live state is that many times it "
                             "(overrides --state-memory); one table per scale")
    return parser.parse_args()


def main_measure(args) -> None:
    (measure_disorder if args.disorder else measure_and_report)(args)


if __name__ == "__main__":
    harness.script_main(run_one, parse_args, main_measure)
