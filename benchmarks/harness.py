"""Runs each measurement in its own process and prints the results side by side.

Why a process per measurement: polars reads POLARS_MAX_THREADS once, at import, so a different
thread count needs a fresh interpreter; and the peak RSS of a process (VmHWM) is only
meaningful if the process did nothing else.

The parent (a benchmark script's main) calls `run_measurement(script, spec)`; the child is the same
script started as `script --worker '<spec json>'`, which calls `worker_main(run_one)`. `run_one(spec)`
loads its input (not timed), times the query with `time_query`, and returns a dict; the child prints
it as one line `RESULT {...}` on stdout.
"""
from __future__ import annotations

import gc
import json
import math
import os
import resource
import signal
import subprocess
import sys
import tempfile
import time
import traceback
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any, Callable

from machine import print_machine

RESULT_PREFIX = "RESULT "
REPO_ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
DATA_DIR = os.path.join(REPO_ROOT, "benchmarks", "data")


# ---------------------------------------------------------------------------------------------
# child side


def cpu_seconds() -> float:
    """User + system CPU time of this process, all threads: how many cores a run really used."""
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def current_rss_bytes() -> int:
    with open("/proc/self/statm") as statm:
        return int(statm.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")


def peak_rss_bytes() -> int:
    """The high-water mark of this process's RSS (VmHWM).

    Not getrusage's ru_maxrss: Linux carries that across execve, so a child started by a big
    parent would report the parent's peak.
    """
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) * 1024
    raise RuntimeError("no VmHWM in /proc/self/status")


def busy_cpu_seconds_of_machine() -> float:
    """CPU seconds all processes spent busy since boot (/proc/stat: everything but idle and iowait;
    steal, time the hypervisor gave to other machines, counts as busy: it is noise too)."""
    with open("/proc/stat") as stat:
        fields = [int(value) for value in stat.readline().split()[1:]]
    idle_and_iowait = fields[3] + fields[4]
    guest = sum(fields[8:10])  # guest time is already counted in user time
    return (sum(fields) - idle_and_iowait - guest) / os.sysconf("SC_CLK_TCK")


def reset_peak_rss() -> bool:
    """Restarts VmHWM from the current RSS (Linux >= 4.0), so the peak covers only what follows."""
    try:
        with open("/proc/self/clear_refs", "w") as clear_refs:
            clear_refs.write("5")
        return True
    except OSError:
        return False


def wait_for_quiet_machine(max_wait_s: float, max_other_cores: float = 0.25, sample_s: float = 2.0) -> float:
    """Waits (up to `max_wait_s`) until other processes use less than `max_other_cores` CPU.

    Called by a child after loading its input, just before the clock starts, when nothing of ours
    runs: all busy CPU is someone else's (on a shared machine, usually a compiler). Returns the
    last load seen, in cores.
    """
    deadline = time.monotonic() + max_wait_s
    while True:
        before = busy_cpu_seconds_of_machine()
        time.sleep(sample_s)
        other_cores = (busy_cpu_seconds_of_machine() - before) / sample_s
        if other_cores < max_other_cores or time.monotonic() >= deadline:
            return other_cores


@dataclass
class Timing:
    seconds: float          # wall clock of the best run
    cpu_seconds: float      # this process's CPU time in that run (all threads)
    other_cores: float      # CPU that other processes used meanwhile, in cores: noise on a shared machine
    result: Any
    peak_rss_bytes: int | None = None  # highest RSS while the query ran (input held + working memory)
    first_seconds: float = math.nan    # wall clock of the first run: includes first-touch page faults


