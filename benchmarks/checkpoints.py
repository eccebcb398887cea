"""Checkpoints (issue 17): what they cost and what recovery takes.

  throughput   the windows benchmark's tumbling and sliding_top1 queries (windows.py) with no
               checkpoints, every 10 s and every 1 s, in one process, one after the other;
               rows/s and the throughput lost against none (targets: <= 5% at 10 s, <= 15% at
               1 s). Also a stateless query (from_arrow -> filter -> collect) with none, 1 s,
               100 ms: what the barriers and the collect sink's segments cost alone.
  size         a running aggregation over a growing number of keys: job.checkpoint() in the
               middle of the run, its duration and size (job.metrics()["checkpoints"]).
  recovery     the same with the run cancelled after a checkpoint, then restarted from it: time
               from the restart to the end of its first checkpoint-restored output (the
               restored run's collect), for growing state.
  kills        the kill harness (tests/python/kill_harness.py) over N seeds: windows, a running
               aggregation and an interval join from CSV to CSV, SIGKILLed and restarted until
               complete; every seed's output must equal the clean run's (the same multiset).

A case that cannot run yet (keyed states and file connectors checkpoint once h/ckptstate and
h/ckptio are merged) prints "not available: <error>" and the rest goes on.

    .venv/bin/python benchmarks/checkpoints.py --rows 2000000
    .venv/bin/python benchmarks/checkpoints.py --cases kills --seeds 100
"""
from __future__ import annotations

import argparse
import os
import shutil
import sys
import tempfile
import time

import harness
import windows
from windows_data import windows_table

sys.path.insert(0, os.path.join(harness.REPO_ROOT, "tests", "python"))
import kill_harness  # noqa: E402

CASES = ("throughput", "size", "recovery", "kills")


def _not_available(what: str, error: BaseException) -> None:
    print(f"  {what}: not available: {type(error).__name__}: {str(error).splitlines()[0]}")


def _checkpoint_metrics(job) -> dict:
    return next((m for m in job.metrics() if m["operator"] == "checkpoints"), {})


def _options(interval, directory: str) -> dict:
    return {} if interval is None else {"checkpoint_dir": directory, "checkpoint_interval": interval}


def _report(case: str, interval, rate: float, base: float) -> None:
    print(f"  {case:13} checkpoints {interval or 'none':5} {rate:14,.0f}  {100 * (1 - rate / base):5.1f}%")


def throughput(ms, rows: int, parallelism: int) -> None:
    table = windows_table(rows)
    print(f"throughput, {rows:,} rows, parallelism {parallelism} (rows/s; lost vs none)")
    for case in ("tumbling", "sliding_top1"):
        base = None
        for interval in (None, "10s", "1s"):
            directory = tempfile.mkdtemp(prefix="ms_ckpt_bench_")
            try:
                query = windows._millstream_query(ms, case, table, parallelism, "rocksdb",
                                                  **_options(interval, directory))
                started = time.perf_counter()
                query()
                rate = rows / (time.perf_counter() - started)
                base = base or rate
                _report(case, interval, rate, base)
            except Exception as error:  # noqa: BLE001 (a case that cannot run yet)
                _not_available(f"{case} checkpoints {interval}", error)
            finally:
                shutil.rmtree(directory, ignore_errors=True)
    stateless = table.select(["key", "value"])
    base = None
    for interval in (None, "1s", "100ms"):
        directory = tempfile.mkdtemp(prefix="ms_ckpt_bench_")
        try:
            p = ms.Pipeline(parallelism=parallelism, **_options(interval, directory))
            started = time.perf_counter()
            p.from_arrow(stateless).filter(ms.col("value") > 0.5).collect()
            rate = rows / (time.perf_counter() - started)
            base = base or rate
            _report("stateless", interval, rate, base)
        finally:
            shutil.rmtree(directory, ignore_errors=True)


def _running(ms, p, keys: int, rows: int):
    import numpy as np
    import pyarrow as pa
    data = pa.table({"k": np.arange(rows, dtype="int64") % keys,
                     "v": np.ones(rows, dtype="int64")})
    return p.from_arrow(data).key_by("k").agg(n=ms.count(), total=ms.sum("v"))


