"""One millstream query run several times back to back in one process, with wall and CPU time
per run (and, for keyed queries, the state metrics): the in-process figures of RESULTS.md, and
the script to run under `perf record -g`. Inputs are the ones stateless.py and windows.py
generate (run those once first).

    .venv/bin/python benchmarks/warm_runs.py in_memory 1,2 8        # stateless query, P=1 then P=2
    .venv/bin/python benchmarks/warm_runs.py tumbling 1,2 3         # also sliding_top1, session
    .venv/bin/python benchmarks/warm_runs.py running 1 1 --state rocksdb
    .venv/bin/python benchmarks/warm_runs.py session 1,2 9 --alternate  # P=1, P=2, P=1, ...

With --alternate the parallelisms take turns, run by run, and each round's speed-up (the first
parallelism's wall time over the others') is printed, then the median over the rounds: on a VM
whose speed drifts from minute to minute, neighbouring runs are the fairer comparison.
"""
from __future__ import annotations

import argparse
import os
import statistics
import time

import pyarrow.parquet as pq

import millstream as ms
from millstream import col

DATA = os.path.join(os.path.dirname(os.path.abspath(__file__)), "data")
KEY_SPAN = 1 << 17  # as windows.py


def stateless(pipeline, table):
    return (pipeline.from_arrow(table).filter(col("price") > 100)
            .with_columns(amount=col("price") * col("qty"), discounted=col("price") * 0.9,
                          qty_next=col("qty") + 1, name_upper=col("name").str.upper()))


def windowed(case):
    def build(pipeline, table):
        by_key = pipeline.from_arrow(table).with_watermark("ts", max_delay="4s").key_by("key")
        if case == "tumbling":
            return by_key.window(ms.tumbling(10_000)).agg(n=ms.count(), total=ms.sum("value"), hi=ms.max("value"))
        if case == "session":
            return by_key.window(ms.session(10_000)).agg(n=ms.count())
        counts = by_key.window(ms.sliding(10_000, 2_000)).agg(n=ms.count())
        return (counts.with_columns(score=col("n") * KEY_SPAN + (KEY_SPAN - 1 - col("key")))
                .window(ms.tumbling(2_000)).agg(top=ms.max("score")))
    return build


def running(pipeline, table):
    return pipeline.from_arrow(table).key_by("key_big").agg(n=ms.count(), total=ms.sum("value"))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("query", choices=["in_memory", "tumbling", "sliding_top1", "session", "running"])
    parser.add_argument("parallelism", help="comma-separated, run in this order, e.g. 1,2")
    parser.add_argument("runs", type=int, help="runs per parallelism, back to back")
    parser.add_argument("--state", default="memory", choices=["memory", "rocksdb"])
    parser.add_argument("--state-memory", default=None, help="default: the engine's (a quarter of RAM)")
    parser.add_argument("--rows", type=int, default=None,
                        help="input size (default 20 M for in_memory, 10 M for the keyed queries)")
    parser.add_argument("--batch-size", type=int, default=None, help="default: the engine's")
    parser.add_argument("--alternate", action="store_true",
                        help="the parallelisms take turns run by run; print each round's speed-up")
    args = parser.parse_args()
    if args.query == "in_memory":
        table = pq.read_table(os.path.join(DATA, f"stateless_{args.rows or 20_000_000}.parquet"))
        build = stateless
    else:
        table = pq.read_table(os.path.join(DATA, f"windows_{args.rows or 10_000_000}.parquet"))
        table = table.select(["key_big", "value"] if args.query == "running" else ["key", "value", "ts"])
        build = running if args.query == "running" else windowed(args.query)
    print(f"{args.query}: {table.num_rows:,} rows, state={args.state}, state_memory={args.state_memory or 'default'}")
    parallelisms = [int(p) for p in args.parallelism.split(",")]
    if args.alternate:
        order = [list(parallelisms) for _ in range(args.runs)]
    else:
        order = [[p] * args.runs for p in parallelisms]
    speedups = {p: [] for p in parallelisms[1:]}
    for turn in order:
        walls = {}
        for parallelism in turn:
            walls[parallelism] = run_once(build, table, parallelism, args)
        if args.alternate:
            for p in parallelisms[1:]:
                speedups[p].append(walls[parallelisms[0]] / walls[p])
            print("  speed-up this round: " + ", ".join(
                f"P={p} {speedups[p][-1]:.2f}x" for p in parallelisms[1:]), flush=True)
    for p, values in speedups.items():
        if values:
            print(f"P={p} over P={parallelisms[0]}, median of {len(values)} rounds: "
                  f"{statistics.median(values):.2f}x (range {min(values):.2f}-{max(values):.2f}x)")


def run_once(build, table, parallelism, args) -> float:
    pipeline = ms.Pipeline(parallelism=parallelism, state=args.state, state_memory=args.state_memory,
                           batch_size=args.batch_size)
    out_rows = []
    build(pipeline, table).for_each_batch(lambda batch: out_rows.append(batch.num_rows))
    wall, cpu = time.perf_counter(), time.process_time()
    result = pipeline.run()
    wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
    keyed = [m for m in result.metrics if m["state_entries_peak"] > 0]
    state = "".join(f"  {m['operator']}: state_reads {m['state_reads']:,} state_writes "
                    f"{m['state_writes']:,} peak entries {m['state_entries_peak']:,}" for m in keyed)
    print(f"P={parallelism} {wall:.3f} s wall {cpu:.3f} s CPU {sum(out_rows):,} rows out{state}",
          flush=True)
    return wall

if __name__ == "__main__":
    main()