def time_query(query: Callable[[], Any], repeat: int = 1, quiet_wait_s: float = 0.0) -> Timing:
    """Runs `query` `repeat` times back to back and keeps the fastest run; before the first run,
    waits up to `quiet_wait_s` for other processes to leave the CPU alone.

    The runs follow each other without a pause: after a second or two idle, allocators (pyarrow's
    mimalloc among them) give freed pages back to the VM, and the next run pays first-touch faults
    again, which is what the repeats are there to leave out (README.md, "Warm runs"). The previous
    result is dropped before the next run, so peak RSS holds one result, not several.
    """
    best, result, first_seconds = Timing(math.inf, math.nan, math.nan, None), None, math.nan
    peak_was_reset = reset_peak_rss()
    if quiet_wait_s > 0:
        wait_for_quiet_machine(quiet_wait_s)
    for _ in range(max(1, repeat)):
        best.result = result = None
        gc.collect()
        machine_start, cpu_start, wall_start = busy_cpu_seconds_of_machine(), cpu_seconds(), time.perf_counter()
        result = query()
        wall_seconds = time.perf_counter() - wall_start
        used_cpu_seconds = cpu_seconds() - cpu_start
        machine_seconds = busy_cpu_seconds_of_machine() - machine_start
        if math.isnan(first_seconds):
            first_seconds = wall_seconds
        if wall_seconds < best.seconds:
            other_cores = max(0.0, machine_seconds - used_cpu_seconds) / wall_seconds if wall_seconds > 0 else math.nan
            best = Timing(wall_seconds, used_cpu_seconds, other_cores, None)
        best.result = result
    best.peak_rss_bytes = peak_rss_bytes() if peak_was_reset else None
    best.first_seconds = first_seconds
    return best


def timing_outcome(timing: Timing) -> dict:
    """The fields of a worker's RESULT that come from the timing."""
    return {"seconds": timing.seconds, "first_seconds": timing.first_seconds, "cpu_seconds": timing.cpu_seconds, "other_cores": timing.other_cores,
            "peak_rss_bytes": timing.peak_rss_bytes}


def timed_result(query: Callable[[], Any], spec: dict, checksum: Callable[[Any, str], dict]) -> dict:
    """A worker's RESULT for `query`, once its input is loaded: the timing (`spec`'s repeat and
    quiet wait), the RSS held when the clock starts, and the result's row count and
    `checksum(table, case)` of it as a pyarrow Table."""
    gc.collect()
    rss_before_bytes = current_rss_bytes()
    timing = time_query(query, spec.get("repeat", 1), spec.get("quiet_wait_s", 0.0))
    table = to_arrow_table(timing.result)
    return {**timing_outcome(timing), "output_rows": table.num_rows,
            "checksum": checksum(table, spec["case"]), "rss_before_bytes": rss_before_bytes}


def to_arrow_table(result):
    """Every engine's result as a pyarrow Table, for one checksum code path (not timed)."""
    import pyarrow as pa

    if isinstance(result, pa.Table):
        return result
    module = type(result).__module__
    if module.startswith("polars"):
        return result.to_arrow()
    if module.startswith("pandas"):
        return pa.Table.from_pandas(result, preserve_index=False)
    return pa.table(result)


def limit_arrow_threads(parallelism: int) -> None:
    """pyarrow's own pools (used by pandas' string dtype and by conversions) get P threads too."""
    import pyarrow as pa

    pa.set_cpu_count(parallelism)
    pa.set_io_thread_count(max(1, parallelism))


def _name_who_terminates_us() -> None:
    """On SIGTERM, write the sender's pid and command line to stderr before exiting: a worker
    killed by someone else's clean-up (pkill -f ...) must not look like a millstream crash."""
    import threading

    signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGTERM})  # before any thread starts: all inherit it

    def wait_for_sigterm():
        info = signal.sigwaitinfo({signal.SIGTERM})
        try:
            with open(f"/proc/{info.si_pid}/cmdline", "rb") as cmdline:
                sender = cmdline.read().replace(b"\0", b" ").decode(errors="replace").strip()
        except OSError:
            sender = "gone"
        print(f"SIGTERM from pid {info.si_pid}: {sender[:300]}", file=sys.stderr, flush=True)
        os._exit(128 + signal.SIGTERM)
    threading.Thread(target=wait_for_sigterm, daemon=True).start()


def worker_main(run_one: Callable[[dict], dict]) -> None:
    """Entry point of a child: `script --worker '<spec json>'`. Never raises: errors are reported."""
    _name_who_terminates_us()
    spec = json.loads(sys.argv[sys.argv.index("--worker") + 1])
    try:
        outcome = run_one(spec)
    except BaseException as error:  # noqa: BLE001 - reported to the parent, which carries on
        traceback.print_exc(file=sys.stderr)
        outcome = {"error": f"{type(error).__name__}: {error}".strip()}
    # the whole process, loading included; the query's own peak is `peak_rss_bytes`
    outcome["process_peak_rss_bytes"] = peak_rss_bytes()
    print(RESULT_PREFIX + json.dumps(outcome, default=_json_default), flush=True)