def _start_collect(p, stream):
    from millstream import _plan
    sink = p._add(_plan.collect_sink_node(), [stream._node], [stream.schema])
    return p._start([sink])


def size_and_recovery(ms, parallelism: int, key_counts: list[int], recovery: bool) -> None:
    print("checkpoint size and duration vs state (running aggregation, rocksdb)"
          + (", and recovery time" if recovery else ""))
    for keys in key_counts:
        directory = tempfile.mkdtemp(prefix="ms_ckpt_bench_")
        try:
            p = ms.Pipeline(parallelism=parallelism, state="rocksdb", checkpoint_dir=directory)
            job = _start_collect(p, _running(ms, p, keys, keys * 4))
            job.checkpoint(timeout=600)
            metrics = _checkpoint_metrics(job)
            print(f"  {keys:>12,} keys: checkpoint {metrics['last_checkpoint_duration_s']:.3f} s,"
                  f" {metrics['last_checkpoint_bytes'] / 1e6:,.1f} MB")
            if recovery:
                job._native.cancel()
                job._native.wait(600, raise_error=False)
                p2 = ms.Pipeline(parallelism=parallelism, state="rocksdb", checkpoint_dir=directory)
                started = time.perf_counter()
                _running(ms, p2, keys, keys * 4).collect()
                print(f"  {keys:>12,} keys: restored run to its output {time.perf_counter() - started:.3f} s")
            else:
                job.stop()
        except Exception as error:  # noqa: BLE001
            _not_available(f"{keys:,} keys", error)
        finally:
            shutil.rmtree(directory, ignore_errors=True)


def kills(seeds: int, kills_per_seed: int) -> None:
    print(f"kill harness: {seeds} seeds x {kills_per_seed} kills")
    base = tempfile.mkdtemp(prefix="ms_ckpt_kills_")
    try:
        clean_dir = os.path.join(base, "clean")
        os.makedirs(clean_dir)
        kill_harness.prepare(clean_dir)
        clean = kill_harness.clean_run(clean_dir, timeout_s=600)
        failures, landed_total = 0, 0
        for seed in range(seeds):
            directory = os.path.join(base, f"seed{seed}")
            os.makedirs(directory)
            kill_harness.prepare(directory)
            try:
                restored, landed = kill_harness.killed_runs(
                    directory, seed, kills_per_seed, 600,
                    kill_window_s=kill_harness.kill_window(kill_harness.clean_run.seconds))
                landed_total += landed
                problems = kill_harness.compare(clean, restored)
            except AssertionError as error:
                problems = [str(error).splitlines()[0]]
            if problems:
                failures += 1
                print(f"  seed {seed}: {'; '.join(problems)}")
            shutil.rmtree(directory, ignore_errors=True)
        print(f"  {seeds - failures}/{seeds} seeds identical to the clean run "
              f"({landed_total} kills landed)")
    except Exception as error:  # noqa: BLE001
        _not_available("kill harness", error)
    finally:
        shutil.rmtree(base, ignore_errors=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--cases", default=",".join(CASES))
    parser.add_argument("--rows", type=int, default=10_000_000)
    parser.add_argument("--parallelism", type=int, default=2)
    parser.add_argument("--keys", default="1000000,10000000,50000000",
                        help="key counts of the size / recovery cases")
    parser.add_argument("--seeds", type=int, default=100)
    parser.add_argument("--kills-per-seed", type=int, default=3)
    args = parser.parse_args()
    cases = args.cases.split(",")
    ms = harness.import_millstream()
    harness.print_machine()
    if "throughput" in cases:
        throughput(ms, args.rows, args.parallelism)
    key_counts = [int(k) for k in args.keys.split(",")]
    if "size" in cases or "recovery" in cases:
        size_and_recovery(ms, args.parallelism, key_counts, "recovery" in cases)
    if "kills" in cases:
        kills(args.seeds, args.kills_per_seed)


if __name__ == "__main__":
    main()