def _json_default(value):
    if isinstance(value, Decimal):
        return int(value)
    raise TypeError(f"not JSON serialisable: {type(value).__name__}")


def duckdb_connection(parallelism: int, tables: dict | None = None):
    """A DuckDB connection with `parallelism` threads and no progress bar; each pyarrow Table of
    `tables` is copied into DuckDB's native storage under its name (before the clock starts)."""
    import duckdb

    connection = duckdb.connect()
    connection.execute(f"SET threads = {parallelism}")
    connection.execute("SET enable_progress_bar = false")
    for name, table in (tables or {}).items():
        connection.register(f"{name}_arrow", table)
        connection.execute(f"CREATE TABLE {name} AS SELECT * FROM {name}_arrow")
        connection.unregister(f"{name}_arrow")
    return connection


def exact_sum(column) -> int:
    """Sum of an integer column without int64 wrap-around (pyarrow's sum wraps silently)."""
    import pyarrow as pa
    import pyarrow.compute as pc

    total = pc.sum(column.cast(pa.decimal128(38, 0))).as_py()
    return int(total or 0)


def string_fingerprint(column) -> int:
    """An order-independent fingerprint of a string column's values: the sum, modulo 2**64, of a
    64-bit hash of each value (polars' hash with a fixed seed; nulls hash alike), so a changed
    value shows and row order does not matter. Comparable between processes of one polars version.
    """
    import numpy as np
    import polars as pl
    import pyarrow as pa

    if not isinstance(column, pa.ChunkedArray):
        column = pa.chunked_array([column])
    series = pl.Series(column.cast(pa.large_string()))
    hashes = series.hash(seed=20_240_611).to_numpy()
    return int(hashes.sum(dtype=np.uint64))


def float_sum(column) -> float:
    import pyarrow.compute as pc

    total = pc.sum(column).as_py()
    return float(total or 0.0)


# ---------------------------------------------------------------------------------------------
# parent side


@dataclass
class Measurement:
    case: str
    engine: str
    parallelism: int
    input_rows: int
    seconds: float = math.nan
    first_seconds: float = math.nan  # the first of the --repeat runs (the others reuse warm memory)
    cpu_seconds: float = math.nan
    output_rows: int | None = None
    checksum: dict = field(default_factory=dict)
    peak_rss_bytes: int | None = None          # during the timed query, input held included
    rss_before_bytes: int | None = None        # when the query started: the input held in memory
    process_peak_rss_bytes: int | None = None  # whole child process, loading included
    error: str | None = None
    crashed: bool = False          # the worker died (signal, exit, limit) instead of reporting an error
    other_cores: float = math.nan  # CPU used by other processes during the timed run, in cores
    check: str = ""  # filled by verify(): reference / ok / MISMATCH ...

    @property
    def ok(self) -> bool:
        return self.error is None

    @property
    def rows_per_second(self) -> float:
        return self.input_rows / self.seconds if self.ok and self.seconds > 0 else math.nan

    @property
    def rows_per_second_per_core(self) -> float:
        return self.rows_per_second / self.parallelism


def run_measurement(script: str, spec: dict, *, timeout_s: float, rss_limit_bytes: int) -> dict:
    """Runs `script --worker spec` in a fresh interpreter; returns the child's RESULT dict.

    The child is killed (and the measurement reported as failed) when its RSS passes
    `rss_limit_bytes` — other people share this machine — or when it runs past `timeout_s`.
    """
    parallelism = int(spec["parallelism"])
    env = dict(os.environ)
    env["POLARS_MAX_THREADS"] = str(parallelism)   # read by polars at import
    env["OMP_NUM_THREADS"] = str(parallelism)
    env["PYTHONPATH"] = os.pathsep.join(
        [os.path.join(REPO_ROOT, "python")] + ([env["PYTHONPATH"]] if env.get("PYTHONPATH") else []))
    with tempfile.TemporaryFile("w+") as stdout, tempfile.TemporaryFile("w+") as stderr:
        child = subprocess.Popen([sys.executable, script, "--worker", json.dumps(spec)],
                                 stdout=stdout, stderr=stderr, env=env, cwd=REPO_ROOT)
        killed_because = _watch(child, timeout_s, rss_limit_bytes)
        stdout.seek(0)
        stderr.seek(0)
        out_text, err_text = stdout.read(), stderr.read()
    for line in reversed(out_text.splitlines()):
        if line.startswith(RESULT_PREFIX):
            return json.loads(line[len(RESULT_PREFIX):])
    reason = killed_because or _exit_reason(child.returncode)
    tail = " | ".join(err_text.strip().splitlines()[-3:])
    return {"error": f"{reason}{': ' + tail if tail else ''}", "crashed": True}


def _exit_reason(returncode: int) -> str:
    if returncode < 0:
        try:
            name = signal.Signals(-returncode).name
        except ValueError:
            name = f"signal {-returncode}"
        return f"worker killed by {name} (not by this harness: it uses SIGKILL and says why)"
    return f"worker exited with code {returncode} without a result"


def _watch(child: subprocess.Popen, timeout_s: float, rss_limit_bytes: int) -> str | None:
    import psutil

    deadline = time.monotonic() + timeout_s
    process = psutil.Process(child.pid)
    while child.poll() is None:
        try:
            rss_bytes = process.memory_info().rss
        except psutil.Error:
            rss_bytes = 0
        reason = None
        if rss_bytes > rss_limit_bytes:
            reason = f"killed: RSS {rss_bytes / 2**30:.1f} GiB over the limit {rss_limit_bytes / 2**30:.1f} GiB"
        elif time.monotonic() > deadline:
            reason = f"killed: timeout after {timeout_s:g} s"
        if reason:
            child.kill()
            child.wait()
            return reason
        time.sleep(0.1)
    return None


def measure(script: str, spec: dict, input_rows: int, *, timeout_s: float,
            rss_limit_bytes: int, progress: str = "", quiet_wait_s: float = 0.0) -> Measurement:
    """run_measurement + a Measurement + a progress line, so a long run shows where it is."""
    spec = {**spec, "quiet_wait_s": quiet_wait_s}
    started = time.perf_counter()
    outcome = run_measurement(script, spec, timeout_s=timeout_s, rss_limit_bytes=rss_limit_bytes)
    result = Measurement(case=spec["case"], engine=spec["engine"], parallelism=int(spec["parallelism"]),
                         input_rows=input_rows)
    for name in ("seconds", "first_seconds", "cpu_seconds", "other_cores", "output_rows", "checksum", "peak_rss_bytes",
                 "rss_before_bytes", "process_peak_rss_bytes", "error", "crashed"):
        if name in outcome:
            setattr(result, name, outcome[name])
    label = f"{progress} {result.case} {result.engine} P={result.parallelism}".strip()
    if not result.ok:
        print(f"{label}: {_failure(result)}: {result.error}", flush=True)
    else:
        print(f"{label}: {result.seconds:.2f} s, {_si(result.rows_per_second)} rows/s, "
              f"peak RSS {_mib(result.peak_rss_bytes)} MiB, others used {result.other_cores:.2f} cores "
              f"(process wall {time.perf_counter() - started:.0f} s)", flush=True)
    return result


def measure_all(script: str, args, inputs: dict[str, tuple[str, int]],
                single_threaded: frozenset[str] = frozenset(), extra_spec: dict | None = None) -> list[Measurement]:
    """Measures each case, engine and parallelism that `args` (from argument_parser) names, each
    in its own process; `inputs[case]` is the case's input (path, rows); engines in
    `single_threaded` run at P=1 only; `extra_spec` goes into every child's spec.

    With `args.processes` > 1 the whole plan runs that many times over (passes), each
    measurement in a fresh process every pass, and each keeps its fastest process: on this VM
    the same code runs up to ~20% slower in one process than in the next (README.md). Passes
    rather than back-to-back processes, so that a slow stretch of the machine falls on every
    measurement alike. Peak RSS is the largest over the passes."""
    plan = [(case, engine, parallelism) for case in args.cases for engine in args.engines
            for parallelism in args.parallelism
            if not (engine in single_threaded and parallelism != 1)]
    passes = max(1, getattr(args, "processes", 1))
    best: list[Measurement | None] = [None] * len(plan)
    for run in range(passes):
        for number, (case, engine, parallelism) in enumerate(plan):
            path, rows = inputs[case]
            spec = {"case": case, "engine": engine, "parallelism": parallelism, "path": path,
                    "repeat": args.repeat, **(extra_spec or {})}
            progress = f"[{number + 1}/{len(plan)}]" + (f" pass {run + 1}/{passes}" if passes > 1 else "")
            result = measure(script, spec, rows, timeout_s=args.timeout_s,
                             rss_limit_bytes=int(args.rss_limit_gb * 2**30), progress=progress,
                             quiet_wait_s=args.quiet_wait_s)
            best[number] = _faster(best[number], result)
    return [m for m in best if m is not None]


def _faster(kept: Measurement | None, new: Measurement) -> Measurement:
    """The faster of two measurements of one spec (a failed one loses), with the larger peak RSS."""
    if kept is None:
        return new
    if not new.ok or (kept.ok and kept.seconds <= new.seconds):
        winner, other = kept, new
    else:
        winner, other = new, kept
    for name in ("peak_rss_bytes", "process_peak_rss_bytes"):
        values = [v for v in (getattr(winner, name), getattr(other, name)) if v is not None]
        setattr(winner, name, max(values) if values else None)
    return winner


# ---------------------------------------------------------------------------------------------
# verification and reporting


def checksums_differ(reference: dict, other: dict, relative_tolerance: float = 1e-9) -> list[str]:
    """Fields whose values differ: integers exactly, floats up to a relative tolerance
    (sums in another order round differently)."""
    differences = []
    for name in sorted(set(reference) | set(other)):
        a, b = reference.get(name), other.get(name)
        if isinstance(a, float) or isinstance(b, float):
            same = (a is not None and b is not None and
                    math.isclose(a, b, rel_tol=relative_tolerance, abs_tol=1e-6))
        else:
            same = a == b
        if not same:
            differences.append(f"{name}: {a!r} vs {b!r}")
    return differences


def verify(measurements: list[Measurement], reference_engines: tuple[str, ...]) -> list[str]:
    """Compares every successful measurement of a case with the case's reference (the first
    engine of `reference_engines` that ran); sets `check`; returns the mismatch messages."""
    mismatches = []
    for case in dict.fromkeys(m.case for m in measurements):
        ran = [m for m in measurements if m.case == case and m.ok]
        reference = next((m for engine in reference_engines for m in ran if m.engine == engine),
                         ran[0] if ran else None)
        if reference is None:
            continue
        for m in ran:
            if m is reference:
                m.check = "reference"
                continue
            differences = checksums_differ(reference.checksum, m.checksum)
            if differences:
                m.check = "MISMATCH"
                mismatches.append(f"{case}: {m.engine} P={m.parallelism} differs from "
                                  f"{reference.engine} P={reference.parallelism}: " + "; ".join(differences))
            else:
                m.check = "ok"
    return mismatches


def find(measurements: list[Measurement], case: str, engine: str, parallelism: int) -> Measurement | None:
    for m in measurements:
        if m.case == case and m.engine == engine and m.parallelism == parallelism and m.ok:
            return m
    return None


def speed_ratio(fast: Measurement | None, slow: Measurement | None) -> float:
    """How many times the throughput of `fast` is that of `slow` (nan when either is missing)."""
    if fast is None or slow is None:
        return math.nan
    return fast.rows_per_second / slow.rows_per_second


def print_table(measurements: list[Measurement], millstream_engines: list[str], file=sys.stdout) -> None:
    """One row per measurement; for each peer row, millstream's throughput at the same P divided by
    the peer's (column `<engine>/peer`: above 1 means millstream is faster)."""
    ratio_headers = [f"{engine}/peer" for engine in millstream_engines]
    headers = (["case", "engine", "P", "seconds", "1st run s", "rows/s", "rows/s/core", "cores used"] + ratio_headers +
               ["RSS before MiB", "peak RSS MiB", "out rows", "others' cores", "check"])
    lines = []
    for m in measurements:
        ratios = []
        for engine in millstream_engines:
            if m.engine.startswith("millstream") or not m.ok:
                ratios.append("")
            else:
                ratio = speed_ratio(find(measurements, m.case, engine, m.parallelism), m)
                ratios.append("" if math.isnan(ratio) else f"{ratio:.2f}x")
        if m.ok:
            cores_used = m.cpu_seconds / m.seconds if m.seconds > 0 else math.nan
            lines.append([m.case, m.engine, str(m.parallelism), f"{m.seconds:.2f}", f"{m.first_seconds:.2f}",
                          _si(m.rows_per_second),
                          _si(m.rows_per_second_per_core), f"{cores_used:.2f}"] + ratios +
                         [_mib(m.rss_before_bytes), _mib(m.peak_rss_bytes), _int(m.output_rows),
                          f"{m.other_cores:.2f}", m.check])
        else:
            lines.append([m.case, m.engine, str(m.parallelism), "-", "-", "-", "-", "-"] + ratios +
                         ["", "", "", "", _failure(m).replace("millstream: ", "")])
    widths = [max(len(h), *(len(line[i]) for line in lines)) if lines else len(h)
              for i, h in enumerate(headers)]
    print("| " + " | ".join(h.ljust(w) for h, w in zip(headers, widths)) + " |", file=file)
    print("|" + "|".join("-" * (w + 2) for w in widths) + "|", file=file)
    for line in lines:
        print("| " + " | ".join(cell.ljust(w) for cell, w in zip(line, widths)) + " |", file=file)
    failures = [m for m in measurements if not m.ok]
    for m in failures:
        print(f"  {m.case} {m.engine} P={m.parallelism}: {_failure(m)}: {m.error}", file=file)
    file.flush()


def _failure(m: Measurement) -> str:
    """How a failed measurement is labelled: an error raised by millstream while its API is being
    built is "not available"; a dead worker or a peer's error is a failure."""
    if m.engine.startswith("millstream") and not m.crashed:
        return "millstream: not available"
    return "FAILED"


def print_mismatches(mismatches: list[str], file=sys.stdout) -> None:
    if not mismatches:
        print("\nResults: every engine that ran returned the same row count and checksums.", file=file)
        return
    print("\n" + "!" * 100, file=file)
    print(f"!!! RESULT MISMATCH in {len(mismatches)} measurement(s): engines disagree", file=file)
    for message in mismatches:
        print("!!! " + message, file=file)
    print("!" * 100, file=file, flush=True)


NOISY_OTHER_CORES = 0.25  # other processes' CPU during a run above which its figure is suspect


def target_line(description: str, fast: Measurement | None, slow: Measurement | None, goal: float) -> str:
    """`fast`'s throughput over `slow`'s against a goal: MET / NOT MET, flagged when either run
    shared the CPU with other processes."""
    value = speed_ratio(fast, slow)
    if math.isnan(value):
        return f"- {description}: n/a (a side did not run), target >= {goal:g}x"
    verdict = "MET" if value >= goal else "NOT MET"
    busiest = max(m.other_cores for m in (fast, slow))
    noise = (f" (UNRELIABLE: other processes used {busiest:.2f} cores during a run; rerun on a quiet machine)"
             if busiest > NOISY_OTHER_CORES else "")
    return f"- {description}: {value:.2f}x, target >= {goal:g}x: {verdict}{noise}"


def speedup_lines(measurements: list[Measurement], cases, engines) -> list[str]:
    """Each engine's throughput at P=2 over P=1, flagged when a run shared the CPU."""
    lines = []
    for case in cases:
        for engine in engines:
            one, two = find(measurements, case, engine, 1), find(measurements, case, engine, 2)
            if one and two:
                busiest = max(one.other_cores, two.other_cores)
                noise = f" (UNRELIABLE: others used {busiest:.2f} cores)" if busiest > NOISY_OTHER_CORES else ""
                lines.append(f"- {case} {engine}: {speed_ratio(two, one):.2f}x{noise}")
    return lines


def print_report(measurements: list[Measurement], args, *, title: str, millstream_engines: list[str],
                 reference_engines: tuple[str, ...], targets: list[str] = ()) -> None:
    """The whole report of a benchmark script: the table (each case checked against its
    reference), the mismatches, the `targets` lines if any, and each engine's speed-up from P=1
    to P=2."""
    mismatches = verify(measurements, reference_engines)
    print(f"\n## {title}\n")
    print_table(measurements, millstream_engines)
    print_mismatches(mismatches)
    if targets:
        print("\n## Targets")
        for line in targets:
            print(line)
    print("\n## Speed-up from P=1 to P=2 (same engine)")
    for line in speedup_lines(measurements, args.cases, args.engines):
        print(line)


def _si(value: float) -> str:
    if value is None or math.isnan(value):
        return "-"
    for unit, scale in (("G", 1e9), ("M", 1e6), ("K", 1e3)):
        if value >= scale:
            return f"{value / scale:.2f} {unit}"
    return f"{value:.0f}"


def _mib(value: int | None) -> str:
    return "" if value is None else f"{value / 2**20:,.0f}"


def _int(value: int | None) -> str:
    return "" if value is None else f"{value:,}"


def in_fresh_process(function, *args):
    """function(*args) in a spawned interpreter: data generation's big temporary arrays leave
    with it instead of staying in the parent while the measurements run."""
    import multiprocessing
    from concurrent.futures import ProcessPoolExecutor

    with ProcessPoolExecutor(max_workers=1, mp_context=multiprocessing.get_context("spawn")) as pool:
        return pool.submit(function, *args).result()


def default_rss_limit_bytes() -> int:
    """70% of RAM: a runaway peer (pandas on 2 GB of JSON) must not take the machine down."""
    return int(0.7 * os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES"))


def script_main(run_one: Callable[[dict], dict], parse_args: Callable[[], Any],
                measure_and_report: Callable[[Any], None]) -> None:
    """A benchmark script's main. Started as `script --worker '<spec json>'` it is a child, which
    measures one spec with `run_one`; otherwise it is the parent, which parses its arguments,
    prints the machine and calls `measure_and_report(args)`."""
    if "--worker" in sys.argv:
        worker_main(run_one)
        return
    args = parse_args()
    print_machine()
    measure_and_report(args)


def argument_parser(description: str, cases: tuple[str, ...], engines: tuple[str, ...], default_repeat: int):
    """An argparse parser with the command-line options both benchmark scripts share."""
    import argparse

    parser = argparse.ArgumentParser(description=description, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--cases", type=_names_of(cases), default=list(cases),
                        help=f"comma-separated, from: {', '.join(cases)}")
    parser.add_argument("--engines", type=_names_of(engines), default=list(engines),
                        help=f"comma-separated, from: {', '.join(engines)}")
    parser.add_argument("--parallelism", type=lambda text: [int(p) for p in text.split(",")],
                        default=[1, 2], help="comma-separated worker counts (default 1,2)")
    parser.add_argument("--repeat", type=int, default=default_repeat,
                        help=f"runs per measurement in one process; the best is kept (default {default_repeat}: "
                             "the first runs pay the VM's first-touch page faults, see README.md)")
    parser.add_argument("--processes", type=int, default=1,
                        help="fresh processes per measurement, in passes over the whole plan; the "
                             "fastest counts (default 1; see README.md, \"Process to process\")")
    parser.add_argument("--timeout-s", type=float, default=1800.0, help="per measurement")
    parser.add_argument("--rss-limit-gb", type=float, default=default_rss_limit_bytes() / 2**30,
                        help="a measurement whose RSS passes this (GiB) is killed (default: 70%% of RAM)")
    parser.add_argument("--quiet-wait-s", type=float, default=120.0,
                        help="before each measurement, wait up to this long for other processes to "
                             "use < 0.25 cores (0: don't wait)")
    return parser


def _names_of(allowed: tuple[str, ...]):
    import argparse

    def parse(text: str) -> list[str]:
        names = [name.strip() for name in text.split(",") if name.strip()]
        unknown = [name for name in names if name not in allowed]
        if unknown:
            raise argparse.ArgumentTypeError(f"unknown {unknown}; choose from {', '.join(allowed)}")
        return names
    return parse


def import_millstream():
    """Imports millstream from the source tree (python/), as `make setup` arranges for the venv."""
    source_tree = os.path.join(REPO_ROOT, "python")
    if source_tree not in sys.path:
        sys.path.insert(0, source_tree)
    import millstream

    if not hasattr(millstream, "Pipeline"):
        raise ImportError("millstream has no Pipeline yet (the Python API is not built)")
    return millstream
